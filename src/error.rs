//! The one error type of the SDK crate.

use alloc::string::String;

/// Everything that can go wrong in the SDK: a format error (from `keyseal-format`, with its
/// opaque [`FormatError::DecryptionFailed`] for every authentication failure), a key-service
/// failure, or no usable wrapped-key entry. [`Error::code`] gives the stable code every runtime
/// exposes.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The sealed format refused the input or the key (FORMAT.md §9): `DECRYPTION_FAILED`,
    /// `INVALID_FORMAT`, `LIMIT_EXCEEDED`, `CONTEXT_MISMATCH`, …
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A key service refused or failed. `kind` is the protocol error name (PROTOCOL.md §5).
    #[error("key service: {message}")]
    KeyService {
        /// The category of failure.
        kind: KeyServiceErrorKind,
        /// Text from the key service or transport, never containing key material.
        message: String,
        /// Which service, operation and answer the failure came from, when it came from a call.
        origin: Option<CallOrigin>,
    },
    /// The reader requires a signed message (suite 2) and this one is not (FORMAT.md §6.5): a
    /// downgrade, refused before any key service is asked.
    #[error("the message is not signed, and this reader requires signed messages")]
    Unsigned,
    /// None of the message's wrapped-key entries could be used: each names a key service this
    /// client does not know, a key id or kind its decrypt policy does not accept, or failed.
    #[error("no usable wrapped-key entry: {detail}")]
    NoUsableEntry {
        /// The entries the message names and why each was not used, and the services this client
        /// knows (no secrets: entries and key ids are in clear in every header).
        detail: String,
    },
}

pub use keyseal_format::Error as FormatError;

/// Where a key-service failure came from: the structured facts behind its message (they reach
/// JavaScript as the error's `service`, `op` and `status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOrigin {
    /// The key service's id (`keyService.id`).
    pub service: String,
    /// The operation: `generate`, `generate_batch`, `wrap`, `unwrap`, `rewrap`, `rewrap_batch` or
    /// `public_key`.
    pub op: &'static str,
    /// The HTTP status of the answer that ended the call; `None` when none arrived (network
    /// failure, timeout, open circuits).
    pub status: Option<u16>,
}

/// Why a key-service call failed, mirroring the protocol's error names (PROTOCOL.md §5).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyServiceErrorKind {
    /// The token is missing, invalid, or lacks the role or tenant for this key.
    AccessDenied,
    /// The key (or the key version) is disabled: revoked until enabled again.
    KeyDisabled,
    /// The key does not exist, or its material was destroyed.
    KeyNotFound,
    /// The wrapped key was tampered with or was not made by this service.
    InvalidCiphertext,
    /// The context sent does not match the one bound into the wrapped key.
    ContextMismatch,
    /// The service asked the caller to slow down.
    Throttled,
    /// The service rejected the request as malformed.
    InvalidRequest,
    /// The service (or every configured URL) could not be reached or answered 5xx.
    Unavailable,
    /// The call did not finish within its timeout or deadline.
    Timeout,
    /// The answer did not follow the protocol.
    Protocol,
    /// The service answered with a plaintext key where a sealed one was required.
    DowngradeRefused,
    /// An answer or public key is not signed by the key-service identity pinned in the
    /// configuration (PROTOCOL.md §6.3): someone else answered in the service's place.
    IdentityMismatch,
}

impl KeyServiceErrorKind {
    /// The stable code of this failure, as used in every runtime.
    pub fn code(self) -> &'static str {
        match self {
            Self::AccessDenied => "ACCESS_DENIED",
            Self::KeyDisabled => "KEY_DISABLED",
            Self::KeyNotFound => "KEY_NOT_FOUND",
            Self::InvalidCiphertext => "DECRYPTION_FAILED",
            Self::ContextMismatch => "CONTEXT_MISMATCH",
            Self::Throttled => "THROTTLED",
            Self::InvalidRequest => "INVALID_ARGUMENT",
            Self::Unavailable => "KMS_UNAVAILABLE",
            Self::Timeout => "TIMEOUT",
            Self::Protocol => "PROTOCOL_ERROR",
            Self::DowngradeRefused => "DOWNGRADE_REFUSED",
            Self::IdentityMismatch => "IDENTITY_MISMATCH",
        }
    }
}

