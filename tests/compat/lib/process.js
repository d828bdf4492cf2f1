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

module.exports = {
  CORPUS, corpus, ORDER, http, httpOk, getInstance, waitInstance, instanceVariables, searchIncidents,
};
