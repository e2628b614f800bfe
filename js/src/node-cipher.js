// The `node` engine: AES-256-GCM from node:crypto (OpenSSL, AES-NI), as the small synchronous
// interface the Rust core drives (wasm/src/platform.rs `NodeCipher`): the core decides every
// segment, nonce and order; this only runs OpenSSL. Node's crypto.subtle hands every call to the
// thread pool and costs ~2x at 64 KiB segments; a synchronous OpenSSL call per segment does not.
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';

const TAG = 16;

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
  /** Resolves after pending I/O has run: the core yields here every 16 segments. */
  yieldToIo() {
    return new Promise((resolve) => setImmediate(resolve));
  },
};
