//! `keyseal-kms`: the command line of the reference key service (docs/PROTOCOL.md §8.3). Every
//! command is a call into the `keyseal_kms` library.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use keyseal_kms::admin::{Actor, AdminOp, decode_arg};
use keyseal_kms::auth::{self, MintOptions, Role, Verifier};
use keyseal_kms::identity::Identity;
use keyseal_kms::master::MasterKey;
use keyseal_kms::pkcs11::Pkcs11Key;
use keyseal_kms::policy::{Policy, parse_duration_secs, rotation_period};
use keyseal_kms::server::{ServeOptions, Server};
use keyseal_kms::store::AuditEvent;
use keyseal_kms::store::{self, Store};
use keyseal_kms::tls::TlsFiles;
use keyseal_kms::{Error, Result, Service};

#[derive(Parser)]
#[command(
    name = "keyseal-kms",
    version,
    about = "Reference customer key service for keyseal (protocol v1)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// The database: an SQLite file (created when absent), or a PostgreSQL URL
    /// (`postgres://user@host:port/dbname`) shared by several instances.
    #[arg(long)]
    db: PathBuf,
    /// Master key file (base64 of 32 bytes). Default: `<db>.master-key`.
    /// `KEYSEAL_KMS_MASTER_KEY` (base64) takes precedence.
    #[arg(long)]
    master_key_file: Option<PathBuf>,
    /// The master key in an HSM: an RFC 7512 PKCS#11 URI, e.g.
    /// `pkcs11:token=kms;object=master?module-path=/usr/lib/softhsm/libsofthsm2.so`.
    /// PIN from `pin-source=file:PATH` / `pin-source=env:NAME` or KEYSEAL_KMS_PKCS11_PIN.
    #[arg(long, conflicts_with = "master_key_file")]
    master_key: Option<String>,
}

// Parsed once per process: the size of the `serve` variant (its flags) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    /// Create the master key file, the local token issuer, the import key and the identity key
    /// for a database (each only when absent).
    Init {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Run the HTTP key service.
    Serve(ServeArgs),
    /// Key management.
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// Tokens from the local issuer (development and tests).
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// Audit log.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Backups: a consistent snapshot in one file, restored and verified by restoring it.
    Backup {
        #[command(subcommand)]
        cmd: BackupCmd,
    },
    /// The master key in an HSM (PKCS#11).
    MasterKey {
        #[command(subcommand)]
        cmd: MasterKeyCmd,
    },
    /// The service identity key that signs every answer (PROTOCOL.md §6.3).
    Identity {
        #[command(subcommand)]
        cmd: IdentityCmd,
    },
    /// Print what `apply` would change to make the store match a policy file (PROTOCOL.md §8.6).
    Plan {
        #[command(flatten)]
        db: DbArgs,
        /// The policy file (TOML).
        file: PathBuf,
        /// `text` or `json`.
        #[arg(long, default_value = "text")]
        format: String,
        /// Exit with status 1 when the store differs from the policy (a drift check for CI).
        #[arg(long)]
        check: bool,
    },
    /// Make the store match a policy file, idempotently; every change is audited with the file's
    /// revision. Destructive changes (disable, destroy, removing an issuer) need
    /// `--allow-destructive`; without it nothing is applied.
    Apply {
        #[command(flatten)]
        db: DbArgs,
        /// The policy file (TOML).
        file: PathBuf,
        /// Also make destructive changes.
        #[arg(long)]
        allow_destructive: bool,
    },
}

