//! §5: error names, their HTTP statuses, and the error body.

use alloc::string::String;

use serde::{Deserialize, Serialize};

/// The stable error names of §5.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorName {
    /// Malformed request (400).
    InvalidRequest,
    /// Wrapped key malformed or not authentic (400).
    InvalidCiphertext,
    /// Wrapped key bound to another context (400).
    ContextMismatch,
    /// No valid token (401).
    Unauthenticated,
    /// Valid token without the tenant or role for this (403).
    AccessDenied,
    /// Key disabled or scheduled for destruction (403).
    KeyDisabled,
    /// No such key (404).
    KeyNotFound,
    /// No such endpoint (404).
    NotFound,
    /// Wrong method on an endpoint (405).
    MethodNotAllowed,
    /// Admin create of an id that exists (409).
    KeyExists,
    /// Key or version destroyed (410).
    KeyDestroyed,
    /// Body over the limit (413).
    PayloadTooLarge,
    /// Too many requests in flight (429).
    Throttled,
    /// A bug or a corrupt store (500).
    Internal,
    /// Store or audit log unavailable (503).
    Unavailable,
}

impl ErrorName {
    /// Every name, for tables and tests.
    pub const ALL: [ErrorName; 15] = [
        Self::InvalidRequest,
        Self::InvalidCiphertext,
        Self::ContextMismatch,
        Self::Unauthenticated,
        Self::AccessDenied,
        Self::KeyDisabled,
        Self::KeyNotFound,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::KeyExists,
        Self::KeyDestroyed,
        Self::PayloadTooLarge,
        Self::Throttled,
        Self::Internal,
        Self::Unavailable,
    ];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "InvalidRequest",
            Self::InvalidCiphertext => "InvalidCiphertext",
            Self::ContextMismatch => "ContextMismatch",
            Self::Unauthenticated => "Unauthenticated",
            Self::AccessDenied => "AccessDenied",
            Self::KeyDisabled => "KeyDisabled",
            Self::KeyNotFound => "KeyNotFound",
            Self::NotFound => "NotFound",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::KeyExists => "KeyExists",
            Self::KeyDestroyed => "KeyDestroyed",
            Self::PayloadTooLarge => "PayloadTooLarge",
            Self::Throttled => "Throttled",
            Self::Internal => "Internal",
            Self::Unavailable => "Unavailable",
        }
    }

    /// The name for its wire form, if it is one of §5's.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The HTTP status of §5.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest | Self::InvalidCiphertext | Self::ContextMismatch => 400,
            Self::Unauthenticated => 401,
            Self::AccessDenied | Self::KeyDisabled => 403,
            Self::KeyNotFound | Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::KeyExists => 409,
            Self::KeyDestroyed => 410,
            Self::PayloadTooLarge => 413,
            Self::Throttled => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }
}

/// The error body of §5: `{"code", "error", "message"}` and, on `KeyDisabled`, `disabled_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Equals the HTTP status.
    pub code: u16,
    /// The stable name; clients branch on it. Unknown names are kept as sent.
    pub error: String,
    /// For humans; never key material.
    #[serde(default)]
    pub message: String,
    /// On `KeyDisabled`: when the key became unusable, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<i64>,
}

impl ErrorBody {
    /// The body for `name` with `message`.
    pub fn new(name: ErrorName, message: impl Into<String>) -> Self {
        Self {
            code: name.status(),
            error: name.as_str().into(),
            message: message.into(),
            disabled_at: None,
        }
    }

    /// The name, when it is one of §5's.
    pub fn name(&self) -> Option<ErrorName> {
        ErrorName::parse(&self.error)
    }
}

/// Whether a status is worth retrying or failing over (§5 "Retries").
pub fn status_is_retryable(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}
