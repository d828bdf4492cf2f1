'use strict';
// Test harness for the compatibility suite: starts a real chuted in a fresh
// temp dir, gives clients for Chute's own service (chute.v1.Chute) and for the
// Zeebe gateway (gateway_protocol.Gateway, loaded from a real client's own
// proto in node_modules), and runs the zbctl binary shipped by the npm package.
//
// The daemon binary comes from $CHUTED (set by run.sh).

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const assert = require('node:assert/strict');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const COMPAT_DIR = path.resolve(__dirname, '..');
const CHUTE_PROTO = process.env.CHUTE_COMPAT_PROTO ||
  path.resolve(COMPAT_DIR, '..', '..', 'proto', 'chute.proto');
// The Node SDK's own copy of Zeebe's gateway.proto (a real client's file,
// loaded at run time, never copied). It is newer than zeebe-node's and
// declares UpdateJobTimeout.
const GATEWAY_PROTO = require.resolve('@camunda8/sdk/dist/proto/zeebe.proto');
const ZBCTL = path.join(path.dirname(require.resolve('zbctl/package.json')),
  'bin', 'zbctl-cli.linux');

const LISTEN_RE = /^chuted: gRPC listening on 127\.0\.0\.1:(\d+)\s*$/;
const HTTP_LISTEN_RE = /^chuted: HTTP listening on 127\.0\.0\.1:(\d+)\s*$/;

// Client libraries read ZEEBE_* / CAMUNDA_* from the environment: keep the
// caller's environment from steering them (or zbctl, or the daemon's CHUTE_*).
for (const k of Object.keys(process.env)) {
  if (/^(ZEEBE_|CAMUNDA_|CHUTE_(?!COMPAT_))/.test(k)) delete process.env[k];
}

function chutedPath() {
  const p = process.env.CHUTED;
  if (!p) throw new Error('CHUTED is not set: run tests/compat/run.sh <path-to-chuted>');
  return p;
}

const LOAD_OPTS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

