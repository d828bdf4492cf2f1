'use strict';
// The engine's events and structures driven by the real clients, each model
// written here (inline BPMN, deployed with @camunda8/sdk's gRPC client):
// - messages: a catch event correlating by =orderId; a message published
//   before the instance with a time to live reaches it (once per process), one
//   published after reaches the next; a duplicate messageId is ALREADY_EXISTS;
//   zeebe-node's publishMessage correlates too;
// - an interrupting PT1S timer boundary on a job that is never completed: the
//   boundary path runs and the held job's complete answers NOT_FOUND;
// - two error boundaries with different codes on one task: the thrown code
//   picks the path (the next job's type); an uncaught code raises an
//   UNHANDLED_ERROR_EVENT incident (POST /v2/incidents/search);
// - a parallel multi-instance task whose jobs are completed in reverse order:
//   the output collection is in input order (createProcessInstanceWithResult);
// - a call activity: the child's job variables come back to the parent, and
//   cancelling the parent cancels the child (its job's complete: NOT_FOUND);
// - an event-based gateway, message against a PT1S timer, won both ways;
// - a native user task (zeebe:userTask) searched, assigned and completed with
//   the SDK's REST client (the orchestration cluster API), then COMPLETED.
// The scenarios run concurrently (each has its own process ids and job
// types); the timers are 1 s.
const nodeTest = require('node:test');
const { test, describe } = nodeTest;
const assert = require('node:assert/strict');
const { Camunda8, Zeebe } = require('@camunda8/sdk');
const { ZBClient } = require('zeebe-node');
const h = require('../lib/harness');
const p = require('../lib/process');

const T = { timeout: 30000 };
const daemon = h.useDaemon(nodeTest, null, { http: true });

const plain = (v) => JSON.parse(JSON.stringify(v)); // LosslessDto / lossless numbers -> plain JSON
const fmt = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? String(x) : x));

// The SDK's gRPC client; retries off, so the server's own answers reach the
// test (the SDK retries DEADLINE_EXCEEDED, UNAVAILABLE, RESOURCE_EXHAUSTED).
// A 1 s long poll: a closed worker's last poll and its client-side timer end soon.
function sdkGrpc() {
  return new Zeebe.ZeebeGrpcClient({
    config: {
      ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
      CAMUNDA_AUTH_STRATEGY: 'NONE',
      CAMUNDA_TENANT_ID: undefined,
      zeebeGrpcSettings: {
        ZEEBE_CLIENT_LOG_LEVEL: 'NONE', ZEEBE_GRPC_CLIENT_RETRY: false, ZEEBE_GRPC_WORKER_LONGPOLL_SECONDS: 1,
      },
    },
  });
}

// ---------------------------------------------------------------- models

const HEAD = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="defs" targetNamespace="http://chute.test/compat">`;
const TAIL = '</bpmn:definitions>\n';

const serviceTask = (id, type, inner = '') => `
    <bpmn:serviceTask id="${id}"><bpmn:extensionElements>
      <zeebe:taskDefinition type="${type}"/></bpmn:extensionElements>${inner}</bpmn:serviceTask>`;
const flow = (id, from, to) => `
    <bpmn:sequenceFlow id="${id}" sourceRef="${from}" targetRef="${to}"/>`;

// start -> wait (message NAME, correlation key =orderId) -> end
function messageModel(id, name) {
  return `${HEAD}
  <bpmn:message id="msg" name="${name}"><bpmn:extensionElements>
    <zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>
  <bpmn:process id="${id}" isExecutable="true">
    <bpmn:startEvent id="start"/>${flow('f1', 'start', 'wait')}
    <bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="msg"/>
    </bpmn:intermediateCatchEvent>${flow('f2', 'wait', 'end')}
    <bpmn:endEvent id="end"/>
  </bpmn:process>
