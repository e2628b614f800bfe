//! Service identity (PROTOCOL.md §6.3) against the real `keyseal-kms` process: every key-operation
//! answer and every `/rewrap-batch` answer (one signature over all its items) verifies under the
//! identity key over the statement rebuilt from the request the test sent and the answer it got, and stops verifying
//! when any answer field changes; the public-key JWK is signed; `identity show`, `/status` and the
//! `KEYSEAL_KMS_IDENTITY=` line agree, across restarts; the identity secret is nowhere in clear.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kms, b64, cli, unb64};
use keyseal_format::DataKey;
use keyseal_format::ecdsa_p256::{SignatureKeyPair, verify};
use keyseal_format::hpke_p256::{self, RecipientKeyPair};
use keyseal_kms::store::{Store, load_master_key};
use keyseal_protocol::identity::{AnswerFacts, public_key_statement};
use keyseal_protocol::{PublicKeyJwk, WireContext};
use serde_json::{Value, json};

fn ctx() -> Value {
    json!({"tenant": "acme", "object": "doc-42"})
}

fn recipient(kp: &RecipientKeyPair) -> Value {
    json!({"suite": {"kem": 16, "kdf": 1, "aead": 2}, "public_key": b64(&kp.public_sec1())})
}

/// A base64 member of `v`, or the empty string of §6.3 when absent.
fn bytes_of(v: &Value) -> Vec<u8> {
    v.as_str().map(unb64).unwrap_or_default()
}

