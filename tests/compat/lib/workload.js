'use strict';
// A worker scenario shared by the client tests: N jobs created before the
// worker starts and N more created while it runs; every job must be handled
// exactly once and end COMPLETED (checked with Chute's GetJob).
const assert = require('node:assert/strict');
const h = require('./harness');

// startWorker(type, onJob) must start a real client's worker for `type` whose
// handler calls onJob(job) and then completes the job; it returns an async
// close function.
async function runWorkerScenario(daemon, { prefix, startWorker, perPhase = 1000, budgetMs = 60000 }) {
  const chute = daemon.chute();
  const type = h.uniqueType(prefix);
  const seqOf = new Map(); // key -> seq
  const handled = new Map(); // key -> invocation count
  const problems = [];

  const mk = (from, n, batch) => Array.from({ length: n }, (_, i) => ({
    type,
    variables: JSON.stringify({ seq: from + i, payload: 'x'.repeat(16) }),
    customHeaders: JSON.stringify({ batch }),
    retries: 3,
  }));

  const before = await h.createJobs(chute, mk(0, perPhase, 'before'));
  before.forEach((k, i) => seqOf.set(String(k), i));
  assert.equal(new Set(before.map(String)).size, perPhase, 'CreateJobs returned duplicate keys');

  const onJob = (job) => {
    const key = String(job.key);
    handled.set(key, (handled.get(key) || 0) + 1);
    const want = seqOf.get(key);
    if (want === undefined) {
      // A job of the second batch may reach the worker before CreateJobs
      // answered; check it at the end.
      return;
    }
    const seq = Number(job.variables && job.variables.seq);
    if (seq !== want && problems.length < 10) problems.push(`job ${key}: variables.seq ${seq}, want ${want}`);
  };

  const t0 = Date.now();
  const close = await startWorker(type, onJob);
  try {
    await h.waitFor(() => handled.size >= Math.min(50, perPhase), {
      timeoutMs: 20000, what: `the worker to handle its first jobs (handled ${handled.size})`,
    });
    // Second half while the worker runs, in small batches.
    for (let i = 0; i < perPhase; i += 100) {
      const n = Math.min(100, perPhase - i);
      const keys = await h.createJobs(chute, mk(perPhase + i, n, 'during'));
      keys.forEach((k, j) => seqOf.set(String(k), perPhase + i + j));
      await h.sleep(10);
    }
    const total = 2 * perPhase;
    assert.equal(seqOf.size, total, 'job keys are unique');
    await h.waitFor(() => handled.size >= total, {
      timeoutMs: Math.max(1000, budgetMs - (Date.now() - t0)),
      intervalMs: 50,
      what: `all ${total} jobs to be handled (handled ${handled.size})`,
    }).catch((e) => { e.message += ` (handled ${handled.size} of ${total})`; throw e; });

    // Every job COMPLETED.
    const keys = [...seqOf.keys()];
    let notDone = [];
    await h.waitFor(async () => {
      const states = await h.pool(notDone.length ? notDone : keys, 32, async (k) => [k, (await h.getJob(chute, k)).state]);
      notDone = states.filter(([, s]) => s !== 'COMPLETED').map(([k]) => k);
      return notDone.length === 0;
    }, { timeoutMs: 15000, intervalMs: 200, what: 'every job to be COMPLETED' }).catch(async (e) => {
      const sample = await h.pool(notDone.slice(0, 5), 5, (k) => h.getJob(chute, k));
      e.message += `: ${notDone.length} jobs not COMPLETED, e.g. ${JSON.stringify(sample)}`;
      throw e;
    });

    // Give a duplicate delivery a moment to show up, then count.
    await h.sleep(300);
    const foreign = [...handled.keys()].filter((k) => !seqOf.has(k));
    assert.deepEqual(foreign, [], 'worker got jobs that were never created');
    const twice = [...handled.entries()].filter(([, n]) => n > 1);
    assert.deepEqual(twice.slice(0, 10), [], `${twice.length} jobs handled more than once`);
    assert.equal(handled.size, total);
    assert.deepEqual(problems, [], 'jobs carried the wrong variables');
    return { ms: Date.now() - t0, total };
  } finally {
    await close();
  }
}

module.exports = { runWorkerScenario };
