// Header-only rotation (FORMAT.md §4.4; the Rust is src/rotation.rs and src/rewrap_memo.rs): every
// entry of a configured key service re-wrapped by that service (no data key leaves it), the
// primary's moved to `toKeyId` when given; a header is never half rotated. Questions are asked
// once per round (entries of messages sealed under one cached data key are the same question) and
// remembered for the cache's maxAgeMs, keyed by the SHA-256 of every length-prefixed field of the
// question, so an answer is reused only for the identical question (SECURITY.md, storage provider).

import { InvalidArgumentError, NoUsableEntryError } from '../errors.js';
import { concat, toHex as hex } from '../format/crypto.js';
import { ENTRY_KINDS, encodeSection, parseHeader } from '../format/header.js';
import { entryVersion } from './header-info.js';

/** Questions per `/rewrap-batch` request; a service's requests of one round are sent together. */
export const REWRAP_BATCH_MAX = 100;

/** Writes `n` (a whole number below 2^53: a service index, a length) as a big-endian u64 at `at`. */
function putU64(b, at, n) {
  const hi = Math.floor(n / 0x100000000), lo = n >>> 0;
  b[at] = hi >>> 24; b[at + 1] = hi >>> 16; b[at + 2] = hi >>> 8; b[at + 3] = hi;
  b[at + 4] = lo >>> 24; b[at + 5] = lo >>> 16; b[at + 6] = lo >>> 8; b[at + 7] = lo;
  return at + 8;
}
const encoder = new TextEncoder();
/** UTF-8 of key ids: a rotation asks about few, once per entry of every header. */
const keyIdBytes = new Map();
const utf8 = (s) => {
  let b = keyIdBytes.get(s);
  if (!b) {
    b = encoder.encode(s);
    if (keyIdBytes.size < 1024) keyIdBytes.set(s, b);
  }
  return b;
};

/**
 * The digest of a rewrap question: SHA-256 over u64 service index ‖ kind byte ‖ (u64 length ‖
 * bytes) of the key id, the wrapped key and the context ‖ 0x01 ‖ target or 0x00. Written into
 * one buffer (it runs once per entry of every header of a round).
 */
export async function questionDigest(engine, service, e, contextBytes, to) {
  const keyId = utf8(e.keyId);
  const target = to === undefined ? null : utf8(to);
  const m = new Uint8Array(8 + 1 + 8 + keyId.length + 8 + e.wrapped.length + 8 + contextBytes.length + 1 + (target ? target.length : 0));
  let at = putU64(m, 0, service);
  m[at++] = e.kindByte ?? ENTRY_KINDS[e.kind];
  for (const f of [keyId, e.wrapped, contextBytes]) {
    at = putU64(m, at, f.length);
    m.set(f, at);
    at += f.length;
  }
  m[at++] = target ? 1 : 0;
  if (target) m.set(target, at);
  return hex(await engine.sha256(m));
}

/** Remembered rewrap answers, oldest first, within the cache's `maxAgeMs` and `maxEntries`. */
export class RewrapMemo {
  constructor(config, now) { this.config = config; this.now = now; this.map = new Map(); }
  get(d) {
    const r = this.map.get(d);
    if (!r) return undefined;
    if (this.now() - r.at < this.config.maxAgeMs) return r.answer;
    this.map.delete(d);
    return undefined;
  }
  put(d, keyId, to, answer) {
    if (!(this.config.maxAgeMs > 0 && this.config.maxEntries > 0)) return;
    this.map.delete(d);
    while (this.map.size >= this.config.maxEntries) this.map.delete(this.map.keys().next().value);
    this.map.set(d, { keyId, to, answer, at: this.now() });
  }
  /** Forgets answers about `keyId` (as source or target), or all. */
  purge(keyId) {
    if (keyId === undefined) { this.map.clear(); return; }
    for (const [d, r] of this.map) if (r.keyId === keyId || r.to === keyId) this.map.delete(d);
  }
}

export class Rotation {
  /** `keys`: the instance's DataKeys (its services, cache, memo and KEY_DISABLED handling). */
  constructor(keys, engine) {
    this.keys = keys;
    this.engine = engine;
  }

