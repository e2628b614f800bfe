//! The one error type of the command line, its stable codes and exit statuses (cli/README.md
//! "Exit statuses"). Codes of the core (`keyseal::Error::code`) pass through unchanged.

use std::path::PathBuf;

/// Everything a `keyseal` command can fail with.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The core refused or a key service failed; the code is the core's.
    #[error("{0}")]
    Core(#[from] keyseal::Error),
    /// Reading or writing a file, a pipe or a directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file, or `-` for standard input/output.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The command line or configuration is not usable (`INVALID_ARGUMENT`).
    #[error("{0}")]
    Usage(String),
    /// A rewrap job finished with objects that failed (`REWRAP_INCOMPLETE`); the report says
    /// which and why.
    #[error("{failed} object(s) failed; see the report")]
    Incomplete {
        /// How many objects failed.
        failed: u64,
    },
    /// Something that should not happen (`INTERNAL`): a worker thread died.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CliError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// The stable code (the core's codes plus `IO_ERROR` and `REWRAP_INCOMPLETE`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Core(e) => e.code(),
            Self::Io { .. } => "IO_ERROR",
            Self::Usage(_) => "INVALID_ARGUMENT",
            Self::Incomplete { .. } => "REWRAP_INCOMPLETE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The process exit status for this error.
    pub fn exit_status(&self) -> u8 {
        exit_status(self.code())
    }
}

impl From<keyseal::FormatError> for CliError {
    fn from(e: keyseal::FormatError) -> Self {
        Self::Core(e.into())
    }
}

/// Exit status by code: the table of cli/README.md "Exit statuses". Unknown codes are 1.
pub const EXIT_STATUSES: &[(&str, u8)] = &[
    ("INTERNAL", 1),
    ("INVALID_ARGUMENT", 2),
    ("REWRAP_INCOMPLETE", 3),
    ("IO_ERROR", 4),
    ("DECRYPTION_FAILED", 10),
    ("INVALID_FORMAT", 11),
    ("UNSUPPORTED_VERSION", 12),
    ("UNSUPPORTED_SUITE", 13),
    ("LIMIT_EXCEEDED", 14),
    ("CONTEXT_MISMATCH", 15),
    ("DOWNGRADE_REFUSED", 16),
    ("NO_USABLE_ENTRY", 17),
    ("RANDOM_UNAVAILABLE", 18),
    ("ACCESS_DENIED", 20),
    ("KEY_DISABLED", 21),
    ("KEY_NOT_FOUND", 22),
    ("THROTTLED", 23),
    ("KMS_UNAVAILABLE", 24),
    ("TIMEOUT", 25),
    ("PROTOCOL_ERROR", 26),
    ("IDENTITY_MISMATCH", 27),
];

/// The exit status of `code` ([`EXIT_STATUSES`]).
pub fn exit_status(code: &str) -> u8 {
    EXIT_STATUSES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(1, |(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_code_has_its_own_exit_status() {
        for code in keyseal::ERROR_CODES {
            assert!(
                EXIT_STATUSES.iter().any(|(c, _)| c == code),
                "{code} has no exit status"
            );
        }
        let mut statuses: Vec<u8> = EXIT_STATUSES.iter().map(|(_, s)| *s).collect();
        statuses.sort_unstable();
        statuses.dedup();
        assert_eq!(statuses.len(), EXIT_STATUSES.len(), "exit statuses are distinct");
    }
}
