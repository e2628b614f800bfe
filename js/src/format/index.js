// keyseal format v1 in JS over WebCrypto (docs/FORMAT.md), the second implementation beside the
// Rust reference (format/). Not yet loaded by the package's entries: docs/DESIGN.md "Package size:
// the designs measured", design C, stage 2. Kept in step with the Rust by tests/vectors and the
// differential parser check (js/test/suite/format-js.js). Every function takes the engine of
// primitives it runs on: `webcryptoEngine` here, `nodeEngine` in node-engine.js (node:crypto,
// imported separately so that no other runtime loads it).

export {
  MAGIC, LIMITS, ENTRY_KINDS, SUITE_AEAD, SUITE_SIGNED, VERIFICATION_KEY_CONTEXT_KEY, compareBytes,
  parseHeader, headerLength, encodeContext, encodeAuthenticated, encodeSection, isP256Point, decodeBase64Strict, encodeBase64,
} from './header.js';
export { commitment, dataKeyForSchedule, payloadKey } from './key-schedule.js';
export { bodyLayout, nonce, sealBody, openBody } from './segments.js';
export { sealBase, openBase, setupBaseR, sealHpkeEntry, openHpkeEntry } from './hpke.js';
export { sealWithDataKeyAssumingUniqueMessageId, openWithDataKey, openAssumingCommitmentChecked, dataKeyMatches } from './message.js';
export { webcryptoEngine } from './crypto.js';
export { StreamSealer, StreamOpener } from './stream.js';
export { planRange, openRange } from './range.js';
