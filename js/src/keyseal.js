// The KeySeal API, independent of how the wasm module is loaded (each runtime's entry supplies
// `loadWasm`). The Rust core does the work; this file converts inputs and errors.
import { fromCore, InvalidArgumentError } from './errors.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

function toBytes(data, what) {
  if (typeof data === 'string') return enc.encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new InvalidArgumentError(`${what} must be a Uint8Array, ArrayBuffer or string`);
}

function contextJson(ctx, what) {
  if (ctx == null) return '{}';
  if (typeof ctx !== 'object' || Array.isArray(ctx)) throw new InvalidArgumentError(`${what} must be an object of strings`);
  for (const [k, v] of Object.entries(ctx)) {
    if (typeof v !== 'string') throw new InvalidArgumentError(`${what}.${k} must be a string`);
  }
  return JSON.stringify(ctx);
}

function service(s, keyId, what) {
  if (!s || typeof s !== 'object') throw new InvalidArgumentError(`${what} must be { id, urls }`);
  const urls = typeof s.urls === 'string' ? [s.urls] : s.urls ?? (s.url ? [s.url] : undefined);
  if (!Array.isArray(urls) || urls.length === 0 || urls.some((u) => typeof u !== 'string')) {
    throw new InvalidArgumentError(`${what}.urls must be a non-empty array of URLs`);
  }
  const id = s.id ?? 'default';
  const k = s.keyId ?? keyId;
  if (typeof k !== 'string' || !k) throw new InvalidArgumentError(`${what} needs a keyId`);
  return { id, urls, keyId: k };
}

/** Options → the JSON the core takes (documented in the README and index.d.ts). */
export function coreConfig(o) {
  if (!o || typeof o !== 'object') throw new InvalidArgumentError('options are required');
  const services = [service(o.keyService, o.keyId, 'keyService'), ...(o.escrow ?? []).map((s, i) => service(s, undefined, `escrow[${i}]`))];
  const cache = o.cache === false ? null : {
    maxAgeMs: o.cache?.maxAgeMs ?? 60_000,
    maxMessages: o.cache?.maxMessages ?? 10_000,
    maxBytes: o.cache?.maxBytes ?? 2 ** 30,
    maxEntries: o.cache?.maxEntries ?? 1000,
  };
  const r = o.retry ?? {};
  return {
    services,
    cache,
    retry: {
      attemptTimeoutMs: o.timeoutMs ?? r.attemptTimeoutMs,
      deadlineMs: o.deadlineMs ?? r.deadlineMs,
      maxRounds: r.maxRounds,
      backoffBaseMs: r.backoffBaseMs,
      backoffMaxMs: r.backoffMaxMs,
      breakerThreshold: r.breakerThreshold,
      breakerCooldownMs: r.breakerCooldownMs,
    },
    wrapMode: o.wrapMode ?? 'key-service',
    allowPlaintextKeys: o.allowPlaintextKeys === true,
    segmentSize: o.segmentSize,
    reason: o.reason,
  };
}

async function call(f) {
  try {
    return await f();
  } catch (e) {
    throw fromCore(e);
  }
}

export function createApi(loadWasm) {
  let loaded;
  const wasmNow = async () => (loaded ??= await loadWasm());

  class KeySeal {
    #core;
    constructor(core) {
      if (!core) throw new InvalidArgumentError('use KeySeal.create(options)');
      this.#core = core;
    }

    /** Validates options and prepares the key-service clients. Makes no network call. */
    static async create(options) {
      const wasm = await wasmNow();
      const config = coreConfig(options);
      const token = options.token ?? (() => '');
      if (typeof token !== 'function') throw new InvalidArgumentError('token must be a function');
      const onEvent = typeof options.onEvent === 'function'
        ? (json) => { try { options.onEvent(JSON.parse(json)); } catch { /* a throwing listener must not break crypto */ } }
        : undefined;
      return call(() => new KeySeal(new wasm.KeySealCore(JSON.stringify(config), token, onEvent)));
    }

    /** Seals bytes or a string under `context`. */
    async encrypt(data, { context } = {}) {
      const bytes = toBytes(data, 'data');
      const ctx = contextJson(context, 'context');
      return call(() => this.#core.encrypt(bytes, ctx));
    }

    /** Opens a sealed message; `requireContext` pairs must match the message's context. */
    async decrypt(sealed, { requireContext } = {}) {
      const bytes = toBytes(sealed, 'sealed');
      const req = contextJson(requireContext, 'requireContext');
      return call(() => this.#core.decrypt(bytes, req));
    }

    /** Like decrypt, then UTF-8 decodes (fails on invalid UTF-8). */
    async decryptText(sealed, options) {
      const b = await this.decrypt(sealed, options);
      try { return dec.decode(b); } catch { throw new InvalidArgumentError('plaintext is not UTF-8'); }
    }

    /** Header facts (no secrets, no key-service call). */
    inspect(sealed) {
      return inspectSync(sealed);
    }

    /** Drops cached data keys of `keyId`, or all. Returns how many were dropped. */
    purge(keyId) {
      return this.#core.purge(keyId ?? undefined);
    }

    /** SLI figures: key-service latency percentiles, calls and errors by op and code, cache, decrypt rate. */
    metrics() {
      return JSON.parse(this.#core.metrics());
    }

    /** The same figures as Prometheus text. */
    metricsText() {
      return this.#core.metricsText();
    }
  }

  function inspectSync(sealed) {
    try { return JSON.parse(loaded.inspect(toBytes(sealed, 'sealed'))); } catch (e) { throw fromCore(e); }
  }

  /** Header facts of a sealed message, without a KeySeal instance. */
  async function inspect(sealed) {
    await wasmNow();
    return inspectSync(sealed);
  }

  /** Low-level functions for test vectors and tools. Data keys are the caller's responsibility. */
  const lowLevel = {
    async openWithDataKey(sealed, dataKey, { requireContext } = {}) {
      const w = await wasmNow();
      return call(() => w.openWithDataKey(toBytes(sealed, 'sealed'), toBytes(dataKey, 'dataKey'), contextJson(requireContext, 'requireContext')));
    },
    async sealWithDataKeyAssumingUniqueMessageId(dataKey, messageId, segmentSize, contextPairs, entries, plaintext) {
      const w = await wasmNow();
      return call(() => w.sealWithDataKeyAssumingUniqueMessageId(
        toBytes(dataKey, 'dataKey'), toBytes(messageId, 'messageId'), segmentSize,
        JSON.stringify(contextPairs), JSON.stringify(entries), toBytes(plaintext, 'plaintext')));
    },
  };

  return { KeySeal, inspect, lowLevel };
}
