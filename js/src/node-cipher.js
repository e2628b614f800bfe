// The `node` engine of instances on the Rust core in wasm (the SDK in JS has format/node-engine.js):
// AES-256-GCM from node:crypto (OpenSSL, AES-NI), as the small synchronous interface the Rust core drives (wasm/src/platform.rs `NodeCipher`): the core decides every
// segment, nonce and order; this only runs OpenSSL. Node's crypto.subtle hands every call to the
// thread pool and costs ~2x at 64 KiB segments; a synchronous OpenSSL call per segment does not.
// The same object is the `node` P-256 engine (wasm/src/p256.rs): the recipient key of each
// key-service call and identity signatures, where Node's crypto.subtle costs ~2 ms of main-thread
// JS per call and the synchronous OpenSSL calls a fraction of that.
import { createCipheriv, createDecipheriv, createECDH, createPublicKey, createSecretKey, verify } from 'node:crypto';

const TAG = 16;
/** Identity public keys as KeyObjects (a client pins one or two). */
const verifyKeys = new Map();

export const nodeCipher = {
  /** A KeyObject held by OpenSSL (it copies `raw`), like a non-extractable CryptoKey; the core zero-fills `raw`. */
  importKey(raw) {
    return createSecretKey(raw);
  },
  /** Seals `data` as ciphertext ‖ tag into `out` at `offset`. */
  sealInto(key, iv, data, out, offset) {
    const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG });
    out.set(c.update(data), offset);
    c.final();
    out.set(c.getAuthTag(), offset + data.length);
  },
  /** Opens ciphertext ‖ tag into `out` at `offset`; throws on a bad tag and writes nothing then. */
  openInto(key, iv, data, out, offset) {
    if (data.length < TAG) throw new Error('ciphertext shorter than the tag');
    const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG });
    d.setAuthTag(data.subarray(data.length - TAG));
    const pt = d.update(data.subarray(0, data.length - TAG));
    d.final();
    out.set(pt, offset);
  },
  /** A fresh P-256 key pair held by OpenSSL: `{ key, publicKey }`, the public key uncompressed SEC1. */
  ecdhGenerate() {
    const key = createECDH('prime256v1');
    return { key, publicKey: key.generateKeys() };
  },
  /** The x-coordinate of DH(key, peer); throws when `peer` is not a P-256 point. */
  ecdhCompute(key, peer) {
    return key.computeSecret(peer);
  },
  /** Whether `signature` (r ‖ s) is an ECDSA-SHA256 signature of `message` under `publicKey` (SEC1). */
  ecdsaVerify(publicKey, message, signature) {
    const b64 = (b) => Buffer.from(b).toString('base64url');
    const jwk = { kty: 'EC', crv: 'P-256', x: b64(publicKey.subarray(1, 33)), y: b64(publicKey.subarray(33, 65)) };
    let k = verifyKeys.get(jwk.x + jwk.y);
    if (!k) {
      k = createPublicKey({ key: jwk, format: 'jwk' });
      if (verifyKeys.size >= 16) verifyKeys.clear();
      verifyKeys.set(jwk.x + jwk.y, k);
    }
    return verify('sha256', message, { key: k, dsaEncoding: 'ieee-p1363' }, signature);
  },
  /** Resolves after pending I/O has run: the core yields here every 16 segments. */
  yieldToIo() {
    return new Promise((resolve) => setImmediate(resolve));
  },
};
