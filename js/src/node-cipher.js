// The `node` engine: AES-256-GCM from node:crypto (OpenSSL, AES-NI), shaped like the three
// crypto.subtle calls the WebCrypto engine makes, so both share one segment pipeline and give the
// same bytes (docs/DESIGN.md "Engines"). Node's crypto.subtle hands every call to the thread pool
// and costs ~2x at 64 KiB segments; a synchronous OpenSSL call per segment does not.
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';

const TAG = 16;
/**
 * OpenSSL runs synchronously, so a chain of segments would resolve promise after promise without
 * ever returning to the event loop: concurrent callers' key-service responses (fetch I/O) starve
 * until the work runs out (seen: `/generate` answers waiting 4 s, then TIMEOUT and an open
 * circuit). Every YIELD_EVERY segments (1 MiB at the default size) the engine yields with
 * setImmediate, which runs after pending I/O.
 */
const YIELD_EVERY = 16;
let sinceYield = 0;
const yieldToIo = () => new Promise((resolve) => setImmediate(resolve));
async function fair() {
  if (++sinceYield >= YIELD_EVERY) {
    sinceYield = 0;
    await yieldToIo();
  }
}

export const nodeCipher = {
  /** Awaited by the whole-message paths between segments (see YIELD_EVERY). */
  fair,
  /** A KeyObject held by OpenSSL, like a non-extractable CryptoKey; the caller zeroes `raw`. */
  async importKey(_format, raw) {
    return createSecretKey(Uint8Array.from(raw));
  },
  /** ciphertext ‖ tag, as crypto.subtle.encrypt returns it. */
  async encrypt({ iv }, key, data) {
    await fair();
    const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG });
    const out = new Uint8Array(data.length + TAG);
    out.set(c.update(data));
    c.final();
    out.set(c.getAuthTag(), data.length);
    return out.buffer;
  },
  /**
   * Whole-message fast path (sealWebCrypto/openWebCrypto use it when present): the result goes
   * straight into the message buffer, one copy fewer than ciphertext ‖ tag in a fresh buffer.
   */
  encryptInto({ iv }, key, data, out, offset) {
    const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG });
    out.set(c.update(data), offset);
    c.final();
    out.set(c.getAuthTag(), offset + data.length);
  },
  decryptInto({ iv }, key, data, out, offset) {
    if (data.length < TAG) throw new Error('ciphertext shorter than the tag');
    const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG });
    d.setAuthTag(data.subarray(data.length - TAG));
    const pt = d.update(data.subarray(0, data.length - TAG));
    d.final(); // throws on a bad tag: nothing is written for this segment
    out.set(pt, offset);
  },
  /** Throws on a bad tag (the engine turns any failure into DECRYPTION_FAILED). */
  async decrypt({ iv }, key, data) {
    await fair();
    if (data.length < TAG) throw new Error('ciphertext shorter than the tag');
    const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG });
    d.setAuthTag(data.subarray(data.length - TAG));
    const out = new Uint8Array(data.length - TAG);
    out.set(d.update(data.subarray(0, data.length - TAG)));
    d.final();
    return out.buffer;
  },
};
