// keyseal beside its peers, side by side in one process: raw WebCrypto (the limit), keyseal with
// each engine, the AWS Encryption SDK (browser and Node clients, raw AES keyring) and typage.
// Runtime-neutral: bench/run.mjs imports it in Node, and the bench page imports it in Chromium.
// Every subject is { name, note, seal(pt) → sealed, open(sealed) → pt }; nothing here asserts a
// time (the numbers are written to docs/BENCHMARKS.md, never compared in a test).

import { MiB, fill } from '../bytes.js';

/**
 * libs: { keyseal, format?, formatEngine?, esdkBrowser?, esdkNode?, age? } (modules; `formatEngine`:
 * the format's engine, its WebCrypto one by default); kms: { url, token, keyId }.
 * Only subjects whose library is present are built (client-node exists only in Node).
 */
export async function makeSubjects(libs, kms) {
  const subjects = [];
  const context = { tenant: 'acme', purpose: 'bench' };

  // The limit: AES-256-GCM straight from crypto.subtle, one call per MiB, one key, fresh IVs.
  const rawKey = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
  subjects.push({
    name: 'raw WebCrypto',
    note: 'AES-256-GCM via crypto.subtle in 1 MiB calls (no format, no key management): the limit',
    async seal(pt) {
      const out = [];
      for (let i = 0; i < pt.length || i === 0; i += MiB) {
        const iv = crypto.getRandomValues(new Uint8Array(12));
        out.push({ iv, ct: new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, rawKey, pt.subarray(i, i + MiB))) });
      }
      return out;
    },
    async open(sealed) {
      const parts = [];
      for (const { iv, ct } of sealed) parts.push(new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, rawKey, ct)));
      return parts.length === 1 ? parts[0] : concat(parts);
    },
  });

  for (const engine of ['auto', 'webcrypto', 'wasm']) {
    const ks = await libs.keyseal.KeySeal.create({
      keyService: { id: 'bench', urls: [kms.url] }, keyId: kms.keyId, token: () => kms.token, engine,
    });
    subjects.push({
      name: `keyseal (${engine})`,
      note: engine === 'auto' ? 'default engine: from 16 KiB node:crypto in Node, crypto.subtle in browsers; wasm below; data key cached (default cache)' : `engine forced to ${engine}; data key cached`,
      ks,
      seal: (pt) => ks.encrypt(pt, { context }),
      open: (sealed) => ks.decrypt(sealed),
    });
  }

  // Design C's format in JS (js/src/format, docs/DESIGN.md), not yet what the package runs: a data
  // key in hand, no key service and no SDK policy, so the ceiling of what C can reach, per message
  // as the SDK makes one (fresh message id, 64 KiB segments, one kms-sized entry).
  if (libs.format) {
    const F = libs.format;
    const engine = libs.formatEngine ?? F.webcryptoEngine;
    const dataKey = crypto.getRandomValues(new Uint8Array(32));
    const entries = [{ kind: 'kms', keyServiceId: 'bench', keyId: kms.keyId, wrapped: crypto.getRandomValues(new Uint8Array(97)) }];
    subjects.push({
      name: 'format in JS (design C)',
      note: `js/src/format on its ${engine.name} engine, a data key in hand (no key service, no cache, no policy); not yet in the package`,
      seal: (pt) => F.sealWithDataKeyAssumingUniqueMessageId({
        dataKey, messageId: crypto.getRandomValues(new Uint8Array(32)), segmentSize: 64 * 1024, context, entries, plaintext: pt, engine,
      }),
      open: (sealed) => F.openWithDataKey(sealed, dataKey, { engine }),
    });
  }

  if (libs.esdkBrowser) {
    const e = libs.esdkBrowser;
    const client = e.buildClient(e.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const wrappingSuite = e.RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING;
    const masterKey = await e.RawAesKeyringWebCrypto.importCryptoKey(crypto.getRandomValues(new Uint8Array(32)), wrappingSuite);
    const keyring = new e.RawAesKeyringWebCrypto({ keyName: 'bench', keyNamespace: 'bench', wrappingSuite, masterKey });
    subjects.push({
      name: 'ESDK browser 0x0578',
      note: '@aws-crypto/client-browser, default suite (AES-256-GCM, HKDF-SHA512, key commitment, ECDSA P-384 signature), default 4 KiB frames, raw AES keyring (no network)',
      seal: async (pt) => (await client.encrypt(keyring, pt, { encryptionContext: context })).result,
      open: async (ct) => (await client.decrypt(keyring, ct)).plaintext,
    });
    const suiteId = e.AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;
    subjects.push({
      name: 'ESDK browser 0x0478, 1 MiB frames',
      note: '@aws-crypto/client-browser, suite 0x0478 (no signature), 1 MiB frames: its best case; raw AES keyring',
      seal: async (pt) => (await client.encrypt(keyring, pt, { encryptionContext: context, suiteId, frameLength: MiB })).result,
      open: async (ct) => (await client.decrypt(keyring, ct)).plaintext,
    });
  }

  if (libs.esdkNode) {
    const e = libs.esdkNode;
    const client = e.buildClient(e.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const keyring = new e.RawAesKeyringNode({
      keyName: 'bench', keyNamespace: 'bench', unencryptedMasterKey: crypto.getRandomValues(new Uint8Array(32)),
      wrappingSuite: e.RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    });
    subjects.push({
      name: 'ESDK node 0x0578',
      note: '@aws-crypto/client-node (OpenSSL), default suite and 4 KiB frames, raw AES keyring',
      seal: async (pt) => (await client.encrypt(keyring, pt, { encryptionContext: context })).result,
      open: async (ct) => (await client.decrypt(keyring, ct)).plaintext,
    });
  }

  if (libs.age) {
    const identity = await libs.age.generateX25519Identity();
    const recipient = await libs.age.identityToRecipient(identity);
    const enc = new libs.age.Encrypter();
    enc.addRecipient(recipient);
    const dec = new libs.age.Decrypter();
    dec.addIdentity(identity);
    subjects.push({
      name: 'typage (age)',
      note: 'age-encryption: X25519 recipient, ChaCha20-Poly1305 STREAM in 64 KiB chunks (pure JS)',
      seal: (pt) => enc.encrypt(pt),
      open: (ct) => dec.decrypt(ct),
    });
  }
  return subjects;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const summary = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length });

