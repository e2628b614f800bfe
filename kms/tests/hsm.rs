//! The master key in an HSM (`--master-key pkcs11:...`) against a real SoftHSM2 token made in a
//! temp dir: the service's main paths with the key in the token (no key file anywhere), moving a
//! store from a key file to the token (`master-key migrate`), and the refusals (wrong PIN, no such
//! key, a PIN in the URI, a store sealed under another key).
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kms, SoftHsm, b64, cli_env, unb64};
use keyseal_format::hpke_p256::{self, RecipientKeyPair, SealedKey};
use serde_json::{Value, json};

fn ctx(object: &str) -> Value {
    json!({"tenant": "acme", "object": object})
}

fn recipient(kp: &RecipientKeyPair) -> Value {
    json!({"suite": {"kem": 16, "kdf": 1, "aead": 2}, "public_key": b64(&kp.public_sec1())})
}

fn open_sealed(kp: &RecipientKeyPair, v: &Value) -> [u8; 32] {
    let sealed = SealedKey {
        enc: unb64(v["sealed_key"]["enc"].as_str().unwrap()),
        ciphertext: unb64(v["sealed_key"]["ciphertext"].as_str().unwrap()),
    };
    *hpke_p256::open_from_sender(kp, &sealed).unwrap().expose_secret()
}

/// Generates a data key for `object` (sealed answer): its wrapped key and the key itself.
async fn generate(kms: &Kms, object: &str) -> (Value, [u8; 32]) {
    let kp = RecipientKeyPair::generate();
    let (s, g) = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/default", "context": ctx(object), "recipient": recipient(&kp), "authorization": kms.dev_token}),
        )
        .await;
    assert_eq!(s, 200, "{g}");
    (g["wrapped_key"].clone(), open_sealed(&kp, &g))
}

async fn unwrap(kms: &Kms, object: &str, wrapped: &Value) -> (u16, Value) {
    kms.post(
        "/unwrap",
        &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(object), "authorization": kms.dev_token}),
    )
    .await
}

/// Runs `keyseal-kms ARGS --db DB` with the token's environment.
fn cli(hsm: &SoftHsm, db: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut a: Vec<&str> = args.to_vec();
    let db = db.to_str().unwrap();
    a.extend(["--db", db]);
    cli_env(&a, &hsm.env)
}

