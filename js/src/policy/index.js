// The SDK policy in JS (docs/DESIGN.md "Package size: the designs measured", design C stage 1)
// over the format in JS (../format), not yet loaded by the package's entries: `KeySealJs` and the
// pieces it is made of (the keyseal, aws-kms and kacls clients, the retry policy, the caches, the
// decrypt policy, rotation, metrics), held to the real key services and the package by
// js/test/suite/policy-js.js and, against the whole suite, by `make policy-parity`.

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
export { answerStatement, batchStatement, publicKeyStatement, pinnedIdentity } from './identity.js';
export { newRecipient, openSealedKey, openBatch } from './recipient.js';

/** The errors module these modules throw from (the package's own once they are in it). */
export * as errors from '../errors.js';
