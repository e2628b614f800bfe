//! Ranged reads (FORMAT.md §6.4): which message bytes a read of a plaintext range needs, computed
//! from the header and the message length alone, before any key is used.

use core::ops::Range;

use crate::Error;
use crate::header::Header;
use crate::layout::BodyLayout;

/// What a ranged read needs (FORMAT.md §6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangePlan {
    /// Header length = body offset.
    pub header_len: u64,
    /// The body layout.
    pub layout: BodyLayout,
    /// The covering segments (empty when the range is empty or past the end).
    pub segments: Range<u64>,
    /// The plaintext bytes that will be returned (the request clamped to the plaintext length).
    pub plaintext: Range<u64>,
    /// Byte offsets in the whole message of the covering segments, to fetch.
    pub fetch: Range<u64>,
}

impl RangePlan {
    /// Plans a ranged read of plaintext `offset .. offset + len` of a message of `total_len` bytes
    /// whose parsed header is `header` and `header_len` bytes long. The range is clamped to the
    /// plaintext (like `Blob.slice`); an impossible total length is `DECRYPTION_FAILED` (§6.3).
    pub fn new(
        header: &Header,
        header_len: u64,
        total_len: u64,
        offset: u64,
        len: u64,
    ) -> Result<Self, Error> {
        let after_header = total_len.checked_sub(header_len).ok_or(Error::DecryptionFailed)?;
        let layout = BodyLayout::for_message(header, after_header)?;
        let mut segments = layout.segments_for(offset, len);
        // A read that reaches the end of the plaintext also opens the last segment, even when it
        // holds none of the requested bytes (an empty last segment, or a start past the end):
        // only the last segment's flag proves the object was not cut at a segment boundary.
        if len > 0 && offset.saturating_add(len) >= layout.plaintext_len() {
            let start = if offset >= layout.plaintext_len() {
                layout.segment_count() - 1
            } else {
                segments.start
            };
            segments = start..layout.segment_count();
        }
        let end = offset.saturating_add(len).min(layout.plaintext_len());
        let plaintext = offset.min(end)..end;
        let fetch = if segments.is_empty() {
            header_len..header_len
        } else {
            let first = layout.segment_range(segments.start);
            let last = layout.segment_range(segments.end - 1);
            header_len + first.start..header_len + last.end
        };
        Ok(Self {
            header_len,
            layout,
            segments,
            plaintext,
            fetch,
        })
    }

    /// Where the plaintext of segment `k` (one of [`Self::segments`]) lands in the returned bytes,
    /// and which of its bytes go there: `(offset in the output, range within the segment's plaintext)`.
    pub fn placement(&self, k: u64) -> (u64, Range<u64>) {
        let pr = self.layout.plaintext_range(k);
        let from = self.plaintext.start.max(pr.start);
        let to = self.plaintext.end.min(pr.end);
        (from - self.plaintext.start, (from - pr.start)..(to - pr.start))
    }

    /// Where segment `k` lies within the fetched bytes ([`Self::fetch`]).
    pub fn fetched_range(&self, k: u64) -> Range<u64> {
        let base = self.layout.segment_range(self.segments.start).start;
        let r = self.layout.segment_range(k);
        (r.start - base)..(r.end - base)
    }
}

/// Plans a ranged read of plaintext `offset .. offset + len` of a message of `total_len` bytes
/// whose header starts `header_prefix` (see [`RangePlan::new`]).
pub fn plan_range(header_prefix: &[u8], total_len: u64, offset: u64, len: u64) -> Result<RangePlan, Error> {
    let (header, header_len) = Header::parse(header_prefix)?;
    RangePlan::new(&header, header_len as u64, total_len, offset, len)
}
