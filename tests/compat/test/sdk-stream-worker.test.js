'use strict';
// @camunda8/sdk@8.8.13's gRPC client with job streaming: ZeebeGrpcClient.streamJobs
// (StreamActivatedJobs, plus one ActivateJobs back-fill poll of 32 jobs and a
// 30 s side-car poll). Chute feeds the existing backlog to a new stream, so
// the 1000 queued jobs must arrive well before the side-car poll would matter.
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const { Zeebe } = require('@camunda8/sdk');
const h = require('../lib/harness');
const { runWorkerScenario } = require('../lib/workload');

const daemon = h.useDaemon(nodeTest);

function sdkClient() {
  return new Zeebe.ZeebeGrpcClient({
    config: {
      ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
      CAMUNDA_AUTH_STRATEGY: 'NONE',
      CAMUNDA_TENANT_ID: undefined,
      zeebeGrpcSettings: { ZEEBE_CLIENT_LOG_LEVEL: 'NONE' },
    },
  });
}

test('@camunda8/sdk stream worker: 1000 queued + 1000 live jobs, each completed exactly once', { timeout: 90000 }, async () => {
  const zbc = sdkClient();
  try {
    const r = await runWorkerScenario(daemon(), {
      prefix: 'sdk-stream',
      startWorker: async (type, onJob) => {
        const s = await zbc.streamJobs({
          type,
          worker: 'sdk-stream-worker',
          timeout: 30000,
          taskHandler: (job) => {
            onJob(job);
            return job.complete({ handledBy: 'sdk-stream' });
          },
        });
        return () => s.close();
      },
    });
    process.stdout.write(`# sdk stream worker: ${r.total} jobs in ${r.ms} ms\n`);
  } finally {
    await zbc.close();
  }
});

test('@camunda8/sdk polling worker (createWorker) completes jobs', { timeout: 30000 }, async () => {
  const chute = daemon().chute();
  const type = h.uniqueType('sdk-poll');
  const keys = await h.createJobs(chute, Array.from({ length: 50 }, (_, i) => ({
    type, variables: JSON.stringify({ i }), customHeaders: JSON.stringify({ h: 'v' }),
  })));
  const zbc = sdkClient();
  const seen = new Map();
  const problems = [];
  try {
    const w = zbc.createWorker({
      taskType: type,
      timeout: 30000,
      maxJobsToActivate: 16,
      taskHandler: (job) => {
        seen.set(String(job.key), (seen.get(String(job.key)) || 0) + 1);
        if (job.customHeaders.h !== 'v') problems.push(`job ${job.key}: customHeaders ${JSON.stringify(job.customHeaders)}`);
        return job.complete({});
      },
    });
    try {
      await h.waitFor(() => seen.size >= keys.length, { timeoutMs: 20000, what: `50 jobs (got ${seen.size})` });
    } finally {
      await w.close();
    }
    assert.deepEqual(problems, []);
    await h.waitFor(async () => {
      const st = await h.pool(keys, 16, async (k) => (await h.getJob(chute, k)).state);
      return st.every((s) => s === 'COMPLETED');
    }, { timeoutMs: 5000, what: 'all 50 jobs COMPLETED' });
    for (const k of keys) {
      assert.equal(seen.get(String(k)), 1, `job ${k} handled ${seen.get(String(k)) || 0} times`);
    }
  } finally {
    await zbc.close();
  }
});

test('sdk-stream-worker: chuted stops on SIGTERM and exits 0 within 5 s', { timeout: 15000 }, async () => {
  await h.assertStops(daemon());
});
