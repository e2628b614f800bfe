#!/usr/bin/env node
// Large-data tests, kept out of the main JS suite because they take minutes:
//   stream   headless Chromium: pseudo-random input generated in the page by a ReadableStream (never
//            materialised; checksum computed incrementally) → encryptStream → decryptStream →
//            checksum compare, for 64 MiB, 256 MiB and 1 GiB. Wasm linear memory must be the same
//            after 256 MiB and after 1 GiB as after the 64 MiB warm-up (flat memory); elapsed time,
//            throughput and peak JS heap (performance.memory) are reported, not asserted.
//   range    headless Chromium: an ~8 MiB object sealed with 16 KiB segments is stored on this
//            script's HTTP server (real `Range` support: 206 + Content-Range); `decryptRange` with
//            a reader doing `fetch(url, { headers: { Range } })` must return the source slice while
//            the server counts exactly header + covering-segment bytes; a tampered byte inside the
//            range → DecryptionFailedError (and outside the range: not read, so the range opens).
//   rotate   Node: 1,000 sealed objects (1 MiB each by default) in files under a temp dir;
//            `keyseal-kms key rotate` on the live database; `rewrapAll` (concurrency 8) rewrites
//            each file's header IN PLACE when the new header has the old length (the usual case:
//            same key id, a new wrapped key of the same size) and only otherwise rewrites the file
//            (new header + body copy, via a temp file and rename). Asserts every body byte unchanged
//            (SHA-256 before/after), every object decrypts, every header entry names the new key
//            version, a second rewrapAll skips all; reports time to rotate and bytes written.
//
// Everything runs on 127.0.0.1: one `keyseal-kms serve --dev` (temp database, port 0; started by
// support/kms.mjs) and one Node HTTP server (pkg/, the test page, the object store). All children are
// killed on every exit path (support/processes.mjs).
// Prints `js-large GROUP: N passed, M failed` per group and `js-large: N passed, M failed`; exit 1 on
// any failure or when nothing ran.
//
// Env: KEYSEAL_LARGE_GROUPS=stream,range,rotate (subset)   KEYSEAL_LARGE_STREAM_MIB=64,256,1024
//      KEYSEAL_LARGE_OBJECTS=1000   KEYSEAL_LARGE_OBJECT_BYTES=1048576   KEYSEAL_KMS_BIN
//      KEYSEAL_LARGE_VERBOSE=1 (page console)   KEYSEAL_LARGE_KEEP_TMP=1

import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { readFile, writeFile, open, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, extname, normalize } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from './support/chromium.mjs';
import { Kms, KMS_BIN } from './support/kms.mjs';
import { stopAll, killAll, giveUpAfter, onSignal } from './support/processes.mjs';
import { withTimeout } from './support/net.mjs';
import { PKG } from './support/paths.mjs';
const GROUPS = (process.env.KEYSEAL_LARGE_GROUPS || 'stream,range,rotate').split(',').map((s) => s.trim()).filter(Boolean);
const STREAM_MIB = (process.env.KEYSEAL_LARGE_STREAM_MIB || '64,256,1024').split(',').map(Number);
const OBJECTS = Number(process.env.KEYSEAL_LARGE_OBJECTS || 1000);
const OBJECT_BYTES = Number(process.env.KEYSEAL_LARGE_OBJECT_BYTES || (1 << 20));
const VERBOSE = process.env.KEYSEAL_LARGE_VERBOSE === '1';
const TOTAL_TIMEOUT_MS = 10 * 60_000;

// every child (the kms) is killed on any exit path (support/processes.mjs); a signal or the time
// limit still ends with the count line
let browser = null;
giveUpAfter(TOTAL_TIMEOUT_MS, () => {
  console.error(`js-large: gave up after ${TOTAL_TIMEOUT_MS / 1000} s`);
  console.log('js-large: 0 passed, 1 failed (timeout)');
});
onSignal((sig) => { console.error(`js-large: ${sig}`); console.log('js-large: 0 passed, 1 failed'); killAll(); process.exit(130); });

const log = (...a) => console.error('[js-large]', ...a);
const tmp = mkdtempSync(join(tmpdir(), 'keyseal-large-'));
const MiB = 1 << 20;
const mbps = (bytes, ms) => (bytes / 1e6 / (ms / 1000)).toFixed(1);


// ---------------------------------------------------------------------------------------------
// results