#[derive(Subcommand)]
enum BackupCmd {
    /// Write a consistent snapshot of keys, versions, states, service secrets and the audit log
    /// to a new file. Roots stay sealed under the master key, or are re-sealed to a backup
    /// recipient (`--recipient`, from `backup keygen`) for restores without the master key.
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// The backup file (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Re-seal every root to this backup recipient public key (standard base64 of the
        /// 65-byte uncompressed P-256 point printed by `backup keygen`).
        #[arg(long)]
        recipient: Option<String>,
    },
    /// Restore a backup into a new, empty store (`--db`). A backup sealed under the master key
    /// needs that master key (key file or HSM); one sealed to a recipient needs `--backup-key`
    /// and gets the store's own master key (created when absent).
    Restore {
        #[command(flatten)]
        db: DbArgs,
        /// The backup file.
        file: PathBuf,
        /// The backup recipient's private key file (from `backup keygen`).
        #[arg(long)]
        backup_key: Option<PathBuf>,
    },
    /// Prove a backup restores: restore it into a scratch store, open every root and match it
    /// with its public key, verify the audit chain. The live store (`--db`) gives the master key
    /// and records the success for `/metrics`.
    Verify {
        #[command(flatten)]
        db: DbArgs,
        /// The backup file.
        file: PathBuf,
        /// The backup recipient's private key file, for backups sealed to a recipient.
        #[arg(long)]
        backup_key: Option<PathBuf>,
    },
    /// Make a backup recipient key pair: the private key goes to `--out` (mode 0600, keep it
    /// offline); the public key is printed, for `backup create --recipient`.
    Keygen {
        /// Where to write the private key (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum MasterKeyCmd {
    /// Generate an AES-256 master key in a PKCS#11 token (token object, sensitive, never
    /// extractable). The URI names the token and the key's label (`object=`) or `id=`.
    Create {
        /// RFC 7512 PKCS#11 URI.
        uri: String,
    },
    /// Move a store to another master key (typically from a key file to an HSM): every root and
    /// service secret is re-sealed under the new key in one transaction. Afterwards only the new
    /// key opens the store; backups made before still need the old one.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
        /// The new master key: a PKCS#11 URI.
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum IdentityCmd {
    /// Print the identity public key, for clients to pin.
    Show {
        #[command(flatten)]
        db: DbArgs,
        /// `base64`: standard base64 of the uncompressed SEC1 point; `jwk`: an RFC 7517 JWK.
        #[arg(long, value_enum, default_value_t = IdentityFormat::Base64)]
        format: IdentityFormat,
    },
}

/// How `identity show` prints the public key.
#[derive(Clone, Copy, clap::ValueEnum)]
enum IdentityFormat {
    /// Standard base64 of the 65-byte uncompressed SEC1 point.
    Base64,
    /// An EC P-256 JWK.
    Jwk,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on (port 0 picks a free port; the URL line tells which).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Development mode (loopback only): create the master key, the local issuer and
    /// `acme/default` when absent, and print a writer token for tenant `acme`.
    #[arg(long)]
    dev: bool,
    /// Allowed CORS origin (repeatable; `*` allows any origin).
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
    /// Trusted issuer: JWKS file with an `issuer` member (repeatable).
    #[arg(long = "issuer")]
    issuers: Vec<PathBuf>,
    /// Audience tokens must carry.
    #[arg(long, default_value = auth::DEFAULT_AUDIENCE)]
    audience: String,
    /// Do not trust the local issuer even if it exists.
    #[arg(long)]
    no_local_issuer: bool,
    /// Request body limit in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_body: usize,
    /// Requests in flight (queued or running) before answering `Throttled` (429).
    #[arg(long, default_value_t = 4096)]
    max_in_flight: usize,
    /// Requests processed at once (crypto + store); the rest wait in FIFO order.
    /// Default: twice the number of CPU cores.
    #[arg(long)]
    workers: Option<usize>,
    /// Also send every audit record, as it is committed, to a SIEM sink: `stdout`, `file:PATH`
    /// (JSON lines) or `syslog:HOST:PORT` (RFC 5424 over UDP); ECS fields (PROTOCOL.md §9.1).
    #[arg(long)]
    audit_sink: Option<keyseal_kms::siem::Sink>,
    /// Export one OpenTelemetry span per protocol request over OTLP/HTTP (protobuf) to this
    /// collector, e.g. `http://127.0.0.1:4318` (`/v1/traces` is appended). Off by default.
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// Serve HTTPS: PEM certificate chain (leaf first). Reloaded with the key on SIGHUP
    /// (connections already open are kept; new ones get the new certificate).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Serve HTTPS: PEM private key of the certificate.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve Google Workspace CSE's KACLS API under /kacls/v1, wrapping DEKs under this key
    /// (TENANT/NAME; it must exist). Needs --kacls-authn-issuer and --kacls-authz-issuer.
    #[arg(long, requires_all = ["kacls_authn_issuers", "kacls_authz_issuers"])]
    kacls_key: Option<String>,
    /// KACLS: the customer IdP's JWKS file with an `issuer` member (repeatable).
    #[arg(long = "kacls-authn-issuer", requires = "kacls_key")]
    kacls_authn_issuers: Vec<PathBuf>,
    /// KACLS: the application's authorization issuer, JWKS file with an `issuer` member (repeatable).
    #[arg(long = "kacls-authz-issuer", requires = "kacls_key")]
    kacls_authz_issuers: Vec<PathBuf>,
    /// KACLS: this server's public KACLS URL, which authorization tokens' `kacls_url` must equal
    /// (default: the listener's base URL + /kacls/v1).
    #[arg(long, requires = "kacls_key")]
    kacls_url: Option<String>,
    /// KACLS: audience of authentication tokens.
    #[arg(long, default_value = keyseal_kms::kacls_tokens::DEFAULT_AUTHN_AUDIENCE)]
    kacls_authn_audience: String,
    /// KACLS: an email allowed to call privilegedunwrap (repeatable; none by default).
    #[arg(long = "kacls-privileged-email", requires = "kacls_key")]
    kacls_privileged_emails: Vec<String>,
}

impl ServeArgs {
    fn options(self) -> ServeOptions {
        ServeOptions {
            db: self.db.db,
            master_key_file: self.db.master_key_file,
            master_key: self.db.master_key,
            listen: self.listen,
            dev: self.dev,
            cors_origins: self.cors_origins,
            issuers: self.issuers,
            audience: self.audience,
            no_local_issuer: self.no_local_issuer,
            max_body: self.max_body,
            max_in_flight: self.max_in_flight,
            workers: self.workers,
            otlp_endpoint: self.otlp_endpoint,
            tls: self
                .tls_cert
                .zip(self.tls_key)
                .map(|(cert, key)| TlsFiles { cert, key }),
            kacls: self.kacls_key.map(|key_id| keyseal_kms::kacls::KaclsOptions {
                key_id,
                authn_issuers: self.kacls_authn_issuers,
                authz_issuers: self.kacls_authz_issuers,
                url: self.kacls_url,
                authn_audience: self.kacls_authn_audience,
                privileged_emails: self.kacls_privileged_emails,
            }),
        }
    }
}

#[derive(Args)]
struct KeyRef {
    #[command(flatten)]
    db: DbArgs,
    /// Key id `tenant/name`.
    key_id: String,
    /// Reason recorded in the audit log.
    #[arg(long)]
    reason: Option<String>,
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Create a key whose material the service generates (version 1).
    Create {
        #[command(flatten)]
        key: KeyRef,
        /// Rotate it on a schedule: a period (`90d`, `12h`; at least `1m`).
        #[arg(long)]
        rotate_every: Option<String>,
    },
    /// Set the rotation period of a generated key (`--rotate-every 30d`) or clear it (`off`).
    Set {
        #[command(flatten)]
        key: KeyRef,
        /// A period (`90d`, `12h`; at least `1m`) or `off`.
        #[arg(long)]
        rotate_every: String,
    },
    /// Rotate every key whose scheduled rotation is due (`serve` does this every 30 s).
    RotateDue {
        #[command(flatten)]
        db: DbArgs,
        /// The time to act at (RFC 3339) instead of the clock.
        #[arg(long)]
        now: Option<String>,
    },
    /// Print every key's rotation schedule (JSON lines).
    Schedule {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Add a new generated version; new wraps use it, old versions still unwrap.
    Rotate(KeyRef),
    /// Revoke: every use is refused from the next request on.
    Disable(KeyRef),
    /// Enable a disabled key.
    Enable(KeyRef),
    /// Schedule destruction after a grace period (cancelable until then).
    Destroy {
        #[command(flatten)]
        key: KeyRef,
        /// Grace period: seconds, or a number with s/m/h/d.
        #[arg(long, default_value = "7d")]
        grace: String,
    },
    /// Cancel a scheduled destruction before its time (the key comes back disabled).
    CancelDestroy(KeyRef),
    /// Import customer key material HPKE-sealed to the import key: creates an external (BYOK)
    /// key, or adds a version to one. Keys made by `create` refuse imports.
    Import {
        #[command(flatten)]
        key: KeyRef,
        /// HPKE `enc` (base64).
        #[arg(long)]
        enc: String,
        /// HPKE ciphertext of the 32-byte material (base64).
        #[arg(long)]
        ciphertext: String,
    },
    /// Print the service's import public key (JWK).
    ImportKey {
        #[command(flatten)]
        db: DbArgs,
    },
    /// List keys.
    List {
        #[command(flatten)]
        db: DbArgs,
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Show one key.
    Show(KeyRef),
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Mint a token signed by the local issuer; prints the JWT alone.
    Mint {
        #[command(flatten)]
        db: DbArgs,
        /// Tenant claim.
        #[arg(long)]
        tenant: String,
        /// Role: reader, writer or admin.
        #[arg(long)]
        role: String,
        /// Lifetime in seconds (may be negative, to test expiry).
        #[arg(long, default_value_t = 3600, allow_negative_numbers = true)]
        ttl: i64,
        /// Subject claim.
        #[arg(long, default_value = "dev")]
        sub: String,
        /// Audience claim.
        #[arg(long, default_value = auth::DEFAULT_AUDIENCE)]
        aud: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the hash chain of the audit log; exit status 1 when broken. With `--exported`, check
    /// an `audit export` file instead: its chain, and that its ends are this store's rows.
    Verify {
        /// The database: an SQLite file or a PostgreSQL URL.
        #[arg(long)]
        db: PathBuf,
        /// A file written by `audit export`.
        #[arg(long)]
        exported: Option<PathBuf>,
    },
    /// Print audit records as JSON lines with ECS fields and the chain hashes (PROTOCOL.md §9.1).
    Export {
        /// The database: an SQLite file or a PostgreSQL URL.
        #[arg(long)]
        db: PathBuf,
        /// Records from this point: a sequence number (exclusive) or an RFC 3339 time (inclusive).
        #[arg(long)]
        since: Option<String>,
        /// Output format (only `jsonl`).
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
}

fn open_store(db: &DbArgs, create_master: bool) -> Result<Store> {
    let master = store::open_master_key(
        &db.db,
        db.master_key_file.as_deref(),
        db.master_key.as_deref(),
        create_master,
    )?;
    Ok(Store::open(&db.db, master)?)
}

fn service_for(db: &DbArgs) -> Result<Service> {
    let store = open_store(db, false)?;
    store.sweep_destroyed()?;
    Service::new(store, Verifier::new(auth::DEFAULT_AUDIENCE))
}

/// `identity show`: the public key only; a database without an identity key is refused (it is
/// made by `init` and `serve`), never given one here.
fn identity_show(db: &DbArgs, format: IdentityFormat) -> Result<()> {
    let identity = Identity::open(&open_store(db, false)?, false)?;
    match format {
        IdentityFormat::Base64 => print_line(&identity.public_base64()),
        IdentityFormat::Jwk => print_json(&identity.jwk()?),
    }
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::Internal(e.to_string()))?;
    print_line(&s)
}

fn print_line(s: &str) -> Result<()> {
    // A reader that closed early (`| head`) is not an error worth a panic: stop quietly.
    match writeln!(std::io::stdout().lock(), "{s}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Internal(e.to_string())),
        _ => Ok(()),
    }
}

/// Parses `90`, `90s`, `15m`, `2h`, `7d`.
fn key_cmd(cmd: KeyCmd) -> Result<()> {
    let actor = Actor::cli();
    let (db, key_id, reason, op) = match cmd {
        KeyCmd::Create {
            key,
            rotate_every: None,
        } => (key.db, key.key_id, key.reason, AdminOp::Create),
        KeyCmd::Create {
            key,
            rotate_every: Some(every),
        } => {
            let every = rotation_period(&every)?;
            let service = service_for(&key.db)?;
            let info = service.admin(&actor, &key.key_id, AdminOp::Create, key.reason.as_deref())?;
            service
                .store()
                .set_rotation_period(&key.key_id, every, store::now_ms(), "cli")?;
            return print_json(&info);
        }
        KeyCmd::Set { key, rotate_every } => {
            let every = rotation_period(&rotate_every)?;
            let row = service_for(&key.db)?.store().set_rotation_period(
                &key.key_id,
                every,
                store::now_ms(),
                "cli",
            )?;
            return print_schedule(&[row]);
        }
        KeyCmd::RotateDue { db, now } => {
            let now = match now {
                None => store::now_ms(),
                Some(t) => {
                    let t = humantime::parse_rfc3339_weak(&t)
                        .map_err(|e| Error::InvalidRequest(format!("--now {t}: {e}")))?;
                    let ms = t
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis());
                    i64::try_from(ms).unwrap_or(i64::MAX)
                }
            };
            for (key_id, version) in service_for(&db)?.store().rotate_due(now)? {
                println!(
                    "{}",
                    serde_json::json!({ "key_id": key_id, "rotated_to": version })
                );
            }
            return Ok(());
        }
        KeyCmd::Schedule { db } => return print_schedule(&service_for(&db)?.store().schedules(None)?),
        KeyCmd::Rotate(k) => (k.db, k.key_id, k.reason, AdminOp::Rotate),
        KeyCmd::Disable(k) => (k.db, k.key_id, k.reason, AdminOp::Disable),
        KeyCmd::Enable(k) => (k.db, k.key_id, k.reason, AdminOp::Enable),
        KeyCmd::CancelDestroy(k) => (k.db, k.key_id, k.reason, AdminOp::CancelDestroy),
        KeyCmd::Show(k) => (k.db, k.key_id, k.reason, AdminOp::Show),
        KeyCmd::Destroy { key, grace } => {
            let grace_secs = parse_duration_secs(&grace)?;
            (key.db, key.key_id, key.reason, AdminOp::Destroy { grace_secs })
        }
        KeyCmd::Import { key, enc, ciphertext } => {
            let op = AdminOp::Import {
                enc: decode_arg("enc", &enc)?,
                ciphertext: decode_arg("ciphertext", &ciphertext)?,
            };
            (key.db, key.key_id, key.reason, op)
        }
        KeyCmd::ImportKey { db } => return print_json(&service_for(&db)?.import_key(&actor)?),
        KeyCmd::List { db, tenant } => {
            return print_json(&service_for(&db)?.admin_list(&actor, tenant.as_deref())?);
        }
    };
    let info = service_for(&db)?.admin(&actor, &key_id, op, reason.as_deref())?;
    print_json(&info)
}

/// Schedules as JSON lines (times in Unix ms).
fn print_schedule(rows: &[store::ScheduleRow]) -> Result<()> {
    for r in rows {
        println!(
            "{}",
            serde_json::json!({
                "key_id": r.key_id, "tenant": r.tenant, "rotate_every_ms": r.every_ms,
                "next_rotation_at_ms": r.next_at_ms, "primary_version": r.primary_version,
                "primary_since_ms": r.primary_since_ms,
            })
        );
    }
    Ok(())
}

fn mint(db: &DbArgs, tenant: &str, role: &str, ttl_secs: i64, subject: &str, audience: &str) -> Result<()> {
    let role = Role::parse(role)
        .ok_or_else(|| Error::InvalidRequest("role must be reader, writer or admin".into()))?;
    let store = open_store(db, false)?;
    let opts = MintOptions {
        tenant,
        role,
        subject,
        audience,
        ttl_secs,
    };
    let token = auth::mint_local(&store, &opts)?;
    println!("{}", token.expose_secret());
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<()> {
    let sink = args.audit_sink.clone().map(|s| (args.db.db.clone(), s));
    let opts = args.options();
    let server = Server::bind(&opts).await?;
    let addr = server.local_addr();
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "KEYSEAL_KMS_URL={}", server.url());
        let _ = writeln!(out, "KEYSEAL_KMS_IDENTITY={}", server.identity().public_base64());
        if let Some(u) = server.kacls_url() {
            let _ = writeln!(out, "KEYSEAL_KACLS_URL={u}");
        }
        if let Some(t) = server.dev_token() {
            let _ = writeln!(out, "KEYSEAL_DEV_TOKEN={}", t.expose_secret());
        }
        let _ = out.flush();
    }
    if !addr.ip().is_loopback() && !server.is_tls() {
        eprintln!(
            "keyseal-kms: warning: serving plain HTTP on {addr}; serve TLS with --tls-cert and \
             --tls-key, or terminate it in front (the protocol requires https off loopback)"
        );
    }
    if opts.dev {
        eprintln!(
            "keyseal-kms: dev mode. Mint more tokens with:\n  keyseal-kms token mint --db {} --tenant acme --role reader|writer|admin",
            store::DbLocation::parse(&opts.db).display()
        );
    }
    if let Some((db, sink)) = sink {
        tokio::spawn(keyseal_kms::siem::follow(
            db,
            sink,
            std::time::Duration::from_millis(100),
        ));
    }
    server.run(shutdown()).await
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}

fn audit_verify(db: &Path) -> Result<bool> {
    if matches!(store::DbLocation::parse(db), store::DbLocation::File(_)) && !db.exists() {
        return Err(Error::InvalidRequest(format!("{} does not exist", db.display())));
    }
    // Verification needs no master key: the chain is plain SHA-256.
    let report = store::verify_file(db)?;
    match &report.problem {
        None => {
            println!("audit log OK: {} rows, head {}", report.rows, report.head);
            Ok(true)
        }
        Some(p) => {
            println!(
                "audit log BROKEN after {} good rows (head {}): {p}",
                report.rows, report.head
            );
            Ok(false)
        }
    }
}

/// `audit export`: `since` is a sequence number (exclusive) or an RFC 3339 time (inclusive).
fn audit_export(db: &Path, since: Option<&str>, format: &str) -> Result<()> {
    if format != "jsonl" {
        return Err(Error::InvalidRequest(format!("--format {format}: only jsonl")));
    }
    let (after_seq, since_ms) = match since {
        None => (0, 0),
        Some(s) => match s.parse::<i64>() {
            Ok(n) => (n, 0),
            Err(_) => {
                let t = humantime::parse_rfc3339_weak(s)
                    .map_err(|e| Error::InvalidRequest(format!("--since {s}: {e}")))?;
                let ms = t
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                (0, i64::try_from(ms).unwrap_or(i64::MAX))
            }
        },
    };
    let mut out = std::io::stdout().lock();
    keyseal_kms::siem::export(db, after_seq, since_ms, &mut out)?;
    Ok(())
}

/// `audit verify --exported FILE`.
fn audit_verify_export(db: &Path, file: &Path) -> Result<bool> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::InvalidRequest(format!("{}: {e}", file.display())))?;
    let r = keyseal_kms::siem::verify_export(db, &text)?;
    match r.problem {
        None => {
            println!(
                "exported audit range OK: {} records, rows {}..={} of this store's chain",
                r.rows, r.range.0, r.range.1
            );
            Ok(true)
        }
        Some(p) => {
            println!("exported audit range BROKEN after {} good records: {p}", r.rows);
            Ok(false)
        }
    }
}

