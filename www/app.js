// The demo page: seal in the browser, store ciphertext at the provider, decrypt and verify, and
// run the security team's controls (rotate + rewrap, revoke, outage) while the SLIs update.

import * as provider from './provider.js';
import * as sli from './sli.js';
import { bytes, ms, errText, sha256Hex, short, el } from './format.js';

const $ = (s) => document.querySelector(s);
/** Data-key cache bound: how long a revoked key can keep working in this page (see the note in the page). */
const CACHE_MS = 5000;
const LOCAL = 'keyseal-demo:local';

let ks;
let cfg;
let objects = [];
// What only this browser knows: original names and plaintext SHA-256 (never sent to the provider).
const local = JSON.parse(localStorage.getItem(LOCAL) || '{}');
const saveLocal = () => localStorage.setItem(LOCAL, JSON.stringify(local));

// ---------------------------------------------------------------------------------------------
// events: every key-service call feeds the latency chart; operations collect their own events to
// tell which service (or the cache) produced the data key.

const collectors = new Set();
function onEvent(ev) {
  if (ev.type === 'kmsCall') sli.recordCall(ev);
  for (const c of collectors) c.push(ev);
  logEvent(ev);
}
async function tracked(fn) {
  const evs = [];
  collectors.add(evs);
  try { return { value: await fn(), evs }; } catch (e) { e.events = evs; throw e; } finally { collectors.delete(evs); }
}
/** 'primary' | 'escrow' | 'cache' | null, plus a readable sentence. */
function answeredBy(evs) {
  const ok = evs.filter((e) => e.type === 'kmsCall' && e.ok && (e.op === 'unwrap' || e.op === 'generate'));
  const failed = evs.filter((e) => e.type === 'kmsCall' && !e.ok);
  const failNote = failed.length ? ` after ${failed.length} failed call(s) to ${[...new Set(failed.map((e) => `${e.service} (${e.code})`))].join(', ')}` : '';
  if (ok.length) { const e = ok[ok.length - 1]; return { who: e.service, text: `data key from ${e.service} key service ${e.url} in ${ms(e.latencyMs)}${failNote}` }; }
  if (evs.some((e) => e.type === 'cacheHit')) return { who: 'cache', text: `data key from this page's cache (≤ ${CACHE_MS / 1000} s old, no key-service call)${failNote}` };
  return { who: null, text: failNote.trim() };
}

const eventLog = [];
function logEvent(ev) {
  const t = new Date().toLocaleTimeString();
  let s;
  if (ev.type === 'kmsCall') s = `${ev.service} ${ev.op} ${ev.ok ? 'ok' : ev.code} ${ms(ev.latencyMs)} (attempt ${ev.attempt})`;
  else if (ev.type === 'encrypt' || ev.type === 'decrypt') s = `${ev.type} ${ev.ok ? 'ok' : ev.code} ${bytes(ev.bytes)}`;
  else if (ev.type === 'cachePurged') s = `cache purged (${ev.reason}) ${ev.keyId ?? 'all'}`;
  else s = `${ev.type} ${ev.service ?? ev.cache ?? ''} ${ev.keyId ?? ''}`;
  eventLog.unshift(el('li', { text: `${t} ${s}` }));
  if (eventLog.length > 200) eventLog.length = 200;
  scheduleLogRender();
}
let logPending = false;
function scheduleLogRender() {
  if (logPending) return;
  logPending = true;
  setTimeout(() => { logPending = false; $('#event-log').replaceChildren(...eventLog); }, 300);
}

// ---------------------------------------------------------------------------------------------
// boot

