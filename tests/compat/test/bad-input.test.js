'use strict';
// Hostile and broken input: each case gets a precise gRPC status (or a close)
// and the daemon keeps serving (checked with `zbctl status` after each).
const nodeTest = require('node:test');
const { test } = nodeTest;
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const h = require('../lib/harness');

const { grpc } = h;
const S = grpc.status;
let chute;
let gw;
let raw;
const daemon = h.useDaemon(nodeTest, (d) => {
  chute = d.chute();
  gw = d.gateway();
  raw = d.raw();
});

function rawCall(client, method, bytes, { timeoutMs = 10000 } = {}) {
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, (b) => b, (b) => b, bytes, new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs }, (err, resp) => resolve({ err, resp }));
  });
}

async function activatedJob(type) {
  const key = await h.createJob(chute, { type });
  const { jobs } = await h.activate(gw, { type, maxJobsToActivate: 1 });
  assert.equal(jobs.length, 1);
  assert.equal(String(jobs[0].key), String(key));
  return key;
}

test('strings that are not UTF-8, or hold a NUL, get INVALID_ARGUMENT and create nothing', { timeout: 60000 }, async () => {
  // CreateJobRequest { type = 1 }: "u8\0evil" was cut to "u8"; 0xFF reached JSON and /metrics.
  const cases = {
    'NUL inside the type': Buffer.from([0x0a, 7, 0x75, 0x38, 0x00, 0x65, 0x76, 0x69, 0x6c]),
    '0xFF in the type': Buffer.from([0x0a, 2, 0x75, 0xff]),
    'a lone continuation byte': Buffer.from([0x0a, 2, 0x75, 0x80]),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    const { err } = await rawCall(raw, '/chute.v1.Chute/CreateJob', bytes);
    h.assertCode(err, S.INVALID_ARGUMENT, name);
    assert.match(err.details, /Expected type of CreateJobRequest to be a valid UTF-8 string without NUL characters/, name);
  }
  // ActivateJobsRequest { type = "t", worker = "w\xfe" }
  const { err } = await rawCall(raw, '/gateway_protocol.Gateway/ActivateJobs',
    Buffer.from([0x0a, 1, 0x74, 0x12, 2, 0x77, 0xfe, 0x18, 1, 0x20, 0xe8, 0x07]));
  h.assertCode(err, S.INVALID_ARGUMENT, 'worker with 0xFE');
  assert.match(err.details, /worker of ActivateJobsRequest/);
  // Multi-byte UTF-8 is a type like any other.
  const type = `${h.uniqueType('utf8')}-zahlung-\u00fc-\u2713-\u{1F600}`;
  const key = await h.createJob(chute, { type });
  assert.equal((await h.getJob(chute, key)).type, type);
});

test('malformed protobuf bytes to CompleteJob get INVALID_ARGUMENT', { timeout: 60000 }, async () => {
  const cases = {
    'truncated varint': Buffer.from([0x08, 0xff, 0xff]),
    'length past the end': Buffer.from([0x12, 0x7f, 0x7b, 0x7d]),
    'wire type 7': Buffer.from([0x0f, 0x01]),
    'varint longer than 10 bytes': Buffer.from([0x08, ...Array(11).fill(0xff), 0x01]),
    'field number 0': Buffer.from([0x00, 0x01]),
    'huge length prefix': Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    const { err, resp } = await rawCall(raw, '/gateway_protocol.Gateway/CompleteJob', bytes);
    assert.ok(err, `${name}: CompleteJob succeeded (${resp && resp.toString('hex')})`);
    h.assertCode(err, S.INVALID_ARGUMENT, `CompleteJob with ${name} (${bytes.toString('hex')})`);
    await h.assertServing(daemon(), `after ${name}`);
  }
});

test('unknown fields are skipped (a newer client\'s request decodes)', { timeout: 20000 }, async () => {
  const type = h.uniqueType('unknown-fields');
  const key = await activatedJob(type);
  // CompleteJobRequest{jobKey=key, variables="{}"} + field 99 (varint) + field 100 (bytes) + field 101 (fixed64)
  const varint = (n) => {
    const out = [];
    let v = BigInt(n);
    while (v >= 0x80n) { out.push(Number((v & 0x7fn) | 0x80n)); v >>= 7n; }
    out.push(Number(v));
    return out;
  };
  const bytes = Buffer.from([
    0x08, ...varint(key), 0x12, 0x02, 0x7b, 0x7d,
    ...varint((99 << 3) | 0), 0x2a,
    ...varint((100 << 3) | 2), 0x03, 0x61, 0x62, 0x63,
    ...varint((101 << 3) | 1), 1, 2, 3, 4, 5, 6, 7, 8,
  ]);
  const { err } = await rawCall(raw, '/gateway_protocol.Gateway/CompleteJob', bytes);
  assert.equal(err, null, `CompleteJob with unknown fields failed: ${err && err.message}`);
  assert.equal((await h.getJob(chute, key)).state, 'COMPLETED');
});

