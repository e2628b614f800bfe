//! §6.3: what a key service's identity key signs — the answer statement of every key operation
//! and the public-key statement — built the same way by the server that signs and the client
//! that verifies.

use alloc::vec::Vec;

use sha2::{Digest, Sha256};

/// Label of the answer statement.
pub const ANSWER_LABEL: &[u8] = b"keyseal/v1 answer";
/// Label of the public-key statement.
pub const PUBLIC_KEY_LABEL: &[u8] = b"keyseal/v1 public-key";
/// Label of the batch statement.
pub const BATCH_LABEL: &[u8] = b"keyseal/v1 batch";

fn h(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Everything an answer statement binds (§6.3); absent values are empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnswerFacts<'a> {
    /// `generate`, `wrap`, `unwrap` or `rewrap`.
    pub op: &'a str,
    /// The request's key id.
    pub key_id: &'a str,
    /// The key that wraps the answer's wrapped key (`to_key_id` on rewrap, else `key_id`).
    pub to_key_id: &'a str,
    /// The canonical context (FORMAT.md §3.3).
    pub context: &'a [u8],
    /// The request's recipient public key.
    pub recipient: &'a [u8],
    /// The request's wrapped key (unwrap, rewrap).
    pub wrapped_in: &'a [u8],
    /// The answer's wrapped key (generate, wrap, rewrap).
    pub wrapped_out: &'a [u8],
    /// The answer's key version.
    pub key_version: u32,
    /// The answer's `sealed_key.enc`.
    pub enc: &'a [u8],
    /// The answer's `sealed_key.ciphertext`.
    pub ciphertext: &'a [u8],
}

impl AnswerFacts<'_> {
    /// The bytes the identity key signs.
    pub fn statement(&self) -> Vec<u8> {
        let mut s = Vec::with_capacity(ANSWER_LABEL.len() + 1 + 9 * 32 + 4);
        s.extend_from_slice(ANSWER_LABEL);
        s.push(0);
        for part in [
            self.op.as_bytes(),
            self.key_id.as_bytes(),
            self.to_key_id.as_bytes(),
            self.context,
            self.recipient,
            self.wrapped_in,
            self.wrapped_out,
        ] {
            s.extend_from_slice(&h(part));
        }
        s.extend_from_slice(&self.key_version.to_be_bytes());
        s.extend_from_slice(&h(self.enc));
        s.extend_from_slice(&h(self.ciphertext));
        s
    }
}

/// The batch statement of a `/rewrap-batch` answer (§6.3): one signature covers every item, in
/// order — an answered item by the digest of its answer statement, a refused one by the digest of
/// its error name.
#[derive(Debug, Clone)]
pub struct BatchStatement(Vec<u8>);

impl BatchStatement {
    /// A statement for a batch of `items` results.
    pub fn new(items: usize) -> Self {
        let mut s = Vec::with_capacity(BATCH_LABEL.len() + 1 + 4 + items * 33);
        s.extend_from_slice(BATCH_LABEL);
        s.push(0);
        s.extend_from_slice(&u32::try_from(items).unwrap_or(u32::MAX).to_be_bytes());
        Self(s)
    }

    /// The next item was answered; `statement` is its answer statement ([`AnswerFacts::statement`]).
    pub fn answered(&mut self, statement: &[u8]) {
        self.0.push(1);
        self.0.extend_from_slice(&h(statement));
    }

    /// The next item was refused with the error name `error` (§5).
    pub fn refused(&mut self, error: &str) {
        self.0.push(0);
        self.0.extend_from_slice(&h(error.as_bytes()));
    }

    /// The bytes the identity key signs.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// The bytes the identity key signs for a public key (§6.3, §3.6).
pub fn public_key_statement(key_id: &str, key_version: u32, public_sec1: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(PUBLIC_KEY_LABEL.len() + 1 + 32 + 4 + public_sec1.len());
    s.extend_from_slice(PUBLIC_KEY_LABEL);
    s.push(0);
    s.extend_from_slice(&h(key_id.as_bytes()));
    s.extend_from_slice(&key_version.to_be_bytes());
    s.extend_from_slice(public_sec1);
    s
}
