// `Range: bytes=…` for one range (RFC 9110 §14). Multiple ranges and other units are ignored
// (the whole object is served, as the RFC allows); an unsatisfiable range is 416.
import { HttpError } from './errors.js';

/** `{ start, end }` (end inclusive) within a plaintext of `total` bytes, or null for "no range". */
export function parseRange(header, total) {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  const unsatisfiable = () => new HttpError(416, 'RANGE_NOT_SATISFIABLE', 'range not satisfiable', { 'content-range': `bytes */${total}` });
  if (m[1] === '') {
    // suffix: the last N bytes
    const n = Number(m[2]);
    if (n === 0 || total === 0) throw unsatisfiable();
    return { start: Math.max(0, total - n), end: total - 1 };
  }
  const start = Number(m[1]);
  let end = m[2] === '' ? total - 1 : Number(m[2]);
  if (m[2] !== '' && end < start) return null; // invalid syntax: ignore the header
  if (start >= total) throw unsatisfiable();
  end = Math.min(end, total - 1);
  return { start, end };
}