test('variables that are not a JSON object get INVALID_ARGUMENT and change nothing', { timeout: 60000 }, async () => {
  const type = h.uniqueType('badvars');
  const key = await activatedJob(type);
  for (const variables of ['[1]', '1', '"text"', 'null', '{"a":', '{"a":1} x', '{a:1}']) {
    const err = await h.unaryError(gw, 'CompleteJob', { jobKey: key, variables });
    h.assertCode(err, S.INVALID_ARGUMENT, `CompleteJob variables ${JSON.stringify(variables)}`);
  }
  let err = await h.unaryError(gw, 'FailJob', { jobKey: key, retries: 1, errorMessage: 'x', variables: '[1]' });
  h.assertCode(err, S.INVALID_ARGUMENT, 'FailJob variables "[1]"');
  err = await h.unaryError(gw, 'ThrowError', { jobKey: key, errorCode: 'E', variables: '[1]' });
  h.assertCode(err, S.INVALID_ARGUMENT, 'ThrowError variables "[1]"');
  err = await h.unaryError(chute, 'CreateJob', { type, variables: '[1]', retries: 3 });
  h.assertCode(err, S.INVALID_ARGUMENT, 'chute CreateJob variables "[1]"');

  const job = await h.getJob(chute, key);
  assert.equal(job.state, 'ACTIVATED', 'a rejected completion changed the job');
  // Whitespace means "no variables".
  await h.unary(gw, 'CompleteJob', { jobKey: key, variables: '  ' });
  assert.equal((await h.getJob(chute, key)).state, 'COMPLETED');
  await h.assertServing(daemon(), 'after bad variables');
});

test('a message over 4 MiB gets RESOURCE_EXHAUSTED', { timeout: 60000 }, async () => {
  const type = h.uniqueType('big');
  const key = await activatedJob(type);
  const big = JSON.stringify({ blob: 'x'.repeat(5 * 1024 * 1024) });
  const err = await h.unaryError(gw, 'CompleteJob', { jobKey: key, variables: big }, { timeoutMs: 20000 });
  h.assertCode(err, S.RESOURCE_EXHAUSTED, 'CompleteJob with 5 MiB of variables');
  assert.equal((await h.getJob(chute, key)).state, 'ACTIVATED', 'the oversized completion changed the job');
  await h.assertServing(daemon(), 'after a 5 MiB message');
  // The same connection still works.
  await h.unary(gw, 'CompleteJob', { jobKey: key, variables: '{}' });
  assert.equal((await h.getJob(chute, key)).state, 'COMPLETED');
});

test('ActivateJobs validation: blank type, timeout 0, maxJobsToActivate 0, unknown tenant', { timeout: 60000 }, async () => {
  const type = h.uniqueType('validate');
  await h.createJob(chute, { type });
  const cases = [
    ['blank type', { type: '' }],
    ['whitespace type', { type: '   ' }],
    ['timeout 0', { type, timeout: 0 }],
    ['timeout -5', { type, timeout: -5 }],
    ['maxJobsToActivate 0', { type, maxJobsToActivate: 0 }],
    ['tenant other than <default>', { type, tenantIds: ['tenant-a'] }],
  ];
  for (const [name, req] of cases) {
    let got;
    try {
      const r = await h.activate(gw, req);
      got = `OK with ${r.jobs.length} jobs`;
    } catch (e) {
      h.assertCode(e, S.INVALID_ARGUMENT, `ActivateJobs with ${name}`);
      continue;
    }
    assert.fail(`ActivateJobs with ${name}: expected INVALID_ARGUMENT, got ${got}`);
  }
  // The job was not consumed by any rejected request.
  const ok = await h.activate(gw, { type, tenantIds: ['<default>'] });
  assert.equal(ok.jobs.length, 1);
  await h.assertServing(daemon(), 'after invalid ActivateJobs');
});

test('StreamActivatedJobs validation: blank type and timeout 0', { timeout: 30000 }, async () => {
  for (const [name, req] of [['blank type', { type: '', worker: 'w', timeout: 1000 }],
    ['timeout 0', { type: 'x', worker: 'w', timeout: 0 }]]) {
    const err = await new Promise((resolve) => {
      const call = gw.StreamActivatedJobs(req, { deadline: Date.now() + 5000 });
      call.on('data', () => {});
      call.on('error', resolve);
      call.on('status', (s) => { if (s.code === S.OK) resolve({ code: S.OK, details: 'stream ended OK' }); });
    });
    h.assertCode(err, S.INVALID_ARGUMENT, `StreamActivatedJobs with ${name}`);
  }
  await h.assertServing(daemon(), 'after invalid StreamActivatedJobs');
});

