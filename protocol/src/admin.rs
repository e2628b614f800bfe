//! §8: administration of `keyseal-kms` (not needed by the SDK; typed so that scripts, tests and
//! the server agree).

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;
use crate::token::Token;

/// The body of every admin request (§8.1); each action reads the members it needs. All optional,
/// and an empty body is `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AdminRequest {
    /// `POST /admin/keys`: the key to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// `destroy`: the grace period (default 7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_seconds: Option<u64>,
    /// `import`: HPKE `enc` of the sealed material (§8.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enc: Option<Bytes>,
    /// `import`: HPKE ciphertext of the sealed material (§8.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphertext: Option<Bytes>,
    /// Free text for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The admin token, when not sent as `Authorization: Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Token>,
}

/// Default grace period of `destroy`: 7 days.
pub const DEFAULT_GRACE_SECS: u64 = 7 * 24 * 3600;

/// Public facts about one key version (§8.1 `KeyInfo.versions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Version number, starting at 1.
    pub version: u32,
    /// Creation time, Unix ms.
    pub created_at_ms: i64,
    /// `generated` or `imported`.
    pub origin: String,
    /// Whether the material is gone.
    pub destroyed: bool,
    /// The version's HPKE public key, uncompressed SEC1.
    pub public_key: Bytes,
}

/// Public facts about a key (§8.1 `KeyInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// `tenant/name`.
    pub key_id: String,
    /// The tenant (the part before `/`).
    pub tenant: String,
    /// `enabled`, `disabled`, `destroy_pending` or `destroyed`.
    pub state: String,
    /// The newest version (the one used for new wraps).
    pub primary_version: u32,
    /// Creation time, Unix ms.
    pub created_at_ms: i64,
    /// When a scheduled destruction takes effect, Unix ms.
    pub destroy_at_ms: Option<i64>,
    /// Every version, oldest first.
    pub versions: Vec<VersionInfo>,
}

/// `GET /admin/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    /// The keys of the token's tenant.
    pub keys: Vec<KeyInfo>,
}

/// `GET /admin/import-key`: the import public key (§8.2) as a JWK plus its SEC1 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportKeyJwk {
    /// `EC`.
    pub kty: String,
    /// `P-256`.
    pub crv: String,
    /// base64url x.
    pub x: String,
    /// base64url y.
    pub y: String,
    /// `enc`.
    #[serde(rename = "use")]
    pub use_: String,
    /// `HPKE-P256-SHA256-A256GCM`.
    pub alg: String,
    /// `import#<fingerprint>`.
    pub kid: String,
    /// Uncompressed SEC1 point.
    pub public_key: Bytes,
}
