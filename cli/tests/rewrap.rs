//! `keyseal rewrap` and `keyseal backlog` on directories, against a real `keyseal-kms`: 10,000
//! small objects rewrapped with a `kill -9` in the middle and a resume that finishes the job with
//! nothing rewrapped twice or lost (the journal, the key versions in every header, the bodies);
//! four `--shard I/4` processes that cover every object exactly once; `--dry-run`; `backlog`
//! before and after; a key change of another length (the object is rewritten, still opens).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Kms, scratch};
use keyseal::EncryptionContext;
use keyseal_cli::transport::block_on;
use serde_json::Value;

/// Makes `n` objects in `root/dNN/oNNNNN` (100 contexts, one data key each) and returns each
/// object's body (what follows its header), which no rewrap may change.
fn make_objects(kms: &Kms, root: &Path, n: usize) -> HashMap<PathBuf, Vec<u8>> {
    let ks = kms.sdk();
    let mut bodies = HashMap::new();
    for i in 0..n {
        let group = format!("{}", i % 100);
        let ctx = EncryptionContext::from_pairs([("tenant", "acme"), ("group", group.as_str())]).unwrap();
        let sealed = block_on(ks.encrypt(format!("object {i}").as_bytes(), &ctx)).unwrap();
        let dir = root.join(format!("d{:02}", i % 100));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("o{i:05}"));
        let (_, off) = keyseal::Header::parse(&sealed).unwrap();
        bodies.insert(path.clone(), sealed[off..].to_vec());
        std::fs::write(&path, &sealed).unwrap();
    }
    bodies
}

/// Every object is under `key_id` at `version`, with its body unchanged.
fn assert_all_at(bodies: &HashMap<PathBuf, Vec<u8>>, key_id: &str, version: u32) {
    for (path, body) in bodies {
        let sealed = std::fs::read(path).unwrap();
        let info = keyseal::inspect(&sealed).unwrap();
        assert_eq!(info.entries.len(), 1);
        assert_eq!(info.entries[0].key_id, key_id, "{}", path.display());
        assert_eq!(info.entries[0].key_version, Some(version), "{}", path.display());
        assert_eq!(
            &sealed[info.header_len..],
            &body[..],
            "body of {} unchanged",
            path.display()
        );
    }
}

fn journal_lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn count_status(lines: &[Value], status: &str) -> usize {
    lines.iter().filter(|v| v["status"] == status).count()
}

