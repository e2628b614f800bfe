// Caller authentication: a bearer JWT (ES256, the same token shape keyseal-kms accepts,
// docs/PROTOCOL.md §4.1), verified here with WebCrypto against the JWKS in the `CALLER_JWKS`
// binding. CALLER_JWKS has the format of keyseal-kms `--issuer` files:
//   {"issuer": "https://idp.example", "keys": [{"kty":"EC","crv":"P-256","kid":"k1","x":"…","y":"…"}]}
// so one identity provider can be trusted by both the worker and the key service (which the
// pass-through mode needs). keyseal-kms exposes no JWKS endpoint for its local issuer, which is
// why the keys are configured, not fetched.
import { HttpError } from './errors.js';

const SKEW_S = 30; // same clock skew as keyseal-kms
const NAME = /^[A-Za-z0-9._-]{1,64}$/; // tenant syntax of key ids (PROTOCOL.md §2)
const ROLES = ['reader', 'writer', 'admin'];

const unauthenticated = (why) => new HttpError(401, 'UNAUTHENTICATED', why, { 'www-authenticate': 'Bearer realm="keyseal-edge"' });

function b64urlBytes(s) {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw unauthenticated('malformed token');
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
const b64urlJson = (s) => {
  try { return JSON.parse(new TextDecoder().decode(b64urlBytes(s))); } catch (e) {
    throw e instanceof HttpError ? e : unauthenticated('malformed token');
  }
};

// Imported keys per isolate, rebuilt only when the binding's text changes.
let trusted = { text: null, issuer: null, keys: [] };
async function trustedKeys(env) {
  const text = env.CALLER_JWKS;
  if (typeof text !== 'string' || !text) throw new HttpError(500, 'MISCONFIGURED', 'CALLER_JWKS is not set');
  if (trusted.text === text) return trusted;
  let jwks;
  try { jwks = JSON.parse(text); } catch { throw new HttpError(500, 'MISCONFIGURED', 'CALLER_JWKS is not JSON'); }
  const keys = [];
  for (const k of jwks.keys ?? []) {
    if (k.kty !== 'EC' || k.crv !== 'P-256' || (k.alg && k.alg !== 'ES256')) continue;
    const key = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    keys.push({ kid: k.kid, key });
  }
  if (!keys.length || typeof jwks.issuer !== 'string') throw new HttpError(500, 'MISCONFIGURED', 'CALLER_JWKS needs an issuer and an ES256 key');
  trusted = { text, issuer: jwks.issuer, keys };
  return trusted;
}

/**
 * Verifies the request's bearer token. Resolves to `{ token, tenant, role, sub }`; throws
 * 401 UNAUTHENTICATED for any failure (missing, malformed, bad signature, wrong issuer or
 * audience, expired). Tenant and role checks against the request are the caller's business.
 */
export async function verifyCaller(request, env, nowMs = Date.now()) {
  const m = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(request.headers.get('authorization') ?? '');
  if (!m) throw unauthenticated('bearer token required');
  const token = m[1];
  const parts = token.split('.');
  if (parts.length !== 3) throw unauthenticated('malformed token');
  const header = b64urlJson(parts[0]);
  // alg pinned before any key lookup: no `none`, no HMAC confusion
  if (header.alg !== 'ES256') throw unauthenticated('token alg must be ES256');
  const { issuer, keys } = await trustedKeys(env);
  const candidates = header.kid ? keys.filter((k) => k.kid === header.kid) : keys;
  const sig = b64urlBytes(parts[2]);
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  let ok = false;
  for (const { key } of candidates) {
    // JWS ES256 signatures are raw r‖s, exactly what WebCrypto ECDSA expects
    if (await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, sig, signed)) { ok = true; break; }
  }
  if (!ok) throw unauthenticated('bad token signature');
  const c = b64urlJson(parts[1]);
  const now = Math.floor(nowMs / 1000);
  const audience = env.CALLER_AUDIENCE || 'keyseal-kms';
  if (c.iss !== issuer) throw unauthenticated('untrusted token issuer');
  const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
  if (!aud.includes(audience)) throw unauthenticated(`token audience is not ${JSON.stringify(audience)}`);
  if (typeof c.exp !== 'number' || c.exp + SKEW_S < now) throw unauthenticated('token has expired');
  if (c.nbf !== undefined && (typeof c.nbf !== 'number' || c.nbf - SKEW_S > now)) throw unauthenticated('token is not yet valid');
  if (typeof c.sub !== 'string' || !c.sub) throw unauthenticated('token has no sub');
  if (typeof c.tenant !== 'string' || !NAME.test(c.tenant)) throw unauthenticated('token has no valid tenant');
  if (!ROLES.includes(c.role)) throw unauthenticated('token has no valid role');
  return { token, tenant: c.tenant, role: c.role, sub: c.sub };
}

/** The caller's tenant must be one this deployment serves (`KEYSEAL_TENANTS`, comma-separated). */
export function requireTenant(caller, env) {
  const served = String(env.KEYSEAL_TENANTS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!served.includes(caller.tenant)) throw new HttpError(403, 'WRONG_TENANT', 'this deployment does not serve the caller\'s tenant');
}

/** Reads need `reader` or `writer`, writes need `writer` (the key service's own role table). */
export function requireRole(caller, op) {
  const ok = op === 'write' ? caller.role === 'writer' : caller.role === 'reader' || caller.role === 'writer';
  if (!ok) throw new HttpError(403, 'ROLE_DENIED', `role ${caller.role} may not ${op} objects`);
}
