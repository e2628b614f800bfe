//! The audit log for a SIEM (PROTOCOL.md §9.1), through the real binary: records reach the sink as
//! they are committed, with ECS fields and refusals by reason; `audit export` and `audit verify
//! --exported` (an edited or shortened export is refused); RFC 5424 syslog over UDP; and nothing
//! secret (token, data key) is ever in a record.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Kms, cli};
use serde_json::{Value, json};

fn ctx() -> Value {
    json!({"tenant": "acme", "object": "siem"})
}

/// The JSON lines of `path` once there are at least `n`.
async fn lines_at_least(path: &std::path::Path, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "only {} audit records reached the sink: {text}",
            lines.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn audit_records_reach_the_sink_as_committed_with_ecs_fields_and_export_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("audit.jsonl");
    let kms = Kms::start(dir.path(), &["--audit-sink", &format!("file:{}", sink.display())]).await;
    let t = kms.dev_token.clone();
    // a plaintext answer (no recipient): its key must never reach the audit
    let (s, g) = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/default", "context": ctx(), "authorization": t, "reason": "siem test"}),
        )
        .await;
    assert_eq!(s, 200);
    let data_key = g["key"].as_str().expect("a plaintext key answer").to_string();
    let wrapped = g["wrapped_key"].as_str().unwrap().to_string();
    // refusals: no token, another tenant's token
    let (s, _) = kms
        .post(
            "/unwrap",
            &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx()}),
        )
        .await;
    assert_eq!(s, 401);
    let globex = kms.mint("globex", "reader", &[]);
    let (s, _) = kms
        .post("/unwrap", &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "authorization": globex}))
        .await;
    assert_eq!(s, 403);
    let (s, _) = kms
        .post(
            "/unwrap",
            &json!({"key_id": "acme/default", "wrapped_key": wrapped, "context": ctx(), "authorization": t}),
        )
        .await;
    assert_eq!(s, 200);

    let records = lines_at_least(&sink, 4).await;
    for (i, r) in records.iter().enumerate() {
        for field in ["@timestamp", "event", "user", "organization", "keyseal"] {
            assert!(!r[field].is_null(), "record {i} lacks {field}: {r}");
        }
        assert_eq!(r["event"]["dataset"], "keyseal_kms.audit");
        if i > 0 {
            assert_eq!(
                r["event"]["sequence"].as_i64().unwrap(),
                records[i - 1]["event"]["sequence"].as_i64().unwrap() + 1,
                "consecutive"
            );
            assert_eq!(
                r["keyseal"]["prev_hash"],
                records[i - 1]["keyseal"]["hash"],
                "chained"
            );
        }
    }
    let by_action = |a: &str, outcome: &str| {
        records
            .iter()
            .filter(|r| r["event"]["action"] == a && r["event"]["outcome"] == outcome)
            .count()
    };
    assert_eq!(by_action("generate", "success"), 1, "{records:?}");
    assert_eq!(by_action("unwrap", "success"), 1);
    assert_eq!(by_action("unwrap", "failure"), 2, "refusals are records too");
    let reasons: Vec<&str> = records
        .iter()
        .filter_map(|r| r["error"]["code"].as_str())
        .collect();
    assert!(
        reasons.contains(&"Unauthenticated") && reasons.contains(&"AccessDenied"),
        "refusals by reason: {reasons:?}"
    );
    let generated = records
        .iter()
        .find(|r| r["event"]["action"] == "generate")
        .unwrap();
    assert_eq!(generated["event"]["reason"], "siem test");
    assert_eq!(generated["organization"]["id"], "acme");
    assert_eq!(generated["keyseal"]["key_id"], "acme/default");

    // nothing secret: not the tokens, not the data key (in base64 or hex)
    let text = std::fs::read_to_string(&sink).unwrap();
    let key_hex: String = common::unb64(&data_key)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for secret in [t.as_str(), data_key.as_str(), key_hex.as_str()] {
        assert!(!text.contains(secret), "a secret reached the audit sink");
    }
    let tail = &t[t.len() - 20..];
    assert!(!text.contains(tail), "part of a token reached the audit sink");

    // export: the same records (from the first the sink saw), verified against the store
    let first = records[0]["event"]["sequence"].as_i64().unwrap();
    let out = cli(&kms.db, &["audit", "export", "--since", &(first - 1).to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported = String::from_utf8(out.stdout).unwrap();
    let ex: Vec<Value> = exported
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(ex.len() >= records.len());
    assert_eq!(
        &ex[..records.len()],
        &records[..],
        "the export is what the sink got"
    );
    for s in [t.as_str(), data_key.as_str()] {
        assert!(!exported.contains(s), "a secret in the export");
    }
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, &exported).unwrap();
    let ok = cli(
        &kms.db,
        &["audit", "verify", "--exported", file.to_str().unwrap()],
    );
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    // an edited record, a dropped record, a record from another chain: refused
    let edited = exported.replacen("\"siem test\"", "\"innocent\"", 1);
    let dropped: String = exported
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    for (what, bad, says) in [("edited", edited, "edited"), ("dropped", dropped, "missing")] {
        std::fs::write(&file, &bad).unwrap();
        let out = cli(
            &kms.db,
            &["audit", "verify", "--exported", file.to_str().unwrap()],
        );
        let msg = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success() && msg.contains(says), "{what}: {msg}");
    }
    // by time: everything from the first record's time on
    let since = generated["@timestamp"].as_str().unwrap();
    let out = cli(&kms.db, &["audit", "export", "--since", since]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().lines().count() >= 4);
}

#[tokio::test]
async fn syslog_sink_sends_rfc5424_messages_over_udp() {
    let dir = tempfile::tempdir().unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let addr = udp.local_addr().unwrap();
    let kms = Kms::start(dir.path(), &["--audit-sink", &format!("syslog:{addr}")]).await;
    let (s, _) = kms
        .post(
            "/generate",
            &json!({"key_id": "acme/nope", "context": ctx(), "authorization": kms.dev_token}),
        )
        .await;
    assert_eq!(s, 404);
    let mut buf = [0u8; 8192];
    let n = udp.recv(&mut buf).expect("a syslog datagram");
    let msg = std::str::from_utf8(&buf[..n]).unwrap();
    // <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG; facility 13, warning for a refusal
    let parts: Vec<&str> = msg.splitn(8, ' ').collect();
    assert_eq!(parts[0], "<108>1", "{msg}");
    assert!(
        parts[1].ends_with('Z') && parts[1].contains('T'),
        "RFC 3339 time: {msg}"
    );
    assert_eq!((parts[3], parts[5], parts[6]), ("keyseal-kms", "audit", "-"));
    let record: Value = serde_json::from_str(parts[7]).unwrap();
    assert_eq!(record["event"]["outcome"], "failure");
    assert_eq!(record["error"]["code"], "KeyNotFound");
}

#[test]
fn a_bad_sink_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::serve_refused(dir.path(), &["--audit-sink", "kafka:broker:9092"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdout, file:PATH or syslog:HOST:PORT"));
}
