'use strict';
// Helpers for the process-instance tests: the shared BPMN corpus (read in
// place from ../shared, never copied), the order process's task types and
// element ids, and reads of the v2 REST API (instances, variables, incidents)
// that the tests use to check what the clients did.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const h = require('./harness');

// tests/compat/lib -> the worktree's parent, where ../shared resolves.
const CORPUS = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'bpmn-corpus');

// A model of the shared corpus; throws (the test fails) when ../shared is missing.
function corpus(name) {
  const p = path.join(CORPUS, name);
  if (!fs.existsSync(p)) {
    throw new Error(`the BPMN corpus is missing: ${p} (../shared/bpmn-corpus must exist next to the worktree)`);
  }
  return p;
}

// order-process.bpmn (camunda-8-get-started): process1, three service tasks in a row.
const ORDER = {
  file: 'order-process.bpmn',
  id: 'process1',
  // job type -> the service task's element id, in the order the tokens reach them.
  tasks: [
    { type: 'check-inventory', elementId: 'Activity_0tw2fu0', out: 'inventoryChecked' },
    { type: 'charge-payment', elementId: 'Activity_1ppsbgi', out: 'paymentCharged' },
    { type: 'ship-items', elementId: 'Activity_08pg6im', out: 'itemsShipped' },
  ],
};

async function http(daemon, method, urlPath, body) {
  const r = await fetch(daemon.httpBase + urlPath, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: r.status, text, json };
}

async function httpOk(daemon, method, urlPath, body) {
  const r = await http(daemon, method, urlPath, body);
  assert.equal(r.status, 200, `${method} ${urlPath}: ${r.status} ${r.text}`);
  return r.json;
}

// GET /v2/process-instances/{key}
function getInstance(daemon, key) {
  return httpOk(daemon, 'GET', `/v2/process-instances/${key}`);
}

// Polls GET /v2/process-instances/{key} until its state is |state|.
async function waitInstance(daemon, key, state, { timeoutMs = 10000 } = {}) {
  let last = null;
  try {
    return await h.waitFor(async () => {
      last = await getInstance(daemon, key);
      return last.state === state ? last : null;
    }, { timeoutMs, intervalMs: 50, what: `process instance ${key} to be ${state}` });
  } catch (e) {
    e.message += `; last read: ${JSON.stringify(last)}`;
    throw e;
  }
}

// POST /v2/variables/search for one instance -> { name: parsed value } (the
// instance's variables of every scope; the tests use root-scope ones).
async function instanceVariables(daemon, key) {
  const r = await httpOk(daemon, 'POST', '/v2/variables/search',
    { filter: { processInstanceKey: String(key) }, page: { limit: 1000 } });
  const out = {};
  for (const v of r.items) {
    assert.equal(String(v.processInstanceKey), String(key), `variable of another instance: ${JSON.stringify(v)}`);
    out[v.name] = JSON.parse(v.value);
  }
  return out;
}

// POST /v2/incidents/search with |filter|.
async function searchIncidents(daemon, filter) {
  const r = await httpOk(daemon, 'POST', '/v2/incidents/search', { filter });
  return r.items;
}

// /metrics gauges of the order process's task types: long polls waiting
// (chute_long_poll_waiters) and job streams open (chute_job_streams).
async function takers(daemon) {
  const r = await http(daemon, 'GET', '/metrics');
  assert.equal(r.status, 200, r.text);
  const out = {};
  for (const t of ORDER.tasks) {
    for (const fam of ['chute_long_poll_waiters', 'chute_job_streams']) {
      const line = r.text.split('\n').find((l) => l.startsWith(`${fam}{type="${t.type}"} `));
      out[`${fam}{${t.type}}`] = line ? Number(line.split(' ')[1]) : 0;
    }
  }
  return out;
}

// Waits until no long poll or job stream of the three task types is left at
// the server. The tests share those types, and a closed worker may leave its
// last long poll open: @camunda8/sdk's ZBWorker.close() closes its channel,
// which in grpc-js lets calls in flight run on, so the server may still hand
// a job to that poll (the SDK drops it, the job waits out its lease). Each
// test that ran workers ends with this, so the next one starts clean.
async function quiesce(daemon, { timeoutMs = 5000 } = {}) {
  let last = null;
  try {
    await h.waitFor(async () => {
      last = await takers(daemon);
      return Object.values(last).every((v) => v === 0);
    }, { timeoutMs, intervalMs: 50, what: 'the workers\' long polls and streams to end at the server' });
  } catch (e) {
    e.message += `: ${JSON.stringify(last)}`;
    throw e;
  }
}

// For failure messages: an instance's element instances and the jobs of
// the order process's task types (GET /v1/jobs: state, worker, deadline).
async function describe(daemon, key) {
  const out = [];
  try {
    if (key) {
      const els = await http(daemon, 'POST', '/v2/element-instances/search',
        { filter: { processInstanceKey: String(key) } });
      out.push(`element instances of ${key}: ${els.text}`);
    }
    for (const t of ORDER.tasks) {
      const jobs = await http(daemon, 'GET', `/v1/jobs?type=${t.type}&size=1000`);
      const open = (jobs.json && jobs.json.jobs || []).filter((j) => j.state !== 'COMPLETED');
      out.push(`${t.type} jobs not completed: ${JSON.stringify(open)}`);
    }
  } catch (e) {
    out.push(`(could not describe: ${e.message})`);
  }
  return out.join('\n');
}

// Runs fn; on failure adds describe() to the error's message, for the
// instance key() names or else the one the error names (Chute's
// DEADLINE_EXCEEDED says "process instance '<key>' was created").
async function explained(daemon, key, fn) {
  try {
    return await fn();
  } catch (e) {
    const m = /process instance '(\d+)'/.exec(`${e.details || ''} ${e.message}`);
    const extra = `\n${await describe(daemon, (key && key()) || (m && m[1]))}`;
    e.message += extra;
    if (typeof e.stack === 'string') e.stack += extra; // what the reporter prints
    throw e;
  }
}

module.exports = {
  CORPUS, corpus, ORDER, http, httpOk, getInstance, waitInstance, instanceVariables, searchIncidents,
  describe, explained, takers, quiesce,
};
