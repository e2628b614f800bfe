//! The store on a real PostgreSQL (common/postgres.rs starts one per test binary run):
//! - the store's behaviours run by the same test bodies on SQLite and on PostgreSQL;
//! - several instances on one database: concurrent rotations make consecutive versions, a
//!   scheduled rotation due on two instances happens once, a disable on one is refused by the
//!   other, and the audit appends of all form one chain that PostgreSQL refuses to edit;
//! - a lost PostgreSQL connection answers 503 `KMS_UNAVAILABLE` and the same process serves
//!   again once the database is back.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use common::postgres::Pg;
use common::{Kms, b64, cli_env};
use keyseal_kms::store::{AuditEvent, StateOp, Store, StoreError};
use serde_json::json;
use zeroize::Zeroizing;

const MASTER: [u8; 32] = [9u8; 32];
const DAY: i64 = 86_400_000;

/// A PostgreSQL server of the test's own (stopped when dropped, also on panic) and the URL of a
/// fresh database on it. Statics are never dropped, so no server is shared between tests.
fn fresh_db() -> (Pg, String) {
    let pg = Pg::start();
    let url = pg.create_db("kms");
    (pg, url)
}

fn open(db: &str) -> Store {
    Store::open(Path::new(db), Zeroizing::new(MASTER)).unwrap()
}

fn env() -> Vec<(String, String)> {
    vec![("KEYSEAL_KMS_MASTER_KEY".into(), b64(&MASTER))]
}

fn err<T>(r: keyseal_kms::store::Result<T>) -> StoreError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

