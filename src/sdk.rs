//! `KeySeal`: the SDK policy over one or more key services — data-key caching, offline
//! public-key wraps, escrow entries, failover across entries on decrypt, metrics and events. The
//! wasm crate wraps it for JavaScript; nothing here knows about JS.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use serde::Serialize;

use crate::cache::{CacheConfig, DataKeyCache};
use crate::context::EncryptionContext;
use crate::data_key::DataKey;
use crate::engine::{AeadEngine, RustCryptoEngine};
use crate::error::{Error, KeyServiceErrorKind};
use crate::events::{Event, MetricsSnapshot, Observer};
use crate::header::{EntryKind, Header, MessageId, WrappedKeyEntry};
use crate::hpke_p256;
use crate::key_schedule::verify_commitment;
use crate::key_service::KeyService;
use crate::key_service::RewrapQuestion;
use crate::limits::DEFAULT_SEGMENT_SIZE;
use crate::message::{Rewrapped, new_header, open_body, rewrap, seal};
use crate::rewrap_memo::{MemoKey, RewrapMemo};
use crate::segment::BodyLayout;
use crate::transport::Clock;

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
    /// The key id new entries are wrapped under at this service.
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
}

/// (service id, key id) → (version, SEC1 public key, fetched at ms).
type PublicKeyCache = BTreeMap<(String, String), (u32, Vec<u8>, f64)>;

/// The SDK object.
pub struct KeySeal {
    services: Vec<ServiceBinding>,
    wrap_mode: WrapMode,
    segment_size: u32,
    cache_config: CacheConfig,
    cache: RefCell<DataKeyCache>,
    public_keys: RefCell<PublicKeyCache>,
    rewrap_memo: RefCell<RewrapMemo>,
    engine: Box<dyn AeadEngine>,
    clock: Rc<dyn Clock>,
    observer: Rc<Observer>,
}

/// Header facts for `inspect` (no secrets).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderInfo {
    /// Format version.
    pub version: u8,
    /// Suite id.
    pub suite: u16,
    /// Message id, hex.
    pub message_id: String,
    /// Segment size.
    pub segment_size: u32,
    /// Context pairs.
    pub context: BTreeMap<String, String>,
    /// Wrapped-key entries.
    pub entries: Vec<EntryInfo>,
    /// Header length = body offset.
    pub header_len: usize,
    /// Plaintext length, when the whole message was given and its length is valid.
    pub plaintext_len: Option<u64>,
    /// Segment count, likewise.
    pub segment_count: Option<u64>,
}

/// One entry in [`HeaderInfo`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryInfo {
    /// `kms`, `hpke-p256` or `unknown`.
    pub kind: &'static str,
    /// Key-service id.
    pub key_service_id: String,
    /// Key id.
    pub key_id: String,
    /// Key version where the client can read it ([`entry_key_version`]): `hpke-p256` entries, and
    /// `kms` entries in the keyseal-kms layout (PROTOCOL.md §7.2); `None` for other services.
    pub key_version: Option<u32>,
    /// Length of the wrapped key.
    pub wrapped_len: usize,
}

fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    b.iter()
        .flat_map(|x| [H[(x >> 4) as usize] as char, H[(x & 15) as usize] as char])
        .collect()
}

/// Reads header facts from the start of a message (or the whole message).
pub fn inspect(sealed: &[u8]) -> Result<HeaderInfo, Error> {
    let (h, off) = Header::parse(sealed)?;
    let layout = if sealed.len() > off {
        BodyLayout::for_body(h.segment_size(), (sealed.len() - off) as u64).ok()
    } else {
        None
    };
    Ok(HeaderInfo {
        version: crate::header::VERSION_1,
        suite: crate::header::SUITE_1,
        message_id: hex(h.message_id().as_bytes()),
        segment_size: h.segment_size(),
        context: h.context().iter().map(|(k, v)| (k.into(), v.into())).collect(),
        entries: h
            .entries()
            .iter()
            .map(|e| EntryInfo {
                kind: e.kind.name(),
                key_service_id: e.key_service_id.clone(),
                key_id: e.key_id.clone(),
                key_version: entry_key_version(e),
                wrapped_len: e.wrapped.len(),
            })
            .collect(),
        header_len: off,
        plaintext_len: layout.map(|l| l.plaintext_len()),
        segment_count: layout.map(|l| l.segment_count()),
    })
}

