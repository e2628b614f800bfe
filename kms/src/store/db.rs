//! The store's two engines behind one small interface, so that every statement of the store is
//! written once (docs/DESIGN.md "PostgreSQL store"): an embedded SQLite file, or a PostgreSQL
//! database shared by several instances.
//!
//! - Statements use SQLite's `?N` placeholders; for PostgreSQL they are rewritten to `$N`.
//! - Parameters and columns are a tiny [`Value`] enum (integer, text, bytes, null).
//! - A write transaction ([`Db::begin_write`]) is serialized across every process sharing the
//!   database: `BEGIN IMMEDIATE` on SQLite (the file's single writer lock); on PostgreSQL
//!   `READ COMMITTED` plus the transaction-scoped advisory lock [`WRITE_LOCK`], taken before the
//!   transaction reads anything, so each writer sees every write committed before it.
//! - A read transaction ([`Db::begin_read`]) sees one snapshot (`REPEATABLE READ READ ONLY` on
//!   PostgreSQL).
//!
//! The PostgreSQL client (the synchronous `postgres` crate) runs its own small runtime, which may
//! not be entered from an async task; so the client lives on a thread of its own and statements
//! are sent to it. A lost connection is dropped and made again by the next statement: requests
//! in between fail with [`StoreError::Unavailable`] (503 `KMS_UNAVAILABLE`).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use super::{Result, StoreError};

/// Key of the PostgreSQL advisory lock held by every write transaction (ASCII `keyseal` as an
/// integer): the same role as SQLite's write lock.
pub const WRITE_LOCK: i64 = 0x006b_6579_7365_616c;

/// Where a store lives: `--db` is a file path or a `postgres://` / `postgresql://` URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// An SQLite file.
    File(PathBuf),
    /// A PostgreSQL connection URL (may carry a password: never printed, see [`Self::display`]).
    Postgres(String),
}

impl std::fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

impl DbLocation {
    /// What `--db` names.
    pub fn parse(db: &Path) -> DbLocation {
        match db.to_str() {
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                DbLocation::Postgres(s.to_string())
            }
            _ => DbLocation::File(db.to_path_buf()),
        }
    }

    /// For messages: the file path, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            DbLocation::File(p) => p.display().to_string(),
            DbLocation::Postgres(url) => redact(url),
        }
    }
}

/// A PostgreSQL URL with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.into();
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) if q.contains("password") => (r, "?***".to_string()),
        Some((r, q)) => (r, format!("?{q}")),
        None => (rest, String::new()),
    };
    let host = match rest.rfind('@') {
        Some(i) => {
            let auth = &rest[..i];
            let user = auth.split(':').next().unwrap_or("");
            let hidden = if auth.contains(':') { ":***" } else { "" };
            format!("{user}{hidden}@{}", &rest[i + 1..])
        }
        None => rest.to_string(),
    };
    format!("{scheme}://{host}{query}")
}

/// A parameter or a column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (SQLite INTEGER, PostgreSQL BIGINT; also booleans as 0/1).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (SQLite BLOB, PostgreSQL BYTEA).
    Bytes(Vec<u8>),
}

impl Value {
    /// The kind of value, for messages (never the value: it may be a sealed secret).
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int(_) => "an integer",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
        }
    }
}

/// A parameter value, by reference (`params![a, b]` borrows its arguments).
pub trait ToValue {
    /// The value.
    fn to_value(&self) -> Value;
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}
impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.into())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Bytes(self.clone())
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// Parameters of a statement: `params![a, b]`.
macro_rules! params {
    () => { Vec::<$crate::store::db::Value>::new() };
    ($($x:expr),+ $(,)?) => { vec![$($crate::store::db::ToValue::to_value(&$x)),+] };
}
pub(crate) use params;

/// A value read from a column.
pub trait FromValue: Sized {
    /// Converts, or says what was found.
    fn from_value(v: &Value) -> std::result::Result<Self, String>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i),
            o => Err(format!("expected an integer, found {}", o.kind())),
        }
    }
}
impl FromValue for u32 {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        let i = i64::from_value(v)?;
        u32::try_from(i).map_err(|_| format!("{i} is out of range"))
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        Ok(i64::from_value(v)? != 0)
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            o => Err(format!("expected text, found {}", o.kind())),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Bytes(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            o => Err(format!("expected bytes, found {}", o.kind())),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(Vec<Value>);

impl Row {
    /// Column `i`, converted.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self
            .0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {i}")))?;
        T::from_value(v).map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
    }
}

/// `?N` placeholders to `$N` (outside quoted literals), for PostgreSQL.
pub fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '?' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// A database connection of either engine.
pub enum Db {
    /// The embedded SQLite file.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL database.
    Pg(PgConn),
}

fn sqlite_value(v: &Value) -> rusqlite::types::ToSqlOutput<'_> {
    use rusqlite::types::{ToSqlOutput, ValueRef};
    ToSqlOutput::Borrowed(match v {
        Value::Null => ValueRef::Null,
        Value::Int(i) => ValueRef::Integer(*i),
        Value::Text(s) => ValueRef::Text(s.as_bytes()),
        Value::Bytes(b) => ValueRef::Blob(b),
    })
}

