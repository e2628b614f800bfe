//! `KeySeal`: the SDK object — its configuration, whole-message encrypt and decrypt, cache purge
//! and metrics. Which data key a message gets or opens with is in `data_keys.rs`; streams, ranges,
//! external engines and rotation have files of their own. Nothing here knows about JS.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::cache::{CacheConfig, DataKeyCache};
use crate::data_keys::PublicKeyCache;
use crate::decrypt_policy::DecryptPolicy;
use crate::error::Error;
use crate::events::{Event, Observer};
use crate::format::ecdsa_p256::{PUBLIC_KEY_LEN, SignatureKeyPair};
use crate::format::signature::RESERVED_CONTEXT_PREFIX;
use crate::generate_queue::GenerateQueue;
use crate::key_service::KeyService;
use crate::metrics::MetricsSnapshot;
use crate::rewrap_memo::RewrapMemo;
use crate::transport::Clock;
use crate::{
    AeadEngine, DataKey, EncryptionContext, Header, MessageId, RustCryptoEngine, Suite, new_header,
    new_signed_header, open_body, seal, seal_signed, signed_context,
};

/// How encrypt wraps new data keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapMode {
    /// `/generate` at the primary service (and `/wrap` at each escrow service): `kms` entries.
    KeyService,
    /// HPKE to each service's public key, fetched once per `max_age_ms`: `hpke-p256` entries and
    /// no key-service call on encrypt.
    PublicKey,
}

/// One key service the SDK writes entries for and reads entries from.
pub struct ServiceBinding {
    /// The client (its `id()` is the entry's `key_service_id`).
    pub service: Rc<dyn KeyService>,
    /// The key id new entries are wrapped under at this service, and the one its entries are
    /// read under (with [`DecryptPolicy::allow_key_ids`]). Empty for the primary of a decrypt-only
    /// instance: encrypt and rewraps without a target then fail with `INVALID_ARGUMENT`.
    pub key_id: String,
}

/// SDK settings.
pub struct KeySealConfig {
    /// The first is the primary; the others (escrow, DR) get an entry in every new message.
    pub services: Vec<ServiceBinding>,
    /// Data-key cache limits.
    pub cache: CacheConfig,
    /// Online or offline wrapping.
    pub wrap_mode: WrapMode,
    /// Segment size of new messages.
    pub segment_size: u32,
    /// The synchronous AES-256-GCM engine of whole messages and streams (`RustCryptoEngine`, or a
    /// native hardware engine); every engine gives the same bytes.
    pub engine: Box<dyn AeadEngine>,
    /// Which wrapped-key entries decrypt uses (besides each service's own key id).
    pub decrypt: DecryptPolicy,
}

impl KeySealConfig {
    /// Settings with the defaults: the cache of `CacheConfig::default()`, online wrapping, 64 KiB
    /// segments, the RustCrypto engine.
    pub fn new(services: Vec<ServiceBinding>) -> Self {
        Self {
            services,
            cache: CacheConfig::default(),
            wrap_mode: WrapMode::KeyService,
            segment_size: crate::DEFAULT_SEGMENT_SIZE,
            engine: Box::new(RustCryptoEngine),
            decrypt: DecryptPolicy::default(),
        }
    }
}

/// The SDK object.
pub struct KeySeal {
    pub(crate) services: Vec<ServiceBinding>,
    pub(crate) wrap_mode: WrapMode,
    segment_size: u32,
    pub(crate) cache_config: CacheConfig,
    pub(crate) cache: RefCell<DataKeyCache>,
    pub(crate) public_keys: RefCell<PublicKeyCache>,
    pub(crate) rewrap_memo: RefCell<RewrapMemo>,
    /// The primary service's `/generate` calls, batched when concurrent (`generate_queue.rs`).
    pub(crate) generate_queue: GenerateQueue,
    engine: Box<dyn AeadEngine>,
    pub(crate) decrypt_policy: DecryptPolicy,
    pub(crate) clock: Rc<dyn Clock>,
    pub(crate) observer: Rc<Observer>,
}

impl KeySeal {
    /// Builds the SDK. `observer` receives metrics and events (share it with the clients).
    pub fn new(config: KeySealConfig, clock: Rc<dyn Clock>, observer: Rc<Observer>) -> Result<Self, Error> {
        if config.services.is_empty() {
            return Err(Error::invalid("at least one key service is required"));
        }
        keyseal_format::header::check_segment_size(config.segment_size)?;
        Ok(Self {
            services: config.services,
            wrap_mode: config.wrap_mode,
            segment_size: config.segment_size,
            cache_config: config.cache,
            cache: RefCell::new(DataKeyCache::new(config.cache)),
            public_keys: RefCell::default(),
            rewrap_memo: RefCell::new(RewrapMemo::new(config.cache)),
            generate_queue: GenerateQueue::default(),
            engine: config.engine,
            decrypt_policy: config.decrypt,
            clock,
            observer,
        })
    }

    /// Segment size of new messages.
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// The observer (metrics, events).
    pub fn observer(&self) -> &Observer {
        &self.observer
    }

    pub(crate) fn engine_ref(&self) -> &dyn AeadEngine {
        self.engine.as_ref()
    }

    pub(crate) fn observer_rc(&self) -> Rc<Observer> {
        self.observer.clone()
    }

