// The KeySeal API, independent of how the wasm module is loaded (each runtime's entry supplies
// `loadWasm`). The Rust core does the work; this file converts inputs and errors.
import { DecryptionFailedError, fromCore, InvalidArgumentError, InvalidFormatError, KeySealError } from './errors.js';

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

/** Largest piece handed to the wasm core at once, so memory stays bounded whatever the chunk size. */
const PIECE = 1 << 20;

function pieces(bytes) {
  const out = [];
  for (let i = 0; i < bytes.length; i += PIECE) out.push(bytes.subarray(i, Math.min(bytes.length, i + PIECE)));
  return out;
}

function progress(cb, info) {
  if (typeof cb !== 'function') return;
  try { cb(info); } catch { /* a throwing listener must not break crypto */ }
}

function nonNegInt(x, what) {
  if (!Number.isSafeInteger(x) || x < 0) throw new InvalidArgumentError(`${what} must be a non-negative integer`);
  return x;
}

/**
 * A ranged source as `{ size, read(start, end) }` (end exclusive). Accepts a Uint8Array (or
 * ArrayBuffer/view), a Blob, a reader object `{ size, read(start, end) }`, or a reader function
 * `(start, end) => bytes` together with `options.size`.
 */
function rangeSource(source, size) {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const b = toBytes(source, 'source');
    return { size: b.length, read: async (s, e) => b.subarray(s, e) };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return { size: source.size, read: async (s, e) => new Uint8Array(await source.slice(s, e).arrayBuffer()) };
  }
  if (typeof source === 'function') {
    if (size === undefined) throw new InvalidArgumentError('a reader function needs options.size (the sealed length)');
    return { size: nonNegInt(size, 'size'), read: async (s, e) => toBytes(await source(s, e), 'read result') };
  }
  if (source && typeof source === 'object' && typeof source.read === 'function') {
    const n = source.size ?? size;
    if (n === undefined) throw new InvalidArgumentError('a reader object needs a size');
    return { size: nonNegInt(n, 'size'), read: async (s, e) => toBytes(await source.read(s, e), 'read result') };
  }
  throw new InvalidArgumentError('source must be a Uint8Array, a Blob, a (start, end) => bytes function or { size, read }');
}

/**
 * Reads exactly the header (FORMAT.md §4.3) in at most three small reads: the 11-byte prefix,
 * the rest of the authenticated part with `section_len`, then the wrapped-key section.
 */
async function readHeader(wasm, src) {
  let buf = new Uint8Array(0);
  for (let reads = 0; reads < 4; reads++) {
    const n = buf.length ? wasm.headerLength(buf) : -11;
    const want = Math.abs(n);
    if (n > 0 && buf.length >= n) return buf.subarray(0, n);
    if (want > src.size) throw new InvalidFormatError('invalid format: truncated header');
    const more = await src.read(buf.length, want);
    if (more.length !== want - buf.length) throw new InvalidFormatError('invalid format: truncated header');
    const next = new Uint8Array(want);
    next.set(buf);
    next.set(more, buf.length);
    buf = next;
  }
  throw new InvalidFormatError('invalid format: header did not complete');
}

// ---------------------------------------------------------------------------------------------
// The WebCrypto engine (docs/DESIGN.md "Engines"). The core prepares each message (header,
// commitment, data key, layout) and hands out the payload key once and the segment nonces; here
// AES-256-GCM runs through crypto.subtle with several segments in flight, outputs in order.

/** 'auto' uses WebCrypto for messages of at least this many bytes, wasm below (bench/engines.mjs). */
export const WEBCRYPTO_MIN_BYTES = 16 * 1024;
/** Segments in flight per message on the WebCrypto engine. */
const IN_FLIGHT = 8;
const TAG = 16;
/** Hidden test hook: `KeySeal.create({ [HIDE_SUBTLE]: true, ... })` behaves as if crypto.subtle were absent. */
const HIDE_SUBTLE = Symbol.for('keyseal.test.hideSubtle');
const ENGINES = ['auto', 'wasm', 'webcrypto', 'node'];

const gcm = (iv) => ({ name: 'AES-GCM', iv, tagLength: 128 });

