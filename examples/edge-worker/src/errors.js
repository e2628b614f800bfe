// HTTP errors of the edge worker: every failure becomes a status plus a JSON body
// `{"code": "...", "message": "..."}` with a stable `code` (the keyseal error code where keyseal
// raised it, a worker code otherwise). Never a stack trace in a body: unexpected errors are logged
// (without secrets) and answered as a generic INTERNAL.
import { KeySealError } from 'keyseal';

/** A failure the worker itself decides (auth, routing, R2 lookups, bad input). */
export class HttpError extends Error {
  constructor(status, code, message, headers = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/**
 * keyseal code → HTTP status. Choices (README "Errors"):
 * - CONTEXT_MISMATCH is 422, not 403: the caller's tenant and role were already checked; a
 *   mismatch means the stored object does not belong where it is stored (moved/copied in R2),
 *   i.e. a bad stored entity, like a tampered one.
 * - KMS_UNAVAILABLE, TIMEOUT and THROTTLED are 503 (with Retry-After): the key service, not the
 *   caller, is the problem, and a retry later may succeed.
 * - KEY_NOT_FOUND is 404 (the key for this tenant does not exist or was destroyed); its code tells
 *   it apart from OBJECT_NOT_FOUND.
 */
const KEYSEAL_STATUS = {
  KEY_DISABLED: 403,
  ACCESS_DENIED: 403,
  KMS_UNAVAILABLE: 503,
  TIMEOUT: 503,
  THROTTLED: 503,
  DECRYPTION_FAILED: 422,
  INVALID_FORMAT: 422,
  UNSUPPORTED_VERSION: 422,
  UNSUPPORTED_SUITE: 422,
  CONTEXT_MISMATCH: 422,
  NO_USABLE_ENTRY: 422,
  DOWNGRADE_REFUSED: 422,
  KEY_NOT_FOUND: 404,
  INVALID_ARGUMENT: 400,
  LIMIT_EXCEEDED: 413,
  PROTOCOL_ERROR: 502,
  RANDOM_UNAVAILABLE: 500,
  INTERNAL: 500,
};

/** Status, code and message for any thrown value; unexpected ones are logged, not revealed. */
export function classify(e) {
  if (e instanceof HttpError) return { status: e.status, code: e.code, message: e.message, headers: e.headers };
  if (e instanceof KeySealError || (e && typeof e.code === 'string' && e.code in KEYSEAL_STATUS)) {
    const status = KEYSEAL_STATUS[e.code] ?? 500;
    const headers = status === 503 ? { 'retry-after': '1' } : {};
    // keyseal messages carry no key material (PROTOCOL.md §5); INTERNAL ones may carry internals
    const message = status === 500 ? 'internal error' : String(e.message || e.code);
    if (status === 500) console.error('keyseal internal error', e.code, String(e.message).slice(0, 200));
    return { status, code: e.code, message, headers };
  }
  console.error('unexpected error', e && e.name, String(e && e.message).slice(0, 200));
  return { status: 500, code: 'INTERNAL', message: 'internal error', headers: {} };
}

/** The JSON error response (HEAD gets the same status and `x-keyseal-error`, no body). */
export function errorResponse(e, method = 'GET') {
  const { status, code, message, headers } = classify(e);
  const h = { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-keyseal-error': code, ...headers };
  return new Response(method === 'HEAD' ? null : JSON.stringify({ code, message }), { status, headers: h });
}