async function boot() {
  $('#cache-age').textContent = String(CACHE_MS / 1000);
  try {
    const keyseal = await import('/pkg/dist/index.browser.js');
    cfg = await provider.config();
    ks = await keyseal.KeySeal.create({
      keyService: { id: cfg.primary.id, urls: [cfg.primary.url] },
      keyId: cfg.primary.keyId,
      escrow: [{ id: cfg.escrow.id, urls: [cfg.escrow.url], keyId: cfg.escrow.keyId }],
      // Demo only: dev tokens from the demo server. A real app asks its identity provider.
      token: (r) => (r.service === cfg.escrow.id ? cfg.escrow.token : cfg.primary.token),
      cache: { maxAgeMs: CACHE_MS },
      // Short timeouts and a quick breaker so the outage step fails over in well under a second.
      timeoutMs: 3000,
      deadlineMs: 8000,
      retry: { maxRounds: 2, backoffBaseMs: 50, backoffMaxMs: 250, breakerThreshold: 3, breakerCooldownMs: 3000 },
      reason: 'keyseal demo page',
      onEvent,
    });
    window.demo = { ks }; // handy in devtools
    $('#boot').textContent = `keyseal ready. Primary key ${cfg.primary.keyId} at ${cfg.primary.url}; escrow key ${cfg.escrow.keyId} at ${cfg.escrow.url}.`;
    $('#boot').dataset.ready = '1';
  } catch (e) {
    $('#boot').textContent = `Could not start: ${errText(e)}`;
    $('#boot').classList.add('error');
    return;
  }
  sli.start(ks);
  refreshStatus();
  setInterval(refreshStatus, 4000);
  await refreshList();
}

async function refreshStatus() {
  try {
    const s = await provider.status();
    chip('#chip-primary', s.primaryRunning ? 'up' : 'down', s.primaryRunning ? 'running' : 'stopped');
    chip('#chip-escrow', s.escrowRunning ? 'up' : 'down', s.escrowRunning ? 'running' : 'stopped');
    if (s.key?.keyId) chip('#chip-key', s.key.state === 'enabled' ? 'up' : 'down', `${s.key.keyId} v${s.key.primaryVersion} ${s.key.state}`);
  } catch { chip('#chip-primary', 'unknown', 'demo server unreachable'); }
}
function chip(sel, state, text) { const c = $(sel); c.dataset.state = state; c.querySelector('span').textContent = text; }

// ---------------------------------------------------------------------------------------------
// streams

/**
 * Reads a stream to its end. Not `new Response(stream).blob()`: Chromium turns the stream's error
 * into a bare `TypeError: Failed to fetch`, and the page must show the KeySealError's code.
 */
async function collect(stream) {
  const chunks = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}
function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.byteLength, 0));
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.byteLength; }
  return out.buffer;
}

// ---------------------------------------------------------------------------------------------
// 1. seal and upload

const newId = (kind) => `${kind}-${Date.now().toString(36)}-${Array.from(crypto.getRandomValues(new Uint8Array(3)), (b) => b.toString(16).padStart(2, '0')).join('')}`;
const contextFor = (id, kind) => ({ app: 'keyseal-demo', tenant: 'acme', object: id, kind });

function setBusy(on) { for (const b of document.querySelectorAll('button')) if (b.dataset.keepEnabled !== '1') b.disabled = on || (b.id === 'file-encrypt' && !$('#file-input').files.length); }

