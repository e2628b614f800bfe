// Which data key a message gets and which one opens it (the Rust is src/data_keys.rs): the
// encrypt cache, `/generate` at the primary and a wrap at every escrow service; on decrypt the
// walk over the header's entries in order with the decrypt policy, the decrypt cache, failover to
// the next entry and the key-commitment check (FORMAT.md §7.2 steps 3–4).

import { DecryptionFailedError, NoUsableEntryError } from '../errors.js';
import { sealHpkeEntry } from '../format/hpke.js';
import { dataKeyMatches } from '../format/message.js';
import { refusal } from './decrypt-policy.js';
import { GenerateQueue } from './generate-queue.js';
import { RewrapMemo } from './rotation.js';

/** Failures after which the next entry is tried (another service may answer); the rest stop at once. */
const NEXT_ENTRY = new Set(['KMS_UNAVAILABLE', 'TIMEOUT', 'THROTTLED', 'KEY_NOT_FOUND', 'DECRYPTION_FAILED']);

export class DataKeys {
  /**
   * `services`: `[{ id, keyId, client, kind }]`, the primary first (`client`: a KeysealKms; `kind`:
   * the entries it makes); `cache`: a DataKeyCache; `decrypt`: `{ allowKeyIds, acceptPublicKeyEntries }`;
   * `engine`: the format's; `onEvent(e)`.
   */
  constructor({ services, cache, decrypt, engine, onEvent, publicKeyMode = false, observer }) {
    Object.assign(this, { services, cache, decrypt: decrypt ?? {}, engine, emit: onEvent ?? (() => {}), publicKeyMode, observer });
    this.queue = new GenerateQueue();
    /** Rewrap answers remembered for the identical question (rotation.js). */
    this.memo = new RewrapMemo(cache.config, () => cache.now());
    /** `${service}\0${keyId}` → { keyVersion, publicRaw, at }: public keys for offline wraps, as long as the cache's maxAgeMs. */
    this.publicKeys = new Map();
  }

