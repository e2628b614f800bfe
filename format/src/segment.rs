//! Segments (FORMAT.md §6): STREAM-style AES-256-GCM. Incremental sealing and opening in
//! O(segment size) memory, random access, and the hand-off of a message's payload key to an
//! engine that runs outside this crate. Cutting and numbering come from [`crate::layout`].

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::Error;
use crate::data_key::{DataKey, PayloadKey};
use crate::ecdsa_p256::SignatureKeyPair;
use crate::engine::{AeadEngine, SegmentCipher};
use crate::header::Header;
use crate::header::Suite;
use crate::key_schedule::committed_payload_key;
use crate::layout::{BodyLayout, SegmentCutter, SegmentId, TAG_LEN};
use crate::signature::{SignatureChain, Trailer};

/// The segment cipher of `header` under `dek`, once the commitment checked (§6.1 step 3): a
/// mismatch is [`Error::DecryptionFailed`].
fn keyed(engine: &dyn AeadEngine, header: &Header, dek: &DataKey) -> Result<Box<dyn SegmentCipher>, Error> {
    let key = committed_payload_key(
        dek,
        header.suite(),
        header.message_id(),
        header.commitment(),
        header.auth_hash(),
    )?;
    engine.keyed(&key)
}

/// A writer refuses a header whose commitment did not come from its data key: that is a caller's
/// mistake, not an authentication failure.
fn not_made_for(e: Error) -> Error {
    match e {
        Error::DecryptionFailed => Error::invalid("header was not made for this data key"),
        other => other,
    }
}

/// The signature chain of a suite-2 message (§6.5), none for suite 1.
fn chain_for(header: &Header) -> Option<SignatureChain> {
    (header.suite() == Suite::Signed).then(|| SignatureChain::new(header.auth_hash()))
}

/// Seals plaintext pushed in pieces of any size; holds at most one segment of plaintext.
pub struct SegmentSealer {
    cipher: Box<dyn SegmentCipher>,
    cutter: SegmentCutter,
    pending: Vec<u8>,
    chain: Option<SignatureChain>,
    verification_key: Option<[u8; crate::ecdsa_p256::PUBLIC_KEY_LEN]>,
}

impl SegmentSealer {
    /// A sealer for the body of the message whose header is `header`. The header's commitment
    /// must have come from `dek` (use [`crate::new_header`]).
    pub fn new(engine: &dyn AeadEngine, header: &Header, dek: &DataKey) -> Result<Self, Error> {
        let cipher = keyed(engine, header, dek).map_err(not_made_for)?;
        let cutter = SegmentCutter::for_plaintext(header.segment_size());
        Ok(Self {
            cipher,
            pending: Vec::with_capacity(cutter.unit() + TAG_LEN),
            cutter,
            chain: chain_for(header),
            verification_key: header.verification_key().copied(),
        })
    }

    /// Adds plaintext; appends every segment it completes (never the last) to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        while !data.is_empty() {
            let (take, done) = self.cutter.take(data.len())?;
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if let Some(id) = done {
                self.seal_pending(id, out)?;
            }
        }
        Ok(())
    }

    /// Seals the last segment (the 0 to S-1 bytes still pending) into `out`. A signed message
    /// (suite 2) ends with [`Self::finish_signed`] instead.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.chain.is_some() {
            return Err(Error::invalid("a signed message ends with finish_signed"));
        }
        let id = self.cutter.finish()?;
        self.seal_pending(id, out)
    }

    /// Suite 2: seals the last segment, then appends the signature by `key`, whose public key must
    /// be the header's verification key (§6.5).
    pub fn finish_signed(mut self, out: &mut Vec<u8>, key: &SignatureKeyPair) -> Result<(), Error> {
        if self.verification_key != Some(key.public_sec1()) {
            return Err(Error::invalid(
                "the signing key is not the header's verification key",
            ));
        }
        let id = self.cutter.finish()?;
        self.seal_pending(id, out)?;
        let chain = self
            .chain
            .take()
            .ok_or(Error::invalid("an unsigned message ends with finish"))?;
        out.extend_from_slice(&chain.sign(key));
        Ok(())
    }

    fn seal_pending(&mut self, id: SegmentId, out: &mut Vec<u8>) -> Result<(), Error> {
        self.cipher.seal_in_place(&id.nonce(), &mut self.pending)?;
        if let Some(c) = self.chain.as_mut() {
            c.absorb_segment(&self.pending);
        }
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        Ok(())
    }
}

/// Opens a body pushed in pieces of any size, releasing plaintext only segment by segment after
/// each tag checks. Also opens single segments for random access.
pub struct SegmentOpener {
    cipher: Box<dyn SegmentCipher>,
    cutter: SegmentCutter,
    pending: Vec<u8>,
    /// Suite 2: the chain, the trailer held back, the verification key.
    signed: Option<(SignatureChain, Trailer, [u8; crate::ecdsa_p256::PUBLIC_KEY_LEN])>,
}

