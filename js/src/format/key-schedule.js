// §5 key schedule: the key commitment and the payload key of a message, from its data key.

import { hkdf, concat } from './crypto.js';

const ascii = (s) => new TextEncoder().encode(s);
const COMMIT_LABEL = ascii('keyseal/v1 commit');
const PAYLOAD_LABEL = ascii('keyseal/v1 payload');
const suiteBytes = (suite) => Uint8Array.of(suite >>> 8, suite & 0xff);

/** `commitment = HKDF-Expand(HKDF-Extract(message_id, DEK), "keyseal/v1 commit" ‖ suite, 32)`. */
export function commitment(dataKey, messageId, suite) {
  return hkdf(messageId, dataKey, concat(COMMIT_LABEL, suiteBytes(suite)), 32);
}

/**
 * `payload_key = HKDF-Expand(PRK, "keyseal/v1 payload" ‖ suite ‖ header_hash, 32)`, as a
 * non-extractable AES-256-GCM CryptoKey: the key's bytes never exist in JS memory.
 */
export async function payloadKey(dataKey, messageId, suite, headerHash) {
  const s = globalThis.crypto.subtle;
  const ikm = await s.importKey('raw', dataKey, 'HKDF', false, ['deriveKey']);
  return s.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: messageId, info: concat(PAYLOAD_LABEL, suiteBytes(suite), headerHash) },
    ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}
