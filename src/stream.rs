//! Incremental encryption and decryption (FORMAT.md §6, §7.2) and ranged decryption (§6.4) on
//! top of [`KeySeal`]: the state machines behind the JS `encryptStream`, `decryptStream` and
//! `decryptRange`. Memory is O(segment size) whatever the message size; nothing here knows
//! about JS.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::ops::Range;

use zeroize::Zeroize;

use crate::Error;
use crate::context::EncryptionContext;
use crate::events::Observer;
use crate::header::{Header, HeaderLength};
use crate::sdk::KeySeal;
use crate::segment::{BodyLayout, ExternalSegments, SegmentOpener, SegmentSealer};

/// A message being sealed piece by piece: emit [`EncryptStream::header`] first, then the output
/// of every [`EncryptStream::push`], then that of [`EncryptStream::finish`].
pub struct EncryptStream {
    header: Vec<u8>,
    sealer: Option<SegmentSealer>,
    expected_len: Option<u64>,
    plaintext_bytes: u64,
    observer: Rc<Observer>,
}

impl EncryptStream {
    /// The header bytes (FORMAT.md §3–§4), to be written before any body bytes.
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    /// Plaintext bytes pushed so far.
    pub fn plaintext_bytes(&self) -> u64 {
        self.plaintext_bytes
    }

    /// Adds plaintext; returns the body bytes of every segment it completed (FORMAT.md §6.1:
    /// never the last one, which [`Self::finish`] seals).
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let r = self.push_inner(data);
        if let Err(e) = &r {
            self.fail(e);
        }
        r
    }

    fn push_inner(&mut self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let Some(sealer) = self.sealer.as_mut() else {
            return Err(Error::InvalidArgument {
                reason: "the stream is finished or failed",
            });
        };
        let total = self.plaintext_bytes.saturating_add(data.len() as u64);
        if self.expected_len.is_some_and(|n| total > n) {
            return Err(Error::InvalidArgument {
                reason: "more plaintext than the expected length",
            });
        }
        let mut out = Vec::new();
        sealer.push(data, &mut out)?;
        self.plaintext_bytes = total;
        Ok(out)
    }

    /// Seals the last segment and returns its bytes. The stream cannot be used afterwards.
    pub fn finish(&mut self) -> Result<Vec<u8>, Error> {
        let Some(sealer) = self.sealer.take() else {
            return Err(Error::InvalidArgument {
                reason: "the stream is finished or failed",
            });
        };
        let r = (|| {
            if self.expected_len.is_some_and(|n| n != self.plaintext_bytes) {
                return Err(Error::InvalidArgument {
                    reason: "less plaintext than the expected length",
                });
            }
            let mut out = Vec::new();
            sealer.finish(&mut out)?;
            Ok(out)
        })();
        match &r {
            Ok(_) => self.observer.encrypted(Ok(()), self.plaintext_bytes),
            Err(e) => self.observer.encrypted(Err(e.code()), self.plaintext_bytes),
        }
        r
    }

    fn fail(&mut self, e: &Error) {
        if self.sealer.take().is_some() {
            self.observer.encrypted(Err(e.code()), self.plaintext_bytes);
        }
    }
}

enum DecryptState {
    /// Collecting the header (bounded by the limits of FORMAT.md §8, checked as bytes arrive).
    Header(Vec<u8>),
    /// Opening the body segment by segment.
    Body(SegmentOpener),
    /// Finished, or failed with this error (repeated to later calls).
    Done(Option<Error>),
}

/// A message being opened piece by piece (FORMAT.md §7.2): the header is collected, the data key
/// obtained once it is complete, then body bytes are opened segment by segment. Plaintext is
/// released only per authenticated segment, so after a failure the caller has received a prefix
/// of the true plaintext made of whole segments, never unauthenticated bytes.
pub struct DecryptStream {
    state: DecryptState,
    required: EncryptionContext,
    header: Option<Header>,
    sealed_bytes: u64,
    plaintext_bytes: u64,
    reported: bool,
    observer: Rc<Observer>,
}

impl DecryptStream {
    /// The parsed header, once it has been received.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// Sealed bytes pushed so far.
    pub fn sealed_bytes(&self) -> u64 {
        self.sealed_bytes
    }