async function sealAndUpload(kind, name, size, produce, plaintextSha) {
  const out = $('#seal-result');
  const enc = $('#enc-progress'), up = $('#up-progress');
  enc.value = 0; up.value = 0;
  enc.dataset.updates = '0';
  out.className = 'result'; out.textContent = `Encrypting ${name} (${bytes(size)}) in this page…`;
  const id = newId(kind);
  setBusy(true);
  try {
    const t0 = performance.now();
    let updates = 0; // how often the bar moved (shown to tests as data-updates)
    const { value: sealed, evs } = await tracked(() => produce(id, contextFor(id, kind), (p) => {
      enc.value = size ? p.plaintextBytes / size : 1;
      if (enc.value > 0 && enc.value < 1) enc.dataset.updates = String(++updates);
    }));
    const encMs = performance.now() - t0;
    enc.value = 1;
    out.textContent = `Encrypted in ${ms(encMs)}; uploading ${bytes(sealed.size)} of ciphertext…`;
    const t1 = performance.now();
    await provider.upload(id, sealed, (n, total) => { up.value = total ? n / total : 1; });
    const upMs = performance.now() - t1;
    up.value = 1;
    local[id] = { name, kind, size, sha256: plaintextSha };
    saveLocal();
    const rate = encMs > 0 ? ` (${(size / 1e6 / (encMs / 1000)).toFixed(1)} MB/s)` : '';
    out.textContent = `Sealed ${name} (${bytes(size)}) as ${id}: encrypt ${ms(encMs)}${rate}, upload ${ms(upMs)}. ${answeredBy(evs).text}.`;
    Object.assign(out.dataset, { id, encryptMs: String(Math.round(encMs)), uploadMs: String(Math.round(upMs)), outcome: 'ok' });
    await refreshList();
  } catch (e) {
    out.className = 'result error';
    out.textContent = `Encrypt/upload failed — ${errText(e)}`;
    out.dataset.outcome = 'error';
    out.dataset.code = e.code || '';
  } finally { setBusy(false); }
}

$('#text-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = $('#text-input').value;
  if (!text) { $('#seal-result').textContent = 'Type some text first.'; return; }
  const pt = new TextEncoder().encode(text);
  const sha = await sha256Hex(pt);
  await sealAndUpload('text', `text (${text.length} characters)`, pt.length, async (id, context, progress) => {
    const sealed = await ks.encrypt(pt, { context });
    progress({ plaintextBytes: pt.length });
    return new Blob([sealed]);
  }, sha);
});

const fileInput = $('#file-input');
function fileChosen() {
  const f = fileInput.files[0];
  $('#file-chosen').textContent = f ? `${f.name} — ${bytes(f.size)}` : 'No file chosen.';
  $('#file-encrypt').disabled = !f;
}
fileInput.addEventListener('change', fileChosen);
const drop = $('#drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files.length) { fileInput.files = e.dataTransfer.files; fileChosen(); }
});

$('#file-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = fileInput.files[0];
  if (!f) return;
  $('#seal-result').textContent = `Hashing ${f.name} (SHA-256, kept in this browser)…`;
  // Whole-buffer digest: fine for the demo's sizes (WebCrypto has no incremental SHA-256).
  const sha = await sha256Hex(await f.arrayBuffer());
  await sealAndUpload('file', f.name, f.size, async (id, context, progress) => {
    // Streaming: the file is read, sealed and collected chunk by chunk; Chromium backs a large Blob
    // with disk, so a big file never sits in a JS string or a single ArrayBuffer here.
    const sealedStream = f.stream().pipeThrough(ks.encryptStream({ context, onProgress: progress }));
    return new Blob(await collect(sealedStream));
  }, sha);
});

// ---------------------------------------------------------------------------------------------
// 2. the provider's view

async function refreshList() {
  try {
    objects = await provider.list();
  } catch (e) {
    $('#store-summary').textContent = `Could not list objects — ${errText(e)}`;
    return;
  }
  const total = objects.reduce((a, o) => a + o.size, 0);
  $('#store-summary').textContent = `${objects.length} object(s), ${bytes(total)} stored — all ciphertext.`;
  const box = $('#objects');
  const keep = new Map([...box.querySelectorAll('.object')].map((c) => [c.dataset.id, c.querySelector('.result')]));
  box.replaceChildren(...objects.map((o) => card(o, keep.get(o.id))));
}

