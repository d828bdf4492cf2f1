'use strict';
// Camunda's v2 REST job endpoints driven by a real REST client: the REST job
// worker of @camunda8/sdk (CamundaRestClient.createJobWorker, which polls
// POST /v2/jobs/activation and answers with /completion) on jobs created
// through Chute's POST /v1/jobs; the SDK's other job calls (failure, error,
// update, incident resolution, topology); jobs crossing between REST and
// gRPC; and /metrics read with a strict Prometheus text-format parser whose
// counters must match the work done in this file exactly.
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const { Camunda8 } = require('@camunda8/sdk');
const h = require('../lib/harness');

const daemon = h.useDaemon(nodeTest, null, { http: true });

function restClient() {
  // Camunda8 takes the configuration itself (not wrapped in { config }).
  const c8 = new Camunda8({
    ZEEBE_REST_ADDRESS: daemon().httpBase,
    ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
    CAMUNDA_AUTH_STRATEGY: 'NONE',
    CAMUNDA_LOG_LEVEL: 'none',
  });
  return c8.getCamundaRestClient();
}

async function http(method, path, body) {
  const r = await fetch(daemon().httpBase + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* metrics are text */ }
  return { status: r.status, text, json, headers: r.headers };
}

async function createRest(jobs) {
  const r = await http('POST', '/v1/jobs', jobs);
  assert.equal(r.status, 201, r.text);
  return Array.isArray(jobs) ? r.json.keys : r.json.key;
}

// ---------------------------------------------------------------- Prometheus text format

// A strict reader of the 0.0.4 text format: every sample belongs to the
// family its # TYPE declared (histograms: _bucket/_sum/_count), label values
// are quoted with \\, \" and \n escapes only, values are floats, histogram
// buckets are cumulative, end with le="+Inf" and equal _count. Returns
// Map(name -> [{labels, value}]).
function parsePrometheus(text) {
  assert.ok(text.endsWith('\n'), 'exposition ends with a newline');
  const families = new Map(); // name -> type
  const samples = new Map();
  let current = null;
  const lines = text.split('\n').slice(0, -1);
  for (const line of lines) {
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      assert.match(name, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/, `family name ${name}`);
      assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type), line);
      assert.ok(!families.has(name), `family ${name} declared twice`);
      if (type === 'counter') assert.ok(name.endsWith('_total'), `counter ${name} ends in _total`);
      families.set(name, type);
      current = name;
      continue;
    }
    assert.ok(!line.startsWith('#'), `unknown comment: ${line}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `malformed sample line: ${JSON.stringify(line)}`);
    const [, name, , labelText = '', valueText] = m;
    const labels = {};
    let rest = labelText;
    while (rest.length) {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,?)/.exec(rest);
      assert.ok(lm, `malformed labels in ${line}`);
      labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
      rest = rest.slice(lm[0].length);
      if (!lm[3]) assert.equal(rest, '', `labels end after the last one: ${line}`);
    }
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    assert.ok(!Number.isNaN(value) || valueText === 'NaN', `value of ${line}`);
    assert.ok(current, `sample before any # TYPE: ${line}`);
    const type = families.get(current);
    const ok = type === 'histogram'
      ? [`${current}_bucket`, `${current}_sum`, `${current}_count`].includes(name)
      : name === current;
    assert.ok(ok, `sample ${name} outside its family ${current}`);
    if (!samples.has(name)) samples.set(name, []);
    samples.get(name).push({ labels, value });
  }
  // Histograms: cumulative buckets ending in +Inf equal to _count.
  for (const [name, type] of families) {
    if (type !== 'histogram') continue;
    const groups = new Map();
    for (const s of samples.get(`${name}_bucket`) || []) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push({ le: le === '+Inf' ? Infinity : Number(le), value: s.value });
    }
    for (const [key, buckets] of groups) {
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(buckets[i].le > buckets[i - 1].le, `${name}${key}: le ascending`);
        assert.ok(buckets[i].value >= buckets[i - 1].value, `${name}${key}: cumulative`);
      }
      assert.equal(buckets[buckets.length - 1].le, Infinity, `${name}${key}: ends with +Inf`);
      const count = (samples.get(`${name}_count`) || []).find((s) => JSON.stringify(s.labels) === key);
      assert.ok(count, `${name}${key} has a _count`);
      assert.equal(count.value, buckets[buckets.length - 1].value, `${name}${key}: +Inf = _count`);
    }
  }
  return samples;
}

function metric(samples, name, labels = {}) {
  const want = JSON.stringify(labels);
  const s = (samples.get(name) || []).find((x) => {
    const picked = {};
    for (const k of Object.keys(labels)) picked[k] = x.labels[k];
    return JSON.stringify(picked) === want;
  });
  return s ? s.value : undefined;
}

