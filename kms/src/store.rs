//! The store: keys and their versions (`keys.rs`), the hash-chained audit log (`audit.rs`) and
//! the secrets sealed under the master key (`master_key.rs`), in an embedded SQLite file (WAL
//! mode, busy timeout; the default) or a PostgreSQL database shared by several instances
//! (`--db postgres://...`). Every statement is written once for both engines (`db.rs`); key state
//! is read from the database on every request, never cached, so a change made by one instance is
//! seen by all from their next request (docs/DESIGN.md "PostgreSQL store").
//!
//! The store answers [`StoreError`]s; the service maps them to protocol errors.

pub mod audit;
pub mod db;
mod error;
mod keys;
mod master_key;
mod reseal;
mod schedule;
pub mod snapshot;
#[cfg(test)]
mod tests;
mod trusted_issuers;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

pub use audit::{AuditEvent, AuditReport, FieldCaps, verify_file};
pub use db::DbLocation;
use db::{Db, PgConn};
pub use error::StoreError;
pub use keys::{KeyOrigin, Loaded, StateOp};
pub use master_key::{default_master_key_path, load_master_key, open_master_key};
pub use schedule::ScheduleRow;
pub use snapshot::{BackupStats, Snapshot};

use crate::master::MasterKey;

/// Result alias of the store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Most wraps one key version makes with its KEK (AES-256-GCM with random 96-bit nonces, §7.2).
/// NIST SP 800-38D §8.3 bounds such a key at 2^32 encryptions; 2^30 keeps the chance of a
/// repeated nonce below 2^-37. A generated key then rotates by itself (a new primary version);
/// an external key refuses new wraps until a version is imported (docs/PROTOCOL.md §8.4).
pub const MAX_WRAPS_PER_VERSION: i64 = 1 << 30;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Lifecycle state of a key (docs/PROTOCOL.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Usable for every operation.
    Enabled,
    /// Revoked: every use is refused until enabled again.
    Disabled,
    /// Scheduled for destruction at `destroy_at`; refused like disabled; cancelable until then.
    DestroyPending,
    /// Material erased; refused forever.
    Destroyed,
}

impl KeyState {
    /// Name used in the store, the API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "enabled",
            KeyState::Disabled => "disabled",
            KeyState::DestroyPending => "destroy_pending",
            KeyState::Destroyed => "destroyed",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "enabled" => KeyState::Enabled,
            "disabled" => KeyState::Disabled,
            "destroy_pending" => KeyState::DestroyPending,
            "destroyed" => KeyState::Destroyed,
            _ => return Err(StoreError::Corrupt(format!("unknown key state {s:?}"))),
        })
    }

    /// The state in force at `now_ms`: a pending destruction whose time has come is a destruction,
    /// whether or not the sweeper has erased the material yet.
    fn at(self, destroy_at: Option<i64>, now_ms: i64) -> Self {
        match self {
            KeyState::DestroyPending if destroy_at.is_some_and(|t| t <= now_ms) => KeyState::Destroyed,
            s => s,
        }
    }

    /// All states, for metrics.
    pub const ALL: [KeyState; 4] = [
        KeyState::Enabled,
        KeyState::Disabled,
        KeyState::DestroyPending,
        KeyState::Destroyed,
    ];
}

/// The store. One connection guarded by a mutex; several processes may share the database.
pub struct Store {
    conn: Mutex<Db>,
    master: MasterKey,
    /// Set when material was erased but the WAL could not be truncated yet (old page images of
    /// the erased rows may still be in it); the next sweep retries.
    scrub_pending: AtomicBool,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    destroy_at INTEGER,
    primary_version INTEGER NOT NULL,
    state_since INTEGER,
    origin TEXT NOT NULL DEFAULT 'generated'
);
CREATE TABLE IF NOT EXISTS key_versions (
    key_id TEXT NOT NULL REFERENCES keys(key_id),
    version INTEGER NOT NULL,
    root_enc BLOB,
    public_key BLOB NOT NULL,
    origin TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    wraps INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, version)
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    subject TEXT NOT NULL,
    tenant TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_version INTEGER,
    operation TEXT NOT NULL,
    reason TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
"#;

/// The append-only rule of the audit table on SQLite.
const SQLITE_TRIGGERS: &str = r#"
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"#;

