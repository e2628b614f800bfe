// RFC 9180 HPKE, base mode, DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM (KEM 0x0010,
// KDF 0x0001, AEAD 0x0002: FORMAT.md §2), single-shot (sequence number 0), over WebCrypto; and the
// §4.5 `hpke-p256` entry built on it.

import { DecryptionFailedError, InvalidArgumentError, InvalidFormatError } from '../errors.js';
import {
  aesGcmOpen, aesGcmSeal, concat, ecdh, generateP256, hkdfExpand, hkdfExtract, importP256Private, importP256Public,
} from './crypto.js';
import { HPKE_ENTRY_LEN, isP256Point } from './header.js';

const ascii = (s) => new TextEncoder().encode(s);
const i2osp = (v, n) => { const b = new Uint8Array(n); for (let i = n - 1; i >= 0; i--) { b[i] = v & 0xff; v = Math.floor(v / 256); } return b; };

const KEM_SUITE_ID = concat(ascii('KEM'), i2osp(0x0010, 2));
const HPKE_SUITE_ID = concat(ascii('HPKE'), i2osp(0x0010, 2), i2osp(0x0001, 2), i2osp(0x0002, 2));
const HPKE_V1 = ascii('HPKE-v1');
const EMPTY = new Uint8Array(0);
const MODE_BASE = Uint8Array.of(0);

// RFC 9180 §4: LabeledExtract and LabeledExpand
const labeledExtract = (suiteId, salt, label, ikm) => hkdfExtract(salt, concat(HPKE_V1, suiteId, ascii(label), ikm));
const labeledExpand = (suiteId, prk, label, info, length) =>
  hkdfExpand(prk, concat(i2osp(length, 2), HPKE_V1, suiteId, ascii(label), info), length);

// §4.1 DHKEM ExtractAndExpand
async function extractAndExpand(dh, kemContext) {
  const eaePrk = await labeledExtract(KEM_SUITE_ID, EMPTY, 'eae_prk', dh);
  return labeledExpand(KEM_SUITE_ID, eaePrk, 'shared_secret', kemContext, 32);
}

// §5.1 KeySchedule, base mode: the AEAD key and base nonce
async function keySchedule(sharedSecret, info) {
  const pskIdHash = await labeledExtract(HPKE_SUITE_ID, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = await labeledExtract(HPKE_SUITE_ID, EMPTY, 'info_hash', info);
  const context = concat(MODE_BASE, pskIdHash, infoHash);
  const secret = await labeledExtract(HPKE_SUITE_ID, sharedSecret, 'secret', EMPTY);
  const key = await labeledExpand(HPKE_SUITE_ID, secret, 'key', context, 32);
  const baseNonce = await labeledExpand(HPKE_SUITE_ID, secret, 'base_nonce', context, 12);
  return { key, baseNonce };
}

async function aeadKey(raw) {
  const k = await globalThis.crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  raw.fill(0);
  return k;
}

/** RFC 9180 §6.1 SealBase to `recipientPublic` (65-byte SEC1): `{ enc, ct }`. */
export async function sealBase(recipientPublic, info, aad, plaintext) {
  if (!isP256Point(recipientPublic)) throw new InvalidArgumentError('invalid argument: the recipient key is not a P-256 point');
  const pkR = await importP256Public('ECDH', recipientPublic);
  const eph = await generateP256('ECDH');
  const dh = await ecdh(eph.privateKey, pkR);
  const shared = await extractAndExpand(dh, concat(eph.publicRaw, recipientPublic));
  const { key, baseNonce } = await keySchedule(shared, info);
  const ct = await aesGcmSeal(await aeadKey(key), baseNonce, plaintext, aad);
  return { enc: eph.publicRaw, ct };
}

/**
 * RFC 9180 §6.1 OpenBase with the recipient's key (`recipientPrivate`: a CryptoKey for ECDH, and
 * its 65-byte SEC1 public key): the plaintext, or `null` when it does not open.
 */
export async function openBase(recipientPrivate, recipientPublic, enc, info, aad, ct) {
  // RFC 9180 §7.1.4: a public key not on the curve is refused before any ECDH (checked here, not
  // left to the runtime: Deno's importKey accepts such a point and fails later)
  if (!isP256Point(enc)) return null;
  const pkE = await importP256Public('ECDH', enc).catch(() => null);
  if (!pkE) return null;
  const dh = await ecdh(recipientPrivate, pkE).catch(() => null);
  if (!dh) return null;
  const shared = await extractAndExpand(dh, concat(enc, recipientPublic));
  const { key, baseNonce } = await keySchedule(shared, info);
  return aesGcmOpen(await aeadKey(key), baseNonce, ct, aad);
}

/** §4.5 `info = "keyseal/v1 hpke-p256" ‖ 0x00 ‖ key_id ‖ 0x00 ‖ key_version:u32`. */
function entryInfo(keyId, keyVersion) {
  return concat(ascii('keyseal/v1 hpke-p256'), Uint8Array.of(0), ascii(keyId), Uint8Array.of(0), i2osp(keyVersion, 4));
}

/** §4.5: the `wrapped` bytes of an hpke-p256 entry sealing `dataKey` to a key version's public key. */
export async function sealHpkeEntry({ recipientPublic, keyId, keyVersion, contextBytes, dataKey }) {
  const { enc, ct } = await sealBase(recipientPublic, entryInfo(keyId, keyVersion), contextBytes, dataKey);
  return concat(i2osp(keyVersion, 4), enc, ct);
}

/**
 * §4.5: opens an hpke-p256 entry with the key version's secret scalar and public key: the data key;
 * DECRYPTION_FAILED when it does not open (another key, version, key id or context).
 */
export async function openHpkeEntry({ recipientSecret, recipientPublic, keyId, contextBytes, wrapped }) {
  if (wrapped.length !== HPKE_ENTRY_LEN) throw new InvalidFormatError('invalid sealed message: hpke-p256 entry has the wrong length');
  const version = ((wrapped[0] << 24) >>> 0) + ((wrapped[1] << 16) | (wrapped[2] << 8) | wrapped[3]);
  const sk = await importP256Private('ECDH', recipientSecret, recipientPublic);
  const dek = await openBase(sk, recipientPublic, wrapped.subarray(4, 69), entryInfo(keyId, version), contextBytes, wrapped.subarray(69));
  if (!dek) throw new DecryptionFailedError('decryption failed');
  return { dataKey: dek, keyVersion: version };
}
