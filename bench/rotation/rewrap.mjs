// Rotation: header-only `rewrapAll` after a key rotation against decrypt + re-encrypt of the same
// objects, in memory, in Node (bench/run.mjs runs it against the bench's key service).

import { MiB, fill } from '../bytes.js';

/**
 * `objects` × 1 MiB: header-only rewrapAll after a rotation vs decrypt + re-encrypt of each.
 * `sharedContext`: all objects sealed under one context, so (with the default cache) under one
 * data key and one wrapped key; otherwise each object's context names it (one data key each).
 * A warm-up round and then `runs` rounds of each, as every other cell of the bench: a rewrap
 * round is a `key rotate` and then `rewrapAll` of every object to the new version (so each round
 * does the whole work again: new target version, new wrapped keys), a re-encryption round
 * decrypts and re-encrypts every object with a fresh client (cold caches: every data key
 * unwrapped once, as a real re-encryption does). The figures are the medians of the `runs`, with
 * min–max and the warm-up round (JIT and the wasm's tier-up still cold) beside.
 * `kms`: { url, token, keyId, json(...args) } (json runs the kms command line on its database).
 */
export async function rewrapVsReencrypt(keyseal, kms, { objects: count, sharedContext, runs = 5 }) {
  const ks = await keyseal.KeySeal.create({ keyService: { id: 'bench', urls: [kms.url] }, keyId: kms.keyId, token: () => kms.token });
  const pt = fill(MiB);
  const objects = [];
  const contextOf = (i) => (sharedContext ? { tenant: 'acme', bucket: 'shared' } : { tenant: 'acme', object: `o${i}` });
  for (let i = 0; i < count; i++) objects.push(await ks.encrypt(pt, { context: contextOf(i) }));
  // What must not change: the last 64 KiB of every body (copied before the run; headers are
  // rewritten in place below).
  const tails = objects.map((o) => o.slice(o.length - 65536));
  const totalBytes = objects.reduce((n, o) => n + o.length, 0);
  const concurrency = 8;

  const rewrapRuns = [];
  let written = 0;
  let rot;
  for (let run = 0; run <= runs; run++) {
    rot = await kms.json('key', 'rotate', kms.keyId);
    written = 0;
    const t0 = performance.now();
    const result = await ks.rewrapAll(objects.map((obj, i) => ({
      id: `o${i}`,
      readHeader: async () => objects[i].subarray(0, 4096),
      // As a store would: in place when the header keeps its length (the usual case after a
      // rotation), else header ‖ body into a new object.
      writeHeader: async (header, bodyOffset) => {
        if (header.length === bodyOffset) {
          objects[i].set(header, 0);
        } else {
          const next = new Uint8Array(header.length + objects[i].length - bodyOffset);
          next.set(header);
          next.set(objects[i].subarray(bodyOffset), header.length);
          objects[i] = next;
        }
        written += header.length;
      },
    })), { concurrency });
    rewrapRuns.push(performance.now() - t0);
    if (result.done !== count || result.failed.length) throw new Error(`rewrapAll: ${JSON.stringify(result).slice(0, 300)}`);
    if (result.targetVersion !== rot.primary_version) throw new Error(`rewrapAll went to version ${result.targetVersion}, the rotation made ${rot.primary_version}`);
    // Bodies unchanged (the point of a header rewrap): compare the last 64 KiB of each object.
    for (let i = 0; i < count; i++) {
      const a = tails[i];
      const b = objects[i].subarray(objects[i].length - 65536);
      if (Buffer.compare(a, b) !== 0) throw new Error(`object ${i}: body changed by rewrap`);
    }
  }

  // The alternative without header rewrap: open every object and seal it again (same concurrency).
  const reencryptRuns = [];
  let rewritten = 0;
  for (let run = 0; run <= runs; run++) {
    // A fresh client per round, so its caches are as cold as one pass over the objects finds
    // them: every data key unwrapped once, as a real re-encryption does.
    const fresh = await keyseal.KeySeal.create({ keyService: { id: 'bench', urls: [kms.url] }, keyId: kms.keyId, token: () => kms.token });
    rewritten = 0;
    const t1 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const plain = await fresh.decrypt(objects[i]);
        const sealed = await fresh.encrypt(plain, { context: contextOf(i) });
        rewritten += sealed.length;
      }
    }));
    reencryptRuns.push(performance.now() - t1);
  }
  // round 0 is the warm-up (reported as the cold figure), the medians are of the `runs` after it
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const [rewrapFirstMs, ...rw] = rewrapRuns;
  const [reencryptFirstMs, ...re] = reencryptRuns;
  return {
    sharedContext, objects: count, objectBytes: MiB, totalBytes, concurrency, runs,
    rewrapMs: median(rw), rewrapFirstMs, rewrapMinMs: Math.min(...rw), rewrapMaxMs: Math.max(...rw),
    reencryptMs: median(re), reencryptFirstMs, reencryptMinMs: Math.min(...re), reencryptMaxMs: Math.max(...re),
    headerBytesWritten: written, reencryptBytesWritten: rewritten, newVersion: rot.primary_version,
  };
}
