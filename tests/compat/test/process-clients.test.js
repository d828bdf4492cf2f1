'use strict';
// The order process of the shared corpus run by the Node clients, each with
// its own workers for the three tasks: @camunda8/sdk over gRPC with polling
// workers (createWorker) and with job streams (streamJobs), zeebe-node's
// polling workers, both awaiting the end with CreateProcessInstanceWithResult;
// and the SDK's REST client (multipart deployment, POST /v2/process-instances
// with and without awaitCompletion, REST job workers) with the instance read
// back through the SDK's Orchestration Cluster API client
// (GET /v2/process-instances/{key}, POST /v2/variables/search).
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const { Camunda8, Zeebe } = require('@camunda8/sdk');
const { ZBClient } = require('zeebe-node');
const h = require('../lib/harness');
const p = require('../lib/process');

const T = { timeout: 30000 };
const daemon = h.useDaemon(nodeTest, null, { http: true });
// A test whose failure message ends with the instance's element instances and
// the open jobs of the three task types.
const ptest = (name, fn) => test(name, T, () => p.explained(daemon(), null, fn));

function camunda8() {
  return new Camunda8({
    ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
    ZEEBE_REST_ADDRESS: daemon().httpBase,
    CAMUNDA_AUTH_STRATEGY: 'NONE',
    CAMUNDA_LOG_LEVEL: 'none',
    CAMUNDA_SDK_LOG_LEVEL: 'silent',
    zeebeGrpcSettings: { ZEEBE_CLIENT_LOG_LEVEL: 'NONE' },
  });
}

function sdkGrpc() {
  return new Zeebe.ZeebeGrpcClient({
    config: {
      ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
      CAMUNDA_AUTH_STRATEGY: 'NONE',
      CAMUNDA_TENANT_ID: undefined,
      // A short long poll (default 50 s): a closed SDK worker's last poll stays
      // open at the server until its requestTimeout (see p.quiesce), and its
      // client-side timer (requestTimeout + 1 s) keeps this process alive.
      zeebeGrpcSettings: { ZEEBE_CLIENT_LOG_LEVEL: 'NONE', ZEEBE_GRPC_WORKER_LONGPOLL_SECONDS: 1 },
    },
  });
}

const plain = (v) => JSON.parse(JSON.stringify(v)); // LosslessDto / lossless numbers -> plain JSON

// Per task: the jobs its worker got, and the variable its worker sets.
function recorder(tag) {
  const jobs = new Map(); // type -> [job fields]
  return {
    jobs,
    // What a handler of |task| does with |job|: record its fields, return the result variables.
    handle(task, job) {
      const rec = {
        key: String(job.key ?? job.jobKey),
        type: job.type,
        bpmnProcessId: job.bpmnProcessId ?? job.processDefinitionId,
        processInstanceKey: String(job.processInstanceKey),
        processDefinitionKey: String(job.processDefinitionKey),
        processDefinitionVersion: Number(job.processDefinitionVersion),
        elementId: job.elementId,
        elementInstanceKey: String(job.elementInstanceKey),
        retries: Number(job.retries),
        customHeaders: plain(job.customHeaders),
        variables: plain(job.variables),
      };
      if (!jobs.has(task.type)) jobs.set(task.type, []);
      jobs.get(task.type).push(rec);
      return { [task.out]: { by: tag, orderId: rec.variables.orderId } };
    },
  };
}

// The result variables of one instance of the order process with |orderId|
// whose three jobs were handled by workers tagged |tag|.
function expectedVariables(orderId, tag, extra = {}) {
  const out = { orderId, ...extra };
  for (const t of p.ORDER.tasks) out[t.out] = { by: tag, orderId };
  return out;
}

// Every task's worker got exactly one job of instance |pik|, with the process
// fields of its element and the variables set so far.
function assertJobs(rec, pik, def, orderId, tag, extra = {}) {
  const seenVars = { orderId, ...extra };
  for (const t of p.ORDER.tasks) {
    const got = (rec.jobs.get(t.type) || []).filter((j) => j.processInstanceKey === String(pik));
    assert.equal(got.length, 1, `${t.type}: jobs of instance ${pik}: ${JSON.stringify(rec.jobs.get(t.type))}`);
    const j = got[0];
    assert.equal(j.type, t.type);
    assert.equal(j.bpmnProcessId, 'process1');
    assert.equal(j.elementId, t.elementId, `${t.type}: elementId`);
    assert.equal(j.processDefinitionKey, def.key);
    assert.equal(j.processDefinitionVersion, def.version);
    assert.match(j.elementInstanceKey, /^[1-9]\d*$/);
    assert.notEqual(j.elementInstanceKey, j.processInstanceKey);
    assert.equal(j.retries, 3);
    assert.deepEqual(j.customHeaders, {});
    assert.deepEqual(j.variables, seenVars, `${t.type}: the variables its job carried`);
    seenVars[t.out] = { by: tag, orderId };
  }
}