const results = new Map(); // group → { passed, failed, failures: [] }
const notes = {};
function group(name) {
  if (!results.has(name)) results.set(name, { passed: 0, failed: 0, failures: [] });
  return results.get(name);
}
function check(g, name, cond, detail = '') {
  const r = group(g);
  if (cond) r.passed++;
  else { r.failed++; r.failures.push(`${name}${detail ? ': ' + detail : ''}`); }
  if (!cond || VERBOSE) log(`${g} ${cond ? 'ok  ' : 'FAIL'} ${name}${detail ? ' — ' + detail : ''}`);
  return cond;
}

// ---------------------------------------------------------------------------------------------
// code that runs in the page (serialised with Function#toString into /large-lib.js); also used by
// Node for the same checksum. Must not reference anything outside itself.

/** Order- and position-sensitive 64-bit checksum over a byte stream, independent of chunking. */
function makeSum() {
  let h1 = 0x811c9dc5 | 0, h2 = 0x2545f491 | 0, n = 0, carry = 0, carryLen = 0;
  let scratch = new Uint32Array(0);
  const word = (w) => {
    h1 = Math.imul(h1 ^ w, 0x01000193);
    h2 = Math.imul((h2 + w) | 0, 0x9e3779b1) ^ (h2 >>> 15);
  };
  const take = (x) => {
    carry |= x << (8 * carryLen);
    if (++carryLen === 4) { word(carry | 0); carry = 0; carryLen = 0; }
  };
  return {
    update(b) {
      n += b.length;
      let i = 0;
      while (carryLen && i < b.length) take(b[i++]);
      const words = (b.length - i) >>> 2;
      if (words) {
        const abs = b.byteOffset + i;
        let u;
        if ((abs & 3) === 0) u = new Uint32Array(b.buffer, abs, words);
        else {
          if (scratch.length < words) scratch = new Uint32Array(words);
          u = scratch.subarray(0, words);
          new Uint8Array(u.buffer, 0, words * 4).set(b.subarray(i, i + words * 4));
        }
        for (let k = 0; k < words; k++) {
          const w = u[k];
          h1 = Math.imul(h1 ^ w, 0x01000193);
          h2 = Math.imul((h2 + w) | 0, 0x9e3779b1) ^ (h2 >>> 15);
        }
        i += words * 4;
      }
      while (i < b.length) take(b[i++]);
    },
    digest() {
      let a = h1, b2 = h2;
      if (carryLen) { a = Math.imul(a ^ carry ^ (carryLen << 29), 0x01000193); b2 ^= carry; }
      return `${n}:${(a >>> 0).toString(16)}:${(b2 >>> 0).toString(16)}`;
    },
  };
}

/** Deterministic pseudo-random bytes (xorshift128), generated chunk by chunk. */
function makeGen(seed) {
  let x = seed | 0 || 1, y = 362436069, z = 521288629, w = 88675123;
  return (n) => {
    const u = new Uint32Array(Math.ceil(n / 4));
    for (let k = 0; k < u.length; k++) {
      const t = x ^ (x << 11);
      x = y; y = z; z = w;
      w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) | 0;
      u[k] = w;
    }
    return new Uint8Array(u.buffer, 0, n);
  };
}

/** In the page: `bytes` of generated input → encryptStream → decryptStream → checksum compare. */
async function pageStreamRun(bytes, chunk, engine = 'auto') {
  const { keyseal, raw } = window.large;
  const ks = engine === 'wasm' ? window.large.ksWasm : window.large.ks;
  const gen = makeGen(bytes ^ 0x5eed);
  const srcSum = makeSum(), outSum = makeSum();
  const pm = performance.memory;
  let heapPeak = pm ? pm.usedJSHeapSize : null;
  const sampleHeap = () => { if (pm && pm.usedJSHeapSize > heapPeak) heapPeak = pm.usedJSHeapSize; };
  let left = bytes, chunks = 0, sealedBytes = 0;
  const source = new ReadableStream({
    pull(c) {
      if (left === 0) { c.close(); return; }
      const n = Math.min(chunk, left);
      const b = gen(n);
      srcSum.update(b);
      if ((left >>> 20) % 16 === 0) sampleHeap();
      left -= n;
      c.enqueue(b);
    },
  });
  const count = new TransformStream({ transform(c, ctl) { sealedBytes += c.length; ctl.enqueue(c); } });
  const context = { tenant: 'acme', object: `stream-${bytes}` };
  const t0 = performance.now();
  await source
    .pipeThrough(ks.encryptStream({ context }))
    .pipeThrough(count)
    .pipeThrough(ks.decryptStream({ requireContext: context }))
    .pipeTo(new WritableStream({ write(c) { outSum.update(c); if ((++chunks & 15) === 0) sampleHeap(); } }));
  const ms = performance.now() - t0;
  sampleHeap();
  return {
    bytes, ms, sealedBytes, srcSum: srcSum.digest(), outSum: outSum.digest(), heapPeak,
    wasmMemoryBytes: await keyseal.lowLevel.wasmMemoryBytes(),
    bufferByteLength: raw.memory.buffer.byteLength,
  };
}