/** Imports the job's payload key as a non-extractable AES-GCM key; the raw bytes are zero-filled at once. */
async function importPayloadKey(subtle, job) {
  const raw = job.takeKey();
  try {
    return await subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  } finally {
    raw.fill(0);
  }
}

/** Any failure while opening that is not already a keyseal error (WebCrypto's OperationError) is DECRYPTION_FAILED. */
function openFailure(e) {
  if (e instanceof KeySealError) return e;
  if (e && typeof e.code === 'string') return fromCore(e);
  return new DecryptionFailedError('decryption failed', { cause: e });
}

/**
 * Runs `start(k)` for k = 0 … n−1 with at most `inFlight` unsettled at once and hands each result
 * to `done(k, result)` strictly in order. At the first failure it starts nothing more, waits for
 * the started ones and rethrows, so nothing outlives the call and nothing after a failure is used.
 */
async function inOrder(n, inFlight, start, done) {
  const q = [];
  let next = 0;
  try {
    for (let k = 0; k < n; k++) {
      while (next < n && q.length < inFlight) {
        const p = start(next++);
        p.catch(() => {});
        q.push(p);
      }
      done(k, await q.shift());
    }
  } catch (e) {
    await Promise.allSettled(q);
    throw e;
  }
}

/** Runs the thunks in `tasks` with at most `n` unsettled at once; resolves when all have settled. */
async function pool(n, tasks) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, async () => {
    while (next < tasks.length) await tasks[next++]();
  }));
}

/** Seals `bytes` as one message with a prepared job. */
async function sealWebCrypto(subtle, job, bytes) {
  const key = await importPayloadKey(subtle, job);
  const header = job.header();
  const S = job.segmentSize();
  const n = Math.floor(bytes.length / S) + 1;
  const out = new Uint8Array(header.length + bytes.length + n * TAG);
  out.set(header);
  if (subtle.encryptInto) { // synchronous engine (node:crypto): no queue, no intermediate buffers
    for (let k = 0; k < n; k++) {
      await subtle.fair();
      subtle.encryptInto(gcm(job.nonce(k, k === n - 1)), key, bytes.subarray(k * S, Math.min(bytes.length, (k + 1) * S)), out, header.length + k * (S + TAG));
    }
    return out;
  }
  await inOrder(n, IN_FLIGHT,
    (k) => subtle.encrypt(gcm(job.nonce(k, k === n - 1)), key, bytes.subarray(k * S, Math.min(bytes.length, (k + 1) * S))),
    (k, ct) => out.set(new Uint8Array(ct), header.length + k * (S + TAG)));
  return out;
}

/** Opens a whole body with a prepared job; all or nothing (the partial output is zero-filled on failure). */
async function openWebCrypto(subtle, job, body) {
  const key = await importPayloadKey(subtle, job);
  const S = job.segmentSize();
  const F = S + TAG;
  const n = Math.floor(body.length / F) + 1;
  if (body.length % F < TAG) throw new DecryptionFailedError('decryption failed');
  const out = new Uint8Array(body.length - n * TAG);
  try {
    if (subtle.decryptInto) { // synchronous engine (node:crypto)
      for (let k = 0; k < n; k++) {
        await subtle.fair();
        subtle.decryptInto(gcm(job.nonce(k, k === n - 1)), key, body.subarray(k * F, Math.min(body.length, (k + 1) * F)), out, k * S);
      }
      return out;
    }
    await inOrder(n, IN_FLIGHT,
      (k) => subtle.decrypt(gcm(job.nonce(k, k === n - 1)), key, body.subarray(k * F, Math.min(body.length, (k + 1) * F))),
      (k, pt) => out.set(new Uint8Array(pt), k * S));
  } catch (e) {
    out.fill(0);
    throw openFailure(e);
  }
  return out;
}

/** The header length when `prefix` holds the whole header, else `prefix.length` (the core then reports the error). */
function headerLenIn(wasm, prefix) {
  try {
    const n = wasm.headerLength(prefix);
    return n > 0 && n <= prefix.length ? n : -1;
  } catch {
    return prefix.length;
  }
}

/**
 * A queue of segment operations with at most IN_FLIGHT unsettled: `add(promise)` (call `drain`
 * with `IN_FLIGHT - 1` after each), `drain(max, emit)` waits for the oldest until at most `max`
 * are left and emits their results in order.
 */
