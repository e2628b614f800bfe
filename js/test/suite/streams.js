// Streams: encryptStream / decryptStream with the wasm and WebCrypto engines — round trips in odd
// chunk sizes, backpressure, and every way a sealed stream can be damaged.

import { S, SIZES, assert, eq, bytesEq, sleep, randomBytes, concat, source, drain, segmentAt } from './support.js';

export default function register({ test, make, inspect, E, env, CTX }) {
  for (const engine of ['wasm', 'webcrypto']) test(`streams (${engine} engine): round trips of 0, 1, S-1, S, S+1, 3S and 1 MiB in odd chunk sizes (S = 1024)`, async () => {
    const ks = await make({ segmentSize: S, engine });
    const reader = await make({ token: () => env.tokens.reader, engine });
    for (const n of [0, 1, S - 1, S, S + 1, 3 * S, 1 << 20]) {
      const pt = randomBytes(n);
      const progress = [];
      const sealedR = await drain(source(pt, SIZES).pipeThrough(ks.encryptStream({ context: CTX, onProgress: (p) => progress.push(p) })));
      assert(!sealedR.error, `${n}: encrypt stream failed: ${sealedR.error}`);
      const sealed = sealedR.bytes;
      const info = await inspect(sealed);
      eq(info.plaintextLen, n, `${n}: plaintextLen`);
      eq(info.segmentSize, S, `${n}: segmentSize`);
      // docs/FORMAT.md §6.3 computed here on purpose: the package's count is checked against it
      eq(info.segmentCount, Math.floor(n / S) + 1, `${n}: segmentCount`);
      eq(progress.at(-1).plaintextBytes, n, `${n}: progress plaintextBytes`);
      eq(progress.at(-1).sealedBytes, sealed.length, `${n}: progress sealedBytes`);
      bytesEq(await reader.decrypt(sealed, { requireContext: { tenant: 'acme' } }), pt, `${n}: one-shot decrypt of a streamed seal`);
      const dprog = [];
      const out = await drain(source(sealed, [5, 1040, 77, 9999, 1]).pipeThrough(reader.decryptStream({ requireContext: { tenant: 'acme' }, onProgress: (p) => dprog.push(p) })));
      assert(!out.error, `${n}: decrypt stream failed: ${out.error && out.error.code} ${out.error}`);
      bytesEq(out.bytes, pt, `${n}: stream round trip`);
      for (const c of out.chunks) assert(c.length % S === 0 || c === out.chunks.at(-1), `${n}: plaintext released in whole segments`);
      eq(dprog.at(-1).plaintextBytes, n, `${n}: decrypt progress`);
    }
    // a one-shot seal opens through the stream, fed whole
    const pt = randomBytes(5000);
    const sealed = await ks.encrypt(pt, { context: CTX });
    bytesEq((await drain(source(sealed, [sealed.length]).pipeThrough(reader.decryptStream()))).bytes, pt, 'one-shot seal through decryptStream');
    // the headline usage: Blob.stream() in, a Response body (what fetch gives) back in
    if (typeof Blob !== 'undefined') {
      const big = randomBytes(5 * S + 3);
      const viaBlob = await drain(new Blob([big]).stream().pipeThrough(ks.encryptStream({ context: CTX })));
      const back = await drain(new Response(viaBlob.bytes).body.pipeThrough(reader.decryptStream()));
      bytesEq(back.bytes, big, 'Blob.stream() → encryptStream → Response body → decryptStream');
    }
    // the stream events feed metrics
    const m = reader.metrics();
    assert(m.decryptOk >= 8, `decryptOk ${m.decryptOk}`);
  }, 60_000);

  for (const engine of ['wasm', 'webcrypto']) test(`streams (${engine} engine): backpressure — an unread output does not pull the whole input`, async () => {
    const ks = await make({ segmentSize: S, engine });
    let pulls = 0;
    const chunk = randomBytes(64 * 1024);
    const src = new ReadableStream({
      pull(c) { pulls++; if (pulls > 200) c.close(); else c.enqueue(chunk.slice()); },
    }, { highWaterMark: 1 });
    const r = src.pipeThrough(ks.encryptStream({ context: CTX })).getReader();
    const first = await r.read();
    assert(first.value.length > 0, 'header arrives');
    await sleep(200);
    assert(pulls < 10, `source pulled ${pulls} times while nobody read the output`);
    let n = 0;
    for (let i = 0; i < 20; i++) n += (await r.read()).value.length;
    assert(n > 0, 'reading resumes the flow');
    await r.cancel();
  });

  for (const engine of ['wasm', 'webcrypto']) test(`streams (${engine} engine): truncated, reordered, extended, tampered → DecryptionFailedError after a prefix of whole segments`, async () => {
    const ks = await make({ segmentSize: S, engine });
    const pt = randomBytes(5 * S + 100);
    const sealed = await ks.encrypt(pt, { context: CTX });
    const info = await ks.inspect(sealed);
    const h = info.headerLen;
    const at = (k) => segmentAt(info, k);
    const swap = sealed.slice();
    swap.set(sealed.subarray(at(2), at(3)), at(1));
    swap.set(sealed.subarray(at(1), at(2)), at(2));
    const flipped = sealed.slice();
    flipped[at(3) + 10] ^= 1;
    const cases = [
      ['truncated at a segment boundary', sealed.slice(0, at(3))],
      ['truncated inside a segment', sealed.slice(0, at(2) + 500)],
      ['last byte missing', sealed.slice(0, sealed.length - 1)],
      ['last segment missing', sealed.slice(0, at(5))],
      ['segments 1 and 2 swapped', swap],
      ['bytes appended', concat([sealed, randomBytes(20)])],
      ['last segment repeated', concat([sealed, sealed.subarray(at(5))])],
      ['body byte flipped', flipped],
      ['header only', sealed.slice(0, h)],
    ];
    for (const [what, bad] of cases) {
      const got = await drain(source(bad, [700, 1300, 3]).pipeThrough(ks.decryptStream()));
      assert(got.error, `${what}: no error`);
      assert(got.error instanceof E.DecryptionFailedError && got.error.code === 'DECRYPTION_FAILED', `${what}: got ${got.error.name}/${got.error.code}: ${got.error.message}`);
      eq(got.bytes.length % S, 0, `${what}: released bytes are whole segments`);
      bytesEq(got.bytes, pt.subarray(0, got.bytes.length), `${what}: released bytes are a prefix of the plaintext`);
    }
    const early = await drain(source(sealed.slice(0, h - 1), [50]).pipeThrough(ks.decryptStream()));
    assert(early.error instanceof E.InvalidFormatError, `stream ending inside the header: ${early.error && early.error.code}`);
    eq(early.bytes.length, 0, 'nothing released');
    const ctx = await drain(source(sealed, [4096]).pipeThrough(ks.decryptStream({ requireContext: { tenant: 'globex' } })));
    assert(ctx.error instanceof E.ContextMismatchError, `requireContext: ${ctx.error && ctx.error.code}`);
    const chunk = await drain(source(new Uint8Array(1), [1]).pipeThrough(new TransformStream({ transform(_, c) { c.enqueue(42); } })).pipeThrough(ks.encryptStream({ context: CTX })));
    assert(chunk.error instanceof E.InvalidArgumentError, `non-bytes chunk: ${chunk.error && chunk.error.code}`);
  }, 30_000);
}
