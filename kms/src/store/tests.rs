//! Tests of the store: schema and migrations, keys and their states, wrap counting, erasure,
//! and the audit chain.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

use rusqlite::{Connection, params};
use zeroize::Zeroizing;

use super::audit::chain_hash;
use super::*;
/// The SQLite connection of a store opened on a file (these tests look inside it).
trait Sq {
    fn sq(&self) -> &Connection;
}

impl Sq for std::sync::MutexGuard<'_, db::Db> {
    fn sq(&self) -> &Connection {
        match &**self {
            db::Db::Sqlite(c) => c,
            db::Db::Pg(_) => panic!("not an SQLite store"),
        }
    }
}

fn store(dir: &Path) -> Store {
    Store::open(&dir.join("t.db"), Zeroizing::new([3u8; 32])).unwrap()
}

#[test]
fn wrong_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(store(dir.path()));
    let e = Store::open(&dir.path().join("t.db"), Zeroizing::new([4u8; 32]));
    assert!(matches!(e, Err(StoreError::MasterKey(_))));
}

#[test]
fn old_databases_are_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE keys (key_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, state TEXT NOT NULL,
                 created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, destroy_at INTEGER,
                 primary_version INTEGER NOT NULL);
             CREATE TABLE key_versions (key_id TEXT NOT NULL, version INTEGER NOT NULL, root_enc BLOB,
                 public_key BLOB NOT NULL, origin TEXT NOT NULL, created_at INTEGER NOT NULL,
                 PRIMARY KEY (key_id, version));
             INSERT INTO keys VALUES ('t/gen', 't', 'enabled', 0, 0, NULL, 2), ('t/byok', 't', 'enabled', 0, 0, NULL, 1);
             INSERT INTO key_versions VALUES ('t/gen', 1, NULL, x'04', 'generated', 0),
                 ('t/gen', 2, NULL, x'04', 'imported', 0), ('t/byok', 1, NULL, x'04', 'imported', 0);",
        )
        .unwrap();
    }
    drop(Store::open(&path, Zeroizing::new([3u8; 32])).unwrap());
    let conn = Connection::open(&path).unwrap();
    let origin = |id: &str| -> String {
        conn.query_row("SELECT origin FROM keys WHERE key_id=?1", [id], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(origin("t/gen"), "generated");
    assert_eq!(origin("t/byok"), "external");
    let wraps: i64 = conn
        .query_row("SELECT SUM(wraps) FROM key_versions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(wraps, 0);
}

fn err<T>(r: Result<T>) -> StoreError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn lifecycle_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_key("t/k").unwrap();
    assert!(matches!(err(s.create_key("t/k")), StoreError::Exists { .. }));
    let v1 = s.load("t/k", None).unwrap();
    assert_eq!(v1.version, 1);
    s.rotate("t/k").unwrap();
    assert_eq!(s.load("t/k", None).unwrap().version, 2);
    assert_eq!(*s.load("t/k", Some(1)).unwrap().keys.kek, *v1.keys.kek);
    assert!(matches!(
        err(s.load("t/k", Some(9))),
        StoreError::NoSuchVersion { version: 9, .. }
    ));
    s.set_state("t/k", StateOp::Disable).unwrap();
    assert!(matches!(err(s.load("t/k", None)), StoreError::Unusable { .. }));
    s.set_state("t/k", StateOp::Enable).unwrap();
    s.set_state("t/k", StateOp::Destroy { grace_ms: 0 }).unwrap();
    assert!(matches!(err(s.load("t/k", None)), StoreError::Destroyed { .. }));
    assert_eq!(s.sweep_destroyed().unwrap(), vec!["t/k".to_string()]);
    assert!(s.show("t/k").unwrap().versions.iter().all(|v| v.destroyed));
    assert!(matches!(
        err(s.set_state("t/k", StateOp::CancelDestroy)),
        StoreError::Destroyed { .. }
    ));
}

#[test]
fn cancel_destroy_after_its_time_is_refused_before_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_key("t/k").unwrap();
    s.set_state("t/k", StateOp::Destroy { grace_ms: 0 }).unwrap();
    // No sweep has run: the row still says destroy_pending, but its time has come.
    assert_eq!(s.show("t/k").unwrap().state, "destroy_pending");
    assert!(matches!(
        err(s.set_state("t/k", StateOp::CancelDestroy)),
        StoreError::Destroyed { .. }
    ));
    assert!(matches!(
        err(s.set_state("t/k", StateOp::Enable)),
        StoreError::Destroyed { .. }
    ));
    assert!(matches!(err(s.rotate("t/k")), StoreError::Destroyed { .. }));
    // Within the grace, it is cancelable.
    s.create_key("t/j").unwrap();
    s.set_state("t/j", StateOp::Destroy { grace_ms: 60_000 }).unwrap();
    assert_eq!(
        s.set_state("t/j", StateOp::CancelDestroy).unwrap().state,
        "disabled"
    );
}