/**
 * Throughput of every subject for each payload size, `runs` times, interleaved (run 1 of every
 * subject, then run 2, ...) so that drift on a shared machine hits all subjects alike.
 * Small payloads: repeat for `budgetMs` per run and report operations/s; large: `perRun` ops.
 * The first seal/open of each (subject, size) is a warm-up and checks the round trip.
 */
export async function measureThroughput(subjects, { sizes, runs = 5, budgetMs = 300, log = () => {} }) {
  const results = {};
  for (const size of sizes) {
    const pt = fill(size);
    const sealed = new Map();
    for (const s of subjects) {
      const ct = await s.seal(pt);
      const back = await s.open(ct);
      if (back.length !== pt.length || back[0] !== pt[0] || back[size - 1] !== pt[size - 1]) throw new Error(`${s.name}: round trip failed at ${size} B`);
      sealed.set(s.name, ct);
    }
    const samples = {};
    for (let run = 0; run < runs; run++) {
      for (const s of subjects) {
        for (const op of ['seal', 'open']) {
          const f = op === 'seal' ? () => s.seal(pt) : () => s.open(sealed.get(s.name));
          let n = 0;
          const t0 = performance.now();
          let t = t0;
          do { await f(); n++; t = performance.now(); } while (t - t0 < budgetMs && size < 8 * MiB);
          const secs = (t - t0) / 1000;
          const key = `${s.name}|${op}`;
          (samples[key] ??= { ops: [], mbps: [] });
          samples[key].ops.push(n / secs);
          samples[key].mbps.push((n * size) / secs / 1e6);
        }
      }
      log(`size ${size} B: run ${run + 1}/${runs} done`);
    }
    results[size] = {};
    for (const [key, v] of Object.entries(samples)) results[size][key] = { ops: summary(v.ops), mbps: summary(v.mbps) };
  }
  return results;
}
