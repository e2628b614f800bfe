//! The one error type of `keyseal-kms`: each variant is answered with the error name and HTTP
//! status of docs/PROTOCOL.md §5 ([`Error::name`]). Storage and crypto failures have their own
//! types ([`StoreError`], [`CryptoError`]) and are mapped here.
//!
//! Messages are for humans: they never contain key material, tokens or unverified token claims.

use std::fmt;

use keyseal_protocol::{ErrorBody, ErrorName};

use crate::crypto::CryptoError;
use crate::store::StoreError;

/// Everything that can go wrong in the key service, by the §5 name it is answered with.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// 400 `InvalidRequest`: malformed JSON, missing member, bad base64, bad key id or context,
    /// a data key that is not 32 bytes, a bad `recipient`; also bad command-line input.
    InvalidRequest(String),
    /// 400 `InvalidCiphertext`: the wrapped key is malformed, not authentic, or names a version
    /// the key never had.
    InvalidCiphertext(String),
    /// 400 `ContextMismatch`: the wrapped key is bound to another encryption context (§7.3).
    ContextMismatch(String),
    /// 401 `Unauthenticated`: no token, or a token that fails verification (§4.1).
    Unauthenticated(String),
    /// 403 `AccessDenied`: a valid token whose tenant or role does not allow the operation (§4.2).
    AccessDenied(String),
    /// 403 `KeyDisabled`: the key is disabled or scheduled for destruction.
    KeyDisabled {
        /// For humans.
        message: String,
        /// When the key became unusable, Unix ms (sent as `disabled_at`).
        disabled_at_ms: Option<i64>,
    },
    /// 404 `KeyNotFound`: no such key.
    KeyNotFound(String),
    /// 404 `NotFound`: no such endpoint or admin action.
    NotFound(String),
    /// 405 `MethodNotAllowed`: wrong method on an endpoint.
    MethodNotAllowed(String),
    /// 409 `KeyExists`: create of a key id that exists.
    KeyExists(String),
    /// 410 `KeyDestroyed`: the key, or the wrapped key's version, was destroyed.
    KeyDestroyed(String),
    /// 413 `PayloadTooLarge`: the body is over the limit (§11).
    PayloadTooLarge(String),
    /// 429 `Throttled`: too many requests in flight (§11).
    Throttled(String),
    /// 500 `Internal`: a bug or a corrupt store.
    Internal(String),
    /// 503 `Unavailable`: the store or the audit log cannot be used.
    Unavailable(String),
}

impl Error {
    /// The §5 name (and through it the HTTP status).
    pub fn name(&self) -> ErrorName {
        match self {
            Self::InvalidRequest(_) => ErrorName::InvalidRequest,
            Self::InvalidCiphertext(_) => ErrorName::InvalidCiphertext,
            Self::ContextMismatch(_) => ErrorName::ContextMismatch,
            Self::Unauthenticated(_) => ErrorName::Unauthenticated,
            Self::AccessDenied(_) => ErrorName::AccessDenied,
            Self::KeyDisabled { .. } => ErrorName::KeyDisabled,
            Self::KeyNotFound(_) => ErrorName::KeyNotFound,
            Self::NotFound(_) => ErrorName::NotFound,
            Self::MethodNotAllowed(_) => ErrorName::MethodNotAllowed,
            Self::KeyExists(_) => ErrorName::KeyExists,
            Self::KeyDestroyed(_) => ErrorName::KeyDestroyed,
            Self::PayloadTooLarge(_) => ErrorName::PayloadTooLarge,
            Self::Throttled(_) => ErrorName::Throttled,
            Self::Internal(_) => ErrorName::Internal,
            Self::Unavailable(_) => ErrorName::Unavailable,
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidRequest(m)
            | Self::InvalidCiphertext(m)
            | Self::ContextMismatch(m)
            | Self::Unauthenticated(m)
            | Self::AccessDenied(m)
            | Self::KeyDisabled { message: m, .. }
            | Self::KeyNotFound(m)
            | Self::NotFound(m)
            | Self::MethodNotAllowed(m)
            | Self::KeyExists(m)
            | Self::KeyDestroyed(m)
            | Self::PayloadTooLarge(m)
            | Self::Throttled(m)
            | Self::Internal(m)
            | Self::Unavailable(m) => m,
        }
    }

    /// The error body of §5, with `disabled_at` (integer Unix ms) on `KeyDisabled`.
    pub fn body(&self) -> ErrorBody {
        let mut body = ErrorBody::new(self.name(), self.message());
        if let Self::KeyDisabled { disabled_at_ms, .. } = self {
            body.disabled_at = *disabled_at_ms;
        }
        body
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name().as_str(), self.message())
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::NotFound { .. } => Self::KeyNotFound(message),
            StoreError::Exists { .. } => Self::KeyExists(message),
            StoreError::Destroyed { .. } => Self::KeyDestroyed(message),
            StoreError::Unusable { since_ms, .. } => Self::KeyDisabled {
                message,
                disabled_at_ms: since_ms,
            },
            StoreError::NoSuchVersion { .. } => Self::InvalidCiphertext(message),
            StoreError::WrongState { .. }
            | StoreError::NotExternal { .. }
            | StoreError::External { .. }
            | StoreError::BadKeyId
            | StoreError::MasterKey(_) => Self::InvalidRequest(message),
            StoreError::WrapLimit { .. } | StoreError::Unavailable(_) => Self::Unavailable(message),
            StoreError::Corrupt(_) | StoreError::Rng => Self::Internal(message),
        }
    }
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Invalid => Self::InvalidCiphertext("wrapped key is not authentic".into()),
            CryptoError::ContextMismatch => {
                Self::ContextMismatch("the encryption context differs from the one bound at wrap".into())
            }
            CryptoError::Rng => Self::Internal("random number generator failed".into()),
            CryptoError::Device => Self::Unavailable("the HSM holding the master key failed".into()),
        }
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn disabled_at_is_an_integer_on_the_wire() {
        let e = Error::KeyDisabled {
            message: "key acme/default is disabled".into(),
            disabled_at_ms: Some(1_796_112_000_000),
        };
        let v = serde_json::to_value(e.body()).unwrap();
        assert_eq!(v["disabled_at"].as_i64(), Some(1_796_112_000_000));
        assert_eq!(v["code"], 403);
        assert_eq!(v["error"], "KeyDisabled");
        let other = serde_json::to_value(Error::KeyNotFound("x".into()).body()).unwrap();
        assert!(other.get("disabled_at").is_none());
    }

    #[test]
    fn every_name_keeps_its_status() {
        for (e, status) in [
            (Error::InvalidRequest(String::new()), 400),
            (Error::Unauthenticated(String::new()), 401),
            (Error::KeyDestroyed(String::new()), 410),
            (Error::Throttled(String::new()), 429),
            (Error::Unavailable(String::new()), 503),
        ] {
            assert_eq!(e.name().status(), status);
            assert_eq!(e.body().code, status);
        }
    }
}
