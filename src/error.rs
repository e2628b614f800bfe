//! The one error type of the core crate.

use alloc::string::String;

/// Everything that can go wrong in the keyseal core.
///
/// Every authentication failure (wrong key, tampered header, tampered or truncated body, bad
/// commitment) is the single opaque [`Error::DecryptionFailed`]: the reason is never revealed, as in
/// `ring` and `age`. Format, limit and argument problems found before any key is used are distinct,
/// and so are key-service failures. Use [`Error::code`] for a stable, machine-readable name.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Authentication failed: wrong data key, tampered or truncated ciphertext, wrong key
    /// commitment, or a wrapped key that does not open. Deliberately carries no detail.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The bytes are not a well-formed keyseal message (FORMAT.md §9 lists the cases).
    #[error("invalid format: {reason}")]
    InvalidFormat {
        /// What was wrong, for humans; never secret.
        reason: &'static str,
    },
    /// The message declares a format version this build does not implement.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// The message declares an algorithm suite this build does not implement.
    #[error("unsupported algorithm suite 0x{0:04x}")]
    UnsupportedSuite(u16),
    /// A value exceeds a limit of FORMAT.md §8 (context size, entry count, segment count...).
    #[error("limit exceeded: {what}")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
    },
    /// The message's encryption context lacks a required pair or has a different value for it.
    #[error("encryption context mismatch for key {key:?}")]
    ContextMismatch {
        /// The context key whose value was missing or different.
        key: String,
    },
    /// The caller passed an argument that can never be valid (e.g. a 31-byte data key).
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What was wrong.
        reason: &'static str,
    },
    /// The operating system or browser gave no randomness.
    #[error("no randomness available")]
    RandomUnavailable,
    /// A key service refused or failed. `kind` is the protocol error name (PROTOCOL.md).
    #[error("key service: {message}")]
    KeyService {
        /// The category of failure.
        kind: KeyServiceErrorKind,
        /// Text from the key service or transport, never containing key material.
        message: String,
    },
    /// None of the message's wrapped-key entries could be opened with the configured key services.
    #[error("no usable wrapped-key entry")]
    NoUsableEntry,
}

/// Why a key-service call failed, mirroring the protocol's error names (PROTOCOL.md).
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
        }
    }
}

impl Error {
    /// The stable, machine-readable code of this error (the same string reaches JavaScript).
    pub fn code(&self) -> &'static str {
        match self {
            Self::DecryptionFailed => "DECRYPTION_FAILED",
            Self::InvalidFormat { .. } => "INVALID_FORMAT",
            Self::UnsupportedVersion(_) => "UNSUPPORTED_VERSION",
            Self::UnsupportedSuite(_) => "UNSUPPORTED_SUITE",
            Self::LimitExceeded { .. } => "LIMIT_EXCEEDED",
            Self::ContextMismatch { .. } => "CONTEXT_MISMATCH",
            Self::InvalidArgument { .. } => "INVALID_ARGUMENT",
            Self::RandomUnavailable => "RANDOM_UNAVAILABLE",
            Self::KeyService { kind, .. } => kind.code(),
            Self::NoUsableEntry => "NO_USABLE_ENTRY",
        }
    }

    pub(crate) fn format(reason: &'static str) -> Self {
        Self::InvalidFormat { reason }
    }

    pub(crate) fn limit(what: &'static str) -> Self {
        Self::LimitExceeded { what }
    }
}
