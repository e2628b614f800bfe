//! Rotation on a schedule (docs/PROTOCOL.md §8.5): a key may carry a rotation period; once its
//! next rotation time has passed, [`Store::rotate_due`] adds a version and sets the next time, in
//! one write transaction ([`super::db::Db::begin_write`]: SQLite's `BEGIN IMMEDIATE`, or
//! PostgreSQL's advisory write lock). Every instance may call it: the write lock serializes them
//! and the second reads the first's committed next time, finds the key no longer due, so exactly
//! one rotation happens per period, on one machine or on several sharing PostgreSQL. Time is a
//! parameter, so tests and operators drive it (`key rotate-due --now`).

use super::audit::{self, AuditEvent};
use super::db::{Db, params};
use super::keys::{VERSION_GENERATED, fresh_root, key_row};
use super::{KeyState, Result, Store, StoreError};

/// One key's schedule, for `key schedule` and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// The key id.
    pub key_id: String,
    /// Its tenant.
    pub tenant: String,
    /// The rotation period in ms (`None`: rotated by hand only).
    pub every_ms: Option<i64>,
    /// When the next rotation is due (Unix ms), if a period is set.
    pub next_at_ms: Option<i64>,
    /// When the current primary version was made (Unix ms).
    pub primary_since_ms: i64,
    /// The primary version.
    pub primary_version: u32,
}

impl Store {
    /// Sets (or with `None` clears) the rotation period of a generated key; the next rotation is
    /// due one period after `now`. Audited as `key.schedule`. (The command line refuses periods
    /// under a minute.)
    pub fn set_rotation_period(
        &self,
        key_id: &str,
        every_ms: Option<i64>,
        now: i64,
        subject: &str,
    ) -> Result<ScheduleRow> {
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        let row = key_row(&tx, key_id, now)?;
        if row.state == KeyState::Destroyed {
            return Err(StoreError::Destroyed {
                key_id: key_id.into(),
                version: None,
            });
        }
        let origin: String = tx
            .query_one("SELECT origin FROM keys WHERE key_id=?1", params![key_id])?
            .get(0)?;
        if every_ms.is_some() && origin != "generated" {
            return Err(StoreError::External {
                key_id: key_id.into(),
            });
        }
        let next = every_ms.map(|e| now.saturating_add(e));
        tx.execute(
            "UPDATE keys SET rotate_every_ms=?2, next_rotation_at=?3, updated_at=?4 WHERE key_id=?1",
            params![key_id, every_ms, next, now],
        )?;
        audit::append(
            &tx,
            &AuditEvent {
                subject: subject.into(),
                tenant: row.tenant.clone(),
                key_id: key_id.into(),
                key_version: None,
                operation: "key.schedule".into(),
                reason: String::new(),
                outcome: "ok".into(),
                detail: match every_ms {
                    Some(e) => format!("rotate every {} s", e / 1000),
                    None => "no scheduled rotation".into(),
                },
            },
        )?;
        // Read inside the transaction: the schedule as this change left it.
        let row = schedule_rows(&tx, Some(key_id))?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound {
                key_id: key_id.into(),
            })?;
        tx.commit()?;
        Ok(row)
    }

    /// Rotates every enabled generated key whose next rotation time is at or before `now`, and
    /// sets its next time one period after `now`. Returns the keys rotated and their new
    /// versions. Disabled keys wait (they rotate once enabled and due).
    pub fn rotate_due(&self, now: i64) -> Result<Vec<(String, u32)>> {
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        let due: Vec<(String, i64)> = tx
            .query(
                "SELECT key_id, rotate_every_ms FROM keys WHERE next_rotation_at IS NOT NULL
                 AND next_rotation_at <= ?1 AND rotate_every_ms IS NOT NULL AND origin='generated'
                 ORDER BY key_id",
                params![now],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect::<Result<_>>()?;
        let mut rotated = Vec::new();
        for (key_id, every) in due {
            let row = key_row(&tx, &key_id, now)?;
            if row.state != KeyState::Enabled {
                continue;
            }
            let root = fresh_root()?;
            let version = self.add_version(&tx, &key_id, &row, &root, VERSION_GENERATED)?;
            let next = now.saturating_add(every);
            tx.execute(
                "UPDATE keys SET next_rotation_at=?2 WHERE key_id=?1",
                params![key_id, next],
            )?;
            audit::append(
                &tx,
                &AuditEvent {
                    subject: "system".into(),
                    tenant: row.tenant.clone(),
                    key_id: key_id.clone(),
                    key_version: Some(version),
                    operation: "key.rotate".into(),
                    reason: "schedule".into(),
                    outcome: "ok".into(),
                    detail: format!("scheduled rotation (every {} s)", every / 1000),
                },
            )?;
            rotated.push((key_id, version));
        }
        tx.commit()?;
        Ok(rotated)
    }

    /// The schedule of one key.
    pub fn schedule_of(&self, key_id: &str) -> Result<ScheduleRow> {
        self.schedules(Some(key_id))?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound {
                key_id: key_id.into(),
            })
    }

    /// The schedules of all keys (or one), for `key schedule` and `/metrics`.
    pub fn schedules(&self, key_id: Option<&str>) -> Result<Vec<ScheduleRow>> {
        let conn = self.lock()?;
        schedule_rows(&conn, key_id)
    }
}

/// The schedules of all keys (or one), read on `conn`.
fn schedule_rows(conn: &Db, key_id: Option<&str>) -> Result<Vec<ScheduleRow>> {
    let rows = conn
            .query(
                "SELECT k.key_id, k.tenant, k.rotate_every_ms, k.next_rotation_at, v.created_at, k.primary_version
             FROM keys k JOIN key_versions v ON v.key_id = k.key_id AND v.version = k.primary_version
             WHERE k.state != 'destroyed' AND (CAST(?1 AS TEXT) IS NULL OR k.key_id = ?1) ORDER BY k.key_id",
                params![key_id],
            )?
            .iter()
            .map(|r| {
                Ok(ScheduleRow {
                    key_id: r.get(0)?,
                    tenant: r.get(1)?,
                    every_ms: r.get(2)?,
                    next_at_ms: r.get(3)?,
                    primary_since_ms: r.get(4)?,
                    primary_version: r.get(5)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
    Ok(rows)
}
