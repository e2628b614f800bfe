// Stream memory: the wasm module's linear memory while a long stream goes through encryptStream →
// decryptStream. Runtime-neutral; the bench page runs it in Chromium.

import { MiB, fill } from '../bytes.js';

/**
 * Streams `total` bytes (generated in chunks, never held whole) through encryptStream →
 * decryptStream and reads the wasm linear memory before, at checkpoints and after. Linear memory
 * only grows, so the last reading is the peak.
 */
export async function streamMemory(keyseal, kms, { total, checkpoints, engine = 'auto' }) {
  const ks = await keyseal.KeySeal.create({ keyService: { id: 'bench', urls: [kms.url] }, keyId: kms.keyId, token: () => kms.token, engine });
  const chunk = fill(MiB);
  const readings = [{ at: 0, bytes: await keyseal.lowLevel.wasmMemoryBytes() }];
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
      readings.push({ at: checkpoints[next], bytes: await keyseal.lowLevel.wasmMemoryBytes() });
      next++;
    }
  }
  if (got !== total) throw new Error(`stream returned ${got} of ${total} bytes`);
  return { total, engine, seconds: (performance.now() - t0) / 1000, readings };
}
