//! `keyseal rewrap` and `backlog` on an S3-compatible bucket: moto's S3 server (PyPI
//! `moto[server]`, installed by scripts/bootstrap.sh into target/moto-venv) on 127.0.0.1, objects sealed
//! by the core against a real `keyseal-kms`, a rewrap killed with SIGKILL in the middle and a
//! resume that finishes with nothing rewrapped twice or lost, then `backlog` at zero.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::moto::Moto;
use common::{Kms, scratch};
use keyseal::EncryptionContext;
use keyseal_cli::transport::block_on;
use serde_json::Value;

fn keyseal_s3(kms: &Kms, moto: &Moto) -> Command {
    let mut c = kms.keyseal();
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("KEYSEAL_S3_ENDPOINT", &moto.url);
    c
}

fn journal_lines(p: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn a_bucket_is_rewrapped_killed_resumed_and_has_no_backlog() {
    const N: usize = 200;
    let dir = scratch();
    let kms = Kms::start(dir.path());
    let moto = Moto::start(dir.path());
    moto.put("vault", b"");
    let ks = kms.sdk();
    let mut bodies = HashMap::new();
    for i in 0..N {
        let group = format!("{}", i % 50);
        let ctx = EncryptionContext::from_pairs([("tenant", "acme"), ("group", group.as_str())]).unwrap();
        let sealed = block_on(ks.encrypt(format!("object {i}").as_bytes(), &ctx)).unwrap();
        let key = format!("vault/tenant-a/{:02}/o{i:04}", i % 50);
        let (_, off) = keyseal::Header::parse(&sealed).unwrap();
        bodies.insert(key.clone(), sealed[off..].to_vec());
        moto.put(&key, &sealed);
    }
    moto.put("vault/tenant-a/notes.txt", b"not sealed");
    moto.put("vault/tenant-b/o", b"outside the prefix");
    kms.admin(&["key", "rotate", "acme/default", "--reason", "test"]);
    let backlog = |kms: &Kms| -> Value {
        let out = keyseal_s3(kms, &moto)
            .args(["backlog", "s3://vault/tenant-a", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let b = backlog(&kms);
    assert_eq!(
        (b["objects"].as_u64(), b["behind"].as_u64(), b["ignored"].as_u64()),
        (Some(N as u64), Some(N as u64), Some(1))
    );

    let journal = dir.path().join("s3.journal");
    let job = || {
        let mut c = keyseal_s3(&kms, &moto);
        c.args([
            "rewrap",
            "s3://vault/tenant-a",
            "--json",
            "--concurrency",
            "1",
            "--batch-size",
            "10",
            "--to-key-id",
            "acme/default",
            "--journal",
        ])
        .arg(&journal)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        c
    };
    let mut child = job().spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while journal_lines(&journal)
        .iter()
        .filter(|v| v["status"] == "done")
        .count()
        < N / 4
    {
        assert!(Instant::now() < deadline, "no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the job finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let first = journal_lines(&journal).len();
    let out = job().output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failed"], 0, "{report}");
    let lines = journal_lines(&journal);
    let mut done: HashMap<&str, usize> = HashMap::new();
    for v in lines.iter().filter(|v| v["status"] == "done") {
        *done.entry(v["object"].as_str().unwrap()).or_default() += 1;
    }
    assert!(done.values().all(|&n| n == 1), "no object rewrapped twice");
    let current_on_resume = lines[first..].iter().filter(|v| v["status"] == "skipped").count();
    assert_eq!(
        done.len() + current_on_resume,
        N,
        "every object done once or found current"
    );
    for (key, body) in &bodies {
        let sealed = moto.get(key);
        let info = keyseal::inspect(&sealed).unwrap();
        assert_eq!(info.entries[0].key_version, Some(2), "{key}");
        assert_eq!(&sealed[info.header_len..], &body[..], "{key}: body unchanged");
    }
    assert_eq!(moto.get("vault/tenant-b/o"), b"outside the prefix");
    assert_eq!(backlog(&kms)["behind"], 0);
    // And a rewrapped object still opens.
    let path = dir.path().join("one");
    std::fs::write(&path, moto.get("vault/tenant-a/07/o0007")).unwrap();
    let out = kms.keyseal().arg("decrypt").arg(&path).output().unwrap();
    assert_eq!(out.stdout, b"object 7");
}
