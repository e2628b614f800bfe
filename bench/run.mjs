// `make bench`: keyseal beside its peers in one run per runtime (Node, headless Chromium), plus
// package sizes, key-service calls, rotation and stream memory; written to docs/BENCHMARKS.md
// between the `make bench` markers (bench/report.mjs renders it). Real parts only: a real
// `keyseal-kms serve --dev` on 127.0.0.1, the package from pkg/, Debian's Chromium via
// playwright-core, the peers from npm. One folder per subject:
//   peers/        keyseal vs raw WebCrypto, the AWS Encryption SDK and typage (subjects.js); sizes (sizes.mjs)
//   key-service/  key-service calls per encrypt with the cache on (calls.js)
//   rotation/     header-only rewrapAll vs decrypt + re-encrypt (rewrap.mjs)
//   memory/       memory through long streams: the JS heap, the wasm linear memory (streams.js)
//   edge/         cold start in workerd through miniflare (cold-start.mjs)
//   engines/      wasm vs WebCrypto engine sweep, run by hand (engines.mjs; not part of this run)
//
//   node bench/run.mjs [--quick] [--native FILE] [--write docs/BENCHMARKS.md]
//   --quick: 2 runs, no 64 MiB row, 64 MiB stream instead of 1 GiB, 100 objects (for development)
//   --native FILE: JSON lines printed by `cargo bench --bench core` (scripts/bench.sh makes it)
//   --kms PATH: the keyseal-kms binary (default <cargo target dir>/debug/keyseal-kms)
//   --from FILE: measure nothing, render a saved run (target/bench-results.json) after a report.mjs edit
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir, cpus, totalmem } from 'node:os';
import { extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { makeSubjects, measureThroughput } from './peers/subjects.js';
import { bundle, sizes } from './peers/sizes.mjs';
import { kmsCallsPerEncrypts } from './key-service/calls.js';
import { perRecordContexts } from './key-service/per-record.js';
import { rewrapVsReencrypt } from './rotation/rewrap.mjs';
import { renderReport } from './report.mjs';
import { workerdColdStart } from './edge/cold-start.mjs';
import { MiB } from './bytes.js';
import { launchChromium } from '../js/test/support/chromium.mjs';
import { Kms, KMS_BIN } from '../js/test/support/kms.mjs';
import { stopAll } from '../js/test/support/processes.mjs';
import { ROOT, PKG, target } from '../js/test/support/paths.mjs';

const args = process.argv.slice(2);
const arg = (n) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : undefined; };
// scripts/bench.sh passes the release build (rewrap and first-call figures depend on its speed).
const KMS = arg('--kms') ?? KMS_BIN;
const QUICK = args.includes('--quick');
const OUT = arg('--write');
const SIZES = QUICK ? [1024, MiB] : [1024, MiB, 64 * MiB];
const RUNS = QUICK ? 2 : 5;
const STREAM_TOTAL = QUICK ? 64 * MiB : 1024 * MiB;
const OBJECTS = QUICK ? 100 : 1000;
const log = (...a) => console.error('[bench]', ...a);

// the key service is tracked by js/test/support/processes.mjs: killed on every exit path
const tmp = mkdtempSync(join(tmpdir(), 'keyseal-bench-'));
const started = new Date();

// ---------------------------------------------------------------------------------------------
// the key service and the page server

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const PAGE = `<!doctype html><meta charset="utf-8"><title>keyseal bench</title>
<script type="module">
import * as keyseal from '/pkg/dist/index.browser.js';
import * as peers from '/bench-peers.js';
import * as format from '/js/src/format/index.js';
import * as subjects from '/bench/peers/subjects.js';
import * as memory from '/bench/memory/streams.js';
import * as perRecord from '/bench/key-service/per-record.js';
window.bench = { keyseal, peers, format, lib: { ...subjects, ...memory, ...perRecord } };
</script>`;
let peersBundle = '';
const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end(PAGE); return; }
  if (path === '/tiny') { res.writeHead(200, { 'content-type': 'application/octet-stream' }); res.end('x'); return; }
  if (path === '/blank') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>blank</title>'); return; }
  if (path === '/bench-peers.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); res.end(peersBundle); return; }
  // pkg/dist/*, bench/* or bench/<subject>/*, js/src/format/* and the js/src/errors.js it imports
  // (and a 404 for /favicon.ico)
  if (!/^\/(pkg\/dist|bench(\/[\w-]+)?|js\/src(\/format)?)\/[\w-]+(\.[\w-]+)+$/.test(path)) { res.writeHead(404); res.end(); return; }
  try {
    const body = await readFile(join(ROOT, path));
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
    res.end(body);
  } catch { res.writeHead(404); res.end(); }
});

// ---------------------------------------------------------------------------------------------
// Node

