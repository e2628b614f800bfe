//! The operations of protocol v1, independent of HTTP: request/response types, authorization,
//! auditing. The HTTP layer and the command line both call into this module.

use keyseal_format::hpke_p256;
use keyseal_format::{DataKey, EncryptionContext};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::auth::{Principal, Role, Verifier};
use crate::crypto::{self, b64};
use crate::error::{ApiError, ErrorKind, Result};
use crate::store::{AuditEvent, KeyInfo, StateOp, Store, parse_key_id};

/// HPKE suite ids accepted in `recipient.suite`.
pub const SUITE: (u16, u16, u16) = (0x0010, 0x0001, 0x0002);
/// Longest `reason` kept in the audit log (longer ones are truncated).
const MAX_REASON: usize = 512;

/// The key service: store + token verifier.
pub struct Service {
    /// The store.
    pub store: Store,
    /// Token verification.
    pub verifier: Verifier,
}

/// `recipient.suite`.
#[derive(Debug, Deserialize)]
pub struct Suite {
    kem: u16,
    kdf: u16,
    aead: u16,
}

/// `recipient`: an ephemeral HPKE public key the DEK is sealed to.
#[derive(Debug, Deserialize)]
pub struct Recipient {
    suite: Suite,
    public_key: String,
}

/// `POST /generate`.
#[derive(Debug, Deserialize)]
pub struct GenerateRequest {
    key_id: String,
    context: ContextPairs,
    #[serde(default)]
    recipient: Option<Recipient>,
    #[serde(default)]
    authorization: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /wrap`.
#[derive(Deserialize)]
pub struct WrapRequest {
    key_id: String,
    key: String,
    context: ContextPairs,
    #[serde(default)]
    authorization: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /unwrap`.
#[derive(Debug, Deserialize)]
pub struct UnwrapRequest {
    key_id: String,
    wrapped_key: String,
    context: ContextPairs,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    recipient: Option<Recipient>,
    #[serde(default)]
    authorization: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /rewrap`.
#[derive(Debug, Deserialize)]
pub struct RewrapRequest {
    key_id: String,
    wrapped_key: String,
    context: ContextPairs,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    to_key_id: Option<String>,
    #[serde(default)]
    authorization: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// One item of `POST /rewrap-batch` (PROTOCOL.md §3.5.1): a `/rewrap` request without token and reason.
#[derive(Debug, Deserialize)]
pub struct RewrapItem {
    key_id: String,
    wrapped_key: String,
    context: ContextPairs,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    to_key_id: Option<String>,
}

/// `POST /rewrap-batch` (PROTOCOL.md §3.5.1).
#[derive(Debug, Deserialize)]
pub struct RewrapBatchRequest {
    items: Vec<RewrapItem>,
    #[serde(default)]
    authorization: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Most items in one `POST /rewrap-batch` (PROTOCOL.md §3.5.1).
pub const MAX_REWRAP_BATCH: usize = 1000;

/// Who performs an admin operation.
#[derive(Debug, Clone)]
pub enum Actor {
    /// An HTTP caller with an admin token, limited to its tenant.
    Token(Principal),
    /// The local command line (full access to the database file).
    Cli(String),
}

impl Actor {
    fn subject(&self) -> String {
        match self {
            Actor::Token(p) => p.subject.clone(),
            Actor::Cli(s) => s.clone(),
        }
    }
    fn may_manage(&self, tenant: &str) -> Result<()> {
        match self {
            Actor::Cli(_) => Ok(()),
            Actor::Token(p) if p.role != Role::Admin => Err(ApiError::new(
                ErrorKind::AccessDenied,
                format!("role {} may not manage keys (needs admin)", p.role.as_str()),
            )),
            Actor::Token(p) if p.tenant != tenant => Err(ApiError::new(
                ErrorKind::AccessDenied,
                format!(
                    "token tenant {:?} may not manage keys of tenant {tenant:?}",
                    p.tenant
                ),
            )),
            Actor::Token(_) => Ok(()),
        }
    }
}

/// An administrative operation.
#[derive(Debug, Clone)]
pub enum AdminOp {
    /// Create a key with fresh material.
    Create,
    /// Add a fresh version.
    Rotate,
    /// Revoke.
    Disable,
    /// Un-revoke.
    Enable,
    /// Schedule destruction.
    Destroy {
        /// Grace period, seconds.
        grace_secs: u64,
    },
    /// Cancel scheduled destruction.
    CancelDestroy,
    /// Import customer material sealed to the import key (creates the key or adds a version).
    Import {
        /// HPKE `enc`, base64.
        enc: String,
        /// HPKE ciphertext, base64.
        ciphertext: String,
    },
    /// Describe a key.
    Show,
}

impl AdminOp {
    fn name(&self) -> &'static str {
        match self {
            AdminOp::Create => "key.create",
            AdminOp::Rotate => "key.rotate",
            AdminOp::Disable => "key.disable",
            AdminOp::Enable => "key.enable",
            AdminOp::Destroy { .. } => "key.destroy",
            AdminOp::CancelDestroy => "key.cancel-destroy",
            AdminOp::Import { .. } => "key.import",
            AdminOp::Show => "key.show",
        }
    }
}

/// The `context` member as sent, keeping repeated keys so that they can be refused (a JSON object
/// parsed into a map would silently keep the last one).
#[derive(Debug, Clone, Default)]
pub struct ContextPairs(Vec<(String, String)>);

impl<'de> Deserialize<'de> for ContextPairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ContextPairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object of string members")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<ContextPairs, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    pairs.push((k, v));
                }
                Ok(ContextPairs(pairs))
            }
        }
        d.deserialize_map(V)
    }
}

fn context_of(pairs: ContextPairs) -> Result<EncryptionContext> {
    EncryptionContext::from_pairs(pairs.0).map_err(|e| ApiError::invalid(format!("context: {e}")))
}

fn decode_b64(field: &str, s: &str) -> Result<Vec<u8>> {
    b64::dec(s).ok_or_else(|| {
        ApiError::invalid(format!(
            "{field} is not standard base64 with padding (RFC 4648 §4)"
        ))
    })
}

fn recipient_key(r: &Recipient) -> Result<Vec<u8>> {
    if (r.suite.kem, r.suite.kdf, r.suite.aead) != SUITE {
        return Err(ApiError::invalid(
            "unsupported recipient suite: only {\"kem\":16,\"kdf\":1,\"aead\":2}",
        ));
    }
    let pk = decode_b64("recipient.public_key", &r.public_key)?;
    if pk.len() != hpke_p256::PUBLIC_KEY_LEN || pk[0] != 0x04 {
        return Err(ApiError::invalid(
            "recipient.public_key must be a 65-byte uncompressed SEC1 P-256 point",
        ));
    }
    Ok(pk)
}

/// Put the DEK in the response: sealed to the recipient when one was sent, else in clear.
fn deliver(out: &mut serde_json::Map<String, Value>, dek: &DataKey, recipient: Option<&[u8]>) -> Result<()> {
    match recipient {
        Some(pk) => {
            let sealed = hpke_p256::seal_to_recipient(pk, dek)
                .map_err(|_| ApiError::invalid("recipient.public_key is not a valid P-256 point"))?;
            out.insert(
                "sealed_key".into(),
                json!({"enc": b64::enc(&sealed.enc), "ciphertext": b64::enc(&sealed.ciphertext)}),
            );
        }
        None => {
            out.insert("key".into(), Value::String(b64::enc(dek.expose_secret())));
        }
    }
    Ok(())
}

/// Bookkeeping for one audited call.
pub struct Call {
    event: AuditEvent,
}

impl Call {
    fn new(op: &str, key_id: &str, reason: Option<&str>) -> Self {
        let mut reason = reason.unwrap_or("").to_string();
        if reason.len() > MAX_REASON {
            let mut cut = MAX_REASON;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        Call {
            event: AuditEvent {
                subject: "-".into(),
                tenant: key_id.split('/').next().unwrap_or("").to_string(),
                key_id: key_id.to_string(),
                operation: op.to_string(),
                reason,
                ..AuditEvent::default()
            },
        }
    }
}

impl Service {
    /// Record the outcome of `call` in the audit log. An audit failure turns success into
    /// `Unavailable`: no operation goes unlogged.
    /// Records the outcome of `result` in the call's audit event.
    fn settle<T>(call: &mut Call, result: &Result<T>) {
        match result {
            Ok(_) => call.event.outcome = "ok".into(),
            Err(e) => {
                call.event.outcome = e.kind.name().into();
                call.event.detail = e.message.clone();
            }
        }
    }

    fn finish<T>(&self, mut call: Call, result: Result<T>) -> Result<T> {
        Self::settle(&mut call, &result);
        match self.store.audit(&call.event) {
            Ok(()) => result,
            Err(e) => Err(ApiError::unavailable(format!("audit log: {}", e.message))),
        }
    }

    /// Audit a request that was refused before it could be parsed (oversize, malformed).
    pub fn audit_refusal(&self, op: &str, err: &ApiError) {
        let call = Call::new(op, "", None);
        let _ = self.finish::<()>(call, Err(err.clone()));
    }

    fn authorize(
        &self,
        call: &mut Call,
        token: Option<&str>,
        key_id: &str,
        allowed: &[Role],
    ) -> Result<Principal> {
        let p = self.verifier.verify(token.unwrap_or(""))?;
        Self::authorize_principal(call, p, key_id, allowed)
    }

    /// The checks of [`Self::authorize`] after the token was verified (a batch verifies it once).
    fn authorize_principal(
        call: &mut Call,
        p: Principal,
        key_id: &str,
        allowed: &[Role],
    ) -> Result<Principal> {
        call.event.subject = p.subject.clone();
        let (tenant, _) = parse_key_id(key_id)?;
        if p.tenant != tenant {
            return Err(ApiError::new(
                ErrorKind::AccessDenied,
                format!(
                    "token tenant {:?} may not use keys of tenant {tenant:?}",
                    p.tenant
                ),
            ));
        }
        if !allowed.contains(&p.role) {
            return Err(ApiError::new(
                ErrorKind::AccessDenied,
                format!("role {} may not call {}", p.role.as_str(), call.event.operation),
            ));
        }
        Ok(p)
    }

    fn token<'a>(body: &'a Option<String>, header: Option<&'a str>) -> Option<&'a str> {
        body.as_deref().or(header)
    }

    /// `POST /generate`.
    pub fn generate(&self, req: GenerateRequest, header_token: Option<&str>) -> Result<Value> {
        let mut call = Call::new("generate", &req.key_id, req.reason.as_deref());
        let r = (|| {
            self.authorize(
                &mut call,
                Self::token(&req.authorization, header_token),
                &req.key_id,
                &[Role::Writer],
            )?;
            let ctx = context_of(req.context.clone())?;
            let recipient = req.recipient.as_ref().map(recipient_key).transpose()?;
            let loaded = self.store.load(&req.key_id, None)?;
            call.event.key_version = Some(loaded.version);
            let dek =
                DataKey::generate().map_err(|_| ApiError::internal("random number generator failed"))?;
            let wrapped = crypto::wrap_dek(
                &loaded.keys.kek,
                &req.key_id,
                loaded.version,
                &ctx.encode(),
                dek.expose_secret(),
            )?;
            let mut out = serde_json::Map::new();
            out.insert("key_id".into(), json!(req.key_id));
            out.insert("key_version".into(), json!(loaded.version));
            out.insert("wrapped_key".into(), json!(b64::enc(&wrapped)));
            deliver(&mut out, &dek, recipient.as_deref())?;
            Ok(Value::Object(out))
        })();
        self.finish(call, r)
    }

    /// `POST /wrap`.
    pub fn wrap(&self, req: WrapRequest, header_token: Option<&str>) -> Result<Value> {
        let mut call = Call::new("wrap", &req.key_id, req.reason.as_deref());
        let r = (|| {
            self.authorize(
                &mut call,
                Self::token(&req.authorization, header_token),
                &req.key_id,
                &[Role::Writer],
            )?;
            let ctx = context_of(req.context.clone())?;
            let key = Zeroizing::new(decode_b64("key", &req.key)?);
            let dek = DataKey::from_bytes(&key).map_err(|_| ApiError::invalid("key must be 32 bytes"))?;
            let loaded = self.store.load(&req.key_id, None)?;
            call.event.key_version = Some(loaded.version);
            let wrapped = crypto::wrap_dek(
                &loaded.keys.kek,
                &req.key_id,
                loaded.version,
                &ctx.encode(),
                dek.expose_secret(),
            )?;
            Ok(
                json!({"key_id": req.key_id, "key_version": loaded.version, "wrapped_key": b64::enc(&wrapped)}),
            )
        })();
        self.finish(call, r)
    }

    /// Open a wrapped key of either kind. Caller has authorized.
    fn open_wrapped(
        &self,
        call: &mut Call,
        key_id: &str,
        kind: Option<&str>,
        wrapped_b64: &str,
        ctx: &EncryptionContext,
    ) -> Result<DataKey> {
        let wrapped = decode_b64("wrapped_key", wrapped_b64)?;
        match kind.unwrap_or("kms") {
            "kms" => {
                let version = crypto::wrapped_version(&wrapped)?;
                call.event.key_version = Some(version);
                let loaded = self.store.load(key_id, Some(version))?;
                let dek = crypto::unwrap_dek(&loaded.keys.kek, key_id, &ctx.encode(), &wrapped)?;
                DataKey::from_bytes(dek.as_ref()).map_err(|_| ApiError::internal("bad key length"))
            }
            "hpke-p256" => {
                let version = hpke_p256::entry_key_version(&wrapped).map_err(|_| {
                    ApiError::new(ErrorKind::InvalidCiphertext, "hpke-p256 wrapped key is malformed")
                })?;
                call.event.key_version = Some(version);
                let loaded = self.store.load(key_id, Some(version))?;
                hpke_p256::open_entry(&loaded.keys.hpke()?.secret, key_id, &wrapped, ctx).map_err(|_| {
                    ApiError::new(
                        ErrorKind::InvalidCiphertext,
                        "hpke-p256 wrapped key does not open (tampered, other key, or other context)",
                    )
                })
            }
            other => Err(ApiError::invalid(format!(
                "unknown kind {other:?}: expected \"kms\" or \"hpke-p256\""
            ))),
        }
    }

    /// `POST /unwrap`.
    pub fn unwrap(&self, req: UnwrapRequest, header_token: Option<&str>) -> Result<Value> {
        let mut call = Call::new("unwrap", &req.key_id, req.reason.as_deref());
        let r = (|| {
            self.authorize(
                &mut call,
                Self::token(&req.authorization, header_token),
                &req.key_id,
                &[Role::Reader, Role::Writer],
            )?;
            let ctx = context_of(req.context.clone())?;
            let recipient = req.recipient.as_ref().map(recipient_key).transpose()?;
            let dek = self.open_wrapped(
                &mut call,
                &req.key_id,
                req.kind.as_deref(),
                &req.wrapped_key,
                &ctx,
            )?;
            let mut out = serde_json::Map::new();
            out.insert("key_id".into(), json!(req.key_id));
            out.insert("key_version".into(), json!(call.event.key_version));
            deliver(&mut out, &dek, recipient.as_deref())?;
            Ok(Value::Object(out))
        })();
        self.finish(call, r)
    }

    /// `POST /rewrap`.
    pub fn rewrap(&self, req: RewrapRequest, header_token: Option<&str>) -> Result<Value> {
        let mut call = Call::new("rewrap", &req.key_id, req.reason.as_deref());
        let principal = self
            .verifier
            .verify(Self::token(&req.authorization, header_token).unwrap_or(""));
        let item = RewrapItem {
            key_id: req.key_id,
            wrapped_key: req.wrapped_key,
            context: req.context,
            kind: req.kind,
            to_key_id: req.to_key_id,
        };
        let r = principal.and_then(|p| self.rewrap_item(&mut call, p, &item));
        self.finish(call, r)
    }

    /// `POST /rewrap-batch` (PROTOCOL.md §3.5.1): the token is verified once, then every item is
    /// authorized, rewrapped and audited exactly as a `/rewrap` of its own would be; the answer
    /// lists one result per item, in order. A bad token or body refuses the whole batch.
    pub fn rewrap_batch(&self, req: RewrapBatchRequest, header_token: Option<&str>) -> Result<Value> {
        let reason = req.reason.as_deref();
        let principal = self
            .verifier
            .verify(Self::token(&req.authorization, header_token).unwrap_or(""));
        let principal = match principal {
            Ok(p) if !req.items.is_empty() && req.items.len() <= MAX_REWRAP_BATCH => p,
            Ok(_) => {
                let e = ApiError::invalid(format!("a batch holds 1 to {MAX_REWRAP_BATCH} items"));
                return self.finish(Call::new("rewrap_batch", "", reason), Err(e));
            }
            Err(e) => return self.finish(Call::new("rewrap_batch", "", reason), Err(e)),
        };
        let mut calls = Vec::with_capacity(req.items.len());
        let mut items = Vec::with_capacity(req.items.len());
        for item in &req.items {
            let mut call = Call::new("rewrap", &item.key_id, reason);
            let r = self.rewrap_item(&mut call, principal.clone(), item);
            Self::settle(&mut call, &r);
            calls.push(call);
            items.push(match r {
                Ok(v) => v,
                Err(e) => json!({"error": e.kind.name(), "message": e.message}),
            });
        }
        // One audit transaction for the batch; no answer leaves unless every record is written.
        let events: Vec<&AuditEvent> = calls.iter().map(|c| &c.event).collect();
        self.store
            .audit_many(&events)
            .map_err(|e| ApiError::unavailable(format!("audit log: {}", e.message)))?;
        Ok(json!({ "items": items }))
    }

    /// One rewrap for a verified principal (shared by `/rewrap` and `/rewrap-batch`).
    fn rewrap_item(&self, call: &mut Call, p: Principal, req: &RewrapItem) -> Result<Value> {
        (|| {
            let p = Self::authorize_principal(call, p, &req.key_id, &[Role::Writer])?;
            let target = req.to_key_id.clone().unwrap_or_else(|| req.key_id.clone());
            let (t_tenant, _) = parse_key_id(&target)?;
            if t_tenant != p.tenant {
                return Err(ApiError::new(
                    ErrorKind::AccessDenied,
                    format!(
                        "token tenant {:?} may not use keys of tenant {t_tenant:?}",
                        p.tenant
                    ),
                ));
            }
            let ctx = context_of(req.context.clone())?;
            let dek = self.open_wrapped(call, &req.key_id, req.kind.as_deref(), &req.wrapped_key, &ctx)?;
            let loaded = self.store.load(&target, None)?;
            call.event.detail = format!("to {target}#{}", loaded.version);
            let wrapped = crypto::wrap_dek(
                &loaded.keys.kek,
                &target,
                loaded.version,
                &ctx.encode(),
                dek.expose_secret(),
            )?;
            Ok(json!({"key_id": target, "key_version": loaded.version, "wrapped_key": b64::enc(&wrapped)}))
        })()
    }

    /// `GET /keys/{key_id}/public`: the JWK of the primary version (key must be enabled).
    pub fn public_jwk(&self, key_id: &str) -> Result<Value> {
        parse_key_id(key_id)?;
        let loaded = self.store.load(key_id, None)?;
        let (x, y) = crate::auth::ec_jwk_xy(&loaded.keys.hpke()?.public)?;
        Ok(json!({
            "kty": "EC",
            "crv": "P-256",
            "x": x,
            "y": y,
            "use": "enc",
            "alg": "HPKE-P256-SHA256-A256GCM",
            "kid": format!("{key_id}#{}", loaded.version),
            "key_id": key_id,
            "key_version": loaded.version,
        }))
    }

    /// The service's import public key as a JWK.
    pub fn import_jwk(&self) -> Result<Value> {
        let seed = self.store.import_seed()?;
        let pk = crypto::import_public(&seed);
        let (x, y) = crate::auth::ec_jwk_xy(&pk)?;
        Ok(json!({
            "kty": "EC",
            "crv": "P-256",
            "x": x,
            "y": y,
            "use": "enc",
            "alg": "HPKE-P256-SHA256-A256GCM",
            "kid": format!("import#{}", crate::auth::kid_of(&pk)),
            "public_key": b64::enc(&pk),
        }))
    }

    /// Run an admin operation (HTTP admin token or command line).
    pub fn admin(&self, actor: &Actor, key_id: &str, op: AdminOp, reason: Option<&str>) -> Result<KeyInfo> {
        let mut call = Call::new(op.name(), key_id, reason);
        call.event.subject = actor.subject();
        let r = (|| {
            let (tenant, _) = parse_key_id(key_id)?;
            actor.may_manage(tenant)?;
            let info = match &op {
                AdminOp::Create => self.store.create_key(key_id, None)?,
                AdminOp::Rotate => self.store.rotate(key_id, None)?,
                AdminOp::Disable => self.store.set_state(key_id, StateOp::Disable)?,
                AdminOp::Enable => self.store.set_state(key_id, StateOp::Enable)?,
                AdminOp::Destroy { grace_secs } => {
                    let grace_ms = i64::try_from(grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
                    self.store.set_state(key_id, StateOp::Destroy { grace_ms })?
                }
                AdminOp::CancelDestroy => self.store.set_state(key_id, StateOp::CancelDestroy)?,
                AdminOp::Import { enc, ciphertext } => {
                    let enc = decode_b64("enc", enc)?;
                    let ct = decode_b64("ciphertext", ciphertext)?;
                    let seed = self.store.import_seed()?;
                    let root = crypto::import_open(&seed, key_id, &enc, &ct).map_err(|_| {
                        ApiError::new(
                            ErrorKind::InvalidCiphertext,
                            "imported material does not open under the import key for this key id",
                        )
                    })?;
                    match self.store.show(key_id) {
                        Ok(_) => self.store.rotate(key_id, Some(&root))?,
                        Err(e) if e.kind == ErrorKind::KeyNotFound => {
                            self.store.create_key(key_id, Some(&root))?
                        }
                        Err(e) => return Err(e),
                    }
                }
                AdminOp::Show => self.store.show(key_id)?,
            };
            Ok(info)
        })();
        let r = r.inspect(|info| call.event.key_version = Some(info.primary_version));
        self.finish(call, r)
    }

    /// List keys visible to the actor.
    pub fn admin_list(&self, actor: &Actor, tenant: Option<&str>) -> Result<Vec<KeyInfo>> {
        let mut call = Call::new("key.list", "", None);
        call.event.subject = actor.subject();
        let r = (|| {
            let tenant = match actor {
                Actor::Cli(_) => tenant.map(str::to_string),
                Actor::Token(p) => {
                    let t = tenant.unwrap_or(&p.tenant).to_string();
                    actor.may_manage(&t)?;
                    Some(t)
                }
            };
            if let Some(t) = &tenant {
                call.event.tenant = t.clone();
            }
            self.store.list(tenant.as_deref())
        })();
        self.finish(call, r)
    }

    /// Verify an `Authorization: Bearer` token for admin routes.
    pub fn admin_actor(&self, token: Option<&str>) -> Result<Actor> {
        let p = self.verifier.verify(token.unwrap_or(""))?;
        if p.role != Role::Admin {
            return Err(ApiError::new(
                ErrorKind::AccessDenied,
                format!("role {} may not manage keys (needs admin)", p.role.as_str()),
            ));
        }
        Ok(Actor::Token(p))
    }
}
