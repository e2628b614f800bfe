// The format in JS (js/src/format/, docs/DESIGN.md design C) against the Rust reference the
// package runs: the shared vectors, byte-identical sealing of random inputs, a message the JS
// writes opened by the real keyseal-kms, and the differential check: the JS and the Rust parser
// (the package's `inspect`, `headerLength`, `lowLevel.openWithDataKey`) on the same mutated
// messages MUST agree on accept, on the error code of a reject, and on every field.
//
// Mutations come from a seeded generator, one seed per runtime (seed, counts and outcomes in the
// results' notes), so a disagreement is reproducible: `KEYSEAL_FORMAT_SEED=N node
// js/test/harness.mjs --runtimes node --only 'format in JS'`. `make format-diff` runs 50 times
// the counts on a fresh seed.

import { assert, eq, bytesEq, hex, toHex, enc } from './support.js';

/** Mutations per runtime in `make test`; `KEYSEAL_FORMAT_DIFF=N` (harness) raises them. */
const DEFAULT_PARSE_MUTATIONS = 2000;
const DEFAULT_OPEN_MUTATIONS = 300;
const DEFAULT_RANDOM_MESSAGES = 60;

/** xorshift32: a small deterministic generator (not for keys: only test inputs). */
function generator(seed) {
  let x = seed >>> 0 || 1;
  const next = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
  const int = (n) => next() % n;
  const bytes = (n) => Uint8Array.from({ length: n }, () => next() & 0xff);
  const pick = (a) => a[int(a.length)];
  return { next, int, bytes, pick };
}

// Byte strings that test UTF-8 handling: a BOM, overlong, surrogate, above U+10FFFF, truncated
// sequences, a lone continuation byte, and valid multi-byte characters.
const UTF8_PROBES = [[0xef, 0xbb, 0xbf], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82],
  [0x80], [0xc3, 0xa9], [0xf0, 0x9f, 0x94, 0x91], [0xff], [0x00]];
const BOUNDARY_U16 = [0, 1, 2, 0xff, 0x100, 0x3ff, 0x400, 0x401, 0x1000, 0x1001, 0x2000, 0x2001, 0x4000, 0x7fff, 0xfffe, 0xffff];
const BOUNDARY_U32 = [0, 1, 2, 63, 64, 65, 80, 81, 82, 0x4400, 0x4401, 0x1000000, 0x1000001, 151634, 151635, 0x7fffffff, 0xffffffff];

/** One random mutation of `m` (a copy), weighted toward the header of `headerLen` bytes. */
function mutate(g, m, headerLen) {
  const at = () => (g.int(4) === 0 ? g.int(m.length) : g.int(Math.max(1, Math.min(headerLen, m.length))));
  const out = m.slice();
  switch (g.int(9)) {
    case 0: { const i = at(); out[i] ^= 1 << g.int(8); return out; }
    case 1: { const i = at(); out[i] = g.pick([0, 0xff, 0x7f, 0x80, g.int(256)]); return out; }
    case 2: { const i = at(); const v = g.pick(BOUNDARY_U16); if (i + 1 < out.length) { out[i] = v >>> 8; out[i + 1] = v & 0xff; } return out; }
    case 3: { const i = at(); const v = g.pick(BOUNDARY_U32); if (i + 3 < out.length) { out[i] = v >>> 24; out[i + 1] = (v >>> 16) & 0xff; out[i + 2] = (v >>> 8) & 0xff; out[i + 3] = v & 0xff; } return out; }
    case 4: return out.subarray(0, g.int(m.length + 1));
    case 5: { const i = at(); return concat(out.subarray(0, i), g.bytes(1 + g.int(4)), out.subarray(i)); }
    case 6: { const i = at(); return concat(out.subarray(0, i), out.subarray(Math.min(out.length, i + 1 + g.int(4)))); }
    case 7: { const i = at(); const p = g.pick(UTF8_PROBES); for (let k = 0; k < p.length && i + k < out.length; k++) out[i + k] = p[k]; return out; }
    default: { let r = out; for (let k = 0; k < 2 + g.int(3); k++) r = mutate(g, r, headerLen); return r; }
  }
}

