'use strict';
// Instance modification and migration with the real clients: zeebe-node's
// and @camunda8/sdk's modifyProcessInstance over gRPC (skip the first task:
// terminate its element instance, put a token at the second with a
// variable), the SDK's migrateProcessInstance over gRPC and both over its
// REST client (an instance moved to version 2 of its process, which goes on
// by the new model); broadcastSignal refused UNIMPLEMENTED over gRPC and
// 501 over REST, saying that signals are not supported; and what an
// instance waits on in Chute's GetProcessInstance.
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ZBClient } = require('zeebe-node');
const h = require('../lib/harness');

const T = { timeout: 30000 };
const daemon = h.useDaemon(nodeTest, () => {}, { http: true });

// A start, task a then task b (job types ID-a and ID-b), with |third| a
// task c (ID-c) after b, then an end. The name differs per version.
function twoTasks(id, name, third) {
  const task = (t) =>
    `<bpmn:serviceTask id="${t}"><bpmn:extensionElements><zeebe:taskDefinition type="${id}-${t}"/>` +
    '</bpmn:extensionElements></bpmn:serviceTask>';
  const last = third ? 'c' : 'b';
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d">
  <bpmn:process id="${id}" name="${name}" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/>${task('a')}
    <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="b"/>${task('b')}
    ${third ? `<bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="c"/>${task('c')}` : ''}
    <bpmn:sequenceFlow id="fe" sourceRef="${last}" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>`;
}

function zeebeNode() {
  return new ZBClient(daemon().address, { useTLS: false, loglevel: 'NONE', retry: false });
}

function camunda8() {
  const { Camunda8 } = require('@camunda8/sdk');
  return new Camunda8({
    ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
    ZEEBE_REST_ADDRESS: daemon().httpBase,
    CAMUNDA_AUTH_STRATEGY: 'NONE',
    CAMUNDA_LOG_LEVEL: 'none',
    zeebeGrpcSettings: { ZEEBE_CLIENT_LOG_LEVEL: 'NONE', ZEEBE_GRPC_CLIENT_RETRY: false },
  });
}

async function details(key) {
  return h.unary(daemon().chute(), 'GetProcessInstance', { key: String(key) });
}

// The state of the last element instance of |elementId|, or 'none'.
async function elementState(key, elementId) {
  const r = await details(key);
  const els = r.elements.filter((e) => e.elementId === elementId);
  return els.length ? els[els.length - 1].state : 'none';
}

// Activates the one job of |type| and returns it.
async function oneJob(type) {
  const { jobs } = await h.activate(daemon().gateway(), { type, maxJobsToActivate: 1 });
  assert.equal(jobs.length, 1, `a job of ${type}`);
  return jobs[0];
}

// Deploys |xml| through the SDK (it deploys files) and returns the
// process's definition key.
async function deploySdk(grpcApi, id, xml) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chute-mod-'));
  const file = path.join(dir, `${id}.bpmn`);
  fs.writeFileSync(file, xml);
  try {
    const d = await grpcApi.deployResource({ processFilename: file });
    return String(d.deployments[0].process.processDefinitionKey);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('zeebe-node modifyProcessInstance skips a task: a terminated, b activated with a variable', T, async () => {
  const zbc = zeebeNode();
  try {
    const id = h.uniqueType('mod-zn');
    await zbc.deployResource({ process: Buffer.from(twoTasks(id, 'v1')), name: `${id}.bpmn` });
    const pi = (await zbc.createProcessInstance({ bpmnProcessId: id, variables: { x: 1 } })).processInstanceKey;
    const a = await oneJob(`${id}-a`);
    await zbc.modifyProcessInstance({
      processInstanceKey: pi,
      terminateInstructions: [{ elementInstanceKey: a.elementInstanceKey }],
      activateInstructions: [{
        elementId: 'b',
        ancestorElementInstanceKey: '-1',
        variableInstructions: [{ scopeId: '', variables: { skipped: true } }],
      }],
    });
    assert.equal(await elementState(pi, 'a'), 'TERMINATED');
    const b = await oneJob(`${id}-b`);
    assert.equal(b.elementId, 'b');
    assert.deepEqual(JSON.parse(b.variables), { x: 1, skipped: true });
    // a's job went with its element instance.
    await assert.rejects(zbc.completeJob({ jobKey: a.key, variables: {} }),
      (e) => h.codeName(e.code) === 'NOT_FOUND');
    // Refused instructions change nothing.
    await assert.rejects(zbc.modifyProcessInstance({
      processInstanceKey: pi, activateInstructions: [{ elementId: 'nope', ancestorElementInstanceKey: '-1', variableInstructions: [] }],
    }), (e) => {
      assert.equal(h.codeName(e.code), 'INVALID_ARGUMENT', String(e));
      assert.match(e.details || e.message, /'nope'/);
      return true;
    });
    await assert.rejects(zbc.modifyProcessInstance({ processInstanceKey: '2251799813999999' }),
      (e) => h.codeName(e.code) === 'NOT_FOUND');
    await zbc.completeJob({ jobKey: b.key, variables: {} });
    assert.equal((await details(pi)).instance.state, 'COMPLETED');
  } finally {
    await zbc.close();
  }
});

test('@camunda8/sdk over gRPC: modifyProcessInstance, migrateProcessInstance to version 2, broadcastSignal refused', T, async () => {
  const c8 = camunda8();
  const grpcApi = c8.getZeebeGrpcApiClient();
  try {
    const id = h.uniqueType('mod-sdk');
    await deploySdk(grpcApi, id, twoTasks(id, 'v1'));
    const pi = (await grpcApi.createProcessInstance({ bpmnProcessId: id, variables: {} })).processInstanceKey;
    const a = await oneJob(`${id}-a`);
    await grpcApi.modifyProcessInstance({
      processInstanceKey: pi,
      terminateInstructions: [{ elementInstanceKey: a.elementInstanceKey }],
      activateInstructions: [{ elementId: 'b', ancestorElementInstanceKey: '-1', variableInstructions: [] }],
    });
    assert.equal(await elementState(pi, 'b'), 'ACTIVE');

    const v2 = await deploySdk(grpcApi, id, twoTasks(id, 'v2', true));
    await grpcApi.migrateProcessInstance({
      processInstanceKey: pi,
      migrationPlan: { targetProcessDefinitionKey: v2, mappingInstructions: [{ sourceElementId: 'b', targetElementId: 'b' }] },
    });
    const inst = (await details(pi)).instance;
    assert.equal(String(inst.processDefinitionKey), v2);
    assert.equal(inst.version, 2);
    const b = await oneJob(`${id}-b`);
    assert.equal(String(b.processDefinitionKey), v2);
    assert.equal(b.processDefinitionVersion, 2);
    await grpcApi.completeJob({ jobKey: b.key, variables: {} });
    assert.equal(await elementState(pi, 'c'), 'ACTIVE'); // only version 2 has c
    // An unmapped active element is refused.
    await assert.rejects(grpcApi.migrateProcessInstance({
      processInstanceKey: pi, migrationPlan: { targetProcessDefinitionKey: v2, mappingInstructions: [] },
    }), (e) => {
      assert.equal(h.codeName(e.code), 'INVALID_ARGUMENT', String(e));
      assert.match(e.details || e.message, /no mapping/);
      return true;
    });

    await assert.rejects(grpcApi.broadcastSignal({ signalName: 'order-cancelled', variables: {} }), (e) => {
      assert.equal(h.codeName(e.code), 'UNIMPLEMENTED', String(e));
      assert.match(e.details || e.message, /signals are not supported by Chute yet/);
      return true;
    });
  } finally {
    await grpcApi.close();
  }
  await h.assertServing(daemon(), 'after modification, migration and a signal');
});

test('@camunda8/sdk REST: modifyProcessInstance and migrateProcessInstance answer 204; broadcastSignal 501', T, async () => {
  const c8 = camunda8();
  const grpcApi = c8.getZeebeGrpcApiClient();
  const rest = c8.getCamundaRestClient();
  try {
    const id = h.uniqueType('mod-rest');
    await deploySdk(grpcApi, id, twoTasks(id, 'v1'));
    const pi = (await grpcApi.createProcessInstance({ bpmnProcessId: id, variables: {} })).processInstanceKey;
    const a = await oneJob(`${id}-a`);
    await rest.modifyProcessInstance({
      processInstanceKey: String(pi),
      terminateInstructions: [{ elementInstanceKey: String(a.elementInstanceKey) }],
      activateInstructions: [{ elementId: 'b', variableInstructions: [{ variables: { via: 'rest' } }] }],
    });
    const b = await oneJob(`${id}-b`);
    assert.equal(JSON.parse(b.variables).via, 'rest');
    const v2 = await deploySdk(grpcApi, id, twoTasks(id, 'v2', true));
    await rest.migrateProcessInstance({
      processInstanceKey: String(pi),
      targetProcessDefinitionKey: v2,
      mappingInstructions: [{ sourceElementId: 'b', targetElementId: 'b' }],
    });
    assert.equal((await details(pi)).instance.version, 2);
    await assert.rejects(rest.broadcastSignal({ signalName: 'order-cancelled' }), (e) => {
      assert.equal(e.statusCode ?? e.response?.statusCode, 501, String(e));
      return true;
    });
  } finally {
    await grpcApi.close();
  }
});

test("Chute's GetProcessInstance lists what an instance waits on", T, async () => {
  const zbc = zeebeNode();
  try {
    const id = h.uniqueType('mod-waits');
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d">
  <bpmn:message id="m" name="${id}-paid"><bpmn:extensionElements>
    <zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>
  <bpmn:process id="${id}" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="${id}"/>
    </bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:boundaryEvent id="late" attachedToRef="t" cancelActivity="false"><bpmn:timerEventDefinition>
      <bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:boundaryEvent id="paid" attachedToRef="t"><bpmn:messageEventDefinition messageRef="m"/>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="e2"/><bpmn:endEvent id="e2"/>
    <bpmn:sequenceFlow id="f4" sourceRef="paid" targetRef="e3"/><bpmn:endEvent id="e3"/>
  </bpmn:process>
</bpmn:definitions>`;
    await zbc.deployResource({ process: Buffer.from(xml), name: `${id}.bpmn` });
    const before = Date.now();
    const pi = (await zbc.createProcessInstance({ bpmnProcessId: id, variables: { orderId: 'W-1' } })).processInstanceKey;
    const r = await details(pi);
    const task = r.elements.find((e) => e.elementId === 't');
    const waits = r.waits.map((w) => ({ ...w, elementInstanceKey: String(w.elementInstanceKey), due: Number(w.due) }));
    assert.equal(waits.length, 2, JSON.stringify(r.waits));
    const timer = waits.find((w) => w.kind === 'TIMER');
    const sub = waits.find((w) => w.kind === 'MESSAGE');
    assert.equal(timer.elementId, 'late');
    assert.equal(timer.elementInstanceKey, String(task.key));
    assert.ok(timer.due >= before + 3600000 - 1000 && timer.due <= Date.now() + 3600000 + 1000, JSON.stringify(timer));
    assert.equal(sub.elementId, 'paid');
    assert.equal(sub.messageName, `${id}-paid`);
    assert.equal(sub.correlationKey, 'W-1');
    await zbc.cancelProcessInstance(pi);
    assert.equal((await details(pi)).waits.length, 0);
  } finally {
    await zbc.close();
  }
});

test('chuted stops cleanly', T, async () => {
  await h.assertStops(daemon());
});
