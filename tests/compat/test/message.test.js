'use strict';
// Messages with the real clients: zeebe-node's publishMessage before and
// after an instance opens its subscription (with a time to live), a
// duplicate messageId refused ALREADY_EXISTS in Zeebe's words; the
// @camunda8/sdk publishMessage over gRPC and over REST, and its REST
// correlateMessage (the instance it reached, or 404); zbctl publish
// message. Instances are read back with Chute's GetProcessInstance.
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const { ZBClient } = require('zeebe-node');
const h = require('../lib/harness');

const T = { timeout: 30000 };
const daemon = h.useDaemon(nodeTest, () => {}, { http: true });

// Instances of ID wait at a message catch event for NAME with their
// orderId, then end.
function waitModel(id, name) {
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d">
  <bpmn:message id="m" name="${name}"><bpmn:extensionElements>
    <zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>
  <bpmn:process id="${id}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="m"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>
    <bpmn:endEvent id="end"/>
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
    zeebeGrpcSettings: { ZEEBE_CLIENT_LOG_LEVEL: 'NONE' },
  });
}

async function instance(key) {
  const r = await h.unary(daemon().chute(), 'GetProcessInstance', { key: String(key) });
  return { state: r.instance.state, variables: JSON.parse(r.instance.variables || '{}') };
}

async function waitForState(key, state, what) {
  let last;
  await h.waitFor(async () => {
    last = await instance(key);
    return last.state === state;
  }, { timeoutMs: 5000, what: `${what}: instance ${key} ${state} (last ${JSON.stringify(last)})` });
  return last;
}

// The instance stays |state| for a while (nothing reaches it).
async function staysActive(key, what) {
  await h.sleep(300);
  assert.equal((await instance(key)).state, 'ACTIVE', what);
}

test('zeebe-node publishMessage reaches a waiting instance, and one that subscribes within its time to live', T, async () => {
  const zbc = zeebeNode();
  try {
    const id = h.uniqueType('msg-zn');
    const name = `${id}-paid`;
    const d = await zbc.deployResource({ process: Buffer.from(waitModel(id, name)), name: `${id}.bpmn` });
    assert.equal(d.deployments[0].process.bpmnProcessId, id);

    // The instance waits first: the message reaches it with its variables.
    const a = await zbc.createProcessInstance({ bpmnProcessId: id, variables: { orderId: 'A-1' } });
    assert.equal((await instance(a.processInstanceKey)).state, 'ACTIVE');
    const p1 = await zbc.publishMessage({ name, correlationKey: 'A-1', variables: { amount: 5 } });
    assert.ok(BigInt(p1.key) > 0n, JSON.stringify(p1));
    assert.equal(p1.tenantId, '<default>');
    const done = await waitForState(a.processInstanceKey, 'COMPLETED', 'after its message');
    assert.equal(done.variables.amount, 5);
    assert.equal(done.variables.orderId, 'A-1');

    // Published first with a time to live (ms on the wire): the instance
    // that opens its subscription later gets it.
    const p2 = await zbc.publishMessage({ name, correlationKey: 'A-2', timeToLive: 60000, variables: { early: true } });
    assert.ok(BigInt(p2.key) > BigInt(p1.key));
    const b = await zbc.createProcessInstance({ bpmnProcessId: id, variables: { orderId: 'A-2' } });
    const got = await waitForState(b.processInstanceKey, 'COMPLETED', 'a buffered message');
    assert.equal(got.variables.early, true);
    // A buffered message reaches one instance of a process, not two.
    const b2 = await zbc.createProcessInstance({ bpmnProcessId: id, variables: { orderId: 'A-2' } });
    await staysActive(b2.processInstanceKey, 'a second instance of the process');

    // Without a time to live nothing is kept.
    await zbc.publishMessage({ name, correlationKey: 'A-3', variables: {} });
    const c = await zbc.createProcessInstance({ bpmnProcessId: id, variables: { orderId: 'A-3' } });
    await staysActive(c.processInstanceKey, 'a message without a time to live');
  } finally {
    await zbc.close();
  }
});

test('zeebe-node: a duplicate messageId is ALREADY_EXISTS in Zeebe\'s words', T, async () => {
  const zbc = zeebeNode();
  try {
    const name = h.uniqueType('msg-dup');
    await zbc.publishMessage({ name, correlationKey: 'K', messageId: 'once', timeToLive: 60000, variables: {} });
    await assert.rejects(
      zbc.publishMessage({ name, correlationKey: 'K', messageId: 'once', timeToLive: 60000, variables: {} }),
      (e) => {
        assert.equal(h.codeName(e.code), 'ALREADY_EXISTS', String(e));
        assert.match(e.details || e.message,
          /Expected to publish a new message with id 'once', but a message with that id was already published/);
        return true;
      });
    // Another correlation key is another message.
    await zbc.publishMessage({ name, correlationKey: 'L', messageId: 'once', timeToLive: 60000, variables: {} });
    // Bad input: a blank name, variables that are not an object.
    await assert.rejects(zbc.publishMessage({ name: '', correlationKey: 'K', variables: {} }),
      (e) => h.codeName(e.code) === 'INVALID_ARGUMENT');
    const gw = daemon().gateway();
    const err = await h.unaryError(gw, 'PublishMessage', { name, correlationKey: 'K', variables: '[1]' });
    h.assertCode(err, h.grpc.status.INVALID_ARGUMENT, 'variables that are not an object');
    const tenant = await h.unaryError(gw, 'PublishMessage', { name, correlationKey: 'K', tenantId: 'acme' });
    h.assertCode(tenant, h.grpc.status.INVALID_ARGUMENT, 'another tenant');
  } finally {
    await zbc.close();
  }
  await h.assertServing(daemon(), 'after refused messages');
});

