// Streaming seal and open (FORMAT.md §6, §7.2): segment by segment, memory bounded by one segment
// plus what a push brings. The Rust is format/src/segment.rs (SegmentSealer, SegmentOpener).
// A sealer emits a full segment as soon as it has S plaintext bytes (a full segment is never the
// last, §6.1) and the last one at `finish`. An opener releases a segment's plaintext only once its
// tag verified, in order; a segment is not last once S + 16 of its bytes are there (suite 2: and
// the 64 bytes of the signature after them), so it needs no look-ahead. What a
// consumer may have received before an error is a prefix of the true plaintext in whole
// authenticated segments (DESIGN.md "Streams"); after an error every later call repeats it.

import { DecryptionFailedError, InvalidArgumentError, LimitExceededError } from '../errors.js';
import { concat, equalInConstantTime, webcryptoEngine } from './crypto.js';
import {
  LIMITS, SUITE_AEAD, SUITE_SIGNED, VERIFICATION_KEY_CONTEXT_KEY, encodeAuthenticated, encodeBase64, encodeContext,
  encodeSection,
} from './header.js';
import { commitment, dataKeyForSchedule, payloadKey } from './key-schedule.js';
import { SIGNATURE_LEN, TAG_LEN, nonce, signatureStatement } from './segments.js';

const failed = () => new DecryptionFailedError('decryption failed');

/** The signature chain of §6.5 kept as segments go by: T_{k+1} = SHA-256(T_k ‖ SHA-256(seg_k)). */
class Chain {
  constructor(engine, headerHash) { this.engine = engine; this.t = headerHash; }
  async add(seg) { this.t = await this.engine.sha256(concat(this.t, await this.engine.sha256(seg))); }
  statement() { return signatureStatement(this.engine, this.t, []); }
}

/**
 * §7.1 as a stream: `await StreamSealer.begin({ dataKey, messageId, segmentSize, context, entries,
 * signing?, engine? })`, then `.header` (bytes), `await push(plaintext)` → sealed segments ready,
 * `await finish()` → the last segment (and the signature of a suite-2 message).
 */
export class StreamSealer {
  static async begin({ dataKey, messageId, segmentSize, context, entries, signing, engine = webcryptoEngine }) {
    const suite = signing ? SUITE_SIGNED : SUITE_AEAD;
    let pairs = Array.isArray(context) ? context : Object.entries(context ?? {});
    if (signing && !pairs.some(([k]) => k === VERIFICATION_KEY_CONTEXT_KEY)) pairs = [...pairs, [VERIFICATION_KEY_CONTEXT_KEY, encodeBase64(signing.publicRaw)]];
    const { bytes: contextBytes } = encodeContext(pairs);
    const section = encodeSection(entries);
    const ikm = await dataKeyForSchedule(engine, dataKey);
    const authenticated = encodeAuthenticated({ suite, messageId, segmentSize, contextBytes, commitment: await commitment(engine, ikm, messageId, suite) });
    const headerHash = await engine.sha256(authenticated);
    const s = new StreamSealer();
    Object.assign(s, {
      engine, segmentSize, signing, header: concat(authenticated, section),
      key: await payloadKey(engine, ikm, messageId, suite, headerHash),
      chain: signing ? new Chain(engine, headerHash) : null, index: 0, buffered: [], bufferedLen: 0, done: false,
    });
    return s;
  }

  async #seal(plaintext, last) {
    if (this.index >= LIMITS.maxSegments) throw new LimitExceededError('limit exceeded: segment count');
    const seg = await this.engine.aesGcmSeal(this.key, nonce(this.index++, last), plaintext);
    if (this.chain) await this.chain.add(seg);
    return seg;
  }

  /** The sealed full segments that `plaintext` completes (possibly none). */
  async push(plaintext) {
    if (this.done) throw new InvalidArgumentError('invalid argument: the stream is finished');
    this.buffered.push(plaintext);
    this.bufferedLen += plaintext.length;
    const S = this.segmentSize;
    if (this.bufferedLen < S) return new Uint8Array(0);
    const all = concat(...this.buffered);
    const out = [];
    let at = 0;
    for (; all.length - at >= S; at += S) out.push(await this.#seal(all.subarray(at, at + S), false));
    this.buffered = [all.slice(at)];
    this.bufferedLen = all.length - at;
    return concat(...out);
  }

  /** The last segment (strictly shorter than S, possibly empty) and, for suite 2, the signature. */
  async finish() {
    if (this.done) throw new InvalidArgumentError('invalid argument: the stream is finished');
    this.done = true;
    const last = await this.#seal(concat(...this.buffered), true);
    this.buffered = [];
    if (!this.chain) return last;
    return concat(last, await this.engine.ecdsaSign(this.signing.privateKey, await this.chain.statement()));
  }
}

