//! A consistent snapshot of a store, and its restore into an empty store (`keyseal-kms backup`,
//! [`crate::backup`]). The snapshot is rows, not a database file: keys, versions (roots still
//! sealed), the sealed service secrets and the whole hash-chained audit log, read in one read
//! transaction, so another store backend can produce and take the same thing. Backup bookkeeping
//! for the metrics (seed M10) lives in `meta` too ([`BackupStats`]).

use super::db::{Db, params};
use serde::{Deserialize, Serialize};

use super::reseal::SEALED_META;
use super::{Result, Store, StoreError, now_ms};
use crate::crypto;

/// A service secret sealed under the master key (a `meta` row).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealedMeta {
    /// Its name (`master_check`, `local_issuer_key`, `import_seed`, `identity_key`).
    pub name: String,
    /// The sealed bytes, standard base64.
    pub sealed: String,
}

/// A key row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRow {
    /// `tenant/name`.
    pub key_id: String,
    /// Tenant.
    pub tenant: String,
    /// State name.
    pub state: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
    /// Unix ms of a scheduled destruction.
    pub destroy_at: Option<i64>,
    /// Primary version.
    pub primary_version: u32,
    /// When the state began.
    pub state_since: Option<i64>,
    /// `generated` or `external`.
    pub origin: String,
}

/// A key version row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionRow {
    /// Key id.
    pub key_id: String,
    /// Version number.
    pub version: u32,
    /// The root secret sealed (standard base64); absent once destroyed.
    pub root: Option<String>,
    /// The version's HPKE public key (standard base64), a check value for the root.
    pub public_key: String,
    /// How the version was made.
    pub origin: String,
    /// Unix ms.
    pub created_at: i64,
    /// Wraps made with it.
    pub wraps: i64,
}

/// An audit row, verbatim (its chain hashes included).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditRow {
    /// Sequence number.
    pub seq: i64,
    /// Unix ms.
    pub ts_ms: i64,
    /// Subject.
    pub subject: String,
    /// Tenant.
    pub tenant: String,
    /// Key id.
    pub key_id: String,
    /// Key version.
    pub key_version: Option<u32>,
    /// Operation.
    pub operation: String,
    /// Reason.
    pub reason: String,
    /// Outcome.
    pub outcome: String,
    /// Detail.
    pub detail: String,
    /// Previous hash (standard base64).
    pub prev_hash: String,
    /// This row's hash (standard base64).
    pub hash: String,
}

/// Everything a restore needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    /// Service secrets, sealed.
    pub meta: Vec<SealedMeta>,
    /// Keys.
    pub keys: Vec<KeyRow>,
    /// Versions.
    pub versions: Vec<VersionRow>,
    /// The audit log.
    pub audit: Vec<AuditRow>,
}

/// How a blob sealed in the snapshot becomes one sealed under the restoring store's master key:
/// `(additional data, sealed in the snapshot) → sealed for the store`.
pub type Reseal<'a> = dyn Fn(&[u8], &[u8]) -> Result<Vec<u8>> + 'a;

/// The `meta` rows' additional data by name.
pub fn meta_aad(name: &str) -> Option<&'static [u8]> {
    SEALED_META.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

fn dec(what: &str, s: &str) -> Result<Vec<u8>> {
    crypto::b64::dec(s).ok_or_else(|| StoreError::Corrupt(format!("{what} is not base64")))
}

/// Backup bookkeeping (seed M10), kept in the store so that `/metrics` reports what the command
/// line did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupStats {
    /// `backup create` runs.
    pub attempts: i64,
    /// Of which succeeded.
    pub successes: i64,
    /// Unix ms of the last success.
    pub last_success_ms: i64,
    /// `backup verify` runs that passed.
    pub verified: i64,
    /// Unix ms of the last verification that passed.
    pub last_verified_ms: i64,
}

const STATS: [&str; 5] = [
    "stat:backup_attempts",
    "stat:backup_successes",
    "stat:backup_last_success_ms",
    "stat:backup_verified",
    "stat:backup_last_verified_ms",
];

