//! Segments (FORMAT.md §6): STREAM-style AES-256-GCM with nonce = 7 zero bytes ‖ u32 index ‖
//! last-segment flag. Incremental sealing and opening in O(segment size) memory, and random access.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;

use crate::Error;
use crate::data_key::{DataKey, PayloadKey};
use crate::engine::{AeadEngine, SegmentCipher};
use crate::header::Header;
use crate::key_schedule::{payload_key, verify_commitment};
use crate::limits::MAX_SEGMENTS;

/// Length of the AES-GCM tag that ends every segment.
pub const TAG_LEN: usize = 16;

/// FORMAT.md §6.2: the nonce of segment `index`.
pub fn segment_nonce(index: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[7..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Where each segment lies, for a body of known length (FORMAT.md §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLayout {
    segment_size: u64,
    segment_count: u64,
    body_len: u64,
}

impl BodyLayout {
    /// The layout for a plaintext of `len` bytes: `len / S + 1` segments, the last one holding
    /// `len % S` bytes (possibly none).
    pub fn for_plaintext(segment_size: u32, len: u64) -> Result<Self, Error> {
        let s = u64::from(segment_size);
        let count = len / s + 1;
        if count > MAX_SEGMENTS {
            return Err(Error::limit("segment count"));
        }
        Ok(Self {
            segment_size: s,
            segment_count: count,
            body_len: len + count * TAG_LEN as u64,
        })
    }

    /// The layout of a body of `body_len` bytes. A length no valid body can have is
    /// [`Error::DecryptionFailed`]: it means truncation or extension (§9).
    pub fn for_body(segment_size: u32, body_len: u64) -> Result<Self, Error> {
        let s = u64::from(segment_size);
        let full = s + TAG_LEN as u64;
        let count = body_len / full + 1;
        if body_len % full < TAG_LEN as u64 {
            return Err(Error::DecryptionFailed);
        }
        if count > MAX_SEGMENTS {
            return Err(Error::limit("segment count"));
        }
        Ok(Self {
            segment_size: s,
            segment_count: count,
            body_len,
        })
    }

    /// Number of segments (at least 1).
    pub fn segment_count(&self) -> u64 {
        self.segment_count
    }
    /// Body length in bytes.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }
    /// Plaintext length in bytes.
    pub fn plaintext_len(&self) -> u64 {
        self.body_len - self.segment_count * TAG_LEN as u64
    }
    /// Byte range of segment `k` within the body.
    pub fn segment_range(&self, k: u64) -> Range<u64> {
        let full = self.segment_size + TAG_LEN as u64;
        let start = k * full;
        start..(start + full).min(self.body_len)
    }
    /// Byte range of segment `k`'s plaintext within the whole plaintext.
    pub fn plaintext_range(&self, k: u64) -> Range<u64> {
        let start = k * self.segment_size;
        start..(start + self.segment_size).min(self.plaintext_len())
    }
    /// The segments that hold plaintext bytes `offset .. offset + len` (empty range when `len` is
    /// 0 or the range starts past the end).
    pub fn segments_for(&self, offset: u64, len: u64) -> Range<u64> {
        let end = offset.saturating_add(len).min(self.plaintext_len());
        if offset >= end {
            return 0..0;
        }
        (offset / self.segment_size)..((end - 1) / self.segment_size + 1)
    }
}

fn keyed(engine: &dyn AeadEngine, header: &Header, dek: &DataKey) -> Result<Box<dyn SegmentCipher>, Error> {
    let key = payload_key(dek, header.message_id(), header.auth_hash())?;
    engine.keyed(&key)
}

/// Seals plaintext pushed in pieces of any size; holds at most one segment of plaintext.
pub struct SegmentSealer {
    cipher: Box<dyn SegmentCipher>,
    segment_size: usize,
    index: u64,
    pending: Vec<u8>,
}

impl SegmentSealer {
    /// A sealer for the body of the message whose header is `header`. The header's commitment
    /// must have come from `dek` (use [`crate::new_header`]).
    pub fn new(engine: &dyn AeadEngine, header: &Header, dek: &DataKey) -> Result<Self, Error> {
        verify_commitment(dek, header.message_id(), header.commitment()).map_err(|_| {
            Error::InvalidArgument {
                reason: "header was not made for this data key",
            }
        })?;
        let segment_size = header.segment_size() as usize;
        Ok(Self {
            cipher: keyed(engine, header, dek)?,
            segment_size,
            index: 0,
            pending: Vec::with_capacity(segment_size + TAG_LEN),
        })
    }

    /// Adds plaintext; appends every segment it completes (never the last) to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        while !data.is_empty() {
            let take = (self.segment_size - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == self.segment_size {
                self.seal_pending(false, out)?;
            }
        }
        Ok(())
    }

    /// Seals the last segment (the 0 to S-1 bytes still pending) into `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.seal_pending(true, out)
    }

    fn seal_pending(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.index + 1 > MAX_SEGMENTS {
            return Err(Error::limit("segment count"));
        }
        let nonce = segment_nonce(self.index as u32, last);
        self.cipher.seal_in_place(&nonce, &mut self.pending)?;
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        self.index += 1;
        Ok(())
    }
}

/// Opens a body pushed in pieces of any size, releasing plaintext only segment by segment after
/// each tag checks. Also opens single segments for random access.
pub struct SegmentOpener {
    cipher: Box<dyn SegmentCipher>,
    segment_size: usize,
    index: u64,
    pending: Vec<u8>,
}

impl SegmentOpener {
    /// Checks the key commitment (§6.1), then derives the payload key. A data key that does not
    /// match the header is [`Error::DecryptionFailed`].
    pub fn new(engine: &dyn AeadEngine, header: &Header, dek: &DataKey) -> Result<Self, Error> {
        verify_commitment(dek, header.message_id(), header.commitment())?;
        let segment_size = header.segment_size() as usize;
        Ok(Self {
            cipher: keyed(engine, header, dek)?,
            segment_size,
            index: 0,
            pending: Vec::with_capacity(segment_size + TAG_LEN),
        })
    }

    /// Adds body bytes; appends the plaintext of every full segment that authenticates to `out`.
    /// A full-size segment is never the last one (§6.3), so no look-ahead is needed.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let full = self.segment_size + TAG_LEN;
        while !data.is_empty() {
            let take = (full - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == full {
                self.open_pending(false, out)?;
            }
        }
        Ok(())
    }

    /// Opens the last segment. Fails with [`Error::DecryptionFailed`] if the body was truncated
    /// (fewer than 16 bytes pending, or the real last segment is missing).
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.pending.len() < TAG_LEN {
            return Err(Error::DecryptionFailed);
        }
        self.open_pending(true, out)
    }

    fn open_pending(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.index + 1 > MAX_SEGMENTS {
            return Err(Error::DecryptionFailed);
        }
        let nonce = segment_nonce(self.index as u32, last);
        self.cipher.open_in_place(&nonce, &mut self.pending)?;
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        self.index += 1;
        Ok(())
    }

    /// Random access (§6.4): opens segment `index` of a body laid out as `layout`, given exactly
    /// that segment's bytes. Does not disturb the streaming state.
    pub fn open_segment(&self, layout: &BodyLayout, index: u64, segment: &[u8]) -> Result<Vec<u8>, Error> {
        if index >= layout.segment_count() {
            return Err(Error::InvalidArgument {
                reason: "segment index out of range",
            });
        }
        let r = layout.segment_range(index);
        if segment.len() as u64 != r.end - r.start {
            return Err(Error::DecryptionFailed);
        }
        let last = index + 1 == layout.segment_count();
        let mut buf = segment.to_vec();
        self.cipher
            .open_in_place(&segment_nonce(index as u32, last), &mut buf)?;
        Ok(buf)
    }
}

