// AWS KMS as the key service (kind `aws-kms`, docs/KEY-SERVICES.md; the Rust is src/aws_kms.rs and
// src/sigv4.rs): the AWS JSON 1.1 protocol signed with SigV4, GenerateDataKey / Encrypt / Decrypt /
// ReEncrypt with the message's context as AWS's EncryptionContext, under the retry policy of
// endpoints.js. AWS answers the data key in clear inside TLS (it has no sealed answer).

import { AccessDeniedError, DecryptionFailedError, InvalidArgumentError, KeyDisabledError, KeyNotFoundError, KmsUnavailableError, ProtocolError, ThrottledError } from '../errors.js';
import { toHex as hex } from '../format/crypto.js';
import { decodeBase64Strict, encodeBase64, encodeContext } from '../format/header.js';
import { rewrapEach } from './rewrap-each.js';
import { Endpoints, Retry } from './endpoints.js';

const utf8 = (s) => new TextEncoder().encode(s);

/** AWS exception names by the keyseal code they mean (src/aws_kms.rs `kind_of`). */
const BY_EXCEPTION = {
  DisabledException: KeyDisabledError, KMSInvalidStateException: KeyDisabledError,
  AccessDeniedException: AccessDeniedError, UnrecognizedClientException: AccessDeniedError, InvalidSignatureException: AccessDeniedError,
  IncompleteSignature: AccessDeniedError, MissingAuthenticationToken: AccessDeniedError, InvalidClientTokenId: AccessDeniedError,
  SignatureDoesNotMatch: AccessDeniedError, ExpiredTokenException: AccessDeniedError,
  InvalidCiphertextException: DecryptionFailedError, IncorrectKeyException: DecryptionFailedError,
  NotFoundException: KeyNotFoundError,
  ThrottlingException: ThrottledError, LimitExceededException: ThrottledError, TooManyRequestsException: ThrottledError,
  KMSInternalException: KmsUnavailableError, DependencyTimeoutException: KmsUnavailableError, KeyUnavailableException: KmsUnavailableError,
  ValidationException: InvalidArgumentError, SerializationException: InvalidArgumentError, InvalidKeyUsageException: InvalidArgumentError,
};

function classify(status, json, details) {
  const name = typeof json?.__type === 'string' ? json.__type.split('#').pop() : '';
  const C = BY_EXCEPTION[name] ?? (status === 401 || status === 403 ? AccessDeniedError : status === 429 ? ThrottledError
    : status >= 500 && status <= 599 ? KmsUnavailableError : ProtocolError);
  const message = json?.message ?? json?.Message ?? '';
  const error = new C(`${details.service}: ${details.op}: AWS KMS ${name} (HTTP ${status}): ${message}`, undefined, details);
  const retry = C === ThrottledError ? Retry.SAME_URL : C === KmsUnavailableError ? Retry.NEXT_URL : Retry.NEVER;
  return { error, retry };
}

/** `YYYYMMDDTHHMMSSZ` of a time in ms. */
export function amzDate(ms) {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * SigV4's `Authorization` header for one request (the AWS signing process: canonical request,
 * string to sign, the derived signing key).
 */
