// The client of a keyseal key service (PROTOCOL.md §3, kind `keyseal`): each request under the
// retry policy of endpoints.js (URLs in order, breakers, timeouts, backoff), its answer checked
// and opened. What to do around it (the cache, batching of concurrent misses) is the SDK policy's,
// above this module (docs/DESIGN.md, design C stage 1). Every data key arrives sealed to a fresh
// recipient key (§6.1); with a pinned identity (§6.3) nothing of an answer is used before its
// signature verified.

import {
  AccessDeniedError, ContextMismatchError, DecryptionFailedError, DowngradeRefusedError, InvalidArgumentError,
  KeyDisabledError, KeyNotFoundError, KmsUnavailableError, ProtocolError, ThrottledError,
} from '../errors.js';
import { Endpoints, Retry } from './endpoints.js';
import { decodeBase64Strict, encodeBase64, encodeContext, isP256Point } from '../format/header.js';
import { sealHpkeEntry } from '../format/hpke.js';
import { answerStatement, batchStatement, pinnedIdentity, publicKeyStatement } from './identity.js';
import { newRecipient, openBatch, openSealedKey } from './recipient.js';
import { rewrapEach } from './rewrap-each.js';

/** §5: the SDK code of each protocol error name (unknown names by status, below). */
const BY_NAME = {
  InvalidRequest: InvalidArgumentError, PayloadTooLarge: InvalidArgumentError,
  InvalidCiphertext: DecryptionFailedError, ContextMismatch: ContextMismatchError,
  Unauthenticated: AccessDeniedError, AccessDenied: AccessDeniedError, KeyDisabled: KeyDisabledError,
  KeyNotFound: KeyNotFoundError, KeyDestroyed: KeyNotFoundError, Throttled: ThrottledError,
  Internal: KmsUnavailableError, Unavailable: KmsUnavailableError,
};
function byStatus(status) {
  if (status === 401 || status === 403) return AccessDeniedError;
  if (status === 429) return ThrottledError;
  if (status >= 500 && status <= 599) return KmsUnavailableError;
  return ProtocolError;
}

const b64 = (x, what, service, op) => {
  const v = typeof x === 'string' ? decodeBase64Strict(x) : null;
  if (!v) throw new ProtocolError(`${service}: ${op} answer: ${what} is not base64`, undefined, { service, op });
  return v;
};

/** §5: a non-2xx answer as an error, and whether the call may try again (endpoints.js). */
function classify(status, json, details) {
  if (status === 0 || (status >= 300 && status < 400)) {
    return { error: new ProtocolError(`${details.service}: ${details.op}: a redirect (HTTP ${status}); keyseal does not follow redirects: configure the final URL`, undefined, details), retry: Retry.NEVER };
  }
  const name = json && typeof json.error === 'string' ? json.error : null;
  const C = (name && BY_NAME[name]) || byStatus(status);
  const hint = C === ProtocolError && status === 404 ? " (is the URL the key service's base URL, ending in /v1?)" : '';
  const error = new C(`${details.service}: ${details.op}: ${name ?? `HTTP ${status} without a protocol error body`}${json?.message ? `: ${json.message}` : ''}${hint}`, undefined, details);
  if (C === KeyDisabledError && typeof json?.disabled_at === 'number') error.disabledAt = json.disabled_at;
  const retry = C === ThrottledError ? Retry.SAME_URL : C === KmsUnavailableError ? Retry.NEXT_URL : Retry.NEVER;
  return { error, retry };
}

/**
 * `new KeysealKms({ id, urls, token, identity?, engine, retry?, fetch?, onEvent?, allowPlaintextKeys? })`:
 * `id` names the service (entries' `key_service_id`), `urls` its base URLs (…/v1) in the order to
 * try, `token()` the caller's JWT, `identity` a pinned identity key (base64), `engine` the
 * format's engine, `retry` the d.ts RetryOptions, `onEvent` gets a `kmsCall` event per attempt.
 */
