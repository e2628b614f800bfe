//! The key-service trait the SDK calls (PROTOCOL.md). Transport-agnostic and without a `Send`
//! bound, so a wasm32 `fetch` transport and a native HTTP client can both implement it.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;

use crate::error::Error;
use crate::{DataKey, EncryptionContext, EntryKind, WrappedKeyEntry};

/// A boxed future that need not be `Send` (wasm32 futures are not).
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A data key fresh from `/generate`: the plaintext key (opened from its HPKE seal by the
/// transport) and the key service's wrapped form of it.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The plaintext data key.
    pub data_key: DataKey,
    /// The wrapped key to store in a `kms` entry.
    pub wrapped: Vec<u8>,
}

/// A key version's public key for offline `hpke-p256` wraps (`GET /keys/{key_id}/public`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInfo {
    /// The key id.
    pub key_id: String,
    /// The key version the public key belongs to.
    pub version: u32,
    /// Uncompressed SEC1 P-256 public key, 65 bytes.
    pub public_sec1: Vec<u8>,
}

/// One customer key service, as the SDK sees it. Implementations do transport, tokens, HPKE
/// recipient keys and retries; errors are [`Error::KeyService`].
pub trait KeyService {
    /// The key-service id written into wrapped-key entries.
    fn id(&self) -> &str;
    /// The kind of the entries this service makes and opens (FORMAT.md §4.2): `kms` for the keyseal
    /// protocol, `aws-kms` for AWS KMS. Decrypt hands a service only entries of its kind.
    fn entry_kind(&self) -> EntryKind {
        EntryKind::Kms
    }
    /// Whether this kind of service has key versions the SDK can read (`GET /keys/{id}/public`
    /// and [`Self::entry_version`]). AWS KMS rotates key material behind one key id, invisibly to
    /// its callers: rotation jobs then compare key ids only.
    fn reads_versions(&self) -> bool {
        true
    }
    /// `POST /generate`: a fresh data key bound to `context`.
    fn generate<'a>(
        &'a self,
        key_id: &'a str,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<GeneratedKey, Error>>;
    /// `POST /wrap`: wraps an existing data key (e.g. for an escrow entry).
    fn wrap<'a>(
        &'a self,
        key_id: &'a str,
        data_key: &'a DataKey,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>>;
    /// `POST /unwrap`: opens a wrapped key of the given entry kind.
    fn unwrap<'a>(
        &'a self,
        kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<DataKey, Error>>;
    /// `POST /rewrap`: re-wraps under the newest version of `to_key_id` (or the same key) without
    /// the plaintext data key leaving the service. The answer is always a `kms` wrapped key.
    fn rewrap<'a>(
        &'a self,
        kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
        to_key_id: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>>;
    /// `GET /keys/{key_id}/public`.
    fn public_key<'a>(&'a self, key_id: &'a str) -> LocalBoxFuture<'a, Result<PublicKeyInfo, Error>>;
    /// `POST /rewrap-batch` (PROTOCOL.md §3.5.1): many rewraps in one request and one token check.
    /// One result per question, in order; an `Err` of the whole call means none was answered.
    /// The default asks [`Self::rewrap`] one question at a time.
    fn rewrap_batch<'a>(
        &'a self,
        questions: &'a [RewrapQuestion<'a>],
    ) -> LocalBoxFuture<'a, Result<RewrapAnswers, Error>> {
        rewrap_one_by_one(self, questions)
    }
    /// `POST /generate-batch` (PROTOCOL.md §3.2.1): one fresh data key per context, all under
    /// `key_id`, in one request. All or nothing: one [`GeneratedKey`] per context, in order, or
    /// the error of the whole call. The default asks [`Self::generate`] one context at a time.
    fn generate_batch<'a>(
        &'a self,
        key_id: &'a str,
        contexts: &'a [EncryptionContext],
    ) -> LocalBoxFuture<'a, Result<Vec<GeneratedKey>, Error>> {
        generate_one_by_one(self, key_id, contexts)
    }
    /// Whether [`Self::generate_batch`] is one request (so that concurrent encrypts of different
    /// contexts should share it). The default, one request per context, is not.
    fn batches_generate(&self) -> bool {
        false
    }
    /// The key version an entry of this service was made with, when this kind of service can tell
    /// from the entry bytes (its wrapped-key layout is its own business: FORMAT.md §4.2). Used to
    /// display versions and to skip entries already on the newest version during rotation, never
    /// for a security decision. The default knows nothing.
    fn entry_version(&self, entry: &WrappedKeyEntry) -> Option<u32> {
        let _ = entry;
        None
    }
}

/// The answers of [`KeyService::rewrap_batch`]: per question, its wrapped key or its refusal.
pub type RewrapAnswers = Vec<Result<Vec<u8>, Error>>;

/// One question of [`KeyService::rewrap_batch`]: the arguments of [`KeyService::rewrap`].
#[derive(Clone, Copy)]
pub struct RewrapQuestion<'a> {
    /// Kind of the entry.
    pub kind: EntryKind,
    /// Key id of the entry.
    pub key_id: &'a str,
    /// The entry's wrapped key.
    pub wrapped: &'a [u8],
    /// The message's context.
    pub context: &'a EncryptionContext,
    /// Target key id, when not the entry's own key.
    pub to_key_id: Option<&'a str>,
}

/// [`KeyService::generate_batch`] without a batch endpoint: one [`KeyService::generate`] per
/// context, in order; the first error is the answer.
pub fn generate_one_by_one<'a, S: KeyService + ?Sized>(
    service: &'a S,
    key_id: &'a str,
    contexts: &'a [EncryptionContext],
) -> LocalBoxFuture<'a, Result<Vec<GeneratedKey>, Error>> {
    Box::pin(async move {
        let mut out = Vec::with_capacity(contexts.len());
        for c in contexts {
            out.push(service.generate(key_id, c).await?);
        }
        Ok(out)
    })
}

/// [`KeyService::rewrap_batch`] without a batch endpoint: one [`KeyService::rewrap`] per question.
pub fn rewrap_one_by_one<'a, S: KeyService + ?Sized>(
    service: &'a S,
    questions: &'a [RewrapQuestion<'a>],
) -> LocalBoxFuture<'a, Result<RewrapAnswers, Error>> {
    Box::pin(async move {
        let mut out = Vec::with_capacity(questions.len());
        for q in questions {
            out.push(
                service
                    .rewrap(q.kind, q.key_id, q.wrapped, q.context, q.to_key_id)
                    .await,
            );
        }
        Ok(out)
    })
}
