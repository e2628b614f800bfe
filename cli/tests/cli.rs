//! The `keyseal` binary against a real `keyseal-kms` on 127.0.0.1: round trips through pipes and
//! files with both engines (signed and not), context checks, inspect, key-service failures with
//! their codes and exit statuses, no partial output on failure, and no secret on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::{Kms, assert_fails, bytes, run_with_stdin, scratch};

#[test]
fn round_trips_through_pipes_and_files_with_both_engines() {
    let dir = scratch();
    let kms = Kms::start(dir.path());
    // Sizes around the segment boundary (small segments so that many are in flight).
    for len in [0usize, 1, 4095, 4096, 4097, 3 * 4096, 300_000] {
        let pt = bytes(len, len as u8);
        for sign in [false, true] {
            for (enc, dec) in [
                ("native", "native"),
                ("native", "rustcrypto"),
                ("rustcrypto", "native"),
            ] {
                let mut c = kms.keyseal();
                c.args([
                    "encrypt",
                    "--engine",
                    enc,
                    "--segment-size",
                    "4096",
                    "--context",
                    "tenant=acme",
                ]);
                if sign {
                    c.arg("--sign");
                }
                let sealed = run_with_stdin(&mut c, &pt);
                assert!(
                    sealed.status.success(),
                    "{}",
                    String::from_utf8_lossy(&sealed.stderr)
                );
                let mut d = kms.keyseal();
                d.args(["decrypt", "--engine", dec, "--require-context", "tenant=acme"]);
                if sign {
                    d.arg("--require-signed");
                }
                let opened = run_with_stdin(&mut d, &sealed.stdout);
                assert!(
                    opened.status.success(),
                    "{}",
                    String::from_utf8_lossy(&opened.stderr)
                );
                assert_eq!(opened.stdout, pt, "len {len} sign {sign} {enc}→{dec}");
            }
        }
    }
    // Files: -o writes the file; decrypting it back gives the plaintext.
    let pt = bytes(1_000_003, 7);
    let (p, s, o) = (dir.path().join("p"), dir.path().join("s"), dir.path().join("o"));
    std::fs::write(&p, &pt).unwrap();
    let e = kms
        .keyseal()
        .args(["encrypt", "--context", "object=42"])
        .arg(&p)
        .arg("-o")
        .arg(&s)
        .output()
        .unwrap();
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    assert!(e.stdout.is_empty(), "nothing on stdout when -o is a file");
    let d = kms
        .keyseal()
        .args(["decrypt", "--threads", "3"])
        .arg(&s)
        .arg("-o")
        .arg(&o)
        .output()
        .unwrap();
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
    assert_eq!(std::fs::read(&o).unwrap(), pt);
    // The token is never printed, not even on failure.
    let bad = kms
        .keyseal()
        .args(["decrypt", "--require-context", "object=43"])
        .arg(&s)
        .output()
        .unwrap();
    assert_fails(&bad, "CONTEXT_MISMATCH");
    assert!(!String::from_utf8_lossy(&bad.stderr).contains(&kms.token));
}