test('job keys that do not exist get NOT_FOUND', { timeout: 30000 }, async () => {
  for (const jobKey of ['-1', '0', '9223372036854775807', '2251799813685249000']) {
    const err = await h.unaryError(gw, 'CompleteJob', { jobKey, variables: '{}' });
    h.assertCode(err, S.NOT_FOUND, `CompleteJob key ${jobKey}`);
    assert.match(err.details, /NOT_FOUND/, `message of CompleteJob key ${jobKey}`);
  }
  const err = await h.unaryError(gw, 'FailJob', { jobKey: '123456', retries: 1 });
  h.assertCode(err, S.NOT_FOUND, 'FailJob unknown key');
  const err2 = await h.unaryError(chute, 'GetJob', { key: '123456' });
  h.assertCode(err2, S.NOT_FOUND, 'chute GetJob unknown key');
});

// Gateway RPCs that Chute's own proto does not declare must answer UNIMPLEMENTED.
function unservedGatewayRpcs() {
  const sdkRpcs = [...fs.readFileSync(h.GATEWAY_PROTO, 'utf8').matchAll(/^\s*rpc\s+(\w+)\s*\(/gm)].map((m) => m[1]);
  const protoDir = path.resolve(__dirname, '..', '..', '..', 'proto');
  const served = new Set();
  let found = false;
  for (const f of fs.existsSync(protoDir) ? fs.readdirSync(protoDir) : []) {
    if (!f.endsWith('.proto')) continue;
    const text = fs.readFileSync(path.join(protoDir, f), 'utf8');
    if (!/package\s+gateway_protocol\s*;/.test(text)) continue;
    found = true;
    for (const m of text.matchAll(/^\s*rpc\s+(\w+)\s*\(/gm)) served.add(m[1]);
  }
  // Without Chute's proto nothing is known to be unserved: the made-up methods remain.
  return found ? sdkRpcs.filter((r) => !served.has(r)) : [];
}

test('unknown RPCs get UNIMPLEMENTED', { timeout: 60000 }, async () => {
  const methods = [
    '/gateway_protocol.Gateway/NoSuchMethod',
    '/gateway_protocol.NoSuchService/Topology',
    '/chute.v1.Chute/NoSuchMethod',
    '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
    ...unservedGatewayRpcs().map((r) => `/gateway_protocol.Gateway/${r}`),
  ];
  for (const m of methods) {
    const { err } = await rawCall(raw, m, Buffer.alloc(0));
    assert.ok(err, `${m} succeeded`);
    h.assertCode(err, S.UNIMPLEMENTED, m);
  }
  await h.assertServing(daemon(), 'after unknown RPCs');
});

// What came back on a raw connection: closed, an HTTP/1.x status line, or an
// HTTP/2 GOAWAY frame (after the server's own SETTINGS).
function answered(data) {
  if (/^HTTP\/1\.[01] \d{3} /.test(data.toString('latin1', 0, 16))) return 'an HTTP/1.x response';
  for (let off = 0; off + 9 <= data.length;) {
    const len = data.readUIntBE(off, 3);
    if (data[off + 3] === 0x07) return 'a GOAWAY frame';
    off += 9 + len;
  }
  return null;
}

function socketExchange(port, payload, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let settled = false;
    const finish = (how) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ how, data });
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (d) => {
      data = Buffer.concat([data, d]);
      const a = answered(data);
      if (a) setTimeout(() => finish(a), 50);
    });
    sock.on('error', () => {});
    sock.on('close', () => finish(answered(data) || 'a close'));
  });
}

test('HTTP/1.1 text, junk and a bad HTTP/2 frame on the gRPC port get a response or a close', { timeout: 40000 }, async () => {
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
  const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  const cases = {
    'HTTP/1.1 GET': Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'),
    '4 KiB of junk': Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37 + 11) & 0xff)),
    // the preface and SETTINGS, then a frame header that claims a 16 MiB frame
    'an oversized HTTP/2 frame': Buffer.concat([preface, settings, Buffer.from([0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01])]),
    // HEADERS on stream 2 (even: server-initiated ids are illegal for a client)
    'HEADERS on an even stream id': Buffer.concat([preface, settings, Buffer.from([0, 0, 1, 0x01, 0x05, 0, 0, 0, 2, 0x82])]),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    const r = await socketExchange(daemon().port, bytes);
    assert.ok(r.how, `${name}: neither a response nor a close within 5 s (got ${r.data.length} bytes: ${r.data.toString('hex').slice(0, 80)})`);
    await h.assertServing(daemon(), `after ${name}`);
  }
});

