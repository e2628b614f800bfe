// The package's API (js/types/index.d.ts), independent of how each runtime loads things: each
// entry supplies `loadWasm` and, in the Node entry, its node:crypto pieces. docs/DESIGN.md design
// C: an instance runs on the SDK in JS (policy/keyseal.js over format/, on the platform's
// primitives) unless its options or the runtime route it to the Rust core in wasm
// (wasm-keyseal.js), which is then fetched and compiled at that first use — as it is for
// `lowLevel`. Both give the same bytes, calls and errors; the suite holds them to it.
import { InvalidArgumentError } from './errors.js';
import { checkCreateOptions, known } from './options.js';
import { toBytes } from './bytes.js';
import { call, callSync, WasmKeySeal } from './wasm-keyseal.js';
import { KeySealJs } from './policy/keyseal.js';
import { inspectMessage } from './policy/header-info.js';
import { headerLength as formatHeaderLength } from './format/header.js';
import { webcryptoEngine } from './format/crypto.js';

const ENGINES = ['auto', 'wasm', 'webcrypto', 'node'];
const TRANSPORTS = ['auto', 'fetch', 'node'];

/**
 * Where an instance with options `o` runs: `{ formatEngine, fetch }` for the SDK in JS, or null
 * for the Rust core in wasm. JS wherever one engine of the platform does both the AES-GCM and the
 * P-256 the options ask for: node:crypto in the Node entry ('auto' or 'node'), else
 * `crypto.subtle` ('auto' or 'webcrypto') where the runtime has it (read now, at create). The
 * wasm core takes `engine: 'wasm'`, `p256: 'wasm'`, a runtime without `crypto.subtle` outside
 * the Node entry, a mixed choice (e.g. `p256: 'webcrypto'` with node:crypto's AES-GCM), and any
 * choice the runtime cannot make (its error, INVALID_ARGUMENT, is the core's). An option value
 * that is not in the d.ts stays in JS, whose option check refuses it.
 */
function route(o, platform) {
  const engine = o.engine ?? 'auto';
  const p256 = o.p256 ?? 'auto';
  const transport = o.transport ?? 'auto';
  const nodeEntry = platform.formatEngine !== undefined;
  if (!ENGINES.includes(engine) || !ENGINES.includes(p256) || !TRANSPORTS.includes(transport)) return { formatEngine: webcryptoEngine };
  const hasSubtle = typeof globalThis.crypto?.subtle?.importKey === 'function';
  let name = null;
  if (engine === 'node' || (engine === 'auto' && nodeEntry)) name = nodeEntry ? 'node' : null;
  else if (engine !== 'wasm') name = hasSubtle ? 'webcrypto' : null;
  if (name === null || (p256 !== 'auto' && p256 !== name)) return null;
  if (transport === 'node' && !nodeEntry) return null;
  return {
    formatEngine: name === 'node' ? platform.formatEngine : webcryptoEngine,
    // node:http in the Node entry unless 'fetch' is asked for; the global fetch elsewhere
    fetch: nodeEntry && transport !== 'fetch' ? platform.fetch : undefined,
  };
}

/**
 * `platform` (Node entry only): `nodeCipher` and `nodeHttp`, the node:crypto engine and node:http
 * transport of the wasm core (node-cipher.js, node-http.js); `formatEngine` and `fetch`, the same
 * two for the SDK in JS (format/node-engine.js, node-fetch.js).
 */