#[test]
fn import_only_into_external_keys() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_key("t/gen").unwrap();
    assert!(matches!(
        err(s.import_version("t/gen", &[7u8; 32])),
        StoreError::NotExternal { .. }
    ));
    assert_eq!(s.show("t/gen").unwrap().versions.len(), 1, "nothing was added");
    let info = s.import_version("t/byok", &[7u8; 32]).unwrap();
    assert_eq!(info.versions[0].origin, "imported");
    let info = s.import_version("t/byok", &[8u8; 32]).unwrap();
    assert_eq!(info.primary_version, 2);
    assert!(info.versions.iter().all(|v| v.origin == "imported"));
    assert!(matches!(err(s.rotate("t/byok")), StoreError::External { .. }));
    assert_eq!(s.origin("t/byok").unwrap(), KeyOrigin::External);
}

#[test]
fn a_batch_reserves_its_wraps_at_once_and_never_passes_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_key("t/gen").unwrap();
    let wraps = |v: u32| -> i64 {
        s.lock()
            .unwrap()
            .sq()
            .query_row(
                "SELECT wraps FROM key_versions WHERE key_id='t/gen' AND version=?1",
                params![v],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(s.reserve_wraps("t/gen", 100).unwrap().version, 1);
    assert_eq!(wraps(1), 100, "one transaction counts the whole batch");
    s.lock()
        .unwrap()
        .sq()
        .execute(
            "UPDATE key_versions SET wraps=?1 WHERE key_id='t/gen'",
            params![MAX_WRAPS_PER_VERSION - 5],
        )
        .unwrap();
    assert_eq!(
        s.reserve_wraps("t/gen", 10).unwrap().version,
        2,
        "10 more would pass the limit: the batch goes to a new version"
    );
    assert_eq!(wraps(1), MAX_WRAPS_PER_VERSION - 5);
    assert_eq!(wraps(2), 10);
}

#[test]
fn wraps_are_counted_and_the_limit_rotates_or_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_key("t/gen").unwrap();
    s.import_version("t/byok", &[7u8; 32]).unwrap();
    let wraps = |id: &str, v: u32| -> i64 {
        s.lock()
            .unwrap()
            .sq()
            .query_row(
                "SELECT wraps FROM key_versions WHERE key_id=?1 AND version=?2",
                params![id, v],
                |r| r.get(0),
            )
            .unwrap()
    };
    for _ in 0..3 {
        assert_eq!(s.reserve_wrap("t/gen").unwrap().version, 1);
    }
    assert_eq!(wraps("t/gen", 1), 3);
    assert_eq!(s.load("t/gen", None).unwrap().version, 1);
    assert_eq!(wraps("t/gen", 1), 3, "opening does not count");
    let near = MAX_WRAPS_PER_VERSION - 1;
    for id in ["t/gen", "t/byok"] {
        s.lock()
            .unwrap()
            .sq()
            .execute(
                "UPDATE key_versions SET wraps=?2 WHERE key_id=?1",
                params![id, near],
            )
            .unwrap();
    }
    assert_eq!(
        s.reserve_wrap("t/gen").unwrap().version,
        1,
        "the last wrap of version 1"
    );
    assert_eq!(
        s.reserve_wrap("t/gen").unwrap().version,
        2,
        "rotated at the limit"
    );
    assert_eq!(wraps("t/gen", 1), MAX_WRAPS_PER_VERSION);
    assert_eq!(wraps("t/gen", 2), 1);
    assert_eq!(s.show("t/gen").unwrap().versions[1].origin, "generated");
    assert_eq!(s.reserve_wrap("t/byok").unwrap().version, 1);
    assert!(matches!(
        err(s.reserve_wrap("t/byok")),
        StoreError::WrapLimit { version: 1, .. }
    ));
    assert_eq!(
        wraps("t/byok", 1),
        MAX_WRAPS_PER_VERSION,
        "a refused wrap is not counted"
    );
    let rotated: i64 = s
        .lock()
        .unwrap()
        .sq()
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE operation='key.rotate' AND subject='system'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rotated, 1);
    assert!(s.audit_verify().unwrap().problem.is_none());
}

