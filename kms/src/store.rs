//! The embedded SQLite store: keys, key versions (root secrets encrypted under the master key),
//! service secrets, and the hash-chained audit log.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use zeroize::Zeroizing;

use crate::crypto::{self, CryptoError};
use crate::error::{ApiError, ErrorKind, Result};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Lifecycle state of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Usable for every operation.
    Enabled,
    /// Revoked: every use is refused until enabled again.
    Disabled,
    /// Scheduled for destruction at `destroy_at`; refused like disabled; cancelable.
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
            _ => return Err(ApiError::internal("unknown key state in store")),
        })
    }
    /// All states, for metrics.
    pub const ALL: [KeyState; 4] = [
        KeyState::Enabled,
        KeyState::Disabled,
        KeyState::DestroyPending,
        KeyState::Destroyed,
    ];
}

/// Public facts about a key version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionInfo {
    /// Version number, starting at 1.
    pub version: u32,
    /// Creation time, ms since epoch.
    pub created_at_ms: i64,
    /// `generated` or `imported`.
    pub origin: String,
    /// Whether the material is gone.
    pub destroyed: bool,
    /// The version's HPKE public key, SEC1 uncompressed, standard base64.
    pub public_key: String,
}

/// Public facts about a key.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInfo {
    /// `tenant/name`.
    pub key_id: String,
    /// Tenant (the part before `/`).
    pub tenant: String,
    /// Lifecycle state.
    pub state: &'static str,
    /// Newest version (the one used for new wraps).
    pub primary_version: u32,
    /// Creation time.
    pub created_at_ms: i64,
    /// When a scheduled destruction takes effect.
    pub destroy_at_ms: Option<i64>,
    /// All versions, oldest first.
    pub versions: Vec<VersionInfo>,
}

/// Key material loaded for one operation.
pub struct Loaded {
    /// Version number.
    pub version: u32,
    /// Derived material of that version.
    pub keys: crypto::VersionKeys,
}

/// One audit event before it is chained.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    /// Token subject (or `cli:<user>` for the command line, `-` when unauthenticated).
    pub subject: String,
    /// Tenant concerned.
    pub tenant: String,
    /// Key id concerned (may be empty).
    pub key_id: String,
    /// Key version concerned.
    pub key_version: Option<u32>,
    /// Operation name (`unwrap`, `key.rotate`, ...).
    pub operation: String,
    /// The caller's stated reason.
    pub reason: String,
    /// `ok` or the error name.
    pub outcome: String,
    /// Free-form detail (never key material).
    pub detail: String,
}

/// Result of `audit verify`.
#[derive(Debug)]
pub struct AuditReport {
    /// Number of rows checked.
    pub rows: u64,
    /// Hash of the newest row (hex), to anchor externally.
    pub head: String,
    /// First problem found, if any.
    pub problem: Option<String>,
}

/// The store. One connection guarded by a mutex; several processes may share the file
/// (WAL mode, busy timeout).
pub struct Store {
    conn: Mutex<Connection>,
    master: Zeroizing<[u8; 32]>,
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
    state_since INTEGER
);
CREATE TABLE IF NOT EXISTS key_versions (
    key_id TEXT NOT NULL REFERENCES keys(key_id),
    version INTEGER NOT NULL,
    root_enc BLOB,
    public_key BLOB NOT NULL,
    origin TEXT NOT NULL,
    created_at INTEGER NOT NULL,
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
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"#;

const MASTER_CHECK_AAD: &[u8] = b"keyseal-kms/v1 master-check";
const ISSUER_AAD: &[u8] = b"keyseal-kms/v1 local-issuer";
const IMPORT_AAD: &[u8] = b"keyseal-kms/v1 import-seed";

/// Where the master key file of a database lives by default.
pub fn default_master_key_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".master-key");
    PathBuf::from(p)
}