async function nodeRun(kms) {
  // The ESDK browser client looks for `window` / `self`, which Node does not define.
  globalThis.self ??= globalThis;
  globalThis.window ??= globalThis;
  const keyseal = await import(pathToFileURL(join(PKG, 'dist/index.node.js')).href);
  const esdkBrowser = await import('@aws-crypto/client-browser');
  const esdkNode = await import('@aws-crypto/client-node');
  const age = await import('age-encryption');
  const format = await import(pathToFileURL(join(ROOT, 'js/src/format/index.js')).href);
  // in Node the format runs on node:crypto, as the package's Node entry does
  const { nodeEngine: formatEngine } = await import(pathToFileURL(join(ROOT, 'js/src/format/node-engine.js')).href);
  const subjects = await makeSubjects({ keyseal, format, formatEngine, esdkBrowser, esdkNode, age }, kms);
  log('Node: throughput');
  const throughput = await measureThroughput(subjects, { sizes: SIZES, runs: RUNS, log: (m) => log('Node', m) });
  log('Node: key-service calls per 10,000 encrypts');
  const calls = await kmsCallsPerEncrypts(keyseal, kms, { count: 10000 });
  calls.perRecord = await kmsCallsPerEncrypts(keyseal, kms, { count: QUICK ? 200 : 1000, perRecordContext: true });
  log('Node: per-record contexts by P-256 engine');
  const perRecord = await perRecordContexts(keyseal, kms, { count: QUICK ? 200 : 1000, engines: ['wasm', 'webcrypto', 'node'] });
  log('Node: rewrap vs re-encrypt');
  const rotation = await rewrapVsReencrypt(keyseal, kms, { objects: OBJECTS, sharedContext: false, runs: RUNS });
  log('Node: rewrap vs re-encrypt, one shared context');
  rotation.shared = await rewrapVsReencrypt(keyseal, kms, { objects: OBJECTS, sharedContext: true, runs: RUNS });
  return { runtime: `Node ${process.version}`, throughput, calls, perRecord, rotation };
}

// ---------------------------------------------------------------------------------------------
// Chromium

/**
 * Cold start in Chromium: a fresh browser context each run (empty HTTP and code caches, as on a
 * first visit), a blank page on the bench origin, then `import()` of the browser entry →
 * `KeySeal.create` (no wasm since design C; the .wasm fetches are counted) → the first 1 KiB `encrypt`
 * (one `/generate`) → a second encrypt of the same context (the data key now cached). Medians of
 * `runs`, in ms from the start of the import. Also the parts, each in a fresh context of its own:
 * the first request of a context (1 byte), and the .wasm fetched, then compiled.
 */
