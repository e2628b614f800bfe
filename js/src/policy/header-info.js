// `inspect`'s answer (the d.ts `HeaderInfo`) from a parsed header: what the top-level `inspect`
// and `KeySeal.prototype.inspect` give (src/inspect.rs is the Rust of the same).
import { toHex } from '../format/crypto.js';
import { SUITE_SIGNED, parseHeader } from '../format/header.js';
import { bodyLayout } from '../format/segments.js';
import { InvalidArgumentError } from '../errors.js';
import { known } from '../options.js';
import { toBytes } from '../bytes.js';
import { KeysealKms } from './keyseal-kms.js';

/**
 * The key version an entry states where the format or the keyseal protocol says how to read it
 * (an hpke-p256 entry's first four bytes, FORMAT.md §4.5; a kms entry's, PROTOCOL.md §7.2), else
 * undefined (an aws-kms, kacls or unknown entry is opaque).
 */
export function entryVersion(e) {
  if (e.kind === 'hpke-p256') return ((e.wrapped[0] << 24) >>> 0) + ((e.wrapped[1] << 16) | (e.wrapped[2] << 8) | e.wrapped[3]);
  if (e.kind === 'kms') return KeysealKms.entryVersion(e.wrapped);
  return undefined;
}

/** The whole message's length: `sealedLength` when given (then at least the bytes given), else theirs. */
export function totalLength(bytes, sealedLength) {
  if (sealedLength === undefined) return bytes.length;
  if (!(Number.isSafeInteger(sealedLength) && sealedLength >= bytes.length)) {
    throw new InvalidArgumentError('invalid argument: sealedLength must be a whole number of bytes, at least the bytes given');
  }
  return sealedLength;
}

/**
 * Header facts of parsed header `h` of a message `total` bytes long (its plaintext length and
 * segment count null when `total` is only the header or a length the header cannot have);
 * `versionOf(entry)`: an entry's key version or undefined (null in the answer).
 */
export function headerInfo(h, total, versionOf = entryVersion) {
  let plaintextLen = null, segmentCount = null;
  if (total > h.headerLen) {
    try {
      const l = bodyLayout(h.segmentSize, total - h.headerLen - (h.suite === SUITE_SIGNED ? 64 : 0));
      plaintextLen = l.plaintextLen;
      segmentCount = l.segmentCount;
    } catch { /* an impossible length: null */ }
  }
  return {
    version: 1, suite: h.suite, messageId: toHex(h.messageId), segmentSize: h.segmentSize,
    context: Object.fromEntries(h.context),
    entries: h.entries.map((e) => ({
      kind: e.kind, keyServiceId: e.keyServiceId, keyId: e.keyId, keyVersion: versionOf(e) ?? null,
      wrappedLen: e.wrapped.length, wrapped: e.wrapped.slice(),
    })),
    headerLen: h.headerLen, plaintextLen, segmentCount,
  };
}

/**
 * `inspect(sealed, { sealedLength })` of the d.ts, for the top-level function and an instance
 * alike (both read key versions the same way, as src/inspect.rs does).
 */
export function inspectMessage(sealed, options) {
  const { sealedLength } = known(options, ['sealedLength'], 'inspect');
  const bytes = toBytes(sealed, 'sealed');
  return headerInfo(parseHeader(bytes), totalLength(bytes, sealedLength));
}
