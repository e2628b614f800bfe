// Facts of a sealed object the worker needs before any key-service call, from keyseal itself
// (docs/FORMAT.md §4.3, §6.3): how long the header is, from a prefix; and the segment size and
// plaintext length from the header and the stored (sealed) size — so a Range request can be
// answered without reading the body. No byte of the format is parsed here.
import { headerLength, inspect } from 'keyseal';
import { HttpError } from './errors.js';

const corrupt = () => new HttpError(422, 'INVALID_FORMAT', 'stored object is not a keyseal message');

/**
 * From a prefix of a sealed object: `{ headerLen }` once known, or `{ need }` = the prefix length
 * needed to know more (at most two steps). 422 when the prefix is not a keyseal header.
 */
export async function headerFacts(prefix) {
  let l;
  try {
    l = await headerLength(prefix);
  } catch {
    throw corrupt();
  }
  return l.headerLen !== undefined ? { headerLen: l.headerLen } : { need: l.needAtLeast };
}

/**
 * Header facts of a stored object from its header bytes and its stored size: keyseal's `inspect`
 * with `plaintextLen`. 422 INVALID_FORMAT for a bad header, DECRYPTION_FAILED when the size does
 * not fit the header (a cut or extended object).
 */
export async function storedFacts(header, size) {
  let info;
  try {
    info = await inspect(header, { sealedLength: size });
  } catch {
    throw corrupt();
  }
  if (info.plaintextLen === null) throw new HttpError(422, 'DECRYPTION_FAILED', 'decryption failed');
  return info;
}
