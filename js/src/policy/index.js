// The SDK policy in JS (docs/DESIGN.md "Package size: the designs measured", design C stage 1),
// being built over the format in JS (../format). Not yet loaded by the package's entries. So far:
// the client of a keyseal key service (PROTOCOL.md §3, §5, §6), held to the real keyseal-kms by
// js/test/suite/policy-js.js.

export { KeysealKms } from './keyseal-kms.js';
export { answerStatement, batchStatement, publicKeyStatement, pinnedIdentity } from './identity.js';
export { newRecipient, openSealedKey, openBatch } from './recipient.js';
