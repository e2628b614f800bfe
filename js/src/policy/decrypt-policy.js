// Which wrapped-key entries a reader uses (docs/DESIGN.md "Decrypt policy", SECURITY.md; the Rust
// is src/decrypt_policy.rs). The wrapped-key section is not authenticated by the format: anyone can
// add an entry. So a client uses only entries of its configured services and key ids (or an
// explicit allow-list), and `hpke-p256` entries only when it opted in: anyone holding a key's
// public key can make one.

/** Why an entry was not used (the text NO_USABLE_ENTRY names). */
export const REFUSED = Object.freeze({
  unknownService: 'key service not configured',
  keyIdNotAllowed: 'key id not allowed by the decrypt policy',
  publicKeyEntry: 'public-key (hpke-p256) entries not accepted',
  unknownKind: 'unknown entry kind',
});

/** Whether `keyId` is the service's configured one or allowed (`acme/2027`, or a prefix `acme/*`). */
export function keyIdAllowed(allowKeyIds, configured, keyId) {
  return keyId === configured || (allowKeyIds ?? []).some((p) => (p.endsWith('*') ? keyId.startsWith(p.slice(0, -1)) : keyId === p));
}

/**
 * `null` when an entry of `kind` and `keyId` at a service that makes `serviceKind` entries and is
 * configured with `configured` may be used, else the reason (REFUSED).
 */
export function refusal({ allowKeyIds, acceptPublicKeyEntries }, kind, serviceKind, configured, keyId) {
  if (kind !== 'hpke-p256' && kind !== serviceKind) return REFUSED.unknownKind;
  if (kind === 'hpke-p256' && !acceptPublicKeyEntries) return REFUSED.publicKeyEntry;
  if (!['kms', 'aws-kms', 'kacls', 'hpke-p256'].includes(kind)) return REFUSED.unknownKind;
  return keyIdAllowed(allowKeyIds, configured, keyId) ? null : REFUSED.keyIdNotAllowed;
}
