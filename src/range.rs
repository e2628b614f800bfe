//! Ranged decryption (FORMAT.md §6.4): the header is parsed once, the covering segments are
//! planned before any key-service call, and each one is authenticated before its plaintext is used.

use alloc::vec::Vec;

use zeroize::Zeroize;

use crate::error::{Error, FormatError};
use crate::keyseal::KeySeal;
use crate::{EncryptionContext, Header, RangePlan, SegmentOpener};

/// One ranged read of one message: its parsed header and the plan.
#[derive(Debug, Clone)]
pub struct RangeRead {
    header: Header,
    plan: RangePlan,
}

impl RangeRead {
    /// Parses the header at the start of `header_prefix` (once), checks `required` against its
    /// context (before any key-service call) and plans the read of plaintext
    /// `offset .. offset + len` (clamped) of a message of `total_len` bytes.
    pub fn new(
        header_prefix: &[u8],
        total_len: u64,
        offset: u64,
        len: u64,
        required: &EncryptionContext,
    ) -> Result<Self, Error> {
        let (header, header_len) = Header::parse(header_prefix)?;
        header.context().require(required)?;
        let plan = RangePlan::new(&header, header_len as u64, total_len, offset, len)?;
        Ok(Self { header, plan })
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The plan: which message bytes to fetch (`plan().fetch`) and what comes back.
    pub fn plan(&self) -> &RangePlan {
        &self.plan
    }

    /// Checks that `segments` are exactly the bytes the plan asked for.
    pub fn check_fetched(&self, fetched_len: u64) -> Result<(), Error> {
        if fetched_len != self.plan.fetch.end - self.plan.fetch.start {
            return Err(FormatError::DecryptionFailed.into());
        }
        Ok(())
    }
}

impl KeySeal {
    /// [`RangeRead::new`]: parse, context check and plan, with a failure recorded as a failed
    /// decrypt (as every other decrypt failure is).
    pub fn plan_read(
        &self,
        header_prefix: &[u8],
        total_len: u64,
        offset: u64,
        len: u64,
        required: &EncryptionContext,
    ) -> Result<RangeRead, Error> {
        RangeRead::new(header_prefix, total_len, offset, len, required)
            .inspect_err(|e| self.observer.decrypted(Err(e.code()), 0))
    }

    /// Opens the covering segments of `read` (`segments`: the message bytes `read.plan().fetch`)
    /// with the synchronous engine. Checks the key commitment before opening any segment; every
    /// covering segment is authenticated. An empty range returns nothing without calling a key
    /// service. The outcome is recorded as a decrypt.
    pub async fn read_range(&self, read: &RangeRead, segments: &[u8]) -> Result<Vec<u8>, Error> {
        let r = self.read_range_inner(read, segments).await;
        self.observer
            .decrypted(r.as_ref().map(|_| ()).map_err(Error::code), segments.len() as u64);
        r
    }

    async fn read_range_inner(&self, read: &RangeRead, segments: &[u8]) -> Result<Vec<u8>, Error> {
        let plan = &read.plan;
        read.check_fetched(segments.len() as u64)?;
        if plan.segments.is_empty() {
            return Ok(Vec::new());
        }
        let dek = self.data_key_for_header(&read.header, false).await?;
        let opener = SegmentOpener::new(self.engine_ref(), &read.header, &dek)?;
        let mut out = Vec::with_capacity((plan.plaintext.end - plan.plaintext.start) as usize);
        for k in plan.segments.clone() {
            let r = plan.fetched_range(k);
            let seg = &segments[r.start as usize..r.end as usize];
            let mut pt = match opener.open_segment(&plan.layout, k, seg) {
                Ok(pt) => pt,
                Err(e) => {
                    out.zeroize();
                    return Err(e.into());
                }
            };
            let (_, within) = plan.placement(k);
            out.extend_from_slice(&pt[within.start as usize..within.end as usize]);
            pt.zeroize();
        }
        Ok(out)
    }

    /// Ranged decrypt in one call (FORMAT.md §6.4): plaintext bytes `offset .. offset + len`
    /// (clamped to the plaintext) of a message of `total_len` bytes, given its header
    /// (`header_prefix`) and `segments`, the message bytes the plan says to fetch.
    pub async fn decrypt_range(
        &self,
        header_prefix: &[u8],
        total_len: u64,
        offset: u64,
        len: u64,
        segments: &[u8],
        required: &EncryptionContext,
    ) -> Result<Vec<u8>, Error> {
        let read = self.plan_read(header_prefix, total_len, offset, len, required)?;
        self.read_range(&read, segments).await
    }
}
