#!/usr/bin/env node
// `make demo`: everything on 127.0.0.1, nothing from the network.
//   - primary key service: `keyseal-kms serve --dev` (tenant acme, key acme/demo) — the customer's KMS
//   - escrow / DR key service: a second, independent keyseal-kms (key acme/escrow)
//   - the "provider": this node:http server. Serves the page (www/) and the package (pkg/dist/), and
//     stores what the page uploads — sealed bytes only — one file per object.
//   - /demo/control/*: what in real life is the security team's job (rotate, disable, enable the
//     key; stop/start the primary key service), exposed here so the page can show its effect.
//
// Env: KEYSEAL_DEMO_PORT (8787)  KEYSEAL_DEMO_KMS_PORT / KEYSEAL_DEMO_ESCROW_PORT (0 = ephemeral)
//      KEYSEAL_DEMO_STORE (target/demo-store)  KEYSEAL_DEMO_KMS_DIR (target/demo-kms)
//      KEYSEAL_KMS_BIN (<cargo target dir>/debug/keyseal-kms: CARGO_TARGET_DIR or target/)
//      --fresh: wipe store and key databases first.
// Prints `KEYSEAL_DEMO_URL=http://127.0.0.1:PORT/` once everything is up. SIGINT/SIGTERM stop all.

import { createServer } from 'node:http';
import { rmSync, mkdirSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Kms, KMS_BIN } from '../js/test/support/kms.mjs';
import { stopAll, onSignal } from '../js/test/support/processes.mjs';
import { ObjectStore } from './store.mjs';
import { serveStatic, serveObject, sendJson, readBody, HttpError } from './http.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PORT = Number(process.env.KEYSEAL_DEMO_PORT ?? 8787);
const HOST = '127.0.0.1';
const STORE = resolve(process.env.KEYSEAL_DEMO_STORE || join(ROOT, 'target/demo-store'));
const KMS_DIR = resolve(process.env.KEYSEAL_DEMO_KMS_DIR || join(ROOT, 'target/demo-kms'));
const PRIMARY_KEY = 'acme/demo';
const ROTATE_EVERY = '30d';
const ESCROW_KEY = 'acme/escrow';

const log = (...a) => console.error('[demo]', ...a);
function die(msg) { console.error(`keyseal demo: ${msg}`); shutdown(1); }

// ---------------------------------------------------------------------------------------------
// process hygiene: the key services are tracked (js/test/support/processes.mjs) and killed on every
// exit path; a signal stops them gracefully (SIGTERM, then SIGKILL) before the server exits.

let server = null;
let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(code), 1500).unref(); // never hang on the way out
  server?.closeAllConnections?.();
  server?.close();
  await stopAll({ graceMs: 1200 });
  process.exit(code);
}
onSignal((sig) => { log(`${sig}: stopping`); shutdown(0); });

// ---------------------------------------------------------------------------------------------

if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) die(`KEYSEAL_DEMO_PORT=${process.env.KEYSEAL_DEMO_PORT} is not a port`);
if (!existsSync(KMS_BIN)) die(`${KMS_BIN} not found: run 'cargo build -p keyseal-kms --bin keyseal-kms' (scripts/demo.sh does)`);
if (!existsSync(join(ROOT, 'pkg/dist/index.node.js'))) die(`pkg/dist is missing: run 'pkg-config/build.sh' (scripts/demo.sh does)`);
if (process.argv.includes('--fresh')) { rmSync(STORE, { recursive: true, force: true }); rmSync(KMS_DIR, { recursive: true, force: true }); }
mkdirSync(KMS_DIR, { recursive: true });

// The provider parses headers with the package's own `inspect` (no key, no key service).
const { inspect } = await import(pathToFileURL(join(ROOT, 'pkg/dist/index.node.js')).href);
const store = new ObjectStore(STORE, inspect);
await store.init();

let primary, escrow;

server = createServer((req, res) => {
  route(req, res).catch((e) => {
    const status = e instanceof HttpError ? e.status : e.status || (e.code === 'ENOENT' ? 404 : 500);
    if (status >= 500) log(`${req.method} ${req.url}: ${e.stack || e}`);
    if (!res.headersSent) sendJson(res, status, { error: e.code && typeof e.code === 'string' && !e.code.startsWith('E') ? e.code : 'error', message: status === 404 ? 'not found' : String(e.message || e) });
    else res.destroy();
  });
});
server.keepAliveTimeout = 5000;

