//! Wrapped-key entries (FORMAT.md §4.2): the data key wrapped for one key service.

use alloc::string::String;
use alloc::vec::Vec;

use crate::Error;
use crate::limits::{MAX_KEY_ID_LEN, MAX_SERVICE_ID_LEN, MAX_WRAPPED_LEN};

/// The kind of a wrapped-key entry (FORMAT.md §4.2).
#[non_exhaustive]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EntryKind {
    /// Opaque bytes produced by the key service's `/wrap` or `/generate` (kind byte 1).
    Kms,
    /// RFC 9180 HPKE base mode to the key version's P-256 public key (kind byte 2).
    HpkeP256,
    /// An AWS KMS `CiphertextBlob` (from `GenerateDataKey`, `Encrypt` or `ReEncrypt`), opened by AWS
    /// KMS `Decrypt` with the message's context as its `EncryptionContext` (kind byte 3, FORMAT.md §4.2).
    AwsKms,
    /// A Google Workspace CSE KACLS `wrapped_key` (from its `/wrap`), opened by the same KACLS's
    /// `/unwrap` under the caller's authentication and authorization tokens (kind byte 4,
    /// FORMAT.md §4.2).
    Kacls,
    /// A kind this build does not know; readers skip it and keep it on rewrap.
    Unknown(u8),
}

impl EntryKind {
    /// The kind byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::Kms => 1,
            Self::HpkeP256 => 2,
            Self::AwsKms => 3,
            Self::Kacls => 4,
            Self::Unknown(b) => b,
        }
    }

    /// Kind from its byte; 0 is reserved and invalid.
    pub fn from_byte(b: u8) -> Result<Self, Error> {
        Ok(match b {
            0 => return Err(Error::format("entry kind 0 is reserved")),
            1 => Self::Kms,
            2 => Self::HpkeP256,
            3 => Self::AwsKms,
            4 => Self::Kacls,
            other => Self::Unknown(other),
        })
    }

    /// The protocol name of the kind (`kms`, `hpke-p256`, `aws-kms`, `kacls`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Kms => "kms",
            Self::HpkeP256 => "hpke-p256",
            Self::AwsKms => "aws-kms",
            Self::Kacls => "kacls",
            Self::Unknown(_) => "unknown",
        }
    }

    /// The kind of a protocol name; `None` for a name this build does not know.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Kms, Self::HpkeP256, Self::AwsKms, Self::Kacls]
            .into_iter()
            .find(|k| k.name() == name)
    }
}

/// One entry of the wrapped-key section: the data key wrapped for one key service.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WrappedKeyEntry {
    /// How `wrapped` was made.
    pub kind: EntryKind,
    /// Which configured key service can open it (e.g. `acme`, `acme-escrow`).
    pub key_service_id: String,
    /// The key id at that service (`tenant/name`).
    pub key_id: String,
    /// The wrapped data key.
    pub wrapped: Vec<u8>,
}

impl WrappedKeyEntry {
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.key_service_id.is_empty() || self.key_service_id.len() > MAX_SERVICE_ID_LEN {
            return Err(Error::limit("key service id length"));
        }
        if self.key_id.is_empty() || self.key_id.len() > MAX_KEY_ID_LEN {
            return Err(Error::limit("key id length"));
        }
        if self.wrapped.is_empty() || self.wrapped.len() > MAX_WRAPPED_LEN {
            return Err(Error::limit("wrapped key length"));
        }
        if self.kind == EntryKind::HpkeP256 && self.wrapped.len() != crate::hpke_p256::ENTRY_LEN {
            return Err(Error::format("hpke-p256 entry has the wrong length"));
        }
        if matches!(self.kind, EntryKind::Unknown(0)) {
            return Err(Error::format("entry kind 0 is reserved"));
        }
        Ok(())
    }
}
