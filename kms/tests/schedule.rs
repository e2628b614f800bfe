//! Rotation on a schedule (PROTOCOL.md §8.5), with time as a parameter (no sleeps): due keys
//! rotate once per period, two instances checking at once rotate a key exactly once, disabled
//! keys wait, external keys refuse a period; the command line and `/metrics` show the schedule.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Barrier};

use common::{Kms, cli};
use keyseal_kms::store::{StateOp, Store, StoreError};
use zeroize::Zeroizing;

const DAY: i64 = 86_400_000;
const T0: i64 = 1_800_000_000_000;

fn open(path: &std::path::Path) -> Store {
    Store::open(path, Zeroizing::new([7u8; 32])).unwrap()
}

#[test]
fn a_due_key_rotates_once_per_period_and_disabled_keys_wait() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("k.db"));
    store.create_key("acme/orders").unwrap();
    store.create_key("acme/paused").unwrap();
    let s = store
        .set_rotation_period("acme/orders", Some(DAY), T0, "test")
        .unwrap();
    assert_eq!(
        (s.every_ms, s.next_at_ms, s.primary_version),
        (Some(DAY), Some(T0 + DAY), 1)
    );
    store
        .set_rotation_period("acme/paused", Some(DAY), T0, "test")
        .unwrap();
    store.set_state("acme/paused", StateOp::Disable).unwrap();

    assert!(store.rotate_due(T0 + DAY - 1).unwrap().is_empty(), "not due yet");
    assert_eq!(
        store.rotate_due(T0 + DAY).unwrap(),
        vec![("acme/orders".to_string(), 2)],
        "due: rotated; the disabled key waits"
    );
    assert!(store.rotate_due(T0 + DAY).unwrap().is_empty(), "once per period");
    assert_eq!(
        store.schedule_of("acme/orders").unwrap().next_at_ms,
        Some(T0 + 2 * DAY)
    );
    assert!(store.rotate_due(T0 + 2 * DAY - 1).unwrap().is_empty());
    assert_eq!(
        store.rotate_due(T0 + 2 * DAY).unwrap(),
        vec![("acme/orders".to_string(), 3)]
    );

    store.set_state("acme/paused", StateOp::Enable).unwrap();
    assert_eq!(
        store.rotate_due(T0 + 2 * DAY).unwrap(),
        vec![("acme/paused".to_string(), 2)],
        "enabled and overdue: rotated"
    );

    // cleared: never again; long overdue: one rotation, not one per missed period
    store
        .set_rotation_period("acme/orders", None, T0 + 2 * DAY, "test")
        .unwrap();
    assert_eq!(
        store.rotate_due(T0 + 100 * DAY).unwrap(),
        vec![("acme/paused".to_string(), 3)]
    );

    // every scheduled rotation is in the hash-chained audit, by `system`
    let report = store.audit_verify().unwrap();
    assert!(report.problem.is_none(), "{report:?}");
    let out = cli(&dir.path().join("k.db"), &["audit", "export"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let rotations = text
        .lines()
        .filter(|l| {
            l.contains("\"action\":\"key.rotate\"")
                && l.contains("\"reason\":\"schedule\"")
                && l.contains("\"name\":\"system\"")
        })
        .count();
    assert_eq!(rotations, 4, "{text}");
    assert_eq!(text.matches("\"action\":\"key.schedule\"").count(), 3);
}

#[test]
fn an_external_key_refuses_a_period() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("k.db"));
    store.import_version("acme/byok", &[9u8; 32]).unwrap();
    assert!(matches!(
        store.set_rotation_period("acme/byok", Some(DAY), T0, "test"),
        Err(StoreError::External { .. })
    ));
}

#[test]
fn two_instances_checking_at_once_rotate_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let first = open(&path);
    for i in 0..5 {
        first.create_key(&format!("acme/k{i}")).unwrap();
        first
            .set_rotation_period(&format!("acme/k{i}"), Some(DAY), T0, "test")
            .unwrap();
    }
    drop(first);
    // several processes' worth of stores on one file, all checking at the same due time
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let store = open(&path);
                barrier.wait();
                let mut all = Vec::new();
                for _ in 0..5 {
                    all.extend(store.rotate_due(T0 + DAY).unwrap());
                }
                all
            })
        })
        .collect();
    let mut rotated: Vec<(String, u32)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    rotated.sort();
    let expected: Vec<(String, u32)> = (0..5).map(|i| (format!("acme/k{i}"), 2)).collect();
    assert_eq!(rotated, expected, "each key rotated exactly once");
    let store = open(&path);
    for r in store.schedules(None).unwrap() {
        assert_eq!(
            (r.primary_version, r.next_at_ms),
            (2, Some(T0 + 2 * DAY)),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn command_line_and_metrics_show_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::start(dir.path(), &[]).await;
    let out = cli(
        &kms.db,
        &["key", "create", "acme/reports", "--rotate-every", "90d"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&kms.db, &["key", "set", "acme/default", "--rotate-every", "30s"]);
    assert!(!out.status.success(), "a period under a minute is refused");
    let out = cli(&kms.db, &["key", "schedule"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let reports: serde_json::Value =
        serde_json::from_str(text.lines().find(|l| l.contains("acme/reports")).unwrap()).unwrap();
    assert_eq!(reports["rotate_every_ms"], 90 * DAY);
    let next = reports["next_rotation_at_ms"].as_i64().unwrap();
    let metrics = kms.metrics().await;
    assert!(
        metrics.contains("keyseal_kms_key_next_rotation_timestamp_seconds{key_id=\"acme/reports\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("keyseal_kms_key_primary_version_age_seconds{key_id=\"acme/default\"}"));
    // an operator (or a test) acts at a given time: one rotation, then none
    let when = humantime_like(next);
    let out = cli(&kms.db, &["key", "rotate-due", "--now", &when]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\"key_id\":\"acme/reports\"") && text.contains("\"rotated_to\":2"),
        "{text}"
    );
    let again = cli(&kms.db, &["key", "rotate-due", "--now", &when]);
    assert!(again.stdout.is_empty(), "already rotated");
    let out = cli(&kms.db, &["key", "set", "acme/reports", "--rotate-every", "off"]);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("\"rotate_every_ms\":null")
    );
}

/// RFC 3339 of a Unix ms time (UTC), for `--now`.
fn humantime_like(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap());
    humantime::format_rfc3339_millis(t).to_string()
}
