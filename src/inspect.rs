//! Header facts for display and tools (`inspect`): no key is used and no key service is called.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Serialize;

use crate::error::Error;
use crate::keyseal::KeySeal;
use crate::kms_client::KmsClient;
use crate::{BodyLayout, EntryKind, Header, WrappedKeyEntry, hpke_p256};

/// Header facts of a message (no secrets).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderInfo {
    /// Format version.
    pub version: u8,
    /// Suite id.
    pub suite: u16,
    /// Message id, hex.
    pub message_id: String,
    /// Segment size.
    pub segment_size: u32,
    /// Context pairs.
    pub context: BTreeMap<String, String>,
    /// Wrapped-key entries.
    pub entries: Vec<EntryInfo>,
    /// Header length = body offset.
    pub header_len: usize,
    /// Plaintext length, when the whole message was given and its length is valid.
    pub plaintext_len: Option<u64>,
    /// Segment count, likewise.
    pub segment_count: Option<u64>,
}

/// One entry in [`HeaderInfo`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryInfo {
    /// `kms`, `hpke-p256` or `unknown`.
    pub kind: &'static str,
    /// Key-service id.
    pub key_service_id: String,
    /// Key id.
    pub key_id: String,
    /// Key version where it can be read ([`KeySeal::entry_version`]); `None` otherwise.
    pub key_version: Option<u32>,
    /// Length of the wrapped key.
    pub wrapped_len: usize,
    /// The wrapped key (not secret: it opens only at its key service).
    pub wrapped: WrappedBytes,
}

/// Wrapped-key bytes, serialized as bytes (a `Uint8Array` in JS).
#[derive(Debug, Clone, PartialEq)]
pub struct WrappedBytes(pub Vec<u8>);

impl Serialize for WrappedBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    b.iter()
        .flat_map(|x| [H[(x >> 4) as usize] as char, H[(x & 15) as usize] as char])
        .collect()
}

fn header_info(
    sealed: &[u8],
    version: &dyn Fn(&WrappedKeyEntry) -> Option<u32>,
) -> Result<HeaderInfo, Error> {
    let (h, off) = Header::parse(sealed)?;
    // FORMAT.md §6.3: a signed message's 64-byte signature follows the body (§6.5)
    let layout = if sealed.len() > off {
        BodyLayout::for_message(&h, (sealed.len() - off) as u64).ok()
    } else {
        None
    };
    Ok(HeaderInfo {
        version: keyseal_format::header::VERSION_1,
        suite: h.suite().id(),
        message_id: hex(h.message_id().as_bytes()),
        segment_size: h.segment_size(),
        context: h.context().iter().map(|(k, v)| (k.into(), v.into())).collect(),
        entries: h
            .entries()
            .iter()
            .map(|e| EntryInfo {
                kind: e.kind.name(),
                key_service_id: e.key_service_id.clone(),
                key_id: e.key_id.clone(),
                key_version: version(e),
                wrapped_len: e.wrapped.len(),
                wrapped: WrappedBytes(e.wrapped.clone()),
            })
            .collect(),
        header_len: off,
        plaintext_len: layout.map(|l| l.plaintext_len()),
        segment_count: layout.map(|l| l.segment_count()),
    })
}

/// Reads header facts from the start of a message (or the whole message), without a
/// configuration: key versions of `hpke-p256` entries (FORMAT.md §4.5) and of `kms` entries in the
/// `keyseal-kms` layout, as the `keyseal` kind reads it ([`KmsClient::kms_entry_version`]).
pub fn inspect(sealed: &[u8]) -> Result<HeaderInfo, Error> {
    header_info(sealed, &default_version)
}

fn default_version(e: &WrappedKeyEntry) -> Option<u32> {
    match e.kind {
        EntryKind::HpkeP256 => hpke_p256::entry_key_version(&e.wrapped).ok(),
        EntryKind::Kms => KmsClient::kms_entry_version(&e.wrapped),
        _ => None,
    }
}

impl KeySeal {
    /// Header facts, with each entry's key version as its configured key service reads it (else
    /// as [`inspect`] reads it).
    pub fn inspect(&self, sealed: &[u8]) -> Result<HeaderInfo, Error> {
        header_info(sealed, &|e| self.entry_version(e).or_else(|| default_version(e)))
    }
}
