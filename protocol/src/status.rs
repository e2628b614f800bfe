//! §3.1 `GET /status` and §3.7 `GET /healthz`.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::hpke::Suite;

/// §3.1: what a service is and what it supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusAnswer {
    /// Free string naming the kind of server.
    pub server_type: String,
    /// Free string naming the vendor.
    pub vendor_id: String,
    /// The server's own version.
    pub version: String,
    /// The protocol version (`"1"`).
    #[serde(default)]
    pub protocol_version: String,
    /// Free display name.
    pub name: String,
    /// The operations implemented.
    pub operations_supported: Vec<String>,
    /// The wrapped-key kinds `/unwrap` accepts.
    #[serde(default)]
    pub wrapped_key_kinds: Vec<String>,
    /// The `recipient` suites accepted.
    pub hpke_suites: Vec<Suite>,
    /// The service's identity public key (§6.3), for display only: clients pin it out of band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_key: Option<crate::Bytes>,
}

/// §3.7: `{"status": "ok"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthAnswer {
    /// `ok`.
    pub status: String,
}
