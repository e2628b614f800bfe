// PROTOCOL.md §6.1 and §3.2.1: data keys sealed to the caller's ephemeral P-256 key by HPKE.

import { ProtocolError } from '../errors.js';
import { setupBaseR } from '../format/hpke.js';
import { encodeBase64 } from '../format/header.js';

const ascii = (s) => new TextEncoder().encode(s);
const INFO = ascii('keyseal/v1 recipient-dek');
const INFO_BATCH = ascii('keyseal/v1 recipient-dek-batch');
const EMPTY = new Uint8Array(0);
const unopened = (service, op) => new ProtocolError(`${service}: sealed_key does not open`, undefined, { service, op });

/** A fresh ephemeral recipient (one per call): its key pair and the request's `recipient` member. */
export async function newRecipient(engine) {
  const { privateKey, publicRaw } = await engine.generateP256('ECDH');
  return {
    privateKey,
    publicRaw,
    json: { suite: { kem: 16, kdf: 1, aead: 2 }, public_key: encodeBase64(publicRaw) },
  };
}

/** The 32-byte data key of a `sealed_key` (§6.1); PROTOCOL_ERROR when it does not open. */
export async function openSealedKey(engine, recipient, enc, ciphertext, service, op) {
  const ctx = await setupBaseR(engine, recipient.privateKey, recipient.publicRaw, enc, INFO);
  const dek = ctx && await ctx.open(0, EMPTY, ciphertext);
  if (!dek || dek.length !== 32) throw unopened(service, op);
  return dek;
}

/** The data keys of a `/generate-batch` answer (§3.2.1): item i is message i with aad u32 i. */
export async function openBatch(engine, recipient, enc, ciphertexts, service) {
  const ctx = await setupBaseR(engine, recipient.privateKey, recipient.publicRaw, enc, INFO_BATCH);
  if (!ctx) throw unopened(service, 'generate_batch');
  return Promise.all(ciphertexts.map(async (ct, i) => {
    const dek = await ctx.open(i, Uint8Array.of(i >>> 24, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff), ct);
    if (!dek || dek.length !== 32) throw unopened(service, 'generate_batch');
    return dek;
  }));
}
