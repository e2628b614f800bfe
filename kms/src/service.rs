//! The key service independent of HTTP: the store, the token verifier and the identity key, the
//! one path every key operation takes (authorize → context → load and crypto → answer → identity
//! signature → audit), and the audit bookkeeping of docs/PROTOCOL.md §9. The operations are in
//! `key_ops` (§3) and `admin` (§8); the HTTP layer and the command line both call them.

use keyseal_format::EncryptionContext;
use keyseal_protocol::identity::AnswerFacts;
use keyseal_protocol::{KeyAnswer, Token, WireContext};

use crate::auth::{Principal, Role, Verifier};
use crate::error::{Error, Result};
use crate::identity::Identity;
use crate::store::{AuditEvent, Store};

/// The key service: store + token verifier + identity key (§6.3).
pub struct Service {
    store: Store,
    verifier: Verifier,
    identity: Identity,
}

/// Bookkeeping of one audited call: the audit row it will append.
#[derive(Debug)]
pub struct Call {
    /// The row (the store caps its fields, §9).
    pub event: AuditEvent,
}

impl Call {
    /// A call of `operation` on `key_id` (may be empty), not yet attributed to anyone.
    pub fn new(operation: &str, key_id: &str, reason: Option<&str>) -> Self {
        crate::otlp::note_call(key_id);
        Call {
            event: AuditEvent {
                subject: "-".into(),
                tenant: crate::key_id::split(key_id)
                    .map(|(t, _)| t.to_string())
                    .unwrap_or_default(),
                key_id: key_id.to_string(),
                operation: operation.to_string(),
                reason: reason.unwrap_or_default().to_string(),
                ..AuditEvent::default()
            },
        }
    }

    /// Records the outcome: `ok`, or the error name with its message as detail.
    pub fn settle<T>(&mut self, result: &Result<T>) {
        match result {
            Ok(_) => self.event.outcome = "ok".into(),
            Err(e) => {
                self.event.outcome = e.name().as_str().into();
                self.event.detail = e.message().to_string();
            }
        }
    }
}

/// Who asks for a key operation (§4): a token still to verify, or a principal verified once for a
/// whole `/rewrap-batch` (§3.5.1).
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// The request's token (body member or `Authorization: Bearer`), absent when none was sent.
    Token(Option<&'a Token>),
    /// Already verified.
    Verified(&'a Principal),
}

/// A key operation as the one path sees it.
#[derive(Debug, Clone, Copy)]
pub struct KeyOp<'a> {
    /// The audited operation name (`generate`, `unwrap`, ...).
    pub name: &'static str,
    /// The key named by the request.
    pub key_id: &'a str,
    /// Another key the request names, authorized like `key_id`: rewrap's `to_key_id` (§3.5),
    /// the key that wraps the answer's wrapped key (`key_id` when absent, §6.3).
    pub other_key_id: Option<&'a str>,
    /// The request's encryption context.
    pub context: &'a WireContext,
    /// The request's recipient public key as sent (§6.1), signed in the answer statement (§6.3).
    pub recipient: Option<&'a [u8]>,
    /// The request's wrapped key (unwrap, rewrap; empty otherwise), signed in the answer
    /// statement (§6.3).
    pub wrapped_in: &'a [u8],
    /// The roles allowed to perform it (§4.2; roles do not nest).
    pub roles: &'static [Role],
    /// The caller's reason, for the audit log.
    pub reason: Option<&'a str>,
}

/// §6.3: the answer statement of `answer` to the request described by `op`. `to_key_id` is the
/// key that wraps the answer's wrapped key (rewrap's `to_key_id`, else `key_id`); absent values
/// are empty.
fn answer_statement(op: &KeyOp<'_>, context: &EncryptionContext, answer: &KeyAnswer) -> Result<Vec<u8>> {
    let key_version = answer
        .key_version
        .ok_or_else(|| Error::Internal("a key operation answered without key_version".into()))?;
    let context = context.encode();
    let (enc, ciphertext) = answer
        .sealed_key
        .as_ref()
        .map_or((&[][..], &[][..]), |s| (&s.enc.0[..], &s.ciphertext.0[..]));
    let facts = AnswerFacts {
        op: op.name,
        key_id: op.key_id,
        to_key_id: op.other_key_id.unwrap_or(op.key_id),
        context: &context,
        recipient: op.recipient.unwrap_or_default(),
        wrapped_in: op.wrapped_in,
        wrapped_out: answer.wrapped_key.as_ref().map_or(&[][..], |w| &w.0[..]),
        key_version,
        enc,
        ciphertext,
    };
    Ok(facts.statement())
}

/// The tenant and role checks of §4 for a verified principal on `key_id`.
pub fn authorize(p: &Principal, key_id: &str, roles: &[Role], operation: &str) -> Result<()> {
    let (tenant, _) =
        crate::key_id::split(key_id).ok_or_else(|| Error::InvalidRequest(crate::key_id::SYNTAX.into()))?;
    may_use_tenant(p, tenant)?;
    if !roles.contains(&p.role) {
        return Err(Error::AccessDenied(format!(
            "role {} may not call {operation}",
            p.role.as_str()
        )));
    }
    Ok(())
}

/// Refuses a principal whose tenant is not `tenant` (§4.1).
pub fn may_use_tenant(p: &Principal, tenant: &str) -> Result<()> {
    if p.tenant != tenant {
        return Err(Error::AccessDenied(format!(
            "token tenant {:?} may not use keys of tenant {tenant:?}",
            p.tenant
        )));
    }
    Ok(())
}

