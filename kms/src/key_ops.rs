//! The key operations of docs/PROTOCOL.md §3: generate, generate-batch, wrap, unwrap, rewrap, rewrap-batch and the
//! public key. Each of the first five goes through [`Service::key_op`], which also signs their
//! answers (§6.3); this module holds only their crypto steps and answers.

use keyseal_format::hpke_p256;
use keyseal_format::{DataKey, EncryptionContext};
use keyseal_protocol::identity::AnswerFacts;
use keyseal_protocol::{
    BatchItemAnswer, Bytes, GenerateBatchAnswer, GenerateBatchRequest, GenerateRequest, GeneratedItem,
    KeyAnswer, MAX_GENERATE_BATCH, MAX_REWRAP_BATCH, PublicKeyJwk, Recipient, RewrapBatchAnswer,
    RewrapBatchRequest, RewrapItem, RewrapRequest, SealedKey, SecretBytes, Suite, Token, UnwrapRequest,
    WrapRequest,
};
use zeroize::Zeroizing;

use crate::auth::{Principal, Role};
use crate::crypto;
use crate::error::{Error, Result};
use crate::key_loads::{BatchKeys, KeyLoads};
use crate::service::{Call, Caller, KeyOp, Service};
use crate::store::AuditEvent;
use keyseal_protocol::identity::BatchStatement;

const WRITER: &[Role] = &[Role::Writer];
const READER_OR_WRITER: &[Role] = &[Role::Reader, Role::Writer];

/// The recipient's public key (§6.1), checked.
fn recipient_key(r: Option<&Recipient>) -> Result<Option<&[u8]>> {
    let Some(r) = r else { return Ok(None) };
    if r.suite != Suite::V1 {
        return Err(Error::InvalidRequest(
            "unsupported recipient suite: only {\"kem\":16,\"kdf\":1,\"aead\":2}".into(),
        ));
    }
    let pk = &r.public_key.0;
    if pk.len() != hpke_p256::PUBLIC_KEY_LEN || pk[0] != 0x04 {
        return Err(Error::InvalidRequest(
            "recipient.public_key must be a 65-byte uncompressed SEC1 P-256 point".into(),
        ));
    }
    Ok(Some(pk))
}

/// A seal to the recipient that failed: a point off the curve (the only input it can refuse),
/// or no randomness.
fn seal_error(e: crypto::CryptoError) -> Error {
    match e {
        crypto::CryptoError::Rng => Error::Internal("random number generator failed".into()),
        _ => Error::InvalidRequest("recipient.public_key is not a valid P-256 point".into()),
    }
}

/// Puts the DEK in the answer: sealed to the recipient when one was sent, else in clear (§3.2).
fn deliver(answer: &mut KeyAnswer, dek: &DataKey, recipient: Option<&[u8]>) -> Result<()> {
    match recipient {
        Some(pk) => {
            let sealed = crypto::seal_to_recipient(pk, dek).map_err(seal_error)?;
            answer.sealed_key = Some(SealedKey {
                enc: Bytes(sealed.enc),
                ciphertext: Bytes(sealed.ciphertext),
            });
        }
        None => answer.key = Some(SecretBytes(Zeroizing::new(dek.expose_secret().to_vec()))),
    }
    Ok(())
}

/// The `kind` of a wrapped key (§3.4).
enum Kind {
    Kms,
    HpkeP256,
}

fn kind_of(kind: Option<&str>) -> Result<Kind> {
    match kind.unwrap_or("kms") {
        "kms" => Ok(Kind::Kms),
        "hpke-p256" => Ok(Kind::HpkeP256),
        _ => Err(Error::InvalidRequest(
            "unknown kind: expected \"kms\" or \"hpke-p256\"".into(),
        )),
    }
}

