// A Google Workspace CSE KACLS as the key service (kind `kacls`, docs/KEY-SERVICES.md; the Rust is
// src/kacls.rs): Google's KACLS API (/status, /wrap, /unwrap, /rewrap) with an authentication
// token from the caller's IdP and an authorization token naming the resource (a context value)
// per call, under the retry policy of endpoints.js. The KACLS answers data keys in clear inside TLS.

import { AccessDeniedError, InvalidArgumentError, KeyDisabledError, KeyNotFoundError, KmsUnavailableError, ProtocolError, ThrottledError } from '../errors.js';
import { decodeBase64Strict, encodeBase64 } from '../format/header.js';
import { Endpoints, Retry } from './endpoints.js';
import { rewrapEach } from './rewrap-each.js';

const MAX_RESOURCE_NAME_LEN = 128;

function classify(status, json, details) {
  const d = typeof json?.details === 'string' ? json.details : '';
  const C = status === 400 ? InvalidArgumentError
    : status === 403 && (d === 'KeyDisabled' || d === 'KeyDestroyed') ? KeyDisabledError
      : status === 401 || status === 403 ? AccessDeniedError
        : status === 404 ? KeyNotFoundError : status === 429 ? ThrottledError
          : status >= 500 && status <= 599 ? KmsUnavailableError : ProtocolError;
  const message = json?.message ?? '';
  const error = new C(`${details.service}: ${details.op}: KACLS HTTP ${status}: ${d ? `${message} (${d})` : message}`, undefined, details);
  const retry = C === ThrottledError ? Retry.SAME_URL : C === KmsUnavailableError ? Retry.NEXT_URL : Retry.NEVER;
  return { error, retry };
}

/**
 * `new Kacls({ id, urls, resourceNameKey, authentication, authorization, reason?, engine, retry?,
 * fetch?, onEvent?, traceparent? })`; `authentication({ service, op })` and `authorization({
 * service, op, resourceName })` return JWTs.
 */
export class Kacls {
  #o;
  #endpoints;
  #statusChecked = false;
  kind = 'kacls';
  batchesGenerate = false;
  readsVersions = false;

  constructor(options) {
    this.#o = options;
    this.id = options.id;
    this.url = options.urls[0].replace(/\/+$/, '');
    this.#endpoints = new Endpoints({
      service: options.id, urls: options.urls, retry: options.retry, fetch: options.fetch, onEvent: options.onEvent, traceparent: options.traceparent,
    });
  }

  #resourceName(context) {
    const name = Object.entries(context).find(([k]) => k === this.#o.resourceNameKey)?.[1];
    if (name === undefined) throw new InvalidArgumentError('invalid argument: a KACLS entry needs the resource name: the context has no value under the resourceNameKey option');
    if (name.length === 0 || new TextEncoder().encode(name).length > MAX_RESOURCE_NAME_LEN) throw new InvalidArgumentError('invalid argument: a KACLS resource name is 1..=128 bytes');
    return name;
  }

  async #callback(which, arg, op) {
    try {
      const t = await this.#o[which](arg);
      if (typeof t !== 'string') throw new Error(`the ${which} callback must return a string (a JWT)`);
      return t;
    } catch (e) {
      throw new AccessDeniedError(`${this.id}: the KACLS ${which} callback failed: ${e?.message ?? e}`, { cause: e }, { service: this.id, op, status: null });
    }
  }

  async #checkStatus() {
    if (this.#statusChecked) return;
    const s = await this.#endpoints.call({ op: 'status', path: 'status', classify });
    if (s.server_type !== 'KACLS') throw new ProtocolError(`${this.id}: the server's /status does not say server_type "KACLS": is the URL a KACLS?`, undefined, { service: this.id, op: 'status', status: null });
    this.#statusChecked = true;
  }

  async #post(op, path, body) {
    await this.#checkStatus();
    return this.#endpoints.call({ op, path, body, classify });
  }

  #wrappedOf(a, op) {
    const w = typeof a.wrapped_key === 'string' ? decodeBase64Strict(a.wrapped_key) : null;
    if (!w || w.length === 0) throw new ProtocolError(`${this.id}: KACLS /${op} answer lacks a base64 wrapped_key`, undefined, { service: this.id, op, status: null });
    return w;
  }

  async wrap(keyId, dataKey, context) {
    void keyId;
    const resourceName = this.#resourceName(context);
    const authentication = await this.#callback('authentication', { service: this.id, op: 'wrap' }, 'wrap');
    const authorization = await this.#callback('authorization', { service: this.id, op: 'wrap', resourceName }, 'wrap');
    const a = await this.#post('wrap', 'wrap', { authentication, authorization, key: encodeBase64(dataKey), reason: this.#o.reason ?? '' });
    return { wrapped: this.#wrappedOf(a, 'wrap') };
  }

  async generate(keyId, context) {
    const dataKey = this.#o.engine.randomBytes(32);
    try {
      return { dataKey, ...(await this.wrap(keyId, dataKey, context)) };
    } catch (e) {
      dataKey.fill(0);
      throw e;
    }
  }

  async unwrap(keyId, kind, wrapped, context) {
    void keyId;
    if (kind !== 'kacls') throw new ProtocolError(`${this.id}: a KACLS opens kacls entries only`, undefined, { service: this.id, op: 'unwrap', status: null });
    const resourceName = this.#resourceName(context);
    const authentication = await this.#callback('authentication', { service: this.id, op: 'unwrap' }, 'unwrap');
    const authorization = await this.#callback('authorization', { service: this.id, op: 'unwrap', resourceName }, 'unwrap');
    const a = await this.#post('unwrap', 'unwrap', { authentication, authorization, reason: this.#o.reason ?? '', wrapped_key: encodeBase64(wrapped) });
    const k = typeof a.key === 'string' ? decodeBase64Strict(a.key) : null;
    if (!k) throw new ProtocolError(`${this.id}: KACLS /unwrap answer lacks a base64 key`, undefined, { service: this.id, op: 'unwrap', status: null });
    if (k.length !== 32) throw new ProtocolError(`${this.id}: KACLS answered a data key that is not 32 bytes`, undefined, { service: this.id, op: 'unwrap', status: null });
    return { dataKey: k };
  }

  async rewrap(keyId, kind, wrapped, context, toKeyId) {
    if (kind !== 'kacls') throw new ProtocolError(`${this.id}: a KACLS rewraps kacls entries only`, undefined, { service: this.id, op: 'rewrap', status: null });
    const resourceName = this.#resourceName(context);
    const authorization = await this.#callback('authorization', { service: this.id, op: 'rewrap', resourceName }, 'rewrap');
    const a = await this.#post('rewrap', 'rewrap', { authorization, original_kacls_url: this.url, reason: this.#o.reason ?? '', wrapped_key: encodeBase64(wrapped) });
    return { wrapped: this.#wrappedOf(a, 'rewrap'), keyId: toKeyId ?? keyId };
  }

  /** The KACLS API has no batch rewrap: one /rewrap per question. */
  rewrapBatch(questions) {
    return rewrapEach(this, questions);
  }

  async publicKey() {
    throw new InvalidArgumentError(`${this.id}: a KACLS has no public key: wrapMode 'public-key' needs a keyseal key service`);
  }
}