// Listen first: a taken port is the most likely failure and must not leave key services behind.
await new Promise((resolveListen) => {
  server.once('error', (e) => {
    if (e.code === 'EADDRINUSE') die(`port ${PORT} on ${HOST} is already in use (set KEYSEAL_DEMO_PORT to another port)`);
    else die(`cannot listen on ${HOST}:${PORT}: ${e.message}`);
  });
  server.listen(PORT, HOST, resolveListen);
});
const port = server.address().port;
const origins = [`http://${HOST}:${port}`, `http://localhost:${port}`];

try {
  // Each keeps its port across a stop/start (the page keeps the URL it was given).
  primary = new Kms({ name: 'keyseal-kms primary', db: join(KMS_DIR, 'primary.db'), port: Number(process.env.KEYSEAL_DEMO_KMS_PORT || 0), origins });
  escrow = new Kms({ name: 'keyseal-kms escrow', db: join(KMS_DIR, 'escrow.db'), port: Number(process.env.KEYSEAL_DEMO_ESCROW_PORT || 0), origins });
  await Promise.all([primary.start(), escrow.start()]);
  const key = await primary.ensureKey(PRIMARY_KEY);
  // A previous run may have ended with the key revoked; a new demo starts with it usable.
  if (key.state === 'disabled') await primary.json('key', 'enable', PRIMARY_KEY, '--reason', 'demo start');
  // Rotation on a schedule (PROTOCOL.md §8.5): the SLI panel counts down to it. Set once; a later
  // run keeps the clock the first one started.
  const sched = await scheduleOf(PRIMARY_KEY);
  if (!sched?.rotate_every_ms) await primary.cli('key', 'set', PRIMARY_KEY, '--rotate-every', ROTATE_EVERY);
  await escrow.ensureKey(ESCROW_KEY);
} catch (e) {
  die(e.message);
}
if (stopping) await new Promise(() => {});

console.log(`KEYSEAL_DEMO_URL=http://${HOST}:${port}/`);
console.error(`
  keyseal demo — open http://${HOST}:${port}/ in a browser
    primary key service (customer KMS):  ${primary.url}   key ${PRIMARY_KEY}
    escrow / DR key service:             ${escrow.url}   key ${ESCROW_KEY}
    provider store (ciphertext only):    ${STORE}
  Ctrl-C stops everything.
`);

// ---------------------------------------------------------------------------------------------
// routes

async function route(req, res) {
  const url = new URL(req.url, `http://${HOST}`);
  const p = url.pathname;
  const m = req.method;

  if (p === '/' && (m === 'GET' || m === 'HEAD')) return serveStatic(req, res, join(ROOT, 'www'), 'index.html');
  if (p.startsWith('/pkg/dist/') && (m === 'GET' || m === 'HEAD')) return serveStatic(req, res, join(ROOT, 'pkg/dist'), p.slice('/pkg/dist/'.length), { waitMs: 15_000 });
  if (p === '/favicon.ico') { res.writeHead(204); return res.end(); }

  if (p === '/demo/config' && m === 'GET') return sendJson(res, 200, config());
  if (p === '/demo/status' && m === 'GET') return sendJson(res, 200, await status());
  if (p === '/demo/ops' && m === 'GET') return sendJson(res, 200, await opsView());
  if (p.startsWith('/demo/control/')) {
    if (m !== 'POST') throw new HttpError(405, 'POST only');
    return sendJson(res, 200, await control(p.slice('/demo/control/'.length)));
  }

  if (p === '/api/objects' && m === 'GET') {
    const ids = await store.ids();
    const objects = [];
    for (const id of ids) { try { objects.push(await store.describe(id)); } catch (e) { if (e.code !== 'ENOENT') throw e; } }
    objects.sort((a, b) => b.storedAt - a.storedAt);
    return sendJson(res, 200, { objects });
  }
  const om = p.match(/^\/api\/objects\/([^/]+)(\/header)?$/);
  if (om) {
    const id = decodeURIComponent(om[1]);
    if (!store.validId(id)) throw new HttpError(400, 'bad object id');
    if (om[2]) {
      // PUT /api/objects/ID/header?bodyOffset=N — body: the new header. Keeps the body bytes.
      if (m !== 'PUT') throw new HttpError(405, 'PUT only');
      const header = await readBody(req, 1 << 20);
      return sendJson(res, 200, await store.replaceHeader(id, header, Number(url.searchParams.get('bodyOffset'))));
    }
    if (m === 'PUT') {
      const size = await store.put(id, req);
      return sendJson(res, 201, { id, size });
    }
    if (m === 'GET' || m === 'HEAD') return serveObject(req, res, store.path(id));
    if (m === 'DELETE') { await store.remove(id); return sendJson(res, 200, { id, deleted: true }); }
    throw new HttpError(405, 'method not allowed');
  }
  if (m === 'GET' || m === 'HEAD') return serveStatic(req, res, join(ROOT, 'www'), p.slice(1));
  throw new HttpError(404, 'not found');
}

