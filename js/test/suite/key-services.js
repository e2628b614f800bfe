// Key services: wrap modes, escrow and failover, the data-key cache, metrics and events, the
// fault matrix (the harness's fault server in front of the real kms), revocation, and the
// "nothing lost" run under random faults.

import { assert, eq, show, sleep, randomBytes, uid, toHex } from './support.js';

export default function register({ test, make, inspect, calls, rejects, E, env, CTX, FAST, fault, control, primary, escrow, results }) {
  test('public-key wrapMode: zero generate calls, hpke-p256 entries, decrypts via unwrap', async () => {
    const events = [];
    const ks = await make({ wrapMode: 'public-key' }, events); // 3 contexts → 3 encrypt-cache misses
    const sealed = [];
    for (let i = 0; i < 3; i++) sealed.push(await ks.encrypt(`offline ${i}`, { context: { tenant: 'acme', n: String(i) } }));
    eq(calls(events, 'generate').length, 0, 'generate calls');
    eq(calls(events, 'wrap').length, 0, 'wrap calls');
    eq(calls(events, 'public_key', true).length, 1, 'public key fetched once (cached within maxAgeMs)');
    const info = await inspect(sealed[0]);
    eq(info.entries.length, 1, 'entries');
    eq(info.entries[0].kind, 'hpke-p256', 'entry kind');
    eq(info.entries[0].wrappedLen, 117, 'hpke entry length');
    const devents = [];
    const reader = await make({ token: () => env.tokens.reader, decrypt: { acceptPublicKeyEntries: true } }, devents);
    for (let i = 0; i < 3; i++) eq(await reader.decryptText(sealed[i]), `offline ${i}`, `decrypt ${i}`);
    eq(calls(devents, 'unwrap', true).length, 3, 'unwrap calls');
  });

  test('decrypt policy: a public-key forgery (no token needed) and an entry of another key id are refused without a key-service call', async () => {
    // Anyone can fetch acme's public key (GET /keys/acme/default/public needs no token) and seal
    // offline under any context; a reader that did not opt in to public-key entries refuses it.
    const attacker = await make({ wrapMode: 'public-key', token: () => { throw new Error('the attacker has no token'); } });
    const forged = await attacker.encrypt('pay the attacker', { context: CTX });
    const events = [];
    const tokenAsked = [];
    const reader = await make({ token: (r) => { tokenAsked.push(`${r.op}:${r.keyId}`); return env.tokens.acme; } }, events);
    const e = await rejects(reader.decrypt(forged, { requireContext: CTX }), E.NoUsableEntryError, 'default reader');
    assert(/public-key \(hpke-p256\) entries not accepted/.test(e.message), e.message);
    eq(calls(events, 'unwrap', true).length, 0, 'no unwrap for a refused entry');
    eq(tokenAsked.length, 0, 'the token callback was not called');
    // An entry under a key id this reader is not configured for: skipped, unless allowed.
    const otherKey = `acme/other-${env.runtime}-rotate`;
    await control('create', otherKey);
    const other = await make({ keyId: otherKey });
    const sealed = await other.encrypt('other key', { context: CTX });
    const e2 = await rejects(reader.decrypt(sealed), E.NoUsableEntryError, 'entry of acme/other');
    assert(e2.message.includes(`acme:${otherKey} (kms): key id not allowed`), e2.message);
    eq(tokenAsked.length, 0, 'still no token asked');
    const allowed = await make({ decrypt: { allowKeyIds: ['acme/*'] } });
    eq(await allowed.decryptText(sealed), 'other key', 'allowKeyIds acme/* opens it');
  });

  test('escrow: 2 entries; primary down (closed port) → decrypt fails over to the escrow entry', async () => {
    const events = [];
    const ks = await make({ escrow: [escrow()] }, events);
    const sealed = await ks.encrypt('escrowed', { context: CTX });
    const info = await inspect(sealed);
    eq(info.entries.length, 2, 'entries');
    eq(info.entries[0].keyServiceId, 'acme', 'entry 0 service');
    eq(info.entries[1].keyServiceId, 'acme-escrow', 'entry 1 service');
    eq(info.entries[1].keyId, 'acme/escrow', 'entry 1 key');
    eq(calls(events, 'generate', true).length, 1, 'one generate at the primary');
    eq(calls(events, 'wrap', true).length, 1, 'one wrap at the escrow');
    const devents = [];
    const dr = await make({
      keyService: primary([env.closedUrl]),
      escrow: [escrow()],
      retry: FAST,
    }, devents);
    eq(await dr.decryptText(sealed), 'escrowed', 'decrypt via escrow');
    const un = calls(devents, 'unwrap');
    assert(un.length >= 2, 'at least two unwrap attempts');
    eq(un[0].service, 'acme', 'first try: primary');
    eq(un[0].ok, false, 'primary failed');
    eq(un[0].code, 'KMS_UNAVAILABLE', 'primary failure code');
    const last = un[un.length - 1];
    eq(last.service, 'acme-escrow', 'last try: escrow');
    eq(last.ok, true, 'escrow answered');
    // a client that only knows the escrow service opens it as well
    const only = await make({ keyService: { id: 'acme-escrow', urls: [env.escrowUrl] }, keyId: 'acme/escrow' });
    eq(await only.decryptText(sealed), 'escrowed', 'escrow-only client');
    // both services down → a KMS_UNAVAILABLE, never a decryption failure
    const none = await make({ keyService: primary([env.closedUrl]), escrow: [escrow([env.closedUrl])], retry: FAST });
    await rejects(none.decrypt(sealed), E.KmsUnavailableError, 'both down');
  });

  test('cache: 20 encrypts with the same context → 1 generate; decrypt cache → 1 unwrap', async () => {
    const events = [];
    const ks = await make({}, events);
    const sealed = [];
    for (let i = 0; i < 20; i++) sealed.push(await ks.encrypt(`m${i}`, { context: CTX }));
    eq(calls(events, 'generate').length, 1, 'generate calls');
    eq(events.filter((e) => e.type === 'cacheHit' && e.cache === 'encrypt').length, 19, 'encrypt cache hits');
    eq(events.filter((e) => e.type === 'cacheMiss' && e.cache === 'encrypt').length, 1, 'encrypt cache misses');
    const other = await ks.encrypt('other ctx', { context: { tenant: 'acme', object: 'doc-2' } });
    eq(calls(events, 'generate').length, 2, 'a new context needs a new data key');
    const devents = [];
    const reader = await make({ token: () => env.tokens.reader }, devents);
    for (let i = 0; i < 20; i++) eq(await reader.decryptText(sealed[i]), `m${i}`, `decrypt ${i}`);
    eq(await reader.decryptText(other), 'other ctx', 'other');
    eq(calls(devents, 'unwrap').length, 2, 'unwrap calls');
    const m = ks.metrics();
    eq(m.cacheHits, 19, 'metrics cacheHits');
    eq(m.cacheMisses, 2, 'metrics cacheMisses');
    eq(ks.purge(), 2, 'purge() drops both cached keys');
    assert(events.some((e) => e.type === 'cachePurged' && e.reason === 'purge' && e.keyId === null), 'cachePurged event');
    await ks.encrypt('after purge', { context: CTX });
    eq(calls(events, 'generate').length, 3, 'generate after purge');
    const none = [];
    const nc = await make({ cache: false }, none);
    for (let i = 0; i < 3; i++) await nc.encrypt('x', { context: CTX });
    eq(calls(none, 'generate').length, 3, 'cache: false → one generate per message');
  });

  test('cache limits: maxMessages and maxAgeMs force a new data key', async () => {
    const events = [];
    const ks = await make({ cache: { maxMessages: 3, maxAgeMs: 300 } }, events);
    for (let i = 0; i < 7; i++) await ks.encrypt('x', { context: CTX });
    eq(calls(events, 'generate').length, 3, 'ceil(7/3) generates');
    await sleep(400);
    await ks.encrypt('x', { context: CTX });
    eq(calls(events, 'generate').length, 4, 'expired after maxAgeMs');
  });

  test('metrics(): p50/p95/p99, counts by op and code; metricsText() is Prometheus text', async () => {
    const ks = await make({ cache: false });
    const sealed = await ks.encrypt('m', { context: CTX });
    await ks.encrypt('m', { context: CTX });
    await ks.decrypt(sealed);
    await ks.decrypt(randomBytes(50)).catch(() => {});
    const m = ks.metrics();
    const g = m.keyService.generate;
    eq(g.calls, 2, 'generate calls');
    for (const p of ['p50Ms', 'p95Ms', 'p99Ms']) {
      assert(typeof g[p] === 'number' && g[p] >= 0 && g[p] < 60_000, `generate.${p} is a latency (${g[p]})`);
    }
    assert(g.p50Ms <= g.p95Ms && g.p95Ms <= g.p99Ms, 'percentiles ordered');
    eq(m.keyService.unwrap.calls, 1, 'unwrap calls');
    eq(m.encryptOk, 2, 'encryptOk');
    eq(m.decryptOk, 1, 'decryptOk');
    eq(m.decryptFailed.INVALID_FORMAT, 1, 'decryptFailed.INVALID_FORMAT');
    eq(m.decryptSuccessRate, 0.5, 'decryptSuccessRate');
    const t = ks.metricsText();
    assert(t.includes('keyseal_kms_requests_total'), 'keyseal_kms_requests_total');
    assert(/keyseal_kms_requests_total\{op="generate",outcome="ok"\} 2\b/.test(t), 'generate ok counter = 2');
    assert(t.includes('keyseal_kms_request_duration_seconds_bucket'), 'latency histogram');
    assert(t.includes('# TYPE'), 'TYPE lines');
  });

  test('onEvent: a throwing listener does not break encrypt/decrypt; events carry attempt and latency', async () => {
    let n = 0;
    const ks = await make({ onEvent: () => { n++; throw new Error('listener bug'); } });
    const s = await ks.encrypt('ev', { context: CTX });
    eq(await ks.decryptText(s), 'ev', 'roundtrip');
    assert(n >= 3, 'listener was called');
    const events = [];
    const k2 = await make({}, events);
    await k2.encrypt('ev', { context: CTX });
    const c = calls(events, 'generate')[0];
    eq(c.attempt, 1, 'attempt');
    eq(c.status, 200, 'status');
    eq(c.service, 'acme', 'service');
    eq(c.url, env.kmsUrl, 'url');
    assert(typeof c.latencyMs === 'number' && c.latencyMs >= 0, 'latencyMs');
    assert(events.some((e) => e.type === 'encrypt' && e.ok === true && e.bytes === 2), 'encrypt event');
  });

  // -------------------------------------------------------------------------------------------
  // fault matrix (fault server + real kms)

  test('fault: connection refused on URL 1 → success via URL 2', async () => {
    const events = [];
    const ks = await make({ keyService: primary([env.closedUrl, env.kmsUrl]), retry: FAST }, events);
    const sealed = await ks.encrypt('failover', { context: CTX });
    const g = calls(events, 'generate');
    eq(g.length, 2, 'two attempts');
    eq(g[0].url, env.closedUrl, 'first URL');
    eq(g[0].ok, false, 'first failed');
    eq(g[0].code, 'KMS_UNAVAILABLE', 'first code');
    eq(g[0].status, null, 'no HTTP status');
    eq(g[1].url, env.kmsUrl, 'second URL');
    eq(g[1].ok, true, 'second ok');
    eq(await ks.decryptText(sealed), 'failover', 'decrypt');
  });

  test('fault: hang → TimeoutError within the deadline', async () => {
    const events = [];
    const deadlineMs = 1200;
    const ks = await make({ keyService: primary([fault('hang')]), timeoutMs: 400, deadlineMs, retry: { ...FAST, maxRounds: 10 } }, events);
    const t0 = Date.now();
    await rejects(ks.encrypt('hang', { context: CTX }), E.TimeoutError, 'encrypt');
    const elapsed = Date.now() - t0;
    assert(elapsed < deadlineMs + 2000, `gave up after ${elapsed} ms (deadline ${deadlineMs} ms)`);
    const g = calls(events, 'generate');
    assert(g.length >= 1, 'attempts recorded');
    assert(g.every((e) => !e.ok && e.code === 'TIMEOUT'), `every attempt timed out: ${show(g.map((e) => e.code))}`);
    eq(ks.metrics().encryptFailed.TIMEOUT, 1, 'encryptFailed.TIMEOUT');
  });

  test('fault: 500 then 200 → retried and succeeds (2 attempts)', async () => {
    const events = [];
    const ks = await make({ keyService: primary([fault('flaky500')]), retry: FAST }, events);
    const sealed = await ks.encrypt('flaky', { context: CTX });
    const g = calls(events, 'generate');
    eq(g.length, 2, 'attempts');
    eq(g[0].ok, false, 'attempt 1 failed');
    eq(g[0].status, 500, 'attempt 1 status');
    eq(g[0].code, 'KMS_UNAVAILABLE', 'attempt 1 code');
    eq(g[0].attempt, 1, 'attempt 1 number');
    eq(g[1].ok, true, 'attempt 2 ok');
    eq(g[1].attempt, 2, 'attempt 2 number');
    eq(await (await make()).decryptText(sealed), 'flaky', 'decrypt at the real kms');
  });

  test('fault: 429 with Retry-After: 1 → honoured (≥ 900 ms), then succeeds', async () => {
    const events = [];
    const ks = await make({ keyService: primary([fault('429')]), retry: FAST }, events);
    const t0 = Date.now();
    const sealed = await ks.encrypt('throttled', { context: CTX });
    const elapsed = Date.now() - t0;
    assert(elapsed >= 900, `waited only ${elapsed} ms`);
    const g = calls(events, 'generate');
    eq(g.length, 2, 'attempts');
    eq(g[0].status, 429, 'attempt 1 status');
    eq(g[0].code, 'THROTTLED', 'attempt 1 code');
    eq(g[1].ok, true, 'attempt 2 ok');
    eq(await (await make()).decryptText(sealed), 'throttled', 'decrypt');
  });

  test('fault: garbage JSON → ProtocolError', async () => {
    const events = [];
    const ks = await make({ keyService: primary([fault('garbage')]), retry: FAST }, events);
    await rejects(ks.encrypt('g', { context: CTX }), E.ProtocolError, 'encrypt');
    const good = await make();
    const sealed = await good.encrypt('g', { context: CTX });
    await rejects(ks.decrypt(sealed), E.ProtocolError, 'decrypt');
  });

  test('fault: plaintext key after a recipient → DowngradeRefusedError; allowPlaintextKeys: true accepts', async () => {
    const strict = await make({ keyService: primary([fault('plaintext')]), retry: FAST });
    await rejects(strict.encrypt('p', { context: CTX }), E.DowngradeRefusedError, 'encrypt');
    const sealed = await (await make()).encrypt('downgrade', { context: CTX });
    await rejects(strict.decrypt(sealed), E.DowngradeRefusedError, 'decrypt');
    const lax = await make({ keyService: primary([fault('plaintext')]), retry: FAST, allowPlaintextKeys: true });
    const s2 = await lax.encrypt('allowed', { context: CTX });
    eq(await (await make()).decryptText(s2), 'allowed', 'sealed with a plaintext key opens at the real kms');
    eq(await lax.decryptText(sealed), 'downgrade', 'lax decrypt');
  });

  test('HPKE interop: DEKs sealed to our recipient by @hpke/core open (generate and unwrap)', async () => {
    const events = [];
    const ks = await make({ keyService: primary([fault('hpke')]) }, events);
    const sealed = await ks.encrypt('sealed by @hpke/core', { context: CTX });
    eq(calls(events, 'generate', true).length, 1, 'generate through the interop server');
    // the DEK we used must be the one the real kms wrapped: open at the real kms
    eq(await (await make({ token: () => env.tokens.reader })).decryptText(sealed), 'sealed by @hpke/core', 'real kms');
    eq(await (await make({ keyService: primary([fault('hpke')]) })).decryptText(sealed), 'sealed by @hpke/core', 'unwrap via @hpke/core');
  });

  test('fault: proxy path sanity (fault server forwards faithfully)', async () => {
    const ks = await make({ keyService: primary([fault('proxy')]) });
    const s = await ks.encrypt('via proxy', { context: CTX });
    eq(await ks.decryptText(s), 'via proxy', 'roundtrip through the proxy');
  });

  test('disabled key → KeyDisabledError, decrypt cache purged; maxAgeMs bounds refusal elsewhere', async () => {
    const keyId = env.revokeKeyId;
    await control('enable', keyId);
    const opts = { keyId, keyService: primary() };
    const writer = await make(opts);
    const m1 = await writer.encrypt('revoke me 1', { context: CTX });
    const m2 = await writer.encrypt('revoke me 2', { context: { tenant: 'acme', object: 'doc-2' } });
    const cEvents = [];
    const c = await make({ ...opts, token: () => env.tokens.reader, cache: { maxAgeMs: 60_000 } }, cEvents);
    eq(await c.decryptText(m1), 'revoke me 1', 'C decrypts m1 before disable (cached)');
    const b = await make({ ...opts, token: () => env.tokens.reader, cache: { maxAgeMs: 500 } });
    eq(await b.decryptText(m1), 'revoke me 1', 'B decrypts before disable');
    await control('disable', keyId);
    const tDisabled = Date.now();
    try {
      // B (maxAgeMs 500, its key cached before the disable): no decrypt that STARTS later than
      // maxAgeMs after the disable may succeed. (Measured on starts, so a slow kms answer under
      // load cannot make this flaky; the refusal itself must also come, within a sane bound.)
      let refused;
      let lastOkStart = null;
      while (!refused) {
        const start = Date.now();
        try {
          await b.decrypt(m1);
          lastOkStart = start - tDisabled;
        } catch (e) {
          refused = e;
          break;
        }
        if (Date.now() - tDisabled > 5000) break;
        await sleep(20);
      }
      const ttr = Date.now() - tDisabled;
      results.notes.timeToRefusalMs = ttr;
      results.notes.lastCachedDecryptAfterDisableMs = lastOkStart;
      assert(refused, 'B never refused');
      assert(refused instanceof E.KeyDisabledError && refused.code === 'KEY_DISABLED', `B refusal: ${refused.name}/${refused.code}`);
      assert(lastOkStart === null || lastOkStart <= 500 + 100, `a decrypt started ${lastOkStart} ms after disable still succeeded (maxAgeMs 500)`);
      assert(ttr <= 500 + 3000, `time to refusal ${ttr} ms`);
      // a fresh client is refused at once
      await rejects((await make({ ...opts, token: () => env.tokens.reader })).decrypt(m1), E.KeyDisabledError, 'fresh client');
      // C still has m1's key cached; m2 needs an unwrap → KEY_DISABLED → purge → m1 refused too
      await rejects(c.decrypt(m2), E.KeyDisabledError, 'C decrypt m2');
      assert(cEvents.some((e) => e.type === 'cachePurged' && e.reason === 'key_disabled' && e.keyId === keyId),
        `cachePurged(key_disabled) event: ${show(cEvents.filter((e) => e.type === 'cachePurged'))}`);
      await rejects(c.decrypt(m1), E.KeyDisabledError, 'C decrypt m1 after purge');
      await rejects(writer.encrypt('new', { context: { tenant: 'acme', object: 'doc-3' } }), E.KeyDisabledError, 'encrypt with a disabled key');
      // PROTOCOL.md §5: "A KeyDisabled answer MUST make the SDK drop cached DEKs of that key."
      const mm = c.metrics();
      eq(mm.decryptFailed.KEY_DISABLED, 2, 'decryptFailed.KEY_DISABLED');
    } finally {
      await control('enable', keyId);
    }
  });

  test('disabled key: KEY_DISABLED from generate also purges the encrypt cache', async () => {
    const keyId = env.revokeKeyId;
    await control('enable', keyId);
    const events = [];
    const ks = await make({ keyId, cache: { maxAgeMs: 60_000 } }, events);
    await ks.encrypt('cached', { context: CTX });
    await control('disable', keyId);
    try {
      await rejects(ks.encrypt('other', { context: { tenant: 'acme', object: 'elsewhere' } }), E.KeyDisabledError, 'generate refused');
      assert(events.some((e) => e.type === 'cachePurged' && e.reason === 'key_disabled'),
        'a KEY_DISABLED answer to generate must purge the cached data keys of that key (PROTOCOL.md §5)');
      await rejects(ks.encrypt('again', { context: CTX }), E.KeyDisabledError, 'cached context after KEY_DISABLED');
    } finally {
      await control('enable', keyId);
    }
  });

  test('metrics(): lastTimeToRevokeMs is set by the first KEY_DISABLED refusal after the key worked', async () => {
    const keyId = env.revokeKeyId;
    await control('enable', keyId);
    const ks = await make({ keyId, token: () => env.tokens.writer });
    const m = await ks.encrypt('ttr', { context: CTX });
    eq(ks.metrics().lastTimeToRevokeMs, null, 'null before any revocation');
    await control('disable', keyId);
    try {
      ks.purge();
      await rejects(ks.decrypt(m), E.KeyDisabledError, 'refused');
      const ttr = ks.metrics().lastTimeToRevokeMs;
      results.notes.lastTimeToRevokeMs = ttr;
      assert(typeof ttr === 'number' && ttr >= 0 && ttr < 60_000,
        `lastTimeToRevokeMs after a refusal: ${show(ttr)} (the SDK reads \`disabled_at\` from the KeyDisabled error body)`);
    } finally {
      await control('enable', keyId);
    }
  });

  test(`nothing lost: ${env.nothingLostCount ?? 200} encrypts while URL 1 fails at random; every resolved encrypt decrypts`, async () => {
    const events = [];
    const retry = { maxRounds: 3, backoffBaseMs: 5, backoffMaxMs: 40, breakerThreshold: 3, breakerCooldownMs: 100 };
    const rnd = fault('random');
    const ks = await make({ keyService: primary([rnd, env.kmsUrl]), cache: false, timeoutMs: 3000, retry }, events);
    const N = env.nothingLostCount ?? 200;
    const done = [];
    const failed = [];
    let next = 0;
    async function worker() {
      while (next < N) {
        const i = next++;
        const pt = `nothing lost ${i} ${uid()}`;
        try {
          done.push([pt, await ks.encrypt(pt, { context: { tenant: 'acme', object: `n${i}` } })]);
        } catch (e) {
          failed.push(e);
        }
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker));
    eq(done.length + failed.length, N, 'every encrypt settled');
    for (const e of failed) assert(e instanceof E.KeySealError, `failure is typed: ${e}`);
    assert(done.length >= N * 0.9, `only ${done.length}/${N} resolved with a healthy URL 2`);
    const faults = calls(events, 'generate', false).length;
    assert(faults > 0, 'the random URL did fail sometimes');
    const reader = await make({ keyService: primary([rnd, env.kmsUrl]), token: () => env.tokens.reader, retry });
    let ok = 0;
    next = 0;
    const lost = [];
    async function dworker() {
      while (next < done.length) {
        const [pt, sealed] = done[next++];
        try {
          if ((await reader.decryptText(sealed)) === pt) ok++;
          else lost.push('wrong plaintext');
        } catch (e) {
          lost.push(`${e.code}: ${e.message}`);
        }
      }
    }
    await Promise.all(Array.from({ length: 8 }, dworker));
    eq(lost.length, 0, `lost messages ${show(lost.slice(0, 3))}`);
    eq(ok, done.length, 'decrypted');
    results.notes.nothingLost = `${done.length}/${N} encrypts resolved, ${faults} failed attempts at URL 1, all decrypted`;
  }, Math.max(60_000, (env.nothingLostCount ?? 200) * 150));

  test('per-record contexts in parallel share /generate-batch requests; each object opens under its own context only; a service without the endpoint gets /generate per context', async () => {
    const N = 24;
    const run = async (ks, tag = 'rec') => Promise.all(Array.from({ length: N }, (_, i) => ks.encrypt(`record ${i}`, { context: { ...CTX, object: `${tag}-${i}` } })));
    const events = [];
    const ks = await make({}, events);
    const sealed = await run(ks);
    const batches = calls(events, 'generate_batch', true).length;
    const singles = calls(events, 'generate', true).length;
    assert(batches >= 1, `at least one /generate-batch (got ${batches}, and ${singles} /generate)`);
    assert(batches + singles < N, `fewer requests than encrypts: ${batches} batches + ${singles} singles for ${N}`);
    const reader = await make({ cache: false, token: () => env.tokens.reader });
    for (let i = 0; i < N; i++) {
      eq(await reader.decryptText(sealed[i], { requireContext: { object: `rec-${i}` } }), `record ${i}`, `record ${i}`);
    }
    const keys = new Set(await Promise.all(sealed.map(async (m) => toHex((await inspect(m)).entries[0].wrapped))));
    eq(keys.size, N, 'one data key per record');
    // the same through a service without the endpoint: one 404, then /generate per context
    const old = [];
    const legacy = await make({ keyService: primary([fault('no-generate-batch')]) }, old);
    const sealed2 = await run(legacy);
    await run(legacy, 'again');
    const tried = calls(old, 'generate_batch').length;
    assert(tried >= 1 && tried <= 2, `the batch is tried by the one or two requests under way when the first 404 arrives, then never (${tried})`);
    eq(calls(old, 'generate', true).length, 2 * N, 'then one /generate per context');
    eq(await reader.decryptText(sealed2[5], { requireContext: { object: 'rec-5' } }), 'record 5', 'fallback record');
  }, 60_000);

  test('/generate-batch with a pinned identity: verified once per batch; a proxy that swaps two items of a genuine answer is refused', async () => {
    const N = 12;
    const pinned = (urls) => ({ ...primary(urls), identity: env.identity });
    const events = [];
    const ks = await make({ keyService: pinned() }, events);
    const sealed = await Promise.all(Array.from({ length: N }, (_, i) => ks.encrypt(`p ${i}`, { context: { ...CTX, object: `pin-${i}` } })));
    assert(calls(events, 'generate_batch', true).length >= 1, 'a verified batch');
    eq(await ks.decryptText(sealed[7], { requireContext: { object: 'pin-7' } }), 'p 7', 'pinned batch record');
    const swapped = await make({ keyService: pinned([fault('generate-batch-swap')]) });
    const results = await Promise.allSettled(Array.from({ length: N }, (_, i) => swapped.encrypt('x', { context: { ...CTX, object: `swap-${i}` } })));
    const refused = results.filter((r) => r.status === 'rejected');
    assert(refused.length >= 2, `the swapped batch is refused (${refused.length} refusals)`);
    for (const r of refused) assert(r.reason instanceof E.IdentityMismatchError, `IDENTITY_MISMATCH, got ${r.reason?.code}: ${r.reason?.message}`);
  }, 60_000);

  test('tracing: with a traceparent callback each key-service attempt is a child span (same trace, fresh span id), reported in its event; without one, no header', async () => {
    const id = uid();
    const url = `${env.faultUrl}/trace/${env.runtime}-${id}/v1`;
    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const events = [];
    const ks = await make({ keyService: primary([url]), cache: false, traceparent: () => parent }, events);
    const sealed = await ks.encrypt('traced', { context: { ...CTX, object: uid() } });
    eq(await ks.decryptText(sealed), 'traced', 'round trip');
    const plain = await make({ keyService: primary([url]), cache: false });
    await plain.encrypt('untraced', { context: { ...CTX, object: uid() } });
    const broken = await make({ keyService: primary([url]), cache: false, traceparent: () => { throw new Error('no context'); } });
    await broken.encrypt('callback throws', { context: { ...CTX, object: uid() } });
    const log = await (await fetch(`${env.faultUrl.replace('/fault', '/fault-log')}/${env.runtime}-${id}`)).json();
    const sent = log.traceparents;
    eq(sent.length, 4, `requests seen: ${show(sent)}`);
    const kms = events.filter((e) => e.type === 'kmsCall');
    eq(kms.length, 2, 'two attempts traced');
    for (const [i, e] of kms.entries()) {
      eq(e.traceId, '4bf92f3577b34da6a3ce929d0e0e4736', `${e.op}: trace id`);
      assert(/^[0-9a-f]{16}$/.test(e.spanId) && e.spanId !== '00f067aa0ba902b7', `${e.op}: a fresh span id ${e.spanId}`);
      eq(sent[i], `00-4bf92f3577b34da6a3ce929d0e0e4736-${e.spanId}-01`, `${e.op}: the header sent is the event's span`);
    }
    assert(kms[0].spanId !== kms[1].spanId, 'each attempt its own span');
    eq(sent[2], null, 'no callback: no header');
    eq(sent[3], null, 'a throwing callback: no header, the call still works');
  });
}
