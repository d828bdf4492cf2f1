'use strict';
// Process instances driven by zbctl 8.4 (the Go client): the order process of
// the shared corpus deployed with bare `deploy` (DeployProcess) and `deploy
// resource`; `create instance` (CreateProcessInstance); its jobs activated and
// completed by hand; `set variables` (SetVariables) on the instance scope;
// `cancel instance`; zbctl's own workers (`create worker --handler`) running
// the three tasks; `create instance --withResult` (CreateProcessInstanceWithResult).
// What the server did is read back over REST (GET /v2/process-instances/{key},
// POST /v2/variables/search).
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');
const h = require('../lib/harness');
const p = require('../lib/process');

const T = { timeout: 30000 };
const daemon = h.useDaemon(nodeTest, null, { http: true });
const HANDLER = path.resolve(__dirname, '..', 'lib', 'zbctl-handler.js');

async function zbOk(args, opts) {
  const r = await daemon().zbctl(args, opts);
  assert.equal(r.code, 0, `zbctl ${args.join(' ')}: ${h.fmtRun(r)}`);
  return r;
}

function assertZbError(r, goCode, msgRe) {
  assert.notEqual(r.code, 0, `expected zbctl to fail: ${h.fmtRun(r)}`);
  const out = r.stderr + r.stdout;
  assert.match(out, new RegExp(`code = ${goCode}\\b`), `expected gRPC code ${goCode}: ${h.fmtRun(r)}`);
  if (msgRe) assert.match(out, msgRe, h.fmtRun(r));
}

function onlyDoc(r) {
  const docs = h.parseJsonStream(r.stdout);
  assert.equal(docs.length, 1, `expected one JSON document: ${h.fmtRun(r)}`);
  return docs[0];
}

async function activateOne(type) {
  const r = await zbOk(['activate', 'jobs', type, '--maxJobsToActivate', '10', '--requestTimeout', '5s']);
  const jobs = h.zbctlJobs(r.stdout);
  assert.equal(jobs.length, 1, `expected one ${type} job: ${h.fmtRun(r)}`);
  return jobs[0];
}

