'use strict';
// zbctl 8.4 (the Go client, shipped as a static binary by the zbctl npm
// package) against chuted: status, activate, complete, fail (with and
// without back-off, to an incident), update retries, resolve incident,
// update timeout, throwError.
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const h = require('../lib/harness');

const T = { timeout: 30000 };
let chute;
let gw;
const daemon = h.useDaemon(nodeTest, (d) => {
  chute = d.chute();
  gw = d.gateway();
});

async function zb(args, opts) {
  return daemon().zbctl(args, opts);
}

async function zbOk(args, opts) {
  const r = await zb(args, opts);
  assert.equal(r.code, 0, `zbctl ${args.join(' ')}: ${h.fmtRun(r)}`);
  return r;
}

// zbctl's Go client long-polls for 90 % of --requestTimeout (default 10 s)
// when no job is there; expectEmpty shortens that to 1 s.
async function zbActivate(type, extra = [], { expectEmpty = false } = {}) {
  const rt = expectEmpty ? ['--requestTimeout', '1s'] : [];
  const r = await zbOk([...rt, 'activate', 'jobs', type, '--maxJobsToActivate', '100', ...extra]);
  const docs = h.zbctlJobs(r.stdout);
  return { docs, r };
}

// zbctl (Go) prints "rpc error: code = <GoCodeName> desc = <grpc-message>".
function assertZbError(r, goCode, msgRe) {
  assert.notEqual(r.code, 0, `expected zbctl to fail: ${h.fmtRun(r)}`);
  const out = r.stderr + r.stdout;
  assert.match(out, new RegExp(`code = ${goCode}\\b`), `expected gRPC code ${goCode}: ${h.fmtRun(r)}`);
  if (msgRe) assert.match(out, msgRe, h.fmtRun(r));
}

async function incidentsFor(jobKey) {
  const resp = await h.unary(chute, 'ListIncidents', { type: '', limit: 1000 });
  return resp.incidents.filter((i) => String(i.jobKey) === String(jobKey));
}

test('zbctl status shows the broker and partition 1', T, async () => {
  const r = await zbOk(['status']);
  assert.match(r.stdout, /Cluster size: 1\b/, h.fmtRun(r));
  assert.match(r.stdout, /Partitions count: 1\b/, h.fmtRun(r));
  assert.match(r.stdout, /Broker \d+ - \S+/, h.fmtRun(r));
  assert.match(r.stdout, /Partition 1 : Leader, Healthy/, h.fmtRun(r));

  const j = await zbOk(['status', '-o', 'json']);
  const [topo] = h.parseJsonStream(j.stdout);
  assert.ok(topo, h.fmtRun(j));
  assert.equal(topo.brokers.length, 1, h.fmtRun(j));
  const parts = topo.brokers[0].partitions || [];
  assert.ok(parts.some((p) => p.partitionId === 1), `partition 1 missing: ${j.stdout}`);
});

test('zbctl activate jobs returns created jobs with variables and custom headers', T, async () => {
  const type = h.uniqueType('zb-activate');
  const want = new Map();
  for (let i = 0; i < 3; i++) {
    const vars = { n: i, name: `job-${i}`, nested: { list: [1, 2, i] } };
    const headers = { region: 'eu', idx: String(i) };
    const key = await h.createJob(chute, {
      type, variables: JSON.stringify(vars), customHeaders: JSON.stringify(headers), retries: 5,
    });
    want.set(String(key), { vars, headers });
  }
  const { docs, r } = await zbActivate(type, ['--worker', 'zb-w1']);
  assert.equal(docs.length, 3, `expected 3 jobs: ${h.fmtRun(r)}`);
  for (const d of docs) {
    const w = want.get(String(d.key));
    assert.ok(w, `unexpected job key ${d.key}: ${JSON.stringify(d)}`);
    assert.equal(d.type, type);
    assert.equal(d.worker, 'zb-w1');
    assert.equal(d.retries, 5);
    assert.deepEqual(JSON.parse(d.variables), w.vars);
    assert.deepEqual(JSON.parse(d.customHeaders), w.headers);
    assert.ok(Number(d.deadline) > Date.now(), `deadline ${d.deadline} is in the past`);
    const job = await h.getJob(chute, d.key);
    assert.equal(job.state, 'ACTIVATED');
    assert.equal(job.worker, 'zb-w1');
  }
  const again = await zbActivate(type, [], { expectEmpty: true });
  assert.equal(again.docs.length, 0, `activated jobs were handed out twice: ${h.fmtRun(again.r)}`);
});

