'use strict';
// Camunda 8.8's v2 user-task endpoints driven by real REST clients: the
// SDK's orchestration cluster API client (c8.getOrchestrationClusterApiClient,
// @camunda8/orchestration-cluster-api, with its response validation strict,
// so every answer must match Camunda's own schema) deploys a model with a
// native user task (zeebe:userTask, its assignee from a variable, two
// candidate groups), starts instances, searches their tasks, assigns,
// unassigns and completes them, and sees the instance complete; the SDK's
// CamundaRestClient (the 8.7-style REST client) does the same through its
// own calls; the errors (404 for an unknown task, 409 for an assignment
// without override) reach both as HTTP errors.
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('../lib/harness');

// The orchestration client reads its validation mode from the environment
// when it is created: requests and responses both checked, strictly.
process.env.CAMUNDA_SDK_VALIDATION = 'req:strict,res:strict';
const { Camunda8 } = require('@camunda8/sdk');

const T = { timeout: 30000 };
const NOW = { waitUpToMs: 0 }; // Chute's reads are consistent at once
const daemon = h.useDaemon(nodeTest, null, { http: true });

const REVIEW = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="review-defs">
  <bpmn:process id="compat-review" name="Review" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:userTask id="review" name="Review the order">
      <bpmn:extensionElements>
        <zeebe:userTask/>
        <zeebe:assignmentDefinition assignee="=reviewer" candidateGroups="ops,sales"/>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