fn report(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn backlog_json(kms: &Kms, root: &Path) -> Value {
    let out = kms
        .keyseal()
        .arg("backlog")
        .arg(root)
        .arg("--json")
        .output()
        .unwrap();
    report(&out)
}

#[test]
fn ten_thousand_objects_killed_and_resumed_then_sharded() {
    const N: usize = 10_000;
    let dir = scratch();
    let kms = Kms::start(dir.path());
    let root = dir.path().join("objects");
    let bodies = make_objects(&kms, &root, N);
    std::fs::write(root.join("README.txt"), b"not a keyseal object").unwrap();
    assert_all_at(&bodies, "acme/default", 1);

    kms.admin(&["key", "rotate", "acme/default", "--reason", "test"]);
    let b = backlog_json(&kms, &root);
    assert_eq!(b["objects"], N);
    assert_eq!(b["behind"], N, "every object is behind after the rotation: {b}");
    assert_eq!(b["ignored"], 1);

    // A dry run changes nothing and says what it would do.
    let dry = report(
        &kms.keyseal()
            .current_dir(dir.path())
            .args(["rewrap", "--dry-run", "--json", "--to-key-id", "acme/default"])
            .arg(&root)
            .output()
            .unwrap(),
    );
    assert_eq!(dry["done"], N);
    assert_eq!(dry["dryRun"], true);
    assert_all_at(&bodies, "acme/default", 1);

    // The job, killed with SIGKILL once a fifth of the objects are journaled as done.
    let journal = dir.path().join("job.journal");
    let job = |kms: &Kms| {
        let mut c = kms.keyseal();
        c.current_dir(dir.path())
            .args([
                "rewrap",
                "--json",
                "--concurrency",
                "2",
                "--batch-size",
                "20",
                "--to-key-id",
                "acme/default",
                "--journal",
            ])
            .arg(&journal)
            .arg(&root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let mut child = job(&kms).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while count_status(&journal_lines(&journal), "done") < N / 5 {
        assert!(Instant::now() < deadline, "the job made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the job finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed, not finished");
    let first = journal_lines(&journal);
    let done_first = count_status(&first, "done");
    assert!(done_first < N, "the first run was cut short ({done_first} done)");

    // The resume finishes the job.
    let second = report(&job(&kms).output().unwrap());
    assert_eq!(second["objects"], N + 1, "every file, the README included");
    assert_eq!(second["failed"], 0, "{second}");
    assert_eq!(second["ignored"], 1);
    let lines = journal_lines(&journal);
    let mut done: HashMap<String, usize> = HashMap::new();
    for v in lines.iter().filter(|v| v["status"] == "done") {
        *done.entry(v["object"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert!(done.values().all(|&n| n == 1), "no object rewrapped twice");
    let skipped_now: HashSet<&str> = lines[first.len()..]
        .iter()
        .filter(|v| v["status"] == "skipped")
        .filter_map(|v| v["object"].as_str())
        .collect();
    let all: HashSet<String> = bodies.keys().map(|p| p.to_string_lossy().into_owned()).collect();
    for o in &all {
        assert!(
            done.contains_key(o) || skipped_now.contains(o.as_str()),
            "{o} lost"
        );
    }
    // Objects found current on resume were rewritten by the killed run after its last journal line.
    assert_eq!(
        done.len() + skipped_now.len(),
        N,
        "done {} + found current {} = every object",
        done.len(),
        skipped_now.len()
    );
    assert_eq!(second["skippedFromJournal"], done_first);
    assert_all_at(&bodies, "acme/default", 2);
    assert_eq!(backlog_json(&kms, &root)["behind"], 0);

    // A re-run with a fresh journal finds every object current.
    let again = report(
        &kms.keyseal()
            .current_dir(dir.path())
            .args(["rewrap", "--json", "--to-key-id", "acme/default"])
            .arg(&root)
            .output()
            .unwrap(),
    );
    assert_eq!(
        (again["done"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(N as u64))
    );

    // Rotate again; four shard processes at once cover every object exactly once.
    kms.admin(&["key", "rotate", "acme/default", "--reason", "test"]);
    let shards: Vec<_> = (0..4)
        .map(|i| {
            kms.keyseal()
                .current_dir(dir.path())
                .args([
                    "rewrap",
                    "--json",
                    "--to-key-id",
                    "acme/default",
                    "--shard",
                    &format!("{i}/4"),
                ])
                .arg(&root)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut total = 0;
    for (i, c) in shards.into_iter().enumerate() {
        let r = report(&c.wait_with_output().unwrap());
        assert_eq!(r["failed"], 0, "{r}");
        total += r["done"].as_u64().unwrap();
        let j = dir.path().join(format!("keyseal-rewrap.shard-{i}-of-4.journal"));
        for v in journal_lines(&j).iter().filter(|v| v["status"] == "done") {
            *seen.entry(v["object"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    assert_eq!(total, N as u64);
    assert_eq!(seen.len(), N, "every object in some shard");
    assert!(seen.values().all(|&n| n == 1), "no object in two shards");
    assert_all_at(&bodies, "acme/default", 3);

    let b = backlog_json(&kms, &root);
    assert_eq!(b["behind"], 0, "{b}");
    let prom = kms
        .keyseal()
        .arg("backlog")
        .arg(&root)
        .arg("--prometheus")
        .output()
        .unwrap();
    let prom = String::from_utf8(prom.stdout).unwrap();
    assert!(prom.contains("\nkeyseal_backlog_objects 0\n"), "{prom}");
    assert!(
        prom.contains("keyseal_objects_by_key{key_service=\"acme\",key_id=\"acme/default\",version=\"3\",current=\"true\"} 10000"),
        "{prom}"
    );
}

#[test]
fn a_new_key_id_rewrites_the_object_and_it_still_opens() {
    let dir = scratch();
    let kms = Kms::start(dir.path());
    let root = dir.path().join("objects");
    let bodies = make_objects(&kms, &root, 40);
    kms.admin(&["key", "create", "acme/2027", "--reason", "test"]);
    let b = kms
        .keyseal()
        .arg("backlog")
        .arg(&root)
        .args(["--to-key-id", "acme/2027"])
        .output()
        .unwrap();
    let text = String::from_utf8(b.stdout).unwrap();
    assert!(text.starts_with("40 objects, 40 behind"), "{text}");
    let r = report(
        &kms.keyseal()
            .current_dir(dir.path())
            .args(["rewrap", "--json", "--to-key-id", "acme/2027"])
            .arg(&root)
            .output()
            .unwrap(),
    );
    assert_eq!(r["done"], 40);
    assert_all_at(&bodies, "acme/2027", 1);
    let one = root.join("d07").join("o00007");
    let out = kms.keyseal().arg("decrypt").arg(&one).output().unwrap();
    assert_eq!(
        out.stdout,
        b"object 7",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = backlog_json(&kms, &root);
    assert_eq!(b["behind"], 0);
    // The journal of this job refuses to serve a job to another key.
    let r = kms
        .keyseal()
        .current_dir(dir.path())
        .args(["rewrap", "--to-key-id", "acme/default"])
        .arg(&root)
        .output()
        .unwrap();
    common::assert_fails(&r, "INVALID_ARGUMENT");
    // A key the token may not use: every object fails with its code, and the exit says so.
    kms.admin(&["key", "disable", "acme/2027", "--reason", "test"]);
    let r = kms
        .keyseal()
        .current_dir(dir.path())
        .args([
            "rewrap",
            "--json",
            "--to-key-id",
            "acme/default",
            "--journal",
            "other.journal",
        ])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(i32::from(keyseal_cli::exit_status("REWRAP_INCOMPLETE")))
    );
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["failedByCode"]["KEY_DISABLED"], 40, "{v}");
    let _ = Command::new("true").status();
}
