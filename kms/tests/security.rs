//! Security properties of the real `keyseal-kms` process: the in-flight limit survives clients
//! that go away, unverified token text is never echoed, audit rows are bounded, every endpoint is
//! audited, `--dev` stays on loopback, tokens never reach the logs, and admins cannot import into
//! generated keys.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Kms, assert_error, b64, serve_refused, unb64};
use keyseal_format::hpke_p256;
use serde_json::{Value, json};

fn generate_body(token: &str) -> Value {
    json!({"key_id": "acme/default", "context": {}, "authorization": token})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_dropped_while_queued_give_their_in_flight_slot_back() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &["--max-in-flight", "2", "--workers", "1"]).await;
    let body = generate_body(&kms.dev_token);
    for round in 0..3 {
        // Hold SQLite's write lock from outside: the next generate blocks in the store, on the one
        // worker, until the lock is released.
        let lock = rusqlite::Connection::open(&kms.db).unwrap();
        lock.execute_batch("BEGIN IMMEDIATE").unwrap();
        let blocked = {
            let (http, url, body) = (kms.http.clone(), kms.url.clone(), body.clone());
            tokio::spawn(async move {
                let r = http
                    .post(format!("{url}/generate"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                r.status().as_u16()
            })
        };
        kms.wait_in_flight(1).await;
        // A second request queues for the worker; its client gives up and closes the connection.
        let queued = {
            let (url, body) = (kms.url.clone(), body.clone());
            tokio::spawn(async move {
                let _ = reqwest::Client::new()
                    .post(format!("{url}/generate"))
                    .json(&body)
                    .send()
                    .await;
            })
        };
        kms.wait_in_flight(2).await;
        queued.abort();
        let _ = queued.await;
        // Its slot is given back although it never ran.
        kms.wait_in_flight(1).await;
        lock.execute_batch("COMMIT").unwrap();
        assert_eq!(blocked.await.unwrap(), 200, "round {round}");
        kms.wait_in_flight(0).await;
    }
    // The limit still admits as many requests as before: two at once, then more, one by one.
    let (a, b) = tokio::join!(kms.post("/generate", &body), kms.post("/generate", &body));
    assert_eq!((a.0, b.0), (200, 200), "{} {}", a.1, b.1);
    for _ in 0..5 {
        let (s, v) = kms.post("/generate", &body).await;
        assert_eq!(s, 200, "{v}");
    }
    let refused: i64 = rusqlite::Connection::open(&kms.db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM audit WHERE outcome='Throttled'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(refused, 0, "nothing was throttled");
}

/// A JWT with `claims`, an ES256 header and a signature that verifies under no key.
fn forged(claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(&json!({"alg": "ES256", "typ": "JWT"})),
        part(claims),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    )
}

/// The longest value of each text column of the audit log, in bytes.
fn longest_audit_fields(db: &std::path::Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    [
        "subject",
        "tenant",
        "key_id",
        "operation",
        "reason",
        "outcome",
        "detail",
    ]
    .into_iter()
    .map(|col| {
        let n: i64 = conn
            .query_row(
                &format!("SELECT COALESCE(MAX(length(CAST({col} AS BLOB))), 0) FROM audit"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        (col.to_string(), n)
    })
    .collect()
}

#[tokio::test]
async fn unverified_text_is_never_echoed_and_audit_rows_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &[]).await;
    let marker = "ATTACKER-CHOSEN";
    let evil_iss = format!("https://{marker}.example/{}", "x".repeat(30_000));
    let token = forged(
        &json!({"iss": evil_iss, "aud": "keyseal-kms", "sub": marker, "exp": 4_000_000_000u64,
        "tenant": "acme", "role": "writer"}),
    );
    let got = kms.post("/generate", &generate_body(&token)).await;
    assert_error(&got, 401, "Unauthenticated");
    let message = got.1["message"].as_str().unwrap();
    assert_eq!(message, "token issuer is not trusted");
    // Admin path, token in the header.
    let got = kms.get("/admin/keys", Some(&token)).await;
    assert_error(&got, 401, "Unauthenticated");
    assert!(!got.1.to_string().contains(marker), "{}", got.1);
    // A trusted issuer's name with a bad signature: still nothing of the claims comes back.
    let local = forged(
        &json!({"iss": "keyseal-kms-local", "aud": "keyseal-kms", "sub": marker,
        "exp": 4_000_000_000u64, "tenant": marker, "role": marker}),
    );
    let got = kms.post("/generate", &generate_body(&local)).await;
    assert_error(&got, 401, "Unauthenticated");
    assert!(!got.1.to_string().contains(marker), "{}", got.1);

    // Oversized fields from an unauthenticated caller.
    let short = forged(
        &json!({"iss": "https://nobody.example", "aud": "keyseal-kms", "sub": "s".repeat(5_000),
        "exp": 4_000_000_000u64, "tenant": "acme", "role": "writer"}),
    );
    let long_id = format!("acme/{}", "k".repeat(30_000));
    let big = json!({"key_id": long_id, "context": {}, "authorization": short, "reason": "r".repeat(20_000)});
    assert_error(&kms.post("/generate", &big).await, 401, "Unauthenticated");
    let bad_kind = json!({"key_id": "acme/default", "kind": marker.repeat(2_000), "wrapped_key": "AAAA",
        "context": {}, "authorization": kms.dev_token});
    let got = kms.post("/unwrap", &bad_kind).await;
    assert_error(&got, 400, "InvalidRequest");
    assert!(!got.1.to_string().contains(marker), "{}", got.1);
    let not_json = format!("{{\"key_id\": \"{marker}");
    let got = kms.post_raw("/wrap", not_json.into_bytes()).await;
    assert_error(&got, 400, "InvalidRequest");
    assert!(!got.1.to_string().contains(marker), "{}", got.1);

    let conn = rusqlite::Connection::open(&kms.db).unwrap();
    let echoed: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE subject LIKE ?1 OR tenant LIKE ?1 OR detail LIKE ?1
             OR operation LIKE ?1",
            [format!("%{marker}%")],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(echoed, 0, "unverified text reached the audit log");
    let caps = [
        ("subject", 256),
        ("tenant", 64),
        ("key_id", 129),
        ("operation", 64),
        ("reason", 512),
        ("outcome", 64),
        ("detail", 512),
    ];
    for ((col, longest), (name, cap)) in longest_audit_fields(&kms.db).into_iter().zip(caps) {
        assert_eq!(col, name);
        assert!(longest <= cap, "audit {col} holds {longest} bytes (cap {cap})");
    }
    let out = kms.cli(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test]
async fn public_key_and_import_key_requests_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &[]).await;
    let admin = kms.mint("acme", "admin", &["--sub", "alice"]);
    assert_eq!(kms.get("/keys/acme/default/public", None).await.0, 200);
    assert_error(&kms.get("/keys/acme/nope/public", None).await, 404, "KeyNotFound");
    assert_eq!(kms.get("/admin/import-key", Some(&admin)).await.0, 200);
    assert_error(
        &kms.get("/admin/import-key", Some(&kms.dev_token)).await,
        403,
        "AccessDenied",
    );
    assert_error(&kms.get("/admin/import-key", None).await, 401, "Unauthenticated");
    let conn = rusqlite::Connection::open(&kms.db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT operation, outcome, subject, key_id, COALESCE(key_version, -1) FROM audit
             WHERE operation IN ('public_key', 'key.import-key') ORDER BY seq",
        )
        .unwrap();
    let rows: Vec<(String, String, String, String, i64)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let row = |op: &str, outcome: &str, subject: &str, key_id: &str, version: i64| {
        (
            op.to_string(),
            outcome.to_string(),
            subject.to_string(),
            key_id.to_string(),
            version,
        )
    };
    assert_eq!(
        rows,
        vec![
            row("public_key", "ok", "-", "acme/default", 1),
            row("public_key", "KeyNotFound", "-", "acme/nope", -1),
            row("key.import-key", "ok", "alice", "", -1),
            row("key.import-key", "AccessDenied", "dev", "", -1),
            row("key.import-key", "Unauthenticated", "-", "", -1),
        ]
    );
}

