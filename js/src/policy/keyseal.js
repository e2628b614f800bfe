// `KeySealJs`: the SDK's `KeySeal` in JS over the format in JS (docs/DESIGN.md design C), what the
// package's instances run on wherever the platform has the primitives (../keyseal.js routes):
// whole-buffer `encrypt` / `decrypt` (with the cache, escrow, both wrap modes, signed messages and
// the decrypt policy), `encryptStream` / `decryptStream` as TransformStreams over the format's
// streaming seal and open, `decryptRange`, header-only rotation (`rewrap`, `rewrapAll`), metrics,
// tracing and `inspect`, for the keyseal, aws-kms and kacls kinds. One engine of primitives per
// instance (`engineFor` and `p256Engine` say which); js/test/suite/policy-js.js holds it to the
// Rust SDK (the wasm core) and the whole suite to the d.ts.

import { isBytes, progress, toBytes } from '../bytes.js';
import { ContextMismatchError, DecryptionFailedError, DowngradeRefusedError, InvalidArgumentError } from '../errors.js';
import { concat, webcryptoEngine } from '../format/crypto.js';
import { SUITE_SIGNED, VERIFICATION_KEY_CONTEXT_KEY, encodeBase64, encodeContext, headerLength, parseHeader } from '../format/header.js';
import { openAssumingCommitmentChecked, sealWithDataKeyAssumingUniqueMessageId } from '../format/message.js';
import { StreamOpener, StreamSealer } from '../format/stream.js';
import { openRange, planRange } from '../format/range.js';
import { nonNegInt, rangeSource, readHeader } from '../sources.js';
import { DataKeyCache } from './cache.js';
import { DataKeys } from './data-keys.js';
import { KeysealKms } from './keyseal-kms.js';
import { AwsKms } from './aws-kms.js';
import { Kacls } from './kacls.js';
import { Rotation } from './rotation.js';
import { headerInfo, inspectMessage } from './header-info.js';
import { Observer } from './metrics.js';
import { checkOptions } from './options.js';
import { known } from '../options.js';
import { rewrapAll } from '../rotation.js';

/** The SDK's default segment size (format/src/limits.rs DEFAULT_SEGMENT_SIZE). */
const DEFAULT_SEGMENT_SIZE = 64 * 1024;

function checkContext(context) {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) throw new InvalidArgumentError('invalid argument: context must be an object of strings');
  for (const [k, v] of Object.entries(context)) {
    if (typeof v !== 'string') throw new InvalidArgumentError(`invalid argument: context.${k}: must be a string (got ${typeof v})`);
    if (k.startsWith('keyseal:')) throw new InvalidArgumentError(`invalid argument: context keys beginning with "keyseal:" are reserved (FORMAT.md §3.4): "${k}"`);
  }
}

export class KeySealJs {
  #o;
  #keys;
  #engine;
  #rotation;
  #observer;

  /**
   * `options`: the d.ts `KeySealOptions`, plus this implementation's `formatEngine` (the engine of
   * primitives: the format's WebCrypto one by default, its node:crypto one in the Node entry) and
   * `fetch` (the transport). `engine`, `p256` and `transport` are checked here but chosen by the
   * package's `route` (js/src/keyseal.js), which hands over the engine and transport they mean.
   */
  static async create(options) {
    return new KeySealJs(options);
  }