/** In the page: seals `size` generated bytes with segment size `S` and PUTs them to /obj/<name>. */
async function pageRangeSetup(name, size, S) {
  const { keyseal, env } = window.large;
  const ks = await keyseal.KeySeal.create({ keyService: { id: 'acme', urls: [env.kmsUrl] }, keyId: env.keys.range, token: () => env.token, segmentSize: S });
  const pt = makeGen(size)(size);
  const sealed = await ks.encrypt(pt, { context: { tenant: 'acme', object: name } });
  const r = await fetch(`/obj/${name}`, { method: 'PUT', body: sealed });
  if (r.status !== 204) throw new Error(`PUT ${r.status}`);
  window.large.ranges[name] = { pt, ks };
  const info = await ks.inspect(sealed);
  return { sealedLen: sealed.length, headerLen: info.headerLen, segmentSize: info.segmentSize, plaintextLen: info.plaintextLen, segmentCount: info.segmentCount };
}

/** In the page: decryptRange through HTTP Range requests; compares with the source slice. */
async function pageRangeRead(name, ptName, sealedLen, offset, length) {
  const { keyseal } = window.large;
  const { pt, ks } = window.large.ranges[ptName];
  const reader = async (a, b) => {
    const r = await fetch(`/obj/${name}`, { headers: { Range: `bytes=${a}-${b - 1}` }, cache: 'no-store' });
    if (r.status !== 206) throw new Error(`expected 206, got ${r.status}`);
    const cr = r.headers.get('content-range');
    if (cr !== `bytes ${a}-${b - 1}/${sealedLen}`) throw new Error(`content-range ${cr}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  try {
    const got = await ks.decryptRange(reader, { offset, length, size: sealedLen, requireContext: { object: ptName } });
    const want = pt.subarray(offset, Math.min(pt.length, offset + length));
    let same = got.length === want.length;
    for (let i = 0; same && i < got.length; i++) if (got[i] !== want[i]) same = false;
    return { ok: true, same, len: got.length };
  } catch (e) {
    return { ok: false, error: e && e.constructor && e.constructor.name, code: e && e.code, message: String(e && e.message), isDecryptionFailed: e instanceof keyseal.DecryptionFailedError };
  }
}

const PAGE_FUNCTIONS = [makeSum, makeGen, pageStreamRun, pageRangeSetup, pageRangeRead];
// The page builds the browser entry from the package's separate modules, as
// js/src/index.browser.js does, rather than importing the shipped dist/index.browser.js: that one
// is a bundle with its own copy of the wasm glue, and this test needs the very instance the SDK
// runs on (\`raw\`, for memory.buffer) to check lowLevel.wasmMemoryBytes() against it. The
// bundle's inputs are these files; the JS suite and \`make bench\` run the bundle itself.
const LIB = `import init, * as wasm from '/pkg/dist/keyseal_wasm.js';
import { createApi } from '/pkg/dist/keyseal.js';
import * as errors from '/pkg/dist/errors.js';
const api = createApi(async () => {
  await init({ module_or_path: new URL('/pkg/dist/keyseal_wasm_bg.wasm', location.href) });
  return wasm;
});
const keyseal = { ...errors, KeySeal: api.KeySeal, inspect: api.inspect, headerLength: api.headerLength, lowLevel: api.lowLevel };
${PAGE_FUNCTIONS.map((f) => f.toString()).join('\n\n')}
const env = await (await fetch('/env')).json();
const ks = await keyseal.KeySeal.create({ keyService: { id: 'acme', urls: [env.kmsUrl] }, keyId: env.keys.stream, token: () => env.token });
// The wasm engine keeps every segment in linear memory: it is the case where flat memory matters.
const ksWasm = await keyseal.KeySeal.create({ keyService: { id: 'acme', urls: [env.kmsUrl] }, keyId: env.keys.stream, token: () => env.token, engine: 'wasm' });
const initialWasmMemoryBytes = await keyseal.lowLevel.wasmMemoryBytes(); // (also loads the module)
const raw = await init({ module_or_path: new URL('/pkg/dist/keyseal_wasm_bg.wasm', location.href) }); // already initialised: returns its exports
window.large = { keyseal, ks, ksWasm, raw, env, ranges: {}, initialWasmMemoryBytes };
${PAGE_FUNCTIONS.map((f) => `window.${f.name} = ${f.name};`).join('\n')}
window.ready = true;
`;
const PAGE = `<!doctype html><meta charset="utf-8"><title>keyseal large-data tests</title>
<script type="module" src="/large-lib.js"></script>`;

// ---------------------------------------------------------------------------------------------
// the HTTP server: static pkg/, page, env, object store with Range support and byte counting

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html' };
const store = new Map(); // name → Buffer
const served = new Map(); // name → { bytes, requests: [[start, end]] }
let pageEnv = null;

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}
function json(res, status, obj) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(obj));
}

function serveObject(req, res, name) {
  const obj = store.get(name);
  if (!obj) return json(res, 404, { error: 'no such object' });
  const stats = served.get(name) ?? { bytes: 0, requests: [] };
  served.set(name, stats);
  const range = req.headers.range;
  let start = 0, end = obj.length - 1, status = 200;
  const headers = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', 'cache-control': 'no-store' };
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range);
    if (!m || (m[1] === '' && m[2] === '')) {
      res.writeHead(416, { 'content-range': `bytes */${obj.length}` });
      return res.end();
    }
    if (m[1] === '') { start = Math.max(0, obj.length - Number(m[2])); } // suffix range
    else { start = Number(m[1]); if (m[2] !== '') end = Math.min(Number(m[2]), obj.length - 1); }
    if (start >= obj.length || start > end) {
      res.writeHead(416, { 'content-range': `bytes */${obj.length}` });
      return res.end();
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${end}/${obj.length}`;
  }
  const body = obj.subarray(start, end + 1);
  headers['content-length'] = String(body.length);
  res.writeHead(status, headers);
  if (req.method === 'HEAD') return res.end();
  stats.bytes += body.length;
  stats.requests.push([start, end + 1]);
  res.end(body);
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] === 'obj' && parts.length === 2) {
      if (req.method === 'PUT') { store.set(parts[1], await readBody(req)); served.delete(parts[1]); res.writeHead(204); return res.end(); }
      if (req.method === 'GET' || req.method === 'HEAD') return serveObject(req, res, parts[1]);
      return json(res, 405, { error: 'method' });
    }
    if (parts[0] === 'pkg') {
      const p = normalize(join(PKG, parts.slice(1).join('/')));
      if (!p.startsWith(PKG)) return json(res, 403, { error: 'outside' });
      const data = await readFile(p).catch(() => null);
      if (!data) return json(res, 404, { error: 'not found' });
      res.writeHead(200, { 'content-type': TYPES[extname(p)] || 'application/octet-stream', 'cache-control': 'no-store' });
      return res.end(data);
    }
    if (url.pathname === '/large-lib.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); return res.end(LIB); }
    if (url.pathname === '/page.html') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end(PAGE); }
    if (url.pathname === '/env') return json(res, 200, pageEnv);
    if (url.pathname === '/favicon.ico') { res.writeHead(204); return res.end(); }
    json(res, 404, { error: 'not found' });
  } catch (e) {
    if (!res.headersSent) json(res, 500, { error: String(e.message || e) });
    else res.destroy();
  }
});
server.keepAliveTimeout = 2000;

