//! `KaclsClient` against a scripted transport: the exact request fields of Google's KACLS API,
//! `/status` read once, the resource name taken from the context, Google's error shape read,
//! 403 not retried, 5xx failing over to the next URL, and the plaintext-answer acknowledgement.
//! (The real peer — keyseal-kms serving the KACLS API — is exercised by the JS suite in every
//! runtime and by kms/tests/kacls.rs.)
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, missing_docs)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

mod common;
use common::block_on;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyseal::{
    Clock, DataKey, EncryptionContext, EntryKind, Error, HttpRequest, HttpResponse, HttpTransport,
    KaclsClient, KaclsConfig, KaclsTokenSource, KeyService, LocalBoxFuture, Observer, RetryPolicy,
    TransportError,
};

struct Clk;
impl Clock for Clk {
    fn now_ms(&self) -> f64 {
        0.0
    }
    fn unix_ms(&self) -> f64 {
        1.7e12
    }
    fn sleep(&self, _: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// Answers in order; records (url, body).
struct Tr {
    answers: RefCell<VecDeque<(u16, serde_json::Value)>>,
    seen: RefCell<Vec<(String, Option<serde_json::Value>)>>,
}
struct TrH(Rc<Tr>);
impl HttpTransport for TrH {
    fn send(&self, req: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        let body = req.body.as_deref().map(|b| serde_json::from_slice(b).unwrap());
        self.0.seen.borrow_mut().push((req.url.clone(), body));
        let (status, v) = self.0.answers.borrow_mut().pop_front().unwrap();
        Box::pin(async move {
            Ok(HttpResponse {
                status,
                retry_after_ms: None,
                body: v.to_string().into_bytes(),
            })
        })
    }
}

struct Tokens;
impl KaclsTokenSource for Tokens {
    fn authentication<'a>(&'a self, op: &'a str) -> LocalBoxFuture<'a, Result<String, String>> {
        Box::pin(async move { Ok(format!("authn-{op}")) })
    }
    fn authorization<'a>(
        &'a self,
        op: &'a str,
        resource: &'a str,
    ) -> LocalBoxFuture<'a, Result<String, String>> {
        Box::pin(async move { Ok(format!("authz-{op}-{resource}")) })
    }
}

fn config(urls: &[&str], ack: bool) -> KaclsConfig {
    KaclsConfig {
        id: "acme-kacls".into(),
        urls: urls.iter().map(|u| u.to_string()).collect(),
        resource_name_key: "object".into(),
        reason: "{client:'app' op:'save'}".into(),
        accept_plaintext_key_answers: ack,
        policy: RetryPolicy {
            max_rounds: 1,
            ..RetryPolicy::default()
        },
    }
}

fn client(urls: &[&str], answers: Vec<(u16, serde_json::Value)>) -> (KaclsClient, Rc<Tr>) {
    let tr = Rc::new(Tr {
        answers: RefCell::new(answers.into()),
        seen: RefCell::default(),
    });
    let c = KaclsClient::new(
        config(urls, true),
        Rc::new(TrH(tr.clone())),
        Rc::new(Clk),
        Rc::new(Tokens),
        Rc::new(Observer::with_sink(None)),
    )
    .unwrap();
    (c, tr)
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("tenant", "acme"), ("object", "doc-1")]).unwrap()
}

fn status() -> (u16, serde_json::Value) {
    (
        200,
        serde_json::json!({"server_type": "KACLS", "vendor_id": "x", "version": "1", "name": "k"}),
    )
}

#[test]
fn wrap_and_unwrap_send_googles_fields_and_read_status_once() {
    let dek = [9u8; 32];
    let (c, tr) = client(
        &["https://kacls.example.com/v1/"],
        vec![
            status(),
            (
                200,
                serde_json::json!({"wrapped_key": STANDARD.encode(b"opaque-wrapped")}),
            ),
            (200, serde_json::json!({"key": STANDARD.encode(dek)})),
        ],
    );
    assert_eq!(c.entry_kind(), EntryKind::Kacls);
    assert!(!c.reads_versions());
    let wrapped = block_on(c.wrap("drive-cse", &DataKey::from_bytes(&dek).unwrap(), &ctx())).unwrap();
    assert_eq!(wrapped, b"opaque-wrapped");
    let got = block_on(c.unwrap(EntryKind::Kacls, "drive-cse", &wrapped, &ctx())).unwrap();
    assert_eq!(got.expose_secret(), &dek);
    let seen = tr.seen.borrow();
    let urls: Vec<&str> = seen.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://kacls.example.com/v1/status",
            "https://kacls.example.com/v1/wrap",
            "https://kacls.example.com/v1/unwrap"
        ]
    );
    assert_eq!(seen[0].1, None, "GET /status has no body");
    assert_eq!(
        seen[1].1.as_ref().unwrap(),
        &serde_json::json!({"authentication": "authn-wrap", "authorization": "authz-wrap-doc-1",
            "key": STANDARD.encode(dek), "reason": "{client:'app' op:'save'}"})
    );
    assert_eq!(
        seen[2].1.as_ref().unwrap(),
        &serde_json::json!({"authentication": "authn-unwrap", "authorization": "authz-unwrap-doc-1",
            "reason": "{client:'app' op:'save'}", "wrapped_key": STANDARD.encode(b"opaque-wrapped")})
    );
}

