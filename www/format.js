// Small formatting helpers shared by the page modules.

export function bytes(n) {
  if (n == null) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function ms(x) {
  if (x == null || Number.isNaN(x)) return '–';
  if (x < 10) return `${x.toFixed(2)} ms`;
  if (x < 1000) return `${Math.round(x)} ms`;
  return `${(x / 1000).toFixed(2)} s`;
}

export function pct(x) { return x == null ? '–' : `${(x * 100).toFixed(1)} %`; }

/** A readable one-liner for any error: `CODE: message` for KeySealError, never a stack. */
export function errText(e) {
  if (e && typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code)) return `${e.code}: ${e.message}`;
  if (e && e.name === 'TypeError' && /fetch/i.test(e.message)) return `NETWORK: ${e.message}`;
  return `${(e && e.name) || 'Error'}: ${(e && e.message) || String(e)}`;
}

export async function sha256Hex(buf) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

export const short = (hex) => (hex ? `${hex.slice(0, 12)}…${hex.slice(-6)}` : '–');

/** Builds an element: el('p', { class: 'x', text: 'hi' }, child…). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null) e.append(c);
  return e;
}