/// Everything an engine that runs outside the core needs to seal or open the segments of one
/// message itself — e.g. WebCrypto, which is asynchronous and so cannot sit behind the synchronous
/// [`SegmentCipher`]: the payload key (handed out once, see [`Self::take_key`]) and the nonce of
/// each segment (FORMAT.md §6.2). The core has already done everything else: the header and its
/// commitment on seal, the commitment check (and the body layout, when known) on open.
///
/// The external engine MUST use AES-256-GCM with a 128-bit tag, empty associated data, and
/// segments cut as §6.3 says: every segment but the last holds exactly `segment_size` plaintext
/// bytes, the last strictly fewer (possibly none).
pub struct ExternalSegments {
    key: Option<PayloadKey>,
    segment_size: u32,
}

impl ExternalSegments {
    /// For sealing the body of `header` (whose commitment must come from `dek`, as with
    /// [`SegmentSealer::new`]).
    pub fn for_seal(header: &Header, dek: &DataKey) -> Result<Self, Error> {
        verify_commitment(dek, header.message_id(), header.commitment()).map_err(|_| {
            Error::InvalidArgument {
                reason: "header was not made for this data key",
            }
        })?;
        Self::keyed(header, dek)
    }

    /// For opening the body of `header`: checks the key commitment (§6.1) first, like
    /// [`SegmentOpener::new`]; a data key that does not match is [`Error::DecryptionFailed`].
    pub fn for_open(header: &Header, dek: &DataKey) -> Result<Self, Error> {
        verify_commitment(dek, header.message_id(), header.commitment())?;
        Self::keyed(header, dek)
    }

