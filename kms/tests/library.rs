//! `keyseal-kms` as a library, in process: the service over a temporary store with the protocol
//! types, the in-flight limit of the HTTP layer, the destruction sweeper's log, and a server
//! bound and served inside the test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use keyseal_format::hpke_p256::{self, RecipientKeyPair};
use keyseal_format::{DataKey, EncryptionContext};
use keyseal_kms::admin::{Actor, AdminOp};
use keyseal_kms::auth::{self, MintOptions, Role, Verifier};
use keyseal_kms::http::{App, HttpConfig, run};
use keyseal_kms::identity::Identity;
use keyseal_kms::server::{ServeOptions, Server, Sweeper};
use keyseal_kms::store::{StateOp, Store, load_master_key};
use keyseal_kms::{Error, Service};
use keyseal_protocol::{
    BatchItemAnswer, Bytes, ErrorBody, GenerateRequest, KeyAnswer, Recipient, RewrapBatchRequest, RewrapItem,
    SecretBytes, StatusAnswer, Suite, Token, UnwrapRequest, WireContext, WrapRequest,
};
use zeroize::Zeroizing;

struct Fixture {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    service: Service,
    writer: Token,
    reader: Token,
    admin: Token,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lib.db");
    let store = Store::open(&db, Zeroizing::new([11u8; 32])).unwrap();
    let secret = store.local_issuer_secret(true).unwrap().unwrap();
    let mut verifier = Verifier::new(auth::DEFAULT_AUDIENCE);
    verifier.add_local(&auth::public_of(&secret).unwrap()).unwrap();
    let token = |role| {
        let opts = MintOptions {
            tenant: "acme",
            role,
            subject: "lib-test",
            audience: auth::DEFAULT_AUDIENCE,
            ttl_secs: 600,
        };
        auth::mint_local(&store, &opts).unwrap()
    };
    let (writer, reader, admin) = (token(Role::Writer), token(Role::Reader), token(Role::Admin));
    store.create_key("acme/default").unwrap();
    Fixture {
        _dir: dir,
        db,
        service: Service::new(store, verifier).unwrap(),
        writer,
        reader,
        admin,
    }
}

fn context() -> WireContext {
    WireContext(vec![
        ("tenant".into(), "acme".into()),
        ("object".into(), "doc-42".into()),
    ])
}

#[test]
fn the_service_answers_protocol_types_directly() {
    let f = fixture();
    let kp = RecipientKeyPair::generate();
    let req = GenerateRequest {
        key_id: "acme/default".into(),
        context: context(),
        recipient: Some(Recipient {
            suite: Suite::V1,
            public_key: Bytes(kp.public_sec1().to_vec()),
        }),
        authorization: Some(f.writer.clone()),
        reason: Some("library test".into()),
    };
    let g = f.service.generate(&req, None).unwrap();
    assert_eq!(g.key_version, Some(1));
    assert_eq!(
        g.identity_signature.as_ref().map(|s| s.0.len()),
        Some(64),
        "signed (§6.3)"
    );
    assert!(g.key.is_none(), "a recipient was sent: the key comes sealed");
    let sealed = g.sealed_key.clone().unwrap();
    let dek = hpke_p256::open_from_sender(
        &kp,
        &hpke_p256::SealedKey {
            enc: sealed.enc.0,
            ciphertext: sealed.ciphertext.0,
        },
    )
    .unwrap();
    let wrapped = g.wrapped_key.clone().unwrap();
    assert_eq!(keyseal_protocol::kms_layout::version(&wrapped.0), Some(1));

    // A reader unwraps with the token in the header position.
    let unwrap = UnwrapRequest {
        key_id: "acme/default".into(),
        kind: None,
        wrapped_key: wrapped.clone(),
        context: context(),
        recipient: None,
        authorization: None,
        reason: None,
    };
    let u = f.service.unwrap(&unwrap, Some(&f.reader)).unwrap();
    assert_eq!(u.key.unwrap().expose_secret(), dek.expose_secret());
    // The wrong context is a ContextMismatch; an admin may not unwrap (roles do not nest).
    let mut other = unwrap.clone();
    other.context = WireContext(vec![("tenant".into(), "acme".into())]);
    assert!(matches!(
        f.service.unwrap(&other, Some(&f.reader)),
        Err(Error::ContextMismatch(_))
    ));
    assert!(matches!(
        f.service.unwrap(&unwrap, Some(&f.admin)),
        Err(Error::AccessDenied(_))
    ));
    assert!(matches!(
        f.service.unwrap(&unwrap, None),
        Err(Error::Unauthenticated(_))
    ));

    // wrap, then rotate, then a batch moves both entries to version 2 and refuses a bad item.
    let mine = DataKey::from_bytes(&[42u8; 32]).unwrap();
    let w = f
        .service
        .wrap(
            &WrapRequest {
                key_id: "acme/default".into(),
                key: SecretBytes(Zeroizing::new(mine.expose_secret().to_vec())),
                context: context(),
                authorization: Some(f.writer.clone()),
                reason: None,
            },
            None,
        )
        .unwrap();
    f.service
        .admin(&Actor::cli(), "acme/default", AdminOp::Rotate, Some("test"))
        .unwrap();
    let item = |w: &KeyAnswer, ctx: WireContext| RewrapItem {
        key_id: "acme/default".into(),
        kind: None,
        wrapped_key: w.wrapped_key.clone().unwrap(),
        context: ctx,
        to_key_id: None,
    };
    let batch = RewrapBatchRequest {
        items: vec![
            item(&g, context()),
            item(&w, WireContext::default()),
            item(&w, context()),
        ],
        authorization: Some(f.writer.clone()),
        reason: Some("rotation".into()),
    };
    let answer = f.service.rewrap_batch(&batch, None).unwrap();
    let versions: Vec<Option<u32>> = answer
        .items
        .iter()
        .map(|i| match i {
            BatchItemAnswer::Rewrapped(a) => a.key_version,
            BatchItemAnswer::Refused { error, .. } => {
                assert_eq!(error, "ContextMismatch");
                None
            }
        })
        .collect();
    assert_eq!(versions, vec![Some(2), None, Some(2)]);

    // Every call above is in the audit chain, which verifies.
    let report = f.service.store().audit_verify().unwrap();
    assert!(report.problem.is_none());
    assert!(report.rows >= 10, "{} rows", report.rows);
}

