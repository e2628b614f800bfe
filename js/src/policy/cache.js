// Data-key caches (docs/DESIGN.md "Caches"; the Rust is src/cache.rs). Encrypt: reuse a generated
// data key for the same key id and context within `maxAgeMs`, `maxMessages` and `maxBytes` (every
// message still gets its own payload key from its random message id, FORMAT.md §5). Decrypt:
// remember unwrapped data keys by service, key id, wrapped key and context within `maxAgeMs`.
// Both purge per key id, at once on KEY_DISABLED. Data keys leave the cache as copies; an evicted
// key's bytes are overwritten (best effort in JS: the engine may have copied them).

import { toHex as hex } from '../format/crypto.js';

/** CacheOptions of the d.ts, with its defaults (60 s, 10,000 messages, 1 GiB, 1,000 keys). */
export const CACHE_DEFAULTS = Object.freeze({ maxAgeMs: 60_000, maxMessages: 10_000, maxBytes: 2 ** 30, maxEntries: 1000 });

export class DataKeyCache {
  /** `config`: CacheOptions; `now()`: ms (a clock the tests can move). */
  constructor(config, now = () => performance.now()) {
    this.config = { ...CACHE_DEFAULTS, ...config };
    this.now = now;
    this.enc = new Map();
    this.dec = new Map();
  }

  get enabled() {
    return this.config.maxAgeMs > 0 && this.config.maxEntries > 0;
  }

  /** A data key and its entries for one more message of `len` bytes, if one is cached and within every limit; counts the use. */
  takeForEncrypt(keyId, contextBytes, len) {
    if (!this.enabled) return null;
    const k = `${keyId}\0${hex(contextBytes)}`;
    const e = this.enc.get(k);
    if (!e) return null;
    const c = this.config;
    if (this.now() - e.createdMs >= c.maxAgeMs || e.messages + 1 > c.maxMessages || e.bytes + len > c.maxBytes) {
      this.#drop(this.enc, k);
      return null;
    }
    e.messages++;
    e.bytes += len;
    return { dataKey: e.dataKey.slice(), entries: e.entries };
  }

  /** Caches a freshly generated data key that was just used for one message of `len` bytes. */
  putForEncrypt(keyId, contextBytes, dataKey, entries, len) {
    if (!this.enabled || len > this.config.maxBytes) return;
    this.#makeRoom(this.enc);
    const k = `${keyId}\0${hex(contextBytes)}`;
    this.#drop(this.enc, k);
    this.enc.set(k, { keyId, dataKey: dataKey.slice(), entries, createdMs: this.now(), messages: 1, bytes: len });
  }

  /** A cached unwrapped data key for this entry and context, if fresh. */
  getForDecrypt(entry, contextBytes) {
    if (!this.enabled) return null;
    const k = decKey(entry, contextBytes);
    const e = this.dec.get(k);
    if (!e) return null;
    if (this.now() - e.createdMs < this.config.maxAgeMs) return e.dataKey.slice();
    this.#drop(this.dec, k);
    return null;
  }

  /** Remembers an unwrapped data key. */
  putForDecrypt(entry, contextBytes, dataKey) {
    if (!this.enabled) return;
    this.#makeRoom(this.dec);
    const k = decKey(entry, contextBytes);
    this.#drop(this.dec, k);
    this.dec.set(k, { keyId: entry.keyId, dataKey: dataKey.slice(), createdMs: this.now() });
  }

  /** Drops every cached key of `keyId` (every key without one); returns how many. */
  purge(keyId) {
    const before = this.size;
    for (const [k, e] of this.enc) {
      if (keyId === undefined || e.keyId === keyId || e.entries.some((x) => x.keyId === keyId)) this.#drop(this.enc, k);
    }
    for (const [k, e] of this.dec) if (keyId === undefined || e.keyId === keyId) this.#drop(this.dec, k);
    return before - this.size;
  }

  get size() {
    return this.enc.size + this.dec.size;
  }

  /**
   * At `maxEntries`, the oldest entry goes: the first in the map, since every put deletes its key
   * first and inserts anew (a Map keeps insertion order), so order is creation order.
   */
  #makeRoom(map) {
    if (map.size < this.config.maxEntries) return;
    this.#drop(map, map.keys().next().value);
  }

  #drop(map, k) {
    const e = map.get(k);
    if (!e) return;
    e.dataKey.fill(0);
    map.delete(k);
  }
}

function decKey(entry, contextBytes) {
  return `${entry.keyServiceId}\0${entry.keyId}\0${hex(entry.wrapped)}\0${hex(contextBytes)}`;
}
