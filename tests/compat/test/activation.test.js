'use strict';
// ActivateJobs semantics through raw gRPC (Zeebe's own proto from the Node
// SDK), zbctl and a killed zeebe-node worker: fields of an activated job,
// fetchVariable, long polling, lease expiry.
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const h = require('../lib/harness');

let chute;
let gw;
const daemon = h.useDaemon(nodeTest, (d) => {
  chute = d.chute();
  gw = d.gateway();
});

test('an activated standalone job carries Zeebe defaults', { timeout: 15000 }, async () => {
  const type = h.uniqueType('fields');
  const key = await h.createJob(chute, { type, variables: '', customHeaders: '', retries: 4 });
  const t0 = Date.now();
  const { jobs } = await h.activate(gw, { type, worker: 'w-fields', timeout: 30000 });
  assert.equal(jobs.length, 1);
  const j = jobs[0];
  assert.equal(String(j.key), String(key));
  assert.ok(BigInt(j.key) >> 51n === 1n, `key ${j.key} is not on partition 1`);
  assert.equal(j.type, type);
  assert.equal(j.worker, 'w-fields');
  assert.equal(j.retries, 4);
  assert.equal(j.variables, '{}', 'empty variables must be sent as "{}"');
  assert.equal(j.customHeaders, '{}', 'empty custom headers must be sent as "{}"');
  assert.equal(j.tenantId, '<default>');
  assert.equal(String(j.processInstanceKey), '0');
  assert.equal(j.bpmnProcessId, '');
  const dl = Number(j.deadline);
  assert.ok(dl >= t0 + 29000 && dl <= Date.now() + 31000, `deadline ${dl} is not about now + 30 s`);
});

test('fetchVariable limits the variables (raw ActivateJobs and zbctl --variables)', { timeout: 20000 }, async () => {
  const type = h.uniqueType('fetch');
  const vars = { a: 1, b: 'two', c: { d: [3] }, e: null };
  await h.createJob(chute, { type, variables: JSON.stringify(vars) });
  await h.createJob(chute, { type, variables: JSON.stringify(vars) });
  await h.createJob(chute, { type, variables: JSON.stringify(vars) });

  const one = await h.activate(gw, { type, maxJobsToActivate: 1, fetchVariable: ['a', 'c', 'nope'] });
  assert.equal(one.jobs.length, 1);
  assert.deepEqual(JSON.parse(one.jobs[0].variables), { a: 1, c: { d: [3] } });

  const none = await h.activate(gw, { type, maxJobsToActivate: 1, fetchVariable: ['nope'] });
  assert.equal(none.jobs.length, 1);
  assert.deepEqual(JSON.parse(none.jobs[0].variables), {});

  const r = await daemon().zbctl(['activate', 'jobs', type, '--variables', 'b,e']);
  assert.equal(r.code, 0, h.fmtRun(r));
  const docs = h.zbctlJobs(r.stdout);
  assert.equal(docs.length, 1, h.fmtRun(r));
  assert.deepEqual(JSON.parse(docs[0].variables), { b: 'two', e: null });
});

test('a long poll (requestTimeout 5 s) answers within 50 ms of a job being created', { timeout: 20000 }, async () => {
  const samples = [];
  for (let i = 0; i < 3; i++) {
    const type = h.uniqueType('longpoll');
    const p = h.activate(gw, { type, requestTimeout: 5000, maxJobsToActivate: 10 });
    await h.sleep(300); // let the poll park
    const tCreate = Date.now();
    const key = await h.createJob(chute, { type });
    const r = await p;
    assert.equal(r.jobs.length, 1, 'long poll did not return the new job');
    assert.equal(String(r.jobs[0].key), String(key));
    samples.push(r.firstAt - tCreate);
  }
  const best = Math.min(...samples);
  process.stdout.write(`# long poll wake-up after create: ${samples.join(', ')} ms\n`);
  assert.ok(best <= 50, `long poll answered ${samples.join(', ')} ms after CreateJob was sent (limit 50 ms)`);
});