${TAIL}`;
}

// start -> work (TYPE) -> done; an interrupting PT1S timer on work -> late (LATE) -> timedOut
function timerBoundaryModel(id, type, late) {
  return `${HEAD}
  <bpmn:process id="${id}" isExecutable="true">
    <bpmn:startEvent id="start"/>${flow('f1', 'start', 'work')}${serviceTask('work', type)}${flow('f2', 'work', 'done')}
    <bpmn:endEvent id="done"/>
    <bpmn:boundaryEvent id="timeout" attachedToRef="work" cancelActivity="true">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>${flow('f3', 'timeout', 'late')}${serviceTask('late', late)}${flow('f4', 'late', 'timedOut')}
    <bpmn:endEvent id="timedOut"/>
  </bpmn:process>
${TAIL}`;
}

// start -> charge (TYPE) -> end; error boundaries OUT_OF_STOCK -> restock (RESTOCK),
// CARD_DECLINED -> refund (REFUND)
function errorModel(id, t) {
  return `${HEAD}
  <bpmn:error id="errStock" name="Out of stock" errorCode="OUT_OF_STOCK"/>
  <bpmn:error id="errCard" name="Card declined" errorCode="CARD_DECLINED"/>
  <bpmn:process id="${id}" isExecutable="true">
    <bpmn:startEvent id="start"/>${flow('f1', 'start', 'charge')}${serviceTask('charge', t.charge)}${flow('f2', 'charge', 'end')}
    <bpmn:endEvent id="end"/>
    <bpmn:boundaryEvent id="onStock" attachedToRef="charge">
      <bpmn:errorEventDefinition errorRef="errStock"/></bpmn:boundaryEvent>${flow('f3', 'onStock', 'restock')}${serviceTask('restock', t.restock)}${flow('f4', 'restock', 'endStock')}
    <bpmn:endEvent id="endStock"/>
    <bpmn:boundaryEvent id="onCard" attachedToRef="charge">
      <bpmn:errorEventDefinition errorRef="errCard"/></bpmn:boundaryEvent>${flow('f5', 'onCard', 'refund')}${serviceTask('refund', t.refund)}${flow('f6', 'refund', 'endCard')}
    <bpmn:endEvent id="endCard"/>
  </bpmn:process>
${TAIL}`;
}

// start -> pack (TYPE, parallel over =items as item, results collects =packed) -> end
function multiInstanceModel(id, type) {
  return `${HEAD}
  <bpmn:process id="${id}" isExecutable="true">
    <bpmn:startEvent id="start"/>${flow('f1', 'start', 'pack')}${serviceTask('pack', type, `
      <bpmn:multiInstanceLoopCharacteristics isSequential="false"><bpmn:extensionElements>
        <zeebe:loopCharacteristics inputCollection="=items" inputElement="item"
          outputCollection="results" outputElement="=packed"/>
      </bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>`)}${flow('f2', 'pack', 'end')}
    <bpmn:endEvent id="end"/>
  </bpmn:process>
${TAIL}`;
}

// PARENT: start -> call (calls CHILD) -> end; CHILD: start -> childWork (TYPE) -> end
function callModels(parent, child, type) {
  return {
    parent: `${HEAD}
  <bpmn:process id="${parent}" isExecutable="true">
    <bpmn:startEvent id="start"/>${flow('f1', 'start', 'call')}
    <bpmn:callActivity id="call"><bpmn:extensionElements>
      <zeebe:calledElement processId="${child}" propagateAllChildVariables="true"/>
    </bpmn:extensionElements></bpmn:callActivity>${flow('f2', 'call', 'end')}
    <bpmn:endEvent id="end"/>
  </bpmn:process>
${TAIL}`,
    child: `${HEAD}
  <bpmn:process id="${child}" isExecutable="true">
    <bpmn:startEvent id="start"/>${flow('f1', 'start', 'childWork')}${serviceTask('childWork', type)}${flow('f2', 'childWork', 'end')}
    <bpmn:endEvent id="end"/>
  </bpmn:process>
