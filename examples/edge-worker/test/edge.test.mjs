#!/usr/bin/env node
// Tests of examples/edge-worker in real workerd (miniflare 4, local R2 persisted in a temp dir)
// against the real keyseal-kms binary on 127.0.0.1 (`serve --dev`, port 0).
//
// Setup: a test identity provider (ES256 key pair generated here) issues the callers' tokens; its
// JWKS is given to the worker (CALLER_JWKS) and to keyseal-kms (--issuer), so the same caller
// tokens also work in pass-through mode. The worker's own service token (secret-binding mode) is
// minted by the kms CLI from its local issuer, as an operator would.
// Two workers share one R2 bucket: `edge` (KMS_TOKEN_MODE=secret) and `edge-passthrough`.
// The bundle is built the way wrangler builds it: esbuild with conditions workerd,worker,browser
// and the .wasm kept external, loaded as a CompiledWasm module.
//
// Plain Node script: prints `ok`/`FAIL` per test and ends with `edge: N passed, M failed`.
// Exit 1 when anything failed or nothing ran. Env: KEYSEAL_KMS_BIN, KEYSEAL_EDGE_BIG_MIB (default
// 64), KEYSEAL_PIDFILE (child pids are appended there, for the wrapper script's cleanup:
// js/test/support/processes.mjs), KEYSEAL_EDGE_KEEP_TMP=1.

import { sign, createHash, randomBytes, randomFillSync } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, symlinkSync, copyFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { es256KeyPair } from '../../../js/test/support/es256.mjs';
import { Kms, KMS_BIN } from '../../../js/test/support/kms.mjs';
import { killAll, stopAll, trackPid, onSignal } from '../../../js/test/support/processes.mjs';
import { ROOT, PKG } from '../../../js/test/support/paths.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const EXAMPLE = resolve(HERE, '..');
const BIG_MIB = Number(process.env.KEYSEAL_EDGE_BIG_MIB || 64);
const MiB = 1024 * 1024;

// every child (kms, workerd) is killed on every exit path (js/test/support/processes.mjs); a signal
// still ends with the count line
onSignal(() => { console.log('edge: 0 passed, 1 failed'); killAll(); process.exit(130); });

const tmp = mkdtempSync(join(tmpdir(), 'keyseal-edge-'));
const log = (...a) => console.error('[edge]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// identity provider for callers

const ISSUER = 'keyseal-edge-test-idp';
const KID = 'edge-1';
// es256KeyPair: no KeyObject.export() (a Node 20 deadlock, see js/test/es256.mjs).
const idp = es256KeyPair();
const stranger = es256KeyPair();
const JWKS = JSON.stringify({ issuer: ISSUER, keys: [{ ...idp.jwk, kid: KID, alg: 'ES256', use: 'sig' }] });
writeFileSync(join(tmp, 'idp.jwks.json'), JWKS);
const b64url = (b) => Buffer.from(b).toString('base64url');
function mint(claims, key = idp.privateKey) {
  const now = Math.floor(Date.now() / 1000);
  const h = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: KID }));
  const p = b64url(JSON.stringify({ iss: ISSUER, aud: 'keyseal-kms', sub: `edge-test-${claims.role}`, iat: now, nbf: now - 5, exp: now + 3600, ...claims }));
  const s = sign('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${h}.${p}.${b64url(s)}`;
}
const TOK = {
  writer: mint({ tenant: 'acme', role: 'writer' }),
  reader: mint({ tenant: 'acme', role: 'reader' }),
  admin: mint({ tenant: 'acme', role: 'admin' }),
  globex: mint({ tenant: 'globex', role: 'writer' }),
  forged: mint({ tenant: 'acme', role: 'writer' }, stranger.privateKey),
  expired: mint({ tenant: 'acme', role: 'writer', exp: Math.floor(Date.now() / 1000) - 3600 }),
};

// ---------------------------------------------------------------------------------------------
// the worker bundle, as wrangler would build it

/** Waits out a concurrent rebuild of pkg/ (files may be briefly missing). */
async function waitForPkg() {
  const need = ['dist/index.workerd.js', 'dist/keyseal.js', 'dist/keyseal_wasm.js', 'dist/keyseal_wasm_bg.wasm', 'package.json'];
  for (let i = 0; ; i++) {
    const missing = need.filter((f) => !existsSync(join(PKG, f)));
    if (!missing.length) return;
    if (i >= 60) throw new Error(`pkg/ incomplete: ${missing.join(', ')}`);
    await sleep(2000);
  }
}

