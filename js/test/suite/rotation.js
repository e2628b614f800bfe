// Rotation: header-only rewrap of one message and rewrapAll over many, against real key rotation
// on the primary kms.

import { S, assert, eq, bytesEq, sleep, randomBytes, uid, indexOf, concat, authenticatedLength } from './support.js';

export default function register({ test, make, inspect, headerLength, rejects, control, E, env, CTX }) {
  test('rewrap: header-only, body identical, old wrapped key gone, new key version after rotate, toKeyId', async () => {
    const key = `acme/${env.runtime}-${uid()}-rotate`;
    eq((await control('create', key)).primaryVersion, 1, 'new key at version 1');
    const ks = await make({ keyId: key, segmentSize: S });
    const pt = randomBytes(3 * S + 7);
    const sealed = await ks.encrypt(pt, { context: CTX });
    const before = await inspect(sealed);
    const authLen = await authenticatedLength(headerLength, sealed);
    eq(before.entries[0].keyVersion, 1, 'entry made with version 1');
    eq((await control('rotate', key)).primaryVersion, 2, 'rotated to version 2');
    const r = await ks.rewrap(sealed);
    const h = (await ks.inspect(sealed)).headerLen;
    eq(r.bodyOffset, h, 'bodyOffset');
    const moved = concat([r.header, sealed.subarray(r.bodyOffset)]);
    bytesEq(moved.subarray(r.header.length), sealed.subarray(h), 'body bytes identical');
    bytesEq(moved.subarray(0, authLen), sealed.subarray(0, authLen), 'authenticated part identical');
    const after = await inspect(moved);
    eq(after.entries.length, 1, 'one entry');
    eq(after.entries[0].keyId, key, 'same key id');
    eq(after.entries[0].keyVersion, 2, 'entry names the new version');
    eq(indexOf(moved, before.entries[0].wrapped), -1, 'old wrapped key gone from the header');
    const fresh = await make({ keyId: key, token: () => env.tokens.reader });
    bytesEq(await fresh.decrypt(moved, { requireContext: CTX }), pt, 'rewrapped object decrypts');
    bytesEq(await fresh.decryptRange(moved, { offset: S, length: 10 }), pt.subarray(S, S + 10), 'and by range');
    // to another key, from the header alone and from a reader object
    const key2 = `acme/${env.runtime}-${uid()}-rotate`;
    await control('create', key2);
    const r2 = await ks.rewrap(sealed.slice(0, h), { toKeyId: key2 });
    const moved2 = concat([r2.header, sealed.subarray(r2.bodyOffset)]);
    eq((await inspect(moved2)).entries[0].keyId, key2, 'toKeyId');
    bytesEq(await (await make({ keyId: key2, token: () => env.tokens.reader })).decrypt(moved2), pt, 'moved object decrypts');
    let fetched = 0;
    const r3 = await ks.rewrap({ size: sealed.length, read: async (a, b) => { fetched += b - a; return sealed.slice(a, b); } }, { toKeyId: key2 });
    eq(fetched, h, 'reader source: only the header was read');
    eq(r3.bodyOffset, h, 'reader source bodyOffset');
    // a reader token may not rewrap; a tampered header is refused by the kms
    await rejects(fresh.rewrap(sealed), E.AccessDeniedError, 'reader role');
    const badWrap = sealed.slice();
    const wrappedAt = indexOf(sealed, before.entries[0].wrapped);
    assert(wrappedAt > authLen, `wrapped key found in the wrapped-key section (at ${wrappedAt})`);
    badWrap[wrappedAt + 40] ^= 1;
    await rejects(ks.rewrap(badWrap), E.DecryptionFailedError, 'tampered wrapped key');
  }, 30_000);

  test('rewrapAll: 20 objects, concurrency 4, one /rewrap-batch per batch, resumable after a failure, idempotent (second run all skipped), follows rotation', async () => {
    const from = `acme/${env.runtime}-${uid()}-rotate`;
    const to = `acme/${env.runtime}-${uid()}-rotate`;
    await control('create', from);
    await control('create', to);
    const ks = await make({ keyId: from });
    const store = new Map();
    const pts = new Map();
    for (let i = 0; i < 20; i++) {
      const pt = `object ${i} ${uid()}`;
      pts.set(`o${i}`, pt);
      store.set(`o${i}`, await ks.encrypt(pt, { context: { tenant: 'acme', object: `o${i}` } }));
    }
    let reading = 0, maxReading = 0, failOnce = true;
    const objects = () => [...store.keys()].map((id) => ({
      id,
      readHeader: async () => { reading++; maxReading = Math.max(maxReading, reading); await sleep(2); reading--; return store.get(id); },
      writeHeader: async (header, bodyOffset) => {
        if (id === 'o7' && failOnce) { failOnce = false; throw new Error('storage hiccup'); }
        store.set(id, concat([header, store.get(id).subarray(bodyOffset)]));
      },
    }));
    const prog = [];
    const r1 = await ks.rewrapAll(objects(), { toKeyId: to, concurrency: 4, onProgress: (p) => prog.push(p) });
    eq(r1.done, 19, 'run 1 done');
    eq(r1.skipped, 0, 'run 1 skipped');
    eq(r1.failed.length, 1, 'run 1 failed');
    eq(r1.failed[0].id, 'o7', 'failed id');
    eq(typeof r1.failed[0].code, 'string', 'failed code');
    eq(r1.targetVersion, 1, 'targetVersion');
    assert(maxReading <= 4, `concurrency exceeded: ${maxReading} header reads at once`);
    assert(maxReading > 1, `ran sequentially: ${maxReading}`);
    // PROTOCOL.md §3.5.1: the 20 headers went to the key service in one request
    const batches = () => ks.metrics().keyService.rewrap_batch?.calls ?? 0;
    eq(batches(), 1, 'run 1: one /rewrap-batch for 20 objects');
    eq(ks.metrics().keyService.rewrap?.calls ?? 0, 0, 'run 1: no single /rewrap');
    eq(prog.at(-1).seen, 20, 'progress seen');
    async function* gen() { for (const o of objects()) yield o; }
    const r2 = await ks.rewrapAll(gen(), { toKeyId: to, concurrency: 4 });
    eq(JSON.stringify([r2.done, r2.skipped, r2.failed.length]), JSON.stringify([1, 19, 0]), 'run 2 resumes (async iterable)');
    const r3 = await ks.rewrapAll(objects(), { toKeyId: to, concurrency: 4 });
    eq(JSON.stringify([r3.done, r3.skipped, r3.failed.length]), JSON.stringify([0, 20, 0]), 'run 3: all skipped');
    const reader = await make({ keyId: to, token: () => env.tokens.reader });
    for (const [id, sealed] of store) {
      eq((await inspect(sealed)).entries[0].keyId, to, `${id} on ${to}`);
      eq(await reader.decryptText(sealed), pts.get(id), `${id} decrypts`);
    }
    // rotation of the target: every object is behind again, then current again
    await control('rotate', to);
    const before = batches();
    // Reads and writes share the concurrency: at most 4 in flight together, and the next round's
    // reads run while this round is rewrapped and written (o7 opens round 2, o6 closes round 1).
    let inFlight = 0, maxInFlight = 0;
    const log = [];
    const tracked = () => objects().map((o) => ({
      id: o.id,
      readHeader: async () => { inFlight++; maxInFlight = Math.max(maxInFlight, inFlight); log.push(`read ${o.id}`); try { return await o.readHeader(); } finally { inFlight--; } },
      writeHeader: async (h, off) => { inFlight++; maxInFlight = Math.max(maxInFlight, inFlight); await sleep(2); try { return await o.writeHeader(h, off); } finally { inFlight--; log.push(`wrote ${o.id}`); } },
    }));
    const r4 = await ks.rewrapAll(tracked(), { toKeyId: to, concurrency: 4, batchSize: 7 });
    eq(JSON.stringify([r4.done, r4.skipped, r4.failed.length, r4.targetVersion]), JSON.stringify([20, 0, 0, 2]), 'after rotate: all rewrapped to v2');
    eq(batches() - before, 3, 'batchSize 7: 20 objects in 3 requests');
    assert(maxInFlight <= 4, `concurrency exceeded: ${maxInFlight} header reads and writes at once`);
    assert(log.indexOf('read o7') < log.indexOf('wrote o6'), `round 2 read only after round 1 was written: ${log.join(', ')}`);
    // a failing iterator fails the run with its own error, also while a round is in flight
    async function* broken() { let n = 0; for (const o of objects()) { if (n++ === 8) throw new Error('listing failed'); yield o; } }
    const r4b = await ks.rewrapAll(broken(), { toKeyId: to, concurrency: 4, batchSize: 5 }).catch((e) => e);
    eq(r4b && r4b.message, 'listing failed', 'iterator error thrown by rewrapAll');
    await rejects(ks.rewrapAll(objects(), { batchSize: 0 }), E.InvalidArgumentError, 'batchSize 0');
    const r5 = await ks.rewrapAll(objects(), { toKeyId: to, concurrency: 4 });
    eq(JSON.stringify([r5.done, r5.skipped]), JSON.stringify([0, 20]), 'then all skipped');
    for (const [id, sealed] of store) eq((await inspect(sealed)).entries[0].keyVersion, 2, `${id} version`);
    await rejects(ks.rewrapAll(42), E.InvalidArgumentError, 'objects not iterable');
  }, 60_000);
}