async function deploySdk(zbc) {
  const res = await zbc.deployResource({ processFilename: p.corpus(p.ORDER.file) });
  const proc = res.deployments[0].process;
  assert.equal(proc.bpmnProcessId, 'process1', JSON.stringify(res));
  return { key: String(proc.processDefinitionKey), version: Number(proc.version) };
}

ptest('@camunda8/sdk gRPC: deploy, polling workers (createWorker), createProcessInstanceWithResult', async () => {
  const zbc = sdkGrpc();
  const rec = recorder('sdk-poll');
  const workers = [];
  try {
    const def = await deploySdk(zbc);
    for (const t of p.ORDER.tasks) {
      workers.push(zbc.createWorker({
        taskType: t.type,
        worker: `sdk-poll-${t.type}`,
        timeout: 30000,
        pollInterval: 100,
        taskHandler: (job) => job.complete(rec.handle(t, job)),
      }));
    }
    const res = await zbc.createProcessInstanceWithResult({
      bpmnProcessId: 'process1', variables: { orderId: 'S-1', qty: 3 }, requestTimeout: 15000,
    });
    assert.equal(res.bpmnProcessId, 'process1');
    assert.equal(String(res.processDefinitionKey), def.key);
    assert.equal(Number(res.version), def.version);
    assert.deepEqual(plain(res.variables), expectedVariables('S-1', 'sdk-poll', { qty: 3 }));
    assertJobs(rec, res.processInstanceKey, def, 'S-1', 'sdk-poll', { qty: 3 });
    assert.equal((await p.getInstance(daemon(), res.processInstanceKey)).state, 'COMPLETED');

    // fetchVariables limits what comes back.
    const some = await zbc.createProcessInstanceWithResult({
      bpmnProcessId: 'process1', variables: { orderId: 'S-2' }, fetchVariables: ['paymentCharged'], requestTimeout: 15000,
    });
    assert.deepEqual(plain(some.variables), { paymentCharged: { by: 'sdk-poll', orderId: 'S-2' } });
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await zbc.close();
  }
  await p.quiesce(daemon());
});

ptest('@camunda8/sdk gRPC: job streams (streamJobs) run an instance awaited with createProcessInstanceWithResult', async () => {
  const zbc = sdkGrpc();
  const rec = recorder('sdk-stream');
  const streams = [];
  try {
    const def = await deploySdk(zbc);
    for (const t of p.ORDER.tasks) {
      // pollInterval 0: no side-car polls, so the jobs (all created after the
      // stream opened) can only arrive over StreamActivatedJobs.
      streams.push(await zbc.streamJobs({
        type: t.type,
        worker: `sdk-stream-${t.type}`,
        timeout: 30000,
        pollInterval: 0,
        taskHandler: (job) => job.complete(rec.handle(t, job)),
      }));
    }
    await h.waitFor(async () => {
      const n = await p.takers(daemon());
      return p.ORDER.tasks.every((t) => n[`chute_job_streams{${t.type}}`] === 1);
    }, { timeoutMs: 5000, what: 'the three job streams to open' });
    const res = await zbc.createProcessInstanceWithResult({
      bpmnProcessId: 'process1', variables: { orderId: 'S-3' }, requestTimeout: 15000,
    });
    assert.equal(res.bpmnProcessId, 'process1');
    assert.deepEqual(plain(res.variables), expectedVariables('S-3', 'sdk-stream'));
    assertJobs(rec, res.processInstanceKey, def, 'S-3', 'sdk-stream');
  } finally {
    for (const s of streams) s.close();
    await zbc.close();
  }
  await p.quiesce(daemon());
});

