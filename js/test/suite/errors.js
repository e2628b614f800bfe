// Errors: invalid arguments, authorization and context, bad sealed input, and the error codes
// themselves (the Rust core's list against the package's error classes).

import { TAG, enc, assert, eq, show, bytesEq, sleep, randomBytes, indexOf } from './support.js';

export default function register({ test, make, inspect, KeySeal, rejects, E, env, CTX, keyseal, lowLevel }) {
  test('invalid arguments → InvalidArgumentError', async () => {
    const ks = await make();
    await rejects(() => ks.encrypt(42, { context: CTX }), E.InvalidArgumentError, 'number plaintext');
    await rejects(() => ks.encrypt('x', { context: { tenant: 7 } }), E.InvalidArgumentError, 'non-string context value');
    await rejects(() => ks.encrypt('x', { context: ['a'] }), E.InvalidArgumentError, 'array context');
    await rejects(() => KeySeal.create({}), E.InvalidArgumentError, 'no keyService');
    await rejects(() => KeySeal.create({ keyService: { urls: [] }, keyId: 'acme/default' }), E.InvalidArgumentError, 'no urls');
    await rejects(() => make({ wrapMode: 'bogus' }), E.InvalidArgumentError, 'bad wrapMode');
    await rejects(() => make({ token: 'not a function' }), E.InvalidArgumentError, 'token not a function');
    // the core reports an out-of-range segment size as a limit (FORMAT.md §8: 64 … 16 MiB)
    await rejects(() => make({ segmentSize: 1 }), E.LimitExceededError, 'segmentSize 1');
    const sealed = await ks.encrypt(new Uint8Array([0xff, 0xfe]), { context: CTX });
    await rejects(() => ks.decryptText(sealed), E.InvalidArgumentError, 'decryptText of non-UTF-8');
  });

  test('misplaced options are refused, not ignored: decrypt(sealed, { context }) would check nothing; a base URL without /v1 is named in the error', async () => {
    const ks = await make();
    const sealed = await ks.encrypt('for acme only', { context: CTX });
    const wrong = { ...CTX, tenant: 'globex' };
    // the mistake: `context` where `requireContext` is meant (it used to open without checking)
    let e = await rejects(() => ks.decrypt(sealed, { context: wrong }), E.InvalidArgumentError, 'decrypt { context }');
    assert(/requireContext/.test(e.message), e.message);
    e = await rejects(() => ks.decryptText(sealed, { context: CTX }), E.InvalidArgumentError, 'decryptText { context }');
    assert(/requireContext/.test(e.message), e.message);
    e = await rejects(() => ks.decryptRange(sealed, { context: CTX }), E.InvalidArgumentError, 'decryptRange { context }');
    assert(/requireContext/.test(e.message), e.message);
    let threw = null;
    try { ks.decryptStream({ context: CTX }); } catch (x) { threw = x; }
    assert(threw instanceof E.InvalidArgumentError && /requireContext/.test(threw.message), `decryptStream { context }: ${threw}`);
    e = await rejects(() => ks.encrypt('x', { requireContext: CTX }), E.InvalidArgumentError, 'encrypt { requireContext }');
    assert(/'context'/.test(e.message), e.message);
    threw = null;
    try { ks.encryptStream({ contxt: CTX }); } catch (x) { threw = x; }
    assert(threw instanceof E.InvalidArgumentError && /contxt/.test(threw.message), `encryptStream typo: ${threw}`);
    e = await rejects(() => ks.decrypt(sealed, { requireSigned: false, strict: true }), E.InvalidArgumentError, 'decrypt typo');
    assert(/'strict'/.test(e.message), e.message);
    // a URL without /v1 is refused by create (first-hour.js); one that ends in /v1 at the wrong
    // path gets a 404, and the error says what to check
    const noV1 = await make({ keyService: { id: 'acme', urls: [env.kmsUrl.replace(/\/v1\/?$/, '/api/v1')] }, retry: { maxRounds: 1 } });
    e = await rejects(() => noV1.encrypt('x', { context: CTX }), E.ProtocolError, 'base URL at the wrong path');
    assert(/ending in \/v1/.test(e.message), e.message);
    // the right options still work, and the right one checks
    eq(await ks.decryptText(sealed, { requireContext: CTX }), 'for acme only', 'requireContext');
    await rejects(() => ks.decrypt(sealed, { requireContext: wrong }), E.ContextMismatchError, 'requireContext checks');
  });

  // -------------------------------------------------------------------------------------------
  // authorization and context

  test('context required / mismatch → ContextMismatchError', async () => {
    const ks = await make();
    const sealed = await ks.encrypt('ctx', { context: CTX });
    const fresh = await make();
    await rejects(fresh.decrypt(sealed, { requireContext: { tenant: 'globex' } }), E.ContextMismatchError, 'wrong value');
    await rejects(fresh.decrypt(sealed, { requireContext: { region: 'eu' } }), E.ContextMismatchError, 'missing key');
    await rejects(ks.decrypt(sealed, { requireContext: { object: 'doc-2' } }), E.ContextMismatchError, 'cached instance, wrong value');
    eq(await fresh.decryptText(sealed, { requireContext: { object: 'doc-1' } }), 'ctx', 'subset matches');
    eq(await fresh.decryptText(sealed, { requireContext: CTX }), 'ctx', 'full match');
  });

  test('wrong tenant token → AccessDeniedError (decrypt and encrypt)', async () => {
    const ks = await make();
    const sealed = await ks.encrypt('secret', { context: CTX });
    const globex = await make({ token: () => env.tokens.globex });
    await rejects(globex.decrypt(sealed), E.AccessDeniedError, 'decrypt with globex token');
    await rejects(globex.encrypt('x', { context: CTX }), E.AccessDeniedError, 'encrypt with globex token');
    const m = globex.metrics();
    eq(m.decryptFailed.ACCESS_DENIED, 1, 'decryptFailed.ACCESS_DENIED');
    eq(m.keyService.unwrap.errors.ACCESS_DENIED, 1, 'unwrap errors');
  });

  test('reader token: decrypt works, encrypt → AccessDeniedError; token callback failures → AccessDeniedError', async () => {
    const ks = await make();
    const sealed = await ks.encrypt('for readers', { context: CTX });
    const reader = await make({ token: async () => { await sleep(1); return env.tokens.reader; } });
    eq(await reader.decryptText(sealed), 'for readers', 'reader decrypts (async token)');
    await rejects(reader.encrypt('x', { context: CTX }), E.AccessDeniedError, 'reader encrypt');
    const broken = await make({ token: async () => { throw new Error('idp down'); } });
    await rejects(broken.encrypt('x', { context: CTX }), E.AccessDeniedError, 'rejecting token callback');
    const garbage = await make({ token: () => 'not-a-jwt' });
    await rejects(garbage.encrypt('x', { context: CTX }), E.AccessDeniedError, 'malformed token (401)');
  });

  test('context limits and a header whose context was edited', async () => {
    const ks = await make();
    const many = {};
    for (let i = 0; i < 65; i++) many[`k${i}`] = 'v';
    await rejects(ks.encrypt('x', { context: many }), E.LimitExceededError, '65 context pairs');
    await rejects(ks.encrypt('x', { context: { big: 'v'.repeat(5000) } }), E.LimitExceededError, 'value over 4096 bytes');
    await rejects(ks.encrypt('x', { context: { '': 'v' } }), E.InvalidArgumentError, 'empty key');
    // doc-1 → doc-2 in the header: the kms sees another context than the wrapped key is bound to
    const sealed = await ks.encrypt('moved', { context: CTX });
    const at = indexOf(sealed, enc.encode('doc-1'));
    assert(at > 0, 'context value in the header');
    const moved = sealed.slice();
    moved[at + 4] = '2'.charCodeAt(0);
    eq((await inspect(moved)).context.object, 'doc-2', 'edited context');
    await rejects((await make()).decrypt(moved), E.ContextMismatchError, 'edited context, fresh client');
  });

  // -------------------------------------------------------------------------------------------
  // bad sealed input

  test('tampered body byte → DecryptionFailedError (fresh and cached instance)', async () => {
    const ks = await make();
    const plain = randomBytes(3000);
    const sealed = await ks.encrypt(plain, { context: CTX });
    const headerLen = (await inspect(sealed)).headerLen;
    for (const at of [headerLen, headerLen + 1500, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[at] ^= 0x01;
      await rejects((await make()).decrypt(bad), E.DecryptionFailedError, `fresh instance, byte ${at}`);
      await rejects(ks.decrypt(bad), E.DecryptionFailedError, `same instance, byte ${at}`);
    }
    bytesEq(await ks.decrypt(sealed), plain, 'untouched still opens');
    const m = ks.metrics();
    eq(m.decryptFailed.DECRYPTION_FAILED, 3, 'decryptFailed.DECRYPTION_FAILED');
    eq(m.decryptOk, 1, 'decryptOk');
  });

  test('truncation → DecryptionFailedError (and a cut header → InvalidFormatError)', async () => {
    const ks = await make({ segmentSize: 1024 });
    const sealed = await ks.encrypt(randomBytes(4096), { context: CTX });
    const { headerLen, segmentSize } = await inspect(sealed);
    const segs = [1, TAG, TAG + 1, segmentSize + TAG, sealed.length - headerLen];
    for (const cut of segs) {
      await rejects(ks.decrypt(sealed.slice(0, sealed.length - cut)), E.DecryptionFailedError, `cut ${cut} bytes`);
    }
    await rejects(ks.decrypt(sealed.slice(0, 40)), E.InvalidFormatError, 'cut inside the header');
  });

  test('garbage → InvalidFormatError', async () => {
    const ks = await make();
    await rejects(ks.decrypt(new Uint8Array(0)), E.InvalidFormatError, 'empty');
    await rejects(ks.decrypt(randomBytes(300)), E.InvalidFormatError, 'random bytes');
    await rejects(ks.decrypt('this is not a sealed message'), E.InvalidFormatError, 'text');
    await rejects(inspect(randomBytes(100)), E.InvalidFormatError, 'inspect of random bytes');
    await rejects(() => ks.inspect(randomBytes(100)), E.InvalidFormatError, 'KeySeal#inspect of random bytes');
  });

  test('version byte 2 → UnsupportedVersionError', async () => {
    const ks = await make();
    const sealed = await ks.encrypt('v', { context: CTX });
    eq(sealed[4], 1, 'version byte at offset 4');
    const v2 = sealed.slice();
    v2[4] = 2;
    await rejects(ks.decrypt(v2), E.UnsupportedVersionError, 'decrypt');
    await rejects(inspect(v2), E.UnsupportedVersionError, 'inspect');
  });

  test('error codes: lowLevel.errorCodes() (the Rust core) = the codes of the exported *Error classes = ERROR_CODES, both ways', async () => {
    const core = await lowLevel.errorCodes();
    assert(Array.isArray(core) && core.length > 0, `errorCodes(): ${show(core)}`);
    eq(new Set(core).size, core.length, 'errorCodes() has no duplicates');
    const classes = Object.entries(keyseal).filter(([name, v]) => name.endsWith('Error') && typeof v === 'function');
    assert(classes.length > 0, 'the package exports error classes');
    for (const [name, C] of classes) {
      assert(C === E.KeySealError || C.prototype instanceof E.KeySealError, `${name} extends KeySealError`);
      eq(typeof C.code, 'string', `${name}.code`);
    }
    const byClass = classes.map(([, C]) => C.code);
    eq(new Set(byClass).size, byClass.length, `one class per code: ${show(byClass)}`);
    const sorted = (xs) => show([...xs].sort());
    const missing = (a, b) => a.filter((c) => !b.includes(c));
    eq(sorted(byClass), sorted(core), `classes vs core (no class for ${show(missing(core, byClass))}; not in the core: ${show(missing(byClass, core))})`);
    eq(sorted(E.ERROR_CODES), sorted(core), `ERROR_CODES vs core (missing ${show(missing(core, [...E.ERROR_CODES]))}; not in the core: ${show(missing([...E.ERROR_CODES], core))})`);
    // internals stay internal: the wasm-error translation is not part of the package's surface
    assert(!('fromCore' in keyseal), 'fromCore is not exported');
    for (const [name, C] of classes) {
      const e = new C('x');
      eq(e.code, C.code, `new ${name}().code`);
      eq(e.name, name, `new ${name}().name`);
      eq(e.retryable, ['KMS_UNAVAILABLE', 'TIMEOUT', 'THROTTLED'].includes(C.code), `${name}.retryable`);
    }
  });
}
