// The format's primitives (docs/FORMAT.md §2): SHA-256, HMAC-SHA256, HKDF-SHA256 (RFC 5869),
// AES-256-GCM, ECDH and ECDSA on P-256, as an engine object. `webcryptoEngine` runs them on
// `crypto.subtle`, which every runtime keyseal targets has (browsers and workers on a secure origin,
// Node, Deno, Bun, workerd); `nodeEngine` (node-engine.js) on node:crypto, synchronously. Every
// function of the format takes the engine to use; results are byte-identical.

const subtle = () => {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('crypto.subtle is not available in this context');
  return s;
};

// RFC 5869 §2.2: a missing salt is HashLen zero bytes. HMAC pads its key with zeros to the block
// size, so the empty salt and 32 zero bytes are the same key; WebCrypto refuses an empty HMAC key.
const ZERO_SALT = new Uint8Array(32);

const gcm = (iv, additionalData) => (additionalData ? { name: 'AES-GCM', iv, additionalData } : { name: 'AES-GCM', iv });

export const webcryptoEngine = {
  name: 'webcrypto',
  async sha256(data) {
    return new Uint8Array(await subtle().digest('SHA-256', data));
  },
  async hmacSha256(key, data) {
    const k = await subtle().importKey('raw', key.length ? key : ZERO_SALT, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await subtle().sign('HMAC', k, data));
  },
  /** The data key as HKDF input keying material, a non-extractable CryptoKey for both derivations of §5. */
  hkdfKey(dataKey) {
    return subtle().importKey('raw', dataKey, 'HKDF', false, ['deriveBits', 'deriveKey']);
  },
  async hkdfBits(ikm, salt, info, length) {
    return new Uint8Array(await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, ikm, length * 8));
  },
  /** An HKDF output as a non-extractable AES-256-GCM key: its bytes never exist in JS memory. */
  hkdfAesKey(ikm, salt, info) {
    return subtle().deriveKey({ name: 'HKDF', hash: 'SHA-256', salt, info }, ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  },
  aesKey(raw) {
    return subtle().importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  },
  async aesGcmSeal(key, iv, plaintext, additionalData) {
    return new Uint8Array(await subtle().encrypt(gcm(iv, additionalData), key, plaintext));
  },
  /** The plaintext, or `null` when the tag does not verify (the caller decides the error). */
  async aesGcmOpen(key, iv, sealed, additionalData) {
    try {
      return new Uint8Array(await subtle().decrypt(gcm(iv, additionalData), key, sealed));
    } catch {
      return null;
    }
  },
  /** A fresh P-256 key pair for `ECDH` or `ECDSA` and its uncompressed SEC1 public key. */
  async generateP256(name) {
    const usages = name === 'ECDH' ? ['deriveBits'] : ['sign', 'verify'];
    const pair = await subtle().generateKey({ name, namedCurve: 'P-256' }, false, usages);
    const pub = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
    return { privateKey: pair.privateKey, publicKey: pair.publicKey, publicRaw: pub };
  },
  /** A P-256 public key from its uncompressed SEC1 bytes (checked on the curve by the caller). */
  importP256Public(name, raw) {
    return subtle().importKey('raw', raw, { name, namedCurve: 'P-256' }, false, name === 'ECDH' ? [] : ['verify']);
  },
  /** A P-256 private key from its 32-byte scalar and uncompressed SEC1 public key (JWK import). */
  importP256Private(name, secret, publicRaw) {
    const jwk = {
      kty: 'EC', crv: 'P-256', ext: false,
      d: base64url(secret), x: base64url(publicRaw.subarray(1, 33)), y: base64url(publicRaw.subarray(33, 65)),
    };
    return subtle().importKey('jwk', jwk, { name, namedCurve: 'P-256' }, false, name === 'ECDH' ? ['deriveBits'] : ['sign']);
  },
  /** ECDH on P-256: the 32-byte x coordinate of the shared point (RFC 9180 §7.1.1 `DH`). */
  async ecdh(privateKey, publicKey) {
    return new Uint8Array(await subtle().deriveBits({ name: 'ECDH', public: publicKey }, privateKey, 256));
  },
  /** ECDSA P-256 with SHA-256: the 64-byte r ‖ s signature (IEEE P1363, WebCrypto's own encoding). */
  async ecdsaSign(privateKey, message) {
    return new Uint8Array(await subtle().sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, message));
  },
  async ecdsaVerify(publicKey, signature, message) {
    try {
      return await subtle().verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, signature, message);
    } catch {
      return false;
    }
  },
  randomBytes(n) {
    return globalThis.crypto.getRandomValues(new Uint8Array(n));
  },
};

/** HKDF-Extract(salt, ikm) (RFC 5869 §2.2): the 32-byte PRK. */
export function hkdfExtract(engine, salt, ikm) {
  return engine.hmacSha256(salt, ikm);
}

/** HKDF-Expand(prk, info, length) (RFC 5869 §2.3) for length ≤ 32 (one block: all the format needs). */
export async function hkdfExpand(engine, prk, info, length) {
  if (length > 32) throw new RangeError('hkdfExpand: at most 32 bytes');
  const t = await engine.hmacSha256(prk, concat(info, Uint8Array.of(1)));
  return t.subarray(0, length);
}

/** Constant-time equality of two byte strings of public length. */
export function equalInConstantTime(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

const HEX = Array.from({ length: 256 }, (_, x) => x.toString(16).padStart(2, '0'));

/** Lowercase hex of bytes. */
export function toHex(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/** The concatenation of byte strings. */
export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
