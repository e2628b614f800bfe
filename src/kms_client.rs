//! `KmsClient`: a [`KeyService`] over the keyseal key-service protocol v1 (PROTOCOL.md), the
//! `keyseal` kind of key service. Requests and answers are the typed structs of
//! `keyseal-protocol`; the resilience policy is `Endpoints` (`endpoints.rs`). Every `/generate` and `/unwrap`
//! carries a fresh recipient key and expects the data key sealed to it (PROTOCOL.md §6.1).

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;

use keyseal_format::hpke_p256::{
    SealedKey, batch_context, open_batch_item, open_from_sender_with_dh, sec1_array,
};
use keyseal_protocol as proto;
use keyseal_protocol::identity::{AnswerFacts, BatchStatement};
use keyseal_protocol::{ErrorBody, KeyAnswer, Token};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::endpoints::{Call, CallError, Endpoints};
use crate::error::{Error, KeyServiceErrorKind};
use crate::events::Observer;
use crate::identity::{PinnedIdentity, answer_statement};
use crate::key_service::{
    GeneratedKey, KeyService, LocalBoxFuture, PublicKeyInfo, RewrapAnswers, RewrapQuestion,
    generate_one_by_one, rewrap_one_by_one,
};
use crate::p256_engine::{EphemeralKey, P256Engine, rust_p256};
use crate::refusal::{classify, protocol_error, refusal_of};
use crate::retry::RetryPolicy;
use crate::transport::{Clock, HttpTransport, TokenRequest, TokenSource};
use crate::{DataKey, EncryptionContext, EntryKind, WrappedKeyEntry};

/// Configuration of one key service for [`KmsClient`].
pub struct KmsClientConfig {
    /// The id written into wrapped-key entries (`acme`).
    pub id: String,
    /// Base URLs ending in `/v1`, tried in order.
    pub urls: Vec<String>,
    /// Timeouts and retries.
    pub policy: RetryPolicy,
    /// Accept a plaintext `key` answer (only for services that cannot seal to a recipient).
    pub allow_plaintext_keys: bool,
    /// `reason` sent with each call (audit log).
    pub reason: Option<String>,
    /// The service's identity public key (uncompressed SEC1), pinned: every answer and public key
    /// must be signed by it (PROTOCOL.md §6.3). `None`: answers are not checked for a signature.
    pub identity: Option<Vec<u8>>,
}

/// A protocol-v1 key-service client.
pub struct KmsClient {
    id: String,
    endpoints: Endpoints,
    allow_plaintext_keys: bool,
    reason: Option<String>,
    identity: Option<PinnedIdentity>,
    p256: Rc<dyn P256Engine>,
    tokens: Rc<dyn TokenSource>,
    observer: Rc<Observer>,
    /// Cleared when the service answers `/rewrap-batch` with 404/405 (an optional endpoint).
    batch_supported: Cell<bool>,
    /// Cleared when the service answers `/generate-batch` with 404/405 (optional too).
    generate_batch_supported: Cell<bool>,
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|_| protocol_error("answer is not the expected JSON"))
}

fn recipient(kp: &dyn EphemeralKey) -> proto::Recipient {
    proto::Recipient {
        suite: proto::Suite::V1,
        public_key: proto::Bytes(kp.public_sec1().to_vec()),
    }
}

/// The data key of a `/generate` or `/unwrap` answer: opened from `sealed_key` with our ephemeral
/// `recipient`, or taken from a plaintext `key` only when `allow_plaintext` (otherwise
/// `DOWNGRADE_REFUSED`, PROTOCOL.md §3.2).
async fn data_key_of(
    a: &KeyAnswer,
    recipient: &dyn EphemeralKey,
    allow_plaintext: bool,
) -> Result<DataKey, Error> {
    if let Some(s) = &a.sealed_key {
        let unopened = || protocol_error("sealed_key does not open");
        let enc = sec1_array(&s.enc.0).map_err(|_| unopened())?;
        let dh = recipient.diffie_hellman(enc).await.map_err(|_| unopened())?;
        let sealed = SealedKey {
            enc: s.enc.0.clone(),
            ciphertext: s.ciphertext.0.clone(),
        };
        return open_from_sender_with_dh(&dh, recipient.public_sec1(), &sealed).map_err(|_| unopened());
    }
    match &a.key {
        Some(_) if !allow_plaintext => Err(Error::key_service(
            KeyServiceErrorKind::DowngradeRefused,
            "key service answered a plaintext key although a recipient was sent",
        )),
        Some(k) => DataKey::from_bytes(k.expose_secret()).map_err(|_| protocol_error("key is not 32 bytes")),
        None => Err(protocol_error("answer lacks sealed_key")),
    }
}