/// Load the master key: `KEYSEAL_KMS_MASTER_KEY` (base64 of 32 bytes), else the key file
/// (explicit or `<db>.master-key`). With `create`, a missing key file is created (mode 0600).
pub fn load_master_key(db: &Path, key_file: Option<&Path>, create: bool) -> Result<Zeroizing<[u8; 32]>> {
    if let Ok(v) = std::env::var("KEYSEAL_KMS_MASTER_KEY") {
        let bytes = Zeroizing::new(
            crypto::b64::dec(v.trim())
                .ok_or_else(|| ApiError::invalid("KEYSEAL_KMS_MASTER_KEY is not standard base64"))?,
        );
        return crypto::to_secret32(&bytes)
            .map_err(|_| ApiError::invalid("KEYSEAL_KMS_MASTER_KEY must decode to 32 bytes"));
    }
    let path = key_file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_master_key_path(db));
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let bytes =
                Zeroizing::new(crypto::b64::dec(s.trim()).ok_or_else(|| {
                    ApiError::invalid(format!("{} is not standard base64", path.display()))
                })?);
            crypto::to_secret32(&bytes)
                .map_err(|_| ApiError::invalid(format!("{} must decode to 32 bytes", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key = crypto::random_secret()?;
            write_secret_file(&path, &crypto::b64::enc(key.as_ref()))?;
            Ok(key)
        }
        Err(e) => Err(ApiError::invalid(format!(
            "no master key: set KEYSEAL_KMS_MASTER_KEY or create {} (`keyseal-kms init`): {e}",
            path.display()
        ))),
    }
}