    /// FORMAT.md §7.1 steps 1–2 for every encrypt path (whole message, stream, external engine):
    /// checks the context, gets a data key and its entries, builds the header. With a
    /// `verification_key` the message is signed (suite 2): the key joins the context the key
    /// service binds (§3.4), and the data key is never from the cache (each signed message has its
    /// own context).
    pub(crate) async fn new_message(
        &self,
        context: &EncryptionContext,
        len: Option<u64>,
        verification_key: Option<&[u8; PUBLIC_KEY_LEN]>,
    ) -> Result<(DataKey, Header), Error> {
        context.check_limits()?;
        if context
            .iter()
            .any(|(k, _)| k.starts_with(RESERVED_CONTEXT_PREFIX))
        {
            return Err(Error::invalid(
                "context keys beginning with \"keyseal:\" are reserved",
            ));
        }
        let Some(vk) = verification_key else {
            let (dek, entries) = self.data_key_for_encrypt(context, len).await?;
            let header = new_header(
                &dek,
                MessageId::random()?,
                self.segment_size,
                context.clone(),
                entries,
            )?;
            return Ok((dek, header));
        };
        let signed = signed_context(context, vk)?;
        let (dek, entries) = self.data_key_for_encrypt(&signed, None).await?;
        let header = new_signed_header(&dek, MessageId::random()?, self.segment_size, signed, entries)?;
        Ok((dek, header))
    }

    /// Seals `plaintext` under `context` (FORMAT.md §7.1).
    pub async fn encrypt(&self, plaintext: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, Error> {
        self.encrypt_with(plaintext, context, false).await
    }

    /// Seals `plaintext` under `context` as a signed message (suite 2, FORMAT.md §6.5): only a
    /// principal allowed to generate or wrap data keys can make a message that verifies.
    pub async fn encrypt_signed(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, Error> {
        self.encrypt_with(plaintext, context, true).await
    }

    async fn encrypt_with(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
        sign: bool,
    ) -> Result<Vec<u8>, Error> {
        let r = async {
            if !sign {
                let (dek, header) = self
                    .new_message(context, Some(plaintext.len() as u64), None)
                    .await?;
                return Ok(seal(self.engine.as_ref(), &dek, &header, plaintext)?);
            }
            let key = SignatureKeyPair::generate()?;
            let (dek, header) = self.new_message(context, None, Some(&key.public_sec1())).await?;
            Ok(seal_signed(self.engine.as_ref(), &dek, &header, plaintext, &key)?)
        }
        .await;
        self.observer.encrypted(
            r.as_ref().map(|_| ()).map_err(Error::code),
            plaintext.len() as u64,
        );
        r
    }

    /// Opens a sealed message (FORMAT.md §7.2), requiring `required` context pairs first. A
    /// signed message's signature is verified before anything is returned.
    pub async fn decrypt(
        &self,
        sealed: &[u8],
        required: &EncryptionContext,
    ) -> Result<(Header, Vec<u8>), Error> {
        self.decrypt_with(sealed, required, false).await
    }

    /// As [`Self::decrypt`], but only a signed message (suite 2) is accepted: an unsigned one is
    /// [`Error::Unsigned`] (`DOWNGRADE_REFUSED`) and `hpke-p256` entries, which anyone can make,
    /// are not used. Success means a principal allowed to generate or wrap data keys wrote it.
    pub async fn decrypt_signed(
        &self,
        sealed: &[u8],
        required: &EncryptionContext,
    ) -> Result<(Header, Vec<u8>), Error> {
        self.decrypt_with(sealed, required, true).await
    }

    async fn decrypt_with(
        &self,
        sealed: &[u8],
        required: &EncryptionContext,
        require_signed: bool,
    ) -> Result<(Header, Vec<u8>), Error> {
        let r = async {
            let (header, off) = Header::parse(sealed)?;
            header.context().require(required)?;
            Self::check_signed(&header, require_signed)?;
            let dek = self.data_key_for_header(&header, require_signed).await?;
            let pt = open_body(self.engine.as_ref(), &dek, &header, &sealed[off..])?;
            Ok((header, pt))
        }
        .await;
        self.observer
            .decrypted(r.as_ref().map(|_| ()).map_err(Error::code), sealed.len() as u64);
        r
    }

    /// A reader that requires signed messages refuses any other before a key service is asked.
    pub(crate) fn check_signed(header: &Header, require_signed: bool) -> Result<(), Error> {
        if require_signed && header.suite() != Suite::Signed {
            return Err(Error::Unsigned);
        }
        Ok(())
    }

    /// Drops cached data keys of `key_id`, or all. Returns how many.
    pub fn purge(&self, key_id: Option<&str>) -> usize {
        self.purge_because(key_id, "purge")
    }

    pub(crate) fn purge_because(&self, key_id: Option<&str>, reason: &'static str) -> usize {
        let n = self.cache.borrow_mut().purge(key_id);
        self.rewrap_memo.borrow_mut().purge(key_id);
        if let Some(id) = key_id {
            self.public_keys.borrow_mut().retain(|k, _| k.1 != id);
        } else {
            self.public_keys.borrow_mut().clear();
        }
        self.observer.emit(Event::CachePurged {
            key_id: key_id.map(String::from),
            reason,
        });
        n
    }

    /// The SLI figures.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.observer.snapshot()
    }

    /// Prometheus text of the same.
    pub fn metrics_text(&self) -> String {
        self.observer.prometheus_text()
    }
}