function card(o, oldResult) {
  const mine = local[o.id];
  const primaryEntry = o.entries?.find((e) => e.keyServiceId === cfg.primary.id) ?? o.entries?.[0];
  const title = mine ? `${mine.name}` : o.id;
  const result = oldResult ?? el('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const dl = el('dl', {},
    el('dt', { text: 'object id' }), el('dd', { text: o.id }),
    el('dt', { text: 'stored size' }), el('dd', { class: 'size', text: `${bytes(o.size)} (${o.size} B; header ${o.headerLen ?? '?'} B)` }),
    el('dt', { text: 'key' }), el('dd', { class: 'key', text: primaryEntry ? `${primaryEntry.keyId} v${primaryEntry.keyVersion ?? '?'}` : '–' }),
    el('dt', { text: 'context (clear)' }), el('dd', { class: 'context' }, el('code', { text: JSON.stringify(o.context ?? {}) })),
    el('dt', { text: 'wrapped keys' }), el('dd', {}, el('ul', { class: 'entries' }, (o.entries ?? []).map((e) => el('li', {
      'data-service': e.keyServiceId, 'data-version': String(e.keyVersion ?? ''),
      text: `${e.keyServiceId}: ${e.keyId} v${e.keyVersion ?? '?'} (${e.kind}, ${e.wrappedLen} B)`,
    })))),
    el('dt', { text: 'header bytes' }), el('dd', {}, el('code', { class: 'hex', text: o.headerHex ?? '' })),
    el('dt', { text: 'body bytes' }), el('dd', {}, el('code', { class: 'hex body-hex', text: `${o.bodyHex ?? o.error ?? ''}` })),
    el('dt', { text: 'body entropy' }), el('dd', { class: 'entropy', text: o.bodyEntropy != null ? `${o.bodyEntropy} bits/byte (ciphertext ≈ 8; text ≈ 4–5)` : '–' }),
    el('dt', { text: 'body SHA-256 (provider)' }), el('dd', { class: 'body-sha' }, el('code', { text: o.bodySha256 ?? '–' })),
    el('dt', { text: 'plaintext SHA-256' }), el('dd', {}, el('code', { text: mine?.sha256 ? mine.sha256 : 'unknown to this browser' })),
  );
  const dec = el('button', { type: 'button', class: 'decrypt', text: 'Download & decrypt', 'aria-label': `Download and decrypt ${title}`, onclick: () => decryptObject(o, result) });
  const del = el('button', { type: 'button', class: 'delete', text: 'Delete', 'aria-label': `Delete ${title}`, onclick: async () => { await provider.remove(o.id).catch(() => {}); delete local[o.id]; saveLocal(); refreshList(); } });
  return el('article', { class: 'object card', 'data-id': o.id, 'data-kind': o.context?.kind ?? '' },
    el('h3', { text: title }), mine ? null : el('p', { class: 'note', text: 'Not sealed from this browser: name and plaintext hash unknown.' }),
    dl, el('div', { class: 'row' }, dec, del), result);
}

async function decryptObject(o, out) {
  const bar = $('#dl-progress');
  bar.value = 0;
  out.className = 'result';
  out.textContent = 'Downloading and decrypting…';
  delete out.dataset.outcome;
  setBusy(true);
  try {
    const t0 = performance.now();
    const { value: buf, evs } = await tracked(async () => {
      const { body, size } = await provider.download(o.id);
      // requireContext: the object must be the one we asked for (no swapping by the provider).
      const pt = body.pipeThrough(ks.decryptStream({ requireContext: { object: o.id }, onProgress: (p) => { bar.value = size ? p.sealedBytes / size : 1; } }));
      return concat(await collect(pt));
    });
    const decMs = performance.now() - t0;
    bar.value = 1;
    const sha = await sha256Hex(buf);
    const want = local[o.id]?.sha256;
    const verdict = want ? (want === sha ? 'match' : 'mismatch') : 'unknown';
    const by = answeredBy(evs);
    out.replaceChildren(
      el('strong', { class: `verdict ${verdict}`, text: verdict === 'match' ? '✓ SHA-256 matches the original' : verdict === 'mismatch' ? '✗ SHA-256 does NOT match' : 'decrypted (original unknown here)' }),
      el('span', { text: ` — ${bytes(buf.byteLength)} in ${ms(decMs)}; SHA-256 ${short(sha)}; ${by.text}.` }),
      ...(o.context?.kind === 'text' ? [el('blockquote', { class: 'plain', text: new TextDecoder().decode(buf.slice(0, 2000)) })] : []),
    );
    Object.assign(out.dataset, { outcome: verdict, sha256: sha, decryptMs: String(Math.round(decMs)), answeredBy: by.who ?? '', code: '' });
  } catch (e) {
    out.className = 'result error';
    const by = e.events ? answeredBy(e.events).text : '';
    out.textContent = `Decrypt failed — ${errText(e)}${by ? ` (${by})` : ''}`;
    Object.assign(out.dataset, { outcome: 'error', code: e.code || '' });
  } finally { setBusy(false); }
}

