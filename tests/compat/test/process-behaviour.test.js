'use strict';
// How process instances behave as seen through the real clients (the order
// process of the shared corpus, @camunda8/sdk over gRPC and REST):
// - a job failed with no retries left raises an incident on its element,
//   found with POST /v2/incidents/search; UpdateJobRetries + ResolveIncident
//   let the instance go on to COMPLETED;
// - cancelling an instance removes its activated job: the worker's complete
//   answers NOT_FOUND;
// - CreateProcessInstanceWithResult with a short requestTimeout and no worker
//   answers DEADLINE_EXCEEDED, and the instance is still ACTIVE afterwards.
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const { Camunda8, Zeebe } = require('@camunda8/sdk');
const h = require('../lib/harness');
const p = require('../lib/process');

const T = { timeout: 30000 };
const daemon = h.useDaemon(nodeTest, null, { http: true });

// retry: false where a test wants the server's own answer: the SDK retries
// DEADLINE_EXCEEDED (and UNAVAILABLE, RESOURCE_EXHAUSTED) by default.
function sdkGrpc({ retry = true } = {}) {
  return new Zeebe.ZeebeGrpcClient({
    config: {
      ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
      CAMUNDA_AUTH_STRATEGY: 'NONE',
      CAMUNDA_TENANT_ID: undefined,
      // A short long poll (default 50 s): a closed SDK worker's last poll stays
      // open at the server until its requestTimeout (see p.quiesce), and its
      // client-side timer (requestTimeout + 1 s) keeps this process alive.
      zeebeGrpcSettings: { ZEEBE_CLIENT_LOG_LEVEL: 'NONE', ZEEBE_GRPC_CLIENT_RETRY: retry, ZEEBE_GRPC_WORKER_LONGPOLL_SECONDS: 1 },
    },
  });
}

function restClient() {
  return new Camunda8({
    ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
    ZEEBE_REST_ADDRESS: daemon().httpBase,
    CAMUNDA_AUTH_STRATEGY: 'NONE',
    CAMUNDA_LOG_LEVEL: 'none',
  }).getCamundaRestClient();
}

// The SDK's Orchestration Cluster API client (@camunda8/orchestration-cluster-api,
// pinned in the lockfile as @camunda8/sdk's dependency) with strict response
// validation: every response must match Camunda 8.8's OpenAPI schema (int64
// keys come back as BigInt).
function strictClient() {
  const { createCamundaClientLoose } = require('@camunda8/orchestration-cluster-api');
  return createCamundaClientLoose({
    config: {
      CAMUNDA_REST_ADDRESS: daemon().httpBase,
      CAMUNDA_AUTH_STRATEGY: 'NONE',
      CAMUNDA_SDK_VALIDATION: 'req:strict,res:strict',
      CAMUNDA_SDK_LOG_LEVEL: 'silent',
    },
  });
}
const NOW = { consistency: { waitUpToMs: 0 } };

const task = (type) => p.ORDER.tasks.find((t) => t.type === type);
let defKey = null;

test('deploy order-process.bpmn with the SDK (gRPC)', T, async () => {
  const zbc = sdkGrpc();
  try {
    const res = await zbc.deployResource({ processFilename: p.corpus(p.ORDER.file) });
    assert.equal(res.deployments[0].process.bpmnProcessId, 'process1');
    defKey = String(res.deployments[0].process.processDefinitionKey);
  } finally {
    await zbc.close();
  }
});

