// Engine throughput: the wasm `aes-gcm` engine vs WebCrypto (crypto.subtle, 8 segments in
// flight) for whole messages, by message size and segment size, sealing and opening. Uses the
// low-level data-key functions, so no key service is involved: what is measured is header
// building + key schedule + the segments, i.e. everything `encrypt`/`decrypt` do after the data
// key is known. Numbers go into docs/DESIGN.md ("Engines"); nothing here asserts a time.
//
//   node bench/engines/engines.mjs             # Node, package from pkg/ (scripts/js-test.sh or make pkg builds it)
//   node bench/engines/engines.mjs --chromium  # the same code in headless Chromium (playwright-core)
//   options: --quick (fewer sizes, shorter runs); --sizes 1,2,4 (message sizes in KiB);
//            --segs 64,256 (segment sizes in KiB); --budget 400 (ms per measurement)
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../../js/test/support/chromium.mjs';
import { ROOT, PKG } from '../../js/test/support/paths.mjs';

const KiB = 1024;

/** Runs in Node and in the page (serialised with toString: no closures over module state). */
async function measure(lowLevel, opts) {
  const MSG = opts.sizes ?? (opts.quick ? [1 * 1024, 64 * 1024, 1024 * 1024] : [1024, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 16 * 1024 * 1024]);
  const SEG = opts.segs ?? (opts.quick ? [64 * 1024] : [16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024]);
  const budgetMs = opts.budget ?? (opts.quick ? 150 : 400);
  const dek = crypto.getRandomValues(new Uint8Array(32));
  const entries = [{ kind: 'kms', key_service_id: 'bench', key_id: 'bench/key', wrapped: '01'.repeat(97) }];
  const ctx = [['tenant', 'bench']];
  const rows = [];
  const rand = (n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536))); return b; };
  for (const seg of SEG) {
    for (const size of MSG) {
      const pt = rand(size);
      const row = { size, seg };
      for (const engine of ['wasm', 'webcrypto']) {
        const seal = () => lowLevel.sealWithDataKeyAssumingUniqueMessageId(dek, rand(32), seg, ctx, entries, pt, { engine });
        const sealed = await seal();
        const open = () => lowLevel.openWithDataKey(sealed, dek, { engine });
        for (const [op, f] of [['seal', seal], ['open', open]]) {
          for (let i = 0; i < 2; i++) await f(); // warm up
          let n = 0;
          const t0 = performance.now();
          let t = t0;
          while (t - t0 < budgetMs || n < 3) { await f(); n++; t = performance.now(); }
          const s = (t - t0) / 1000;
          row[`${engine}_${op}_MBps`] = +(n * size / s / 1e6).toFixed(1);
          row[`${engine}_${op}_msgps`] = Math.round(n / s);
        }
      }
      rows.push(row);
    }
  }
  return rows;
}

function table(rows, where) {
  const fmt = (n) => (n >= 1048576 ? `${n / 1048576} MiB` : `${n / 1024} KiB`);
  const out = [`${where}: MB/s (messages/s) per engine; WebCrypto with 8 segments in flight`,
    '| message | segment | wasm seal | WebCrypto seal | wasm open | WebCrypto open |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    out.push(`| ${fmt(r.size)} | ${fmt(r.seg)} | ${r.wasm_seal_MBps} (${r.wasm_seal_msgps}) | ${r.webcrypto_seal_MBps} (${r.webcrypto_seal_msgps}) | ${r.wasm_open_MBps} (${r.wasm_open_msgps}) | ${r.webcrypto_open_MBps} (${r.webcrypto_open_msgps}) |`);
  }
  return out.join('\n');
}

const args = process.argv.slice(2);
const arg = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const kib = (v) => (v === undefined ? undefined : v.split(',').map((x) => Math.round(Number(x) * KiB)));
const opts = { quick: args.includes('--quick'), sizes: kib(arg('--sizes')), segs: kib(arg('--segs')), budget: arg('--budget') && Number(arg('--budget')) };

if (args.includes('--chromium')) {
  const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<script type="module">import * as k from '/pkg/dist/index.browser.js'; window.keyseal = k;</script>`);
      return;
    }
    try {
      const body = await readFile(join(ROOT, path));
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch { res.writeHead(404); res.end(); }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.keyseal);
    const version = browser.version();
    const rows = await page.evaluate(async ([src, o]) => {
      const f = new Function(`return (${src})`)();
      return f(window.keyseal.lowLevel, o);
    }, [measure.toString(), opts]);
    console.log(table(rows, `Chromium ${version}`));
  } finally {
    await browser.close();
    server.close();
  }
} else {
  const { lowLevel } = await import(pathToFileURL(join(PKG, 'dist/index.node.js')).href);
  console.log(table(await measure(lowLevel, opts), `Node ${process.version}`));
}