async function scrape() {
  const r = await http('GET', '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(r.text);
}

// ---------------------------------------------------------------- tests

const WORK_TYPE = h.uniqueType('rest-sdk');
const N = 300;

test('@camunda8/sdk REST job worker activates and completes jobs created with POST /v1/jobs', { timeout: 60000 }, async () => {
  const keys = await createRest(Array.from({ length: N }, (_, i) => ({
    type: WORK_TYPE, variables: { i, big: '9007199254740993' }, customHeaders: { origin: 'rest' },
  })));
  assert.equal(keys.length, N);
  const rest = restClient();
  const seen = new Map();
  const problems = [];
  const worker = rest.createJobWorker({
    type: WORK_TYPE,
    worker: 'sdk-rest-worker',
    timeout: 30000,
    maxJobsToActivate: 32,
    requestTimeout: 5000,
    pollIntervalMs: 50,
    autoStart: true,
    jobHandler: (job) => {
      const key = String(job.jobKey);
      seen.set(key, (seen.get(key) || 0) + 1);
      if (job.customHeaders.origin !== 'rest' && problems.length < 5) problems.push(`headers of ${key}: ${JSON.stringify(job.customHeaders)}`);
      if (job.worker !== 'sdk-rest-worker' && problems.length < 5) problems.push(`worker of ${key}: ${job.worker}`);
      return job.complete({ doubled: Number(job.variables.i) * 2 });
    },
  });
  try {
    await h.waitFor(async () => {
      const r = await http('GET', `/v1/jobs?type=${WORK_TYPE}&state=COMPLETED&size=1000`);
      return r.json.jobs.length === N;
    }, { timeoutMs: 45000, intervalMs: 100, what: `${N} jobs COMPLETED` });
  } finally {
    await worker.stop(10000);
  }
  assert.deepEqual(problems, []);
  assert.equal(seen.size, N, 'every job reached the worker');
  for (const [k, n] of seen) assert.equal(n, 1, `job ${k} handled ${n} times`);
  const one = await http('GET', `/v1/jobs/${keys[7]}`);
  assert.equal(one.json.state, 'COMPLETED');
  assert.equal(one.json.variables.doubled, 14);
  assert.equal(one.json.variables.i, 7);
});

test('@camunda8/sdk REST calls: topology, failJob, errorJob, updateJob, resolveIncident', { timeout: 30000 }, async () => {
  const rest = restClient();
  const topo = await rest.getTopology();
  assert.equal(topo.clusterSize, 1);
  assert.equal(topo.brokers[0].partitions[0].partitionId, 1);

  const type = h.uniqueType('rest-sdk-calls');
  const [kFail, kErr] = await createRest([{ type, retries: 2 }, { type }]);
  const jobs = await rest.activateJobs({ type, worker: 'calls', timeout: 60000, maxJobsToActivate: 2, requestTimeout: -1 });
  assert.equal(jobs.length, 2);
  assert.deepEqual(jobs.map((j) => String(j.jobKey)).sort(), [kFail, kErr].sort());

  await rest.failJob({ jobKey: kFail, retries: 0, errorMessage: 'sdk says no', retryBackOff: 0 });
  let j = (await http('GET', `/v1/jobs/${kFail}`)).json;
  assert.equal(j.state, 'INCIDENT');
  assert.equal(j.errorMessage, 'sdk says no');
  await rest.updateJob({ jobKey: kFail, retries: 3 });
  await rest.resolveIncident(j.incidentKey);
  j = (await http('GET', `/v1/jobs/${kFail}`)).json;
  assert.equal(j.state, 'ACTIVATABLE');
  assert.equal(j.retries, 3);

  await rest.errorJob({ jobKey: kErr, errorCode: 'BUSINESS', errorMessage: 'thrown by the sdk' });
  j = (await http('GET', `/v1/jobs/${kErr}`)).json;
  assert.equal(j.state, 'ERROR_THROWN');
  assert.equal(j.errorCode, 'BUSINESS');

  // The SDK sees Chute's problem+json errors as HTTP errors with the status.
  await assert.rejects(rest.completeJob({ jobKey: kErr, variables: {} }), (e) => {
    assert.equal(e.statusCode ?? e.response?.statusCode, 409);
    return true;
  });
  await assert.rejects(rest.completeJob({ jobKey: '2251799813999999', variables: {} }), (e) => {
    assert.equal(e.statusCode ?? e.response?.statusCode, 404);
    return true;
  });
});

test('a job created over REST is activated over gRPC and completed over REST', { timeout: 20000 }, async () => {
  const type = h.uniqueType('cross-rest-grpc');
  const key = await createRest({ type, variables: { from: 'rest' } });
  const gw = daemon().gateway();
  const { jobs } = await h.activate(gw, { type, worker: 'grpc-side', requestTimeout: 5000 });
  assert.equal(jobs.length, 1);
  assert.equal(String(jobs[0].key), key);
  assert.equal(JSON.parse(jobs[0].variables).from, 'rest');
  const r = await http('POST', `/v2/jobs/${key}/completion`, { variables: { by: 'rest' } });
  assert.equal(r.status, 204, r.text);
  const job = await h.getJob(daemon().chute(), key);
  assert.equal(job.state, 'COMPLETED');
  assert.equal(JSON.parse(job.variables).by, 'rest');
});

test('a job created over gRPC is activated over REST and completed over gRPC', { timeout: 20000 }, async () => {
  const type = h.uniqueType('cross-grpc-rest');
  const chute = daemon().chute();
  const key = String(await h.createJob(chute, { type, variables: JSON.stringify({ from: 'grpc' }) }));
  const a = await http('POST', '/v2/jobs/activation', {
    type, worker: 'rest-side', timeout: 60000, maxJobsToActivate: 5, requestTimeout: 5000,
  });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.jobs.length, 1);
  assert.equal(a.json.jobs[0].jobKey, key);
  assert.equal(a.json.jobs[0].variables.from, 'grpc');
  assert.equal(a.json.jobs[0].worker, 'rest-side');
  await h.unary(daemon().gateway(), 'CompleteJob', { jobKey: key, variables: JSON.stringify({ by: 'grpc' }) });
  const r = await http('GET', `/v1/jobs/${key}`);
  assert.equal(r.json.state, 'COMPLETED');
  assert.equal(r.json.variables.by, 'grpc');
});

