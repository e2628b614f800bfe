// keyseal JS test suite: ONE file, run unchanged in Node, Deno, Bun, workerd, a Chromium page and a
// Chromium dedicated Worker. It uses only globals every one of them has (fetch, TextEncoder,
// TextDecoder, crypto.getRandomValues, setTimeout, Date) and talks only to loopback servers the
// harness (js/test/harness.mjs) started: two real `keyseal-kms --dev` processes (primary, escrow),
// a misbehaving "fault" server and a control endpoint (disable/enable keys on the real kms).
//
// `run({ KeySeal, inspect, lowLevel, errors, env })` → `{ passed, failed, failures, tests, sealed }`.
// `env` (built by the harness):
//   runtime                 name of this runtime (node, deno, bun, workerd, chromium, chromium-worker)
//   kmsUrl, escrowUrl       base URLs (…/v1) of the primary and escrow key services
//   closedUrl               a base URL on a loopback port nothing listens on (connection refused)
//   faultUrl                the fault server; `${faultUrl}/<mode>/<id>/v1` (modes: hang, flaky500,
//                           429, garbage, plaintext, random, proxy)
//   controlUrl              `POST ${controlUrl}/disable|enable?key=…` (the -revoke keys) and
//                           `/create|rotate?key=acme/<name>-rotate` on the primary kms
//   tokens                  { writer, reader, globex, admin } JWTs valid at both services
//   revokeKeyId             a key of tenant acme dedicated to this runtime (disabled by one test)
//   vectors                 { positive, negative } = tests/vectors/*.json, parsed
//   cross                   optional { runtime: base64 } → run only the cross-runtime open tests
//   nothingLostCount        optional, encrypts in the "nothing lost" test (default 200)
//   only                    optional regex: run only the tests whose name matches

const enc = new TextEncoder();
const dec = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// tiny harness

class AssertionError extends Error {}