/// Whether a failed unwrap should move on to the next entry (another service may answer):
/// availability failures and a destroyed/unknown key (escrow exists for that). Refusals that
/// express policy (disabled, access denied, context) stop at once.
fn try_next_entry(e: &Error) -> bool {
    matches!(
        e,
        Error::KeyService {
            kind: KeyServiceErrorKind::Unavailable
                | KeyServiceErrorKind::Timeout
                | KeyServiceErrorKind::Throttled
                | KeyServiceErrorKind::KeyNotFound,
            ..
        } | Error::DecryptionFailed
    )
}

impl KeySeal {
    /// Builds the SDK. `observer` receives metrics and events (share it with the clients).
    pub fn new(config: KeySealConfig, clock: Rc<dyn Clock>, observer: Rc<Observer>) -> Result<Self, Error> {
        if config.services.is_empty() {
            return Err(Error::InvalidArgument {
                reason: "at least one key service is required",
            });
        }
        crate::header::check_segment_size(config.segment_size)?;
        Ok(Self {
            services: config.services,
            wrap_mode: config.wrap_mode,
            segment_size: config.segment_size,
            cache_config: config.cache,
            cache: RefCell::new(DataKeyCache::new(config.cache)),
            public_keys: RefCell::default(),
            rewrap_memo: RefCell::new(RewrapMemo::new(config.cache)),
            engine: Box::new(RustCryptoEngine),
            clock,
            observer,
        })
    }

    /// Default segment size for configs.
    pub const DEFAULT_SEGMENT_SIZE: u32 = DEFAULT_SEGMENT_SIZE;

    /// Replaces the AEAD engine (e.g. WebCrypto); both produce identical bytes.
    pub fn set_engine(&mut self, engine: Box<dyn AeadEngine>) {
        self.engine = engine;
    }

    /// Segment size of new messages.
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// The observer (metrics, events).
    pub fn observer(&self) -> &Observer {
        &self.observer
    }

    async fn public_key(&self, b: &ServiceBinding) -> Result<(u32, Vec<u8>), Error> {
        let k = (String::from(b.service.id()), b.key_id.clone());
        let now = self.clock.now_ms();
        if let Some((v, pk, at)) = self.public_keys.borrow().get(&k)
            && now - at < self.cache_config.max_age_ms
        {
            return Ok((*v, pk.clone()));
        }
        let info = b.service.public_key(&b.key_id).await?;
        self.public_keys
            .borrow_mut()
            .insert(k, (info.version, info.public_sec1.clone(), now));
        Ok((info.version, info.public_sec1))
    }

    /// A data key and the wrapped-key entries for a new message of `len` bytes under `context`.
    /// Uses the encrypt cache when allowed; otherwise asks the key services (or wraps offline).
    pub async fn data_key_for_encrypt(
        &self,
        context: &EncryptionContext,
        len: u64,
    ) -> Result<(DataKey, Vec<WrappedKeyEntry>), Error> {
        self.data_key_for_encrypt_with(context, Some(len)).await
    }