export function createApi(loadWasm, platform = {}) {
  let loading;
  const wasmNow = () => (loading ??= Promise.resolve().then(loadWasm));
  const CREATE = Symbol('create');

  class KeySeal {
    #impl;

    /** Use `KeySeal.create(options)`. */
    constructor(token, impl) {
      if (token !== CREATE) throw new InvalidArgumentError('use `await KeySeal.create(options)`, not `new KeySeal()`');
      this.#impl = impl;
    }

    /** Validates options and prepares the key-service clients. Makes no network call. */
    static async create(options) {
      if (!options || typeof options !== 'object') throw new InvalidArgumentError('options are required');
      checkCreateOptions(options);
      const js = route(options, platform);
      if (js) return new KeySeal(CREATE, callSync(() => new KeySealJs({ ...options, ...js })));
      const wasm = await wasmNow();
      return new KeySeal(CREATE, new WasmKeySeal(callSync(() => new wasm.KeySealCore(options, platform.nodeCipher, platform.nodeHttp)), wasm));
    }

    /**
     * Which engine `encrypt`/`decrypt` use for a message of `byteLength` bytes (`Infinity`: the
     * streams): `'webcrypto'`, `'node'` or `'wasm'`. All produce the same bytes.
     */
    engineFor(byteLength) {
      return this.#impl.engineFor(byteLength);
    }

    /**
     * Which P-256 engine makes the recipient key of each key-service call and checks identity
     * signatures: `'node'`, `'webcrypto'` or `'wasm'`. All give the same bytes.
     */
    p256Engine() {
      return this.#impl.p256Engine();
    }

    /** Seals bytes or a string under `context` (`sign: true`: a signed message, FORMAT.md §6.5). */
    async encrypt(data, options) {
      return call(() => this.#impl.encrypt(data, options));
    }

    /** Opens a sealed message (`requireContext`, `requireSigned` checked before any key-service call). */
    async decrypt(sealed, options) {
      return call(() => this.#impl.decrypt(sealed, options));
    }

    /** Like decrypt, and also the header facts of the message that opened: `{ plaintext, header }`. */
    async decryptWithHeader(sealed, options) {
      return call(() => this.#impl.decryptWithHeader(sealed, options));
    }

    /** Like decrypt, then UTF-8 decodes (fails on invalid UTF-8). */
    async decryptText(sealed, options) {
      return call(() => this.#impl.decryptText(sealed, options));
    }

    /** Plaintext bytes `offset … offset + length − 1` of a sealed object, reading only the segments that cover them (FORMAT.md §6.4). */
    async decryptRange(source, options) {
      return call(() => this.#impl.decryptRange(source, options));
    }

    /** Header-only rotation of one object (FORMAT.md §4.4): resolves to `{ header, bodyOffset }`. */
    async rewrap(sealedOrHeader, options) {
      return call(() => this.#impl.rewrap(sealedOrHeader, options));
    }

    /** Rotates many objects, skipping those already current: `{ done, skipped, failed, targetVersion }`. */
    async rewrapAll(objects, options) {
      return call(() => this.#impl.rewrapAll(objects, options));
    }

    /** Header facts (no secrets, no key-service call), key versions as this instance's services read them. */
    async inspect(sealed, options) {
      return call(() => this.#impl.inspect(sealed, options));
    }

    /**
     * A TransformStream that seals the bytes written to it into one message, the header first,
     * then each segment as it completes (the d.ts has the whole contract).
     */
    encryptStream(options) {
      return callSync(() => this.#impl.encryptStream(options));
    }

    /**
     * A TransformStream that opens a sealed message written to it, releasing plaintext segment by
     * segment once each authenticated (the d.ts has the whole contract).
     */
    decryptStream(options) {
      return callSync(() => this.#impl.decryptStream(options));
    }

    /** Drops cached data keys of `keyId`, or all. Returns how many were dropped. */
    purge(keyId) {
      return this.#impl.purge(keyId ?? undefined);
    }

    /** SLI figures: key-service latency percentiles, calls and errors by op and code, cache, decrypt rate. */
    metrics() {
      return this.#impl.metrics();
    }

    /** The same figures as Prometheus text. */
    metricsText() {
      return this.#impl.metricsText();
    }
  }
  /**
   * Header facts of a sealed message (or its first bytes), without a KeySeal instance.
   * `sealedLength`: the whole message's length when `sealed` is only its first bytes.
   */
  async function inspect(sealed, options) {
    return callSync(() => inspectMessage(sealed, options));
  }

  /**
   * How long the header is, from the first bytes of a message (FORMAT.md §4.3):
   * `{ headerLen }` once the prefix tells it, else `{ needAtLeast }` (bytes from the start).
   */
  async function headerLength(prefix) {
    const bytes = toBytes(prefix, 'prefix');
    return callSync(() => formatHeaderLength(bytes));
  }

  /** Low-level functions for test vectors and tools, on the wasm core. Data keys are the caller's responsibility. */
  const lowLevel = {
    /** Opens with a data key the caller holds; `engine`: 'wasm' (default) or 'webcrypto'. */
    async openWithDataKey(sealed, dataKey, options) {
      const { requireContext, engine } = known(options, ['requireContext', 'engine'], 'openWithDataKey', 'open');
      const w = await wasmNow();
      return call(() => w.openWithDataKey(toBytes(sealed, 'sealed'), toBytes(dataKey, 'dataKey'), { requireContext, engine }));
    },
    /** Seals with a caller-held data key and a message id the caller MUST never reuse with it. */
    async sealWithDataKeyAssumingUniqueMessageId(dataKey, messageId, segmentSize, contextPairs, entries, plaintext, { engine, signingSecret } = {}) {
      const w = await wasmNow();
      return call(() => w.sealWithDataKeyAssumingUniqueMessageId(toBytes(dataKey, 'dataKey'), toBytes(messageId, 'messageId'),
        segmentSize, contextPairs, entries, toBytes(plaintext, 'plaintext'), { engine, signingSecret }));
    },
    /** The verification key (base64 SEC1) of a signing key given as the hex of its scalar (FORMAT.md §3.4). */
    async verificationKey(signingSecret) {
      const w = await wasmNow();
      return callSync(() => w.verificationKey(signingSecret));
    },
    /**
     * The Rust reference's `inspect` (the wasm core's header parser, FORMAT.md §3–§4 and §8), for
     * checking another parser against it; the top-level `inspect` is the JS's.
     */
    async referenceInspect(sealed, options) {
      const { sealedLength } = known(options, ['sealedLength'], 'referenceInspect');
      const w = await wasmNow();
      return callSync(() => w.inspect(toBytes(sealed, 'sealed'), sealedLength));
    },
    /** The Rust reference's `headerLength` (FORMAT.md §4.3), likewise. */
    async referenceHeaderLength(prefix) {
      const w = await wasmNow();
      return callSync(() => w.headerLength(toBytes(prefix, 'prefix')));
    },
    /** Diagnostics: the wasm module's linear memory in bytes (`memory.buffer.byteLength`); it only grows. */
    async wasmMemoryBytes() {
      return (await wasmNow()).wasmMemoryBytes();
    },
    /** Every error code the core can produce (the error classes of this package cover each). */
    async errorCodes() {
      return (await wasmNow()).errorCodes();
    },
  };

  return { KeySeal, inspect, headerLength, lowLevel };
}