test('zbctl complete job completes; a second complete gets NOT_FOUND', T, async () => {
  const type = h.uniqueType('zb-complete');
  const key = await h.createJob(chute, { type, variables: '{"a":1}' });
  const { docs } = await zbActivate(type);
  assert.equal(docs.length, 1);
  assert.equal(String(docs[0].key), String(key));

  await zbOk(['complete', 'job', String(key), '--variables', '{"out":"done"}']);
  const job = await h.getJob(chute, key);
  assert.equal(job.state, 'COMPLETED');
  const vars = JSON.parse(job.variables);
  assert.equal(vars.out, 'done', `result variables not merged: ${job.variables}`);
  assert.equal(vars.a, 1, `input variables lost: ${job.variables}`);

  const second = await zb(['complete', 'job', String(key)]);
  assertZbError(second, 'NotFound', /NOT_FOUND/);

  const unknown = await zb(['complete', 'job', '2251799813685240']);
  assertZbError(unknown, 'NotFound', /NOT_FOUND/);
});

test('zbctl fail job without back-off makes the job activatable again at once', T, async () => {
  const type = h.uniqueType('zb-fail');
  const key = await h.createJob(chute, { type, retries: 3 });
  assert.equal((await zbActivate(type)).docs.length, 1);
  await zbOk(['fail', 'job', String(key), '--retries', '2', '--errorMessage', 'try again']);
  const job = await h.getJob(chute, key);
  assert.equal(job.state, 'ACTIVATABLE');
  assert.equal(job.retries, 2);
  const { docs } = await zbActivate(type);
  assert.equal(docs.length, 1);
  assert.equal(String(docs[0].key), String(key));
  assert.equal(docs[0].retries, 2);
});

test('zbctl fail job --retryBackoff holds the job back until the back-off passed', T, async () => {
  const type = h.uniqueType('zb-backoff');
  const key = await h.createJob(chute, { type, retries: 3 });
  assert.equal((await zbActivate(type)).docs.length, 1);
  const t0 = Date.now();
  await zbOk(['fail', 'job', String(key), '--retries', '1', '--retryBackoff', '1500ms']);
  const job = await h.getJob(chute, key);
  assert.equal(job.state, 'FAILED', `state while backing off: ${JSON.stringify(job)}`);
  assert.equal(job.retries, 1);
  const early = await h.activate(gw, { type, requestTimeout: -1 });
  if (Date.now() - t0 < 1400) {
    assert.equal(early.jobs.length, 0, 'job activated during its back-off');
  }
  // A long poll picks it up when the back-off ends.
  const late = await h.activate(gw, { type, requestTimeout: 5000 });
  const waited = Date.now() - t0;
  assert.equal(late.jobs.length, 1, 'job did not come back after its back-off');
  assert.equal(String(late.jobs[0].key), String(key));
  assert.equal(late.jobs[0].retries, 1);
  assert.ok(waited >= 1400, `job came back after ${waited} ms, back-off was 1500 ms`);
  assert.ok(waited < 4000, `job came back only after ${waited} ms, back-off was 1500 ms`);
});

