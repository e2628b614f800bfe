// `make bench`: keyseal beside its peers, in one run per runtime (Node, headless Chromium), plus
// the figures the benchmark issue asks for, written to docs/BENCHMARKS.md between the
// `make bench` markers. Real parts only: a real `keyseal-kms serve --dev` on 127.0.0.1, the
// package from pkg/, Debian's Chromium via playwright-core, the peers from npm.
//
//   node bench/run.mjs [--quick] [--native FILE] [--write docs/BENCHMARKS.md]
//   --quick: 2 runs, no 64 MiB row, 64 MiB stream instead of 1 GiB, 100 objects (for development)
//   --native FILE: JSON lines printed by `cargo bench --bench core` (scripts/bench.sh makes it)
//   --kms PATH: the keyseal-kms binary (default target/debug/keyseal-kms)
import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir, cpus, totalmem } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

import { makeSubjects, measureThroughput, kmsCallsPerEncrypts, streamMemory } from './subjects.js';
import { renderReport } from './report.mjs';
import { launchChromium } from '../js/test/chromium.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (n) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : undefined; };
// scripts/bench.sh passes the release build (rewrap and first-call figures depend on its speed).
const KMS = arg('--kms') ?? join(ROOT, 'target/debug/keyseal-kms');
const QUICK = args.includes('--quick');
const OUT = arg('--write');
const MiB = 1024 * 1024;
const SIZES = QUICK ? [1024, MiB] : [1024, MiB, 64 * MiB];
const RUNS = QUICK ? 2 : 5;
const STREAM_TOTAL = QUICK ? 64 * MiB : 1024 * MiB;
const OBJECTS = QUICK ? 100 : 1000;
const log = (...a) => console.error('[bench]', ...a);
const execFileP = promisify(execFile);

const children = new Set();
const killAll = () => { for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } } };
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(130); });

const tmp = mkdtempSync(join(tmpdir(), 'keyseal-bench-'));
const started = new Date();

// ---------------------------------------------------------------------------------------------
// the key service and the page server

async function startKms(origin) {
  const db = join(tmp, 'kms.db');
  const child = spawn(KMS, ['serve', '--db', db, '--listen', '127.0.0.1:0', '--dev', '--cors-origin', origin], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err = (err + d).slice(-20000); });
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error('keyseal-kms did not start in 20 s')), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const url = out.match(/KEYSEAL_KMS_URL=(\S+)/);
      const tok = out.match(/KEYSEAL_DEV_TOKEN=(\S+)/);
      if (url && tok) { clearTimeout(t); res({ url: url[1], token: tok[1], keyId: 'acme/default', db }); }
    });
    child.on('exit', (c) => rej(new Error(`keyseal-kms exited (${c}): ${err}`)));
  });
}
const kmsCli = async (db, ...a) => (await execFileP(KMS, [...a, '--db', db], { timeout: 20000 })).stdout.trim();

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const PAGE = `<!doctype html><meta charset="utf-8"><title>keyseal bench</title>
<script type="module">
import * as keyseal from '/pkg/dist/index.browser.js';
import * as peers from '/bench-peers.js';
import * as lib from '/bench/subjects.js';
window.bench = { keyseal, peers, lib };
</script>`;
let peersBundle = '';
const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end(PAGE); return; }
  if (path === '/bench-peers.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); res.end(peersBundle); return; }
  if (!/^\/(pkg\/dist|bench)\/[\w.-]+$/.test(path)) { res.writeHead(404); res.end(); return; } // (and /favicon.ico)
  try {
    const body = await readFile(join(ROOT, path));
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
    res.end(body);
  } catch { res.writeHead(404); res.end(); }
});

// ---------------------------------------------------------------------------------------------
// bundles: the peers for the page, and the size comparison (what an app would ship)

async function bundle(contents, { minify }) {
  const esbuild = await import(pathToFileURL(join(ROOT, 'node_modules/esbuild/lib/main.js')).href);
  // The ESDK's browser client uses Node's Buffer: bundlers need the `buffer` polyfill (TOOLCHAIN.md).
  const shim = join(tmp, 'buffer-shim.js');
  writeFileSync(shim, `import { Buffer } from ${JSON.stringify(join(ROOT, 'node_modules/buffer/index.js'))};\nexport { Buffer };\n`);
  const r = await esbuild.build({
    stdin: { contents, resolveDir: ROOT, loader: 'js' }, bundle: true, format: 'esm', platform: 'browser',
    minify, write: false, inject: [shim], logLevel: 'error', define: { global: 'globalThis' },
  });
  return r.outputFiles[0].text;
}

