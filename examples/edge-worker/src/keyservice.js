// One KeySeal per request, configured from the worker's bindings.
//
// Token for the key service (`KMS_TOKEN_MODE`):
//   - "secret" (default): the worker's own service token from the secret binding
//     `KEYSEAL_KMS_TOKEN` (a writer token of the served tenant). The worker enforces the caller's
//     role itself; the key service sees one identity, the worker.
//   - "passthrough": the caller's verified bearer token is sent on. The key service then applies
//     its own tenant/role rules and its audit log names the real caller; the caller's token must be
//     issued for the key service's audience by an issuer it trusts (`--issuer`).
//
// A fresh instance per request keeps the data-key cache scoped to one request: a disabled key is
// refused from the next request on (no cross-request cache can outlive a revocation), and in
// pass-through mode one caller can never ride on a data key another caller's token unwrapped. The
// per-request cache still lets the windows of one large Range request share one unwrap.
import { KeySeal } from 'keyseal';
import { HttpError } from './errors.js';

const num = (v, dflt) => (v === undefined || v === '' ? dflt : Number(v));

export function kmsToken(env, caller) {
  const mode = env.KMS_TOKEN_MODE || 'secret';
  if (mode === 'passthrough') return caller.token;
  if (mode !== 'secret') throw new HttpError(500, 'MISCONFIGURED', 'KMS_TOKEN_MODE must be secret or passthrough');
  if (!env.KEYSEAL_KMS_TOKEN) throw new HttpError(500, 'MISCONFIGURED', 'secret KEYSEAL_KMS_TOKEN is not set');
  return env.KEYSEAL_KMS_TOKEN;
}

export async function keysealFor(env, caller, reason) {
  if (!env.KEYSEAL_KMS_URL) throw new HttpError(500, 'MISCONFIGURED', 'KEYSEAL_KMS_URL is not set');
  const token = kmsToken(env, caller);
  return KeySeal.create({
    keyService: { id: env.KEYSEAL_SERVICE_ID, urls: String(env.KEYSEAL_KMS_URL).split(',').map((s) => s.trim()) },
    keyId: `${caller.tenant}/${env.KEYSEAL_KEY_NAME || 'default'}`,
    token: () => token,
    cache: { maxAgeMs: 60_000 },
    timeoutMs: num(env.KEYSEAL_TIMEOUT_MS, 5000),
    deadlineMs: num(env.KEYSEAL_DEADLINE_MS, 15000),
    segmentSize: num(env.KEYSEAL_SEGMENT_SIZE, undefined),
    reason,
  });
}
