// Tracing end to end (issue 20): the SDK sends a W3C `traceparent` (the `traceparent` option) to the
// real primary keyseal-kms, which the harness started with `--otlp-endpoint` pointing at an OTLP
// receiver that decodes with the official OpenTelemetry proto definitions
// (kms/tests/support/otlp_receiver.py). The receiver must see one span per key-service request,
// in the SDK's trace, each the child of the span id the SDK reported in its kmsCall event.

import { assert, eq, toHex, randomBytes, uid } from './support.js';

export default function register({ test, make, env, CTX }) {
  /** The spans of `traceId` once there are at least `n` (the kms exports in batches). */
  async function spansOf(traceId, n) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await fetch(`${env.controlUrl}/otlp/spans?trace_id=${traceId}`);
      const j = await r.json();
      if (r.status !== 200) throw new Error(`otlp control: ${r.status} ${JSON.stringify(j)}`);
      eq(j.rejected.length, 0, `exports the official proto decoder refused: ${JSON.stringify(j.rejected)}`);
      if (j.spans.length >= n || Date.now() > deadline) return j.spans;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  test('tracing: with a traceparent, the key service exports one span per request over OTLP, in the SDK trace, parented to the span id of each kmsCall event', async () => {
    const traceId = toHex(randomBytes(16));
    const parent = toHex(randomBytes(8));
    const events = [];
    const ks = await make({ cache: false, traceparent: () => `00-${traceId}-${parent}-01` }, events);
    const context = { ...CTX, object: `traced-${uid()}` };
    const sealed = await ks.encrypt(`traced in ${env.runtime}`, { context });
    eq(await ks.decryptText(sealed, { requireContext: context }), `traced in ${env.runtime}`, 'round trip');
    const calls = events.filter((e) => e.type === 'kmsCall');
    const ops = calls.map((e) => e.op);
    assert(ops.some((o) => o.startsWith('generate')) && ops.includes('unwrap'), `a generate and an unwrap were sent: ${ops}`);
    for (const e of calls) {
      assert(e.ok, `${e.op} succeeded`);
      eq(e.traceId, traceId, `${e.op}: the event's trace id`);
    }
    const spans = await spansOf(traceId, calls.length);
    eq(spans.length, calls.length, `one span per key-service request (${ops}): ${JSON.stringify(spans.map((s) => s.name))}`);
    for (const e of calls) {
      const mine = spans.filter((s) => s.parent_span_id === e.spanId);
      eq(mine.length, 1, `${e.op}: one span whose parent is the SDK's span ${e.spanId}`);
      const s = mine[0];
      eq(s.trace_id, traceId, `${e.op}: trace id`);
      eq(s.name, `keyseal.${e.op}`, 'span name');
      eq(s.kind, 2, 'SPAN_KIND_SERVER');
      eq(s.resource['service.name'], 'keyseal-kms', 'resource service.name');
      eq(s.attributes['keyseal.op'], e.op, 'op attribute');
      eq(s.attributes['keyseal.key_id'], 'acme/default', 'key id attribute');
      eq(s.attributes['keyseal.tenant'], 'acme', 'tenant attribute');
      eq(s.attributes['keyseal.outcome'], 'ok', 'outcome attribute');
      for (const t of ['keyseal.token_check_us', 'keyseal.store_us', 'keyseal.crypto_us']) {
        assert(Number.isInteger(s.attributes[t]) && s.attributes[t] >= 0, `${t}: ${s.attributes[t]}`);
      }
      const text = JSON.stringify(s);
      assert(!text.includes(env.tokens.writer.split('.')[2]), 'no token in the span');
    }
  }, 30_000);
}
