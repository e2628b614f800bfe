//! Durability: rotates and wraps while the process is SIGKILLed at random moments and restarted.
//! Every wrapped key the service answered before a kill must still unwrap afterwards, and the audit
//! chain must verify. Also: the audit chain detects rows edited or removed in the SQLite file.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Kms, b64, cli, unb64};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Wrapped keys the service acknowledged: (key_id, wrapped_key, context, DEK).
type Acked = Arc<Mutex<Vec<(&'static str, String, Value, Vec<u8>)>>>;

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loop_loses_no_acknowledged_wrap() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let acknowledged: Acked = Arc::default();
    let mut rounds = 0;
    let mut rotations_acked = 0u32;
    while rounds < 8 && started.elapsed() < Duration::from_secs(20) {
        rounds += 1;
        let mut kms = Kms::start(dir.path(), &[]).await;
        let admin = kms.mint("acme", "admin", &[]);
        let writer = kms.dev_token.clone();
        if rounds == 1 {
            // A second key, revoked (disabled) in the middle of round 3.
            let (s, _) = kms
                .post_bearer("/admin/keys", &admin, &json!({"key_id": "acme/side"}))
                .await;
            assert_eq!(s, 200);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for w in 0..4 {
            let http = kms.http.clone();
            let url = kms.url.clone();
            let token = writer.clone();
            let acked = acknowledged.clone();
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let context = json!({"round": rounds.to_string(), "worker": w.to_string(), "i": i.to_string()});
                    let key = {
                        let mut k = [0u8; 32];
                        getrandom::fill(&mut k).unwrap();
                        k
                    };
                    let key_id = if w % 2 == 0 { "acme/default" } else { "acme/side" };
                    let body = json!({"key_id": key_id, "key": b64(&key), "context": context, "authorization": token});
                    let Ok(r) = http.post(format!("{url}/wrap")).json(&body).send().await else { break };
                    if r.status().as_u16() != 200 {
                        continue;
                    }
                    let Ok(v) = r.json::<Value>().await else { break };
                    acked.lock().await.push((key_id, v["wrapped_key"].as_str().unwrap().to_string(), context, key.to_vec()));
                }
            }));
        }
        let rot = {
            let http = kms.http.clone();
            let url = kms.url.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut acked = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let Ok(r) = http
                        .post(format!("{url}/admin/keys/acme/default/rotate"))
                        .bearer_auth(&admin)
                        .json(&json!({"reason": "durability"}))
                        .send()
                        .await
                    else {
                        break;
                    };
                    if r.status().as_u16() == 200 {
                        acked += 1;
                    }
                    if rounds == 3 && acked == 3 {
                        let _ = http
                            .post(format!("{url}/admin/keys/acme/side/disable"))
                            .bearer_auth(&admin)
                            .json(&json!({"reason": "revoked mid-run"}))
                            .send()
                            .await;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                acked
            })
        };
        tokio::time::sleep(Duration::from_millis(200 + rand_u64() % 600)).await;
        kms.kill(); // SIGKILL, mid-flight
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        rotations_acked += rot.await.unwrap();
    }
    let acked = acknowledged.lock().await.clone();
    assert!(acked.len() > 20, "only {} wraps acknowledged", acked.len());

    // Restart and check every acknowledged wrap.
    let kms = Kms::start(dir.path(), &[]).await;
    let admin = kms.mint("acme", "admin", &[]);
    let (_, info) = kms.get("/admin/keys/acme/default", Some(&admin)).await;
    let versions = info["primary_version"].as_u64().unwrap();
    assert!(
        versions > u64::from(rotations_acked),
        "acknowledged rotations lost: {versions} <= {rotations_acked}"
    );
    let (_, side) = kms.get("/admin/keys/acme/side", Some(&admin)).await;
    let side_disabled = side["state"] == "disabled";
    let check = |key_id: &str, wrapped: &str, context: &Value| json!({"key_id": key_id, "wrapped_key": wrapped, "context": context, "authorization": kms.dev_token});
    for (key_id, wrapped, context, key) in &acked {
        let (s, v) = kms.post("/unwrap", &check(key_id, wrapped, context)).await;
        if *key_id == "acme/side" && side_disabled {
            common::assert_error(&(s, v), 403, "KeyDisabled");
        } else {
            assert_eq!(s, 200, "{v}");
            assert_eq!(&unb64(v["key"].as_str().unwrap()), key);
        }
    }
    // Re-enabled, the revoked key's wrapped keys all open again: nothing was lost.
    let out = kms.cli(&["key", "enable", "acme/side"]);
    assert!(out.status.success());
    for (key_id, wrapped, context, key) in acked.iter().filter(|a| a.0 == "acme/side") {
        let (s, v) = kms.post("/unwrap", &check(key_id, wrapped, context)).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(&unb64(v["key"].as_str().unwrap()), key);
    }
    drop(kms);
    let out = cli(&dir.path().join("kms.db"), &["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    eprintln!(
        "durability: {rounds} SIGKILL rounds, {} wraps and {rotations_acked} rotations acknowledged, all present (acme/side disabled: {side_disabled})",
        acked.len()
    );
}

#[tokio::test]
async fn audit_chain_detects_edited_and_removed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &[]).await;
    for i in 0..5 {
        let (s, _) = kms
            .post("/generate", &json!({"key_id": "acme/default", "context": {"i": i.to_string()}, "authorization": kms.dev_token}))
            .await;
        assert_eq!(s, 200);
    }
    let (s, _) = kms
        .post("/generate", &json!({"key_id": "acme/default", "context": {}}))
        .await;
    assert_eq!(s, 401);
    let db = kms.db.clone();
    drop(kms);

    let out = cli(&db, &["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // The table refuses edits through SQL while the triggers are in place.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    let copy = dir.path().join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    assert!(
        conn.execute(
            "UPDATE audit SET outcome='ok' WHERE outcome='Unauthenticated'",
            []
        )
        .is_err()
    );

    // An attacker with the file drops the trigger and hides the refusal.
    conn.execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET outcome='ok', subject='dev' WHERE outcome='Unauthenticated';")
        .unwrap();
    drop(conn);
    let out = cli(&db, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BROKEN") && text.contains("edited"), "{text}");

    // Removing a row from the middle is detected too.
    let conn = rusqlite::Connection::open(&copy).unwrap();
    conn.execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 3;")
        .unwrap();
    drop(conn);
    let out = cli(&copy, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("missing"));
}
