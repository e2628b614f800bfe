//! Whole messages: build a header, seal, open, rewrap (FORMAT.md §7).

use alloc::vec::Vec;

use crate::Error;
use crate::context::EncryptionContext;
use crate::data_key::DataKey;
use crate::engine::AeadEngine;
use crate::entry::WrappedKeyEntry;
use crate::header::{Header, MessageId};
use crate::key_schedule::commitment;
use crate::layout::BodyLayout;
use crate::segment::{SegmentOpener, SegmentSealer};

/// Builds the header of a new message: computes the key commitment of `dek` under `message_id`.
pub fn new_header(
    dek: &DataKey,
    message_id: MessageId,
    segment_size: u32,
    context: EncryptionContext,
    entries: Vec<WrappedKeyEntry>,
) -> Result<Header, Error> {
    let c = commitment(dek, &message_id)?;
    Header::new(message_id, segment_size, context, c, entries)
}

/// Seals `plaintext` as one message: header bytes followed by the body.
pub fn seal(
    engine: &dyn AeadEngine,
    dek: &DataKey,
    header: &Header,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let layout = BodyLayout::for_plaintext(header.segment_size(), plaintext.len() as u64)?;
    let mut out = header.encode();
    out.reserve(layout.body_len() as usize);
    let mut sealer = SegmentSealer::new(engine, header, dek)?;
    sealer.push(plaintext, &mut out)?;
    sealer.finish(&mut out)?;
    Ok(out)
}

/// Opens a whole message with its data key. Order (§7.2): parse the header, check `required`
/// against its context, verify the commitment, open every segment. Returns the header and the
/// plaintext; never returns plaintext that did not authenticate.
pub fn open(
    engine: &dyn AeadEngine,
    dek: &DataKey,
    sealed: &[u8],
    required: &EncryptionContext,
) -> Result<(Header, Vec<u8>), Error> {
    let (header, offset) = Header::parse(sealed)?;
    header.context().require(required)?;
    let body = &sealed[offset..];
    let plaintext = open_body(engine, dek, &header, body)?;
    Ok((header, plaintext))
}

/// Opens a body whose header was parsed already.
pub fn open_body(
    engine: &dyn AeadEngine,
    dek: &DataKey,
    header: &Header,
    body: &[u8],
) -> Result<Vec<u8>, Error> {
    let layout = BodyLayout::for_body(header.segment_size(), body.len() as u64)?;
    let mut opener = SegmentOpener::new(engine, header, dek)?;
    let mut out = Vec::with_capacity(layout.plaintext_len() as usize);
    let result = opener.push(body, &mut out).and_then(|()| opener.finish(&mut out));
    match result {
        Ok(()) => Ok(out),
        Err(e) => {
            zeroize::Zeroize::zeroize(&mut out);
            Err(e)
        }
    }
}

/// The result of [`rewrap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrapped {
    /// The new header bytes (same authenticated part, new wrapped-key section).
    pub header: Vec<u8>,
    /// Where the body starts in the *old* message: new message = `header ‖ old[body_offset..]`.
    pub body_offset: usize,
}

/// FORMAT.md §4.4: replaces the wrapped-key section of the header at the start of `sealed_prefix`
/// (which needs to hold only the header). The body is untouched; the commitment makes any entry
/// that yields another data key fail on open.
pub fn rewrap(sealed_prefix: &[u8], entries: Vec<WrappedKeyEntry>) -> Result<Rewrapped, Error> {
    let (header, body_offset) = Header::parse(sealed_prefix)?;
    let header = header.with_entries(entries)?.encode();
    Ok(Rewrapped { header, body_offset })
}
