//! Keys and key versions (docs/PROTOCOL.md §7.1, §8): creation, import, rotation, state changes,
//! destruction, and loading one version's material for an operation. Wraps are counted per
//! version ([`MAX_WRAPS_PER_VERSION`]).

use keyseal_protocol::Bytes;
use keyseal_protocol::admin::{KeyInfo, VersionInfo};
use zeroize::Zeroizing;

use super::audit::{self, AuditEvent};
use super::db::{Db, params};
use super::{KeyState, MAX_WRAPS_PER_VERSION, Result, Store, StoreError, now_ms};
use crate::crypto::{self, CryptoError};

/// Where a key's material comes from, fixed when the key is created (§8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The service generates every version (`create`, `rotate`, rotation at the wrap limit).
    Generated,
    /// Every version is customer material brought with `import` (BYOK); the key is created by its
    /// first import and never holds generated material.
    External,
}

impl KeyOrigin {
    /// Name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generated => "generated",
            Self::External => "external",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "generated" => Ok(Self::Generated),
            "external" => Ok(Self::External),
            _ => Err(StoreError::Corrupt(format!("unknown key origin {s:?}"))),
        }
    }
}

/// Origin of a version in `KeyInfo.versions` (§8.1).
pub(super) const VERSION_GENERATED: &str = "generated";
const VERSION_IMPORTED: &str = "imported";

/// Key material loaded for one operation.
pub struct Loaded {
    /// Version number.
    pub version: u32,
    /// Derived material of that version.
    pub keys: crypto::VersionKeys,
}

/// A state change (§8).
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
    /// Cancel a scheduled destruction before its time (the key comes back disabled).
    CancelDestroy,
}

impl StateOp {
    fn name(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::Destroy { .. } => "destroy",
            Self::CancelDestroy => "cancel-destroy",
        }
    }
}

/// The `keys` row of one key.
pub(super) struct KeyRow {
    pub(super) tenant: String,
    /// The state in force now (a pending destruction past its time is `Destroyed`).
    pub(super) state: KeyState,
    since_ms: Option<i64>,
    primary: u32,
    origin: KeyOrigin,
}

