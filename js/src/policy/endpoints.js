// The resilient call of every key-service kind (docs/DESIGN.md "Timeouts and retries"; the Rust
// is src/endpoints.rs, retry.rs, breaker.rs): the URL list in order with a circuit breaker per URL,
// a per-attempt timeout, an overall deadline, rounds with full-jitter backoff, `Retry-After` on
// throttling, and a `kmsCall` event per attempt. What an answer means is the kind's business:
// `classify(status, json)` gives the error of a non-2xx answer and whether to retry it.

import { KmsUnavailableError, ProtocolError, TimeoutError } from '../errors.js';
import { childOf, newSpanId } from './trace.js';

/** RetryOptions of the d.ts, with its defaults. */
export const RETRY_DEFAULTS = Object.freeze({
  attemptTimeoutMs: 5_000, deadlineMs: 15_000, maxRounds: 3, backoffBaseMs: 50, backoffMaxMs: 2_000,
  breakerThreshold: 5, breakerCooldownMs: 10_000,
});

/** Whether and where a refused attempt may be tried again. */
export const Retry = Object.freeze({ NEVER: 'never', SAME_URL: 'same-url', NEXT_URL: 'next-url' });

const now = () => performance.now();

/** A network failure in words, its cause included (fetch says only "fetch failed"; undici keeps why). */
function describeNetworkError(e) {
  const parts = [e?.message ?? String(e)];
  for (let c = e?.cause, n = 0; c && n < 3; c = c.cause, n++) parts.push(c.code ?? c.message ?? String(c));
  return parts.filter(Boolean).join(': ');
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A full-jitter wait before round `round + 1`: uniform in 0 … min(max, base · 2^round). */
function backoffMs(p, round) {
  const ceiling = Math.min(p.backoffMaxMs, p.backoffBaseMs * 2 ** Math.min(round, 20));
  return Math.floor(Math.random() * (ceiling + 1));
}

/** Closed; open after `breakerThreshold` consecutive failures; one half-open probe after the cooldown. */
class Breaker {
  failures = 0;
  openUntil = null;
  probing = false;
  allow(t) {
    if (this.openUntil === null) return true;
    if (t >= this.openUntil && !this.probing) { this.probing = true; return true; }
    return false;
  }
  success() { this.failures = 0; this.openUntil = null; this.probing = false; }
  /** Returns true when this failure opened the circuit. */
  failure(t, p) {
    this.failures++;
    const wasOpen = this.openUntil !== null;
    if (this.probing || this.failures >= p.breakerThreshold) {
      this.openUntil = t + p.breakerCooldownMs;
      this.probing = false;
      return !wasOpen;
    }
    return false;
  }
}

/**
 * One key service's URLs: `new Endpoints({ service, urls, retry?, fetch?, onEvent? })`.
 * `call({ op, path, body, classify })` → the parsed JSON of the first 2xx answer, or the error
 * that ended the call, carrying `service`, `op` and `status`.
 */
export class Endpoints {
  constructor({ service, urls, retry, fetch, onEvent, traceparent }) {
    if (!Array.isArray(urls) || urls.length === 0) throw new TypeError('a key service needs at least one URL');
    this.service = service;
    this.policy = { ...RETRY_DEFAULTS, ...retry };
    this.list = urls.map((u) => ({ base: String(u).replace(/\/+$/, ''), breaker: new Breaker() }));
    this.fetch = fetch ?? ((...a) => globalThis.fetch(...a));
    this.onEvent = onEvent ?? (() => {});
    this.traceparent = traceparent;
  }

  async call(call) {
    const p = this.policy;
    const deadline = now() + p.deadlineMs;
    const maxAttempts = Math.max(1, p.maxRounds) * this.list.length + 4;
    // the error of the last failed attempt (made only when one fails: an Error costs its stack)
    const state = { attempts: 0, last: null };
    for (let round = 0; round < Math.max(1, p.maxRounds); round++) {
      if (round > 0) {
        const wait = backoffMs(p, round - 1);
        if (now() + wait >= deadline) break;
        await sleep(wait);
      }
      for (let i = 0; i < this.list.length;) {
        const step = await this.#tryUrl(call, i, round, deadline, maxAttempts, state);
        if (step.done) {
          if (step.error) throw step.error;
          return step.value;
        }
        if (step.next) i++;
      }
    }
    if (now() >= deadline) throw this.#deadline(call);
    throw state.last ?? this.#unavailable(call, 'no key-service URL could be tried');
  }

  #details(call, status) {
    return { service: this.service, op: call.op, status: status ?? null };
  }
  #unavailable(call, message, cause) {
    return new KmsUnavailableError(`${this.service}: ${message}`, cause === undefined ? undefined : { cause }, this.#details(call));
  }
  #deadline(call) {
    return new TimeoutError(`${this.service}: ${call.op}: deadline of ${this.policy.deadlineMs} ms passed`, undefined, this.#details(call));
  }

  async #tryUrl(call, i, round, deadline, maxAttempts, state) {
    const ep = this.list[i];
    const t0 = now();
    if (!ep.breaker.allow(t0)) {
      state.last = this.#unavailable(call, `circuit open for ${ep.base}`);
      return { next: true };
    }
    const remaining = deadline - t0;
    if (remaining <= 0) return { done: true, error: this.#deadline(call) };
    const limit = Math.ceil(Math.min(this.policy.attemptTimeoutMs, remaining));
    const attempt = ++state.attempts;
    const init = { method: call.body ? 'POST' : 'GET', redirect: 'manual', signal: AbortSignal.timeout(limit), headers: {} };
    if (call.body) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(call.body); }
    if (call.rawBody !== undefined) { init.method = 'POST'; init.body = call.rawBody; }
    // a kind whose requests are signed over the URL and the time (AWS SigV4) signs each attempt
    if (call.sign) Object.assign(init.headers, await call.sign(`${ep.base}/${call.path}`));
    // the caller's trace context, asked at each attempt; a malformed one sends nothing
    let span = null;
    if (typeof this.traceparent === 'function') {
      try { span = childOf(this.traceparent(), newSpanId()); } catch { span = null; }
      if (span) init.headers.traceparent = span.header;
    }
    let res, text, failure, retry, retryAfterMs;
    try {
      res = await this.fetch(`${ep.base}/${call.path}`, init);
      text = await res.text();
    } catch (e) {
      const timedOut = e?.name === 'TimeoutError' || e?.name === 'AbortError';
      failure = timedOut
        ? new TimeoutError(`${this.service}: ${call.op} to ${ep.base} timed out after ${limit} ms`, { cause: e }, this.#details(call))
        : this.#unavailable(call, `${call.op} to ${ep.base}: ${describeNetworkError(e)}`, e);
      retry = Retry.NEXT_URL;
    }
    const latencyMs = now() - t0;
    if (!failure) {
      let json = null;
      try { json = JSON.parse(text); } catch { /* classified below */ }
      if (res.status >= 200 && res.status < 300) {
        ep.breaker.success();
        if (!json || typeof json !== 'object') {
          const error = new ProtocolError(`${this.service}: ${call.op} answer is not a JSON object`, undefined, this.#details(call, res.status));
          this.#record(call, ep, res.status, error.code, latencyMs, attempt, span);
          return { done: true, error };
        }
        this.#record(call, ep, res.status, null, latencyMs, attempt, span);
        return { done: true, value: json };
      }
      ({ error: failure, retry } = call.classify(res.status, json, this.#details(call, res.status)));
      const ra = Number(res.headers.get('retry-after'));
      retryAfterMs = Number.isFinite(ra) && ra >= 0 && res.headers.get('retry-after') !== null ? ra * 1000 : undefined;
    }
    this.#record(call, ep, res?.status ?? null, failure.code, latencyMs, attempt, span);
    if (retry === Retry.NEVER) {
      ep.breaker.success();
      return { done: true, error: failure };
    }
    if (retry === Retry.SAME_URL) {
      ep.breaker.success();
      const wait = retryAfterMs ?? backoffMs(this.policy, round);
      state.last = failure;
      if (now() + wait >= deadline || state.attempts >= maxAttempts) return { done: true, error: failure };
      await sleep(wait);
      return {};
    }
    if (ep.breaker.failure(now(), this.policy)) this.onEvent({ type: 'circuitOpen', service: this.service, url: ep.base });
    state.last = failure;
    return { next: true };
  }

  #record(call, ep, status, code, latencyMs, attempt, span) {
    this.onEvent({
      type: 'kmsCall', service: this.service, url: ep.base, op: call.op, ok: code === null, code, status, latencyMs, attempt,
      traceId: span?.traceId ?? null, spanId: span?.spanId ?? null,
    });
  }
}
