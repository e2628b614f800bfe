#!/usr/bin/env node
// Runs the test suite (js/test/suite/, entry suite/index.js) in every JS runtime keyseal supports,
// against real processes on loopback:
//   - two `keyseal-kms serve --dev` (primary + escrow, separate temp databases, port 0), both also
//     trusting a test identity provider (an ES256 JWKS written here) so one token works at both;
//   - one Node HTTP server on 127.0.0.1 that is at once the fault server (/fault/<mode>/<id>/v1/…),
//     the control endpoint (/control/disable|enable|create|rotate?key=…, via the kms CLI on the live database),
//     and the static server for Chromium (/pkg/…, /test/…, /page.html, /env).
// Runtimes: node (package `exports` through node_modules/keyseal), deno, bun, workerd (plain
// `workerd serve`, .wasm embedded as a module), chromium page and chromium dedicated worker
// (playwright-core + /usr/bin/chromium). Then the cross-runtime phase: every runtime opens every
// other runtime's message.
//
// Prints `js RUNTIME: N passed, M failed` per runtime and `js: N passed, M failed` at the end.
// Exit status 1 if anything failed or a runtime ran 0 tests.
//
// Options: --runtimes node,deno,…   (or KEYSEAL_JS_RUNTIMES)   --only REGEX (test name filter)
//          --verbose (per-test lines)   KEYSEAL_KMS_BIN (default <cargo target dir>/debug/keyseal-kms;
//          the target dir is CARGO_TARGET_DIR when set, else target/)
//          KEYSEAL_JS_NOTHING_LOST=N (encrypts in the "nothing lost" test; default 1000 in node, 200 elsewhere)
//          KEYSEAL_FORMAT_DIFF_SCALE=F, KEYSEAL_FORMAT_SEED=N (the format-in-JS differential check)
//          KEYSEAL_IMPLEMENTATION=wasm (every instance on the Rust core in wasm: scripts/wasm-core-test.sh)
//          KEYSEAL_WORKERD=direct (skip miniflare, run `workerd serve` with a generated config)
//          KEYSEAL_JS_KEEP_TMP=1 (keep the temp dir: databases, configs)

import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { sign, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, mkdirSync, symlinkSync, copyFileSync, cpSync, rmSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, extname, normalize } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { es256KeyPair } from './support/es256.mjs';
import { launchChromium } from './support/chromium.mjs';
import { Kms, KMS_BIN } from './support/kms.mjs';
import { kaclsIssuers, startKacls, KACLS_KEY } from './support/kacls.mjs';
import { spawnTracked, stopAll, killAll, giveUpAfter, onSignal } from './support/processes.mjs';
import { freePort, withTimeout } from './support/net.mjs';
import { startMoto, awsPy } from './support/moto.mjs';
import { startOtlpReceiver } from './support/otlp.mjs';
import { ROOT, PKG, NODE_BIN as BIN, target } from './support/paths.mjs';

const execFileP = promisify(execFile);
const SUITE = join(ROOT, 'js/test/suite');
const ALL = ['node', 'deno', 'bun', 'workerd', 'chromium', 'chromium-worker'];