// zbctl workers (`create worker <type> --handler "node zbctl-handler.js <var>"`),
// one per task of the order process. Returns { handled: Map(type -> count), stop }.
function startZbctlWorkers() {
  const handled = new Map();
  const children = [];
  const tails = [];
  for (const t of p.ORDER.tasks) {
    // zbctl splits --handler on white space: the paths must not contain any.
    assert.ok(!/\s/.test(process.execPath + HANDLER), 'node and the handler path must not contain white space');
    const child = spawn(h.ZBCTL, ['--address', daemon().address, '--insecure', 'create', 'worker', t.type,
      '--handler', `${process.execPath} ${HANDLER} ${t.out}`, '--name', `zbctl-${t.type}`,
      '--timeout', '30s', '--pollInterval', '100ms'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const tail = [];
    tails.push(tail);
    readline.createInterface({ input: child.stderr }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
      if (/Activated job \d+/.test(line)) handled.set(t.type, (handled.get(t.type) || 0) + 1);
    });
    children.push({ child, exited: new Promise((r) => child.on('exit', r)) });
  }
  return {
    handled,
    log: () => tails.map((t) => t.join('\n')).join('\n---\n'),
    async stop() {
      for (const { child } of children) child.kill('SIGTERM');
      await h.within(Promise.all(children.map((c) => c.exited)), 3000);
      for (const { child } of children) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    },
  };
}

let definitionKey = null;

test('zbctl deploy and deploy resource of order-process.bpmn: process1, one definition', T, async () => {
  const file = p.corpus(p.ORDER.file);
  const d1 = onlyDoc(await zbOk(['deploy', file]));
  assert.equal(d1.processes.length, 1, JSON.stringify(d1));
  assert.equal(d1.processes[0].bpmnProcessId, 'process1');
  assert.equal(d1.processes[0].version, 1);
  definitionKey = String(d1.processes[0].processDefinitionKey);

  const d2 = onlyDoc(await zbOk(['deploy', 'resource', file]));
  const proc = d2.deployments[0].process;
  assert.equal(proc.bpmnProcessId, 'process1');
  assert.equal(proc.version, 1, 'an unchanged model keeps its version');
  assert.equal(String(proc.processDefinitionKey), definitionKey);
});

test('zbctl create instance, set variables, complete, cancel instance: the job after cancel is NOT_FOUND', T, async () => {
  const created = onlyDoc(await zbOk(['create', 'instance', 'process1',
    '--variables', '{"orderId":"A-1","amount":12.5,"items":["book","pen"]}']));
  assert.equal(created.bpmnProcessId, 'process1');
  assert.equal(created.version, 1);
  assert.equal(String(created.processDefinitionKey), definitionKey);
  assert.match(String(created.processInstanceKey), /^[1-9]\d*$/, JSON.stringify(created));
  const pik = String(created.processInstanceKey);

  const inst = await p.getInstance(daemon(), pik);
  assert.equal(inst.state, 'ACTIVE');
  assert.equal(inst.processDefinitionId, 'process1');
  assert.equal(String(inst.processDefinitionKey), definitionKey);

  // The first task's job carries the instance's variables and process fields.
  const j1 = await activateOne('check-inventory');
  assert.equal(String(j1.processInstanceKey), pik);
  assert.equal(j1.bpmnProcessId, 'process1');
  assert.equal(j1.elementId, 'Activity_0tw2fu0');
  assert.equal(String(j1.processDefinitionKey), definitionKey);
  assert.deepEqual(JSON.parse(j1.variables), { orderId: 'A-1', amount: 12.5, items: ['book', 'pen'] });

  // SetVariables on the instance's scope, then complete with a result.
  const sv = await zbOk(['set', 'variables', pik, '--variables', '{"note":"gift wrap","amount":20}']);
  assert.match(sv.stdout + sv.stderr, /\d{6,}/, `set variables prints its key: ${h.fmtRun(sv)}`);
  await zbOk(['complete', 'job', String(j1.key), '--variables', '{"inventoryChecked":true}']);

  // The next task sees the set and the completed variables, merged.
  const j2 = await activateOne('charge-payment');
  assert.equal(String(j2.processInstanceKey), pik);
  assert.equal(j2.elementId, 'Activity_1ppsbgi');
  assert.deepEqual(JSON.parse(j2.variables),
    { orderId: 'A-1', amount: 20, items: ['book', 'pen'], note: 'gift wrap', inventoryChecked: true });

  // Cancel: the instance is TERMINATED and its activated job is gone.
  await zbOk(['cancel', 'instance', pik]);
  const after = await p.getInstance(daemon(), pik);
  assert.equal(after.state, 'TERMINATED', JSON.stringify(after));
  assertZbError(await daemon().zbctl(['complete', 'job', String(j2.key)]), 'NotFound', /NOT_FOUND/);
  assertZbError(await daemon().zbctl(['cancel', 'instance', pik]), 'NotFound', /NOT_FOUND/);
  assertZbError(await daemon().zbctl(['set', 'variables', pik, '--variables', '{"x":1}']), 'NotFound');
  // Nothing of it is left for a worker.
  const left = h.zbctlJobs((await zbOk(['activate', 'jobs', 'charge-payment', '--requestTimeout', '1s'])).stdout);
  assert.equal(left.length, 0, `jobs of a cancelled instance: ${JSON.stringify(left)}`);
});

let workers = null;

test('zbctl create worker --handler: three zbctl workers run an instance to COMPLETED', T, async () => {
  workers = startZbctlWorkers();
  const created = onlyDoc(await zbOk(['create', 'instance', 'process1', '--variables', '{"orderId":"B-2"}']));
  const pik = String(created.processInstanceKey);
  try {
    await p.waitInstance(daemon(), pik, 'COMPLETED', { timeoutMs: 20000 });
  } catch (e) {
    e.message += `\nworker logs:\n${workers.log()}`;
    throw e;
  }
  const vars = await p.instanceVariables(daemon(), pik);
  // Each handler printed what it saw: the tasks ran in order, each seeing the
  // results of the ones before it.
  assert.deepEqual(vars, {
    orderId: 'B-2',
    inventoryChecked: { orderId: 'B-2', saw: ['orderId'] },
    paymentCharged: { orderId: 'B-2', saw: ['inventoryChecked', 'orderId'] },
    itemsShipped: { orderId: 'B-2', saw: ['inventoryChecked', 'orderId', 'paymentCharged'] },
  });
  for (const t of p.ORDER.tasks) assert.equal(workers.handled.get(t.type), 1, `${t.type} jobs handled`);
});

test('zbctl create instance --withResult returns the merged variables (and --withResult=names limits them)', T, async () => {
  assert.ok(workers, 'the zbctl workers of the previous test run');
  try {
    const r = onlyDoc(await zbOk(['create', 'instance', 'process1', '--withResult',
      '--variables', '{"orderId":"C-3","rush":true}']));
    assert.equal(r.bpmnProcessId, 'process1');
    assert.equal(String(r.processDefinitionKey), definitionKey);
    assert.match(String(r.processInstanceKey), /^[1-9]\d*$/);
    const vars = JSON.parse(r.variables);
    assert.deepEqual(vars, {
      orderId: 'C-3',
      rush: true,
      inventoryChecked: { orderId: 'C-3', saw: ['orderId', 'rush'] },
      paymentCharged: { orderId: 'C-3', saw: ['inventoryChecked', 'orderId', 'rush'] },
      itemsShipped: { orderId: 'C-3', saw: ['inventoryChecked', 'orderId', 'paymentCharged', 'rush'] },
    });
    const done = await p.getInstance(daemon(), r.processInstanceKey);
    assert.equal(done.state, 'COMPLETED');

    const some = onlyDoc(await zbOk(['create', 'instance', 'process1', '--withResult=orderId,itemsShipped',
      '--variables', '{"orderId":"C-4"}']));
    assert.deepEqual(JSON.parse(some.variables), {
      orderId: 'C-4',
      itemsShipped: { orderId: 'C-4', saw: ['inventoryChecked', 'orderId', 'paymentCharged'] },
    });
  } finally {
    await workers.stop();
  }
  await p.quiesce(daemon());
});

test('process-zbctl: chuted stops on SIGTERM and exits 0 within 5 s', T, async () => {
  await h.assertStops(daemon());
});