/// The members of an answer statement, owned: rebuilt from a request and its answer.
#[derive(Debug, Clone)]
struct Facts {
    op: String,
    key_id: String,
    to_key_id: String,
    context: Vec<u8>,
    recipient: Vec<u8>,
    wrapped_in: Vec<u8>,
    wrapped_out: Vec<u8>,
    key_version: u32,
    enc: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl Facts {
    /// What the client knows: the request it sent (`op` at `req`) and the answer it got.
    fn of(op: &str, req: &Value, answer: &Value) -> Facts {
        let key_id = req["key_id"].as_str().unwrap().to_string();
        let wire: WireContext = serde_json::from_value(req["context"].clone()).unwrap();
        Facts {
            op: op.into(),
            to_key_id: req["to_key_id"].as_str().unwrap_or(&key_id).to_string(),
            key_id,
            context: wire.to_context().unwrap().encode(),
            recipient: bytes_of(&req["recipient"]["public_key"]),
            wrapped_in: bytes_of(&req["wrapped_key"]),
            wrapped_out: bytes_of(&answer["wrapped_key"]),
            key_version: u32::try_from(answer["key_version"].as_u64().unwrap()).unwrap(),
            enc: bytes_of(&answer["sealed_key"]["enc"]),
            ciphertext: bytes_of(&answer["sealed_key"]["ciphertext"]),
        }
    }

    fn statement(&self) -> Vec<u8> {
        AnswerFacts {
            op: &self.op,
            key_id: &self.key_id,
            to_key_id: &self.to_key_id,
            context: &self.context,
            recipient: &self.recipient,
            wrapped_in: &self.wrapped_in,
            wrapped_out: &self.wrapped_out,
            key_version: self.key_version,
            enc: &self.enc,
            ciphertext: &self.ciphertext,
        }
        .statement()
    }

    fn verifies(&self, identity: &[u8], signature: &[u8]) -> bool {
        verify(identity, &self.statement(), signature).is_ok()
    }
}

/// The batch statement of §6.3, written out here from the text of PROTOCOL.md.
fn batch_statement(outcomes: &[Result<Facts, String>]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut s = b"keyseal/v1 batch\0".to_vec();
    s.extend_from_slice(&u32::try_from(outcomes.len()).unwrap().to_be_bytes());
    for o in outcomes {
        match o {
            Ok(f) => {
                s.push(1);
                s.extend_from_slice(&Sha256::digest(f.statement()));
            }
            Err(name) => {
                s.push(0);
                s.extend_from_slice(&Sha256::digest(name.as_bytes()));
            }
        }
    }
    s
}

/// One change a substitute would make to an answer, named.
type Tamper<'a> = (&'a str, Box<dyn Fn(&mut Facts) + 'a>);

/// Asserts that `answer` to `req` carries a signature over its statement; returns the facts and
/// the signature.
#[track_caller]
fn assert_signed(identity: &[u8], op: &str, req: &Value, answer: &Value) -> (Facts, Vec<u8>) {
    let sig = unb64(
        answer["identity_signature"]
            .as_str()
            .unwrap_or_else(|| panic!("{op}: no identity_signature in {answer}")),
    );
    assert_eq!(sig.len(), 64, "r ‖ s");
    let facts = Facts::of(op, req, answer);
    assert!(
        facts.verifies(identity, &sig),
        "{op}: signature does not verify: {answer}"
    );
    (facts, sig)
}

/// POSTs `req` to `/op`, expects 200 and a signed answer.
async fn signed(kms: &Kms, identity: &[u8], op: &str, req: &Value) -> (Value, Facts, Vec<u8>) {
    let (s, answer) = kms.post(&format!("/{op}"), req).await;
    assert_eq!(s, 200, "{op}: {answer}");
    let (facts, sig) = assert_signed(identity, op, req, &answer);
    (answer, facts, sig)
}

#[tokio::test]
async fn every_key_operation_answer_is_signed_over_the_request_and_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &[]).await;
    let t = &kms.dev_token;
    let id = unb64(&kms.identity);
    assert_eq!((id.len(), id[0]), (65, 4), "uncompressed SEC1");

    // generate, sealed to a recipient and in clear
    let kp = RecipientKeyPair::generate();
    let req =
        json!({"key_id": "acme/default", "context": ctx(), "recipient": recipient(&kp), "authorization": t});
    let (g, g_facts, g_sig) = signed(&kms, &id, "generate", &req).await;
    assert!(!g_facts.enc.is_empty() && !g_facts.recipient.is_empty());
    let wrapped = g["wrapped_key"].clone();
    let req = json!({"key_id": "acme/default", "context": {}, "authorization": t});
    let (g2, facts, _) = signed(&kms, &id, "generate", &req).await;
    assert!(g2["key"].is_string() && facts.enc.is_empty() && facts.ciphertext.is_empty());

    // wrap
    let req =
        json!({"key_id": "acme/default", "key": b64(&[42u8; 32]), "context": ctx(), "authorization": t});
    let (w, _, w_sig) = signed(&kms, &id, "wrap", &req).await;

    // unwrap (kms), sealed and in clear; the request's wrapped key is in the statement
    let kp2 = RecipientKeyPair::generate();
    let req = json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "recipient": recipient(&kp2), "authorization": t});
    let (_, facts, _) = signed(&kms, &id, "unwrap", &req).await;
    assert_eq!(facts.wrapped_in, unb64(wrapped.as_str().unwrap()));
    assert!(facts.wrapped_out.is_empty());
    let req = json!({"key_id": "acme/default", "wrapped_key": w["wrapped_key"], "context": ctx(), "authorization": t});
    let (u, _, _) = signed(&kms, &id, "unwrap", &req).await;
    assert_eq!(unb64(u["key"].as_str().unwrap()), [42u8; 32]);

    // the public key's JWK is signed over the public-key statement
    let (s, v) = kms.get("/keys/acme/default/public", None).await;
    assert_eq!(s, 200, "{v}");
    let jwk: PublicKeyJwk = serde_json::from_value(v).unwrap();
    let sec1 = jwk.to_sec1().unwrap();
    let jwk_sig = jwk.identity_signature.clone().unwrap().0;
    verify(
        &id,
        &public_key_statement(&jwk.key_id, jwk.key_version, &sec1),
        &jwk_sig,
    )
    .unwrap();
    for (key_id, version, key) in [
        ("acme/other", jwk.key_version, sec1.clone()),
        (jwk.key_id.as_str(), jwk.key_version + 1, sec1.clone()),
        (jwk.key_id.as_str(), jwk.key_version, kp.public_sec1().to_vec()),
    ] {
        assert!(
            verify(&id, &public_key_statement(key_id, version, &key), &jwk_sig).is_err(),
            "a substituted public key must not verify"
        );
    }

    // unwrap of an hpke-p256 entry made offline with that (verified) public key
    let dek = DataKey::from_bytes(&[7u8; 32]).unwrap();
    let wire: WireContext = serde_json::from_value(ctx()).unwrap();
    let entry = hpke_p256::seal_entry(
        &sec1,
        "acme/default",
        jwk.key_version,
        &wire.to_context().unwrap(),
        &dek,
    )
    .unwrap();
    let req = json!({"key_id": "acme/default", "kind": "hpke-p256", "wrapped_key": b64(&entry), "context": ctx(), "recipient": recipient(&kp2), "authorization": t});
    let (u, _, _) = signed(&kms, &id, "unwrap", &req).await;
    let sealed = hpke_p256::SealedKey {
        enc: unb64(u["sealed_key"]["enc"].as_str().unwrap()),
        ciphertext: unb64(u["sealed_key"]["ciphertext"].as_str().unwrap()),
    };
    assert_eq!(
        hpke_p256::open_from_sender(&kp2, &sealed)
            .unwrap()
            .expose_secret(),
        dek.expose_secret()
    );

    // rewrap, to the same key and to another one
    assert!(kms.cli(&["key", "create", "acme/other"]).status.success());
    let req = json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "authorization": t});
    let (_, facts, _) = signed(&kms, &id, "rewrap", &req).await;
    assert_eq!(facts.to_key_id, "acme/default");
    let req = json!({"key_id": "acme/default", "kind": "hpke-p256", "wrapped_key": b64(&entry), "context": ctx(), "to_key_id": "acme/other", "authorization": t});
    let (r, facts, _) = signed(&kms, &id, "rewrap", &req).await;
    assert_eq!(
        (r["key_id"].as_str(), facts.to_key_id.as_str()),
        (Some("acme/other"), "acme/other")
    );

    // a batch carries one signature over the batch statement (the items none): every item in
    // order, an answered one by the digest of its answer statement as a rewrap, a refused one by
    // the digest of its error name
    let items = vec![
        json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx()}),
        json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": {}}),
        json!({"key_id": "acme/default", "wrapped_key": w["wrapped_key"], "context": ctx(), "to_key_id": "acme/other"}),
        json!({"key_id": "acme/default", "kind": "hpke-p256", "wrapped_key": b64(&entry), "context": ctx()}),
    ];
    let (s, b) = kms
        .post("/rewrap-batch", &json!({"items": items, "authorization": t}))
        .await;
    assert_eq!(s, 200, "{b}");
    let answers = b["items"].as_array().unwrap();
    assert_eq!(answers.len(), items.len());
    assert_eq!(answers[1]["error"], "ContextMismatch", "{b}");
    assert!(
        answers.iter().all(|a| a.get("identity_signature").is_none()),
        "{b}"
    );
    let batch_sig = unb64(b["identity_signature"].as_str().expect("a batch signature"));
    let outcomes: Vec<Result<Facts, String>> = items
        .iter()
        .zip(answers)
        .map(|(item, answer)| match answer["error"].as_str() {
            Some(e) => Err(e.to_string()),
            None => Ok(Facts::of("rewrap", item, answer)),
        })
        .collect();
    assert!(
        verify(&id, &batch_statement(&outcomes), &batch_sig).is_ok(),
        "batch signature"
    );
    // ... and it does not pass for the items in another order, another outcome or one item fewer
    let mut swapped = outcomes.clone();
    swapped.swap(0, 2);
    let mut refused = outcomes.clone();
    refused[0] = Err("KeyDisabled".into());
    let mut other_error = outcomes.clone();
    other_error[1] = Err("AccessDenied".into());
    let mut other_answer = outcomes.clone();
    if let Ok(f) = &mut other_answer[3] {
        f.key_version += 1;
    }
    for (what, o) in [
        ("swapped items", swapped),
        ("an answered item reported refused", refused),
        ("another error name", other_error),
        ("another answer", other_answer),
        ("one item fewer", outcomes[..3].to_vec()),
    ] {
        assert!(verify(&id, &batch_statement(&o), &batch_sig).is_err(), "{what}");
    }
    // a batch signature is no single answer's signature either
    assert!(!outcomes[0].clone().unwrap().verifies(&id, &batch_sig));

    // A substitute cannot change any answer field, nor reuse a genuine answer elsewhere.
    let other_wrapped = unb64(w["wrapped_key"].as_str().unwrap());
    let tampered: Vec<Tamper<'_>> = vec![
        (
            "another wrapped_key",
            Box::new(|f| f.wrapped_out = other_wrapped.clone()),
        ),
        ("another key_version", Box::new(|f| f.key_version += 1)),
        ("another key_id", Box::new(|f| f.key_id = "acme/other".into())),
        (
            "another to_key_id",
            Box::new(|f| f.to_key_id = "acme/other".into()),
        ),
        ("another context", Box::new(|f| f.context = Vec::new())),
        (
            "another recipient",
            Box::new(|f| f.recipient = kp2.public_sec1().to_vec()),
        ),
        ("another sealed key", Box::new(|f| f.ciphertext[0] ^= 1)),
        ("another enc", Box::new(|f| f.enc = kp2.public_sec1().to_vec())),
        ("another operation", Box::new(|f| f.op = "wrap".into())),
        (
            "a request wrapped key",
            Box::new(|f| f.wrapped_in = other_wrapped.clone()),
        ),
    ];
    assert!(g_facts.verifies(&id, &g_sig));
    for (what, change) in &tampered {
        let mut f = g_facts.clone();
        change(&mut f);
        assert!(!f.verifies(&id, &g_sig), "{what} still verifies");
    }
    assert!(
        !g_facts.verifies(&id, &w_sig),
        "the wrap answer's signature is not the generate's"
    );
    let mut bad = g_sig.clone();
    bad[5] ^= 1;
    assert!(!g_facts.verifies(&id, &bad));

    // Refusals are not signed.
    let (s, e) = kms
        .post("/generate", &json!({"key_id": "acme/default", "context": {}}))
        .await;
    assert_eq!(s, 401);
    assert!(e.get("identity_signature").is_none(), "{e}");
}

