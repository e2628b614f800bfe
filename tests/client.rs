//! `KmsClient` policy against a scripted transport and a virtual clock: failover, retry with
//! backoff, Retry-After, per-attempt timeout and deadline, circuit breaker, downgrade refusal,
//! protocol errors, and the SDK's cache and entry failover. (The same behaviours are exercised
//! against real servers by the JS suite; this pins the policy deterministically.)
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, missing_docs)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll};

mod common;
use common::block_on;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyseal::hpke_p256::{RecipientKeyPair, seal_to_recipient};
use keyseal::{
    CacheConfig, Clock, DataKey, EncryptionContext, Event, HttpRequest, HttpResponse, HttpTransport, KeySeal,
    KeySealConfig, KeyService, KmsClient, KmsClientConfig, LocalBoxFuture, Observer, RetryPolicy,
    ServiceBinding, TokenSource, TransportError, WrapMode,
};

/// Virtual time: `sleep` advances it and resolves at once.
#[derive(Default)]
struct VClock(Cell<f64>);
struct ClockH(Rc<VClock>);
impl Clock for ClockH {
    fn now_ms(&self) -> f64 {
        self.0.0.get()
    }
    fn unix_ms(&self) -> f64 {
        1.7e12 + self.0.0.get()
    }
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        let c = self.0.clone();
        Box::pin(async move { c.0.set(c.0.get() + ms as f64) })
    }
}

enum Step {
    Refuse,
    Hang,
    Status(u16, Option<u64>, &'static str),
    /// Answers like a key service: seals a fixed DEK to the request's recipient.
    Good,
    /// Answers with a plaintext `key`.
    Plaintext,
}

struct Script {
    steps: RefCell<VecDeque<Step>>,
    seen: RefCell<Vec<String>>,
    dek: [u8; 32],
}

struct Hang;
impl Future for Hang {
    type Output = Result<HttpResponse, TransportError>;
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Pending
    }
}

struct Tr(Rc<Script>);
impl HttpTransport for Tr {
    fn send(&self, req: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        self.0.seen.borrow_mut().push(req.url.clone());
        let step = self.0.steps.borrow_mut().pop_front().unwrap_or(Step::Good);
        let ok = |body: serde_json::Value| HttpResponse {
            status: 200,
            retry_after_ms: None,
            body: body.to_string().into_bytes(),
        };
        let dek = DataKey::from_bytes(&self.0.dek).unwrap();
        match step {
            Step::Hang => Box::pin(Hang),
            Step::Refuse => Box::pin(async { Err(TransportError::Network("connection refused".into())) }),
            Step::Status(s, ra, body) => Box::pin(async move {
                Ok(HttpResponse {
                    status: s,
                    retry_after_ms: ra,
                    body: body.as_bytes().to_vec(),
                })
            }),
            Step::Plaintext => Box::pin(async move {
                Ok(ok(
                    serde_json::json!({"wrapped_key": "AAEC", "key": STANDARD.encode(dek.expose_secret())}),
                ))
            }),
            Step::Good => {
                let v: serde_json::Value =
                    serde_json::from_slice(req.body.as_deref().unwrap_or(b"{}")).unwrap();
                let pk = STANDARD
                    .decode(v["recipient"]["public_key"].as_str().unwrap_or(""))
                    .unwrap_or_default();
                let body = if pk.is_empty() {
                    serde_json::json!({"wrapped_key": "AAEC"})
                } else {
                    let s = seal_to_recipient(&pk, &dek).unwrap();
                    serde_json::json!({"wrapped_key": "AAEC", "sealed_key": {"enc": STANDARD.encode(&s.enc), "ciphertext": STANDARD.encode(&s.ciphertext)}})
                };
                Box::pin(async move { Ok(ok(body)) })
            }
        }
    }
}

struct Tok;
impl TokenSource for Tok {
    fn token<'a>(&'a self, r: keyseal::TokenRequest<'a>) -> LocalBoxFuture<'a, Result<String, String>> {
        assert!(!r.service.is_empty() && !r.op.is_empty());
        Box::pin(async { Ok("t".into()) })
    }
}

struct Rig {
    client: KmsClient,
    script: Rc<Script>,
    clock: Rc<VClock>,
    events: Rc<RefCell<Vec<Event>>>,
    observer: Rc<Observer>,
}