    /// As [`Self::data_key_for_encrypt`]; `len: None` (a stream of unknown length) neither uses
    /// nor fills the encrypt cache, whose byte limit could not be enforced.
    pub(crate) async fn data_key_for_encrypt_with(
        &self,
        context: &EncryptionContext,
        len: Option<u64>,
    ) -> Result<(DataKey, Vec<WrappedKeyEntry>), Error> {
        let primary = &self.services[0];
        let ctx = context.encode();
        if let Some(len) = len {
            let now = self.clock.now_ms();
            let cached = self
                .cache
                .borrow_mut()
                .take_for_encrypt(&primary.key_id, &ctx, len, now);
            if let Some(hit) = cached {
                self.observer.cache(true, "encrypt", &primary.key_id);
                return Ok(hit);
            }
            self.observer.cache(false, "encrypt", &primary.key_id);
        }
        let mut entries = Vec::with_capacity(self.services.len());
        let dek = match self.wrap_mode {
            WrapMode::KeyService => {
                let g = primary
                    .service
                    .generate(&primary.key_id, context)
                    .await
                    .map_err(|e| self.on_key_error(&primary.key_id, e))?;
                entries.push(WrappedKeyEntry {
                    kind: EntryKind::Kms,
                    key_service_id: primary.service.id().into(),
                    key_id: primary.key_id.clone(),
                    wrapped: g.wrapped,
                });
                for b in &self.services[1..] {
                    let w = b
                        .service
                        .wrap(&b.key_id, &g.data_key, context)
                        .await
                        .map_err(|e| self.on_key_error(&b.key_id, e))?;
                    entries.push(WrappedKeyEntry {
                        kind: EntryKind::Kms,
                        key_service_id: b.service.id().into(),
                        key_id: b.key_id.clone(),
                        wrapped: w,
                    });
                }
                g.data_key
            }
            WrapMode::PublicKey => {
                let dek = DataKey::generate()?;
                for b in &self.services {
                    let (version, pk) = self
                        .public_key(b)
                        .await
                        .map_err(|e| self.on_key_error(&b.key_id, e))?;
                    let w = hpke_p256::seal_entry(&pk, &b.key_id, version, context, &dek)?;
                    entries.push(WrappedKeyEntry {
                        kind: EntryKind::HpkeP256,
                        key_service_id: b.service.id().into(),
                        key_id: b.key_id.clone(),
                        wrapped: w,
                    });
                }
                dek
            }
        };
        if let Some(len) = len {
            self.cache.borrow_mut().put_for_encrypt(
                &primary.key_id,
                &ctx,
                &dek,
                &entries,
                len,
                self.clock.now_ms(),
            );
        }
        Ok((dek, entries))
    }

    /// The data key of a parsed header: from the decrypt cache, else from the first entry whose
    /// service is configured and answers, in header order. Verifies the key commitment.
    pub async fn data_key_for_header(&self, header: &Header) -> Result<DataKey, Error> {
        let ctx = header.context().encode();
        let mut last = Error::NoUsableEntry;
        for e in header.entries() {
            if matches!(e.kind, EntryKind::Unknown(_)) {
                continue;
            }
            let Some(b) = self.services.iter().find(|b| b.service.id() == e.key_service_id) else {
                continue;
            };
            let cached = self
                .cache
                .borrow_mut()
                .get_for_decrypt(e, &ctx, self.clock.now_ms());
            if let Some(dek) = cached {
                self.observer.cache(true, "decrypt", &e.key_id);
                return Ok(dek);
            }
            self.observer.cache(false, "decrypt", &e.key_id);
            match b
                .service
                .unwrap(e.kind, &e.key_id, &e.wrapped, header.context())
                .await
            {
                Ok(dek) => {
                    if verify_commitment(&dek, header.message_id(), header.commitment()).is_err() {
                        last = Error::DecryptionFailed;
                        continue;
                    }
                    self.cache
                        .borrow_mut()
                        .put_for_decrypt(e, &ctx, &dek, self.clock.now_ms());
                    return Ok(dek);
                }
                Err(err) => {
                    if let Error::KeyService {
                        kind: KeyServiceErrorKind::KeyDisabled,
                        ..
                    } = err
                    {
                        self.purge_because(Some(&e.key_id), "key_disabled");
                        return Err(err);
                    }
                    if !try_next_entry(&err) {
                        return Err(err);
                    }
                    last = err;
                }
            }
        }
        Err(last)
    }

    /// FORMAT.md §7.1 steps 1–2 for every encrypt path (whole message, stream, external engine):
    /// checks the context, gets a data key and its entries, builds the header.
    pub(crate) async fn new_message(
        &self,
        context: &EncryptionContext,
        len: Option<u64>,
    ) -> Result<(DataKey, Header), Error> {
        context.check_limits()?;
        let (dek, entries) = self.data_key_for_encrypt_with(context, len).await?;
        let header = new_header(
            &dek,
            MessageId::random()?,
            self.segment_size,
            context.clone(),
            entries,
        )?;
        Ok((dek, header))
    }

