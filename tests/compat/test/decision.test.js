'use strict';
// Decisions with the real clients: the rocket launch of the shared corpus
// (rocket-launch.bpmn, whose business rule task asks the decision table of
// plot-destination.dmn, beside scripts, a parallel gateway and a 10 s
// countdown timer). zbctl 8.4 deploys both in one DeployResource and prints
// the decision and its requirements graph; `create instance --withResult`
// for four fuel levels, run at once so that the countdown is paid once, ends
// each with the missionResult Zeebe computes; `zbctl evaluate decision`
// (EvaluateDecision) by id and by key, a failing evaluation answered with
// failedDecisionId, an unknown decision NotFound; @camunda8/sdk's
// evaluateDecision over gRPC and over REST (POST
// /v2/decision-definitions/evaluation) answering "Mars".
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Camunda8 } = require('@camunda8/sdk');
const h = require('../lib/harness');
const p = require('../lib/process');

const T = { timeout: 30000 };
const daemon = h.useDaemon(nodeTest, null, { http: true });

async function zbOk(args, opts) {
  const r = await daemon().zbctl(args, opts);
  assert.equal(r.code, 0, `zbctl ${args.join(' ')}: ${h.fmtRun(r)}`);
  return r;
}

function onlyDoc(r) {
  const docs = h.parseJsonStream(r.stdout);
  assert.equal(docs.length, 1, `expected one JSON document: ${h.fmtRun(r)}`);
  return docs[0];
}

function camunda8() {
  return new Camunda8({
    ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
    ZEEBE_REST_ADDRESS: daemon().httpBase,
    CAMUNDA_AUTH_STRATEGY: 'NONE',
    CAMUNDA_LOG_LEVEL: 'none',
    CAMUNDA_SDK_LOG_LEVEL: 'silent',
    zeebeGrpcSettings: { ZEEBE_CLIENT_LOG_LEVEL: 'NONE' },
  });
}

let decisionKey = null;
let requirementsKey = null;

test('zbctl deploy resource rocket-launch.bpmn plot-destination.dmn: the process, the decision and its graph', T, async () => {
  const bpmn = p.corpus('rocket-launch.bpmn');
  const dmn = p.corpus('plot-destination.dmn');
  const d = onlyDoc(await zbOk(['deploy', 'resource', bpmn, dmn]));
  // Zeebe's order: processes, decisions, then the decision requirements.
  assert.equal(d.deployments.length, 3, JSON.stringify(d));
  const [proc, dec, drg] = d.deployments.map((x) => x.process || x.decision || x.decisionRequirements);
  assert.ok(d.deployments[0].process && d.deployments[1].decision && d.deployments[2].decisionRequirements,
    JSON.stringify(d));
  assert.equal(proc.bpmnProcessId, 'rocket-launch');
  assert.equal(proc.version, 1);
  assert.equal(dec.dmnDecisionId, 'plot-destination');
  assert.equal(dec.dmnDecisionName, 'Decision 1');
  assert.equal(dec.version, 1);
  assert.equal(dec.dmnDecisionRequirementsId, 'plot-destination-decision');
  assert.equal(dec.tenantId, '<default>');
  assert.match(String(dec.decisionKey), /^[1-9]\d*$/);
  assert.equal(String(drg.decisionRequirementsKey), String(dec.decisionRequirementsKey));
  assert.equal(drg.dmnDecisionRequirementsId, 'plot-destination-decision');
  assert.equal(drg.dmnDecisionRequirementsName, 'Plot destination');
  assert.equal(drg.version, 1);
  assert.equal(drg.resourceName, dmn, 'the resource name is what zbctl sent: the path');
  assert.equal(drg.tenantId, '<default>');
  decisionKey = String(dec.decisionKey);
  requirementsKey = String(dec.decisionRequirementsKey);
  // Unchanged: the same versions and keys.
  const again = onlyDoc(await zbOk(['deploy', 'resource', dmn]));
  assert.equal(again.deployments.length, 2, JSON.stringify(again));
  assert.equal(String(again.deployments[0].decision.decisionKey), decisionKey);
  assert.equal(again.deployments[0].decision.version, 1);
  assert.equal(String(again.deployments[1].decisionRequirements.decisionRequirementsKey), requirementsKey);
  assert.equal(again.deployments[1].decisionRequirements.version, 1);
});

