//! The data key (DEK): 32 secret bytes that zeroize on drop and never print.

use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;

/// Length of a data key in bytes (AES-256).
pub const DATA_KEY_LEN: usize = 32;

/// A per-object data key. Zeroized when dropped; `Debug` prints `DataKey(<redacted>)`.
///
/// There is deliberately no `Clone` for accidental copies to spread; use
/// [`DataKey::clone_secret`] where a second owner is really needed (e.g. a cache).
#[derive(Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct DataKey([u8; DATA_KEY_LEN]);

impl DataKey {
    /// Draws a fresh random data key from the platform's CSPRNG.
    pub fn generate() -> Result<Self, Error> {
        let mut k = [0u8; DATA_KEY_LEN];
        getrandom::fill(&mut k).map_err(|_| Error::RandomUnavailable)?;
        Ok(Self(k))
    }

    /// Takes a data key from bytes, which must be exactly 32 long. The caller should zeroize its
    /// own copy.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let arr: [u8; DATA_KEY_LEN] = bytes.try_into().map_err(|_| Error::InvalidArgument {
            reason: "a data key is 32 bytes",
        })?;
        Ok(Self(arr))
    }

    /// The secret bytes. Named so that every use stands out in review.
    pub fn expose_secret(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }

    /// A second copy of the key, for holders such as caches that need their own.
    pub fn clone_secret(&self) -> Self {
        Self(self.0)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// The derived payload key of one message (FORMAT.md §5). Zeroized on drop, redacted in `Debug`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct PayloadKey(pub(crate) [u8; 32]);

impl PayloadKey {
    /// The secret bytes, for an [`crate::AeadEngine`] to key its cipher (e.g. WebCrypto import).
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for PayloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PayloadKey(<redacted>)")
    }
}