test('a long poll with requestTimeout 300 ms and no jobs ends OK with zero jobs', { timeout: 10000 }, async () => {
  const type = h.uniqueType('empty');
  const r = await h.activate(gw, { type, requestTimeout: 300 });
  assert.equal(r.jobs.length, 0);
  assert.equal(r.status.code, h.grpc.status.OK);
  assert.ok(r.ms >= 250, `returned after ${r.ms} ms, before its 300 ms request timeout`);
  assert.ok(r.ms < 2000, `returned only after ${r.ms} ms for a 300 ms request timeout`);

  const now = await h.activate(gw, { type, requestTimeout: -1 });
  assert.equal(now.jobs.length, 0);
  assert.ok(now.ms < 250, `requestTimeout -1 must answer at once, took ${now.ms} ms`);
});

test('requestTimeout 0 means the server default (the poll stays open)', { timeout: 15000 }, async () => {
  const type = h.uniqueType('default-timeout');
  const p = h.activate(gw, { type, requestTimeout: 0 }, { timeoutMs: 15000 });
  let settled = false;
  p.then(() => { settled = true; }, () => { settled = true; });
  await h.sleep(1000);
  assert.equal(settled, false, 'requestTimeout 0 answered within 1 s instead of waiting the default 10 s');
  await h.createJob(chute, { type });
  const r = await p;
  assert.equal(r.jobs.length, 1);
});

test('waiting long polls are served one job each, in arrival order', { timeout: 15000 }, async () => {
  const type = h.uniqueType('fifo');
  const first = h.activate(gw, { type, worker: 'first', requestTimeout: 8000, maxJobsToActivate: 5 });
  await h.sleep(100);
  const second = h.activate(gw, { type, worker: 'second', requestTimeout: 8000, maxJobsToActivate: 5 });
  let secondDone = false;
  second.then(() => { secondDone = true; }, () => { secondDone = true; });
  await h.sleep(300);
  const k1 = await h.createJob(chute, { type });
  const r1 = await first;
  assert.deepEqual(r1.jobs.map((j) => String(j.key)), [String(k1)]);
  await h.sleep(200);
  assert.equal(secondDone, false, 'the second long poll ended although no job was left for it');
  const k2 = await h.createJob(chute, { type });
  const r2 = await second;
  assert.deepEqual(r2.jobs.map((j) => String(j.key)), [String(k2)]);
  assert.equal(r2.jobs[0].worker, 'second');
});

