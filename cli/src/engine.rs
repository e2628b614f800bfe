//! The native AES-256-GCM engine: `ring`'s hardware implementation (AES-NI/VAES and
//! CLMUL/VPCLMULQDQ on x86-64, the ARMv8 crypto extensions on aarch64), behind the core's
//! [`AeadEngine`] (FORMAT.md §6: AES-256-GCM, 128-bit tag, empty associated data). It gives the
//! same bytes as the core's RustCrypto engine, which stays the reference and the wasm engine
//! (docs/DESIGN.md "Native engine"; both run every vector in cli/tests/engine.rs).

use keyseal::engine::SegmentCipher;
use keyseal::{AeadEngine, PayloadKey};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

/// Which AES-256-GCM implementation a command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EngineChoice {
    /// `ring` (hardware AES-GCM), segments in parallel across cores.
    #[default]
    Native,
    /// The core's RustCrypto engine, one segment at a time (the reference).
    Rustcrypto,
}

/// The `ring` engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct RingEngine;

/// One message's cipher. `Send + Sync`: the parallel pipeline shares it between workers.
pub struct RingCipher(LessSafeKey);

impl RingCipher {
    /// A cipher under `key`.
    pub fn new(key: &PayloadKey) -> Result<Self, keyseal::FormatError> {
        let k = UnboundKey::new(&AES_256_GCM, key.expose_secret()).map_err(|_| {
            keyseal::FormatError::InvalidArgument {
                reason: "AES-256 key length",
            }
        })?;
        Ok(Self(LessSafeKey::new(k)))
    }

    /// Encrypts `buf[..len - 16]` in place and writes the tag into its last 16 bytes.
    pub fn seal_segment(&self, nonce: &[u8; 12], buf: &mut [u8]) -> Result<(), keyseal::FormatError> {
        let n = buf
            .len()
            .checked_sub(16)
            .ok_or(keyseal::FormatError::InvalidArgument {
                reason: "segment buffer shorter than a tag",
            })?;
        let (pt, tag_out) = buf.split_at_mut(n);
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::empty(), pt)
            .map_err(|_| keyseal::FormatError::LimitExceeded {
                what: "AES-GCM plaintext length",
            })?;
        tag_out.copy_from_slice(tag.as_ref());
        Ok(())
    }

    /// Checks the tag at the end of `buf` and decrypts in place; returns the plaintext length.
    /// On failure the buffer is wiped and the error is the opaque `DECRYPTION_FAILED`.
    pub fn open_segment(&self, nonce: &[u8; 12], buf: &mut [u8]) -> Result<usize, keyseal::FormatError> {
        match self
            .0
            .open_in_place(Nonce::assume_unique_for_key(*nonce), Aad::empty(), buf)
        {
            Ok(pt) => Ok(pt.len()),
            Err(_) => {
                zeroize::Zeroize::zeroize(buf);
                Err(keyseal::FormatError::DecryptionFailed)
            }
        }
    }
}

impl AeadEngine for RingEngine {
    fn name(&self) -> &'static str {
        "ring"
    }

    fn keyed(&self, key: &PayloadKey) -> Result<Box<dyn SegmentCipher>, keyseal::FormatError> {
        Ok(Box::new(RingCipher::new(key)?))
    }
}

impl SegmentCipher for RingCipher {
    fn seal_in_place(&self, nonce: &[u8; 12], buf: &mut Vec<u8>) -> Result<(), keyseal::FormatError> {
        let tag = self
            .0
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::empty(),
                buf.as_mut_slice(),
            )
            .map_err(|_| keyseal::FormatError::LimitExceeded {
                what: "AES-GCM plaintext length",
            })?;
        buf.extend_from_slice(tag.as_ref());
        Ok(())
    }

    fn open_in_place(&self, nonce: &[u8; 12], buf: &mut Vec<u8>) -> Result<(), keyseal::FormatError> {
        let n = self
            .open_segment(nonce, buf.as_mut_slice())
            .inspect_err(|_| buf.clear())?;
        buf.truncate(n);
        Ok(())
    }
}
