// WHATWG TransformStreams over the Rust core's stream state (wasm/src/streams.rs), for instances on
// the wasm core (the SDK in JS wires its own, js/src/policy/keyseal.js): the core cuts,
// seals, opens and orders segments on whichever engine; this only wires chunks in and out and
// reports progress. Backpressure is the TransformStream's.
import { fromCore } from './from-core.js';
import { progress, toBytes } from './bytes.js';

async function call(f) {
  try { return await f(); } catch (e) { throw fromCore(e); }
}

/** Seals the bytes written to it into one message: the header first, then each segment. */
export function encryptStream(core, context, sign, onProgress) {
  let s = null;
  let pt = 0, out = 0;
  const enqueue = (controller) => (bytes) => { out += bytes.length; controller.enqueue(bytes); };
  const start = async (controller) => {
    if (s) return;
    s = await call(() => core.beginEncrypt(context, sign));
    enqueue(controller)(s.header());
  };
  // the core state is freed as soon as the stream ends, fails or is cancelled
  const dispose = () => { try { s?.free(); } catch { /* already freed */ } s = null; };
  const guard = (f) => async (...a) => { try { return await f(...a); } catch (e) { dispose(); throw fromCore(e); } };
  return new TransformStream({
    transform: guard(async (chunk, controller) => {
      await start(controller);
      const bytes = toBytes(chunk, 'chunk');
      await s.push(bytes, enqueue(controller));
      pt += bytes.length;
      progress(onProgress, { plaintextBytes: pt, sealedBytes: out });
    }),
    flush: guard(async (controller) => {
      await start(controller);
      await s.finish(enqueue(controller));
      dispose();
      progress(onProgress, { plaintextBytes: pt, sealedBytes: out, done: true });
    }),
    cancel: dispose,
  });
}

/**
 * Opens a sealed message written to it, releasing plaintext only segment by segment after each
 * authenticated (FORMAT.md §7.2); on failure the readable errors after a prefix of whole segments.
 * The returned stream's `header` resolves to the header facts (as `inspect` gives them) once the
 * header was read and accepted, or rejects with the error that ended the stream before that.
 */
export function decryptStream(core, requireContext, requireSigned, onProgress) {
  let s = null;
  let sealedIn = 0, pt = 0;
  let headerKnown = false, resolveHeader, rejectHeader;
  const header = new Promise((resolve, reject) => { resolveHeader = resolve; rejectHeader = reject; });
  header.catch(() => { /* a caller who never asks for the header must not see an unhandled rejection */ });
  const lookForHeader = () => {
    if (headerKnown || !s) return;
    const info = s.headerInfo();
    if (info !== undefined) { headerKnown = true; resolveHeader(info); }
  };
  const enqueue = (controller) => (bytes) => { pt += bytes.length; controller.enqueue(bytes); };
  const dispose = () => { try { s?.free(); } catch { /* already freed */ } s = null; };
  const guard = (f) => async (...a) => {
    try { return await f(...a); } catch (e) {
      const err = fromCore(e);
      if (!headerKnown) rejectHeader(err);
      dispose();
      throw err;
    }
  };
  const ts = new TransformStream({
    transform: guard(async (chunk, controller) => {
      s ??= core.beginDecrypt(requireContext, requireSigned);
      const bytes = toBytes(chunk, 'chunk');
      sealedIn += bytes.length;
      await s.push(bytes, enqueue(controller));
      lookForHeader();
      progress(onProgress, { sealedBytes: sealedIn, plaintextBytes: pt });
    }),
    flush: guard(async (controller) => {
      s ??= core.beginDecrypt(requireContext, requireSigned);
      lookForHeader();
      await s.finish(enqueue(controller));
      dispose();
      progress(onProgress, { sealedBytes: sealedIn, plaintextBytes: pt, done: true });
    }),
    cancel: (reason) => {
      if (!headerKnown) rejectHeader(reason ?? new Error('the stream was cancelled before its header was read'));
      dispose();
    },
  });
  Object.defineProperty(ts, 'header', { value: header, enumerable: true });
  return ts;
}