function config() {
  return {
    primary: { id: 'primary', url: primary.url, keyId: PRIMARY_KEY, token: primary.devToken },
    escrow: { id: 'escrow', url: escrow.url, keyId: ESCROW_KEY, token: escrow.devToken },
    note: 'Dev tokens (writer, tenant acme) handed to the page for the demo only; a real app gets them from its identity provider.',
  };
}

async function status() {
  const key = await primary.json('key', 'show', PRIMARY_KEY).catch((e) => ({ error: String(e.message) }));
  return { primaryRunning: primary.running, escrowRunning: escrow.running, key: summary(key) };
}
const summary = (k) => (k && k.key_id ? { keyId: k.key_id, state: k.state, primaryVersion: k.primary_version, versions: k.versions.length } : k);

// /demo/ops: what the operator of the key service sees — the primary key's rotation schedule
// (`key schedule`) and the newest audit records as a SIEM receives them (`audit export`: the ECS
// records of PROTOCOL.md §9.1, read incrementally by sequence number). The demo's own status polls
// (`key.show` by the `cli:` subject, every few seconds) are left out, as a SIEM rule would.
const AUDIT_TAIL = 10;
const auditTail = [];
let auditSeq = null;
let opsQueue = Promise.resolve();

async function scheduleOf(keyId) {
  const lines = (await primary.cli('key', 'schedule')).split('\n').filter(Boolean);
  return lines.map((l) => JSON.parse(l)).find((r) => r.key_id === keyId);
}

function opsView() {
  const run = async () => {
    // The first read starts ten minutes back (a kept database may hold a long history).
    const since = auditSeq == null ? new Date(Date.now() - 600_000).toISOString() : String(auditSeq);
    const lines = (await primary.cli('audit', 'export', '--since', since)).split('\n').filter(Boolean);
    for (const line of lines) {
      const r = JSON.parse(line);
      auditSeq = Math.max(auditSeq ?? 0, r.event.sequence);
      if (r.event.action === 'key.show' && r.user.name.startsWith('cli:')) continue;
      auditTail.push({
        seq: r.event.sequence, time: r['@timestamp'], action: r.event.action, user: r.user.name,
        tenant: r.organization.id, keyId: r.keyseal.key_id, keyVersion: r.keyseal.key_version,
        outcome: r.event.outcome, code: r.error?.code ?? null, reason: r.event.reason, hash: r.event.hash,
      });
    }
    if (auditSeq == null) auditSeq = 0;
    auditTail.splice(0, Math.max(0, auditTail.length - AUDIT_TAIL));
    const s = await scheduleOf(PRIMARY_KEY);
    return {
      now: Date.now(),
      rotation: s ? { keyId: s.key_id, everyMs: s.rotate_every_ms, nextAtMs: s.next_rotation_at_ms, version: s.primary_version, sinceMs: s.primary_since_ms } : null,
      audit: [...auditTail].reverse(),
    };
  };
  const r = opsQueue.then(run, run);
  opsQueue = r.catch(() => {});
  return r;
}

// Serialised: two clicks must not interleave a stop with a start.
let queue = Promise.resolve();
function control(action) {
  const run = async () => {
    const t0 = Date.now();
    switch (action) {
      case 'rotate': case 'disable': case 'enable': {
        const k = await primary.json('key', action, PRIMARY_KEY, '--reason', `demo page: ${action}`);
        log(`key ${action} ${PRIMARY_KEY} → ${k.state}, version ${k.primary_version}`);
        return { action, at: Date.now(), ms: Date.now() - t0, key: summary(k), primaryRunning: primary.running };
      }
      case 'primary/stop':
        await primary.stop();
        log('primary key service stopped');
        return { action, at: Date.now(), ms: Date.now() - t0, primaryRunning: false };
      case 'primary/start':
        await primary.start();
        log(`primary key service started again at ${primary.url}`);
        return { action, at: Date.now(), ms: Date.now() - t0, primaryRunning: true };
      default:
        throw new HttpError(404, `unknown control ${action}`);
    }
  };
  const r = queue.then(run, run);
  queue = r.catch(() => {});
  return r;
}
