// The header of format v1 (docs/FORMAT.md §3, §4, §8): parse, encode, the header length from a
// prefix. Written from FORMAT.md; the Rust reference is format/src/header.rs. Every length is
// checked against §8 and against the bytes present before anything is read or allocated.

import {
  InvalidArgumentError, InvalidFormatError, LimitExceededError, UnsupportedSuiteError, UnsupportedVersionError,
} from '../errors.js';

/** §3.1 */
export const MAGIC = Uint8Array.of(0x89, 0x4b, 0x53, 0x4c);
export const VERSION_1 = 1;
export const PREFIX_LEN = 11;
export const MESSAGE_ID_LEN = 32;
export const COMMITMENT_LEN = 32;
/** §2 */
export const SUITE_AEAD = 0x0001;
export const SUITE_SIGNED = 0x0002;
/** §3.4 */
export const VERIFICATION_KEY_CONTEXT_KEY = 'keyseal:verification-key';
/** §4.5 */
export const HPKE_ENTRY_LEN = 117;

/** §8 */
export const LIMITS = Object.freeze({
  minAuthLen: 81,
  maxAuthLen: 17 * 1024,
  minSegmentSize: 64,
  maxSegmentSize: 16 * 1024 * 1024,
  maxContextPairs: 64,
  maxContextKeyLen: 256,
  maxContextValueLen: 4096,
  maxContextBytes: 16 * 1024,
  maxEntries: 16,
  maxServiceIdLen: 255,
  maxKeyIdLen: 1024,
  maxWrappedLen: 8192,
  maxSectionLen: 2 + 16 * (1 + 1 + 255 + 2 + 1024 + 2 + 8192),
  maxSegments: 2 ** 32 - 1,
});

/** §4.2 entry kinds by name; any other byte but 0 is an unknown kind, parsed and kept. */
export const ENTRY_KINDS = Object.freeze({ kms: 1, 'hpke-p256': 2, 'aws-kms': 3, kacls: 4 });
const KIND_NAMES = ['reserved', 'kms', 'hpke-p256', 'aws-kms', 'kacls'];
/** The kind byte a writer uses for an entry named `unknown` without a `kindByte` (the vectors'). */
const UNKNOWN_KIND_DEFAULT = 0x7f;

const utf8 = new TextEncoder();
// fatal: invalid UTF-8 is an error; ignoreBOM: a leading U+FEFF is part of the string, not dropped
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const format = (m) => new InvalidFormatError(`invalid sealed message: ${m}`);
const limit = (m) => new LimitExceededError(`limit exceeded: ${m}`);

function decodeUtf8(bytes, what) {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw format(`${what} not UTF-8`);
  }
}

const u16 = (b, at) => (b[at] << 8) | b[at + 1];
const u32 = (b, at) => ((b[at] << 24) >>> 0) + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);

/** A bounds-checked cursor over `buf` (every read checks the bytes are present first). */
class Reader {
  constructor(buf, pos) { this.buf = buf; this.pos = pos; }
  take(n) {
    const end = this.pos + n;
    if (end > this.buf.length) throw format('length field points past the end of the header');
    const s = this.buf.subarray(this.pos, end);
    this.pos = end;
    return s;
  }
  u8() { return this.take(1)[0]; }
  u16() { const b = this.take(2); return u16(b, 0); }
  u32() { const b = this.take(4); return u32(b, 0); }
}

/** §3.1, on as many of the first 5 bytes as are present: magic, then version. */
function checkPrefixSoFar(prefix) {
  const n = Math.min(prefix.length, 4);
  for (let i = 0; i < n; i++) if (prefix[i] !== MAGIC[i]) throw format('not a keyseal message (bad magic)');
  if (prefix.length > 4 && prefix[4] !== VERSION_1) throw new UnsupportedVersionError(`unsupported format version ${prefix[4]}`);
}

/** §2: the suite of an id; any other is UNSUPPORTED_SUITE. */
function checkSuite(id) {
  if (id !== SUITE_AEAD && id !== SUITE_SIGNED) throw new UnsupportedSuiteError(`unsupported algorithm suite 0x${id.toString(16).padStart(4, '0')}`);
  return id;
}

/** §3.1: magic, version, suite, `auth_len`, in that order; returns `auth_len`. */
function checkPrefix(prefix) {
  checkPrefixSoFar(prefix.subarray(0, 5));
  checkSuite(u16(prefix, 5));
  const authLen = u32(prefix, 7);
  if (authLen < LIMITS.minAuthLen) throw format('authenticated part too short');
  if (authLen > LIMITS.maxAuthLen) throw limit('authenticated part length');
  return authLen;
}

