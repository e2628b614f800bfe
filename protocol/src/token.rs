//! The caller's token (§4): sent as the `authorization` member, never printed.

use alloc::string::String;
use core::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A bearer JWT. `Debug` shows only its length; dropped copies are zeroized.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Token(Zeroizing<String>);

impl Token {
    /// Wraps a token string.
    pub fn new(s: String) -> Self {
        Self(Zeroizing::new(s))
    }

    /// The token text, for the verifier.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(<redacted, {} bytes>)", self.0.len())
    }
}
