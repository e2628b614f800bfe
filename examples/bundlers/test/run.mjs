#!/usr/bin/env node
// Drives the bundler examples (examples/bundlers/<tool>/): for each tool named on the command line,
// a production build by the tool itself (the packed keyseal tarball is already installed in the
// example's node_modules by scripts/bundlers-test.sh), the built app served on 127.0.0.1 (the
// tool's own server where it has one: `vite preview`, `next start`; a static file server for
// webpack), and the page opened in headless Chromium against a real `keyseal-kms serve --dev`
// that lists the page's origin. The page runs the checks of shared/checks.js in itself and in a
// module Web Worker the tool built (and, in Vite's production build, in a module Service Worker),
// and leaves them in window.__keysealChecks.
//
// Counted per tool: keyseal installed as an unpacked tarball, the build, the .wasm emitted as its own asset, every page/worker check, no
// console errors (console.error, uncaught errors, failed requests, HTTP errors; in the page and its
// workers, the Service Worker included), no console warnings.
// Prints `ok`/`FAIL` per check, `TOOL: N passed, M failed` per tool, and last
// `bundlers: N passed, M failed`. Exit 1 when anything failed or nothing ran.
// Env: KEYSEAL_KMS_BIN, KEYSEAL_PIDFILE (js/test/support/processes.mjs).
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, statSync, lstatSync, rmSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve, dirname, extname, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kms } from '../../../js/test/support/kms.mjs';
import { spawnTracked, stop, killAll, onSignal, giveUpAfter } from '../../../js/test/support/processes.mjs';
import { launchChromium } from '../../../js/test/support/chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const BUNDLERS = resolve(HERE, '..');
const tools = process.argv.slice(2);
let passed = 0;
let failed = 0;
const per = {};
const summary = () => `bundlers: ${passed} passed, ${failed} failed`;
onSignal(() => { console.log(summary()); killAll(); process.exit(130); });
giveUpAfter(Number(process.env.KEYSEAL_BUNDLERS_TIMEOUT_MS || 15 * 60_000), () => {
  console.log('bundlers: gave up (time limit)');
  console.log(`bundlers: ${passed} passed, ${failed + 1} failed`);
});
const log = (...a) => console.error('[bundlers]', ...a);

function record(tool, name, ok, detail) {
  per[tool] ??= { passed: 0, failed: 0 };
  if (ok) { passed++; per[tool].passed++; } else { failed++; per[tool].failed++; }
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${tool}: ${name}${ok || !detail ? '' : `\n     ${String(detail).split('\n').join('\n     ')}`}`);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

/** Runs a command in `cwd`; resolves to { code, out } (stdout + stderr). */
function run(cmd, args, { cwd, env = {}, timeoutMs = 300_000 }) {
  return new Promise((res) => {
    const child = spawnTracked(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => { out += `\n(killed after ${timeoutMs / 1000} s)`; child.kill('SIGKILL'); }, timeoutMs);
    child.once('exit', (code, signal) => { clearTimeout(t); res({ code: code ?? signal, out }); });
  });
}

/** Starts a long-running server command; resolves once `url` answers. */
async function serve(cmd, args, { cwd, url, env = {}, timeoutMs = 60_000 }) {
  const child = spawnTracked(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${cmd} exited: ${out.slice(-2000)}`);
    try {
      const r = await fetch(url);
      if (r.ok) { await r.arrayBuffer(); return { child, output: () => out }; }
    } catch { /* not yet */ }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${timeoutMs / 1000} s: ${out.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json', '.map': 'application/json' };

/** A static file server for a build output directory (what a user's CDN or nginx would be). */
function staticServer(root, port) {
  const server = createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] || 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((r) => server.listen(port, '127.0.0.1', () => r(server)));
}

function findFiles(dir, pred, out = []) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) findFiles(p, pred, out); else if (pred(p)) out.push(p);
  }
  return out;
}

const bin = (dir, name) => join(dir, 'node_modules/.bin', name);

