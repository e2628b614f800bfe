// RFC 9180 HPKE, base mode, DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM (KEM 0x0010,
// KDF 0x0001, AEAD 0x0002: FORMAT.md §2), single-shot (sequence number 0), over WebCrypto; and the
// §4.5 `hpke-p256` entry built on it.

import { DecryptionFailedError, InvalidArgumentError, InvalidFormatError } from '../errors.js';
import { concat, hkdfExpand, hkdfExtract } from './crypto.js';
import { HPKE_ENTRY_LEN, isP256Point } from './header.js';

const ascii = (s) => new TextEncoder().encode(s);
const i2osp = (v, n) => { const b = new Uint8Array(n); for (let i = n - 1; i >= 0; i--) { b[i] = v & 0xff; v = Math.floor(v / 256); } return b; };

const KEM_SUITE_ID = concat(ascii('KEM'), i2osp(0x0010, 2));
const HPKE_SUITE_ID = concat(ascii('HPKE'), i2osp(0x0010, 2), i2osp(0x0001, 2), i2osp(0x0002, 2));
const HPKE_V1 = ascii('HPKE-v1');
const EMPTY = new Uint8Array(0);
const MODE_BASE = Uint8Array.of(0);

// RFC 9180 §4: LabeledExtract and LabeledExpand
const labeledExtract = (e, suiteId, salt, label, ikm) => hkdfExtract(e, salt, concat(HPKE_V1, suiteId, ascii(label), ikm));
const labeledExpand = (e, suiteId, prk, label, info, length) =>
  hkdfExpand(e, prk, concat(i2osp(length, 2), HPKE_V1, suiteId, ascii(label), info), length);

// §4.1 DHKEM ExtractAndExpand
async function extractAndExpand(e, dh, kemContext) {
  const eaePrk = await labeledExtract(e, KEM_SUITE_ID, EMPTY, 'eae_prk', dh);
  return labeledExpand(e, KEM_SUITE_ID, eaePrk, 'shared_secret', kemContext, 32);
}

// §5.1 KeySchedule, base mode: the AEAD key and base nonce
async function keySchedule(e, sharedSecret, info) {
  const pskIdHash = await labeledExtract(e, HPKE_SUITE_ID, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = await labeledExtract(e, HPKE_SUITE_ID, EMPTY, 'info_hash', info);
  const context = concat(MODE_BASE, pskIdHash, infoHash);
  const secret = await labeledExtract(e, HPKE_SUITE_ID, sharedSecret, 'secret', EMPTY);
  const key = await labeledExpand(e, HPKE_SUITE_ID, secret, 'key', context, 32);
  const baseNonce = await labeledExpand(e, HPKE_SUITE_ID, secret, 'base_nonce', context, 12);
  return { key, baseNonce };
}

async function aeadKey(e, raw) {
  const k = await e.aesKey(raw);
  raw.fill(0);
  return k;
}

/** `base_nonce XOR I2OSP(seq, 12)` (RFC 9180 §5.2). */
function nonceOf(baseNonce, seq) {
  const n = Uint8Array.from(baseNonce);
  const s = i2osp(seq, 12);
  for (let i = 0; i < 12; i++) n[i] ^= s[i];
  return n;
}

/**
 * RFC 9180 §5.1.1 SetupBaseR with the recipient's key (a CryptoKey or engine handle for ECDH, and
 * its 65-byte SEC1 public key): a context whose `open(seq, aad, ct)` gives the plaintext of message
 * `seq` or `null`; `null` itself when `enc` is not a P-256 point or the ECDH fails.
 */
export async function setupBaseR(e, recipientPrivate, recipientPublic, enc, info) {
  if (!isP256Point(enc)) return null;
  let dh;
  try {
    dh = await e.ecdh(recipientPrivate, await e.importP256Public('ECDH', enc));
  } catch {
    return null;
  }
  const shared = await extractAndExpand(e, dh, concat(enc, recipientPublic));
  const { key, baseNonce } = await keySchedule(e, shared, info);
  const k = await aeadKey(e, key);
  return { open: (seq, aad, ct) => e.aesGcmOpen(k, nonceOf(baseNonce, seq), ct, aad) };
}

/** RFC 9180 §6.1 SealBase to `recipientPublic` (65-byte SEC1): `{ enc, ct }`. */
export async function sealBase(e, recipientPublic, info, aad, plaintext) {
  if (!isP256Point(recipientPublic)) throw new InvalidArgumentError('invalid argument: the recipient key is not a P-256 point');
  const pkR = await e.importP256Public('ECDH', recipientPublic);
  const eph = await e.generateP256('ECDH');
  const dh = await e.ecdh(eph.privateKey, pkR);
  const shared = await extractAndExpand(e, dh, concat(eph.publicRaw, recipientPublic));
  const { key, baseNonce } = await keySchedule(e, shared, info);
  const ct = await e.aesGcmSeal(await aeadKey(e, key), baseNonce, plaintext, aad);
  return { enc: eph.publicRaw, ct };
}

/**
 * RFC 9180 §6.1 OpenBase with the recipient's key (`recipientPrivate`: a CryptoKey for ECDH, and
 * its 65-byte SEC1 public key): the plaintext, or `null` when it does not open.
 */
export async function openBase(e, recipientPrivate, recipientPublic, enc, info, aad, ct) {
  // RFC 9180 §7.1.4: a public key not on the curve is refused before any ECDH (checked in
  // setupBaseR, not left to the runtime: Deno's importKey accepts such a point and fails later)
  const ctx = await setupBaseR(e, recipientPrivate, recipientPublic, enc, info);
  return ctx ? ctx.open(0, aad, ct) : null;
}

/** §4.5 `info = "keyseal/v1 hpke-p256" ‖ 0x00 ‖ key_id ‖ 0x00 ‖ key_version:u32`. */
function entryInfo(keyId, keyVersion) {
  return concat(ascii('keyseal/v1 hpke-p256'), Uint8Array.of(0), ascii(keyId), Uint8Array.of(0), i2osp(keyVersion, 4));
}

/** §4.5: the `wrapped` bytes of an hpke-p256 entry sealing `dataKey` to a key version's public key. */
export async function sealHpkeEntry(e, { recipientPublic, keyId, keyVersion, contextBytes, dataKey }) {
  const { enc, ct } = await sealBase(e, recipientPublic, entryInfo(keyId, keyVersion), contextBytes, dataKey);
  return concat(i2osp(keyVersion, 4), enc, ct);
}

/**
 * §4.5: opens an hpke-p256 entry with the key version's secret scalar and public key: the data key;
 * DECRYPTION_FAILED when it does not open (another key, version, key id or context).
 */
export async function openHpkeEntry(e, { recipientSecret, recipientPublic, keyId, contextBytes, wrapped }) {
  if (wrapped.length !== HPKE_ENTRY_LEN) throw new InvalidFormatError('invalid sealed message: hpke-p256 entry has the wrong length');
  const version = ((wrapped[0] << 24) >>> 0) + ((wrapped[1] << 16) | (wrapped[2] << 8) | wrapped[3]);
  const sk = await e.importP256Private('ECDH', recipientSecret, recipientPublic);
  const dek = await openBase(e, sk, recipientPublic, wrapped.subarray(4, 69), entryInfo(keyId, version), contextBytes, wrapped.subarray(69));
  if (!dek) throw new DecryptionFailedError('decryption failed');
  return { dataKey: dek, keyVersion: version };
}
