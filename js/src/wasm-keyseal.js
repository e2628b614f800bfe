// The SDK on the Rust core in wasm (docs/DESIGN.md design C: what an instance uses only where the
// options or the runtime route it there — see `route` in keyseal.js). The Rust core does the work
// — options, engines, formats; this file converts inputs, wires streams and maps errors to classes.
import { InvalidArgumentError } from './errors.js';
import { fromCore } from './from-core.js';
import { known } from './options.js';
import { toBytes, isBytes } from './bytes.js';
import { rangeSource, readHeader, nonNegInt } from './sources.js';
import { encryptStream, decryptStream } from './streams.js';
import { rewrapAll } from './rotation.js';

const dec = new TextDecoder('utf-8', { fatal: true });

/** `f()`'s result, its error as a KeySealError subclass. */
export async function call(f) {
  try { return await f(); } catch (e) { throw fromCore(e); }
}

/** The same for a synchronous `f`. */
export function callSync(f) {
  try { return f(); } catch (e) { throw fromCore(e); }
}

/**
 * The SDK on the Rust core in wasm: an instance the options route there (an engine or P-256
 * choice of 'wasm', a runtime without `crypto.subtle`, or a combination the JS does not make; see
 * `route`). The same methods as `KeySealJs`.
 */
export class WasmKeySeal {
  #core;
  #wasm;

  constructor(core, wasm) {
    this.#core = core;
    this.#wasm = wasm;
  }

  /**
   * Which engine `encrypt`/`decrypt` use for a message of `byteLength` bytes (`Infinity`: the
   * streams): `'webcrypto'`, `'node'` or `'wasm'`. All produce the same bytes.
   */
  engineFor(byteLength) {
    return this.#core.engineFor(byteLength);
  }

  /**
   * Which P-256 engine makes the recipient key of each key-service call and checks identity
   * signatures: `'node'`, `'webcrypto'` or `'wasm'`. All give the same bytes.
   */
  p256Engine() {
    return this.#core.p256Engine();
  }