/** §8: a segment size is 64 … 16 MiB. */
export function checkSegmentSize(s) {
  if (!(Number.isInteger(s) && s >= LIMITS.minSegmentSize && s <= LIMITS.maxSegmentSize)) {
    throw limit('segment size must be 64 … 16777216 bytes (FORMAT.md §8)');
  }
}

/**
 * §4.3: how long the header is, from a prefix of the message: `{ headerLen }` when the prefix
 * tells it, else `{ needAtLeast }` (bytes from the start). Throws as soon as the prefix is invalid.
 */
export function headerLength(prefix) {
  if (prefix.length < PREFIX_LEN) {
    checkPrefixSoFar(prefix);
    return { needAtLeast: PREFIX_LEN };
  }
  const authLen = checkPrefix(prefix);
  if (prefix.length < authLen + 4) return { needAtLeast: authLen + 4 };
  const sectionLen = u32(prefix, authLen);
  if (sectionLen < 2 || sectionLen > LIMITS.maxSectionLen) throw limit('wrapped-key section length');
  return { headerLen: authLen + 4 + sectionLen };
}

/**
 * Parses the header at the start of `bytes` (which may hold more: the body). Implements every MUST
 * of FORMAT.md §3–§4 and §8. Returns `{ suite, messageId, segmentSize, context, contextBytes,
 * commitment, entries, authenticated, verificationKey, headerLen }`; `context` is the pairs in
 * header order (sorted), `entries` `{ kind, kindByte, keyServiceId, keyId, wrapped }` in header order.
 */
export function parseHeader(bytes) {
  const len = headerLength(bytes);
  if (len.headerLen === undefined || len.headerLen > bytes.length) throw format('truncated header');
  const total = len.headerLen;
  const authLen = u32(bytes, 7);
  const auth = bytes.subarray(0, authLen);
  let r = new Reader(auth, PREFIX_LEN);
  const messageId = r.take(MESSAGE_ID_LEN);
  const segmentSize = r.u32();
  checkSegmentSize(segmentSize);
  // §8: the limit is on the whole §3.3 encoding, pair count included
  const ctxStart = r.pos;
  const pairCount = r.u16();
  if (pairCount > LIMITS.maxContextPairs) throw limit('context pair count');
  const context = [];
  let prev = null;
  for (let i = 0; i < pairCount; i++) {
    const klen = r.u16();
    if (klen === 0) throw format('empty context key');
    if (klen > LIMITS.maxContextKeyLen) throw limit('context key length');
    const k = r.take(klen);
    const vlen = r.u16();
    if (vlen > LIMITS.maxContextValueLen) throw limit('context value length');
    const v = r.take(vlen);
    if (prev && compareBytes(prev, k) >= 0) throw format('context keys not sorted and unique');
    prev = k;
    context.push([decodeUtf8(k, 'context key'), decodeUtf8(v, 'context value')]);
  }
  if (r.pos - ctxStart > LIMITS.maxContextBytes) throw limit('context size');
  const contextBytes = auth.subarray(ctxStart, r.pos);
  const commitment = r.take(COMMITMENT_LEN);
  if (r.pos !== authLen) throw format('authenticated part length mismatch');

  // §4.2
  r = new Reader(bytes.subarray(0, total), authLen + 4);
  const count = r.u16();
  if (count < 1) throw format('no wrapped-key entries');
  if (count > LIMITS.maxEntries) throw limit('wrapped-key entry count');
  const entries = [];
  for (let i = 0; i < count; i++) {
    const kindByte = r.u8();
    if (kindByte === 0) throw format('entry kind 0 is reserved');
    const slen = r.u8();
    if (slen === 0) throw format('empty key service id');
    const keyServiceId = decodeUtf8(r.take(slen), 'key service id');
    const klen = r.u16();
    if (klen === 0 || klen > LIMITS.maxKeyIdLen) throw limit('key id length');
    const keyId = decodeUtf8(r.take(klen), 'key id');
    const wlen = r.u16();
    if (wlen === 0 || wlen > LIMITS.maxWrappedLen) throw limit('wrapped key length');
    if (kindByte === ENTRY_KINDS['hpke-p256'] && wlen !== HPKE_ENTRY_LEN) throw format('hpke-p256 entry has the wrong length');
    const wrapped = r.take(wlen);
    entries.push({ kind: KIND_NAMES[kindByte] ?? 'unknown', kindByte, keyServiceId, keyId, wrapped });
  }
  if (r.pos !== total) throw format('wrapped-key section length mismatch');
  const suite = u16(bytes, 5);
  const verificationKey = verificationKeyOf(suite, context);
  return {
    suite, messageId, segmentSize, context, contextBytes, commitment, entries,
    authenticated: auth, verificationKey, headerLen: total,
  };
}

