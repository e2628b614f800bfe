// Byte-level facts of a sealed object the worker needs before any key-service call
// (docs/FORMAT.md §3.1, §4.3, §6.3): the header length from a prefix, and the plaintext length
// from the stored (sealed) size — so a Range request can be answered without reading the body.
import { HttpError } from './errors.js';

const TAG = 16;
const u32 = (b, o) => ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
const corrupt = () => new HttpError(422, 'INVALID_FORMAT', 'stored object is not a keyseal message');

/**
 * From a prefix of a sealed object: `{ headerLen, segmentSize }` once known, or `{ need }` = the
 * prefix length needed to know more (FORMAT.md §4.3: at most two steps).
 */
export function headerFacts(prefix) {
  if (prefix.length < 47) return { need: 47 };
  if (prefix[0] !== 0x89 || prefix[1] !== 0x4b || prefix[2] !== 0x53 || prefix[3] !== 0x4c) throw corrupt();
  const authLen = u32(prefix, 7);
  if (authLen < 81 || authLen > 17408) throw corrupt();
  const segmentSize = u32(prefix, 43);
  if (prefix.length < authLen + 4) return { need: authLen + 4 };
  return { headerLen: authLen + 4 + u32(prefix, authLen), segmentSize };
}

/** Plaintext length of a sealed object of `size` bytes (FORMAT.md §6.3); 422 when inconsistent. */
export function plaintextLength(size, headerLen, segmentSize) {
  const body = size - headerLen;
  if (body < TAG) throw new HttpError(422, 'DECRYPTION_FAILED', 'decryption failed');
  const n = Math.floor(body / (segmentSize + TAG)) + 1;
  if (body % (segmentSize + TAG) < TAG) throw new HttpError(422, 'DECRYPTION_FAILED', 'decryption failed');
  return body - TAG * n;
}