/**
 * Structure-aware mutations: a header rebuilt from a vector's fields by an encoder that checks
 * nothing, with fields pushed to and past every limit of FORMAT.md §8 *with the bytes present*,
 * keys duplicated or out of order, kinds, suites, lengths off by one, so that both parsers reach
 * each rule (random byte flips mostly stop at the first length that points past the end).
 */
function structured(g, v, F) {
  const u8 = (s) => new TextEncoder().encode(s);
  const sealed = hex(v.sealed);
  const h = F.parseHeader(sealed);
  let pairs = h.context.map(([k, val]) => [u8(k), u8(val)]);
  let entries = h.entries.map((e) => ({ kind: e.kindByte, sid: u8(e.keyServiceId), kid: u8(e.keyId), w: e.wrapped }));
  const f = { version: 1, suite: h.suite, segmentSize: h.segmentSize, authDelta: 0, sectionDelta: 0, pairCountDelta: 0, entryCountDelta: 0 };
  const fill = (n) => g.bytes(n).map((b) => 0x61 + (b % 26));
  const lens = (a) => g.pick(a);
  for (let k = 1 + g.int(2); k > 0; k--) {
    switch (g.int(15)) {
      case 0: if (pairs.length) { const i = g.int(pairs.length); pairs.splice(i, 0, pairs[i]); } break; // duplicate key
      case 1: if (pairs.length > 1) { const i = g.int(pairs.length - 1); [pairs[i], pairs[i + 1]] = [pairs[i + 1], pairs[i]]; } break;
      case 2: pairs.push([fill(lens([0, 1, 255, 256, 257])), fill(lens([0, 1]))]); pairs.sort((a, b) => F.compareBytes(a[0], b[0])); break;
      case 3: pairs.push([fill(1 + g.int(8)), fill(lens([0, 4095, 4096, 4097]))]); pairs.sort((a, b) => F.compareBytes(a[0], b[0])); break;
      case 4: { const n = lens([63, 64, 65]); pairs = Array.from({ length: n }, (_, i) => [u8(`k${String(i).padStart(3, '0')}`), fill(g.int(3))]); break; }
      case 5: { const n = lens([3, 4, 5]); pairs = Array.from({ length: n }, (_, i) => [u8(`k${i}`), fill(4096)]); break; } // near the 16 KiB context limit
      case 6: if (pairs.length) { const p = pairs[g.int(pairs.length)]; const probe = Uint8Array.from(g.pick(UTF8_PROBES)); p[g.int(2)] = concat(probe, p[1]); } break;
      case 7: { // the verification key: added, removed, not base64, not canonical, not a point
        pairs = pairs.filter(([kk]) => new TextDecoder().decode(kk) !== F.VERIFICATION_KEY_CONTEXT_KEY);
        const real = 'BGD6cNNMDqE6X9XQbN3dv7e+Qfp0lgYnjQu2zmrq1iEdUMErwq4G9Tnh6SXcnWizIrZQBME0V0BTrzt16OnDjKQ=';
        const vk = g.pick([real, real.slice(0, -2) + 'R=', real.replace('BGD6', 'BGD7'), real.slice(4), 'not base64!', '', real.replace('=', ''), null]);
        if (vk !== null) pairs.push([u8(F.VERIFICATION_KEY_CONTEXT_KEY), u8(vk)]);
        pairs.sort((a, b) => F.compareBytes(a[0], b[0]));
        break;
      }
      case 8: f.suite = g.pick([0, 1, 2, 3, 0x0100, 0xffff]); break;
      case 9: f.segmentSize = g.pick([0, 63, 64, 65, 0x1000000, 0x1000001, 0xffffffff]); break;
      case 10: { if (!entries.length) break;
        const n = lens([0, 1, 15, 16, 17]); entries = Array.from({ length: n }, (_, i) => entries[i % entries.length]); break; }
      case 11: { if (!entries.length) break;
        const i = g.int(entries.length);
        const e = entries[i] = { ...entries[i] };
        switch (g.int(4)) {
          case 0: e.kind = g.pick([0, 1, 2, 3, 4, 5, 0x7f, 0xff]); break;
          case 1: e.sid = fill(lens([0, 1, 255])); break;
          case 2: e.kid = fill(lens([0, 1, 1024, 1025])); break;
          default: e.w = g.bytes(lens([0, 1, 116, 117, 118, 8192, 8193])); break;
        }
        break; }
      case 12: f[g.pick(['authDelta', 'sectionDelta', 'pairCountDelta', 'entryCountDelta'])] = g.pick([-1, 1]); break;
      case 13: f.authAbs = g.pick([0, 80, 81, 17408, 17409, 0xffffffff]); break;
      default: f.version = g.pick([0, 2, 0xff]); break;
    }
  }
  // the raw encoding (§3.1, §3.3, §4.1, §4.2), no checks; lengths wrap where a field is too small
  const ctx = concat(be(pairs.length + f.pairCountDelta, 2), ...pairs.flatMap(([kk, vv]) => [be(kk.length, 2), kk, be(vv.length, 2), vv]));
  const authLen = 11 + 32 + 4 + ctx.length + 32;
  const auth = concat(F.MAGIC, Uint8Array.of(f.version), be(f.suite, 2), be(f.authAbs ?? authLen + f.authDelta, 4),
    h.messageId, be(f.segmentSize, 4), ctx, h.commitment);
  const ents = concat(be(entries.length + f.entryCountDelta, 2), ...entries.flatMap((e) => [Uint8Array.of(e.kind, e.sid.length & 0xff), e.sid, be(e.kid.length, 2), e.kid, be(e.w.length, 2), e.w]));
  const m = concat(auth, be(ents.length + f.sectionDelta, 4), ents, g.int(2) ? sealed.subarray(h.headerLen) : new Uint8Array(0));
  return { m, headerLen: auth.length + 4 + ents.length };
}