async function bundle() {
  const out = join(tmp, 'bundle');
  const nm = join(tmp, 'project/node_modules');
  mkdirSync(nm, { recursive: true });
  symlinkSync(PKG, join(nm, 'keyseal'), 'dir'); // `import 'keyseal'` resolves through pkg's exports map
  for (let attempt = 1; ; attempt++) {
    await waitForPkg();
    try {
      const { default: esbuild } = await import(pathToFileURL(join(ROOT, 'node_modules/esbuild/lib/main.js')).href);
      await esbuild.build({
        entryPoints: [join(EXAMPLE, 'src/worker.js')], bundle: true, format: 'esm', platform: 'neutral',
        conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'], external: ['*.wasm'],
        nodePaths: [nm], outfile: join(out, 'worker.js'), logLevel: 'silent',
      });
      copyFileSync(join(PKG, 'dist/keyseal_wasm_bg.wasm'), join(out, 'keyseal_wasm_bg.wasm'));
      const src = readFileSync(join(out, 'worker.js'), 'utf8');
      if (!src.includes('from "./keyseal_wasm_bg.wasm"')) throw new Error('bundle does not import ./keyseal_wasm_bg.wasm: not the workerd entry?');
      return out;
    } catch (e) {
      if (attempt >= 3) throw e;
      log(`bundle attempt ${attempt} failed (${String(e.message).split('\n')[0]}); retrying`);
      await sleep(3000);
    }
  }
}

function workerdChildren() {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (Number(rest[1]) === process.pid && comm.includes('workerd')) pids.push(Number(d));
    } catch { /* raced with exit */ }
  }
  return pids;
}
function memOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) || [])[1] || NaN);
    return { rssMiB: +(kb('VmRSS') / 1024).toFixed(1), peakMiB: +(kb('VmHWM') / 1024).toFixed(1) };
  } catch { return null; }
}

// ---------------------------------------------------------------------------------------------
// test runner

const results = [];
async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${String(e && e.stack || e).split('\n').slice(0, 4).join(' | ')}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
function eq(a, b, what) { if (a !== b) throw new Error(`${what}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`); }

/** Asserts an error response: exact status, JSON body with exactly `code`, no stack trace. */
async function expectError(res, status, code) {
  const text = await res.text();
  eq(res.status, status, `status (body ${text.slice(0, 200)})`);
  eq(res.headers.get('x-keyseal-error'), code, 'x-keyseal-error');
  if (res.headers.get('content-type') !== 'application/json' || !text) return; // HEAD: no body
  const body = JSON.parse(text);
  eq(body.code, code, 'body.code');
  assert(!/\n\s+at |\.js:\d+/.test(text), `stack trace in body: ${text}`);
}

// ---------------------------------------------------------------------------------------------

let mf, base, kms, edgePass, inspect;
const sha = (b) => createHash('sha256').update(b).digest('hex');
const auth = (t) => (t ? { authorization: `Bearer ${t}` } : {});
let socketRetries = 0;
async function req(path, { token, method = 'GET', body, headers = {} } = {}) {
  const once = () => fetch(`${base}${path}`, { method, body, headers: { ...auth(token), ...headers }, duplex: body ? 'half' : undefined, signal: AbortSignal.timeout(180_000) });
  try {
    return await once();
  } catch (e) {
    // Node's fetch sometimes reuses a keep-alive socket workerd has just closed after a long
    // streamed response (UND_ERR_SOCKET before any response). Bodiless GET/HEAD are retried
    // once on a fresh socket; anything else fails the test.
    if (body !== undefined || e.cause?.code !== 'UND_ERR_SOCKET') throw e;
    socketRetries++;
    return once();
  }
}
const viaPass = (path, { token, method = 'GET', body, headers = {} } = {}) =>
  edgePass.fetch(`http://edge-passthrough${path}`, { method, body, headers: { ...auth(token), ...headers } });

const MARKER = `KEYSEAL-PLAINTEXT-MARKER-${randomBytes(8).toString('hex')}`;

