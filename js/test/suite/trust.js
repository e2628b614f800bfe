// Trust (SECURITY.md): signed messages a reader cannot forge, a pinned key-service identity
// against a substituting proxy, no redirects, no plain http off loopback, and reserved context
// keys — each an attack that succeeds without its defence, shown through the package against the
// real keyseal-kms.

import { S, assert, eq, bytesEq, randomBytes, hex, toHex, source, drain } from './support.js';

/** base64 (standard, padded) of bytes, in every runtime. */
function b64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
function unb64(s) {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

export default function register({ test, make, inspect, rejects, E, env, CTX, primary, escrow, fault, lowLevel, calls, control }) {
  const pinned = (urls) => ({ ...primary(urls), identity: env.identity });

  test('signed messages: sign/requireSigned round trips on every engine, a tampered signature and an unsigned message are refused', async () => {
    const pt = randomBytes(3 * S + 11);
    const engines = ['wasm', 'auto'];
    for (const a of engines) {
      for (const b of engines) {
        const w = await make({ segmentSize: S, engine: a });
        const r = await make({ segmentSize: S, engine: b, token: () => env.tokens.reader });
        const sealed = await w.encrypt(pt, { context: CTX, sign: true });
        eq(inspect && (await inspect(sealed)).suite, 2, `${a}: suite 2`);
        bytesEq(await r.decrypt(sealed, { requireSigned: true }), pt, `${a} → ${b}: requireSigned`);
        const bad = sealed.slice();
        bad[bad.length - 5] ^= 1;
        await rejects(r.decrypt(bad), E.DecryptionFailedError, `${a} → ${b}: signature byte flipped`);
        await rejects(r.decrypt(bad.subarray(0, bad.length - 64)), E.DecryptionFailedError, `${a} → ${b}: signature cut off`);
      }
    }
    const ks = await make();
    const unsigned = await ks.encrypt('unsigned', { context: CTX });
    await rejects(ks.decrypt(unsigned, { requireSigned: true }), E.DowngradeRefusedError, 'unsigned + requireSigned');
    await rejects(ks.decryptRange(unsigned, { requireSigned: true }), E.InvalidArgumentError, 'a range cannot verify a signature');
    await rejects(ks.encrypt('x', { context: { 'keyseal:verification-key': 'mine' } }), E.InvalidArgumentError, 'reserved context key');
  }, 60_000);

  test('signed streams: round trip; a bad signature fails at the end after reader-authenticated segments, the last one held back', async () => {
    const pt = randomBytes(5 * S + 7);
    for (const engine of ['wasm', 'auto']) {
      const ks = await make({ segmentSize: S, engine });
      const sealed = (await drain(source(pt, [333]).pipeThrough(ks.encryptStream({ context: CTX, sign: true })))).bytes;
      bytesEq((await drain(source(sealed, [500]).pipeThrough(ks.decryptStream({ requireSigned: true })))).bytes, pt, `${engine}: stream round trip`);
      bytesEq(await ks.decrypt(sealed, { requireSigned: true }), pt, `${engine}: whole-message open of a streamed signed message`);
      const bad = sealed.slice();
      bad[bad.length - 1] ^= 1;
      const got = await drain(source(bad, [200]).pipeThrough(ks.decryptStream({ requireSigned: true })));
      assert(got.error instanceof E.DecryptionFailedError, `${engine}: error ${got.error && got.error.code}`);
      bytesEq(got.bytes, pt.subarray(0, 5 * S), `${engine}: every segment but the last released, then the error`);
    }
  }, 60_000);

  test('signed messages: a reader holding the data key cannot make a message that a requireSigned reader accepts', async () => {
    const writer = await make();
    const reader = await make({ token: () => env.tokens.reader });
    const genuine = await writer.encrypt('pay 100 to bob', { context: CTX, sign: true });
    const info = await inspect(genuine);
    const entry = info.entries[0];
    // The reader unwraps the entry at the key service (a reader may) and so holds the data key.
    const r = await fetch(`${env.attackUrl}/unwrap`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key_id: entry.keyId, wrapped_key: b64(entry.wrapped), context: info.context }),
    });
    const a = await r.json();
    eq(r.status, 200, `reader unwraps: ${JSON.stringify(a)}`);
    const dek = unb64(a.key);
    const entries = [{ kind: 'kms', key_service_id: entry.keyServiceId, key_id: entry.keyId, wrapped: toHex(entry.wrapped) }];
    const userPairs = Object.entries(info.context).filter(([k]) => !k.startsWith('keyseal:'));
    // 1. An unsigned message under the same entry: refused by requireSigned at once; and without the
    //    writer's verification key in its context the entry no longer opens at the key service.
    const unsigned = await lowLevel.sealWithDataKeyAssumingUniqueMessageId(dek, randomBytes(32), 1024, userPairs, entries, new TextEncoder().encode('pay 1000000 to mallory'));
    await rejects(reader.decrypt(unsigned, { requireSigned: true }), E.DowngradeRefusedError, 'unsigned forgery, requireSigned');
    await rejects(reader.decrypt(unsigned), E.ContextMismatchError, 'unsigned forgery, the key service refuses the context');
    // 2. Signed with the reader's own key: its verification key must be in the context, which then
    //    no longer matches the one the entry is bound to.
    const mallory = '1111111111111111111111111111111111111111111111111111111111111111';
    const mkey = await lowLevel.verificationKey(mallory);
    const forged = await lowLevel.sealWithDataKeyAssumingUniqueMessageId(dek, randomBytes(32), 1024,
      [...userPairs, ['keyseal:verification-key', mkey]], entries, new TextEncoder().encode('pay 1000000 to mallory'), { signingSecret: mallory });
    await rejects(reader.decrypt(forged, { requireSigned: true }), E.ContextMismatchError, 'signed forgery');
    // the genuine one still opens
    eq(new TextDecoder().decode(await reader.decrypt(genuine, { requireSigned: true })), 'pay 100 to bob', 'genuine');
  });

  test('identity: a substituting proxy is believed when nothing is pinned and refused when the identity is pinned', async () => {
    // Unpinned: the proxy hands out a data key of its own, and can read what is sealed under it.
    const id1 = `sub-${env.runtime}-${Math.random().toString(16).slice(2)}`;
    const trusting = await make({ keyService: primary([`${env.faultUrl}/substitute/${id1}/v1`]) });
    const sealed = await trusting.encrypt('read by the proxy', { context: CTX });
    const log = await (await fetch(`${env.faultUrl.replace('/fault', '/fault-log')}/${id1}`)).json();
    eq(new TextDecoder().decode(await lowLevel.openWithDataKey(sealed, hex(log.dataKey))), 'read by the proxy', 'the proxy reads the message');
    // Pinned: the same proxy is refused on generate, unwrap and public keys.
    const guarded = await make({ keyService: pinned([fault('substitute')]) });
    await rejects(guarded.encrypt('x', { context: CTX }), E.IdentityMismatchError, 'generate through the proxy');
    const real = await make({ keyService: pinned() });
    const genuine = await real.encrypt('genuine', { context: CTX });
    eq(await real.decryptText(genuine), 'genuine', 'pinned, real service');
    await rejects(guarded.decrypt(genuine), E.IdentityMismatchError, 'unwrap through the proxy');
    const offline = await make({ keyService: pinned([fault('substitute')]), wrapMode: 'public-key' });
    await rejects(offline.encrypt('x', { context: CTX }), E.IdentityMismatchError, 'substituted public key');
    // Escrow with a pinned identity: the data key goes as an hpke entry through /rewrap, not /wrap.
    const events = [];
    const withEscrow = await make({ keyService: pinned(), escrow: [{ ...escrow(), identity: env.escrowIdentity }] }, events);
    const e2 = await withEscrow.encrypt('escrowed', { context: CTX });
    eq(calls(events, 'wrap').length, 0, 'no /wrap');
    assert(calls(events, 'rewrap', true).length >= 1, 'escrow entry made through /rewrap');
    eq((await inspect(e2)).entries.length, 2, 'two entries');
  });

  test('P-256 engines: the platform by default (node:crypto in the Node entry, else WebCrypto), wasm on request; each opens what the others sealed through the key service, all check the pinned identity and refuse a substituting proxy', async () => {
    const nodeEntry = ['node', 'bun'].includes(env.runtime);
    const byDefault = await make({ keyService: pinned() });
    eq(byDefault.p256Engine(), nodeEntry ? 'node' : 'webcrypto', 'default engine');
    const engines = nodeEntry ? ['wasm', 'webcrypto', 'node'] : ['wasm', 'webcrypto'];
    for (const a of engines) {
      const w = await make({ keyService: pinned(), p256: a });
      eq(w.p256Engine(), a, `engine ${a}`);
      for (const b of engines) {
        const r = await make({ keyService: pinned(), p256: b, cache: false });
        const sealed = await w.encrypt(`${a} → ${b}`, { context: { ...CTX, object: `${a}-${b}` } });
        eq(await r.decryptText(sealed, { requireContext: { object: `${a}-${b}` } }), `${a} → ${b}`, `${a} generate → ${b} unwrap`);
      }
      const guarded = await make({ keyService: pinned([fault('substitute')]), p256: a });
      await rejects(guarded.encrypt('x', { context: CTX }), E.IdentityMismatchError, `${a}: generate through the proxy`);
      const forged = await make({ keyService: { ...primary(), identity: env.escrowIdentity }, p256: a });
      await rejects(forged.encrypt('x', { context: CTX }), E.IdentityMismatchError, `${a}: answers signed by another identity`);
    }
    await rejects(make({ keyService: pinned(), p256: 'openssl' }), E.InvalidArgumentError, 'unknown engine');
    if (!nodeEntry) await rejects(make({ keyService: pinned(), p256: 'node' }), E.InvalidArgumentError, "'node' outside the node entry");
  });

  test('identity: a pinned rewrapAll verifies the one batch signature; a proxy that swaps a wrapped key in a genuine batch answer is refused', async () => {
    const to = `acme/${env.runtime}-${Math.random().toString(16).slice(2)}-batch-rotate`;
    await control('create', to);
    const writer = await make({ keyService: pinned() });
    const store = new Map();
    for (let i = 0; i < 5; i++) store.set(`b${i}`, await writer.encrypt(`batch object ${i}`, { context: { tenant: 'acme', object: `b${i}` } }));
    const objects = () => [...store.keys()].map((id) => ({
      id,
      readHeader: async () => store.get(id),
      writeHeader: async (header, bodyOffset) => { store.set(id, new Uint8Array([...header, ...store.get(id).subarray(bodyOffset)])); },
    }));
    const before = new Map(store);
    const guarded = await make({ keyService: pinned([fault('batch-swap')]), decrypt: { allowKeyIds: [to] } });
    const refused = await guarded.rewrapAll(objects(), { toKeyId: to });
    eq(refused.done, 0, 'nothing rewrapped through the proxy');
    eq(refused.failed.length, 5, 'every object failed');
    assert(refused.failed.every((f) => f.code === 'IDENTITY_MISMATCH'), `codes: ${JSON.stringify(refused.failed)}`);
    for (const [id, sealed] of store) bytesEq(sealed, before.get(id), `${id} untouched`);
    const real = await make({ keyService: pinned(), decrypt: { allowKeyIds: [to] } });
    const done = await real.rewrapAll(objects(), { toKeyId: to });
    eq(done.done, 5, 'all rewrapped at the real service');
    for (const [id, sealed] of store) {
      eq((await inspect(sealed)).entries[0].keyId, to, `${id} now under the target key`);
      eq(await real.decryptText(sealed), `batch object ${id.slice(1)}`, `${id} opens`);
    }
  });

  test('transport: a redirect is refused and not followed; plain http off loopback is refused', async () => {
    const id = `redir-${env.runtime}-${Math.random().toString(16).slice(2)}`;
    const ks = await make({ keyService: primary([`${env.faultUrl}/redirect/${id}/v1`]) });
    const e = await rejects(ks.encrypt('x', { context: CTX }), E.ProtocolError, 'redirect');
    assert(/does not follow redirects/.test(e.message), e.message);
    const log = await (await fetch(`${env.faultUrl.replace('/fault', '/fault-log')}/${id}`)).json();
    // the redirect target (`record` mode, same fault id) would have counted a second request
    eq(log.seen, 1, 'one request in all: the redirect was not followed');
    await rejects(make({ keyService: { id: 'acme', urls: ['http://kms.example/v1'] } }), E.InvalidArgumentError, 'http off loopback');
    await rejects(make({ keyService: { ...primary(), identity: 'not base64!' } }), E.InvalidArgumentError, 'bad identity');
  });

  test('ranges: an object cut to a consistent length is refused when a read reaches its end', async () => {
    const ks = await make({ segmentSize: S });
    const pt = randomBytes(6 * S + 30);
    const sealed = await ks.encrypt(pt, { context: CTX });
    const h = (await ks.inspect(sealed)).headerLen;
    const cut = sealed.subarray(0, h + 3 * (S + 16) + 16);
    await rejects(ks.decryptRange(cut, { offset: 0 }), E.DecryptionFailedError, 'to the end');
    await rejects(ks.decryptRange(cut, { offset: 2 * S, length: 5 * S }), E.DecryptionFailedError, 'a range past the apparent end');
    bytesEq(await ks.decryptRange(cut, { offset: 0, length: S }), pt.subarray(0, S), 'a range inside still opens');
  });
}
