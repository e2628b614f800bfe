//! Transport trust (SECURITY.md "network attacker"): a substituting proxy that answers in the key
//! service's place is refused when the service identity is pinned (PROTOCOL.md §6.3) and succeeds
//! when it is not; plain http is refused off loopback; redirects are never followed.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, missing_docs)]

use std::cell::RefCell;
use std::rc::Rc;

mod common;
use common::block_on;

use keyseal::format::ecdsa_p256::SignatureKeyPair;
use keyseal::hpke_p256::{RecipientKeyPair, open_entry, seal_to_recipient};
use keyseal::protocol::identity::{AnswerFacts, public_key_statement};
use keyseal::protocol::{self as proto, Bytes};
use keyseal::{
    Clock, DataKey, EncryptionContext, EntryKind, Error, HttpRequest, HttpResponse, HttpTransport,
    KeyService, KeyServiceErrorKind, KmsClient, KmsClientConfig, LocalBoxFuture, Observer, RetryPolicy,
    TokenRequest, TokenSource, TransportError,
};

struct Now;
impl Clock for Now {
    fn now_ms(&self) -> f64 {
        0.0
    }
    fn unix_ms(&self) -> f64 {
        0.0
    }
    fn sleep(&self, _: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

struct Tokens(RefCell<Vec<String>>);
impl TokenSource for Tokens {
    fn token<'a>(&'a self, r: TokenRequest<'a>) -> LocalBoxFuture<'a, Result<String, String>> {
        self.0.borrow_mut().push(format!("{}:{}", r.op, r.key_id));
        Box::pin(async { Ok("token".into()) })
    }
}

/// Who answers: the real service (with its identity key), or a proxy in its place.
enum Answerer {
    Service,
    /// Seals a data key of its own to the recipient, unsigned.
    Proxy,
    /// Re-signs the real answer's statement with its own key.
    ProxyWithOwnKey,
    /// Answers 307 to somewhere else.
    Redirect,
    /// Passes the service a request with another context and relays its signed answer.
    SwapContext,
}

/// A key service at the HTTP level: the wrapped key is the data key sealed to its own KEK pair.
struct Server {
    who: Answerer,
    identity: SignatureKeyPair,
    proxy_identity: SignatureKeyPair,
    kek: RecipientKeyPair,
    dek: DataKey,
    proxy_dek: DataKey,
    seen: RefCell<Vec<String>>,
}

impl Server {
    fn sign(&self, facts: AnswerFacts<'_>) -> Bytes {
        let key = match self.who {
            Answerer::ProxyWithOwnKey => &self.proxy_identity,
            _ => &self.identity,
        };
        Bytes(key.sign(&facts.statement()).to_vec())
    }

    fn answer(&self, req: &HttpRequest) -> HttpResponse {
        self.seen.borrow_mut().push(req.url.clone());
        if let Answerer::Redirect = self.who {
            return HttpResponse {
                status: 307,
                retry_after_ms: None,
                body: Vec::new(),
            };
        }
        let ok = |v: serde_json::Value| HttpResponse {
            status: 200,
            retry_after_ms: None,
            body: v.to_string().into_bytes(),
        };
        let body: serde_json::Value =
            serde_json::from_slice(req.body.as_deref().unwrap_or(b"{}")).unwrap_or_default();
        let ctx = |v: &serde_json::Value| {
            let w: proto::WireContext = serde_json::from_value(v["context"].clone()).unwrap();
            w.to_context().unwrap()
        };
        if req.url.contains("/keys/") {
            let pk = self.kek.public_sec1();
            let mut jwk = proto::PublicKeyJwk::from_sec1("acme/escrow", 4, &pk).unwrap();
            jwk.identity_signature = Some(Bytes(
                self.identity
                    .sign(&public_key_statement("acme/escrow", 4, &pk))
                    .to_vec(),
            ));
            if let Answerer::Proxy = self.who {
                let substitute = RecipientKeyPair::generate().public_sec1();
                jwk = proto::PublicKeyJwk::from_sec1("acme/escrow", 4, &substitute).unwrap();
            }
            return ok(serde_json::to_value(&jwk).unwrap());
        }
        let op = req.url.rsplit('/').next().unwrap();
        let key_id = body["key_id"].as_str().unwrap().to_string();
        let c = ctx(&body);
        let encoded = match self.who {
            Answerer::SwapContext => EncryptionContext::from_pairs([("tenant", "globex")])
                .unwrap()
                .encode(),
            _ => c.encode(),
        };
        let recipient: Vec<u8> = body["recipient"]["public_key"]
            .as_str()
            .map(|s| proto::bytes::decode(s).unwrap())
            .unwrap_or_default();
        let dek = if matches!(self.who, Answerer::Proxy) {
            &self.proxy_dek
        } else {
            &self.dek
        };
        let wrapped_in: Vec<u8> = body["wrapped_key"]
            .as_str()
            .map(|s| proto::bytes::decode(s).unwrap())
            .unwrap_or_default();
        let to_key_id = body["to_key_id"].as_str().unwrap_or(&key_id).to_string();
        let mut a = proto::KeyAnswer {
            key_id: Some(to_key_id.clone()),
            key_version: Some(1),
            ..Default::default()
        };
        if op == "rewrap" {
            // an hpke-p256 entry made to our KEK: opened, wrapped "kms" as the data key itself
            let opened = open_entry(&self.kek.secret_scalar(), &key_id, &wrapped_in, &c).unwrap();
            a.wrapped_key = Some(Bytes(opened.expose_secret().to_vec()));
        } else if op == "generate" {
            a.wrapped_key = Some(Bytes(dek.expose_secret().to_vec()));
        }
        if !recipient.is_empty() {
            let s = seal_to_recipient(&recipient, dek).unwrap();
            a.sealed_key = Some(proto::SealedKey {
                enc: Bytes(s.enc),
                ciphertext: Bytes(s.ciphertext),
            });
        }
        if !matches!(self.who, Answerer::Proxy) {
            let sealed = a.sealed_key.clone();
            let facts = AnswerFacts {
                op,
                key_id: &key_id,
                to_key_id: &to_key_id,
                context: &encoded,
                recipient: &recipient,
                wrapped_in: &wrapped_in,
                wrapped_out: a.wrapped_key.as_ref().map_or(&[][..], |w| &w.0),
                key_version: 1,
                enc: sealed.as_ref().map_or(&[][..], |s| &s.enc.0),
                ciphertext: sealed.as_ref().map_or(&[][..], |s| &s.ciphertext.0),
            };
            a.identity_signature = Some(self.sign(facts));
        }
        ok(serde_json::to_value(&a).unwrap())
    }
}

struct Tr(Rc<Server>);
impl HttpTransport for Tr {
    fn send(&self, req: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        let r = self.0.answer(&req);
        Box::pin(async move { Ok(r) })
    }
}

fn server(who: Answerer) -> Rc<Server> {
    Rc::new(Server {
        who,
        identity: SignatureKeyPair::generate().unwrap(),
        proxy_identity: SignatureKeyPair::generate().unwrap(),
        kek: RecipientKeyPair::generate(),
        dek: DataKey::from_bytes(&[1; 32]).unwrap(),
        proxy_dek: DataKey::from_bytes(&[6; 32]).unwrap(),
        seen: RefCell::default(),
    })
}

fn client(s: &Rc<Server>, url: &str, pin: bool) -> Result<KmsClient, Error> {
    KmsClient::new(
        KmsClientConfig {
            id: "acme".into(),
            urls: vec![url.into()],
            policy: RetryPolicy::default(),
            allow_plaintext_keys: false,
            reason: None,
            identity: pin.then(|| s.identity.public_sec1().to_vec()),
        },
        Rc::new(Tr(s.clone())),
        Rc::new(Now),
        Rc::new(Tokens(RefCell::default())),
        Rc::new(Observer::default()),
    )
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("tenant", "acme")]).unwrap()
}