fn backup_cmd(cmd: BackupCmd) -> Result<()> {
    use keyseal_kms::backup;
    match cmd {
        BackupCmd::Create { db, out, recipient } => {
            let recipient = recipient
                .map(|r| keyseal_kms::crypto::b64::dec(r.trim()))
                .map(|r| r.ok_or_else(|| Error::InvalidRequest("--recipient is not standard base64".into())))
                .transpose()?;
            let store = open_store(&db, false)?;
            let subject = format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            );
            let c = backup::create(&store, &out, recipient.as_deref(), &subject)?;
            eprintln!(
                "keyseal-kms: backup {} written: {} keys, {} versions, {} audit rows",
                out.display(),
                c.keys,
                c.versions,
                c.audit_rows
            );
            Ok(())
        }
        BackupCmd::Restore { db, file, backup_key } => {
            let body = backup::read_file(&file)?;
            let kp = backup_key.as_deref().map(backup::read_backup_key).transpose()?;
            let fresh_master = matches!(body.sealing, backup::Sealing::Recipient { .. });
            let store = open_store(&db, fresh_master)?;
            backup::restore(&store, &body, kp.as_ref())?;
            eprintln!(
                "keyseal-kms: restored {} keys and {} versions into {}",
                body.snapshot.keys.len(),
                body.snapshot.versions.len(),
                store::DbLocation::parse(&db.db).display()
            );
            Ok(())
        }
        BackupCmd::Verify { db, file, backup_key } => {
            let body = backup::read_file(&file)?;
            let kp = backup_key.as_deref().map(backup::read_backup_key).transpose()?;
            let live = open_store(&db, false)?;
            let scratch_dir = scratch_dir()?;
            let scratch_db = scratch_dir.join("verify.db");
            let result = (|| -> Result<backup::Verified> {
                let master = match body.sealing {
                    backup::Sealing::MasterKey => store::open_master_key(
                        &db.db,
                        db.master_key_file.as_deref(),
                        db.master_key.as_deref(),
                        false,
                    )?,
                    backup::Sealing::Recipient { .. } => MasterKey::Local(
                        keyseal_kms::crypto::random_secret()
                            .map_err(|_| Error::Internal("no randomness".into()))?,
                    ),
                };
                let scratch = Store::open(&scratch_db, master)?;
                Ok(backup::verify(&scratch, &body, kp.as_ref())?)
            })();
            let _ = std::fs::remove_dir_all(&scratch_dir);
            let v = result?;
            live.record_backup_verified()?;
            println!(
                "backup OK: {} roots opened and matched their public keys, audit chain of {} rows verified",
                v.roots_checked, v.audit_rows
            );
            Ok(())
        }
        BackupCmd::Keygen { out } => {
            let public = backup::keygen(&out)?;
            println!("{public}");
            Ok(())
        }
    }
}