// ---------------------------------------------------------------------------------------------
// Chromium

let page = null;
async function openPage(origin) {
  browser = await launchChromium({ extraArgs: ['--enable-precise-memory-info'] });
  page = await browser.newPage();
  page.on('pageerror', (e) => log('chromium page error:', e.message));
  page.on('console', (m) => { if (VERBOSE) log(`chromium console.${m.type()}:`, m.text()); });
  await page.goto(`${origin}/page.html`, { timeout: 30_000 });
  await page.waitForFunction(() => window.ready === true, null, { timeout: 30_000 });
}
const inPage = (fn, args, ms) => withTimeout(page.evaluate(([f, a]) => window[f](...a), [fn, args]), ms, fn);

// ---------------------------------------------------------------------------------------------
// groups

async function streamGroup() {
  const G = 'stream';
  const runs = [];
  notes.wasmMemoryBytesAtLoad = await page.evaluate(() => window.large.initialWasmMemoryBytes);
  for (const mib of STREAM_MIB) {
    const bytes = mib * MiB;
    // generous bound: the wasm engine does ≈ 80 MB/s per direction on this kind of machine
    const r = await inPage('pageStreamRun', [bytes, MiB], 60_000 + bytes / 1e6 * 120);
    runs.push(r);
    const heap = r.heapPeak == null ? 'n/a' : `${(r.heapPeak / MiB).toFixed(1)} MiB`;
    log(`stream ${mib} MiB: ${(r.ms / 1000).toFixed(1)} s, ${mbps(bytes, r.ms)} MB/s (encrypt+decrypt, plaintext bytes), sealed ${r.sealedBytes} B, wasm memory ${r.wasmMemoryBytes} B, peak JS heap ${heap}`);
    check(G, `${mib} MiB round trip: checksum equal`, r.srcSum === r.outSum && r.outSum.startsWith(`${bytes}:`), `${r.srcSum} vs ${r.outSum}`);
    check(G, `${mib} MiB: wasmMemoryBytes() = memory.buffer.byteLength`, r.wasmMemoryBytes === r.bufferByteLength, `${r.wasmMemoryBytes} vs ${r.bufferByteLength}`);
    check(G, `${mib} MiB: sealed size > plaintext size`, r.sealedBytes > bytes, String(r.sealedBytes));
  }
  notes.stream = runs.map((r) => ({ MiB: r.bytes / MiB, seconds: +(r.ms / 1000).toFixed(2), MBps: +mbps(r.bytes, r.ms), wasmMemoryBytes: r.wasmMemoryBytes, heapPeakMiB: r.heapPeak == null ? null : +(r.heapPeak / MiB).toFixed(1) }));
  const first = runs[0];
  for (const r of runs.slice(1)) {
    check(G, `flat wasm memory: ${r.bytes / MiB} MiB leaves memory.buffer.byteLength as after ${first.bytes / MiB} MiB`,
      r.bufferByteLength === first.bufferByteLength, `${r.bufferByteLength} vs ${first.bufferByteLength}`);
  }
  // The same flatness with the wasm engine forced: memory.buffer.byteLength equal after 64 MiB and 256 MiB.
  const wasmRuns = [];
  for (const mib of [64, 256]) {
    const bytes = mib * MiB;
    const r = await inPage('pageStreamRun', [bytes, MiB, 'wasm'], 60_000 + bytes / 1e6 * 120);
    wasmRuns.push(r);
    log(`stream ${mib} MiB (engine wasm): ${(r.ms / 1000).toFixed(1)} s, ${mbps(bytes, r.ms)} MB/s, wasm memory ${r.bufferByteLength} B`);
    check(G, `${mib} MiB round trip with engine 'wasm': checksum equal`, r.srcSum === r.outSum && r.outSum.startsWith(`${bytes}:`), `${r.srcSum} vs ${r.outSum}`);
  }
  check(G, 'flat wasm memory with engine wasm: 256 MiB leaves memory.buffer.byteLength as after 64 MiB',
    wasmRuns[1].bufferByteLength === wasmRuns[0].bufferByteLength, `${wasmRuns[1].bufferByteLength} vs ${wasmRuns[0].bufferByteLength}`);
  notes.streamWasmEngine = wasmRuns.map((r) => ({ MiB: r.bytes / MiB, seconds: +(r.ms / 1000).toFixed(2), MBps: +mbps(r.bytes, r.ms), wasmMemoryBytes: r.bufferByteLength }));
  if (!STREAM_MIB.includes(1024)) log('stream: note — the 1 GiB run was not requested (KEYSEAL_LARGE_STREAM_MIB)');
}