test('zbctl create instance rocket-launch --withResult: the mission result for four fuel levels', { timeout: 60000 }, async () => {
  const launches = [
    [95, 'Crew Apollo reached Venus! Fuel: 70%. Experiments: 5', 'Venus'],
    [80, 'Crew Apollo reached Mars! Fuel: 55%. Experiments: 5', 'Mars'],
    [60, 'Crew Apollo reached Moon! Fuel: 35%. Experiments: 3', 'Moon'],
    [30, 'Mission Apollo scrubbed \u2014 not enough fuel (30%)', null],
  ];
  // At once: the 10 s countdown runs in all of them together. zbctl's own
  // deadline (--requestTimeout) must outlast it.
  const t0 = Date.now();
  const runs = await Promise.all(launches.map(([fuel]) => daemon().zbctl(['create', 'instance', 'rocket-launch',
    '--withResult', '--requestTimeout', '40s',
    '--variables', JSON.stringify({ fuelLevel: fuel, missionName: 'Apollo' })], { timeoutMs: 50000 })));
  const ms = Date.now() - t0;
  for (let i = 0; i < launches.length; i++) {
    const [fuel, want, destination] = launches[i];
    const r = runs[i];
    assert.equal(r.code, 0, `fuel ${fuel}: ${h.fmtRun(r)}`);
    const doc = onlyDoc(r);
    assert.equal(doc.bpmnProcessId, 'rocket-launch');
    const vars = JSON.parse(doc.variables);
    assert.equal(vars.missionResult, want, `fuel ${fuel}: ${doc.variables}`);
    if (destination) assert.equal(vars.destination, destination, `fuel ${fuel}: ${doc.variables}`);
    const inst = await p.getInstance(daemon(), String(doc.processInstanceKey));
    assert.equal(inst.state, 'COMPLETED', JSON.stringify(inst));
  }
  assert.ok(ms < 30000, `the four launches took ${ms} ms: they should share the countdown`);
});

test('zbctl evaluate decision: by id and by key, a failing evaluation answered, an unknown one NotFound', T, async () => {
  const byId = onlyDoc(await zbOk(['evaluate', 'decision', 'plot-destination', '--variables', '{"fuelLevel":80}']));
  assert.equal(byId.decisionId, 'plot-destination');
  assert.equal(byId.decisionName, 'Decision 1');
  assert.equal(String(byId.decisionKey), decisionKey);
  assert.equal(byId.decisionVersion, 1);
  assert.equal(byId.decisionRequirementsId, 'plot-destination-decision');
  assert.equal(String(byId.decisionRequirementsKey), requirementsKey);
  assert.equal(JSON.parse(byId.decisionOutput), 'Mars');
  assert.equal(byId.tenantId, '<default>');
  assert.ok(!byId.failedDecisionId, JSON.stringify(byId));
  const [ed] = byId.evaluatedDecisions;
  assert.equal(ed.decisionId, 'plot-destination');
  assert.equal(ed.decisionType, 'DECISION_TABLE');
  assert.equal(String(ed.decisionKey), decisionKey);
  assert.deepEqual(ed.evaluatedInputs, [{ inputId: 'Input_1', inputName: 'Fuel level', inputValue: '80' }]);
  assert.equal(ed.matchedRules.length, 1, JSON.stringify(ed));
  assert.equal(ed.matchedRules[0].ruleId, 'DecisionRule_1e4ik24');
  assert.equal(ed.matchedRules[0].ruleIndex, 2);
  assert.deepEqual(ed.matchedRules[0].evaluatedOutputs,
    [{ outputId: 'Output_1', outputName: 'Destination', outputValue: '"Mars"' }]);

  const byKey = onlyDoc(await zbOk(['evaluate', 'decision', decisionKey, '--variables', '{"fuelLevel":95}']));
  assert.equal(String(byKey.decisionKey), decisionKey);
  assert.equal(JSON.parse(byKey.decisionOutput), 'Venus');

  // Two rules match under UNIQUE: Zeebe answers with the failure, not an error.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chute-decision-'));
  const risk = path.join(dir, 'risk.dmn');
  fs.writeFileSync(risk, `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="risk-drg" name="Risk" namespace="http://x">
  <decision id="risk" name="Risk">
    <decisionTable id="t">
      <input id="score" label="Score"><inputExpression typeRef="number"><text>score</text></inputExpression></input>
      <output id="level" name="level" typeRef="string"/>
      <rule id="high"><inputEntry><text>&gt; 5</text></inputEntry><outputEntry><text>"high"</text></outputEntry></rule>
      <rule id="low"><inputEntry><text>&lt; 9</text></inputEntry><outputEntry><text>"low"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>`);
  await zbOk(['deploy', 'resource', risk]);
  fs.rmSync(dir, { recursive: true, force: true });
  const failed = onlyDoc(await zbOk(['evaluate', 'decision', 'risk', '--variables', '{"score":7}']));
  assert.equal(failed.failedDecisionId, 'risk', JSON.stringify(failed));
  assert.match(failed.failureMessage, /^Expected to evaluate decision 'risk', but .*UNIQUE/);
  assert.equal(failed.decisionOutput, 'null');
  assert.equal(failed.evaluatedDecisions[0].matchedRules.length, 2, JSON.stringify(failed));
  const fine = onlyDoc(await zbOk(['evaluate', 'decision', 'risk', '--variables', '{"score":10}']));
  assert.equal(JSON.parse(fine.decisionOutput), 'high');

  const unknown = await daemon().zbctl(['evaluate', 'decision', 'no-such-decision']);
  assert.notEqual(unknown.code, 0, h.fmtRun(unknown));
  assert.match(unknown.stderr + unknown.stdout, /code = NotFound/, h.fmtRun(unknown));
  assert.match(unknown.stderr + unknown.stdout,
    /Expected to evaluate decision 'no-such-decision', but no decision found for id 'no-such-decision'/);
  await h.assertServing(daemon(), 'decision evaluations');
});