/// Every code an [`Error`] can carry, plus `INTERNAL` (a failure of the platform or of a
/// caller's callback with no code of its own). The JS error classes are checked against this list.
pub const ERROR_CODES: &[&str] = &[
    "DECRYPTION_FAILED",
    "INVALID_FORMAT",
    "UNSUPPORTED_VERSION",
    "UNSUPPORTED_SUITE",
    "LIMIT_EXCEEDED",
    "CONTEXT_MISMATCH",
    "INVALID_ARGUMENT",
    "RANDOM_UNAVAILABLE",
    "ACCESS_DENIED",
    "KEY_DISABLED",
    "KEY_NOT_FOUND",
    "THROTTLED",
    "KMS_UNAVAILABLE",
    "TIMEOUT",
    "PROTOCOL_ERROR",
    "DOWNGRADE_REFUSED",
    "IDENTITY_MISMATCH",
    "NO_USABLE_ENTRY",
    "INTERNAL",
];

impl Error {
    /// The stable, machine-readable code of this error (the same string reaches JavaScript).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Format(e) => e.code(),
            Self::KeyService { kind, .. } => kind.code(),
            Self::NoUsableEntry { .. } => "NO_USABLE_ENTRY",
            Self::Unsigned => "DOWNGRADE_REFUSED",
        }
    }

    /// A key-service error of `kind`.
    pub fn key_service(kind: KeyServiceErrorKind, message: impl Into<String>) -> Self {
        Self::KeyService {
            kind,
            message: message.into(),
            origin: None,
        }
    }

    /// Whether trying the same call again later may succeed: the service was unreachable, slow
    /// or throttling (`KMS_UNAVAILABLE`, `TIMEOUT`, `THROTTLED`).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::KeyService {
                kind: KeyServiceErrorKind::Unavailable
                    | KeyServiceErrorKind::Timeout
                    | KeyServiceErrorKind::Throttled,
                ..
            }
        )
    }

    /// The call a key-service failure came from, if any.
    pub fn origin(&self) -> Option<&CallOrigin> {
        match self {
            Self::KeyService { origin, .. } => origin.as_ref(),
            _ => None,
        }
    }

    /// Records where a key-service failure came from (kept when already set).
    pub(crate) fn with_origin(mut self, service: &str, op: &'static str, status: Option<u16>) -> Self {
        if let Self::KeyService { origin, .. } = &mut self
            && origin.is_none()
        {
            *origin = Some(CallOrigin {
                service: service.into(),
                op,
                status,
            });
        }
        self
    }

    /// The opaque authentication failure.
    pub const DECRYPTION_FAILED: Error = Error::Format(FormatError::DecryptionFailed);

    /// Whether this is the opaque authentication failure.
    pub fn is_decryption_failed(&self) -> bool {
        matches!(self, Self::Format(FormatError::DecryptionFailed))
    }

    pub(crate) fn invalid(reason: &'static str) -> Self {
        Self::Format(FormatError::InvalidArgument { reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed() {
        let format = [
            FormatError::DecryptionFailed,
            FormatError::InvalidFormat { reason: "" },
            FormatError::UnsupportedVersion(2),
            FormatError::UnsupportedSuite(2),
            FormatError::LimitExceeded { what: "" },
            FormatError::ContextMismatch { key: String::new() },
            FormatError::InvalidArgument { reason: "" },
            FormatError::RandomUnavailable,
        ];
        let kinds = [
            KeyServiceErrorKind::AccessDenied,
            KeyServiceErrorKind::KeyDisabled,
            KeyServiceErrorKind::KeyNotFound,
            KeyServiceErrorKind::InvalidCiphertext,
            KeyServiceErrorKind::ContextMismatch,
            KeyServiceErrorKind::Throttled,
            KeyServiceErrorKind::InvalidRequest,
            KeyServiceErrorKind::Unavailable,
            KeyServiceErrorKind::Timeout,
            KeyServiceErrorKind::Protocol,
            KeyServiceErrorKind::DowngradeRefused,
            KeyServiceErrorKind::IdentityMismatch,
        ];
        let all = format
            .into_iter()
            .map(Error::Format)
            .chain(kinds.into_iter().map(|k| Error::key_service(k, "")))
            .chain([
                Error::NoUsableEntry {
                    detail: String::new(),
                },
                Error::Unsigned,
            ]);
        for e in all {
            assert!(
                ERROR_CODES.contains(&e.code()),
                "{} is not in ERROR_CODES",
                e.code()
            );
        }
    }
}