/// The store's behaviours, the same on both engines.
fn lifecycle(s: &Store) {
    // create, rotate, versions
    let info = s.create_key("acme/k").unwrap();
    assert_eq!(info.primary_version, 1);
    assert!(matches!(err(s.create_key("acme/k")), StoreError::Exists { .. }));
    assert_eq!(s.rotate("acme/k").unwrap().primary_version, 2);
    assert_eq!(s.show("acme/k").unwrap().versions.len(), 2);
    assert!(!s.show("acme/k").unwrap().versions[0].destroyed);
    // wraps are counted on the primary
    assert_eq!(s.reserve_wrap("acme/k").unwrap().version, 2);
    assert_eq!(s.reserve_wraps("acme/k", 5).unwrap().version, 2);
    assert_eq!(s.load("acme/k", Some(1)).unwrap().version, 1);
    assert!(matches!(
        err(s.load("acme/k", Some(9))),
        StoreError::NoSuchVersion { version: 9, .. }
    ));
    // disable refuses, enable restores
    s.set_state("acme/k", StateOp::Disable).unwrap();
    assert!(matches!(err(s.load("acme/k", None)), StoreError::Unusable { .. }));
    assert!(matches!(
        err(s.reserve_wrap("acme/k")),
        StoreError::Unusable { .. }
    ));
    assert!(matches!(
        err(s.set_state("acme/k", StateOp::CancelDestroy)),
        StoreError::WrongState { .. }
    ));
    s.set_state("acme/k", StateOp::Enable).unwrap();
    assert_eq!(s.load("acme/k", None).unwrap().version, 2);
    // import: external keys only
    assert_eq!(
        s.import_version("acme/byok", &[5u8; 32]).unwrap().primary_version,
        1
    );
    assert_eq!(
        s.import_version("acme/byok", &[6u8; 32]).unwrap().primary_version,
        2
    );
    assert!(matches!(
        err(s.import_version("acme/k", &[5u8; 32])),
        StoreError::NotExternal { .. }
    ));
    assert!(matches!(err(s.rotate("acme/byok")), StoreError::External { .. }));
    // destroy: pending refuses, cancel brings it back disabled, past its time it is erased
    s.create_key("acme/gone").unwrap();
    s.set_state("acme/gone", StateOp::Destroy { grace_ms: DAY })
        .unwrap();
    assert!(matches!(
        err(s.load("acme/gone", None)),
        StoreError::Unusable { .. }
    ));
    assert_eq!(
        s.set_state("acme/gone", StateOp::CancelDestroy).unwrap().state,
        "disabled"
    );
    s.set_state("acme/gone", StateOp::Destroy { grace_ms: 0 })
        .unwrap();
    assert_eq!(s.sweep_destroyed().unwrap(), vec!["acme/gone".to_string()]);
    assert!(matches!(
        err(s.load("acme/gone", None)),
        StoreError::Destroyed { .. }
    ));
    assert!(s.show("acme/gone").unwrap().versions.iter().all(|v| v.destroyed));
    // listing and counts
    assert_eq!(s.list(Some("acme")).unwrap().len(), 3);
    assert!(s.list(Some("other")).unwrap().is_empty());
    let counts = s.state_counts().unwrap();
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<i64>(), 3);
    // rotation on a schedule, time as a parameter
    let t0 = keyseal_kms::store::now_ms();
    let row = s.set_rotation_period("acme/k", Some(DAY), t0, "test").unwrap();
    assert_eq!(row.next_at_ms, Some(t0 + DAY));
    assert!(s.rotate_due(t0 + DAY - 1).unwrap().is_empty());
    assert_eq!(s.rotate_due(t0 + DAY).unwrap(), vec![("acme/k".to_string(), 3)]);
    assert!(
        s.rotate_due(t0 + DAY).unwrap().is_empty(),
        "not due again until the next period"
    );
    assert_eq!(s.schedule_of("acme/k").unwrap().next_at_ms, Some(t0 + 2 * DAY));
    assert!(matches!(
        err(s.set_rotation_period("acme/byok", Some(DAY), t0, "test")),
        StoreError::External { .. }
    ));
    // service secrets, audit and snapshot
    let issuer = s.local_issuer_secret(true).unwrap().unwrap();
    assert_eq!(*s.local_issuer_secret(false).unwrap().unwrap(), *issuer);
    s.audit(&AuditEvent {
        subject: "t".into(),
        tenant: "acme".into(),
        key_id: "acme/k".into(),
        key_version: Some(3),
        operation: "unwrap".into(),
        reason: "r".into(),
        outcome: "ok".into(),
        detail: "é".repeat(600),
    })
    .unwrap();
    let report = s.audit_verify().unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    assert!(report.rows >= 3);
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.keys.len(), 3);
    assert_eq!(snap.versions.len(), 3 + 2 + 1);
    assert_eq!(snap.audit.len() as u64, report.rows);
    assert!(!s.is_empty().unwrap());
    s.record_backup(true).unwrap();
    s.record_backup(false).unwrap();
    let stats = s.backup_stats().unwrap();
    assert_eq!((stats.attempts, stats.successes), (2, 1));
}

#[test]
fn store_behaviours_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    lifecycle(&Store::open(&dir.path().join("s.db"), Zeroizing::new(MASTER)).unwrap());
}

#[test]
fn store_behaviours_on_postgres() {
    let (_server, db) = fresh_db();
    lifecycle(&open(&db));
    // Opened again (schema already there), the same state; a wrong master key is refused.
    assert_eq!(open(&db).show("acme/k").unwrap().primary_version, 3);
    assert!(matches!(
        Store::open(Path::new(&db), Zeroizing::new([1u8; 32])),
        Err(StoreError::MasterKey(_))
    ));
    // master-key migrate: every sealed blob moves to another key in one transaction.
    let other = keyseal_kms::master::MasterKey::from(Zeroizing::new([2u8; 32]));
    assert!(open(&db).reseal_all(&other).unwrap() >= 7);
    let moved = Store::open(Path::new(&db), Zeroizing::new([2u8; 32])).unwrap();
    assert_eq!(moved.load("acme/k", Some(1)).unwrap().version, 1);
    assert!(matches!(
        Store::open(Path::new(&db), Zeroizing::new(MASTER)),
        Err(StoreError::MasterKey(_))
    ));
}