    /// Plaintext bytes released so far.
    pub fn plaintext_bytes(&self) -> u64 {
        self.plaintext_bytes
    }

    /// Adds sealed bytes; returns the plaintext of every segment that completed and
    /// authenticated. When the header completes, checks the required context (§7.2 step 2) and
    /// obtains the data key from `ks` (step 3–4, the commitment is verified). After an error
    /// every later call fails with the same error.
    pub async fn push(&mut self, ks: &KeySeal, data: &[u8]) -> Result<Vec<u8>, Error> {
        let state = core::mem::replace(&mut self.state, DecryptState::Done(None));
        let r = self.push_state(ks, state, data).await;
        self.settle(r)
    }

    async fn push_state(&mut self, ks: &KeySeal, state: DecryptState, data: &[u8]) -> Result<Vec<u8>, Error> {
        self.sealed_bytes = self.sealed_bytes.saturating_add(data.len() as u64);
        match state {
            DecryptState::Done(e) => Err(e.unwrap_or(Error::InvalidArgument {
                reason: "the stream is finished",
            })),
            DecryptState::Body(mut opener) => {
                let mut out = Vec::new();
                opener.push(data, &mut out)?;
                self.state = DecryptState::Body(opener);
                Ok(out)
            }
            DecryptState::Header(mut buf) => {
                buf.extend_from_slice(data);
                let n = match Header::length_from_prefix(&buf)? {
                    HeaderLength::Complete(n) if n <= buf.len() => n,
                    _ => {
                        self.state = DecryptState::Header(buf);
                        return Ok(Vec::new());
                    }
                };
                let (header, _) = Header::parse(&buf[..n])?;
                header.context().require(&self.required)?;
                let dek = ks.data_key_for_header(&header).await?;
                let mut opener = SegmentOpener::new(ks.engine_ref(), &header, &dek)?;
                self.header = Some(header);
                let mut out = Vec::new();
                opener.push(&buf[n..], &mut out)?;
                self.state = DecryptState::Body(opener);
                Ok(out)
            }
        }
    }

    /// Opens the last segment; fails with `DECRYPTION_FAILED` when the body is truncated and
    /// with `INVALID_FORMAT` when not even the header was complete (FORMAT.md §9).
    pub fn finish(&mut self) -> Result<Vec<u8>, Error> {
        let state = core::mem::replace(&mut self.state, DecryptState::Done(None));
        let r = match state {
            DecryptState::Done(e) => Err(e.unwrap_or(Error::InvalidArgument {
                reason: "the stream is finished",
            })),
            DecryptState::Header(_) => Err(Error::format("truncated header")),
            DecryptState::Body(opener) => {
                let mut out = Vec::new();
                opener.finish(&mut out).map(|()| out)
            }
        };
        let done = r.is_ok();
        let r = self.settle(r);
        if done && !self.reported {
            self.reported = true;
            self.observer.decrypted(Ok(()), self.sealed_bytes);
        }
        r
    }

    fn settle(&mut self, r: Result<Vec<u8>, Error>) -> Result<Vec<u8>, Error> {
        match r {
            Ok(out) => {
                self.plaintext_bytes = self.plaintext_bytes.saturating_add(out.len() as u64);
                Ok(out)
            }
            Err(e) => {
                if !self.reported {
                    self.reported = true;
                    self.observer.decrypted(Err(e.code()), self.sealed_bytes);
                }
                self.state = DecryptState::Done(Some(e.clone()));
                Err(e)
            }
        }
    }
}

/// What a ranged read needs (FORMAT.md §6.4): computed from the header and the message length
/// alone, before any key-service call.
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

/// Plans a ranged read of plaintext `offset .. offset + len` of a message of `total_len` bytes
/// whose header starts `header_prefix`. The range is clamped to the plaintext (like
/// `Blob.slice`); an impossible total length is `DECRYPTION_FAILED` (§6.3).
pub fn plan_range(header_prefix: &[u8], total_len: u64, offset: u64, len: u64) -> Result<RangePlan, Error> {
    let (header, header_len) = Header::parse(header_prefix)?;
    let header_len = header_len as u64;
    let body_len = total_len.checked_sub(header_len).ok_or(Error::DecryptionFailed)?;
    let layout = BodyLayout::for_body(header.segment_size(), body_len)?;
    let segments = layout.segments_for(offset, len);
    let end = offset.saturating_add(len).min(layout.plaintext_len());
    let plaintext = offset.min(end)..end;
    let fetch = if segments.is_empty() {
        header_len..header_len
    } else {
        let first = layout.segment_range(segments.start);
        let last = layout.segment_range(segments.end - 1);
        header_len + first.start..header_len + last.end
    };
    Ok(RangePlan {
        header_len,
        layout,
        segments,
        plaintext,
        fetch,
    })
}