fn code(e: Error) -> &'static str {
    e.code()
}

#[test]
fn pinned_identity_accepts_the_service_and_refuses_a_substituting_proxy() {
    let real = server(Answerer::Service);
    let c = client(&real, "https://kms.acme.example/v1", true).unwrap();
    let g = block_on(c.generate("acme/default", &ctx())).unwrap();
    assert_eq!(g.data_key.expose_secret(), &[1; 32]);
    let back = block_on(c.unwrap(EntryKind::Kms, "acme/default", &g.wrapped, &ctx())).unwrap();
    assert_eq!(back.expose_secret(), &[1; 32]);

    // The proxy hands out a data key of its own: accepted when nothing is pinned (it then knows
    // every object's key), refused when the identity is pinned.
    let proxy = server(Answerer::Proxy);
    let trusting = client(&proxy, "https://kms.acme.example/v1", false).unwrap();
    assert_eq!(
        block_on(trusting.generate("acme/default", &ctx()))
            .unwrap()
            .data_key
            .expose_secret(),
        &[6; 32]
    );
    let pinned = Rc::new(Server {
        identity: SignatureKeyPair::from_secret_scalar(&real.identity.secret_scalar()).unwrap(),
        ..Rc::try_unwrap(server(Answerer::Proxy)).ok().unwrap()
    });
    let c = client(&pinned, "https://kms.acme.example/v1", true).unwrap();
    assert_eq!(
        code(block_on(c.generate("acme/default", &ctx())).unwrap_err()),
        "IDENTITY_MISMATCH"
    );
    assert_eq!(
        code(block_on(c.unwrap(EntryKind::Kms, "acme/default", &[6; 32], &ctx())).unwrap_err()),
        "IDENTITY_MISMATCH"
    );
    assert_eq!(
        code(block_on(c.public_key("acme/escrow")).unwrap_err()),
        "IDENTITY_MISMATCH"
    );

    // A proxy that signs with a key of its own is refused too.
    let own = server(Answerer::ProxyWithOwnKey);
    let c = client(&own, "https://kms.acme.example/v1", true).unwrap();
    let e = block_on(c.generate("acme/default", &ctx())).unwrap_err();
    assert!(
        matches!(
            e,
            Error::KeyService {
                kind: KeyServiceErrorKind::IdentityMismatch,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_genuine_answer_to_another_request_is_refused() {
    // A proxy that changes the request on its way (here: the context the data key is bound to)
    // gets a genuine, signed answer from the service — for the request the service saw.
    let swap = server(Answerer::SwapContext);
    let c = client(&swap, "https://kms.acme.example/v1", true).unwrap();
    assert_eq!(
        code(block_on(c.generate("acme/default", &ctx())).unwrap_err()),
        "IDENTITY_MISMATCH"
    );
}

#[test]
fn with_a_pinned_identity_wrap_never_sends_the_data_key() {
    let real = server(Answerer::Service);
    let c = client(&real, "https://kms.acme.example/v1", true).unwrap();
    let dek = DataKey::from_bytes(&[9; 32]).unwrap();
    let w = block_on(c.wrap("acme/escrow", &dek, &ctx())).unwrap();
    assert_eq!(
        w,
        vec![9; 32],
        "the service opened the hpke entry and re-wrapped the same key"
    );
    let seen = real.seen.borrow();
    assert!(seen.iter().all(|u| !u.ends_with("/wrap")), "{seen:?}");
    assert!(seen.iter().any(|u| u.ends_with("/rewrap")) && seen.iter().any(|u| u.contains("/keys/")));
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let s = server(Answerer::Service);
    for ok in [
        "https://kms.example/v1",
        "http://127.0.0.1:8787/v1",
        "http://localhost/v1",
        "http://[::1]:9/v1",
    ] {
        assert!(client(&s, ok, false).is_ok(), "{ok}");
    }
    for bad in [
        "http://kms.example/v1",
        "http://127.0.0.1.evil.example/v1",
        "ftp://x/v1",
        "kms.example/v1",
    ] {
        let e = client(&s, bad, false).err().unwrap();
        assert_eq!(e.code(), "INVALID_ARGUMENT", "{bad}");
    }
}

#[test]
fn a_redirect_is_refused_and_not_followed() {
    let s = server(Answerer::Redirect);
    let c = client(&s, "https://kms.acme.example/v1", false).unwrap();
    let e = block_on(c.generate("acme/default", &ctx())).unwrap_err();
    assert_eq!(e.code(), "PROTOCOL_ERROR");
    assert!(e.to_string().contains("does not follow redirects"), "{e}");
    assert_eq!(s.seen.borrow().len(), 1, "one request, no retry, no second URL");
}