impl Service {
    /// A service over `store`, trusting the issuers of `verifier`, signing with the store's
    /// identity key (§6.3), which is created when the store has none yet: every answer of a
    /// `keyseal-kms` is signed.
    pub fn new(store: Store, verifier: Verifier) -> Result<Self> {
        let identity = Identity::open(&store, true)?;
        Ok(Service {
            store,
            verifier,
            identity,
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The token verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The identity key (§6.3).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Verifies a request's token (§4.1).
    pub fn verify(&self, token: Option<&Token>) -> Result<Principal> {
        crate::otlp::time(crate::otlp::Phase::Token, || {
            let p = self.verifier.verify(token.map_or("", Token::expose_secret));
            if let Ok(p) = &p {
                crate::otlp::note_tenant(&p.tenant);
            }
            p
        })
    }

    /// The one path of a key operation (§3.2–§3.5.1): verify the token, check key id, tenant and
    /// role (§4), parse the context, run `step` (load, crypto, answer), then sign the answer
    /// with the identity key (§6.3). Returns the settled call, whose audit row the caller appends
    /// ([`Self::finish`], or one transaction for a batch).
    pub fn key_op(
        &self,
        op: KeyOp<'_>,
        caller: Caller<'_>,
        step: impl FnOnce(&mut Call, &Principal, &EncryptionContext) -> Result<KeyAnswer>,
    ) -> (Call, Result<KeyAnswer>) {
        let mut call = Call::new(op.name, op.key_id, op.reason);
        let result = self
            .key_op_steps(&mut call, op, caller, step)
            .map(|(mut answer, statement)| {
                let signature = crate::otlp::time(crate::otlp::Phase::Crypto, || {
                    self.identity.sign_statement(&statement)
                });
                answer.identity_signature = Some(signature);
                answer
            });
        call.settle(&result);
        (call, result)
    }

    /// [`Self::key_op`] without the signature: the answer and its answer statement (§6.3), for the
    /// caller to sign alone (`/rewrap`) or as part of a batch statement (`/rewrap-batch`, one
    /// signature for the whole batch).
    pub fn unsigned_key_op(
        &self,
        op: KeyOp<'_>,
        caller: Caller<'_>,
        step: impl FnOnce(&mut Call, &Principal, &EncryptionContext) -> Result<KeyAnswer>,
    ) -> (Call, Result<(KeyAnswer, Vec<u8>)>) {
        let mut call = Call::new(op.name, op.key_id, op.reason);
        let result = self.key_op_steps(&mut call, op, caller, step);
        call.settle(&result);
        (call, result)
    }

    fn key_op_steps(
        &self,
        call: &mut Call,
        op: KeyOp<'_>,
        caller: Caller<'_>,
        step: impl FnOnce(&mut Call, &Principal, &EncryptionContext) -> Result<KeyAnswer>,
    ) -> Result<(KeyAnswer, Vec<u8>)> {
        let verified;
        let principal = match caller {
            Caller::Token(token) => {
                verified = self.verify(token)?;
                &verified
            }
            Caller::Verified(p) => p,
        };
        call.event.subject = principal.subject.clone();
        authorize(principal, op.key_id, op.roles, op.name)?;
        if let Some(other) = op.other_key_id {
            authorize(principal, other, op.roles, op.name)?;
        }
        let context = op
            .context
            .to_context()
            .map_err(|e| Error::InvalidRequest(format!("context: {e}")))?;
        // the operation's own work; its store accesses are timed apart (crate::otlp::time)
        crate::otlp::time(crate::otlp::Phase::Crypto, || {
            let answer = step(call, principal, &context)?;
            let statement = answer_statement(&op, &context, &answer)?;
            Ok((answer, statement))
        })
    }

    /// [`Self::key_op`] for a request of its own: the audit row is appended before the answer.
    pub fn audited_key_op(
        &self,
        op: KeyOp<'_>,
        caller: Caller<'_>,
        step: impl FnOnce(&mut Call, &Principal, &EncryptionContext) -> Result<KeyAnswer>,
    ) -> Result<KeyAnswer> {
        let (call, result) = self.key_op(op, caller, step);
        self.finish(call, result)
    }

    /// Appends the call's audit row (§9). An audit failure turns any answer into `Unavailable`:
    /// no operation goes unlogged.
    pub fn finish<T>(&self, call: Call, result: Result<T>) -> Result<T> {
        match crate::otlp::time(crate::otlp::Phase::Store, || self.store.audit(&call.event)) {
            Ok(()) => result,
            Err(e) => Err(Error::Unavailable(format!("audit log: {e}"))),
        }
    }

    /// Settles `call` with `result` and appends its row.
    pub fn settle_and_finish<T>(&self, mut call: Call, result: Result<T>) -> Result<T> {
        call.settle(&result);
        self.finish(call, result)
    }

    /// Audits a request refused before it reached an operation (throttled, oversize, malformed,
    /// bad admin token). `key_id` is what the request named, if anything.
    pub fn audit_refusal(&self, operation: &str, key_id: &str, err: &Error) {
        let r: Result<()> = Err(err.clone());
        // The refusal is answered whatever happens to its row.
        let _ = self.settle_and_finish(Call::new(operation, key_id, None), r);
    }
}
