#!/usr/bin/env node
// End-to-end test of `make demo`: starts demo/server.mjs (its own two key services, a temp store
// and temp key databases, free ports), drives the page in headless Chromium through the whole story
// via the UI only, then checks the provider's store for plaintext. Each step is one test; a step
// that fails stops the steps that depend on it (they count as failed too).
// Screenshots: target/demo-artifacts/NN-step.png. Last line: `demo-e2e: N passed, M failed`.
// Env: KEYSEAL_DEMO_E2E_MIB (size of the big file, default 50)  KEYSEAL_DEMO_E2E_VERBOSE=1

import { mkdtempSync, mkdirSync, rmSync, readdirSync, readFileSync, statSync, openSync, writeSync, closeSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../../js/test/support/chromium.mjs';
import { spawnTracked, stopAll, onSignal } from '../../js/test/support/processes.mjs';
import { freePort } from '../../js/test/support/net.mjs';
import { ROOT } from '../../js/test/support/paths.mjs';

const ART = join(ROOT, 'target/demo-artifacts');
const MIB = Number(process.env.KEYSEAL_DEMO_E2E_MIB || 50);
const VERBOSE = process.env.KEYSEAL_DEMO_E2E_VERBOSE === '1';
const log = (...a) => console.error('[demo-e2e]', ...a);

// The demo server is tracked (js/test/support/processes.mjs) and killed on every exit path. At the
// end and on a signal it gets a SIGTERM first, so that it stops its own key services; those are
// also listed in KEYSEAL_PIDFILE when scripts/demo-test.sh runs this.

let server = null;
let browser = null;
onSignal(async () => {
  console.log('demo-e2e: 0 passed, 1 failed');
  await stopAll({ graceMs: 3000 });
  process.exit(130);
});

const tmp = mkdtempSync(join(tmpdir(), 'keyseal-demo-e2e-'));
const STORE = join(tmp, 'store');
mkdirSync(ART, { recursive: true });
for (const f of readdirSync(ART)) if (f.endsWith('.png')) rmSync(join(ART, f));

async function startDemo() {
  const port = await freePort();
  server = spawnTracked(process.execPath, [join(ROOT, 'demo/server.mjs')], {
    env: { ...process.env, KEYSEAL_DEMO_PORT: String(port), KEYSEAL_DEMO_STORE: STORE, KEYSEAL_DEMO_KMS_DIR: join(tmp, 'kms') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '', err = '';
  server.stderr.on('data', (d) => { err += d; if (VERBOSE) process.stderr.write(d); });
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`demo server: no URL within 40 s; ${err}`)), 40_000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/KEYSEAL_DEMO_URL=(\S+)/);
      if (m) { clearTimeout(t); res(m[1]); }
    });
    server.on('exit', (c) => { clearTimeout(t); rej(new Error(`demo server exited (${c}): ${err.trim().slice(-2000)}`)); });
  });
}

// ---------------------------------------------------------------------------------------------
// steps

const results = [];
let shot = 0;
let page;
const measured = {};

