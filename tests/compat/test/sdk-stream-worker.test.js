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

// The SDK opens every channel with 'grpc.default_compression_algorithm': 2
// (gzip), so grpc-js sends its requests gzip-compressed (grpc-encoding: gzip),
// as a Zeebe gateway accepts.
test('gzip-compressed requests (the SDK\'s channel options) are accepted', { timeout: 20000 }, async () => {
  const gw = daemon().gateway({ 'grpc.default_compression_algorithm': 2, 'grpc.default_compression_level': 2 });
  const topo = await h.unary(gw, 'Topology', {});
  assert.equal(topo.brokers.length, 1);
  const chute = daemon().chute({ 'grpc.default_compression_algorithm': 2 });
  const type = h.uniqueType('gzip');
  const key = await h.createJob(chute, { type, variables: JSON.stringify({ text: 'y'.repeat(10000) }) });
  const { jobs } = await h.activate(gw, { type });
  assert.equal(jobs.length, 1);
  assert.equal(JSON.parse(jobs[0].variables).text.length, 10000);
  await h.unary(gw, 'CompleteJob', { jobKey: key, variables: JSON.stringify({ z: 'z'.repeat(5000) }) });
  assert.equal((await h.getJob(chute, key)).state, 'COMPLETED');
});

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
