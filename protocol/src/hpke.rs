//! §6: the `recipient` a data key is sealed to, and the sealed answer.

use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;

/// An HPKE suite by its RFC 9180 ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suite {
    /// KEM id.
    pub kem: u16,
    /// KDF id.
    pub kdf: u16,
    /// AEAD id.
    pub aead: u16,
}

impl Suite {
    /// The one suite of protocol v1: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (§6).
    pub const V1: Suite = Suite {
        kem: 0x0010,
        kdf: 0x0001,
        aead: 0x0002,
    };
}

/// `recipient` (§6.1): an ephemeral public key the data key is sealed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The HPKE suite.
    pub suite: Suite,
    /// Uncompressed SEC1 P-256 point, 65 bytes.
    pub public_key: Bytes,
}

/// `sealed_key` (§6.1): the data key sealed to the recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    /// HPKE `enc`, 65 bytes.
    pub enc: Bytes,
    /// The sealed data key and its tag, 48 bytes.
    pub ciphertext: Bytes,
}
