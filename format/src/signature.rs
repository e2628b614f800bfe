//! Suite 2's signature (FORMAT.md §6.5): the verification key in the context (§3.4), the chain
//! of segment digests the signature covers, and the 64-byte trailer that ends a signed message.

use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use crate::Error;
use crate::ecdsa_p256::{self, SIGNATURE_LEN, SignatureKeyPair};

/// The reserved context key that carries a suite-2 message's verification key (§3.4).
pub const VERIFICATION_KEY_CONTEXT_KEY: &str = "keyseal:verification-key";
/// The prefix of every reserved context key (§3.4).
pub const RESERVED_CONTEXT_PREFIX: &str = "keyseal:";
/// Label of the signed statement (§6.5).
pub const SIGNATURE_LABEL: &[u8] = b"keyseal/v1 signature";
/// Bytes after the body of a suite-2 message: the signature.
pub const TRAILER_LEN: usize = SIGNATURE_LEN;

/// The context value of a verification key: standard base64 of its SEC1 bytes.
pub fn encode_verification_key(public_sec1: &[u8; ecdsa_p256::PUBLIC_KEY_LEN]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(public_sec1)
}

/// The verification key of a context value, if it is the base64 of a point on P-256.
pub fn decode_verification_key(value: &str) -> Option<[u8; ecdsa_p256::PUBLIC_KEY_LEN]> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(value).ok()?;
    ecdsa_p256::check_public_key(&bytes).ok()?;
    bytes.try_into().ok()
}

/// `T_k` of §6.5: the header hash, then one SHA-256 step per sealed segment, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureChain([u8; 32]);

impl SignatureChain {
    /// `T_0` = the header hash (§3.2).
    pub fn new(header_hash: &[u8; 32]) -> Self {
        Self(*header_hash)
    }

    /// The next segment, sealed (ciphertext ‖ tag).
    pub fn absorb_segment(&mut self, sealed_segment: &[u8]) {
        let d: [u8; 32] = Sha256::digest(sealed_segment).into();
        self.absorb_digest(&d);
    }

    /// The next segment by its SHA-256 digest (computed elsewhere, e.g. by WebCrypto).
    pub fn absorb_digest(&mut self, digest: &[u8; 32]) {
        let mut h = Sha256::new();
        h.update(self.0);
        h.update(digest);
        self.0 = h.finalize().into();
    }

    /// The signed statement: `"keyseal/v1 signature" ‖ 0x00 ‖ T_n`.
    pub fn statement(&self) -> Vec<u8> {
        let mut s = Vec::with_capacity(SIGNATURE_LABEL.len() + 1 + 32);
        s.extend_from_slice(SIGNATURE_LABEL);
        s.push(0);
        s.extend_from_slice(&self.0);
        s
    }

    /// The signature of the chain so far (the writer, after the last segment).
    pub fn sign(&self, key: &SignatureKeyPair) -> [u8; SIGNATURE_LEN] {
        key.sign(&self.statement())
    }

    /// Checks `signature` over the chain so far under `verification_key`; any failure is
    /// [`Error::DecryptionFailed`].
    pub fn verify(&self, verification_key: &[u8], signature: &[u8]) -> Result<(), Error> {
        ecdsa_p256::verify(verification_key, &self.statement(), signature)
    }
}

/// Holds back the last [`TRAILER_LEN`] bytes of a signed stream (§6.5), so that segments are cut
/// only from bytes known to be body: whatever is held when the stream ends is the signature.
#[derive(Clone, Debug, Default)]
pub struct Trailer {
    held: Vec<u8>,
}

impl Trailer {
    /// Takes `chunk`; returns the body bytes it frees, in order: first bytes held from earlier
    /// chunks, then a leading part of `chunk`. Keeps the last [`TRAILER_LEN`] bytes seen.
    pub fn push<'a>(&mut self, chunk: &'a [u8]) -> (Vec<u8>, &'a [u8]) {
        let total = self.held.len() + chunk.len();
        let free = total.saturating_sub(TRAILER_LEN);
        let from_held = free.min(self.held.len());
        let released: Vec<u8> = self.held.drain(..from_held).collect();
        let from_chunk = free - from_held;
        self.held.extend_from_slice(&chunk[from_chunk..]);
        (released, &chunk[..from_chunk])
    }

    /// The signature, once the stream ended: exactly [`TRAILER_LEN`] bytes, else the message was
    /// truncated ([`Error::DecryptionFailed`]).
    pub fn finish(self) -> Result<Vec<u8>, Error> {
        if self.held.len() == TRAILER_LEN {
            Ok(self.held)
        } else {
            Err(Error::DecryptionFailed)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn trailer_holds_back_the_last_64_bytes_of_any_chunking() {
        let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        for step in [1usize, 7, 63, 64, 65, 200, 300] {
            let mut t = Trailer::default();
            let mut body = Vec::new();
            for c in data.chunks(step) {
                let (a, b) = t.push(c);
                body.extend(a);
                body.extend_from_slice(b);
            }
            assert_eq!(body, &data[..236], "step {step}");
            assert_eq!(t.finish().unwrap(), &data[236..]);
        }
        let mut short = Trailer::default();
        short.push(&[1; 63]);
        assert_eq!(short.finish(), Err(Error::DecryptionFailed));
    }

    #[test]
    fn chain_signs_and_verifies() {
        let key = SignatureKeyPair::generate().unwrap();
        let mut c = SignatureChain::new(&[1; 32]);
        c.absorb_segment(b"segment 0");
        let mut d = c.clone();
        let sig = c.sign(&key);
        c.verify(&key.public_sec1(), &sig).unwrap();
        d.absorb_segment(b"segment 1");
        assert_eq!(d.verify(&key.public_sec1(), &sig), Err(Error::DecryptionFailed));
        let vk = encode_verification_key(&key.public_sec1());
        assert_eq!(decode_verification_key(&vk), Some(key.public_sec1()));
        assert_eq!(decode_verification_key("AAAA"), None);
    }
}
