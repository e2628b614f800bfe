// §5 key schedule: the key commitment and the payload key of a message, from its data key.

import { concat } from './crypto.js';

const ascii = (s) => new TextEncoder().encode(s);
const COMMIT_LABEL = ascii('keyseal/v1 commit');
const PAYLOAD_LABEL = ascii('keyseal/v1 payload');
const suiteBytes = (suite) => Uint8Array.of(suite >>> 8, suite & 0xff);

/** The data key as the engine's HKDF input, imported once per message for both derivations. */
export function dataKeyForSchedule(engine, dataKey) {
  return engine.hkdfKey(dataKey);
}

/** `commitment = HKDF-Expand(HKDF-Extract(message_id, DEK), "keyseal/v1 commit" ‖ suite, 32)`. */
export function commitment(engine, ikm, messageId, suite) {
  return engine.hkdfBits(ikm, messageId, concat(COMMIT_LABEL, suiteBytes(suite)), 32);
}

/** `payload_key = HKDF-Expand(PRK, "keyseal/v1 payload" ‖ suite ‖ header_hash, 32)`, as the engine's AES key. */
export function payloadKey(engine, ikm, messageId, suite, headerHash) {
  return engine.hkdfAesKey(ikm, messageId, concat(PAYLOAD_LABEL, suiteBytes(suite), headerHash));
}