#[tokio::test]
async fn the_service_runs_with_its_master_key_in_softhsm() {
    let dir = tempfile::tempdir().unwrap();
    let hsm = SoftHsm::new(dir.path(), "keyseal-main");
    let uri = hsm.create_key("kms-master");
    let kms = Kms::start_env(dir.path(), &["--master-key", &uri], &hsm.env).await;
    assert!(
        !dir.path().join("kms.db.master-key").exists(),
        "a master key file was written next to the database"
    );

    let (w1, k1) = generate(&kms, "doc-1").await;
    let (s, u) = unwrap(&kms, "doc-1", &w1).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(unb64(u["key"].as_str().unwrap()), k1);

    // The command line opens the same store through the token: rotate, mint, list.
    let out = cli(
        &hsm,
        &kms.db,
        &["key", "rotate", "acme/default", "--master-key", &uri],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (w2, k2) = generate(&kms, "doc-2").await;
    assert_ne!(w1, w2);
    for (w, k, o) in [(&w1, k1, "doc-1"), (&w2, k2, "doc-2")] {
        let (s, u) = unwrap(&kms, o, w).await;
        assert_eq!(s, 200, "{u}");
        assert_eq!(unb64(u["key"].as_str().unwrap()), k);
    }
    let out = cli(
        &hsm,
        &kms.db,
        &[
            "token",
            "mint",
            "--tenant",
            "acme",
            "--role",
            "reader",
            "--master-key",
            &uri,
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Backups of a store whose master key is in the token: sealed under it, verified through it.
    let backup = dir.path().join("hsm.backup");
    let out = cli(
        &hsm,
        &kms.db,
        &[
            "backup",
            "create",
            "--out",
            backup.to_str().unwrap(),
            "--master-key",
            &uri,
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(
        &hsm,
        &kms.db,
        &["backup", "verify", backup.to_str().unwrap(), "--master-key", &uri],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("backup OK: 2 roots opened"));
    // Disable through the token-backed command line: refused from the next request.
    let out = cli(
        &hsm,
        &kms.db,
        &["key", "disable", "acme/default", "--master-key", &uri],
    );
    assert!(out.status.success());
    let (s, e) = unwrap(&kms, "doc-1", &w1).await;
    assert_eq!((s, e["error"].as_str()), (403, Some("KeyDisabled")));

    // A key file cannot open a store sealed under the token's key.
    let key_file = dir.path().join("other.master-key");
    std::fs::write(&key_file, b64(&[9u8; 32])).unwrap();
    let out = cli(
        &hsm,
        &kms.db,
        &["key", "list", "--master-key-file", key_file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match this database"));
    // Nothing of the PIN in anything the service printed.
    assert!(!kms.stderr().contains(SoftHsm::PIN) && !kms.stdout().contains(SoftHsm::PIN));
}

#[tokio::test]
async fn migrate_moves_a_store_from_a_key_file_to_the_hsm() {
    let dir = tempfile::tempdir().unwrap();
    let hsm = SoftHsm::new(dir.path(), "keyseal-migrate");
    let uri = hsm.create_key("kms-master");

    // Before: a file master key, two versions, data keys under both.
    let mut kms = Kms::start(dir.path(), &[]).await;
    let (w1, k1) = generate(&kms, "doc-1").await;
    assert!(kms.cli(&["key", "rotate", "acme/default"]).status.success());
    let (w2, k2) = generate(&kms, "doc-2").await;
    let identity = kms.identity.clone();
    kms.kill();

    let out = cli(&hsm, &kms.db, &["master-key", "migrate", "--to", &uri]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("secrets moved"), "{said}");

    // The file key no longer opens the store.
    let out = kms.cli(&["key", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match this database"));

    // After: the token's key opens everything, with the same identity and the same versions.
    let kms = Kms::start_env(dir.path(), &["--master-key", &uri], &hsm.env).await;
    assert_eq!(kms.identity, identity, "the identity key changed");
    for (w, k, o) in [(&w1, k1, "doc-1"), (&w2, k2, "doc-2")] {
        let (s, u) = unwrap(&kms, o, w).await;
        assert_eq!(s, 200, "{u}");
        assert_eq!(unb64(u["key"].as_str().unwrap()), k);
    }
    // The move is in the audit log, whose chain still verifies.
    let out = cli(&hsm, &kms.db, &["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let rows = audit_operations(&kms.db);
    assert!(rows.iter().any(|o| o == "master_key.migrate"), "{rows:?}");

    // A migration that starts from a key that does not open the store (the old key file) is refused.
    let other = hsm.create_key("other-master");
    let out = cli(&hsm, &kms.db, &["master-key", "migrate", "--to", &other]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "migrated a store its key file no longer opens"
    );
}

/// Environment variables of a process.
type Env = Vec<(String, String)>;

fn audit_operations(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st = conn.prepare("SELECT operation FROM audit ORDER BY seq").unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn hsm_refusals_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let hsm = SoftHsm::new(dir.path(), "keyseal-refusals");
    let uri = hsm.create_key("kms-master");
    let db = dir.path().join("r.db");
    let db_arg = db.to_str().unwrap();

    // A second key under the same label is refused.
    let out = cli_env(&["master-key", "create", &uri], &hsm.env);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already has a key"));

    let cases: Vec<(Env, String, &str)> = vec![
        // wrong PIN (never echoed)
        (
            vec![
                hsm.env[0].clone(),
                ("KEYSEAL_KMS_PKCS11_PIN".into(), "wrong-pin-4242".into()),
            ],
            uri.clone(),
            "wrong PIN",
        ),
        // no PIN at all
        (
            vec![hsm.env[0].clone()],
            uri.clone(),
            "no PIN for the PKCS#11 token",
        ),
        // no such key
        (hsm.env.clone(), hsm.uri("missing"), "no AES key"),
        // no such token
        (
            hsm.env.clone(),
            uri.replace("token=keyseal-refusals", "token=elsewhere"),
            "no PKCS#11 token matches",
        ),
        // a PIN in the URI
        (
            hsm.env.clone(),
            format!("{uri}&pin-value=4242"),
            "pin-value is refused",
        ),
        // no library
        (
            hsm.env.clone(),
            "pkcs11:token=keyseal-refusals;object=kms-master".into(),
            "module-path",
        ),
    ];
    for (env, u, why) in cases {
        let out = cli_env(&["init", "--db", db_arg, "--master-key", &u], &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{u}: {stderr}");
        assert!(stderr.contains(why), "{u}: wanted {why:?}, got {stderr}");
        assert!(!stderr.contains("4242"), "a PIN was echoed: {stderr}");
        assert!(!stderr.contains(SoftHsm::PIN), "a PIN was echoed: {stderr}");
        assert!(!db.exists(), "{u}: a store was created");
    }

    // A PIN from a file (RFC 7512 pin-source) works; the key file and the HSM exclude each other.
    let pin_file = dir.path().join("pin");
    std::fs::write(&pin_file, format!("{}\n", SoftHsm::PIN)).unwrap();
    let with_file = format!("{uri}&pin-source=file:{}", pin_file.display());
    let out = cli_env(
        &["init", "--db", db_arg, "--master-key", &with_file],
        &hsm.env[..1],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli_env(
        &[
            "init",
            "--db",
            db_arg,
            "--master-key",
            &uri,
            "--master-key-file",
            "/tmp/x",
        ],
        &hsm.env,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
