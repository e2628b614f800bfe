//! The error object of protocol v1 (docs/PROTOCOL.md §5): stable names with fixed HTTP statuses.

use std::fmt;

/// Stable error names. The HTTP status of each is fixed by [`ErrorKind::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 400: malformed JSON, bad base64, wrong field types or lengths, bad key id syntax.
    InvalidRequest,
    /// 400: the wrapped key is not authentic or not well formed.
    InvalidCiphertext,
    /// 400: the wrapped key is bound to a different encryption context.
    ContextMismatch,
    /// 401: no token, or a token that fails verification (signature, issuer, audience, time).
    Unauthenticated,
    /// 403: a valid token whose tenant or role does not allow the operation.
    AccessDenied,
    /// 403: the key is disabled or scheduled for destruction.
    KeyDisabled,
    /// 404: the key (or key version) does not exist, or an unknown route.
    KeyNotFound,
    /// 404: unknown route.
    NotFound,
    /// 405: method not allowed on this route.
    MethodNotAllowed,
    /// 409: the key already exists (create / import).
    KeyExists,
    /// 410: the key (or the key version) was destroyed; its material is gone.
    KeyDestroyed,
    /// 413: the request body is over the limit.
    PayloadTooLarge,
    /// 429: too many requests.
    Throttled,
    /// 500: an internal error that is not the caller's fault.
    Internal,
    /// 503: the store is unavailable.
    Unavailable,
}

impl ErrorKind {
    /// The stable name sent in the `error` member.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "InvalidRequest",
            ErrorKind::InvalidCiphertext => "InvalidCiphertext",
            ErrorKind::ContextMismatch => "ContextMismatch",
            ErrorKind::Unauthenticated => "Unauthenticated",
            ErrorKind::AccessDenied => "AccessDenied",
            ErrorKind::KeyDisabled => "KeyDisabled",
            ErrorKind::KeyNotFound => "KeyNotFound",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::MethodNotAllowed => "MethodNotAllowed",
            ErrorKind::KeyExists => "KeyExists",
            ErrorKind::KeyDestroyed => "KeyDestroyed",
            ErrorKind::PayloadTooLarge => "PayloadTooLarge",
            ErrorKind::Throttled => "Throttled",
            ErrorKind::Internal => "Internal",
            ErrorKind::Unavailable => "Unavailable",
        }
    }

    /// The HTTP status code.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::InvalidCiphertext | ErrorKind::ContextMismatch => 400,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::AccessDenied | ErrorKind::KeyDisabled => 403,
            ErrorKind::KeyNotFound | ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::KeyExists => 409,
            ErrorKind::KeyDestroyed => 410,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::Throttled => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Unavailable => 503,
        }
    }
}

/// An error with a stable kind and a human-readable message that never contains key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The stable kind.
    pub kind: ErrorKind,
    /// Human-readable detail.
    pub message: String,
    /// For `KeyDisabled`: when the key was disabled (Unix ms), sent as `disabled_at`.
    pub disabled_at_ms: Option<i64>,
}

impl ApiError {
    /// Build an error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            disabled_at_ms: None,
        }
    }
    /// InvalidRequest.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }
    /// Unavailable (storage failures).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
    /// Internal.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// The JSON error object.
    pub fn body(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "code": self.kind.status(),
            "error": self.kind.name(),
            "message": self.message,
        });
        if let (Some(at), Some(m)) = (self.disabled_at_ms, v.as_object_mut()) {
            m.insert("disabled_at".into(), serde_json::json!(at));
        }
        v
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::unavailable(format!("storage error: {e}"))
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        match e {
            crate::crypto::CryptoError::Invalid => {
                ApiError::new(ErrorKind::InvalidCiphertext, "wrapped key is not authentic")
            }
            crate::crypto::CryptoError::ContextMismatch => ApiError::new(
                ErrorKind::ContextMismatch,
                "the encryption context differs from the one bound at wrap",
            ),
            crate::crypto::CryptoError::Rng => ApiError::internal("random number generator failed"),
        }
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, ApiError>;
