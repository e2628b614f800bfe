//! Whole messages: build a header, seal, open, rewrap (FORMAT.md §7).

use alloc::vec::Vec;

use crate::Error;
use crate::context::EncryptionContext;
use crate::data_key::DataKey;
use crate::ecdsa_p256::{PUBLIC_KEY_LEN, SignatureKeyPair};
use crate::engine::AeadEngine;
use crate::entry::WrappedKeyEntry;
use crate::header::{Header, MessageId, Suite};
use crate::key_schedule::commitment;
use crate::layout::BodyLayout;
use crate::segment::{SegmentOpener, SegmentSealer};
use crate::signature::{VERIFICATION_KEY_CONTEXT_KEY, encode_verification_key};

/// Builds the header of a new suite-1 message: computes the key commitment of `dek` under
/// `message_id`.
pub fn new_header(
    dek: &DataKey,
    message_id: MessageId,
    segment_size: u32,
    context: EncryptionContext,
    entries: Vec<WrappedKeyEntry>,
) -> Result<Header, Error> {
    let c = commitment(dek, Suite::Aead, &message_id)?;
    Header::new(Suite::Aead, message_id, segment_size, context, c, entries)
}

/// `context` with a suite-2 message's verification key added (FORMAT.md §3.4): the context a
/// writer asks the key service to bind, before it has a data key.
pub fn signed_context(
    context: &EncryptionContext,
    verification_key: &[u8; PUBLIC_KEY_LEN],
) -> Result<EncryptionContext, Error> {
    EncryptionContext::from_pairs(
        context
            .iter()
            .map(|(k, v)| (k.into(), v.into()))
            .chain([(
                VERIFICATION_KEY_CONTEXT_KEY.into(),
                encode_verification_key(verification_key),
            )])
            .collect::<Vec<(alloc::string::String, alloc::string::String)>>(),
    )
}

/// Builds the header of a new suite-2 (signed) message (FORMAT.md §6.5). `context` must already
/// hold the verification key ([`signed_context`]): it is what the key service bound.
pub fn new_signed_header(
    dek: &DataKey,
    message_id: MessageId,
    segment_size: u32,
    context: EncryptionContext,
    entries: Vec<WrappedKeyEntry>,
) -> Result<Header, Error> {
    let c = commitment(dek, Suite::Signed, &message_id)?;
    Header::new(Suite::Signed, message_id, segment_size, context, c, entries)
}

/// Seals `plaintext` as one suite-1 message: header bytes followed by the body.
pub fn seal(
    engine: &dyn AeadEngine,
    dek: &DataKey,
    header: &Header,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let (mut out, mut sealer) = start_seal(engine, dek, header, plaintext)?;
    sealer.push(plaintext, &mut out)?;
    sealer.finish(&mut out)?;
    Ok(out)
}

/// Seals `plaintext` as one suite-2 message: header, body, signature by `key` (whose public key
/// is the header's verification key).
pub fn seal_signed(
    engine: &dyn AeadEngine,
    dek: &DataKey,
    header: &Header,
    plaintext: &[u8],
    key: &SignatureKeyPair,
) -> Result<Vec<u8>, Error> {
    let (mut out, mut sealer) = start_seal(engine, dek, header, plaintext)?;
    sealer.push(plaintext, &mut out)?;
    sealer.finish_signed(&mut out, key)?;
    Ok(out)
}

fn start_seal(
    engine: &dyn AeadEngine,
    dek: &DataKey,
    header: &Header,
    plaintext: &[u8],
) -> Result<(Vec<u8>, SegmentSealer), Error> {
    let layout = BodyLayout::for_plaintext(header.segment_size(), plaintext.len() as u64)?;
    let mut out = header.encode();
    out.reserve(layout.body_len() as usize + header.suite().trailer_len());
    Ok((out, SegmentSealer::new(engine, header, dek)?))
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

/// Opens what follows a parsed header: the body, and for suite 2 the signature, which is verified
/// before anything is returned.
pub fn open_body(
    engine: &dyn AeadEngine,
    dek: &DataKey,
    header: &Header,
    body: &[u8],
) -> Result<Vec<u8>, Error> {
    let layout = BodyLayout::for_message(header, body.len() as u64)?;
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
    Rewrapped::of_parsed(&header, body_offset, entries)
}

impl Rewrapped {
    /// [`rewrap`] of a header the caller already parsed (`body_offset` from that parse), for a
    /// caller that needs the parsed header first (the SDK asks its questions from it).
    pub fn of_parsed(
        header: &Header,
        body_offset: usize,
        entries: Vec<WrappedKeyEntry>,
    ) -> Result<Self, Error> {
        Ok(Self {
            header: header.with_entries(entries)?.encode(),
            body_offset,
        })
    }
}