async function sizes() {
  const gz = (b) => gzipSync(b, { level: 9 }).length;
  const dist = join(ROOT, 'pkg/dist');
  const shipped = ['keyseal_wasm_bg.wasm', 'keyseal_wasm.js', 'keyseal.js', 'errors.js', 'index.browser.js'].map((f) => {
    const b = readFileSync(join(dist, f));
    return { file: f, bytes: b.length, gzip: gz(b) };
  });
  const ksJs = await bundle(`export * from ${JSON.stringify(join(dist, 'index.browser.js'))};`, { minify: true });
  const wasm = readFileSync(join(dist, 'keyseal_wasm_bg.wasm'));
  const esdk = await bundle(`export { buildClient, CommitmentPolicy, RawAesKeyringWebCrypto, RawAesWrappingSuiteIdentifier } from '@aws-crypto/client-browser';`, { minify: true });
  const age = await bundle(`export { Encrypter, Decrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';`, { minify: true });
  return {
    shipped,
    keysealAsLoaded: { bytes: shipped.reduce((n, f) => n + f.bytes, 0), gzip: shipped.reduce((n, f) => n + f.gzip, 0) },
    keysealBundled: { bytes: ksJs.length + wasm.length, gzip: gz(Buffer.from(ksJs)) + gz(wasm), jsGzip: gz(Buffer.from(ksJs)), wasmGzip: gz(wasm) },
    esdk: { bytes: esdk.length, gzip: gz(Buffer.from(esdk)) },
    age: { bytes: age.length, gzip: gz(Buffer.from(age)) },
  };
}

// ---------------------------------------------------------------------------------------------
// Node

async function nodeRun(kms) {
  // The ESDK browser client looks for `window`/`self` (TOOLCHAIN.md: needs a shim in Node).
  globalThis.self ??= globalThis;
  globalThis.window ??= globalThis;
  const keyseal = await import(pathToFileURL(join(ROOT, 'pkg/dist/index.node.js')).href);
  const esdkBrowser = await import('@aws-crypto/client-browser');
  const esdkNode = await import('@aws-crypto/client-node');
  const age = await import('age-encryption');
  const subjects = await makeSubjects({ keyseal, esdkBrowser, esdkNode, age }, kms);
  log('Node: throughput');
  const throughput = await measureThroughput(subjects, { sizes: SIZES, runs: RUNS, log: (m) => log('Node', m) });
  log('Node: key-service calls per 10,000 encrypts');
  const calls = await kmsCallsPerEncrypts(keyseal, kms, { count: 10000 });
  calls.perRecord = await kmsCallsPerEncrypts(keyseal, kms, { count: QUICK ? 200 : 1000, perRecordContext: true });
  log('Node: rewrap vs re-encrypt');
  const rotation = await rewrapVsReencrypt(keyseal, kms, { sharedContext: false });
  log('Node: rewrap vs re-encrypt, one shared context');
  rotation.shared = await rewrapVsReencrypt(keyseal, kms, { sharedContext: true });
  return { runtime: `Node ${process.version}`, throughput, calls, rotation };
}

/**
 * OBJECTS × 1 MiB: header-only rewrapAll after a rotation vs decrypt + re-encrypt of each.
 * `sharedContext`: all objects sealed under one context, so (with the default cache) under one
 * data key and one wrapped key; otherwise each object's context names it (one data key each).
 */
async function rewrapVsReencrypt(keyseal, kms, { sharedContext }) {
  const ks = await keyseal.KeySeal.create({ keyService: { id: 'bench', urls: [kms.url] }, keyId: kms.keyId, token: () => kms.token });
  const pt = new Uint8Array(MiB);
  for (let i = 0; i < MiB; i += 65536) crypto.getRandomValues(pt.subarray(i, i + 65536));
  const objects = [];
  const contextOf = (i) => (sharedContext ? { tenant: 'acme', bucket: 'shared' } : { tenant: 'acme', object: `o${i}` });
  for (let i = 0; i < OBJECTS; i++) objects.push(await ks.encrypt(pt, { context: contextOf(i) }));
  // What must not change: the last 64 KiB of every body (copied before the run; headers are
  // rewritten in place below).
  const tails = objects.map((o) => o.slice(o.length - 65536));
  const totalBytes = objects.reduce((n, o) => n + o.length, 0);
  const rot = JSON.parse(await kmsCli(kms.db, 'key', 'rotate', kms.keyId));
  const concurrency = 8;

  let written = 0;
  const t0 = performance.now();
  const result = await ks.rewrapAll(objects.map((obj, i) => ({
    id: `o${i}`,
    readHeader: async () => objects[i].subarray(0, 4096),
    // As a store would: in place when the header keeps its length (the usual case after a
    // rotation), else header ‖ body into a new object.
    writeHeader: async (header, bodyOffset) => {
      if (header.length === bodyOffset) {
        objects[i].set(header, 0);
      } else {
        const next = new Uint8Array(header.length + objects[i].length - bodyOffset);
        next.set(header);
        next.set(objects[i].subarray(bodyOffset), header.length);
        objects[i] = next;
      }
      written += header.length;
    },
  })), { concurrency });
  const rewrapMs = performance.now() - t0;
  if (result.done !== OBJECTS || result.failed.length) throw new Error(`rewrapAll: ${JSON.stringify(result).slice(0, 300)}`);
  // Bodies unchanged (the point of a header rewrap): compare the last 64 KiB of each object.
  for (let i = 0; i < OBJECTS; i++) {
    const a = tails[i];
    const b = objects[i].subarray(objects[i].length - 65536);
    if (Buffer.compare(a, b) !== 0) throw new Error(`object ${i}: body changed by rewrap`);
  }

  // The alternative without header rewrap: open every object and seal it again (same concurrency).
  let rewritten = 0;
  const t1 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < OBJECTS) {
      const i = next++;
      const plain = await ks.decrypt(objects[i]);
      const sealed = await ks.encrypt(plain, { context: contextOf(i) });
      rewritten += sealed.length;
    }
  }));
  const reencryptMs = performance.now() - t1;
  return { sharedContext, objects: OBJECTS, objectBytes: MiB, totalBytes, rewrapMs, reencryptMs, headerBytesWritten: written, reencryptBytesWritten: rewritten, concurrency, newVersion: rot.version ?? null };
}

