//! Which data key a message gets and which one opens it: the encrypt cache, online wraps at the
//! primary and escrow services or offline `hpke-p256` wraps, and on decrypt the walk over the
//! header's entries with the decrypt cache, failover and the key-commitment check.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::decrypt_policy::Refused;
use crate::error::{Error, FormatError, KeyServiceErrorKind};
use crate::keyseal::{KeySeal, ServiceBinding, WrapMode};
use crate::{DataKey, EncryptionContext, EntryKind, Header, WrappedKeyEntry, hpke_p256};

/// (service id, key id) → (version, SEC1 public key, fetched at ms).
pub(crate) type PublicKeyCache = BTreeMap<(String, String), (u32, Vec<u8>, f64)>;

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
        } | Error::Format(FormatError::DecryptionFailed)
    )
}

impl KeySeal {
    /// The primary's key id for new data keys; a decrypt-only instance has none (DESIGN.md
    /// "Decrypt-only instances").
    pub(crate) fn encrypt_key_id(&self) -> Result<&str, Error> {
        match self.services[0].key_id.as_str() {
            "" => Err(Error::invalid(
                "this instance was created without a keyId, so it can only decrypt: give options.keyId to encrypt",
            )),
            k => Ok(k),
        }
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
    /// `len: None` (a stream of unknown length) neither uses nor fills the encrypt cache, whose byte
    /// limit could not be enforced.
    pub(crate) async fn data_key_for_encrypt(
        &self,
        context: &EncryptionContext,
        len: Option<u64>,
    ) -> Result<(DataKey, Vec<WrappedKeyEntry>), Error> {
        let primary = &self.services[0];
        self.encrypt_key_id()?;
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
        let (dek, entries) = match self.wrap_mode {
            WrapMode::KeyService => self.wrap_online(context).await?,
            WrapMode::PublicKey => self.wrap_offline(context).await?,
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

    /// `/generate` at the primary service, `/wrap` at every escrow service: `kms` entries.
    async fn wrap_online(
        &self,
        context: &EncryptionContext,
    ) -> Result<(DataKey, Vec<WrappedKeyEntry>), Error> {
        let primary = &self.services[0];
        let mut entries = Vec::with_capacity(self.services.len());
        let g = self
            .generate_queue
            .generate(primary.service.as_ref(), &primary.key_id, context)
            .await
            .map_err(|e| self.on_key_error(&primary.key_id, e))?;
        entries.push(WrappedKeyEntry {
            kind: primary.service.entry_kind(),
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
                kind: b.service.entry_kind(),
                key_service_id: b.service.id().into(),
                key_id: b.key_id.clone(),
                wrapped: w,
            });
        }
        Ok((g.data_key, entries))
    }

    /// HPKE to every service's published public key: `hpke-p256` entries, no key-service call
    /// while the public keys are cached.
    async fn wrap_offline(
        &self,
        context: &EncryptionContext,
    ) -> Result<(DataKey, Vec<WrappedKeyEntry>), Error> {
        let dek = DataKey::generate()?;
        let mut entries = Vec::with_capacity(self.services.len());
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
        Ok((dek, entries))
    }

    /// The data key of a parsed header (FORMAT.md §7.2 steps 3–4): the first entry, in header
    /// order, that the decrypt policy accepts and that opens — from the decrypt cache or at its
    /// key service — to a data key matching the key commitment. Entries the policy refuses are
    /// skipped without any call (the token callback is never asked for their key ids).
    pub(crate) async fn data_key_for_header(
        &self,
        header: &Header,
        signed_only: bool,
    ) -> Result<DataKey, Error> {
        let ctx = header.context().encode();
        let mut last: Option<Error> = None;
        let mut skipped: Vec<String> = Vec::new();
        for e in header.entries() {
            let b = match self.usable(e, signed_only) {
                Ok(b) => b,
                Err(why) => {
                    skipped.push(format!(
                        "{}:{} ({}): {}",
                        e.key_service_id,
                        e.key_id,
                        e.kind.name(),
                        why.as_str()
                    ));
                    continue;
                }
            };
            let cached = self
                .cache
                .borrow_mut()
                .get_for_decrypt(e, &ctx, self.clock.now_ms());
            if let Some(dek) = cached {
                self.observer.cache(true, "decrypt", &e.key_id);
                // A cached key opens only the message it matches: another entry may still.
                if header.check_data_key(&dek).is_ok() {
                    return Ok(dek);
                }
                last = Some(FormatError::DecryptionFailed.into());
                continue;
            }
            self.observer.cache(false, "decrypt", &e.key_id);
            match b
                .service
                .unwrap(e.kind, &e.key_id, &e.wrapped, header.context())
                .await
            {
                Ok(dek) => {
                    if header.check_data_key(&dek).is_err() {
                        last = Some(FormatError::DecryptionFailed.into());
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
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            let known: Vec<&str> = self.services.iter().map(|b| b.service.id()).collect();
            Error::NoUsableEntry {
                detail: format!(
                    "the message names [{}]; this client knows key services [{}]",
                    skipped.join("; "),
                    known.join(", ")
                ),
            }
        }))
    }

    /// The configured service of entry `e`, if the decrypt policy lets this client use it.
    fn usable(&self, e: &WrappedKeyEntry, signed_only: bool) -> Result<&ServiceBinding, Refused> {
        let b = self
            .services
            .iter()
            .find(|b| b.service.id() == e.key_service_id)
            .ok_or(Refused::UnknownService)?;
        // Anyone with the key's public key can make an hpke-p256 entry (and sign the message with
        // a key of their own): such an entry proves no writer.
        if signed_only && e.kind == EntryKind::HpkeP256 {
            return Err(Refused::PublicKeyEntryUnsigned);
        }
        self.decrypt_policy
            .check(e.kind, b.service.entry_kind(), &b.key_id, &e.key_id)?;
        Ok(b)
    }

    /// PROTOCOL.md §5: a `KeyDisabled` answer drops every cached data key of that key at once
    /// (encrypt and decrypt caches, and its cached public key).
    pub(crate) fn on_key_error(&self, key_id: &str, e: Error) -> Error {
        if let Error::KeyService {
            kind: KeyServiceErrorKind::KeyDisabled,
            ..
        } = e
        {
            self.purge_because(Some(key_id), "key_disabled");
        }
        e
    }

    /// The key version an entry was made with, when it can be read: from the entry bytes of an
    /// `hpke-p256` entry (FORMAT.md §4.5), or as the entry's configured key service reads its own
    /// layout ([`crate::KeyService::entry_version`]).
    pub fn entry_version(&self, entry: &WrappedKeyEntry) -> Option<u32> {
        match entry.kind {
            EntryKind::HpkeP256 => hpke_p256::entry_key_version(&entry.wrapped).ok(),
            EntryKind::Kms | EntryKind::AwsKms | EntryKind::Kacls => self
                .services
                .iter()
                .find(|b| b.service.id() == entry.key_service_id)
                .and_then(|b| b.service.entry_version(entry)),
            _ => None,
        }
    }
}