/** §3.4: a suite-2 header carries a valid verification key in its context; a suite-1 header none. */
function verificationKeyOf(suite, context) {
  const pair = context.find(([k]) => k === VERIFICATION_KEY_CONTEXT_KEY);
  if (suite === SUITE_AEAD) {
    if (pair) throw format('a verification key in an unsigned message');
    return null;
  }
  if (!pair) throw format('a signed message without a verification key');
  const key = decodeBase64Strict(pair[1]);
  if (!key || !isP256Point(key)) throw format('the verification key is not a P-256 point in base64');
  return key;
}

/**
 * §3.3: the canonical context encoding of `context` (an object or `[key, value]` pairs), sorted by
 * the bytes of the keys; checked against §8. Returns `{ bytes, pairs }` (pairs sorted).
 */
export function encodeContext(context) {
  const pairs = (Array.isArray(context) ? context : Object.entries(context ?? {}))
    .map(([k, v]) => [String(k), String(v), utf8.encode(String(k)), utf8.encode(String(v))])
    .sort((a, b) => compareBytes(a[2], b[2]));
  if (pairs.length > LIMITS.maxContextPairs) throw limit('context pair count');
  let n = 2;
  for (let i = 0; i < pairs.length; i++) {
    const [, , k, v] = pairs[i];
    if (k.length === 0) throw new InvalidArgumentError('invalid argument: context keys must not be empty');
    if (i > 0 && compareBytes(pairs[i - 1][2], k) === 0) throw new InvalidArgumentError('invalid argument: duplicate context key');
    if (k.length > LIMITS.maxContextKeyLen) throw limit('context key length');
    if (v.length > LIMITS.maxContextValueLen) throw limit('context value length');
    n += 4 + k.length + v.length;
  }
  if (n > LIMITS.maxContextBytes) throw limit('context size');
  const bytes = new Uint8Array(n);
  let at = putU16(bytes, 0, pairs.length);
  for (const [, , k, v] of pairs) {
    at = putU16(bytes, at, k.length); bytes.set(k, at); at += k.length;
    at = putU16(bytes, at, v.length); bytes.set(v, at); at += v.length;
  }
  return { bytes, pairs: pairs.map(([k, v]) => [k, v]) };
}

/** §3.1: the authenticated part (its hash is §3.2's header hash). */
export function encodeAuthenticated({ suite, messageId, segmentSize, contextBytes, commitment }) {
  checkSuite(suite);
  checkSegmentSize(segmentSize);
  if (messageId.length !== MESSAGE_ID_LEN) throw new InvalidArgumentError('invalid argument: a message id is 32 bytes');
  if (commitment.length !== COMMITMENT_LEN) throw new InvalidArgumentError('invalid argument: a commitment is 32 bytes');
  const authLen = PREFIX_LEN + MESSAGE_ID_LEN + 4 + contextBytes.length + COMMITMENT_LEN;
  if (authLen > LIMITS.maxAuthLen) throw limit('authenticated part length');
  const out = new Uint8Array(authLen);
  out.set(MAGIC, 0);
  out[4] = VERSION_1;
  putU16(out, 5, suite);
  putU32(out, 7, authLen);
  out.set(messageId, PREFIX_LEN);
  putU32(out, PREFIX_LEN + MESSAGE_ID_LEN, segmentSize);
  out.set(contextBytes, PREFIX_LEN + MESSAGE_ID_LEN + 4);
  out.set(commitment, authLen - COMMITMENT_LEN);
  return out;
}

/**
 * §4.1–§4.2: the wrapped-key section (section_len included) of `entries`
 * (`{ kind, keyServiceId, keyId, wrapped, kindByte? }`; `kind: 'unknown'` writes `kindByte`, 0x7f by default).
 */