test('/metrics parses strictly and its counters match the work done', { timeout: 20000 }, async () => {
  const s = await scrape();
  const t = { type: WORK_TYPE };
  assert.equal(metric(s, 'chute_jobs_created_total', t), N);
  assert.equal(metric(s, 'chute_jobs_activated_total', t), N);
  assert.equal(metric(s, 'chute_jobs_completed_total', t), N);
  assert.equal(metric(s, 'chute_jobs_failed_total', t), 0);
  assert.equal(metric(s, 'chute_jobs_timed_out_total', t), 0);
  assert.equal(metric(s, 'chute_incidents_total', t), 0);
  for (const state of ['activatable', 'activated', 'failed', 'delayed', 'incident']) {
    assert.equal(metric(s, 'chute_jobs', { ...t, state }), 0, `chute_jobs{state="${state}"}`);
  }
  // The calls test: one fail to an incident, one thrown error, one resolution.
  const types = (await http('GET', '/v1/job-types')).json.types;
  const calls = types.find((x) => x.type.startsWith('rest-sdk-calls'));
  const ct = { type: calls.type };
  assert.equal(metric(s, 'chute_jobs_created_total', ct), 2);
  assert.equal(metric(s, 'chute_jobs_activated_total', ct), 2);
  assert.equal(metric(s, 'chute_jobs_failed_total', ct), 1);
  assert.equal(metric(s, 'chute_incidents_total', ct), 2);
  assert.equal(metric(s, 'chute_jobs', { ...ct, state: 'activatable' }), 1);
  assert.equal(metric(s, 'chute_jobs', { ...ct, state: 'incident' }), 1);
  // Every job handed out was counted in the time-in-queue histogram, and
  // every activation request in the latency histograms.
  const activated = [...s.get('chute_jobs_activated_total')].reduce((n, x) => n + x.value, 0);
  assert.equal(metric(s, 'chute_job_queue_time_seconds_count'), activated);
  assert.ok(metric(s, 'chute_activation_request_duration_seconds_count', { api: 'rest' }) >= 3);
  assert.ok(metric(s, 'chute_activation_request_duration_seconds_count', { api: 'grpc' }) >= 1);
  // Latencies are seconds: the gRPC activations here took well under 10 s.
  for (const api of ['grpc', 'rest']) {
    const sum = metric(s, 'chute_activation_request_duration_seconds_sum', { api });
    const count = metric(s, 'chute_activation_request_duration_seconds_count', { api });
    assert.ok(sum >= 0 && sum / count < 10, `${api} activation latency ${sum} s over ${count} requests`);
  }
  assert.ok(metric(s, 'chute_commit_batch_changes_count') >= 1);
  assert.equal(metric(s, 'chute_commit_duration_seconds_count'), metric(s, 'chute_commit_batch_changes_count'));
  assert.ok(metric(s, 'chute_connections', { protocol: 'http' }) >= 1);
  assert.ok(metric(s, 'chute_process_resident_memory_bytes') > 1 << 20);
  assert.equal(metric(s, 'chute_ready'), 1);
  assert.equal(metric(s, 'chute_long_polls'), 0);
});

test('rest-worker: chuted stops on SIGTERM and exits 0 within 5 s', async () => {
  await h.assertStops(daemon());
});
