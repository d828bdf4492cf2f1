'use strict';
// Deployment with the real clients: zbctl's bare `deploy` (DeployProcess)
// and `deploy resource` (DeployResource) with models of the shared corpus,
// @camunda8/sdk over gRPC and over REST (multipart POST /v2/deployments);
// versions per bpmnProcessId, an unchanged redeploy keeping its version
// and key, and a refused model named in Zeebe's words.
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('../lib/harness');

const T = { timeout: 30000 };
const CORPUS = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'bpmn-corpus');
const daemon = h.useDaemon(nodeTest, () => {}, { http: true });

function corpus(name) {
  const p = path.join(CORPUS, name);
  if (!fs.existsSync(p)) throw new Error(`the BPMN corpus is missing: ${p} (../shared must exist)`);
  return p;
}

test('zbctl deploy (DeployProcess) and deploy resource (DeployResource) report versions and keys', T, async () => {
  const file = corpus('order-process.bpmn');
  const r1 = await daemon().zbctl(['deploy', file]);
  assert.equal(r1.code, 0, h.fmtRun(r1));
  const [d1] = h.parseJsonStream(r1.stdout);
  assert.ok(d1 && d1.key, h.fmtRun(r1));
  const procs1 = d1.processes || [];
  assert.equal(procs1.length, 1, h.fmtRun(r1));
  // The resource name is what the client sent: zbctl sends the path it was given.
  assert.equal(procs1[0].resourceName, file);
  const id = procs1[0].bpmnProcessId;
  const v1 = procs1[0].version;
  const k1 = String(procs1[0].processDefinitionKey);

  // The same file again through DeployResource: same version and key.
  const r2 = await daemon().zbctl(['deploy', 'resource', file]);
  assert.equal(r2.code, 0, h.fmtRun(r2));
  const [d2] = h.parseJsonStream(r2.stdout);
  const p2 = d2.deployments[0].process;
  assert.equal(p2.bpmnProcessId, id);
  assert.equal(p2.version, v1);
  assert.equal(String(p2.processDefinitionKey), k1);
  assert.notEqual(String(d2.key), String(d1.key));

  // A changed copy under the same name: the next version.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chute-deploy-'));
  const changed = path.join(dir, 'order-process.bpmn');
  fs.writeFileSync(changed, fs.readFileSync(file, 'utf8').replace('</bpmn:definitions>', '<!-- v2 --></bpmn:definitions>'));
  const r3 = await daemon().zbctl(['deploy', 'resource', changed]);
  assert.equal(r3.code, 0, h.fmtRun(r3));
  const p3 = h.parseJsonStream(r3.stdout)[0].deployments[0].process;
  assert.equal(p3.version, v1 + 1);
  assert.notEqual(String(p3.processDefinitionKey), k1);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a model Chute cannot run is refused with INVALID_ARGUMENT naming the element', T, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chute-deploy-'));
  const bad = path.join(dir, 'no-type.bpmn');
  fs.writeFileSync(bad, `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="no-type" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f" sourceRef="start" targetRef="TaskWithoutType"/>
    <bpmn:serviceTask id="TaskWithoutType"/>
  </bpmn:process>
</bpmn:definitions>`);
  const r = await daemon().zbctl(['deploy', 'resource', bad]);
  assert.notEqual(r.code, 0, h.fmtRun(r));
  const out = r.stderr + r.stdout;
  assert.match(out, /code = InvalidArgument/, h.fmtRun(r));
  assert.match(out, /Expected to deploy new resources, but encountered the following errors/, h.fmtRun(r));
  assert.match(out, /no-type\.bpmn'/, h.fmtRun(r));
  assert.match(out, /TaskWithoutType/, h.fmtRun(r));
  fs.rmSync(dir, { recursive: true, force: true });
  await h.assertServing(daemon(), 'a refused deployment');
});

test('@camunda8/sdk deploys over gRPC and over REST (multipart)', T, async () => {
  const { Camunda8 } = require('@camunda8/sdk');
  const c8 = new Camunda8({
    ZEEBE_GRPC_ADDRESS: `grpc://${daemon().address}`,
    ZEEBE_REST_ADDRESS: daemon().httpBase,
    CAMUNDA_AUTH_STRATEGY: 'NONE',
    zeebeGrpcSettings: { ZEEBE_CLIENT_LOG_LEVEL: 'NONE' },
  });
  const grpc = c8.getZeebeGrpcApiClient();
  const res = await grpc.deployResource({ processFilename: corpus('demo-process.bpmn') });
  assert.ok(res.deployments && res.deployments.length >= 1, JSON.stringify(res));
  const proc = res.deployments[0].process;
  assert.ok(proc.bpmnProcessId, JSON.stringify(res));
  assert.match(proc.resourceName, /demo-process\.bpmn$/);
  const rest = c8.getCamundaRestClient();
  const d = await rest.deployResourcesFromFiles([corpus('quick-start-microservices.bpmn')]);
  assert.ok(d.deploymentKey, JSON.stringify(d));
  assert.equal(d.processes.length, 1, JSON.stringify(d));
  assert.match(d.processes[0].resourceName, /quick-start-microservices\.bpmn$/);
  assert.equal(d.processes[0].processDefinitionVersion, 1);
  await grpc.close();
});
