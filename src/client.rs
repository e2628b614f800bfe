//! `KmsClient`: a [`KeyService`] over protocol v1 (PROTOCOL.md) with the resilience policy of the
//! brief: per-attempt timeout, overall deadline, retries with full-jitter exponential backoff for
//! retryable failures only, failover across URLs in order, `Retry-After` on 429, and a circuit
//! breaker per URL with a half-open probe.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use serde_json::{Value, json};

use crate::context::EncryptionContext;
use crate::data_key::DataKey;
use crate::error::{Error, KeyServiceErrorKind};
use crate::events::{Event, Observer};
use crate::header::EntryKind;
use crate::hpke_p256::RecipientKeyPair;
use crate::key_service::{
    GeneratedKey, KeyService, LocalBoxFuture, PublicKeyInfo, RewrapAnswers, RewrapQuestion, rewrap_one_by_one,
};
use crate::protocol::{self, KeyAnswer, b64, context_json, recipient_json};
use crate::race::{Either, race};
use crate::transport::{Clock, HttpRequest, HttpTransport, TokenRequest, TokenSource, TransportError};

/// Timeouts, retries and circuit breaking for key-service calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Longest one HTTP attempt may take.
    pub attempt_timeout_ms: u64,
    /// Longest a whole call (all attempts, backoff included) may take; then `TIMEOUT`.
    pub deadline_ms: u64,
    /// Rounds over the URL list before giving up.
    pub max_rounds: u32,
    /// First backoff ceiling; doubles per round (full jitter: a random wait in 0..ceiling).
    pub backoff_base_ms: u64,
    /// Largest backoff ceiling.
    pub backoff_max_ms: u64,
    /// Consecutive failures that open a URL's circuit.
    pub breaker_threshold: u32,
    /// How long an open circuit stays open before one half-open probe is let through.
    pub breaker_cooldown_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempt_timeout_ms: 5_000,
            deadline_ms: 15_000,
            max_rounds: 3,
            backoff_base_ms: 50,
            backoff_max_ms: 2_000,
            breaker_threshold: 5,
            breaker_cooldown_ms: 10_000,
        }
    }
}

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<f64>,
    probing: bool,
}

impl Breaker {
    /// Closed: yes. Open: no until the cooldown ends, then one probe (half-open).
    fn allow(&mut self, now: f64) -> bool {
        match self.open_until {
            None => true,
            Some(t) if now >= t && !self.probing => {
                self.probing = true;
                true
            }
            Some(_) => false,
        }
    }
    fn success(&mut self) {
        *self = Self::default();
    }
    /// Returns true when this failure opened the circuit.
    fn failure(&mut self, now: f64, policy: &RetryPolicy) -> bool {
        self.failures += 1;
        let was_open = self.open_until.is_some();
        if self.probing || self.failures >= policy.breaker_threshold {
            self.open_until = Some(now + policy.breaker_cooldown_ms as f64);
            self.probing = false;
            return !was_open;
        }
        false
    }
}

struct Endpoint {
    base: String,
    breaker: RefCell<Breaker>,
}

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
}

/// A protocol-v1 key-service client.
pub struct KmsClient {
    id: String,
    endpoints: Vec<Endpoint>,
    policy: RetryPolicy,
    allow_plaintext_keys: bool,
    reason: Option<String>,
    transport: Rc<dyn HttpTransport>,
    clock: Rc<dyn Clock>,
    tokens: Rc<dyn TokenSource>,
    observer: Rc<Observer>,
    /// Cleared when the service answers `/rewrap-batch` with 404/405 (an optional endpoint).
    batch_supported: Cell<bool>,
}

fn kms_err(kind: KeyServiceErrorKind, message: impl Into<String>) -> Error {
    Error::KeyService {
        kind,
        message: message.into(),
    }
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    if n == 0 || getrandom::fill(&mut b).is_err() {
        return n / 2;
    }
    u64::from_le_bytes(b) % n
}

impl KmsClient {
    /// A client; no request is made until the first call.
    pub fn new(
        config: KmsClientConfig,
        transport: Rc<dyn HttpTransport>,
        clock: Rc<dyn Clock>,
        tokens: Rc<dyn TokenSource>,
        observer: Rc<Observer>,
    ) -> Result<Self, Error> {
        if config.urls.is_empty() {
            return Err(Error::InvalidArgument {
                reason: "a key service needs at least one URL",
            });
        }
        if config.id.is_empty() || config.id.len() > 255 {
            return Err(Error::InvalidArgument {
                reason: "key service id must be 1..=255 bytes",
            });
        }
        let endpoints = config
            .urls
            .into_iter()
            .map(|u| Endpoint {
                base: u.trim_end_matches('/').to_string(),
                breaker: RefCell::default(),
            })
            .collect();
        Ok(Self {
            id: config.id,
            endpoints,
            policy: config.policy,
            allow_plaintext_keys: config.allow_plaintext_keys,
            reason: config.reason,
            transport,
            clock,
            tokens,
            observer,
            batch_supported: Cell::new(true),
        })
    }

