// The whole-buffer encrypt and decrypt of the SDK, in JS over the format in JS (docs/DESIGN.md
// design C stage 1): what `KeySeal.encrypt` / `decrypt` do for keyseal key services, the cache,
// escrow and the decrypt policy included. Not yet the package's `KeySeal`: options are a subset of
// the d.ts (no streams, ranges, rotation, other kinds, wrap modes, metrics or tracing yet), and
// `js/test/suite/policy-js.js` holds what exists to the package's behaviour.

import { toBytes } from '../bytes.js';
import { ContextMismatchError, InvalidArgumentError } from '../errors.js';
import { webcryptoEngine } from '../format/crypto.js';
import { encodeContext, parseHeader } from '../format/header.js';
import { openWithDataKey, sealWithDataKeyAssumingUniqueMessageId } from '../format/message.js';
import { DataKeyCache } from './cache.js';
import { DataKeys } from './data-keys.js';
import { KeysealKms } from './keyseal-kms.js';

/** The SDK's default segment size (format/src/limits.rs DEFAULT_SEGMENT_SIZE). */
const DEFAULT_SEGMENT_SIZE = 64 * 1024;

function checkContext(context) {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) throw new InvalidArgumentError('invalid argument: context must be an object of strings');
  for (const [k, v] of Object.entries(context)) {
    if (typeof v !== 'string') throw new InvalidArgumentError(`invalid argument: context value of "${k}" must be a string`);
    if (k.startsWith('keyseal:')) throw new InvalidArgumentError(`invalid argument: context keys beginning with "keyseal:" are reserved (FORMAT.md §3.4): "${k}"`);
  }
}

export class KeySealJs {
  #o;
  #keys;
  #engine;

  /** `options`: `{ keyService: { id, urls, identity? }, keyId, escrow?, token, cache?, retry?, decrypt?, engine?, onEvent?, allowPlaintextKeys?, segmentSize? }`. */
  static async create(options) {
    return new KeySealJs(options);
  }

  constructor(options) {
    this.#o = options;
    this.#engine = options.engine ?? webcryptoEngine;
    const emit = options.onEvent ?? (() => {});
    const service = (s, keyId) => ({
      id: s.id, keyId, kind: 'kms',
      client: new KeysealKms({
        id: s.id, urls: s.urls, token: options.token, identity: s.identity, engine: this.#engine, retry: options.retry,
        onEvent: emit, allowPlaintextKeys: options.allowPlaintextKeys,
      }),
    });
    const services = [service(options.keyService, options.keyId ?? ''), ...(options.escrow ?? []).map((e) => service(e, e.keyId))];
    this.#keys = new DataKeys({
      services, cache: new DataKeyCache(options.cache), decrypt: options.decrypt, engine: this.#engine, onEvent: emit,
    });
    this.emit = emit;
  }

  /** Drops cached data keys (of `keyId`, or all); returns how many. */
  purge(keyId) {
    return this.#keys.purge(keyId);
  }

  /** Seals `data` (bytes or a string) under a data key bound to `context`. */
  async encrypt(data, { context = {} } = {}) {
    const plaintext = toBytes(data, 'data');
    try {
      if (!this.#o.keyId) throw new InvalidArgumentError('invalid argument: this instance was created without a keyId, so it can only decrypt: give options.keyId to encrypt');
      checkContext(context);
      const { bytes, pairs } = encodeContext(context);
      const { dataKey, entries } = await this.#keys.forEncrypt(context, bytes, plaintext.length);
      try {
        const sealed = await sealWithDataKeyAssumingUniqueMessageId({
          dataKey, messageId: this.#engine.randomBytes(32), segmentSize: this.#o.segmentSize ?? DEFAULT_SEGMENT_SIZE,
          context: pairs, entries, plaintext, engine: this.#engine,
        });
        this.emit({ type: 'encrypt', ok: true, code: null, bytes: plaintext.length });
        return sealed;
      } finally {
        dataKey.fill(0);
      }
    } catch (e) {
      this.emit({ type: 'encrypt', ok: false, code: e?.code ?? 'INTERNAL', bytes: plaintext.length });
      throw e;
    }
  }

  /** Opens `sealed`; `requireContext` pairs must be in its context (checked before any key-service call). */
  async decrypt(sealed, { requireContext } = {}) {
    const bytes = toBytes(sealed, 'sealed');
    try {
      const h = parseHeader(bytes);
      const have = new Map(h.context);
      for (const [k, v] of Object.entries(requireContext ?? {})) {
        if (have.get(k) !== v) throw new ContextMismatchError(`context mismatch on key "${k}"`, undefined, { contextKey: k });
      }
      const dataKey = await this.#keys.forHeader(h);
      try {
        const plaintext = await openWithDataKey(bytes, dataKey, { engine: this.#engine });
        this.emit({ type: 'decrypt', ok: true, code: null, bytes: plaintext.length });
        return plaintext;
      } finally {
        dataKey.fill(0);
      }
    } catch (e) {
      this.emit({ type: 'decrypt', ok: false, code: e?.code ?? 'INTERNAL', bytes: 0 });
      throw e;
    }
  }
}
