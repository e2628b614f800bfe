// A tiny hand-drawn SVG line chart (no library): p50 / p95 / p99 latency over time.

const NS = 'http://www.w3.org/2000/svg';
const W = 600, H = 180, PAD = { l: 44, r: 8, t: 10, b: 22 };

function node(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

/** `points`: [{ t (ms epoch), p50, p95, p99 }] (values may be null = no calls in the window). */
export function drawLatency(container, points, windowMs) {
  const svg = node('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'chart-svg' });
  const now = Date.now();
  const t0 = now - windowMs;
  const vals = points.flatMap((p) => [p.p50, p.p95, p.p99]).filter((v) => v != null);
  const max = niceMax(Math.max(5, ...vals));
  const x = (t) => PAD.l + ((t - t0) / windowMs) * (W - PAD.l - PAD.r);
  const y = (v) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  for (const f of [0, 0.5, 1]) {
    svg.append(node('line', { x1: PAD.l, x2: W - PAD.r, y1: y(max * f), y2: y(max * f), class: 'grid' }));
    svg.append(node('text', { x: PAD.l - 4, y: y(max * f) + 4, 'text-anchor': 'end', class: 'axis' }, `${Math.round(max * f)} ms`));
  }
  svg.append(node('text', { x: PAD.l, y: H - 4, class: 'axis' }, `−${Math.round(windowMs / 60000)} min`));
  svg.append(node('text', { x: W - PAD.r, y: H - 4, 'text-anchor': 'end', class: 'axis' }, 'now'));
  for (const k of ['p50', 'p95', 'p99']) {
    // Break the line where a window had no calls.
    let d = '', pen = false;
    for (const p of points) {
      if (p.t < t0 || p[k] == null) { pen = false; continue; }
      d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(Math.min(p[k], max)).toFixed(1)} `;
      pen = true;
    }
    if (d) svg.append(node('path', { d, class: `line ${k}` }));
  }
  if (!vals.length) svg.append(node('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' }, 'no key-service calls yet'));
  container.replaceChildren(svg);
}

function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