/// A new private directory for `backup verify`'s scratch store.
fn scratch_dir() -> Result<PathBuf> {
    let mut r = [0u8; 8];
    keyseal_kms::crypto::random(&mut r).map_err(|_| Error::Internal("no randomness".into()))?;
    let name: String = r.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("keyseal-kms-verify-{name}"));
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(&dir)
        .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// `master-key migrate`: re-seals the store under the HSM key, checks that the HSM key opens it,
/// and records the move in the audit log.
fn master_key_migrate(db: &DbArgs, to: &str) -> Result<()> {
    let store = open_store(db, false)?;
    let target = MasterKey::Pkcs11(Pkcs11Key::connect(to)?);
    let described = target.describe();
    let n = store.reseal_all(&target)?;
    drop(store);
    let store = Store::open(&db.db, target)?;
    let event = AuditEvent {
        subject: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        ),
        operation: "master_key.migrate".into(),
        outcome: "ok".into(),
        detail: format!("{n} sealed secrets moved to the {described}"),
        ..AuditEvent::default()
    };
    store.audit(&event)?;
    eprintln!(
        "keyseal-kms: {} now sealed under the {described} ({n} secrets moved). The old master key \
         no longer opens it; keep it only as long as backups made before need it.",
        store::DbLocation::parse(&db.db).display()
    );
    Ok(())
}