test('@camunda8/sdk evaluateDecision over gRPC and over REST: Mars', T, async () => {
  const c8 = camunda8();
  const grpc = c8.getZeebeGrpcApiClient();
  try {
    const g = await grpc.evaluateDecision({ decisionId: 'plot-destination', variables: { fuelLevel: 80 } });
    assert.equal(JSON.parse(g.decisionOutput), 'Mars', JSON.stringify(g));
    assert.equal(String(g.decisionKey), decisionKey);
    assert.equal(g.decisionName, 'Decision 1');
    assert.equal(g.failedDecisionId, '');
    assert.equal(g.evaluatedDecisions.length, 1);
    assert.match(String(g.decisionInstanceKey), /^[1-9]\d*$/);
    const gk = await grpc.evaluateDecision({ decisionKey, variables: { fuelLevel: 60 } });
    assert.equal(JSON.parse(gk.decisionOutput), 'Moon', JSON.stringify(gk));
    await assert.rejects(grpc.evaluateDecision({ decisionId: 'plot-destination', variables: [1] }),
      (e) => /INVALID_ARGUMENT|invalid/i.test(`${e.code} ${e.message}`));
  } finally {
    await grpc.close();
  }

  const rest = c8.getCamundaRestClient();
  const r = await rest.evaluateDecision({ decisionDefinitionId: 'plot-destination', variables: { fuelLevel: 80 } });
  assert.equal(JSON.parse(r.output), 'Mars', JSON.stringify(r));
  assert.equal(String(r.decisionDefinitionKey), decisionKey);
  assert.equal(r.decisionDefinitionName, 'Decision 1');
  assert.equal(r.decisionDefinitionVersion, 1);
  assert.equal(String(r.decisionRequirementsKey), requirementsKey);
  assert.equal(r.failedDecisionDefinitionId, '');
  assert.equal(String(r.decisionEvaluationKey), String(r.decisionInstanceKey));
  const [ed] = r.evaluatedDecisions;
  assert.equal(ed.decisionDefinitionId, 'plot-destination');
  assert.equal(ed.matchedRules[0].ruleIndex, 2);
  assert.equal(ed.evaluatedInputs[0].inputValue, '80');
  assert.equal(ed.decisionEvaluationInstanceKey, `${r.decisionEvaluationKey}-1`);
  const rk = await rest.evaluateDecision({ decisionDefinitionKey: decisionKey, variables: { fuelLevel: 30 } });
  assert.equal(JSON.parse(rk.output), 'Earth', JSON.stringify(rk));
  await assert.rejects(rest.evaluateDecision({ decisionDefinitionId: 'no-such-decision', variables: {} }),
    (e) => /404/.test(`${e.statusCode ?? ''} ${e.message}`));
});

test('decision: chuted stops on SIGTERM and exits 0 within 5 s', T, async () => {
  await h.assertStops(daemon());
});