#[test]
fn a_batch_counts_its_wraps_once_per_target_and_refuses_per_item() {
    let f = fixture();
    f.service.store().create_key("acme/next").unwrap();
    f.service.store().create_key("acme/closed").unwrap();
    let dek = DataKey::from_bytes(&[9u8; 32]).unwrap();
    let w = f
        .service
        .wrap(
            &WrapRequest {
                key_id: "acme/default".into(),
                key: SecretBytes(Zeroizing::new(dek.expose_secret().to_vec())),
                context: context(),
                authorization: Some(f.writer.clone()),
                reason: None,
            },
            None,
        )
        .unwrap();
    f.service
        .admin(&Actor::cli(), "acme/closed", AdminOp::Disable, Some("test"))
        .unwrap();
    let item = |to: &str| RewrapItem {
        key_id: "acme/default".into(),
        kind: None,
        wrapped_key: w.wrapped_key.clone().unwrap(),
        context: context(),
        to_key_id: Some(to.into()),
    };
    let targets = [
        "acme/next",
        "acme/closed",
        "acme/next",
        "acme/next",
        "acme/closed",
    ];
    let batch = RewrapBatchRequest {
        items: targets.iter().map(|t| item(t)).collect(),
        authorization: Some(f.writer.clone()),
        reason: None,
    };
    let answer = f.service.rewrap_batch(&batch, None).unwrap();
    let outcomes: Vec<String> = answer
        .items
        .iter()
        .map(|i| match i {
            BatchItemAnswer::Rewrapped(a) => a.key_id.clone().unwrap(),
            BatchItemAnswer::Refused { error, .. } => error.clone(),
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "acme/next",
            "KeyDisabled",
            "acme/next",
            "acme/next",
            "KeyDisabled"
        ]
    );
    // each rewrapped entry opens to the same data key under its new key
    for a in answer.items.iter().filter_map(|i| match i {
        BatchItemAnswer::Rewrapped(a) => Some(a),
        BatchItemAnswer::Refused { .. } => None,
    }) {
        let u = f
            .service
            .unwrap(
                &UnwrapRequest {
                    key_id: "acme/next".into(),
                    kind: None,
                    wrapped_key: a.wrapped_key.clone().unwrap(),
                    context: context(),
                    recipient: None,
                    authorization: Some(f.writer.clone()),
                    reason: None,
                },
                None,
            )
            .unwrap();
        assert_eq!(u.key.unwrap().0.as_slice(), dek.expose_secret());
    }
    // three wraps counted on acme/next (reserved at once), none on the disabled key
    let db = rusqlite::Connection::open(&f.db).unwrap();
    let wraps = |k: &str| -> i64 {
        db.query_row(
            "SELECT wraps FROM key_versions WHERE key_id=?1 AND version=1",
            [k],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!((wraps("acme/next"), wraps("acme/closed")), (3, 0));
}

#[test]
fn admin_import_is_for_external_keys_only() {
    let f = fixture();
    let seed = f.service.store().import_seed().unwrap();
    let import_pk = keyseal_kms::crypto::import_public(&seed);
    let sealed_for = |key_id: &str| {
        let sealed = hpke_p256::seal(
            &import_pk,
            &keyseal_kms::crypto::import_info(key_id),
            b"",
            &[5u8; 32],
        )
        .unwrap();
        AdminOp::Import {
            enc: sealed.enc,
            ciphertext: sealed.ciphertext,
        }
    };
    let admin = Actor::Token(f.service.verify(Some(&f.admin)).unwrap());
    let e = f
        .service
        .admin(&admin, "acme/default", sealed_for("acme/default"), None)
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidRequest(m) if m.contains("external")),
        "{e}"
    );
    let info = f
        .service
        .admin(&admin, "acme/byok", sealed_for("acme/byok"), None)
        .unwrap();
    assert_eq!(info.versions[0].origin, "imported");
    assert!(matches!(
        f.service.admin(&admin, "acme/byok", AdminOp::Rotate, None),
        Err(Error::InvalidRequest(_))
    ));
    // The material the customer kept derives the same public key as the service's version.
    let keys = keyseal_kms::crypto::derive_version_keys(&[5u8; 32]).unwrap();
    assert_eq!(keys.hpke().unwrap().public, info.versions[0].public_key.0);
}