test('a killed worker\'s jobs come back after their timeout with retries unchanged', { timeout: 30000 }, async () => {
  const type = h.uniqueType('killed');
  const keys = await h.createJobs(chute, Array.from({ length: 5 }, (_, i) => ({ type, retries: 3 + i })));
  const want = new Map(keys.map((k, i) => [String(k), 3 + i]));
  const timeoutMs = 2000;

  const child = spawn(process.execPath, [path.join(__dirname, '..', 'lib', 'hang-worker.js'),
    daemon().address, type, String(timeoutMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const got = new Map();
  let activatedAt = null;
  const exited = new Promise((r) => child.on('exit', r));
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const m = /^got (\d+) (-?\d+)$/.exec(line);
    if (m) { got.set(m[1], Number(m[2])); if (activatedAt === null) activatedAt = Date.now(); }
  });
  try {
    await h.waitFor(() => got.size === keys.length, { timeoutMs: 10000, what: `the worker to take 5 jobs (got ${got.size})` });
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  for (const [k, r] of got) assert.equal(r, want.get(k), `job ${k} activated with retries ${r}`);

  // Still leased: nobody else gets them before the deadline.
  const early = await h.activate(gw, { type, requestTimeout: -1, maxJobsToActivate: 10 });
  if (Date.now() - activatedAt < timeoutMs - 300) {
    assert.equal(early.jobs.length, 0, 'jobs of a killed worker were handed out before their timeout');
  }
  for (const k of keys) {
    const j = await h.getJob(chute, k);
    if (Date.now() - activatedAt < timeoutMs - 300) assert.equal(j.state, 'ACTIVATED');
  }

  const back = new Map();
  await h.waitFor(async () => {
    const r = await h.activate(gw, { type, requestTimeout: 1000, maxJobsToActivate: 10, worker: 'rescuer' });
    for (const j of r.jobs) back.set(String(j.key), j.retries);
    return back.size === keys.length;
  }, { timeoutMs: timeoutMs + 5000, what: `the 5 jobs to come back (got ${back.size})` });
  const waited = Date.now() - activatedAt;
  assert.ok(waited >= timeoutMs - 300, `jobs came back after ${waited} ms, timeout was ${timeoutMs} ms`);
  assert.deepEqual([...back.keys()].sort(), [...want.keys()].sort(), 'the same jobs came back');
  for (const [k, r] of back) assert.equal(r, want.get(k), `job ${k}: retries ${r} after its lease expired, want ${want.get(k)}`);
});

test('zbctl activate --timeout 1s: the lease expires and the same job is handed out again', { timeout: 20000 }, async () => {
  const type = h.uniqueType('zb-lease');
  const key = await h.createJob(chute, { type, retries: 2 });
  const r = await daemon().zbctl(['activate', 'jobs', type, '--timeout', '1s']);
  assert.equal(r.code, 0, h.fmtRun(r));
  const t0 = Date.now();
  const [doc] = h.zbctlJobs(r.stdout);
  assert.ok(doc, h.fmtRun(r));
  assert.equal(String(doc.key), String(key), h.fmtRun(r));
  const again = await h.activate(gw, { type, requestTimeout: 4000 });
  assert.equal(again.jobs.length, 1, 'job did not come back after its 1 s lease');
  assert.equal(String(again.jobs[0].key), String(key));
  assert.equal(again.jobs[0].retries, 2);
  const waited = Date.now() - t0;
  assert.ok(waited >= 700, `lease of 1 s expired after ${waited} ms`);
});

test('jobs are handed out by priority, then creation order', { timeout: 15000 }, async () => {
  const type = h.uniqueType('priority');
  const keys = [];
  for (const priority of [0, 5, 1, 5, 0]) keys.push(String(await h.createJob(chute, { type, priority })));
  const { jobs } = await h.activate(gw, { type, maxJobsToActivate: 10 });
  assert.deepEqual(jobs.map((j) => String(j.key)), [keys[1], keys[3], keys[2], keys[0], keys[4]]);
});

test('a delayed job is DELAYED, then activatable after its delay', { timeout: 15000 }, async () => {
  const type = h.uniqueType('delay');
  const t0 = Date.now();
  const key = await h.createJob(chute, { type, delay: 1000 });
  const job = await h.getJob(chute, key);
  assert.equal(job.state, 'DELAYED');
  const early = await h.activate(gw, { type, requestTimeout: -1 });
  if (Date.now() - t0 < 900) assert.equal(early.jobs.length, 0, 'a delayed job was activated before its delay');
  const r = await h.activate(gw, { type, requestTimeout: 5000 });
  const waited = Date.now() - t0;
  assert.equal(r.jobs.length, 1, 'the delayed job never became activatable');
  assert.equal(String(r.jobs[0].key), String(key));
  assert.ok(waited >= 900 && waited < 3000, `delayed job (1000 ms) activated after ${waited} ms`);
});

test('jobs that would push a response past 4 MiB are held back for the next request', { timeout: 30000 }, async () => {
  const type = h.uniqueType('big-batch');
  const blob = 'b'.repeat(900 * 1024);
  const keys = [];
  for (let i = 0; i < 10; i++) keys.push(String(await h.createJob(chute, { type, variables: JSON.stringify({ i, blob }) })));
  // grpc-js refuses to receive a message over 4 MiB (its default), like every Zeebe client.
  const got = new Set();
  let rounds = 0;
  while (got.size < keys.length && rounds < 10) {
    rounds += 1;
    const r = await h.activate(gw, { type, maxJobsToActivate: 10, requestTimeout: -1 });
    assert.ok(r.jobs.length > 0, `round ${rounds}: no job although ${keys.length - got.size} are queued`);
    assert.ok(r.jobs.length < 10, 'ten 900 KiB jobs fitted in one response');
    for (const j of r.jobs) got.add(String(j.key));
  }
  assert.deepEqual([...got].sort(), [...keys].sort());
});

test('a stream that stops reading does not hold back jobs from other takers', { timeout: 40000 }, async () => {
  const type = h.uniqueType('slow-stream');
  const client = daemon().gateway({ 'grpc.use_local_subchannel_pool': 1 });
  const call = client.StreamActivatedJobs({ type, worker: 'slow', timeout: 60000 });
  let streamed = 0;
  call.on('data', () => { streamed += 1; });
  call.on('error', () => {});
  await h.sleep(300);
  call.pause(); // stop reading: the HTTP/2 window fills up
  const blob = 's'.repeat(20 * 1024);
  const keys = await h.createJobs(chute, Array.from({ length: 300 }, (_, i) => ({ type, variables: JSON.stringify({ i, blob }) })), { chunk: 50 });
  await h.sleep(500);
  // While the stream is stalled, the daemon answers and pollers get the jobs it could not take.
  await h.assertServing(daemon(), 'with a stalled job stream');
  const polled = new Set();
  for (let i = 0; i < 20; i++) {
    const r = await h.activate(gw, { type, maxJobsToActivate: 100, requestTimeout: -1, worker: 'poller' });
    if (r.jobs.length === 0) break;
    for (const j of r.jobs) polled.add(String(j.key));
  }
  let leasedToStream = 0;
  for (const k of keys) {
    if (polled.has(String(k))) continue;
    const j = await h.getJob(chute, k);
    if (j.state === 'ACTIVATED' && j.worker === 'slow') leasedToStream += 1;
  }
  process.stdout.write(`# stalled stream: ${leasedToStream} jobs leased to it, ${polled.size} polled, ${streamed} read\n`);
  assert.equal(polled.size + leasedToStream, keys.length, 'every job is either leased to the stream or polled');
  assert.ok(polled.size >= 200, `only ${polled.size} of 300 jobs reached a poller while the stream was stalled (${leasedToStream} leased to it)`);
  call.cancel();
});

test('a job pushed to a cancelled stream or an expired long poll is not lost', { timeout: 30000 }, async () => {
  const type = h.uniqueType('gone');
  const client = daemon().gateway({ 'grpc.use_local_subchannel_pool': 1 });
  const stream = client.StreamActivatedJobs({ type, worker: 'gone-stream', timeout: 60000 });
  stream.on('data', () => {});
  stream.on('error', () => {});
  await h.sleep(300);
  stream.cancel();
  // A long poll whose client deadline (500 ms) ends before its requestTimeout (10 s).
  const expired = await h.activate(client, { type, worker: 'gone-poll', timeout: 60000, requestTimeout: 10000 }, { timeoutMs: 500 })
    .then(() => 'OK', (e) => h.codeName(e.code));
  assert.equal(expired, 'DEADLINE_EXCEEDED');
  await h.sleep(100);
  const key = await h.createJob(chute, { type });
  // Both takers are gone: the job must reach the next one at once, not after its 60 s lease.
  const r = await h.activate(gw, { type, requestTimeout: 3000, worker: 'alive' });
  assert.equal(r.jobs.length, 1, `job ${key} was lost to a cancelled stream or an expired poll`);
  assert.equal(String(r.jobs[0].key), String(key));
});

test('activation: chuted stops on SIGTERM and exits 0 within 5 s', { timeout: 15000 }, async () => {
  await h.assertStops(daemon());
});