async function chromiumColdStart(browser, kms, base, runs = RUNS) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${base}/blank`);
      samples.push(await page.evaluate(async (kms) => {
        const t0 = performance.now();
        const { KeySeal } = await import('/pkg/dist/index.browser.js');
        const ks = await KeySeal.create({ keyService: { id: 'bench', urls: [kms.url] }, keyId: kms.keyId, token: () => kms.token });
        const t1 = performance.now();
        const pt = new Uint8Array(1024);
        await ks.encrypt(pt, { context: { tenant: 'acme', table: 'cold' } });
        const t2 = performance.now();
        await ks.encrypt(pt, { context: { tenant: 'acme', table: 'cold' } });
        const t3 = performance.now();
        // design C: the default instance fetches no .wasm (the demo's end-to-end test asserts it too)
        const wasmFetched = performance.getEntriesByType('resource').filter((e) => new URL(e.name).pathname.endsWith('.wasm')).length;
        return { createMs: t1 - t0, firstEncryptMs: t2 - t0, cachedEncryptMs: t3 - t2, wasmFetched };
      }, kms));
    } finally {
      await context.close();
    }
  }
  // Where that time goes, each in its own fresh context so one does not warm the other: the first
  // request of a fresh context (a 1-byte file), and the .wasm alone fetched, then compiled.
  const parts = [];
  for (let i = 0; i < runs; i++) {
    const part = {};
    for (const step of ['tiny', 'wasm']) {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(`${base}/blank`);
        Object.assign(part, await page.evaluate(async (step) => {
          const t0 = performance.now();
          if (step === 'tiny') {
            await (await fetch('/tiny')).arrayBuffer();
            return { firstRequestMs: performance.now() - t0 };
          }
          const bytes = await (await fetch('/pkg/dist/keyseal_wasm_bg.wasm')).arrayBuffer();
          const t1 = performance.now();
          await WebAssembly.compile(bytes);
          return { wasmFetchMs: t1 - t0, wasmCompileMs: performance.now() - t1 };
        }, step));
      } finally {
        await context.close();
      }
    }
    parts.push(part);
  }
  const median = (k, from = samples) => from.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(from.length / 2)];
  return {
    runs, createMs: median('createMs'), firstEncryptMs: median('firstEncryptMs'), cachedEncryptMs: median('cachedEncryptMs'),
    wasmFetched: samples.reduce((n, x) => n + x.wasmFetched, 0),
    firstRequestMs: median('firstRequestMs', parts), wasmFetchMs: median('wasmFetchMs', parts), wasmCompileMs: median('wasmCompileMs', parts),
  };
}

async function chromiumRun(kms, base) {
  // the stream-memory figure reads the JS heap after a full GC (bench/memory/streams.js)
  const browser = await launchChromium({ extraArgs: ['--js-flags=--expose-gc', '--enable-precise-memory-info'] });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => { if (m.type() === 'error') log('page:', m.text()); });
    page.on('pageerror', (e) => log('page error:', e.message));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.bench, null, { timeout: 60000 });
    await page.exposeFunction('benchLog', (m) => log('Chromium', m));
    log('Chromium: throughput');
    const throughput = await page.evaluate(async ({ kms, sizes, runs }) => {
      const { keyseal, peers, format, lib } = window.bench;
      const subjects = await lib.makeSubjects({ keyseal, format, esdkBrowser: peers.esdkBrowser, age: peers.age }, kms);
      return lib.measureThroughput(subjects, { sizes, runs, log: (m) => window.benchLog(m) });
    }, { kms, sizes: SIZES, runs: RUNS });
    log('Chromium: per-record contexts by P-256 engine');
    const perRecord = await page.evaluate(({ kms, count }) => window.bench.lib.perRecordContexts(window.bench.keyseal, kms, { count }),
      { kms, count: QUICK ? 200 : 1000 });
    log('Chromium: cold start');
    const coldStart = await chromiumColdStart(browser, kms, base);
    log(`Chromium: ${STREAM_TOTAL / MiB} MiB stream, memory`);
    const checkpoints = [64 * MiB, 256 * MiB, 1024 * MiB].filter((c) => c <= STREAM_TOTAL);
    const memory = [];
    for (const engine of ['auto', 'wasm']) {
      const total = engine === 'wasm' ? Math.min(STREAM_TOTAL, 256 * MiB) : STREAM_TOTAL;
      // A fresh page per engine: linear memory only grows, so each run starts from a clean module
      // (and the JS heap from a clean page).
      await page.reload();
      await page.waitForFunction(() => window.bench, null, { timeout: 60000 });
      memory.push(await page.evaluate(({ kms, total, checkpoints, engine }) => window.bench.lib.streamMemory(window.bench.keyseal, kms, { total, checkpoints, engine }),
        { kms, total, checkpoints: checkpoints.filter((c) => c <= total), engine }));
    }
    return { runtime: `Chromium ${browser.version()}`, throughput, perRecord, coldStart, memory };
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  // `--from target/bench-results.json`: render a saved run again (after an edit of bench/report.mjs)
  // without measuring anything; the figures and their date are the saved run's.
  const from = arg('--from');
  if (from) {
    write(renderReport(JSON.parse(readFileSync(from, 'utf8'))));
    return;
  }
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const service = await new Kms({ bin: KMS, db: join(tmp, 'kms.db'), origins: [base] }).start();
  const kms = { url: service.url, token: service.devToken, keyId: 'acme/default', json: (...a) => service.json(...a) };
  log('kms at', kms.url);
  peersBundle = await bundle(`export * as esdkBrowser from '@aws-crypto/client-browser';\nexport * as age from 'age-encryption';`, { minify: false });
  const size = await sizes();
  const kmsPublic = { url: kms.url, token: kms.token, keyId: kms.keyId };
  const node = await nodeRun(kms);
  const chromium = await chromiumRun(kmsPublic, base);
  log('workerd: cold start');
  const workerd = { coldStart: await workerdColdStart(kmsPublic, join(tmp, 'workerd'), { runs: RUNS }) };
  const nativePath = arg('--native');
  const native = nativePath && existsSync(nativePath)
    ? readFileSync(nativePath, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
    : null;
  const cpu = cpus()[0]?.model ?? 'unknown';
  const kmsBuild = KMS.includes('/release/') ? 'release' : 'debug';
  const machine = { kmsBuild, cpu, cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, chromium: chromium.runtime };
  const data = { date: started.toISOString(), quick: QUICK, runs: RUNS, machine, size, node, chromium, workerd, native, seconds: (Date.now() - started) / 1000 };
  writeFileSync(target('bench-results.json'), JSON.stringify(data, null, 1));
  write(renderReport(data));
}

/** Puts the rendered Markdown between the markers of `--write FILE`, or prints it. */
function write(md) {
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
  await stopAll({ graceMs: 1000 }); // reaped here, not left as zombies
  rmSync(tmp, { recursive: true, force: true });
}