ptest('zeebe-node: deploy, polling workers, createProcessInstanceWithResult', async () => {
  // longPoll 1 s (default 30 s): its client-side timer outlives close() too.
  const zbc = new ZBClient(daemon().address, { useTLS: false, loglevel: 'NONE', longPoll: 1000 });
  const rec = recorder('zeebe-node');
  const workers = [];
  try {
    const res0 = await zbc.deployResource({ processFilename: p.corpus(p.ORDER.file) });
    const def = { key: String(res0.deployments[0].process.processDefinitionKey), version: Number(res0.deployments[0].process.version) };
    assert.equal(res0.deployments[0].process.bpmnProcessId, 'process1');
    for (const t of p.ORDER.tasks) {
      workers.push(zbc.createWorker({
        taskType: t.type,
        loglevel: 'NONE',
        pollInterval: 100,
        timeout: 30000,
        taskHandler: (job) => job.complete(rec.handle(t, job)),
      }));
    }
    const res = await zbc.createProcessInstanceWithResult({
      bpmnProcessId: 'process1', variables: { orderId: 'Z-1', gift: false }, requestTimeout: 15000,
    });
    assert.equal(res.bpmnProcessId, 'process1');
    assert.equal(String(res.processDefinitionKey), def.key);
    assert.deepEqual(plain(res.variables), expectedVariables('Z-1', 'zeebe-node', { gift: false }));
    assertJobs(rec, res.processInstanceKey, def, 'Z-1', 'zeebe-node', { gift: false });
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await zbc.close();
  }
  await p.quiesce(daemon());
});

ptest('@camunda8/sdk REST: multipart deploy, create instance, REST job workers, read back until COMPLETED', async () => {
  const c8 = camunda8();
  const rest = c8.getCamundaRestClient();
  const oc = c8.getOrchestrationClusterApiClientLoose();
  const rec = recorder('sdk-rest');
  const workers = [];
  try {
    const d = await rest.deployResourcesFromFiles([p.corpus(p.ORDER.file)]);
    assert.equal(d.processes.length, 1, JSON.stringify(d));
    assert.equal(d.processes[0].processDefinitionId, 'process1');
    const def = { key: String(d.processes[0].processDefinitionKey), version: Number(d.processes[0].processDefinitionVersion) };

    // Created before any worker runs: the instance waits in its first task.
    const ci = await rest.createProcessInstance({ processDefinitionId: 'process1', variables: { orderId: 'R-1' } });
    const pik = String(ci.processInstanceKey);
    assert.equal(String(ci.processDefinitionKey), def.key);
    assert.equal(ci.processDefinitionId, 'process1');
    const active = await oc.getProcessInstance({ processInstanceKey: pik }, { consistency: { waitUpToMs: 0 } });
    assert.equal(active.state, 'ACTIVE', JSON.stringify(active));
    assert.equal(active.hasIncident, false);

    for (const t of p.ORDER.tasks) {
      workers.push(rest.createJobWorker({
        type: t.type,
        worker: `sdk-rest-${t.type}`,
        timeout: 30000,
        maxJobsToActivate: 8,
        requestTimeout: 1000,
        pollIntervalMs: 50,
        autoStart: true,
        jobHandler: (job) => job.complete(rec.handle(t, job)),
      }));
    }
    // The SDK's eventual-consistency poll of GET /v2/process-instances/{key}.
    const done = await oc.getProcessInstance({ processInstanceKey: pik }, {
      consistency: { waitUpToMs: 15000, pollIntervalMs: 50, predicate: (r) => r.state === 'COMPLETED' },
    });
    assert.equal(done.state, 'COMPLETED', JSON.stringify(done));
    assert.equal(String(done.processInstanceKey), pik);
    assert.equal(done.processDefinitionId, 'process1');
    assert.equal(String(done.processDefinitionKey), def.key);
    assert.ok(done.endDate, `endDate of a completed instance: ${JSON.stringify(done)}`);
    assertJobs(rec, pik, def, 'R-1', 'sdk-rest');

    const vars = await oc.searchVariables({ filter: { processInstanceKey: pik } }, { consistency: { waitUpToMs: 0 } });
    const byName = Object.fromEntries(vars.items.map((v) => [v.name, JSON.parse(v.value)]));
    assert.deepEqual(byName, expectedVariables('R-1', 'sdk-rest'));

    // POST /v2/process-instances with awaitCompletion (the SDK's createProcessInstanceWithResult).
    const wr = await rest.createProcessInstanceWithResult({
      processDefinitionId: 'process1', variables: { orderId: 'R-2' }, requestTimeout: 15000,
    });
    assert.deepEqual(plain(wr.variables), expectedVariables('R-2', 'sdk-rest'));
    assertJobs(rec, wr.processInstanceKey, def, 'R-2', 'sdk-rest');
  } finally {
    await Promise.all(workers.map((w) => w.stop(5000)));
  }
  await p.quiesce(daemon());
});

test('process-clients: chuted stops on SIGTERM and exits 0 within 5 s', T, async () => {
  await h.assertStops(daemon());
});
