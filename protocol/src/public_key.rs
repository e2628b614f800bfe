//! §3.6 `GET /keys/{key_id}/public`: the primary version's HPKE public key as a JWK.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The JWK of §3.6 (RFC 7517), with `key_id` and `key_version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyJwk {
    /// `EC`.
    pub kty: String,
    /// `P-256`.
    pub crv: String,
    /// base64url (no padding) of the 32-byte x coordinate.
    pub x: String,
    /// base64url (no padding) of the 32-byte y coordinate.
    pub y: String,
    /// `enc`.
    #[serde(rename = "use", default)]
    pub use_: String,
    /// `HPKE-P256-SHA256-A256GCM`.
    #[serde(default)]
    pub alg: String,
    /// `<key_id>#<version>`.
    #[serde(default)]
    pub kid: String,
    /// The key id.
    pub key_id: String,
    /// The version whose public key this is.
    pub key_version: u32,
    /// The service identity's signature of the public-key statement (§6.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_signature: Option<crate::Bytes>,
}

/// The JWK `alg` of an HPKE P-256 key (§3.6).
pub const HPKE_ALG: &str = "HPKE-P256-SHA256-A256GCM";

impl PublicKeyJwk {
    /// The JWK of an uncompressed SEC1 point (65 bytes), or `None` for anything else.
    pub fn from_sec1(key_id: &str, version: u32, sec1: &[u8]) -> Option<Self> {
        if sec1.len() != 65 || sec1[0] != 4 {
            return None;
        }
        Some(Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: URL_SAFE_NO_PAD.encode(&sec1[1..33]),
            y: URL_SAFE_NO_PAD.encode(&sec1[33..]),
            use_: "enc".into(),
            alg: HPKE_ALG.into(),
            kid: alloc::format!("{key_id}#{version}"),
            key_id: key_id.into(),
            key_version: version,
            identity_signature: None,
        })
    }

    /// The uncompressed SEC1 point (65 bytes), or `None` when this is not an EC P-256 JWK with
    /// 32-byte coordinates.
    pub fn to_sec1(&self) -> Option<Vec<u8>> {
        if self.kty != "EC" || self.crv != "P-256" {
            return None;
        }
        let x = URL_SAFE_NO_PAD.decode(&self.x).ok()?;
        let y = URL_SAFE_NO_PAD.decode(&self.y).ok()?;
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(4);
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        Some(sec1)
    }
}
