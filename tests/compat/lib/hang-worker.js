'use strict';
// A zeebe-node worker that takes jobs and never finishes them; the test kills
// it with SIGKILL. Usage: node hang-worker.js <address> <type> <timeoutMs>
// Prints "got <key> <retries>" per job.
const { ZBClient } = require('zeebe-node');

const [address, type, timeoutMs] = process.argv.slice(2);
const zbc = new ZBClient(address, { useTLS: false, loglevel: 'NONE' });
zbc.createWorker({
  taskType: type,
  loglevel: 'NONE',
  timeout: Number(timeoutMs),
  maxJobsToActivate: 32,
  taskHandler: (job) => {
    process.stdout.write(`got ${job.key} ${job.retries}\n`);
    return new Promise(() => {}); // never acknowledged
  },
});
