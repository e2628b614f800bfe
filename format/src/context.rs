//! The encryption context: UTF-8 key/value pairs bound into the header and the wrapped key.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::Error;
use crate::limits::{MAX_CONTEXT_BYTES, MAX_CONTEXT_KEY_LEN, MAX_CONTEXT_PAIRS, MAX_CONTEXT_VALUE_LEN};

/// Encryption context (FORMAT.md §3.3). Pairs are kept sorted by the bytes of their keys; keys are
/// unique and non-empty. Not secret: it is stored in clear in every header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// The empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a context from pairs, checking the limits of FORMAT.md §8. A repeated key is an
    /// error rather than a silent overwrite.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            let (k, v) = (k.into(), v.into());
            if map.contains_key(&k) {
                return Err(Error::InvalidArgument {
                    reason: "duplicate encryption context key",
                });
            }
            map.insert(k, v);
        }
        let ctx = Self(map);
        ctx.check_limits()?;
        Ok(ctx)
    }

    /// Checks the limits of FORMAT.md §8.
    pub fn check_limits(&self) -> Result<(), Error> {
        if self.0.len() > MAX_CONTEXT_PAIRS {
            return Err(Error::limit("context pair count"));
        }
        for (k, v) in &self.0 {
            if k.is_empty() {
                return Err(Error::InvalidArgument {
                    reason: "empty encryption context key",
                });
            }
            if k.len() > MAX_CONTEXT_KEY_LEN {
                return Err(Error::limit("context key length"));
            }
            if v.len() > MAX_CONTEXT_VALUE_LEN {
                return Err(Error::limit("context value length"));
            }
        }
        if self.encoded_len() > MAX_CONTEXT_BYTES {
            return Err(Error::limit("context size"));
        }
        Ok(())
    }

    /// The value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Pairs in canonical order (sorted by key bytes).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Length of [`EncryptionContext::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        2 + self.0.iter().map(|(k, v)| 4 + k.len() + v.len()).sum::<usize>()
    }

    /// The canonical encoding of FORMAT.md §3.3: `u16` pair count, then per pair in key order
    /// `u16` key length, key, `u16` value length, value (big-endian). Also what the key service
    /// binds into wrapped keys.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        // Limits (checked on construction and parse) keep every length within u16.
        out.extend_from_slice(&(self.0.len() as u16).to_be_bytes());
        for (k, v) in &self.0 {
            out.extend_from_slice(&(k.len() as u16).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
    }

    /// FORMAT.md §7: every pair of `required` must be present here with the same value.
    /// Extra pairs in `self` are allowed.
    pub fn require(&self, required: &EncryptionContext) -> Result<(), Error> {
        for (k, v) in required.iter() {
            if self.get(k) != Some(v) {
                return Err(Error::ContextMismatch { key: k.into() });
            }
        }
        Ok(())
    }

    /// Used by the parser, which has already enforced sort order and uniqueness.
    pub(crate) fn from_sorted_map(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }
}
