// The `kacls` kind (Google Workspace client-side encryption's KACLS API) against keyseal-kms serving
// that API (`serve --kacls-key`; docs/KEY-SERVICES.md "KACLS"): round trips, the KACLS's refusals
// as the SDK reports them (resource swap, role, email, another KACLS's token), the options, /status,
// and failover between kinds. Tokens are minted by the harness's two test issuers (the customer's
// IdP and the application's authorization issuer) through /control/kacls/token, so browsers get
// them the same way as server runtimes.

import { assert, eq, bytesEq, enc, randomBytes, toHex, uid } from './support.js';

const EMAIL = 'alice@acme.test';

export default function register({ test, make, KeySeal, rejects, E, env, CTX, primary, escrow, FAST, lowLevel }) {
  const kacls = env.kacls;
  async function mint(kind, claims) {
    const r = await fetch(`${env.controlUrl}/kacls/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind, claims }) });
    const j = await r.json();
    if (r.status !== 200) throw new Error(`kacls token: ${r.status} ${JSON.stringify(j)}`);
    return j.jwt;
  }
  /** Token callbacks as an app would write them; `over` bends one claim for a refusal test. */
  const callbacks = (over = {}) => ({
    authentication: async ({ op }) => mint('authn', { email: over.authnEmail ?? EMAIL, ...(over.authn?.(op) ?? {}) }),
    authorization: async ({ op, resourceName }) => mint('authz', {
      email: EMAIL,
      role: over.role ?? { wrap: 'writer', unwrap: 'reader', rewrap: 'migrator' }[op],
      resource_name: over.resource ?? resourceName,
      kacls_url: over.kaclsUrl ?? kacls.url,
    }),
  });
  const kaclsService = (over = {}, cb = {}) => ({
    id: 'acme-kacls', kind: 'kacls', urls: [kacls.url], resourceNameKey: 'object', acceptPlaintextKeyAnswers: true,
    ...callbacks(cb), ...over,
  });
  const makeKacls = (opts = {}, cb = {}, events) => KeySeal.create({
    keyService: kaclsService({}, cb),
    keyId: 'drive-cse',
    retry: FAST,
    onEvent: events ? (e) => events.push(e) : undefined,
    ...opts,
  });
  const ctx = () => ({ ...CTX, object: `doc-${uid()}` });

  test('kacls: round trip; the entry is a kacls wrapped_key; /status read once, then /wrap and /unwrap', async () => {
    const events = [];
    const ks = await makeKacls({ cache: false }, {}, events);
    const context = ctx();
    const pt = randomBytes(2000);
    const sealed = await ks.encrypt(pt, { context });
    bytesEq(await ks.decrypt(sealed, { requireContext: context }), pt, 'plaintext');
    bytesEq(await ks.decrypt(sealed), pt, 'again (a second unwrap)');
    const info = await ks.inspect(sealed);
    eq(info.entries.length, 1, 'one entry');
    eq(info.entries[0].kind, 'kacls', 'entry kind');
    eq(info.entries[0].keyServiceId, 'acme-kacls', 'service id');
    eq(info.entries[0].keyId, 'drive-cse', 'key id');
    eq(info.entries[0].keyVersion, null, 'a KACLS has no readable versions');
    const ops = events.filter((e) => e.type === 'kmsCall' && e.ok).map((e) => e.op);
    eq(JSON.stringify(ops), JSON.stringify(['status', 'wrap', 'unwrap', 'unwrap']), 'calls');
  });

  test('kacls: a wrapped_key moved into another object is refused by the KACLS (resource_name sealed in) → AccessDeniedError', async () => {
    const ks = await makeKacls({ cache: false });
    const context = ctx();
    const sealed = await ks.encrypt('resource-bound', { context });
    const entry = (await ks.inspect(sealed)).entries[0];
    const moved = await lowLevel.sealWithDataKeyAssumingUniqueMessageId(randomBytes(32), randomBytes(32), 1024,
      Object.entries({ ...context, object: `doc-${uid()}` }),
      [{ kind: 'kacls', key_service_id: 'acme-kacls', key_id: 'drive-cse', wrapped: toHex(entry.wrapped) }],
      enc.encode('x'));
    const e = await rejects(ks.decrypt(moved), E.AccessDeniedError, 'resource swap');
    eq(e.service, 'acme-kacls', 'service');
    eq(e.op, 'unwrap', 'op');
    eq(e.status, 403, 'status');
    eq(e.retryable, false, 'not retryable');
  });

  test('kacls: the KACLS refuses a reader that wraps, a mismatched email, and a token for another KACLS (403, ACCESS_DENIED)', async () => {
    const reader = await makeKacls({}, { role: 'reader' });
    const e1 = await rejects(reader.encrypt('x', { context: ctx() }), E.AccessDeniedError, 'reader wraps');
    eq(e1.status, 403, 'role: status');
    eq(e1.op, 'wrap', 'role: op');
    const other = await makeKacls({}, { authnEmail: 'mallory@acme.test' });
    eq((await rejects(other.encrypt('x', { context: ctx() }), E.AccessDeniedError, 'email mismatch')).status, 403, 'email: status');
    const elsewhere = await makeKacls({}, { kaclsUrl: 'https://kacls.other.example/v1' });
    eq((await rejects(elsewhere.encrypt('x', { context: ctx() }), E.AccessDeniedError, 'kacls_url')).status, 403, 'kacls_url: status');
    // the email comparison is case-insensitive, as Google specifies
    const cased = await makeKacls({ cache: false }, { authnEmail: EMAIL.toUpperCase() });
    const context = ctx();
    eq(await cased.decryptText(await cased.encrypt('cased', { context })), 'cased', 'ALICE@ACME.TEST is alice@acme.test');
  });

  test('kacls: a key the KACLS has disabled is KEY_DISABLED (keyseal-kms names it in details); enabled again, it opens', async () => {
    const ks = await makeKacls({ cache: false });
    const context = ctx();
    const sealed = await ks.encrypt('revocable', { context });
    const control = async (cmd) => {
      const r = await fetch(`${env.controlUrl}/kacls/${cmd}`, { method: 'POST' });
      eq(r.status, 200, `${cmd}: ${await r.clone().text()}`);
    };
    await control('disable');
    try {
      const e = await rejects(ks.decrypt(sealed), E.KeyDisabledError, 'disabled at the KACLS');
      eq(e.status, 403, 'status');
      eq(e.service, 'acme-kacls', 'service');
    } finally {
      await control('enable');
    }
    eq(await ks.decryptText(sealed), 'revocable', 'enabled again');
  });

  test('kacls: a failing token callback is ACCESS_DENIED naming the callback, before any call', async () => {
    const events = [];
    const ks = await makeKacls({}, {}, events);
    const broken = await KeySeal.create({
      keyService: kaclsService({ authentication: async () => { throw new Error('IdP session expired'); } }),
      keyId: 'drive-cse', retry: FAST,
    });
    const e = await rejects(broken.encrypt('x', { context: ctx() }), E.AccessDeniedError, 'authentication throws');
    assert(/authentication callback failed: IdP session expired/.test(e.message), e.message);
    await ks.encrypt('fine', { context: ctx() });
  });

  test('kacls: a URL that is not a KACLS (its /status lacks server_type "KACLS") is refused as PROTOCOL_ERROR', async () => {
    const ks = await KeySeal.create({ keyService: kaclsService({ urls: [kacls.keyseal] }), keyId: 'drive-cse', retry: FAST });
    const e = await rejects(ks.encrypt('x', { context: ctx() }), E.ProtocolError, 'keyseal /v1 as a KACLS');
    assert(/server_type/.test(e.message), e.message);
  });

  test('kacls options are checked: acceptPlaintextKeyAnswers, resourceNameKey, callbacks, https; the resource name must be in the context', async () => {
    const refused = async (svc, re, what) => {
      const e = await rejects(KeySeal.create({ keyService: svc, keyId: 'drive-cse' }), E.InvalidArgumentError, what);
      assert(re.test(e.message), `${what}: ${e.message}`);
    };
    await refused(kaclsService({ acceptPlaintextKeyAnswers: undefined }), /acceptPlaintextKeyAnswers/, 'no acknowledgement');
    await refused(kaclsService({ resourceNameKey: undefined }), /resourceNameKey/, 'no resourceNameKey');
    await refused(kaclsService({ authorization: undefined }), /authorization/, 'no authorization callback');
    await refused(kaclsService({ urls: ['http://kacls.example.com/v1'] }), /loopback/, 'plain http off loopback');
    await refused(kaclsService({ identity: 'AAAA' }), /kacls/, 'identity on a kacls service');
    await refused({ id: 'x', urls: [env.kmsUrl], resourceNameKey: 'object' }, /kacls/, 'resourceNameKey on a keyseal service');
    const ks = await makeKacls();
    const e = await rejects(ks.encrypt('x', { context: { tenant: 'acme' } }), E.InvalidArgumentError, 'no object in the context');
    assert(/resource name/.test(e.message), e.message);
  });

  test('kacls: escrow of another kind — decrypt fails over between keyseal-kms and the KACLS, both ways', async () => {
    const kaclsEscrow = { ...kaclsService(), keyId: 'drive-cse' };
    const both = await make({ escrow: [kaclsEscrow], retry: FAST });
    const context = ctx();
    const sealed = await both.encrypt('two kinds', { context });
    eq(JSON.stringify((await both.inspect(sealed)).entries.map((e) => e.kind)), JSON.stringify(['kms', 'kacls']), 'entries');
    const failover = await make({ keyService: primary([env.closedUrl]), escrow: [kaclsEscrow], retry: FAST, cache: false });
    eq(await failover.decryptText(sealed), 'two kinds', 'opened through the KACLS');
    const kaclsFirst = await makeKacls({ escrow: [escrow()], token: () => env.tokens.writer });
    const s2 = await kaclsFirst.encrypt('two kinds back', { context });
    const down = await KeySeal.create({
      keyService: kaclsService({ urls: [env.closedUrl] }), keyId: 'drive-cse', escrow: [escrow()],
      token: () => env.tokens.writer, retry: FAST, cache: false,
    });
    eq(await down.decryptText(s2), 'two kinds back', 'opened through keyseal-kms');
  });

  test('kacls: rewrapAll re-wraps each entry with the KACLS\'s /rewrap (role migrator; no data key leaves it) under a new key name; idempotent; bodies untouched', async () => {
    const events = [];
    const ks = await makeKacls({ cache: false, decrypt: { allowKeyIds: ['drive-cse-2027'] } }, {}, events);
    const store = new Map();
    for (let i = 0; i < 2; i++) store.set(`o${i}`, await ks.encrypt(`object ${i}`, { context: { ...CTX, object: `kacls-rw-${uid()}` } }));
    const before = new Map(store);
    const objects = () => [...store.keys()].map((id) => ({
      id,
      readHeader: async () => store.get(id),
      writeHeader: async (h, off) => { const old = store.get(id); const n = new Uint8Array(h.length + old.length - off); n.set(h); n.set(old.subarray(off), h.length); store.set(id, n); },
    }));
    const r1 = await ks.rewrapAll(objects(), { toKeyId: 'drive-cse-2027' });
    eq(r1.done, 2, `rewrapped: ${JSON.stringify(r1.failed)}`);
    eq((await ks.rewrapAll(objects(), { toKeyId: 'drive-cse-2027' })).skipped, 2, 'second run skips');
    const ops = events.filter((e) => e.type === 'kmsCall' && e.ok).map((e) => e.op);
    eq(ops.filter((o) => o === 'rewrap').length, 2, `one /rewrap per object: ${ops}`);
    assert(!ops.slice(ops.indexOf('rewrap')).includes('wrap'), `no wrap during rotation: ${ops}`);
    for (const [id, sealed] of store) {
      const old = (await ks.inspect(before.get(id))).entries[0];
      const now = (await ks.inspect(sealed)).entries[0];
      eq(now.keyId, 'drive-cse-2027', `${id}: new key name`);
      assert(toHex(old.wrapped) !== toHex(now.wrapped), `${id}: a new wrapped_key`);
      bytesEq(sealed.subarray(sealed.length - 16), before.get(id).subarray(before.get(id).length - 16), `${id}: body untouched`);
      eq(await ks.decryptText(sealed), `object ${id.slice(1)}`, `${id} opens`);
    }
  });
}
