// Engines: the wasm aes-gcm engine, WebCrypto and (in the Node entry) node:crypto give the same
// bytes and the same failures; 'auto' is the platform's and falls back to wasm without crypto.subtle.

import { S, SIZES, assert, eq, bytesEq, randomBytes, hex, toHex, concat, source, drain, segmentAt, rangeBytes } from './support.js';

export default function register({ test, make, inspect, lowLevel, rejects, E, env, CTX }) {
  /**
   * Runs `f` while this runtime's `globalThis.crypto` has no `subtle` (what a runtime without
   * WebCrypto looks like to the package, which reads it when an instance is created), then puts
   * the real one back. `getRandomValues` keeps working.
   */
  async function withoutSubtle(f) {
    const real = globalThis.crypto;
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
    const stub = { getRandomValues: real.getRandomValues.bind(real), randomUUID: real.randomUUID?.bind(real) };
    Object.defineProperty(globalThis, 'crypto', { value: stub, configurable: true, writable: true, enumerable: saved?.enumerable ?? true });
    try {
      assert(!globalThis.crypto.subtle, 'crypto.subtle hidden');
      return await f();
    } finally {
      if (saved) Object.defineProperty(globalThis, 'crypto', saved); else delete globalThis.crypto;
    }
  }
  const ENGINE_SIZES = [0, 1, S - 1, S, S + 1, 5 * S + 7, 2 * 1024 * 1024 + 3];

  test('engines: seal with one engine, open with the other, both ways (0, 1, S−1, S, S+1, 5S+7, ~2 MiB; S = 1024)', async () => {
    const wasmKs = await make({ segmentSize: S, engine: 'wasm' });
    const webKs = await make({ segmentSize: S, engine: 'webcrypto' });
    eq(wasmKs.engineFor(1e9), 'wasm', 'engine wasm');
    eq(webKs.engineFor(0), 'webcrypto', 'engine webcrypto');
    for (const n of ENGINE_SIZES) {
      const pt = randomBytes(n);
      const a = await wasmKs.encrypt(pt, { context: CTX });
      bytesEq(await webKs.decrypt(a, { requireContext: CTX }), pt, `${n}: wasm seal → WebCrypto open`);
      const b = await webKs.encrypt(pt, { context: CTX });
      const info = await inspect(b);
      eq(info.plaintextLen, n, `${n}: plaintextLen of the WebCrypto seal`);
      // docs/FORMAT.md §6.3 computed here on purpose: the package's count is checked against it
      eq(info.segmentCount, Math.floor(n / S) + 1, `${n}: segmentCount`);
      bytesEq(await wasmKs.decrypt(b, { requireContext: CTX }), pt, `${n}: WebCrypto seal → wasm open`);
      bytesEq(await webKs.decrypt(b), pt, `${n}: WebCrypto both ways`);
    }
    const m = webKs.metrics();
    eq(m.encryptOk, ENGINE_SIZES.length, 'WebCrypto encrypts are counted');
    eq(m.decryptOk, 2 * ENGINE_SIZES.length, 'WebCrypto decrypts are counted');
  }, 60_000);

  test('engines: byte identity under a fixed message id (lowLevel, both engines; vectors re-sealed by WebCrypto)', async () => {
    const dk = randomBytes(32), mid = randomBytes(32);
    const entries = [{ kind: 'kms', key_service_id: 'acme', key_id: 'acme/default', wrapped: toHex(randomBytes(97)) }];
    for (const seg of [S, 64 * 1024]) {
      for (const n of ENGINE_SIZES) {
        const pt = randomBytes(n);
        const w = await lowLevel.sealWithDataKeyAssumingUniqueMessageId(dk, mid, seg, [['tenant', 'acme']], entries, pt);
        const c = await lowLevel.sealWithDataKeyAssumingUniqueMessageId(dk, mid, seg, [['tenant', 'acme']], entries, pt, { engine: 'webcrypto' });
        bytesEq(c, w, `${n} (S=${seg}): WebCrypto bytes = wasm bytes`);
        bytesEq(await lowLevel.openWithDataKey(w, dk, { engine: 'webcrypto' }), pt, `${n} (S=${seg}): WebCrypto opens`);
        bytesEq(await lowLevel.openWithDataKey(c, dk, { engine: 'wasm' }), pt, `${n} (S=${seg}): wasm opens`);
      }
    }
    for (const v of env.vectors.positive.vectors) {
      const again = await lowLevel.sealWithDataKeyAssumingUniqueMessageId(
        hex(v.data_key), hex(v.message_id), v.segment_size, v.context, v.entries, hex(v.plaintext), { engine: 'webcrypto', signingSecret: v.signing_secret });
      eq(toHex(again), v.sealed, `${v.name}: re-sealed by WebCrypto`);
      bytesEq(await lowLevel.openWithDataKey(hex(v.sealed), hex(v.data_key), { engine: 'webcrypto' }), hex(v.plaintext), `${v.name}: opened by WebCrypto`);
    }
  }, 60_000);

  test('engines: WebCrypto — tampered, truncated, extended, wrong key → DecryptionFailedError; streams release only whole authenticated segments', async () => {
    const ks = await make({ segmentSize: S, engine: 'webcrypto' });
    const pt = randomBytes(5 * S + 7);
    const sealed = await ks.encrypt(pt, { context: CTX });
    const info = await ks.inspect(sealed);
    const at = (k) => segmentAt(info, k);
    const flipped = sealed.slice();
    flipped[at(2) + 100] ^= 1;
    const swap = sealed.slice();
    swap.set(sealed.subarray(at(2), at(3)), at(1));
    swap.set(sealed.subarray(at(1), at(2)), at(2));
    const cases = [
      ['segment 2 byte flipped', flipped],
      ['last tag byte flipped', (() => { const b = sealed.slice(); b[b.length - 1] ^= 1; return b; })()],
      ['segments 1 and 2 swapped', swap],
      ['truncated at a segment boundary', sealed.slice(0, at(3))],
      ['last segment missing', sealed.slice(0, at(5))],
      ['bytes appended', concat([sealed, randomBytes(20)])],
      ['impossible length', sealed.slice(0, at(3) + 5)],
    ];
    for (const [what, bad] of cases) {
      await rejects(ks.decrypt(bad), E.DecryptionFailedError, `one-shot: ${what}`);
      const got = await drain(source(bad, [700, 1300, 3]).pipeThrough(ks.decryptStream()));
      assert(got.error instanceof E.DecryptionFailedError, `stream: ${what}: got ${got.error && got.error.code}: ${got.error && got.error.message}`);
      eq(got.bytes.length % S, 0, `stream: ${what}: released bytes are whole segments`);
      bytesEq(got.bytes, pt.subarray(0, got.bytes.length), `stream: ${what}: released bytes are a prefix of the plaintext`);
    }
    // nothing after the failing segment is released, even with segments in flight behind it
    const got = await drain(source(flipped, [flipped.length]).pipeThrough(ks.decryptStream()));
    assert(got.bytes.length <= 2 * S, `released ${got.bytes.length} bytes past the tampered segment 2`);
    const dk = randomBytes(32), mid = randomBytes(32);
    const low = await lowLevel.sealWithDataKeyAssumingUniqueMessageId(dk, mid, S, [], [{ kind: 'kms', key_service_id: 'a', key_id: 'a/b', wrapped: '01' }], pt, { engine: 'webcrypto' });
    await rejects(lowLevel.openWithDataKey(low, randomBytes(32), { engine: 'webcrypto' }), E.DecryptionFailedError, 'wrong data key (commitment)');
    const lowFlip = low.slice();
    lowFlip[lowFlip.length - 30] ^= 1;
    await rejects(lowLevel.openWithDataKey(lowFlip, dk, { engine: 'webcrypto' }), E.DecryptionFailedError, 'lowLevel tampered');
    await rejects(ks.decrypt(sealed, { requireContext: { tenant: 'globex' } }), E.ContextMismatchError, 'requireContext still checked');
    const m = ks.metrics();
    assert((m.decryptFailed.DECRYPTION_FAILED ?? 0) >= cases.length, `decrypt failures counted: ${JSON.stringify(m.decryptFailed)}`);
  }, 60_000);

  test('engines: streams via WebCrypto round trip (and cross with the wasm engine)', async () => {
    const web = await make({ segmentSize: S, engine: 'webcrypto' });
    const wasmKs = await make({ segmentSize: S, engine: 'wasm' });
    for (const n of [0, 1, S - 1, S, S + 1, 5 * S + 7, 300 * 1024]) {
      const pt = randomBytes(n);
      const progress = [];
      const a = await drain(source(pt, SIZES).pipeThrough(web.encryptStream({ context: CTX, onProgress: (p) => progress.push(p) })));
      assert(!a.error, `${n}: WebCrypto encrypt stream: ${a.error}`);
      eq(progress.at(-1).sealedBytes, a.bytes.length, `${n}: progress sealedBytes`);
      eq(progress.at(-1).plaintextBytes, n, `${n}: progress plaintextBytes`);
      bytesEq(await wasmKs.decrypt(a.bytes), pt, `${n}: WebCrypto stream → wasm one-shot`);
      const back = await drain(source(a.bytes, [5, 1040, 77, 9999, 1]).pipeThrough(web.decryptStream({ requireContext: { tenant: 'acme' } })));
      assert(!back.error, `${n}: WebCrypto decrypt stream: ${back.error && back.error.code} ${back.error}`);
      bytesEq(back.bytes, pt, `${n}: WebCrypto stream round trip`);
      for (const c of back.chunks) assert(c.length === S || c === back.chunks.at(-1), `${n}: plaintext released segment by segment`);
      const b = await drain(source(pt, SIZES).pipeThrough(wasmKs.encryptStream({ context: CTX })));
      const viaWeb = await drain(source(b.bytes, [4096]).pipeThrough(web.decryptStream()));
      bytesEq(viaWeb.bytes, pt, `${n}: wasm stream → WebCrypto stream`);
    }
    const early = await drain(source(randomBytes(10), [10]).pipeThrough(web.decryptStream()));
    assert(early.error instanceof E.InvalidFormatError, `garbage into the WebCrypto decrypt stream: ${early.error && early.error.code}`);
    const ctx = await drain(source(await web.encrypt('x', { context: CTX }), [4096]).pipeThrough(web.decryptStream({ requireContext: { tenant: 'globex' } })));
    assert(ctx.error instanceof E.ContextMismatchError, `requireContext: ${ctx.error && ctx.error.code}`);
  }, 60_000);

  test('engines: decryptRange via WebCrypto reads only the covering segments; tamper and wrong size fail', async () => {
    const ks = await make({ segmentSize: S });
    const L = 10 * S + 123;
    const pt = randomBytes(L);
    const sealed = await ks.encrypt(pt, { context: CTX });
    const info = await ks.inspect(sealed);
    const h = info.headerLen;
    const web = await make({ token: () => env.tokens.reader, engine: 'webcrypto' });
    for (const [offset, length] of [[0, 1], [S - 1, 2], [3 * S + 5, 2 * S], [10 * S, 123], [L - 1, 1], [0, L], [5 * S, 0], [L, 10]]) {
      let fetched = 0;
      const read = async (start, end) => { fetched += end - start; return sealed.slice(start, end); };
      bytesEq(await web.decryptRange(read, { offset, length, size: sealed.length }), pt.subarray(offset, Math.min(offset + length, L)), `${offset}+${length}`);
      eq(fetched, h + rangeBytes(L, S, offset, length), `${offset}+${length}: bytes fetched`);
    }
    const bad = sealed.slice();
    bad[segmentAt(info, 3) + 5] ^= 0x80;
    await rejects(web.decryptRange(bad, { offset: 2 * S, length: 2 * S }), E.DecryptionFailedError, 'range spanning the tampered segment');
    bytesEq(await web.decryptRange(bad, { offset: 0, length: 3 * S }), pt.subarray(0, 3 * S), 'untouched segments');
    await rejects(web.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 10 * S, length: 10, size: sealed.length - 1 }), E.DecryptionFailedError, 'wrong size, last segment');
    await rejects(web.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 0, length: 10, size: h + 5 }), E.DecryptionFailedError, 'impossible size');
    await rejects(web.decryptRange(sealed, { offset: 0, length: 10, requireContext: { tenant: 'globex' } }), E.ContextMismatchError, 'requireContext');
  }, 30_000);

  test("engines: 'auto' is the platform's at every size; without crypto.subtle it falls back to wasm; bad engine option rejected", async () => {
    const pt0 = randomBytes(200 * 1024 + 3);
    const auto = await make({ segmentSize: S });
    // The Node entry (node, bun) brings node:crypto and 'auto' prefers it; elsewhere crypto.subtle.
    const platform = ['node', 'bun'].includes(env.runtime) ? 'node' : 'webcrypto';
    // docs/DESIGN.md design C: the SDK in JS on the platform's primitives, whatever the size (under
    // scripts/wasm-core-test.sh every instance is on the wasm core, with `engine: 'wasm'`)
    const wasmCore = env.implementation === 'wasm';
    const chosen = wasmCore ? 'wasm' : platform;
    eq(auto.engineFor(0), chosen, 'auto, empty message');
    eq(auto.engineFor(1024), chosen, 'auto, 1 KiB');
    eq(auto.engineFor(Infinity), chosen, 'auto, streams');
    const big = auto.engineFor(16 * 1024 * 1024);
    eq(big, chosen, 'auto, 16 MiB');
    if (platform === 'node') {
      // The node engine is byte-compatible with WebCrypto and the wasm engine, both ways.
      const nodeKs = await make({ segmentSize: S, engine: 'node' });
      const webKs = await make({ segmentSize: S, engine: 'webcrypto' });
      const wasmKs = await make({ segmentSize: S, engine: 'wasm' });
      eq(webKs.engineFor(1e9), 'webcrypto', 'forced webcrypto in the node entry');
      for (const [a, b] of [[nodeKs, webKs], [webKs, nodeKs], [nodeKs, wasmKs], [wasmKs, nodeKs]]) {
        bytesEq(await b.decrypt(await a.encrypt(pt0, { context: CTX })), pt0, `${a.engineFor(1e9)} seal opens with ${b.engineFor(1e9)}`);
      }
      const sealed = await nodeKs.encrypt(pt0, { context: CTX });
      sealed[sealed.length - 20] ^= 1;
      await rejects(nodeKs.decrypt(sealed), E.DecryptionFailedError, 'node engine: tampered last segment');
      const st = await drain(source(pt0.subarray(0, 5 * S + 7), [999]).pipeThrough(nodeKs.encryptStream({ context: CTX })));
      bytesEq((await drain(source(st.bytes, [777]).pipeThrough(wasmKs.decryptStream()))).bytes, pt0.subarray(0, 5 * S + 7), 'node engine stream opens with wasm');
    } else {
      await rejects(make({ engine: 'node' }), E.InvalidArgumentError, "engine 'node' outside the node entry");
    }
    const pt = randomBytes(2 * 1024 * 1024);
    bytesEq(await auto.decrypt(await auto.encrypt(pt, { context: CTX })), pt, 'auto round trip, 2 MiB');
    // Without crypto.subtle: the Node entry still has node:crypto; every other runtime falls back to wasm.
    const none = await withoutSubtle(() => make({ segmentSize: S }));
    const fallback = platform === 'node' && !wasmCore ? 'node' : 'wasm';
    const fallbackP256 = platform === 'node' ? 'node' : 'wasm';
    eq(none.engineFor(16 * 1024 * 1024), fallback, 'no crypto.subtle: large messages');
    eq(none.engineFor(Infinity), fallback, 'no crypto.subtle: streams');
    const wasmOnly = await withoutSubtle(() => make({ segmentSize: S, engine: 'wasm' }));
    eq(wasmOnly.engineFor(Infinity), 'wasm', "engine 'wasm'");
    eq(none.p256Engine(), fallbackP256, 'no crypto.subtle: P-256 in node:crypto (Node entry) or wasm');
    eq(auto.p256Engine(), platform, 'P-256 on the platform');
    const sealed = await none.encrypt(pt, { context: CTX });
    bytesEq(await auto.decrypt(sealed), pt, 'fallback seal opens with WebCrypto');
    bytesEq(await none.decrypt(await auto.encrypt(pt, { context: CTX })), pt, 'fallback opens a WebCrypto seal');
    const st = await drain(source(pt.subarray(0, 5 * S + 7), [999]).pipeThrough(none.encryptStream({ context: CTX })));
    bytesEq((await drain(source(st.bytes, [777]).pipeThrough(none.decryptStream()))).bytes, pt.subarray(0, 5 * S + 7), 'fallback streams');
    assert(globalThis.crypto && globalThis.crypto.subtle, 'the real crypto.subtle is untouched');
    await rejects(withoutSubtle(() => make({ engine: 'webcrypto' })), E.InvalidArgumentError, "engine 'webcrypto' without crypto.subtle");
    await rejects(withoutSubtle(() => make({ p256: 'webcrypto' })), E.InvalidArgumentError, "p256 'webcrypto' without crypto.subtle");
    // key-service transports: node:http(s) in the Node entry (auto), fetch everywhere; each opens what the other sealed
    const viaFetch = await make({ transport: 'fetch' });
    if (platform === 'node') {
      const viaNode = await make({ transport: 'node' });
      eq(await viaFetch.decryptText(await viaNode.encrypt('node → fetch', { context: { ...CTX, object: 't1' } })), 'node → fetch', 'node:http seals, fetch opens');
      eq(await viaNode.decryptText(await viaFetch.encrypt('fetch → node', { context: { ...CTX, object: 't2' } })), 'fetch → node', 'fetch seals, node:http opens');
    } else {
      await rejects(make({ transport: 'node' }), E.InvalidArgumentError, "transport 'node' outside the node entry");
      eq(await auto.decryptText(await viaFetch.encrypt('fetch', { context: CTX })), 'fetch', 'fetch round trip');
    }
    await rejects(make({ transport: 'xhr' }), E.InvalidArgumentError, 'unknown transport');
    await rejects(make({ engine: 'fast' }), E.InvalidArgumentError, 'unknown engine');
    await rejects(lowLevel.sealWithDataKeyAssumingUniqueMessageId(randomBytes(32), randomBytes(32), S, [], [], pt, { engine: 'fast' }), E.InvalidArgumentError, 'lowLevel unknown engine');
  }, 60_000);
}
