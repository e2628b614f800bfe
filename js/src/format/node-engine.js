// The format's primitives from node:crypto (OpenSSL, synchronous): what Node and Bun use, where
// every `crypto.subtle` call is a round trip through the thread pool (a 1 KiB seal takes five, and
// ran at about 2k/s over WebCrypto against tens of thousands synchronously). Same interface as
// `webcryptoEngine` (crypto.js); results are byte-identical (the format's tests run both).

import {
  createCipheriv, createDecipheriv, createECDH, createHash, createHmac, createPrivateKey, createPublicKey,
  createSecretKey, generateKeyPairSync, randomFillSync, sign, verify,
} from 'node:crypto';

const TAG = 16;
const ZERO_SALT = new Uint8Array(32);
const u8 = (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const b64u = (b) => Buffer.from(b).toString('base64url');
const jwkOf = (publicRaw, secret) => ({
  kty: 'EC', crv: 'P-256', x: b64u(publicRaw.subarray(1, 33)), y: b64u(publicRaw.subarray(33, 65)), ...(secret ? { d: b64u(secret) } : {}),
});

/** HKDF-Extract(salt, ikm), kept on the handle for the next expand with the same salt. */
function prkOf(h, salt) {
  if (!h.prk || !equal(h.salt, salt)) {
    h.prk = createSecretKey(createHmac('sha256', salt.length ? salt : ZERO_SALT).update(h.ikm).digest());
    h.salt = Uint8Array.from(salt);
  }
  return h.prk;
}
/** HKDF-Expand(prk, info, 32): one block, T(1) = HMAC(prk, info ‖ 0x01). */
function expand(prk, info) {
  return u8(createHmac('sha256', prk).update(info).update(ONE).digest());
}
const ONE = Uint8Array.of(1);
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export const nodeEngine = {
  name: 'node',
  sha256: (data) => u8(createHash('sha256').update(data).digest()),
  hmacSha256: (key, data) => u8(createHmac('sha256', key.length ? key : ZERO_SALT).update(data).digest()),
  // HKDF as RFC 5869 writes it, on createHmac: a third of the time of `hkdfSync` per call in a
  // profile of 1 KiB seals, and the extract (PRK) done once for the two expands of a message (§5).
  /** The caller's data key (no copy: the caller zeroes it when done) and the PRK of the last salt. */
  hkdfKey: (dataKey) => ({ ikm: dataKey, salt: null, prk: null }),
  hkdfBits: (h, salt, info, length) => expand(prkOf(h, salt), info).subarray(0, length),
  hkdfAesKey(h, salt, info) {
    const raw = expand(prkOf(h, salt), info);
    const key = createSecretKey(raw);
    raw.fill(0);
    return key;
  },
  aesKey: (raw) => createSecretKey(raw),
  aesGcmSeal(key, iv, plaintext, additionalData) {
    const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG });
    if (additionalData) c.setAAD(additionalData);
    const body = c.update(plaintext);
    c.final();
    const out = new Uint8Array(body.length + TAG);
    out.set(body, 0);
    out.set(c.getAuthTag(), body.length);
    return out;
  },
  aesGcmOpen(key, iv, sealed, additionalData) {
    if (sealed.length < TAG) return null;
    try {
      const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG });
      if (additionalData) d.setAAD(additionalData);
      d.setAuthTag(sealed.subarray(sealed.length - TAG));
      const pt = d.update(sealed.subarray(0, sealed.length - TAG));
      d.final();
      return u8(pt);
    } catch {
      return null;
    }
  },
  generateP256(name) {
    if (name === 'ECDH') {
      const key = createECDH('prime256v1');
      return { privateKey: key, publicRaw: u8(key.generateKeys()) };
    }
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const raw = new Uint8Array(65);
    raw[0] = 4;
    raw.set(Buffer.from(jwk.x, 'base64url'), 1);
    raw.set(Buffer.from(jwk.y, 'base64url'), 33);
    return { privateKey, publicKey, publicRaw: raw };
  },
  /** ECDH peers stay raw bytes (OpenSSL checks the point in `computeSecret`); ECDSA keys are KeyObjects. */
  importP256Public: (name, raw) => (name === 'ECDH' ? raw : createPublicKey({ key: jwkOf(raw), format: 'jwk' })),
  importP256Private(name, secret, publicRaw) {
    if (name === 'ECDSA') return createPrivateKey({ key: jwkOf(publicRaw, secret), format: 'jwk' });
    const key = createECDH('prime256v1');
    key.setPrivateKey(secret);
    return key;
  },
  ecdh: (privateKey, publicKey) => u8(privateKey.computeSecret(publicKey)),
  ecdsaSign: (privateKey, message) => u8(sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
  ecdsaVerify(publicKey, signature, message) {
    try {
      return verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
    } catch {
      return false;
    }
  },
  randomBytes: (n) => randomFillSync(new Uint8Array(n)),
};