test('zbctl fail job --retries 0 raises an incident; update retries and resolve incident bring it back', T, async () => {
  const type = h.uniqueType('zb-incident');
  const key = await h.createJob(chute, { type, retries: 1 });
  assert.equal((await zbActivate(type)).docs.length, 1);
  await zbOk(['fail', 'job', String(key), '--retries', '0', '--errorMessage', 'boom: out of retries']);

  const job = await h.getJob(chute, key);
  assert.equal(job.state, 'INCIDENT');
  assert.equal(job.retries, 0);
  assert.equal(job.errorMessage, 'boom: out of retries');
  const inc = await incidentsFor(key);
  assert.equal(inc.length, 1, `incidents for job ${key}: ${JSON.stringify(inc)}`);
  assert.equal(inc[0].type, 'JOB_NO_RETRIES');
  assert.equal(inc[0].jobType, type);
  assert.equal(inc[0].errorMessage, 'boom: out of retries');
  assert.equal(String(job.incidentKey), String(inc[0].key));

  // A job in an incident is not activatable and cannot be completed.
  assert.equal((await h.activate(gw, { type })).jobs.length, 0);
  const c = await zb(['complete', 'job', String(key)]);
  assertZbError(c, 'FailedPrecondition');

  // Retries below 1 are refused.
  const bad = await zb(['update', 'retries', String(key), '--retries', '0']);
  assertZbError(bad, 'InvalidArgument');

  await zbOk(['update', 'retries', String(key), '--retries', '2']);
  assert.equal((await h.getJob(chute, key)).retries, 2);
  await zbOk(['resolve', 'incident', String(inc[0].key)]);
  assert.equal((await incidentsFor(key)).length, 0, 'incident still listed after resolve');

  const { docs } = await zbActivate(type);
  assert.equal(docs.length, 1, 'job not activatable after update retries + resolve incident');
  assert.equal(docs[0].retries, 2);
  await zbOk(['complete', 'job', String(key)]);
  assert.equal((await h.getJob(chute, key)).state, 'COMPLETED');
});

test('zbctl fail job --retries 0 without a message uses "No more retries left."', T, async () => {
  const type = h.uniqueType('zb-incident-nomsg');
  const key = await h.createJob(chute, { type, retries: 1 });
  assert.equal((await zbActivate(type)).docs.length, 1);
  await zbOk(['fail', 'job', String(key), '--retries', '0']);
  const inc = await incidentsFor(key);
  assert.equal(inc.length, 1);
  assert.equal(inc[0].errorMessage, 'No more retries left.');
});

test('zbctl update retries on an activatable job', T, async () => {
  const type = h.uniqueType('zb-retries');
  const key = await h.createJob(chute, { type, retries: 3 });
  await zbOk(['update', 'retries', String(key), '--retries', '7']);
  const { docs } = await zbActivate(type);
  assert.equal(docs.length, 1);
  assert.equal(docs[0].retries, 7);
});

test('zbctl update timeout moves the deadline of an activated job', T, async () => {
  const type = h.uniqueType('zb-timeout');
  const key = await h.createJob(chute, { type });

  // Not activated yet: FAILED_PRECONDITION.
  const early = await zb(['update', 'timeout', String(key), '--timeout', '1000']);
  assertZbError(early, 'FailedPrecondition');

  const { docs } = await zbActivate(type, ['--timeout', '5m']);
  assert.equal(docs.length, 1);
  const t0 = Date.now();
  await zbOk(['update', 'timeout', String(key), '--timeout', '1000']);
  const job = await h.getJob(chute, key);
  const dl = Number(job.deadline);
  assert.ok(dl >= t0 + 500 && dl <= Date.now() + 1500,
    `deadline ${dl} is not about now + 1 s (now ${Date.now()})`);
  const back = await h.activate(gw, { type, requestTimeout: 5000 });
  assert.equal(back.jobs.length, 1, 'job not re-activatable after its shortened timeout');
  assert.equal(String(back.jobs[0].key), String(key));
  assert.equal(back.jobs[0].retries, 3, 'a lease expiry must not decrease retries');
});