fn identity_show(db: &std::path::Path, format: &[&str]) -> String {
    let mut args = vec!["identity", "show"];
    args.extend_from_slice(format);
    let out = cli(db, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn the_identity_is_pinned_once_and_its_secret_stays_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let mut printed = String::new();
    let mut pinned: Option<String> = None;
    for run in 0..2 {
        let kms = Kms::start(dir.path(), &[]).await;
        let (s, status) = kms.get("/status", None).await;
        assert_eq!(s, 200);
        assert_eq!(status["identity_key"], kms.identity.as_str(), "{status}");
        let shown = identity_show(&kms.db, &[]);
        assert_eq!(
            shown.trim(),
            kms.identity,
            "identity show = the serve line = /status"
        );
        let jwk: Value = serde_json::from_str(&identity_show(&kms.db, &["--format", "jwk"])).unwrap();
        let sec1 = PublicKeyJwk {
            kty: jwk["kty"].as_str().unwrap().into(),
            crv: jwk["crv"].as_str().unwrap().into(),
            x: jwk["x"].as_str().unwrap().into(),
            y: jwk["y"].as_str().unwrap().into(),
            use_: String::new(),
            alg: String::new(),
            kid: String::new(),
            key_id: String::new(),
            key_version: 0,
            identity_signature: None,
        }
        .to_sec1()
        .unwrap();
        assert_eq!(b64(&sec1), kms.identity);
        assert_eq!(
            (jwk["use"].as_str(), jwk["alg"].as_str()),
            (Some("sig"), Some("ES256"))
        );
        match &pinned {
            None => pinned = Some(kms.identity.clone()),
            Some(p) => assert_eq!(p, &kms.identity, "run {run}: the identity survives a restart"),
        }
        // Some traffic for the logs and the audit log.
        let (s, g) = kms
            .post(
                "/generate",
                &json!({"key_id": "acme/default", "context": ctx(), "authorization": kms.dev_token}),
            )
            .await;
        assert_eq!(s, 200, "{g}");
        assert_eq!(kms.get("/keys/acme/default/public", None).await.0, 200);
        printed.push_str(&kms.stdout());
        printed.push_str(&shown);
    }
    let db = dir.path().join("kms.db");
    printed.push_str(&std::fs::read_to_string(dir.path().join("kms.stderr")).unwrap());
    for args in [&["init"][..], &["audit", "verify"], &["key", "list"]] {
        let out = cli(&db, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
        printed.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(
        identity_show(&db, &[]).trim(),
        pinned.as_deref().unwrap(),
        "init keeps the key"
    );

    // The secret, read the only way there is: through the master key.
    let store = Store::open(&db, load_master_key(&db, None, false).unwrap()).unwrap();
    let secret = store.identity_secret(false).unwrap().unwrap();
    let public = SignatureKeyPair::from_secret_scalar(&secret)
        .unwrap()
        .public_sec1();
    assert_eq!(b64(&public), pinned.unwrap(), "this is the identity's secret");
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let encodings = [b64(secret.as_ref()), hex.clone(), hex.to_uppercase()];

    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare("SELECT subject || tenant || key_id || operation || reason || outcome || detail FROM audit")
        .unwrap();
    let audit: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(audit.len() >= 4, "the traffic was audited");
    let audit = audit.join("\n");
    for e in &encodings {
        assert!(!printed.contains(e.as_str()), "the identity secret was printed");
        assert!(
            !audit.contains(e.as_str()),
            "the identity secret is in the audit log"
        );
    }
    drop(stmt);
    drop(conn);
    drop(store);
    for name in ["kms.db", "kms.db-wal", "kms.db-shm"] {
        let Ok(file) = std::fs::read(dir.path().join(name)) else {
            continue;
        };
        assert!(
            !file.windows(32).any(|w| w == secret.as_ref()),
            "{name} holds the identity secret in clear"
        );
        for e in &encodings {
            assert!(
                !file.windows(e.len()).any(|w| w == e.as_bytes()),
                "{name} holds an encoding of the identity secret"
            );
        }
    }
}

#[test]
fn a_database_without_an_identity_key_gets_one_at_the_next_init() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    assert!(cli(&db, &["init"]).status.success());
    let first = identity_show(&db, &[]);
    assert_eq!(unb64(first.trim()).len(), 65);
    // A database made before identity keys: everything but the identity key.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("DELETE FROM meta WHERE k='identity_key'", [])
        .unwrap();
    let out = cli(&db, &["identity", "show"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no identity key") && stderr.contains("init"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert!(cli(&db, &["init"]).status.success());
    let second = identity_show(&db, &[]);
    assert_eq!(unb64(second.trim()).len(), 65);
    assert_ne!(first, second, "a new key, made once");
    assert_eq!(identity_show(&db, &[]), second);
}