const args = process.argv.slice(2);
const argOf = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const RUNTIMES = (argOf('--runtimes') || process.env.KEYSEAL_JS_RUNTIMES || ALL.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
const ONLY = argOf('--only');
const VERBOSE = args.includes('--verbose') || process.env.KEYSEAL_JS_VERBOSE === '1';
const RUNTIME_TIMEOUT_MS = 150_000;
const HARNESS_TIMEOUT_MS = 15 * 60_000;

for (const r of RUNTIMES) if (!ALL.includes(r)) { console.error(`unknown runtime ${r} (known: ${ALL.join(', ')})`); process.exit(2); }

// every child (key services, runtimes, workerd) is killed on any exit path (support/processes.mjs);
// a signal or the time limit still ends with the count line
let browser = null;
giveUpAfter(HARNESS_TIMEOUT_MS, () => {
  console.error(`js harness: gave up after ${HARNESS_TIMEOUT_MS / 1000} s`);
  console.log('js: 0 passed, 1 failed');
});
onSignal((sig) => { console.error(`js harness: ${sig}`); console.log('js: 0 passed, 1 failed'); killAll(); process.exit(130); });

const log = (...a) => console.error('[harness]', ...a);
const tmp = mkdtempSync(join(tmpdir(), 'keyseal-js-'));

// ---------------------------------------------------------------------------------------------
// test identity provider (ES256), trusted by both key services via --issuer

const ISSUER = 'keyseal-js-test-idp';
const KID = 'js-test-1';
const { privateKey, jwk } = es256KeyPair();
writeFileSync(join(tmp, 'idp.jwks.json'), JSON.stringify({ issuer: ISSUER, keys: [{ ...jwk, kid: KID, alg: 'ES256', use: 'sig' }] }));
const b64url = (b) => Buffer.from(b).toString('base64url');
function mint(tenant, role, ttl = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const h = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: KID }));
  const p = b64url(JSON.stringify({ iss: ISSUER, aud: 'keyseal-kms', sub: `js-test-${role}`, tenant, role, iat: now, nbf: now - 5, exp: now + ttl }));
  const sig = sign('sha256', Buffer.from(`${h}.${p}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${h}.${p}.${b64url(sig)}`;
}

// ---------------------------------------------------------------------------------------------
// keyseal-kms as a Google CSE KACLS (support/kacls.mjs): the two test issuers

const kacls = kaclsIssuers(tmp);

/** `POST /control/kacls/token` `{ kind: 'authn'|'authz', claims }` → `{ jwt }` (browsers cannot sign). */
async function kaclsControl(req, res, cmd) {
  if (req.method !== 'POST' || !['token', 'disable', 'enable'].includes(cmd)) return sendJson(res, 400, { error: 'bad kacls control request' });
  if (cmd !== 'token') {
    // `POST /control/kacls/disable|enable`: the KACLS's key, as its security team would
    try {
      const info = await state.kacls.json('key', cmd, KACLS_KEY);
      return sendJson(res, 200, { state: info.state });
    } catch (e) {
      return sendJson(res, 500, { error: String(e.message || e) });
    }
  }
  try {
    const q = JSON.parse((await readBody(req)).toString() || '{}');
    sendJson(res, 200, { jwt: kacls.mint(q.kind, q.claims || {}) });
  } catch (e) {
    sendJson(res, 500, { error: String(e.message || e) });
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A `keyseal-kms serve --dev` on a temp database, trusting the test identity provider. */
function startKms(name, origin, args = []) {
  return new Kms({ name: `keyseal-kms ${name}`, db: join(tmp, `${name}.db`), origins: [origin], issuers: [join(tmp, 'idp.jwks.json')], args }).start();
}

// ---------------------------------------------------------------------------------------------
// the HTTP server: fault modes, control endpoint, static files, env, page

const state = { kmsUrl: null, primary: null, env: null, cross: null };
const seen = new Map(); // fault-id → requests seen
const traced = new Map(); // fault-id → traceparent headers seen (fault mode 'trace')
const hung = new Set();

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html', '.d.ts': 'text/plain' };

function sendJson(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*', ...headers });
  res.end(body);
}
function kmsError(res, status, error, extra = {}) {
  sendJson(res, status, { code: status, error, message: `fault server: ${error}` }, extra);
}
async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Forwards to the real primary kms; `editBody` may rewrite the JSON request. */
async function proxy(req, res, rest, body, editBody, editAnswer) {
  let out = body;
  if (editBody && body.length) {
    const j = JSON.parse(body.toString('utf8'));
    editBody(j);
    out = Buffer.from(JSON.stringify(j));
  }
  const r = await fetch(`${state.kmsUrl}/${rest}`, {
    method: req.method,
    headers: { 'content-type': req.headers['content-type'] || 'application/json' },
    body: req.method === 'GET' || req.method === 'HEAD' ? undefined : out,
    signal: AbortSignal.timeout(10_000),
  });
  let buf = Buffer.from(await r.arrayBuffer());
  if (editAnswer && r.status === 200) {
    const j = JSON.parse(buf.toString('utf8'));
    editAnswer(j);
    buf = Buffer.from(JSON.stringify(j));
  }
  const headers = { 'content-type': r.headers.get('content-type') || 'application/json', 'access-control-allow-origin': '*' };
  if (r.headers.get('retry-after')) headers['retry-after'] = r.headers.get('retry-after');
  res.writeHead(r.status, headers);
  res.end(buf);
}

async function fault(req, res, mode, id, rest) {
  const body = await readBody(req);
  const n = (seen.get(id) ?? 0) + 1;
  seen.set(id, n);
  switch (mode) {
    case 'proxy':
      return proxy(req, res, rest, body);
    case 'trace':
      // forwards, recording the W3C traceparent each request carried (null: none)
      traced.set(id, [...(traced.get(id) ?? []), req.headers.traceparent ?? null]);
      return proxy(req, res, rest, body);
    case 'hang': {
      // accept, never answer; the client must give up. Closed at the latest after 60 s.
      hung.add(res);
      const t = setTimeout(() => { res.destroy(); hung.delete(res); }, 60_000);
      res.on('close', () => { clearTimeout(t); hung.delete(res); });
      return;
    }
    case 'flaky500':
      if (n === 1) return kmsError(res, 500, 'Internal');
      return proxy(req, res, rest, body);
    case '429':
      if (n === 1) return kmsError(res, 429, 'Throttled', { 'retry-after': '1' });
      return proxy(req, res, rest, body);
    case 'garbage':
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
      return res.end('{"wrapped_key": "AAAA", "sealed_key": {"enc": oops this is not JSON');
    case 'plaintext':
      // A key service (or proxy) that drops the recipient: the real kms then answers with `key`.
      if (req.method === 'POST' && (rest === 'generate' || rest === 'unwrap')) {
        return proxy(req, res, rest, body, (j) => { delete j.recipient; });
      }
      return proxy(req, res, rest, body);
    case 'hpke': {
      // Interop: the DEK comes back sealed to the SDK's recipient key by an independent HPKE
      // implementation (@hpke/core, RFC 9180), not by keyseal-kms. The real kms supplies the DEK
      // (asked without recipient) and the wrapped key, so the message still opens at the real kms.
      if (req.method === 'POST' && (rest === 'generate' || rest === 'unwrap')) {
        const j = JSON.parse(body.toString('utf8'));
        const recipient = j.recipient;
        delete j.recipient;
        const r = await fetch(`${state.kmsUrl}/${rest}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(j), signal: AbortSignal.timeout(10_000) });
        const a = await r.json();
        if (r.status !== 200) return sendJson(res, r.status, a);
        const suite = await hpkeSuite();
        const pk = await suite.kem.deserializePublicKey(Buffer.from(recipient.public_key, 'base64'));
        const sealed = await suite.seal({ recipientPublicKey: pk, info: new TextEncoder().encode('keyseal/v1 recipient-dek') }, Buffer.from(a.key, 'base64'));
        const out = { key_id: a.key_id, key_version: a.key_version, sealed_key: { enc: Buffer.from(sealed.enc).toString('base64'), ciphertext: Buffer.from(sealed.ct).toString('base64') } };
        if (a.wrapped_key) out.wrapped_key = a.wrapped_key;
        return sendJson(res, 200, out);
      }
      return proxy(req, res, rest, body);
    }
    case 'random': {
      const r = Math.random();
      if (r < 0.15) { req.socket.destroy(); return; } // connection reset
      if (r < 0.30) return kmsError(res, 503, 'Unavailable');
      if (r < 0.40) return kmsError(res, 500, 'Internal');
      return proxy(req, res, rest, body);
    }
    case 'substitute': {
      // An active TLS-terminating proxy answering in the service's place: a data key of its own,
      // sealed to the SDK's recipient (it keeps it, so it can read what is sealed under it), and
      // its own public key for offline wraps. No identity signature can be made without the key.
      if (req.method === 'POST' && (rest === 'generate' || rest === 'unwrap')) {
        const j = JSON.parse(body.toString('utf8'));
        const dek = randomBytes(32);
        substituted.set(id, dek.toString('hex'));
        const suite = await hpkeSuite();
        const pk = await suite.kem.deserializePublicKey(Buffer.from(j.recipient.public_key, 'base64'));
        const sealed = await suite.seal({ recipientPublicKey: pk, info: new TextEncoder().encode('keyseal/v1 recipient-dek') }, dek);
        return sendJson(res, 200, {
          key_id: j.key_id, key_version: 1, wrapped_key: randomBytes(97).toString('base64'),
          sealed_key: { enc: Buffer.from(sealed.enc).toString('base64'), ciphertext: Buffer.from(sealed.ct).toString('base64') },
        });
      }
      if (req.method === 'GET' && rest.startsWith('keys/')) {
        const { jwk: own } = es256KeyPair();
        const keyId = decodeURIComponent(rest.slice(5, -'/public'.length));
        return sendJson(res, 200, { kty: 'EC', crv: 'P-256', x: own.x, y: own.y, use: 'enc', alg: 'HPKE-P256-SHA256-A256GCM', kid: `${keyId}#1`, key_id: keyId, key_version: 1 });
      }
      return proxy(req, res, rest, body);
    }
    case 'batch-swap':
      // Relays everything, but swaps the first wrapped key of a genuine /rewrap-batch answer for
      // bytes of its own (that object would lose its only entry); the batch signature stays the
      // service's.
      if (req.method === 'POST' && rest === 'rewrap-batch') {
        return proxy(req, res, rest, body, null, (a) => {
          const first = a.items?.find((i) => i.wrapped_key);
          if (first) first.wrapped_key = randomBytes(97).toString('base64');
        });
      }
      return proxy(req, res, rest, body);
    case 'no-generate-batch':
      // A service without the optional /generate-batch (a third-party or older one): 404 there.
      if (req.method === 'POST' && rest === 'generate-batch') return kmsError(res, 404, 'NotFound');
      return proxy(req, res, rest, body);
    case 'generate-batch-swap':
      // Relays everything, but swaps the wrapped keys of the first two items of a genuine
      // /generate-batch answer (each object would carry another object's wrapped key, bound to
      // the other context); the batch signature stays the service's.
      if (req.method === 'POST' && rest === 'generate-batch') {
        return proxy(req, res, rest, body, null, (a) => {
          if (a.items?.length >= 2) [a.items[0].wrapped_key, a.items[1].wrapped_key] = [a.items[1].wrapped_key, a.items[0].wrapped_key];
        });
      }
      return proxy(req, res, rest, body);
    case 'redirect':
      // A 307 to another address: following it would re-send the token (and a /wrap's data key).
      res.writeHead(307, { location: `${origin}/fault/record/${id}/v1/${rest}`, 'access-control-allow-origin': '*' });
      return res.end();
    case 'record':
      return kmsError(res, 418, 'Recorded');
    default:
      return kmsError(res, 404, 'NotFound');
  }
}

/**
 * A reader-role principal unwrapping an entry at the real key service without a recipient, so it
 * holds the data key in clear (what a reader can always do): `{ key_id, wrapped_key, context }` →
 * `{ key }` (base64), or the key service's error.
 */
async function attackUnwrap(req, res) {
  const j = JSON.parse((await readBody(req)).toString('utf8'));
  const r = await fetch(`${state.kmsUrl}/unwrap`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...j, authorization: state.env.tokens.reader }),
    signal: AbortSignal.timeout(10_000),
  });
  return sendJson(res, r.status, await r.json());
}

/** What the `substitute` proxy handed out, by fault id (hex of its data key). */
const substituted = new Map();

let hpke;
async function hpkeSuite() {
  if (!hpke) {
    const m = await import(pathToFileURL(join(ROOT, 'node_modules/@hpke/core/esm/mod.js')).href);
    hpke = new m.CipherSuite({ kem: new m.DhkemP256HkdfSha256(), kdf: new m.HkdfSha256(), aead: new m.Aes256Gcm() });
  }
  return hpke;
}

// disable/enable act on the per-runtime `-revoke` keys; create/rotate (rewrap tests) on keys a
// test names `acme/<anything>-rotate`.
const CONTROL_KEY = /^acme\/[A-Za-z0-9._-]+-(revoke|rotate)$/;

/**
 * `POST /control/aws/CMD` with `{ server: 'auth'|'noauth', key, context?, ciphertext? }`: boto3
 * (js/test/support/aws.py) against moto — generate, decrypt, disable, enable.
 */
async function awsControl(req, res, cmd) {
  if (req.method !== 'POST' || !['generate', 'decrypt', 'disable', 'enable'].includes(cmd)) return sendJson(res, 400, { error: 'bad aws control request' });
  try {
    const q = JSON.parse((await readBody(req)).toString('utf8'));
    const m = state.moto[q.server === 'auth' ? 'auth' : 'noauth'];
    const args = [cmd, m.url, q.key];
    if (cmd === 'generate') args.push(JSON.stringify(q.context));
    if (cmd === 'decrypt') args.push(q.ciphertext, JSON.stringify(q.context));
    sendJson(res, 200, await awsPy(args, q.server === 'auth' ? state.moto : null));
  } catch (e) {
    sendJson(res, 500, { error: String(e.message || e) });
  }
}

/** `GET /control/otlp/spans?trace_id=HEX`: the spans the OTLP receiver got from the primary kms. */
async function otlpControl(req, res, url) {
  const q = url.searchParams.get('trace_id') || '';
  if (req.method !== 'GET' || !/^[0-9a-f]{32}$/.test(q)) return sendJson(res, 400, { error: 'bad otlp control request' });
  const r = await fetch(`${state.otlpUrl}/spans?trace_id=${q}`, { signal: AbortSignal.timeout(10_000) });
  return sendJson(res, r.status, await r.json());
}

async function control(req, res, action, url) {
  if (action === 'aws') return awsControl(req, res, url.pathname.split('/').filter(Boolean)[2]);
  if (action === 'kacls') return kaclsControl(req, res, url.pathname.split('/').filter(Boolean)[2]);
  if (action === 'otlp') return otlpControl(req, res, url);
  const key = url.searchParams.get('key') || '';
  if (!['disable', 'enable', 'create', 'rotate'].includes(action) || !CONTROL_KEY.test(key)) return sendJson(res, 400, { error: 'bad control request' });
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST only' });
  try {
    const info = await state.primary.json('key', action, key);
    sendJson(res, 200, { key, state: info.state, primaryVersion: info.primary_version });
  } catch (e) {
    sendJson(res, 500, { error: String(e.message || e) });
  }
}

async function staticFile(res, base, rel) {
  const p = normalize(join(base, rel));
  if (!p.startsWith(base)) return sendJson(res, 403, { error: 'outside' });
  try {
    const data = await readFile(p);
    res.writeHead(200, { 'content-type': TYPES[extname(p)] || 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(data);
  } catch {
    sendJson(res, 404, { error: 'not found' });
  }
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>keyseal js tests</title>
<script type="module">
import * as keyseal from '/pkg/dist/index.browser.js';
import * as format from '/src/format/index.js';
import * as policy from '/src/policy/index.js';
import { run } from '/test/suite/index.js';
async function env(runtime, phase) {
  const r = await fetch('/env?runtime=' + runtime + '&phase=' + phase);
  return r.json();
}
window.runPage = async (phase) => run(keyseal, await env('chromium', phase), { format, policy });
window.runWorker = (phase) => new Promise((resolve, reject) => {
  const w = new Worker('/worker.js', { type: 'module' });
  w.onmessage = (e) => { w.terminate(); e.data.error ? reject(new Error(e.data.error)) : resolve(e.data.result); };
  w.onerror = (e) => { w.terminate(); reject(new Error('worker error: ' + (e.message || e))); };
  w.postMessage({ phase });
});
window.ready = true;
</script>`;

const WORKER = `import * as keyseal from '/pkg/dist/index.browser.js';
import * as format from '/src/format/index.js';
import * as policy from '/src/policy/index.js';
import { run } from '/test/suite/index.js';
self.onmessage = async (e) => {
  try {
    if (typeof window !== 'undefined' || typeof document !== 'undefined') throw new Error('not a worker scope');
    const env = await (await fetch('/env?runtime=chromium-worker&phase=' + e.data.phase)).json();
    const result = await run(keyseal, env, { format, policy });
    self.postMessage({ result });
  } catch (err) {
    self.postMessage({ error: String(err && err.stack || err) });
  }
};`;

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'authorization, content-type, traceparent, x-amz-target, x-amz-date, x-amz-security-token', 'access-control-max-age': '600' });
      return res.end();
    }
    if (parts[0] === 'fault' && parts.length >= 4 && parts[3] === 'v1') {
      return await fault(req, res, parts[1], parts[2], parts.slice(4).join('/'));
    }
    if (parts[0] === 'control') return await control(req, res, parts[1], url);
    // An AWS KMS error moto cannot be made to show (it enforces no key state, no throttling): the
    // error answer AWS documents for that exception, as JSON (`/fault-aws/<Exception>/<status>`).
    if (parts[0] === 'fault-aws' && parts[1] && req.method === 'POST') {
      await readBody(req);
      return sendJson(res, Number(parts[2] || 400), { __type: parts[1], message: `stand-in for AWS KMS ${parts[1]}` });
    }
    // What a fault proxy saw and did, for the trust tests: requests per fault id, and the data
    // key the substituting proxy handed out.
    if (parts[0] === 'fault-log' && parts[1]) return sendJson(res, 200, { seen: seen.get(parts[1]) ?? 0, dataKey: substituted.get(parts[1]) ?? null, traceparents: traced.get(parts[1]) ?? [] });
    if (parts[0] === 'attack' && parts[1] === 'unwrap' && req.method === 'POST') return await attackUnwrap(req, res);
    if (parts[0] === 'env') return sendJson(res, 200, envFor(url.searchParams.get('runtime'), url.searchParams.get('phase')));
    if (parts[0] === 'pkg') return await staticFile(res, PKG, parts.slice(1).join('/'));
    if (parts[0] === 'test') return await staticFile(res, join(ROOT, 'js/test'), parts.slice(1).join('/'));
    if (parts[0] === 'src') return await staticFile(res, join(ROOT, 'js/src'), parts.slice(1).join('/'));
    if (url.pathname === '/page.html') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end(PAGE); }
    if (url.pathname === '/worker.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); return res.end(WORKER); }
    if (url.pathname === '/favicon.ico') { res.writeHead(204); return res.end(); }
    sendJson(res, 404, { error: 'not found' });
  } catch (e) {
    if (!res.headersSent) sendJson(res, 502, { code: 502, error: 'Unavailable', message: `fault server: ${e.message}` });
    else res.destroy();
  }
});
server.keepAliveTimeout = 2000;

function envFor(runtime, phase) {
  const env = { ...state.env, runtime, revokeKeyId: `acme/${runtime}-revoke` };
  if (phase === 'cross') env.cross = state.cross;
  if (ONLY) env.only = ONLY;
  // 1,000 encrypts in Node (about 30 s); 200 in the other runtimes to keep `make test` short.
  env.nothingLostCount = runtime === 'node' ? 1000 : 200;
  if (process.env.KEYSEAL_JS_NOTHING_LOST) env.nothingLostCount = Number(process.env.KEYSEAL_JS_NOTHING_LOST);
  // the format-in-JS differential check (suite/format-js.js): a factor on its counts, its seed
  if (process.env.KEYSEAL_FORMAT_DIFF_SCALE) env.formatDiffScale = Number(process.env.KEYSEAL_FORMAT_DIFF_SCALE);
  if (process.env.KEYSEAL_FORMAT_SEED) env.formatSeed = Number(process.env.KEYSEAL_FORMAT_SEED);
  // the whole suite with every instance on the Rust core in wasm (scripts/wasm-core-test.sh, in make test)
  if (process.env.KEYSEAL_IMPLEMENTATION) env.implementation = process.env.KEYSEAL_IMPLEMENTATION;
  return env;
}

// ---------------------------------------------------------------------------------------------
// runtimes

const RESULT = 'KEYSEAL_RESULT=';

function runnerSource(entrySpecifier, suiteUrl, envUrl, withNodeEngine) {
  const nodeEngine = pathToFileURL(join(ROOT, 'js/src/format/node-engine.js')).href;
  return `import * as keyseal from ${JSON.stringify(entrySpecifier)};
import * as format from ${JSON.stringify(pathToFileURL(join(ROOT, 'js/src/format/index.js')).href)};
import * as policy from ${JSON.stringify(pathToFileURL(join(ROOT, 'js/src/policy/index.js')).href)};
const formatNodeEngine = ${withNodeEngine ? `(await import(${JSON.stringify(nodeEngine)})).nodeEngine` : 'undefined'};
import { run } from ${JSON.stringify(suiteUrl)};
let resolved = null;
try { resolved = import.meta.resolve(${JSON.stringify(entrySpecifier)}); } catch {}
const env = await (await fetch(${JSON.stringify(envUrl)})).json();
const result = await run(keyseal, env, { format, formatNodeEngine, policy });
result.entry = resolved;
console.log(${JSON.stringify(RESULT)} + JSON.stringify(result));
`;
}

/** Runs a command that prints KEYSEAL_RESULT=<json>; returns the parsed result. */
async function runProcess(runtime, cmd, argv, opts = {}) {
  const child = spawnTracked(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '', err = '';
  child.stderr.on('data', (d) => { err += d; if (err.length > 200_000) err = err.slice(-100_000); });
  const complete = () => out.split('\n').slice(0, -1).some((l) => l.startsWith(RESULT));
  const code = await withTimeout(new Promise((res) => {
    child.stdout.on('data', (d) => {
      out += d;
      // idle keep-alive sockets may hold the process open for seconds after the result
      if (complete()) setTimeout(() => { child.kill('SIGKILL'); res('result'); }, 100);
    });
    child.on('exit', (c, s) => res(c ?? s));
  }), RUNTIME_TIMEOUT_MS, runtime).catch((e) => { child.kill('SIGKILL'); throw e; });
  const line = out.split('\n').find((l) => l.startsWith(RESULT));
  if (!line) throw new Error(`${runtime}: no result (exit ${code}); stderr: ${err.slice(-3000)}; stdout: ${out.slice(-2000)}`);
  return JSON.parse(line.slice(RESULT.length));
}

let origin;
const nodeDir = join(tmp, 'node-project');

function setupNodeProject() {
  // A project with keyseal "installed" (symlinked): bare `import 'keyseal'` goes through the
  // package's exports map exactly as for a user.
  mkdirSync(join(nodeDir, 'node_modules'), { recursive: true });
  symlinkSync(PKG, join(nodeDir, 'node_modules', 'keyseal'), 'dir');
  writeFileSync(join(nodeDir, 'package.json'), JSON.stringify({ name: 'keyseal-js-test-project', private: true, type: 'module', dependencies: { keyseal: 'file:../pkg' } }));
}

async function runNodeLike(runtime, phase) {
  const file = join(nodeDir, `run-${runtime}-${phase}.mjs`);
  const suite = pathToFileURL(join(SUITE, 'index.js')).href;
  // the format's node:crypto engine where the package's entry is index.node.js (Node, Bun)
  writeFileSync(file, runnerSource('keyseal', suite, `${origin}/env?runtime=${runtime}&phase=${phase}`, runtime !== 'deno'));
  if (runtime === 'node') return runProcess(runtime, process.execPath, [file], { cwd: nodeDir });
  if (runtime === 'bun') return runProcess(runtime, join(BIN, 'bun'), ['run', file], { cwd: nodeDir, env: { ...process.env, BUN_INSTALL_CACHE_DIR: join(tmp, 'bun-cache') } });
  if (runtime === 'deno') {
    return runProcess(runtime, join(BIN, 'deno'), ['run', '-A', '--no-prompt', '--no-lock', '--node-modules-dir=manual', file],
      { cwd: nodeDir, env: { ...process.env, DENO_DIR: join(tmp, 'deno-dir'), DENO_NO_UPDATE_CHECK: '1' } });
  }
  throw new Error(runtime);
}

let workerd = null;
async function startWorkerd() {
  const dir = join(tmp, 'workerd');
  mkdirSync(dir, { recursive: true });
  const dist = join(PKG, 'dist');
  // every module of the package but the other runtimes' entries and the node:crypto engine
  const jsModules = readdirSync(dist).filter((f) => f.endsWith('.js') && !['index.node.js', 'index.deno.js', 'index.browser.js', 'node-cipher.js'].includes(f));
  for (const f of [...jsModules, 'keyseal_wasm_bg.wasm']) copyFileSync(join(dist, f), join(dir, f));
  // the whole suite folder, as suite/*.js modules beside the package's
  cpSync(SUITE, join(dir, 'suite'), { recursive: true });
  // the format in JS (js/src/format), as format/*.js beside the package's modules: its
  // `../errors.js` is then the package's
  // (the node:crypto engine left out: workerd has no node:crypto without nodejs_compat), and the
  // policy in JS (js/src/policy) as policy/*.js
  cpSync(join(ROOT, 'js/src/format'), join(dir, 'format'), { recursive: true, filter: (f) => !f.endsWith('node-engine.js') });
  cpSync(join(ROOT, 'js/src/policy'), join(dir, 'policy'), { recursive: true });
  const suiteModules = [
    ...readdirSync(join(dir, 'suite')).filter((f) => f.endsWith('.js')).map((f) => `suite/${f}`),
    ...readdirSync(join(dir, 'format')).filter((f) => f.endsWith('.js')).map((f) => `format/${f}`),
    ...readdirSync(join(dir, 'policy')).filter((f) => f.endsWith('.js')).map((f) => `policy/${f}`),
  ];
  writeFileSync(join(dir, 'worker.js'), `import * as keyseal from './index.workerd.js';
import * as format from './format/index.js';
import * as policy from './policy/index.js';
import { run } from './suite/index.js';
export default {
  async fetch(request) {
    try {
      const env = await request.json();
      const result = await run(keyseal, env, { format, policy });
      return Response.json(result);
    } catch (e) {
      return new Response(String(e && e.stack || e), { status: 500 });
    }
  },
};
`);
  // miniflare (what wrangler users test with; the .wasm is a CompiledWasm module). If it cannot
  // start (it needs a recent Node), drive the same workerd binary directly with a capnp config.
  if (process.env.KEYSEAL_WORKERD !== 'direct') {
    try {
      const { Miniflare } = await import(pathToFileURL(join(ROOT, 'node_modules/miniflare/dist/src/index.js')).href);
      const modules = ['worker.js', ...suiteModules, ...jsModules].map((m) => ({ type: 'ESModule', path: join(dir, m) }));
      modules.push({ type: 'CompiledWasm', path: join(dir, 'keyseal_wasm_bg.wasm') });
      const mf = new Miniflare({ modules, modulesRoot: dir, compatibilityDate: '2025-09-01' });
      const base = (await mf.ready).href.replace(/\/$/, '');
      workerd = { base, driver: 'miniflare', dispose: () => mf.dispose(), log: () => '' };
      return;
    } catch (e) {
      log(`miniflare unavailable (${String(e.message || e).split('\n')[0]}); using workerd serve directly`);
    }
  }
  const port = await freePort();
  const mods = ['worker.js', ...suiteModules, ...jsModules].map((m) => `(name = "${m}", esModule = embed "${m}")`);
  mods.push('(name = "keyseal_wasm_bg.wasm", wasm = embed "keyseal_wasm_bg.wasm")');
  writeFileSync(join(dir, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .testWorker),
    (name = "loopback", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const testWorker :Workerd.Worker = (
  modules = [
    ${mods.join(',\n    ')}
  ],
  compatibilityDate = "2025-09-01",
  globalOutbound = "loopback",
);
`);
  const child = spawnTracked(join(BIN, 'workerd'), ['serve', join(dir, 'config.capnp'), '--verbose'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; if (err.length > 100_000) err = err.slice(-50_000); });
  child.stdout.on('data', (d) => { err += d; });
  const base = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode}): ${err.slice(-3000)}`);
    try {
      await fetch(base, { method: 'GET', signal: AbortSignal.timeout(1000) });
      break;
    } catch { /* not yet */ }
    if (Date.now() - t0 > 30_000) throw new Error(`workerd did not listen: ${err.slice(-3000)}`);
    await sleep(100);
  }
  workerd = { base, child, driver: 'workerd serve', dispose: async () => child.kill('SIGKILL'), log: () => err };
}

async function runWorkerd(phase) {
  if (!workerd) await startWorkerd();
  const r = await fetch(workerd.base, { method: 'POST', body: JSON.stringify(envFor('workerd', phase)), signal: AbortSignal.timeout(RUNTIME_TIMEOUT_MS) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`workerd: ${r.status} ${text.slice(0, 3000)}\n${workerd.log().slice(-3000)}`);
  const result = JSON.parse(text);
  result.entry = `index.workerd.js via ${workerd.driver}`;
  return result;
}

let page = null;
async function runChromium(runtime, phase) {
  if (!page) {
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => log('chromium page error:', e.message));
    // (failed fetches to the fault server are logged by Chromium as console errors: expected noise)
    page.on('console', (m) => { if (VERBOSE && !m.text().startsWith('Failed to load resource')) log(`chromium console.${m.type()}:`, m.text()); });
    await page.goto(`${origin}/page.html`, { timeout: 30_000 });
    await page.waitForFunction(() => window.ready === true, null, { timeout: 30_000 });
  }
  const fn = runtime === 'chromium' ? 'runPage' : 'runWorker';
  const result = await withTimeout(page.evaluate(([f, p]) => window[f](p), [fn, phase]), RUNTIME_TIMEOUT_MS, runtime);
  result.entry = 'index.browser.js';
  return result;
}

async function runRuntime(runtime, phase) {
  if (runtime === 'node' || runtime === 'deno' || runtime === 'bun') return runNodeLike(runtime, phase);
  if (runtime === 'workerd') return runWorkerd(phase);
  return runChromium(runtime, phase);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (!existsSync(KMS_BIN)) throw new Error(`${KMS_BIN} missing: run cargo build -p keyseal-kms --bin keyseal-kms`);
  if (!existsSync(join(PKG, 'dist/keyseal_wasm_bg.wasm'))) throw new Error('pkg/ missing: run pkg-config/build.sh');
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  origin = `http://127.0.0.1:${server.address().port}`;
  const closedPort = await freePort();

  // the primary exports a span per request to an OTLP receiver (support/otlp.mjs; suite/tracing.js)
  state.otlpUrl = await startOtlpReceiver();
  const primary = await startKms('primary', origin, ['--otlp-endpoint', state.otlpUrl]);
  const escrowKms = await startKms('escrow', origin);
  state.kmsUrl = primary.url;
  state.primary = primary;
  log(`primary ${primary.url} (spans to ${state.otlpUrl}), escrow ${escrowKms.url}, harness ${origin}, tmp ${tmp}`);

  // keys: globex tenant (wrong-tenant test), one revocable key per runtime, the escrow key
  await primary.cli('key', 'create', 'globex/default');
  for (const r of RUNTIMES) await primary.cli('key', 'create', `acme/${r}-revoke`);
  await escrowKms.cli('key', 'create', 'acme/escrow');
  const reader = await primary.cli('token', 'mint', '--tenant', 'acme', '--role', 'reader', '--ttl', '3600');
  // keyseal-kms as a KACLS (docs/KEY-SERVICES.md "KACLS")
  state.kacls = await startKacls(tmp, kacls, [origin]);
  log(`kacls ${state.kacls.kaclsUrl}`);
  // AWS KMS as moto's server implements it (support/moto.mjs)
  state.moto = await startMoto(RUNTIMES);
  log(`moto ${state.moto.noauth.url} (no auth), ${state.moto.auth.url} (SigV4 verified)`);

  const vectors = {
    positive: JSON.parse(readFileSync(join(ROOT, 'tests/vectors/positive.json'), 'utf8')),
    negative: JSON.parse(readFileSync(join(ROOT, 'tests/vectors/negative.json'), 'utf8')),
  };
  state.env = {
    kmsUrl: primary.url,
    escrowUrl: escrowKms.url,
    identity: primary.identity,
    escrowIdentity: escrowKms.identity,
    attackUrl: `${origin}/attack`,
    closedUrl: `http://127.0.0.1:${closedPort}/v1`,
    faultUrl: `${origin}/fault`,
    controlUrl: `${origin}/control`,
    tokens: { writer: mint('acme', 'writer'), reader, globex: mint('globex', 'writer'), dev: primary.devToken },
    aws: {
      region: state.moto.region,
      noauth: state.moto.noauth,
      auth: { ...state.moto.auth, accessKeyId: state.moto.accessKeyId, secretAccessKey: state.moto.secretAccessKey },
    },
    kacls: { url: state.kacls.kaclsUrl, keyseal: state.kacls.url },
    vectors,
  };
  setupNodeProject();

  const totals = new Map(RUNTIMES.map((r) => [r, { passed: 0, failed: 0, failures: [], entry: null }]));
  const sealed = {};
  const record = (runtime, phase, result) => {
    const t = totals.get(runtime);
    t.passed += result.passed;
    t.failed += result.failed;
    t.entry ??= result.entry;
    for (const f of result.failures) t.failures.push(f);
    if (VERBOSE) for (const x of result.tests) log(`${runtime} ${phase} ${x.ok ? 'ok  ' : 'FAIL'} ${x.ms} ms  ${x.name}${x.error ? ' — ' + x.error : ''}`);
  };

  for (const phase of ['main', 'cross']) {
    if (phase === 'cross') {
      if (Object.keys(sealed).length < 2 || ONLY) break;
      // The `keyseal` command line seals one message too: every runtime opens it in this phase.
      try {
        sealed.cli = await cliSeal(state.env);
      } catch (e) {
        const t = { passed: 0, failed: 1, failures: [{ name: 'cli seals a message for the runtimes', error: String(e && e.stack || e) }], entry: 'cli/' };
        totals.set('cli', t);
      }
      state.cross = sealed;
    }
    for (const runtime of RUNTIMES) {
      const t0 = Date.now();
      try {
        const result = await runRuntime(runtime, phase);
        record(runtime, phase, result);
        if (phase === 'main' && result.sealed) sealed[runtime] = result.sealed;
        if (result.notes && Object.keys(result.notes).length) log(`${runtime} ${phase} notes: ${JSON.stringify(result.notes)}`);
        log(`${runtime} ${phase}: ${result.passed} passed, ${result.failed} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s (entry ${result.entry})`);
      } catch (e) {
        const t = totals.get(runtime);
        t.failed++;
        t.failures.push({ name: `${phase}: runtime did not run`, error: String(e && e.stack || e).slice(0, 4000) });
        log(`${runtime} ${phase}: could not run: ${String(e.message || e).slice(0, 2000)}`);
      }
    }
  }

  // Native leg of the cross-runtime check: the Rust core (examples/open_sealed.rs, real
  // KmsClient over loopback HTTP) opens what every JS runtime sealed.
  if (Object.keys(sealed).length && !ONLY) {
    const t = { passed: 0, failed: 0, failures: [], entry: 'examples/open_sealed.rs' };
    totals.set('native-rust', t);
    try {
      const dir = join(tmp, 'cross');
      mkdirSync(dir, { recursive: true });
      const files = Object.entries(sealed).map(([rt, b64]) => {
        const f = join(dir, `${rt}.sealed`);
        writeFileSync(f, Buffer.from(b64, 'base64'));
        return [rt, f];
      });
      const exe = target('debug/examples/open_sealed');
      if (!existsSync(exe)) await execFileP('cargo', ['build', '-p', 'keyseal', '--example', 'open_sealed'], { cwd: ROOT });
      const { stdout } = await execFileP(exe, [state.env.kmsUrl, state.env.tokens.reader, 'acme', ...files.map((x) => x[1])], { timeout: 60_000 }).catch((e) => e);
      for (const [rt, f] of files) {
        const line = String(stdout).split('\n').find((l) => l.includes(f)) ?? '';
        const want = Buffer.byteLength(`cross-runtime message from ${rt} ✓ `.repeat(3000));
        if (line === `ok ${f} ${want}`) t.passed++;
        else { t.failed++; t.failures.push({ name: `native-rust opens message sealed by ${rt}`, error: line || String(stdout) }); }
      }
      log(`native-rust cross: ${t.passed} passed, ${t.failed} failed`);
    } catch (e) {
      t.failed++;
      t.failures.push({ name: 'native-rust cross: did not run', error: String(e && e.stack || e) });
    }
  }

  // The command line (cli/) opens what every JS runtime sealed (native engine, then the
  // RustCrypto reference), requiring the context each runtime bound.
  if (Object.keys(sealed).length && !ONLY) {
    const t = totals.get('cli') ?? { passed: 0, failed: 0, failures: [], entry: 'cli/' };
    totals.set('cli', t);
    try {
      const dir = join(tmp, 'cross-cli');
      mkdirSync(dir, { recursive: true });
      for (const [rt, b64] of Object.entries(sealed)) {
        if (rt === 'cli') continue;
        const f = join(dir, `${rt}.sealed`);
        writeFileSync(f, Buffer.from(b64, 'base64'));
        for (const engine of ['native', 'rustcrypto']) {
          const r = await execFileP(await cliBin(), ['decrypt', '--engine', engine, '--require-context', 'purpose=cross-runtime', '--require-context', `from=${rt}`, f],
            { env: cliEnv(state.env, state.env.tokens.reader), timeout: 60_000, maxBuffer: 1 << 24 }).catch((e) => e);
          if (r.stdout === `cross-runtime message from ${rt} ✓ `.repeat(3000)) t.passed++;
          else { t.failed++; t.failures.push({ name: `cli (${engine}) opens message sealed by ${rt}`, error: String(r.stderr || r.message || r.stdout).slice(0, 2000) }); }
        }
      }
      log(`cli cross: ${t.passed} passed, ${t.failed} failed`);
    } catch (e) {
      t.failed++;
      t.failures.push({ name: 'cli cross: did not run', error: String(e && e.stack || e) });
    }
  }

  if (browser) await browser.close().catch(() => {});
  browser = null;
  if (workerd) await withTimeout(Promise.resolve(workerd.dispose()), 10_000, 'workerd dispose').catch(() => {});
  workerd = null;

  let passed = 0, failed = 0, zero = false;
  for (const [runtime, t] of totals) {
    for (const f of t.failures) console.log(`  FAIL [${runtime}] ${f.name}: ${f.error}`);
    console.log(`js ${runtime}: ${t.passed} passed, ${t.failed} failed`);
    passed += t.passed;
    failed += t.failed;
    if (t.passed + t.failed === 0 || t.passed === 0) zero = true;
  }
  console.log(`js: ${passed} passed, ${failed} failed`);
  return failed === 0 && !zero ? 0 : 1;
}