$('#refresh').addEventListener('click', refreshList);

// ---------------------------------------------------------------------------------------------
// 3. security team's controls

async function controlStep(action, text) {
  const out = $('#control-result');
  out.className = 'result';
  const r = await provider.control(action);
  await refreshStatus();
  out.textContent = `${new Date(r.at).toLocaleTimeString()}: ${text(r)}`;
  return r;
}

function guard(fn) {
  return async () => {
    setBusy(true);
    try { await fn(); } catch (e) {
      const out = $('#control-result');
      out.className = 'result error';
      out.textContent = errText(e);
    } finally { setBusy(false); }
  };
}

$('#rotate').addEventListener('click', guard(async () => {
  const r = await controlStep('rotate', (r) => `key ${r.key.keyId} rotated: new data keys now use version ${r.key.primaryVersion}. Existing objects still name the old version until rewrapped.`);
  $('#rewrap-result').textContent = `Key is at version ${r.key.primaryVersion}. Press “Rewrap all objects”.`;
}));

$('#rewrap').addEventListener('click', guard(async () => {
  const out = $('#rewrap-result');
  const bar = $('#rewrap-progress');
  const table = $('#rewrap-table');
  out.className = 'result';
  bar.value = 0;
  await refreshList();
  const list = objects.filter((o) => o.headerLen);
  const rows = new Map();
  const started = new Map();
  const items = list.map((o) => ({
    id: o.id,
    // Only the header crosses the wire: a Range request for its bytes.
    readHeader: () => { started.set(o.id, performance.now()); return provider.readRange(o.id, 0, o.headerLen); },
    writeHeader: async (header, bodyOffset) => {
      const r = await provider.writeHeader(o.id, header, bodyOffset);
      rows.set(o.id, { ...r, ms: performance.now() - started.get(o.id), size: o.size });
    },
  }));
  out.textContent = `Rewrapping ${items.length} object(s)…`;
  const t0 = performance.now();
  const res = await ks.rewrapAll(items, { concurrency: 2, onProgress: (p) => { bar.value = items.length ? (p.done + p.skipped + p.failed) / items.length : 1; } });
  const total = performance.now() - t0;
  bar.value = 1;
  sli.timings.rotateMs = total;
  const unchanged = [...rows.values()].filter((r) => r.bodyUnchanged).length;
  const per = rows.size ? [...rows.values()].reduce((a, r) => a + r.ms, 0) / rows.size : null;
  out.textContent = `Rewrap all to version ${res.targetVersion}: ${res.done} rewritten, ${res.skipped} already current, ${res.failed.length} failed in ${ms(total)}` +
    `${per != null ? ` (${ms(per)} per object on average)` : ''}. Bodies unchanged: ${unchanged}/${rows.size}.` +
    (res.failed.length ? ` Failed: ${res.failed.map((f) => `${f.id} ${f.code}: ${f.message}`).join('; ')}` : '');
  if (res.failed.length) out.className = 'result error';
  Object.assign(out.dataset, { done: String(res.done), skipped: String(res.skipped), failed: String(res.failed.length), unchanged: String(unchanged), targetVersion: String(res.targetVersion), totalMs: String(Math.round(total)) });
  table.hidden = rows.size === 0;
  table.querySelector('tbody').replaceChildren(...[...rows].map(([id, r]) => el('tr', { 'data-unchanged': String(r.bodyUnchanged) },
    el('th', { scope: 'row', text: `${local[id]?.name ?? id} (${bytes(r.size)})` }),
    el('td', { text: `${ms(r.ms)}${r.verifyMs != null ? ` (incl. ${ms(r.verifyMs)} provider hashing)` : ''}` }),
    el('td', { text: `${r.headerBytes} B ${r.inPlace ? 'in place' : 'rewritten'}` }),
    el('td', {}, el('code', { text: `${short(r.bodySha256Before)} → ${short(r.bodySha256After)}` }), el('span', { class: r.bodyUnchanged ? 'ok' : 'bad', text: r.bodyUnchanged ? ' ✓ unchanged' : ' ✗ CHANGED' })))));
  sli.render(ks);
  await refreshList();
}));