    fn backoff_ms(&self, round: u32) -> u64 {
        let ceiling = self
            .policy
            .backoff_base_ms
            .saturating_mul(1u64 << round.min(20))
            .min(self.policy.backoff_max_ms);
        random_below(ceiling + 1)
    }

    /// One protocol call with the whole policy. `body` gets `authorization` and `reason` added.
    async fn call(
        &self,
        op: &'static str,
        method: &'static str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Vec<u8>, Error> {
        let start = self.clock.now_ms();
        let deadline = start + self.policy.deadline_ms as f64;
        let key_id = body
            .as_ref()
            .and_then(|b| b.get("key_id"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let body = match body {
            Some(mut b) => {
                let request = TokenRequest {
                    service: &self.id,
                    key_id: &key_id,
                    op,
                };
                let token = self.tokens.token(request).await.map_err(|e| {
                    kms_err(
                        KeyServiceErrorKind::AccessDenied,
                        format!("token callback failed: {e}"),
                    )
                })?;
                if let Value::Object(m) = &mut b {
                    m.insert("authorization".into(), Value::String(token));
                    if let Some(r) = &self.reason {
                        m.insert("reason".into(), Value::String(r.clone()));
                    }
                }
                Some(
                    serde_json::to_vec(&b)
                        .map_err(|_| kms_err(KeyServiceErrorKind::Protocol, "request encoding"))?,
                )
            }
            None => None,
        };
        let n = self.endpoints.len();
        let mut last = kms_err(
            KeyServiceErrorKind::Unavailable,
            "no key-service URL could be tried",
        );
        let mut attempt = 0u32;
        for round in 0..self.policy.max_rounds.max(1) {
            if round > 0 {
                let wait = self.backoff_ms(round - 1) as f64;
                if self.clock.now_ms() + wait >= deadline {
                    break;
                }
                self.clock.sleep(wait as u64).await;
            }
            let mut i = 0;
            while i < n {
                let ep = &self.endpoints[i];
                let now = self.clock.now_ms();
                if !ep.breaker.borrow_mut().allow(now) {
                    last = kms_err(
                        KeyServiceErrorKind::Unavailable,
                        format!("circuit open for {}", ep.base),
                    );
                    i += 1;
                    continue;
                }
                let remaining = deadline - now;
                if remaining <= 0.0 {
                    return Err(kms_err(
                        KeyServiceErrorKind::Timeout,
                        format!("{op}: deadline of {} ms passed", self.policy.deadline_ms),
                    ));
                }
                let limit = (self.policy.attempt_timeout_ms as f64).min(remaining).ceil() as u64;
                attempt += 1;
                let req = HttpRequest {
                    method,
                    url: format!("{}{}", ep.base, path),
                    body: body.clone(),
                };
                let outcome = race(self.transport.send(req), self.clock.sleep(limit)).await;
                let latency = self.clock.now_ms() - now;
                let (code, status, retry_after, err) = match outcome {
                    Either::Right(()) => {
                        let e = kms_err(
                            KeyServiceErrorKind::Timeout,
                            format!("{op} to {} timed out after {limit} ms", ep.base),
                        );
                        (Some(e.code()), None, None, Some(e))
                    }
                    Either::Left(Err(TransportError::Network(m))) => {
                        let e = kms_err(
                            KeyServiceErrorKind::Unavailable,
                            format!("{op} to {}: {m}", ep.base),
                        );
                        (Some(e.code()), None, None, Some(e))
                    }
                    Either::Left(Ok(resp)) if (200..300).contains(&resp.status) => {
                        ep.breaker.borrow_mut().success();
                        self.observer.kms_attempt(op, None, latency);
                        self.observer.emit(Event::KmsCall {
                            service: self.id.clone(),
                            url: ep.base.clone(),
                            op,
                            ok: true,
                            code: None,
                            status: Some(resp.status),
                            latency_ms: latency,
                            attempt,
                        });
                        return Ok(resp.body);
                    }
                    Either::Left(Ok(resp)) => {
                        let ans = protocol::parse_error(resp.status, &resp.body);
                        if ans.kind == KeyServiceErrorKind::KeyDisabled {
                            self.observer
                                .key_disabled(&key_id, ans.disabled_at_ms, self.clock.unix_ms());
                        }
                        let e = kms_err(ans.kind, ans.message);
                        (Some(e.code()), Some(resp.status), resp.retry_after_ms, Some(e))
                    }
                };
                self.observer.kms_attempt(op, code, latency);
                self.observer.emit(Event::KmsCall {
                    service: self.id.clone(),
                    url: ep.base.clone(),
                    op,
                    ok: false,
                    code,
                    status,
                    latency_ms: latency,
                    attempt,
                });
                let Some(e) = err else { continue };
                match status {
                    // Definitive answers: no retry, no failover (PROTOCOL.md §5).
                    Some(s) if !protocol::status_is_retryable(s) => {
                        ep.breaker.borrow_mut().success();
                        return Err(e);
                    }
                    Some(429) => {
                        // The service is alive and asked us to wait: honour Retry-After on this URL.
                        ep.breaker.borrow_mut().success();
                        let wait = retry_after.unwrap_or_else(|| self.backoff_ms(round)) as f64;
                        last = e;
                        if self.clock.now_ms() + wait >= deadline
                            || attempt >= self.policy.max_rounds * n as u32 + 4
                        {
                            return Err(last);
                        }
                        self.clock.sleep(wait as u64).await;
                        continue; // same endpoint again
                    }
                    _ => {
                        let opened = ep.breaker.borrow_mut().failure(self.clock.now_ms(), &self.policy);
                        if opened {
                            self.observer.emit(Event::CircuitOpen {
                                service: self.id.clone(),
                                url: ep.base.clone(),
                            });
                        }
                        last = e;
                        i += 1;
                    }
                }
            }
        }
        if self.clock.now_ms() >= deadline {
            return Err(kms_err(
                KeyServiceErrorKind::Timeout,
                format!("{op}: deadline of {} ms passed", self.policy.deadline_ms),
            ));
        }
        Err(last)
    }

    async fn key_op(&self, op: &'static str, body: Value) -> Result<KeyAnswer, Error> {
        let bytes = self.call(op, "POST", &format!("/{op}"), Some(body)).await?;
        KeyAnswer::parse(&bytes)
    }
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
            let recipient = RecipientKeyPair::generate();
            let body = json!({"key_id": key_id, "context": context_json(context), "recipient": recipient_json(&recipient)});
            let a = self.key_op("generate", body).await?;
            let data_key = a.data_key(&recipient, self.allow_plaintext_keys)?;
            self.observer.key_worked(key_id);
            Ok(GeneratedKey {
                data_key,
                wrapped: a.wrapped()?,
            })
        })
    }

    fn wrap<'a>(
        &'a self,
        key_id: &'a str,
        data_key: &'a DataKey,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move {
            let body = json!({"key_id": key_id, "key": b64(data_key.expose_secret()), "context": context_json(context)});
            let a = self.key_op("wrap", body).await?;
            a.wrapped()
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
            let recipient = RecipientKeyPair::generate();
            let body = json!({"key_id": key_id, "kind": kind.name(), "wrapped_key": b64(wrapped), "context": context_json(context), "recipient": recipient_json(&recipient)});
            let a = self.key_op("unwrap", body).await?;
            let dek = a.data_key(&recipient, self.allow_plaintext_keys)?;
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
            let mut body = json!({"key_id": key_id, "kind": kind.name(), "wrapped_key": b64(wrapped), "context": context_json(context)});
            if let (Some(to), Value::Object(m)) = (to_key_id, &mut body) {
                m.insert("to_key_id".into(), Value::String(to.into()));
            }
            self.key_op("rewrap", body).await?.wrapped()
        })
    }

    fn rewrap_batch<'a>(
        &'a self,
        questions: &'a [RewrapQuestion<'a>],
    ) -> LocalBoxFuture<'a, Result<RewrapAnswers, Error>> {
        Box::pin(async move {
            if !self.batch_supported.get() || questions.is_empty() {
                return rewrap_one_by_one(self, questions).await;
            }
            let items: Vec<Value> = questions
                .iter()
                .map(|q| {
                    let mut v = json!({"key_id": q.key_id, "kind": q.kind.name(), "wrapped_key": b64(q.wrapped), "context": context_json(q.context)});
                    if let (Some(to), Value::Object(m)) = (q.to_key_id, &mut v) {
                        m.insert("to_key_id".into(), Value::String(to.into()));
                    }
                    v
                })
                .collect();
            // `key_id` (of the first item) is only for the token callback (TokenRequest).
            let body = json!({"key_id": questions[0].key_id, "items": items});
            match self
                .call("rewrap_batch", "POST", "/rewrap-batch", Some(body))
                .await
            {
                Ok(bytes) => protocol::parse_rewrap_batch(&bytes, questions.len()),
                // A service without the endpoint (PROTOCOL.md §3.5.1: it is optional): ask one by
                // one from now on.
                Err(Error::KeyService {
                    kind: KeyServiceErrorKind::Protocol,
                    message,
                }) if message.starts_with("HTTP 404") || message.starts_with("HTTP 405") => {
                    self.batch_supported.set(false);
                    rewrap_one_by_one(self, questions).await
                }
                Err(e) => Err(e),
            }
        })
    }

    fn public_key<'a>(&'a self, key_id: &'a str) -> LocalBoxFuture<'a, Result<PublicKeyInfo, Error>> {
        Box::pin(async move {
            let bytes = self
                .call(
                    "public_key",
                    "GET",
                    &format!("/keys/{}/public", percent_encode_key_id(key_id)),
                    None,
                )
                .await?;
            let (version, public_sec1) = protocol::parse_public_jwk(&bytes)?;
            Ok(PublicKeyInfo {
                key_id: key_id.into(),
                version,
                public_sec1,
            })
        })
    }
}
