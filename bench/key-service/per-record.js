// Per-record contexts: every encrypt binds its own context (say the object id), so every encrypt
// needs its own data key — one `/generate` round trip each. Measured per P-256 engine (the
// recipient key of each call), one after another, with several encrypts in flight, and all at
// once (a bulk encrypt).
// Runtime-neutral; bench/run.mjs runs it in Node (with client CPU) and in Chromium.

import { fill } from '../bytes.js';

/** Node's CPU time of this process in ms (`{ user, system }`), or `undefined` elsewhere. */
function cpuMs() {
  const p = globalThis.process;
  if (!p || typeof p.cpuUsage !== 'function') return undefined;
  const u = p.cpuUsage();
  return { user: u.user / 1000, system: u.system / 1000 };
}

/**
 * `count` encrypts of `size` bytes, each under its own context, for each engine in `engines`:
 * `{ engine, sequential: { opsPerSec, cpuMsPerCall? }, concurrent: { inFlight, opsPerSec }, bulk: { opsPerSec } }`.
 */
export async function perRecordContexts(keyseal, kms, { count = 1000, size = 1024, inFlight = 16, engines = ['wasm', 'webcrypto'] } = {}) {
  const pt = fill(size);
  const out = [];
  for (const p256 of engines) {
    // As a new user would configure it: no event listener (the call count comes from metrics()).
    const ks = await keyseal.KeySeal.create({
      keyService: { id: 'bench', urls: [kms.url] }, keyId: kms.keyId, token: () => kms.token, p256,
    });
    const callsSoFar = () => Object.values(ks.metrics().keyService).reduce((n, op) => n + op.calls, 0);
    if (ks.p256Engine() !== p256) throw new Error(`asked for ${p256}, got ${ks.p256Engine()}`);
    let n = 0;
    const one = () => ks.encrypt(pt, { context: { tenant: 'acme', record: `${p256}-${n++}` } });
    for (let i = 0; i < 100; i++) await one(); // warm-up: JIT and the wasm tier-up, connections
    const calls0 = callsSoFar();
    const c0 = cpuMs();
    let t0 = performance.now();
    for (let i = 0; i < count; i++) await one();
    const seqMs = performance.now() - t0;
    const c1 = cpuMs();
    const calls = callsSoFar() - calls0;
    if (calls !== count) throw new Error(`${p256}: ${calls} key-service calls for ${count} per-record encrypts`);
    t0 = performance.now();
    let next = 0;
    const worker = async () => { while (next++ < count) await one(); };
    await Promise.all(Array.from({ length: inFlight }, worker));
    const concMs = performance.now() - t0;
    // A bulk encrypt: all `count` started at once (Promise.all over the records, as an app
    // encrypting a table for upload would); the SDK batches them, up to 50 contexts a request.
    t0 = performance.now();
    await Promise.all(Array.from({ length: count }, one));
    const bulkMs = performance.now() - t0;
    out.push({
      engine: p256,
      // docs/DESIGN.md design C: a P-256 choice other than the platform engine's runs the instance
      // on the Rust core in wasm
      sdk: ks.engineFor(size) === 'wasm' ? 'Rust core in wasm' : 'SDK in JS',
      count,
      size,
      sequential: {
        opsPerSec: count / (seqMs / 1000),
        // process CPU (all threads) per encrypt: user (JS, wasm, OpenSSL) and system (the kernel,
        // which on loopback also runs the receiving side of each TCP send)
        cpuMsPerCall: c0 === undefined ? undefined : (c1.user - c0.user + c1.system - c0.system) / count,
        userMsPerCall: c0 === undefined ? undefined : (c1.user - c0.user) / count,
        systemMsPerCall: c0 === undefined ? undefined : (c1.system - c0.system) / count,
      },
      concurrent: { inFlight, opsPerSec: count / (concMs / 1000) },
      bulk: { opsPerSec: count / (bulkMs / 1000) },
    });
  }
  return out;
}
