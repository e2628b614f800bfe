// Internal (not exported by the package): errors from the wasm core — a JS Error with the stable
// `code` and the structured fields wasm/src/errors.rs sets — as the matching KeySealError subclass.
import * as E from './errors.js';

const { KeySealError } = E;
const BY_CODE = Object.fromEntries(Object.values(E)
  .filter((C) => typeof C === 'function' && C.prototype instanceof KeySealError)
  .map((C) => [C.code, C]));

/** `e` as a KeySealError (unchanged when it is one); anything without a known code is `INTERNAL`. */
export function fromCore(e) {
  if (e instanceof KeySealError) return e;
  const C = (e && BY_CODE[e.code]) || KeySealError;
  const message = e && e.message ? e.message : String(e);
  const details = e && typeof e === 'object' && typeof e.code === 'string'
    ? { service: e.service, op: e.op, status: e.status, contextKey: e.contextKey, retryable: e.retryable }
    : undefined;
  return new C(message, { cause: e }, details);
}