    fn keyed(header: &Header, dek: &DataKey) -> Result<Self, Error> {
        Ok(Self {
            key: Some(payload_key(dek, header.message_id(), header.auth_hash())?),
            segment_size: header.segment_size(),
        })
    }

    /// The payload key, the first time only (later calls return `None`), so that it is handed to
    /// the external engine once — to be imported there and then dropped here (it zeroizes).
    pub fn take_key(&mut self) -> Option<PayloadKey> {
        self.key.take()
    }

    /// Plaintext bytes per segment.
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// The nonce of segment `index` (FORMAT.md §6.2), `last` for the final segment. An index past
    /// the last one the format allows is [`Error::LimitExceeded`].
    pub fn nonce(&self, index: u64, last: bool) -> Result<[u8; 12], Error> {
        if index >= MAX_SEGMENTS {
            return Err(Error::limit("segment count"));
        }
        Ok(segment_nonce(index as u32, last))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::context::EncryptionContext;
    use crate::engine::RustCryptoEngine;
    use crate::header::{EntryKind, MessageId, WrappedKeyEntry};
    use crate::message::{new_header, open_body, seal};
    use alloc::string::String;
    use alloc::vec;

    fn header(dek: &DataKey, segment_size: u32) -> Header {
        let entry = WrappedKeyEntry {
            kind: EntryKind::Kms,
            key_service_id: String::from("a"),
            key_id: String::from("a/b"),
            wrapped: vec![1, 2, 3],
        };
        new_header(
            dek,
            MessageId::assume_unique_for_key([7; 32]),
            segment_size,
            EncryptionContext::new(),
            vec![entry],
        )
        .unwrap()
    }

    /// Seals segment by segment the way an external engine does, with the plan only.
    fn seal_externally(plan: &mut ExternalSegments, plaintext: &[u8]) -> Vec<u8> {
        let key = plan.take_key().unwrap();
        assert!(plan.take_key().is_none(), "the key is handed out once");
        let cipher = RustCryptoEngine.keyed(&key).unwrap();
        let s = plan.segment_size() as usize;
        let n = plaintext.len() / s + 1;
        let mut out = Vec::new();
        for k in 0..n {
            let mut buf = plaintext[k * s..((k + 1) * s).min(plaintext.len())].to_vec();
            let nonce = plan.nonce(k as u64, k + 1 == n).unwrap();
            cipher.seal_in_place(&nonce, &mut buf).unwrap();
            out.extend_from_slice(&buf);
        }
        out
    }

    #[test]
    fn external_plan_gives_the_bytes_of_the_core_engine() {
        let dek = DataKey::from_bytes(&[9; 32]).unwrap();
        for len in [0usize, 1, 63, 64, 65, 5 * 64 + 7] {
            let h = header(&dek, 64);
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let whole = seal(&RustCryptoEngine, &dek, &h, &pt).unwrap();
            let mut plan = ExternalSegments::for_seal(&h, &dek).unwrap();
            let body = seal_externally(&mut plan, &pt);
            assert_eq!(&whole[h.encoded_len()..], &body[..], "len {len}");
            let mut open = ExternalSegments::for_open(&h, &dek).unwrap();
            assert!(open.take_key().is_some());
            assert_eq!(open_body(&RustCryptoEngine, &dek, &h, &body).unwrap(), pt);
        }
    }

    #[test]
    fn external_plan_checks_the_commitment_and_the_index_limit() {
        let dek = DataKey::from_bytes(&[9; 32]).unwrap();
        let other = DataKey::from_bytes(&[8; 32]).unwrap();
        let h = header(&dek, 64);
        assert!(matches!(
            ExternalSegments::for_open(&h, &other),
            Err(Error::DecryptionFailed)
        ));
        assert!(matches!(
            ExternalSegments::for_seal(&h, &other),
            Err(Error::InvalidArgument { .. })
        ));
        let plan = ExternalSegments::for_open(&h, &dek).unwrap();
        assert_eq!(plan.nonce(3, true).unwrap(), segment_nonce(3, true));
        assert!(matches!(
            plan.nonce(MAX_SEGMENTS, false),
            Err(Error::LimitExceeded { .. })
        ));
    }
}