impl SegmentOpener {
    /// Checks the key commitment (§6.1), then derives the payload key. A data key that does not
    /// match the header is [`Error::DecryptionFailed`].
    pub fn new(engine: &dyn AeadEngine, header: &Header, dek: &DataKey) -> Result<Self, Error> {
        let cipher = keyed(engine, header, dek)?;
        let cutter = SegmentCutter::for_body(header.segment_size());
        let signed = match (chain_for(header), header.verification_key()) {
            (Some(c), Some(vk)) => Some((c, Trailer::default(), *vk)),
            _ => None,
        };
        Ok(Self {
            cipher,
            pending: Vec::with_capacity(cutter.unit()),
            cutter,
            signed,
        })
    }

    /// Adds message bytes after the header; appends the plaintext of every full segment that
    /// authenticates to `out`. A full-size segment is never the last one (§6.3), so no look-ahead
    /// is needed — but for the 64-byte signature a signed message holds back (§6.5).
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        match self.signed.as_mut() {
            Some((_, trailer, _)) => {
                let (held, rest) = trailer.push(data);
                self.push_body(&held, out)?;
                self.push_body(rest, out)
            }
            None => self.push_body(data, out),
        }
    }

    fn push_body(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        while !data.is_empty() {
            let (take, done) = self.cutter.take(data.len())?;
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if let Some(id) = done {
                self.open_pending(id, out)?;
            }
        }
        Ok(())
    }

    /// Opens the last segment and, for a signed message, verifies the signature before releasing
    /// it. Fails with [`Error::DecryptionFailed`] if the body was truncated (fewer than 16 bytes
    /// pending, or the real last segment is missing) or the signature does not verify.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        let id = self.cutter.finish()?;
        let Some((mut chain, trailer, vk)) = self.signed.take() else {
            return self.open_pending(id, out);
        };
        let signature = trailer.finish()?;
        chain.absorb_segment(&self.pending);
        self.cipher.open_in_place(&id.nonce(), &mut self.pending)?;
        if let Err(e) = chain.verify(&vk, &signature) {
            zeroize::Zeroize::zeroize(&mut self.pending);
            return Err(e);
        }
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        Ok(())
    }

    fn open_pending(&mut self, id: SegmentId, out: &mut Vec<u8>) -> Result<(), Error> {
        if let Some((chain, _, _)) = self.signed.as_mut() {
            chain.absorb_segment(&self.pending);
        }
        self.cipher.open_in_place(&id.nonce(), &mut self.pending)?;
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        Ok(())
    }

    /// Random access (§6.4): opens segment `index` of a body laid out as `layout`, given exactly
    /// that segment's bytes. Does not disturb the streaming state.
    pub fn open_segment(&self, layout: &BodyLayout, index: u64, segment: &[u8]) -> Result<Vec<u8>, Error> {
        if index >= layout.segment_count() {
            return Err(Error::invalid("segment index out of range"));
        }
        let s = layout.segment(index);
        if segment.len() as u64 != s.body.end - s.body.start {
            return Err(Error::DecryptionFailed);
        }
        let mut buf = segment.to_vec();
        self.cipher.open_in_place(&s.id.nonce(), &mut buf)?;
        Ok(buf)
    }
}

/// The payload key of one message, for an engine that runs outside this crate — e.g. WebCrypto,
/// which is asynchronous and so cannot sit behind the synchronous [`SegmentCipher`]. Everything
/// else the engine needs comes from [`crate::layout`]: segment boundaries ([`BodyLayout`] for a
/// known length, [`SegmentCutter`] for a stream) and nonces ([`SegmentId::nonce`]). The header,
/// its commitment on seal and the commitment check on open are done here first.
///
/// The external engine MUST use AES-256-GCM with a 128-bit tag and empty associated data.
pub struct ExternalSegments {
    key: Option<PayloadKey>,
    segment_size: u32,
}

impl ExternalSegments {
    /// For sealing the body of `header` (whose commitment must come from `dek`, as with
    /// [`SegmentSealer::new`]).
    pub fn for_seal(header: &Header, dek: &DataKey) -> Result<Self, Error> {
        Self::keyed(header, dek).map_err(not_made_for)
    }

    /// For opening the body of `header`: checks the key commitment (§6.1) first, like
    /// [`SegmentOpener::new`]; a data key that does not match is [`Error::DecryptionFailed`].
    pub fn for_open(header: &Header, dek: &DataKey) -> Result<Self, Error> {
        Self::keyed(header, dek)
    }

    fn keyed(header: &Header, dek: &DataKey) -> Result<Self, Error> {
        Ok(Self {
            key: Some(committed_payload_key(
                dek,
                header.suite(),
                header.message_id(),
                header.commitment(),
                header.auth_hash(),
            )?),
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
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::context::EncryptionContext;
    use crate::engine::RustCryptoEngine;
    use crate::entry::{EntryKind, WrappedKeyEntry};
    use crate::header::MessageId;
    use crate::layout::BodyLayout;
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
        let layout = BodyLayout::for_plaintext(plan.segment_size(), plaintext.len() as u64).unwrap();
        let mut out = Vec::new();
        for s in layout.segments() {
            let mut buf = plaintext[s.plaintext.start as usize..s.plaintext.end as usize].to_vec();
            cipher.seal_in_place(&s.id.nonce(), &mut buf).unwrap();
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
    fn external_plan_checks_the_commitment() {
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
    }
}