fn write_secret_file(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| ApiError::internal(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(contents.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| ApiError::internal(format!("cannot write {}: {e}", path.display())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Split and validate a key id `tenant/name`.
pub fn parse_key_id(key_id: &str) -> Result<(&str, &str)> {
    let ok_part = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    };
    match key_id.split_once('/') {
        Some((t, n)) if ok_part(t) && ok_part(n) => Ok((t, n)),
        _ => Err(ApiError::invalid(
            "key_id must be `tenant/name`, each 1-64 of [A-Za-z0-9._-]",
        )),
    }
}

fn chain_hash(prev: &[u8], seq: i64, ts: i64, e: &AuditEvent) -> [u8; 32] {
    let version = e.key_version.map(i64::from).unwrap_or(-1);
    let fields: [&[u8]; 8] = [
        e.subject.as_bytes(),
        e.tenant.as_bytes(),
        e.key_id.as_bytes(),
        e.operation.as_bytes(),
        e.reason.as_bytes(),
        e.outcome.as_bytes(),
        e.detail.as_bytes(),
        b"",
    ];
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"keyseal-kms/v1 audit\0");
    buf.extend_from_slice(prev);
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&ts.to_be_bytes());
    buf.extend_from_slice(&version.to_be_bytes());
    for f in fields {
        buf.extend_from_slice(&(f.len() as u64).to_be_bytes());
        buf.extend_from_slice(f);
    }
    crypto::sha256(&[&buf])
}

impl Store {
    /// Open (and create) the database and check the master key against it.
    pub fn open(path: &Path, master: Zeroizing<[u8; 32]>) -> Result<Store> {
        let existed = path.exists();
        let conn = Connection::open(path)?;
        #[cfg(unix)]
        if !existed {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| ApiError::internal(format!("cannot restrict {}: {e}", path.display())))?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        // Databases made before `state_since` existed.
        let has_since: i64 = conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('keys') WHERE name='state_since'",
            [],
            |r| r.get(0),
        )?;
        if has_since == 0 {
            conn.execute_batch("ALTER TABLE keys ADD COLUMN state_since INTEGER")?;
        }
        let store = Store {
            conn: Mutex::new(conn),
            master,
        };
        store.check_master()?;
        Ok(store)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| ApiError::internal("store lock poisoned"))
    }

    fn check_master(&self) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let check: Option<Vec<u8>> = tx
            .query_row("SELECT v FROM meta WHERE k='master_check'", [], |r| r.get(0))
            .optional()?;
        match check {
            Some(c) => {
                crypto::open(&self.master, MASTER_CHECK_AAD, &c)
                    .map_err(|_| ApiError::invalid("the master key does not match this database"))?;
            }
            None => {
                let c = crypto::seal(&self.master, MASTER_CHECK_AAD, b"keyseal-kms")?;
                tx.execute("INSERT INTO meta(k, v) VALUES('master_check', ?1)", params![c])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Get a secret stored under the master key in `meta`, creating it if asked.
    fn meta_secret(&self, name: &str, aad: &[u8], create: bool) -> Result<Option<Zeroizing<[u8; 32]>>> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let v: Option<Vec<u8>> = tx
            .query_row("SELECT v FROM meta WHERE k=?1", params![name], |r| r.get(0))
            .optional()?;
        let out = match v {
            Some(sealed) => Some(
                crypto::open32(&self.master, aad, &sealed)
                    .map_err(|_| ApiError::internal(format!("stored {name} does not open")))?,
            ),
            None if create => {
                let s = crypto::random_secret()?;
                let sealed = crypto::seal(&self.master, aad, s.as_ref())?;
                tx.execute("INSERT INTO meta(k, v) VALUES(?1, ?2)", params![name, sealed])?;
                Some(s)
            }
            None => None,
        };
        tx.commit()?;
        Ok(out)
    }

    /// The local (dev) token issuer's signing scalar, if it exists (or created with `create`).
    pub fn local_issuer_secret(&self, create: bool) -> Result<Option<Zeroizing<[u8; 32]>>> {
        self.meta_secret("local_issuer_key", ISSUER_AAD, create)
    }

    /// Seed of the service's import key pair (created on first use).
    pub fn import_seed(&self) -> Result<Zeroizing<[u8; 32]>> {
        self.meta_secret("import_seed", IMPORT_AAD, true)?
            .ok_or_else(|| ApiError::internal("import key missing"))
    }

    fn insert_version(
        &self,
        tx: &rusqlite::Transaction<'_>,
        key_id: &str,
        version: u32,
        root: &[u8; 32],
        origin: &str,
        now: i64,
    ) -> Result<()> {
        let public = crypto::derive_public(root)?;
        let enc = crypto::seal(&self.master, &crypto::root_aad(key_id, version), root)?;
        tx.execute(
            "INSERT INTO key_versions(key_id, version, root_enc, public_key, origin, created_at)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
            params![key_id, version, enc, public, origin, now],
        )?;
        Ok(())
    }

    /// Create a key with version 1 (fresh material, or imported `root`).
    pub fn create_key(&self, key_id: &str, root: Option<&[u8; 32]>) -> Result<KeyInfo> {
        let (tenant, _) = parse_key_id(key_id)?;
        let fresh;
        let (root, origin) = match root {
            Some(r) => (r, "imported"),
            None => {
                fresh = crypto::random_secret()?;
                (&*fresh, "generated")
            }
        };
        let now = now_ms();
        {
            let mut conn = self.lock()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists: Option<String> = tx
                .query_row("SELECT state FROM keys WHERE key_id=?1", params![key_id], |r| {
                    r.get(0)
                })
                .optional()?;
            if exists.is_some() {
                return Err(ApiError::new(
                    ErrorKind::KeyExists,
                    format!("key {key_id} already exists"),
                ));
            }
            tx.execute(
                "INSERT INTO keys(key_id, tenant, state, created_at, updated_at, destroy_at, primary_version)
                 VALUES(?1, ?2, 'enabled', ?3, ?3, NULL, 1)",
                params![key_id, tenant, now],
            )?;
            self.insert_version(&tx, key_id, 1, root, origin, now)?;
            tx.commit()?;
        }
        self.show(key_id)
    }

    /// Add a new version (fresh or imported material); it becomes the primary.
    pub fn rotate(&self, key_id: &str, root: Option<&[u8; 32]>) -> Result<KeyInfo> {
        let fresh;
        let (root, origin) = match root {
            Some(r) => (r, "imported"),
            None => {
                fresh = crypto::random_secret()?;
                (&*fresh, "generated")
            }
        };
        let now = now_ms();
        {
            let mut conn = self.lock()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, u32)> = tx
                .query_row(
                    "SELECT state, primary_version FROM keys WHERE key_id=?1",
                    params![key_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (state, primary) = row.ok_or_else(|| not_found(key_id))?;
            match KeyState::parse(&state)? {
                KeyState::Destroyed => return Err(destroyed(key_id)),
                KeyState::DestroyPending => {
                    return Err(ApiError::new(
                        ErrorKind::KeyDisabled,
                        format!("key {key_id} is scheduled for destruction"),
                    ));
                }
                _ => {}
            }
            let version = primary
                .checked_add(1)
                .ok_or_else(|| ApiError::invalid("too many versions"))?;
            self.insert_version(&tx, key_id, version, root, origin, now)?;
            tx.execute(
                "UPDATE keys SET primary_version=?2, updated_at=?3 WHERE key_id=?1",
                params![key_id, version, now],
            )?;
            tx.commit()?;
        }
        self.show(key_id)
    }

    /// Change the state: `disable`, `enable`, `destroy` (with grace), `cancel-destroy`.
    pub fn set_state(&self, key_id: &str, op: StateOp) -> Result<KeyInfo> {
        let now = now_ms();
        {
            let mut conn = self.lock()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let state: Option<String> = tx
                .query_row("SELECT state FROM keys WHERE key_id=?1", params![key_id], |r| {
                    r.get(0)
                })
                .optional()?;
            let state = KeyState::parse(&state.ok_or_else(|| not_found(key_id))?)?;
            if state == KeyState::Destroyed {
                return Err(destroyed(key_id));
            }
            let (new_state, destroy_at) = match (op, state) {
                (StateOp::Disable, KeyState::Enabled | KeyState::Disabled) => (KeyState::Disabled, None),
                (StateOp::Enable, KeyState::Enabled | KeyState::Disabled) => (KeyState::Enabled, None),
                (StateOp::Destroy { grace_ms }, KeyState::Enabled | KeyState::Disabled) => {
                    (KeyState::DestroyPending, Some(now.saturating_add(grace_ms)))
                }
                (StateOp::CancelDestroy, KeyState::DestroyPending) => (KeyState::Disabled, None),
                (_, s) => {
                    return Err(ApiError::invalid(format!(
                        "operation not allowed while the key is {}",
                        s.as_str()
                    )));
                }
            };
            tx.execute(
                "UPDATE keys SET state=?2, destroy_at=?3, updated_at=?4,
                 state_since = CASE
                     WHEN (state IN ('disabled', 'destroy_pending'))
                        = (?2 IN ('disabled', 'destroy_pending')) THEN state_since
                     ELSE ?4 END
                 WHERE key_id=?1",
                params![key_id, new_state.as_str(), destroy_at, now],
            )?;
            tx.commit()?;
        }
        self.show(key_id)
    }

    /// Erase material of keys whose destruction time has passed. Returns the keys destroyed.
    pub fn sweep_destroyed(&self) -> Result<Vec<String>> {
        let now = now_ms();
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ids: Vec<String> = {
            let mut stmt =
                tx.prepare("SELECT key_id FROM keys WHERE state='destroy_pending' AND destroy_at <= ?1")?;
            let rows = stmt.query_map(params![now], |r| r.get(0))?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        for id in &ids {
            tx.execute(
                "UPDATE key_versions SET root_enc=NULL WHERE key_id=?1",
                params![id],
            )?;
            tx.execute(
                "UPDATE keys SET state='destroyed', updated_at=?2 WHERE key_id=?1",
                params![id, now],
            )?;
            let tenant = id.split('/').next().unwrap_or_default().to_string();
            Self::append_locked(
                &tx,
                &AuditEvent {
                    subject: "system".into(),
                    tenant,
                    key_id: id.clone(),
                    operation: "key.destroyed".into(),
                    reason: "grace period elapsed".into(),
                    outcome: "ok".into(),
                    ..AuditEvent::default()
                },
            )?;
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Public description of a key.
    pub fn show(&self, key_id: &str) -> Result<KeyInfo> {
        let conn = self.lock()?;
        Self::show_locked(&conn, key_id)
    }

    fn show_locked(conn: &Connection, key_id: &str) -> Result<KeyInfo> {
        let row: Option<(String, String, i64, Option<i64>, u32)> = conn
            .query_row(
                "SELECT tenant, state, created_at, destroy_at, primary_version FROM keys WHERE key_id=?1",
                params![key_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let (tenant, state, created, destroy_at, primary) = row.ok_or_else(|| not_found(key_id))?;
        let mut stmt = conn.prepare_cached(
            "SELECT version, created_at, origin, root_enc IS NULL, public_key FROM key_versions
             WHERE key_id=?1 ORDER BY version",
        )?;
        let versions = stmt
            .query_map(params![key_id], |r| {
                let pk: Vec<u8> = r.get(4)?;
                Ok(VersionInfo {
                    version: r.get(0)?,
                    created_at_ms: r.get(1)?,
                    origin: r.get(2)?,
                    destroyed: r.get(3)?,
                    public_key: crypto::b64::enc(&pk),
                })
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(KeyInfo {
            key_id: key_id.to_string(),
            tenant,
            state: KeyState::parse(&state)?.as_str(),
            primary_version: primary,
            created_at_ms: created,
            destroy_at_ms: destroy_at,
            versions,
        })
    }

    /// All keys (optionally of one tenant).
    pub fn list(&self, tenant: Option<&str>) -> Result<Vec<KeyInfo>> {
        let conn = self.lock()?;
        let ids: Vec<String> = {
            let mut stmt =
                conn.prepare("SELECT key_id FROM keys WHERE (?1 IS NULL OR tenant=?1) ORDER BY key_id")?;
            stmt.query_map(params![tenant], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?
        };
        ids.iter().map(|id| Self::show_locked(&conn, id)).collect()
    }

    /// Number of keys per state (for metrics).
    pub fn state_counts(&self) -> Result<Vec<(KeyState, i64)>> {
        let conn = self.lock()?;
        let mut out = Vec::new();
        for s in KeyState::ALL {
            let n: i64 = conn.query_row(
                "SELECT COUNT(*) FROM keys WHERE state=?1",
                params![s.as_str()],
                |r| r.get(0),
            )?;
            out.push((s, n));
        }
        Ok(out)
    }

    /// Load a version for use. `version: None` means the primary version. Refuses keys that are
    /// not enabled, versions that are destroyed, and keys whose grace has elapsed.
    pub fn load(&self, key_id: &str, version: Option<u32>) -> Result<Loaded> {
        let (state, destroy_at, primary, root_enc, since) = {
            let conn = self.lock()?;
            let row: Option<(String, Option<i64>, u32, Option<i64>)> = conn
                .prepare_cached(
                    "SELECT state, destroy_at, primary_version, state_since FROM keys WHERE key_id=?1",
                )?
                .query_row(params![key_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            let (state, destroy_at, primary, since) = row.ok_or_else(|| not_found(key_id))?;
            let v = version.unwrap_or(primary);
            let root: Option<Option<Vec<u8>>> = conn
                .prepare_cached("SELECT root_enc FROM key_versions WHERE key_id=?1 AND version=?2")?
                .query_row(params![key_id, v], |r| r.get(0))
                .optional()?;
            (state, destroy_at, v, root, since)
        };
        let state = KeyState::parse(&state)?;
        let grace_over = destroy_at.is_some_and(|t| t <= now_ms());
        match state {
            KeyState::Enabled => {}
            KeyState::Disabled => {
                let mut e = ApiError::new(ErrorKind::KeyDisabled, format!("key {key_id} is disabled"));
                e.disabled_at_ms = since;
                return Err(e);
            }
            KeyState::DestroyPending if !grace_over => {
                let mut e = ApiError::new(
                    ErrorKind::KeyDisabled,
                    format!("key {key_id} is scheduled for destruction"),
                );
                e.disabled_at_ms = since;
                return Err(e);
            }
            KeyState::DestroyPending | KeyState::Destroyed => return Err(destroyed(key_id)),
        }
        let (version, requested) = (primary, version);
        let root_enc = match root_enc {
            None if requested.is_some() => {
                return Err(ApiError::new(
                    ErrorKind::InvalidCiphertext,
                    format!("wrapped key names version {version}, which key {key_id} does not have"),
                ));
            }
            None => {
                return Err(ApiError::internal(format!(
                    "key {key_id} has no primary version {version}"
                )));
            }
            Some(None) => {
                return Err(ApiError::new(
                    ErrorKind::KeyDestroyed,
                    format!("version {version} of key {key_id} was destroyed"),
                ));
            }
            Some(Some(r)) => r,
        };
        let root = crypto::open32(&self.master, &crypto::root_aad(key_id, version), &root_enc).map_err(
            |e| match e {
                CryptoError::Rng => ApiError::internal("rng"),
                _ => ApiError::internal("stored key material does not open under the master key"),
            },
        )?;
        Ok(Loaded {
            version,
            keys: crypto::derive_version_keys(&root)?,
        })
    }

    fn append_locked(conn: &Connection, e: &AuditEvent) -> Result<()> {
        let last: Option<(i64, Vec<u8>)> = conn
            .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (seq, prev) = match last {
            Some((s, h)) => (s + 1, h),
            None => (1, vec![0u8; 32]),
        };
        let ts = now_ms();
        let hash = chain_hash(&prev, seq, ts, e);
        conn.prepare_cached(
            "INSERT INTO audit(seq, ts_ms, subject, tenant, key_id, key_version, operation, reason,
             outcome, detail, prev_hash, hash) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
        )?
        .execute(params![
            seq,
            ts,
            e.subject,
            e.tenant,
            e.key_id,
            e.key_version,
            e.operation,
            e.reason,
            e.outcome,
            e.detail,
            prev,
            hash.to_vec()
        ])?;
        Ok(())
    }

    /// Append one event to the audit log (its own transaction).
    pub fn audit(&self, e: &AuditEvent) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::append_locked(&tx, e)?;
        tx.commit()?;
        Ok(())
    }

    /// Appends many events in one transaction (a `/rewrap-batch`): all are written or none.
    pub fn audit_many(&self, events: &[&AuditEvent]) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for e in events {
            Self::append_locked(&tx, e)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Check the whole chain.
    pub fn audit_verify(&self) -> Result<AuditReport> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(
            "SELECT seq, ts_ms, subject, tenant, key_id, key_version, operation, reason, outcome,
             detail, prev_hash, hash FROM audit ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut prev = vec![0u8; 32];
        let mut expected_seq = 1i64;
        let mut n = 0u64;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let ts: i64 = r.get(1)?;
            let e = AuditEvent {
                subject: r.get(2)?,
                tenant: r.get(3)?,
                key_id: r.get(4)?,
                key_version: r.get(5)?,
                operation: r.get(6)?,
                reason: r.get(7)?,
                outcome: r.get(8)?,
                detail: r.get(9)?,
            };
            let stored_prev: Vec<u8> = r.get(10)?;
            let stored_hash: Vec<u8> = r.get(11)?;
            let problem = if seq != expected_seq {
                Some(format!("row {expected_seq} is missing (next row is {seq})"))
            } else if stored_prev != prev {
                Some(format!("row {seq}: prev_hash does not match row {}", seq - 1))
            } else if chain_hash(&prev, seq, ts, &e).as_slice() != stored_hash.as_slice() {
                Some(format!("row {seq}: contents do not match its hash (edited)"))
            } else {
                None
            };
            if problem.is_some() {
                return Ok(AuditReport {
                    rows: n,
                    head: hex(&prev),
                    problem,
                });
            }
            prev = stored_hash;
            expected_seq += 1;
            n += 1;
        }
        Ok(AuditReport {
            rows: n,
            head: hex(&prev),
            problem: None,
        })
    }
}

/// Verify the audit chain of a database file without the master key.
pub fn verify_file(path: &Path) -> Result<AuditReport> {
    if !path.exists() {
        return Err(ApiError::invalid(format!("{} does not exist", path.display())));
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let store = Store {
        conn: Mutex::new(conn),
        master: Zeroizing::new([0u8; 32]),
    };
    store.audit_verify()
}

/// A state change.
#[derive(Debug, Clone, Copy)]
pub enum StateOp {
    /// Revoke.
    Disable,
    /// Re-enable a disabled key.
    Enable,
    /// Schedule destruction after a grace period.
    Destroy {
        /// Grace period in milliseconds.
        grace_ms: i64,
    },
    /// Cancel a scheduled destruction (the key comes back disabled).
    CancelDestroy,
}

fn not_found(key_id: &str) -> ApiError {
    ApiError::new(ErrorKind::KeyNotFound, format!("key {key_id} not found"))
}

fn destroyed(key_id: &str) -> ApiError {
    ApiError::new(ErrorKind::KeyDestroyed, format!("key {key_id} was destroyed"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn store(dir: &Path) -> Store {
        Store::open(&dir.join("t.db"), Zeroizing::new([3u8; 32])).unwrap()
    }

    #[test]
    fn key_ids() {
        assert!(parse_key_id("acme/default").is_ok());
        for bad in ["acme", "/x", "x/", "a/b/c", "a b/c", "ä/b", ""] {
            assert!(parse_key_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lifecycle_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.create_key("t/k", None).unwrap();
        assert_eq!(s.create_key("t/k", None).unwrap_err().kind, ErrorKind::KeyExists);
        let v1 = s.load("t/k", None).unwrap();
        assert_eq!(v1.version, 1);
        s.rotate("t/k", None).unwrap();
        assert_eq!(s.load("t/k", None).unwrap().version, 2);
        assert_eq!(*s.load("t/k", Some(1)).unwrap().keys.kek, *v1.keys.kek);
        assert_eq!(
            s.load("t/k", Some(9)).err().map(|e| e.kind),
            Some(ErrorKind::InvalidCiphertext)
        );
        s.set_state("t/k", StateOp::Disable).unwrap();
        assert_eq!(
            s.load("t/k", None).err().map(|e| e.kind),
            Some(ErrorKind::KeyDisabled)
        );
        s.set_state("t/k", StateOp::Enable).unwrap();
        s.set_state("t/k", StateOp::Destroy { grace_ms: 0 }).unwrap();
        assert_eq!(
            s.load("t/k", None).err().map(|e| e.kind),
            Some(ErrorKind::KeyDestroyed)
        );
        assert_eq!(s.sweep_destroyed().unwrap(), vec!["t/k".to_string()]);
        assert!(s.show("t/k").unwrap().versions.iter().all(|v| v.destroyed));
        assert_eq!(
            s.set_state("t/k", StateOp::CancelDestroy).err().map(|e| e.kind),
            Some(ErrorKind::KeyDestroyed)
        );
    }

    #[test]
    fn wrong_master_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(store(dir.path()));
        let e = Store::open(&dir.path().join("t.db"), Zeroizing::new([4u8; 32]));
        assert!(e.is_err());
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
        // Same fields, different order of values across fields, give different hashes.
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
}