#[tokio::test]
async fn dev_mode_refuses_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let out = serve_refused(dir.path(), &["--dev", "--listen", listen]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{listen}: {stderr}");
        assert!(stderr.contains("loopback"), "{stderr}");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("KEYSEAL_DEV_TOKEN"),
            "no token was handed out"
        );
    }
}

#[tokio::test]
async fn tokens_never_reach_the_logs_or_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &[]).await;
    let admin = kms.mint("acme", "admin", &[]);
    let reader = kms.mint("acme", "reader", &[]);
    let expired = kms.mint("acme", "writer", &["--ttl=-120"]);
    let mut tokens = vec![
        kms.dev_token.clone(),
        admin.clone(),
        reader.clone(),
        expired.clone(),
    ];
    tokens.push(format!("{}tampered", &kms.dev_token[..kms.dev_token.len() - 8]));
    for t in &tokens {
        let _ = kms.post("/generate", &generate_body(t)).await;
        let _ = kms
            .post_bearer("/generate", t, &json!({"key_id": "acme/default", "context": {}}))
            .await;
        let _ = kms
            .post_bearer("/admin/keys/acme/default/rotate", t, &json!({}))
            .await;
        let _ = kms
            .post("/admin/keys/acme/default/disable", &json!({"authorization": t}))
            .await;
        let _ = kms.get("/admin/import-key", Some(t)).await;
    }
    let _ = kms
        .post(
            "/admin/keys/acme/default/enable",
            &json!({"authorization": admin}),
        )
        .await;
    let mut logs = kms.stderr();
    let conn = rusqlite::Connection::open(&kms.db).unwrap();
    let mut stmt = conn
        .prepare("SELECT subject || tenant || key_id || operation || reason || outcome || detail FROM audit")
        .unwrap();
    let audit: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    logs.push_str(&audit.join("\n"));
    assert!(audit.len() >= 25, "every request was audited");
    for t in &tokens {
        // Any of the three parts, the signature in particular, would be a leak.
        for part in t.split('.') {
            assert!(!logs.contains(part), "a token part was logged");
        }
    }
}