fn rig(urls: &[&str], steps: Vec<Step>, allow_plaintext: bool) -> Rig {
    let script = Rc::new(Script {
        steps: RefCell::new(steps.into()),
        seen: RefCell::default(),
        dek: [7; 32],
    });
    let clock = Rc::new(VClock::default());
    let events: Rc<RefCell<Vec<Event>>> = Rc::default();
    let ev = events.clone();
    let observer = Rc::new(Observer::with_sink(Some(Box::new(move |e: &Event| {
        ev.borrow_mut().push(e.clone())
    }))));
    let policy = RetryPolicy {
        attempt_timeout_ms: 1000,
        deadline_ms: 5000,
        max_rounds: 3,
        backoff_base_ms: 10,
        backoff_max_ms: 100,
        breaker_threshold: 3,
        breaker_cooldown_ms: 10_000,
    };
    let client = KmsClient::new(
        KmsClientConfig {
            id: "acme".into(),
            urls: urls.iter().map(|u| u.to_string()).collect(),
            policy,
            allow_plaintext_keys: allow_plaintext,
            reason: None,
            identity: None,
        },
        Rc::new(Tr(script.clone())),
        Rc::new(ClockH(clock.clone())),
        Rc::new(Tok),
        observer.clone(),
    )
    .unwrap();
    Rig {
        client,
        script,
        clock,
        events,
        observer,
    }
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("tenant", "acme")]).unwrap()
}

fn generate(r: &Rig) -> Result<keyseal::GeneratedKey, keyseal::Error> {
    block_on(r.client.generate("acme/k", &ctx()))
}

#[test]
fn refused_url_fails_over_to_the_next() {
    let r = rig(
        &["https://a/v1", "https://b/v1"],
        vec![Step::Refuse, Step::Good],
        false,
    );
    assert_eq!(generate(&r).unwrap().data_key.expose_secret(), &[7; 32]);
    assert_eq!(
        *r.script.seen.borrow(),
        ["https://a/v1/generate", "https://b/v1/generate"]
    );
}