/** Bytes of the AES-GCM tag that ends every segment (docs/FORMAT.md §6.1). */
const TAG = 16;
/**
 * Body bytes of segments first … last of a message with plaintext length L and segment size S,
 * computed here from docs/FORMAT.md §6.1/§6.3 on purpose, independently of the package: the range
 * group checks that the server sent exactly the header plus these bytes.
 */
function segmentBytes(L, S, first, last) {
  const n = Math.floor(L / S) + 1;
  let total = 0;
  for (let k = first; k <= last; k++) total += (k < n - 1 ? S : L % S) + TAG;
  return total;
}

async function rangeGroup() {
  const G = 'range';
  const S = 16 * 1024;
  const L = 8 * MiB + 1234; // last segment partial
  const name = 'r8m';
  const info = await inPage('pageRangeSetup', [name, L, S], 120_000);
  check(G, 'object stored', store.get(name)?.length === info.sealedLen && info.plaintextLen === L && info.segmentSize === S, JSON.stringify(info));
  const n = info.segmentCount;
  log(`range: object ${info.sealedLen} B, header ${info.headerLen} B, ${n} segments of ${S} B`);
  const cases = [
    ['first byte', 0, 1],
    ['one whole segment, aligned', 5 * S, S],
    ['straddles a segment boundary', S - 1, 2],
    ['ends exactly at a boundary', 3 * S + 100, S - 100],
    ['mid-segment', 100 * S + 1000, 100],
    ['several segments, unaligned', 10 * S + 7, 3 * S],
    ['last (partial) segment', L - 10, 10],
    ['past the end (clamped)', L - 5, 100],
    ['whole object', 0, L],
  ];
  const fetched = [];
  for (const [what, offset, length] of cases) {
    served.delete(name);
    const r = await inPage('pageRangeRead', [name, name, info.sealedLen, offset, length], 60_000);
    const got = served.get(name) ?? { bytes: 0, requests: [] };
    const end = Math.min(L, offset + length);
    const first = Math.floor(offset / S), last = Math.floor((end - 1) / S);
    const want = info.headerLen + segmentBytes(L, S, first, last);
    check(G, `${what} [${offset}, ${end}): plaintext equals the source slice`, r.ok && r.same && r.len === end - offset, JSON.stringify(r));
    check(G, `${what}: server sent exactly header + segments ${first}…${last} = ${want} B`, got.bytes === want, `${got.bytes} B in ${got.requests.length} requests ${JSON.stringify(got.requests)}`);
    fetched.push({ what, offset, length: end - offset, segments: last - first + 1, bytesFetched: got.bytes, requests: got.requests.length });
  }
  notes.range = { objectBytes: info.sealedLen, headerLen: info.headerLen, segmentSize: S, reads: fetched };
  // tamper: one byte inside segment 200's ciphertext
  const bad = Buffer.from(store.get(name));
  const k = 200;
  bad[info.headerLen + k * (info.segmentSize + TAG) + 77] ^= 0x01; // byte 77 of segment k
  store.set(`${name}-bad`, bad);
  const r1 = await inPage('pageRangeRead', [`${name}-bad`, name, info.sealedLen, k * S + 50, 100], 60_000);
  check(G, 'tampered byte inside the range → DecryptionFailedError', !r1.ok && r1.isDecryptionFailed && r1.code === 'DECRYPTION_FAILED', JSON.stringify(r1));
  const r2 = await inPage('pageRangeRead', [`${name}-bad`, name, info.sealedLen, (k - 1) * S + 50, S], 60_000);
  check(G, 'tampered byte in the next segment of a straddling range → DecryptionFailedError', !r2.ok && r2.isDecryptionFailed, JSON.stringify(r2));
  served.delete(`${name}-bad`);
  const r3 = await inPage('pageRangeRead', [`${name}-bad`, name, info.sealedLen, 10 * S, 100], 60_000);
  check(G, 'tampered byte outside the range: not fetched, range opens', r3.ok && r3.same, JSON.stringify(r3));
  const hdrBad = Buffer.from(store.get(name));
  hdrBad[40] ^= 0x01; // inside the message id (authenticated part)
  store.set(`${name}-badhdr`, hdrBad);
  const r4 = await inPage('pageRangeRead', [`${name}-badhdr`, name, info.sealedLen, 10 * S, 100], 60_000);
  check(G, 'tampered header byte → DecryptionFailedError', !r4.ok && r4.isDecryptionFailed, JSON.stringify(r4));
}

