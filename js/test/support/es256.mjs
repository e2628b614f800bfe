// An ES256 (P-256) key pair for test identity providers, without KeyObject.export().
//
// Node 20 can deadlock in `publicKey.export({ format: 'jwk' })` on a key from generateKeyPair*:
// the export holds the key's mutex, allocates, V8 collects garbage, and the weak callback that
// destroys the finished KeyGenJob locks the same mutex (seen here as a test harness stuck at 0 %
// CPU in futex_wait; gdb: ExportJWKEcKey → GC → ~KeyGenJob → uv_mutex_lock). Asking
// generateKeyPairSync for encoded keys makes no KeyObject at all, and the JWK is read from the
// SPKI bytes: for P-256 they end in the uncompressed point 04 ‖ x ‖ y.
import { generateKeyPairSync } from 'node:crypto';

/** `{ privateKey: PKCS#8 PEM (for crypto.sign), jwk: { kty, crv, x, y } }`. */
export function es256KeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const point = publicKey.subarray(publicKey.length - 65);
  if (point[0] !== 4) throw new Error('unexpected SPKI encoding of a P-256 key');
  const b64url = (b) => Buffer.from(b).toString('base64url');
  return { privateKey, jwk: { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33)) } };
}
