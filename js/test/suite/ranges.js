// Ranged decrypt: decryptRange over every kind of source reads only the header and the segments
// covering the range.

import { S, TAG, assert, eq, bytesEq, randomBytes, segmentAt, segmentBytes, rangeBytes } from './support.js';

export default function register({ test, make, rejects, E, env, CTX }) {
  test('decryptRange: Uint8Array, Blob, reader function/object fetch only header + covering segments', async () => {
    const ks = await make({ segmentSize: S });
    const L = 10 * S + 123;
    const pt = randomBytes(L);
    const sealed = await ks.encrypt(pt, { context: CTX });
    const info = await ks.inspect(sealed);
    const h = info.headerLen;
    const reader = await make({ token: () => env.tokens.reader });
    const ranges = [[0, 1], [0, S], [S - 1, 2], [S, S], [3 * S + 5, 2 * S], [10 * S, 123], [L - 1, 1], [0, L], [5 * S, 0], [L, 10], [10 * S + 100, 1000], [2 * S, 1]];
    for (const [offset, length] of ranges) {
      const want = pt.subarray(offset, Math.min(offset + length, L));
      bytesEq(await reader.decryptRange(sealed, { offset, length }), want, `Uint8Array ${offset}+${length}`);
      let fetched = 0, reads = 0;
      const read = async (start, end) => { fetched += end - start; reads++; return sealed.slice(start, end); };
      bytesEq(await reader.decryptRange(read, { offset, length, size: sealed.length }), want, `reader ${offset}+${length}`);
      const segs = rangeBytes(L, S, offset, length);
      eq(fetched, h + segs, `${offset}+${length}: bytes fetched (header ${h} + covering segments ${segs})`);
      assert(reads <= 4, `${offset}+${length}: ${reads} reads`);
    }
    let fetched = 0;
    const obj = { size: sealed.length, read: async (a, b) => { fetched += b - a; return sealed.slice(a, b).buffer; } };
    bytesEq(await reader.decryptRange(obj, { offset: 4 * S, length: S }), pt.subarray(4 * S, 5 * S), 'reader object, ArrayBuffer reads');
    eq(fetched, h + segmentBytes(L, S, 4, 4), 'reader object fetched one segment');
    if (typeof Blob !== 'undefined') {
      bytesEq(await reader.decryptRange(new Blob([sealed]), { offset: 7, length: 3000 }), pt.subarray(7, 3007), 'Blob');
    }
    bytesEq(await reader.decryptRange(sealed, { offset: 9 * S }), pt.subarray(9 * S), 'no length: to the end');
    // tamper inside the range fails; ranges elsewhere still open
    const bad = sealed.slice();
    bad[segmentAt(info, 3) + 5] ^= 0x80;
    await rejects(reader.decryptRange(bad, { offset: 3 * S + 10, length: 5 }), E.DecryptionFailedError, 'tampered segment');
    await rejects(reader.decryptRange(bad, { offset: 2 * S, length: 2 * S }), E.DecryptionFailedError, 'range spanning the tampered segment');
    bytesEq(await reader.decryptRange(bad, { offset: 0, length: 3 * S }), pt.subarray(0, 3 * S), 'untouched segments');
    // a wrong total length changes the last segment: a range that reads it fails (a range of
    // other segments is not affected: they authenticate alone, FORMAT.md §6.4)
    await rejects(reader.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 10 * S, length: 10, size: sealed.length - 1 }), E.DecryptionFailedError, 'wrong size, last segment');
    await rejects(reader.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 10 * S, length: 10, size: sealed.length + S + TAG }), E.DecryptionFailedError, 'size one segment too long');
    await rejects(reader.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 0, length: 10, size: h + 5 }), E.DecryptionFailedError, 'impossible size');
    await rejects(reader.decryptRange(async (a, b) => sealed.slice(a, b).subarray(1), { offset: 0, length: 10, size: sealed.length }), E.InvalidFormatError, 'short reads');
    await rejects(reader.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 0, length: 10 }), E.InvalidArgumentError, 'reader function without size');
    await rejects(reader.decryptRange(sealed, { offset: -1, length: 10 }), E.InvalidArgumentError, 'negative offset');
    await rejects(reader.decryptRange(sealed, { offset: 0, length: 10, requireContext: { tenant: 'globex' } }), E.ContextMismatchError, 'requireContext');
    await rejects(reader.decryptRange(sealed.subarray(h), { offset: 0, length: 10 }), E.InvalidFormatError, 'no header');
  }, 30_000);
}
