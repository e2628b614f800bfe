// W3C Trace Context (the Rust is src/trace.rs): each key-service attempt is a child span of the
// caller's current `traceparent` — the same trace id and flags, a fresh span id.
import { toHex } from '../format/crypto.js';

const isHex = (s, len) => typeof s === 'string' && s.length === len && /^[0-9a-f]+$/.test(s);

/**
 * The child of `parent` with span id `span`: `{ header, traceId, spanId }`, or null when `parent`
 * is not a valid `traceparent` (version `ff`, all-zero ids, wrong lengths or case).
 */
export function childOf(parent, span) {
  if (typeof parent !== 'string') return null;
  const parts = parent.trim().split('-');
  if (parts.length < 4) return null;
  const [version, traceId, parentId, flags] = parts;
  if (!isHex(version, 2) || version === 'ff' || (version === '00' && parts.length > 4)) return null;
  if (!isHex(traceId, 32) || /^0+$/.test(traceId) || !isHex(parentId, 16) || !isHex(flags, 2)) return null;
  if (/^0+$/.test(parentId) || !isHex(span, 16)) return null;
  return { header: `00-${traceId}-${span}-${flags}`, traceId, spanId: span };
}

/** A fresh random span id (8 bytes, hex; never all zero). */
export function newSpanId() {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(8));
  if (b.every((x) => x === 0)) b[7] = 1;
  return toHex(b);
}