function segmentQueue() {
  const q = [];
  return {
    add(p) { p.catch(() => {}); q.push(p); },
    async drain(max, emit) { while (q.length > max) emit(new Uint8Array(await q.shift())); },
    async abandon() { const rest = q.splice(0); await Promise.allSettled(rest); },
  };
}

/**
 * decryptRange on the WebCrypto engine: `segs` are the message bytes `fs … fe` (whole segments)
 * that cover plaintext `ps … pe`; the core checks the context, the layout and the commitment.
 */
async function rangeWebCrypto(subtle, core, { header, size, segs, fs, fe, ps, pe, hl, req }) {
  const job = await core.prepareDecrypt(header, size - hl, req);
  const out = new Uint8Array(pe - ps);
  try {
    if (segs.length !== fe - fs) throw new DecryptionFailedError('decryption failed');
    const key = await importPayloadKey(subtle, job);
    const S = job.segmentSize();
    const F = S + TAG;
    const total = Math.floor((size - hl) / F) + 1;
    const first = (fs - hl) / F;
    const n = Math.ceil((fe - fs) / F);
    await inOrder(n, IN_FLIGHT,
      (i) => subtle.decrypt(gcm(job.nonce(first + i, first + i === total - 1)), key, segs.subarray(i * F, Math.min(segs.length, (i + 1) * F))),
      (i, buf) => {
        const p = new Uint8Array(buf);
        const at = (first + i) * S;
        const from = Math.max(ps, at), to = Math.min(pe, at + p.length);
        if (to > from) out.set(p.subarray(from - at, to - at), from - ps);
        p.fill(0);
      });
    job.finish(true, segs.length);
    return out;
  } catch (e) {
    out.fill(0);
    job.finish(false, segs.length);
    throw openFailure(e);
  } finally {
    job.free();
  }
}

/** encryptStream on the WebCrypto engine: cuts segments here (FORMAT.md §6.3), IN_FLIGHT at a time, output in order. */
function encryptStreamWebCrypto(subtle, core, ctx, onProgress) {
  let job = null, key = null, S = 0;
  let seg = null, segLen = 0, index = 0;
  let pt = 0, out = 0;
  const q = segmentQueue();
  const emitTo = (controller) => (bytes) => { if (bytes.length) { out += bytes.length; controller.enqueue(bytes); } };
  const start = async (controller) => {
    if (job) return;
    job = await call(() => core.prepareEncrypt(undefined, ctx));
    key = await importPayloadKey(subtle, job);
    S = job.segmentSize();
    seg = new Uint8Array(S);
    emitTo(controller)(job.header());
  };
  // each segment gets a fresh buffer, so WebCrypto never sees bytes change under it
  const seal = (last) => {
    q.add(subtle.encrypt(gcm(job.nonce(index++, last)), key, seg.subarray(0, segLen)));
    seg = last ? null : new Uint8Array(S);
    segLen = 0;
  };
  const dispose = () => { try { job?.free(); } catch { /* already freed */ } job = null; key = null; seg = null; };
  const guard = (f) => async (...a) => {
    try { return await f(...a); } catch (e) {
      await q.abandon();
      try { job?.finish(false, pt); } catch { /* freed */ }
      dispose();
      throw fromCore(e);
    }
  };
  return new TransformStream({
    transform: guard(async (chunk, controller) => {
      await start(controller);
      let b = toBytes(chunk, 'chunk');
      while (b.length) {
        const take = Math.min(S - segLen, b.length);
        seg.set(b.subarray(0, take), segLen);
        segLen += take;
        pt += take;
        b = b.subarray(take);
        if (segLen === S) {
          seal(false);
          await q.drain(IN_FLIGHT - 1, emitTo(controller));
        }
      }
      progress(onProgress, { plaintextBytes: pt, sealedBytes: out });
    }),
    flush: guard(async (controller) => {
      await start(controller);
      seal(true);
      await q.drain(0, emitTo(controller));
      job.finish(true, pt);
      dispose();
      progress(onProgress, { plaintextBytes: pt, sealedBytes: out, done: true });
    }),
    cancel: async () => { await q.abandon(); dispose(); },
  });
}