async function rotateGroup(kms, token, readerToken) {
  const G = 'rotate';
  const keyseal = await import(pathToFileURL(join(PKG, 'dist/index.node.js')).href);
  const keyId = pageEnv.keys.rotate;
  const svc = { id: 'acme', urls: [kms.url] };
  const ks = await keyseal.KeySeal.create({ keyService: svc, keyId, token: () => token });
  const dir = join(tmp, 'objects');
  mkdirSync(dir, { recursive: true });
  const file = (i) => join(dir, `o${String(i).padStart(4, '0')}.sealed`);
  const bodyHash = new Map();
  const oldWrapped = new Map();
  const oldVersion = new Map();
  let total = 0;

  // seal and store N objects (4 at a time: key-service calls overlap with the wasm work)
  let t0 = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = next++; i < OBJECTS; i = next++) {
      const pt = randomBytes(OBJECT_BYTES);
      const sealed = Buffer.from(await ks.encrypt(pt, { context: { tenant: 'acme', object: `o${i}` } }));
      const info = await ks.inspect(sealed);
      bodyHash.set(i, createHash('sha256').update(sealed.subarray(info.headerLen)).digest('hex'));
      oldWrapped.set(i, Buffer.from(info.entries[0].wrapped));
      oldVersion.set(i, info.entries[0].keyVersion);
      total += sealed.length;
      await writeFile(file(i), sealed);
    }
  }));
  const sealMs = Date.now() - t0;
  log(`rotate: sealed ${OBJECTS} × ${OBJECT_BYTES} B (${(total / MiB).toFixed(1)} MiB on disk) in ${(sealMs / 1000).toFixed(1)} s`);
  check(G, `${OBJECTS} objects stored`, bodyHash.size === OBJECTS);
  check(G, 'all on version 1', [...oldVersion.values()].every((v) => v === 1));

  const rot = await kms.json('key', 'rotate', keyId);
  check(G, 'keyseal-kms key rotate → version 2', rot.primary_version === 2, JSON.stringify(rot));

  // the store: each object is one file; the header is rewritten in place when its length is
  // unchanged, otherwise the file is rewritten (header + body copy) through a temp file + rename.
  const io = { headerBytesRead: 0, bytesWritten: 0, inPlace: 0, fullRewrites: 0 };
  const READ = 4096;
  const objects = () => Array.from({ length: OBJECTS }, (_, i) => ({
    id: `o${i}`,
    async readHeader() {
      const fh = await open(file(i), 'r');
      try {
        const b = Buffer.alloc(READ);
        const { bytesRead } = await fh.read(b, 0, READ, 0);
        io.headerBytesRead += bytesRead;
        return b.subarray(0, bytesRead); // a prefix holding the whole header (headers here are < 1 KiB)
      } finally { await fh.close(); }
    },
    async writeHeader(header, bodyOffset) {
      if (header.length === bodyOffset) {
        const fh = await open(file(i), 'r+');
        try { await fh.write(header, 0, header.length, 0); } finally { await fh.close(); }
        io.bytesWritten += header.length;
        io.inPlace++;
      } else {
        const old = await readFile(file(i));
        const out = Buffer.concat([header, old.subarray(bodyOffset)]);
        await writeFile(`${file(i)}.tmp`, out);
        await rename(`${file(i)}.tmp`, file(i));
        io.bytesWritten += out.length;
        io.fullRewrites++;
      }
    },
  }));
  let progressEvents = 0;
  t0 = Date.now();
  const r1 = await withTimeout(ks.rewrapAll(objects(), { concurrency: 8, onProgress: () => { progressEvents++; } }), 240_000, 'rewrapAll');
  const rotateMs = Date.now() - t0;
  log(`rotate: rewrapAll of ${OBJECTS} objects in ${(rotateMs / 1000).toFixed(2)} s (${(OBJECTS / (rotateMs / 1000)).toFixed(0)} objects/s); ` +
    `wrote ${io.bytesWritten} B of ${total} B (${(100 * io.bytesWritten / total).toFixed(4)} %), ${io.inPlace} in place, ${io.fullRewrites} full rewrites; read ${io.headerBytesRead} B of headers`);
  check(G, `rewrapAll: ${OBJECTS} done, 0 skipped, 0 failed, target version 2`, r1.done === OBJECTS && r1.skipped === 0 && r1.failed.length === 0 && r1.targetVersion === 2, JSON.stringify({ ...r1, failed: r1.failed.slice(0, 3) }));
  check(G, 'progress reported for every object', progressEvents === OBJECTS, String(progressEvents));
  check(G, 'only headers were written', io.bytesWritten < OBJECTS * READ, `${io.bytesWritten} B`);

  // verify: bodies identical, new version, old wrapped key gone, decrypts
  const reader = await keyseal.KeySeal.create({ keyService: svc, keyId, token: () => readerToken, cache: false });
  let bodiesSame = 0, onNew = 0, oldGone = 0, decrypts = 0, inspectOk = 0;
  const bad = [];
  t0 = Date.now();
  next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = next++; i < OBJECTS; i = next++) {
      const sealed = await readFile(file(i));
      const info = await ks.inspect(sealed);
      if (info.entries.length === 1 && info.entries[0].keyId === keyId && info.plaintextLen === OBJECT_BYTES) inspectOk++;
      if (createHash('sha256').update(sealed.subarray(info.headerLen)).digest('hex') === bodyHash.get(i)) bodiesSame++;
      else bad.push(`o${i} body`);
      if (info.entries.length === 1 && info.entries[0].keyVersion === 2) onNew++;
      if (sealed.indexOf(oldWrapped.get(i)) === -1) oldGone++;
      try {
        const pt = await reader.decrypt(sealed, { requireContext: { object: `o${i}` } });
        if (pt.length === OBJECT_BYTES) decrypts++;
      } catch (e) { bad.push(`o${i}: ${e.code}`); }
    }
  }));
  log(`rotate: verified ${OBJECTS} objects (hash + inspect + decrypt) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  check(G, 'every body byte unchanged (SHA-256 of body before = after)', bodiesSame === OBJECTS, `${bodiesSame}; ${bad.slice(0, 3)}`);
  check(G, 'inspect: one entry, same key id, plaintext length intact', inspectOk === OBJECTS, String(inspectOk));
  check(G, 'every header entry names key version 2', onNew === OBJECTS, String(onNew));
  check(G, 'old wrapped key gone from every object', oldGone === OBJECTS, String(oldGone));
  check(G, 'every object decrypts (reader token, no cache)', decrypts === OBJECTS, `${decrypts}; ${bad.slice(0, 3)}`);

  const written = io.bytesWritten;
  t0 = Date.now();
  const r2 = await withTimeout(ks.rewrapAll(objects(), { concurrency: 8 }), 120_000, 'rewrapAll (again)');
  const againMs = Date.now() - t0;
  check(G, `second rewrapAll skips all ${OBJECTS}`, r2.done === 0 && r2.skipped === OBJECTS && r2.failed.length === 0, JSON.stringify({ ...r2, failed: r2.failed.slice(0, 3) }));
  check(G, 'second rewrapAll wrote nothing', io.bytesWritten === written, `${io.bytesWritten - written} B`);
  notes.rotate = {
    objects: OBJECTS, objectBytes: OBJECT_BYTES, totalBytes: total, sealSeconds: +(sealMs / 1000).toFixed(1),
    rotateSeconds: +(rotateMs / 1000).toFixed(2), bytesWritten: written, inPlace: io.inPlace, fullRewrites: io.fullRewrites,
    secondRunSeconds: +(againMs / 1000).toFixed(2),
  };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (!existsSync(KMS_BIN)) throw new Error(`${KMS_BIN} missing: run cargo build -p keyseal-kms --bin keyseal-kms`);
  if (!existsSync(join(PKG, 'dist/keyseal_wasm_bg.wasm'))) throw new Error('pkg/ missing: run pkg-config/build.sh');
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const kms = await new Kms({ db: join(tmp, 'kms.db'), origins: [origin] }).start();
  const keys = { stream: 'acme/large-stream', range: 'acme/large-range', rotate: 'acme/large-rotate' };
  for (const k of Object.values(keys)) await kms.cli('key', 'create', k);
  const token = await kms.cli('token', 'mint', '--tenant', 'acme', '--role', 'writer', '--ttl', '3600');
  const readerToken = await kms.cli('token', 'mint', '--tenant', 'acme', '--role', 'reader', '--ttl', '3600');
  pageEnv = { kmsUrl: kms.url, token, keys };
  log(`kms ${kms.url}, server ${origin}, tmp ${tmp}`);

  const groups = { stream: streamGroup, range: rangeGroup, rotate: () => rotateGroup(kms, token, readerToken) };
  for (const g of GROUPS) {
    if (!groups[g]) throw new Error(`unknown group ${g}`);
    const t0 = Date.now();
    try {
      if ((g === 'stream' || g === 'range') && !page) await openPage(origin);
      await groups[g]();
    } catch (e) {
      check(g, 'group did not complete', false, String(e && e.stack || e).slice(0, 3000));
    }
    log(`${g}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  if (browser) await browser.close().catch(() => {});
  browser = null;

  let passed = 0, failed = 0, zero = false;
  for (const [g, r] of results) {
    for (const f of r.failures) console.log(`  FAIL [${g}] ${f}`);
    console.log(`js-large ${g}: ${r.passed} passed, ${r.failed} failed`);
    passed += r.passed;
    failed += r.failed;
    if (r.passed === 0) zero = true;
  }
  console.log(`js-large measured: ${JSON.stringify(notes)}`);
  console.log(`js-large: ${passed} passed, ${failed} failed`);
  return failed === 0 && !zero && passed > 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error('js-large error:', e && e.stack || e);
  console.log('js-large: 0 passed, 1 failed');
  code = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  await stopAll({ graceMs: 1000 }); // reaped here, not left as zombies
  server.closeAllConnections?.();
  server.close();
  if (!process.env.KEYSEAL_LARGE_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
}
process.exit(code);
