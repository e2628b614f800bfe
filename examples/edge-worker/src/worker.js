// keyseal edge worker: client-side envelope encryption in front of R2.
//   PUT  /objects/:id   request body → ks.encryptStream → R2 (multipart, bounded memory)
//   GET  /objects/:id   R2 → ks.decryptStream → response; `Range: bytes=a-b` → ks.decryptRange
//                       over ranged R2 reads of the header and the covering segments only (206)
//   HEAD /objects/:id   header facts from a ranged read of the header (no key-service call)
// Objects live at `<tenant>/<id>` and are sealed under context {tenant, object: id}, tenant from
// the caller's verified token; R2 only ever holds sealed bytes.
import { lowLevel } from 'keyseal';
import { HttpError, errorResponse } from './errors.js';
import { verifyCaller, requireTenant, requireRole } from './auth.js';
import { keysealFor } from './keyservice.js';
import { headerFacts, storedFacts } from './sealed.js';
import { parseRange } from './range.js';
import { putStream, openRanged } from './store.js';
import { peekPrefix, primed } from './streams.js';

const OBJECT = /^\/objects\/([A-Za-z0-9_-][A-Za-z0-9._-]{0,199})$/;
/** Plaintext bytes decrypted per ranged read: bounds memory for large ranges. */
const RANGE_WINDOW = 1024 * 1024;

export default {
  async fetch(request, env) {
    try {
      return await route(request, env);
    } catch (e) {
      return errorResponse(e, request.method);
    }
  },
};

async function route(request, env) {
  const url = new URL(request.url);
  // diagnostics for tests and load runs only (var DIAGNOSTICS=1): the wasm linear memory, which
  // counts against the isolate's 128 MB; no object data, no secrets
  if (url.pathname === '/_diag/memory' && env.DIAGNOSTICS === '1') {
    return Response.json({ wasmMemoryBytes: await lowLevel.wasmMemoryBytes() });
  }
  if (!url.pathname.startsWith('/objects/')) throw new HttpError(404, 'NOT_FOUND', 'no such route');
  const m = OBJECT.exec(url.pathname);
  if (!m) throw new HttpError(400, 'INVALID_REQUEST', 'object id must match [A-Za-z0-9_-][A-Za-z0-9._-]{0,199}');
  if (!['PUT', 'GET', 'HEAD'].includes(request.method)) {
    throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'use PUT, GET or HEAD', { allow: 'PUT, GET, HEAD' });
  }
  if (!env.BUCKET) throw new HttpError(500, 'MISCONFIGURED', 'R2 binding BUCKET is missing');
  const caller = await verifyCaller(request, env);
  requireTenant(caller, env);
  const id = m[1];
  const req = { env, caller, id, key: `${caller.tenant}/${id}`, context: { tenant: caller.tenant, object: id } };
  if (request.method === 'PUT') return put(request, req);
  requireRole(caller, 'read');
  if (request.method === 'HEAD') return head(req);
  if (request.headers.has('range')) return getRange(request, req);
  return get(req);
}

async function put(request, { env, caller, id, key, context }) {
  requireRole(caller, 'write');
  const ks = await keysealFor(env, caller, `edge-worker PUT ${key}`);
  let plaintextBytes = 0;
  const body = request.body ?? new ReadableStream({ start: (c) => c.close() });
  // preventCancel: on a failure before the body was read (key service down: no data key for the
  // header), the body is drained below so the client gets the error answer, not a reset connection
  const sealed = body.pipeThrough(ks.encryptStream({ context, onProgress: (p) => { plaintextBytes = p.plaintextBytes; } }), { preventCancel: true });
  let stored;
  try {
    stored = await putStream(env.BUCKET, key, sealed, { httpMetadata: { contentType: 'application/vnd.keyseal' } });
  } catch (e) {
    await drain(body, DRAIN_LIMIT);
    throw e;
  }
  return Response.json({ id, tenant: caller.tenant, plaintextLength: plaintextBytes, sealedLength: stored.size, etag: stored.etag }, { status: 201 });
}

/** Most request-body bytes a failed PUT reads and drops before answering; beyond, the body is cancelled. */
const DRAIN_LIMIT = 8 * 1024 * 1024;

/**
 * Reads and drops what the client is still sending (up to `limit` bytes, then cancels), once the
 * pipe into the failed encrypt stream has let go of the body (it does so asynchronously).
 */
async function drain(body, limit) {
  let reader;
  for (let i = 0; !reader && i < 50; i++) {
    try { reader = body.getReader(); } catch { await new Promise((r) => setTimeout(r, 0)); }
  }
  if (!reader) return;
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      n += value.byteLength;
      if (n > limit) { await reader.cancel(); return; }
    }
  } catch { /* the client went away */ }
}

