//! Where segments lie (FORMAT.md §6): the segment nonces, the layout of a body of known length, and
//! the cutting of a stream of unknown length. Every engine — the synchronous one in this crate and
//! the asynchronous platform engines that run outside it — cuts and numbers segments with these
//! types and nothing else, so the rules of §6.1–§6.3 exist once.

use core::ops::Range;

use crate::Error;
use crate::limits::MAX_SEGMENTS;

/// Length of the AES-GCM tag that ends every segment.
pub const TAG_LEN: usize = 16;

/// One segment's place in its message: its index and whether it is the last one (FORMAT.md §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentId {
    index: u32,
    last: bool,
}

impl SegmentId {
    /// Segment `index` (`last` for the final one). An index past the last one the format allows is
    /// [`Error::LimitExceeded`].
    pub fn new(index: u64, last: bool) -> Result<Self, Error> {
        if index >= MAX_SEGMENTS {
            return Err(Error::limit("segment count"));
        }
        Ok(Self {
            index: index as u32,
            last,
        })
    }

    /// The index.
    pub fn index(self) -> u64 {
        u64::from(self.index)
    }

    /// Whether this is the final segment.
    pub fn is_last(self) -> bool {
        self.last
    }

    /// FORMAT.md §6.2: `00 × 7 ‖ index:u32 ‖ last:u8`.
    pub fn nonce(self) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[7..11].copy_from_slice(&self.index.to_be_bytes());
        n[11] = u8::from(self.last);
        n
    }
}

/// One segment of a body of known length: its id and where its bytes lie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Index, last flag, nonce.
    pub id: SegmentId,
    /// Byte range of the sealed segment (ciphertext ‖ tag) within the body.
    pub body: Range<u64>,
    /// Byte range of its plaintext within the whole plaintext.
    pub plaintext: Range<u64>,
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

    /// The layout of what follows `header` in a message, `after_header` bytes: the body, and for a
    /// signed message (suite 2) the 64-byte signature after it (§6.5). Too short is
    /// [`Error::DecryptionFailed`].
    pub fn for_message(header: &crate::Header, after_header: u64) -> Result<Self, Error> {
        let body = after_header
            .checked_sub(header.suite().trailer_len() as u64)
            .ok_or(Error::DecryptionFailed)?;
        Self::for_body(header.segment_size(), body)
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
    /// Segment `k` (`k` must be below [`Self::segment_count`], which bounds it by the format's
    /// limit, so its id is always valid).
    pub fn segment(&self, k: u64) -> Segment {
        Segment {
            id: SegmentId {
                index: k as u32,
                last: k + 1 == self.segment_count,
            },
            body: self.segment_range(k),
            plaintext: self.plaintext_range(k),
        }
    }
    /// Every segment, in order.
    pub fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        (0..self.segment_count).map(|k| self.segment(k))
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

/// Cuts a stream of unknown length into segments (FORMAT.md §6.1, §6.3): plaintext into pieces of
/// `S` bytes when sealing, sealed bytes into pieces of `S + 16` when opening. A full-size piece is
/// never the last segment, so each one can be sealed or opened as soon as it is complete; the
/// bytes still pending at the end form the last segment.
#[derive(Clone, Debug)]
pub struct SegmentCutter {
    unit: usize,
    filled: usize,
    next: u64,
    opening: bool,
}

impl SegmentCutter {
    /// For sealing plaintext in segments of `segment_size` bytes.
    pub fn for_plaintext(segment_size: u32) -> Self {
        Self {
            unit: segment_size as usize,
            filled: 0,
            next: 0,
            opening: false,
        }
    }

    /// For opening a body sealed in segments of `segment_size` plaintext bytes.
    pub fn for_body(segment_size: u32) -> Self {
        Self {
            unit: segment_size as usize + TAG_LEN,
            filled: 0,
            next: 0,
            opening: true,
        }
    }

    /// Bytes of one complete (non-last) piece: `S`, or `S + 16` when opening.
    pub fn unit(&self) -> usize {
        self.unit
    }

    /// Bytes already in the piece being filled.
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// Of `available` incoming bytes, how many go into the piece being filled, and — when they
    /// complete it — that segment's id (never the last). Call again with the rest.
    pub fn take(&mut self, available: usize) -> Result<(usize, Option<SegmentId>), Error> {
        let take = (self.unit - self.filled).min(available);
        self.filled += take;
        if self.filled < self.unit {
            return Ok((take, None));
        }
        let id = self.id(false)?;
        self.filled = 0;
        self.next += 1;
        Ok((take, Some(id)))
    }

    /// At the end of the input: the id of the last segment, made of the bytes still pending. When
    /// opening, fewer than 16 pending bytes mean the body was truncated: [`Error::DecryptionFailed`].
    pub fn finish(&mut self) -> Result<SegmentId, Error> {
        if self.opening && self.filled < TAG_LEN {
            return Err(Error::DecryptionFailed);
        }
        let id = self.id(true)?;
        self.filled = 0;
        self.next += 1;
        Ok(id)
    }

    fn id(&self, last: bool) -> Result<SegmentId, Error> {
        SegmentId::new(self.next, last).map_err(|e| if self.opening { Error::DecryptionFailed } else { e })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn nonce_layout() {
        let id = SegmentId::new(0x0102_0304, true).unwrap();
        assert_eq!(id.nonce(), [0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 1]);
        assert!(SegmentId::new(MAX_SEGMENTS, false).is_err());
    }

    #[test]
    fn cutter_agrees_with_the_layout() {
        for len in [0usize, 1, 63, 64, 65, 5 * 64 + 7] {
            let layout = BodyLayout::for_plaintext(64, len as u64).unwrap();
            let mut cut = SegmentCutter::for_plaintext(64);
            let mut ids = Vec::new();
            let mut rest = len;
            while rest > 0 {
                let (take, done) = cut.take(rest.min(17)).unwrap();
                rest -= take;
                ids.extend(done);
            }
            ids.push(cut.finish().unwrap());
            let planned: Vec<SegmentId> = layout.segments().map(|s| s.id).collect();
            assert_eq!(ids, planned, "len {len}");
        }
    }

    #[test]
    fn cutter_refuses_a_body_cut_inside_a_tag() {
        let mut cut = SegmentCutter::for_body(64);
        assert_eq!(
            cut.take(80).unwrap(),
            (80, Some(SegmentId::new(0, false).unwrap()))
        );
        cut.take(15).unwrap();
        assert_eq!(cut.finish(), Err(Error::DecryptionFailed));
    }
}