function be(v, n) {
  const b = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) { b[i] = v & 0xff; v = Math.floor(v / 256); }
  return b;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** The outcome of `f()`: `{ ok: value }` or `{ code }` (a thrown error without a code is a bug). */
async function outcome(f) {
  try {
    return { ok: await f() };
  } catch (e) {
    if (!e || typeof e.code !== 'string') return { code: `NO CODE: ${e && e.name}: ${e && e.message}` };
    return { code: e.code };
  }
}

/** The JS header as the Rust `inspect` shows one (fields compared one by one). */
function jsView(h, total, F) {
  let plaintextLen = null, segmentCount = null;
  if (total > h.headerLen) {
    try {
      // FORMAT.md §6.3: a signed message's 64-byte signature follows the body
      const l = F.bodyLayout(h.segmentSize, total - h.headerLen - (h.suite === F.SUITE_SIGNED ? 64 : 0));
      plaintextLen = l.plaintextLen; segmentCount = l.segmentCount;
    } catch { /* inconsistent length: null, as inspect */ }
  }
  return {
    version: 1, suite: h.suite, messageId: toHex(h.messageId), segmentSize: h.segmentSize,
    context: Object.fromEntries(h.context), headerLen: h.headerLen, plaintextLen, segmentCount,
    entries: h.entries.map((e) => ({ kind: e.kind, keyServiceId: e.keyServiceId, keyId: e.keyId, wrapped: toHex(e.wrapped) })),
  };
}
function rustView(i) {
  return {
    version: i.version, suite: i.suite, messageId: i.messageId, segmentSize: i.segmentSize,
    context: i.context instanceof Map ? Object.fromEntries(i.context) : { ...i.context }, headerLen: i.headerLen,
    plaintextLen: i.plaintextLen ?? null, segmentCount: i.segmentCount ?? null,
    entries: i.entries.map((e) => ({ kind: e.kind, keyServiceId: e.keyServiceId, keyId: e.keyId, wrapped: toHex(e.wrapped) })),
  };
}
/** A canonical JSON of a view: context keys sorted (object key order is not the header's). */
const canon = (v) => JSON.stringify({ ...v, context: Object.entries(v.context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) });