struct SqliteParam<'a>(&'a Value);
impl rusqlite::ToSql for SqliteParam<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(sqlite_value(self.0))
    }
}

fn sqlite_row(r: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match r.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Int(v),
            ValueRef::Real(f) => Value::Int(f as i64),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
        });
    }
    Ok(Row(out))
}

impl Db {
    /// Rows of a query.
    pub fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>> {
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let ps: Vec<SqliteParam<'_>> = params.iter().map(SqliteParam).collect();
                let rows = st.query_map(rusqlite::params_from_iter(ps.iter()), |r| sqlite_row(r, n))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Db::Pg(p) => p.query(dollar_placeholders(sql), params),
        }
    }

    /// The first row of a query, if any.
    pub fn query_opt(&self, sql: &str, params: Vec<Value>) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The one row of a query (an aggregate).
    pub fn query_one(&self, sql: &str, params: Vec<Value>) -> Result<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Corrupt("a query returned no row".into()))
    }

    /// Runs a statement; returns the rows changed.
    pub fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64> {
        match self {
            Db::Sqlite(c) => {
                let ps: Vec<SqliteParam<'_>> = params.iter().map(SqliteParam).collect();
                let n = c
                    .prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(ps.iter()))?;
                Ok(n as u64)
            }
            Db::Pg(p) => p.execute(dollar_placeholders(sql), params),
        }
    }

    /// Runs statements without parameters (schema).
    pub fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Pg(p) => p.batch(sql.to_string()),
        }
    }

    /// A write transaction, serialized with every other writer of the database.
    pub fn begin_write(&self) -> Result<Tx<'_>> {
        match self {
            Db::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
            Db::Pg(p) => {
                let begun = p.batch(format!(
                    "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
                ));
                if begun.is_err() {
                    let _ = p.batch("ROLLBACK".into());
                }
                begun?
            }
        }
        Ok(Tx {
            db: self,
            done: false,
        })
    }

    /// A read-only transaction: one consistent snapshot.
    pub fn begin_read(&self) -> Result<Tx<'_>> {
        match self {
            Db::Sqlite(c) => c.execute_batch("BEGIN DEFERRED")?,
            Db::Pg(p) => p.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".into())?,
        }
        Ok(Tx {
            db: self,
            done: false,
        })
    }

    /// Whether this is the PostgreSQL engine.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Pg(_))
    }
}

/// An open transaction: rolled back when dropped without [`Tx::commit`].
pub struct Tx<'a> {
    db: &'a Db,
    done: bool,
}

impl Tx<'_> {
    /// Commits.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        self.db.batch("COMMIT")
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.db.batch("ROLLBACK");
        }
    }
}

// ---- PostgreSQL ----

/// The connection thread's state.
struct PgState {
    config: postgres::Config,
    client: Option<postgres::Client>,
    /// Prepared statements of `client`, by text.
    statements: std::collections::HashMap<String, postgres::Statement>,
    /// Inside `BEGIN` … `COMMIT`/`ROLLBACK`: a lost connection is not made again until the
    /// transaction ends, so no statement of a transaction ever runs outside it.
    in_tx: bool,
}

type Job = Box<dyn FnOnce(&mut PgState) + Send>;

/// A PostgreSQL connection on a thread of its own, made again after it is lost.
pub struct PgConn {
    jobs: mpsc::Sender<Job>,
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // The server's message (a trigger's refusal, a constraint) or the connection's failure;
        // never the URL.
        match e.as_db_error() {
            Some(db) => StoreError::Unavailable(format!("PostgreSQL: {}", db.message())),
            None => StoreError::Unavailable(format!("PostgreSQL unavailable: {e}")),
        }
    }
}

/// A PostgreSQL parameter.
#[derive(Debug)]
struct PgParam(Value);

impl postgres::types::ToSql for PgParam {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::{IsNull, Type};
        match &self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::BOOL => (*v != 0).to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Bytes(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn pg_row(r: &postgres::Row) -> std::result::Result<Row, postgres::Error> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let t = c.type_();
        let v = if *t == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *t == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?.map(|v| Value::Int(v.into()))
        } else if *t == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?.map(|v| Value::Int(v.into()))
        } else if *t == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?.map(|v| Value::Int(v.into()))
        } else if *t == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes)
        } else if *t == Type::VOID {
            None
        } else {
            r.try_get::<_, Option<String>>(i)?.map(Value::Text)
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

fn gone() -> StoreError {
    StoreError::Unavailable("the PostgreSQL connection thread is gone".into())
}

fn lost() -> StoreError {
    StoreError::Unavailable("PostgreSQL unavailable: the connection was lost during a transaction".into())
}

/// What a statement sent to the connection thread does to the transaction state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TxEffect {
    None,
    Begin,
    End,
}

