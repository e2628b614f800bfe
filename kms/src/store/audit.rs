//! The audit log (docs/PROTOCOL.md §9): an append-only table in the same database whose rows form
//! a SHA-256 hash chain, and its verification (which needs no master key).

use std::path::Path;

use super::db::{Db, Row, params};
use super::{Result, Store, now_ms};
use crate::crypto;

/// Longest value kept in each text field of an audit row, in bytes (docs/PROTOCOL.md §9). Longer
/// values are cut at a UTF-8 character boundary before the row is hashed, so that no request,
/// however it was made, can grow the log by more than a bounded row.
pub struct FieldCaps;

impl FieldCaps {
    /// `subject`: the token's `sub`, `cli:<user>`, `system` or `-`.
    pub const SUBJECT: usize = 256;
    /// `tenant`: a tenant is at most 64 bytes (§1).
    pub const TENANT: usize = crate::key_id::MAX_PART_LEN;
    /// `key_id`: a key id is at most 129 bytes (§1).
    pub const KEY_ID: usize = crate::key_id::MAX_KEY_ID_LEN;
    /// `operation`.
    pub const OPERATION: usize = 64;
    /// `reason`: 512 bytes (§3).
    pub const REASON: usize = keyseal_protocol::MAX_REASON_LEN;
    /// `outcome`: `ok` or an error name.
    pub const OUTCOME: usize = 64;
    /// `detail`: the error message or a note.
    pub const DETAIL: usize = 512;
}

/// One audit event before it is chained.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    /// Token subject (`cli:<user>` for the command line, `system`, `-` when unauthenticated).
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

/// `s` cut to at most `max` bytes at a character boundary.
pub fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

impl AuditEvent {
    /// The event with every text field within its [`FieldCaps`].
    fn capped(&self) -> AuditEvent {
        let mut e = self.clone();
        truncate(&mut e.subject, FieldCaps::SUBJECT);
        truncate(&mut e.tenant, FieldCaps::TENANT);
        truncate(&mut e.key_id, FieldCaps::KEY_ID);
        truncate(&mut e.operation, FieldCaps::OPERATION);
        truncate(&mut e.reason, FieldCaps::REASON);
        truncate(&mut e.outcome, FieldCaps::OUTCOME);
        truncate(&mut e.detail, FieldCaps::DETAIL);
        e
    }
}

/// One stored audit row with its place in the chain (§9).
#[derive(Debug, Clone)]
pub struct StoredRow {
    /// Position in the chain (1, 2, …).
    pub seq: i64,
    /// Commit time, Unix ms.
    pub ts_ms: i64,
    /// The event.
    pub event: AuditEvent,
    /// The previous row's hash (32 zero bytes for the first row).
    pub prev_hash: Vec<u8>,
    /// This row's hash.
    pub hash: Vec<u8>,
}

/// The columns [`stored_row`] reads, in its order; callers add `WHERE`/`ORDER BY`/`LIMIT`.
pub(crate) const SELECT_ROWS: &str = "SELECT seq, ts_ms, subject, tenant, key_id, key_version, \
     operation, reason, outcome, detail, prev_hash, hash FROM audit";

/// A row selected with [`SELECT_ROWS`].
pub(crate) fn stored_row(r: &Row) -> Result<StoredRow> {
    Ok(StoredRow {
        seq: r.get(0)?,
        ts_ms: r.get(1)?,
        event: AuditEvent {
            subject: r.get(2)?,
            tenant: r.get(3)?,
            key_id: r.get(4)?,
            key_version: r.get(5)?,
            operation: r.get(6)?,
            reason: r.get(7)?,
            outcome: r.get(8)?,
            detail: r.get(9)?,
        },
        prev_hash: r.get(10)?,
        hash: r.get(11)?,
    })
}

/// Result of `audit verify`.
#[derive(Debug)]
pub struct AuditReport {
    /// Number of rows checked.
    pub rows: u64,
    /// Hash of the newest good row (hex), to anchor externally.
    pub head: String,
    /// First problem found, if any.
    pub problem: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The chain hash of §9.
pub(crate) fn chain_hash(prev: &[u8], seq: i64, ts: i64, e: &AuditEvent) -> [u8; 32] {
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

/// Appends one (capped) event inside the caller's write transaction, which holds the database's
/// write lock ([`Db::begin_write`]): the chain head it reads is the latest committed by any
/// instance, and no other instance appends until it commits, so all appends form one chain.
pub(super) fn append(conn: &Db, e: &AuditEvent) -> Result<()> {
    let e = e.capped();
    let last: Option<(i64, Vec<u8>)> = conn
        .query_opt("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", params![])?
        .map(|r| Ok::<_, super::StoreError>((r.get(0)?, r.get(1)?)))
        .transpose()?;
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, vec![0u8; 32]),
    };
    let ts = now_ms();
    let hash = chain_hash(&prev, seq, ts, &e);
    conn.execute(
        "INSERT INTO audit(seq, ts_ms, subject, tenant, key_id, key_version, operation, reason,
         outcome, detail, prev_hash, hash) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
        params![
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
        ],
    )?;
    Ok(())
}

impl Store {
    /// Appends one event to the audit log (its own transaction).
    pub fn audit(&self, e: &AuditEvent) -> Result<()> {
        self.audit_many(&[e])
    }

    /// Appends many events in one transaction (a `/rewrap-batch`): all are written or none.
    pub fn audit_many(&self, events: &[&AuditEvent]) -> Result<()> {
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        for e in events {
            append(&tx, e)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Checks the whole chain.
    pub fn audit_verify(&self) -> Result<AuditReport> {
        let conn = self.lock()?;
        let mut prev = vec![0u8; 32];
        let mut expected_seq = 1i64;
        let mut n = 0u64;
        // In pages, so that a long chain is never all in memory.
        let mut after = 0i64;
        loop {
            let page = conn.query(
                &format!("{SELECT_ROWS} WHERE seq > ?1 ORDER BY seq LIMIT 2000"),
                params![after],
            )?;
            if page.is_empty() {
                break;
            }
            for r in &page {
                let StoredRow {
                    seq,
                    ts_ms: ts,
                    event: e,
                    prev_hash: stored_prev,
                    hash: stored_hash,
                } = stored_row(r)?;
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
                after = seq;
                n += 1;
            }
        }
        Ok(AuditReport {
            rows: n,
            head: hex(&prev),
            problem: None,
        })
    }
}

/// Verifies the audit chain of a database (`--db`: a file or a `postgres://` URL) without the
/// master key.
pub fn verify_file(path: &Path) -> Result<AuditReport> {
    Store::without_master(super::open_db(path)?).audit_verify()
}