export async function sigv4Authorization(engine, { accessKeyId, secretAccessKey }, region, service, date, { method, host, path, headers, body }) {
  const day = date.slice(0, 8);
  const all = [...headers.map(([k, v]) => [k.toLowerCase(), String(v).trim()]), ['host', host], ['x-amz-date', date]].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const signed = all.map(([k]) => k).join(';');
  const canonical = `${method}\n${path}\n\n${all.map(([k, v]) => `${k}:${v}\n`).join('')}\n${signed}\n${hex(await engine.sha256(body))}`;
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${hex(await engine.sha256(utf8(canonical)))}`;
  let k = await engine.hmacSha256(utf8(`AWS4${secretAccessKey}`), utf8(day));
  for (const part of [region, service, 'aws4_request']) k = await engine.hmacSha256(k, utf8(part));
  const signature = hex(await engine.hmacSha256(k, utf8(toSign)));
  return `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`;
}

/**
 * `new AwsKms({ id, region, endpoint?, credentials, engine, retry?, fetch?, onEvent?, traceparent? })`:
 * `credentials()` resolves to `{ accessKeyId, secretAccessKey, sessionToken? }`.
 */
export class AwsKms {
  #o;
  #endpoints;
  kind = 'aws-kms';
  batchesGenerate = false;
  readsVersions = false;

  constructor(options) {
    this.#o = options;
    this.id = options.id;
    this.#endpoints = new Endpoints({
      service: options.id, urls: [options.endpoint ?? `https://kms.${options.region}.amazonaws.com`], retry: options.retry,
      fetch: options.fetch, onEvent: options.onEvent, traceparent: options.traceparent,
    });
  }

  async #call(target, op, request) {
    let creds;
    try {
      creds = await this.#o.credentials();
    } catch (e) {
      throw new AccessDeniedError(`${this.id}: credentials callback failed: ${e?.message ?? e}`, { cause: e }, { service: this.id, op, status: null });
    }
    const body = JSON.stringify(request);
    const sign = async (url) => {
      const { host, pathname } = new URL(url);
      const headers = [['content-type', 'application/x-amz-json-1.1'], ['x-amz-target', `TrentService.${target}`]];
      if (creds.sessionToken) headers.push(['x-amz-security-token', creds.sessionToken]);
      const date = amzDate(Date.now());
      const authorization = await sigv4Authorization(this.#o.engine, creds, this.#o.region, 'kms', date, { method: 'POST', host, path: pathname, headers, body: utf8(body) });
      return { ...Object.fromEntries(headers), 'x-amz-date': date, authorization };
    };
    return this.#endpoints.call({ op, path: '', rawBody: body, sign, classify });
  }

  #blob(a, op) {
    const b = typeof a.CiphertextBlob === 'string' ? decodeBase64Strict(a.CiphertextBlob) : null;
    if (!b) throw new ProtocolError(`${this.id}: ${op}: AWS KMS answer lacks a base64 CiphertextBlob`, undefined, { service: this.id, op });
    return b;
  }

  #dataKey(a, op) {
    const k = typeof a.Plaintext === 'string' ? decodeBase64Strict(a.Plaintext) : null;
    if (!k) throw new ProtocolError(`${this.id}: ${op}: AWS KMS answer lacks a base64 Plaintext`, undefined, { service: this.id, op });
    if (k.length !== 32) throw new ProtocolError(`${this.id}: ${op}: AWS KMS answered a data key that is not 32 bytes (is the key AES_256?)`, undefined, { service: this.id, op });
    return k;
  }

  /** The context as AWS's EncryptionContext (its pairs, keys sorted as the format sorts them). */
  static #context(context) {
    return Object.fromEntries(encodeContext(context).pairs);
  }

  async generate(keyId, context) {
    const a = await this.#call('GenerateDataKey', 'generate', { KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: AwsKms.#context(context) });
    return { dataKey: this.#dataKey(a, 'generate'), wrapped: this.#blob(a, 'generate') };
  }

  async wrap(keyId, dataKey, context) {
    const a = await this.#call('Encrypt', 'wrap', { KeyId: keyId, Plaintext: encodeBase64(dataKey), EncryptionContext: AwsKms.#context(context) });
    return { wrapped: this.#blob(a, 'wrap') };
  }

  async unwrap(keyId, kind, wrapped, context) {
    if (kind !== 'aws-kms') throw new ProtocolError(`${this.id}: an AWS KMS key service opens aws-kms entries only`, undefined, { service: this.id, op: 'unwrap' });
    const a = await this.#call('Decrypt', 'unwrap', { KeyId: keyId, CiphertextBlob: encodeBase64(wrapped), EncryptionContext: AwsKms.#context(context) });
    return { dataKey: this.#dataKey(a, 'unwrap') };
  }

  async rewrap(keyId, kind, wrapped, context, toKeyId) {
    if (kind !== 'aws-kms') throw new ProtocolError(`${this.id}: an AWS KMS key service rewraps aws-kms entries only`, undefined, { service: this.id, op: 'rewrap' });
    const ctx = AwsKms.#context(context);
    const a = await this.#call('ReEncrypt', 'rewrap', {
      CiphertextBlob: encodeBase64(wrapped), SourceKeyId: keyId, SourceEncryptionContext: ctx, DestinationKeyId: toKeyId ?? keyId, DestinationEncryptionContext: ctx,
    });
    return { wrapped: this.#blob(a, 'rewrap'), keyId: toKeyId ?? keyId };
  }

  /** AWS has no batch rewrap: one ReEncrypt per question. */
  rewrapBatch(questions) {
    return rewrapEach(this, questions);
  }

  async publicKey() {
    throw new InvalidArgumentError(`${this.id}: AWS KMS symmetric keys have no public key: wrapMode 'public-key' needs a keyseal key service`);
  }
}