#[test]
fn a_backup_of_a_postgres_store_restores_into_sqlite_and_back() {
    let (_server, pg) = fresh_db();
    let s = open(&pg);
    s.create_key("acme/k").unwrap();
    s.rotate("acme/k").unwrap();
    let snap = s.snapshot().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lite = Store::open(&dir.path().join("r.db"), Zeroizing::new(MASTER)).unwrap();
    let same = |_: &[u8], sealed: &[u8]| Ok(sealed.to_vec());
    lite.restore_snapshot(&snap, &same).unwrap();
    assert_eq!(lite.load("acme/k", Some(1)).unwrap().version, 1);
    assert!(lite.audit_verify().unwrap().problem.is_none());
    let (_pg2, db2) = fresh_db();
    let back = open(&db2);
    back.restore_snapshot(&lite.snapshot().unwrap(), &same).unwrap();
    assert_eq!(back.load("acme/k", None).unwrap().version, 2);
    assert!(back.audit_verify().unwrap().problem.is_none());
}

#[test]
fn postgres_refuses_to_edit_or_remove_audit_rows() {
    let (pg, db) = fresh_db();
    let name = db.rsplit('/').next().unwrap().to_string();
    let s = open(&db);
    s.create_key("acme/k").unwrap();
    s.set_rotation_period("acme/k", Some(DAY), 0, "t").unwrap();
    for sql in [
        "UPDATE audit SET reason='edited'",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ] {
        let out = pg.psql(&name, sql);
        assert!(!out.status.success(), "{sql} was allowed");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("audit log is append-only"),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(s.audit_verify().unwrap().problem.is_none());
}

#[test]
fn two_instances_rotating_one_key_make_consecutive_versions() {
    let (_server, db) = fresh_db();
    open(&db).create_key("acme/k").unwrap();
    const EACH: usize = 15;
    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let db = db.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let s = open(&db);
                barrier.wait();
                let mut got = Vec::new();
                for n in 0..EACH {
                    got.push(s.rotate("acme/k").unwrap().primary_version);
                    // audit appends from every instance interleave with the rotations
                    s.audit(&AuditEvent {
                        subject: format!("instance-{i}"),
                        operation: "note".into(),
                        outcome: "ok".into(),
                        detail: n.to_string(),
                        ..AuditEvent::default()
                    })
                    .unwrap();
                    s.reserve_wrap("acme/k").unwrap();
                }
                got
            })
        })
        .collect();
    let mut all: Vec<u32> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort_unstable();
    let want: Vec<u32> = (2..=(1 + 3 * EACH as u32)).collect();
    assert_eq!(
        all, want,
        "every rotation got its own version, no gap, no duplicate"
    );
    let s = open(&db);
    let info = s.show("acme/k").unwrap();
    assert_eq!(info.primary_version, 1 + 3 * EACH as u32);
    assert_eq!(info.versions.len(), 1 + 3 * EACH);
    let report = s.audit_verify().unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    assert_eq!(report.rows, 3 * EACH as u64);
    let wraps: i64 = s.snapshot().unwrap().versions.iter().map(|v| v.wraps).sum();
    assert_eq!(wraps, 3 * EACH as i64, "no wrap count lost");
}

#[test]
fn scheduled_rotation_due_on_two_instances_happens_exactly_once() {
    let (_server, db) = fresh_db();
    let t0 = 1_800_000_000_000i64;
    let s = open(&db);
    for k in ["acme/a", "acme/b"] {
        s.create_key(k).unwrap();
        s.set_rotation_period(k, Some(DAY), t0, "t").unwrap();
    }
    for round in 1..=3i64 {
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let db = db.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let s = open(&db);
                    barrier.wait();
                    s.rotate_due(t0 + round * DAY).unwrap()
                })
            })
            .collect();
        let mut rotated: Vec<(String, u32)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        rotated.sort();
        let v = 1 + round as u32;
        assert_eq!(
            rotated,
            vec![("acme/a".into(), v), ("acme/b".into(), v)],
            "round {round}: each key rotated once, by one of the two instances"
        );
    }
    assert_eq!(s.show("acme/a").unwrap().versions.len(), 4);
    assert!(s.audit_verify().unwrap().problem.is_none());
}

