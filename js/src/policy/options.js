// `KeySeal.create`'s options as the d.ts states them: names and types by js/src/options.js (the
// package's own check), values as wasm/src/options.rs checks them (required ids, URLs, ranges,
// settings given twice), each refusal INVALID_ARGUMENT naming the option's path.

import { InvalidArgumentError } from '../errors.js';
import { checkSegmentSize } from '../format/header.js';
import { checkCreateOptions } from '../options.js';

const bad = (what, detail) => new InvalidArgumentError(`invalid argument: ${what}: ${detail}`);

/** PROTOCOL.md §1: an absolute http(s) base URL ending in /v1, without query, fragment or credentials. */
function checkBaseUrl(u) {
  const rest = u.startsWith('https://') ? u.slice(8) : u.startsWith('http://') ? u.slice(7) : null;
  if (rest === null) return `'${u}' is not an http(s) URL (e.g. https://kms.example.com/v1)`;
  if (/[?#]/.test(rest)) return `'${u}' has a query or fragment: give the base URL only`;
  if (rest.split('/')[0].includes('@')) return `'${u}' carries credentials: the token callback authenticates`;
  if (!u.replace(/\/+$/, '').endsWith('/v1')) return `'${u}' does not end in /v1: give the key service's base URL, e.g. '${u.replace(/\/+$/, '')}/v1'`;
  return null;
}

/** `https`, or plain `http` on loopback only (the Rust's check_url). */
function checkScheme(u) {
  if (u.startsWith('https://')) return null;
  if (!u.startsWith('http://')) return 'a key-service URL must start with https:// (http:// on loopback only)';
  const authority = u.slice(7).split(/[/?#]/)[0];
  const host = authority.startsWith('[') ? authority.slice(1).split(']')[0] : authority.split(':')[0];
  const octets = host.split('.');
  const v4 = octets.length === 4 && octets[0] === '127' && octets.every((o) => /^\d+$/.test(o) && Number(o) <= 255);
  return host === 'localhost' || host === '::1' || v4 ? null : 'plain http:// key-service URLs are allowed on loopback only: use https://';
}

function urlsOf(s, what) {
  const urls = typeof s.urls === 'string' ? [s.urls] : s.urls ?? [];
  if (urls.length === 0) throw bad(`${what}.urls`, 'must be a non-empty array of URLs');
  urls.forEach((u, i) => {
    const detail = checkBaseUrl(u);
    if (detail) throw bad(`${what}.urls[${i}]`, detail);
  });
  for (const u of urls) {
    const detail = checkScheme(u);
    if (detail) throw new InvalidArgumentError(`invalid argument: ${detail}`);
  }
  return urls;
}

const positiveMs = (v, what) => {
  if (v === 0) throw bad(what, 'must be at least 1 (ms)');
  return v;
};

/**
 * The checked options: `{ services: [{ what, id, keyId, urls, identity, kind }], retry, cache,
 * wrapMode, segmentSize, decrypt }`, or INVALID_ARGUMENT naming the first wrong option.
 */
export function checkOptions(o) {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError('invalid argument: options are required');
  checkCreateOptions(o);
  const r = o.retry ?? {};
  if (o.timeoutMs !== undefined && r.attemptTimeoutMs !== undefined) throw bad('options.timeoutMs', 'and options.retry.attemptTimeoutMs are the same setting: give one');
  if (o.deadlineMs !== undefined && r.deadlineMs !== undefined) throw bad('options.deadlineMs', 'and options.retry.deadlineMs are the same setting: give one');
  const attemptTimeoutMs = positiveMs(o.timeoutMs ?? r.attemptTimeoutMs, 'options.timeoutMs');
  const deadlineMs = positiveMs(o.deadlineMs ?? r.deadlineMs, 'options.deadlineMs');
  const retry = { ...r, ...(attemptTimeoutMs !== undefined ? { attemptTimeoutMs } : {}), ...(deadlineMs !== undefined ? { deadlineMs } : {}) };
  for (const [name, values] of [['engine', ['auto', 'wasm', 'webcrypto', 'node']], ['p256', ['auto', 'wasm', 'webcrypto', 'node']],
    ['transport', ['auto', 'fetch', 'node']], ['wrapMode', ['key-service', 'public-key']]]) {
    if (o[name] !== undefined && !values.includes(o[name])) throw bad(`options.${name}`, `must be ${values.map((v) => `'${v}'`).join(', ')}`);
  }
  const primary = o.keyService;
  // no token is checked here: a missing one is ACCESS_DENIED at the first call, as the package has it
  if (!primary) throw bad('options.keyService', 'is required: { id, urls }');
  if (primary.keyId !== undefined && o.keyId !== undefined) throw bad('options.keyService.keyId', 'and options.keyId are the same setting: give one');
  const primaryKey = primary.keyId ?? o.keyId;
  if (primaryKey === undefined && !(o.decrypt?.allowKeyIds?.length)) {
    throw bad('options.keyId', "is required to encrypt (e.g. 'acme/default'); an instance that only decrypts gives options.decrypt.allowKeyIds instead (e.g. ['acme/*'])");
  }
  const bindings = [['keyService', primary, primaryKey ?? ''], ...(o.escrow ?? []).map((s, i) => [`escrow[${i}]`, s, s.keyId])];
  const services = bindings.map(([what, s, keyId]) => {
    if (!s.id) throw bad(`options.${what}.id`, "is required: the name written into every object's entry, by which readers find this key service (e.g. 'acme'); readers must use the same id");
    if (keyId === undefined || (keyId === '' && what !== 'keyService')) throw bad(`options.${what}.keyId`, 'is required');
    if (s.kind !== undefined && !['keyseal', 'aws-kms', 'kacls'].includes(s.kind)) throw bad(`options.${what}.kind`, "must be 'keyseal', 'aws-kms' or 'kacls'");
    if (s.kind === 'kacls') {
      if (s.identity !== undefined || s.region !== undefined || s.endpoint !== undefined) {
        throw bad(`options.${what}`, "a 'kacls' service takes urls, resourceNameKey, authentication, authorization and acceptPlaintextKeyAnswers (no identity, region or endpoint)");
      }
      const urls = urlsOf(s, `options.${what}`);
      if (s.resourceNameKey === undefined) throw bad(`options.${what}.resourceNameKey`, "is required for 'kacls': the context key whose value is the KACLS resource name (e.g. 'object')");
      if (typeof s.authentication !== 'function') throw bad(`options.${what}.authentication`, "is required for 'kacls': async ({ op }) => jwt from your IdP");
      if (typeof s.authorization !== 'function') throw bad(`options.${what}.authorization`, "is required for 'kacls': async ({ op, resourceName }) => jwt from your authorization issuer");
      if (s.acceptPlaintextKeyAnswers !== true) throw new InvalidArgumentError('invalid argument: a KACLS answers data keys in clear inside TLS, not sealed to the client: set acceptPlaintextKeyAnswers: true to use one (docs/KEY-SERVICES.md)');
      if (!s.resourceNameKey) throw new InvalidArgumentError('invalid argument: a KACLS needs resourceNameKey: the context key whose value is the resource name');
      if (new TextEncoder().encode(o.reason ?? '').length > 1024) throw new InvalidArgumentError('invalid argument: a KACLS reason is at most 1 KB');
      return { what, id: s.id, keyId, kind: 'kacls', urls, resourceNameKey: s.resourceNameKey, authentication: s.authentication, authorization: s.authorization };
    }
    if (s.kind === 'aws-kms') {
      if (s.urls !== undefined || s.identity !== undefined) throw bad(`options.${what}`, "an 'aws-kms' service takes region (and endpoint for a non-AWS endpoint), not urls or identity");
      if (s.region === undefined) throw bad(`options.${what}.region`, "is required for 'aws-kms' (e.g. 'us-east-1')");
      if (typeof s.credentials !== 'function') throw bad(`options.${what}.credentials`, "is required for 'aws-kms': async () => ({ accessKeyId, secretAccessKey, sessionToken })");
      if (!/^[A-Za-z0-9-]+$/.test(s.region)) throw new InvalidArgumentError("invalid argument: an AWS region is letters, digits and '-' (us-east-1)");
      const endpoint = s.endpoint ?? `https://kms.${s.region}.amazonaws.com`;
      const detail = checkScheme(endpoint);
      if (detail) throw new InvalidArgumentError(`invalid argument: ${detail}`);
      return { what, id: s.id, keyId, kind: 'aws-kms', region: s.region, endpoint: s.endpoint, credentials: s.credentials };
    }
    if (s.resourceNameKey !== undefined || s.acceptPlaintextKeyAnswers !== undefined) throw bad(`options.${what}`, "resourceNameKey and acceptPlaintextKeyAnswers belong to kind 'kacls'");
    if (s.region !== undefined || s.endpoint !== undefined) throw bad(`options.${what}`, "region and endpoint belong to kind 'aws-kms'; a keyseal key service takes urls");
    const urls = urlsOf(s, `options.${what}`);
    if (s.identity !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(s.identity)) throw bad(`options.${what}.identity`, 'must be base64 (RFC 4648 §4)');
    return { what, id: s.id, keyId, kind: 'keyseal', urls, identity: s.identity };
  });
  let cache;
  if (o.cache === false) cache = { maxAgeMs: 0 };
  else {
    cache = { ...o.cache };
    if (cache.maxAgeMs !== undefined && !(Number.isFinite(cache.maxAgeMs) && cache.maxAgeMs >= 0)) throw bad('options.cache.maxAgeMs', 'must be a number of ms ≥ 0 (0: a data key is never reused)');
  }
  const segmentSize = o.segmentSize ?? 64 * 1024;
  checkSegmentSize(segmentSize);
  const wrapMode = o.wrapMode ?? 'key-service';
  return {
    services, retry, cache, wrapMode, segmentSize,
    decrypt: { allowKeyIds: o.decrypt?.allowKeyIds ?? [], acceptPublicKeyEntries: o.decrypt?.acceptPublicKeyEntries ?? wrapMode === 'public-key' },
  };
}