/**
 * §7.2 as a stream, for a parsed header `h` and its data key: `await StreamOpener.begin({ header,
 * dataKey, engine? })` (DECRYPTION_FAILED at once when the key does not match the commitment),
 * `await push(bodyBytes)` → the plaintext of the segments it authenticated, `await finish()` → the
 * last segment's plaintext once everything authenticated (and the signature verified).
 */
export class StreamOpener {
  static async begin({ header: h, dataKey, engine = webcryptoEngine }) {
    const ikm = await dataKeyForSchedule(engine, dataKey);
    if (!equalInConstantTime(await commitment(engine, ikm, h.messageId, h.suite), h.commitment)) throw failed();
    const headerHash = await engine.sha256(h.authenticated);
    const o = new StreamOpener();
    const signed = h.suite === SUITE_SIGNED;
    let verifyKey = null;
    if (signed) {
      try { verifyKey = await engine.importP256Public('ECDSA', h.verificationKey); } catch { verifyKey = null; }
    }
    Object.assign(o, {
      engine, unit: h.segmentSize + TAG_LEN, trailer: signed ? SIGNATURE_LEN : 0, verifyKey,
      key: await payloadKey(engine, ikm, h.messageId, h.suite, headerHash),
      chain: signed ? new Chain(engine, headerHash) : null, index: 0, pending: new Uint8Array(0), error: null, done: false,
    });
    return o;
  }

  async #open(seg, last) {
    if (this.index >= LIMITS.maxSegments) throw new LimitExceededError('limit exceeded: segment count');
    const pt = await this.engine.aesGcmOpen(this.key, nonce(this.index++, last), seg);
    if (!pt) throw failed();
    if (this.chain) await this.chain.add(seg);
    return pt;
  }

  async #guard(f) {
    if (this.error) throw this.error;
    if (this.done) throw new InvalidArgumentError('invalid argument: the stream is finished');
    try {
      return await f();
    } catch (e) {
      this.error = e;
      this.pending = new Uint8Array(0);
      throw e;
    }
  }

  /** The plaintext of every segment `body` completes that is certainly not the last. */
  push(body) {
    return this.#guard(async () => {
      const all = concat(this.pending, body);
      const out = [];
      let at = 0;
      // a full unit is never the last segment (§6.1): open it at once (past the trailer's bytes,
      // which belong to the signature when nothing follows them)
      try {
        while (all.length - at >= this.unit + this.trailer) {
          out.push(await this.#open(all.subarray(at, at + this.unit), false));
          at += this.unit;
        }
      } catch (e) {
        // within one push nothing is released unless every segment of it authenticated
        for (const p of out) p.fill(0);
        throw e;
      }
      this.pending = all.slice(at);
      return concat(...out);
    });
  }

  /** The last segment's plaintext; DECRYPTION_FAILED when the body ends anywhere but after a last segment. */
  finish() {
    return this.#guard(async () => {
      this.done = true;
      const rest = this.pending;
      // `push` left fewer than a unit of body (plus the trailer): the last segment, if it is one
      const bodyEnd = rest.length - this.trailer;
      if (bodyEnd < TAG_LEN) throw failed();
      const pt = await this.#open(rest.subarray(0, bodyEnd), true);
      if (this.chain) {
        const ok = this.verifyKey && await this.engine.ecdsaVerify(this.verifyKey, rest.subarray(bodyEnd), await this.chain.statement());
        if (!ok) { pt.fill(0); throw failed(); }
      }
      return pt;
    });
  }
}
