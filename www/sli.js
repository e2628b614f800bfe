// The SLI panel: reads ks.metrics() (the SDK's own counters) and the kmsCall events for the
// latency-over-time chart (metrics() percentiles are since page load; the chart wants a window).

import { drawLatency } from './chart.js';
import { ms, pct, el } from './format.js';

const WINDOW_MS = 30_000;     // percentile window of each chart point
const HISTORY_MS = 3 * 60_000; // chart x-axis
const calls = [];             // { t, latencyMs }
const points = [];            // { t, p50, p95, p99 }
export const timings = { rotateMs: null };

export function recordCall(ev) {
  calls.push({ t: Date.now(), latencyMs: ev.latencyMs });
}

function quantile(sorted, q) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function sample() {
  const now = Date.now();
  while (calls.length && calls[0].t < now - HISTORY_MS) calls.shift();
  while (points.length && points[0].t < now - HISTORY_MS) points.shift();
  const win = calls.filter((c) => c.t >= now - WINDOW_MS).map((c) => c.latencyMs).sort((a, b) => a - b);
  points.push({ t: now, p50: quantile(win, 0.5), p95: quantile(win, 0.95), p99: quantile(win, 0.99) });
}

const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);

export function render(ks) {
  const m = ks.metrics();
  const decTotal = m.decryptOk + sum(m.decryptFailed);
  document.getElementById('kpi-decrypt').textContent = decTotal ? `${pct(m.decryptSuccessRate ?? m.decryptOk / decTotal)} (${m.decryptOk}/${decTotal})` : '–';
  document.getElementById('kpi-cache').textContent = m.cacheHitRatio == null ? '–' : `${pct(m.cacheHitRatio)} (${m.cacheHits}/${m.cacheHits + m.cacheMisses})`;
  document.getElementById('kpi-rotate').textContent = ms(timings.rotateMs);
  document.getElementById('kpi-revoke').textContent = ms(m.lastTimeToRevokeMs);
  const ops = Object.entries(m.keyService);
  const totalCalls = ops.reduce((a, [, o]) => a + o.calls, 0);
  document.getElementById('kpi-calls').textContent = String(totalCalls);
  const win = calls.filter((c) => c.t >= Date.now() - WINDOW_MS).map((c) => c.latencyMs).sort((a, b) => a - b);
  document.getElementById('kpi-p95').textContent = win.length ? `${ms(quantile(win, 0.95))} (30 s)` : '–';

  const tb = document.querySelector('#ops-table tbody');
  tb.replaceChildren(...ops.map(([k, o]) => el('tr', {},
    el('th', { scope: 'row', text: k }), el('td', { text: String(o.calls) }), el('td', { text: ms(o.p50Ms) }),
    el('td', { text: ms(o.p95Ms) }), el('td', { text: ms(o.p99Ms) }),
    el('td', { text: Object.entries(o.errors).map(([c, n]) => `${c} ${n}`).join(', ') || '0' }))));
  if (!ops.length) tb.replaceChildren(el('tr', {}, el('td', { colspan: 6, text: 'no calls yet' })));

  const codes = new Map();
  const add = (code, col, n) => { if (!codes.has(code)) codes.set(code, [0, 0, 0]); codes.get(code)[col] += n; };
  for (const [, o] of ops) for (const [c, n] of Object.entries(o.errors)) add(c, 0, n);
  for (const [c, n] of Object.entries(m.encryptFailed)) add(c, 1, n);
  for (const [c, n] of Object.entries(m.decryptFailed)) add(c, 2, n);
  const fb = document.querySelector('#fail-table tbody');
  fb.replaceChildren(...[...codes].map(([c, v]) => el('tr', {}, el('th', { scope: 'row', text: c }), ...v.map((n) => el('td', { text: String(n) })))));
  if (!codes.size) fb.replaceChildren(el('tr', {}, el('td', { colspan: 4, text: 'no failures' })));

  drawLatency(document.getElementById('chart'), points, HISTORY_MS);
}

// The operator's side (demo/server.mjs /demo/ops): time to the primary key's next scheduled
// rotation and the newest audit records, as the key service exports them to a SIEM.
function until(ms) {
  if (ms <= 0) return 'due now';
  const m = Math.floor(ms / 60_000);
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  return d ? `in ${d} d ${h} h` : h ? `in ${h} h ${m % 60} min` : `in ${m} min`;
}

export async function refreshOps() {
  let o;
  try {
    const r = await fetch('/demo/ops');
    if (!r.ok) return;
    o = await r.json();
  } catch { return; }
  const rot = o.rotation;
  const kpi = document.getElementById('kpi-next-rotation');
  kpi.textContent = rot?.nextAtMs ? `${until(rot.nextAtMs - o.now)} (v${rot.version} → v${rot.version + 1})` : 'none scheduled';
  if (rot?.nextAtMs) kpi.title = `${rot.keyId}: every ${Math.round(rot.everyMs / 86_400_000)} d, next at ${new Date(rot.nextAtMs).toISOString()}`;
  const tb = document.querySelector('#audit-table tbody');
  tb.replaceChildren(...o.audit.map((a) => el('tr', { class: a.outcome === 'failure' ? 'bad' : '' },
    el('td', { text: String(a.seq) }), el('td', { text: a.time.slice(11, 19) }), el('th', { scope: 'row', text: a.action }),
    el('td', { text: a.user }), el('td', { text: a.keyId ? `${a.keyId}${a.keyVersion ? ` v${a.keyVersion}` : ''}` : '–' }),
    el('td', { text: a.outcome === 'failure' ? `failure: ${a.code}` : 'success' }), el('td', { text: a.reason || '–' }),
    el('td', { class: 'mono', text: a.hash.slice(0, 12) }))));
  if (!o.audit.length) tb.replaceChildren(el('tr', {}, el('td', { colspan: 8, text: 'no records yet' })));
}

export function start(ks) {
  sample();
  render(ks);
  refreshOps();
  setInterval(() => { sample(); render(ks); refreshOps(); }, 2000);
}