/// Whether a service answered that it lacks an optional endpoint (`/rewrap-batch`,
/// `/generate-batch`): 404 or 405 without a refusal the protocol names.
fn endpoint_missing(e: &CallError) -> bool {
    matches!(
        e,
        CallError {
            status: Some(404 | 405),
            error: Error::KeyService {
                kind: KeyServiceErrorKind::Protocol,
                ..
            },
        }
    )
}

fn wrapped_of(a: KeyAnswer) -> Result<Vec<u8>, Error> {
    a.wrapped_key
        .map(|w| w.0)
        .ok_or_else(|| protocol_error("answer lacks wrapped_key"))
}

fn percent_encode_key_id(id: &str) -> String {
    let mut s = String::with_capacity(id.len() + 4);
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fn rewrap_item(q: &RewrapQuestion<'_>) -> proto::RewrapItem {
    proto::RewrapItem {
        key_id: q.key_id.into(),
        kind: Some(q.kind.name().into()),
        wrapped_key: q.wrapped.into(),
        context: q.context.into(),
        to_key_id: q.to_key_id.map(String::from),
    }
}

/// FORMAT.md §4.2: a key-service id (written into every entry) is 1..=255 bytes.
pub(crate) fn check_service_id(id: &str) -> Result<(), Error> {
    if id.is_empty() || id.len() > 255 {
        return Err(Error::invalid("key service id must be 1..=255 bytes"));
    }
    Ok(())
}

/// PROTOCOL.md §1: a base URL is `https`, or plain `http` on loopback only (tests, the demo).
pub(crate) fn check_url(url: &str) -> Result<(), Error> {
    if url.starts_with("https://") {
        return Ok(());
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(Error::invalid(
            "a key-service URL must start with https:// (http:// on loopback only)",
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    let ipv4_loopback = {
        let octets: Vec<&str> = host.split('.').collect();
        octets.len() == 4 && octets[0] == "127" && octets.iter().all(|o| o.parse::<u8>().is_ok())
    };
    let loopback = host == "localhost" || host == "::1" || ipv4_loopback;
    if loopback {
        Ok(())
    } else {
        Err(Error::invalid(
            "plain http:// key-service URLs are allowed on loopback only: use https://",
        ))
    }
}

impl KmsClient {
    /// A client; no request is made until the first call. Every URL must be `https` (or `http` on
    /// loopback).
    pub fn new(
        config: KmsClientConfig,
        transport: Rc<dyn HttpTransport>,
        clock: Rc<dyn Clock>,
        tokens: Rc<dyn TokenSource>,
        observer: Rc<Observer>,
    ) -> Result<Self, Error> {
        check_service_id(&config.id)?;
        config.urls.iter().try_for_each(|u| check_url(u))?;
        let endpoints = Endpoints::new(
            &config.id,
            config.urls,
            config.policy,
            transport,
            clock,
            observer.clone(),
        )?;
        Ok(Self {
            id: config.id,
            endpoints,
            allow_plaintext_keys: config.allow_plaintext_keys,
            reason: config.reason,
            identity: config
                .identity
                .map(|pk| PinnedIdentity::new(pk, rust_p256()))
                .transpose()?,
            p256: rust_p256(),
            tokens,
            observer,
            batch_supported: Cell::new(true),
            generate_batch_supported: Cell::new(true),
        })
    }

    /// Sends each key-service attempt as a child span of `trace`'s current W3C trace context
    /// (a `traceparent` header; the attempt's event carries its trace and span ids).
    #[must_use]
    pub fn with_trace(mut self, trace: Rc<dyn crate::TraceSource>) -> Self {
        self.endpoints.set_trace(trace);
        self
    }

    /// Uses `engine` for recipient keys and identity signatures (default: [`RustP256`](crate::RustP256)).
    #[must_use]
    pub fn with_p256(mut self, engine: Rc<dyn P256Engine>) -> Self {
        if let Some(id) = self.identity.as_mut() {
            id.set_engine(engine.clone());
        }
        self.p256 = engine;
        self
    }

    /// The P-256 engine's name (`wasm`, `webcrypto`).
    pub fn p256_engine(&self) -> &'static str {
        self.p256.name()
    }

    /// The caller's token for `op` on `key_id` (a callback failure is `ACCESS_DENIED`).
    async fn token(&self, op: &'static str, key_id: &str) -> Result<Token, Error> {
        let request = TokenRequest {
            service: &self.id,
            key_id,
            op,
        };
        self.tokens.token(request).await.map(Token::new).map_err(|e| {
            Error::key_service(
                KeyServiceErrorKind::AccessDenied,
                format!("token callback failed: {e}"),
            )
        })
    }

    /// POSTs `request` to `/{path}` with the whole policy and returns the raw 2xx body.
    async fn post<R: Serialize>(
        &self,
        op: &'static str,
        path: &str,
        key_id: &str,
        request: &R,
    ) -> Result<Vec<u8>, CallError> {
        let body = Zeroizing::new(serde_json::to_vec(request).map_err(|_| CallError {
            status: None,
            error: protocol_error("request encoding"),
        })?);
        let call = Call {
            op,
            key_id,
            method: "POST",
            path,
            body: Some(body.to_vec()),
            classify,
            sign: None,
        };
        self.endpoints.call(&call).await
    }

    async fn key_op<R: Serialize>(
        &self,
        op: &'static str,
        key_id: &str,
        request: &R,
    ) -> Result<KeyAnswer, Error> {
        let bytes = self
            .post(op, &format!("/{op}"), key_id, request)
            .await
            .map_err(|e| e.error)?;
        parse(&bytes)
    }

    /// With a pinned identity: the answer must be signed for this request (PROTOCOL.md §6.3).
    async fn check(&self, request: AnswerFacts<'_>, a: &KeyAnswer) -> Result<(), Error> {
        match &self.identity {
            Some(id) => id.check_answer(request, a).await,
            None => Ok(()),
        }
    }

    async fn check_rewrap(&self, q: &RewrapQuestion<'_>, a: &KeyAnswer) -> Result<(), Error> {
        let ctx = q.context.encode();
        self.check(rewrap_facts(q, &ctx), a).await
    }

    /// With a pinned identity, the data key never crosses the connection (§6.3): it is sealed
    /// offline to the key's signature-checked public key as an `hpke-p256` entry, which the
    /// service's `/rewrap` turns into a `kms` wrapped key.
    async fn wrap_sealed(
        &self,
        key_id: &str,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, Error> {
        let pk = self.public_key(key_id).await?;
        let entry =
            keyseal_format::hpke_p256::seal_entry(&pk.public_sec1, key_id, pk.version, context, data_key)?;
        self.rewrap(EntryKind::HpkeP256, key_id, &entry, context, None)
            .await
    }

    /// The data keys of a `/generate-batch` answer (PROTOCOL.md §3.2.1): one item per context, the
    /// batch signature checked when an identity is pinned (§6.3), every item opened in the batch's
    /// HPKE context with one ECDH.
    async fn batch_keys(
        &self,
        body: &[u8],
        key_id: &str,
        contexts: &[EncryptionContext],
        kp: &dyn EphemeralKey,
    ) -> Result<Vec<GeneratedKey>, Error> {
        let b: proto::GenerateBatchAnswer = parse(body)?;
        if b.key_id != key_id || b.items.len() != contexts.len() {
            return Err(protocol_error("batch answer does not match the request"));
        }
        if let Some(id) = &self.identity {
            let mut statement = BatchStatement::new(contexts.len());
            for (item, context) in b.items.iter().zip(contexts) {
                let ctx = context.encode();
                let facts = AnswerFacts {
                    op: "generate",
                    key_id,
                    to_key_id: key_id,
                    context: &ctx,
                    recipient: kp.public_sec1(),
                    wrapped_out: &item.wrapped_key.0,
                    key_version: b.key_version,
                    enc: &b.enc.0,
                    ciphertext: &item.ciphertext.0,
                    ..AnswerFacts::default()
                };
                statement.answered(&facts.statement());
            }
            id.check_batch(statement, b.identity_signature.as_ref()).await?;
        }
        let unopened = || protocol_error("sealed_key does not open");
        let enc = sec1_array(&b.enc.0).map_err(|_| unopened())?;
        let dh = kp.diffie_hellman(enc).await.map_err(|_| unopened())?;
        let hpke = batch_context(&dh, kp.public_sec1(), enc).map_err(|_| unopened())?;
        let mut out = Vec::with_capacity(b.items.len());
        for (i, item) in b.items.into_iter().enumerate() {
            let index = u32::try_from(i).map_err(|_| unopened())?;
            out.push(GeneratedKey {
                data_key: open_batch_item(&hpke, index, &item.ciphertext.0).map_err(|_| unopened())?,
                wrapped: item.wrapped_key.0,
            });
        }
        Ok(out)
    }

    /// The key version of a `kms` entry made by `keyseal-kms` (PROTOCOL.md §7.2), for display and
    /// for skipping entries already on the newest version; never used for a security decision.
    pub fn kms_entry_version(wrapped: &[u8]) -> Option<u32> {
        proto::kms_layout::version(wrapped)
    }
}

impl KeyService for KmsClient {
    fn id(&self) -> &str {
        &self.id
    }

    fn generate<'a>(
        &'a self,
        key_id: &'a str,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<GeneratedKey, Error>> {
        Box::pin(async move {
            let authorization = Some(self.token("generate", key_id).await?);
            let kp = self.p256.generate().await?;
            let request = proto::GenerateRequest {
                key_id: key_id.into(),
                context: context.into(),
                recipient: Some(recipient(kp.as_ref())),
                authorization,
                reason: self.reason.clone(),
            };
            let a = self.key_op("generate", key_id, &request).await?;
            let ctx = context.encode();
            let facts = AnswerFacts {
                op: "generate",
                key_id,
                to_key_id: key_id,
                context: &ctx,
                recipient: kp.public_sec1(),
                ..AnswerFacts::default()
            };
            self.check(facts, &a).await?;
            let data_key = data_key_of(&a, kp.as_ref(), self.allow_plaintext_keys).await?;
            self.observer.key_worked(key_id);
            Ok(GeneratedKey {
                data_key,
                wrapped: wrapped_of(a)?,
            })
        })
    }

    fn batches_generate(&self) -> bool {
        self.generate_batch_supported.get()
    }

    fn generate_batch<'a>(
        &'a self,
        key_id: &'a str,
        contexts: &'a [EncryptionContext],
    ) -> LocalBoxFuture<'a, Result<Vec<GeneratedKey>, Error>> {
        Box::pin(async move {
            if !self.generate_batch_supported.get() || contexts.len() > proto::MAX_GENERATE_BATCH {
                return generate_one_by_one(self, key_id, contexts).await;
            }
            let authorization = Some(self.token("generate_batch", key_id).await?);
            let kp = self.p256.generate().await?;
            let request = proto::GenerateBatchRequest {
                key_id: key_id.into(),
                contexts: contexts.iter().map(Into::into).collect(),
                recipient: recipient(kp.as_ref()),
                authorization,
                reason: self.reason.clone(),
            };
            match self
                .post("generate_batch", "/generate-batch", key_id, &request)
                .await
            {
                Ok(bytes) => {
                    let keys = self.batch_keys(&bytes, key_id, contexts, kp.as_ref()).await?;
                    self.observer.key_worked(key_id);
                    Ok(keys)
                }
                // A service without the endpoint (it is optional, PROTOCOL.md §3.2.1): one
                // `/generate` per context from now on.
                Err(e) if endpoint_missing(&e) => {
                    self.generate_batch_supported.set(false);
                    generate_one_by_one(self, key_id, contexts).await
                }
                Err(e) => Err(e.error),
            }
        })
    }

    fn wrap<'a>(
        &'a self,
        key_id: &'a str,
        data_key: &'a DataKey,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move {
            if self.identity.is_some() {
                return self.wrap_sealed(key_id, data_key, context).await;
            }
            let authorization = Some(self.token("wrap", key_id).await?);
            let request = proto::WrapRequest {
                key_id: key_id.into(),
                key: proto::SecretBytes(Zeroizing::new(data_key.expose_secret().to_vec())),
                context: context.into(),
                authorization,
                reason: self.reason.clone(),
            };
            let a = self.key_op("wrap", key_id, &request).await?;
            let ctx = context.encode();
            let facts = AnswerFacts {
                op: "wrap",
                key_id,
                to_key_id: key_id,
                context: &ctx,
                ..AnswerFacts::default()
            };
            self.check(facts, &a).await?;
            wrapped_of(a)
        })
    }

    fn unwrap<'a>(
        &'a self,
        kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<DataKey, Error>> {
        Box::pin(async move {
            let authorization = Some(self.token("unwrap", key_id).await?);
            let kp = self.p256.generate().await?;
            let request = proto::UnwrapRequest {
                key_id: key_id.into(),
                kind: Some(kind.name().into()),
                wrapped_key: wrapped.into(),
                context: context.into(),
                recipient: Some(recipient(kp.as_ref())),
                authorization,
                reason: self.reason.clone(),
            };
            let a = self.key_op("unwrap", key_id, &request).await?;
            let ctx = context.encode();
            let facts = AnswerFacts {
                op: "unwrap",
                key_id,
                to_key_id: key_id,
                context: &ctx,
                recipient: kp.public_sec1(),
                wrapped_in: wrapped,
                ..AnswerFacts::default()
            };
            self.check(facts, &a).await?;
            let dek = data_key_of(&a, kp.as_ref(), self.allow_plaintext_keys).await?;
            self.observer.key_worked(key_id);
            Ok(dek)
        })
    }

    fn rewrap<'a>(
        &'a self,
        kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
        to_key_id: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move {
            let authorization = Some(self.token("rewrap", key_id).await?);
            let q = RewrapQuestion {
                kind,
                key_id,
                wrapped,
                context,
                to_key_id,
            };
            let request = proto::RewrapRequest {
                item: rewrap_item(&q),
                authorization,
                reason: self.reason.clone(),
            };
            let a = self.key_op("rewrap", key_id, &request).await?;
            self.check_rewrap(&q, &a).await?;
            wrapped_of(a)
        })
    }

    fn rewrap_batch<'a>(
        &'a self,
        questions: &'a [RewrapQuestion<'a>],
    ) -> LocalBoxFuture<'a, Result<RewrapAnswers, Error>> {
        Box::pin(async move {
            let Some(first) = questions.first() else {
                return Ok(Vec::new());
            };
            if !self.batch_supported.get() {
                return rewrap_one_by_one(self, questions).await;
            }
            // One token for the batch, asked for the first item's key (PROTOCOL.md §3.5.1).
            let authorization = Some(self.token("rewrap_batch", first.key_id).await?);
            let request = proto::RewrapBatchRequest {
                items: questions.iter().map(rewrap_item).collect(),
                authorization,
                reason: self.reason.clone(),
            };
            match self
                .post("rewrap_batch", "/rewrap-batch", first.key_id, &request)
                .await
            {
                Ok(bytes) => batch_answers(&bytes, questions, self.identity.as_ref()).await,
                // A service without the endpoint (PROTOCOL.md §3.5.1: it is optional): ask one by
                // one from now on.
                Err(e) if endpoint_missing(&e) => {
                    self.batch_supported.set(false);
                    rewrap_one_by_one(self, questions).await
                }
                Err(e) => Err(e.error),
            }
        })
    }

    fn public_key<'a>(&'a self, key_id: &'a str) -> LocalBoxFuture<'a, Result<PublicKeyInfo, Error>> {
        Box::pin(async move {
            let path = format!("/keys/{}/public", percent_encode_key_id(key_id));
            let call = Call {
                op: "public_key",
                key_id,
                method: "GET",
                path: &path,
                body: None,
                classify,
                sign: None,
            };
            let bytes = self.endpoints.call(&call).await.map_err(|e| e.error)?;
            let jwk: proto::PublicKeyJwk =
                serde_json::from_slice(&bytes).map_err(|_| protocol_error("public key is not a JWK"))?;
            let public_sec1 = jwk.to_sec1().ok_or_else(|| {
                protocol_error("public key is not an EC P-256 JWK with 32-byte coordinates")
            })?;
            if jwk.key_id != key_id {
                return Err(protocol_error("public key of another key id"));
            }
            if let Some(id) = &self.identity {
                id.check_public_key(
                    key_id,
                    jwk.key_version,
                    &public_sec1,
                    jwk.identity_signature.as_ref(),
                )
                .await?;
            }
            Ok(PublicKeyInfo {
                key_id: key_id.into(),
                version: jwk.key_version,
                public_sec1,
            })
        })
    }

    fn entry_version(&self, entry: &WrappedKeyEntry) -> Option<u32> {
        match entry.kind {
            EntryKind::Kms => Self::kms_entry_version(&entry.wrapped),
            _ => None,
        }
    }
}

