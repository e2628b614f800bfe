//! Segments (FORMAT.md §6): STREAM-style AES-256-GCM with nonce = 7 zero bytes ‖ u32 index ‖
//! last-segment flag. Incremental sealing and opening in O(segment size) memory, and random access.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;

use crate::Error;
use crate::data_key::DataKey;
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
