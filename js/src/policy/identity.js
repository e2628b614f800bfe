// PROTOCOL.md §6.3: the statements a key service with an identity key signs, rebuilt by the
// client from its own question and the answer, and their check under the pinned key.

import { IdentityMismatchError } from '../errors.js';
import { concat } from '../format/crypto.js';
import { decodeBase64Strict, isP256Point } from '../format/header.js';

const ascii = (s) => new TextEncoder().encode(s);
const EMPTY = new Uint8Array(0);
const u32 = (v) => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
const ANSWER = ascii('keyseal/v1 answer\0');
const BATCH = ascii('keyseal/v1 batch\0');
const PUBLIC_KEY = ascii('keyseal/v1 public-key\0');

/**
 * The answer statement: `"keyseal/v1 answer" ‖ 0x00 ‖ H(op) ‖ H(key_id) ‖ H(to_key_id) ‖
 * H(canonical context) ‖ H(recipient public key) ‖ H(request wrapped_key) ‖ H(answer wrapped_key)
 * ‖ u32 key_version ‖ H(sealed_key.enc) ‖ H(sealed_key.ciphertext)`; absent values are empty.
 */
export async function answerStatement(engine, a) {
  const h = (x) => engine.sha256(x ?? EMPTY);
  const parts = await Promise.all([
    h(ascii(a.op)), h(ascii(a.keyId)), h(ascii(a.toKeyId ?? a.keyId)), h(a.contextBytes), h(a.recipientPublic),
    h(a.requestWrapped), h(a.answerWrapped),
  ]);
  const [enc, ct] = await Promise.all([h(a.enc), h(a.ciphertext)]);
  return concat(ANSWER, ...parts, u32(a.keyVersion), enc, ct);
}

/**
 * The batch statement: `"keyseal/v1 batch" ‖ 0x00 ‖ u32 n`, then per item `0x01 ‖ SHA-256(answer
 * statement)` (an answer statement's bytes) or, for a refused rewrap item (`{ refused: name }`),
 * `0x00 ‖ H(error name)`.
 */
export async function batchStatement(engine, items) {
  const parts = await Promise.all(items.map(async (x) => (x instanceof Uint8Array
    ? [Uint8Array.of(1), await engine.sha256(x)]
    : [Uint8Array.of(0), await engine.sha256(ascii(x.refused))])));
  return concat(BATCH, u32(items.length), ...parts.flat());
}

/** The public-key statement: `"keyseal/v1 public-key" ‖ 0x00 ‖ H(key_id) ‖ u32 key_version ‖ SEC1`. */
export async function publicKeyStatement(engine, keyId, keyVersion, publicRaw) {
  return concat(PUBLIC_KEY, await engine.sha256(ascii(keyId)), u32(keyVersion), publicRaw);
}

/**
 * A pinned identity (`keyBase64`: the service's 65-byte SEC1 public key, standard base64, as
 * `keyseal-kms identity show` prints it): `check(statement, signatureBase64)` throws
 * IDENTITY_MISMATCH unless the signature verifies. `null` when nothing is pinned.
 */
export async function pinnedIdentity(engine, keyBase64, service) {
  if (keyBase64 === undefined || keyBase64 === null) return null;
  const raw = decodeBase64Strict(String(keyBase64));
  let key = null;
  try {
    if (raw && raw.length === 65 && isP256Point(raw)) key = await engine.importP256Public('ECDSA', raw);
  } catch { /* refused below */ }
  if (!key) throw new IdentityMismatchError('the pinned identity is not a P-256 public key in base64', undefined, { service });
  return {
    async check(statement, signatureBase64, op) {
      const sig = typeof signatureBase64 === 'string' ? decodeBase64Strict(signatureBase64) : null;
      if (!sig || sig.length !== 64 || !(await engine.ecdsaVerify(key, sig, statement))) {
        throw new IdentityMismatchError(`the answer of ${service} to ${op} is not signed by its pinned identity`, undefined, { service, op });
      }
    },
  };
}
