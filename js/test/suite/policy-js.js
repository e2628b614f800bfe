// The SDK policy in JS (js/src/policy/, docs/DESIGN.md design C stage 1, not yet in the package)
// against the real keyseal-kms and the package: so far the keyseal key-service client. What one
// side seals the other opens; every answer checked under the pinned identity; each refusal its code.

import { assert, eq, bytesEq, toHex, enc, uid } from './support.js';

export default function register({ test, env, make, fault, CTX }) {
  const F = env.formatModule;
  const P = env.policyModule;
  const engines = [F?.webcryptoEngine, env.formatNodeEngine].filter(Boolean);
  const need = () => assert(F && P && typeof P.KeysealKms === 'function', 'the harness passes js/src/format and js/src/policy to the suite');
  if (!engines.length || !P) test('policy in JS: the runner passes js/src/policy', need);

  for (const engine of engines) {
    const E = engine.name;
    const client = (o = {}) => new P.KeysealKms({ id: 'acme', url: env.kmsUrl, token: () => env.tokens.writer, engine, ...o });
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
        ['an answer that never comes', () => client({ url: fault('hang'), timeoutMs: 300 }).generate('acme/default', CTX), 'TIMEOUT'],
        ['the data key in clear', () => client({ url: fault('plaintext') }).generate('acme/default', CTX), 'DOWNGRADE_REFUSED'],
        ['an answer that is not JSON', () => client({ url: fault('garbage') }).generate('acme/default', CTX), 'PROTOCOL_ERROR'],
        ['429', () => client({ url: fault('429') }).generate('acme/default', CTX), 'THROTTLED'],
        ['500', () => client({ url: fault('flaky500') }).generate('acme/default', CTX), 'KMS_UNAVAILABLE'],
      ];
      for (const [what, f, code] of cases) eq(await codeOf(f()), code, what);
      // allowed explicitly, a plaintext key is taken (and is the real one: it unwraps the same)
      const clear = await client({ url: fault('plaintext'), allowPlaintextKeys: true }).generate('acme/default', CTX);
      eq(toHex((await kms.unwrap('acme/default', 'kms', clear.wrapped, CTX)).dataKey), toHex(clear.dataKey), 'allowPlaintextKeys');
    });

    test(`policy in JS (${E}): the data key sealed by an independent HPKE (@hpke/core, the harness's 'hpke' fault mode) opens`, async () => {
      need();
      const g = await client({ url: fault('hpke') }).generate('acme/default', CTX);
      eq(toHex((await client().unwrap('acme/default', 'kms', g.wrapped, CTX)).dataKey), toHex(g.dataKey), 'same data key at the real kms');
    });
  }
}
