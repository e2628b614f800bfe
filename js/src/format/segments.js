// §6 body: segments under the payload key with STREAM nonces, the body layout (§6.3) and the
// suite-2 signature chain (§6.5).

import { DecryptionFailedError, LimitExceededError } from '../errors.js';
import { concat } from './crypto.js';
import { LIMITS } from './header.js';

export const TAG_LEN = 16;
export const SIGNATURE_LEN = 64;
/** Segments in flight at once (§7.2 lets a reader open several; release stays in index order). */
const IN_FLIGHT = 8;

/** §6.2: `N(i, last) = 00×7 ‖ i:u32 ‖ last:u8`. */
export function nonce(index, last) {
  const n = new Uint8Array(12);
  n[7] = index >>> 24; n[8] = (index >>> 16) & 0xff; n[9] = (index >>> 8) & 0xff; n[10] = index & 0xff;
  n[11] = last ? 1 : 0;
  return n;
}

/**
 * §6.3: the layout of a body of `bodyLen` bytes in segments of `segmentSize`:
 * `{ segmentCount, plaintextLen }`. An impossible length is DECRYPTION_FAILED (truncated or extended).
 */
export function bodyLayout(segmentSize, bodyLen) {
  const full = segmentSize + TAG_LEN;
  const segmentCount = Math.floor(bodyLen / full) + 1;
  if (bodyLen % full < TAG_LEN) throw new DecryptionFailedError('decryption failed');
  if (segmentCount > LIMITS.maxSegments) throw new LimitExceededError('limit exceeded: segment count');
  return { segmentCount, plaintextLen: bodyLen - TAG_LEN * segmentCount };
}

/** Runs `job(i)` for i in 0 … n−1 with at most IN_FLIGHT pending; results in index order. */
async function inOrder(n, job) {
  const out = new Array(n);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, n) }, lane));
  return out;
}

/** §6.1: the body of `plaintext`: segments of `segmentSize` bytes, the last strictly shorter. */
export async function sealBody(engine, key, plaintext, segmentSize) {
  const n = Math.floor(plaintext.length / segmentSize) + 1;
  if (n > LIMITS.maxSegments) throw new LimitExceededError('limit exceeded: segment count');
  const segs = await inOrder(n, (i) => engine.aesGcmSeal(key, nonce(i, i === n - 1),
    plaintext.subarray(i * segmentSize, Math.min((i + 1) * segmentSize, plaintext.length))));
  return concat(...segs);
}

/**
 * §6.1, §7.2: the plaintext of `body`; every segment authenticated before anything is returned.
 * Also returns the segments' ciphertexts for the signature chain.
 */
export async function openBody(engine, key, body, segmentSize) {
  const { segmentCount: n } = bodyLayout(segmentSize, body.length);
  const full = segmentSize + TAG_LEN;
  const segs = [];
  for (let i = 0; i < n; i++) segs.push(body.subarray(i * full, Math.min((i + 1) * full, body.length)));
  const plain = await inOrder(n, (i) => engine.aesGcmOpen(key, nonce(i, i === n - 1), segs[i]));
  if (plain.some((p) => p === null)) {
    for (const p of plain) p?.fill(0);
    throw new DecryptionFailedError('decryption failed');
  }
  return { plaintext: concat(...plain), segments: segs };
}

const SIGNATURE_LABEL = new TextEncoder().encode('keyseal/v1 signature\0');

/** §6.5: `statement = "keyseal/v1 signature" ‖ 0x00 ‖ T_n` over the header hash and the segments. */
export async function signatureStatement(engine, headerHash, segments) {
  const digests = await Promise.all(segments.map((s) => engine.sha256(s)));
  let t = headerHash;
  for (const d of digests) t = await engine.sha256(concat(t, d));
  return concat(SIGNATURE_LABEL, t);
}

/** §6.5: the 64-byte r ‖ s signature of a body by the message's signing key. */
export async function signBody(engine, privateKey, headerHash, body, segmentSize) {
  return engine.ecdsaSign(privateKey, await signatureStatement(engine, headerHash, splitBody(body, segmentSize)));
}

/** §6.5: checks the signature; DECRYPTION_FAILED when it does not verify. */
export async function verifyBody(engine, verificationKey, signature, headerHash, segments) {
  let pub = null;
  try { pub = await engine.importP256Public('ECDSA', verificationKey); } catch { /* refused below */ }
  const ok = pub && await engine.ecdsaVerify(pub, signature, await signatureStatement(engine, headerHash, segments));
  if (!ok) throw new DecryptionFailedError('decryption failed');
}

function splitBody(body, segmentSize) {
  const full = segmentSize + TAG_LEN;
  const segs = [];
  for (let at = 0; at < body.length; at += full) segs.push(body.subarray(at, Math.min(at + full, body.length)));
  return segs;
}