/**
 * decryptStream on the WebCrypto engine: collects the header, has the core check it and get the
 * data key, then opens segments IN_FLIGHT at a time and releases plaintext strictly in order,
 * each segment only after its tag checked; after a failure nothing more is released.
 */
function decryptStreamWebCrypto(subtle, core, wasm, req, onProgress) {
  let head = new Uint8Array(0);
  let job = null, key = null, F = 0;
  let seg = null, segLen = 0, index = 0;
  let sealedIn = 0, pt = 0;
  const q = segmentQueue();
  const emitTo = (controller) => (bytes) => { if (bytes.length) { pt += bytes.length; controller.enqueue(bytes); } };
  const begin = async (header) => {
    job = await call(() => core.prepareDecrypt(header, undefined, req));
    key = await importPayloadKey(subtle, job);
    F = job.segmentSize() + TAG;
    seg = new Uint8Array(F);
  };
  const open = (last) => {
    q.add(subtle.decrypt(gcm(job.nonce(index++, last)), key, seg.subarray(0, segLen)));
    seg = last ? null : new Uint8Array(F);
    segLen = 0;
  };
  const dispose = () => { try { job?.free(); } catch { /* already freed */ } job = null; key = null; seg = null; head = null; };
  const guard = (f) => async (...a) => {
    try { return await f(...a); } catch (e) {
      await q.abandon();
      try { job?.finish(false, sealedIn); } catch { /* freed */ }
      dispose();
      throw openFailure(e);
    }
  };
  return new TransformStream({
    transform: guard(async (chunk, controller) => {
      let b = toBytes(chunk, 'chunk');
      sealedIn += b.length;
      if (!job) {
        const next = new Uint8Array(head.length + b.length);
        next.set(head);
        next.set(b, head.length);
        head = next;
        const n = headerLenIn(wasm, head);
        if (n < 0) { progress(onProgress, { sealedBytes: sealedIn, plaintextBytes: pt }); return; }
        await begin(head.slice(0, n));
        b = head.subarray(n);
        head = null;
      }
      while (b.length) {
        const take = Math.min(F - segLen, b.length);
        seg.set(b.subarray(0, take), segLen);
        segLen += take;
        b = b.subarray(take);
        // a full-size segment is never the last one (FORMAT.md §6.3)
        if (segLen === F) {
          open(false);
          await q.drain(IN_FLIGHT - 1, emitTo(controller));
        }
      }
      progress(onProgress, { sealedBytes: sealedIn, plaintextBytes: pt });
    }),
    flush: guard(async (controller) => {
      // a stream that ended inside the header: the core reports it (INVALID_FORMAT) and counts it
      if (!job) await begin(head);
      if (segLen < TAG) {
        await q.drain(0, emitTo(controller));
        throw new DecryptionFailedError('decryption failed');
      }
      open(true);
      await q.drain(0, emitTo(controller));
      job.finish(true, sealedIn);
      dispose();
      progress(onProgress, { sealedBytes: sealedIn, plaintextBytes: pt, done: true });
    }),
    cancel: async () => { await q.abandon(); dispose(); },
  });
}

/**
 * `platform.nodeCipher`: a crypto.subtle-shaped AES-GCM from node:crypto (js/src/node-cipher.js),
 * given by the Node entry only; 'auto' prefers it there and the `node` engine forces it.
 */
