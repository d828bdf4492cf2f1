'use strict';
// The C job worker (`chute worker`, built on include/chute/worker.h) next to a
// real Zeebe peer (zbctl 8.4, the Go client) against one chuted:
// - jobs zbctl activated and left to expire are picked up and completed by
//   the C worker with their retries unchanged, and zbctl's stale complete is
//   then NOT_FOUND;
// - a zbctl worker and a C worker share one job type and no job is handled
//   twice.
//
// The `chute` CLI is taken from next to chuted's build directory
// (<build>/src/cli/chute for <build>/src/server/chuted).
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const h = require('../lib/harness');

const CHUTE_CLI = path.resolve(path.dirname(process.env.CHUTED || '.'), '../cli/chute');

let chute;
let tmp;
const daemon = h.useDaemon(nodeTest, (d) => {
  chute = d.chute();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chute-c-interop-'));
});
nodeTest.after(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

// ---------------------------------------------------------------- helpers

// A long-running child (a worker) whose stderr is kept; stop() sends SIGTERM
// and, after graceMs, SIGKILL. Returns {code, signal, killed, ms}.
function startProc(file, args, what) {
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], env: process.env });
  const lines = [];
  const p = {
    child,
    what,
    lines,
    exit: null,
    tail: (n = 30) => lines.slice(-n).join('\n'),
  };
  p.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => { p.exit = { code, signal }; resolve(p.exit); });
    child.on('error', (e) => { p.exit = { code: -1, signal: null, error: e }; resolve(p.exit); });
  });
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    lines.push(line);
    if (lines.length > 2000) lines.shift();
    if (process.env.CHUTE_COMPAT_VERBOSE) process.stderr.write(`[${what} ${child.pid}] ${line}\n`);
  });
  p.stop = async (graceMs = 5000) => {
    if (p.exit) return { ...p.exit, killed: false, ms: 0 };
    const t0 = Date.now();
    child.kill('SIGTERM');
    const r = await h.within(p.exited, graceMs);
    if (r) return { ...r, killed: false, ms: Date.now() - t0 };
    child.kill('SIGKILL');
    await p.exited;
    return { ...p.exit, killed: true, ms: Date.now() - t0 };
  };
  return p;
}

// `chute --address <daemon> worker TYPE [opts] -- COMMAND...`; resolves once
// the CLI says it is running.
async function startCWorker(type, opts, command) {
  assert.ok(fs.existsSync(CHUTE_CLI), `the chute CLI is not at ${CHUTE_CLI} (build the 'chute' target)`);
  const p = startProc(CHUTE_CLI, ['--address', daemon().address, 'worker', type, ...opts, '--', ...command], 'chute worker');
  try {
    await h.waitFor(() => p.exit || p.lines.some((l) => /^chute: worker '.*' handles /.test(l)), {
      timeoutMs: 10000, what: 'chute worker to start',
    });
  } catch (e) {
    await p.stop();
    throw Object.assign(e, { message: `${e.message}; stderr:\n${p.tail()}` });
  }
  assert.equal(p.exit, null, `chute worker exited at start (${JSON.stringify(p.exit)}); stderr:\n${p.tail()}`);
  return p;
}

// Stops a worker and asserts it went on SIGTERM with status 0.
async function stopCleanly(p) {
  const r = await p.stop();
  assert.ok(!r.killed, `${p.what} did not exit within 5 s of SIGTERM; stderr:\n${p.tail()}`);
  assert.equal(r.signal, null, `${p.what} died of ${r.signal}; stderr:\n${p.tail()}`);
  assert.equal(r.code, 0, `${p.what} exited ${r.code} after SIGTERM; stderr:\n${p.tail()}`);
}

function script(name, body) {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, `#!/bin/sh\n${body}`, { mode: 0o755 });
  return f;
}

// The non-empty lines of a handler's log file (each line one short write with
// O_APPEND, so lines of concurrent handlers do not interleave).
function logLines(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length);
}

async function statesOf(keys) {
  return h.pool(keys, 32, async (k) => [String(k), await h.getJob(chute, k)]);
}

async function waitAllCompleted(keys, timeoutMs) {
  let pending = keys.map(String);
  await h.waitFor(async () => {
    const st = await statesOf(pending);
    pending = st.filter(([, j]) => j.state !== 'COMPLETED').map(([k]) => k);
    return pending.length === 0;
  }, { timeoutMs, intervalMs: 200, what: 'every job to be COMPLETED' }).catch(async (e) => {
    const sample = (await statesOf(pending.slice(0, 5))).map(([, j]) => j);
    e.message += `: ${pending.length} not COMPLETED, e.g. ${JSON.stringify(sample)}`;
    throw e;
  });
}

// ---------------------------------------------------------------- tests

