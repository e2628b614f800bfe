// The client-side SLIs of one instance (the d.ts `Metrics`; the Rust is src/metrics.rs and the
// observer of src/events.rs): fed by the instance's own events, read by `metrics()` and
// `metricsText()` (Prometheus text exposition).

/** Upper bounds (ms) of the latency histogram buckets. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000];
/** Latency samples kept per operation for the percentiles. */
const RECENT = 2048;

const bump = (o, k) => { o[k] = (o[k] ?? 0) + 1; };
const sortedKeys = (o) => Object.keys(o).sort();

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(Math.floor(p * (sorted.length - 1) + 0.5), sorted.length - 1)];
}

export class Observer {
  ops = {};
  cacheHits = 0;
  cacheMisses = 0;
  encryptOk = 0;
  encryptFailed = {};
  decryptOk = 0;
  decryptFailed = {};
  lastTimeToRevokeMs = null;
  #knownDisabled = new Set();

  /** Takes one event of the instance (the d.ts `KeySealEvent`). */
  record(e) {
    switch (e.type) {
      case 'kmsCall': {
        const s = (this.ops[e.op] ??= { calls: 0, errors: {}, buckets: LATENCY_BUCKETS_MS.map(() => 0), sumMs: 0, recent: [] });
        s.calls++;
        if (e.code) bump(s.errors, e.code);
        const b = LATENCY_BUCKETS_MS.findIndex((ub) => e.latencyMs <= ub);
        if (b >= 0) s.buckets[b]++;
        s.sumMs += e.latencyMs;
        if (s.recent.length === RECENT) s.recent.shift();
        s.recent.push(e.latencyMs);
        break;
      }
      case 'cacheHit': this.cacheHits++; break;
      case 'cacheMiss': this.cacheMisses++; break;
      case 'encrypt': if (e.ok) this.encryptOk++; else bump(this.encryptFailed, e.code); break;
      case 'decrypt': if (e.ok) this.decryptOk++; else bump(this.decryptFailed, e.code); break;
      default: break;
    }
  }

  /** A KEY_DISABLED refusal: the time to revoke, once per key until it works again. */
  keyDisabled(keyId, disabledAtUnixMs) {
    if (this.#knownDisabled.has(keyId)) return;
    this.#knownDisabled.add(keyId);
    if (typeof disabledAtUnixMs === 'number') this.lastTimeToRevokeMs = Math.max(0, Date.now() - disabledAtUnixMs);
  }

  keyWorked(keyId) {
    this.#knownDisabled.delete(keyId);
  }

  /** The d.ts `Metrics`. */
  snapshot() {
    const keyService = {};
    for (const op of sortedKeys(this.ops)) {
      const s = this.ops[op];
      const v = [...s.recent].sort((a, b) => a - b);
      keyService[op] = { calls: s.calls, errors: { ...s.errors }, p50Ms: percentile(v, 0.5), p95Ms: percentile(v, 0.95), p99Ms: percentile(v, 0.99) };
    }
    const lookups = this.cacheHits + this.cacheMisses;
    const failed = Object.values(this.decryptFailed).reduce((a, b) => a + b, 0);
    return {
      keyService, cacheHits: this.cacheHits, cacheMisses: this.cacheMisses,
      cacheHitRatio: lookups > 0 ? this.cacheHits / lookups : null,
      encryptOk: this.encryptOk, encryptFailed: { ...this.encryptFailed },
      decryptOk: this.decryptOk, decryptFailed: { ...this.decryptFailed },
      decryptSuccessRate: this.decryptOk + failed > 0 ? this.decryptOk / (this.decryptOk + failed) : null,
      lastTimeToRevokeMs: this.lastTimeToRevokeMs,
    };
  }

  /** Prometheus text exposition of the same figures. */
  text() {
    const o = [];
    o.push('# HELP keyseal_kms_requests_total Key-service HTTP attempts by operation and outcome.');
    o.push('# TYPE keyseal_kms_requests_total counter');
    for (const op of sortedKeys(this.ops)) {
      const s = this.ops[op];
      const errs = Object.values(s.errors).reduce((a, b) => a + b, 0);
      o.push(`keyseal_kms_requests_total{op="${op}",outcome="ok"} ${s.calls - errs}`);
      for (const code of sortedKeys(s.errors)) o.push(`keyseal_kms_requests_total{op="${op}",outcome="${code}"} ${s.errors[code]}`);
    }
    o.push('# HELP keyseal_kms_request_duration_seconds Key-service attempt latency.');
    o.push('# TYPE keyseal_kms_request_duration_seconds histogram');
    for (const op of sortedKeys(this.ops)) {
      const s = this.ops[op];
      let cum = 0;
      LATENCY_BUCKETS_MS.forEach((ub, k) => { cum += s.buckets[k]; o.push(`keyseal_kms_request_duration_seconds_bucket{op="${op}",le="${ub / 1000}"} ${cum}`); });
      o.push(`keyseal_kms_request_duration_seconds_bucket{op="${op}",le="+Inf"} ${s.calls}`);
      o.push(`keyseal_kms_request_duration_seconds_sum{op="${op}"} ${s.sumMs / 1000}`);
      o.push(`keyseal_kms_request_duration_seconds_count{op="${op}"} ${s.calls}`);
    }
    o.push('# TYPE keyseal_cache_lookups_total counter');
    o.push(`keyseal_cache_lookups_total{outcome="hit"} ${this.cacheHits}`);
    o.push(`keyseal_cache_lookups_total{outcome="miss"} ${this.cacheMisses}`);
    for (const [name, ok, failed] of [['encrypt', this.encryptOk, this.encryptFailed], ['decrypt', this.decryptOk, this.decryptFailed]]) {
      o.push(`# TYPE keyseal_${name}_total counter`);
      o.push(`keyseal_${name}_total{outcome="ok"} ${ok}`);
      for (const code of sortedKeys(failed)) o.push(`keyseal_${name}_total{outcome="${code}"} ${failed[code]}`);
    }
    if (this.lastTimeToRevokeMs !== null) {
      o.push('# TYPE keyseal_last_time_to_revoke_seconds gauge');
      o.push(`keyseal_last_time_to_revoke_seconds ${this.lastTimeToRevokeMs / 1000}`);
    }
    return `${o.join('\n')}\n`;
  }
}