test('@camunda8/sdk publishMessage over gRPC and REST, and REST correlateMessage', T, async () => {
  const c8 = camunda8();
  const grpcApi = c8.getZeebeGrpcApiClient();
  const rest = c8.getCamundaRestClient();
  try {
    const id = h.uniqueType('msg-sdk');
    const name = `${id}-paid`;
    const fs = require('node:fs');
    const os = require('node:os');
    const path = require('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chute-msg-'));
    const file = path.join(dir, `${id}.bpmn`);
    fs.writeFileSync(file, waitModel(id, name));
    await grpcApi.deployResource({ processFilename: file });
    fs.rmSync(dir, { recursive: true, force: true });
    const start = async (orderId) =>
      (await grpcApi.createProcessInstance({ bpmnProcessId: id, variables: { orderId } })).processInstanceKey;

    // gRPC: a waiting instance.
    const a = await start('S-1');
    const p = await grpcApi.publishMessage({ name, correlationKey: 'S-1', variables: { via: 'grpc' } });
    assert.ok(BigInt(p.key) > 0n, JSON.stringify(p));
    assert.equal((await waitForState(a, 'COMPLETED', 'SDK gRPC publish')).variables.via, 'grpc');

    // REST publication with a time to live, before the instance waits.
    const r = await rest.publishMessage({ name, correlationKey: 'S-2', timeToLive: 60000, variables: { via: 'rest' } });
    assert.ok(BigInt(r.messageKey) > 0n, JSON.stringify(r));
    assert.equal(r.tenantId, '<default>');
    const b = await start('S-2');
    assert.equal((await waitForState(b, 'COMPLETED', 'SDK REST publish')).variables.via, 'rest');

    // REST correlation: nothing waits (404, and nothing kept), then the
    // instance it reached.
    await assert.rejects(rest.correlateMessage({ name, correlationKey: 'S-3', variables: {} }), (e) => {
      assert.equal(e.statusCode ?? e.response?.statusCode, 404, String(e));
      return true;
    });
    const c = await start('S-3');
    await staysActive(c, 'a correlation is not kept');
    const corr = await rest.correlateMessage({ name, correlationKey: 'S-3', variables: { via: 'correlation' } });
    assert.equal(String(corr.processInstanceKey), String(c), JSON.stringify(corr));
    assert.ok(BigInt(corr.messageKey) > 0n, JSON.stringify(corr));
    assert.equal((await waitForState(c, 'COMPLETED', 'SDK REST correlate')).variables.via, 'correlation');
  } finally {
    await grpcApi.close();
  }
});

test('zbctl publish message (its default ttl is 5 s): an instance that waits later gets it', T, async () => {
  const zbc = zeebeNode();
  try {
    const id = h.uniqueType('msg-zbctl');
    const name = `${id}-paid`;
    await zbc.deployResource({ process: Buffer.from(waitModel(id, name)), name: `${id}.bpmn` });
    const r = await daemon().zbctl(['publish', 'message', name, '--correlationKey', 'Z-1',
      '--variables', '{"via":"zbctl"}']);
    assert.equal(r.code, 0, h.fmtRun(r));
    const [out] = h.parseJsonStream(r.stdout);
    assert.ok(out && BigInt(out.key) > 0n, h.fmtRun(r));
    const a = await zbc.createProcessInstance({ bpmnProcessId: id, variables: { orderId: 'Z-1' } });
    assert.equal((await waitForState(a.processInstanceKey, 'COMPLETED', 'zbctl publish')).variables.via, 'zbctl');
    const dup = await daemon().zbctl(['publish', 'message', name, '--correlationKey', 'Z-2',
      '--messageId', 'z', '--ttl', '1m']);
    assert.equal(dup.code, 0, h.fmtRun(dup));
    const again = await daemon().zbctl(['publish', 'message', name, '--correlationKey', 'Z-2',
      '--messageId', 'z', '--ttl', '1m']);
    assert.notEqual(again.code, 0, h.fmtRun(again));
    assert.match(again.stderr + again.stdout, /AlreadyExists/, h.fmtRun(again));
  } finally {
    await zbc.close();
  }
});

test('chuted stops cleanly', T, async () => {
  await h.assertStops(daemon());
});