/** The `keyseal` binary (cli/), built on first use. */
async function cliBin() {
  const exe = target('debug/keyseal');
  if (!existsSync(exe)) await execFileP('cargo', ['build', '-p', 'keyseal-cli', '--bin', 'keyseal'], { cwd: ROOT });
  return exe;
}

/** The environment the CLI reads its key service from (the token in the environment, never a flag). */
function cliEnv(env, token) {
  return { PATH: process.env.PATH, KEYSEAL_KEY_SERVICE: env.kmsUrl, KEYSEAL_SERVICE_ID: 'acme', KEYSEAL_KEY_ID: 'acme/default', KEYSEAL_TOKEN: token };
}

/** The CLI seals the cross-runtime message `from: cli` (base64), as each runtime does. */
async function cliSeal(env) {
  const dir = mkdtempSync(join(tmpdir(), 'keyseal-cli-cross-'));
  const [plain, out] = [join(dir, 'plain'), join(dir, 'sealed')];
  writeFileSync(plain, `cross-runtime message from cli ✓ `.repeat(3000));
  await execFileP(await cliBin(), ['encrypt', '--context', 'tenant=acme', '--context', 'purpose=cross-runtime', '--context', 'from=cli', plain, '-o', out],
    { env: cliEnv(env, env.tokens.writer), timeout: 60_000 });
  const b64 = readFileSync(out).toString('base64');
  rmSync(dir, { recursive: true, force: true });
  return b64;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error('js harness error:', e && e.stack || e);
  console.log('js: 0 passed, 1 failed');
  code = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (workerd) await withTimeout(Promise.resolve(workerd.dispose()), 10_000, 'workerd dispose').catch(() => {});
  for (const r of hung) r.destroy();
  await stopAll({ graceMs: 1000 }); // reaped here, not left as zombies
  server.closeAllConnections?.();
  server.close();
  if (!process.env.KEYSEAL_JS_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
}
process.exit(code);