impl KeySeal {
    /// Starts sealing a message under `context` (FORMAT.md §7.1). `expected_len`, when known,
    /// lets the data key come from the encrypt cache and is then enforced; a stream of unknown
    /// length always gets a fresh data key.
    pub async fn begin_encrypt(
        &self,
        context: &EncryptionContext,
        expected_len: Option<u64>,
    ) -> Result<EncryptStream, Error> {
        let r: Result<EncryptStream, Error> = async {
            let (dek, header) = self.new_message(context, expected_len).await?;
            let sealer = SegmentSealer::new(self.engine_ref(), &header, &dek)?;
            Ok(EncryptStream {
                header: header.encode(),
                sealer: Some(sealer),
                expected_len,
                plaintext_bytes: 0,
                observer: self.observer_rc(),
            })
        }
        .await;
        if let Err(e) = &r {
            self.observer().encrypted(Err(e.code()), 0);
        }
        r
    }

    /// Starts opening a message piece by piece, requiring the `required` context pairs. No key
    /// service is called until the header is complete.
    pub fn begin_decrypt(&self, required: EncryptionContext) -> DecryptStream {
        DecryptStream {
            state: DecryptState::Header(Vec::new()),
            required,
            header: None,
            sealed_bytes: 0,
            plaintext_bytes: 0,
            reported: false,
            observer: self.observer_rc(),
        }
    }

    /// Ranged decrypt (FORMAT.md §6.4): plaintext bytes `offset .. offset + len` (clamped to the
    /// plaintext) of a message of `total_len` bytes, given its header (`header_prefix`) and
    /// `segments`, the message bytes `plan_range(..).fetch`. Checks the required context before
    /// any key-service call and the key commitment before opening any segment; every covering
    /// segment is authenticated. An empty range returns nothing without calling a key service.
    pub async fn decrypt_range(
        &self,
        header_prefix: &[u8],
        total_len: u64,
        offset: u64,
        len: u64,
        segments: &[u8],
        required: &EncryptionContext,
    ) -> Result<Vec<u8>, Error> {
        let r: Result<Vec<u8>, Error> = async {
            let plan = plan_range(header_prefix, total_len, offset, len)?;
            let (header, _) = Header::parse(header_prefix)?;
            header.context().require(required)?;
            if segments.len() as u64 != plan.fetch.end - plan.fetch.start {
                return Err(Error::DecryptionFailed);
            }
            if plan.segments.is_empty() {
                return Ok(Vec::new());
            }
            let dek = self.data_key_for_header(&header).await?;
            let opener = SegmentOpener::new(self.engine_ref(), &header, &dek)?;
            let base = plan.layout.segment_range(plan.segments.start).start;
            let mut out = Vec::with_capacity((plan.plaintext.end - plan.plaintext.start) as usize);
            for k in plan.segments.clone() {
                let r = plan.layout.segment_range(k);
                let seg = &segments[(r.start - base) as usize..(r.end - base) as usize];
                let mut pt = match opener.open_segment(&plan.layout, k, seg) {
                    Ok(pt) => pt,
                    Err(e) => {
                        out.zeroize();
                        return Err(e);
                    }
                };
                let pr = plan.layout.plaintext_range(k);
                let from = plan.plaintext.start.max(pr.start) - pr.start;
                let to = plan.plaintext.end.min(pr.end) - pr.start;
                out.extend_from_slice(&pt[from as usize..to as usize]);
                pt.zeroize();
            }
            Ok(out)
        }
        .await;
        self.observer()
            .decrypted(r.as_ref().map(|_| ()).map_err(Error::code), segments.len() as u64);
        r
    }
}

