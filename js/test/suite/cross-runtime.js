// Cross-runtime: each runtime seals one message in the main phase; in the cross phase every
// runtime opens every other runtime's message (the harness passes them as env.cross, and the
// native Rust opener examples/open_sealed.rs opens them too).

import { eq, bytesEq, toB64, fromB64, crossText } from './support.js';

/** Main phase, last test: seal a message whose context names this runtime. */
export function sealForOthers({ test, make, env, results }) {
  test('cross-runtime: seal a message for the other runtimes', async () => {
    const ks = await make();
    const sealed = await ks.encrypt(crossText(env.runtime), { context: { tenant: 'acme', purpose: 'cross-runtime', from: env.runtime } });
    eq(await ks.decryptText(sealed), crossText(env.runtime), 'self');
    results.sealed = toB64(sealed);
    bytesEq(fromB64(results.sealed), sealed, 'base64 round trip');
  });
}

/** Cross phase: open the message of every other runtime. */
export function openOthers({ test, make, rejects, inspect, env, E }) {
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
}