fn run(cli: Cli) -> Result<bool> {
    match cli.cmd {
        Cmd::Init { db } => {
            let store = open_store(&db, true)?;
            store.local_issuer_secret(true)?;
            store.import_seed()?;
            Identity::open(&store, true)?;
            eprintln!(
                "keyseal-kms: initialised {}",
                store::DbLocation::parse(&db.db).display()
            );
            Ok(true)
        }
        Cmd::Serve(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Internal(format!("cannot start runtime: {e}")))?;
            rt.block_on(serve(args))?;
            Ok(true)
        }
        Cmd::Key { cmd } => key_cmd(cmd).map(|_| true),
        Cmd::Token {
            cmd:
                TokenCmd::Mint {
                    db,
                    tenant,
                    role,
                    ttl,
                    sub,
                    aud,
                },
        } => mint(&db, &tenant, &role, ttl, &sub, &aud).map(|_| true),
        Cmd::Audit {
            cmd: AuditCmd::Verify { db, exported: None },
        } => audit_verify(&db),
        Cmd::Audit {
            cmd: AuditCmd::Verify {
                db,
                exported: Some(f),
            },
        } => audit_verify_export(&db, &f),
        Cmd::Audit {
            cmd: AuditCmd::Export { db, since, format },
        } => audit_export(&db, since.as_deref(), &format).map(|_| true),
        Cmd::Backup { cmd } => backup_cmd(cmd).map(|_| true),
        Cmd::MasterKey {
            cmd: MasterKeyCmd::Create { uri },
        } => {
            let described = keyseal_kms::pkcs11::create_key(&uri)?;
            eprintln!("keyseal-kms: created the AES-256 master key {described} in the token");
            Ok(true)
        }
        Cmd::MasterKey {
            cmd: MasterKeyCmd::Migrate { db, to },
        } => master_key_migrate(&db, &to).map(|_| true),
        Cmd::Identity {
            cmd: IdentityCmd::Show { db, format },
        } => identity_show(&db, format).map(|_| true),
        Cmd::Plan {
            db,
            file,
            format,
            check,
        } => {
            let policy = Policy::load(&file)?;
            let plan = policy.plan(service_for(&db)?.store())?;
            match format.as_str() {
                "text" => print!("{}", plan.render_text()),
                "json" => print_json(&plan.render_json())?,
                other => return Err(Error::InvalidRequest(format!("--format {other}: text or json"))),
            }
            Ok(!check || plan.changes.is_empty())
        }
        Cmd::Apply {
            db,
            file,
            allow_destructive,
        } => {
            let policy = Policy::load(&file)?;
            let plan = policy.apply(&service_for(&db)?, &Actor::cli(), allow_destructive)?;
            print!("{}", plan.render_text());
            if !plan.changes.is_empty() {
                println!("Applied ({}).", policy.revision);
            }
            Ok(true)
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("keyseal-kms: {} ({})", e.message(), e.name().as_str());
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("90").unwrap(), 90);
        assert_eq!(parse_duration_secs("90s").unwrap(), 90);
        assert_eq!(parse_duration_secs("15m").unwrap(), 900);
        assert_eq!(parse_duration_secs("2h").unwrap(), 7200);
        assert_eq!(parse_duration_secs("7d").unwrap(), 604_800);
        assert!(parse_duration_secs("7w").is_err());
        assert!(parse_duration_secs("-1s").is_err());
        assert!(parse_duration_secs("").is_err());
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