impl Service {
    /// Wraps `dek` under the primary version of `key_id` (counted, §7.2), bound to `ctx`.
    fn wrap_primary(
        &self,
        keys: KeyLoads<'_>,
        key_id: &str,
        ctx: &EncryptionContext,
        dek: &DataKey,
    ) -> Result<(u32, Vec<u8>)> {
        let loaded = keys.reserve_wrap(key_id)?;
        let wrapped = crypto::wrap_dek(
            &loaded.keys.kek,
            key_id,
            loaded.version,
            &ctx.encode(),
            dek.expose_secret(),
        )?;
        Ok((loaded.version, wrapped))
    }

    /// Opens a wrapped key of either kind (§3.4, §7.3, §6.2); records its version in the call.
    fn open_wrapped(
        &self,
        keys: KeyLoads<'_>,
        call: &mut Call,
        key_id: &str,
        kind: Option<&str>,
        wrapped: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<DataKey> {
        match kind_of(kind)? {
            Kind::Kms => {
                let version = crypto::wrapped_version(wrapped)?;
                call.event.key_version = Some(version);
                let loaded = keys.load(key_id, version)?;
                let dek = crypto::unwrap_dek(&loaded.keys.kek, key_id, &ctx.encode(), wrapped)?;
                DataKey::from_bytes(dek.as_ref()).map_err(|_| Error::Internal("bad key length".into()))
            }
            Kind::HpkeP256 => {
                let version = hpke_p256::entry_key_version(wrapped)
                    .map_err(|_| Error::InvalidCiphertext("hpke-p256 wrapped key is malformed".into()))?;
                call.event.key_version = Some(version);
                let loaded = keys.load(key_id, version)?;
                let hpke = loaded
                    .keys
                    .hpke()
                    .map_err(|_| Error::Internal("cannot derive the HPKE key pair".into()))?;
                hpke_p256::open_entry(&hpke.secret, key_id, wrapped, ctx).map_err(|_| {
                    Error::InvalidCiphertext(
                        "hpke-p256 wrapped key does not open (tampered, other key, or other context)".into(),
                    )
                })
            }
        }
    }

    /// `POST /generate` (§3.2).
    pub fn generate(&self, req: &GenerateRequest, header_token: Option<&Token>) -> Result<KeyAnswer> {
        let op = KeyOp {
            name: "generate",
            key_id: &req.key_id,
            other_key_id: None,
            context: &req.context,
            recipient: req.recipient.as_ref().map(|r| &r.public_key.0[..]),
            wrapped_in: &[],
            roles: WRITER,
            reason: req.reason.as_deref(),
        };
        let caller = Caller::Token(req.authorization.as_ref().or(header_token));
        self.audited_key_op(op, caller, |call, _, ctx| {
            let recipient = recipient_key(req.recipient.as_ref())?;
            let dek =
                DataKey::generate().map_err(|_| Error::Internal("random number generator failed".into()))?;
            let (version, wrapped) =
                self.wrap_primary(KeyLoads::Store(self.store()), &req.key_id, ctx, &dek)?;
            call.event.key_version = Some(version);
            let mut answer = KeyAnswer {
                key_id: Some(req.key_id.clone()),
                key_version: Some(version),
                wrapped_key: Some(Bytes(wrapped)),
                ..KeyAnswer::default()
            };
            deliver(&mut answer, &dek, recipient)?;
            Ok(answer)
        })
    }

    /// `POST /generate-batch` (§3.2.1): the token is verified once; every context is authorized,
    /// generated, wrapped and audited as a `/generate` of its own (one row each, one transaction);
    /// the data keys are sealed to the recipient in one HPKE context and the answer carries one
    /// identity signature over the batch statement (§6.3). All or nothing: the first refusal
    /// refuses the whole batch, and the rows of the items before it record that refusal.
    pub fn generate_batch(
        &self,
        req: &GenerateBatchRequest,
        header_token: Option<&Token>,
    ) -> Result<GenerateBatchAnswer> {
        let reason = req.reason.as_deref();
        let refuse =
            |e: Error| self.settle_and_finish(Call::new("generate_batch", &req.key_id, reason), Err(e));
        let principal: Principal = match self.verify(req.authorization.as_ref().or(header_token)) {
            Err(e) => return refuse(e),
            Ok(_) if req.contexts.is_empty() || req.contexts.len() > MAX_GENERATE_BATCH => {
                return refuse(Error::InvalidRequest(format!(
                    "a batch holds 1 to {MAX_GENERATE_BATCH} contexts"
                )));
            }
            Ok(p) => p,
        };
        let recipient = match recipient_key(Some(&req.recipient)) {
            Ok(Some(pk)) => pk,
            Ok(None) => return refuse(Error::InvalidRequest("recipient is required".into())),
            Err(e) => return refuse(e),
        };
        // every item wraps under the same key: the wraps are counted once, n at a time (§8.4)
        let shared = BatchKeys::new(req.contexts.iter().map(|_| req.key_id.as_str()));
        let keys = KeyLoads::Batch(self.store(), &shared);
        let mut calls = Vec::with_capacity(req.contexts.len());
        let mut deks = Vec::with_capacity(req.contexts.len());
        let mut items = Vec::with_capacity(req.contexts.len());
        let mut failure = None;
        for context in &req.contexts {
            let op = KeyOp {
                name: "generate",
                key_id: &req.key_id,
                other_key_id: None,
                context,
                recipient: Some(recipient),
                wrapped_in: &[],
                roles: WRITER,
                reason,
            };
            let mut encoded = Vec::new();
            let (call, result) = self.unsigned_key_op(op, Caller::Verified(&principal), |call, _, ctx| {
                let dek = DataKey::generate()
                    .map_err(|_| Error::Internal("random number generator failed".into()))?;
                let (version, wrapped) = self.wrap_primary(keys, &req.key_id, ctx, &dek)?;
                call.event.key_version = Some(version);
                call.event.detail = "batch".into();
                deks.push(dek);
                encoded = ctx.encode();
                Ok(KeyAnswer {
                    key_id: Some(req.key_id.clone()),
                    key_version: Some(version),
                    wrapped_key: Some(Bytes(wrapped)),
                    ..KeyAnswer::default()
                })
            });
            calls.push(call);
            match result {
                Ok((answer, _)) => items.push((answer, encoded)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let sealed = match failure {
            Some(e) => Err(e),
            None => crypto::seal_batch_to_recipient(recipient, &deks).map_err(seal_error),
        };
        let result = sealed.and_then(|(enc, ciphertexts)| {
            let mut statement = BatchStatement::new(items.len());
            let mut out = Vec::with_capacity(items.len());
            let mut version = 0;
            for ((answer, ctx), ciphertext) in items.into_iter().zip(ciphertexts) {
                let wrapped = answer
                    .wrapped_key
                    .ok_or_else(|| Error::Internal("an item without a wrapped key".into()))?;
                version = answer.key_version.unwrap_or(0);
                let facts = AnswerFacts {
                    op: "generate",
                    key_id: &req.key_id,
                    to_key_id: &req.key_id,
                    context: &ctx,
                    recipient,
                    wrapped_out: &wrapped.0,
                    key_version: version,
                    enc: &enc,
                    ciphertext: &ciphertext,
                    ..AnswerFacts::default()
                };
                statement.answered(&facts.statement());
                out.push(GeneratedItem {
                    wrapped_key: wrapped,
                    ciphertext: Bytes(ciphertext),
                });
            }
            Ok(GenerateBatchAnswer {
                key_id: req.key_id.clone(),
                key_version: version,
                enc: Bytes(enc),
                items: out,
                identity_signature: Some(self.identity().sign_statement(&statement.into_bytes())),
            })
        });
        if let Err(e) = &result {
            // nothing was delivered: every row records the refusal
            for c in &mut calls {
                c.settle::<()>(&Err(e.clone()));
            }
        }
        let events: Vec<&AuditEvent> = calls.iter().map(|c| &c.event).collect();
        self.store()
            .audit_many(&events)
            .map_err(|e| Error::Unavailable(format!("audit log: {e}")))?;
        result
    }

    /// `POST /wrap` (§3.3).
    pub fn wrap(&self, req: &WrapRequest, header_token: Option<&Token>) -> Result<KeyAnswer> {
        let op = KeyOp {
            name: "wrap",
            key_id: &req.key_id,
            other_key_id: None,
            context: &req.context,
            recipient: None,
            wrapped_in: &[],
            roles: WRITER,
            reason: req.reason.as_deref(),
        };
        let caller = Caller::Token(req.authorization.as_ref().or(header_token));
        self.audited_key_op(op, caller, |call, _, ctx| {
            let dek = DataKey::from_bytes(req.key.expose_secret())
                .map_err(|_| Error::InvalidRequest("key must be 32 bytes".into()))?;
            let (version, wrapped) =
                self.wrap_primary(KeyLoads::Store(self.store()), &req.key_id, ctx, &dek)?;
            call.event.key_version = Some(version);
            Ok(KeyAnswer {
                key_id: Some(req.key_id.clone()),
                key_version: Some(version),
                wrapped_key: Some(Bytes(wrapped)),
                ..KeyAnswer::default()
            })
        })
    }

    /// `POST /unwrap` (§3.4).
    pub fn unwrap(&self, req: &UnwrapRequest, header_token: Option<&Token>) -> Result<KeyAnswer> {
        let op = KeyOp {
            name: "unwrap",
            key_id: &req.key_id,
            other_key_id: None,
            context: &req.context,
            recipient: req.recipient.as_ref().map(|r| &r.public_key.0[..]),
            wrapped_in: &req.wrapped_key.0,
            roles: READER_OR_WRITER,
            reason: req.reason.as_deref(),
        };
        let caller = Caller::Token(req.authorization.as_ref().or(header_token));
        self.audited_key_op(op, caller, |call, _, ctx| {
            let recipient = recipient_key(req.recipient.as_ref())?;
            let keys = KeyLoads::Store(self.store());
            let dek = self.open_wrapped(
                keys,
                call,
                &req.key_id,
                req.kind.as_deref(),
                &req.wrapped_key.0,
                ctx,
            )?;
            let mut answer = KeyAnswer {
                key_id: Some(req.key_id.clone()),
                key_version: call.event.key_version,
                ..KeyAnswer::default()
            };
            deliver(&mut answer, &dek, recipient)?;
            Ok(answer)
        })
    }

    /// `POST /rewrap` (§3.5).
    pub fn rewrap(&self, req: &RewrapRequest, header_token: Option<&Token>) -> Result<KeyAnswer> {
        let caller = Caller::Token(req.authorization.as_ref().or(header_token));
        let keys = KeyLoads::Store(self.store());
        let (call, result) = self.rewrap_item(keys, &req.item, caller, req.reason.as_deref());
        let signed = result.map(|(mut answer, statement)| {
            answer.identity_signature = Some(self.identity().sign_statement(&statement));
            answer
        });
        self.finish(call, signed)
    }

    /// One rewrap (a `/rewrap` or one item of `/rewrap-batch`): open under `key_id`, wrap the same
    /// DEK under the primary version of `to_key_id`, bound to the same context. The audit row
    /// names the source version and, as detail, the target. The answer is unsigned; with it comes its
    /// answer statement (§6.3).
    fn rewrap_item(
        &self,
        keys: KeyLoads<'_>,
        item: &RewrapItem,
        caller: Caller<'_>,
        reason: Option<&str>,
    ) -> (Call, Result<(KeyAnswer, Vec<u8>)>) {
        let target = item.to_key_id.as_deref().unwrap_or(&item.key_id);
        let op = KeyOp {
            name: "rewrap",
            key_id: &item.key_id,
            other_key_id: Some(target),
            context: &item.context,
            recipient: None,
            wrapped_in: &item.wrapped_key.0,
            roles: WRITER,
            reason,
        };
        self.unsigned_key_op(op, caller, |call, _, ctx| {
            let dek = self.open_wrapped(
                keys,
                call,
                &item.key_id,
                item.kind.as_deref(),
                &item.wrapped_key.0,
                ctx,
            )?;
            let (version, wrapped) = self.wrap_primary(keys, target, ctx, &dek)?;
            call.event.detail = format!("to {target}#{version}");
            Ok(KeyAnswer {
                key_id: Some(target.to_string()),
                key_version: Some(version),
                wrapped_key: Some(Bytes(wrapped)),
                ..KeyAnswer::default()
            })
        })
    }

    /// `POST /rewrap-batch` (§3.5.1): the token is verified once, then every item is authorized,
    /// rewrapped and audited exactly as a `/rewrap` of its own; the answer lists one result per
    /// item, in order, and leaves only when every item's row is written (one transaction). A bad
    /// token or an empty or oversized batch refuses the whole batch.
    pub fn rewrap_batch(
        &self,
        req: &RewrapBatchRequest,
        header_token: Option<&Token>,
    ) -> Result<RewrapBatchAnswer> {
        let reason = req.reason.as_deref();
        let refuse = |e: Error| self.settle_and_finish(Call::new("rewrap_batch", "", reason), Err(e));
        let principal: Principal = match self.verify(req.authorization.as_ref().or(header_token)) {
            Err(e) => return refuse(e),
            Ok(_) if req.items.is_empty() || req.items.len() > MAX_REWRAP_BATCH => {
                return refuse(Error::InvalidRequest(format!(
                    "a batch holds 1 to {MAX_REWRAP_BATCH} items"
                )));
            }
            Ok(p) => p,
        };
        let mut calls = Vec::with_capacity(req.items.len());
        let mut items = Vec::with_capacity(req.items.len());
        let mut statement = BatchStatement::new(req.items.len());
        let shared = BatchKeys::new(
            req.items
                .iter()
                .map(|i| i.to_key_id.as_deref().unwrap_or(&i.key_id)),
        );
        let keys = KeyLoads::Batch(self.store(), &shared);
        for item in &req.items {
            let (call, result) = self.rewrap_item(keys, item, Caller::Verified(&principal), reason);
            calls.push(call);
            items.push(match result {
                Ok((answer, answered)) => {
                    statement.answered(&answered);
                    BatchItemAnswer::Rewrapped(answer)
                }
                Err(e) => {
                    let error = e.name().as_str();
                    statement.refused(error);
                    BatchItemAnswer::Refused {
                        error: error.into(),
                        message: e.message().into(),
                    }
                }
            });
        }
        let events: Vec<&AuditEvent> = calls.iter().map(|c| &c.event).collect();
        self.store()
            .audit_many(&events)
            .map_err(|e| Error::Unavailable(format!("audit log: {e}")))?;
        Ok(RewrapBatchAnswer {
            items,
            identity_signature: Some(self.identity().sign_statement(&statement.into_bytes())),
        })
    }

    /// `GET /keys/{key_id}/public` (§3.6): the JWK of the primary version of an enabled key,
    /// signed by the identity key (§6.3). No token is needed; the request is audited like any
    /// other (subject `-`).
    pub fn public_jwk(&self, key_id: &str) -> Result<PublicKeyJwk> {
        let mut call = Call::new("public_key", key_id, None);
        let result = (|| {
            crate::key_id::split(key_id)
                .ok_or_else(|| Error::InvalidRequest(crate::key_id::SYNTAX.into()))?;
            let loaded = self.store().load(key_id, None)?;
            call.event.key_version = Some(loaded.version);
            let public = loaded
                .keys
                .hpke()
                .map_err(|_| Error::Internal("cannot derive the HPKE key pair".into()))?
                .public;
            let mut jwk = PublicKeyJwk::from_sec1(key_id, loaded.version, &public)
                .ok_or_else(|| Error::Internal("not an uncompressed P-256 point".into()))?;
            jwk.identity_signature = Some(self.identity().sign_public_key(key_id, loaded.version, &public));
            Ok(jwk)
        })();
        call.settle(&result);
        self.finish(call, result)
    }
}
