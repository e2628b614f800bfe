// The shared test vectors (tests/vectors, docs/FORMAT.md §10), opened and re-sealed through the
// package's low-level data-key functions.

import { assert, eq, bytesEq, hex, toHex, pairsToObject, sortedObject } from './support.js';

export default function register({ test, lowLevel, inspect, rejects, E, env }) {
  test('positive vectors: open with the data key and re-seal byte for byte', async () => {
    const vs = env.vectors.positive.vectors;
    assert(vs.length >= 10, 'vectors present');
    for (const v of vs) {
      const sealed = hex(v.sealed);
      const pt = await lowLevel.openWithDataKey(sealed, hex(v.data_key));
      bytesEq(pt, hex(v.plaintext), `${v.name}: plaintext`);
      // signed vectors (suite 2) give their signing key: RFC 6979 signatures re-seal identically
      const again = await lowLevel.sealWithDataKeyAssumingUniqueMessageId(
        hex(v.data_key), hex(v.message_id), v.segment_size, v.context, v.entries, hex(v.plaintext), { signingSecret: v.signing_secret });
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
}