impl Store {
    /// The snapshot, read in one transaction (a consistent point in time).
    pub fn snapshot(&self) -> Result<Snapshot> {
        let conn = self.lock()?;
        let tx = conn.begin_read()?;
        let mut meta = Vec::new();
        for (name, _) in SEALED_META {
            let v: Option<Vec<u8>> = tx
                .query_opt("SELECT v FROM meta WHERE k=?1", params![name])?
                .map(|r| r.get(0))
                .transpose()?;
            if let Some(v) = v {
                meta.push(SealedMeta {
                    name: name.into(),
                    sealed: crypto::b64::enc(&v),
                });
            }
        }
        let keys = tx
            .query(
                "SELECT key_id, tenant, state, created_at, updated_at, destroy_at, primary_version,
                 state_since, origin FROM keys ORDER BY key_id",
                params![],
            )?
            .iter()
            .map(|r| {
                Ok(KeyRow {
                    key_id: r.get(0)?,
                    tenant: r.get(1)?,
                    state: r.get(2)?,
                    created_at: r.get(3)?,
                    updated_at: r.get(4)?,
                    destroy_at: r.get(5)?,
                    primary_version: r.get(6)?,
                    state_since: r.get(7)?,
                    origin: r.get(8)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let versions = tx
            .query(
                "SELECT key_id, version, root_enc, public_key, origin, created_at, wraps
                 FROM key_versions ORDER BY key_id, version",
                params![],
            )?
            .iter()
            .map(|r| {
                let root: Option<Vec<u8>> = r.get(2)?;
                let public: Vec<u8> = r.get(3)?;
                Ok(VersionRow {
                    key_id: r.get(0)?,
                    version: r.get(1)?,
                    root: root.map(|b| crypto::b64::enc(&b)),
                    public_key: crypto::b64::enc(&public),
                    origin: r.get(4)?,
                    created_at: r.get(5)?,
                    wraps: r.get(6)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let audit = tx
            .query(&format!("{} ORDER BY seq", super::audit::SELECT_ROWS), params![])?
            .iter()
            .map(|r| {
                let row = super::audit::stored_row(r)?;
                let e = row.event;
                Ok(AuditRow {
                    seq: row.seq,
                    ts_ms: row.ts_ms,
                    subject: e.subject,
                    tenant: e.tenant,
                    key_id: e.key_id,
                    key_version: e.key_version,
                    operation: e.operation,
                    reason: e.reason,
                    outcome: e.outcome,
                    detail: e.detail,
                    prev_hash: crypto::b64::enc(&row.prev_hash),
                    hash: crypto::b64::enc(&row.hash),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(Snapshot {
            meta,
            keys,
            versions,
            audit,
        })
    }

    /// Whether the store holds nothing but its master key check value (a restore's target).
    pub fn is_empty(&self) -> Result<bool> {
        let conn = self.lock()?;
        let n: i64 = conn
            .query_one(
                "SELECT (SELECT COUNT(*) FROM keys) + (SELECT COUNT(*) FROM key_versions)
             + (SELECT COUNT(*) FROM audit)
             + (SELECT COUNT(*) FROM meta WHERE k NOT IN ('master_check') AND k NOT LIKE 'stat:%')",
                params![],
            )?
            .get(0)?;
        Ok(n == 0)
    }

    /// Restores `snap` into this store, which must be empty ([`Self::is_empty`]), in one
    /// transaction. Every sealed blob goes through `reseal`; the master key check value is the
    /// store's own and is not taken from the snapshot. The audit rows are inserted verbatim, so
    /// the chain verifies as it did.
    pub fn restore_snapshot(&self, snap: &Snapshot, reseal: &Reseal<'_>) -> Result<()> {
        if !self.is_empty()? {
            return Err(StoreError::Exists {
                key_id: "(the restore target is not an empty store)".into(),
            });
        }
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        for m in &snap.meta {
            if m.name == "master_check" {
                continue;
            }
            let aad = meta_aad(&m.name)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown secret {:?}", m.name)))?;
            let sealed = reseal(aad, &dec(&m.name, &m.sealed)?)?;
            tx.execute("INSERT INTO meta(k, v) VALUES(?1, ?2)", params![m.name, sealed])?;
        }
        for k in &snap.keys {
            super::KeyState::parse(&k.state)?;
            tx.execute(
                "INSERT INTO keys(key_id, tenant, state, created_at, updated_at, destroy_at,
                 primary_version, state_since, origin) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                params![
                    k.key_id,
                    k.tenant,
                    k.state,
                    k.created_at,
                    k.updated_at,
                    k.destroy_at,
                    k.primary_version,
                    k.state_since,
                    k.origin
                ],
            )?;
        }
        for v in &snap.versions {
            let root = match &v.root {
                Some(r) => Some(reseal(
                    &crypto::root_aad(&v.key_id, v.version),
                    &dec("a root", r)?,
                )?),
                None => None,
            };
            tx.execute(
                "INSERT INTO key_versions(key_id, version, root_enc, public_key, origin, created_at,
                 wraps) VALUES(?1,?2,?3,?4,?5,?6,?7)",
                params![
                    v.key_id,
                    v.version,
                    root,
                    dec("a public key", &v.public_key)?,
                    v.origin,
                    v.created_at,
                    v.wraps
                ],
            )?;
        }
        for a in &snap.audit {
            tx.execute(
                "INSERT INTO audit(seq, ts_ms, subject, tenant, key_id, key_version, operation,
                 reason, outcome, detail, prev_hash, hash) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
                params![
                    a.seq,
                    a.ts_ms,
                    a.subject,
                    a.tenant,
                    a.key_id,
                    a.key_version,
                    a.operation,
                    a.reason,
                    a.outcome,
                    a.detail,
                    dec("an audit hash", &a.prev_hash)?,
                    dec("an audit hash", &a.hash)?
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Opens a root of a snapshot sealed under this store's master key and checks it against the
    /// version's public key (a check value): the sample unwrap of `backup verify`.
    pub fn check_root(&self, key_id: &str, version: u32, sealed: &[u8], public: &[u8]) -> Result<()> {
        let root = self
            .master
            .open32(&crypto::root_aad(key_id, version), sealed)
            .map_err(|_| StoreError::Corrupt(format!("the root of {key_id} v{version} does not open")))?;
        let derived = crypto::derive_public(&root)
            .map_err(|_| StoreError::Corrupt(format!("the root of {key_id} v{version} is unusable")))?;
        if derived != public {
            return Err(StoreError::Corrupt(format!(
                "the root of {key_id} v{version} does not match its public key"
            )));
        }
        Ok(())
    }

    /// Opens `sealed` under this store's master key (restore of a backup sealed to it).
    pub fn open_sealed(&self, aad: &[u8], sealed: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        self.master.open(aad, sealed).map_err(|e| match e {
            crypto::CryptoError::Device => {
                StoreError::Unavailable("the HSM holding the master key failed".into())
            }
            _ => StoreError::MasterKey("does not open under this store's master key".into()),
        })
    }

    /// Seals `plain` under this store's master key.
    pub fn seal_secret(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        self.master.seal(aad, plain).map_err(|e| match e {
            crypto::CryptoError::Device => {
                StoreError::Unavailable("the HSM holding the master key failed".into())
            }
            _ => StoreError::Rng,
        })
    }

    fn stat(conn: &Db, name: &str) -> Result<i64> {
        let v: Option<Vec<u8>> = conn
            .query_opt("SELECT v FROM meta WHERE k=?1", params![name])?
            .map(|r| r.get(0))
            .transpose()?;
        Ok(v.and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, i64::from_be_bytes))
    }

    fn set_stat(conn: &Db, name: &str, v: i64) -> Result<()> {
        conn.execute(
            "INSERT INTO meta(k, v) VALUES(?1, ?2) ON CONFLICT(k) DO UPDATE SET v=excluded.v",
            params![name, v.to_be_bytes().to_vec()],
        )?;
        Ok(())
    }

    /// Counts one `backup create` (and its success).
    pub fn record_backup(&self, success: bool) -> Result<()> {
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        Self::set_stat(&tx, STATS[0], Self::stat(&tx, STATS[0])? + 1)?;
        if success {
            Self::set_stat(&tx, STATS[1], Self::stat(&tx, STATS[1])? + 1)?;
            Self::set_stat(&tx, STATS[2], now_ms())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a `backup verify` that passed.
    pub fn record_backup_verified(&self) -> Result<()> {
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        Self::set_stat(&tx, STATS[3], Self::stat(&tx, STATS[3])? + 1)?;
        Self::set_stat(&tx, STATS[4], now_ms())?;
        tx.commit()?;
        Ok(())
    }

    /// The backup bookkeeping.
    pub fn backup_stats(&self) -> Result<BackupStats> {
        let conn = self.lock()?;
        Ok(BackupStats {
            attempts: Self::stat(&conn, STATS[0])?,
            successes: Self::stat(&conn, STATS[1])?,
            last_success_ms: Self::stat(&conn, STATS[2])?,
            verified: Self::stat(&conn, STATS[3])?,
            last_verified_ms: Self::stat(&conn, STATS[4])?,
        })
    }
}