  #target(toKeyId) {
    const t = toKeyId ?? this.keys.services[0].keyId;
    if (!t) throw new InvalidArgumentError('invalid argument: this instance was created without a keyId, so it can only decrypt: give options.keyId to encrypt');
    return t;
  }

  /** The newest version of the target key (§3.6), read once per run; the memo starts afresh. */
  async newestVersion(toKeyId) {
    this.keys.memo.purge();
    const target = this.#target(toKeyId);
    // a kind whose wrapped keys do not show their version (aws-kms) has no newest version to read
    if (this.keys.services[0].client.readsVersions === false) return 0;
    try {
      return (await this.keys.services[0].client.publicKey(target)).keyVersion;
    } catch (e) {
      throw this.keys.onKeyError(target, e);
    }
  }

  /** Whether every primary entry names the target and, where readable, its newest version. */
  isCurrent(h, toKeyId, newest) {
    const primary = this.keys.services[0].id;
    const target = this.#target(toKeyId);
    return h.entries.filter((e) => e.keyServiceId === primary && e.kind !== 'unknown').every((e) => {
      if (e.keyId !== target) return false;
      const v = entryVersion(e);
      return newest === undefined || v === undefined || v >= newest;
    });
  }

  #binding(e) {
    if (e.kind === 'unknown') return -1;
    return this.keys.services.findIndex((b) => b.id === e.keyServiceId);
  }

  /**
   * Rewraps `headers` (each a header, or a message starting with one); with `skipCurrent` (`{ newest }`)
   * a header already current is `{ current: true }`. One result per header: `{ header, bodyOffset }`,
   * `{ current: true }` or `{ error }`.
   */
  async rewrapHeaders(headers, toKeyId, skipCurrent) {
    const parsed = headers.map((p) => {
      try {
        const h = parseHeader(p);
        if (skipCurrent && this.isCurrent(h, toKeyId, skipCurrent.newest)) return { current: true };
        return { h };
      } catch (error) {
        return { error };
      }
    });
    const asked = [];
    const index = new Map();
    const own = [];
    for (const r of parsed) {
      const mine = [];
      if (r.h) {
        for (const e of r.h.entries) {
          const i = this.#binding(e);
          if (i < 0) continue;
          const to = i === 0 ? toKeyId : undefined;
          const d = await questionDigest(this.engine, i, e, r.h.contextBytes, to);
          mine.push(d);
          if (index.has(d)) continue;
          index.set(d, asked.length);
          const remembered = this.keys.memo.get(d);
          asked.push({ service: i, e, context: Object.fromEntries(r.h.context), to, d, answer: remembered ? { wrapped: remembered } : undefined });
        }
      }
      own.push(mine);
    }
    await Promise.all(this.keys.services.map(async (b, i) => {
      const open = asked.filter((a) => a.service === i && a.answer === undefined);
      const chunks = [];
      for (let k = 0; k < open.length; k += REWRAP_BATCH_MAX) chunks.push(open.slice(k, k + REWRAP_BATCH_MAX));
      // a service's requests of one round go together
      await Promise.all(chunks.map(async (chunk) => {
        let answers;
        try {
          answers = await b.client.rewrapBatch(chunk.map((a) => ({ keyId: a.e.keyId, kind: a.e.kind, wrapped: a.e.wrapped, context: a.context, toKeyId: a.to })));
        } catch (error) {
          answers = chunk.map(() => error);
        }
        chunk.forEach((a, k) => {
          const r = answers[k];
          if (!r) {
            a.answer = { error: new NoUsableEntryError('no usable wrapped-key entry: the key service answered fewer items than asked') };
            return;
          }
          if (r instanceof Error) {
            a.answer = { error: this.keys.onKeyError(a.e.keyId, r) };
            return;
          }
          this.keys.memo.put(a.d, a.e.keyId, a.to, r.wrapped);
          a.answer = { wrapped: r.wrapped };
        });
      }));
    }));
    return parsed.map((r, n) => {
      if (!r.h) return r;
      const mine = own[n][Symbol.iterator]();
      const entries = [];
      for (const e of r.h.entries) {
        const i = this.#binding(e);
        if (i < 0) { entries.push(e); continue; }
        const to = i === 0 ? toKeyId : undefined;
        const found = asked[index.get(mine.next().value)]?.answer;
        if (!found) return { error: new NoUsableEntryError('no usable wrapped-key entry: the key service answered fewer items than asked') };
        if (found.error) return { error: found.error };
        // /rewrap always answers a wrapped key of the service's own kind
        entries.push({ kind: this.keys.services[i].kind, keyServiceId: e.keyServiceId, keyId: to ?? e.keyId, wrapped: found.wrapped });
      }
      try {
        return { header: concat(r.h.authenticated, encodeSection(entries)), bodyOffset: r.h.headerLen };
      } catch (error) {
        return { error };
      }
    });
  }
}
