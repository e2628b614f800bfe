//! ECDSA P-256 with SHA-256, raw 64-byte signatures (`r ‖ s`, as WebCrypto makes them): the
//! signature of signed messages (FORMAT.md §2, suite 2) and of a key service's identity statements
//! (PROTOCOL.md §6.3). Signing is deterministic (RFC 6979); verification accepts any valid
//! signature, whoever made it.

use core::fmt;

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use zeroize::{Zeroize, Zeroizing};

use crate::Error;

/// Length of a signature: `r ‖ s`, 32 bytes each.
pub const SIGNATURE_LEN: usize = 64;
/// Length of an uncompressed SEC1 public key.
pub const PUBLIC_KEY_LEN: usize = 65;

/// An ECDSA P-256 signing key. The secret scalar never prints.
pub struct SignatureKeyPair {
    key: SigningKey,
}

impl SignatureKeyPair {
    /// A fresh random key pair.
    pub fn generate() -> Result<Self, Error> {
        for _ in 0..64 {
            let mut scalar = Zeroizing::new([0u8; 32]);
            getrandom::fill(scalar.as_mut()).map_err(|_| Error::RandomUnavailable)?;
            if let Ok(key) = SigningKey::from_slice(scalar.as_ref()) {
                return Ok(Self { key });
            }
        }
        Err(Error::RandomUnavailable)
    }

    /// The key pair of a 32-byte big-endian secret scalar (checked to be in range).
    pub fn from_secret_scalar(secret: &[u8; 32]) -> Result<Self, Error> {
        SigningKey::from_slice(secret)
            .map(|key| Self { key })
            .map_err(|_| Error::invalid("not a P-256 private key"))
    }

    /// The secret scalar, for a service to store under its master key.
    pub fn secret_scalar(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        let mut bytes = self.key.to_bytes();
        out.copy_from_slice(&bytes);
        bytes.as_mut_slice().zeroize();
        out
    }

    /// The public key as uncompressed SEC1 (`04 ‖ x ‖ y`).
    pub fn public_sec1(&self) -> [u8; PUBLIC_KEY_LEN] {
        let mut out = [0u8; PUBLIC_KEY_LEN];
        out.copy_from_slice(self.key.verifying_key().to_sec1_point(false).as_bytes());
        out
    }

    /// Signs `message` (hashed with SHA-256): `r ‖ s`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let sig: Signature = self.key.sign(message);
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(&sig.to_bytes());
        out
    }
}

impl fmt::Debug for SignatureKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignatureKeyPair(<redacted>)")
    }
}

/// Checks that `public_sec1` is an uncompressed SEC1 point on P-256.
pub fn check_public_key(public_sec1: &[u8]) -> Result<(), Error> {
    if public_sec1.len() != PUBLIC_KEY_LEN || public_sec1[0] != 4 {
        return Err(Error::invalid("not an uncompressed SEC1 P-256 point"));
    }
    VerifyingKey::from_sec1_bytes(public_sec1)
        .map(|_| ())
        .map_err(|_| Error::invalid("not a point on P-256"))
}

/// Verifies `signature` (`r ‖ s`) over `message` (hashed with SHA-256) under the uncompressed SEC1
/// public key `public_sec1`. Any failure — a bad key, a malformed or wrong signature — is
/// [`Error::DecryptionFailed`]: for a reader, a message that does not verify is not authentic.
pub fn verify(public_sec1: &[u8], message: &[u8], signature: &[u8]) -> Result<(), Error> {
    if public_sec1.len() != PUBLIC_KEY_LEN || public_sec1[0] != 4 || signature.len() != SIGNATURE_LEN {
        return Err(Error::DecryptionFailed);
    }
    let key = VerifyingKey::from_sec1_bytes(public_sec1).map_err(|_| Error::DecryptionFailed)?;
    let sig = Signature::from_slice(signature).map_err(|_| Error::DecryptionFailed)?;
    key.verify(message, &sig).map_err(|_| Error::DecryptionFailed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn sign_verify_and_refusals() {
        let kp = SignatureKeyPair::generate().unwrap();
        let sig = kp.sign(b"statement");
        verify(&kp.public_sec1(), b"statement", &sig).unwrap();
        assert_eq!(
            verify(&kp.public_sec1(), b"other", &sig),
            Err(Error::DecryptionFailed)
        );
        let mut bad = sig;
        bad[10] ^= 1;
        assert_eq!(
            verify(&kp.public_sec1(), b"statement", &bad),
            Err(Error::DecryptionFailed)
        );
        let again = SignatureKeyPair::from_secret_scalar(&kp.secret_scalar()).unwrap();
        assert_eq!(again.public_sec1(), kp.public_sec1());
        assert_eq!(again.sign(b"statement"), sig, "RFC 6979: deterministic");
        assert_eq!(format!("{kp:?}"), "SignatureKeyPair(<redacted>)");
    }
}