// ---------------------------------------------------------------------------------------------
// Chromium

async function chromiumRun(kms, base) {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.on('console', (m) => { if (m.type() === 'error') log('page:', m.text()); });
    page.on('pageerror', (e) => log('page error:', e.message));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.bench, null, { timeout: 60000 });
    await page.exposeFunction('benchLog', (m) => log('Chromium', m));
    log('Chromium: throughput');
    const throughput = await page.evaluate(async ({ kms, sizes, runs }) => {
      const { keyseal, peers, lib } = window.bench;
      const subjects = await lib.makeSubjects({ keyseal, esdkBrowser: peers.esdkBrowser, age: peers.age }, kms);
      return lib.measureThroughput(subjects, { sizes, runs, log: (m) => window.benchLog(m) });
    }, { kms, sizes: SIZES, runs: RUNS });
    log(`Chromium: ${STREAM_TOTAL / MiB} MiB stream, wasm memory`);
    const checkpoints = [64 * MiB, 256 * MiB, 1024 * MiB].filter((c) => c <= STREAM_TOTAL);
    const memory = [];
    for (const engine of ['auto', 'wasm']) {
      const total = engine === 'wasm' ? Math.min(STREAM_TOTAL, 256 * MiB) : STREAM_TOTAL;
      // A fresh page per engine: linear memory only grows, so each run starts from a clean module.
      await page.reload();
      await page.waitForFunction(() => window.bench, null, { timeout: 60000 });
      memory.push(await page.evaluate(({ kms, total, checkpoints, engine }) => window.bench.lib.streamMemory(window.bench.keyseal, kms, { total, checkpoints, engine }),
        { kms, total, checkpoints: checkpoints.filter((c) => c <= total), engine }));
    }
    return { runtime: `Chromium ${browser.version()}`, throughput, memory };
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const kms = await startKms(base);
  log('kms at', kms.url);
  peersBundle = await bundle(`export * as esdkBrowser from '@aws-crypto/client-browser';\nexport * as age from 'age-encryption';`, { minify: false });
  const size = await sizes();
  const kmsPublic = { url: kms.url, token: kms.token, keyId: kms.keyId };
  const node = await nodeRun(kms);
  const chromium = await chromiumRun(kmsPublic, base);
  const nativePath = arg('--native');
  const native = nativePath && existsSync(nativePath)
    ? readFileSync(nativePath, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
    : null;
  const cpu = cpus()[0]?.model ?? 'unknown';
  const kmsBuild = KMS.includes('/release/') ? 'release' : 'debug';
  const machine = { kmsBuild, cpu, cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, chromium: chromium.runtime };
  const data = { date: started.toISOString(), quick: QUICK, runs: RUNS, machine, size, node, chromium, native, seconds: (Date.now() - started) / 1000 };
  writeFileSync(join(ROOT, 'target/bench-results.json'), JSON.stringify(data, null, 1));
  const md = renderReport(data);
  if (OUT) {
    const file = join(ROOT, OUT);
    const begin = '<!-- make bench: begin (generated by bench/run.mjs; edit bench/report.mjs instead) -->';
    const end = '<!-- make bench: end -->';
    let doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
    const i = doc.indexOf(begin);
    const j = doc.indexOf(end);
    const block = `${begin}\n${md}\n${end}`;
    if (i >= 0 && j > i) doc = doc.slice(0, i) + block + doc.slice(j + end.length);
    else { const nl = doc.indexOf('\n') + 1; doc = `${doc.slice(0, nl)}\n${block}\n${doc.slice(nl)}`; }
    writeFileSync(file, doc);
    log(`wrote ${OUT}`);
  } else {
    console.log(md);
  }
}

try {
  await main();
} catch (e) {
  console.error('[bench] failed:', e?.stack ?? e);
  process.exitCode = 1;
} finally {
  server.close();
  killAll();
  rmSync(tmp, { recursive: true, force: true });
}
