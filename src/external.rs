//! Messages prepared for an engine that runs outside the SDK (WebCrypto and node:crypto, driven
//! by the wasm crate): the SDK obtains the data key, builds or checks the header and hands out the
//! payload key; the engine seals or opens the segments as `keyseal_format::layout` lays them out,
//! then reports the outcome for metrics and events.

use alloc::rc::Rc;
use alloc::vec::Vec;

use crate::error::{Error, FormatError};
use crate::events::Observer;
use crate::format::ecdsa_p256::PUBLIC_KEY_LEN;
use crate::format::signature::SignatureChain;
use crate::keyseal::KeySeal;
use crate::range::RangeRead;
use crate::{BodyLayout, EncryptionContext, ExternalSegments, Header, Suite};

fn chain_of(header: &Header) -> Option<SignatureChain> {
    (header.suite() == Suite::Signed).then(|| SignatureChain::new(header.auth_hash()))
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
    /// The payload key for the segments.
    pub segments: ExternalSegments,
    /// A signed message (suite 2): the signature chain at `T_0` (FORMAT.md §6.5), to absorb each
    /// sealed segment in order, then to sign (seal) or verify (open).
    pub signature: Option<SignatureChain>,
    /// A signed message being opened: its verification key.
    pub verification_key: Option<[u8; PUBLIC_KEY_LEN]>,
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
                Err(FormatError::DecryptionFailed.code())
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
        verification_key: Option<&[u8; PUBLIC_KEY_LEN]>,
    ) -> Result<ExternalJob, Error> {
        let r: Result<ExternalJob, Error> = async {
            let layout = plaintext_len
                .map(|n| BodyLayout::for_plaintext(self.segment_size(), n))
                .transpose()?;
            let (dek, header) = self.new_message(context, plaintext_len, verification_key).await?;
            Ok(ExternalJob {
                segments: ExternalSegments::for_seal(&header, &dek)?,
                signature: chain_of(&header),
                verification_key: None,
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
    /// the header at the start of `header_prefix`, checks `required` (and, with `require_signed`,
    /// that the message is signed), obtains the data key (cache, entry failover) and verifies the
    /// key commitment. `after_header`, the length of what follows the header when known, is checked
    /// (an impossible length is `DECRYPTION_FAILED`, §6.3) and fixes [`ExternalJob::layout`]. A
    /// failure here is recorded in the metrics; success must be followed by
    /// [`ExternalJob::finish`].
    pub async fn prepare_external_decrypt(
        &self,
        header_prefix: &[u8],
        after_header: Option<u64>,
        required: &EncryptionContext,
        require_signed: bool,
    ) -> Result<ExternalJob, Error> {
        let body_len = after_header;
        let r: Result<ExternalJob, Error> = async {
            let (header, n) = Header::parse(header_prefix)?;
            header.context().require(required)?;
            KeySeal::check_signed(&header, require_signed)?;
            let layout = after_header
                .map(|b| BodyLayout::for_message(&header, b))
                .transpose()?;
            let dek = self.data_key_for_header(&header, require_signed).await?;
            Ok(ExternalJob {
                segments: ExternalSegments::for_open(&header, &dek)?,
                signature: chain_of(&header),
                verification_key: header.verification_key().copied(),
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

    /// Prepares a ranged read for an external engine: obtains the data key of `read`'s header
    /// (cache, entry failover) and verifies the key commitment. The engine opens the segments of
    /// `read.plan()`. A failure here is recorded in the metrics; success must be followed by
    /// [`ExternalJob::finish`] with the fetched length.
    pub async fn prepare_external_range(
        &self,
        read: &RangeRead,
        fetched_len: u64,
    ) -> Result<ExternalJob, Error> {
        let r: Result<ExternalJob, Error> = async {
            read.check_fetched(fetched_len)?;
            let dek = self.data_key_for_header(read.header(), false).await?;
            Ok(ExternalJob {
                segments: ExternalSegments::for_open(read.header(), &dek)?,
                signature: None,
                verification_key: None,
                header: read.header().encode(),
                layout: Some(read.plan().layout),
                decrypt: true,
                reported: false,
                observer: self.observer_rc(),
            })
        }
        .await;
        if let Err(e) = &r {
            self.observer().decrypted(Err(e.code()), fetched_len);
        }
        r
    }
}