  /** A service's signature-checked public key (§3.6), cached no longer than the cache's maxAgeMs. */
  async #publicKey(b) {
    const k = `${b.id}\0${b.keyId}`;
    const hit = this.publicKeys.get(k);
    if (hit && this.cache.now() - hit.at < this.cache.config.maxAgeMs) return hit;
    const pk = { ...(await b.client.publicKey(b.keyId)), at: this.cache.now() };
    this.publicKeys.set(k, pk);
    return pk;
  }

  /** `wrapMode: 'public-key'`: a fresh data key sealed offline to every service's public key (§4.5). */
  async #wrapOffline(contextBytes) {
    const dataKey = this.engine.randomBytes(32);
    const entries = [];
    try {
      for (const b of this.services) {
        let pk;
        try {
          pk = await this.#publicKey(b);
        } catch (e) {
          throw this.onKeyError(b.keyId, e);
        }
        const wrapped = await sealHpkeEntry(this.engine, { recipientPublic: pk.publicRaw, keyId: b.keyId, keyVersion: pk.keyVersion, contextBytes, dataKey });
        entries.push({ kind: 'hpke-p256', keyServiceId: b.id, keyId: b.keyId, wrapped });
      }
    } catch (e) {
      dataKey.fill(0);
      throw e;
    }
    return { dataKey, entries };
  }

  /** Drops cached keys of `keyId` (all without one), with its `cachePurged` event; returns how many. */
  purge(keyId, reason = 'purge') {
    const n = this.cache.purge(keyId);
    this.memo.purge(keyId);
    for (const k of [...this.publicKeys.keys()]) if (keyId === undefined || k.endsWith(`\0${keyId}`)) this.publicKeys.delete(k);
    this.emit({ type: 'cachePurged', keyId: keyId ?? null, reason });
    return n;
  }

  /** PROTOCOL.md §5: KEY_DISABLED drops every cached data key of that key at once. */
  onKeyError(keyId, e) {
    if (e?.code === 'KEY_DISABLED') {
      this.observer?.keyDisabled(keyId, e.disabledAt);
      this.purge(keyId, 'key_disabled');
    }
    return e;
  }

  /** A data key and the entries for a new message of `len` bytes (null: unknown, no cache) under `context`. */
  async forEncrypt(context, contextBytes, len) {
    const [primary, ...escrow] = this.services;
    if (len !== null) {
      const hit = this.cache.takeForEncrypt(primary.keyId, contextBytes, len);
      this.emit({ type: hit ? 'cacheHit' : 'cacheMiss', cache: 'encrypt', keyId: primary.keyId });
      if (hit) return hit;
    }
    if (this.publicKeyMode) {
      const w = await this.#wrapOffline(contextBytes);
      if (len !== null) this.cache.putForEncrypt(primary.keyId, contextBytes, w.dataKey, w.entries, len);
      return w;
    }
    let g;
    try {
      g = await this.queue.generate(primary.client, primary.keyId, context);
    } catch (e) {
      throw this.onKeyError(primary.keyId, e);
    }
    this.observer?.keyWorked(primary.keyId);
    const entries = [{ kind: primary.kind, keyServiceId: primary.id, keyId: primary.keyId, wrapped: g.wrapped }];
    for (const b of escrow) {
      try {
        const w = await b.client.wrap(b.keyId, g.dataKey, context);
        entries.push({ kind: b.kind, keyServiceId: b.id, keyId: b.keyId, wrapped: w.wrapped });
      } catch (e) {
        g.dataKey.fill(0);
        throw this.onKeyError(b.keyId, e);
      }
    }
    if (len !== null) this.cache.putForEncrypt(primary.keyId, contextBytes, g.dataKey, entries, len);
    return { dataKey: g.dataKey, entries };
  }

  /**
   * The data key of a parsed header: the first entry, in header order, that the decrypt policy
   * accepts and that opens (from the cache or at its service) to the key the header commits to.
   * Entries the policy refuses are skipped without any call.
   */
  async forHeader(h, signedOnly = false) {
    let last = null;
    const skipped = [];
    const context = Object.fromEntries(h.context);
    for (const e of h.entries) {
      const b = this.services.find((s) => s.id === e.keyServiceId);
      // anyone with a key's public key can make an hpke-p256 entry: it proves no writer
      const why = !b ? 'key service not configured'
        : signedOnly && e.kind === 'hpke-p256' ? 'public-key (hpke-p256) entries prove no writer of a signed message'
          : refusal(this.decrypt, e.kind, b.kind, b.keyId, e.keyId);
      if (why) {
        skipped.push(`${e.keyServiceId}:${e.keyId} (${e.kind}): ${why}`);
        continue;
      }
      const cached = this.cache.getForDecrypt(e, h.contextBytes);
      this.emit({ type: cached ? 'cacheHit' : 'cacheMiss', cache: 'decrypt', keyId: e.keyId });
      if (cached) {
        // a cached key opens only the message it matches: another entry may still
        if (await dataKeyMatches(this.engine, h, cached)) return cached;
        last = new DecryptionFailedError('decryption failed');
        continue;
      }
      try {
        const { dataKey } = await b.client.unwrap(e.keyId, e.kind, e.wrapped, context);
        this.observer?.keyWorked(e.keyId);
        if (!(await dataKeyMatches(this.engine, h, dataKey))) {
          dataKey.fill(0);
          last = new DecryptionFailedError('decryption failed');
          continue;
        }
        this.cache.putForDecrypt(e, h.contextBytes, dataKey);
        return dataKey;
      } catch (err) {
        if (err?.code === 'KEY_DISABLED') throw this.onKeyError(e.keyId, err);
        if (!NEXT_ENTRY.has(err?.code)) throw err;
        last = err;
      }
    }
    if (last) throw last;
    throw new NoUsableEntryError(`no usable wrapped-key entry: the message names [${skipped.join('; ')}]; this client knows key services [${this.services.map((s) => s.id).join(', ')}]`);
  }
}