// Each tool: how to build, where the output is, how to serve it, which pages to open.
const TOOLS = {
  vite: {
    build: (dir) => [bin(dir, 'vite'), ['build']],
    out: 'dist',
    serve: async (dir, port) => serve(bin(dir, 'vite'), ['preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { cwd: dir, url: `http://127.0.0.1:${port}/` }),
    pages: ['/'],
  },
  // the dev server (no build): Vite pre-bundles keyseal into node_modules/.vite/deps and must still
  // find the .wasm (no optimizeDeps.exclude needed with Vite 8)
  'vite-dev': {
    dir: 'vite',
    serve: async (dir, port) => serve(bin(dir, 'vite'), ['--host', '127.0.0.1', '--port', String(port), '--strictPort'], { cwd: dir, url: `http://127.0.0.1:${port}/` }),
    pages: ['/'],
  },
  // Next.js (app router, Turbopack): a client component with a worker, a Node route, an Edge route
  next: {
    build: (dir) => [bin(dir, 'next'), ['build']],
    out: '.next',
    serve: async (dir, port) => serve(bin(dir, 'next'), ['start', '-H', '127.0.0.1', '-p', String(port)], { cwd: dir, url: `http://127.0.0.1:${port}/`, env: { NEXT_TELEMETRY_DISABLED: '1' } }),
    pages: ['/'],
    routes: ['/api/node', '/api/edge'],
    env: { NEXT_TELEMETRY_DISABLED: '1' },
  },
  webpack: {
    build: (dir) => [bin(dir, 'webpack'), ['--mode', 'production']],
    out: 'dist',
    serve: async (dir, port) => {
      const server = await staticServer(join(dir, 'dist'), port);
      return { close: () => new Promise((r) => server.close(r)) };
    },
    pages: ['/'],
  },
};

async function openPage(browser, tool, url) {
  const page = await browser.newPage();
  const errors = [];
  const warnings = [];
  const wasm = [];
  const onConsole = (where) => (m) => {
    if (m.type() === 'error') errors.push(`${where} console.error: ${m.text()}`);
    if (m.type() === 'warning') warnings.push(`${where} console.warn: ${m.text()}`);
  };
  const onFailed = (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  const onResponse = (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    if (new URL(r.url()).pathname.endsWith('.wasm')) wasm.push(`${r.status()} ${r.headers()['content-type']} ${new URL(r.url()).pathname}`);
  };
  page.on('console', onConsole('page'));
  page.on('worker', (w) => { try { w.on('console', onConsole('worker')); } catch { /* older playwright */ } });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('requestfailed', onFailed);
  page.on('response', onResponse);
  // a Service Worker's requests (and its console, which Chromium may also show on the page) are
  // reported on the browser context, a fresh one per page with browser.newPage()
  const context = page.context();
  const fromServiceWorker = (w) => !!w && context.serviceWorkers().includes(w);
  context.on('console', (m) => { if (fromServiceWorker(m.worker())) onConsole('service worker')(m); });
  context.on('requestfailed', (r) => { if (r.serviceWorker()) onFailed(r); });
  context.on('response', (r) => { if (r.request().serviceWorker()) onResponse(r); });
  try {
    await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForFunction(() => window.__keysealChecks, null, { timeout: 120_000 });
    const checks = await page.evaluate(() => window.__keysealChecks);
    await new Promise((r) => setTimeout(r, 300)); // late console messages
    return { checks, errors, warnings, wasm };
  } finally {
    await page.close();
  }
}

async function testTool(tool, browser, kms, port) {
  const spec = TOOLS[tool];
  const dir = join(BUNDLERS, spec.dir ?? tool);
  const origin = `http://127.0.0.1:${port}`;
  // the package as users get it: a copy unpacked from the tarball, not a link to pkg/
  const installed = join(dir, 'node_modules/keyseal');
  const sha = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');
  const pkgDist = join(BUNDLERS, '../../pkg/dist');
  const differ = readdirSync(pkgDist, { recursive: true }).filter((f) => !statSync(join(pkgDist, f)).isDirectory())
    .filter((f) => !existsSync(join(installed, 'dist', f)) || sha(join(installed, 'dist', f)) !== sha(join(pkgDist, f)));
  record(tool, 'keyseal installed from the packed tarball (a directory, not a link; the files of pkg/dist)',
    existsSync(installed) && !lstatSync(installed).isSymbolicLink() && differ.length === 0,
    `differs from pkg/dist: ${differ.join(', ')} (remove ${join(dir, 'node_modules')} and run again)`);
  if (spec.build) {
    rmSync(join(dir, spec.out), { recursive: true, force: true });
    const t0 = Date.now();
    const [cmd, args] = spec.build(dir);
    const built = await run(cmd, args, { cwd: dir, env: spec.env });
    const buildSeconds = ((Date.now() - t0) / 1000).toFixed(1);
    record(tool, `production build (${buildSeconds} s)`, built.code === 0, built.out.slice(-4000));
    if (built.code !== 0) return;
    const wasm = findFiles(join(dir, spec.out), (p) => p.endsWith('.wasm'));
    record(tool, `the build emitted the .wasm as an asset (${wasm.map((p) => p.slice(dir.length + 1)).join(', ') || 'none'})`, wasm.length > 0);
  }
  let server;
  try {
    server = await spec.serve(dir, port);
  } catch (e) {
    record(tool, 'serve the build', false, e.message);
    return;
  }
  try {
    for (const path of spec.routes ?? []) {
      const url = `${origin}${path}?kms=${encodeURIComponent(kms.url)}&token=${encodeURIComponent(kms.devToken)}`;
      try {
        const r = await fetch(url);
        const text = await r.text();
        if (!r.ok) throw new Error(`HTTP ${r.status}: ${text.slice(0, 2000)}`);
        for (const c of JSON.parse(text).results) record(tool, c.name, c.ok, c.detail);
      } catch (e) {
        record(tool, `${path} answered its checks`, false, e.message);
      }
    }
    for (const path of spec.pages) {
      const url = `${origin}${path}?kms=${encodeURIComponent(kms.url)}&token=${encodeURIComponent(kms.devToken)}`;
      let r;
      try {
        r = await openPage(browser, tool, url);
      } catch (e) {
        record(tool, `page ${path} ran its checks`, false, e.message);
        continue;
      }
      for (const c of r.checks.results) record(tool, c.name, c.ok, c.detail);
      record(tool, `page ${path}: the .wasm came as application/wasm (${[...new Set(r.wasm)].join('; ') || 'no .wasm fetched'})`,
        r.wasm.length > 0 && r.wasm.every((w) => w.startsWith('200 application/wasm ')));
      record(tool, `page ${path}: no console errors`, r.errors.length === 0, r.errors.join('\n'));
      record(tool, `page ${path}: no console warnings`, r.warnings.length === 0, r.warnings.join('\n'));
    }
    if (server.output) {
      const bad = server.output().split('\n').filter((l) => /error|⨯|warn/i.test(l));
      record(tool, 'the server logged no errors or warnings', bad.length === 0, bad.join('\n'));
    }
  } finally {
    if (server.child) await stop(server.child);
    if (server.close) await server.close();
  }
}

async function main() {
  if (tools.length === 0 || tools.some((t) => !TOOLS[t])) {
    console.error(`usage: run.mjs TOOL... (${Object.keys(TOOLS).join(', ')})`);
    process.exit(2);
  }
  const ports = {};
  for (const t of tools) ports[t] = await freePort();
  const tmp = mkdtempSync(join(tmpdir(), 'keyseal-bundlers-'));
  const kms = new Kms({ db: join(tmp, 'kms.db'), name: 'kms', origins: tools.map((t) => `http://127.0.0.1:${ports[t]}`) });
  await kms.start();
  log(`kms at ${kms.url}`);
  const browser = await launchChromium();
  try {
    for (const t of tools) {
      const t0 = Date.now();
      try {
        await testTool(t, browser, kms, ports[t]);
      } catch (e) {
        record(t, 'ran', false, e.stack || e.message);
      }
      const p = per[t] ?? { passed: 0, failed: 1 };
      console.log(`${t}: ${p.passed} passed, ${p.failed} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  } finally {
    await browser.close();
    await kms.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => { console.log(summary()); killAll(); process.exit(failed || !passed ? 1 : 0); },
  (e) => { console.error(e); console.log(`bundlers: ${passed} passed, ${failed + 1} failed`); killAll(); process.exit(1); },
);