/** The smallest object, fetched once: the probe decrypts it repeatedly without re-downloading. */
async function probeObject() {
  await refreshList();
  const o = [...objects].filter((x) => x.headerLen).sort((a, b) => a.size - b.size)[0];
  if (!o) throw Object.assign(new Error('upload something first: the probe decrypts the smallest object'), { name: 'Demo' });
  return { o, sealed: await provider.readRange(o.id, 0, o.size) };
}

function probeLine(text, cls = '') {
  const li = el('li', { class: cls, text });
  $('#probe-log').append(li);
  return li;
}

$('#disable').addEventListener('click', guard(async () => {
  $('#probe-log').replaceChildren();
  const { o, sealed } = await probeObject();
  const r = await controlStep('disable', (r) => `key ${r.key.keyId} disabled (revoked) by the security team. Probing: decrypting ${local[o.id]?.name ?? o.id} every 500 ms…`);
  const t0 = performance.now();
  const until = t0 + CACHE_MS + 10_000;
  for (let n = 1; performance.now() < until; n++) {
    try {
      const { evs } = await tracked(() => ks.decrypt(sealed, { requireContext: { object: o.id } }));
      probeLine(`+${ms(performance.now() - t0)} attempt ${n}: still opens — ${answeredBy(evs).text}`);
    } catch (e) {
      const out = $('#control-result');
      if (e.code === 'KEY_DISABLED') {
        const ttr = ks.metrics().lastTimeToRevokeMs;
        probeLine(`+${ms(performance.now() - t0)} attempt ${n}: ${errText(e)}`, 'bad');
        out.className = 'result error';
        out.textContent = `Revoked: ${errText(e)}. Time to revoke ${ms(ttr)} (from the key service's disabled_at to the first refusal seen here; metrics().lastTimeToRevokeMs).`;
        Object.assign(out.dataset, { code: e.code, timeToRevokeMs: String(ttr ?? '') });
      } else {
        probeLine(`attempt ${n}: ${errText(e)}`, 'bad');
        out.className = 'result error';
        out.textContent = `Probe stopped: ${errText(e)}`;
        out.dataset.code = e.code || '';
      }
      sli.render(ks);
      return r;
    }
    await new Promise((res) => setTimeout(res, 500));
  }
  probeLine('the key still works after the cache bound: revocation did NOT bite', 'bad');
}));

$('#enable').addEventListener('click', guard(async () => {
  await controlStep('enable', (r) => `key ${r.key.keyId} enabled again (v${r.key.primaryVersion}). Decrypts work again.`);
  $('#control-result').dataset.code = '';
}));

$('#stop-primary').addEventListener('click', guard(async () => {
  await controlStep('primary/stop', () => 'primary key service stopped. Decrypts fail over to the escrow service (use “Forget cached data keys” first to make sure the page has to ask).');
}));
$('#start-primary').addEventListener('click', guard(async () => {
  await controlStep('primary/start', () => 'primary key service started again on the same address.');
}));
$('#purge').addEventListener('click', () => {
  const n = ks.purge();
  $('#control-result').className = 'result';
  $('#control-result').textContent = `Forgot ${n} cached data key(s): the next decrypt asks a key service.`;
});

boot();