pub(super) fn key_row(conn: &Db, key_id: &str, now: i64) -> Result<KeyRow> {
    type Row = (String, String, Option<i64>, Option<i64>, u32, String);
    let row: Option<Row> = conn
        .query_opt(
            "SELECT tenant, state, destroy_at, state_since, primary_version, origin FROM keys WHERE key_id=?1",
            params![key_id],
        )?
        .map(|r| Ok::<_, StoreError>((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .transpose()?;
    let (tenant, state, destroy_at, since_ms, primary, origin) = row.ok_or_else(|| StoreError::NotFound {
        key_id: key_id.into(),
    })?;
    Ok(KeyRow {
        tenant,
        state: KeyState::parse(&state)?.at(destroy_at, now),
        since_ms,
        primary,
        origin: KeyOrigin::parse(&origin)?,
    })
}

impl KeyRow {
    /// Refuses every use of a key that is not enabled.
    fn usable(&self, key_id: &str) -> Result<()> {
        match self.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled | KeyState::DestroyPending => Err(StoreError::Unusable {
                key_id: key_id.into(),
                state: self.state,
                since_ms: self.since_ms,
            }),
            KeyState::Destroyed => Err(StoreError::Destroyed {
                key_id: key_id.into(),
                version: None,
            }),
        }
    }

    /// Refuses new versions of a key that is destroyed or scheduled for destruction.
    fn may_add_version(&self, key_id: &str) -> Result<()> {
        match self.state {
            KeyState::Enabled | KeyState::Disabled => Ok(()),
            KeyState::DestroyPending => Err(StoreError::Unusable {
                key_id: key_id.into(),
                state: self.state,
                since_ms: self.since_ms,
            }),
            KeyState::Destroyed => Err(StoreError::Destroyed {
                key_id: key_id.into(),
                version: None,
            }),
        }
    }
}

fn from_crypto(what: &str) -> impl Fn(CryptoError) -> StoreError + '_ {
    move |e| match e {
        CryptoError::Rng => StoreError::Rng,
        CryptoError::Device => StoreError::Unavailable("the HSM holding the master key failed".into()),
        _ => StoreError::Corrupt(what.to_string()),
    }
}

pub(super) fn fresh_root() -> Result<Zeroizing<[u8; 32]>> {
    crypto::random_secret().map_err(|_| StoreError::Rng)
}

impl Store {
    fn insert_version(
        &self,
        tx: &Db,
        key_id: &str,
        version: u32,
        root: &[u8; 32],
        origin: &str,
        now: i64,
    ) -> Result<()> {
        let public = crypto::derive_public(root).map_err(from_crypto("cannot derive a public key"))?;
        let enc = self
            .master
            .seal(&crypto::root_aad(key_id, version), root)
            .map_err(from_crypto("cannot seal key material"))?;
        tx.execute(
            "INSERT INTO key_versions(key_id, version, root_enc, public_key, origin, created_at, wraps)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6, 0)",
            params![key_id, version, enc, public, origin, now],
        )?;
        Ok(())
    }

    fn insert_key(&self, tx: &Db, key_id: &str, origin: KeyOrigin, root: &[u8; 32]) -> Result<()> {
        let (tenant, _) = crate::key_id::split(key_id).ok_or(StoreError::BadKeyId)?;
        let exists = tx.query_opt("SELECT 1 FROM keys WHERE key_id=?1", params![key_id])?;
        if exists.is_some() {
            return Err(StoreError::Exists {
                key_id: key_id.into(),
            });
        }
        let now = now_ms();
        tx.execute(
            "INSERT INTO keys(key_id, tenant, state, created_at, updated_at, destroy_at, primary_version, origin)
             VALUES(?1, ?2, 'enabled', ?3, ?3, NULL, 1, ?4)",
            params![key_id, tenant, now, origin.as_str()],
        )?;
        let version_origin = match origin {
            KeyOrigin::Generated => VERSION_GENERATED,
            KeyOrigin::External => VERSION_IMPORTED,
        };
        self.insert_version(tx, key_id, 1, root, version_origin, now)
    }

    /// Adds version `primary + 1` and makes it the primary.
    pub(super) fn add_version(
        &self,
        tx: &Db,
        key_id: &str,
        row: &KeyRow,
        root: &[u8; 32],
        origin: &str,
    ) -> Result<u32> {
        let now = now_ms();
        let version = row
            .primary
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt(format!("key {key_id} has too many versions")))?;
        self.insert_version(tx, key_id, version, root, origin, now)?;
        tx.execute(
            "UPDATE keys SET primary_version=?2, updated_at=?3 WHERE key_id=?1",
            params![key_id, version, now],
        )?;
        Ok(version)
    }

    /// Creates a generated key with version 1.
    pub fn create_key(&self, key_id: &str) -> Result<KeyInfo> {
        let root = fresh_root()?;
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        self.insert_key(&tx, key_id, KeyOrigin::Generated, &root)?;
        // Read inside the transaction: the key as this change left it, not as another instance
        // may have changed it since the commit.
        let info = show_locked(&tx, key_id)?;
        tx.commit()?;
        Ok(info)
    }

    /// Imports customer material (§8.2): into an absent key id it creates an external key with
    /// version 1; into an external key it adds a version, which becomes the primary. A key whose
    /// material the service generated refuses it ([`StoreError::NotExternal`]).
    pub fn import_version(&self, key_id: &str, root: &[u8; 32]) -> Result<KeyInfo> {
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        match key_row(&tx, key_id, now_ms()) {
            Err(StoreError::NotFound { .. }) => self.insert_key(&tx, key_id, KeyOrigin::External, root)?,
            Err(e) => return Err(e),
            Ok(row) if row.origin != KeyOrigin::External => {
                return Err(StoreError::NotExternal {
                    key_id: key_id.into(),
                });
            }
            Ok(row) => {
                row.may_add_version(key_id)?;
                self.add_version(&tx, key_id, &row, root, VERSION_IMPORTED)?;
            }
        }
        // Read inside the transaction: the key as this change left it, not as another instance
        // may have changed it since the commit.
        let info = show_locked(&tx, key_id)?;
        tx.commit()?;
        Ok(info)
    }

    /// Adds a generated version to a generated key; it becomes the primary.
    pub fn rotate(&self, key_id: &str) -> Result<KeyInfo> {
        let root = fresh_root()?;
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        let row = key_row(&tx, key_id, now_ms())?;
        row.may_add_version(key_id)?;
        if row.origin == KeyOrigin::External {
            return Err(StoreError::External {
                key_id: key_id.into(),
            });
        }
        self.add_version(&tx, key_id, &row, &root, VERSION_GENERATED)?;
        // Read inside the transaction: the key as this change left it, not as another instance
        // may have changed it since the commit.
        let info = show_locked(&tx, key_id)?;
        tx.commit()?;
        Ok(info)
    }

    /// Changes the state (§8): `disable`, `enable`, `destroy` (with grace), `cancel-destroy`.
    /// A key whose destruction time has passed is destroyed, swept or not: every change is
    /// refused with [`StoreError::Destroyed`].
    pub fn set_state(&self, key_id: &str, op: StateOp) -> Result<KeyInfo> {
        let now = now_ms();
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        let row = key_row(&tx, key_id, now)?;
        let (new_state, destroy_at) = match (op, row.state) {
            (_, KeyState::Destroyed) => {
                return Err(StoreError::Destroyed {
                    key_id: key_id.into(),
                    version: None,
                });
            }
            (StateOp::Disable, KeyState::Enabled | KeyState::Disabled) => (KeyState::Disabled, None),
            (StateOp::Enable, KeyState::Enabled | KeyState::Disabled) => (KeyState::Enabled, None),
            (StateOp::Destroy { grace_ms }, KeyState::Enabled | KeyState::Disabled) => {
                (KeyState::DestroyPending, Some(now.saturating_add(grace_ms)))
            }
            (StateOp::CancelDestroy, KeyState::DestroyPending) => (KeyState::Disabled, None),
            (op, state) => {
                return Err(StoreError::WrongState {
                    key_id: key_id.into(),
                    state,
                    operation: op.name(),
                });
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
        // Read inside the transaction: the key as this change left it, not as another instance
        // may have changed it since the commit.
        let info = show_locked(&tx, key_id)?;
        tx.commit()?;
        Ok(info)
    }

    /// Erases the material of keys whose destruction time has passed, and returns their ids.
    /// The rows are overwritten (`secure_delete`), and the write-ahead log, which still holds the
    /// old pages, is checkpointed and truncated (retried on the next sweep while readers hold it).
    pub fn sweep_destroyed(&self) -> Result<Vec<String>> {
        use std::sync::atomic::Ordering;
        let now = now_ms();
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        let ids: Vec<(String, String)> = tx
            .query(
                "SELECT key_id, tenant FROM keys WHERE state='destroy_pending' AND destroy_at <= ?1",
                params![now],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect::<Result<_>>()?;
        for (id, tenant) in &ids {
            tx.execute(
                "UPDATE key_versions SET root_enc=NULL WHERE key_id=?1",
                params![id],
            )?;
            tx.execute(
                "UPDATE keys SET state='destroyed', updated_at=?2 WHERE key_id=?1",
                params![id, now],
            )?;
            audit::append(
                &tx,
                &AuditEvent {
                    subject: "system".into(),
                    tenant: tenant.clone(),
                    key_id: id.clone(),
                    operation: "key.destroyed".into(),
                    reason: "grace period elapsed".into(),
                    outcome: "ok".into(),
                    ..AuditEvent::default()
                },
            )?;
        }
        tx.commit()?;
        if !ids.is_empty() {
            self.scrub_pending.store(true, Ordering::SeqCst);
        }
        if let Db::Sqlite(conn) = &*conn
            && self.scrub_pending.load(Ordering::SeqCst)
        {
            // Wait for readers briefly only: the sweep holds the store. (PostgreSQL keeps the
            // old row versions until VACUUM: docs/DESIGN.md "PostgreSQL store".)
            conn.busy_timeout(std::time::Duration::from_secs(1))?;
            let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            if busy? == 0 {
                self.scrub_pending.store(false, Ordering::SeqCst);
            }
        }
        Ok(ids.into_iter().map(|(id, _)| id).collect())
    }

    /// Public description of a key.
    pub fn show(&self, key_id: &str) -> Result<KeyInfo> {
        let conn = self.lock()?;
        show_locked(&conn, key_id)
    }

    /// All keys (optionally of one tenant).
    pub fn list(&self, tenant: Option<&str>) -> Result<Vec<KeyInfo>> {
        let conn = self.lock()?;
        let ids: Vec<String> = conn
            .query(
                "SELECT key_id FROM keys WHERE (CAST(?1 AS TEXT) IS NULL OR tenant=?1) ORDER BY key_id",
                params![tenant],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_>>()?;
        ids.iter().map(|id| show_locked(&conn, id)).collect()
    }

    /// Number of keys per state (for metrics).
    pub fn state_counts(&self) -> Result<Vec<(KeyState, i64)>> {
        let conn = self.lock()?;
        let mut out = Vec::new();
        for s in KeyState::ALL {
            let n: i64 = conn
                .query_one("SELECT COUNT(*) FROM keys WHERE state=?1", params![s.as_str()])?
                .get(0)?;
            out.push((s, n));
        }
        Ok(out)
    }

    /// The origin of a key.
    pub fn origin(&self, key_id: &str) -> Result<KeyOrigin> {
        let conn = self.lock()?;
        Ok(key_row(&conn, key_id, now_ms())?.origin)
    }

    fn open_root(&self, key_id: &str, version: u32, sealed: &[u8]) -> Result<crypto::VersionKeys> {
        let what = "stored key material does not open under the master key";
        let root = self
            .master
            .open32(&crypto::root_aad(key_id, version), sealed)
            .map_err(from_crypto(what))?;
        crypto::derive_version_keys(&root).map_err(from_crypto(what))
    }

    /// Loads a version for opening (`None`: the primary). Refuses keys that are not enabled,
    /// versions the key never had, and destroyed versions.
    pub fn load(&self, key_id: &str, version: Option<u32>) -> Result<Loaded> {
        let (row, v, root) = {
            let conn = self.lock()?;
            let row = key_row(&conn, key_id, now_ms())?;
            let v = version.unwrap_or(row.primary);
            let root: Option<Option<Vec<u8>>> = conn
                .query_opt(
                    "SELECT root_enc FROM key_versions WHERE key_id=?1 AND version=?2",
                    params![key_id, v],
                )?
                .map(|r| r.get(0))
                .transpose()?;
            (row, v, root)
        };
        row.usable(key_id)?;
        let sealed = match root {
            None if version.is_some() => {
                return Err(StoreError::NoSuchVersion {
                    key_id: key_id.into(),
                    version: v,
                });
            }
            None => {
                return Err(StoreError::Corrupt(format!(
                    "key {key_id} has no primary version {v}"
                )));
            }
            Some(None) => {
                return Err(StoreError::Destroyed {
                    key_id: key_id.into(),
                    version: Some(v),
                });
            }
            Some(Some(r)) => r,
        };
        Ok(Loaded {
            version: v,
            keys: self.open_root(key_id, v, &sealed)?,
        })
    }

    /// Loads the primary version for one new wrap and counts the wrap. When the primary has made
    /// [`MAX_WRAPS_PER_VERSION`] wraps, a generated key first rotates (a new generated version,
    /// audited as `key.rotate` by `system`); an external key refuses ([`StoreError::WrapLimit`]).
    pub fn reserve_wrap(&self, key_id: &str) -> Result<Loaded> {
        self.reserve_wraps(key_id, 1)
    }

    /// [`Self::reserve_wrap`] for `n` wraps at once, in one transaction (a `/rewrap-batch` counts
    /// its wraps per target key once): the primary rotates first when the `n` wraps would pass
    /// [`MAX_WRAPS_PER_VERSION`]. Wraps reserved and then not made only make the count
    /// conservative.
    pub fn reserve_wraps(&self, key_id: &str, n: u32) -> Result<Loaded> {
        let (version, sealed) = {
            let conn = self.lock()?;
            let tx = conn.begin_write()?;
            let row = key_row(&tx, key_id, now_ms())?;
            row.usable(key_id)?;
            let (sealed, wraps): (Option<Vec<u8>>, i64) = tx
                .query_opt(
                    "SELECT root_enc, wraps FROM key_versions WHERE key_id=?1 AND version=?2",
                    params![key_id, row.primary],
                )?
                .map(|r| Ok::<_, StoreError>((r.get(0)?, r.get(1)?)))
                .transpose()?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("key {key_id} has no primary version {}", row.primary))
                })?;
            let (version, sealed) = if wraps + i64::from(n) > MAX_WRAPS_PER_VERSION {
                self.rotate_at_limit(&tx, key_id, &row)?
            } else {
                let sealed = sealed.ok_or_else(|| StoreError::Destroyed {
                    key_id: key_id.into(),
                    version: Some(row.primary),
                })?;
                (row.primary, sealed)
            };
            tx.execute(
                "UPDATE key_versions SET wraps = wraps + ?3 WHERE key_id=?1 AND version=?2",
                params![key_id, version, n],
            )?;
            tx.commit()?;
            (version, sealed)
        };
        Ok(Loaded {
            version,
            keys: self.open_root(key_id, version, &sealed)?,
        })
    }

    /// The new primary of a generated key whose primary reached the wrap limit: its version and
    /// sealed root.
    fn rotate_at_limit(&self, tx: &Db, key_id: &str, row: &KeyRow) -> Result<(u32, Vec<u8>)> {
        if row.origin == KeyOrigin::External {
            return Err(StoreError::WrapLimit {
                key_id: key_id.into(),
                version: row.primary,
            });
        }
        let root = fresh_root()?;
        let version = self.add_version(tx, key_id, row, &root, VERSION_GENERATED)?;
        audit::append(
            tx,
            &AuditEvent {
                subject: "system".into(),
                tenant: row.tenant.clone(),
                key_id: key_id.into(),
                key_version: Some(version),
                operation: "key.rotate".into(),
                reason: "wrap limit".into(),
                outcome: "ok".into(),
                detail: format!("version {} made {MAX_WRAPS_PER_VERSION} wraps", row.primary),
            },
        )?;
        let sealed: Vec<u8> = tx
            .query_one(
                "SELECT root_enc FROM key_versions WHERE key_id=?1 AND version=?2",
                params![key_id, version],
            )?
            .get(0)?;
        Ok((version, sealed))
    }
}

pub(super) fn show_locked(conn: &Db, key_id: &str) -> Result<KeyInfo> {
    let row: Option<(String, String, i64, Option<i64>, u32)> = conn
        .query_opt(
            "SELECT tenant, state, created_at, destroy_at, primary_version FROM keys WHERE key_id=?1",
            params![key_id],
        )?
        .map(|r| Ok::<_, StoreError>((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .transpose()?;
    let (tenant, state, created, destroy_at, primary) = row.ok_or_else(|| StoreError::NotFound {
        key_id: key_id.into(),
    })?;
    let versions = conn
        .query(
            "SELECT version, created_at, origin, root_enc IS NULL, public_key FROM key_versions
         WHERE key_id=?1 ORDER BY version",
            params![key_id],
        )?
        .iter()
        .map(|r| {
            Ok(VersionInfo {
                version: r.get(0)?,
                created_at_ms: r.get(1)?,
                origin: r.get(2)?,
                destroyed: r.get(3)?,
                public_key: Bytes(r.get(4)?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(KeyInfo {
        key_id: key_id.to_string(),
        tenant,
        state: KeyState::parse(&state)?.as_str().into(),
        primary_version: primary,
        created_at_ms: created,
        destroy_at_ms: destroy_at,
        versions,
    })
}
