// The SDK policy in JS (docs/DESIGN.md "Package size: the designs measured", design C) over the
// format in JS (../format): `KeySealJs`, what the package's `KeySeal` instances run on (../keyseal.js
// routes to it), and the pieces it is made of (the keyseal, aws-kms and kacls clients, the retry
// policy, the caches, the decrypt policy, rotation, metrics), held to the real key services and to
// the Rust SDK (the wasm core) by js/test/suite/policy-js.js, and to the d.ts by the whole suite.
// Not part of the package's API: its tests import it from here.

export { KeysealKms } from './keyseal-kms.js';
export { AwsKms, sigv4Authorization, amzDate } from './aws-kms.js';
export { Kacls } from './kacls.js';
export { Endpoints, Retry, RETRY_DEFAULTS } from './endpoints.js';
export { DataKeyCache, CACHE_DEFAULTS } from './cache.js';
export { DataKeys } from './data-keys.js';
export { GenerateQueue, LANES, MAX_BATCH } from './generate-queue.js';
export { refusal, keyIdAllowed, REFUSED } from './decrypt-policy.js';
export { KeySealJs } from './keyseal.js';
export { Rotation, RewrapMemo, questionDigest, REWRAP_BATCH_MAX } from './rotation.js';
export { entryVersion, headerInfo } from './header-info.js';
export { answerStatement, batchStatement, publicKeyStatement, pinnedIdentity } from './identity.js';
export { newRecipient, openSealedKey, openBatch } from './recipient.js';

/** The errors module these modules throw from (the package's own). */
export * as errors from '../errors.js';