let chuteDef = null;
let gatewayDef = null;
function chuteService() {
  if (!chuteDef) chuteDef = grpc.loadPackageDefinition(protoLoader.loadSync(CHUTE_PROTO, LOAD_OPTS));
  return chuteDef.chute.v1.Chute;
}
function gatewayService() {
  if (!gatewayDef) gatewayDef = grpc.loadPackageDefinition(protoLoader.loadSync(GATEWAY_PROTO, LOAD_OPTS));
  return gatewayDef.gateway_protocol.Gateway;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves with what |promise| resolves to, or with null after |ms|; the
// timer is cleared either way, so a race that was won does not keep the test
// process alive until the timeout (node's runner waits for every file to exit).
function within(promise, ms) {
  let timer;
  const t = new Promise((r) => { timer = setTimeout(() => r(null), ms); });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

async function waitFor(pred, { timeoutMs = 5000, intervalMs = 20, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await pred();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------- daemon

class Daemon {
  constructor(proc, dir, port) {
    this.proc = proc;
    this.dir = dir;
    this.port = port;
    this.address = `127.0.0.1:${port}`;
    this.exit = null; // {code, signal}
    this.stderrTail = [];
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => { this.exit = { code, signal }; resolve(this.exit); });
    });
    this._clients = [];
    this.httpPort = null; // set when started with { http: true }
  }

  // Base URL of the HTTP API (started with { http: true }).
  get httpBase() {
    if (!this.httpPort) throw new Error('chuted was started without HTTP: startChuted({ http: true })');
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get pid() { return this.proc.pid; }

  log() { return this.stderrTail.join('\n'); }

  // Chute's own service.
  chute(opts = {}) {
    const C = chuteService();
    const c = new C(this.address, grpc.credentials.createInsecure(), opts);
    this._clients.push(c);
    return c;
  }

  // Raw Zeebe gateway client.
  gateway(opts = {}) {
    const G = gatewayService();
    const c = new G(this.address, grpc.credentials.createInsecure(), opts);
    this._clients.push(c);
    return c;
  }

  // A bare grpc-js client for hand-made method paths and bytes.
  raw(opts = {}) {
    const c = new grpc.Client(this.address, grpc.credentials.createInsecure(), opts);
    this._clients.push(c);
    return c;
  }

  zbctl(args, opts) { return zbctl(this.address, args, opts); }

  // utime + stime of the daemon, in clock ticks (/proc/<pid>/stat fields 14, 15).
  cpuTicks() {
    const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    return Number(rest[11]) + Number(rest[12]);
  }

  closeClients() {
    for (const c of this._clients.splice(0)) {
      try { c.close(); } catch { /* already closed */ }
    }
  }

  // SIGTERM, then the daemon must exit 0 within 5 s. Returns {code, signal, ms}.
  async stop() {
    this.closeClients();
    if (this.exit) return { ...this.exit, ms: 0 };
    const t0 = Date.now();
    this.proc.kill('SIGTERM');
    const r = await within(this.exited, 5000);
    if (!r) {
      this.proc.kill('SIGKILL');
      await this.exited;
      return { code: null, signal: 'SIGKILL', ms: Date.now() - t0, hung: true };
    }
    return { ...r, ms: Date.now() - t0 };
  }

  async cleanup() {
    this.closeClients();
    if (!this.exit) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// With { http: true } the HTTP API listens on an ephemeral port too
// (daemon.httpPort, daemon.httpBase); otherwise it is off.
async function startChuted({ extraArgs = [], startTimeoutMs = 10000, http = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chute-compat-'));
  const args = ['--data-dir', dir, '--grpc-listen', '127.0.0.1:0',
    '--http-listen', http ? '127.0.0.1:0' : 'off', ...extraArgs];
  const proc = spawn(chutedPath(), args, { stdio: ['ignore', 'ignore', 'pipe'], env: process.env });
  const tail = [];
  let resolvePort;
  let rejectPort;
  const portP = new Promise((res, rej) => { resolvePort = res; rejectPort = rej; });
  const rl = readline.createInterface({ input: proc.stderr });
  let grpcPort = null;
  let httpPort = null;
  const ready = () => {
    if (grpcPort !== null && (!http || httpPort !== null)) resolvePort({ grpcPort, httpPort });
  };
  rl.on('line', (line) => {
    tail.push(line);
    if (tail.length > 200) tail.shift();
    if (process.env.CHUTE_COMPAT_VERBOSE) process.stderr.write(`[chuted ${proc.pid}] ${line}\n`);
    const m = LISTEN_RE.exec(line);
    if (m) { grpcPort = Number(m[1]); ready(); }
    const hm = HTTP_LISTEN_RE.exec(line);
    if (hm) { httpPort = Number(hm[1]); ready(); }
  });
  proc.on('error', (e) => rejectPort(e));
  proc.on('exit', (code, signal) => rejectPort(new Error(
    `chuted exited before listening (code ${code}, signal ${signal}); stderr:\n${tail.join('\n')}`)));
  const timer = setTimeout(() => rejectPort(new Error(
    `chuted did not print "chuted: gRPC listening on 127.0.0.1:<port>" within ${startTimeoutMs} ms; stderr:\n${tail.join('\n')}`)), startTimeoutMs);
  let port;
  let ports;
  try {
    ports = await portP;
    port = ports.grpcPort;
  } catch (e) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    clearTimeout(timer);
  }
  const d = new Daemon(proc, dir, port);
  d.httpPort = ports.httpPort;
  d.stderrTail = tail;
  return d;
}

// Registers before/after hooks for one daemon per test file and returns a
// getter; onStart(daemon) runs once it listens (in the same hook: node 20
// does not order root-level hooks). The file's last test should call
// assertStops(daemon()).
function useDaemon(nodeTest, onStart, startOpts) {
  let daemon = null;
  nodeTest.before(async () => {
    daemon = await startChuted(startOpts);
    if (onStart) await onStart(daemon);
  });
  nodeTest.after(async () => { if (daemon) await daemon.cleanup(); });
  return () => {
    if (!daemon) throw new Error('daemon did not start');
    return daemon;
  };
}

async function assertStops(daemon) {
  const r = await daemon.stop();
  assert.ok(!r.hung, `chuted did not exit within 5 s of SIGTERM; stderr tail:\n${daemon.log()}`);
  assert.equal(r.signal, null, `chuted died of signal ${r.signal}; stderr tail:\n${daemon.log()}`);
  assert.equal(r.code, 0, `chuted exited with code ${r.code} after SIGTERM; stderr tail:\n${daemon.log()}`);
}

// ---------------------------------------------------------------- zbctl

function zbctl(address, args, { timeoutMs = 20000 } = {}) {
  const env = { ...process.env, HOME: process.env.HOME || os.tmpdir() };
  return new Promise((resolve) => {
    const t0 = Date.now();
    execFile(ZBCTL, ['--address', address, '--insecure', ...args],
      { env, timeout: timeoutMs, maxBuffer: 64 << 20, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr, killed: !!(err && err.killed), ms: Date.now() - t0 });
      });
  });
}

function fmtRun(r) {
  return `exit ${r.code}${r.killed ? ' (killed on timeout)' : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

// Splits zbctl output made of several pretty-printed JSON documents.
function parseJsonStream(text) {
  const out = [];
  let depth = 0;
  let start = -1;
  let inStr = false;
  let esc = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inStr) {
      if (esc) esc = false;
      else if (ch === '\\') esc = true;
      else if (ch === '"') inStr = false;
      continue;
    }
    if (ch === '"' && depth > 0) inStr = true;
    else if (ch === '{' || ch === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === '}' || ch === ']') {
      depth--;
      if (depth === 0 && start >= 0) {
        out.push(JSON.parse(text.slice(start, i + 1)));
        start = -1;
      }
    }
  }
  return out;
}

// The jobs printed by `zbctl activate jobs` (8.4 prints the
// ActivateJobsResponse as protojson: {"jobs": [...]}, int64 as strings).
function zbctlJobs(stdout) {
  const out = [];
  for (const doc of parseJsonStream(stdout)) {
    if (Array.isArray(doc.jobs)) out.push(...doc.jobs);
    else if (doc && doc.key !== undefined) out.push(doc);
  }
  return out;
}

// Asserts the daemon still answers a Topology through zbctl.
async function assertServing(daemon, after = '') {
  assert.equal(daemon.exit, null,
    `chuted exited (${JSON.stringify(daemon.exit)}) ${after}; stderr tail:\n${daemon.log()}`);
  const r = await daemon.zbctl(['status'], { timeoutMs: 10000 });
  assert.equal(r.code, 0, `zbctl status failed ${after}: ${fmtRun(r)}`);
  assert.match(r.stdout, /Partition 1\b/, `zbctl status ${after}: ${fmtRun(r)}`);
}

// ---------------------------------------------------------------- gRPC helpers

function unary(client, method, req, { timeoutMs = 10000, metadata } = {}) {
  return new Promise((resolve, reject) => {
    const md = metadata || new grpc.Metadata();
    client[method](req, md, { deadline: Date.now() + timeoutMs }, (err, resp) => {
      if (err) reject(err); else resolve(resp);
    });
  });
}

// Calls an RPC and returns the grpc error (or throws if it succeeded).
async function unaryError(client, method, req, opts) {
  try {
    const resp = await unary(client, method, req, opts);
    throw Object.assign(new Error(`${method} succeeded, expected an error; response ${JSON.stringify(resp)}`),
      { unexpectedSuccess: true });
  } catch (e) {
    if (e.unexpectedSuccess) throw e;
    return e;
  }
}

const codeName = (c) => Object.keys(grpc.status).find((k) => grpc.status[k] === c) || String(c);

function assertCode(err, code, what) {
  assert.equal(codeName(err.code), codeName(code),
    `${what}: expected ${codeName(code)}, got ${codeName(err.code)} (${err.details || err.message})`);
}

// ActivateJobs (server streaming): resolves with {jobs, status, ms}.
function activate(gw, req, { timeoutMs } = {}) {
  const full = {
    worker: 'compat', timeout: 60000, maxJobsToActivate: 32, requestTimeout: -1, fetchVariable: [], ...req,
  };
  const rt = Number(full.requestTimeout);
  const deadlineMs = timeoutMs || (rt > 0 ? rt + 10000 : 10000);
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const jobs = [];
    let firstAt = null;
    const call = gw.ActivateJobs(full, { deadline: Date.now() + deadlineMs });
    call.on('data', (resp) => {
      if (firstAt === null && resp.jobs.length) firstAt = Date.now();
      jobs.push(...resp.jobs);
    });
    call.on('error', (e) => { e.jobs = jobs; reject(e); });
    call.on('status', (s) => {
      if (s.code === grpc.status.OK) resolve({ jobs, status: s, ms: Date.now() - t0, firstAt, t0 });
    });
  });
}

async function createJob(chute, req) {
  const r = await unary(chute, 'CreateJob', {
    retries: 3, variables: '{}', customHeaders: '{}', ...req,
  });
  return r.key;
}

async function createJobs(chute, reqs, { chunk = 200 } = {}) {
  const keys = [];
  for (let i = 0; i < reqs.length; i += chunk) {
    const part = reqs.slice(i, i + chunk).map((r) => ({ retries: 3, variables: '{}', customHeaders: '{}', ...r }));
    const resp = await unary(chute, 'CreateJobs', { jobs: part }, { timeoutMs: 30000 });
    assert.equal(resp.keys.length, part.length, 'CreateJobs returned one key per job');
    keys.push(...resp.keys);
  }
  return keys;
}

async function getJob(chute, key) {
  const r = await unary(chute, 'GetJob', { key });
  return r.job;
}

// Runs fn over items with at most n in flight.
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function lane() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, lane));
  return out;
}

let typeCounter = 0;
function uniqueType(prefix) {
  typeCounter += 1;
  return `${prefix}-${process.pid}-${typeCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

module.exports = {
  grpc,
  CHUTE_PROTO,
  GATEWAY_PROTO,
  ZBCTL,
  sleep,
  within,
  waitFor,
  startChuted,
  useDaemon,
  assertStops,
  assertServing,
  zbctl,
  fmtRun,
  parseJsonStream,
  zbctlJobs,
  unary,
  unaryError,
  assertCode,
  codeName,
  activate,
  createJob,
  createJobs,
  getJob,
  pool,
  uniqueType,
};
