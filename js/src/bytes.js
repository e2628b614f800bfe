// Inputs to bytes: the JS side's only conversion (everything about the format is in Rust).
import { InvalidArgumentError } from './errors.js';

const enc = new TextEncoder();

/** A Uint8Array view of `data` (strings are UTF-8 encoded); `what` names the argument in errors. */
export function toBytes(data, what) {
  if (typeof data === 'string') return enc.encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new InvalidArgumentError(`${what} must be a Uint8Array, ArrayBuffer or string`);
}

/** Whether `x` is bytes (not a string). */
export function isBytes(x) {
  return x instanceof Uint8Array || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

/** Calls a caller's progress listener; a throwing listener must not break crypto. */
export function progress(cb, info) {
  if (typeof cb !== 'function') return;
  try { cb(info); } catch { /* ignored */ }
}