function assert(cond, msg) {
  if (!cond) throw new AssertionError(msg || 'assertion failed');
}
function eq(actual, expected, msg) {
  if (actual !== expected) {
    throw new AssertionError(`${msg ? msg + ': ' : ''}expected ${show(expected)}, got ${show(actual)}`);
  }
}
function show(v) {
  try { return typeof v === 'string' ? JSON.stringify(v.length > 200 ? v.slice(0, 200) + '…' : v) : JSON.stringify(v); } catch { return String(v); }
}
function bytesEq(a, b, msg) {
  assert(a instanceof Uint8Array, `${msg || 'value'}: expected a Uint8Array, got ${Object.prototype.toString.call(a)}`);
  if (a.length !== b.length) throw new AssertionError(`${msg || 'bytes'}: length ${a.length} != ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new AssertionError(`${msg || 'bytes'}: differ at ${i}`);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new AssertionError(`${what}: no result within ${ms} ms`)), ms); }),
  ]);
}

// ---------------------------------------------------------------------------------------------
// helpers

function hex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}
function toHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function toB64(b) {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < b.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < b.length ? B64[n & 63] : '=');
  }
  return s;
}
function fromB64(s) {
  const clean = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0, acc = 0, j = 0;
  for (const c of clean) {
    acc = (acc << 6) | B64.indexOf(c);
    bits += 6;
    if (bits >= 8) { bits -= 8; out[j++] = (acc >> bits) & 255; }
  }
  return out;
}
function randomBytes(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}
function uid() {
  return toHex(randomBytes(8));
}
function indexOf(hay, needle) {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
function pairsToObject(pairs) {
  const o = {};
  for (const [k, v] of pairs) o[k] = v;
  return o;
}

function concat(chunks) {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}
/** A ReadableStream of `bytes` cut into pieces whose sizes cycle through `sizes`. */
function source(bytes, sizes) {
  let at = 0, i = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) { controller.close(); return; }
      const n = sizes[i++ % sizes.length];
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}
/** Reads a stream to its end or its error: `{ bytes, chunks, error }`. */
async function drain(readable) {
  const chunks = [];
  let error = null;
  const r = readable.getReader();
  try {
    for (;;) {
      const { done, value } = await r.read();
      if (done) break;
      chunks.push(value);
    }
  } catch (e) {
    error = e;
  }
  return { bytes: concat(chunks), chunks, error };
}
const u32 = (b, o) => ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
const u16 = (b, o) => (b[o] << 8) + b[o + 1];
/** The wrapped-key entries of a header (FORMAT.md §4.1–§4.2), parsed here independently. */
function wrappedEntries(sealed) {
  const authLen = u32(sealed, 7);
  let o = authLen + 4;
  const count = u16(sealed, o);
  o += 2;
  const out = [];
  for (let i = 0; i < count; i++) {
    const kind = sealed[o];
    const sl = sealed[o + 1];
    const sid = dec.decode(sealed.subarray(o + 2, o + 2 + sl));
    o += 2 + sl;
    const kl = u16(sealed, o);
    const keyId = dec.decode(sealed.subarray(o + 2, o + 2 + kl));
    o += 2 + kl;
    const wl = u16(sealed, o);
    out.push({ kind, keyServiceId: sid, keyId, wrapped: sealed.slice(o + 2, o + 2 + wl) });
    o += 2 + wl;
  }
  return { authLen, entries: out };
}
/** The key version of a keyseal-kms `kms` wrapped key (PROTOCOL.md §7.2: 97 bytes, version at 1..5). */
function kmsVersion(wrapped) {
  if (wrapped.length !== 97 || wrapped[0] !== 1) throw new AssertionError(`not a keyseal-kms wrapped key (${wrapped.length} bytes)`);
  return u32(wrapped, 1);
}
/** Body bytes of segments `first … last` of a message with plaintext length L and segment size S. */
function segmentBytes(L, S, first, last) {
  const n = Math.floor(L / S) + 1;
  let total = 0;
  for (let k = first; k <= last; k++) total += (k < n - 1 ? S : L % S) + 16;
  return total;
}

// ---------------------------------------------------------------------------------------------

export async function run({ KeySeal, inspect, lowLevel, errors, env }) {
  const E = errors;
  const results = { runtime: env.runtime, passed: 0, failed: 0, failures: [], tests: [], sealed: null, notes: {} };
  const tests = [];
  const test = (name, fn, timeoutMs = 20_000) => tests.push({ name, fn, timeoutMs });

  /** Awaits `p` (or calls it) and checks it rejects with exactly class `C` and its code. */
  async function rejects(p, C, what) {
    let err;
    try {
      await (typeof p === 'function' ? p() : p);
    } catch (e) {
      err = e;
    }
    const label = what ? `${what}: ` : '';
    if (!err) throw new AssertionError(`${label}expected ${C.name} (${C.code}), but it succeeded`);
    if (!(err instanceof C) || err.code !== C.code || !(err instanceof E.KeySealError) || err.name !== C.name) {
      throw new AssertionError(`${label}expected ${C.name}/${C.code}, got ${err && err.name}/${err && err.code}: ${err && err.message}`);
    }
    return err;
  }

  const CTX = { tenant: 'acme', object: 'doc-1' };
  const primary = (urls = [env.kmsUrl]) => ({ id: 'acme', urls });
  const escrow = (urls = [env.escrowUrl]) => ({ id: 'acme-escrow', urls, keyId: 'acme/escrow' });
  /** A KeySeal against the primary kms with the writer token; `events` collects onEvent. */
  async function make(opts = {}, events) {
    return KeySeal.create({
      keyService: primary(),
      keyId: 'acme/default',
      token: () => env.tokens.writer,
      onEvent: events ? (e) => events.push(e) : undefined,
      ...opts,
    });
  }
  const calls = (events, op, ok) => events.filter((e) => e.type === 'kmsCall' && e.op === op && (ok === undefined || e.ok === ok));
  /** Fast-failing policy for fault tests (never close to the suite's per-test timeout). */
  const FAST = { maxRounds: 2, backoffBaseMs: 20, backoffMaxMs: 100, breakerThreshold: 1000 };
  const fault = (mode, id = uid()) => `${env.faultUrl}/${mode}/${env.runtime}-${id}/v1`;

  // -------------------------------------------------------------------------------------------
  // cross-runtime phase: open every other runtime's message
  if (env.cross) {
    for (const [from, b64] of Object.entries(env.cross)) {
      if (from === env.runtime) continue;
      test(`cross-runtime: open message sealed by ${from}`, async () => {
        const sealed = fromB64(b64);
        const info = await inspect(sealed);
        eq(info.context.from, from, 'context.from');
        const ks = await make({ token: () => env.tokens.reader });
        const text = await ks.decryptText(sealed, { requireContext: { purpose: 'cross-runtime', from } });
        eq(text, crossText(from), 'plaintext');
        await rejects(ks.decrypt(sealed, { requireContext: { from: env.runtime } }), E.ContextMismatchError, 'other from');
      });
    }
    return runAll();
  }

  // -------------------------------------------------------------------------------------------
  // round trips

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
    const info = ks.inspect(s2);
    eq(info.plaintextLen, big.length, 'inspect plaintextLen');
    eq(info.segmentCount, Math.ceil(big.length / info.segmentSize) + (big.length % info.segmentSize === 0 ? 1 : 0), 'segmentCount');
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
    const headerLen = (await inspect(sealed)).headerLen;
    const segs = [1, 16, 17, 1024 + 16, sealed.length - headerLen];
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

  // -------------------------------------------------------------------------------------------
  // shared vectors (tests/vectors, FORMAT.md §10)

  test('positive vectors: open with the data key and re-seal byte for byte', async () => {
    const vs = env.vectors.positive.vectors;
    assert(vs.length >= 10, 'vectors present');
    for (const v of vs) {
      const sealed = hex(v.sealed);
      const pt = await lowLevel.openWithDataKey(sealed, hex(v.data_key));
      bytesEq(pt, hex(v.plaintext), `${v.name}: plaintext`);
      const again = await lowLevel.sealWithDataKeyAssumingUniqueMessageId(
        hex(v.data_key), hex(v.message_id), v.segment_size, v.context, v.entries, hex(v.plaintext));
      eq(toHex(again), v.sealed, `${v.name}: re-sealed bytes`);
      const info = await inspect(sealed);
      eq(info.headerLen, v.header_len, `${v.name}: headerLen`);
      eq(JSON.stringify(info.context), JSON.stringify(sortedObject(v.context)), `${v.name}: context`);
      // opening with the context it carries works; any other value is a mismatch
      if (v.context.length) {
        const [k, val] = v.context[0];
        bytesEq(await lowLevel.openWithDataKey(sealed, hex(v.data_key), { requireContext: { [k]: val } }), hex(v.plaintext), `${v.name}: requireContext`);
        await rejects(lowLevel.openWithDataKey(sealed, hex(v.data_key), { requireContext: { [k]: val + '!' } }), E.ContextMismatchError, `${v.name}: requireContext mismatch`);
      }
    }
  });

  test('negative vectors: every one fails with its code (open_hpke_entry skipped)', async () => {
    const vs = env.vectors.negative.vectors;
    let n = 0;
    for (const v of vs) {
      if (v.operation && v.operation !== 'open') continue;
      const C = Object.values(E).find((c) => typeof c === 'function' && c.code === v.error && c !== E.KeySealError);
      assert(C, `${v.name}: no error class for ${v.error}`);
      const req = v.require_context ? pairsToObject(v.require_context) : undefined;
      await rejects(lowLevel.openWithDataKey(hex(v.sealed), hex(v.data_key), { requireContext: req }), C, v.name);
      n++;
    }
    assert(n >= 25, `ran ${n} negative vectors`);
  });

  // -------------------------------------------------------------------------------------------
  // wrap modes, escrow, cache, metrics

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
    const reader = await make({ token: () => env.tokens.reader }, devents);
    for (let i = 0; i < 3; i++) eq(await reader.decryptText(sealed[i]), `offline ${i}`, `decrypt ${i}`);
    eq(calls(devents, 'unwrap', true).length, 3, 'unwrap calls');
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

  // -------------------------------------------------------------------------------------------
  // streams, ranged decrypt, rotation (issue 5)

  const S = 1024;
  const SIZES = [1, 7, 333, 1500, 4099, 64];

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
    const h = ks.inspect(sealed).headerLen;
    const seg = S + 16;
    const swap = sealed.slice();
    swap.set(sealed.subarray(h + 2 * seg, h + 3 * seg), h + seg);
    swap.set(sealed.subarray(h + seg, h + 2 * seg), h + 2 * seg);
    const flipped = sealed.slice();
    flipped[h + 3 * seg + 10] ^= 1;
    const cases = [
      ['truncated at a segment boundary', sealed.slice(0, h + 3 * seg)],
      ['truncated inside a segment', sealed.slice(0, h + 2 * seg + 500)],
      ['last byte missing', sealed.slice(0, sealed.length - 1)],
      ['last segment missing', sealed.slice(0, h + 5 * seg)],
      ['segments 1 and 2 swapped', swap],
      ['bytes appended', concat([sealed, randomBytes(20)])],
      ['last segment repeated', concat([sealed, sealed.subarray(h + 5 * seg)])],
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

  test('decryptRange: Uint8Array, Blob, reader function/object fetch only header + covering segments', async () => {
    const ks = await make({ segmentSize: S });
    const L = 10 * S + 123;
    const pt = randomBytes(L);
    const sealed = await ks.encrypt(pt, { context: CTX });
    const h = ks.inspect(sealed).headerLen;
    const reader = await make({ token: () => env.tokens.reader });
    const ranges = [[0, 1], [0, S], [S - 1, 2], [S, S], [3 * S + 5, 2 * S], [10 * S, 123], [L - 1, 1], [0, L], [5 * S, 0], [L, 10], [10 * S + 100, 1000], [2 * S, 1]];
    for (const [offset, length] of ranges) {
      const want = pt.subarray(offset, Math.min(offset + length, L));
      bytesEq(await reader.decryptRange(sealed, { offset, length }), want, `Uint8Array ${offset}+${length}`);
      let fetched = 0, reads = 0;
      const read = async (start, end) => { fetched += end - start; reads++; return sealed.slice(start, end); };
      bytesEq(await reader.decryptRange(read, { offset, length, size: sealed.length }), want, `reader ${offset}+${length}`);
      const end = Math.min(offset + length, L);
      const segs = end > offset ? segmentBytes(L, S, Math.floor(offset / S), Math.floor((end - 1) / S)) : 0;
      eq(fetched, h + segs, `${offset}+${length}: bytes fetched (header ${h} + covering segments ${segs})`);
      assert(reads <= 4, `${offset}+${length}: ${reads} reads`);
    }
    let fetched = 0;
    const obj = { size: sealed.length, read: async (a, b) => { fetched += b - a; return sealed.slice(a, b).buffer; } };
    bytesEq(await reader.decryptRange(obj, { offset: 4 * S, length: S }), pt.subarray(4 * S, 5 * S), 'reader object, ArrayBuffer reads');
    eq(fetched, h + S + 16, 'reader object fetched one segment');
    if (typeof Blob !== 'undefined') {
      bytesEq(await reader.decryptRange(new Blob([sealed]), { offset: 7, length: 3000 }), pt.subarray(7, 3007), 'Blob');
    }
    bytesEq(await reader.decryptRange(sealed, { offset: 9 * S }), pt.subarray(9 * S), 'no length: to the end');
    // tamper inside the range fails; ranges elsewhere still open
    const bad = sealed.slice();
    bad[h + 3 * (S + 16) + 5] ^= 0x80;
    await rejects(reader.decryptRange(bad, { offset: 3 * S + 10, length: 5 }), E.DecryptionFailedError, 'tampered segment');
    await rejects(reader.decryptRange(bad, { offset: 2 * S, length: 2 * S }), E.DecryptionFailedError, 'range spanning the tampered segment');
    bytesEq(await reader.decryptRange(bad, { offset: 0, length: 3 * S }), pt.subarray(0, 3 * S), 'untouched segments');
    // a wrong total length changes the last segment: a range that reads it fails (a range of
    // other segments is not affected: they authenticate alone, FORMAT.md §6.4)
    await rejects(reader.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 10 * S, length: 10, size: sealed.length - 1 }), E.DecryptionFailedError, 'wrong size, last segment');
    await rejects(reader.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 10 * S, length: 10, size: sealed.length + S + 16 }), E.DecryptionFailedError, 'size one segment too long');
    await rejects(reader.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 0, length: 10, size: h + 5 }), E.DecryptionFailedError, 'impossible size');
    await rejects(reader.decryptRange(async (a, b) => sealed.slice(a, b).subarray(1), { offset: 0, length: 10, size: sealed.length }), E.InvalidFormatError, 'short reads');
    await rejects(reader.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 0, length: 10 }), E.InvalidArgumentError, 'reader function without size');
    await rejects(reader.decryptRange(sealed, { offset: -1, length: 10 }), E.InvalidArgumentError, 'negative offset');
    await rejects(reader.decryptRange(sealed, { offset: 0, length: 10, requireContext: { tenant: 'globex' } }), E.ContextMismatchError, 'requireContext');
    await rejects(reader.decryptRange(sealed.subarray(h), { offset: 0, length: 10 }), E.InvalidFormatError, 'no header');
  }, 30_000);

  test('rewrap: header-only, body identical, old wrapped key gone, new key version after rotate, toKeyId', async () => {
    const key = `acme/${env.runtime}-${uid()}-rotate`;
    eq((await control('create', key)).primaryVersion, 1, 'new key at version 1');
    const ks = await make({ keyId: key, segmentSize: S });
    const pt = randomBytes(3 * S + 7);
    const sealed = await ks.encrypt(pt, { context: CTX });
    const before = wrappedEntries(sealed);
    eq(kmsVersion(before.entries[0].wrapped), 1, 'entry made with version 1');
    eq((await control('rotate', key)).primaryVersion, 2, 'rotated to version 2');
    const r = await ks.rewrap(sealed);
    const h = ks.inspect(sealed).headerLen;
    eq(r.bodyOffset, h, 'bodyOffset');
    const moved = concat([r.header, sealed.subarray(r.bodyOffset)]);
    bytesEq(moved.subarray(r.header.length), sealed.subarray(h), 'body bytes identical');
    bytesEq(moved.subarray(0, before.authLen), sealed.subarray(0, before.authLen), 'authenticated part identical');
    const after = wrappedEntries(moved);
    eq(after.entries.length, 1, 'one entry');
    eq(after.entries[0].keyId, key, 'same key id');
    eq(kmsVersion(after.entries[0].wrapped), 2, 'entry names the new version');
    eq(indexOf(moved, before.entries[0].wrapped), -1, 'old wrapped key gone from the header');
    const fresh = await make({ keyId: key, token: () => env.tokens.reader });
    bytesEq(await fresh.decrypt(moved, { requireContext: CTX }), pt, 'rewrapped object decrypts');
    bytesEq(await fresh.decryptRange(moved, { offset: S, length: 10 }), pt.subarray(S, S + 10), 'and by range');
    // to another key, from the header alone and from a reader object
    const key2 = `acme/${env.runtime}-${uid()}-rotate`;
    await control('create', key2);
    const r2 = await ks.rewrap(sealed.slice(0, h), { toKeyId: key2 });
    const moved2 = concat([r2.header, sealed.subarray(r2.bodyOffset)]);
    eq((await inspect(moved2)).entries[0].keyId, key2, 'toKeyId');
    bytesEq(await (await make({ keyId: key2, token: () => env.tokens.reader })).decrypt(moved2), pt, 'moved object decrypts');
    let fetched = 0;
    const r3 = await ks.rewrap({ size: sealed.length, read: async (a, b) => { fetched += b - a; return sealed.slice(a, b); } }, { toKeyId: key2 });
    eq(fetched, h, 'reader source: only the header was read');
    eq(r3.bodyOffset, h, 'reader source bodyOffset');
    // a reader token may not rewrap; a tampered header is refused by the kms
    await rejects(fresh.rewrap(sealed), E.AccessDeniedError, 'reader role');
    const badWrap = sealed.slice();
    badWrap[before.authLen + 4 + 2 + 2 + 'acme'.length + 2 + key.length + 2 + 40] ^= 1;
    await rejects(ks.rewrap(badWrap), E.DecryptionFailedError, 'tampered wrapped key');
  }, 30_000);

  test('rewrapAll: 20 objects, concurrency 4, one /rewrap-batch per batch, resumable after a failure, idempotent (second run all skipped), follows rotation', async () => {
    const from = `acme/${env.runtime}-${uid()}-rotate`;
    const to = `acme/${env.runtime}-${uid()}-rotate`;
    await control('create', from);
    await control('create', to);
    const ks = await make({ keyId: from });
    const store = new Map();
    const pts = new Map();
    for (let i = 0; i < 20; i++) {
      const pt = `object ${i} ${uid()}`;
      pts.set(`o${i}`, pt);
      store.set(`o${i}`, await ks.encrypt(pt, { context: { tenant: 'acme', object: `o${i}` } }));
    }
    let reading = 0, maxReading = 0, failOnce = true;
    const objects = () => [...store.keys()].map((id) => ({
      id,
      readHeader: async () => { reading++; maxReading = Math.max(maxReading, reading); await sleep(2); reading--; return store.get(id); },
      writeHeader: async (header, bodyOffset) => {
        if (id === 'o7' && failOnce) { failOnce = false; throw new Error('storage hiccup'); }
        store.set(id, concat([header, store.get(id).subarray(bodyOffset)]));
      },
    }));
    const prog = [];
    const r1 = await ks.rewrapAll(objects(), { toKeyId: to, concurrency: 4, onProgress: (p) => prog.push(p) });
    eq(r1.done, 19, 'run 1 done');
    eq(r1.skipped, 0, 'run 1 skipped');
    eq(r1.failed.length, 1, 'run 1 failed');
    eq(r1.failed[0].id, 'o7', 'failed id');
    eq(typeof r1.failed[0].code, 'string', 'failed code');
    eq(r1.targetVersion, 1, 'targetVersion');
    assert(maxReading <= 4, `concurrency exceeded: ${maxReading} header reads at once`);
    assert(maxReading > 1, `ran sequentially: ${maxReading}`);
    // PROTOCOL.md §3.5.1: the 20 headers went to the key service in one request
    const batches = () => ks.metrics().keyService.rewrap_batch?.calls ?? 0;
    eq(batches(), 1, 'run 1: one /rewrap-batch for 20 objects');
    eq(ks.metrics().keyService.rewrap?.calls ?? 0, 0, 'run 1: no single /rewrap');
    eq(prog.at(-1).seen, 20, 'progress seen');
    async function* gen() { for (const o of objects()) yield o; }
    const r2 = await ks.rewrapAll(gen(), { toKeyId: to, concurrency: 4 });
    eq(JSON.stringify([r2.done, r2.skipped, r2.failed.length]), JSON.stringify([1, 19, 0]), 'run 2 resumes (async iterable)');
    const r3 = await ks.rewrapAll(objects(), { toKeyId: to, concurrency: 4 });
    eq(JSON.stringify([r3.done, r3.skipped, r3.failed.length]), JSON.stringify([0, 20, 0]), 'run 3: all skipped');
    const reader = await make({ keyId: to, token: () => env.tokens.reader });
    for (const [id, sealed] of store) {
      eq((await inspect(sealed)).entries[0].keyId, to, `${id} on ${to}`);
      eq(await reader.decryptText(sealed), pts.get(id), `${id} decrypts`);
    }
    // rotation of the target: every object is behind again, then current again
    await control('rotate', to);
    const before = batches();
    const r4 = await ks.rewrapAll(objects(), { toKeyId: to, concurrency: 4, batchSize: 7 });
    eq(JSON.stringify([r4.done, r4.skipped, r4.failed.length, r4.targetVersion]), JSON.stringify([20, 0, 0, 2]), 'after rotate: all rewrapped to v2');
    eq(batches() - before, 3, 'batchSize 7: 20 objects in 3 requests');
    await rejects(ks.rewrapAll(objects(), { batchSize: 0 }), E.InvalidArgumentError, 'batchSize 0');
    const r5 = await ks.rewrapAll(objects(), { toKeyId: to, concurrency: 4 });
    eq(JSON.stringify([r5.done, r5.skipped]), JSON.stringify([0, 20]), 'then all skipped');
    for (const [id, sealed] of store) eq(kmsVersion(wrappedEntries(sealed).entries[0].wrapped), 2, `${id} version`);
    await rejects(ks.rewrapAll(42), E.InvalidArgumentError, 'objects not iterable');
  }, 60_000);

  // engines (issue 5 item 3): the wasm aes-gcm engine and WebCrypto give the same bytes

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
        hex(v.data_key), hex(v.message_id), v.segment_size, v.context, v.entries, hex(v.plaintext), { engine: 'webcrypto' });
      eq(toHex(again), v.sealed, `${v.name}: re-sealed by WebCrypto`);
      bytesEq(await lowLevel.openWithDataKey(hex(v.sealed), hex(v.data_key), { engine: 'webcrypto' }), hex(v.plaintext), `${v.name}: opened by WebCrypto`);
    }
  }, 60_000);

  test('engines: WebCrypto — tampered, truncated, extended, wrong key → DecryptionFailedError; streams release only whole authenticated segments', async () => {
    const ks = await make({ segmentSize: S, engine: 'webcrypto' });
    const pt = randomBytes(5 * S + 7);
    const sealed = await ks.encrypt(pt, { context: CTX });
    const h = ks.inspect(sealed).headerLen;
    const seg = S + 16;
    const flipped = sealed.slice();
    flipped[h + 2 * seg + 100] ^= 1;
    const swap = sealed.slice();
    swap.set(sealed.subarray(h + 2 * seg, h + 3 * seg), h + seg);
    swap.set(sealed.subarray(h + seg, h + 2 * seg), h + 2 * seg);
    const cases = [
      ['segment 2 byte flipped', flipped],
      ['last tag byte flipped', (() => { const b = sealed.slice(); b[b.length - 1] ^= 1; return b; })()],
      ['segments 1 and 2 swapped', swap],
      ['truncated at a segment boundary', sealed.slice(0, h + 3 * seg)],
      ['last segment missing', sealed.slice(0, h + 5 * seg)],
      ['bytes appended', concat([sealed, randomBytes(20)])],
      ['impossible length', sealed.slice(0, h + 3 * seg + 5)],
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
    const h = ks.inspect(sealed).headerLen;
    const web = await make({ token: () => env.tokens.reader, engine: 'webcrypto' });
    for (const [offset, length] of [[0, 1], [S - 1, 2], [3 * S + 5, 2 * S], [10 * S, 123], [L - 1, 1], [0, L], [5 * S, 0], [L, 10]]) {
      let fetched = 0;
      const read = async (start, end) => { fetched += end - start; return sealed.slice(start, end); };
      bytesEq(await web.decryptRange(read, { offset, length, size: sealed.length }), pt.subarray(offset, Math.min(offset + length, L)), `${offset}+${length}`);
      const end = Math.min(offset + length, L);
      eq(fetched, h + (end > offset ? segmentBytes(L, S, Math.floor(offset / S), Math.floor((end - 1) / S)) : 0), `${offset}+${length}: bytes fetched`);
    }
    const bad = sealed.slice();
    bad[h + 3 * (S + 16) + 5] ^= 0x80;
    await rejects(web.decryptRange(bad, { offset: 2 * S, length: 2 * S }), E.DecryptionFailedError, 'range spanning the tampered segment');
    bytesEq(await web.decryptRange(bad, { offset: 0, length: 3 * S }), pt.subarray(0, 3 * S), 'untouched segments');
    await rejects(web.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 10 * S, length: 10, size: sealed.length - 1 }), E.DecryptionFailedError, 'wrong size, last segment');
    await rejects(web.decryptRange(async (a, b) => sealed.slice(a, b), { offset: 0, length: 10, size: h + 5 }), E.DecryptionFailedError, 'impossible size');
    await rejects(web.decryptRange(sealed, { offset: 0, length: 10, requireContext: { tenant: 'globex' } }), E.ContextMismatchError, 'requireContext');
  }, 30_000);

  test("engines: 'auto' switches by size; without crypto.subtle it falls back to wasm; bad engine option rejected", async () => {
    const pt0 = randomBytes(200 * 1024 + 3);
    const auto = await make({ segmentSize: S });
    // The Node entry (node, bun) brings node:crypto and 'auto' prefers it; elsewhere crypto.subtle.
    const platform = ['node', 'bun'].includes(env.runtime) ? 'node' : 'webcrypto';
    eq(auto.engineFor(0), 'wasm', 'auto, empty message');
    eq(auto.engineFor(1024), 'wasm', 'auto, 1 KiB');
    eq(auto.engineFor(Infinity), platform, 'auto, streams');
    const big = auto.engineFor(16 * 1024 * 1024);
    eq(big, platform, 'auto, 16 MiB');
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
    const fallback = platform === 'node' ? 'node' : 'wasm';
    eq(none.engineFor(16 * 1024 * 1024), fallback, 'no crypto.subtle: large messages');
    eq(none.engineFor(Infinity), fallback, 'no crypto.subtle: streams');
    const wasmOnly = await withoutSubtle(() => make({ segmentSize: S, engine: 'wasm' }));
    eq(wasmOnly.engineFor(Infinity), 'wasm', "engine 'wasm'");
    const sealed = await none.encrypt(pt, { context: CTX });
    bytesEq(await auto.decrypt(sealed), pt, 'fallback seal opens with WebCrypto');
    bytesEq(await none.decrypt(await auto.encrypt(pt, { context: CTX })), pt, 'fallback opens a WebCrypto seal');
    const st = await drain(source(pt.subarray(0, 5 * S + 7), [999]).pipeThrough(none.encryptStream({ context: CTX })));
    bytesEq((await drain(source(st.bytes, [777]).pipeThrough(none.decryptStream()))).bytes, pt.subarray(0, 5 * S + 7), 'fallback streams');
    assert(globalThis.crypto && globalThis.crypto.subtle, 'the real crypto.subtle is untouched');
    await rejects(withoutSubtle(() => make({ engine: 'webcrypto' })), E.InvalidArgumentError, "engine 'webcrypto' without crypto.subtle");
    await rejects(make({ engine: 'fast' }), E.InvalidArgumentError, 'unknown engine');
    await rejects(lowLevel.sealWithDataKeyAssumingUniqueMessageId(randomBytes(32), randomBytes(32), S, [], [], pt, { engine: 'fast' }), E.InvalidArgumentError, 'lowLevel unknown engine');
  }, 60_000);

  test('cross-runtime: seal a message for the other runtimes', async () => {
    const ks = await make();
    const sealed = await ks.encrypt(crossText(env.runtime), { context: { tenant: 'acme', purpose: 'cross-runtime', from: env.runtime } });
    eq(await ks.decryptText(sealed), crossText(env.runtime), 'self');
    results.sealed = toB64(sealed);
    bytesEq(fromB64(results.sealed), sealed, 'base64 round trip');
  });

  async function control(action, key) {
    const r = await fetch(`${env.controlUrl}/${action}?key=${encodeURIComponent(key)}`, { method: 'POST' });
    const body = await r.text();
    if (r.status !== 200) throw new AssertionError(`control ${action} ${key}: ${r.status} ${body}`);
    return JSON.parse(body);
  }

  return runAll();

  async function runAll() {
    const only = env.only ? new RegExp(env.only) : null;
    for (const t of tests) {
      if (only && !only.test(t.name)) continue;
      const t0 = Date.now();
      try {
        await withTimeout(Promise.resolve().then(t.fn), t.timeoutMs, t.name);
        results.passed++;
        results.tests.push({ name: t.name, ok: true, ms: Date.now() - t0 });
      } catch (e) {
        results.failed++;
        const msg = `${e && e.name}: ${e && e.message}`;
        results.failures.push({ name: t.name, error: msg });
        results.tests.push({ name: t.name, ok: false, ms: Date.now() - t0, error: msg });
      }
    }
    return results;
  }
}

function crossText(runtime) {
  return `cross-runtime message from ${runtime} ✓ `.repeat(3000);
}

function sortedObject(pairs) {
  const sorted = [...pairs].sort((a, b) => cmpBytes(enc.encode(a[0]), enc.encode(b[0])));
  return pairsToObject(sorted);
}
function cmpBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
void dec;