impl PgState {
    /// A live client: the current one, or a new connection when there is none (outside a
    /// transaction only).
    fn client(&mut self) -> Result<&mut postgres::Client> {
        if self.client.as_ref().is_some_and(postgres::Client::is_closed) {
            self.client = None;
            self.statements.clear();
        }
        if self.client.is_none() {
            if self.in_tx {
                return Err(lost());
            }
            self.client = Some(self.config.connect(postgres::NoTls)?);
        }
        self.client.as_mut().ok_or_else(gone)
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let st = self.client()?.prepare(sql)?;
        if self.statements.len() > 256 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// Drops a connection that failed (closed, or a transport error).
    fn after<R>(&mut self, r: std::result::Result<R, postgres::Error>) -> Result<R> {
        if let Err(e) = &r
            && (e.is_closed() || e.as_db_error().is_none())
            && self.client.as_ref().is_none_or(postgres::Client::is_closed)
        {
            self.client = None;
            self.statements.clear();
        }
        Ok(r?)
    }
}

impl PgConn {
    /// Starts the connection thread and connects once (an unreachable database is an error).
    pub fn open(url: &str) -> Result<PgConn> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("bad PostgreSQL URL {}: {e}", redact(url))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("keyseal-kms");
        }
        // A database that vanishes without closing the connection (a partition, a dead host) is
        // noticed by TCP keepalives within about 11 s, and no statement waits longer than 30 s,
        // so requests answer `Unavailable` instead of hanging; the URL may set its own.
        if !url.contains("keepalives") {
            config
                .keepalives(true)
                .keepalives_idle(Duration::from_secs(5))
                .keepalives_interval(Duration::from_secs(2))
                .keepalives_retries(3);
        }
        if config.get_options().is_none() {
            config.options("-c statement_timeout=30000");
        }
        let (jobs, rx) = mpsc::channel::<Job>();
        let mut state = PgState {
            config,
            client: None,
            statements: std::collections::HashMap::new(),
            in_tx: false,
        };
        std::thread::Builder::new()
            .name("keyseal-kms-postgres".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&mut state);
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the PostgreSQL thread: {e}")))?;
        let conn = PgConn { jobs };
        conn.on_thread(|s| s.client().map(|_| ()))?;
        Ok(conn)
    }

    fn on_thread<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut PgState) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Box::new(move |s: &mut PgState| {
                let _ = tx.send(f(s));
            }))
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }

    fn query(&self, sql: String, params: Vec<Value>) -> Result<Vec<Row>> {
        self.on_thread(move |s| {
            let st = s.statement(&sql)?;
            let ps: Vec<PgParam> = params.into_iter().map(PgParam).collect();
            let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = ps
                .iter()
                .map(|p| p as &(dyn postgres::types::ToSql + Sync))
                .collect();
            let r = s.client()?.query(&st, &refs).and_then(|rows| {
                rows.iter()
                    .map(pg_row)
                    .collect::<std::result::Result<Vec<_>, _>>()
            });
            s.after(r)
        })
    }

    fn execute(&self, sql: String, params: Vec<Value>) -> Result<u64> {
        self.on_thread(move |s| {
            let st = s.statement(&sql)?;
            let ps: Vec<PgParam> = params.into_iter().map(PgParam).collect();
            let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = ps
                .iter()
                .map(|p| p as &(dyn postgres::types::ToSql + Sync))
                .collect();
            let r = s.client()?.execute(&st, &refs);
            s.after(r)
        })
    }

    fn batch_with(&self, sql: String, effect: TxEffect) -> Result<()> {
        self.on_thread(move |s| {
            if effect == TxEffect::End && s.client.as_ref().is_none_or(postgres::Client::is_closed) {
                // The connection (and with it the transaction) is gone: nothing to end.
                s.in_tx = false;
                return if sql.trim_start().starts_with("ROLLBACK") {
                    Ok(())
                } else {
                    Err(lost())
                };
            }
            let r = s.client()?.batch_execute(&sql);
            match effect {
                TxEffect::Begin => s.in_tx = r.is_ok(),
                TxEffect::End => s.in_tx = false,
                TxEffect::None => {}
            }
            s.after(r)
        })
    }

    fn batch(&self, sql: String) -> Result<()> {
        let effect = match sql.split_whitespace().next() {
            Some("BEGIN") => TxEffect::Begin,
            Some("COMMIT" | "ROLLBACK") => TxEffect::End,
            _ => TxEffect::None,
        };
        self.batch_with(sql, effect)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_literals_only() {
        assert_eq!(
            dollar_placeholders("SELECT a FROM t WHERE k=?1 AND v='?2' AND w=?12"),
            "SELECT a FROM t WHERE k=$1 AND v='?2' AND w=$12"
        );
    }

    #[test]
    fn a_url_is_printed_without_its_password() {
        let loc = DbLocation::parse(Path::new("postgres://kms:s3cret@db:5432/keyseal"));
        assert!(matches!(loc, DbLocation::Postgres(_)));
        assert_eq!(loc.display(), "postgres://kms:***@db:5432/keyseal");
        assert!(!format!("{loc:?}").contains("s3cret"));
        assert_eq!(
            redact("postgresql://db/keyseal?user=kms&password=s3cret"),
            "postgresql://db/keyseal?***"
        );
        assert!(matches!(
            DbLocation::parse(Path::new("/var/lib/kms.db")),
            DbLocation::File(_)
        ));
    }
}
