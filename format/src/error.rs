//! The one error type of the format crate.

use alloc::string::String;

/// Everything that can go wrong reading or writing the sealed format.
///
/// Every authentication failure (wrong key, tampered header, tampered or truncated body, bad
/// commitment) is the single opaque [`Error::DecryptionFailed`]: the reason is never revealed, as in
/// `ring` and `age`. Format, limit and argument problems found before any key is used are distinct.
/// [`Error::code`] gives a stable, machine-readable name (FORMAT.md §9).
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
        }
    }

    pub(crate) fn format(reason: &'static str) -> Self {
        Self::InvalidFormat { reason }
    }

    pub(crate) fn limit(what: &'static str) -> Self {
        Self::LimitExceeded { what }
    }

    pub(crate) fn invalid(reason: &'static str) -> Self {
        Self::InvalidArgument { reason }
    }
}