/// A message prepared for an external (asynchronous) engine such as WebCrypto: the core has
/// obtained the data key, built or checked the header and derived the payload key; the engine
/// seals or opens the segments with [`ExternalSegments`] and then reports the outcome with
/// [`ExternalJob::finish`] (the encrypt/decrypt metrics and events).
pub struct ExternalJob {
    /// The header bytes (on seal: to be written first; on open: the header that was checked).
    pub header: Vec<u8>,
    /// The body layout, when the plaintext (seal) or body (open) length was given.
    pub layout: Option<BodyLayout>,
    /// Key and nonces for the segments.
    pub segments: ExternalSegments,
    decrypt: bool,
    reported: bool,
    observer: Rc<Observer>,
}

impl ExternalJob {
    /// Records the outcome once (later calls do nothing): `ok`, or a failure of the engine, which
    /// counts as `DECRYPTION_FAILED` on open and `INTERNAL` on seal. `bytes` is the plaintext
    /// length on seal and the sealed length on open, as for [`KeySeal::encrypt`]/`decrypt`.
    pub fn finish(&mut self, ok: bool, bytes: u64) {
        if core::mem::replace(&mut self.reported, true) {
            return;
        }
        if self.decrypt {
            let r = if ok {
                Ok(())
            } else {
                Err(Error::DecryptionFailed.code())
            };
            self.observer.decrypted(r, bytes);
        } else {
            let r = if ok { Ok(()) } else { Err("INTERNAL") };
            self.observer.encrypted(r, bytes);
        }
    }
}

impl KeySeal {
    /// Prepares sealing a message under `context` for an external engine (FORMAT.md §7.1 up to
    /// the body). `plaintext_len`, when known, lets the data key come from the encrypt cache (as
    /// [`KeySeal::encrypt`] does) and fixes [`ExternalJob::layout`]; `None` (a stream) always
    /// gets a fresh data key. A failure here is recorded in the metrics; success must be
    /// followed by [`ExternalJob::finish`].
    pub async fn prepare_external_encrypt(
        &self,
        context: &EncryptionContext,
        plaintext_len: Option<u64>,
    ) -> Result<ExternalJob, Error> {
        let r: Result<ExternalJob, Error> = async {
            let layout = plaintext_len
                .map(|n| BodyLayout::for_plaintext(self.segment_size(), n))
                .transpose()?;
            let (dek, header) = self.new_message(context, plaintext_len).await?;
            Ok(ExternalJob {
                segments: ExternalSegments::for_seal(&header, &dek)?,
                header: header.encode(),
                layout,
                decrypt: false,
                reported: false,
                observer: self.observer_rc(),
            })
        }
        .await;
        if let Err(e) = &r {
            self.observer()
                .encrypted(Err(e.code()), plaintext_len.unwrap_or(0));
        }
        r
    }

    /// Prepares opening a message for an external engine (FORMAT.md §7.2 up to the body): parses
    /// the header at the start of `header_prefix`, checks `required`, obtains the data key (cache,
    /// entry failover) and verifies the key commitment. `body_len`, when known, is checked (an
    /// impossible length is `DECRYPTION_FAILED`, §6.3) and fixes [`ExternalJob::layout`]. A
    /// failure here is recorded in the metrics; success must be followed by
    /// [`ExternalJob::finish`].
    pub async fn prepare_external_decrypt(
        &self,
        header_prefix: &[u8],
        body_len: Option<u64>,
        required: &EncryptionContext,
    ) -> Result<ExternalJob, Error> {
        let r: Result<ExternalJob, Error> = async {
            let (header, n) = Header::parse(header_prefix)?;
            header.context().require(required)?;
            let layout = body_len
                .map(|b| BodyLayout::for_body(header.segment_size(), b))
                .transpose()?;
            let dek = self.data_key_for_header(&header).await?;
            Ok(ExternalJob {
                segments: ExternalSegments::for_open(&header, &dek)?,
                header: header_prefix[..n].to_vec(),
                layout,
                decrypt: true,
                reported: false,
                observer: self.observer_rc(),
            })
        }
        .await;
        if let Err(e) = &r {
            let sealed = header_prefix.len() as u64 + body_len.unwrap_or(0);
            self.observer().decrypted(Err(e.code()), sealed);
        }
        r
    }
}
