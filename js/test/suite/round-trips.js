// Round trips of whole messages: every input type, and what a seal records in its header.

import { enc, assert, eq, bytesEq, randomBytes, toHex } from './support.js';

export default function register({ test, make, inspect, rejects, E, env, CTX }) {
  test('round trip: Uint8Array, ArrayBuffer, string, empty, 200 KiB', async () => {
    const ks = await make();
    const reader = await make({ token: () => env.tokens.reader });
    const big = randomBytes(200 * 1024);
    const cases = [
      ['Uint8Array', enc.encode('hello keyseal'), enc.encode('hello keyseal')],
      ['ArrayBuffer', enc.encode('array buffer').buffer, enc.encode('array buffer')],
      ['DataView', new DataView(enc.encode('xxview').buffer, 2), enc.encode('view')],
      ['string', 'héllo wörld 🔐', enc.encode('héllo wörld 🔐')],
      ['empty bytes', new Uint8Array(0), new Uint8Array(0)],
      ['empty string', '', new Uint8Array(0)],
      ['200 KiB', big, big],
    ];
    for (const [what, input, expect] of cases) {
      const sealed = await ks.encrypt(input, { context: CTX });
      assert(sealed instanceof Uint8Array, `${what}: encrypt returns a Uint8Array`);
      assert(sealed.length > expect.length + 100, `${what}: sealed has a header`);
      const out = await reader.decrypt(sealed, { requireContext: { tenant: 'acme' } });
      bytesEq(out, expect, what);
      // ArrayBuffer input to decrypt, too
      bytesEq(await reader.decrypt(sealed.slice().buffer), expect, `${what} (sealed as ArrayBuffer)`);
    }
    const sealed = await ks.encrypt('text ✓', { context: CTX });
    eq(await reader.decryptText(sealed), 'text ✓', 'decryptText');
    const s2 = await ks.encrypt(big, { context: CTX });
    const info = await ks.inspect(s2);
    eq(info.plaintextLen, big.length, 'inspect plaintextLen');
    // docs/FORMAT.md §6.3 computed here on purpose: the package's count is checked against it
    eq(info.segmentCount, Math.ceil(big.length / info.segmentSize) + (big.length % info.segmentSize === 0 ? 1 : 0), 'segmentCount');
    // the header alone and the stored size give the same facts (what a store needs for a Range request)
    const header = s2.subarray(0, info.headerLen);
    const fromHeader = await inspect(header, { sealedLength: s2.length });
    eq(fromHeader.plaintextLen, big.length, 'plaintextLen from the header and the sealed length');
    eq(fromHeader.segmentCount, info.segmentCount, 'segmentCount from the header and the sealed length');
    eq((await ks.inspect(header, { sealedLength: s2.length })).plaintextLen, big.length, 'instance inspect with sealedLength');
    eq((await inspect(header)).plaintextLen, null, 'the header alone: no plaintext length');
    eq((await inspect(header, { sealedLength: info.headerLen + 15 })).plaintextLen, null, 'a body shorter than a tag: null');
    await rejects(inspect(header, { sealedLength: info.headerLen - 1 }), E.InvalidArgumentError, 'sealedLength below the bytes given');
    await rejects(inspect(header, { sealedLength: 1.5 + s2.length }), E.InvalidArgumentError, 'fractional sealedLength');
  });

  test('encrypt: the same plaintext twice gives different bytes; context and entries are recorded', async () => {
    const ks = await make();
    const a = await ks.encrypt('same', { context: CTX });
    const b = await ks.encrypt('same', { context: CTX });
    assert(toHex(a) !== toHex(b), 'two seals differ');
    const info = await inspect(a);
    eq(info.version, 1, 'version');
    eq(info.suite, 1, 'suite');
    eq(JSON.stringify(info.context), JSON.stringify({ object: 'doc-1', tenant: 'acme' }), 'context');
    eq(info.entries.length, 1, 'entries');
    eq(info.entries[0].kind, 'kms', 'kind');
    eq(info.entries[0].keyServiceId, 'acme', 'keyServiceId');
    eq(info.entries[0].keyId, 'acme/default', 'keyId');
    eq(info.messageId.length, 64, 'messageId hex');
    assert(info.messageId !== (await inspect(b)).messageId, 'fresh message id');
    eq(info.plaintextLen, 4, 'plaintextLen');
  });
}