${TAIL}`,
  };
}

// start -> gateway -> (message NAME by =orderId -> endMessage | PT1S timer -> endTimer)
function eventGatewayModel(id, name) {
  return `${HEAD}
  <bpmn:message id="msg" name="${name}"><bpmn:extensionElements>
    <zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>
  <bpmn:process id="${id}" isExecutable="true">
    <bpmn:startEvent id="start"/>${flow('f1', 'start', 'gateway')}
    <bpmn:eventBasedGateway id="gateway"/>${flow('f2', 'gateway', 'onMessage')}${flow('f3', 'gateway', 'onTimer')}
    <bpmn:intermediateCatchEvent id="onMessage"><bpmn:messageEventDefinition messageRef="msg"/>
    </bpmn:intermediateCatchEvent>${flow('f4', 'onMessage', 'endMessage')}
    <bpmn:endEvent id="endMessage"/>
    <bpmn:intermediateCatchEvent id="onTimer">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>${flow('f5', 'onTimer', 'endTimer')}
    <bpmn:endEvent id="endTimer"/>
  </bpmn:process>
${TAIL}`;
}

// start -> review (native user task) -> end
function userTaskModel(id) {
  return `${HEAD}
  <bpmn:process id="${id}" isExecutable="true">
    <bpmn:startEvent id="start"/>${flow('f1', 'start', 'review')}
    <bpmn:userTask id="review" name="Review"><bpmn:extensionElements><zeebe:userTask/></bpmn:extensionElements>
    </bpmn:userTask>${flow('f2', 'review', 'end')}
    <bpmn:endEvent id="end"/>
  </bpmn:process>
${TAIL}`;
}

// ---------------------------------------------------------------- helpers

async function deploy(zbc, id, xml) {
  const res = await zbc.deployResource({ process: Buffer.from(xml), name: `${id}.bpmn` });
  assert.equal(res.deployments.length, 1, fmt(res));
  assert.equal(res.deployments[0].process.bpmnProcessId, id, fmt(res));
  return String(res.deployments[0].process.processDefinitionKey);
}

async function start(zbc, id, variables) {
  const r = await zbc.createProcessInstance({ bpmnProcessId: id, variables });
  return String(r.processInstanceKey);
}

// POST /v2/element-instances/search of one instance -> { elementId: [states] }
async function elements(key) {
  const r = await p.httpOk(daemon(), 'POST', '/v2/element-instances/search',
    { filter: { processInstanceKey: String(key) }, page: { limit: 100 } });
  const out = {};
  for (const e of r.items) (out[e.elementId] ||= []).push(e.state);
  return out;
}

async function waitElement(key, elementId, state) {
  let last = null;
  try {
    return await h.waitFor(async () => {
      last = await elements(key);
      return (last[elementId] || []).includes(state);
    }, { timeoutMs: 5000, intervalMs: 20, what: `${elementId} of instance ${key} to be ${state}` });
  } catch (e) {
    e.message += `; element instances: ${JSON.stringify(last)}`;
    throw e;
  }
}

// The instance stays ACTIVE for a while: nothing reaches it.
async function staysActive(key, what) {
  await h.sleep(300);
  const inst = await p.getInstance(daemon(), key);
  assert.equal(inst.state, 'ACTIVE', `${what}: ${JSON.stringify(inst)}`);
}

// A worker (the SDK's createWorker) that hands out the jobs its |hold|
// predicate picks and keeps them: heldJob() resolves with the next held one,
// and release(job, variables) makes its handler call job.complete(variables),
// resolving with { ok } or { err }. Other jobs are completed with
// complete(job)'s variables; every job is recorded in |seen|.
function worker(zbc, type, { hold = () => false, complete = () => ({}) } = {}) {
  const seen = [];
  const heldQueue = [];
  const heldWaiters = [];
  const releases = new Map(); // job key -> resolve({ variables, done })
  const w = zbc.createWorker({
    taskType: type,
    worker: `events-${type}`,
    timeout: 30000,
    pollInterval: 100,
    taskHandler: async (job) => {
      seen.push({ key: String(job.key), processInstanceKey: String(job.processInstanceKey),
        bpmnProcessId: job.bpmnProcessId, elementId: job.elementId, variables: plain(job.variables) });
      if (!hold(job)) return job.complete(complete(job));
      const order = await new Promise((resolve) => {
        releases.set(String(job.key), resolve);
        if (heldWaiters.length) heldWaiters.shift()(job); else heldQueue.push(job);
      });
      // The handler's one job action: its answer is the outcome.
      const ack = job.complete(order.variables);
      ack.then((ok) => order.done({ ok }), (err) => order.done({ err }));
      return ack.catch(() => 'JOB_ACTION_ACKNOWLEDGEMENT');
    },
  });
  return {
    seen,
    heldJob(ms = 5000) {
      const next = heldQueue.length ? Promise.resolve(heldQueue.shift())
        : new Promise((r) => heldWaiters.push(r));
      return h.within(next, ms).then((job) => {
        assert.ok(job, `the ${type} worker held no job within ${ms} ms`);
        return job;
      });
    },
    release(job, variables = {}) {
      return new Promise((done) => releases.get(String(job.key))({ variables, done }));
    },
    releaseAll() {
      for (const r of releases.values()) r({ variables: {}, done: () => {} });
    },
    close() { this.releaseAll(); return w.close(); },
  };
}

async function assertNotFound(outcome, what) {
  const r = await h.within(outcome, 5000);
  assert.ok(r, `${what}: the worker's complete did not answer within 5 s`);
  assert.ok(r.err, `${what}: complete succeeded: ${fmt(r.ok)}`);
  assert.equal(h.codeName(r.err.code), 'NOT_FOUND', `${what}: ${r.err.code} ${r.err.message}`);
}

