//! Incremental encryption and decryption (FORMAT.md §6, §7.2) on top of [`KeySeal`] with its
//! synchronous engine: the state machines behind the JS `encryptStream` and `decryptStream` on the
//! wasm engine. Memory is O(segment size) whatever the message size; nothing here knows about JS.

use alloc::rc::Rc;
use alloc::vec::Vec;

use crate::error::{Error, FormatError};
use crate::events::Observer;
use crate::format::ecdsa_p256::SignatureKeyPair;
use crate::keyseal::KeySeal;
use crate::{EncryptionContext, Header, HeaderLength, SegmentOpener, SegmentSealer};

/// A message being sealed piece by piece: emit [`EncryptStream::header`] first, then the output
/// of every [`EncryptStream::push`], then that of [`EncryptStream::finish`].
pub struct EncryptStream {
    header: Vec<u8>,
    sealer: Option<SegmentSealer>,
    /// A signed message's key, discarded once the signature is appended (FORMAT.md §6.5).
    signer: Option<SignatureKeyPair>,
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
            return Err(Error::invalid("the stream is finished or failed"));
        };
        let total = self.plaintext_bytes.saturating_add(data.len() as u64);
        if self.expected_len.is_some_and(|n| total > n) {
            return Err(Error::invalid("more plaintext than the expected length"));
        }
        let mut out = Vec::new();
        sealer.push(data, &mut out)?;
        self.plaintext_bytes = total;
        Ok(out)
    }

    /// Seals the last segment and returns its bytes. The stream cannot be used afterwards.
    pub fn finish(&mut self) -> Result<Vec<u8>, Error> {
        let Some(sealer) = self.sealer.take() else {
            return Err(Error::invalid("the stream is finished or failed"));
        };
        let r = (|| {
            if self.expected_len.is_some_and(|n| n != self.plaintext_bytes) {
                return Err(Error::invalid("less plaintext than the expected length"));
            }
            let mut out = Vec::new();
            match self.signer.take() {
                Some(key) => sealer.finish_signed(&mut out, &key)?,
                None => sealer.finish(&mut out)?,
            }
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

/// Opens `data`; when a segment fails, the plaintext of the segments before it in this same push
/// is wiped rather than dropped in memory (it is never released either way).
fn push_or_wipe(opener: &mut SegmentOpener, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    opener.push(data, out).map_err(|e| {
        zeroize::Zeroize::zeroize(out);
        Error::from(e)
    })
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
    require_signed: bool,
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
            DecryptState::Done(e) => Err(e.unwrap_or_else(|| Error::invalid("the stream is finished"))),
            DecryptState::Body(mut opener) => {
                let mut out = Vec::new();
                push_or_wipe(&mut opener, data, &mut out)?;
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
                KeySeal::check_signed(&header, self.require_signed)?;
                let dek = ks.data_key_for_header(&header, self.require_signed).await?;
                let mut opener = SegmentOpener::new(ks.engine_ref(), &header, &dek)?;
                self.header = Some(header);
                let mut out = Vec::new();
                push_or_wipe(&mut opener, &buf[n..], &mut out)?;
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
            DecryptState::Done(e) => Err(e.unwrap_or_else(|| Error::invalid("the stream is finished"))),
            DecryptState::Header(_) => Err(FormatError::InvalidFormat {
                reason: "truncated header",
            }
            .into()),
            DecryptState::Body(opener) => {
                let mut out = Vec::new();
                opener.finish(&mut out).map(|()| out).map_err(Error::from)
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

impl KeySeal {
    /// Starts sealing a message under `context` (FORMAT.md §7.1). `expected_len`, when known,
    /// lets the data key come from the encrypt cache and is then enforced; a stream of unknown
    /// length always gets a fresh data key.
    pub async fn begin_encrypt(
        &self,
        context: &EncryptionContext,
        expected_len: Option<u64>,
    ) -> Result<EncryptStream, Error> {
        self.begin_encrypt_with(context, expected_len, None).await
    }

    /// Starts sealing a signed message (suite 2, FORMAT.md §6.5); the signature follows the last
    /// segment when the stream finishes.
    pub async fn begin_encrypt_signed(&self, context: &EncryptionContext) -> Result<EncryptStream, Error> {
        let key = SignatureKeyPair::generate()?;
        self.begin_encrypt_with(context, None, Some(key)).await
    }

    async fn begin_encrypt_with(
        &self,
        context: &EncryptionContext,
        expected_len: Option<u64>,
        signer: Option<SignatureKeyPair>,
    ) -> Result<EncryptStream, Error> {
        let r: Result<EncryptStream, Error> = async {
            let vk = signer.as_ref().map(SignatureKeyPair::public_sec1);
            let (dek, header) = self.new_message(context, expected_len, vk.as_ref()).await?;
            let sealer = SegmentSealer::new(self.engine_ref(), &header, &dek)?;
            Ok(EncryptStream {
                header: header.encode(),
                sealer: Some(sealer),
                signer,
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
        self.begin_decrypt_with(required, false)
    }

    /// As [`Self::begin_decrypt`], accepting only a signed message (suite 2): an unsigned one fails
    /// when its header completes (`DOWNGRADE_REFUSED`); segments are released as they authenticate
    /// (reader-authenticated) and the stream fails at its end unless the signature verifies
    /// (FORMAT.md §6.5).
    pub fn begin_decrypt_signed(&self, required: EncryptionContext) -> DecryptStream {
        self.begin_decrypt_with(required, true)
    }

    fn begin_decrypt_with(&self, required: EncryptionContext, require_signed: bool) -> DecryptStream {
        DecryptStream {
            state: DecryptState::Header(Vec::new()),
            required,
            require_signed,
            header: None,
            sealed_bytes: 0,
            plaintext_bytes: 0,
            reported: false,
            observer: self.observer_rc(),
        }
    }
}
