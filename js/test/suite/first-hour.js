// A new user's first hour (issue "A TypeScript user's first hour"): options that are checked when
// the instance is made instead of misbehaving later, errors that say what to do and carry
// structured fields, results that carry the header, and bytes that are plain ArrayBuffer-backed.

import { assert, eq, randomBytes, uid } from './support.js';

export default function register({ test, make, KeySeal, rejects, E, env, CTX, primary, FAST, control }) {
  const sorted = (o) => JSON.stringify(Object.fromEntries(Object.entries(o).sort()));
  /** `create` refuses `opts` with InvalidArgumentError whose message matches every pattern. */
  async function refused(opts, patterns, what, base = { keyService: primary(), keyId: 'acme/default', token: () => env.tokens.writer }) {
    const e = await rejects(KeySeal.create({ ...base, ...opts }), E.InvalidArgumentError, what);
    for (const p of patterns) assert(p.test(e.message), `${what}: message ${JSON.stringify(e.message)} should match ${p}`);
  }

  test('create: keyService.id is required (no silent "default" written into every object)', async () => {
    await refused({ keyService: { urls: [env.kmsUrl] } }, [/keyService\.id/, /is required/, /readers/], 'no id');
    await refused({ keyService: { id: '', urls: [env.kmsUrl] } }, [/keyService\.id/], 'empty id');
    await refused({ escrow: [{ urls: [env.escrowUrl], keyId: 'acme/escrow' }] }, [/escrow\[0\]\.id/], 'escrow without id');
  });

  test('new KeySeal() says to use KeySeal.create', async () => {
    let err;
    try { new KeySeal({ keyService: primary() }); } catch (e) { err = e; }
    assert(err instanceof E.InvalidArgumentError && /KeySeal\.create/.test(err.message), `got ${err && err.message}`);
  });

  test('create: unknown option names are refused at every level (a typo is not ignored)', async () => {
    await refused({ cahce: { maxAgeMs: 1 } }, [/cahce/, /cache/], 'top-level typo');
    await refused({ cache: { maxAge: 1 } }, [/options\.cache/, /maxAge/, /maxAgeMs/], 'cache typo');
    await refused({ retry: { attempts: 3 } }, [/options\.retry/, /attempts/], 'retry typo');
    await refused({ decrypt: { allowKeyId: ['acme/*'] } }, [/options\.decrypt/, /allowKeyId/], 'decrypt typo');
    await refused({ keyService: { id: 'acme', url: env.kmsUrl } }, [/keyService/, /url/, /urls/], 'the removed url alias');
  });

  test('create: a value of the wrong type is named by its path', async () => {
    await refused({ cache: { maxAgeMs: '5' } }, [/options\.cache\.maxAgeMs: must be a finite number \(got string\)/], 'string number');
    await refused({ keyService: { id: 'acme', urls: 7 } }, [/options\.keyService\.urls: must be a URL or an array of URLs/], 'urls');
    await refused({ escrow: { id: 'x' } }, [/options\.escrow: must be an array/], 'escrow object');
    await refused({ escrow: [{ id: 'x', urls: [env.escrowUrl], keyId: 3 }] }, [/options\.escrow\[0\]\.keyId: must be a string/], 'escrow key id');
    await refused({ decrypt: { allowKeyIds: 'acme/*' } }, [/options\.decrypt\.allowKeyIds: must be an array of strings/], 'allowKeyIds');
    await refused({ token: 'jwt' }, [/options\.token: must be a function/], 'token string');
    const ks = await make();
    const e = await rejects(ks.encrypt('x', { context: { tenant: 7 } }), E.InvalidArgumentError, 'context value');
    assert(/context\.tenant: must be a string/.test(e.message), e.message);
  });

  test('create: key-service URLs are checked (scheme, query, credentials, the missing /v1 hinted)', async () => {
    const base = env.kmsUrl.replace(/\/v1$/, '');
    await refused({ keyService: { id: 'acme', urls: [base] } }, [/urls\[0\]/, /does not end in \/v1/, new RegExp(`${base.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/v1`)], 'no /v1');
    await refused({ keyService: { id: 'acme', urls: [env.kmsUrl, 'ftp://kms.example/v1'] } }, [/urls\[1\]/, /not an http\(s\) URL/], 'ftp');
    await refused({ keyService: { id: 'acme', urls: [`${env.kmsUrl}?x=1`] } }, [/query or fragment/], 'query');
    await refused({ keyService: { id: 'acme', urls: [env.kmsUrl.replace('://', '://user:pw@')] } }, [/credentials/], 'userinfo');
    await refused({ keyService: { id: 'acme', urls: ['http://kms.example.com/v1'] } }, [/loopback/], 'plain http off loopback');
    // a trailing slash is fine
    await (await make({ keyService: primary([`${env.kmsUrl}/`]) })).encrypt('x', { context: CTX });
  });

  test('create: numbers in range, overlapping options refused rather than one silently winning', async () => {
    await refused({ cache: { maxAgeMs: -1 } }, [/options\.cache\.maxAgeMs/, /≥ 0/], 'maxAgeMs -1');
    await refused({ cache: { maxMessages: -5 } }, [/options\.cache\.maxMessages: must be a whole number/], 'maxMessages -5');
    await refused({ segmentSize: 1.5 }, [/options\.segmentSize: must be a whole number/], 'segmentSize 1.5');
    await refused({ timeoutMs: 0 }, [/options\.timeoutMs/, /at least 1/], 'timeoutMs 0');
    await refused({ timeoutMs: 100, retry: { attemptTimeoutMs: 200 } }, [/timeoutMs/, /attemptTimeoutMs/, /give one/], 'timeoutMs and retry.attemptTimeoutMs');
    await refused({ deadlineMs: 100, retry: { deadlineMs: 200 } }, [/deadlineMs/, /give one/], 'deadlineMs twice');
    await refused({ keyService: { ...primary(), keyId: 'acme/default' } }, [/keyId/, /give one/], 'keyId twice');
    const seg = await rejects(make({ segmentSize: 10 }), E.LimitExceededError, 'segmentSize 10');
    assert(/64/.test(seg.message) && /16777216/.test(seg.message), `segmentSize names the allowed range: ${seg.message}`);
  });

  test('a decrypt-only instance needs no keyId (it names what it reads in decrypt.allowKeyIds)', async () => {
    const writer = await make();
    const sealed = await writer.encrypt('read me', { context: CTX });
    await refused({ keyId: undefined }, [/options\.keyId/, /allowKeyIds/], 'neither keyId nor allowKeyIds');
    const reader = await KeySeal.create({ keyService: primary(), token: () => env.tokens.reader, decrypt: { allowKeyIds: ['acme/*'] } });
    eq(await reader.decryptText(sealed, { requireContext: CTX }), 'read me', 'decrypt-only reader opens');
    const enc = await rejects(reader.encrypt('x', { context: CTX }), E.InvalidArgumentError, 'encrypt on a decrypt-only instance');
    assert(/keyId/.test(enc.message) && /only decrypt/.test(enc.message), `says why: ${enc.message}`);
    const rot = await reader.rewrapAll([{ id: 'o', readHeader: async () => sealed, writeHeader: async () => {} }]).catch((e) => e);
    assert(rot instanceof E.InvalidArgumentError, `rewrapAll without toKeyId on a decrypt-only instance: ${rot && rot.message}`);
  });

  test('NO_USABLE_ENTRY names the entries of the message and the services this client knows', async () => {
    const sealed = await (await make()).encrypt('x', { context: CTX });
    const other = await make({ keyService: { id: 'other-app', urls: [env.kmsUrl] } });
    const e = await rejects(other.decrypt(sealed), E.NoUsableEntryError, 'another service id');
    assert(/acme/.test(e.message) && /other-app/.test(e.message), `lists both sides: ${e.message}`);
  });

  test('errors carry structured fields: service, op, status, retryable, contextKey, and the network cause', async () => {
    const down = await make({ keyService: primary([env.closedUrl]), retry: FAST });
    const e1 = await rejects(down.encrypt('x', { context: { ...CTX, object: uid() } }), E.KmsUnavailableError, 'closed port');
    eq(e1.service, 'acme', 'service');
    eq(e1.op, 'generate', 'op');
    eq(e1.status, null, 'no answer, no status');
    eq(e1.retryable, true, 'retryable');
    assert(!/^key service: generate to \S+: fetch failed$/.test(e1.message), `more than "fetch failed": ${e1.message}`);
    if (['node', 'deno', 'bun'].includes(env.runtime)) {
      assert(/ECONNREFUSED|refused/i.test(e1.message), `the network cause is kept: ${e1.message}`);
    }
    const globex = await make({ token: () => env.tokens.globex });
    const e2 = await rejects(globex.encrypt('x', { context: { ...CTX, object: uid() } }), E.AccessDeniedError, 'another tenant');
    eq(e2.status, 403, 'status');
    eq(e2.op, 'generate', 'op');
    eq(e2.retryable, false, 'not retryable');
    const ks = await make();
    const sealed = await ks.encrypt('x', { context: CTX });
    const e3 = await rejects(ks.decrypt(sealed, { requireContext: { tenant: 'globex' } }), E.ContextMismatchError, 'context');
    eq(e3.contextKey, 'tenant', 'contextKey');
    eq(e3.service, undefined, 'no service for a local check');
  });

  test('a range reader that returns the wrong number of bytes is named as such', async () => {
    const ks = await make({ segmentSize: 1024 });
    const sealed = await ks.encrypt(randomBytes(5000), { context: CTX });
    const inclusive = (s, e) => sealed.subarray(s, e + 1); // the HTTP Range mistake
    const e1 = await rejects(ks.decryptRange(inclusive, { size: sealed.length, offset: 10, length: 10 }), E.InvalidArgumentError, 'one byte too many');
    assert(/reader returned \d+ bytes for \[\d+, \d+\)/.test(e1.message) && /exclusive/.test(e1.message), e1.message);
    const short = { size: sealed.length, read: (s, e) => sealed.subarray(s, Math.max(s, e - 3)) };
    const e2 = await rejects(ks.decryptRange(short, { offset: 0, length: 10 }), E.InvalidFormatError, 'too few in the header');
    assert(/reader returned \d+ bytes for \[\d+, \d+\)/.test(e2.message), e2.message);
  });

  test('rewrapAll: a failure of the caller\'s storage is STORAGE_FAILED with the original error as cause', async () => {
    const ks = await make();
    const sealed = await ks.encrypt('x', { context: CTX });
    const to = `acme/${env.runtime}-${uid()}-rotate`;
    await control('create', to);
    const disk = new Error('disk full');
    const gone = new Error('no such object');
    const r = await ks.rewrapAll([
      { id: 'w', readHeader: async () => sealed, writeHeader: async () => { throw disk; } },
      { id: 'r', readHeader: async () => { throw gone; }, writeHeader: async () => {} },
    ], { toKeyId: to });
    const byId = Object.fromEntries(r.failed.map((f) => [f.id, f]));
    eq(r.failed.length, 2, `both failed: ${JSON.stringify(r)}`);
    eq(byId.w && byId.w.code, 'STORAGE_FAILED', 'writeHeader failure code');
    eq(byId.w.cause, disk, 'writeHeader cause');
    assert(/writeHeader/.test(byId.w.message) && /disk full/.test(byId.w.message), byId.w.message);
    eq(byId.r && byId.r.code, 'STORAGE_FAILED', 'readHeader failure code');
    eq(byId.r.cause, gone, 'readHeader cause');
    await rejects(ks.rewrapAll([], { toKeyID: 'acme/x' }), E.InvalidArgumentError, 'rewrapAll option typo');
    await rejects(ks.rewrap(sealed, { toKeyID: 'acme/x' }), E.InvalidArgumentError, 'rewrap option typo');
    await rejects(ks.inspect(sealed, { length: 3 }), E.InvalidArgumentError, 'inspect option typo');
  });

  test('decryptWithHeader gives the plaintext and the header; decryptStream exposes the header once read', async () => {
    const ks = await make({ segmentSize: 1024 });
    const pt = randomBytes(3000);
    const sealed = await ks.encrypt(pt, { context: CTX });
    const { plaintext, header } = await ks.decryptWithHeader(sealed, { requireContext: { tenant: 'acme' } });
    eq(plaintext.length, pt.length, 'plaintext');
    eq(sorted(header.context), sorted(CTX), 'header.context');
    eq(header.entries[0].keyId, 'acme/default', 'header key id');
    assert(Number.isInteger(header.entries[0].keyVersion), 'header key version');
    await rejects(ks.decryptWithHeader(sealed, { context: CTX }), E.InvalidArgumentError, "decryptWithHeader refuses 'context'");

    const ds = ks.decryptStream({ requireContext: { tenant: 'acme' } });
    const out = new Response(new Blob([sealed]).stream().pipeThrough(ds)).arrayBuffer();
    const h = await ds.header;
    eq(sorted(h.context), sorted(CTX), 'stream header context');
    eq(h.headerLen, header.headerLen, 'stream header length');
    eq((await out).byteLength, pt.length, 'stream plaintext');

    const bad = ks.decryptStream({ requireContext: { tenant: 'globex' } });
    const reader = new Blob([sealed]).stream().pipeThrough(bad).getReader();
    const piped = (async () => { for (;;) if ((await reader.read()).done) return null; })().catch((e) => e);
    await rejects(bad.header, E.ContextMismatchError, 'header rejects with the stream error');
    assert((await piped) instanceof E.ContextMismatchError, 'the stream errors too');
  });

  test('results are plain ArrayBuffer-backed bytes: fetch/Blob/Response/crypto.subtle take them as is', async () => {
    const ks = await make({ segmentSize: 1024 });
    for (const n of [10, 40_000]) {
      const sealed = await ks.encrypt(randomBytes(n), { context: CTX });
      const plain = await ks.decrypt(sealed);
      const part = await ks.decryptRange(sealed, { offset: 1, length: 5 });
      for (const [what, b] of [['encrypt', sealed], ['decrypt', plain], ['decryptRange', part]]) {
        assert(b instanceof Uint8Array && b.buffer instanceof ArrayBuffer, `${what} (${n} B, engine ${ks.engineFor(n)}): an ArrayBuffer-backed Uint8Array`);
      }
      eq(new Blob([sealed]).size, sealed.length, 'Blob');
      eq((await new Response(sealed).arrayBuffer()).byteLength, sealed.length, 'Response');
      eq((await crypto.subtle.digest('SHA-256', plain)).byteLength, 32, 'crypto.subtle.digest');
    }
  });
}