test('zbctl throwError job raises an UNHANDLED_ERROR_EVENT incident', T, async () => {
  const type = h.uniqueType('zb-throw');
  const key = await h.createJob(chute, { type });
  assert.equal((await zbActivate(type)).docs.length, 1);
  await zbOk(['throwError', 'job', String(key), '--errorCode', 'E_BIZ', '--errorMessage', 'business rule']);
  const job = await h.getJob(chute, key);
  assert.equal(job.state, 'ERROR_THROWN');
  assert.equal(job.errorCode, 'E_BIZ');
  const inc = await incidentsFor(key);
  assert.equal(inc.length, 1, `incidents for job ${key}: ${JSON.stringify(inc)}`);
  assert.equal(inc[0].type, 'UNHANDLED_ERROR_EVENT');
  assert.equal(inc[0].errorCode, 'E_BIZ');
  // ListIncidents filters by job type.
  const byType = await h.unary(chute, 'ListIncidents', { type, limit: 100 });
  assert.deepEqual(byType.incidents.map((i) => String(i.jobKey)), [String(key)], 'ListIncidents job type filter');
  const other = await h.unary(chute, 'ListIncidents', { type: `${type}-other`, limit: 100 });
  assert.equal(other.incidents.length, 0, 'ListIncidents job type filter');

  const c = await zb(['complete', 'job', String(key)]);
  assertZbError(c, 'FailedPrecondition');
});

test('a cancelled job is gone: zbctl complete gets NOT_FOUND, activation skips it', T, async () => {
  const type = h.uniqueType('zb-cancel');
  const key = await h.createJob(chute, { type });
  const keep = await h.createJob(chute, { type });
  await h.unary(chute, 'CancelJob', { key });
  const c = await zb(['complete', 'job', String(key)]);
  assertZbError(c, 'NotFound', /NOT_FOUND/);
  const { docs } = await zbActivate(type);
  assert.deepEqual(docs.map((d) => String(d.key)), [String(keep)]);
});

test('zbctl create worker --streamEnabled (the Go client\'s job stream) completes every job once', { timeout: 60000 }, async () => {
  const type = h.uniqueType('zb-stream');
  const mk = (from, n) => Array.from({ length: n }, (_, i) => ({ type, variables: JSON.stringify({ seq: from + i }) }));
  const keys = (await h.createJobs(chute, mk(0, 200))).map(String);
  // The handler (cat) echoes the job's variables, which become the result.
  const child = spawn(h.ZBCTL, ['--address', daemon().address, '--insecure', 'create', 'worker', type,
    '--handler', 'cat', '--streamEnabled', '--maxJobsActive', '32', '--timeout', '30s', '--name', 'zb-stream'],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  const seen = new Map();
  const stderrTail = [];
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 50) stderrTail.shift();
    const m = /Activated job (\d+)/.exec(line);
    if (m) seen.set(m[1], (seen.get(m[1]) || 0) + 1);
  });
  const exited = new Promise((r) => child.on('exit', r));
  try {
    await h.waitFor(() => seen.size >= 20, { timeoutMs: 15000, what: `zbctl worker to take jobs (took ${seen.size}); stderr: ${stderrTail.join('\n')}` });
    keys.push(...(await h.createJobs(chute, mk(200, 200))).map(String));
    let pending = keys;
    await h.waitFor(async () => {
      const st = await h.pool(pending, 32, async (k) => [k, (await h.getJob(chute, k)).state]);
      pending = st.filter(([, s]) => s !== 'COMPLETED').map(([k]) => k);
      return pending.length === 0;
    }, { timeoutMs: 30000, intervalMs: 200, what: `all 400 jobs COMPLETED (${pending.length} left)` });
  } finally {
    child.kill('SIGTERM');
    await h.within(exited, 3000);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  const twice = [...seen.entries()].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'jobs handled more than once');
  assert.equal(seen.size, keys.length);
  const sample = await h.getJob(chute, keys[250]);
  assert.equal(JSON.parse(sample.variables).seq, 250);
});

test('zbctl: chuted stops on SIGTERM and exits 0 within 5 s', T, async () => {
  await h.assertStops(daemon());
});