export class KeysealKms {
  #o;
  #identity;
  #endpoints;
  constructor(options) {
    this.#o = options;
    this.id = options.id;
    this.#endpoints = new Endpoints({
      service: options.id, urls: options.urls, retry: options.retry, fetch: options.fetch, onEvent: options.onEvent, traceparent: options.traceparent,
    });
  }

  async #pinned() {
    this.#identity ??= pinnedIdentity(this.#o.engine, this.#o.identity, this.id);
    return this.#identity;
  }

  /** The caller's token for `op` on `keyId` (`token({ service, keyId, op })`); its failure is ACCESS_DENIED. */
  async #token(op, keyId) {
    try {
      return await this.#o.token({ service: this.id, keyId, op });
    } catch (e) {
      throw new AccessDeniedError(`${this.id}: token callback failed: ${e?.message ?? e}`, { cause: e }, { service: this.id, op, status: null });
    }
  }

  /** POSTs `body` (the token added) to `path` under the whole retry policy, or GETs without a body. */
  async #call(path, op, body) {
    const keyId = body?.key_id ?? body?.items?.[0]?.key_id;
    const withToken = body ? { ...body, authorization: await this.#token(op, keyId) } : undefined;
    return this.#endpoints.call({ op, path, body: withToken, classify });
  }

  /** `sealed_key`'s `{ enc, ciphertext }` bytes, both undefined when the answer has none. */
  #sealedOf(a, op) {
    if (!a.sealed_key) return {};
    return {
      enc: b64(a.sealed_key.enc, 'sealed_key.enc', this.id, op),
      ciphertext: b64(a.sealed_key.ciphertext, 'sealed_key.ciphertext', this.id, op),
    };
  }

  /** The data key of an answer: `sealed_key` opened, or a plaintext `key` only when allowed (§3.2). */
  async #dataKeyOf(a, recipient, op) {
    if (a.sealed_key) {
      const { enc, ciphertext } = this.#sealedOf(a, op);
      return { dataKey: await openSealedKey(this.#o.engine, recipient, enc, ciphertext, this.id, op) };
    }
    if (a.key !== undefined && !this.#o.allowPlaintextKeys) {
      throw new DowngradeRefusedError(`${this.id}: ${op} answered the data key in clear; refused (allowPlaintextKeys is off)`, undefined, { service: this.id, op });
    }
    const dataKey = b64(a.key, 'key', this.id, op);
    if (dataKey.length !== 32) throw new ProtocolError(`${this.id}: ${op}: the data key is not 32 bytes`, undefined, { service: this.id, op });
    return { dataKey };
  }

  #version(a, op) {
    if (!Number.isInteger(a.key_version) || a.key_version < 0 || a.key_version > 0xffffffff) {
      throw new ProtocolError(`${this.id}: ${op} answer without a key_version`, undefined, { service: this.id, op });
    }
    return a.key_version;
  }

  /** §3.2: a fresh data key for `context` under `keyId`: `{ dataKey, wrapped, keyVersion }`. */
  async generate(keyId, context) {
    const { engine } = this.#o;
    const { bytes: contextBytes, pairs } = encodeContext(context);
    const recipient = await newRecipient(engine);
    const a = await this.#call('generate', 'generate', { key_id: keyId, context: Object.fromEntries(pairs), recipient: recipient.json });
    const keyVersion = this.#version(a, 'generate');
    const wrapped = b64(a.wrapped_key, 'wrapped_key', this.id, 'generate');
    const id = await this.#pinned();
    // the signature before anything of the answer is used (the data key included)
    if (id) {
      await id.check(await answerStatement(engine, {
        op: 'generate', keyId, contextBytes, recipientPublic: recipient.publicRaw, answerWrapped: wrapped, keyVersion, ...this.#sealedOf(a, 'generate'),
      }), a.identity_signature, 'generate');
    }
    const { dataKey } = await this.#dataKeyOf(a, recipient, 'generate');
    return { dataKey, wrapped, keyVersion };
  }

  /** Whether `/generate-batch` is one request here (cleared when the service lacks it: 404 or 405). */
  batchesGenerate = true;

  /** One `/generate` per context: what a service without `/generate-batch` gets. */
  async #oneByOne(keyId, contexts) {
    const items = [];
    let keyVersion;
    for (const c of contexts) {
      const g = await this.generate(keyId, c);
      items.push({ dataKey: g.dataKey, wrapped: g.wrapped });
      keyVersion = g.keyVersion;
    }
    return { keyVersion, items };
  }

  /**
   * §3.2.1: a fresh data key per context, one request: `{ keyVersion, items: [{ dataKey, wrapped }] }`.
   * A service without the endpoint (it is optional) gets one `/generate` per context from then on.
   */
  async generateBatch(keyId, contexts) {
    if (!this.batchesGenerate || contexts.length > 100) return this.#oneByOne(keyId, contexts);
    try {
      return await this.#generateBatch(keyId, contexts);
    } catch (e) {
      if (e?.code === 'PROTOCOL_ERROR' && (e.status === 404 || e.status === 405)) {
        this.batchesGenerate = false;
        return this.#oneByOne(keyId, contexts);
      }
      throw e;
    }
  }

  async #generateBatch(keyId, contexts) {
    const { engine } = this.#o;
    const encoded = contexts.map((c) => encodeContext(c));
    const recipient = await newRecipient(engine);
    const a = await this.#call('generate-batch', 'generate_batch', {
      key_id: keyId, contexts: encoded.map((c) => Object.fromEntries(c.pairs)), recipient: recipient.json,
    });
    const keyVersion = this.#version(a, 'generate_batch');
    if (!Array.isArray(a.items) || a.items.length !== contexts.length) {
      throw new ProtocolError(`${this.id}: generate-batch answered ${a.items?.length ?? 'no'} items for ${contexts.length} contexts`, undefined, { service: this.id, op: 'generate_batch' });
    }
    const enc = b64(a.enc, 'enc', this.id, 'generate_batch');
    const items = a.items.map((it) => ({
      wrapped: b64(it.wrapped_key, 'wrapped_key', this.id, 'generate_batch'),
      ct: b64(it.ciphertext, 'ciphertext', this.id, 'generate_batch'),
    }));
    const id = await this.#pinned();
    if (id) {
      const statements = await Promise.all(items.map((it, i) => answerStatement(engine, {
        op: 'generate', keyId, contextBytes: encoded[i].bytes, recipientPublic: recipient.publicRaw,
        answerWrapped: it.wrapped, keyVersion, enc, ciphertext: it.ct,
      })));
      await id.check(await batchStatement(engine, statements), a.identity_signature, 'generate_batch');
    }
    const keys = await openBatch(engine, recipient, enc, items.map((it) => it.ct), this.id);
    return { keyVersion, items: items.map((it, i) => ({ dataKey: keys[i], wrapped: it.wrapped })) };
  }

  /**
   * §3.3: `dataKey` wrapped under `keyId` for `context`: `{ wrapped, keyVersion }`. With a pinned
   * identity the data key does not cross the connection (§6.3): it is sealed offline to the key's
   * signature-checked public key as an `hpke-p256` entry, which `/rewrap` turns into a `kms` one.
   */
  async wrap(keyId, dataKey, context) {
    const { engine } = this.#o;
    if (await this.#pinned()) {
      const pk = await this.publicKey(keyId);
      const entry = await sealHpkeEntry(engine, { recipientPublic: pk.publicRaw, keyId, keyVersion: pk.keyVersion, contextBytes: encodeContext(context).bytes, dataKey });
      const r = await this.rewrap(keyId, 'hpke-p256', entry, context);
      return { wrapped: r.wrapped, keyVersion: r.keyVersion };
    }
    const { pairs } = encodeContext(context);
    const a = await this.#call('wrap', 'wrap', { key_id: keyId, key: encodeBase64(dataKey), context: Object.fromEntries(pairs) });
    return { wrapped: b64(a.wrapped_key, 'wrapped_key', this.id, 'wrap'), keyVersion: this.#version(a, 'wrap') };
  }

  /** §3.4: the data key of a wrapped key (`kind`: `kms` or `hpke-p256`): `{ dataKey, keyVersion }`. */
  async unwrap(keyId, kind, wrapped, context) {
    const { engine } = this.#o;
    const { bytes: contextBytes, pairs } = encodeContext(context);
    const recipient = await newRecipient(engine);
    const a = await this.#call('unwrap', 'unwrap', {
      key_id: keyId, kind, wrapped_key: encodeBase64(wrapped), context: Object.fromEntries(pairs), recipient: recipient.json,
    });
    const keyVersion = this.#version(a, 'unwrap');
    const id = await this.#pinned();
    if (id) {
      await id.check(await answerStatement(engine, {
        op: 'unwrap', keyId, contextBytes, recipientPublic: recipient.publicRaw, requestWrapped: wrapped, keyVersion, ...this.#sealedOf(a, 'unwrap'),
      }), a.identity_signature, 'unwrap');
    }
    const { dataKey } = await this.#dataKeyOf(a, recipient, 'unwrap');
    return { dataKey, keyVersion };
  }

  /** §3.5: `wrapped` re-wrapped under the newest version of `toKeyId` (default `keyId`): `{ wrapped, keyId, keyVersion }`. */
  async rewrap(keyId, kind, wrapped, context, toKeyId) {
    const { engine } = this.#o;
    const { bytes: contextBytes, pairs } = encodeContext(context);
    const a = await this.#call('rewrap', 'rewrap', {
      key_id: keyId, kind, wrapped_key: encodeBase64(wrapped), context: Object.fromEntries(pairs), ...(toKeyId ? { to_key_id: toKeyId } : {}),
    });
    const keyVersion = this.#version(a, 'rewrap');
    const answer = b64(a.wrapped_key, 'wrapped_key', this.id, 'rewrap');
    const target = toKeyId ?? keyId;
    if (a.key_id !== target) throw new ProtocolError(`${this.id}: rewrap answered key ${a.key_id}, asked ${target}`, undefined, { service: this.id, op: 'rewrap' });
    const id = await this.#pinned();
    if (id) {
      await id.check(await answerStatement(engine, {
        op: 'rewrap', keyId, toKeyId: target, contextBytes, requestWrapped: wrapped, answerWrapped: answer, keyVersion,
      }), a.identity_signature, 'rewrap');
    }
    return { wrapped: answer, keyId: target, keyVersion };
  }

  /** Whether `/rewrap-batch` is one request here (cleared when the service lacks it: 404 or 405). */
  batchesRewrap = true;

  /**
   * §3.5.1: many `/rewrap`s in one request; `questions`: `[{ keyId, kind, wrapped, context, toKeyId? }]`
   * (at most 1,000). Resolves to one result per question, in order: `{ wrapped, keyId, keyVersion }`
   * or the error that item got; rejects when the whole batch is refused. With a pinned identity the
   * one batch signature is checked over every item rebuilt from its question.
   */
  async rewrapBatch(questions) {
    if (questions.length === 0) return [];
    if (!this.batchesRewrap) return rewrapEach(this, questions);
    const { engine } = this.#o;
    const encoded = questions.map((q) => encodeContext(q.context));
    let a;
    try {
      a = await this.#call('rewrap-batch', 'rewrap_batch', {
        items: questions.map((q, i) => ({
          key_id: q.keyId, kind: q.kind, wrapped_key: encodeBase64(q.wrapped), context: Object.fromEntries(encoded[i].pairs),
          ...(q.toKeyId ? { to_key_id: q.toKeyId } : {}),
        })),
      });
    } catch (e) {
      if (e?.code === 'PROTOCOL_ERROR' && (e.status === 404 || e.status === 405)) {
        this.batchesRewrap = false;
        return rewrapEach(this, questions);
      }
      throw e;
    }
    const details = { service: this.id, op: 'rewrap_batch' };
    if (!Array.isArray(a.items) || a.items.length !== questions.length) throw new ProtocolError(`${this.id}: rewrap-batch answered ${a.items?.length ?? 'no'} items for ${questions.length}`, undefined, details);
    const id = await this.#pinned();
    const statementItems = [];
    const results = [];
    for (const [i, item] of a.items.entries()) {
      const q = questions[i];
      if (item && typeof item.error === 'string') {
        statementItems.push({ refused: item.error });
        results.push(classify(400, item, details).error);
        continue;
      }
      const answer = b64(item?.wrapped_key, 'wrapped_key', this.id, 'rewrap_batch');
      const keyVersion = this.#version(item, 'rewrap_batch');
      if (id) {
        statementItems.push(await answerStatement(engine, {
          op: 'rewrap', keyId: q.keyId, toKeyId: q.toKeyId ?? q.keyId, contextBytes: encoded[i].bytes, requestWrapped: q.wrapped, answerWrapped: answer, keyVersion,
        }));
      }
      results.push({ wrapped: answer, keyId: q.toKeyId ?? q.keyId, keyVersion });
    }
    if (id) await id.check(await batchStatement(engine, statementItems), a.identity_signature, 'rewrap_batch');
    return results;
  }

  /** The key version of a `kms` entry in keyseal-kms's layout (PROTOCOL.md §7.2), else undefined: for display and skipping only. */
  static entryVersion(wrapped) {
    if (wrapped.length !== 97 || wrapped[0] !== 1) return undefined;
    return ((wrapped[1] << 24) >>> 0) + ((wrapped[2] << 16) | (wrapped[3] << 8) | wrapped[4]);
  }

  /** §3.6: the public key of `keyId`'s primary version for `hpke-p256` entries: `{ keyVersion, publicRaw }`. */
  async publicKey(keyId) {
    const { engine } = this.#o;
    const a = await this.#call(`keys/${encodeURIComponent(keyId)}/public`, 'public_key');
    const keyVersion = this.#version(a, 'public_key');
    const un64 = (s) => (typeof s === 'string' ? decodeBase64Strict(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4)) : null);
    const x = un64(a.x), y = un64(a.y);
    const publicRaw = x && y && x.length === 32 && y.length === 32 ? Uint8Array.of(4, ...x, ...y) : null;
    if (a.kty !== 'EC' || a.crv !== 'P-256' || a.key_id !== keyId || !publicRaw || !isP256Point(publicRaw)) {
      throw new ProtocolError(`${this.id}: the public key of ${keyId} is not a P-256 JWK for that key`, undefined, { service: this.id, op: 'public_key' });
    }
    const id = await this.#pinned();
    if (id) await id.check(await publicKeyStatement(engine, keyId, keyVersion, publicRaw), a.identity_signature, 'public_key');
    return { keyVersion, publicRaw };
  }
}