#[test]
fn a_disable_on_one_instance_is_refused_by_another_from_its_next_call() {
    let (_server, db) = fresh_db();
    let a = open(&db);
    let b = open(&db);
    a.create_key("acme/k").unwrap();
    assert_eq!(b.load("acme/k", None).unwrap().version, 1);
    a.set_state("acme/k", StateOp::Disable).unwrap();
    assert!(matches!(err(b.load("acme/k", None)), StoreError::Unusable { .. }));
    assert!(matches!(
        err(b.reserve_wrap("acme/k")),
        StoreError::Unusable { .. }
    ));
    a.set_state("acme/k", StateOp::Enable).unwrap();
    assert_eq!(b.reserve_wrap("acme/k").unwrap().version, 1);
}

#[test]
fn the_command_line_takes_a_postgres_url() {
    let (_server, db) = fresh_db();
    let e = env();
    let run = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend_from_slice(&["--db", &db]);
        let out = cli_env(&a, &e);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["init"]);
    run(&["key", "create", "acme/cli"]);
    run(&["key", "rotate", "acme/cli"]);
    assert!(run(&["key", "show", "acme/cli"]).contains("\"primary_version\": 2"));
    assert!(run(&["token", "mint", "--tenant", "acme", "--role", "reader"]).starts_with("ey"));
    assert!(run(&["audit", "verify"]).contains("audit log OK"));
    assert!(run(&["identity", "show"]).len() > 40);
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("kms.backup");
    let backup = backup.to_str().unwrap();
    run(&["backup", "create", "--out", backup]);
    run(&["backup", "verify", backup]);
    // Policy as code on the shared database: apply, then nothing left to do.
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = 1\n[[tenant]]\nname = \"acme\"\n[[tenant.key]]\nname = \"orders\"\nrotate_every = \"90d\"\n",
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    run(&["apply", policy]);
    assert!(run(&["key", "show", "acme/orders"]).contains("acme/orders"));
    run(&["plan", "--check", policy]);
    assert!(run(&["audit", "export"]).contains("key.rotate") || run(&["audit", "export"]).contains("rotate"));
    // Without a master key there is no default file for a URL: a clear refusal.
    let mut a = vec!["key", "show", "acme/cli", "--db", &db];
    let out = cli_env(&a, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no default master key file"));
    // A wrong password never shows in a message.
    let bad = db
        .replace("postgres@", "postgres:s3cret-pw@")
        .replace("127.0.0.1", "127.0.0.1:1");
    a = vec!["audit", "verify", "--db", &bad];
    let out = cli_env(&a, &e);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cret-pw"));
}