/// The append-only rule of the audit table on PostgreSQL: a trigger function that raises on
/// every UPDATE, DELETE and TRUNCATE.
const PG_TRIGGERS: &str = r#"
CREATE OR REPLACE FUNCTION keyseal_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN RAISE EXCEPTION 'audit log is append-only'; END $f$;
DO $d$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_no_update_delete') THEN
    CREATE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON audit
      FOR EACH ROW EXECUTE FUNCTION keyseal_audit_append_only();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_no_truncate') THEN
    CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
      FOR EACH STATEMENT EXECUTE FUNCTION keyseal_audit_append_only();
  END IF;
END $d$;
"#;

/// [`SCHEMA`] in PostgreSQL's types (BLOB → BYTEA, INTEGER → BIGINT), plus the columns that
/// SQLite databases get from [`migrate`].
fn pg_schema() -> String {
    let s = SCHEMA.replace("BLOB", "BYTEA").replace("INTEGER", "BIGINT");
    let s = s.replace(
        "    origin TEXT NOT NULL DEFAULT 'generated'\n);",
        "    origin TEXT NOT NULL DEFAULT 'generated',\n    rotate_every_ms BIGINT,\n    next_rotation_at BIGINT\n);",
    );
    format!("{s}{PG_TRIGGERS}")
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name=?2",
        rusqlite::params![table, column],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Brings databases made by earlier versions up to the current schema.
fn migrate(conn: &Connection) -> Result<()> {
    if !has_column(conn, "keys", "state_since")? {
        conn.execute_batch("ALTER TABLE keys ADD COLUMN state_since INTEGER")?;
    }
    if !has_column(conn, "key_versions", "wraps")? {
        // Wraps made before counting began are not known: counting starts at 0.
        conn.execute_batch("ALTER TABLE key_versions ADD COLUMN wraps INTEGER NOT NULL DEFAULT 0")?;
    }
    if !has_column(conn, "keys", "rotate_every_ms")? {
        // rotation on a schedule (§8.5): no period until one is set
        conn.execute_batch(
            "ALTER TABLE keys ADD COLUMN rotate_every_ms INTEGER;
             ALTER TABLE keys ADD COLUMN next_rotation_at INTEGER;",
        )?;
    }
    if !has_column(conn, "keys", "origin")? {
        // A key whose every version was imported was created by an import: it is external.
        conn.execute_batch(
            "ALTER TABLE keys ADD COLUMN origin TEXT NOT NULL DEFAULT 'generated';
             UPDATE keys SET origin='external' WHERE NOT EXISTS (
                 SELECT 1 FROM key_versions v WHERE v.key_id=keys.key_id AND v.origin!='imported');",
        )?;
    }
    Ok(())
}

/// Opens a database without checking a master key (audit verification and export need none).
pub(crate) fn open_db(db: &Path) -> Result<Db> {
    match DbLocation::parse(db) {
        DbLocation::File(path) => {
            if !path.exists() {
                return Err(StoreError::Unavailable(format!(
                    "{} does not exist",
                    path.display()
                )));
            }
            let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            Ok(Db::Sqlite(conn))
        }
        DbLocation::Postgres(url) => Ok(Db::Pg(PgConn::open(&url)?)),
    }
}

impl Store {
    /// Opens (and creates) the database — an SQLite file, or PostgreSQL when `path` is a
    /// `postgres://` URL ([`DbLocation`]) — and checks the master key against it.
    pub fn open(path: &Path, master: impl Into<MasterKey>) -> Result<Store> {
        let master = master.into();
        let db = match DbLocation::parse(path) {
            DbLocation::File(path) => Db::Sqlite(Self::open_sqlite(&path)?),
            DbLocation::Postgres(url) => {
                let db = Db::Pg(PgConn::open(&url)?);
                // Instances starting together create the schema one at a time.
                let tx = db.begin_write()?;
                tx.batch(&pg_schema())?;
                tx.commit()?;
                db
            }
        };
        let store = Store {
            conn: Mutex::new(db),
            master,
            scrub_pending: AtomicBool::new(false),
        };
        store.check_master()?;
        Ok(store)
    }

    fn open_sqlite(path: &Path) -> Result<Connection> {
        let existed = path.exists();
        let conn = Connection::open(path)?;
        #[cfg(unix)]
        if !existed {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| StoreError::Unavailable(format!("cannot restrict {}: {e}", path.display())))?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Erased material (destroyed roots) is overwritten with zeros, not left in free space.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(SQLITE_TRIGGERS)?;
        migrate(&conn)?;
        Ok(conn)
    }

    /// A store over an open database with no master key (audit verification).
    pub(crate) fn without_master(db: Db) -> Store {
        Store {
            conn: Mutex::new(db),
            master: MasterKey::Absent,
            scrub_pending: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Db>> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Corrupt("store lock poisoned".into()))
    }
}