test('500 streams opened and reset at once; no job is lost', { timeout: 60000 }, async () => {
  const type = h.uniqueType('reset');
  const keys = await h.createJobs(chute, Array.from({ length: 20 }, () => ({ type })));
  const client = daemon().gateway({ 'grpc.use_local_subchannel_pool': 1 });
  await new Promise((res, rej) => client.waitForReady(Date.now() + 5000, (e) => (e ? rej(e) : res())));
  const calls = [];
  const ended = [];
  for (let i = 0; i < 500; i++) {
    const call = i % 2
      ? client.ActivateJobs({ type, worker: 'resetter', timeout: 1000, maxJobsToActivate: 1, requestTimeout: 10000 })
      : client.Topology({}, () => {});
    if (call.on) {
      call.on('data', () => {});
      call.on('error', () => {});
    }
    ended.push(new Promise((r) => call.on('status', r)));
    calls.push(call);
    if (i % 3 === 0) call.cancel(); // before it is even written
  }
  await new Promise((r) => setImmediate(r));
  for (const c of calls) c.cancel();
  await h.within(Promise.all(ended), 10000);
  await h.assertServing(daemon(), 'after 500 reset streams');

  // Jobs handed to a cancelled poll come back at once or when their 1 s lease ends.
  const back = new Set();
  await h.waitFor(async () => {
    const r = await h.activate(gw, { type, requestTimeout: 500, maxJobsToActivate: 50 });
    for (const j of r.jobs) back.add(String(j.key));
    return back.size === keys.length;
  }, { timeoutMs: 8000, what: `all 20 jobs to be activatable again (got ${back.size})` });
});

test('1000 idle long polls cost (almost) no CPU, then are cancelled', { timeout: 90000 }, async () => {
  const type = h.uniqueType('idle');
  const clk = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const clients = Array.from({ length: 20 }, () => daemon().gateway({ 'grpc.use_local_subchannel_pool': 1 }));
  await Promise.all(clients.map((c) => new Promise((res, rej) => c.waitForReady(Date.now() + 5000, (e) => (e ? rej(e) : res())))));
  const polls = [];
  let endedEarly = 0;
  let delivered = 0;
  for (let i = 0; i < 1000; i++) {
    const call = clients[i % clients.length].ActivateJobs(
      { type, worker: `idle-${i}`, timeout: 60000, maxJobsToActivate: 1, requestTimeout: 20000 },
      { deadline: Date.now() + 40000 },
    );
    const st = { done: false, code: null };
    call.on('data', (resp) => { delivered += resp.jobs.length; });
    call.on('error', () => {});
    call.on('status', (s) => { st.done = true; st.code = s.code; });
    polls.push({ call, st });
  }
  await h.sleep(1500); // all requests written and parked
  assert.equal(polls.filter((p) => p.st.done).length, 0,
    `long polls ended early: ${JSON.stringify(polls.filter((p) => p.st.done).slice(0, 3).map((p) => h.codeName(p.st.code)))}`);

  const before = daemon().cpuTicks();
  const t0 = Date.now();
  await h.sleep(3000);
  const used = (daemon().cpuTicks() - before) / clk;
  const secs = (Date.now() - t0) / 1000;
  const pct = (100 * used) / secs;
  process.stdout.write(`# chuted CPU with 1000 idle long polls: ${pct.toFixed(2)} % of one core over ${secs.toFixed(1)} s\n`);
  endedEarly = polls.filter((p) => p.st.done).length;
  assert.equal(endedEarly, 0, 'long polls ended while idle');
  assert.ok(pct < 5, `chuted used ${pct.toFixed(2)} % of a core while 1000 long polls waited`);

  // One job wakes exactly one of them.
  const key = await h.createJob(chute, { type });
  await h.waitFor(() => delivered >= 1, { timeoutMs: 2000, what: 'a waiting long poll to receive the new job' });
  await h.sleep(200);
  assert.equal(delivered, 1, 'one job was delivered to more than one long poll');

  for (const p of polls) p.call.cancel();
  await h.waitFor(() => polls.every((p) => p.st.done), { timeoutMs: 5000, what: 'all polls to end after cancel' });
  await h.assertServing(daemon(), 'after 1000 cancelled long polls');
  // The job is complete-able and the daemon is not left busy.
  await h.unary(gw, 'CompleteJob', { jobKey: key, variables: '{}' });
  const b2 = daemon().cpuTicks();
  await h.sleep(1000);
  const idlePct = (100 * (daemon().cpuTicks() - b2)) / clk;
  assert.ok(idlePct < 5, `chuted uses ${idlePct.toFixed(1)} % of a core after the polls were cancelled`);
});

test('bad-input: chuted stops on SIGTERM and exits 0 within 5 s', { timeout: 15000 }, async () => {
  await h.assertStops(daemon());
});