async function main() {
  if (!existsSync(KMS_BIN)) throw new Error(`${KMS_BIN} missing: cargo build -p keyseal-kms --bin keyseal-kms`);
  const out = await bundle();
  ({ inspect } = await import(pathToFileURL(join(PKG, 'dist/index.node.js')).href)); // header facts, as a store would read them
  kms = await new Kms({ db: join(tmp, 'kms.db'), issuers: [join(tmp, 'idp.jwks.json')] }).start();
  const serviceToken = await kms.cli('token', 'mint', '--tenant', 'acme', '--role', 'writer', '--ttl', '86400', '--sub', 'edge-worker');
  log(`kms ${kms.url}, tmp ${tmp}`);

  const { Miniflare } = await import(pathToFileURL(join(ROOT, 'node_modules/miniflare/dist/src/index.js')).href);
  const worker = (name, bindings) => ({
    name,
    modules: [{ type: 'ESModule', path: join(out, 'worker.js') }, { type: 'CompiledWasm', path: join(out, 'keyseal_wasm_bg.wasm') }],
    modulesRoot: out,
    compatibilityDate: '2025-09-01',
    r2Buckets: { BUCKET: 'keyseal-objects' },
    bindings: {
      KEYSEAL_KMS_URL: kms.url, KEYSEAL_SERVICE_ID: 'acme', KEYSEAL_KEY_NAME: 'default', KEYSEAL_TENANTS: 'acme', CALLER_JWKS: JWKS,
      // short, so "key service down" answers in seconds (production default: 5 s / 15 s)
      KEYSEAL_TIMEOUT_MS: '2000', KEYSEAL_DEADLINE_MS: '4000', DIAGNOSTICS: '1',
      ...bindings,
    },
  });
  mf = new Miniflare({
    r2Persist: join(tmp, 'r2'),
    workers: [
      worker('edge', { KMS_TOKEN_MODE: 'secret', KEYSEAL_KMS_TOKEN: serviceToken }),
      worker('edge-passthrough', { KMS_TOKEN_MODE: 'passthrough' }),
    ],
  });
  base = (await mf.ready).href.replace(/\/$/, '');
  edgePass = await mf.getWorker('edge-passthrough');
  const workerdPids = workerdChildren();
  workerdPids.forEach(trackPid);
  const mem0 = workerdPids.length ? memOf(workerdPids[0]) : null;
  log(`workerd pid ${workerdPids.join(',') || '?'} at start: ${JSON.stringify(mem0)}`);

  // ---- the big round trip -------------------------------------------------------------------
  const big = Buffer.alloc(BIG_MIB * MiB);
  const bigHash = createHash('sha256');
  let put;
  await test(`PUT ${BIG_MIB} MiB streamed from Node → 201`, async () => {
    // the body is produced chunk by chunk as the upload pulls it (not a buffer handed to fetch)
    let off = 0;
    const CHUNK = MiB;
    const body = new ReadableStream({
      pull(c) {
        if (off >= big.length) return c.close();
        const chunk = big.subarray(off, off + CHUNK);
        randomFillSync(chunk);
        chunk.write(MARKER, 1000); // a plaintext marker in every MiB
        bigHash.update(chunk);
        off += chunk.length;
        c.enqueue(new Uint8Array(chunk));
      },
    });
    const t0 = Date.now();
    const res = await req('/objects/big', { method: 'PUT', token: TOK.writer, body, headers: { 'content-type': 'application/octet-stream' } });
    put = { ms: Date.now() - t0, body: await res.text() };
    eq(res.status, 201, `status (${put.body.slice(0, 300)})`);
    const j = JSON.parse(put.body);
    eq(j.plaintextLength, big.length, 'plaintextLength');
    assert(j.sealedLength > big.length, 'sealedLength > plaintext');
  });
  const bigSha = bigHash.digest('hex');
  let get;
  await test(`GET ${BIG_MIB} MiB → 200, SHA-256 equal`, async () => {
    const t0 = Date.now();
    const res = await req('/objects/big', { token: TOK.reader });
    eq(res.status, 200, 'status');
    eq(res.headers.get('content-length'), String(big.length), 'content-length');
    const h = createHash('sha256');
    let n = 0;
    for await (const c of res.body) { h.update(c); n += c.length; }
    get = { ms: Date.now() - t0 };
    eq(n, big.length, 'bytes received');
    eq(h.digest('hex'), bigSha, 'sha-256');
  });
  const mem1 = workerdPids.length ? memOf(workerdPids[0]) : null;
  // a second full read: if RSS keeps climbing by the object size it is a leak, if it levels off
  // it is allocator/GC high water
  await test(`second GET ${BIG_MIB} MiB → 200, SHA-256 equal`, async () => {
    const res = await req('/objects/big', { token: TOK.reader });
    eq(res.status, 200, 'status');
    const h = createHash('sha256');
    for await (const c of res.body) h.update(c);
    eq(h.digest('hex'), bigSha, 'sha-256');
  });
  const mem2 = workerdPids.length ? memOf(workerdPids[0]) : null;
  let diag = {};
  try { diag = await (await req('/_diag/memory')).json(); } catch (e) { log(`diagnostics request failed: ${e.cause?.code || e.cause?.message || e.message}`); }
  const mbps = (ms) => (ms ? (BIG_MIB / (ms / 1000)).toFixed(1) : '?');
  console.log(`measure: ${BIG_MIB} MiB PUT ${put?.ms} ms (${mbps(put?.ms)} MiB/s), GET ${get?.ms} ms (${mbps(get?.ms)} MiB/s); ` +
    `workerd RSS ${mem0?.rssMiB} MiB at start → ${mem1?.rssMiB} MiB after PUT+GET → ${mem2?.rssMiB} MiB after a 2nd GET, peak (VmHWM) ${mem2?.peakMiB} MiB; ` +
    `wasm linear memory ${diag.wasmMemoryBytes === undefined ? '?' : (diag.wasmMemoryBytes / MiB).toFixed(1)} MiB ` +
    '(miniflare/workerd does not enforce the 128 MB isolate limit locally; RSS includes workerd itself and the local R2 service)');

  // ---- Range and HEAD -----------------------------------------------------------------------
  await test('Range GET inside the big object → 206 exact bytes + Content-Range', async () => {
    const a = 1_000_000, b = 1_100_000; // crosses segment boundaries (64 KiB segments)
    const res = await req('/objects/big', { token: TOK.reader, headers: { range: `bytes=${a}-${b}` } });
    eq(res.status, 206, 'status');
    eq(res.headers.get('content-range'), `bytes ${a}-${b}/${big.length}`, 'content-range');
    const got = Buffer.from(await res.arrayBuffer());
    eq(got.length, b - a + 1, 'length');
    assert(got.equals(big.subarray(a, b + 1)), 'bytes differ');
  });
  await test('Range GET spanning several 1 MiB windows → 206 exact bytes', async () => {
    const a = 500_000, b = 3_700_123;
    const res = await req('/objects/big', { token: TOK.reader, headers: { range: `bytes=${a}-${b}` } });
    eq(res.status, 206, 'status');
    eq(res.headers.get('content-length'), String(b - a + 1), 'content-length');
    const got = Buffer.from(await res.arrayBuffer());
    assert(got.equals(big.subarray(a, b + 1)), 'bytes differ');
  });
  await test('Range suffix and open-ended forms; unsatisfiable → 416 RANGE_NOT_SATISFIABLE', async () => {
    let res = await req('/objects/big', { token: TOK.reader, headers: { range: 'bytes=-100' } });
    eq(res.status, 206, 'suffix status');
    assert(Buffer.from(await res.arrayBuffer()).equals(big.subarray(big.length - 100)), 'suffix bytes');
    res = await req('/objects/big', { token: TOK.reader, headers: { range: `bytes=${big.length - 70000}-` } });
    eq(res.status, 206, 'open-ended status');
    eq(res.headers.get('content-range'), `bytes ${big.length - 70000}-${big.length - 1}/${big.length}`, 'content-range');
    assert(Buffer.from(await res.arrayBuffer()).equals(big.subarray(big.length - 70000)), 'open-ended bytes');
    res = await req('/objects/big', { token: TOK.reader, headers: { range: `bytes=${big.length}-` } });
    await expectError(res, 416, 'RANGE_NOT_SATISFIABLE');
  });
  await test('HEAD → header facts (key id, version, context, plaintext length, segment size)', async () => {
    const res = await req('/objects/big', { method: 'HEAD', token: TOK.reader });
    eq(res.status, 200, 'status');
    const h = res.headers;
    eq(h.get('x-keyseal-key-id'), 'acme/default', 'key id');
    eq(h.get('x-keyseal-key-version'), '1', 'key version');
    eq(h.get('x-keyseal-key-service'), 'acme', 'key service');
    eq(h.get('x-keyseal-context'), JSON.stringify({ object: 'big', tenant: 'acme' }), 'context');
    eq(h.get('x-keyseal-plaintext-length'), String(big.length), 'plaintext length');
    eq(h.get('x-keyseal-segment-size'), '65536', 'segment size');
  });

  // ---- a small object for the remaining cases ------------------------------------------------
  const small = Buffer.from(`${MARKER} small object ✓ `.repeat(2000)); // ~100 KiB, 2 segments
  await test('PUT small object → 201; GET → 200 same bytes', async () => {
    let res = await req('/objects/small-1', { method: 'PUT', token: TOK.writer, body: small });
    eq(res.status, 201, `put status ${await res.clone().text()}`);
    res = await req('/objects/small-1', { token: TOK.writer });
    eq(res.status, 200, 'get status');
    assert(Buffer.from(await res.arrayBuffer()).equals(small), 'bytes differ');
  });

  await test('empty object: PUT → 201, GET → 200 with 0 bytes, Range → 416', async () => {
    let res = await req('/objects/empty', { method: 'PUT', token: TOK.writer, body: '' });
    eq(res.status, 201, `put ${await res.clone().text()}`);
    res = await req('/objects/empty', { token: TOK.reader });
    eq(res.status, 200, 'get');
    eq((await res.arrayBuffer()).byteLength, 0, 'length');
    await expectError(await req('/objects/empty', { token: TOK.reader, headers: { range: 'bytes=0-0' } }), 416, 'RANGE_NOT_SATISFIABLE');
  });
  await test('R2 holds no plaintext (marker absent from every persisted file)', async () => {
    let files = 0, bytes = 0;
    const walk = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) {
          files++;
          const data = readFileSync(p);
          bytes += data.length;
          assert(data.indexOf(MARKER) < 0, `plaintext marker found in ${p}`);
          assert(data.indexOf(Buffer.from(MARKER, 'utf16le')) < 0, `utf-16 plaintext marker found in ${p}`);
        }
      }
    };
    walk(join(tmp, 'r2'));
    assert(bytes > big.length, `R2 dir holds ${bytes} bytes in ${files} files: the objects are not there?`);
    log(`scanned ${files} R2 files, ${(bytes / MiB).toFixed(1)} MiB`);
  });

  // ---- auth -----------------------------------------------------------------------------------
  await test('caller of another tenant → 403 WRONG_TENANT (GET, PUT, HEAD)', async () => {
    await expectError(await req('/objects/small-1', { token: TOK.globex }), 403, 'WRONG_TENANT');
    await expectError(await req('/objects/x', { method: 'PUT', token: TOK.globex, body: 'x' }), 403, 'WRONG_TENANT');
    await expectError(await req('/objects/small-1', { method: 'HEAD', token: TOK.globex }), 403, 'WRONG_TENANT');
  });
  await test('role without read (admin) → 403 ROLE_DENIED; reader PUT → 403 ROLE_DENIED', async () => {
    await expectError(await req('/objects/small-1', { token: TOK.admin }), 403, 'ROLE_DENIED');
    await expectError(await req('/objects/small-1', { token: TOK.admin, headers: { range: 'bytes=0-9' } }), 403, 'ROLE_DENIED');
    await expectError(await req('/objects/small-2', { method: 'PUT', token: TOK.reader, body: 'nope' }), 403, 'ROLE_DENIED');
  });
  await test('no token / forged / expired / kms-local-issuer token → 401 UNAUTHENTICATED', async () => {
    const res = await req('/objects/small-1');
    eq(res.headers.get('www-authenticate'), 'Bearer realm="keyseal-edge"', 'www-authenticate');
    await expectError(res, 401, 'UNAUTHENTICATED');
    await expectError(await req('/objects/small-1', { token: TOK.forged }), 401, 'UNAUTHENTICATED');
    await expectError(await req('/objects/small-1', { token: TOK.expired }), 401, 'UNAUTHENTICATED');
    await expectError(await req('/objects/small-1', { token: serviceToken }), 401, 'UNAUTHENTICATED');
  });
  await test('missing object → 404 OBJECT_NOT_FOUND; bad id → 400 INVALID_REQUEST; DELETE → 405', async () => {
    await expectError(await req('/objects/nope', { token: TOK.reader }), 404, 'OBJECT_NOT_FOUND');
    await expectError(await req('/objects/nope', { method: 'HEAD', token: TOK.reader }), 404, 'OBJECT_NOT_FOUND');
    await expectError(await req('/objects/nope', { token: TOK.reader, headers: { range: 'bytes=0-1' } }), 404, 'OBJECT_NOT_FOUND');
    await expectError(await req('/objects/..%2Fglobex%2Fx', { token: TOK.reader }), 400, 'INVALID_REQUEST');
    await expectError(await req('/objects/a', { method: 'DELETE', token: TOK.writer }), 405, 'METHOD_NOT_ALLOWED');
  });

  // ---- stored-object integrity ---------------------------------------------------------------
  const bucket = await mf.getR2Bucket('BUCKET', 'edge');
  const rawOf = async (key) => Buffer.from(await (await bucket.get(key)).arrayBuffer());
  await test('tampered stored object → 422 DECRYPTION_FAILED (GET and Range GET)', async () => {
    let res = await req('/objects/tamper', { method: 'PUT', token: TOK.writer, body: 'secret payload that will be tampered with' });
    eq(res.status, 201, 'put');
    const raw = await rawOf('acme/tamper');
    raw[raw.length - 5] ^= 0x01; // inside the last (only) segment's tag
    await bucket.put('acme/tamper', raw);
    await expectError(await req('/objects/tamper', { token: TOK.reader }), 422, 'DECRYPTION_FAILED');
    await expectError(await req('/objects/tamper', { token: TOK.reader, headers: { range: 'bytes=0-5' } }), 422, 'DECRYPTION_FAILED');
  });
  await test('tamper in a later segment → 200 then the body is cut short (never wrong bytes)', async () => {
    let res = await req('/objects/late', { method: 'PUT', token: TOK.writer, body: small });
    eq(res.status, 201, 'put');
    const late = await rawOf('acme/late');
    const { segmentSize } = await inspect(late);
    late[late.length - 20] ^= 0x80;
    await bucket.put('acme/late', late);
    res = await req('/objects/late', { token: TOK.reader });
    eq(res.status, 200, 'status');
    let n = 0, failed = false;
    try { for await (const c of res.body) n += c.length; } catch { failed = true; }
    assert(failed && n < small.length, `expected a cut-short body, got ${n} of ${small.length} bytes, failed=${failed}`);
    assert(n % segmentSize === 0, `only whole authenticated segments of ${segmentSize} B may arrive (got ${n})`);
  });
  await test('object cut in R2: to an inconsistent length → 422 DECRYPTION_FAILED (HEAD, GET); to a consistent one → Range to the end 422', async () => {
    let res = await req('/objects/cut', { method: 'PUT', token: TOK.writer, body: small });
    eq(res.status, 201, 'put');
    const whole = await rawOf('acme/cut');
    const { headerLen, segmentSize: S } = await inspect(whole);
    // 8 bytes into the second segment: no length fits the header (FORMAT.md §6.3)
    await bucket.put('acme/cut', whole.subarray(0, headerLen + (S + 16) + 8));
    await expectError(await req('/objects/cut', { method: 'HEAD', token: TOK.reader }), 422, 'DECRYPTION_FAILED');
    await expectError(await req('/objects/cut', { token: TOK.reader }), 422, 'DECRYPTION_FAILED');
    // one whole segment and 16 bytes: looks like a complete object of S bytes with an empty last segment
    await bucket.put('acme/cut', whole.subarray(0, headerLen + (S + 16) + 16));
    res = await req('/objects/cut', { method: 'HEAD', token: TOK.reader });
    eq(res.headers.get('x-keyseal-plaintext-length'), String(S), 'apparent length');
    await expectError(await req('/objects/cut', { token: TOK.reader, headers: { range: `bytes=${S - 10}-` } }), 422, 'DECRYPTION_FAILED');
    res = await req('/objects/cut', { token: TOK.reader, headers: { range: 'bytes=0-9' } });
    eq(res.status, 206, 'a range inside the first segment still opens');
    assert(Buffer.from(await res.arrayBuffer()).equals(small.subarray(0, 10)), 'first bytes');
  });
  await test('object moved to another id in R2 → 422 CONTEXT_MISMATCH', async () => {
    await bucket.put('acme/moved', await rawOf('acme/small-1'));
    await expectError(await req('/objects/moved', { token: TOK.reader }), 422, 'CONTEXT_MISMATCH');
    await expectError(await req('/objects/moved', { method: 'HEAD', token: TOK.reader }), 422, 'CONTEXT_MISMATCH');
  });
  await test('garbage stored object → 422 INVALID_FORMAT', async () => {
    await bucket.put('acme/garbage', 'this is not a keyseal message at all, just text');
    await expectError(await req('/objects/garbage', { token: TOK.reader }), 422, 'INVALID_FORMAT');
  });

  // ---- pass-through mode ----------------------------------------------------------------------
  await test('pass-through mode: caller token goes to the kms (writer PUT, reader GET, role refusal)', async () => {
    let res = await viaPass('/objects/pt', { method: 'PUT', token: TOK.writer, body: small });
    eq(res.status, 201, `put ${await res.clone().text()}`);
    res = await viaPass('/objects/pt', { token: TOK.reader });
    eq(res.status, 200, 'get');
    assert(Buffer.from(await res.arrayBuffer()).equals(small), 'bytes differ');
    await expectError(await viaPass('/objects/pt', { token: TOK.admin }), 403, 'ROLE_DENIED');
    // and the secret-mode worker opens it too (same key, same context)
    res = await req('/objects/pt', { token: TOK.reader });
    eq(res.status, 200, 'secret-mode get');
    await res.arrayBuffer();
  });

  // ---- key-service states ---------------------------------------------------------------------
  await test('rotated key: new PUT seals under version 2 (HEAD shows it), old object still opens', async () => {
    await kms.cli('key', 'rotate', 'acme/default', '--reason', 'edge test');
    let res = await req('/objects/after-rotate', { method: 'PUT', token: TOK.writer, body: 'sealed after rotation' });
    eq(res.status, 201, 'put');
    res = await req('/objects/after-rotate', { method: 'HEAD', token: TOK.reader });
    eq(res.status, 200, 'head');
    eq(res.headers.get('x-keyseal-key-version'), '2', 'new version');
    res = await req('/objects/small-1', { token: TOK.reader });
    eq(res.status, 200, 'old object');
    assert(Buffer.from(await res.arrayBuffer()).equals(small), 'old object bytes');
  });
  await test('disabled key (kms CLI) → 403 KEY_DISABLED on GET, Range GET and PUT; enable → 200', async () => {
    await kms.cli('key', 'disable', 'acme/default', '--reason', 'edge test');
    try {
      await expectError(await req('/objects/small-1', { token: TOK.reader }), 403, 'KEY_DISABLED');
      await expectError(await req('/objects/small-1', { token: TOK.reader, headers: { range: 'bytes=0-9' } }), 403, 'KEY_DISABLED');
      await expectError(await req('/objects/new-while-disabled', { method: 'PUT', token: TOK.writer, body: small }), 403, 'KEY_DISABLED');
      assert(!(await bucket.head('acme/new-while-disabled')), 'a refused PUT left an object');
    } finally {
      await kms.cli('key', 'enable', 'acme/default');
    }
    const res = await req('/objects/small-1', { token: TOK.reader });
    eq(res.status, 200, 'after enable');
    await res.arrayBuffer();
  });
  await test('key service down (process killed) → 503 KMS_UNAVAILABLE on GET and PUT', async () => {
    await kms.kill();
    let res = await req('/objects/small-1', { token: TOK.reader });
    eq(res.headers.get('retry-after'), '1', 'retry-after');
    await expectError(res, 503, 'KMS_UNAVAILABLE');
    await expectError(await req('/objects/down', { method: 'PUT', token: TOK.writer, body: small }), 503, 'KMS_UNAVAILABLE');
    // HEAD needs no key service
    res = await req('/objects/small-1', { method: 'HEAD', token: TOK.reader });
    eq(res.status, 200, 'HEAD while kms down');
  });
}

let code = 1;
try {
  await main();
} catch (e) {
  console.log(`FAIL setup: ${String(e && e.stack || e).slice(0, 3000)}`);
  results.push({ name: 'setup', ok: false });
} finally {
  if (mf) await Promise.race([mf.dispose().catch(() => {}), sleep(10_000)]);
  await stopAll({ graceMs: 1000 }); // reaped here, not left as zombies
  if (!process.env.KEYSEAL_EDGE_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
if (socketRetries) log(`retried ${socketRetries} bodiless request(s) after a stale keep-alive socket`);
console.log(`edge: ${passed} passed, ${failed} failed`);
code = failed === 0 && passed > 0 ? 0 : 1;
process.exit(code);
