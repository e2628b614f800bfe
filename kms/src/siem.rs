//! The audit log for a SIEM (docs/PROTOCOL.md §9.1): every committed audit row as one JSON
//! record with Elastic Common Schema (ECS) field names and the chain hashes, delivered as it is
//! committed to a sink (`--audit-sink stdout | file:PATH | syslog:HOST:PORT`, RFC 5424 over UDP),
//! exported for a range (`audit export`), and an exported range verified against the store
//! (`audit verify --exported`). Records carry what the audit row carries and nothing more: no
//! token, no key material (the row never has any).

use std::io::Write;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::store::audit::{AuditEvent, SELECT_ROWS, chain_hash, stored_row};
use crate::store::db::{Db, params};
use crate::store::{Result, StoreError};

/// One committed audit row with its place in the chain (the store's own row type).
pub use crate::store::audit::StoredRow as AuditRow;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    s.len()
        .is_multiple_of(2)
        .then(|| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
                .collect()
        })
        .flatten()
}

impl AuditRow {
    /// The ECS record (docs/PROTOCOL.md §9.1 has the field table).
    pub fn to_ecs(&self) -> Value {
        let e = &self.event;
        let ok = e.outcome == "ok";
        let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(self.ts_ms).unwrap_or(0));
        let mut v = json!({
            "@timestamp": humantime::format_rfc3339_millis(time).to_string(),
            "ecs": { "version": "8.11.0" },
            "event": {
                "kind": "event",
                "category": ["iam"],
                "type": [if ok { "access" } else { "denied" }],
                "dataset": "keyseal_kms.audit",
                "provider": "keyseal-kms",
                "action": e.operation,
                "outcome": if ok { "success" } else { "failure" },
                "reason": e.reason,
                "sequence": self.seq,
                "hash": hex(&self.hash),
            },
            "user": { "name": e.subject },
            "organization": { "id": e.tenant },
            "message": e.detail,
            "keyseal": {
                "key_id": e.key_id,
                "key_version": e.key_version,
                "outcome": e.outcome,
                "prev_hash": hex(&self.prev_hash),
                "hash": hex(&self.hash),
                "ts_ms": self.ts_ms,
            },
        });
        if !ok {
            v["error"] = json!({ "code": e.outcome, "message": e.detail });
        }
        v
    }

    /// Reads a record written by [`Self::to_ecs`] back into a row (for `audit verify --exported`).
    pub fn from_ecs(v: &Value) -> Option<AuditRow> {
        let k = &v["keyseal"];
        let s = |x: &Value| x.as_str().map(String::from);
        Some(AuditRow {
            seq: v["event"]["sequence"].as_i64()?,
            ts_ms: k["ts_ms"].as_i64()?,
            event: AuditEvent {
                subject: s(&v["user"]["name"])?,
                tenant: s(&v["organization"]["id"])?,
                key_id: s(&k["key_id"])?,
                key_version: k["key_version"].as_u64().and_then(|x| u32::try_from(x).ok()),
                operation: s(&v["event"]["action"])?,
                reason: s(&v["event"]["reason"])?,
                outcome: s(&k["outcome"])?,
                detail: s(&v["message"])?,
            },
            prev_hash: unhex(k["prev_hash"].as_str()?)?,
            hash: unhex(k["hash"].as_str()?)?,
        })
    }
}

/// The database of `--db` (an SQLite file, read-only, or a `postgres://` URL).
fn open_read_only(db: &Path) -> Result<Db> {
    crate::store::open_db(db)
}

/// Committed rows with `seq > after` (at most `limit`), in order.
pub fn rows_after(conn: &Db, after: i64, limit: i64) -> Result<Vec<AuditRow>> {
    conn.query(
        &format!("{SELECT_ROWS} WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
        params![after, limit],
    )?
    .iter()
    .map(stored_row)
    .collect()
}

fn head_seq(conn: &Db) -> Result<i64> {
    conn.query_one("SELECT COALESCE(MAX(seq), 0) FROM audit", params![])?
        .get(0)
}

/// Where records go as they are committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines appended to a file.
    File(PathBuf),
    /// RFC 5424 syslog messages over UDP to `host:port`, the JSON record as the message.
    Syslog(String),
}

impl std::str::FromStr for Sink {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "stdout" {
            Ok(Sink::Stdout)
        } else if let Some(p) = s.strip_prefix("file:") {
            Ok(Sink::File(p.into()))
        } else if let Some(a) = s.strip_prefix("syslog:") {
            Ok(Sink::Syslog(a.into()))
        } else {
            Err(format!(
                "'{s}': an audit sink is stdout, file:PATH or syslog:HOST:PORT"
            ))
        }
    }
}

/// RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`, facility 13 (log audit),
/// severity 6 (informational) for `ok` and 4 (warning) for a refusal.
pub fn syslog_line(row: &AuditRow, record: &str) -> String {
    let severity = if row.event.outcome == "ok" { 6 } else { 4 };
    let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(row.ts_ms).unwrap_or(0));
    format!(
        "<{}>1 {} - keyseal-kms {} audit - {record}",
        13 * 8 + severity,
        humantime::format_rfc3339_millis(time),
        std::process::id()
    )
}

struct Writer {
    sink: Sink,
    file: Option<std::fs::File>,
    udp: Option<UdpSocket>,
}

impl Writer {
    fn open(sink: &Sink) -> std::io::Result<Writer> {
        let file = match sink {
            Sink::File(p) => Some(std::fs::OpenOptions::new().create(true).append(true).open(p)?),
            _ => None,
        };
        let udp = match sink {
            Sink::Syslog(addr) => {
                let s = UdpSocket::bind("0.0.0.0:0")?;
                s.connect(addr)?;
                Some(s)
            }
            _ => None,
        };
        Ok(Writer {
            sink: sink.clone(),
            file,
            udp,
        })
    }