/** Response headers describing a sealed object (`x-keyseal-*`); no secrets in them. */
function factHeaders(header, info, plaintextLen, sealedLen) {
  const i = Math.max(0, info.entries.findIndex((e) => e.kind === 'kms'));
  const entry = info.entries[i];
  // inspect reads the version of keyseal-kms entries (PROTOCOL.md §7.2); null for other services.
  const version = entry?.keyVersion ?? null;
  const h = {
    'accept-ranges': 'bytes',
    'x-keyseal-key-id': entry?.keyId ?? '',
    'x-keyseal-key-service': entry?.keyServiceId ?? '',
    'x-keyseal-context': JSON.stringify(info.context),
    'x-keyseal-plaintext-length': String(plaintextLen),
    'x-keyseal-segment-size': String(info.segmentSize),
    'x-keyseal-sealed-length': String(sealedLen),
    'x-keyseal-entries': String(info.entries.length),
  };
  if (version != null) h['x-keyseal-key-version'] = String(version);
  return h;
}

/** Unauthenticated pre-check from header facts (the decrypt checks it again, authenticated). */
function checkContext(info, context) {
  if (info.context.tenant !== context.tenant || info.context.object !== context.object) {
    throw new HttpError(422, 'CONTEXT_MISMATCH', 'stored object was sealed for another tenant or object');
  }
}

async function head({ env, key, context }) {
  const r = await openRanged(env.BUCKET, key);
  const info = await storedFacts(r.header, r.size);
  checkContext(info, context);
  const len = info.plaintextLen;
  return new Response(null, { status: 200, headers: { ...factHeaders(r.header, info, len, r.size), 'content-type': 'application/octet-stream', 'cache-control': 'no-store' } });
}

async function get({ env, caller, key, context }) {
  const object = await env.BUCKET.get(key);
  if (!object) throw new HttpError(404, 'OBJECT_NOT_FOUND', 'no such object');
  // the header, from the same stream (no second R2 read): length, segment size, context
  const { prefix, stream } = await peekPrefix(object.body, async (p) => {
    if (p.length >= object.size) return true;
    const f = await headerFacts(p);
    return f.headerLen !== undefined && p.length >= f.headerLen;
  });
  const f = await headerFacts(prefix);
  if (f.headerLen === undefined || f.headerLen > object.size) throw new HttpError(422, 'INVALID_FORMAT', 'stored object is not a keyseal message');
  const info = await storedFacts(prefix.subarray(0, f.headerLen), object.size);
  checkContext(info, context);
  const len = info.plaintextLen;
  const ks = await keysealFor(env, caller, `edge-worker GET ${key}`);
  // the first plaintext chunk is produced before answering: unwrap, context and first-segment
  // failures become statuses; later ones abort the body (FixedLengthStream: client sees it short)
  const body = await primed(stream.pipeThrough(ks.decryptStream({ requireContext: context })), len);
  return new Response(body, { status: 200, headers: { ...factHeaders(prefix.subarray(0, f.headerLen), info, len, object.size), 'content-type': 'application/octet-stream', 'cache-control': 'private, no-store' } });
}

async function getRange(request, req) {
  const { env, caller, key, context } = req;
  const r = await openRanged(env.BUCKET, key);
  const info = await storedFacts(r.header, r.size);
  checkContext(info, context);
  const total = info.plaintextLen;
  const range = parseRange(request.headers.get('range'), total);
  if (!range) return get(req);
  const ks = await keysealFor(env, caller, `edge-worker GET ${key} range`);
  // windows aligned to segments, so no segment is read or opened twice
  const window = Math.max(1, Math.floor(RANGE_WINDOW / info.segmentSize)) * info.segmentSize;
  let pos = range.start;
  const end = range.end + 1;
  const next = async () => {
    const stop = Math.min(end, (Math.floor(pos / window) + 1) * window);
    const bytes = await ks.decryptRange(r.source, { offset: pos, length: stop - pos, requireContext: context });
    pos = stop;
    return bytes;
  };
  const windows = new ReadableStream({
    async pull(controller) {
      if (pos >= end) return controller.close();
      controller.enqueue(await next());
    },
  });
  const length = end - range.start;
  const body = await primed(windows, length);
  return new Response(body, {
    status: 206,
    headers: {
      ...factHeaders(r.header, info, total, r.size),
      'content-type': 'application/octet-stream',
      'content-range': `bytes ${range.start}-${range.end}/${total}`,
      'cache-control': 'private, no-store',
    },
  });
}
