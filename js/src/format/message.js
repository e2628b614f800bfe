// §7 procedures: seal and open a whole message with a data key the caller holds.

import { ContextMismatchError, DecryptionFailedError, InvalidArgumentError } from '../errors.js';
import { concat, equalInConstantTime, webcryptoEngine } from './crypto.js';
import {
  SUITE_AEAD, SUITE_SIGNED, VERIFICATION_KEY_CONTEXT_KEY, encodeAuthenticated, encodeBase64, encodeContext,
  encodeSection, parseHeader,
} from './header.js';
import { commitment, dataKeyForSchedule, payloadKey } from './key-schedule.js';
import { SIGNATURE_LEN, bodyLayout, openBody, sealBody, signBody, verifyBody } from './segments.js';

function checkDataKey(dataKey) {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== 32) throw new InvalidArgumentError('invalid argument: a data key is 32 bytes');
}

/**
 * §7.1: seals `plaintext` under `dataKey` with `messageId`, which the caller MUST never reuse
 * with that data key (§5). `context`: an object or `[key, value]` pairs; `entries`: §4.2
 * (`{ kind, keyServiceId, keyId, wrapped }`). Suite 2 (`signing: { privateKey, publicRaw }`, an
 * ECDSA P-256 key pair of `engine`) puts the verification key in the context (§3.4) and appends
 * the signature. `engine`: `webcryptoEngine` (default) or `nodeEngine` (node-engine.js).
 */
export async function sealWithDataKeyAssumingUniqueMessageId({ dataKey, messageId, segmentSize, context, entries, plaintext, signing, engine = webcryptoEngine }) {
  checkDataKey(dataKey);
  const suite = signing ? SUITE_SIGNED : SUITE_AEAD;
  let pairs = Array.isArray(context) ? context : Object.entries(context ?? {});
  if (signing) {
    const vk = encodeBase64(signing.publicRaw);
    const given = pairs.find(([k]) => k === VERIFICATION_KEY_CONTEXT_KEY);
    if (given && given[1] !== vk) throw new InvalidArgumentError('invalid argument: the context names another verification key');
    if (!given) pairs = [...pairs, [VERIFICATION_KEY_CONTEXT_KEY, vk]];
  } else if (pairs.some(([k]) => k === VERIFICATION_KEY_CONTEXT_KEY)) {
    throw new InvalidArgumentError('invalid argument: a verification key in the context of an unsigned message');
  }
  const { bytes: contextBytes } = encodeContext(pairs);
  const section = encodeSection(entries);
  const ikm = await dataKeyForSchedule(engine, dataKey);
  const authenticated = encodeAuthenticated({
    suite, messageId, segmentSize, contextBytes, commitment: await commitment(engine, ikm, messageId, suite),
  });
  const headerHash = await engine.sha256(authenticated);
  const key = await payloadKey(engine, ikm, messageId, suite, headerHash);
  const body = await sealBody(engine, key, plaintext, segmentSize);
  const signature = signing ? await signBody(engine, signing.privateKey, headerHash, body, segmentSize) : new Uint8Array(0);
  return concat(authenticated, section, body, signature);
}

/** §5, §7.2 step 4: whether `dataKey` is the one the parsed header `h` commits to. */
export async function dataKeyMatches(engine, h, dataKey) {
  const ikm = await dataKeyForSchedule(engine, dataKey);
  return equalInConstantTime(await commitment(engine, ikm, h.messageId, h.suite), h.commitment);
}

/**
 * §7.2: the plaintext of `sealed`, opened with `dataKey`. `requireContext`: pairs that MUST be in
 * the message's context with these values (CONTEXT_MISMATCH before any key is used). Every
 * authentication failure is DECRYPTION_FAILED, and nothing is returned.
 */
export async function openWithDataKey(sealed, dataKey, { requireContext, engine = webcryptoEngine } = {}) {
  checkDataKey(dataKey);
  const h = parseHeader(sealed);
  if (requireContext) {
    const have = new Map(h.context);
    for (const [k, v] of Object.entries(requireContext)) {
      if (have.get(k) !== v) throw new ContextMismatchError(`context mismatch on key "${k}"`, undefined, { contextKey: k });
    }
  }
  const ikm = await dataKeyForSchedule(engine, dataKey);
  if (!equalInConstantTime(await commitment(engine, ikm, h.messageId, h.suite), h.commitment)) {
    throw new DecryptionFailedError('decryption failed');
  }
  return openParsed(sealed, h, ikm, engine);
}

/**
 * §7.2 step 5 for a message whose header `h` is parsed and whose data key the caller already
 * checked against the commitment (`dataKeyMatches`, as choosing an entry does): the body opened
 * without parsing or deriving the commitment again.
 */
export async function openAssumingCommitmentChecked(sealed, h, dataKey, { engine = webcryptoEngine } = {}) {
  checkDataKey(dataKey);
  return openParsed(sealed, h, await dataKeyForSchedule(engine, dataKey), engine);
}

async function openParsed(sealed, h, ikm, engine) {
  const trailer = h.suite === SUITE_SIGNED ? SIGNATURE_LEN : 0;
  const bodyLen = sealed.length - h.headerLen - trailer;
  if (bodyLen < 0) throw new DecryptionFailedError('decryption failed');
  bodyLayout(h.segmentSize, bodyLen);
  const body = sealed.subarray(h.headerLen, h.headerLen + bodyLen);
  const headerHash = await engine.sha256(h.authenticated);
  const key = await payloadKey(engine, ikm, h.messageId, h.suite, headerHash);
  const { plaintext, segments } = await openBody(engine, key, body, h.segmentSize);
  if (h.suite === SUITE_SIGNED) {
    try {
      await verifyBody(engine, h.verificationKey, sealed.subarray(h.headerLen + bodyLen), headerHash, segments);
    } catch (e) {
      plaintext.fill(0);
      throw e;
    }
  }
  return plaintext;
}