export function encodeSection(entries) {
  if (!entries || entries.length === 0) throw new InvalidArgumentError('invalid argument: at least one wrapped-key entry is required');
  if (entries.length > LIMITS.maxEntries) throw limit('wrapped-key entry count');
  const enc = entries.map((e) => {
    const kindByte = e.kind === 'unknown' ? (e.kindByte ?? UNKNOWN_KIND_DEFAULT) : ENTRY_KINDS[e.kind];
    if (kindByte === undefined) throw new InvalidArgumentError(`invalid argument: unknown entry kind ${e.kind}`);
    const sid = utf8.encode(e.keyServiceId);
    const kid = utf8.encode(e.keyId);
    const w = e.wrapped;
    if (sid.length === 0 || sid.length > LIMITS.maxServiceIdLen) throw limit('key service id length');
    if (kid.length === 0 || kid.length > LIMITS.maxKeyIdLen) throw limit('key id length');
    if (w.length === 0 || w.length > LIMITS.maxWrappedLen) throw limit('wrapped key length');
    if (kindByte === ENTRY_KINDS['hpke-p256'] && w.length !== HPKE_ENTRY_LEN) throw format('hpke-p256 entry has the wrong length');
    if (kindByte === 0) throw format('entry kind 0 is reserved');
    return { kindByte, sid, kid, w };
  });
  const sectionLen = 2 + enc.reduce((n, e) => n + 6 + e.sid.length + e.kid.length + e.w.length, 0);
  const out = new Uint8Array(4 + sectionLen);
  let at = putU32(out, 0, sectionLen);
  at = putU16(out, at, enc.length);
  for (const e of enc) {
    out[at++] = e.kindByte;
    out[at++] = e.sid.length; out.set(e.sid, at); at += e.sid.length;
    at = putU16(out, at, e.kid.length); out.set(e.kid, at); at += e.kid.length;
    at = putU16(out, at, e.w.length); out.set(e.w, at); at += e.w.length;
  }
  return out;
}

/** memcmp order of two byte strings: negative, zero or positive. */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function putU16(b, at, v) { b[at] = v >>> 8; b[at + 1] = v & 0xff; return at + 2; }
function putU32(b, at, v) { b[at] = v >>> 24; b[at + 1] = (v >>> 16) & 0xff; b[at + 2] = (v >>> 8) & 0xff; b[at + 3] = v & 0xff; return at + 4; }

/** RFC 4648 §4 base64, padded and canonical (unused bits zero); `null` otherwise. By table. */
export function decodeBase64Strict(s) {
  if (typeof s !== 'string' || s.length % 4 !== 0) return null;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const last = i + 4 === s.length;
    const a = B64_VALUE[s.charCodeAt(i)], b = B64_VALUE[s.charCodeAt(i + 1)];
    const c = last && pad === 2 ? 0 : B64_VALUE[s.charCodeAt(i + 2)];
    const d = last && pad >= 1 ? 0 : B64_VALUE[s.charCodeAt(i + 3)];
    // 255: not in the alphabet (an '=' anywhere but the end is one of those)
    if ((a | b | c | d) > 63) return null;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >>> 16;
    if (!last || pad < 2) out[o++] = (v >>> 8) & 0xff;
    else if (v & 0xffff) return null; // bits after the one byte must be zero (canonical)
    if (!last || pad < 1) out[o++] = v & 0xff;
    else if (pad === 1 && v & 0xff) return null; // bits after the two bytes must be zero
  }
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** The value of each char code below 256 in the base64 alphabet, 255 for every other. */
const B64_VALUE = new Uint8Array(256).fill(255);
for (let i = 0; i < 64; i++) B64_VALUE[B64.charCodeAt(i)] = i;

/**
 * RFC 4648 §4 base64, padded. By table, three bytes at a time: a rotation writes several per
 * header, and `btoa` over a string of `String.fromCharCode(...)` was 8 % of a rewrap's profile.
 */
export function encodeBase64(bytes) {
  let s = '';
  const n = bytes.length - (bytes.length % 3);
  for (let i = 0; i < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    s += B64[v >>> 18] + B64[(v >>> 12) & 63] + B64[(v >>> 6) & 63] + B64[v & 63];
  }
  if (bytes.length - n === 1) {
    const v = bytes[n] << 16;
    s += `${B64[v >>> 18]}${B64[(v >>> 12) & 63]}==`;
  } else if (bytes.length - n === 2) {
    const v = (bytes[n] << 16) | (bytes[n + 1] << 8);
    s += `${B64[v >>> 18]}${B64[(v >>> 12) & 63]}${B64[(v >>> 6) & 63]}=`;
  }
  return s;
}

// P-256 (SEC 2 §2.4.2): y² = x³ − 3x + b over GF(p)
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/** Whether `k` is an uncompressed SEC1 encoding of a point on P-256 (65 bytes, 0x04 ‖ x ‖ y). */
export function isP256Point(k) {
  if (k.length !== 65 || k[0] !== 4) return false;
  const x = toBigInt(k.subarray(1, 33));
  const y = toBigInt(k.subarray(33, 65));
  if (x >= P || y >= P) return false;
  const rhs = ((((x * x) % P) * x - 3n * x + B) % P + P) % P;
  return (y * y) % P === rhs;
}

function toBigInt(b) {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}
