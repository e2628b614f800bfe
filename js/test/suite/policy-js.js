// The SDK policy in JS (js/src/policy/, docs/DESIGN.md design C: what the package's instances run
// on) against the real key services and the Rust SDK policy (the package's instances routed to the
// wasm core with `engine: 'wasm'`): what one side seals the other opens, the same calls, cache hits
// and refusal codes; every answer checked under the pinned identity.

import { assert, eq, bytesEq, toHex, enc, uid, S, SIZES, randomBytes, source, drain } from './support.js';

export default function register({ test, env, make: makeInstance, fault, CTX, primary, escrow, calls, control }) {
  /** The reference: a package instance on the Rust core in wasm (the same options otherwise). */
  const make = (opts = {}, events) => makeInstance({ engine: 'wasm', ...opts }, events);
  const F = env.formatModule;
  const P = env.policyModule;
  const engines = [F?.webcryptoEngine, env.formatNodeEngine].filter(Boolean);
  const need = () => assert(F && P && typeof P.KeysealKms === 'function', 'the harness passes js/src/format and js/src/policy to the suite');
  if (!engines.length || !P) test('policy in JS: the runner passes js/src/policy', need);

  test('policy in JS: the data-key cache keeps the limits of src/cache.rs (age, messages, bytes, entries, context, purge)', async () => {
    need();
    let t = 0;
    const cache = (c) => new P.DataKeyCache(c, () => t);
    const ctx = (o) => F.encodeContext(o).bytes;
    const key = (b) => new Uint8Array(32).fill(b);
    const ents = (id) => [{ kind: 'kms', keyServiceId: 'acme', keyId: id, wrapped: Uint8Array.of(1) }];
    let c = cache({ maxMessages: 3, maxBytes: 100 });
    eq(c.takeForEncrypt('acme/default', ctx(CTX), 1), null, 'empty');
    c.putForEncrypt('acme/default', ctx(CTX), key(7), ents('acme/default'), 10);
    const got = c.takeForEncrypt('acme/default', ctx(CTX), 10);
    eq(toHex(got.dataKey), toHex(key(7)), 'hit');
    got.dataKey.fill(0);
    eq(toHex(c.takeForEncrypt('acme/default', ctx(CTX), 10).dataKey), toHex(key(7)), 'a copy leaves the cache');
    eq(c.takeForEncrypt('acme/default', ctx(CTX), 10), null, 'the 4th message is over maxMessages 3');
    eq(c.takeForEncrypt('acme/default', ctx(CTX), 10), null, 'and the key is gone');
    c.putForEncrypt('acme/default', ctx(CTX), key(1), ents('acme/default'), 60);
    assert(c.takeForEncrypt('acme/default', ctx(CTX), 40), '60 + 40 bytes fit maxBytes 100');
    eq(c.takeForEncrypt('acme/default', ctx(CTX), 1), null, 'one byte more does not');
    c.putForEncrypt('acme/default', ctx(CTX), key(1), ents('acme/default'), 101);
    eq(c.takeForEncrypt('acme/default', ctx(CTX), 0), null, 'a message over maxBytes is not cached');
    c = cache({});
    t = 0;
    c.putForEncrypt('acme/default', ctx(CTX), key(2), ents('acme/default'), 1);
    eq(c.takeForEncrypt('acme/default', ctx({ ...CTX, object: 'other' }), 1), null, 'another context');
    eq(c.takeForEncrypt('acme/other', ctx(CTX), 1), null, 'another key');
    t = 59_999;
    assert(c.takeForEncrypt('acme/default', ctx(CTX), 1), 'within 60 s');
    t = 60_000;
    eq(c.takeForEncrypt('acme/default', ctx(CTX), 1), null, 'at 60 s');
    const entry = ents('acme/default')[0];
    t = 0;
    c.putForDecrypt(entry, ctx(CTX), key(3));
    eq(toHex(c.getForDecrypt(entry, ctx(CTX))), toHex(key(3)), 'decrypt hit');
    eq(c.getForDecrypt(entry, ctx({ tenant: 'acme' })), null, 'decrypt: another context');
    eq(c.getForDecrypt({ ...entry, wrapped: Uint8Array.of(2) }, ctx(CTX)), null, 'decrypt: another wrapped key');
    t = 60_000;
    eq(c.getForDecrypt(entry, ctx(CTX)), null, 'decrypt: at 60 s');
    c = cache({ maxEntries: 2 });
    for (const [i, o] of ['a', 'b', 'c'].entries()) { t = i; c.putForEncrypt('acme/default', ctx({ o }), key(i), ents('acme/default'), 1); }
    eq(c.takeForEncrypt('acme/default', ctx({ o: 'a' }), 1), null, 'the oldest is evicted at maxEntries');
    assert(c.takeForEncrypt('acme/default', ctx({ o: 'c' }), 1), 'the newest stays');
    c = cache({});
    t = 0;
    c.putForEncrypt('acme/default', ctx(CTX), key(4), [...ents('acme/default'), ...ents('acme/escrow')], 1);
    c.putForEncrypt('acme/other', ctx(CTX), key(5), ents('acme/other'), 1);
    c.putForDecrypt({ ...entry, keyId: 'acme/escrow' }, ctx(CTX), key(6));
    eq(c.purge('acme/escrow'), 2, 'purge drops every key with an entry of that key id');
    eq(c.size, 1, 'the other key stays');
    eq(c.purge(), 1, 'purge all');
    c = cache({ maxAgeMs: 0 });
    c.putForEncrypt('acme/default', ctx(CTX), key(8), ents('acme/default'), 1);
    eq(c.size, 0, 'maxAgeMs 0 caches nothing');
  });

  for (const engine of engines) {
    const E = engine.name;
    // one URL and one round unless a test says otherwise: refusals show at once
    const client = ({ url, ...o } = {}) => new P.KeysealKms({
      id: 'acme', urls: [url ?? env.kmsUrl], token: () => env.tokens.writer, engine, retry: { maxRounds: 1 }, ...o,
    });
    const codeOf = async (p) => { try { await p; return 'succeeded'; } catch (e) { return e?.code ?? `no code: ${e}`; } };
    const sealJs = (dataKey, wrapped, context = CTX, plaintext = enc.encode(`sealed in JS (${E}, ${env.runtime})`)) =>
      F.sealWithDataKeyAssumingUniqueMessageId({
        dataKey, messageId: engine.randomBytes(32), segmentSize: 1024, context, plaintext, engine,
        entries: [{ kind: 'kms', keyServiceId: 'acme', keyId: 'acme/default', wrapped }],
      });

    test(`policy in JS (${E}): generate, seal in JS, the package opens it through the kms; the package's message, unwrapped in JS, opens in JS`, async () => {
      need();
      const kms = client();
      const g = await kms.generate('acme/default', CTX);
      eq(g.dataKey.length, 32, 'data key');
      assert(g.keyVersion >= 1, 'key version');
      const plaintext = enc.encode(`round trip ${E}`);
      const sealed = await sealJs(g.dataKey, g.wrapped, CTX, plaintext);
      const ks = await make({ token: () => env.tokens.reader });
      bytesEq(await ks.decrypt(sealed, { requireContext: CTX }), plaintext, 'the package opens the JS message');
      // the other way: the package seals, the JS client unwraps its entry, the JS format opens it
      const theirs = await (await make()).encrypt('sealed by the package', { context: CTX });
      const h = F.parseHeader(theirs);
      const u = await client({ token: () => env.tokens.reader }).unwrap(h.entries[0].keyId, 'kms', h.entries[0].wrapped, Object.fromEntries(h.context));
      bytesEq(await F.openWithDataKey(theirs, u.dataKey, { engine }), enc.encode('sealed by the package'), 'JS opens the package message');
      // and unwrapping what generate wrapped gives back the same data key
      eq(toHex((await kms.unwrap('acme/default', 'kms', g.wrapped, CTX)).dataKey), toHex(g.dataKey), 'unwrap of generate');
    });

    test(`policy in JS (${E}): generate-batch gives one data key per context, each bound to its own context`, async () => {
      need();
      const kms = client();
      const contexts = [0, 1, 2].map((i) => ({ ...CTX, object: `batch-${i}-${uid()}` }));
      const b = await kms.generateBatch('acme/default', contexts);
      eq(b.items.length, 3, 'items');
      eq(new Set(b.items.map((it) => toHex(it.dataKey))).size, 3, 'distinct data keys');
      for (const [i, it] of b.items.entries()) {
        eq(toHex((await kms.unwrap('acme/default', 'kms', it.wrapped, contexts[i])).dataKey), toHex(it.dataKey), `item ${i}`);
      }
      eq(await codeOf(kms.unwrap('acme/default', 'kms', b.items[0].wrapped, contexts[1])), 'CONTEXT_MISMATCH', 'item 0 under item 1\'s context');
    });

    test(`policy in JS (${E}): rewrap keeps the data key; an hpke-p256 entry sealed in JS to the public key unwraps and rewraps to a kms entry`, async () => {
      need();
      const kms = client();
      const g = await kms.generate('acme/default', CTX);
      const r = await kms.rewrap('acme/default', 'kms', g.wrapped, CTX);
      assert(toHex(r.wrapped) !== toHex(g.wrapped), 'a new wrapped key');
      eq(r.keyId, 'acme/default', 'key id');
      eq(toHex((await kms.unwrap('acme/default', 'kms', r.wrapped, CTX)).dataKey), toHex(g.dataKey), 'same data key after rewrap');
      const pk = await kms.publicKey('acme/default');
      const dataKey = engine.randomBytes(32);
      const wrapped = await F.sealHpkeEntry(engine, { recipientPublic: pk.publicRaw, keyId: 'acme/default', keyVersion: pk.keyVersion, contextBytes: F.encodeContext(CTX).bytes, dataKey });
      eq(toHex((await kms.unwrap('acme/default', 'hpke-p256', wrapped, CTX)).dataKey), toHex(dataKey), 'hpke-p256 entry at the kms');
      const asKms = await kms.rewrap('acme/default', 'hpke-p256', wrapped, CTX);
      eq(toHex((await kms.unwrap('acme/default', 'kms', asKms.wrapped, CTX)).dataKey), toHex(dataKey), 'rewrapped to kms');
      eq(await codeOf(kms.unwrap('acme/default', 'hpke-p256', wrapped, { tenant: 'acme', object: 'other' })), 'DECRYPTION_FAILED', 'hpke entry under another context');
    });

    test(`policy in JS (${E}): with the pinned identity every answer verifies; another identity and a substituting proxy are refused`, async () => {
      need();
      const kms = client({ identity: env.identity });
      const g = await kms.generate('acme/default', CTX);
      await kms.unwrap('acme/default', 'kms', g.wrapped, CTX);
      await kms.rewrap('acme/default', 'kms', g.wrapped, CTX);
      await kms.generateBatch('acme/default', [CTX, { ...CTX, object: 'b' }]);
      await kms.publicKey('acme/default');
      const other = client({ identity: env.escrowIdentity });
      for (const [op, f] of [['generate', () => other.generate('acme/default', CTX)], ['unwrap', () => other.unwrap('acme/default', 'kms', g.wrapped, CTX)],
        ['rewrap', () => other.rewrap('acme/default', 'kms', g.wrapped, CTX)], ['generate-batch', () => other.generateBatch('acme/default', [CTX])],
        ['public-key', () => other.publicKey('acme/default')]]) {
        eq(await codeOf(f()), 'IDENTITY_MISMATCH', `${op} under another identity`);
      }
      // a proxy answering with a data key of its own: believed without a pin (it is what the
      // pin is for), refused with one
      const id = uid();
      const sub = fault('substitute', id);
      const open = await client({ url: sub }).generate('acme/default', CTX);
      const log = await (await fetch(`${env.faultUrl.replace(/\/fault$/, '')}/fault-log/${env.runtime}-${id}`)).json();
      eq(toHex(open.dataKey), log.dataKey, 'unpinned: the substitute\'s data key');
      eq(await codeOf(client({ url: fault('substitute'), identity: env.identity }).generate('acme/default', CTX)), 'IDENTITY_MISMATCH', 'pinned: refused');
    });

    test(`policy in JS (${E}): each refusal and transport failure has its code`, async () => {
      need();
      const kms = client();
      const g = await kms.generate('acme/default', CTX);
      const flipped = g.wrapped.slice(); flipped[flipped.length - 1] ^= 1;
      const cases = [
        ['another tenant\'s token', () => client({ token: () => env.tokens.globex }).generate('acme/default', CTX), 'ACCESS_DENIED'],
        ['no such key', () => kms.generate('acme/no-such-key', CTX), 'KEY_NOT_FOUND'],
        ['a tampered wrapped key', () => kms.unwrap('acme/default', 'kms', flipped, CTX), 'DECRYPTION_FAILED'],
        ['another context', () => kms.unwrap('acme/default', 'kms', g.wrapped, { tenant: 'acme' }), 'CONTEXT_MISMATCH'],
        ['nothing listening', () => client({ url: env.closedUrl }).generate('acme/default', CTX), 'KMS_UNAVAILABLE'],
        ['an answer that never comes', () => client({ url: fault('hang'), retry: { maxRounds: 1, attemptTimeoutMs: 300 } }).generate('acme/default', CTX), 'TIMEOUT'],
        ['the data key in clear', () => client({ url: fault('plaintext') }).generate('acme/default', CTX), 'DOWNGRADE_REFUSED'],
        ['an answer that is not JSON', () => client({ url: fault('garbage') }).generate('acme/default', CTX), 'PROTOCOL_ERROR'],
        ['429, no retry left', () => client({ url: fault('429'), retry: { maxRounds: 1, deadlineMs: 500 } }).generate('acme/default', CTX), 'THROTTLED'],
        ['500, no round left', () => client({ url: fault('flaky500') }).generate('acme/default', CTX), 'KMS_UNAVAILABLE'],
      ];
      for (const [what, f, code] of cases) eq(await codeOf(f()), code, what);
      // allowed explicitly, a plaintext key is taken (and is the real one: it unwraps the same)
      const clear = await client({ url: fault('plaintext'), allowPlaintextKeys: true }).generate('acme/default', CTX);
      eq(toHex((await kms.unwrap('acme/default', 'kms', clear.wrapped, CTX)).dataKey), toHex(clear.dataKey), 'allowPlaintextKeys');
    });

    test(`policy in JS (${E}): retries as the package does: failover to the next URL, 500 on the next round, 429 after Retry-After, never a 4xx; the breaker skips a failing URL`, async () => {
      need();
      const run = async (o, f) => {
        const events = [];
        const kms = client({ onEvent: (e) => events.push(e), ...o });
        let code = 'succeeded';
        try { await f(kms); } catch (e) { code = e.code; }
        return { code, calls: events.filter((e) => e.type === 'kmsCall'), opened: events.filter((e) => e.type === 'circuitOpen') };
      };
      const gen = (k) => k.generate('acme/default', CTX);
      let r = await run({ urls: [env.closedUrl, env.kmsUrl] }, gen);
      eq(r.code, 'succeeded', 'failover');
      eq(JSON.stringify(r.calls.map((c) => [c.url, c.ok, c.code, c.attempt, c.op])), JSON.stringify([[env.closedUrl, false, 'KMS_UNAVAILABLE', 1, 'generate'], [env.kmsUrl, true, null, 2, 'generate']]), 'failover attempts');
      r = await run({ url: fault('flaky500'), retry: { maxRounds: 2, backoffBaseMs: 10 } }, gen);
      eq(r.code, 'succeeded', '500 then a second round');
      eq(JSON.stringify(r.calls.map((c) => [c.status, c.code])), JSON.stringify([[500, 'KMS_UNAVAILABLE'], [200, null]]), '500 attempts');
      r = await run({ url: fault('429'), retry: { maxRounds: 1 } }, gen);
      eq(r.code, 'succeeded', '429 then the same URL after Retry-After');
      eq(JSON.stringify(r.calls.map((c) => [c.status, c.code])), JSON.stringify([[429, 'THROTTLED'], [200, null]]), '429 attempts');
      r = await run({ retry: { maxRounds: 3 } }, (k) => k.generate('acme/no-such-key', CTX));
      eq(r.code, 'KEY_NOT_FOUND', '4xx');
      eq(r.calls.length, 1, 'a 4xx is not retried');
      r = await run({ url: fault('hang'), retry: { maxRounds: 5, attemptTimeoutMs: 200, deadlineMs: 500, backoffBaseMs: 1 } }, gen);
      eq(r.code, 'TIMEOUT', 'deadline');
      assert(r.calls.length >= 1 && r.calls.length <= 3, `attempts within the deadline: ${r.calls.length}`);
      // breaker: one failure opens the closed URL's circuit; the next call skips it
      const events = [];
      const kms = client({ urls: [env.closedUrl, env.kmsUrl], retry: { breakerThreshold: 1 }, onEvent: (e) => events.push(e) });
      await gen(kms);
      await gen(kms);
      eq(events.filter((e) => e.type === 'circuitOpen' && e.url === env.closedUrl).length, 1, 'the circuit opened once');
      eq(events.filter((e) => e.type === 'kmsCall' && e.url === env.closedUrl).length, 1, 'the open circuit is skipped');
    }, 30_000);

    // KeySealJs (js/src/policy/keyseal.js) beside the package's KeySeal, same options
    const js = (o = {}, events) => P.KeySealJs.create({
      keyService: primary(), keyId: 'acme/default', token: () => env.tokens.writer, formatEngine: engine,
      onEvent: events ? (e) => events.push(e) : undefined, ...o,
    });
    const ops = (events, op) => calls(events, op).length;
    /** Seals `pt` with KeySealJs `j` (an entry of `kind`) and the package `p`; each opens the other's. Returns the JS message. */
    const bothWays = async (j, p, pt, kind, where) => {
      const byJs = await j.encrypt(pt, { context: CTX });
      eq(F.parseHeader(byJs).entries[0].kind, kind, `an ${kind} entry`);
      bytesEq(await p.decrypt(byJs, { requireContext: CTX }), pt, `the package opens the JS message ${where}`);
      bytesEq(await j.decrypt(await p.encrypt(pt, { context: CTX })), pt, `JS opens the package message ${where}`);
      return byJs;
    };

    test(`policy in JS (${E}): KeySealJs and the package open each other's messages, and one sequence of encrypts and decrypts makes the same key-service calls in both`, async () => {
      need();
      const evJ = [], evP = [];
      const j = await js({}, evJ);
      const p = await make({}, evP);
      const object = `seq-${uid()}`;
      const msgs = [];
      for (let i = 0; i < 12; i++) {
        const context = { ...CTX, object: `${object}-${i % 3}` };
        msgs.push({ text: `message ${i}`, context, byJs: await j.encrypt(`message ${i}`, { context }), byPkg: await p.encrypt(`message ${i}`, { context }) });
      }
      for (const m of msgs) {
        eq(new TextDecoder().decode(await j.decrypt(m.byPkg, { requireContext: m.context })), m.text, 'JS opens the package\'s');
        eq(new TextDecoder().decode(await p.decrypt(m.byJs, { requireContext: m.context })), m.text, 'the package opens the JS\'s');
        eq(new TextDecoder().decode(await j.decrypt(m.byJs)), m.text, 'JS opens its own');
        eq(new TextDecoder().decode(await p.decrypt(m.byPkg)), m.text, 'the package opens its own');
      }
      for (const op of ['generate', 'unwrap', 'wrap']) eq(ops(evJ, op), ops(evP, op), `${op} calls: JS ${ops(evJ, op)}, package ${ops(evP, op)}`);
      eq(ops(evJ, 'generate'), 3, 'one generate per context (the encrypt cache)');
      eq(ops(evJ, 'unwrap'), 6, 'one unwrap per wrapped key and client (the decrypt cache)');
      const hits = (ev, cache) => ev.filter((e) => e.type === 'cacheHit' && e.cache === cache).length;
      eq(hits(evJ, 'encrypt'), hits(evP, 'encrypt'), 'encrypt cache hits');
      eq(hits(evJ, 'decrypt'), hits(evP, 'decrypt'), 'decrypt cache hits');
    }, 30_000);

    test(`policy in JS (${E}): per-record contexts in parallel share /generate-batch as in the package; a service without the endpoint gets /generate per context`, async () => {
      need();
      const N = 120;
      const run = async (k, tag) => Promise.all(Array.from({ length: N }, (_, i) => k.encrypt(`record ${i}`, { context: { ...CTX, object: `${tag}-${i}` } })));
      const evJ = [], evP = [];
      const tag = uid();
      const sealedJ = await run(await js({}, evJ), `j-${tag}`);
      await run(await make({}, evP), `p-${tag}`);
      const requests = (ev) => ops(ev, 'generate') + ops(ev, 'generate_batch');
      const batchesJ = calls(evJ, 'generate_batch', true).length;
      assert(batchesJ >= 1, `at least one /generate-batch (got ${batchesJ}, and ${ops(evJ, 'generate')} /generate)`);
      // two lanes, then batches of up to 50: at most 2 + ceil(118 / 50) + 2 requests, as the package
      assert(requests(evJ) <= 2 + Math.ceil((N - 2) / 50) + 2, `JS: ${requests(evJ)} requests for ${N} contexts`);
      assert(requests(evP) <= 2 + Math.ceil((N - 2) / 50) + 2, `package: ${requests(evP)} requests for ${N} contexts`);
      // each object opens under its own context only, at the package
      const p = await make({ token: () => env.tokens.reader });
      for (const i of [0, 1, 2, 57, N - 1]) {
        eq(new TextDecoder().decode(await p.decrypt(sealedJ[i], { requireContext: { object: `j-${tag}-${i}` } })), `record ${i}`, `record ${i}`);
      }
      eq(new Set(sealedJ.map((m) => toHex(F.parseHeader(m).entries[0].wrapped))).size, N, 'a wrapped key per object');
      const old = [];
      const legacy = await js({ keyService: primary([fault('no-generate-batch')]) }, old);
      await Promise.all(Array.from({ length: 20 }, (_, i) => legacy.encrypt('x', { context: { ...CTX, object: `old-${tag}-${i}` } })));
      eq(calls(old, 'generate_batch').length, 1, 'the batch endpoint tried once');
      eq(calls(old, 'generate', true).length, 20, 'then /generate per context');
    }, 30_000);

    test(`policy in JS (${E}): KeySealJs streams: what it seals in odd chunks the package opens, what the package seals it opens in odd chunks, releasing whole segments; damage fails as in the package`, async () => {
      need();
      const j = await js({ segmentSize: S });
      const p = await make({ segmentSize: S });
      for (const n of [0, 1, S - 1, S, S + 1, 3 * S + 5, 200_000]) {
        const pt = randomBytes(n);
        const mine = await drain(source(pt, SIZES).pipeThrough(j.encryptStream({ context: CTX })));
        assert(!mine.error, `${n}: JS encryptStream: ${mine.error}`);
        bytesEq(await p.decrypt(mine.bytes, { requireContext: CTX }), pt, `${n}: the package opens the JS stream`);
        const theirs = await drain(source(pt, SIZES).pipeThrough(p.encryptStream({ context: CTX })));
        const back = await drain(source(theirs.bytes, [5, 1040, 77, 9999, 1]).pipeThrough(j.decryptStream({ requireContext: CTX })));
        assert(!back.error, `${n}: JS decryptStream: ${back.error && back.error.code} ${back.error}`);
        bytesEq(back.bytes, pt, `${n}: JS opens the package's stream`);
        for (const c of back.chunks) assert(c.length % S === 0 || c === back.chunks.at(-1), `${n}: whole segments`);
      }
      const pt = randomBytes(5 * S + 3);
      const sealed = await p.encrypt(pt, { context: CTX });
      const h = F.parseHeader(sealed);
      const bad = sealed.slice(); bad[h.headerLen + 3 * (S + 16) + 5] ^= 1;
      for (const [what, bytes, opts, code] of [
        ['a flipped byte in segment 3', bad, {}, 'DECRYPTION_FAILED'],
        ['cut after a whole segment', sealed.subarray(0, h.headerLen + 2 * (S + 16)), {}, 'DECRYPTION_FAILED'],
        ['cut inside the header', sealed.subarray(0, h.headerLen - 3), {}, 'INVALID_FORMAT'],
        ['another context required', sealed, { requireContext: { tenant: 'other' } }, 'CONTEXT_MISMATCH'],
      ]) {
        const js1 = await drain(source(bytes, [700, 13, 4000]).pipeThrough(j.decryptStream(opts)));
        const pk1 = await drain(source(bytes, [700, 13, 4000]).pipeThrough(p.decryptStream(opts)));
        eq(js1.error?.code, code, `${what}: JS`);
        eq(pk1.error?.code, code, `${what}: package`);
        eq(js1.bytes.length % S, 0, `${what}: JS released whole segments`);
        bytesEq(js1.bytes, pt.subarray(0, js1.bytes.length), `${what}: a prefix of the plaintext`);
        assert(js1.bytes.length <= 3 * S, `${what}: nothing past the damage`);
      }
    }, 60_000);

    test(`policy in JS (${E}): signed messages and the public-key wrap mode, as the package's: each opens the other's, the same refusals`, async () => {
      need();
      const j = await js();
      const p = await make();
      const both = async (f) => [await f(j).then(() => 'opened', (e) => e.code), await f(p).then(() => 'opened', (e) => e.code)];
      const text = (b) => new TextDecoder().decode(b);
      const signedJ = await j.encrypt('signed by JS', { context: CTX, sign: true });
      const signedP = await p.encrypt('signed by the package', { context: CTX, sign: true });
      eq(F.parseHeader(signedJ).suite, 2, 'suite 2');
      eq(text(await p.decrypt(signedJ, { requireSigned: true })), 'signed by JS', 'the package opens the JS signed message');
      eq(text(await j.decrypt(signedP, { requireSigned: true })), 'signed by the package', 'JS opens the package signed message');
      const unsigned = await j.encrypt('unsigned', { context: CTX });
      eq(JSON.stringify(await both((k) => k.decrypt(unsigned, { requireSigned: true }))), JSON.stringify(['DOWNGRADE_REFUSED', 'DOWNGRADE_REFUSED']), 'requireSigned, unsigned');
      const flipped = signedP.slice(); flipped[flipped.length - 1] ^= 1;
      eq(JSON.stringify(await both((k) => k.decrypt(flipped))), JSON.stringify(['DECRYPTION_FAILED', 'DECRYPTION_FAILED']), 'a flipped signature');
      // a reader holds the data key but cannot sign a new message under the writer's entry: its
      // own verification key changes the context the key service bound
      const h = F.parseHeader(signedP);
      const reader = client({ token: () => env.tokens.reader });
      const { dataKey } = await reader.unwrap(h.entries[0].keyId, 'kms', h.entries[0].wrapped, Object.fromEntries(h.context));
      const mine = await engine.generateP256('ECDSA');
      const forged = await F.sealWithDataKeyAssumingUniqueMessageId({
        dataKey, messageId: engine.randomBytes(32), segmentSize: 1024, context: h.context.filter(([k]) => k !== F.VERIFICATION_KEY_CONTEXT_KEY),
        entries: h.entries, plaintext: enc.encode('forged'), engine, signing: { privateKey: mine.privateKey, publicRaw: mine.publicRaw },
      });
      const codes = await both((k) => k.decrypt(forged, { requireSigned: true }));
      eq(codes[0], codes[1], `a reader's forgery: the same refusal (${codes})`);
      assert(codes[0] !== 'opened', 'the forgery is refused');
      // streams, signed
      const sj = await drain(source(randomBytes(3000), [999]).pipeThrough(j.encryptStream({ context: CTX, sign: true })));
      assert(!(await drain(source(sj.bytes, [100]).pipeThrough(p.decryptStream({ requireSigned: true })))).error, 'the package opens the JS signed stream');
      const sp = await drain(source(randomBytes(3000), [999]).pipeThrough(p.encryptStream({ context: CTX, sign: true })));
      assert(!(await drain(source(sp.bytes, [100]).pipeThrough(j.decryptStream({ requireSigned: true })))).error, 'JS opens the package signed stream');
      // public-key wrap mode: no key-service call per encrypt, hpke-p256 entries
      const ev = [];
      const pub = await js({ wrapMode: 'public-key' }, ev);
      const m1 = await pub.encrypt('offline 1', { context: { ...CTX, object: 'pk-1' } });
      await pub.encrypt('offline 2', { context: { ...CTX, object: 'pk-2' } });
      eq(ops(ev, 'generate') + ops(ev, 'generate_batch'), 0, 'no generate');
      eq(ops(ev, 'public_key'), 1, 'one public key, cached');
      eq(F.parseHeader(m1).entries[0].kind, 'hpke-p256', 'an hpke-p256 entry');
      eq(text(await (await make({ wrapMode: 'public-key' })).decrypt(m1)), 'offline 1', 'a public-key package client opens it');
      eq(JSON.stringify(await both((k) => k.decrypt(m1))), JSON.stringify(['NO_USABLE_ENTRY', 'NO_USABLE_ENTRY']), 'key-service clients refuse public-key entries by default');
      const signedPub = await pub.encrypt('signed offline', { context: CTX, sign: true });
      const pubP = await make({ wrapMode: 'public-key' });
      eq(JSON.stringify([await pub.decrypt(signedPub, { requireSigned: true }).then(() => 'opened', (e) => e.code), await pubP.decrypt(signedPub, { requireSigned: true }).then(() => 'opened', (e) => e.code)]),
        JSON.stringify(['NO_USABLE_ENTRY', 'NO_USABLE_ENTRY']), 'a signed message with only a public-key entry proves no writer');
    }, 30_000);

    test(`policy in JS (${E}): KeySealJs decryptRange reads what the package's reads and returns the same bytes; a consistent cut is refused at the end; an empty range calls nothing`, async () => {
      need();
      const p = await make({ segmentSize: S });
      const pt = randomBytes(5 * S + 3);
      const sealed = await p.encrypt(pt, { context: CTX });
      const counting = (bytes, log) => ({ size: bytes.length, read: async (a, b) => { log.push([a, b]); return bytes.subarray(a, b); } });
      const cases = [[0, 0], [0, 1], [S - 1, 2], [S, S], [2 * S + 7, 100], [5 * S, 3], [5 * S + 3, 0], [5 * S + 2, 10], [9 * S, 5], [0, undefined], [3 * S, undefined], [17, 4 * S]];
      const ev = [];
      const j = await js({ segmentSize: S }, ev);
      for (const [offset, length] of cases) {
        const logJ = [], logP = [];
        const a = await j.decryptRange(counting(sealed, logJ), { offset, length });
        const b = await p.decryptRange(counting(sealed, logP), { offset, length });
        const end = length === undefined ? pt.length : Math.min(pt.length, offset + length);
        bytesEq(a, pt.subarray(Math.min(offset, end), end), `[${offset}, +${length}): JS`);
        bytesEq(b, a, `[${offset}, +${length}): the same bytes as the package`);
        eq(JSON.stringify(logJ), JSON.stringify(logP), `[${offset}, +${length}): the same reads`);
      }
      for (let i = 0; i < 40; i++) {
        const offset = Math.floor(Math.random() * (pt.length + 20)), length = Math.floor(Math.random() * 3 * S);
        const logJ = [], logP = [];
        const a = await j.decryptRange(counting(sealed, logJ), { offset, length });
        bytesEq(await p.decryptRange(counting(sealed, logP), { offset, length }), a, `random [${offset}, +${length})`);
        eq(JSON.stringify(logJ), JSON.stringify(logP), `random [${offset}, +${length}): the same reads`);
      }
      // an empty range makes no key-service call
      const ev2 = [];
      const fresh = await js({}, ev2);
      eq((await fresh.decryptRange(sealed, { offset: 3, length: 0 })).length, 0, 'empty');
      eq(ev2.filter((e) => e.type === 'kmsCall').length, 0, 'no call for an empty range');
      // a store that cut the object after 2 whole segments and 16 bytes (a consistent length)
      const h = F.parseHeader(sealed);
      const cut = sealed.subarray(0, h.headerLen + 2 * (S + 16) + 16);
      const both = async (f) => [await f(j).then(() => 'opened', (e) => e.code), await f(p).then(() => 'opened', (e) => e.code)];
      eq(JSON.stringify(await both((k) => k.decryptRange(cut, { offset: S, length: 10 * S }))), JSON.stringify(['DECRYPTION_FAILED', 'DECRYPTION_FAILED']), 'a range to the end of a cut object');
      eq(JSON.stringify(await both((k) => k.decryptRange(cut, { offset: 0, length: 10 }))), JSON.stringify(['opened', 'opened']), 'a range before the cut');
      eq(JSON.stringify(await both((k) => k.decryptRange(sealed, { requireSigned: true }))), JSON.stringify(['INVALID_ARGUMENT', 'INVALID_ARGUMENT']), 'requireSigned');
      eq(JSON.stringify(await both((k) => k.decryptRange(sealed, { requireContext: { tenant: 'x' } }))), JSON.stringify(['CONTEXT_MISMATCH', 'CONTEXT_MISMATCH']), 'requireContext');
      eq(JSON.stringify(await both((k) => k.decryptRange((a, b) => sealed.subarray(a, b + 1), { size: sealed.length }))), JSON.stringify(['INVALID_ARGUMENT', 'INVALID_ARGUMENT']), 'a reader returning an inclusive end');
    }, 30_000);

    test(`policy in JS (${E}): KeySealJs rotation: rewrap and rewrapAll do what the package's do (header-only, the same calls, current objects skipped, the memo), and each opens what the other rotated`, async () => {
      need();
      const key = `acme/${env.runtime}-${E}-${uid()}-rotate`;
      eq((await control('create', key)).primaryVersion, 1, 'a new key');
      const evJ = [], evP = [];
      const j = await js({ keyId: key, segmentSize: S }, evJ);
      const p = await make({ keyId: key, segmentSize: S }, evP);
      const pt = randomBytes(3 * S + 7);
      const sealed = await p.encrypt(pt, { context: CTX });
      eq((await control('rotate', key)).primaryVersion, 2, 'rotated');
      const rj = await j.rewrap(sealed);
      const rp = await p.rewrap(sealed);
      eq(rj.bodyOffset, rp.bodyOffset, 'bodyOffset');
      const hj = F.parseHeader(rj.header), hp = F.parseHeader(rp.header);
      eq(toHex(hj.authenticated), toHex(hp.authenticated), 'the authenticated part kept');
      eq(JSON.stringify(hj.entries.map((e) => [e.kind, e.keyServiceId, e.keyId, P.entryVersion(e)])), JSON.stringify(hp.entries.map((e) => [e.kind, e.keyServiceId, e.keyId, P.entryVersion(e)])), 'the same entries (version 2)');
      eq(P.entryVersion(hj.entries[0]), 2, 'version 2');
      const moved = new Uint8Array([...rj.header, ...sealed.subarray(rj.bodyOffset)]);
      bytesEq(await p.decrypt(moved, { requireContext: CTX }), pt, 'the package opens what JS rotated');
      bytesEq(await j.decrypt(new Uint8Array([...rp.header, ...sealed.subarray(rp.bodyOffset)])), pt, 'JS opens what the package rotated');
      // rewrapAll over 30 objects sharing contexts in threes: the same requests, the memo answers repeats
      // sealed one after the other, so that objects of one context share the cached data key
      const store = async (sealer) => {
        const objs = [];
        for (let i = 0; i < 30; i++) {
          const m = await sealer.encrypt(`object ${i}`, { context: { ...CTX, object: `o-${i % 10}` } });
          objs.push({ id: i, m, readHeader: async () => m, writeHeader: async (h, off) => { store.written.set(i, new Uint8Array([...h, ...m.subarray(off)])); } });
        }
        return objs;
      };
      store.written = new Map();
      const objsJ = await store(j);
      const objsP = objsJ.map((o) => ({ ...o, writeHeader: async () => {} }));
      await control('rotate', key);
      const n0J = evJ.length, n0P = evP.length;
      const resJ = await j.rewrapAll(objsJ, { concurrency: 4 });
      const resP = await p.rewrapAll(objsP, { concurrency: 4 });
      eq(JSON.stringify([resJ.done, resJ.skipped, resJ.failed.length, resJ.targetVersion]), JSON.stringify([resP.done, resP.skipped, resP.failed.length, resP.targetVersion]), 'the same result');
      eq(resJ.done, 30, 'all rotated');
      for (const op of ['rewrap_batch', 'rewrap', 'public_key']) eq(ops(evJ.slice(n0J), op), ops(evP.slice(n0P), op), `${op} requests`);
      for (const [i, m] of store.written) eq(new TextDecoder().decode(await p.decrypt(m)), `object ${i}`, `object ${i} opens at the package`);
      // objects sealed under one cached data key and context are one question, asked once (§4.4)
      const wrappedOf = (i) => toHex(F.parseHeader(store.written.get(i)).entries[0].wrapped);
      eq(wrappedOf(3), wrappedOf(13), 'the same question, the same answer');
      assert(wrappedOf(3) !== wrappedOf(4), 'another question, another answer');
      // a second run finds everything current
      const again = await j.rewrapAll([...store.written].map(([i, m]) => ({ id: i, readHeader: async () => m, writeHeader: async () => { throw new Error('must not write'); } })));
      eq(JSON.stringify([again.done, again.skipped, again.failed.length]), JSON.stringify([0, 30, 0]), 'idempotent');
      // pinned: the one batch signature covers answered and refused items (a tampered object's)
      const pinned = await js({ keyId: key, keyService: { ...primary(), identity: env.identity } });
      const few = [...store.written].slice(0, 4).map(([i, m]) => ({ id: i, m }));
      const broken = few[0].m.slice(); broken[F.parseHeader(broken).headerLen - 10] ^= 1;
      few[0].m = broken;
      await control('rotate', key);
      const resPin = await pinned.rewrapAll(few.map((o) => ({ id: o.id, readHeader: async () => o.m, writeHeader: async () => {} })));
      eq(JSON.stringify([resPin.done, resPin.failed.map((f) => f.code)]), JSON.stringify([3, ['DECRYPTION_FAILED']]), 'pinned batch with a refused item');
      // a reader may not rewrap; a tampered wrapped key is refused, as by the package
      const reader = await js({ keyId: key, token: () => env.tokens.reader });
      eq(await reader.rewrap(sealed).then(() => 'ok', (e) => e.code), 'ACCESS_DENIED', 'reader role');
      const bad = sealed.slice(); bad[F.parseHeader(sealed).headerLen - 10] ^= 1;
      eq(JSON.stringify([await j.rewrap(bad).then(() => 'ok', (e) => e.code), await p.rewrap(bad).then(() => 'ok', (e) => e.code)]), JSON.stringify(['DECRYPTION_FAILED', 'DECRYPTION_FAILED']), 'a tampered wrapped key');
    }, 60_000);

    test(`policy in JS (${E}): the aws-kms kind against moto (SigV4 verified on servers): what KeySealJs seals the package opens and the reverse, rotation by ReEncrypt, a wrong secret refused as by the package`, async () => {
      need();
      const signed = !['chromium', 'chromium-worker'].includes(env.runtime);
      const aws = env.aws[signed ? 'auth' : 'noauth'];
      const creds = signed ? { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey } : { accessKeyId: 'testing', secretAccessKey: 'testing' };
      const svc = (over = {}) => ({ id: 'acme-aws', kind: 'aws-kms', region: env.aws.region, endpoint: aws.url, credentials: async () => creds, ...over });
      const opts = (over = {}) => ({ keyService: svc(), keyId: aws.keys.main, token: () => env.tokens.writer, retry: { maxRounds: 1 }, ...over });
      const evJ = [];
      const j = await js(opts(), evJ);
      const p = await make(opts());
      const pt = randomBytes(3000);
      const byJs = await bothWays(j, p, pt, 'aws-kms', 'through AWS');
      eq(ops(evJ, 'generate'), 1, 'one GenerateDataKey');
      // rotation to another key by ReEncrypt: no data key leaves AWS
      const r = await j.rewrap(byJs, { toKeyId: aws.keys.next });
      const moved = new Uint8Array([...r.header, ...byJs.subarray(r.bodyOffset)]);
      eq(F.parseHeader(moved).entries[0].keyId, aws.keys.next, 'moved to the next key');
      bytesEq(await (await make(opts({ keyId: aws.keys.next }))).decrypt(moved), pt, 'the package opens the rotated message');
      if (signed) {
        const wrong = { keyService: svc({ credentials: async () => ({ ...creds, secretAccessKey: 'wrong' }) }) };
        eq(JSON.stringify([await (await js(opts(wrong))).encrypt('x', { context: CTX }).catch((e) => e.code), await (await make(opts(wrong))).encrypt('x', { context: CTX }).catch((e) => e.code)]),
          JSON.stringify(['ACCESS_DENIED', 'ACCESS_DENIED']), 'a wrong secret (moto checks SigV4)');
      }
      const failing = { keyService: svc({ credentials: async () => { throw new Error('no credentials'); } }) };
      eq(await (await js(opts(failing))).encrypt('x', { context: CTX }).catch((e) => e.code), 'ACCESS_DENIED', 'a failing credentials callback');
    }, 60_000);

    test(`policy in JS (${E}): the kacls kind against keyseal-kms serving the KACLS API: what KeySealJs seals the package opens and the reverse; a resource swap and a failing callback refused`, async () => {
      need();
      const kacls = env.kacls;
      const mint = async (kind, claims) => (await (await fetch(`${env.controlUrl}/kacls/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind, claims }) })).json()).jwt;
      const svc = (over = {}) => ({
        id: 'acme-kacls', kind: 'kacls', urls: [kacls.url], resourceNameKey: 'object', acceptPlaintextKeyAnswers: true,
        authentication: async () => mint('authn', { email: 'alice@acme.test' }),
        authorization: async ({ op, resourceName }) => mint('authz', { email: 'alice@acme.test', role: { wrap: 'writer', unwrap: 'reader', rewrap: 'migrator' }[op], resource_name: resourceName, kacls_url: kacls.url }),
        ...over,
      });
      const opts = (over = {}) => ({ keyService: svc(), keyId: 'drive-cse', retry: { maxRounds: 1 }, ...over });
      const j = await js(opts());
      const p = await make(opts());
      const pt = randomBytes(2000);
      const byJs = await bothWays(j, p, pt, 'kacls', 'at the KACLS');
      // the wrapped key moved into another object (another resource name) is refused by the KACLS
      const h = F.parseHeader(byJs);
      const other = await F.sealWithDataKeyAssumingUniqueMessageId({
        dataKey: engine.randomBytes(32), messageId: engine.randomBytes(32), segmentSize: 1024, context: { ...CTX, object: 'another' },
        entries: h.entries, plaintext: enc.encode('moved'), engine,
      });
      eq(JSON.stringify([await j.decrypt(other).catch((e) => e.code), await p.decrypt(other).catch((e) => e.code)]), JSON.stringify(['ACCESS_DENIED', 'ACCESS_DENIED']), 'a moved wrapped key');
      const failing = opts({ keyService: svc({ authentication: async () => { throw new Error('no IdP'); } }) });
      eq(JSON.stringify([await (await js(failing)).encrypt('x', { context: CTX }).catch((e) => e.code), await (await make(failing)).encrypt('x', { context: CTX }).catch((e) => e.code)]), JSON.stringify(['ACCESS_DENIED', 'ACCESS_DENIED']), 'a failing callback');
    }, 60_000);

    test(`policy in JS (${E}): escrow entries, failover to them, the pinned escrow's data key through /rewrap, and the decrypt policy, as the package does`, async () => {
      need();
      const ev = [];
      const j = await js({ escrow: [escrow()] }, ev);
      const sealed = await j.encrypt('escrowed', { context: CTX });
      const h = F.parseHeader(sealed);
      eq(JSON.stringify(h.entries.map((e) => [e.keyServiceId, e.keyId, e.kind])), JSON.stringify([['acme', 'acme/default', 'kms'], ['acme-escrow', 'acme/escrow', 'kms']]), 'entries');
      eq(ops(ev, 'wrap'), 1, 'one wrap at the escrow');
      // primary down: both fail over to the escrow entry
      const down = { keyService: primary([env.closedUrl]), escrow: [escrow()], retry: { maxRounds: 1 } };
      eq(new TextDecoder().decode(await (await js(down)).decrypt(sealed)), 'escrowed', 'JS via escrow');
      eq(new TextDecoder().decode(await (await make(down)).decrypt(sealed)), 'escrowed', 'package via escrow');
      // pinned escrow: no data key in clear through /wrap (PROTOCOL.md §6.3)
      const ev2 = [];
      const pinned = await js({ escrow: [{ ...escrow(), identity: env.escrowIdentity }] }, ev2);
      const s2 = await pinned.encrypt('pinned escrow', { context: CTX });
      eq(ops(ev2, 'wrap'), 0, 'no /wrap under a pinned identity');
      eq(ops(ev2, 'rewrap'), 1, 'an hpke-p256 entry rewrapped instead');
      eq(new TextDecoder().decode(await (await make({ keyService: { id: 'acme-escrow', urls: [env.escrowUrl] }, keyId: 'acme/escrow' })).decrypt(s2)), 'pinned escrow', 'the package opens it at the escrow');
      // requireContext is checked before any key-service call
      const ev3 = [];
      const fresh = await js({}, ev3);
      eq(await fresh.decrypt(sealed, { requireContext: { tenant: 'nope' } }).catch((e) => e.code), 'CONTEXT_MISMATCH', 'requireContext');
      eq(ev3.filter((e) => e.type === 'kmsCall').length, 0, 'no call before the context check');
      // decrypt policy: an entry of a key id not configured is skipped without a call, unless allowed
      const codes = async (o, m) => Promise.all([(await js(o)).decrypt(m).then(() => 'opened', (e) => e.code), (await make(o)).decrypt(m).then(() => 'opened', (e) => e.code)]);
      const otherKeyId = { keyService: { id: 'acme', urls: [env.kmsUrl] }, keyId: 'acme/not-this-one' };
      eq(JSON.stringify(await codes(otherKeyId, s2)), JSON.stringify(['NO_USABLE_ENTRY', 'NO_USABLE_ENTRY']), 'a key id not configured');
      eq(JSON.stringify(await codes({ ...otherKeyId, decrypt: { allowKeyIds: ['acme/*'] } }, s2)), JSON.stringify(['opened', 'opened']), 'allowed by prefix');
    }, 30_000);

    test(`policy in JS (${E}): refusals as the package's: a tampered body, a reserved context key, a decrypt-only instance, a wrong tenant`, async () => {
      need();
      const j = await js();
      const p = await make();
      const sealed = await j.encrypt('x', { context: CTX });
      const bad = sealed.slice(); bad[bad.length - 1] ^= 1;
      const both = async (f) => Promise.all([f(j).then(() => 'ok', (e) => e.code), f(p).then(() => 'ok', (e) => e.code)]);
      const same = async (what, f, code) => eq(JSON.stringify(await both(f)), JSON.stringify([code, code]), what);
      await same('tampered', (k) => k.decrypt(bad), 'DECRYPTION_FAILED');
      await same('reserved context key', (k) => k.encrypt('x', { context: { 'keyseal:verification-key': 'x' } }), 'INVALID_ARGUMENT');
      await same('not a message', (k) => k.decrypt(new Uint8Array(3)), 'INVALID_FORMAT');
      eq((await (await js({ keyId: undefined, decrypt: { allowKeyIds: ['acme/*'] } })).encrypt('x', { context: CTX }).catch((e) => e.code)), 'INVALID_ARGUMENT', 'decrypt-only');
      const globex = { token: () => env.tokens.globex };
      eq(JSON.stringify([await (await js(globex)).encrypt('x', { context: CTX }).catch((e) => e.code), await (await make(globex)).encrypt('x', { context: CTX }).catch((e) => e.code)]), JSON.stringify(['ACCESS_DENIED', 'ACCESS_DENIED']), 'wrong tenant');
    });

    test(`policy in JS (${E}): the data key sealed by an independent HPKE (@hpke/core, the harness's 'hpke' fault mode) opens`, async () => {
      need();
      const g = await client({ url: fault('hpke') }).generate('acme/default', CTX);
      eq(toHex((await client().unwrap('acme/default', 'kms', g.wrapped, CTX)).dataKey), toHex(g.dataKey), 'same data key at the real kms');
    });
  }
}