    /// Seals `plaintext` under `context` (FORMAT.md §7.1).
    pub async fn encrypt(&self, plaintext: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, Error> {
        let r = async {
            let (dek, header) = self.new_message(context, Some(plaintext.len() as u64)).await?;
            seal(self.engine.as_ref(), &dek, &header, plaintext)
        }
        .await;
        self.observer.encrypted(
            r.as_ref().map(|_| ()).map_err(Error::code),
            plaintext.len() as u64,
        );
        r
    }

    /// Opens a sealed message (FORMAT.md §7.2), requiring `required` context pairs first.
    pub async fn decrypt(
        &self,
        sealed: &[u8],
        required: &EncryptionContext,
    ) -> Result<(Header, Vec<u8>), Error> {
        let r = async {
            let (header, off) = Header::parse(sealed)?;
            header.context().require(required)?;
            let dek = self.data_key_for_header(&header).await?;
            let pt = open_body(self.engine.as_ref(), &dek, &header, &sealed[off..])?;
            Ok((header, pt))
        }
        .await;
        self.observer
            .decrypted(r.as_ref().map(|_| ()).map_err(Error::code), sealed.len() as u64);
        r
    }

    /// PROTOCOL.md §5: a `KeyDisabled` answer drops every cached data key of that key at once
    /// (encrypt and decrypt caches, and its cached public key).
    fn on_key_error(&self, key_id: &str, e: Error) -> Error {
        if let Error::KeyService {
            kind: KeyServiceErrorKind::KeyDisabled,
            ..
        } = e
        {
            self.purge_because(Some(key_id), "key_disabled");
        }
        e
    }

    /// Drops cached data keys of `key_id`, or all. Returns how many.
    pub fn purge(&self, key_id: Option<&str>) -> usize {
        self.purge_because(key_id, "purge")
    }

    fn purge_because(&self, key_id: Option<&str>, reason: &'static str) -> usize {
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

/// Where a `kms` wrapped key made by `keyseal-kms` keeps its key version (PROTOCOL.md §7.2: 97
/// bytes, format byte `01`, then the version as u32 BE). Other services' layouts are opaque: for
/// them this is `None` and only the key id can tell whether an entry is current.
fn kms_entry_version_hint(wrapped: &[u8]) -> Option<u32> {
    if wrapped.len() != 97 || wrapped[0] != 1 {
        return None;
    }
    let v: [u8; 4] = wrapped[1..5].try_into().ok()?;
    Some(u32::from_be_bytes(v))
}

/// The key version an entry was made with, when the client can read it: from the entry bytes of
/// an `hpke-p256` entry (FORMAT.md §4.5), or from a `keyseal-kms` `kms` entry (PROTOCOL.md §7.2).
pub fn entry_key_version(entry: &WrappedKeyEntry) -> Option<u32> {
    match entry.kind {
        EntryKind::HpkeP256 => hpke_p256::entry_key_version(&entry.wrapped).ok(),
        EntryKind::Kms => kms_entry_version_hint(&entry.wrapped),
        EntryKind::Unknown(_) => None,
    }
}

/// Rotation: header-only rewrap through the key services (FORMAT.md §4.4, PROTOCOL.md §3.5).
impl KeySeal {
    pub(crate) fn engine_ref(&self) -> &dyn AeadEngine {
        self.engine.as_ref()
    }

    pub(crate) fn observer_rc(&self) -> Rc<Observer> {
        self.observer.clone()
    }

    /// The key id the primary service's entries end up under: `to_key_id` or the configured one.
    fn rewrap_target<'a>(&'a self, to_key_id: Option<&'a str>) -> &'a str {
        to_key_id.unwrap_or(&self.services[0].key_id)
    }

    /// The newest (primary) version of the rewrap target at the primary service, read fresh from
    /// `GET /keys/{key_id}/public` (PROTOCOL.md §3.6; no token needed). `rewrap_all`-style jobs call
    /// it once and pass the answer to [`Self::is_current`]. Starts a new rotation run: the rewrap
    /// memo is emptied, so no answer from before this reading (maybe an older version) is reused.
    pub async fn newest_version(&self, to_key_id: Option<&str>) -> Result<u32, Error> {
        self.rewrap_memo.borrow_mut().purge(None);
        let b = &self.services[0];
        let target = self.rewrap_target(to_key_id);
        let info = b
            .service
            .public_key(target)
            .await
            .map_err(|e| self.on_key_error(target, e))?;
        Ok(info.version)
    }

    /// Whether the message whose header starts `header_prefix` is already where [`Self::rewrap`]
    /// with `to_key_id` would put it: every entry of the primary service names the target key id
    /// and, where the entry's key version is readable ([`entry_key_version`]) and `newest` is
    /// given, was made with that version. A message with no entry of the primary service is
    /// current (a rewrap would not change it).
    pub fn is_current(
        &self,
        header_prefix: &[u8],
        to_key_id: Option<&str>,
        newest: Option<u32>,
    ) -> Result<bool, Error> {
        let (header, _) = Header::parse(header_prefix)?;
        let primary = self.services[0].service.id();
        let target = self.rewrap_target(to_key_id);
        Ok(header
            .entries()
            .iter()
            .filter(|e| e.key_service_id == primary && !matches!(e.kind, EntryKind::Unknown(_)))
            .all(|e| {
                e.key_id == target
                    && match (newest, entry_key_version(e)) {
                        (Some(n), Some(v)) => v >= n,
                        _ => true,
                    }
            }))
    }

    /// FORMAT.md §4.4: replaces the wrapped-key section of the header at the start of
    /// `header_prefix` (the header, or the whole message). Each entry of a configured key service
    /// is re-wrapped by that service's `/rewrap` (the DEK never leaves it): the primary service's
    /// entries go to `to_key_id` when given (else to the newest version of their own key), the
    /// other services' entries to the newest version of their own key. The answers are `kms`
    /// entries. Entries of unconfigured services and of unknown kinds are kept unchanged
    /// (§4.2). Any refusal fails the whole rewrap: a header is never half rotated.
    pub async fn rewrap(&self, header_prefix: &[u8], to_key_id: Option<&str>) -> Result<Rewrapped, Error> {
        let mut r = self.rewrap_many(&[header_prefix], to_key_id).await;
        r.pop().unwrap_or(Err(Error::InvalidArgument {
            reason: "nothing to rewrap",
        }))
    }

    /// [`Self::rewrap`] for many headers at once: one result per header, in order, each as
    /// [`Self::rewrap`] would give it (a refusal fails only the headers that need that answer).
    /// The questions go to each key service in `/rewrap-batch` requests of at most
    /// [`REWRAP_BATCH_MAX`] (PROTOCOL.md §3.5.1), after the rewrap memo and with duplicates asked
    /// once: objects sealed under one cached data key share their question.
    pub async fn rewrap_many(
        &self,
        header_prefixes: &[&[u8]],
        to_key_id: Option<&str>,
    ) -> Vec<Result<Rewrapped, Error>> {
        let parsed: Vec<Result<Header, Error>> = header_prefixes
            .iter()
            .map(|p| Header::parse(p).map(|(h, _)| h))
            .collect();
        // Every distinct question, with its answer when the memo has one.
        let mut asked: Vec<Asked> = Vec::new();
        let now = self.clock.now_ms();
        for h in parsed.iter().flatten() {
            let context = h.context().encode();
            for e in h.entries() {
                let Some(i) = self.rewrap_binding(e) else { continue };
                let to = if i == 0 { to_key_id } else { None };
                let key = MemoKey::of(i, e, &context, to);
                if asked.iter().any(|a| a.is(&key)) {
                    continue;
                }
                let answer = self.rewrap_memo.borrow_mut().get(&key, now).map(Ok);
                asked.push(Asked {
                    service: i,
                    entry: e.clone(),
                    context: h.context().clone(),
                    encoded_context: context.clone(),
                    to: to.map(String::from),
                    answer,
                });
            }
        }
        // Ask each service what the memo did not know, in batches.
        for i in 0..self.services.len() {
            let open: Vec<usize> = (0..asked.len())
                .filter(|&k| asked[k].service == i && asked[k].answer.is_none())
                .collect();
            for chunk in open.chunks(REWRAP_BATCH_MAX) {
                let questions: Vec<RewrapQuestion<'_>> = chunk
                    .iter()
                    .map(|&k| RewrapQuestion {
                        kind: asked[k].entry.kind,
                        key_id: &asked[k].entry.key_id,
                        wrapped: &asked[k].entry.wrapped,
                        context: &asked[k].context,
                        to_key_id: asked[k].to.as_deref(),
                    })
                    .collect();
                let answers = self.services[i].service.rewrap_batch(&questions).await;
                drop(questions);
                let answers: Vec<Result<Vec<u8>, Error>> = match answers {
                    Ok(a) => a,
                    Err(e) => chunk.iter().map(|_| Err(e.clone())).collect(),
                };
                for (&k, answer) in chunk.iter().zip(answers) {
                    let answer = answer.map_err(|err| self.on_key_error(&asked[k].entry.key_id, err));
                    if let Ok(w) = &answer {
                        self.rewrap_memo
                            .borrow_mut()
                            .put(&asked[k].key(), w, self.clock.now_ms());
                    }
                    asked[k].answer = Some(answer);
                }
            }
        }
        // Each header: its new entries, or the first refusal among them.
        parsed
            .into_iter()
            .zip(header_prefixes)
            .map(|(h, prefix)| {
                let h = h?;
                let context = h.context().encode();
                let mut entries = Vec::with_capacity(h.entries().len());
                for e in h.entries() {
                    let Some(i) = self.rewrap_binding(e) else {
                        entries.push(e.clone());
                        continue;
                    };
                    let to = if i == 0 { to_key_id } else { None };
                    let key = MemoKey::of(i, e, &context, to);
                    let wrapped = match asked.iter().find(|a| a.is(&key)).and_then(|a| a.answer.as_ref()) {
                        Some(Ok(w)) => w.clone(),
                        Some(Err(err)) => return Err(err.clone()),
                        // Every question above was asked or remembered; a service answering fewer
                        // items fails its whole batch (parse_rewrap_batch).
                        None => return Err(Error::NoUsableEntry),
                    };
                    entries.push(WrappedKeyEntry {
                        kind: EntryKind::Kms,
                        key_service_id: e.key_service_id.clone(),
                        key_id: to.map_or_else(|| e.key_id.clone(), String::from),
                        wrapped,
                    });
                }
                rewrap(prefix, entries)
            })
            .collect()
    }

    /// The configured service that rewraps entry `e` (§4.2: unconfigured services and unknown
    /// kinds are kept as they are).
    fn rewrap_binding(&self, e: &WrappedKeyEntry) -> Option<usize> {
        if matches!(e.kind, EntryKind::Unknown(_)) {
            return None;
        }
        self.services
            .iter()
            .position(|b| b.service.id() == e.key_service_id)
    }
}

/// Most questions in one `/rewrap-batch` request: 100 items stay well under the reference
/// service's 64 KiB default body limit (about 300 bytes each).
pub const REWRAP_BATCH_MAX: usize = 100;

/// One distinct rewrap question of [`KeySeal::rewrap_many`] and, once known, its answer.
struct Asked {
    service: usize,
    entry: WrappedKeyEntry,
    context: EncryptionContext,
    encoded_context: Vec<u8>,
    to: Option<String>,
    answer: Option<Result<Vec<u8>, Error>>,
}

impl Asked {
    fn key(&self) -> MemoKey<'_> {
        MemoKey::of(
            self.service,
            &self.entry,
            &self.encoded_context,
            self.to.as_deref(),
        )
    }

    fn is(&self, k: &MemoKey<'_>) -> bool {
        self.key() == *k
    }
}
