// Stream memory while a long stream goes through encryptStream → decryptStream: the wasm module's
// linear memory for an instance on the wasm core, the JS heap after a full GC for the SDK in JS
// (the default). The bench page runs it in Chromium (started with --expose-gc and precise memory
// info).

import { MiB, fill } from '../bytes.js';

/**
 * Streams `total` bytes (generated in chunks, never held whole) through encryptStream →
 * decryptStream and reads the memory its engine uses before and at checkpoints: the wasm linear
 * memory (it only grows, so the last reading is the peak) for `engine: 'wasm'`, else the JS heap
 * once full garbage collections have settled (`performance.memory.usedJSHeapSize`).
 */
export async function streamMemory(keyseal, kms, { total, checkpoints, engine = 'auto' }) {
  const ks = await keyseal.KeySeal.create({ keyService: { id: 'bench', urls: [kms.url] }, keyId: kms.keyId, token: () => kms.token, engine });
  const onWasm = ks.engineFor(Infinity) === 'wasm';
  const measure = onWasm ? 'wasm linear memory' : 'JS heap after a full GC';
  if (!onWasm && (typeof globalThis.gc !== 'function' || !performance.memory)) throw new Error('the page needs --js-flags=--expose-gc and --enable-precise-memory-info');
  const read = async () => {
    if (onWasm) return keyseal.lowLevel.wasmMemoryBytes();
    // V8 frees ArrayBuffer backing stores after the collection, on a later task, and Chromium's
    // figure counts them: collect and yield three times (measured: a single gc() read 24–340 MB
    // for a loop that holds 2 MB, the settled reading 2 MB at every checkpoint)
    for (let i = 0; i < 3; i++) {
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    return performance.memory.usedJSHeapSize;
  };
  const chunk = fill(MiB);
  const readings = [{ at: 0, bytes: await read() }];
  let sent = 0;
  const source = new ReadableStream({
    pull(c) {
      if (sent >= total) { c.close(); return; }
      const n = Math.min(MiB, total - sent);
      sent += n;
      c.enqueue(chunk.slice(0, n));
    },
  }, { highWaterMark: 2 });
  const t0 = performance.now();
  const reader = source.pipeThrough(ks.encryptStream({ context: { tenant: 'acme', object: 'memory' } })).pipeThrough(ks.decryptStream()).getReader();
  let got = 0;
  let next = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    got += value.length;
    while (next < checkpoints.length && got >= checkpoints[next]) {
      readings.push({ at: checkpoints[next], bytes: await read() });
      next++;
    }
  }
  if (got !== total) throw new Error(`stream returned ${got} of ${total} bytes`);
  return { total, engine: onWasm ? 'wasm' : ks.engineFor(Infinity), measure, seconds: (performance.now() - t0) / 1000, readings };
}