#[test]
fn destroyed_roots_leave_no_trace_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_key("t/k").unwrap();
    s.rotate("t/k").unwrap();
    let sealed: Vec<Vec<u8>> = {
        let conn = s.lock().unwrap();
        let mut stmt = conn
            .sq()
            .prepare("SELECT root_enc FROM key_versions WHERE key_id='t/k'")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap()
    };
    assert_eq!(sealed.len(), 2);
    // Make the roots reach the database file itself, not only the write-ahead log.
    s.lock()
        .unwrap()
        .sq()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    s.set_state("t/k", StateOp::Destroy { grace_ms: 0 }).unwrap();
    assert_eq!(s.sweep_destroyed().unwrap(), vec!["t/k".to_string()]);
    let path = dir.path().join("t.db");
    let mut bytes = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("t.db-wal")) {
        bytes.extend(wal);
    }
    for root in &sealed {
        assert!(
            !bytes.windows(root.len()).any(|w| w == root.as_slice()),
            "an erased root is still in the database files"
        );
    }
}

#[test]
fn audit_chain_links_rows() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    for i in 0..3 {
        s.audit(&AuditEvent {
            subject: format!("s{i}"),
            operation: "unwrap".into(),
            outcome: "ok".into(),
            ..AuditEvent::default()
        })
        .unwrap();
    }
    let r = s.audit_verify().unwrap();
    assert_eq!(r.rows, 3);
    assert!(r.problem.is_none());
    // Same bytes split differently across fields give different hashes.
    let a = AuditEvent {
        subject: "ab".into(),
        tenant: "".into(),
        ..AuditEvent::default()
    };
    let b = AuditEvent {
        subject: "a".into(),
        tenant: "b".into(),
        ..AuditEvent::default()
    };
    assert_ne!(chain_hash(&[0; 32], 1, 0, &a), chain_hash(&[0; 32], 1, 0, &b));
}

#[test]
fn every_field_is_capped_at_a_char_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let huge = "é".repeat(40_000);
    s.audit(&AuditEvent {
        subject: huge.clone(),
        tenant: huge.clone(),
        key_id: huge.clone(),
        operation: huge.clone(),
        reason: huge.clone(),
        outcome: huge.clone(),
        detail: huge,
        key_version: None,
    })
    .unwrap();
    let conn = s.lock().unwrap();
    let lens: Vec<i64> = conn
        .sq()
        .query_row(
            "SELECT length(CAST(subject AS BLOB)), length(CAST(tenant AS BLOB)), length(CAST(key_id AS BLOB)),
             length(CAST(operation AS BLOB)), length(CAST(reason AS BLOB)), length(CAST(outcome AS BLOB)),
             length(CAST(detail AS BLOB)) FROM audit",
            [],
            |r| (0..7).map(|i| r.get(i)).collect(),
        )
        .unwrap();
    drop(conn);
    // Each cap, rounded down to the 2-byte character boundary.
    let want = [
        FieldCaps::SUBJECT,
        FieldCaps::TENANT,
        FieldCaps::KEY_ID - 1,
        FieldCaps::OPERATION,
        FieldCaps::REASON,
        FieldCaps::OUTCOME,
        FieldCaps::DETAIL,
    ];
    assert_eq!(lens, want.map(|w| w as i64).to_vec());
    assert!(s.audit_verify().unwrap().problem.is_none());
}