/**
 * §7.2 as a streaming reader does it with the JS format: the header collected from the first
 * bytes (headerLength, then parseHeader), `requireContext`, then the body in pieces of random
 * sizes. Returns `{ ok: plaintext } | { code }` and the bytes released before an error.
 */
async function openStreamedJs(F, engine, m, dataKey, requireContext, g) {
  const released = [];
  const r = await outcome(async () => {
    let want = F.headerLength(m.subarray(0, Math.min(m.length, 11)));
    while (want.needAtLeast !== undefined) {
      if (want.needAtLeast > m.length) return F.parseHeader(m); // reports what is wrong, as a reader at the end of its input
      want = F.headerLength(m.subarray(0, want.needAtLeast));
    }
    if (want.headerLen > m.length) return F.parseHeader(m);
    const h = F.parseHeader(m.subarray(0, want.headerLen));
    const have = new Map(h.context);
    for (const [k, v] of Object.entries(requireContext ?? {})) if (have.get(k) !== v) throw Object.assign(new Error('mismatch'), { code: 'CONTEXT_MISMATCH' });
    const opener = await F.StreamOpener.begin({ header: h, dataKey, engine });
    for (let at = h.headerLen; at < m.length;) {
      const n = 1 + g.int(g.int(4) === 0 ? 300 : 40);
      released.push(await opener.push(m.subarray(at, at + n)));
      at += n;
    }
    released.push(await opener.finish());
    return concat(...released);
  });
  return { ...r, released: concat(...released) };
}