async fn serve(dir: &Path, db: &str, name: &str) -> Kms {
    let d: PathBuf = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    Kms::start_db(&d, PathBuf::from(db), &[], &env()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_answers_503_and_the_same_process_recovers() {
    let (pg, db) = fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let kms = serve(dir.path(), &db, "one").await;
    let wrap = || json!({"key_id": "acme/default", "key": b64(&[1u8; 32]), "context": {"a": "b"}, "authorization": kms.dev_token});
    let (s, _) = kms.post("/wrap", &wrap()).await;
    assert_eq!(s, 200);
    pg.stop_immediate();
    for _ in 0..3 {
        let got = kms.post("/wrap", &wrap()).await;
        common::assert_error(&got, 503, "Unavailable");
    }
    let (s, _) = kms.get("/healthz", None).await;
    assert_eq!(s, 503, "health reports the lost store");
    pg.restart();
    let (s, body) = kms.post("/wrap", &wrap()).await;
    assert_eq!(s, 200, "served again without a restart: {body}");
    let (s, _) = kms.get("/healthz", None).await;
    assert_eq!(s, 200);
}

/// One message the SDK sealed, with what it must open to.
struct Sealed {
    sealed: Vec<u8>,
    plain: Vec<u8>,
}

/// What the SDK client did.
#[derive(Default, Debug)]
struct Tally {
    ops: usize,
    encrypted: usize,
    decrypted: usize,
    rewrapped: usize,
    /// Failed operations by error code (each a typed error of the SDK).
    failed: std::collections::BTreeMap<String, usize>,
}

fn context(i: usize) -> keyseal::EncryptionContext {
    keyseal::EncryptionContext::from_pairs([("n", i.to_string())]).unwrap()
}

/// The SDK over `urls` (in failover order), with the command line's blocking transport.
fn sdk(urls: Vec<String>, token: &str, identity: &str) -> keyseal::KeySeal {
    use keyseal_cli::args::Kind;
    use keyseal_cli::service::Settings;
    let settings = Settings {
        kind: Kind::Keyseal,
        region: None,
        urls,
        service_id: "keyseal".into(),
        key_id: Some("acme/default".into()),
        tokens: keyseal_cli::transport::Tokens::Fixed(Zeroizing::new(token.to_string())),
        identity: Some(common::unb64(identity)),
        policy: keyseal::DecryptPolicy::default(),
        timeout_ms: 5_000,
    };
    settings
        .keyseal(None, keyseal_cli::engine::EngineChoice::Native, 64 * 1024)
        .unwrap()
}

/// The issue's multi-instance test: 3 `serve` processes on one PostgreSQL database, one SDK client
/// with the 3 URLs doing more than 5,000 mixed operations (encrypt, decrypt, rewrap) while the
/// key is rotated through another instance and the first instance is SIGKILLed in the middle.
/// Nothing is lost (every encrypt either failed with a typed error or decrypts afterwards), the
/// audit chain written by all three verifies, and a disable on one instance is refused by the
/// others from their next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_one_sdk_client_a_kill_and_a_disable() {
    const OPS: usize = 5_100;
    let (_pg, db) = fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let mut a = serve(dir.path(), &db, "a").await;
    let b = serve(dir.path(), &db, "b").await;
    let c = serve(dir.path(), &db, "c").await;
    assert_eq!(a.identity, b.identity, "one identity key for the deployment");
    assert_eq!(a.identity, c.identity);
    let admin_out = cli_env(
        &[
            "token", "mint", "--tenant", "acme", "--role", "admin", "--db", &db,
        ],
        &env(),
    );
    assert!(
        admin_out.status.success(),
        "{}",
        String::from_utf8_lossy(&admin_out.stderr)
    );
    let admin = String::from_utf8(admin_out.stdout).unwrap().trim().to_string();

    let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let urls = vec![a.url.clone(), b.url.clone(), c.url.clone()];
    let (token, identity) = (a.dev_token.clone(), a.identity.clone());
    let p = progress.clone();
    let client = std::thread::spawn(move || {
        use keyseal_cli::transport::block_on;
        let ks = sdk(urls, &token, &identity);
        let mut kept: Vec<Sealed> = Vec::new();
        let mut t = Tally::default();
        let fail = |t: &mut Tally, e: keyseal::Error| {
            *t.failed.entry(e.code().to_string()).or_default() += 1;
        };
        for i in 0..OPS {
            t.ops += 1;
            match i % 3 {
                0 => {
                    let plain = format!("record {i}").into_bytes();
                    match block_on(ks.encrypt(&plain, &context(i))) {
                        Ok(sealed) => {
                            t.encrypted += 1;
                            kept.push(Sealed { sealed, plain });
                        }
                        Err(e) => fail(&mut t, e),
                    }
                }
                1 if !kept.is_empty() => {
                    let m = &kept[i % kept.len()];
                    match block_on(ks.decrypt(&m.sealed, &keyseal::EncryptionContext::new())) {
                        Ok((_, plain)) => {
                            assert_eq!(plain, m.plain);
                            t.decrypted += 1;
                        }
                        Err(e) => fail(&mut t, e),
                    }
                }
                _ if !kept.is_empty() => {
                    let j = (i * 7) % kept.len();
                    match block_on(ks.rewrap(&kept[j].sealed, None)) {
                        Ok(r) => {
                            let mut sealed = r.header;
                            sealed.extend_from_slice(&kept[j].sealed[r.body_offset..]);
                            kept[j].sealed = sealed;
                            t.rewrapped += 1;
                        }
                        Err(e) => fail(&mut t, e),
                    }
                }
                _ => {}
            }
            p.store(i + 1, std::sync::atomic::Ordering::SeqCst);
        }
        // Nothing lost: every message the client holds opens, through the instances left.
        let mut lost = 0;
        for m in &kept {
            match block_on(ks.decrypt(&m.sealed, &keyseal::EncryptionContext::new())) {
                Ok((_, plain)) if plain == m.plain => {}
                _ => lost += 1,
            }
        }
        (t, kept.len(), lost)
    });

    let wait_for = |n: usize| {
        let p = progress.clone();
        async move {
            while p.load(std::sync::atomic::Ordering::SeqCst) < n {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    };
    // A rotation through instance b while the client works (rewraps then move to version 2).
    wait_for(OPS / 4).await;
    let (s, body) = b
        .post_bearer(
            "/admin/keys/acme/default/rotate",
            &admin,
            &json!({"reason": "pg test"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    // SIGKILL of the client's first URL in the middle.
    wait_for(OPS / 2).await;
    a.kill();
    assert!(
        progress.load(std::sync::atomic::Ordering::SeqCst) < OPS,
        "the kill came while the client was working"
    );
    let (t, kept, lost) = tokio::task::spawn_blocking(move || client.join().unwrap())
        .await
        .unwrap();
    eprintln!("SDK client: {t:?}, {kept} messages kept, {lost} lost");
    assert_eq!(t.ops, OPS);
    assert_eq!(lost, 0, "every acknowledged encrypt decrypts afterwards");
    assert_eq!(t.encrypted, kept);
    for code in t.failed.keys() {
        assert!(
            keyseal::ERROR_CODES.contains(&code.as_str()),
            "a failure without a typed code: {code}"
        );
    }
    let failed: usize = t.failed.values().sum();
    assert!(
        failed * 100 <= OPS,
        "the client failed over instead of failing: {t:?}"
    );
    assert!(t.decrypted > 0 && t.rewrapped > 0);

    // The audit chain of all three instances verifies.
    let out = cli_env(&["audit", "verify", "--db", &db], &env());
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && said.contains("audit log OK"), "{said}");

    // A disable acknowledged by b is refused by c (and b) from the next request.
    let wrap = json!({"key_id": "acme/default", "key": b64(&[2u8; 32]), "context": {}, "authorization": b.dev_token});
    assert_eq!(c.post("/wrap", &wrap).await.0, 200);
    let (s, body) = b
        .post_bearer(
            "/admin/keys/acme/default/disable",
            &admin,
            &json!({"reason": "revoked"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    for kms in [&c, &b] {
        let got = kms.post("/wrap", &wrap).await;
        common::assert_error(&got, 403, "KeyDisabled");
    }
}

/// The SIEM sink of an instance follows the shared chain: records committed by another instance
/// reach it too, in chain order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_sink_follows_the_chain_of_every_instance() {
    let (_server, db) = fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("audit.jsonl");
    let d = dir.path().join("a");
    std::fs::create_dir_all(&d).unwrap();
    let sink_arg = format!("file:{}", sink.display());
    let a = Kms::start_db(&d, PathBuf::from(&db), &["--audit-sink", &sink_arg], &env()).await;
    let b = serve(dir.path(), &db, "b").await;
    let wrap = |t: &str, i: u8| json!({"key_id": "acme/default", "key": b64(&[i; 32]), "context": {"i": i.to_string()}, "authorization": t});
    for i in 0..3u8 {
        assert_eq!(a.post("/wrap", &wrap(&a.dev_token, i)).await.0, 200);
        assert_eq!(b.post("/wrap", &wrap(&b.dev_token, i + 10)).await.0, 200);
    }
    // Wait (bounded) for the six wraps to reach the sink.
    let mut lines = Vec::new();
    for _ in 0..200 {
        let text = std::fs::read_to_string(&sink).unwrap_or_default();
        lines = text.lines().map(String::from).collect();
        if lines.iter().filter(|l| l.contains("\"wrap\"")).count() >= 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let seqs: Vec<i64> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event"]["sequence"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(
        lines.iter().filter(|l| l.contains("\"wrap\"")).count() >= 6,
        "wraps of both instances reach a's sink: {lines:?}"
    );
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "in chain order, none skipped: {seqs:?}"
    );
}
