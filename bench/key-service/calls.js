// Key-service calls per encrypt with the data-key cache on (the default policy): one context for
// every record, or one context per record. Runtime-neutral; bench/run.mjs runs it in Node.

import { fill } from '../bytes.js';

/**
 * Key-service calls made by `count` encrypts of `size` bytes with the cache on (default policy).
 * `perRecordContext`: every record gets its own context. The key service binds the context into
 * the wrapped data key, so a cached data key serves only messages with the same context.
 */
export async function kmsCallsPerEncrypts(keyseal, kms, { count = 10000, size = 1024, perRecordContext = false } = {}) {
  let calls = 0;
  const ks = await keyseal.KeySeal.create({
    keyService: { id: 'bench', urls: [kms.url] }, keyId: kms.keyId, token: () => kms.token,
    onEvent: (e) => { if (e.type === 'kmsCall') calls++; },
  });
  const pt = fill(size);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    await ks.encrypt(pt, { context: perRecordContext ? { tenant: 'acme', record: String(i) } : { tenant: 'acme', table: 'records' } });
  }
  const ms = performance.now() - t0;
  const metricsCalls = Object.values(ks.metrics().keyService).reduce((n, m) => n + m.calls, 0);
  if (metricsCalls !== calls) throw new Error(`kmsCall events (${calls}) disagree with metrics (${metricsCalls})`);
  return { count, size, calls, perRecordContext, opsPerSec: count / (ms / 1000) };
}