test('jobs zbctl let expire are completed by the C worker with their retries; zbctl complete then gets NOT_FOUND', { timeout: 60000 }, async () => {
  const type = h.uniqueType('c-interop-lease');
  const keys = (await h.createJobs(chute, Array.from({ length: 10 }, (_, i) => ({
    type, retries: 3, variables: JSON.stringify({ seq: i }),
  })))).map(String);

  // zbctl takes 5 with a 1 s lease and never completes them.
  const act = await daemon().zbctl(['activate', 'jobs', type, '--maxJobsToActivate', '5', '--timeout', '1s',
    '--worker', 'zbctl-lease']);
  assert.equal(act.code, 0, `zbctl activate jobs: ${h.fmtRun(act)}`);
  const taken = h.zbctlJobs(act.stdout);
  assert.equal(taken.length, 5, `zbctl activated ${taken.length} jobs, want 5: ${h.fmtRun(act)}`);
  const deadlineOf = new Map(taken.map((j) => [String(j.key), Number(j.deadline)]));
  for (const k of deadlineOf.keys()) assert.ok(keys.includes(k), `zbctl got a job that was not created: ${k}`);
  for (const [k, j] of await statesOf([...deadlineOf.keys()])) {
    assert.equal(j.state, 'ACTIVATED', `job ${k} after zbctl activate: ${JSON.stringify(j)}`);
    assert.equal(j.worker, 'zbctl-lease');
  }

  // The C worker starts while those leases still run: it gets the other 5 at
  // once and the expired 5 only after their deadlines. Its handler records
  // the key, the retries it was given and when it ran.
  const log = path.join(tmp, 'lease-c.log');
  const handler = script('lease-c.sh',
    `cat >/dev/null\necho "$CHUTE_JOB_KEY $CHUTE_JOB_RETRIES $(date +%s%3N)" >> '${log}'\necho '{"done":true}'\n`);
  const w = await startCWorker(type, ['--name', 'c-interop', '--timeout', '30s'], [handler]);
  try {
    await h.waitFor(() => logLines(log).length >= 10, {
      timeoutMs: 15000, intervalMs: 50, what: `the C worker to handle 10 jobs (handled ${logLines(log).length})`,
    }).catch((e) => { e.message += `; worker stderr:\n${w.tail()}`; throw e; });
    await waitAllCompleted(keys, 10000);
    await h.sleep(300); // a duplicate delivery would show up here
  } finally {
    await stopCleanly(w);
  }

  const runs = logLines(log).map((l) => {
    const [key, retries, at] = l.split(' ');
    return { key, retries: Number(retries), at: Number(at) };
  });
  assert.equal(runs.length, 10, `handler runs:\n${logLines(log).join('\n')}`);
  assert.deepEqual(runs.map((r) => r.key).sort(), [...keys].sort(), 'the C worker handled each of the 10 jobs once');
  for (const r of runs) {
    assert.equal(r.retries, 3, `job ${r.key} reached the C worker with ${r.retries} retries, want 3 (a lease expiry must not use a retry)`);
    const dl = deadlineOf.get(r.key);
    if (dl !== undefined) {
      assert.ok(r.at >= dl, `job ${r.key} reached the C worker at ${r.at}, before zbctl's lease ended at ${dl}`);
    }
  }
  for (const [k, j] of await statesOf(keys)) {
    assert.equal(j.state, 'COMPLETED', `job ${k}: ${JSON.stringify(j)}`);
    assert.equal(j.worker, 'c-interop', `job ${k} was last leased by ${j.worker}`);
    assert.equal(j.retries, 3, `job ${k} retries`);
    const vars = JSON.parse(j.variables);
    assert.equal(vars.done, true, `job ${k}: the handler's output was not merged: ${j.variables}`);
    assert.equal(vars.seq, keys.indexOf(k), `job ${k}: input variables: ${j.variables}`);
  }

  // zbctl's lease is gone with the job: completing now is NOT_FOUND.
  const stale = [...deadlineOf.keys()][0];
  const c = await daemon().zbctl(['complete', 'job', stale, '--variables', '{"late":true}']);
  assert.notEqual(c.code, 0, `zbctl complete job on a completed job succeeded: ${h.fmtRun(c)}`);
  assert.match(c.stderr + c.stdout, /code = NotFound\b/, h.fmtRun(c));
  assert.match(c.stderr + c.stdout, /NOT_FOUND/, h.fmtRun(c));
  const after = await h.getJob(chute, stale);
  assert.equal(after.state, 'COMPLETED');
  assert.equal(JSON.parse(after.variables).late, undefined, 'the stale complete changed the variables');
});