/// What a rewrap answer's statement binds from the question (§6.3); `ctx` is its encoded context.
fn rewrap_facts<'a>(q: &'a RewrapQuestion<'a>, ctx: &'a [u8]) -> AnswerFacts<'a> {
    AnswerFacts {
        op: "rewrap",
        key_id: q.key_id,
        to_key_id: q.to_key_id.unwrap_or(q.key_id),
        context: ctx,
        wrapped_in: q.wrapped,
        ..AnswerFacts::default()
    }
}

/// The answer of `/rewrap-batch` (PROTOCOL.md §3.5.1): exactly one item per question, each a
/// wrapped key or a refusal mapped as §5 maps a whole answer. With a pinned identity the batch
/// signature must verify over every item (§6.3), or nothing of the answer is used.
async fn batch_answers(
    body: &[u8],
    questions: &[RewrapQuestion<'_>],
    identity: Option<&PinnedIdentity>,
) -> Result<RewrapAnswers, Error> {
    let b: proto::RewrapBatchAnswer =
        serde_json::from_slice(body).map_err(|_| protocol_error("batch answer is not the expected JSON"))?;
    if b.items.len() != questions.len() {
        return Err(protocol_error("batch answer has the wrong number of items"));
    }
    let mut statement = BatchStatement::new(questions.len());
    let answers = b
        .items
        .into_iter()
        .zip(questions)
        .map(|(item, q)| match item {
            proto::BatchItemAnswer::Refused { error, message } => {
                statement.refused(&error);
                let body = ErrorBody {
                    code: 400,
                    error,
                    message,
                    disabled_at: None,
                };
                Err(refusal_of(400, Some(&body)).0)
            }
            proto::BatchItemAnswer::Rewrapped(a) => {
                if identity.is_some() {
                    let ctx = q.context.encode();
                    statement.answered(&answer_statement(rewrap_facts(q, &ctx), &a));
                }
                a.wrapped_key
                    .map(|w| w.0)
                    .ok_or_else(|| protocol_error("batch item lacks wrapped_key"))
            }
        })
        .collect();
    if let Some(id) = identity {
        id.check_batch(statement, b.identity_signature.as_ref()).await?;
    }
    Ok(answers)
}
