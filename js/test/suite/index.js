// keyseal JS test suite, run unchanged in Node, Deno, Bun, workerd, a Chromium page and a Chromium
// dedicated Worker. It uses only globals every one of them has (fetch, TextEncoder, TextDecoder,
// crypto.getRandomValues, setTimeout, Date) and talks only to loopback servers the harness
// (js/test/harness.mjs) started: two real `keyseal-kms --dev` processes (primary, escrow), a
// misbehaving "fault" server and a control endpoint (disable/enable keys on the real kms).
//
// The tests live in one file per area (this folder); this module assembles them in a fixed order
// and runs them one after the other.
//
// `run(keyseal, env, { format, formatNodeEngine, policy })` → `{ runtime, passed, failed, failures, tests, sealed, notes }`.
// `keyseal` is the package's module namespace (KeySeal, inspect, headerLength, lowLevel, the error
// classes, ERROR_CODES, …) as the runtime's entry point exports it.
// `format` is js/src/format/index.js (the format in JS, not yet part of the package's entries),
// `policy` js/src/policy/index.js (the SDK policy in JS, being built), `formatNodeEngine` the
// format's node:crypto engine (Node and Bun).
// `env` (built by the harness):
//   runtime                 name of this runtime (node, deno, bun, workerd, chromium, chromium-worker)
//   kmsUrl, escrowUrl       base URLs (…/v1) of the primary and escrow key services
//   closedUrl               a base URL on a loopback port nothing listens on (connection refused)
//   faultUrl                the fault server; `${faultUrl}/<mode>/<id>/v1` (modes: hang, flaky500,
//                           429, garbage, plaintext, hpke, random, proxy)
//   controlUrl              `POST ${controlUrl}/disable|enable?key=…` (the -revoke keys) and
//                           `/create|rotate?key=acme/<name>-rotate` on the primary kms;
//                           `GET ${controlUrl}/otlp/spans?trace_id=HEX`: the spans the primary
//                           exported to the harness's OTLP receiver (support/otlp.mjs)
//   tokens                  { writer, reader, globex, dev } JWTs valid at both services
//   aws                     { region, noauth: { url, keys }, auth: { url, keys, accessKeyId, secretAccessKey } }:
//                           moto's AWS KMS servers (js/test/support/moto.mjs); keys: main, next, escrow, revoke[runtime]
//   revokeKeyId             a key of tenant acme dedicated to this runtime (disabled by one test)
//   vectors                 { positive, negative } = tests/vectors/*.json, parsed
//   cross                   optional { runtime: base64 } → run only the cross-runtime open tests
//   nothingLostCount        optional, encrypts in the "nothing lost" test (default 200)
//   only                    optional regex: run only the tests whose name matches
//   formatSeed, formatDiffScale  optional: the differential check's seed and a factor on its counts
//   implementation          optional 'wasm': every instance on the Rust core in wasm (scripts/wasm-core-test.sh)

import { suiteContext, withTimeout } from './support.js';
import roundTrips from './round-trips.js';
import errors from './errors.js';
import vectors from './vectors.js';
import keyServices from './key-services.js';
import streams from './streams.js';
import ranges from './ranges.js';
import rotation from './rotation.js';
import engines from './engines.js';
import trust from './trust.js';
import firstHour from './first-hour.js';
import awsKms from './aws-kms.js';
import kacls from './kacls.js';
import tracing from './tracing.js';
import formatJs from './format-js.js';
import policyJs from './policy-js.js';
import { openOthers, sealForOthers } from './cross-runtime.js';

/** The areas of the main phase, in the order they run. */
const AREAS = [roundTrips, errors, vectors, formatJs, policyJs, keyServices, streams, ranges, rotation, engines, trust, firstHour, awsKms, kacls, tracing, sealForOthers];

export async function run(keyseal, env, modules = {}) {
  // `modules.format`: js/src/format (the format in JS), loaded by the runner beside the package;
  // `modules.formatNodeEngine`: its node:crypto engine (Node and Bun only)
  // `modules.policy`: js/src/policy (the SDK policy in JS; its pieces are tested directly)
  env = { ...env, formatModule: modules.format, formatNodeEngine: modules.formatNodeEngine, policyModule: modules.policy };
  // `env.implementation === 'wasm'` (scripts/wasm-core-test.sh, in make test): the whole suite
  // with every instance on the Rust core in wasm (`engine: 'wasm'` unless a test names its
  // engine), the path of runtimes without crypto.subtle, held to the same d.ts as the SDK in JS
  if (env.implementation === 'wasm') {
    const Base = keyseal.KeySeal;
    keyseal = { ...keyseal, KeySeal: class extends Base { static create(o) { return Base.create({ engine: 'wasm', ...o }); } } };
  }
  const results = { runtime: env.runtime, passed: 0, failed: 0, failures: [], tests: [], sealed: null, notes: {} };
  const tests = [];
  const s = suiteContext(keyseal, env, results, tests);
  // The cross-runtime phase opens every other runtime's message and nothing else.
  for (const register of env.cross ? [openOthers] : AREAS) register(s);

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