async function step(name, fn) {
  const t0 = Date.now();
  let ok = true, error = '';
  try { await fn(); } catch (e) { ok = false; error = String(e && e.message || e).split('\n').slice(0, 6).join(' | '); }
  shot++;
  const file = join(ART, `${String(shot).padStart(2, '0')}-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 50)}.png`);
  if (page) await page.screenshot({ path: file, fullPage: true, timeout: 20_000 }).catch((e) => log(`screenshot failed: ${e.message}`));
  results.push({ name, ok, error, ms: Date.now() - t0 });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${String(shot).padStart(2, '0')} ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)${ok ? '' : ` — ${error}`}`);
  return ok;
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

/** Waits for the element's data-outcome (set when an operation finishes) and returns its dataset. */
async function outcomeOf(selector, timeout = 60_000) {
  await page.waitForFunction((s) => { const e = document.querySelector(s); return e && e.dataset.outcome; }, selector, { timeout });
  return page.$eval(selector, (e) => ({ ...e.dataset, text: e.textContent }));
}
const card = (id) => `article.object[data-id="${id}"]`;
async function decryptCard(id, timeout = 120_000) {
  await page.$eval(`${card(id)} .result`, (e) => { delete e.dataset.outcome; });
  await page.click(`${card(id)} button.decrypt`);
  return outcomeOf(`${card(id)} .result`, timeout);
}
async function waitEnabled(sel, timeout = 60_000) {
  await page.waitForFunction((s) => { const b = document.querySelector(s); return b && !b.disabled; }, sel, { timeout });
}

const TEXT_MARKER = `TEXT-MARKER-${randomBytes(6).toString('hex')}`;
const FILE_MARKER = `FILE-MARKER-${randomBytes(6).toString('hex')}`;

function makeBigFile() {
  // Random bytes with the marker every MiB (and at the very start and end): a provider that stored
  // any plaintext segment would show it.
  const path = join(tmp, 'big-input.bin');
  const fd = openSync(path, 'w');
  const marker = Buffer.from(`\n${FILE_MARKER}\n`);
  const h = createHash('sha256');
  for (let i = 0; i < MIB; i++) {
    const b = randomBytes(1 << 20);
    marker.copy(b, 0);
    if (i === MIB - 1) marker.copy(b, b.length - marker.length);
    h.update(b);
    writeSync(fd, b);
  }
  closeSync(fd);
  return { path, sha256: h.digest('hex'), size: MIB << 20 };
}

async function main() {
  const url = await startDemo();
  log(`demo at ${url}`);
  const big = makeBigFile();
  ({ headerLength } = await import(pathToFileURL(join(ROOT, 'pkg/dist/index.node.js')).href));
  browser = await launchChromium();
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await ctx.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); if (VERBOSE) log(`page ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  // docs/DESIGN.md design C: the page's encrypts, decrypts, streams, ranges and rotation run on the
  // SDK in JS over crypto.subtle; the .wasm is for runtimes without it and is never fetched here
  const wasmFetched = [];
  page.on('request', (r) => { if (new URL(r.url()).pathname.endsWith('.wasm')) wasmFetched.push(r.url()); });
  page.on('requestfailed', (r) => { if (VERBOSE) log(`request failed ${r.url()} ${r.failure()?.errorText}`); });

  let textId, bigId;
  const okLoad = await step('page loads, keyseal ready', async () => {
    await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForSelector('#boot[data-ready="1"]', { timeout: 60_000 });
    const external = await page.$$eval('script[src], link[href]', (els) => els.map((e) => e.src || e.href).filter((u) => !u.startsWith(location.origin)));
    assert(external.length === 0, `external resources: ${external}`);
    await page.waitForFunction(() => document.querySelector('#chip-primary').dataset.state === 'up', null, { timeout: 15_000 });
  });
  if (!okLoad) return;

  await step('text: encrypt in the page and upload', async () => {
    await page.fill('#text-input', `Quarterly numbers — ${TEXT_MARKER} — do not share`);
    await page.click('#text-encrypt');
    const r = await outcomeOf('#seal-result');
    assert(r.outcome === 'ok', r.text);
    textId = r.id;
    await page.waitForSelector(card(textId));
  });

  await step('text: download, decrypt, SHA-256 matches', async () => {
    const r = await decryptCard(textId);
    assert(r.outcome === 'match', r.text);
    const shown = await page.$eval(`${card(textId)} .plain`, (e) => e.textContent);
    assert(shown.includes(TEXT_MARKER), 'decrypted text not shown');
  });

  const okBig = await step(`file: ${MIB} MiB encrypted with progress (encryptStream) and uploaded`, async () => {
    await page.setInputFiles('#file-input', big.path);
    await waitEnabled('#file-encrypt');
    await page.$eval('#seal-result', (e) => { delete e.dataset.outcome; });
    await page.click('#file-encrypt');
    const r = await outcomeOf('#seal-result', 180_000);
    assert(r.outcome === 'ok', r.text);
    bigId = r.id;
    measured.encryptMs = Number(r.encryptMs);
    measured.uploadMs = Number(r.uploadMs);
    const updates = Number(await page.$eval('#enc-progress', (e) => e.dataset.updates));
    assert(updates >= 10, `progress bar moved ${updates} times`);
    measured.progressUpdates = updates;
    await page.waitForSelector(card(bigId));
    const stored = statSync(join(STORE, `${bigId}.sealed`)).size;
    assert(stored > big.size && stored < big.size * 1.01, `stored ${stored} B for ${big.size} B plaintext`);
  });

  await step('object list: size, key id + version, context, primary + escrow entries, ciphertext preview', async () => {
    await page.waitForSelector(card(bigId), { timeout: 15_000 });
    const facts = await page.$eval(card(bigId), (c) => ({
      size: c.querySelector('.size').textContent,
      key: c.querySelector('.key').textContent,
      context: c.querySelector('.context').textContent,
      entries: [...c.querySelectorAll('.entries li')].map((l) => ({ service: l.dataset.service, version: l.dataset.version, text: l.textContent })),
      hex: c.querySelector('.body-hex').textContent,
      entropy: c.querySelector('.entropy').textContent,
    }));
    assert(facts.size.includes(String(statSync(join(STORE, `${bigId}.sealed`)).size)), `size ${facts.size}`);
    assert(facts.key === 'acme/demo v1', `key ${facts.key}`);
    assert(JSON.parse(facts.context).object === bigId, `context ${facts.context}`);
    assert(facts.entries.length === 2 && facts.entries[0].service === 'primary' && facts.entries[1].service === 'escrow', JSON.stringify(facts.entries));
    assert(facts.entries[1].text.includes('acme/escrow'), facts.entries[1].text);
    assert(/^([0-9a-f]{2} ){47}[0-9a-f]{2}$/.test(facts.hex), `hex ${facts.hex}`);
    assert(parseFloat(facts.entropy) > 7.9, `entropy ${facts.entropy}`);
  });

  if (okBig) {
    await step(`file: ${MIB} MiB downloaded, decrypted (decryptStream), SHA-256 matches`, async () => {
      await page.click('#purge'); // make the page ask the key service, not its cache
      const r = await decryptCard(bigId, 180_000);
      assert(r.outcome === 'match', r.text);
      assert(r.sha256 === big.sha256, `page SHA ${r.sha256} != file SHA ${big.sha256}`);
      assert(r.answeredBy === 'primary', `answered by ${r.answeredBy}`);
      measured.decryptMs = Number(r.decryptMs);
    });
  }

  const bodyBefore = {};
  for (const f of readdirSync(STORE).filter((x) => x.endsWith('.sealed'))) bodyBefore[f] = await bodySha(join(STORE, f));
  await step('rotate key, then rewrap all: headers only, bodies unchanged, entries on v2', async () => {
    await page.click('#rotate');
    await page.waitForFunction(() => /version 2/.test(document.querySelector('#control-result').textContent), null, { timeout: 30_000 });
    await waitEnabled('#rewrap');
    await page.click('#rewrap');
    await page.waitForFunction(() => document.querySelector('#rewrap-result').dataset.done !== undefined, null, { timeout: 120_000 });
    const r = await page.$eval('#rewrap-result', (e) => ({ ...e.dataset, text: e.textContent }));
    const n = Object.keys(bodyBefore).length;
    assert(r.done === String(n) && r.failed === '0' && r.unchanged === String(n) && r.targetVersion === '2', r.text);
    measured.rewrapTotalMs = Number(r.totalMs);
    measured.rewrapPerObject = await page.$$eval('#rewrap-table tbody tr', (rows) => rows.map((tr) => `${tr.cells[0].textContent}: ${tr.cells[1].textContent}`));
    for (const [f, sha] of Object.entries(bodyBefore)) assert(await bodySha(join(STORE, f)) === sha, `${f} body changed on disk`);
    await page.waitForFunction(() => [...document.querySelectorAll('.entries li[data-service="primary"]')].every((l) => l.dataset.version === '2'), null, { timeout: 15_000 });
  });

  await step('after rewrap: text decrypts under v2', async () => {
    await page.click('#purge');
    const r = await decryptCard(textId);
    assert(r.outcome === 'match', r.text);
  });

  await step('disable key: decrypt refused with KEY_DISABLED, time to revoke measured', async () => {
    await page.click('#disable');
    await page.waitForFunction(() => document.querySelector('#control-result').dataset.code, null, { timeout: 30_000 });
    const r = await page.$eval('#control-result', (e) => ({ ...e.dataset, text: e.textContent }));
    assert(r.code === 'KEY_DISABLED', r.text);
    assert(/KEY_DISABLED: .+/.test(r.text) && Number(r.timeToRevokeMs) >= 0 && r.timeToRevokeMs !== '', r.text);
    measured.timeToRevokeMs = Number(r.timeToRevokeMs);
    await waitEnabled('button.decrypt');
    const d = await decryptCard(textId);
    assert(d.outcome === 'error' && d.code === 'KEY_DISABLED' && d.text.includes('KEY_DISABLED'), d.text);
    assert(!/\bat .+:\d+:\d+/.test(d.text), `stack trace shown: ${d.text}`);
  });

  await step('enable key: decrypt works again', async () => {
    await page.click('#enable');
    await page.waitForFunction(() => /enabled again/.test(document.querySelector('#control-result').textContent), null, { timeout: 30_000 });
    await waitEnabled('button.decrypt');
    const r = await decryptCard(textId);
    assert(r.outcome === 'match', r.text);
  });

  await step('stop primary key service: decrypt fails over to escrow', async () => {
    await page.click('#stop-primary');
    await page.waitForFunction(() => document.querySelector('#chip-primary').dataset.state === 'down', null, { timeout: 30_000 });
    await waitEnabled('#purge');
    await page.click('#purge');
    const r = await decryptCard(textId);
    assert(r.outcome === 'match', r.text);
    assert(r.answeredBy === 'escrow', `answered by ${r.answeredBy}: ${r.text}`);
  });

  await step('start primary again: decrypt answered by primary', async () => {
    await page.click('#start-primary');
    await page.waitForFunction(() => document.querySelector('#chip-primary').dataset.state === 'up', null, { timeout: 30_000 });
    await waitEnabled('#purge');
    // The circuit breaker toward the primary may still be open for its cool-down (3 s).
    await page.waitForTimeout(3500);
    await page.click('#purge');
    const r = await decryptCard(textId);
    assert(r.outcome === 'match' && r.answeredBy === 'primary', `${r.answeredBy}: ${r.text}`);
  });

  await step('SLI panel shows numbers', async () => {
    await page.waitForTimeout(2200); // one sampling tick
    const k = await page.$$eval('.kpi', (ks) => Object.fromEntries(ks.map((x) => [x.querySelector('.k').textContent, x.querySelector('.v').textContent])));
    measured.sli = k;
    for (const [name, v] of Object.entries(k)) assert(/\d/.test(v), `${name}: ${v}`);
    const paths = await page.$$eval('#chart path.line', (p) => p.length);
    assert(paths >= 3, `chart lines: ${paths}`);
    const rows = await page.$$eval('#ops-table tbody tr', (r) => r.map((x) => x.textContent));
    assert(rows.length >= 2 && rows.some((r) => /unwrap/.test(r)), JSON.stringify(rows));
    const fails = await page.$$eval('#fail-table tbody tr th', (r) => r.map((x) => x.textContent));
    assert(fails.includes('KEY_DISABLED'), `failure codes: ${fails}`);
  });

  await step('SLI panel: next scheduled rotation and the audit log as a SIEM receives it', async () => {
    const next = await page.textContent('#kpi-next-rotation');
    assert(/^in (29 d|30 d|\d+ d \d+ h)/.test(next) && /v\d+ → v\d+/.test(next), `next rotation: ${next}`);
    // the page shows what the key service exported: the newest record and its chain hash
    const ops = await (await fetch(new URL("/demo/ops", url))).json();
    assert(ops.rotation && ops.rotation.everyMs === 30 * 86_400_000, JSON.stringify(ops.rotation));
    await page.waitForFunction(() => document.querySelectorAll('#audit-table tbody tr td.mono').length > 0, null, { timeout: 10_000 });
    const rows = await page.$$eval('#audit-table tbody tr', (r) => r.map((x) => [...x.children].map((c) => c.textContent)));
    measured.auditRows = rows.length;
    assert(rows.length >= 3 && rows.length <= 10, `audit rows: ${rows.length}`);
    for (const r of rows) assert(r.length === 8 && /^[0-9a-f]{12}$/.test(r[7]) && /^\d+$/.test(r[0]), JSON.stringify(r));
    assert(rows.some((r) => /^(generate|unwrap|rewrap|wrap)/.test(r[2]) && r[3] === 'dev'), `SDK calls by the dev token: ${JSON.stringify(rows)}`);
    assert(!rows.some((r) => r[2] === 'key.show'), 'status polls are left out');
    const seqs = rows.map((r) => Number(r[0]));
    assert(seqs.every((x, i) => i === 0 || x < seqs[i - 1]), `newest first: ${seqs}`);
    assert(ops.audit.length && Number(rows[0][0]) <= ops.audit[0].seq, 'the panel is not ahead of the key service');
  });

  await step('phone width (375 px): no horizontal overflow', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.waitForTimeout(300);
    const o = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
    assert(o.sw <= o.cw, `scrollWidth ${o.sw} > clientWidth ${o.cw}`);
    // the screenshot of this step is taken at phone width (full page); the next step restores the
    // desktop size. Also one viewport-sized shot of the controls, readable at phone scale.
    await page.$eval('#security', (e) => e.scrollIntoView());
    await page.screenshot({ path: join(ART, `${String(shot + 1).padStart(2, '0')}-phone-controls.png`) });
  });

  await step('the whole walk fetched no .wasm (the SDK in JS over crypto.subtle)', async () => {
    assert(wasmFetched.length === 0, `fetched: ${wasmFetched.join(', ')}`);
  });

  await step('no page errors, no raw stacks', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    const bad = consoleErrors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED/.test(e));
    assert(bad.length === 0, bad.slice(0, 3).join(' | '));
  });

  await step('provider store holds no plaintext marker', async () => {
    const files = readdirSync(STORE);
    assert(files.length >= 2, `store has ${files.length} files`);
    for (const f of files) {
      const b = readFileSync(join(STORE, f));
      for (const m of [TEXT_MARKER, FILE_MARKER, TEXT_MARKER.slice(0, 16), 'Quarterly numbers']) assert(b.indexOf(m) === -1, `${f} contains ${m}`);
    }
  });
}

let headerLength;
/** SHA-256 of everything after the header (header length from the package's own headerLength). */
async function bodySha(file) {
  const b = readFileSync(file);
  const { headerLen } = await headerLength(b.subarray(0, 65536));
  return createHash('sha256').update(b.subarray(headerLen)).digest('hex');
}

let fatal = null;
const overall = setTimeout(() => { log('gave up after 12 min'); finish(1); }, 12 * 60_000);
try { await main(); } catch (e) { fatal = e; log(`fatal: ${e && e.stack || e}`); }
finish(fatal ? 1 : 0);

async function finish() {
  clearTimeout(overall);
  if (browser) await browser.close().catch(() => {});
  await stopAll({ graceMs: 3000 });
  if (fatal) results.push({ name: 'harness', ok: false, error: String(fatal.message || fatal) });
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  if (Object.keys(measured).length) console.log(`measured: ${JSON.stringify(measured)}`);
  if (!process.env.KEYSEAL_DEMO_E2E_KEEP) rmSync(tmp, { recursive: true, force: true });
  console.log(`demo-e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}