  /**
   * Seals bytes or a string under `context`. `sign: true` makes a signed message (FORMAT.md
   * §6.5): only a principal allowed to generate data keys can make one that verifies.
   */
  async encrypt(data, options) {
    const { context, sign = false } = known(options, ['context', 'sign'], 'encrypt', 'seal');
    const bytes = toBytes(data, 'data');
    return call(() => this.#core.encrypt(bytes, context, sign === true));
  }

  /**
   * Opens a sealed message; `requireContext` pairs must match the message's context. A signed
   * message's signature is always verified; `requireSigned: true` refuses any other
   * (DowngradeRefusedError) and public-key entries.
   */
  async decrypt(sealed, options) {
    const { requireContext, requireSigned = false } = known(options, ['requireContext', 'requireSigned'], 'decrypt', 'open');
    const bytes = toBytes(sealed, 'sealed');
    return call(() => this.#core.decrypt(bytes, requireContext, requireSigned === true));
  }

  /**
   * Like decrypt, and also resolves to the header facts of the message that opened (context,
   * key ids and versions, as `inspect` gives them): `{ plaintext, header }`.
   */
  async decryptWithHeader(sealed, options) {
    const { requireContext, requireSigned = false } = known(options, ['requireContext', 'requireSigned'], 'decryptWithHeader', 'open');
    const bytes = toBytes(sealed, 'sealed');
    const plaintext = await call(() => this.#core.decrypt(bytes, requireContext, requireSigned === true));
    return { plaintext, header: callSync(() => this.#core.inspect(bytes, undefined)) };
  }

  /** Like decrypt, then UTF-8 decodes (fails on invalid UTF-8). */
  async decryptText(sealed, options) {
    const b = await this.decrypt(sealed, options);
    try { return dec.decode(b); } catch { throw new InvalidArgumentError('plaintext is not UTF-8'); }
  }

  /**
   * A TransformStream that seals the bytes written to it (Uint8Array/ArrayBuffer/string chunks)
   * into one message: the header first, then each segment as it completes, the last one on
   * close. Memory is O(segment size + chunk). `onProgress({ plaintextBytes, sealedBytes })`.
   */
  encryptStream(options) {
    const { context, sign = false, onProgress } = known(options, ['context', 'sign', 'onProgress'], 'encryptStream', 'seal');
    callSync(() => this.#wasm.checkContext(context, 'context'));
    return encryptStream(this.#core, context, sign === true, onProgress);
  }

  /**
   * A TransformStream that opens a sealed message written to it. Plaintext is enqueued only
   * segment by segment after each tag checks (FORMAT.md §7.2): on a truncated, reordered,
   * extended or tampered stream the readable errors with DecryptionFailedError after having
   * delivered a prefix of the true plaintext made of whole segments. A stream that ends inside
   * the header errors with InvalidFormatError. `onProgress({ sealedBytes, plaintextBytes })`.
   * A signed message's segments are reader-authenticated as they come; the stream errors at its
   * end unless the signature verifies, so writer authenticity holds only for a stream that
   * ended without error. `requireSigned: true` refuses an unsigned message.
   */
  decryptStream(options) {
    const { requireContext, requireSigned = false, onProgress } = known(options, ['requireContext', 'requireSigned', 'onProgress'], 'decryptStream', 'open');
    callSync(() => this.#wasm.checkContext(requireContext, 'requireContext'));
    return decryptStream(this.#core, requireContext, requireSigned === true, onProgress);
  }

  /**
   * Decrypts plaintext bytes `offset … offset + length − 1` (clamped to the plaintext) of a
   * sealed object, reading only its header and the segments that cover the range (FORMAT.md
   * §6.4). `source`: a Uint8Array/ArrayBuffer, a Blob, a reader object `{ size, read(start,
   * end) }` or a reader function `(start, end) => bytes` plus `options.size`; `end` is exclusive
   * and a read must return exactly `end − start` bytes (e.g. HTTP `Range: bytes=start-(end−1)`).
   */
  async decryptRange(source, options) {
    const { offset = 0, length, size, requireContext, requireSigned } = known(options, ['offset', 'length', 'size', 'requireContext', 'requireSigned'], 'decryptRange', 'open');
    if (requireSigned) {
      throw new InvalidArgumentError('a ranged read cannot verify a signature (it does not read every segment): use decrypt or decryptStream with requireSigned');
    }
    return call(async () => {
      callSync(() => this.#wasm.checkContext(requireContext, 'requireContext'));
      const src = rangeSource(source, size);
      nonNegInt(offset, 'offset');
      const len = length === undefined ? Number.MAX_SAFE_INTEGER - offset : nonNegInt(length, 'length');
      const header = await readHeader(this.#wasm, src);
      const read = this.#core.beginRange(header, src.size, offset, len, requireContext);
      try {
        // a short read (an object shorter than `size`) is what truncation looks like: the core
        // refuses it as DECRYPTION_FAILED
        const fetched = read.fetchEnd > read.fetchStart ? await src.read(read.fetchStart, read.fetchEnd) : new Uint8Array(0);
        return await read.open(fetched);
      } finally {
        read.free();
      }
    });
  }

  /**
   * Header-only rotation (FORMAT.md §4.4): every entry of a configured key service is re-wrapped
   * by that service's /rewrap (no plaintext data key leaves it); the primary's entries move to
   * `toKeyId` when given. `sealedOrHeader`: the header or the whole message (bytes), or any
   * source `decryptRange` accepts. Resolves to `{ header, bodyOffset }`: the new object is
   * `header ‖ old.subarray(bodyOffset)`.
   */
  async rewrap(sealedOrHeader, options) {
    const { toKeyId, size } = known(options, ['toKeyId', 'size'], 'rewrap');
    if (toKeyId !== undefined && (typeof toKeyId !== 'string' || !toKeyId)) throw new InvalidArgumentError('toKeyId must be a key id');
    return call(async () => {
      const header = isBytes(sealedOrHeader) ? toBytes(sealedOrHeader, 'header') : await readHeader(this.#wasm, rangeSource(sealedOrHeader, size));
      return this.#core.rewrap(header, toKeyId);
    });
  }

  /**
   * Rotates many objects: `objects` is an array or (async) iterable of
   * `{ id, readHeader: async () => bytes, writeHeader: async (newHeader, bodyOffset) => void }`.
   * Objects already on the target are skipped, so a re-run after a failure does only what is
   * left. Resolves to `{ done, skipped, failed: [{ id, code, message }], targetVersion }`.
   */
  async rewrapAll(objects, options) {
    return rewrapAll(this.#core, objects, options);
  }

  /**
   * Header facts (no secrets, no key-service call), key versions as this instance's services
   * read them. `sealedLength`: the whole message's length when `sealed` is only its first
   * bytes, so `plaintextLen` is known without the body. Async like the top-level `inspect`.
   */
  async inspect(sealed, options) {
    const { sealedLength } = known(options, ['sealedLength'], 'inspect');
    const bytes = toBytes(sealed, 'sealed');
    return callSync(() => this.#core.inspect(bytes, sealedLength));
  }

  /** Drops cached data keys of `keyId`, or all. Returns how many were dropped. */
  purge(keyId) {
    return this.#core.purge(keyId ?? undefined);
  }

  /** SLI figures: key-service latency percentiles, calls and errors by op and code, cache, decrypt rate. */
  metrics() {
    return this.#core.metrics();
  }

  /** The same figures as Prometheus text. */
  metricsText() {
    return this.#core.metricsText();
  }
}
