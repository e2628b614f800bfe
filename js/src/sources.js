// Ranged sources for decryptRange and rewrap: where the bytes come from is the caller's business;
// how long the header is and which bytes to read is the core's (FORMAT.md §4.3, §6.4).
import { InvalidArgumentError, InvalidFormatError } from './errors.js';
import { isBytes, toBytes } from './bytes.js';

function nonNegInt(x, what) {
  if (!Number.isSafeInteger(x) || x < 0) throw new InvalidArgumentError(`${what} must be a non-negative integer`);
  return x;
}

/**
 * A caller's reader, checked: more bytes than asked is a reader bug (often an inclusive `end`:
 * HTTP `Range: bytes=a-b` is inclusive, `read(a, b)` is not), refused with INVALID_ARGUMENT naming
 * the range. Fewer bytes pass through: an object shorter than its size is what truncation looks
 * like, and the core refuses it (INVALID_FORMAT in the header, DECRYPTION_FAILED in the body).
 */
function exactly(read) {
  return async (s, e) => {
    const b = toBytes(await read(s, e), 'read result');
    if (b.length > e - s) {
      throw new InvalidArgumentError(`reader returned ${b.length} bytes for [${s}, ${e}) (end is exclusive: want ${e - s}; HTTP: Range: bytes=${s}-${e - 1})`);
    }
    return b;
  };
}

/**
 * A ranged source as `{ size, read(start, end) }` (end exclusive). Accepts a Uint8Array (or
 * ArrayBuffer/view), a Blob, a reader object `{ size, read(start, end) }`, or a reader function
 * `(start, end) => bytes` together with `size`.
 */
export function rangeSource(source, size) {
  if (isBytes(source)) {
    const b = toBytes(source, 'source');
    return { size: b.length, read: async (s, e) => b.subarray(s, e) };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return { size: source.size, read: async (s, e) => new Uint8Array(await source.slice(s, e).arrayBuffer()) };
  }
  if (typeof source === 'function') {
    if (size === undefined) throw new InvalidArgumentError('a reader function needs options.size (the sealed length)');
    return { size: nonNegInt(size, 'size'), read: exactly((s, e) => source(s, e)) };
  }
  if (source && typeof source === 'object' && typeof source.read === 'function') {
    const n = source.size ?? size;
    if (n === undefined) throw new InvalidArgumentError('a reader object needs a size');
    return { size: nonNegInt(n, 'size'), read: exactly((s, e) => source.read(s, e)) };
  }
  throw new InvalidArgumentError('source must be a Uint8Array, a Blob, a (start, end) => bytes function or { size, read }');
}


/**
 * Reads exactly the header in at most three small reads, as the core's `headerLength` asks
 * (the prefix, the authenticated part with `section_len`, the wrapped-key section).
 */
export async function readHeader(wasm, src) {
  let buf = new Uint8Array(0);
  let want = 11;
  for (let reads = 0; reads < 4; reads++) {
    if (want > src.size) throw new InvalidFormatError(`invalid format: truncated header (the header needs ${want} bytes, the source has ${src.size})`);
    const more = await src.read(buf.length, want);
    if (more.length !== want - buf.length) {
      throw new InvalidFormatError(`reader returned ${more.length} bytes for [${buf.length}, ${want}) (want ${want - buf.length}): the object is shorter than its size, or the reader is wrong`);
    }
    const next = new Uint8Array(want);
    next.set(buf);
    next.set(more, buf.length);
    buf = next;
    const l = wasm.headerLength(buf);
    const complete = l.headerLen !== undefined && l.headerLen !== null;
    if (complete && buf.length >= l.headerLen) return buf.subarray(0, l.headerLen);
    want = complete ? l.headerLen : l.needAtLeast;
  }
  throw new InvalidFormatError('invalid format: header did not complete');
}

export { nonNegInt };