// ---------------------------------------------------------------- scenarios

describe('process events', { concurrency: true }, () => {
  test('messages: buffered with a TTL, published after, a duplicate messageId, zeebe-node', T, async () => {
    const zbc = sdkGrpc();
    const zn = new ZBClient(daemon().address, { useTLS: false, loglevel: 'NONE', retry: false });
    try {
      const id = h.uniqueType('ev-msg');
      const name = `${id}-paid`;
      await deploy(zbc, id, messageModel(id, name));

      // Published before any instance, with a time to live and a messageId.
      const first = await zbc.publishMessage({
        name, correlationKey: 'B-1', messageId: 'pay-B-1', timeToLive: 60000, variables: { paid: 1 },
      });
      assert.ok(BigInt(first.key) > 0n, fmt(first));
      // The same messageId (and name, correlation key) while it lives: ALREADY_EXISTS.
      await assert.rejects(zbc.publishMessage({
        name, correlationKey: 'B-1', messageId: 'pay-B-1', timeToLive: 60000, variables: { paid: 2 },
      }), (e) => {
        assert.equal(h.codeName(e.code), 'ALREADY_EXISTS', `${e.code} ${e.message}`);
        assert.match(e.details || e.message, /pay-B-1/);
        return true;
      });

      // The instance opens its subscription later and gets the first message.
      const a = await start(zbc, id, { orderId: 'B-1' });
      await p.waitInstance(daemon(), a, 'COMPLETED', { timeoutMs: 5000 });
      assert.deepEqual(await p.instanceVariables(daemon(), a), { orderId: 'B-1', paid: 1 });
      assert.deepEqual(await elements(a), { [id]: ['COMPLETED'], start: ['COMPLETED'], wait: ['COMPLETED'], end: ['COMPLETED'] });

      // A second instance of the process with the same key: the buffered
      // message correlated once; it waits at the catch event.
      const b = await start(zbc, id, { orderId: 'B-1' });
      await waitElement(b, 'wait', 'ACTIVE');
      await staysActive(b, 'a buffered message reaches one instance of a process');
      // Published after, without a time to live: it reaches the waiting one.
      await zbc.publishMessage({ name, correlationKey: 'B-1', variables: { paid: 3 } });
      await p.waitInstance(daemon(), b, 'COMPLETED', { timeoutMs: 5000 });
      assert.deepEqual(await p.instanceVariables(daemon(), b), { orderId: 'B-1', paid: 3 });

      // zeebe-node's publishMessage correlates too.
      const c = await start(zbc, id, { orderId: 'Z-1' });
      await waitElement(c, 'wait', 'ACTIVE');
      const zp = await zn.publishMessage({ name, correlationKey: 'Z-1', variables: { via: 'zeebe-node' } });
      assert.ok(BigInt(zp.key) > BigInt(first.key), JSON.stringify(zp));
      await p.waitInstance(daemon(), c, 'COMPLETED', { timeoutMs: 5000 });
      assert.deepEqual(await p.instanceVariables(daemon(), c), { orderId: 'Z-1', via: 'zeebe-node' });
    } finally {
      await zn.close();
      await zbc.close();
    }
  });

  test('an interrupting PT1S timer boundary on a held job: the boundary path runs, the job\'s complete is NOT_FOUND', T, async () => {
    const zbc = sdkGrpc();
    const type = h.uniqueType('ev-slow');
    const late = h.uniqueType('ev-late');
    const slow = worker(zbc, type, { hold: () => true });
    const after = worker(zbc, late, { complete: () => ({ escalated: true }) });
    try {
      const id = h.uniqueType('ev-timer');
      await deploy(zbc, id, timerBoundaryModel(id, type, late));
      const t0 = Date.now();
      const pik = await start(zbc, id, { orderId: 'T-1' });
      const job = await slow.heldJob();
      assert.equal(String(job.processInstanceKey), pik);
      assert.equal(job.elementId, 'work');

      await p.waitInstance(daemon(), pik, 'COMPLETED', { timeoutMs: 6000 });
      const ms = Date.now() - t0;
      assert.ok(ms >= 900, `the instance completed ${ms} ms after it started, before its PT1S timer`);
      assert.deepEqual(after.seen.map((j) => [j.processInstanceKey, j.elementId]), [[pik, 'late']]);
      const els = await elements(pik);
      assert.deepEqual(els.work, ['TERMINATED'], JSON.stringify(els));
      assert.deepEqual(els.timeout, ['COMPLETED'], JSON.stringify(els));
      assert.deepEqual(els.timedOut, ['COMPLETED'], JSON.stringify(els));
      assert.equal(els.done, undefined, JSON.stringify(els));
      assert.deepEqual(await p.instanceVariables(daemon(), pik), { orderId: 'T-1', escalated: true });

      // The held job went with its task.
      await assertNotFound(slow.release(job, { tooLate: true }), 'the timed-out job');
      assert.equal((await p.instanceVariables(daemon(), pik)).tooLate, undefined);
    } finally {
      await slow.close();
      await after.close();
      await zbc.close();
    }
  });

  test('error boundaries by code: the thrown code picks the path; an uncaught code is an UNHANDLED_ERROR_EVENT incident', T, async () => {
    const zbc = sdkGrpc();
    const t = { charge: h.uniqueType('ev-charge'), restock: h.uniqueType('ev-restock'), refund: h.uniqueType('ev-refund') };
    const thrower = zbc.createWorker({
      taskType: t.charge,
      worker: 'events-thrower',
      timeout: 30000,
      pollInterval: 100,
      taskHandler: (job) => job.error({ errorCode: job.variables.code, errorMessage: `thrown ${job.variables.code}` }),
    });
    const restock = worker(zbc, t.restock, { complete: () => ({ restocked: true }) });
    const refund = worker(zbc, t.refund, { complete: () => ({ refunded: true }) });
    try {
      const id = h.uniqueType('ev-error');
      await deploy(zbc, id, errorModel(id, t));
      const [stock, card] = await Promise.all([
        zbc.createProcessInstanceWithResult({ bpmnProcessId: id, variables: { code: 'OUT_OF_STOCK' }, requestTimeout: 10000 }),
        zbc.createProcessInstanceWithResult({ bpmnProcessId: id, variables: { code: 'CARD_DECLINED' }, requestTimeout: 10000 }),
      ]);
      assert.deepEqual(plain(stock.variables), { code: 'OUT_OF_STOCK', restocked: true });
      assert.deepEqual(plain(card.variables), { code: 'CARD_DECLINED', refunded: true });
      // The next job after each throw was of the matching path's type.
      assert.deepEqual(restock.seen.map((j) => [j.processInstanceKey, j.elementId]), [[String(stock.processInstanceKey), 'restock']]);
      assert.deepEqual(refund.seen.map((j) => [j.processInstanceKey, j.elementId]), [[String(card.processInstanceKey), 'refund']]);
      const se = await elements(stock.processInstanceKey);
      assert.deepEqual([se.charge, se.onStock, se.endStock, se.onCard, se.end],
        [['TERMINATED'], ['COMPLETED'], ['COMPLETED'], undefined, undefined], JSON.stringify(se));

      // A code nothing catches: an incident on the task, the instance stays.
      const lost = await start(zbc, id, { code: 'LOST_PARCEL' });
      const items = await h.waitFor(async () => {
        const r = await p.searchIncidents(daemon(), { processInstanceKey: lost });
        return r.length ? r : null;
      }, { timeoutMs: 5000, what: `an incident of instance ${lost}` });
      assert.equal(items.length, 1, JSON.stringify(items));
      const [inc] = items;
      assert.equal(inc.errorType, 'UNHANDLED_ERROR_EVENT', JSON.stringify(inc));
      assert.equal(inc.elementId, 'charge', JSON.stringify(inc));
      assert.equal(inc.state, 'ACTIVE', JSON.stringify(inc));
      assert.equal(inc.processDefinitionId, id, JSON.stringify(inc));
      assert.match(inc.errorMessage, /LOST_PARCEL/, JSON.stringify(inc));
      assert.deepEqual(await p.searchIncidents(daemon(), { processInstanceKey: lost, errorType: 'UNHANDLED_ERROR_EVENT' }), items);
      const inst = await p.getInstance(daemon(), lost);
      assert.equal(inst.state, 'ACTIVE', JSON.stringify(inst));
      assert.equal(inst.hasIncident, true, JSON.stringify(inst));
      assert.equal(restock.seen.length + refund.seen.length, 2, 'no path ran for the uncaught code');
      await zbc.cancelProcessInstance(lost);
    } finally {
      await thrower.close();
      await restock.close();
      await refund.close();
      await zbc.close();
    }
  });

  test('parallel multi-instance: jobs completed in reverse order, the output collection in input order', T, async () => {
    const zbc = sdkGrpc();
    const type = h.uniqueType('ev-pack');
    const items = ['apple', 'bread', 'cheese', 'dates', 'eggs'];
    const pack = worker(zbc, type, { hold: () => true });
    try {
      const id = h.uniqueType('ev-mi');
      await deploy(zbc, id, multiInstanceModel(id, type));
      const result = zbc.createProcessInstanceWithResult({ bpmnProcessId: id, variables: { items }, requestTimeout: 15000 });
      const jobs = [];
      for (let i = 0; i < items.length; i++) jobs.push(await pack.heldJob());
      assert.deepEqual(jobs.map((j) => j.variables.item).sort(), [...items].sort(), 'one job per item');
      assert.ok(jobs.every((j) => j.elementId === 'pack'));
      // Complete them last item first, each after the one before answered.
      const byItem = [...jobs].sort((x, y) => items.indexOf(y.variables.item) - items.indexOf(x.variables.item));
      for (const j of byItem) {
        const r = await pack.release(j, { packed: `${j.variables.item.toUpperCase()}` });
        assert.ok(r.ok !== undefined && !r.err, `complete of ${j.variables.item}: ${r.err && r.err.message}`);
      }
      const res = await result;
      assert.deepEqual(plain(res.variables).results, items.map((s) => s.toUpperCase()), fmt(res.variables));
      assert.deepEqual(plain(res.variables).items, items);
      assert.equal((await p.getInstance(daemon(), res.processInstanceKey)).state, 'COMPLETED');
    } finally {
      await pack.close();
      await zbc.close();
    }
  });

  test('call activity: the child\'s job variables reach the parent; cancelling the parent cancels the child', T, async () => {
    const zbc = sdkGrpc();
    const type = h.uniqueType('ev-child');
    const child = worker(zbc, type, {
      hold: (job) => job.variables.mode === 'hold',
      complete: (job) => ({ childResult: `made for ${job.variables.orderId}` }),
    });
    try {
      const parentId = h.uniqueType('ev-parent');
      const childId = h.uniqueType('ev-called');
      const m = callModels(parentId, childId, type);
      await deploy(zbc, childId, m.child);
      await deploy(zbc, parentId, m.parent);

      const res = await zbc.createProcessInstanceWithResult({
        bpmnProcessId: parentId, variables: { orderId: 'C-1' }, requestTimeout: 10000,
      });
      assert.deepEqual(plain(res.variables), { orderId: 'C-1', childResult: 'made for C-1' });
      const [cj] = child.seen;
      assert.equal(child.seen.length, 1, JSON.stringify(child.seen));
      assert.equal(cj.bpmnProcessId, childId, 'the job is the child\'s');
      assert.notEqual(cj.processInstanceKey, String(res.processInstanceKey));
      assert.deepEqual(cj.variables, { orderId: 'C-1' }, 'the child got the parent\'s variables');
      assert.equal((await p.getInstance(daemon(), cj.processInstanceKey)).state, 'COMPLETED');

      // Cancelled while the child's job is held.
      const pik = await start(zbc, parentId, { orderId: 'C-2', mode: 'hold' });
      const job = await child.heldJob();
      const childKey = String(job.processInstanceKey);
      assert.notEqual(childKey, pik);
      assert.equal(job.bpmnProcessId, childId);
      const ci = await p.getInstance(daemon(), childKey);
      assert.equal(ci.state, 'ACTIVE', JSON.stringify(ci));
      assert.equal(String(ci.parentProcessInstanceKey), pik, JSON.stringify(ci));
      await zbc.cancelProcessInstance(pik);
      await assertNotFound(child.release(job, { childResult: 'too late' }), 'the cancelled child\'s job');
      assert.equal((await p.getInstance(daemon(), pik)).state, 'TERMINATED');
      assert.equal((await p.getInstance(daemon(), childKey)).state, 'TERMINATED');
    } finally {
      await child.close();
      await zbc.close();
    }
  });

  test('event-based gateway: the message wins one instance, the PT1S timer the other', T, async () => {
    const zbc = sdkGrpc();
    try {
      const id = h.uniqueType('ev-gw');
      const name = `${id}-go`;
      await deploy(zbc, id, eventGatewayModel(id, name));
      const t0 = Date.now();
      const [byMsg, byTimer] = await Promise.all([
        start(zbc, id, { orderId: 'G-1' }), start(zbc, id, { orderId: 'G-2' })]);
      // As in Zeebe, the gateway waits (ACTIVE) with both subscriptions open;
      // the catch events are entered only when one of them triggers.
      await waitElement(byMsg, 'gateway', 'ACTIVE');
      await waitElement(byTimer, 'gateway', 'ACTIVE');
      await zbc.publishMessage({ name, correlationKey: 'G-1', variables: { via: 'message' } });
      await p.waitInstance(daemon(), byMsg, 'COMPLETED', { timeoutMs: 5000 });
      const msgMs = Date.now() - t0;
      assert.equal((await p.getInstance(daemon(), byTimer)).state, 'ACTIVE', 'the other instance waits for its timer');
      await p.waitInstance(daemon(), byTimer, 'COMPLETED', { timeoutMs: 6000 });
      const timerMs = Date.now() - t0;
      assert.ok(timerMs >= 900, `the timer won after ${timerMs} ms, before its PT1S`);

      const m = await elements(byMsg);
      assert.deepEqual([m.gateway, m.onMessage, m.endMessage, m.endTimer],
        [['COMPLETED'], ['COMPLETED'], ['COMPLETED'], undefined], `message path (${msgMs} ms): ${JSON.stringify(m)}`);
      assert.equal(m.onTimer, undefined, JSON.stringify(m));
      assert.deepEqual(await p.instanceVariables(daemon(), byMsg), { orderId: 'G-1', via: 'message' });
      const t = await elements(byTimer);
      assert.deepEqual([t.gateway, t.onTimer, t.endTimer, t.endMessage],
        [['COMPLETED'], ['COMPLETED'], ['COMPLETED'], undefined], `timer path: ${JSON.stringify(t)}`);
      assert.equal(t.onMessage, undefined, JSON.stringify(t));
      // A message for the timer's instance after it ended reaches nothing.
      await zbc.publishMessage({ name, correlationKey: 'G-2', variables: { via: 'late' } });
      await h.sleep(100);
      assert.deepEqual(await p.instanceVariables(daemon(), byTimer), { orderId: 'G-2' });
    } finally {
      await zbc.close();
    }
  });

  test('a native user task searched, assigned and completed with the SDK\'s REST client; the instance COMPLETED', T, async () => {
    const c8 = new Camunda8({
      ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
      ZEEBE_REST_ADDRESS: daemon().httpBase,
      CAMUNDA_AUTH_STRATEGY: 'NONE',
      CAMUNDA_LOG_LEVEL: 'none',
      CAMUNDA_SDK_LOG_LEVEL: 'silent',
    });
    const camunda = c8.getOrchestrationClusterApiClient();
    const NOW = { waitUpToMs: 0 };
    const id = h.uniqueType('ev-ut');
    const file = new File([userTaskModel(id)], `${id}.bpmn`, { type: 'application/xml' });
    const d = await camunda.createDeployment({ resources: [file] });
    assert.equal(d.processes[0].processDefinitionId, id, fmt(d));
    const pi = await camunda.createProcessInstance({ processDefinitionId: id, variables: { orderId: 'U-1' } });
    const pik = String(pi.processInstanceKey);

    const found = await camunda.searchUserTasks({ filter: { processInstanceKey: pik } }, NOW);
    assert.equal(found.items.length, 1, fmt(found));
    const ut = found.items[0];
    assert.equal(ut.state, 'CREATED', fmt(ut));
    assert.equal(ut.elementId, 'review');
    assert.equal(ut.processDefinitionId, id);
    assert.equal(ut.assignee, undefined, fmt(ut));

    await camunda.assignUserTask({ userTaskKey: ut.userTaskKey, assignee: 'dana' });
    const mine = await camunda.searchUserTasks({ filter: { assignee: 'dana', processInstanceKey: pik } }, NOW);
    assert.deepEqual(mine.items.map((x) => String(x.userTaskKey)), [String(ut.userTaskKey)], fmt(mine));
    assert.equal((await p.getInstance(daemon(), pik)).state, 'ACTIVE');

    await camunda.completeUserTask({ userTaskKey: ut.userTaskKey, variables: { approved: true } });
    const inst = await camunda.getProcessInstance({ processInstanceKey: pik }, NOW);
    assert.equal(inst.state, 'COMPLETED', fmt(inst));
    assert.deepEqual(await p.instanceVariables(daemon(), pik), { orderId: 'U-1', approved: true });
    const els = await elements(pik);
    assert.deepEqual(els.review, ['COMPLETED'], JSON.stringify(els));
  });
});

test('process-events: chuted stops on SIGTERM and exits 0 within 5 s', T, async () => {
  await h.assertStops(daemon());
});