    fn write(&mut self, row: &AuditRow) -> std::io::Result<()> {
        let record = row.to_ecs().to_string();
        match (&self.sink, &mut self.file, &self.udp) {
            (Sink::Stdout, _, _) => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{record}")?;
                out.flush()
            }
            (Sink::File(_), Some(f), _) => writeln!(f, "{record}"),
            (Sink::Syslog(_), _, Some(u)) => u.send(syslog_line(row, &record).as_bytes()).map(|_| ()),
            _ => Ok(()),
        }
    }
}

/// Follows the audit table of `db` and writes every row committed after the moment it starts to
/// `sink`, within about `every` of its commit (committed rows only: an uncommitted transaction is
/// invisible to this reader). Runs until the process ends; a failing sink is retried.
pub async fn follow(db: PathBuf, sink: Sink, every: Duration) {
    let mut last = match open_read_only(&db).and_then(|c| head_seq(&c)) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("keyseal-kms: audit sink: {e}");
            0
        }
    };
    let mut writer: Option<Writer> = None;
    let mut conn: Option<Db> = None;
    loop {
        tokio::time::sleep(every).await;
        if conn.is_none() {
            conn = open_read_only(&db).ok();
        }
        let Some(c) = &conn else { continue };
        let rows = match rows_after(c, last, 1000) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("keyseal-kms: audit sink: reading the audit log: {e}");
                conn = None;
                continue;
            }
        };
        for row in rows {
            if writer.is_none() {
                match Writer::open(&sink) {
                    Ok(w) => writer = Some(w),
                    Err(e) => {
                        eprintln!("keyseal-kms: audit sink {sink:?}: {e}");
                        break;
                    }
                }
            }
            let Some(w) = writer.as_mut() else { break };
            if let Err(e) = w.write(&row) {
                eprintln!("keyseal-kms: audit sink {sink:?}: {e} (retrying)");
                writer = None;
                break;
            }
            last = row.seq;
        }
    }
}

/// `audit export`: the ECS records of the rows with `seq > after_seq` and `ts_ms >= since_ms`.
pub fn export(db: &Path, after_seq: i64, since_ms: i64, out: &mut dyn Write) -> Result<u64> {
    let conn = open_read_only(db)?;
    let mut after = after_seq;
    let mut n = 0;
    loop {
        let rows = rows_after(&conn, after, 1000)?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            break;
        };
        for r in rows.iter().filter(|r| r.ts_ms >= since_ms) {
            writeln!(out, "{}", r.to_ecs()).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            n += 1;
        }
        after = last;
    }
    Ok(n)
}

/// What `audit verify --exported` found.
#[derive(Debug)]
pub struct ExportReport {
    /// Records checked.
    pub rows: u64,
    /// First and last sequence numbers of the range.
    pub range: (i64, i64),
    /// The first problem, if any.
    pub problem: Option<String>,
}

/// Checks an exported range: every record's hash is its contents' chain hash over the previous
/// record's hash (§9), sequence numbers are consecutive, and the range's ends are the store's own
/// rows (same hashes at the same sequence numbers), so the range is a genuine, unedited part of
/// the chain whose head `audit verify` reports.
pub fn verify_export(db: &Path, exported: &str) -> Result<ExportReport> {
    let conn = open_read_only(db)?;
    let mut prev: Option<AuditRow> = None;
    let mut first = None;
    let mut n = 0u64;
    let report = |n, first: Option<i64>, last: i64, problem| ExportReport {
        rows: n,
        range: (first.unwrap_or(0), last),
        problem,
    };
    let lines: Vec<&str> = exported.lines().filter(|l| !l.trim().is_empty()).collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(row) = serde_json::from_str::<Value>(line)
            .ok()
            .as_ref()
            .and_then(AuditRow::from_ecs)
        else {
            return Ok(report(
                n,
                first,
                0,
                Some(format!("line {}: not an audit record", i + 1)),
            ));
        };
        let last = row.seq;
        if let Some(p) = &prev {
            if row.seq != p.seq + 1 {
                return Ok(report(
                    n,
                    first,
                    last,
                    Some(format!("record {} follows {}: a row is missing", row.seq, p.seq)),
                ));
            }
            if row.prev_hash != p.hash {
                return Ok(report(
                    n,
                    first,
                    last,
                    Some(format!(
                        "record {}: prev_hash does not match record {}",
                        row.seq, p.seq
                    )),
                ));
            }
        }
        if chain_hash(&row.prev_hash, row.seq, row.ts_ms, &row.event).as_slice() != row.hash.as_slice() {
            return Ok(report(
                n,
                first,
                last,
                Some(format!(
                    "record {}: contents do not match its hash (edited)",
                    row.seq
                )),
            ));
        }
        // the range's ends are the store's own rows: the chain between them is then the store's
        if prev.is_none() || i + 1 == lines.len() {
            let stored = rows_after(&conn, row.seq - 1, 1)?;
            match stored.first() {
                Some(s) if s.seq == row.seq && s.hash == row.hash => {}
                _ => {
                    return Ok(report(
                        n,
                        first,
                        last,
                        Some(format!(
                            "record {}: not the store's row {} (another chain)",
                            row.seq, row.seq
                        )),
                    ));
                }
            }
        }
        first.get_or_insert(row.seq);
        n += 1;
        prev = Some(row);
    }
    let last = prev.as_ref().map_or(0, |p| p.seq);
    Ok(report(n, first, last, None))
}
