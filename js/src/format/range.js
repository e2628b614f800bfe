// Ranged reads (FORMAT.md §6.4; the Rust is format/src/range.rs and src/range.rs): which message
// bytes a read of a plaintext range needs, from the header and the message length alone, before
// any key is used; then opening exactly those segments, the commitment verified first.

import { DecryptionFailedError } from '../errors.js';
import { concat, equalInConstantTime } from './crypto.js';
import { SUITE_SIGNED } from './header.js';
import { commitment, dataKeyForSchedule, payloadKey } from './key-schedule.js';
import { SIGNATURE_LEN, TAG_LEN, bodyLayout, nonce } from './segments.js';

const failed = () => new DecryptionFailedError('decryption failed');

/**
 * The plan of a read of plaintext `[offset, offset + len)` of a message of `totalLen` bytes with
 * parsed header `h`: `{ segments: [first, end), plaintext: [start, end), fetch: [start, end),
 * segmentCount, plaintextLen }`. The range is clamped to the plaintext (like `Blob.slice`); an
 * impossible total length is DECRYPTION_FAILED (§6.3). A read that reaches the end of the plaintext
 * also opens the last segment, even when it holds none of the requested bytes: only the last
 * segment's flag proves the object was not cut at a segment boundary.
 */
export function planRange(h, totalLen, offset, len) {
  const S = h.segmentSize;
  const afterHeader = totalLen - h.headerLen;
  const bodyLen = afterHeader - (h.suite === SUITE_SIGNED ? SIGNATURE_LEN : 0);
  if (afterHeader < 0 || bodyLen < 0) throw failed();
  const { segmentCount, plaintextLen } = bodyLayout(S, bodyLen);
  const end = Math.min(offset + len, plaintextLen);
  let first = 0, stop = 0;
  if (offset < end) { first = Math.floor(offset / S); stop = Math.floor((end - 1) / S) + 1; }
  if (len > 0 && offset + len >= plaintextLen) {
    first = offset >= plaintextLen ? segmentCount - 1 : first;
    stop = segmentCount;
  }
  const unit = S + TAG_LEN;
  const segRange = (k) => [k * unit, Math.min(k * unit + unit, bodyLen)];
  const fetch = first < stop ? [h.headerLen + segRange(first)[0], h.headerLen + segRange(stop - 1)[1]] : [h.headerLen, h.headerLen];
  return { segments: [first, stop], plaintext: [Math.min(offset, end), end], fetch, segmentCount, plaintextLen, segmentSize: S, bodyLen };
}

/**
 * The plaintext of a planned read from `fetched` (exactly the message's bytes `plan.fetch`): the
 * commitment checked, each covering segment opened with its index and last-segment flag. A short
 * or long `fetched`, or any segment that does not open, is DECRYPTION_FAILED and returns nothing.
 */
export async function openRange(engine, h, dataKey, plan, fetched) {
  if (fetched.length !== plan.fetch[1] - plan.fetch[0]) throw failed();
  const [first, stop] = plan.segments;
  if (first === stop) return new Uint8Array(0);
  const ikm = await dataKeyForSchedule(engine, dataKey);
  if (!equalInConstantTime(await commitment(engine, ikm, h.messageId, h.suite), h.commitment)) throw failed();
  const key = await payloadKey(engine, ikm, h.messageId, h.suite, await engine.sha256(h.authenticated));
  const S = plan.segmentSize, unit = S + TAG_LEN;
  const out = [];
  for (let k = first; k < stop; k++) {
    const at = (k - first) * unit;
    const seg = fetched.subarray(at, Math.min(at + unit, plan.bodyLen - first * unit));
    const pt = await engine.aesGcmOpen(key, nonce(k, k === plan.segmentCount - 1), seg);
    if (!pt) {
      for (const p of out) p.fill(0);
      throw failed();
    }
    // the requested bytes of this segment's plaintext
    const from = Math.max(plan.plaintext[0], k * S) - k * S;
    const to = Math.min(plan.plaintext[1], k * S + pt.length) - k * S;
    out.push(pt.slice(Math.max(0, from), Math.max(0, to)));
    pt.fill(0);
  }
  return concat(...out);
}