export function createApi(loadWasm, platform = {}) {
  let loaded;
  const wasmNow = async () => (loaded ??= await loadWasm());

  class KeySeal {
    #core;
    #engine;
    #subtle;
    #platformName;
    constructor(core, engine = { engine: 'wasm', subtle: undefined, name: 'wasm' }) {
      if (!core) throw new InvalidArgumentError('use KeySeal.create(options)');
      this.#core = core;
      this.#engine = engine.engine;
      this.#subtle = engine.subtle;
      this.#platformName = engine.name;
    }

    /**
     * The subtle-shaped cipher (crypto.subtle, or node:crypto for the `node` engine) when a
     * message of `n` bytes goes to it, else undefined (the wasm engine).
     */
    #subtleFor(n) {
      if (this.#engine === 'wasm' || !this.#subtle) return undefined;
      return this.#engine !== 'auto' || n >= WEBCRYPTO_MIN_BYTES ? this.#subtle : undefined;
    }

    /**
     * Which engine `encrypt`/`decrypt` use for a message of `byteLength` bytes (`Infinity`: the
     * streams): `'webcrypto'`, `'node'` or `'wasm'`. All produce the same bytes.
     */
    engineFor(byteLength) {
      return this.#subtleFor(byteLength) ? this.#platformName : 'wasm';
    }

    /** Validates options and prepares the key-service clients. Makes no network call. */
    static async create(options) {
      const wasm = await wasmNow();
      const config = coreConfig(options);
      const token = options.token ?? (() => '');
      if (typeof token !== 'function') throw new InvalidArgumentError('token must be a function');
      const engine = options.engine ?? 'auto';
      if (!ENGINES.includes(engine)) throw new InvalidArgumentError("engine must be 'auto', 'wasm', 'webcrypto' or 'node'");
      // The test hook hides every platform cipher: what a runtime without crypto.subtle sees.
      const hidden = options[HIDE_SUBTLE] === true;
      const webcrypto = hidden ? undefined : globalThis.crypto?.subtle;
      const node = hidden ? undefined : platform.nodeCipher;
      if (engine === 'webcrypto' && !webcrypto) throw new InvalidArgumentError("engine 'webcrypto' needs crypto.subtle, which this runtime lacks");
      if (engine === 'node' && !node) throw new InvalidArgumentError("engine 'node' needs node:crypto (the package's node entry)");
      // 'auto': node:crypto where the entry gives it (Node, Bun), else crypto.subtle.
      const useNode = engine === 'node' || (engine === 'auto' && node !== undefined);
      const subtle = useNode ? node : webcrypto;
      const name = useNode ? 'node' : 'webcrypto';
      const onEvent = typeof options.onEvent === 'function'
        ? (json) => { try { options.onEvent(JSON.parse(json)); } catch { /* a throwing listener must not break crypto */ } }
        : undefined;
      return call(() => new KeySeal(new wasm.KeySealCore(JSON.stringify(config), token, onEvent), { engine, subtle, name }));
    }

    /** Seals bytes or a string under `context`. */
    async encrypt(data, { context } = {}) {
      const bytes = toBytes(data, 'data');
      const ctx = contextJson(context, 'context');
      const subtle = this.#subtleFor(bytes.length);
      if (subtle) {
        return call(async () => {
          const job = await this.#core.prepareEncrypt(bytes.length, ctx);
          try {
            const out = await sealWebCrypto(subtle, job, bytes);
            job.finish(true, bytes.length);
            return out;
          } catch (e) {
            job.finish(false, bytes.length);
            throw e;
          } finally {
            job.free();
          }
        });
      }
      return call(() => this.#core.encrypt(bytes, ctx));
    }

    /** Opens a sealed message; `requireContext` pairs must match the message's context. */
    async decrypt(sealed, { requireContext } = {}) {
      const bytes = toBytes(sealed, 'sealed');
      const req = contextJson(requireContext, 'requireContext');
      const subtle = this.#subtleFor(bytes.length);
      if (subtle) {
        return call(async () => {
          const n = headerLenIn(loaded, bytes);
          const hl = n < 0 ? bytes.length : n;
          const job = await this.#core.prepareDecrypt(bytes.subarray(0, hl), bytes.length - hl, req);
          try {
            const out = await openWebCrypto(subtle, job, bytes.subarray(hl));
            job.finish(true, bytes.length);
            return out;
          } catch (e) {
            job.finish(false, bytes.length);
            throw openFailure(e);
          } finally {
            job.free();
          }
        });
      }
      return call(() => this.#core.decrypt(bytes, req));
    }

    /** Like decrypt, then UTF-8 decodes (fails on invalid UTF-8). */
    async decryptText(sealed, options) {
      const b = await this.decrypt(sealed, options);
      try { return dec.decode(b); } catch { throw new InvalidArgumentError('plaintext is not UTF-8'); }
    }

    /**
     * A TransformStream that seals the bytes written to it (Uint8Array/ArrayBuffer/string chunks)
     * into one message: the header first, then each segment as it completes, the last one on
     * close. Backpressure is the TransformStream's; memory is O(segment size + chunk).
     * `onProgress({ plaintextBytes, sealedBytes })` after every chunk and at the end.
     */
    encryptStream({ context, onProgress } = {}) {
      const ctx = contextJson(context, 'context');
      const core = this.#core;
      const subtle = this.#subtleFor(Infinity);
      if (subtle) return encryptStreamWebCrypto(subtle, core, ctx, onProgress);
      let s = null;
      let pt = 0, out = 0;
      const emit = (controller, bytes) => { if (bytes.length) { out += bytes.length; controller.enqueue(bytes); } };
      const start = async (controller) => {
        if (!s) {
          s = await call(() => core.beginEncrypt(ctx));
          emit(controller, s.header());
        }
      };
      // the wasm state is freed as soon as the stream ends, fails or is cancelled
      const dispose = () => { try { s?.free(); } catch { /* already freed */ } s = null; };
      const guard = (f) => async (...a) => { try { return await f(...a); } catch (e) { dispose(); throw e; } };
      return new TransformStream({
        transform: guard(async (chunk, controller) => {
          await start(controller);
          const bytes = toBytes(chunk, 'chunk');
          for (const p of pieces(bytes)) {
            emit(controller, await call(() => s.push(p)));
            pt += p.length;
          }
          progress(onProgress, { plaintextBytes: pt, sealedBytes: out });
        }),
        flush: guard(async (controller) => {
          await start(controller);
          emit(controller, await call(() => s.finish()));
          dispose();
          progress(onProgress, { plaintextBytes: pt, sealedBytes: out, done: true });
        }),
        cancel: dispose,
      });
    }

    /**
     * A TransformStream that opens a sealed message written to it. Plaintext is enqueued only
     * segment by segment after each tag checks (FORMAT.md §7.2): on a truncated, reordered,
     * extended or tampered stream the readable errors with DecryptionFailedError after having
     * delivered a prefix of the true plaintext made of whole segments. A stream that ends inside
     * the header errors with InvalidFormatError. `onProgress({ sealedBytes, plaintextBytes })`.
     */
    decryptStream({ requireContext, onProgress } = {}) {
      const req = contextJson(requireContext, 'requireContext');
      const core = this.#core;
      const subtle = this.#subtleFor(Infinity);
      if (subtle) return decryptStreamWebCrypto(subtle, core, loaded, req, onProgress);
      let s = null;
      let sealedIn = 0, pt = 0;
      const emit = (controller, bytes) => { if (bytes.length) { pt += bytes.length; controller.enqueue(bytes); } };
      const dispose = () => { try { s?.free(); } catch { /* already freed */ } s = null; };
      const guard = (f) => async (...a) => { try { return await f(...a); } catch (e) { dispose(); throw e; } };
      return new TransformStream({
        transform: guard(async (chunk, controller) => {
          s ??= await call(() => core.beginDecrypt(req));
          const bytes = toBytes(chunk, 'chunk');
          for (const p of pieces(bytes)) {
            emit(controller, await call(() => s.push(p)));
            sealedIn += p.length;
          }
          progress(onProgress, { sealedBytes: sealedIn, plaintextBytes: pt });
        }),
        flush: guard(async (controller) => {
          s ??= await call(() => core.beginDecrypt(req));
          emit(controller, await call(() => s.finish()));
          dispose();
          progress(onProgress, { sealedBytes: sealedIn, plaintextBytes: pt, done: true });
        }),
        cancel: dispose,
      });
    }

    /**
     * Decrypts plaintext bytes `offset … offset + length − 1` (clamped to the plaintext) of a
     * sealed object, reading only its header and the segments that cover the range (FORMAT.md
     * §6.4). `source`: a Uint8Array/ArrayBuffer, a Blob, a reader object `{ size, read(start,
     * end) }` or a reader function `(start, end) => bytes` plus `options.size`; `end` is exclusive
     * and a read must return exactly `end − start` bytes (e.g. HTTP `Range: bytes=start-(end−1)`).
     */
    async decryptRange(source, { offset = 0, length, size, requireContext } = {}) {
      const req = contextJson(requireContext, 'requireContext');
      const wasm = loaded;
      const core = this.#core;
      return call(async () => {
        const src = rangeSource(source, size);
        nonNegInt(offset, 'offset');
        const len = length === undefined ? Number.MAX_SAFE_INTEGER - offset : nonNegInt(length, 'length');
        const header = await readHeader(wasm, src);
        const [fs, fe, ps, pe, hl] = wasm.planRange(header, src.size, offset, len);
        const segs = fe > fs ? await src.read(fs, fe) : new Uint8Array(0);
        const subtle = fe > fs ? this.#subtleFor(fe - fs) : undefined;
        if (subtle) return rangeWebCrypto(subtle, core, { header, size: src.size, segs, fs, fe, ps, pe, hl, req });
        return core.decryptRange(header, src.size, offset, len, segs, req);
      });
    }

    /**
     * Header-only rotation (FORMAT.md §4.4): every entry of a configured key service is re-wrapped
     * by that service's /rewrap (no plaintext data key leaves it); the primary's entries move to
     * `toKeyId` when given. `sealedOrHeader`: the header or the whole message (bytes), or any
     * source `decryptRange` accepts. Resolves to `{ header, bodyOffset }`: the new object is
     * `header ‖ old.subarray(bodyOffset)`.
     */
    async rewrap(sealedOrHeader, { toKeyId, size } = {}) {
      if (toKeyId !== undefined && (typeof toKeyId !== 'string' || !toKeyId)) throw new InvalidArgumentError('toKeyId must be a key id');
      const wasm = loaded;
      const core = this.#core;
      return call(async () => {
        const isBytes = sealedOrHeader instanceof Uint8Array || sealedOrHeader instanceof ArrayBuffer || ArrayBuffer.isView(sealedOrHeader);
        const header = isBytes ? toBytes(sealedOrHeader, 'header') : await readHeader(wasm, rangeSource(sealedOrHeader, size));
        return core.rewrap(header, toKeyId);
      });
    }

    /**
     * Rotates many objects: `objects` is an array or (async) iterable of
     * `{ id, readHeader: async () => bytes, writeHeader: async (newHeader, bodyOffset) => void }`
     * (`readHeader` may return the header or any prefix containing it; `writeHeader` must store
     * `newHeader ‖ old.subarray(bodyOffset)`). Objects already on the target (every entry of the
     * primary service names `toKeyId` — default the configured key — and, where the entry shows
     * its version, the newest version) are skipped, so a re-run after a failure or interruption
     * only does what is left. Never throws for one object: failures are collected.
     * Resolves to `{ done, skipped, failed: [{ id, code, message }], targetVersion }`.
     */
    async rewrapAll(objects, { toKeyId, concurrency = 4, batchSize = 100, onProgress } = {}) {
      if (!objects || (typeof objects[Symbol.iterator] !== 'function' && typeof objects[Symbol.asyncIterator] !== 'function')) {
        throw new InvalidArgumentError('objects must be an array or an (async) iterable');
      }
      if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new InvalidArgumentError('concurrency must be a positive integer');
      if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError('batchSize must be a positive integer');
      if (toKeyId !== undefined && (typeof toKeyId !== 'string' || !toKeyId)) throw new InvalidArgumentError('toKeyId must be a key id');
      const core = this.#core;
      const targetVersion = await call(() => core.newestVersion(toKeyId));
      const it = typeof objects[Symbol.asyncIterator] === 'function' ? objects[Symbol.asyncIterator]() : objects[Symbol.iterator]();
      const result = { done: 0, skipped: 0, failed: [], targetVersion };
      let seen = 0;
      const settled = () => progress(onProgress, { seen, done: result.done, skipped: result.skipped, failed: result.failed.length });
      const fail = (o, e) => {
        const err = fromCore(e);
        result.failed.push({ id: o?.id, code: err.code, message: err.message });
        settled();
      };
      // Batches of `batchSize` objects: read their headers (`concurrency` at a time), skip the
      // current ones, rewrap the rest in one rewrapMany (one /rewrap-batch per key service and
      // 100 headers, duplicates asked once: PROTOCOL.md §3.5.1), write the new headers back.
      for (;;) {
        const batch = [];
        while (batch.length < batchSize) {
          const n = await it.next();
          if (n.done) break;
          batch.push(n.value);
        }
        if (batch.length === 0) break;
        seen += batch.length;
        const headers = new Array(batch.length);
        await pool(concurrency, batch.map((o, i) => async () => {
          try {
            if (!o || typeof o.readHeader !== 'function' || typeof o.writeHeader !== 'function') {
              throw new InvalidArgumentError('each object needs readHeader() and writeHeader(header, bodyOffset)');
            }
            const header = toBytes(await o.readHeader(), 'readHeader result');
            if (await call(() => core.isCurrent(header, toKeyId, targetVersion))) {
              result.skipped++;
              settled();
            } else {
              headers[i] = header;
            }
          } catch (e) {
            fail(o, e);
          }
        }));
        const todo = [];
        for (let i = 0; i < batch.length; i++) if (headers[i]) todo.push([batch[i], headers[i]]);
        if (todo.length === 0) continue;
        let answers;
        try {
          answers = await call(() => core.rewrapMany(todo.map(([, h]) => h), toKeyId));
        } catch (e) {
          for (const [o] of todo) fail(o, e);
          continue;
        }
        await pool(concurrency, todo.map(([o], i) => async () => {
          try {
            const a = answers[i];
            if (a.error) throw a.error;
            await o.writeHeader(a.header, a.bodyOffset);
            result.done++;
            settled();
          } catch (e) {
            fail(o, e);
          }
        }));
      }
      return result;
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

  function lowLevelSubtle(engine) {
    if (engine !== 'wasm' && engine !== 'webcrypto') throw new InvalidArgumentError("engine must be 'wasm' or 'webcrypto'");
    if (engine === 'webcrypto' && !globalThis.crypto?.subtle) throw new InvalidArgumentError("engine 'webcrypto' needs crypto.subtle");
    return engine === 'webcrypto';
  }

  /** Low-level functions for test vectors and tools. Data keys are the caller's responsibility. */
  const lowLevel = {
    /** `engine`: 'wasm' (default) or 'webcrypto'. */
    async openWithDataKey(sealed, dataKey, { requireContext, engine = 'wasm' } = {}) {
      const w = await wasmNow();
      const bytes = toBytes(sealed, 'sealed');
      const req = contextJson(requireContext, 'requireContext');
      if (lowLevelSubtle(engine)) {
        return call(async () => {
          const n = headerLenIn(w, bytes);
          const hl = n < 0 ? bytes.length : n;
          const job = w.prepareOpenWithDataKey(bytes.subarray(0, hl), toBytes(dataKey, 'dataKey'), req);
          try {
            return await openWebCrypto(globalThis.crypto.subtle, job, bytes.subarray(hl));
          } catch (e) {
            throw openFailure(e);
          } finally {
            job.free();
          }
        });
      }
      return call(() => w.openWithDataKey(bytes, toBytes(dataKey, 'dataKey'), req));
    },
    /** `options.engine`: 'wasm' (default) or 'webcrypto'; both give the same bytes. */
    async sealWithDataKeyAssumingUniqueMessageId(dataKey, messageId, segmentSize, contextPairs, entries, plaintext, { engine = 'wasm' } = {}) {
      const w = await wasmNow();
      const args = [toBytes(dataKey, 'dataKey'), toBytes(messageId, 'messageId'), segmentSize, JSON.stringify(contextPairs), JSON.stringify(entries)];
      if (lowLevelSubtle(engine)) {
        return call(async () => {
          const job = w.prepareSealWithDataKeyAssumingUniqueMessageId(...args);
          try {
            return await sealWebCrypto(globalThis.crypto.subtle, job, toBytes(plaintext, 'plaintext'));
          } finally {
            job.free();
          }
        });
      }
      return call(() => w.sealWithDataKeyAssumingUniqueMessageId(...args, toBytes(plaintext, 'plaintext')));
    },
    /** Diagnostics: the wasm module's linear memory in bytes (`memory.buffer.byteLength`); it only grows. */
    async wasmMemoryBytes() {
      return (await wasmNow()).wasmMemoryBytes();
    },
  };

  return { KeySeal, inspect, lowLevel };
}