  constructor(options) {
    // the d.ts options minus this implementation's own: `formatEngine` (the format's engine) and
    // `fetch` (the transport: the global fetch by default; node:http's in Node is what the
    // package's `transport: 'node'` means)
    const { formatEngine, fetch, ...given } = options ?? {};
    const o = checkOptions(given);
    this.#o = { ...given, keyId: o.services[0].keyId || undefined, segmentSize: o.segmentSize };
    this.#engine = formatEngine ?? webcryptoEngine;
    // every event feeds the metrics, then the caller's listener, whose throwing must not break
    // encrypt or decrypt
    const observer = new Observer();
    this.#observer = observer;
    const listener = given.onEvent;
    const emit = (e) => {
      observer.record(e);
      if (listener) try { listener(e); } catch { /* the caller's bug, not ours */ }
    };
    const common = { engine: this.#engine, retry: o.retry, onEvent: emit, traceparent: given.traceparent, fetch };
    const services = o.services.map((s) => (s.kind === 'aws-kms'
      ? { id: s.id, keyId: s.keyId, kind: 'aws-kms', client: new AwsKms({ ...common, id: s.id, region: s.region, endpoint: s.endpoint, credentials: s.credentials }) }
      : s.kind === 'kacls'
        ? {
          id: s.id, keyId: s.keyId, kind: 'kacls',
          client: new Kacls({ ...common, id: s.id, urls: s.urls, resourceNameKey: s.resourceNameKey, authentication: s.authentication, authorization: s.authorization, reason: given.reason }),
        }
        : {
        id: s.id, keyId: s.keyId, kind: 'kms',
        client: new KeysealKms({ ...common, id: s.id, urls: s.urls, token: given.token, identity: s.identity, allowPlaintextKeys: given.allowPlaintextKeys }),
      }));
    this.#keys = new DataKeys({
      services, cache: new DataKeyCache(o.cache), engine: this.#engine, onEvent: emit, publicKeyMode: o.wrapMode === 'public-key', observer,
      decrypt: o.decrypt,
    });
    this.emit = emit;
    this.#rotation = new Rotation(this.#keys, this.#engine);
  }

  /**
   * Header-only rotation (FORMAT.md §4.4): every entry of a configured key service re-wrapped by
   * that service's `/rewrap` (no data key leaves it), the primary's moved to `toKeyId` when given.
   * `sealedOrHeader`: the header or the whole message (bytes), or any `decryptRange` source.
   * Resolves to `{ header, bodyOffset }`: the new object is `header ‖ old.subarray(bodyOffset)`.
   */
  async rewrap(sealedOrHeader, options) {
    const { toKeyId, size } = known(options, ['toKeyId', 'size'], 'rewrap');
    if (toKeyId !== undefined && (typeof toKeyId !== 'string' || !toKeyId)) throw new InvalidArgumentError('invalid argument: toKeyId must be a key id');
    const header = isBytes(sealedOrHeader) ? toBytes(sealedOrHeader, 'header') : await readHeader({ headerLength }, rangeSource(sealedOrHeader, size));
    const [r] = await this.#rotation.rewrapHeaders([header], toKeyId);
    if (r.error) throw r.error;
    return r;
  }

  /**
   * Rotates many objects (`{ id, readHeader, writeHeader }`), skipping those already current; the
   * package's driver (js/src/rotation.js) over this instance's rotation. Resolves to
   * `{ done, skipped, failed, targetVersion }`.
   */
  rewrapAll(objects, options) {
    const core = {
      newestVersion: (toKeyId) => this.#rotation.newestVersion(toKeyId),
      rewrapManyUnlessCurrent: (headers, toKeyId, newest) => this.#rotation.rewrapHeaders(headers, toKeyId, { newest }),
    };
    return rewrapAll(core, objects, options);
  }

  /** The client-side SLIs of this instance since it was created (the d.ts `Metrics`). */
  metrics() {
    return this.#observer.snapshot();
  }

  /** The same as Prometheus text exposition. */
  metricsText() {
    return this.#observer.text();
  }

  /** Which engine seals a message of `byteLength` bytes: the one engine of this instance, whatever the length. */
  engineFor(byteLength) {
    void byteLength;
    return this.#engine.name;
  }

  /** Which engine makes the P-256 keys and checks the signatures of the key-service calls: the same one. */
  p256Engine() {
    return this.#engine.name;
  }

  /** Like `decrypt`, then UTF-8 decodes (fails on invalid UTF-8). */
  async decryptText(sealed, options) {
    const b = await this.decrypt(sealed, options);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      throw new InvalidArgumentError('invalid argument: plaintext is not UTF-8');
    }
  }

  /** The plaintext and the header facts (`inspect`) of one message, its header parsed once. */
  async decryptWithHeader(sealed, options) {
    const { requireContext, requireSigned = false } = known(options, ['requireContext', 'requireSigned'], 'decryptWithHeader', 'open');
    const bytes = toBytes(sealed, 'sealed');
    const { plaintext, h } = await this.#open(bytes, requireContext, requireSigned);
    return { plaintext, header: headerInfo(h, bytes.length) };
  }

  /**
   * Header facts (no secrets, no key-service call) as the package's `inspect` gives them, key
   * versions read where this instance can (FORMAT.md §4.5, PROTOCOL.md §7.2). `sealedLength`: the
   * whole message's length when `sealed` is only its first bytes.
   */
  async inspect(sealed, options) {
    return inspectMessage(sealed, options);
  }

  /** Drops cached data keys (of `keyId`, or all); returns how many. */
  purge(keyId) {
    return this.#keys.purge(keyId);
  }

  /**
   * What a new message starts from: its context (with the verification key of a signed one,
   * FORMAT.md §3.4, which the key service then binds like any pair), the data key and entries (the
   * encrypt cache only for an unsigned message of known length), and the signing key.
   */
  async #newMessage(context, len, sign) {
    if (!this.#o.keyId) throw new InvalidArgumentError('invalid argument: this instance was created without a keyId, so it can only decrypt: give options.keyId to encrypt');
    checkContext(context);
    const signing = sign ? await this.#engine.generateP256('ECDSA') : null;
    const full = signing ? { ...context, [VERIFICATION_KEY_CONTEXT_KEY]: encodeBase64(signing.publicRaw) } : context;
    const { bytes, pairs } = encodeContext(full);
    const { dataKey, entries } = await this.#keys.forEncrypt(full, bytes, signing ? null : len);
    return { dataKey, entries, pairs, signing: signing ? { privateKey: signing.privateKey, publicRaw: signing.publicRaw } : undefined };
  }

  /** Seals `data` (bytes or a string) under a data key bound to `context`; `sign`: a signed message (suite 2). */
  async encrypt(data, options) {
    const { context = {}, sign = false } = known(options, ['context', 'sign'], 'encrypt', 'seal');
    const plaintext = toBytes(data, 'data');
    return this.#observed('encrypt', plaintext.length, async () => {
      const { dataKey, entries, pairs, signing } = await this.#newMessage(context, plaintext.length, sign);
      try {
        return await sealWithDataKeyAssumingUniqueMessageId({
          dataKey, messageId: this.#engine.randomBytes(32), segmentSize: this.#o.segmentSize ?? DEFAULT_SEGMENT_SIZE,
          context: pairs, entries, plaintext, engine: this.#engine, signing,
        });
      } finally {
        dataKey.fill(0);
      }
    });
  }

  /**
   * Runs one encrypt or decrypt and emits its outcome event (`bytes`: the plaintext's length; for a
   * decrypt, 0 when it failed and the result's length when it succeeded).
   */
  async #observed(type, bytes, f) {
    try {
      const out = await f();
      this.emit({ type, ok: true, code: null, bytes: type === 'encrypt' ? bytes : out.length });
      return out;
    } catch (e) {
      this.emit({ type, ok: false, code: e?.code ?? 'INTERNAL', bytes });
      throw e;
    }
  }

  /**
   * Checks `requireContext` against a parsed header's context, and with `requireSigned` that the
   * message is signed (FORMAT.md §7.2 step 4), both before any key-service call.
   */
  static #require(h, requireContext, requireSigned) {
    const have = new Map(h.context);
    for (const [k, v] of Object.entries(requireContext ?? {})) {
      if (have.get(k) !== v) throw new ContextMismatchError(`context mismatch on key "${k}"`, undefined, { contextKey: k });
    }
    if (requireSigned && h.suite !== SUITE_SIGNED) throw new DowngradeRefusedError('an unsigned message where a signed one is required (requireSigned)');
  }

  /**
   * Reads the header and only the segments covering plaintext `[offset, offset + length)` of
   * `source` (bytes, a Blob, `{ size, read(start, end) }` or a reader function with `size`), the
   * range clamped to the plaintext. An empty range makes no key-service call. A ranged read cannot
   * verify a signature (`requireSigned` is refused): its plaintext is reader-authenticated.
   */
  async decryptRange(source, options) {
    const { offset = 0, length, size, requireContext, requireSigned } = known(options, ['offset', 'length', 'size', 'requireContext', 'requireSigned'], 'decryptRange', 'open');
    if (requireSigned) throw new InvalidArgumentError('invalid argument: a ranged read cannot verify a signature (it does not read every segment): use decrypt or decryptStream with requireSigned');
    return this.#observed('decrypt', 0, async () => {
      const src = rangeSource(source, size);
      nonNegInt(offset, 'offset');
      const len = length === undefined ? Number.MAX_SAFE_INTEGER - offset : nonNegInt(length, 'length');
      const h = parseHeader(await readHeader({ headerLength }, src));
      KeySealJs.#require(h, requireContext, false);
      const plan = planRange(h, src.size, offset, len);
      const fetched = plan.fetch[1] > plan.fetch[0] ? await src.read(plan.fetch[0], plan.fetch[1]) : new Uint8Array(0);
      if (plan.segments[0] === plan.segments[1]) {
        if (fetched.length !== 0) throw new DecryptionFailedError('decryption failed');
        return new Uint8Array(0);
      }
      const dataKey = await this.#keys.forHeader(h);
      try {
        return await openRange(this.#engine, h, dataKey, plan, fetched);
      } finally {
        dataKey.fill(0);
      }
    });
  }

  /**
   * Seals what is written into one message (`readable.pipeThrough(ks.encryptStream({ context }))`):
   * the header first, then each segment as soon as it is full. Its length is unknown, so its data
   * key is fresh (the encrypt cache's byte limit could not be kept).
   */
  encryptStream(options) {
    const { context = {}, sign = false, onProgress } = known(options, ['context', 'sign', 'onProgress'], 'encryptStream', 'seal');
    let sealer = null;
    let plaintextBytes = 0, sealedBytes = 0;
    const begin = async (controller) => {
      if (sealer) return;
      const { dataKey, entries, pairs, signing } = await this.#newMessage(context, null, sign);
      try {
        sealer = await StreamSealer.begin({
          dataKey, messageId: this.#engine.randomBytes(32), segmentSize: this.#o.segmentSize ?? DEFAULT_SEGMENT_SIZE,
          context: pairs, entries, engine: this.#engine, signing,
        });
      } finally {
        dataKey.fill(0);
      }
      sealedBytes += sealer.header.length;
      controller.enqueue(sealer.header);
    };
    const out = (controller, bytes) => { if (bytes.length) { sealedBytes += bytes.length; controller.enqueue(bytes); } };
    const guard = (f) => async (...a) => {
      try {
        return await f(...a);
      } catch (e) {
        this.emit({ type: 'encrypt', ok: false, code: e?.code ?? 'INTERNAL', bytes: plaintextBytes });
        throw e;
      }
    };
    return new TransformStream({
      transform: guard(async (chunk, controller) => {
        await begin(controller);
        const bytes = toBytes(chunk, 'chunk');
        out(controller, await sealer.push(bytes));
        plaintextBytes += bytes.length;
        progress(onProgress, { plaintextBytes, sealedBytes });
      }),
      flush: guard(async (controller) => {
        await begin(controller);
        out(controller, await sealer.finish());
        this.emit({ type: 'encrypt', ok: true, code: null, bytes: plaintextBytes });
        progress(onProgress, { plaintextBytes, sealedBytes, done: true });
      }),
    });
  }

  /**
   * Opens a sealed message written to it, releasing plaintext segment by segment once each
   * authenticated (FORMAT.md §7.2): on failure the readable errors after a prefix of whole
   * segments. `.header` resolves to the parsed header once it was read and accepted.
   */
  decryptStream(options) {
    const { requireContext, requireSigned = false, onProgress } = known(options, ['requireContext', 'requireSigned', 'onProgress'], 'decryptStream', 'open');
    let pending = new Uint8Array(0);
    let sealedBytes = 0, plaintextBytes = 0;
    let opener = null;
    let segmentSize = 0;
    let resolveHeader, rejectHeader;
    const header = new Promise((resolve, reject) => { resolveHeader = resolve; rejectHeader = reject; });
    header.catch(() => { /* unobserved is fine */ });
    const out = (controller, bytes) => { if (bytes.length) { plaintextBytes += bytes.length; controller.enqueue(bytes); } };
    const guard = (f) => async (...a) => {
      try {
        return await f(...a);
      } catch (e) {
        rejectHeader(e);
        this.emit({ type: 'decrypt', ok: false, code: e?.code ?? 'INTERNAL', bytes: plaintextBytes });
        throw e;
      }
    };
    // collects the header (§4.3), then opens; the body goes to the opener at most 1 MiB a push
    const feed = async (controller, chunk) => {
      if (!opener) {
        pending = concat(pending, chunk);
        let want = headerLength(pending.subarray(0, Math.min(pending.length, 11)));
        while (want.needAtLeast !== undefined && want.needAtLeast <= pending.length) want = headerLength(pending.subarray(0, want.needAtLeast));
        if (want.headerLen === undefined || want.headerLen > pending.length) return;
        const h = parseHeader(pending.subarray(0, want.headerLen));
        KeySealJs.#require(h, requireContext, requireSigned);
        const dataKey = await this.#keys.forHeader(h, requireSigned);
        try {
          opener = await StreamOpener.begin({ header: h, dataKey, engine: this.#engine });
        } finally {
          dataKey.fill(0);
        }
        resolveHeader(headerInfo(h, 0));
        segmentSize = h.segmentSize;
        chunk = pending.subarray(want.headerLen);
        pending = null;
      }
      // released segment by segment, as each authenticated
      for (let at = 0; at < chunk.length; at += 1 << 20) {
        const pt = await opener.push(chunk.subarray(at, at + (1 << 20)));
        for (let k = 0; k < pt.length; k += segmentSize) out(controller, pt.subarray(k, k + segmentSize));
      }
    };
    const stream = new TransformStream({
      transform: guard(async (chunk, controller) => {
        const bytes = toBytes(chunk, 'chunk');
        sealedBytes += bytes.length;
        await feed(controller, bytes);
        progress(onProgress, { sealedBytes, plaintextBytes });
      }),
      flush: guard(async (controller) => {
        if (!opener) parseHeader(pending); // ended inside the header: its error (INVALID_FORMAT, …)
        out(controller, await opener.finish());
        this.emit({ type: 'decrypt', ok: true, code: null, bytes: plaintextBytes });
        progress(onProgress, { sealedBytes, plaintextBytes, done: true });
      }),
    });
    stream.header = header;
    return stream;
  }

  /**
   * Opens `sealed`; `requireContext` pairs must be in its context and with `requireSigned` it must
   * be signed (both checked before any key-service call). A signature is always verified.
   */
  async decrypt(sealed, options) {
    const { requireContext, requireSigned = false } = known(options, ['requireContext', 'requireSigned'], 'decrypt', 'open');
    return (await this.#open(toBytes(sealed, 'sealed'), requireContext, requireSigned)).plaintext;
  }

  /** Opens `bytes` as `decrypt` does and emits its outcome event: `{ plaintext, h }` (the parsed header). */
  async #open(bytes, requireContext, requireSigned) {
    let h;
    const plaintext = await this.#observed('decrypt', 0, async () => {
      h = parseHeader(bytes);
      KeySealJs.#require(h, requireContext, requireSigned);
      // forHeader returns only a key that matches the header's commitment: not checked twice
      const dataKey = await this.#keys.forHeader(h, requireSigned);
      try {
        return await openAssumingCommitmentChecked(bytes, h, dataKey, { engine: this.#engine });
      } finally {
        dataKey.fill(0);
      }
    });
    return { plaintext, h };
  }
}