test('a job failed with retries 0 raises a JOB_NO_RETRIES incident; UpdateJobRetries + ResolveIncident complete the instance', T, async () => {
  const zbc = sdkGrpc();
  const attempts = []; // check-inventory jobs seen: {key, retries}
  const workers = [];
  try {
    for (const t of p.ORDER.tasks) {
      workers.push(zbc.createWorker({
        taskType: t.type,
        worker: `incident-${t.type}`,
        timeout: 30000,
        pollInterval: 100,
        taskHandler: (job) => {
          if (t.type !== 'check-inventory') return job.complete({ [t.out]: true });
          attempts.push({ key: String(job.key), retries: Number(job.retries) });
          if (attempts.length === 1) return job.fail({ errorMessage: 'warehouse unreachable', retries: 0 });
          return job.complete({ [t.out]: 'on retry' });
        },
      }));
    }
    const ci = await zbc.createProcessInstance({ bpmnProcessId: 'process1', variables: { orderId: 'I-1' } });
    const pik = String(ci.processInstanceKey);

    const filter = { processInstanceKey: pik };
    const [inc] = await h.waitFor(async () => {
      const items = await p.searchIncidents(daemon(), filter);
      return items.length ? items : null;
    }, { timeoutMs: 10000, what: `an incident of instance ${pik}` });
    const all = await p.searchIncidents(daemon(), filter);
    assert.equal(all.length, 1, JSON.stringify(all));
    assert.equal(inc.errorType, 'JOB_NO_RETRIES', JSON.stringify(inc));
    assert.equal(inc.elementId, task('check-inventory').elementId);
    assert.equal(inc.errorMessage, 'warehouse unreachable');
    assert.equal(inc.state, 'ACTIVE');
    assert.equal(String(inc.processInstanceKey), pik);
    assert.equal(String(inc.processDefinitionKey), defKey);
    assert.equal(inc.processDefinitionId, 'process1');
    assert.equal(String(inc.jobKey), attempts[0].key);
    assert.match(String(inc.elementInstanceKey), /^[1-9]\d*$/);
    // The search filters by error type and element.
    assert.equal((await p.searchIncidents(daemon(), { ...filter, errorType: 'JOB_NO_RETRIES', elementId: inc.elementId })).length, 1);
    assert.equal((await p.searchIncidents(daemon(), { ...filter, errorType: 'UNHANDLED_ERROR_EVENT' })).length, 0);

    // The same through the SDK's client, its responses checked against the
    // Camunda 8.8 schema: incidents, variables and element instances.
    const oc = strictClient();
    const vi = await oc.searchIncidents({ filter }, NOW);
    assert.deepEqual(vi.items.map((i) => [String(i.incidentKey), i.errorType, i.elementId]),
      [[String(inc.incidentKey), 'JOB_NO_RETRIES', inc.elementId]]);
    const vv = await oc.searchVariables({ filter }, NOW);
    assert.deepEqual(vv.items.map((v) => [v.name, v.value]), [['orderId', '"I-1"']]);
    const ve = await oc.searchElementInstances({ filter }, NOW);
    const failedTask = ve.items.find((e) => e.elementId === inc.elementId);
    assert.ok(failedTask, JSON.stringify(ve.items, (k, v) => (typeof v === 'bigint' ? String(v) : v)));
    assert.equal(failedTask.state, 'ACTIVE');
    assert.equal(failedTask.hasIncident, true);
    assert.equal(String(failedTask.incidentKey), String(inc.incidentKey));

    const stuck = await p.getInstance(daemon(), pik);
    assert.equal(stuck.state, 'ACTIVE');
    assert.equal(stuck.hasIncident, true, JSON.stringify(stuck));
    await h.sleep(300);
    assert.equal(attempts.length, 1, 'a job with an incident must not be handed out again');

    await zbc.updateJobRetries({ jobKey: attempts[0].key, retries: 2 });
    await zbc.resolveIncident({ incidentKey: String(inc.incidentKey) });
    const done = await p.waitInstance(daemon(), pik, 'COMPLETED');
    assert.equal(done.hasIncident, false, JSON.stringify(done));
    assert.deepEqual(attempts.map((a) => a.key), [attempts[0].key, attempts[0].key], 'the same job came back');
    assert.equal(attempts[1].retries, 2, 'with the updated retries');
    assert.deepEqual(await p.instanceVariables(daemon(), pik),
      { orderId: 'I-1', inventoryChecked: 'on retry', paymentCharged: true, itemsShipped: true });
    assert.deepEqual(await p.searchIncidents(daemon(), { ...filter, state: 'ACTIVE' }), []);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await zbc.close();
  }
  await p.quiesce(daemon());
});

