//! The `aws-kms` kind from the command line, against moto's AWS KMS on 127.0.0.1 (SigV4-signed
//! requests, credentials from the environment): encrypt, decrypt, inspect, a rewrap to another
//! key through `ReEncrypt` (the data key never leaves "AWS") and backlog by key id.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::moto::Moto;
use common::{assert_fails, run_with_stdin, scratch};

fn aws(moto: &Moto) -> std::process::Command {
    let mut c = std::process::Command::new(common::KEYSEAL);
    c.env_clear()
        .env("KEYSEAL_KIND", "aws-kms")
        .env("KEYSEAL_KEY_SERVICE", &moto.url)
        .env("KEYSEAL_SERVICE_ID", "acme-aws")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    c
}

#[test]
fn aws_kms_kind_seals_opens_and_rotates_by_reencrypt() {
    let dir = scratch();
    let moto = Moto::start(dir.path());
    let (k1, k2) = (moto.create_kms_key(), moto.create_kms_key());
    let objects = dir.path().join("objects");
    std::fs::create_dir(&objects).unwrap();
    for i in 0..5 {
        let out = run_with_stdin(
            aws(&moto)
                .args(["encrypt", "--key-id", &k1, "--context", "tenant=acme", "-o"])
                .arg(objects.join(format!("o{i}"))),
            format!("aws object {i}").as_bytes(),
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let o3 = objects.join("o3");
    let v: serde_json::Value = serde_json::from_slice(
        &std::process::Command::new(common::KEYSEAL)
            .args(["inspect", "--json"])
            .arg(&o3)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(v["entries"][0]["kind"], "aws-kms");
    assert_eq!(v["entries"][0]["keyId"], k1.as_str());
    let out = aws(&moto)
        .args(["decrypt", "--require-context", "tenant=acme"])
        .arg(&o3)
        .output()
        .unwrap();
    assert_eq!(
        out.stdout,
        b"aws object 3",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = aws(&moto)
        .args(["decrypt", "--require-context", "tenant=other"])
        .arg(&o3)
        .output()
        .unwrap();
    assert_fails(&out, "CONTEXT_MISMATCH");

    let backlog = |to: &str| -> serde_json::Value {
        let out = aws(&moto)
            .arg("backlog")
            .arg(&objects)
            .args(["--json", "--to-key-id", to])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(backlog(&k2)["behind"], 5);
    let out = aws(&moto)
        .current_dir(dir.path())
        .args(["rewrap", "--json", "--to-key-id", &k2])
        .arg(&objects)
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r["done"].as_u64(), r["failed"].as_u64()),
        (Some(5), Some(0)),
        "{r}"
    );
    assert_eq!(backlog(&k2)["behind"], 0);
    let v: serde_json::Value = serde_json::from_slice(
        &std::process::Command::new(common::KEYSEAL)
            .args(["inspect", "--json"])
            .arg(&o3)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(v["entries"][0]["keyId"], k2.as_str());
    let out = aws(&moto).arg("decrypt").arg(&o3).output().unwrap();
    assert_eq!(out.stdout, b"aws object 3");
    // Without credentials: ACCESS_DENIED.
    let out = aws(&moto)
        .env_remove("AWS_ACCESS_KEY_ID")
        .arg("decrypt")
        .arg(&o3)
        .output()
        .unwrap();
    assert_fails(&out, "ACCESS_DENIED");
}