#[test]
fn server_error_then_success_is_retried_with_backoff() {
    let r = rig(
        &["https://a/v1"],
        vec![
            Step::Status(500, None, r#"{"code":500,"error":"Internal","message":"x"}"#),
            Step::Good,
        ],
        false,
    );
    assert!(generate(&r).is_ok());
    assert_eq!(r.script.seen.borrow().len(), 2);
    assert!(
        r.clock.0.get() <= 10.0,
        "full-jitter backoff below the first ceiling"
    );
    let attempts: Vec<_> = r
        .events
        .borrow()
        .iter()
        .filter_map(|e| match e {
            Event::KmsCall { ok, attempt, .. } => Some((*ok, *attempt)),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [(false, 1), (true, 2)]);
}

#[test]
fn retry_after_is_honoured() {
    let r = rig(
        &["https://a/v1"],
        vec![
            Step::Status(
                429,
                Some(1000),
                r#"{"code":429,"error":"Throttled","message":"slow"}"#,
            ),
            Step::Good,
        ],
        false,
    );
    assert!(generate(&r).is_ok());
    assert_eq!(r.clock.0.get(), 1000.0);
}

#[test]
fn hang_times_out_per_attempt_then_fails_over() {
    let r = rig(
        &["https://a/v1", "https://b/v1"],
        vec![Step::Hang, Step::Good],
        false,
    );
    assert!(generate(&r).is_ok());
    assert_eq!(r.clock.0.get(), 1000.0, "one attempt timeout");
}

#[test]
fn hanging_everywhere_is_a_timeout_within_the_deadline() {
    let r = rig(&["https://a/v1"], (0..20).map(|_| Step::Hang).collect(), false);
    assert_eq!(generate(&r).unwrap_err().code(), "TIMEOUT");
    assert!(r.clock.0.get() <= 5000.0 + 1.0, "{}", r.clock.0.get());
}

#[test]
fn definitive_refusals_are_not_retried() {
    for (body, code) in [
        (
            r#"{"code":403,"error":"KeyDisabled","message":"off","disabled_at":1700000000000}"#,
            "KEY_DISABLED",
        ),
        (
            r#"{"code":403,"error":"AccessDenied","message":"role"}"#,
            "ACCESS_DENIED",
        ),
        (
            r#"{"code":401,"error":"Unauthenticated","message":"exp"}"#,
            "ACCESS_DENIED",
        ),
        (
            r#"{"code":400,"error":"ContextMismatch","message":"ctx"}"#,
            "CONTEXT_MISMATCH",
        ),
        (
            r#"{"code":400,"error":"InvalidCiphertext","message":"bad"}"#,
            "DECRYPTION_FAILED",
        ),
        (
            r#"{"code":404,"error":"KeyNotFound","message":"no"}"#,
            "KEY_NOT_FOUND",
        ),
    ] {
        let status = serde_json::from_str::<serde_json::Value>(body).unwrap()["code"]
            .as_u64()
            .unwrap() as u16;
        let r = rig(
            &["https://a/v1", "https://b/v1"],
            vec![Step::Status(status, None, body)],
            false,
        );
        assert_eq!(generate(&r).unwrap_err().code(), code, "{body}");
        assert_eq!(r.script.seen.borrow().len(), 1, "{body}");
    }
}

#[test]
fn disabled_answer_records_time_to_revoke() {
    let r = rig(
        &["https://a/v1"],
        vec![Step::Status(
            403,
            None,
            r#"{"code":403,"error":"KeyDisabled","message":"off","disabled_at":1700000000000}"#,
        )],
        false,
    );
    let _ = generate(&r);
    let t = r.observer.snapshot().last_time_to_revoke_ms.unwrap();
    assert_eq!(t, 1.7e12 - 1_700_000_000_000.0);
}

#[test]
fn garbage_answers_are_protocol_errors() {
    let r = rig(
        &["https://a/v1"],
        vec![Step::Status(200, None, "<html>not json")],
        false,
    );
    assert_eq!(generate(&r).unwrap_err().code(), "PROTOCOL_ERROR");
    let r = rig(&["https://a/v1"], vec![Step::Status(418, None, "teapot")], false);
    assert_eq!(generate(&r).unwrap_err().code(), "PROTOCOL_ERROR");
}

#[test]
fn plaintext_key_answer_is_a_downgrade_unless_allowed() {
    let r = rig(&["https://a/v1"], vec![Step::Plaintext], false);
    assert_eq!(generate(&r).unwrap_err().code(), "DOWNGRADE_REFUSED");
    let r = rig(&["https://a/v1"], vec![Step::Plaintext], true);
    assert_eq!(generate(&r).unwrap().data_key.expose_secret(), &[7; 32]);
}

#[test]
fn circuit_opens_after_repeated_failures_and_half_opens_after_cooldown() {
    let steps = (0..9).map(|_| Step::Refuse).collect();
    let r = rig(&["https://a/v1", "https://b/v1"], steps, false);
    assert_eq!(generate(&r).unwrap_err().code(), "KMS_UNAVAILABLE");
    // 3 rounds × 2 URLs = 6 attempts; threshold 3 opens both circuits.
    assert_eq!(r.script.seen.borrow().len(), 6);
    assert_eq!(
        r.events
            .borrow()
            .iter()
            .filter(|e| matches!(e, Event::CircuitOpen { .. }))
            .count(),
        2
    );
    // While open: fail fast, no request.
    r.script.steps.borrow_mut().clear();
    assert_eq!(generate(&r).unwrap_err().code(), "KMS_UNAVAILABLE");
    assert_eq!(r.script.seen.borrow().len(), 6);
    // After the cooldown, one probe per URL; a good answer closes the circuit.
    r.clock.0.set(r.clock.0.get() + 10_001.0);
    assert!(generate(&r).is_ok());
    assert_eq!(r.script.seen.borrow().len(), 7);
}

#[test]
fn sdk_caches_data_keys_and_fails_over_across_entries() {
    let primary = rig(&["https://a/v1"], vec![], false);
    let escrow = rig(&["https://e/v1"], vec![], false);
    let clock = primary.clock.clone();
    let observer = primary.observer.clone();
    let p = Rc::new(primary.client);
    let e = Rc::new(
        KmsClient::new(
            KmsClientConfig {
                id: "escrow".into(),
                urls: vec!["https://e/v1".into()],
                policy: RetryPolicy::default(),
                allow_plaintext_keys: false,
                reason: None,
                identity: None,
            },
            Rc::new(Tr(escrow.script.clone())),
            Rc::new(ClockH(clock.clone())),
            Rc::new(Tok),
            observer.clone(),
        )
        .unwrap(),
    );
    let ks = KeySeal::new(
        KeySealConfig {
            services: vec![
                ServiceBinding {
                    service: p.clone(),
                    key_id: "acme/k".into(),
                },
                ServiceBinding {
                    service: e.clone(),
                    key_id: "acme/escrow".into(),
                },
            ],
            cache: CacheConfig {
                max_age_ms: 1000.0,
                max_messages: 3,
                max_bytes: 1 << 20,
                max_entries: 10,
            },
            wrap_mode: WrapMode::KeyService,
            segment_size: 64,
            engine: Box::new(keyseal::RustCryptoEngine),
            decrypt: Default::default(),
        },
        Rc::new(ClockH(clock.clone())),
        observer.clone(),
    )
    .unwrap();
    let c = ctx();
    let sealed: Vec<_> = (0..5)
        .map(|i| block_on(ks.encrypt(format!("m{i}").as_bytes(), &c)).unwrap())
        .collect();
    // 5 messages, max 3 per data key: 2 generates, 2 escrow wraps.
    assert_eq!(
        primary
            .script
            .seen
            .borrow()
            .iter()
            .filter(|u| u.ends_with("/generate"))
            .count(),
        2
    );
    assert_eq!(
        escrow
            .script
            .seen
            .borrow()
            .iter()
            .filter(|u| u.ends_with("/wrap"))
            .count(),
        2
    );
    assert_eq!(keyseal::inspect(&sealed[0]).unwrap().entries.len(), 2);
    // Primary down: decrypt fails over to the escrow entry.
    primary
        .script
        .steps
        .borrow_mut()
        .extend((0..10).map(|_| Step::Refuse));
    let (_, pt) = block_on(ks.decrypt(&sealed[0], &c)).unwrap();
    assert_eq!(pt, b"m0");
    assert!(escrow.script.seen.borrow().iter().any(|u| u.ends_with("/unwrap")));
    // Cached now: no more calls for the same message.
    let calls = escrow.script.seen.borrow().len();
    block_on(ks.decrypt(&sealed[0], &c)).unwrap();
    assert_eq!(escrow.script.seen.borrow().len(), calls);
    // After max age the cache no longer serves it.
    clock.0.set(clock.0.get() + 1001.0);
    block_on(ks.decrypt(&sealed[0], &c)).unwrap();
    assert!(escrow.script.seen.borrow().len() > calls);
    let m = ks.metrics();
    assert_eq!(m.decrypt_ok, 3);
    assert!(m.cache_hits >= 4);
    assert!(
        ks.metrics_text()
            .contains("keyseal_kms_requests_total{op=\"generate\",outcome=\"ok\"} 2")
    );
}

#[test]
fn key_disabled_purges_the_cache_and_does_not_fail_over() {
    let primary = rig(&["https://a/v1"], vec![], false);
    let clock = primary.clock.clone();
    let observer = primary.observer.clone();
    let events = primary.events.clone();
    let p = Rc::new(primary.client);
    let ks = KeySeal::new(
        KeySealConfig {
            services: vec![ServiceBinding {
                service: p,
                key_id: "acme/k".into(),
            }],
            cache: CacheConfig::default(),
            wrap_mode: WrapMode::KeyService,
            segment_size: 64,
            engine: Box::new(keyseal::RustCryptoEngine),
            decrypt: Default::default(),
        },
        Rc::new(ClockH(clock.clone())),
        observer,
    )
    .unwrap();
    let c = ctx();
    let a = block_on(ks.encrypt(b"a", &c)).unwrap();
    // Another message (different context → different data key) is unwrapped, not cached.
    let c2 = EncryptionContext::from_pairs([("tenant", "acme"), ("o", "2")]).unwrap();
    let b = block_on(ks.encrypt(b"b", &c2)).unwrap();
    ks.purge(None);
    block_on(ks.decrypt(&a, &c)).unwrap();
    primary.script.steps.borrow_mut().push_back(Step::Status(
        403,
        None,
        r#"{"code":403,"error":"KeyDisabled","message":"off"}"#,
    ));
    assert_eq!(block_on(ks.decrypt(&b, &c2)).unwrap_err().code(), "KEY_DISABLED");
    assert!(events.borrow().iter().any(|e| matches!(
        e,
        Event::CachePurged {
            reason: "key_disabled",
            ..
        }
    )));
    // `a` was cached; the purge means it must go to the key service again (which now works).
    let before = primary.script.seen.borrow().len();
    block_on(ks.decrypt(&a, &c)).unwrap();
    assert_eq!(primary.script.seen.borrow().len(), before + 1);
    let _ = RecipientKeyPair::generate();
}