test('a cancelled instance\'s activated job answers NOT_FOUND to the worker\'s complete', T, async () => {
  const zbc = sdkGrpc();
  let gotJob;
  const got = new Promise((r) => { gotJob = r; });
  let release;
  const released = new Promise((r) => { release = r; });
  let outcome;
  const finished = new Promise((r) => { outcome = r; });
  const w = zbc.createWorker({
    taskType: 'check-inventory',
    worker: 'cancel-worker',
    timeout: 30000,
    pollInterval: 100,
    taskHandler: async (job) => {
      gotJob(job);
      await released;
      // The handler's one job action: its rejection is the outcome.
      const ack = job.complete({ tooLate: true });
      ack.then((ok) => outcome({ ok }), (err) => outcome({ err }));
      return ack.catch(() => 'JOB_ACTION_ACKNOWLEDGEMENT');
    },
  });
  try {
    const ci = await zbc.createProcessInstance({ bpmnProcessId: 'process1', variables: { orderId: 'X-1' } });
    const pik = String(ci.processInstanceKey);
    const job = await h.within(got, 10000);
    assert.ok(job, 'the worker got no job within 10 s');
    assert.equal(String(job.processInstanceKey), pik);

    await zbc.cancelProcessInstance(pik);
    release();
    const r = await h.within(finished, 10000);
    assert.ok(r, 'the worker\'s complete did not answer within 10 s');
    assert.ok(r.err, `complete of a cancelled instance's job succeeded: ${JSON.stringify(r.ok)}`);
    assert.equal(h.codeName(r.err.code), 'NOT_FOUND', `${r.err.code} ${r.err.message}`);

    const inst = await p.getInstance(daemon(), pik);
    assert.equal(inst.state, 'TERMINATED', JSON.stringify(inst));
    assert.ok(inst.endDate, JSON.stringify(inst));
    // Cancelling again, over REST: 404.
    const again = await p.http(daemon(), 'POST', `/v2/process-instances/${pik}/cancellation`, {});
    assert.equal(again.status, 404, again.text);
  } finally {
    release();
    await w.close();
    await zbc.close();
  }
  await p.quiesce(daemon());
});

test('CreateProcessInstanceWithResult with requestTimeout 1 s and no worker: DEADLINE_EXCEEDED, the instance stays ACTIVE', T, async () => {
  const zbc = sdkGrpc({ retry: false });
  const marker = `deadline-${process.pid}-${Date.now()}`;
  try {
    const t0 = Date.now();
    let err = null;
    try {
      const res = await zbc.createProcessInstanceWithResult({
        bpmnProcessId: 'process1', variables: { orderId: 'D-1', marker }, requestTimeout: 1000,
      });
      assert.fail(`createProcessInstanceWithResult answered without any worker: ${JSON.stringify(res)}`);
    } catch (e) {
      if (e.code === undefined) throw e;
      err = e;
    }
    const ms = Date.now() - t0;
    assert.equal(h.codeName(err.code), 'DEADLINE_EXCEEDED', `${err.code} ${err.message}`);
    assert.ok(ms >= 900 && ms < 5000, `DEADLINE_EXCEEDED after ${ms} ms, requestTimeout was 1000 ms`);

    // The instance was created and waits in its first task.
    const search = await p.httpOk(daemon(), 'POST', '/v2/process-instances/search',
      { filter: { processDefinitionId: 'process1', state: 'ACTIVE' } });
    const mine = [];
    for (const it of search.items) {
      const vars = await p.instanceVariables(daemon(), it.processInstanceKey);
      if (vars.marker === marker) mine.push(it);
    }
    assert.equal(mine.length, 1, `active instances with the marker: ${JSON.stringify(search.items)}`);
    const pik = String(mine[0].processInstanceKey);
    await h.sleep(200);
    const inst = await p.getInstance(daemon(), pik);
    assert.equal(inst.state, 'ACTIVE', JSON.stringify(inst));
    const els = await p.httpOk(daemon(), 'POST', '/v2/element-instances/search',
      { filter: { processInstanceKey: pik, state: 'ACTIVE', type: 'SERVICE_TASK' } });
    assert.deepEqual(els.items.map((e) => e.elementId), [task('check-inventory').elementId]);

    // Cancelled through the SDK's REST client.
    await restClient().cancelProcessInstance({ processInstanceKey: pik });
    assert.equal((await p.getInstance(daemon(), pik)).state, 'TERMINATED');
  } finally {
    await zbc.close();
  }
});

test('process-behaviour: chuted stops on SIGTERM and exits 0 within 5 s', T, async () => {
  await h.assertStops(daemon());
});