`;

let c8 = null;
function sdk() {
  if (!c8) {
    c8 = new Camunda8({
      ZEEBE_REST_ADDRESS: daemon().httpBase,
      ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
      CAMUNDA_AUTH_STRATEGY: 'NONE',
      CAMUNDA_LOG_LEVEL: 'none',
    });
  }
  return c8;
}

// JSON of an answer for a message: the validated client gives BigInts (page.totalItems).
function fmt(v) {
  return JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? String(x) : x));
}

// The HTTP status of a rejected call, whichever client made it.
async function statusOf(p) {
  try {
    await p;
  } catch (e) {
    return e.status ?? e.statusCode ?? e.response?.statusCode ?? e.cause?.status ?? e;
  }
  assert.fail('the call succeeded');
}

let deployed = false;
async function deployReview(camunda) {
  if (deployed) return;
  const file = new File([REVIEW], 'compat-review.bpmn', { type: 'application/xml' });
  const d = await camunda.createDeployment({ resources: [file] });
  assert.equal(d.processes.length, 1, fmt(d));
  assert.equal(d.processes[0].processDefinitionId, 'compat-review');
  deployed = true;
}

test('the orchestration API client searches, assigns, unassigns and completes a user task', T, async () => {
  const camunda = sdk().getOrchestrationClusterApiClient();
  await deployReview(camunda);
  const pi = await camunda.createProcessInstance({
    processDefinitionId: 'compat-review',
    variables: { reviewer: 'anna', order: 'A-1' },
  });
  const pik = String(pi.processInstanceKey);

  // Search: the task with what the model gave it.
  const found = await camunda.searchUserTasks({ filter: { processInstanceKey: pik } }, NOW);
  assert.equal(found.items.length, 1, fmt(found));
  assert.equal(Number(found.page.totalItems), 1);
  const t = found.items[0];
  assert.equal(t.state, 'CREATED');
  assert.equal(t.assignee, 'anna');
  assert.equal(t.elementId, 'review');
  assert.equal(t.name, 'Review the order');
  assert.deepEqual(t.candidateGroups, ['ops', 'sales']);
  assert.deepEqual(t.candidateUsers, []);
  assert.equal(t.processDefinitionId, 'compat-review');
  assert.equal(String(t.processInstanceKey), pik);
  assert.equal(String(t.elementInstanceKey), String(t.userTaskKey));
  assert.equal(t.priority, 50);
  assert.equal(t.tenantId, '<default>');
  assert.ok(!Number.isNaN(Date.parse(t.creationDate)), t.creationDate);
  const key = t.userTaskKey;

  // Filters the client builds: by assignee, by state, unassigned ones.
  const mine = await camunda.searchUserTasks(
    { filter: { assignee: 'anna', state: 'CREATED', processDefinitionId: 'compat-review' } }, NOW);
  assert.ok(mine.items.some((x) => String(x.userTaskKey) === String(key)), fmt(mine));
  const done = await camunda.searchUserTasks({ filter: { state: 'COMPLETED' } }, NOW);
  assert.equal(done.items.length, 0);
  const nobody = await camunda.searchUserTasks(
    { filter: { assignee: { $exists: false }, processInstanceKey: pik } }, NOW);
  assert.equal(nobody.items.length, 0);

  // Assignment: refused without override while anna holds it (409), done with.
  assert.equal(await statusOf(camunda.assignUserTask(
    { userTaskKey: key, assignee: 'bob', allowOverride: false })), 409);
  await camunda.assignUserTask({ userTaskKey: key, assignee: 'bob' });
  let got = await camunda.getUserTask({ userTaskKey: key }, NOW);
  assert.equal(got.assignee, 'bob');
  await camunda.unassignUserTask({ userTaskKey: key });
  got = await camunda.getUserTask({ userTaskKey: key }, NOW);
  assert.equal(got.assignee, undefined);
  const free = await camunda.searchUserTasks(
    { filter: { assignee: { $exists: false }, processInstanceKey: pik } }, NOW);
  assert.equal(free.items.length, 1);
  await camunda.assignUserTask({ userTaskKey: key, assignee: 'carl', allowOverride: false });

  // Completion: the instance moves on to its end, with the variables.
  await camunda.completeUserTask({ userTaskKey: key, variables: { approved: true } });
  const inst = await camunda.getProcessInstance({ processInstanceKey: pik }, NOW);
  assert.equal(inst.state, 'COMPLETED');
  const vars = await camunda.searchVariables(
    { filter: { processInstanceKey: pik, name: 'approved' } }, NOW);
  assert.equal(vars.items[0].value, 'true');
  assert.equal(await statusOf(camunda.getUserTask({ userTaskKey: key }, NOW)), 404);
  assert.equal(await statusOf(camunda.completeUserTask({ userTaskKey: key })), 404);
});

test('CamundaRestClient works through its own user task calls', T, async () => {
  await deployReview(sdk().getOrchestrationClusterApiClient());
  const rest = sdk().getCamundaRestClient();
  const pi = await rest.createProcessInstance({
    processDefinitionId: 'compat-review',
    variables: { reviewer: 'dora' },
  });
  const pik = String(pi.processInstanceKey);
  const found = await rest.searchUserTasks({ filter: { processInstanceKey: pik } });
  assert.equal(found.items.length, 1, fmt(found));
  const key = String(found.items[0].userTaskKey);
  assert.equal(found.items[0].assignee, 'dora');
  assert.equal(found.items[0].state, 'CREATED');
  // Its assignUserTask sends allowOverride true unless told otherwise.
  await rest.assignUserTask({ userTaskKey: key, assignee: 'eve' });
  assert.equal((await rest.getUserTask(key)).assignee, 'eve');
  assert.equal(await statusOf(rest.assignUserTask(
    { userTaskKey: key, assignee: 'finn', allowOverride: false })), 409);
  await rest.unassignUserTask({ userTaskKey: key });
  await rest.completeUserTask({ userTaskKey: key, variables: { ok: 1 } });
  assert.equal(await statusOf(rest.getUserTask(key)), 404);
  const r = await fetch(`${daemon().httpBase}/v2/process-instances/${pik}`);
  assert.equal((await r.json()).state, 'COMPLETED');
  assert.equal(await statusOf(rest.completeUserTask({ userTaskKey: '2251799813999999' })), 404);
});

test('chuted stops cleanly', T, async () => {
  await h.assertServing(daemon(), 'the user task calls');
  await h.assertStops(daemon());
});