#[tokio::test]
async fn an_admin_cannot_import_into_a_generated_key() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &[]).await;
    let admin = kms.mint("acme", "admin", &[]);
    let (_, ik) = kms.get("/admin/import-key", Some(&admin)).await;
    let import_pk = unb64(ik["public_key"].as_str().unwrap());
    let seal_for = |key_id: &str, material: &[u8; 32]| {
        let mut info = b"keyseal-kms/v1 import".to_vec();
        info.push(0);
        info.extend_from_slice(key_id.as_bytes());
        let sealed = hpke_p256::seal(&import_pk, &info, b"", material).unwrap();
        json!({"enc": b64(&sealed.enc), "ciphertext": b64(&sealed.ciphertext)})
    };
    // acme/default was generated by the service: material the admin knows must not become its
    // primary version (every new entry would then open offline with it).
    let got = kms
        .post_bearer(
            "/admin/keys/acme/default/import",
            &admin,
            &seal_for("acme/default", &[9u8; 32]),
        )
        .await;
    assert_error(&got, 400, "InvalidRequest");
    assert!(
        got.1["message"].as_str().unwrap().contains("external"),
        "{}",
        got.1
    );
    let (_, info) = kms.get("/admin/keys/acme/default", Some(&admin)).await;
    assert_eq!(info["primary_version"], 1);
    assert_eq!(info["versions"].as_array().unwrap().len(), 1);
    // The command line refuses it too.
    let sealed = seal_for("acme/default", &[9u8; 32]);
    let out = kms.cli(&[
        "key",
        "import",
        "acme/default",
        "--enc",
        sealed["enc"].as_str().unwrap(),
        "--ciphertext",
        sealed["ciphertext"].as_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidRequest"));

    // An external key: created by its first import, versions added by further imports only.
    let (s, v) = kms
        .post_bearer(
            "/admin/keys/acme/byok/import",
            &admin,
            &seal_for("acme/byok", &[1u8; 32]),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = kms
        .post_bearer(
            "/admin/keys/acme/byok/import",
            &admin,
            &seal_for("acme/byok", &[2u8; 32]),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["primary_version"], 2);
    assert!(
        v["versions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["origin"] == "imported")
    );
    let got = kms
        .post_bearer("/admin/keys/acme/byok/rotate", &admin, &json!({}))
        .await;
    assert_error(&got, 400, "InvalidRequest");
    // A missing member is a malformed request.
    let got = kms
        .post_bearer("/admin/keys/acme/byok/import", &admin, &json!({"enc": "AAAA"}))
        .await;
    assert_error(&got, 400, "InvalidRequest");
    // Roles do not nest: the admin who imported cannot unwrap.
    let (s, g) = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/byok", "context": {}, "authorization": kms.dev_token}),
        )
        .await;
    assert_eq!(s, 200, "{g}");
    let got = kms
        .post(
            "/unwrap",
            &json!({"key_id": "acme/byok", "wrapped_key": g["wrapped_key"], "context": {},
            "authorization": admin}),
        )
        .await;
    assert_error(&got, 403, "AccessDenied");
}
