'use strict';
// zeebe-node@8.3.2's polling ZBWorker (ActivateJobs long polls).
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const { ZBClient } = require('zeebe-node');
const h = require('../lib/harness');
const { runWorkerScenario } = require('../lib/workload');

const daemon = h.useDaemon(nodeTest);

test('zeebe-node worker: 1000 queued + 1000 live jobs, each completed exactly once', { timeout: 90000 }, async () => {
  const zbc = new ZBClient(daemon().address, { useTLS: false, loglevel: 'NONE', retry: true, longPoll: 10000 });
  try {
    const r = await runWorkerScenario(daemon(), {
      prefix: 'zeebe-node',
      startWorker: async (type, onJob) => {
        const w = zbc.createWorker({
          taskType: type,
          loglevel: 'NONE',
          maxJobsToActivate: 32,
          pollInterval: 100, // the client's own default is 300 ms; the Java worker's is 100 ms
          timeout: 30000,
          taskHandler: (job) => {
            onJob(job);
            return job.complete({ handledBy: 'zeebe-node' });
          },
        });
        return () => w.close();
      },
    });
    process.stdout.write(`# zeebe-node worker: ${r.total} jobs in ${r.ms} ms\n`);
  } finally {
    await zbc.close();
  }
});

test('zeebe-node worker: fetchVariable limits the variables it receives', { timeout: 20000 }, async () => {
  const chute = daemon().chute();
  const type = h.uniqueType('zeebe-node-fetch');
  const key = await h.createJob(chute, {
    type, variables: JSON.stringify({ a: 1, b: 'two', c: { d: [3] }, secret: 'nope' }),
  });
  const zbc = new ZBClient(daemon().address, { useTLS: false, loglevel: 'NONE' });
  try {
    const got = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker got no job within 10 s')), 10000);
      const w = zbc.createWorker({
        taskType: type,
        loglevel: 'NONE',
        fetchVariable: ['a', 'c', 'missing'],
        taskHandler: (job) => {
          clearTimeout(timer);
          resolve({ key: job.key, variables: job.variables });
          const ack = job.complete();
          w.close();
          return ack;
        },
      });
    });
    assert.equal(String(got.key), String(key));
    assert.deepEqual({ ...got.variables }, { a: 1, c: { d: [3] } });
  } finally {
    await zbc.close();
  }
});

test('zeebe-node-worker: chuted stops on SIGTERM and exits 0 within 5 s', { timeout: 15000 }, async () => {
  await h.assertStops(daemon());
});