test('a zbctl worker and a C worker share one job type: every job completed exactly once', { timeout: 90000 }, async (t) => {
  const type = h.uniqueType('c-interop-share');
  const total = 600;
  // zbctl's handler gets only the variables (no key): it records the seq,
  // mapped back to the key with CreateJobs' order. The C handler records
  // $CHUTE_JOB_KEY. Each says in its result who handled the job.
  const zbLog = path.join(tmp, 'share-zbctl.log');
  const cLog = path.join(tmp, 'share-c.log');
  const zbHandler = script('share-zbctl.sh',
    `v=$(cat)\necho "$v" | tr -d '\\n' | sed 's/.*"seq":\\([0-9]*\\).*/\\1/' | { read s; echo "$s" >> '${zbLog}'; }\necho '{"by":"zbctl"}'\n`);
  const cHandler = script('share-c.sh',
    `cat >/dev/null\necho "$CHUTE_JOB_KEY" >> '${cLog}'\necho '{"by":"c"}'\n`);

  const zb = startProc(h.ZBCTL, ['--address', daemon().address, '--insecure', 'create', 'worker', type,
    '--handler', zbHandler, '--name', 'zbctl-share', '--timeout', '60s', '--maxJobsActive', '8', '--concurrency', '4'],
  'zbctl worker');
  let cw = null;
  const keys = [];
  try {
    cw = await startCWorker(type, ['--name', 'c-share', '--timeout', '60s', '--concurrency', '4'], [cHandler]);
    await h.sleep(1000); // both poll before the first job exists
    assert.equal(zb.exit, null, `zbctl worker exited: ${JSON.stringify(zb.exit)}; stderr:\n${zb.tail()}`);

    for (let i = 0; i < total; i += 50) {
      const batch = Array.from({ length: 50 }, (_, j) => ({ type, retries: 3, variables: JSON.stringify({ seq: i + j }) }));
      keys.push(...(await h.createJobs(chute, batch)).map(String));
      await h.sleep(50);
    }
    assert.equal(new Set(keys).size, total, 'CreateJobs returned duplicate keys');
    await h.waitFor(() => logLines(zbLog).length + logLines(cLog).length >= total, {
      timeoutMs: 45000, intervalMs: 100,
      what: `${total} handler runs (zbctl ${logLines(zbLog).length}, C ${logLines(cLog).length})`,
    }).catch((e) => {
      e.message += `; zbctl stderr:\n${zb.tail(10)}\nchute worker stderr:\n${cw.tail(10)}`;
      throw e;
    });
    await waitAllCompleted(keys, 15000);
    await h.sleep(500); // a duplicate delivery would show up here
  } finally {
    if (cw) await stopCleanly(cw);
    const r = await zb.stop();
    assert.ok(!r.killed, `zbctl worker did not exit within 5 s of SIGTERM; stderr:\n${zb.tail()}`);
  }

  const zbSeqs = logLines(zbLog);
  const bad = zbSeqs.filter((s) => !/^\d+$/.test(s) || Number(s) >= total);
  assert.deepEqual(bad, [], 'zbctl handler lines that are not a seq');
  const zbKeys = zbSeqs.map((s) => keys[Number(s)]);
  const cKeys = logLines(cLog);
  const dup = (list) => list.filter((k, i) => list.indexOf(k) !== i);
  assert.deepEqual(dup(zbKeys), [], 'jobs the zbctl worker handled twice');
  assert.deepEqual(dup(cKeys), [], 'jobs the C worker handled twice');
  const zbSet = new Set(zbKeys);
  const both = cKeys.filter((k) => zbSet.has(k));
  assert.deepEqual(both, [], 'jobs handled by both workers');
  const all = new Set([...zbKeys, ...cKeys]);
  const foreign = [...all].filter((k) => !keys.includes(k));
  assert.deepEqual(foreign, [], 'the C worker handled jobs that were not created');
  assert.equal(all.size, total, `handled ${all.size} distinct jobs of ${total}`);
  assert.ok(zbKeys.length > 0 && cKeys.length > 0,
    `the job type was not shared: zbctl handled ${zbKeys.length}, the C worker ${cKeys.length}`);
  t.diagnostic(`share: zbctl ${zbKeys.length}, C worker ${cKeys.length}`);

  // Every job COMPLETED, with the result of the worker that recorded it.
  const cSet = new Set(cKeys);
  const wrong = [];
  for (const [k, j] of await statesOf(keys)) {
    const want = cSet.has(k) ? 'c' : 'zbctl';
    const vars = JSON.parse(j.variables);
    if (j.state !== 'COMPLETED' || vars.by !== want || vars.seq !== keys.indexOf(k)) {
      wrong.push({ key: k, want, state: j.state, variables: j.variables });
    }
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} jobs not COMPLETED by the worker that handled them`);
});

test('c-worker-interop: chuted stops on SIGTERM and exits 0 within 5 s', { timeout: 30000 }, async () => {
  await h.assertStops(daemon());
});