#[test]
fn failures_leave_no_output_file_and_exit_by_code() {
    let dir = scratch();
    let kms = Kms::start(dir.path());
    let pt = bytes(200_000, 3);
    let s = dir.path().join("sealed");
    let out = run_with_stdin(
        kms.keyseal()
            .args(["encrypt", "--segment-size", "4096", "-o"])
            .arg(&s),
        &pt,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Flip a byte in the last segment: every earlier segment authenticates, the last does not.
    let mut bad = std::fs::read(&s).unwrap();
    let n = bad.len();
    bad[n - 5] ^= 1;
    let t = dir.path().join("tampered");
    std::fs::write(&t, &bad).unwrap();
    let sub = dir.path().join("out");
    std::fs::create_dir(&sub).unwrap();
    for engine in ["native", "rustcrypto"] {
        let target = sub.join("plain");
        let r = kms
            .keyseal()
            .args(["decrypt", "--engine", engine])
            .arg(&t)
            .arg("-o")
            .arg(&target)
            .output()
            .unwrap();
        assert_fails(&r, "DECRYPTION_FAILED");
        assert!(!target.exists(), "{engine}: no output file after a failure");
        assert_eq!(
            std::fs::read_dir(&sub).unwrap().count(),
            0,
            "{engine}: no temporary file left"
        );
    }
    // Truncated by one byte: DECRYPTION_FAILED as well.
    std::fs::write(&t, &bad[..n - 1]).unwrap();
    assert_fails(
        &kms.keyseal().arg("decrypt").arg(&t).output().unwrap(),
        "DECRYPTION_FAILED",
    );
    // A wrong token: ACCESS_DENIED (20). A dead URL: KMS_UNAVAILABLE (24). Not our message: INVALID_FORMAT.
    let r = kms
        .keyseal()
        .env("KEYSEAL_TOKEN", "not-a-token")
        .arg("decrypt")
        .arg(&s)
        .output()
        .unwrap();
    assert_fails(&r, "ACCESS_DENIED");
    let r = kms
        .keyseal()
        .env("KEYSEAL_KEY_SERVICE", "http://127.0.0.1:9/v1")
        .args(["--help"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(0), "--help works without a service");
    let r = run_with_stdin(
        kms.keyseal()
            .env("KEYSEAL_KEY_SERVICE", "http://127.0.0.1:9/v1")
            .args(["encrypt", "--timeout-ms", "500"]),
        b"x",
    );
    assert_fails(&r, "KMS_UNAVAILABLE");
    let r = run_with_stdin(kms.keyseal().arg("decrypt"), b"plain text, not sealed");
    assert_fails(&r, "INVALID_FORMAT");
    // A disabled key: KEY_DISABLED (21); enabled again, it opens.
    kms.admin(&["key", "disable", "acme/default", "--reason", "test"]);
    assert_fails(
        &kms.keyseal().arg("decrypt").arg(&s).output().unwrap(),
        "KEY_DISABLED",
    );
    kms.admin(&["key", "enable", "acme/default", "--reason", "test"]);
    let r = kms.keyseal().arg("decrypt").arg(&s).output().unwrap();
    assert!(r.status.success());
    assert_eq!(r.stdout, pt);
    // Unsigned message where a signed one is required: DOWNGRADE_REFUSED (16).
    let r = kms
        .keyseal()
        .args(["decrypt", "--require-signed"])
        .arg(&s)
        .output()
        .unwrap();
    assert_fails(&r, "DOWNGRADE_REFUSED");
    // Usage errors are INVALID_ARGUMENT's status (2), as clap's own are.
    let r = run_with_stdin(kms.keyseal().env_remove("KEYSEAL_KEY_ID").arg("encrypt"), b"x");
    assert_fails(&r, "INVALID_ARGUMENT");
    let r = kms
        .keyseal()
        .args(["rewrap", "x", "--to-key-id", "a", "--shard", "4/4"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
}

#[test]
fn token_command_and_pinned_identity() {
    let dir = scratch();
    let kms = Kms::start(dir.path());
    let tok = dir.path().join("token");
    std::fs::write(&tok, &kms.token).unwrap();
    let log = dir.path().join("calls");
    let cmd = format!(
        "echo \"$KEYSEAL_TOKEN_OP $KEYSEAL_TOKEN_KEY_ID\" >> {}; cat {}",
        log.display(),
        tok.display()
    );
    let sealed = run_with_stdin(
        kms.keyseal().env_remove("KEYSEAL_TOKEN").args([
            "encrypt",
            "--token-cmd",
            &cmd,
            "--identity",
            &kms.identity,
        ]),
        b"hello",
    );
    assert!(
        sealed.status.success(),
        "{}",
        String::from_utf8_lossy(&sealed.stderr)
    );
    let opened = run_with_stdin(
        kms.keyseal()
            .env_remove("KEYSEAL_TOKEN")
            .env("KEYSEAL_TOKEN_CMD", &cmd)
            .arg("decrypt"),
        &sealed.stdout,
    );
    assert_eq!(opened.stdout, b"hello");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls, "generate acme/default\nunwrap acme/default\n",
        "one token per call"
    );
    // Another service's identity pinned: IDENTITY_MISMATCH.
    let other = scratch();
    let kms2 = Kms::start(other.path());
    let r = run_with_stdin(
        kms.keyseal().args(["decrypt", "--identity", &kms2.identity]),
        &sealed.stdout,
    );
    assert_fails(&r, "IDENTITY_MISMATCH");
    // A config file gives the same settings.
    let cfg = dir.path().join("keyseal.json");
    std::fs::write(
        &cfg,
        serde_json::json!({"keyService": [kms.url], "serviceId": "acme", "keyId": "acme/default"})
            .to_string(),
    )
    .unwrap();
    let r = run_with_stdin(
        kms.keyseal()
            .env_remove("KEYSEAL_KEY_SERVICE")
            .env_remove("KEYSEAL_SERVICE_ID")
            .env_remove("KEYSEAL_KEY_ID")
            .arg("decrypt")
            .arg("--config")
            .arg(&cfg),
        &sealed.stdout,
    );
    assert_eq!(r.stdout, b"hello", "{}", String::from_utf8_lossy(&r.stderr));
}

#[test]
fn inspect_reads_header_facts_without_a_key_service() {
    let dir = scratch();
    let kms = Kms::start(dir.path());
    let s = dir.path().join("s");
    let out = run_with_stdin(
        kms.keyseal()
            .args([
                "encrypt",
                "--sign",
                "--segment-size",
                "1024",
                "--context",
                "tenant=acme",
                "-o",
            ])
            .arg(&s),
        &bytes(5000, 1),
    );
    assert!(out.status.success());
    let r = std::process::Command::new(common::KEYSEAL)
        .args(["inspect", "--json"])
        .arg(&s)
        .output()
        .unwrap();
    assert!(r.status.success());
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["signed"], true);
    assert_eq!(v["plaintextLen"], 5000);
    assert_eq!(v["segmentCount"], 5);
    assert_eq!(v["context"]["tenant"], "acme");
    assert_eq!(v["entries"][0]["keyId"], "acme/default");
    assert_eq!(v["entries"][0]["keyVersion"], 1);
    let text = std::process::Command::new(common::KEYSEAL)
        .arg("inspect")
        .arg(&s)
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("(signed)") && text.contains("acme/default version 1"),
        "{text}"
    );
    let junk = dir.path().join("junk");
    let mut j = b"\x89KSL\x02".to_vec();
    j.resize(64, 0);
    std::fs::write(&junk, &j).unwrap();
    let r = std::process::Command::new(common::KEYSEAL)
        .arg("inspect")
        .arg(&junk)
        .output()
        .unwrap();
    assert_fails(&r, "UNSUPPORTED_VERSION");
}

/// An output that is not a regular file (a FIFO here; `/dev/null` in `make bench-cli`) is written in
/// place, never replaced by a renamed temporary file: a rename over `/dev/null` once turned it into
/// a regular file and broke every later `> /dev/null` on the machine.
#[test]
fn a_fifo_output_is_written_in_place_and_stays_a_fifo() {
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch();
    let kms = Kms::start(dir.path());
    let pt = bytes(100_000, 9);
    let sealed = dir.path().join("sealed");
    let out = run_with_stdin(kms.keyseal().args(["encrypt", "-o"]).arg(&sealed), &pt);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fifo = dir.path().join("plain.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let out = kms
        .keyseal()
        .args(["decrypt"])
        .arg(&sealed)
        .arg("-o")
        .arg(&fifo)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // checked before joining: a FIFO renamed away would leave the reader waiting forever
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "still a FIFO, not a regular file");
    assert_eq!(reader.join().unwrap(), pt, "the plaintext went through the FIFO");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".keyseal-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left behind");
}