export default function register({ test, lowLevel, inspect, headerLength, env, results, make, CTX }) {
  const F = env.formatModule;
  // the engines of primitives to run the format on: WebCrypto everywhere, node:crypto where the
  // package's entry uses it (Node, Bun: the runner passes js/src/format/node-engine.js)
  const engines = [F?.webcryptoEngine, env.formatNodeEngine].filter(Boolean);
  // a seed per runtime (six different samples in one `make test`), or the one the harness was given
  const seed = env.formatSeed !== undefined ? Number(env.formatSeed) >>> 0
    : [...env.runtime].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 0x5eed);
  const scale = Number(env.formatDiffScale ?? 1);
  const note = (k, v) => { results.notes[`format-js ${k}`] = v; };
  const need = () => assert(F && typeof F.parseHeader === 'function', 'the harness passes js/src/format to the suite (env.formatModule)');
  const vectorEntries = (v) => v.entries.map((e) => ({ kind: e.kind, keyServiceId: e.key_service_id, keyId: e.key_id, wrapped: hex(e.wrapped) }));
  const signingOf = async (engine, v) => {
    if (!v.signing_secret) return undefined;
    const vk = v.context.find(([k]) => k === F.VERIFICATION_KEY_CONTEXT_KEY)[1];
    const pub = Uint8Array.from(atob(vk), (c) => c.charCodeAt(0));
    return { privateKey: await engine.importP256Private('ECDSA', hex(v.signing_secret), pub), publicRaw: pub };
  };

  if (!engines.length) test('format in JS: the runner passes js/src/format', need);
  for (const engine of engines) {
    const E = engine.name;
    test(`format in JS (${E}): positive vectors open, re-seal byte for byte, and the Rust opens what the JS sealed`, async () => {
      need();
      let n = 0;
      for (const v of env.vectors.positive.vectors) {
        const sealed = hex(v.sealed);
        bytesEq(await F.openWithDataKey(sealed, hex(v.data_key), { engine }), hex(v.plaintext), `${v.name}: plaintext`);
        eq(F.parseHeader(sealed).headerLen, v.header_len, `${v.name}: headerLen`);
        const again = await F.sealWithDataKeyAssumingUniqueMessageId({
          dataKey: hex(v.data_key), messageId: hex(v.message_id), segmentSize: v.segment_size, context: v.context,
          entries: vectorEntries(v), plaintext: hex(v.plaintext), signing: await signingOf(engine, v), engine,
        });
        // WebCrypto's ECDSA is randomized (the Rust signs by RFC 6979): a signed vector re-seals
        // identically up to its 64-byte signature, which the Rust reader must then accept
        const sig = v.signing_secret ? 64 : 0;
        eq(toHex(again.subarray(0, again.length - sig)), v.sealed.slice(0, v.sealed.length - 2 * sig), `${v.name}: re-sealed bytes`);
        bytesEq(await lowLevel.openWithDataKey(again, hex(v.data_key)), hex(v.plaintext), `${v.name}: the Rust opens the JS seal`);
        n++;
      }
      assert(n >= 16, `ran ${n} positive vectors`);
    });

    test(`format in JS (${E}): negative vectors fail with their code, hpke-p256 entries included`, async () => {
      need();
      let n = 0;
      for (const v of env.vectors.negative.vectors) {
        let r;
        if (v.operation === 'open_hpke_entry') {
          // the vectors give the key version's secret; its public key is the positive vector's
          const pub = env.vectors.positive.vectors.find((p) => p.recipient_secret === v.recipient_secret).recipient_public;
          r = await outcome(() => F.openHpkeEntry(engine, { recipientSecret: hex(v.recipient_secret), recipientPublic: hex(pub), keyId: v.key_id, contextBytes: F.encodeContext(v.context).bytes, wrapped: hex(v.wrapped) }));
        } else {
          const requireContext = v.require_context ? Object.fromEntries(v.require_context) : undefined;
          r = await outcome(() => F.openWithDataKey(hex(v.sealed), hex(v.data_key), { requireContext, engine }));
        }
        eq(r.code, v.error, `${v.name}`);
        n++;
      }
      assert(n >= 37, `ran ${n} negative vectors`);
    });

    test(`format in JS (${E}): the hpke-p256 vector entry opens to its data key; a JS-sealed entry opens with the same key`, async () => {
      need();
      const v = env.vectors.positive.vectors.find((x) => x.recipient_secret);
      const h = F.parseHeader(hex(v.sealed));
      const keys = { recipientSecret: hex(v.recipient_secret), recipientPublic: hex(v.recipient_public) };
      const opened = await F.openHpkeEntry(engine, { ...keys, keyId: h.entries[0].keyId, contextBytes: h.contextBytes, wrapped: h.entries[0].wrapped });
      eq(toHex(opened.dataKey), v.data_key, 'vector entry');
      eq(opened.keyVersion, 3, 'key version');
      const wrapped = await F.sealHpkeEntry(engine, { recipientPublic: keys.recipientPublic, keyId: 'acme/default', keyVersion: 7, contextBytes: h.contextBytes, dataKey: hex(v.data_key) });
      eq(wrapped.length, 117, 'entry length');
      eq(toHex((await F.openHpkeEntry(engine, { ...keys, keyId: 'acme/default', contextBytes: h.contextBytes, wrapped })).dataKey), v.data_key, 'JS entry');
      // bound to key id, version and context (§4.5)
      const other = F.encodeContext({ tenant: 'evil' }).bytes;
      eq((await outcome(() => F.openHpkeEntry(engine, { ...keys, keyId: 'acme/default', contextBytes: other, wrapped }))).code, 'DECRYPTION_FAILED', 'other context');
      eq((await outcome(() => F.openHpkeEntry(engine, { ...keys, keyId: 'acme/other', contextBytes: h.contextBytes, wrapped }))).code, 'DECRYPTION_FAILED', 'other key id');
      const bumped = wrapped.slice(); bumped[3] ^= 1;
      eq((await outcome(() => F.openHpkeEntry(engine, { ...keys, keyId: 'acme/default', contextBytes: h.contextBytes, wrapped: bumped }))).code, 'DECRYPTION_FAILED', 'other version');
    });

    test(`format in JS (${E}): a message the JS writes, its hpke-p256 entry sealed to the live key, is opened by the SDK and the real keyseal-kms`, async () => {
      need();
      const jwk = await (await fetch(`${env.kmsUrl}/keys/acme/default/public`)).json();
      const b64u = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - s.length % 4) % 4)), (c) => c.charCodeAt(0));
      const recipientPublic = concat(Uint8Array.of(4), b64u(jwk.x), b64u(jwk.y));
      assert(F.isP256Point(recipientPublic), 'the JWK is a P-256 point');
      const dataKey = crypto.getRandomValues(new Uint8Array(32));
      const { bytes: contextBytes } = F.encodeContext(CTX);
      const wrapped = await F.sealHpkeEntry(engine, { recipientPublic, keyId: 'acme/default', keyVersion: jwk.key_version, contextBytes, dataKey });
      const plaintext = enc.encode(`written by the format in JS in ${env.runtime}`);
      const sealed = await F.sealWithDataKeyAssumingUniqueMessageId({
        dataKey, messageId: crypto.getRandomValues(new Uint8Array(32)), segmentSize: 64, context: CTX, plaintext,
        entries: [{ kind: 'hpke-p256', keyServiceId: 'acme', keyId: 'acme/default', wrapped }],
      });
      // the Rust SDK (the wasm core) opens it: an independent reading of the JS's bytes
      const ks = await make({ token: () => env.tokens.reader, decrypt: { acceptPublicKeyEntries: true }, engine: 'wasm' });
      bytesEq(await ks.decrypt(sealed, { requireContext: CTX }), plaintext, 'the SDK opens it through the kms');
    });

    test(`format in JS (${E}): a message whose segments authenticate under its data key but whose commitment is not that key's is refused by both`, async () => {
      need();
      // §5: the commitment is checked before any segment; here it is the only thing wrong
      const dataKey = crypto.getRandomValues(new Uint8Array(32)), messageId = crypto.getRandomValues(new Uint8Array(32));
      const { bytes: contextBytes } = F.encodeContext(CTX);
      const authenticated = F.encodeAuthenticated({ suite: F.SUITE_AEAD, messageId, segmentSize: 64, contextBytes, commitment: crypto.getRandomValues(new Uint8Array(32)) });
      const headerHash = await engine.sha256(authenticated);
      const key = await F.payloadKey(engine, await F.dataKeyForSchedule(engine, dataKey), messageId, F.SUITE_AEAD, headerHash);
      const body = await F.sealBody(engine, key, enc.encode('segments that authenticate'), 64);
      const m = concat(authenticated, F.encodeSection([{ kind: 'kms', keyServiceId: 'acme', keyId: 'acme/default', wrapped: Uint8Array.of(1) }]), body);
      eq((await outcome(() => F.openWithDataKey(m, dataKey, { engine }))).code, 'DECRYPTION_FAILED', 'JS');
      eq((await outcome(() => lowLevel.openWithDataKey(m, dataKey))).code, 'DECRYPTION_FAILED', 'Rust');
    });

    test(`format in JS (${E}): random inputs seal to the same bytes in JS and in Rust, and each opens the other`, async () => {
      need();
      const g = generator(seed ^ 0x2a);
      const count = Math.round(DEFAULT_RANDOM_MESSAGES * scale);
      const alphabet = ['a', 'z', 'A', 'é', 'ß', '0', '-', '/', '😀', '中', ' ', 'k', 'ü', '\u00a0', '\ufeff'];
      const word = (min) => Array.from({ length: min + g.int(12) }, () => g.pick(alphabet)).join('');
      for (let i = 0; i < count; i++) {
        const context = {};
        for (let k = g.int(6); k > 0; k--) context[word(1)] = word(0);
        const entries = Array.from({ length: 1 + g.int(3) }, () => ({
          kind: g.pick(['kms', 'aws-kms', 'kacls', 'unknown']), keyServiceId: word(1), keyId: word(1), wrapped: g.bytes(1 + g.int(60)),
        }));
        const segmentSize = 64 + g.int(200);
        const plaintext = g.bytes(g.int(1200));
        const dataKey = g.bytes(32), messageId = g.bytes(32);
        const js = await F.sealWithDataKeyAssumingUniqueMessageId({ dataKey, messageId, segmentSize, context, entries, plaintext, engine });
        const rust = await lowLevel.sealWithDataKeyAssumingUniqueMessageId(dataKey, messageId, segmentSize, Object.entries(context),
          entries.map((e) => ({ kind: e.kind, key_service_id: e.keyServiceId, key_id: e.keyId, wrapped: toHex(e.wrapped) })), plaintext);
        eq(toHex(js), toHex(rust), `message ${i}: JS and Rust bytes`);
        bytesEq(await lowLevel.openWithDataKey(js, dataKey), plaintext, `message ${i}: Rust opens JS`);
        bytesEq(await F.openWithDataKey(rust, dataKey, { engine }), plaintext, `message ${i}: JS opens Rust`);
      }
      note(`random messages (${E})`, count);
    }, 60_000 * Math.max(1, scale));

    test(`format in JS (${E}): streams: sealed in pieces gives the whole seal's bytes, opened in pieces gives the plaintext, the negative vectors fail streamed with only whole authentic segments released`, async () => {
      need();
      const g = generator(seed ^ 0x57ea);
      for (const v of env.vectors.positive.vectors) {
        const signing = await signingOf(engine, v);
        const sealer = await F.StreamSealer.begin({ dataKey: hex(v.data_key), messageId: hex(v.message_id), segmentSize: v.segment_size, context: v.context, entries: vectorEntries(v), signing, engine });
        const pt = hex(v.plaintext);
        const parts = [sealer.header];
        for (let at = 0; at < pt.length;) { const n = 1 + g.int(150); parts.push(await sealer.push(pt.subarray(at, at + n))); at += n; }
        parts.push(await sealer.finish());
        const streamed = concat(...parts);
        const sig = v.signing_secret ? 64 : 0;
        eq(toHex(streamed.subarray(0, streamed.length - sig)), v.sealed.slice(0, v.sealed.length - 2 * sig), `${v.name}: streamed seal`);
        bytesEq(await lowLevel.openWithDataKey(streamed, hex(v.data_key)), pt, `${v.name}: the Rust opens the streamed seal`);
        const back = await openStreamedJs(F, engine, hex(v.sealed), hex(v.data_key), undefined, g);
        eq(back.code, undefined, `${v.name}: streamed open`);
        bytesEq(back.ok, pt, `${v.name}: streamed plaintext`);
      }
      let n = 0;
      for (const v of env.vectors.negative.vectors) {
        if (v.operation && v.operation !== 'open') continue;
        const requireContext = v.require_context ? Object.fromEntries(v.require_context) : undefined;
        const r = await openStreamedJs(F, engine, hex(v.sealed), hex(v.data_key), requireContext, g);
        eq(r.code, v.error, `${v.name}: streamed`);
        // what was released: whole authentic segments, a prefix of the message's plaintext
        const base = env.vectors.positive.vectors.find((p) => p.data_key === v.data_key);
        if (base) {
          eq(r.released.length % base.segment_size, 0, `${v.name}: whole segments`);
          eq(toHex(r.released), base.plaintext.slice(0, 2 * r.released.length), `${v.name}: a prefix of the plaintext`);
        }
        n++;
      }
      assert(n >= 25, `ran ${n} negative vectors streamed`);
    }, 60_000);

    test(`format in JS (${E}): differential open: JS openWithDataKey, whole and streamed, agrees with the package on mutated messages`, async () => {
      need();
      const g = generator(seed ^ 0x0be0);
      const count = Math.round(DEFAULT_OPEN_MUTATIONS * scale);
      const vs = env.vectors.positive.vectors;
      const tally = {};
      for (let i = 0; i < count; i++) {
        const v = vs[i % vs.length];
        const m = mutate(g, hex(v.sealed), v.header_len);
        const dk = hex(v.data_key);
        const require = g.int(3) === 0 && v.context.length ? { [v.context[0][0]]: g.int(2) ? v.context[0][1] : 'other' } : undefined;
        const rust = await outcome(() => lowLevel.openWithDataKey(m, dk, { requireContext: require }));
        const js = await outcome(() => F.openWithDataKey(m, dk, { requireContext: require, engine }));
        const streamed = await openStreamedJs(F, engine, m, dk, require, g);
        const where = `open mutation ${i} (seed ${seed}, vector ${v.name})`;
        eq(js.code, rust.code, `${where}: error code`);
        eq(streamed.code, rust.code, `${where}: error code, streamed`);
        if (rust.ok) bytesEq(js.ok, rust.ok, `${where}: plaintext`);
        if (rust.ok) bytesEq(streamed.ok, rust.ok, `${where}: plaintext, streamed`);
        tally[rust.code ?? 'opened'] = (tally[rust.code ?? 'opened'] ?? 0) + 1;
      }
      for (const c of ['opened', 'DECRYPTION_FAILED', 'INVALID_FORMAT']) assert(tally[c] > 0, `no mutation ended ${c}: ${JSON.stringify(tally)}`);
      note(`open mutations (${E})`, { seed, count, outcomes: tally });
    }, 120_000 * Math.max(1, scale));
  }

  test('format in JS: differential parse: JS parseHeader and headerLength agree with the Rust reference (lowLevel.referenceInspect) on mutated messages', async () => {
    need();
    const g = generator(seed);
    const count = Math.round(DEFAULT_PARSE_MUTATIONS * scale);
    const bases = env.vectors.positive.vectors.map((v) => ({ m: hex(v.sealed), headerLen: v.header_len }));
    const tally = {};
    for (let i = 0; i < count; i++) {
      const b = bases[i % bases.length];
      // half random byte mutations, half structure-aware ones (sometimes mutated further)
      let m;
      if (i % 2) m = mutate(g, b.m, b.headerLen);
      else { const st = structured(g, env.vectors.positive.vectors[i % bases.length], F); m = g.int(4) ? st.m : mutate(g, st.m, st.headerLen); }
      const rust = await outcome(async () => rustView(await lowLevel.referenceInspect(m)));
      const js = await outcome(() => jsView(F.parseHeader(m), m.length, F));
      const where = `mutation ${i} (seed ${seed}) of ${toHex(m.subarray(0, 48))}…`;
      eq(js.code, rust.code, `${where}: error code`);
      if (rust.ok) eq(canon(js.ok), canon(rust.ok), `${where}: fields`);
      // the header length from every prefix that matters: the first 11 bytes and up to auth_len + 4
      const cut = m.subarray(0, g.int(Math.min(m.length, b.headerLen + 8) + 1));
      const rl = await outcome(() => lowLevel.referenceHeaderLength(cut));
      const jl = await outcome(() => F.headerLength(cut));
      eq(JSON.stringify(jl), JSON.stringify(rl), `${where}: headerLength of ${cut.length} bytes`);
      tally[rust.code ?? 'accepted'] = (tally[rust.code ?? 'accepted'] ?? 0) + 1;
    }
    // the mutations reach every outcome of the parser, or the check is weaker than it looks
    for (const c of ['accepted', 'INVALID_FORMAT', 'LIMIT_EXCEEDED', 'UNSUPPORTED_VERSION', 'UNSUPPORTED_SUITE']) {
      assert(tally[c] > 0, `no mutation ended ${c}: ${JSON.stringify(tally)}`);
    }
    note('parse mutations', { seed, count, outcomes: tally });
  }, 120_000 * Math.max(1, scale));

}