#[test]
fn cancel_destroy_is_refused_once_the_time_has_come() {
    let f = fixture();
    let cli = Actor::cli();
    f.service
        .admin(&cli, "acme/default", AdminOp::Destroy { grace_secs: 0 }, None)
        .unwrap();
    let e = f
        .service
        .admin(&cli, "acme/default", AdminOp::CancelDestroy, None)
        .unwrap_err();
    assert!(matches!(e, Error::KeyDestroyed(_)), "{e}");
    assert_eq!(e.name().status(), 410);
}

fn app(f: Fixture, max_in_flight: usize) -> (Arc<App>, tempfile::TempDir) {
    let config = HttpConfig {
        cors_origins: vec![],
        max_body: 64 * 1024,
        max_in_flight,
        workers: 1,
    };
    (App::new(f.service, config), f._dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dropped_while_queued_frees_its_slot() {
    let (app, _dir) = app(fixture(), 2);
    let (release, wait) = std::sync::mpsc::channel::<()>();
    // Occupies the one worker until released.
    let busy = tokio::spawn(run(app.clone(), "test", move |_| {
        wait.recv().unwrap();
        Ok(())
    }));
    while app.in_flight() != 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Queued behind it, then dropped: its client went away.
    let queued = tokio::time::timeout(Duration::from_millis(100), run(app.clone(), "test", |_| Ok(()))).await;
    assert!(queued.is_err(), "it could not have run");
    assert_eq!(app.in_flight(), 1, "the dropped request gave its slot back");
    release.send(()).unwrap();
    assert_eq!(busy.await.unwrap().status(), 200);
    assert_eq!(app.in_flight(), 0);
    // Both slots are usable again.
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            run(app.clone(), "test", |_| Ok(())),
            run(app.clone(), "test", |_| Ok(()))
        );
        assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_requests_are_answered_and_audited() {
    let (app, dir) = app(fixture(), 0);
    let r = run(app.clone(), "generate", |_| Ok(())).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(app.in_flight(), 0);
    let conn = rusqlite::Connection::open(dir.path().join("lib.db")).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE operation='generate' AND outcome='Throttled'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn sweep_failures_are_logged_once_and_the_recovery_too() {
    let f = fixture();
    let store = f.service.store();
    store
        .set_state("acme/default", StateOp::Destroy { grace_ms: 0 })
        .unwrap();
    let other = rusqlite::Connection::open(&f.db).unwrap();
    other
        .execute_batch("ALTER TABLE keys RENAME TO keys_away")
        .unwrap();
    let mut sweeper = Sweeper::default();
    let mut log = Vec::new();
    sweeper.sweep(store, &mut log);
    sweeper.sweep(store, &mut log);
    let text = String::from_utf8(log.clone()).unwrap();
    assert_eq!(text.matches("destruction sweep failed").count(), 1, "{text}");
    assert!(text.contains("keys"), "the cause is named: {text}");
    other
        .execute_batch("ALTER TABLE keys_away RENAME TO keys")
        .unwrap();
    sweeper.sweep(store, &mut log);
    let text = String::from_utf8(log).unwrap();
    assert!(text.contains("destruction sweep works again"), "{text}");
    assert!(text.contains("key acme/default destroyed"), "{text}");
}

#[tokio::test]
async fn a_server_bound_in_process_speaks_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    // The master key comes from the key file next to the database (created by --dev).
    let mut opts = ServeOptions::new(dir.path().join("srv.db"));
    opts.dev = true;
    opts.listen = "0.0.0.0:0".parse().unwrap();
    let e = Server::bind(&opts).await.err().unwrap();
    assert!(
        matches!(&e, Error::InvalidRequest(m) if m.contains("loopback")),
        "{e}"
    );
    opts.listen = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(&opts).await.unwrap();
    let url = server.url();
    let token = server.dev_token().unwrap().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let status: StatusAnswer = http
        .get(format!("{url}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status.hpke_suites, vec![Suite::V1]);
    assert_eq!(status.protocol_version, keyseal_protocol::PROTOCOL_VERSION);
    let ctx = EncryptionContext::from_pairs([("object", "o1")]).unwrap();
    let req = GenerateRequest {
        key_id: "acme/default".into(),
        context: WireContext::from(&ctx),
        recipient: None,
        authorization: Some(token),
        reason: None,
    };
    let g: KeyAnswer = http
        .post(format!("{url}/generate"))
        .json(&req)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(g.key_id.as_deref(), Some("acme/default"));
    assert_eq!(g.key.unwrap().expose_secret().len(), 32);
    let refused = http
        .post(format!("{url}/generate"))
        .json(&GenerateRequest {
            authorization: None,
            ..req
        })
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let body: ErrorBody = refused.json().await.unwrap();
    assert_eq!(body.name(), Some(keyseal_protocol::ErrorName::Unauthenticated));
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn serve_gives_an_older_database_its_identity_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    // A database as made before identity keys: master key file and local issuer only.
    let store = Store::open(&db, load_master_key(&db, None, true).unwrap()).unwrap();
    store.local_issuer_secret(true).unwrap();
    assert!(store.identity_secret(false).unwrap().is_none());
    drop(store);
    // Without --dev, too.
    let server = Server::bind(&ServeOptions::new(db.clone())).await.unwrap();
    let public = *server.identity().public_sec1();
    drop(server);
    let store = Store::open(&db, load_master_key(&db, None, false).unwrap()).unwrap();
    assert_eq!(*Identity::open(&store, false).unwrap().public_sec1(), public);
}

fn batch_request(
    f: &Fixture,
    kp: &RecipientKeyPair,
    objects: &[&str],
) -> keyseal_protocol::GenerateBatchRequest {
    keyseal_protocol::GenerateBatchRequest {
        key_id: "acme/default".into(),
        contexts: objects
            .iter()
            .map(|o| {
                WireContext(vec![
                    ("tenant".into(), "acme".into()),
                    ("object".into(), (*o).into()),
                ])
            })
            .collect(),
        recipient: Recipient {
            suite: Suite::V1,
            public_key: Bytes(kp.public_sec1().to_vec()),
        },
        authorization: Some(f.writer.clone()),
        reason: Some("batch test".into()),
    }
}

/// `/generate-batch` (PROTOCOL.md §3.2.1): one data key per context in one HPKE context, each
/// wrapped key bound to its own context, one signature over the batch statement, one audit row
/// per item; a ciphertext of the batch does not open as a `/generate` answer.
#[test]
fn a_generate_batch_seals_one_key_per_context_under_one_signature() {
    use keyseal_protocol::identity::{AnswerFacts, BatchStatement};
    let f = fixture();
    let rows_before = f.service.store().audit_verify().unwrap().rows;
    let kp = RecipientKeyPair::generate();
    let objects = ["doc-1", "doc-2", "doc-3"];
    let req = batch_request(&f, &kp, &objects);
    let a = f.service.generate_batch(&req, None).unwrap();
    assert_eq!(a.items.len(), 3);
    assert_eq!(a.key_id, "acme/default");
    let dh = kp.diffie_hellman(&a.enc.0).unwrap();
    let ctx = hpke_p256::batch_context(&dh, &kp.public_sec1(), &a.enc.0).unwrap();
    let mut statement = BatchStatement::new(3);
    let mut keys = Vec::new();
    for (i, (item, wire)) in a.items.iter().zip(&req.contexts).enumerate() {
        let dek = hpke_p256::open_batch_item(&ctx, i as u32, &item.ciphertext.0).unwrap();
        // another position does not open (the sequence number and aad bind the index)
        assert!(hpke_p256::open_batch_item(&ctx, (i as u32 + 1) % 3, &item.ciphertext.0).is_err());
        let encoded = wire.to_context().unwrap().encode();
        statement.answered(
            &AnswerFacts {
                op: "generate",
                key_id: "acme/default",
                to_key_id: "acme/default",
                context: &encoded,
                recipient: &kp.public_sec1(),
                wrapped_out: &item.wrapped_key.0,
                key_version: a.key_version,
                enc: &a.enc.0,
                ciphertext: &item.ciphertext.0,
                ..AnswerFacts::default()
            }
            .statement(),
        );
        keys.push(dek.expose_secret().to_vec());
        // the wrapped key opens to that data key under its own context only
        let unwrap = |context: &WireContext| {
            f.service.unwrap(
                &UnwrapRequest {
                    key_id: "acme/default".into(),
                    kind: None,
                    wrapped_key: item.wrapped_key.clone(),
                    context: context.clone(),
                    recipient: None,
                    authorization: Some(f.writer.clone()),
                    reason: None,
                },
                None,
            )
        };
        let u = unwrap(wire).unwrap();
        assert_eq!(u.key.unwrap().expose_secret(), dek.expose_secret());
        assert!(matches!(
            unwrap(&req.contexts[(i + 1) % 3]),
            Err(Error::ContextMismatch(_))
        ));
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3, "three different data keys");
    let sig = a.identity_signature.clone().unwrap();
    let identity = f.service.identity().public_sec1();
    keyseal_format::ecdsa_p256::verify(identity, &statement.into_bytes(), &sig.0).unwrap();
    // a batch ciphertext is not a /generate answer (its own HPKE info)
    let single = hpke_p256::SealedKey {
        enc: a.enc.0.clone(),
        ciphertext: a.items[0].ciphertext.0.clone(),
    };
    assert!(hpke_p256::open_from_sender(&kp, &single).is_err());
    // 3 generate rows (plus the 6 unwraps above)
    let report = f.service.store().audit_verify().unwrap();
    assert!(report.problem.is_none());
    assert_eq!(report.rows, rows_before + 3 + 6);
}

/// All or nothing: a bad size, a reader's token, a disabled key refuse the whole batch.
#[test]
fn a_generate_batch_is_refused_whole() {
    let f = fixture();
    let kp = RecipientKeyPair::generate();
    let empty = batch_request(&f, &kp, &[]);
    assert!(matches!(
        f.service.generate_batch(&empty, None),
        Err(Error::InvalidRequest(_))
    ));
    let names: Vec<String> = (0..=keyseal_protocol::MAX_GENERATE_BATCH)
        .map(|i| format!("doc-{i}"))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let too_many = batch_request(&f, &kp, &refs);
    assert!(matches!(
        f.service.generate_batch(&too_many, None),
        Err(Error::InvalidRequest(_))
    ));
    let mut reader = batch_request(&f, &kp, &["a", "b"]);
    reader.authorization = Some(f.reader.clone());
    assert!(matches!(
        f.service.generate_batch(&reader, None),
        Err(Error::AccessDenied(_))
    ));
    let mut bad_recipient = batch_request(&f, &kp, &["a", "b"]);
    bad_recipient.recipient.public_key = Bytes(vec![4u8; 65]);
    assert!(matches!(
        f.service.generate_batch(&bad_recipient, None),
        Err(Error::InvalidRequest(_))
    ));
    f.service
        .admin(&Actor::cli(), "acme/default", AdminOp::Disable, Some("test"))
        .unwrap();
    let disabled = batch_request(&f, &kp, &["a", "b"]);
    assert!(matches!(
        f.service.generate_batch(&disabled, None),
        Err(Error::KeyDisabled { .. })
    ));
}
