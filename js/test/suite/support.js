// What the suite's areas share: assertions, byte and stream helpers, and `suiteContext`, the
// per-run object every area registers its tests on (the KeySeal factory, the key services, the
// fault server and control endpoint of the harness). Runtime-agnostic like the rest of the suite.

export const enc = new TextEncoder();
export const dec = new TextDecoder();

/** The segment size most stream, range, rotation and engine tests seal with. */
export const S = 1024;
/** Odd chunk sizes streams are fed in. */
export const SIZES = [1, 7, 333, 1500, 4099, 64];
/** Bytes of the AES-GCM tag that ends every segment (docs/FORMAT.md §6.1). */
export const TAG = 16;

// ---------------------------------------------------------------------------------------------
// assertions

export class AssertionError extends Error {}

export function assert(cond, msg) {
  if (!cond) throw new AssertionError(msg || 'assertion failed');
}
export function eq(actual, expected, msg) {
  if (actual !== expected) {
    throw new AssertionError(`${msg ? msg + ': ' : ''}expected ${show(expected)}, got ${show(actual)}`);
  }
}
export function show(v) {
  try { return typeof v === 'string' ? JSON.stringify(v.length > 200 ? v.slice(0, 200) + '…' : v) : JSON.stringify(v); } catch { return String(v); }
}
export function bytesEq(a, b, msg) {
  assert(a instanceof Uint8Array, `${msg || 'value'}: expected a Uint8Array, got ${Object.prototype.toString.call(a)}`);
  if (a.length !== b.length) throw new AssertionError(`${msg || 'bytes'}: length ${a.length} != ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new AssertionError(`${msg || 'bytes'}: differ at ${i}`);
  }
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new AssertionError(`${what}: no result within ${ms} ms`)), ms); }),
  ]);
}

// ---------------------------------------------------------------------------------------------
// bytes

export function hex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}
export function toHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
export function toB64(b) {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < b.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < b.length ? B64[n & 63] : '=');
  }
  return s;
}
export function fromB64(s) {
  const clean = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0, acc = 0, j = 0;
  for (const c of clean) {
    acc = (acc << 6) | B64.indexOf(c);
    bits += 6;
    if (bits >= 8) { bits -= 8; out[j++] = (acc >> bits) & 255; }
  }
  return out;
}
export function randomBytes(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}
export function uid() {
  return toHex(randomBytes(8));
}
export function indexOf(hay, needle) {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
export function pairsToObject(pairs) {
  const o = {};
  for (const [k, v] of pairs) o[k] = v;
  return o;
}
/** Context pairs as the header orders them: by the UTF-8 bytes of the key (docs/FORMAT.md §3.3). */
export function sortedObject(pairs) {
  const sorted = [...pairs].sort((a, b) => cmpBytes(enc.encode(a[0]), enc.encode(b[0])));
  return pairsToObject(sorted);
}
function cmpBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function concat(chunks) {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

// ---------------------------------------------------------------------------------------------
// streams

/** A ReadableStream of `bytes` cut into pieces whose sizes cycle through `sizes`. */
export function source(bytes, sizes) {
  let at = 0, i = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) { controller.close(); return; }
      const n = sizes[i++ % sizes.length];
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}
/** Reads a stream to its end or its error: `{ bytes, chunks, error }`. */
export async function drain(readable) {
  const chunks = [];
  let error = null;
  const r = readable.getReader();
  try {
    for (;;) {
      const { done, value } = await r.read();
      if (done) break;
      chunks.push(value);
    }
  } catch (e) {
    error = e;
  }
  return { bytes: concat(chunks), chunks, error };
}

// ---------------------------------------------------------------------------------------------
// segments and the authenticated part, from the package's own answers

/**
 * Offset of segment `k` in a sealed message, from the package's `inspect` answer (`headerLen`,
 * `segmentSize`): tests that cut, swap or flip whole segments use it to find them.
 */
export function segmentAt(info, k) {
  return info.headerLen + k * (info.segmentSize + TAG);
}

/**
 * Body bytes of segments `first … last` of a message with plaintext length L and segment size S,
 * computed here from docs/FORMAT.md §6.1/§6.3 on purpose, independently of the package: the range
 * tests check that `decryptRange` fetches exactly the header plus these bytes.
 */
export function segmentBytes(L, S, first, last) {
  const n = Math.floor(L / S) + 1;
  let total = 0;
  for (let k = first; k <= last; k++) total += (k < n - 1 ? S : L % S) + TAG;
  return total;
}

/**
 * Body bytes a ranged read of plaintext `offset … offset + length` fetches (FORMAT.md §6.4),
 * computed here independently of the package: the covering segments, and for a read that reaches
 * the end of the plaintext the last segment too (it alone proves the object was not cut); a read
 * starting past the end fetches just the last one; an empty read nothing.
 */
export function rangeBytes(L, S, offset, length) {
  const n = Math.floor(L / S) + 1;
  const end = Math.min(offset + length, L);
  if (length > 0 && offset >= L) return segmentBytes(L, S, n - 1, n - 1);
  if (end <= offset) return 0;
  return segmentBytes(L, S, Math.floor(offset / S), offset + length >= L ? n - 1 : Math.floor((end - 1) / S));
}

/**
 * Length of a message's authenticated part (docs/FORMAT.md §3, §4.3), from the package's
 * `headerLength`: given the fixed prefix it asks for bytes 0 … auth_len + 3 (the authenticated
 * part and the 4-byte length of the wrapped-key section that follows it).
 */
export async function authenticatedLength(headerLength, sealed) {
  const first = await headerLength(sealed.subarray(0, 0));
  assert(typeof first.needAtLeast === 'number', `headerLength of no bytes: ${show(first)}`);
  const next = await headerLength(sealed.subarray(0, first.needAtLeast));
  assert(typeof next.needAtLeast === 'number', `headerLength of the fixed prefix: ${show(next)}`);
  return next.needAtLeast - 4;
}

// ---------------------------------------------------------------------------------------------

export function crossText(runtime) {
  return `cross-runtime message from ${runtime} ✓ `.repeat(3000);
}

/**
 * The object each area's `register(s)` receives: the package, the harness's env, the test
 * registry, and helpers bound to this run's key services.
 */
export function suiteContext(keyseal, env, results, tests) {
  const E = keyseal;
  const { KeySeal, inspect, headerLength, lowLevel } = keyseal;
  const test = (name, fn, timeoutMs = 20_000) => tests.push({ name, fn, timeoutMs });

  /** Awaits `p` (or calls it) and checks it rejects with exactly class `C` and its code. */
  async function rejects(p, C, what) {
    let err;
    try {
      await (typeof p === 'function' ? p() : p);
    } catch (e) {
      err = e;
    }
    const label = what ? `${what}: ` : '';
    if (!err) throw new AssertionError(`${label}expected ${C.name} (${C.code}), but it succeeded`);
    if (!(err instanceof C) || err.code !== C.code || !(err instanceof E.KeySealError) || err.name !== C.name) {
      throw new AssertionError(`${label}expected ${C.name}/${C.code}, got ${err && err.name}/${err && err.code}: ${err && err.message}`);
    }
    return err;
  }

  const CTX = { tenant: 'acme', object: 'doc-1' };
  const primary = (urls = [env.kmsUrl]) => ({ id: 'acme', urls });
  const escrow = (urls = [env.escrowUrl]) => ({ id: 'acme-escrow', urls, keyId: 'acme/escrow' });
  /** A KeySeal against the primary kms with the writer token; `events` collects onEvent. */
  async function make(opts = {}, events) {
    return KeySeal.create({
      keyService: primary(),
      keyId: 'acme/default',
      token: () => env.tokens.writer,
      onEvent: events ? (e) => events.push(e) : undefined,
      ...opts,
    });
  }
  const calls = (events, op, ok) => events.filter((e) => e.type === 'kmsCall' && e.op === op && (ok === undefined || e.ok === ok));
  /** Fast-failing policy for fault tests (never close to the suite's per-test timeout). */
  const FAST = { maxRounds: 2, backoffBaseMs: 20, backoffMaxMs: 100, breakerThreshold: 1000 };
  const fault = (mode, id = uid()) => `${env.faultUrl}/${mode}/${env.runtime}-${id}/v1`;

  /** `POST ${controlUrl}/ACTION?key=KEY` on the harness: the kms command line on the primary's database. */
  async function control(action, key) {
    const r = await fetch(`${env.controlUrl}/${action}?key=${encodeURIComponent(key)}`, { method: 'POST' });
    const body = await r.text();
    if (r.status !== 200) throw new AssertionError(`control ${action} ${key}: ${r.status} ${body}`);
    return JSON.parse(body);
  }

  return { keyseal, E, KeySeal, inspect, headerLength, lowLevel, env, results, test, rejects, CTX, primary, escrow, make, calls, FAST, fault, control };
}