#[test]
fn rewrap_is_googles_rewrap_from_this_kacls_and_sends_no_key() {
    let (c, tr) = client(
        &["https://kacls.example.com/v1", "https://kacls-dr.example.com/v1"],
        vec![
            status(),
            (
                200,
                serde_json::json!({"wrapped_key": STANDARD.encode(b"rewrapped"), "resource_key_hash": "aGFzaA=="}),
            ),
        ],
    );
    let got = block_on(c.rewrap(
        EntryKind::Kacls,
        "drive-cse",
        b"old",
        &ctx(),
        Some("drive-cse-2027"),
    ))
    .unwrap();
    assert_eq!(got, b"rewrapped");
    let seen = tr.seen.borrow();
    assert_eq!(seen[1].0, "https://kacls.example.com/v1/rewrap");
    assert_eq!(
        seen[1].1.as_ref().unwrap(),
        &serde_json::json!({"authorization": "authz-rewrap-doc-1", "original_kacls_url": "https://kacls.example.com/v1",
            "reason": "{client:'app' op:'save'}", "wrapped_key": STANDARD.encode(b"old")}),
        "no authentication token and no key in a rewrap"
    );
}

fn code(e: &Error) -> &'static str {
    e.code()
}

#[test]
fn a_403_is_access_denied_with_googles_message_and_is_not_retried() {
    let (c, tr) = client(
        &["https://a.example/v1", "https://b.example/v1"],
        vec![
            status(),
            (
                403,
                serde_json::json!({"code": 403, "message": "resource_name mismatch", "details": "doc-1 vs doc-2"}),
            ),
        ],
    );
    let e = block_on(c.unwrap(EntryKind::Kacls, "drive-cse", b"w", &ctx())).unwrap_err();
    assert_eq!(code(&e), "ACCESS_DENIED");
    assert!(
        e.to_string().contains("resource_name mismatch (doc-1 vs doc-2)"),
        "{e}"
    );
    assert_eq!(tr.seen.borrow().len(), 2, "status + one unwrap, no failover");
}

#[test]
fn a_503_fails_over_to_the_next_url() {
    let (c, tr) = client(
        &["https://a.example/v1", "https://b.example/v1"],
        vec![
            status(),
            (
                503,
                serde_json::json!({"code": 503, "message": "HSM unavailable", "details": ""}),
            ),
            (200, serde_json::json!({"key": STANDARD.encode([1u8; 32])})),
        ],
    );
    block_on(c.unwrap(EntryKind::Kacls, "drive-cse", b"w", &ctx())).unwrap();
    assert_eq!(tr.seen.borrow()[2].0, "https://b.example/v1/unwrap");
}

#[test]
fn not_a_kacls_wrong_kind_and_missing_resource_are_refused_before_any_key_operation() {
    let (c, tr) = client(
        &["https://a.example/v1"],
        vec![(200, serde_json::json!({"ok": true}))],
    );
    let e = block_on(c.wrap("k", &DataKey::from_bytes(&[1; 32]).unwrap(), &ctx())).unwrap_err();
    assert_eq!(code(&e), "PROTOCOL_ERROR", "{e}");
    assert_eq!(tr.seen.borrow().len(), 1, "only /status was asked");
    let e = block_on(c.unwrap(EntryKind::Kms, "k", b"w", &ctx())).unwrap_err();
    assert_eq!(code(&e), "PROTOCOL_ERROR", "a kms entry is not sent to a KACLS");
    let no_object = EncryptionContext::from_pairs([("tenant", "acme")]).unwrap();
    let e = block_on(c.wrap("k", &DataKey::from_bytes(&[1; 32]).unwrap(), &no_object)).unwrap_err();
    assert_eq!(code(&e), "INVALID_ARGUMENT");
    assert_eq!(tr.seen.borrow().len(), 1, "nothing sent without a resource name");
}

#[test]
fn the_plaintext_answer_acknowledgement_is_required() {
    let tr = Rc::new(Tr {
        answers: RefCell::default(),
        seen: RefCell::default(),
    });
    let e = KaclsClient::new(
        config(&["https://a.example/v1"], false),
        Rc::new(TrH(tr.clone())),
        Rc::new(Clk),
        Rc::new(Tokens),
        Rc::new(Observer::with_sink(None)),
    )
    .err()
    .unwrap();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    assert!(e.to_string().contains("acceptPlaintextKeyAnswers"), "{e}");
    let e = KaclsClient::new(
        config(&["http://kacls.example.com/v1"], true),
        Rc::new(TrH(tr)),
        Rc::new(Clk),
        Rc::new(Tokens),
        Rc::new(Observer::with_sink(None)),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("loopback"), "{e}");
}
