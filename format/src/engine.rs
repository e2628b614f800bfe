//! Pluggable AEAD engines (the crypto engine of the rustls-style core). The core ships the
//! RustCrypto `aes-gcm` engine; the wasm crate adds WebCrypto. Both MUST produce identical bytes.

use alloc::boxed::Box;
use alloc::vec::Vec;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::Error;
use crate::data_key::PayloadKey;

/// A source of keyed AES-256-GCM ciphers.
pub trait AeadEngine {
    /// A short name for metrics and logs (`"aes-gcm"`, `"webcrypto"`).
    fn name(&self) -> &'static str;
    /// A cipher keyed with `key`, used for every segment of one message.
    fn keyed(&self, key: &PayloadKey) -> Result<Box<dyn SegmentCipher>, Error>;
}

/// AES-256-GCM under one payload key, with empty associated data (FORMAT.md §6).
pub trait SegmentCipher {
    /// Encrypts `buf` in place and appends the 16-byte tag.
    fn seal_in_place(&self, nonce: &[u8; 12], buf: &mut Vec<u8>) -> Result<(), Error>;
    /// Checks and strips the tag and decrypts in place. On failure `buf` MUST NOT be used: the
    /// engine clears it and returns [`Error::DecryptionFailed`].
    fn open_in_place(&self, nonce: &[u8; 12], buf: &mut Vec<u8>) -> Result<(), Error>;
}

/// The RustCrypto `aes-gcm` engine: synchronous, constant-time, works everywhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct RustCryptoEngine;

struct RustCryptoCipher(Aes256Gcm);

impl AeadEngine for RustCryptoEngine {
    fn name(&self) -> &'static str {
        "aes-gcm"
    }

    fn keyed(&self, key: &PayloadKey) -> Result<Box<dyn SegmentCipher>, Error> {
        let c = Aes256Gcm::new_from_slice(key.expose_secret()).map_err(|_| Error::InvalidArgument {
            reason: "AES-256 key length",
        })?;
        Ok(Box::new(RustCryptoCipher(c)))
    }
}

impl SegmentCipher for RustCryptoCipher {
    fn seal_in_place(&self, nonce: &[u8; 12], buf: &mut Vec<u8>) -> Result<(), Error> {
        self.0
            .encrypt_in_place(&Nonce::from(*nonce), b"", buf)
            .map_err(|_| Error::limit("AES-GCM plaintext length"))
    }

    fn open_in_place(&self, nonce: &[u8; 12], buf: &mut Vec<u8>) -> Result<(), Error> {
        self.0
            .decrypt_in_place(&Nonce::from(*nonce), b"", buf)
            .map_err(|_| {
                buf.clear();
                Error::DecryptionFailed
            })
    }
}
