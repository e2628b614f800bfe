//! `keyseal-kms backup create | restore | verify | keygen` (seed F5, F10, M10): a backup is a
//! consistent snapshot of the store ([`Snapshot`]) in one file, whose roots stay sealed — under
//! the master key (the default), or re-sealed with HPKE to a backup recipient's P-256 public key
//! for offline disaster recovery, restorable without the service's master key (or HSM).
//!
//! File layout (docs/DESIGN.md "Backups"): one header line
//! `keyseal-kms-backup/v1 sha256=<hex> bytes=<n>` then the JSON body of `n` bytes. Anything else
//! — a flipped byte, a truncated file, another format — is refused with a [`BackupError`] before
//! anything is restored. Roots are AEAD-sealed with their key id and version as additional data,
//! so a root moved to another row does not open.

use std::io::Write;
use std::path::Path;

use keyseal_format::hpke_p256::{self, RecipientKeyPair, SealedKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{self, b64};
use crate::store::snapshot::meta_aad;
use crate::store::{AuditEvent, Snapshot, Store, StoreError};

/// The first token of a backup file.
pub const MAGIC: &str = "keyseal-kms-backup/v1";
/// HPKE `info` prefix of blobs re-sealed to a backup recipient (then 0x00 and the blob's AAD).
const RECIPIENT_INFO: &[u8] = b"keyseal-kms/v1 backup";

/// Why a backup was refused. Each variant has a stable code ([`BackupError::code`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    /// `BACKUP_MALFORMED`: not a keyseal-kms backup (no header, bad JSON, unknown format).
    #[error("BACKUP_MALFORMED: {0}")]
    Malformed(String),
    /// `BACKUP_CORRUPT`: the contents do not match the header's SHA-256 or length.
    #[error("BACKUP_CORRUPT: {0}")]
    Corrupt(String),
    /// `BACKUP_TARGET_NOT_EMPTY`: a restore goes into an empty store only.
    #[error("BACKUP_TARGET_NOT_EMPTY: {0}")]
    TargetNotEmpty(String),
    /// `BACKUP_WRONG_KEY`: the backup is sealed under another master key, or to another backup
    /// recipient than the key given, or needs a backup key that was not given.
    #[error("BACKUP_WRONG_KEY: {0}")]
    WrongKey(String),
    /// `BACKUP_VERIFY_FAILED`: restored into a scratch store, something did not check out.
    #[error("BACKUP_VERIFY_FAILED: {0}")]
    VerifyFailed(String),
    /// `BACKUP_IO`: the file or the scratch store could not be written or read.
    #[error("BACKUP_IO: {0}")]
    Io(String),
    /// `BACKUP_STORE`: the store refused or failed.
    #[error("BACKUP_STORE: {0}")]
    Store(StoreError),
}

impl BackupError {
    /// The stable code (the text before the colon of the message).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "BACKUP_MALFORMED",
            Self::Corrupt(_) => "BACKUP_CORRUPT",
            Self::TargetNotEmpty(_) => "BACKUP_TARGET_NOT_EMPTY",
            Self::WrongKey(_) => "BACKUP_WRONG_KEY",
            Self::VerifyFailed(_) => "BACKUP_VERIFY_FAILED",
            Self::Io(_) => "BACKUP_IO",
            Self::Store(_) => "BACKUP_STORE",
        }
    }
}

impl From<StoreError> for BackupError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<BackupError> for crate::Error {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::Store(s) => s.into(),
            BackupError::Io(_) => crate::Error::Unavailable(e.to_string()),
            _ => crate::Error::InvalidRequest(e.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, BackupError>;

/// How the roots in a backup are sealed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sealing {
    /// Under the service's master key, as in the store.
    MasterKey,
    /// Re-sealed with HPKE to this P-256 public key (standard base64, uncompressed SEC1).
    Recipient {
        /// The backup recipient's public key.
        public_key: String,
    },
}

/// The body of a backup file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Body {
    /// Unix ms when the snapshot was taken.
    pub created_at_ms: i64,
    /// How roots and secrets are sealed.
    pub sealing: Sealing,
    /// The snapshot.
    pub snapshot: Snapshot,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn recipient_info(aad: &[u8]) -> Vec<u8> {
    let mut info = RECIPIENT_INFO.to_vec();
    info.push(0);
    info.extend_from_slice(aad);
    info
}

/// Writes `body` to `out` (0600, created; an existing file is refused), synced.
fn write_file(out: &Path, body: &Body) -> Result<()> {
    let json = serde_json::to_vec(body).map_err(|e| BackupError::Io(e.to_string()))?;
    let header = format!(
        "{MAGIC} sha256={} bytes={}\n",
        hex(&crypto::sha256(&[&json])),
        json.len()
    );
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(out)
        .map_err(|e| BackupError::Io(format!("cannot create {}: {e}", out.display())))?;
    f.write_all(header.as_bytes())
        .and_then(|_| f.write_all(&json))
        .and_then(|_| f.sync_all())
        .map_err(|e| BackupError::Io(format!("cannot write {}: {e}", out.display())))
}

/// Reads and checks a backup file: header, length, SHA-256, JSON.
pub fn read_file(path: &Path) -> Result<Body> {
    let bytes =
        std::fs::read(path).map_err(|e| BackupError::Io(format!("cannot read {}: {e}", path.display())))?;
    let nl = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| BackupError::Malformed("no header line".into()))?;
    let header =
        std::str::from_utf8(&bytes[..nl]).map_err(|_| BackupError::Malformed("header is not text".into()))?;
    let mut parts = header.split(' ');
    if parts.next() != Some(MAGIC) {
        return Err(BackupError::Malformed(format!(
            "not a keyseal-kms backup (expected a first line starting with {MAGIC})"
        )));
    }
    let (mut digest, mut len) = (None, None);
    for p in parts {
        match p.split_once('=') {
            Some(("sha256", v)) => digest = Some(v.to_string()),
            Some(("bytes", v)) => len = v.parse::<usize>().ok(),
            _ => return Err(BackupError::Malformed(format!("unknown header field {p:?}"))),
        }
    }
    let (digest, len) = digest
        .zip(len)
        .ok_or_else(|| BackupError::Malformed("header lacks sha256= or bytes=".into()))?;
    let body = &bytes[nl + 1..];
    if body.len() != len {
        return Err(BackupError::Corrupt(format!(
            "{} bytes of contents where the header says {len} (truncated or extended)",
            body.len()
        )));
    }
    if hex(&crypto::sha256(&[body])) != digest {
        return Err(BackupError::Corrupt(
            "the contents do not match the header's SHA-256 (the file was altered or damaged)".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| BackupError::Malformed(format!("contents: {e}")))
}

/// Reads a backup recipient's private key file (standard base64 of the 32-byte P-256 scalar).
pub fn read_backup_key(path: &Path) -> Result<RecipientKeyPair> {
    let s = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| BackupError::Io(format!("cannot read {}: {e}", path.display())))?,
    );
    let bytes = Zeroizing::new(
        b64::dec(s.trim())
            .ok_or_else(|| BackupError::WrongKey(format!("{} is not standard base64", path.display())))?,
    );
    let scalar = crypto::to_secret32(&bytes)
        .map_err(|_| BackupError::WrongKey(format!("{} is not a 32-byte key", path.display())))?;
    RecipientKeyPair::from_secret_scalar(&scalar)
        .map_err(|_| BackupError::WrongKey(format!("{} is not a P-256 private key", path.display())))
}

/// `backup keygen`: a backup recipient key pair; writes the private key to `out` (0600) and
/// returns the public key (standard base64) to give to `backup create --recipient`.
pub fn keygen(out: &Path) -> Result<String> {
    let kp = RecipientKeyPair::try_generate().map_err(|_| BackupError::Io("no randomness".into()))?;
    let secret = Zeroizing::new(b64::enc(kp.secret_scalar().as_ref()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(out)
        .map_err(|e| BackupError::Io(format!("cannot create {}: {e}", out.display())))?;
    f.write_all(secret.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| BackupError::Io(format!("cannot write {}: {e}", out.display())))?;
    Ok(b64::enc(&kp.public_sec1()))
}

/// What `create` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    /// Keys in the backup.
    pub keys: usize,
    /// Versions.
    pub versions: usize,
    /// Audit rows.
    pub audit_rows: usize,
}

fn create_inner(store: &Store, out: &Path, recipient: Option<&[u8]>) -> Result<Created> {
    let mut snapshot = store.snapshot()?;
    let sealing = match recipient {
        None => Sealing::MasterKey,
        Some(pk) => {
            let pk = hpke_p256::sec1_array(pk).map_err(|_| {
                BackupError::WrongKey("the backup recipient is not a 65-byte P-256 public key".into())
            })?;
            // Every secret: opened under the master key, sealed to the recipient.
            let to_recipient = |aad: &[u8], sealed: &str| -> Result<String> {
                let blob = b64::dec(sealed)
                    .ok_or_else(|| BackupError::Corrupt("store blob is not base64".into()))?;
                let plain = store.open_sealed(aad, &blob)?;
                let s = hpke_p256::seal(pk, &recipient_info(aad), b"", &plain).map_err(|_| {
                    BackupError::WrongKey("the backup recipient is not a valid P-256 point".into())
                })?;
                let mut out = s.enc;
                out.extend_from_slice(&s.ciphertext);
                Ok(b64::enc(&out))
            };
            snapshot.meta.retain(|m| m.name != "master_check");
            for m in &mut snapshot.meta {
                let aad = meta_aad(&m.name)
                    .ok_or_else(|| BackupError::Corrupt(format!("unknown secret {}", m.name)))?;
                m.sealed = to_recipient(aad, &m.sealed)?;
            }
            for v in &mut snapshot.versions {
                if let Some(r) = &v.root {
                    v.root = Some(to_recipient(&crypto::root_aad(&v.key_id, v.version), r)?);
                }
            }
            Sealing::Recipient {
                public_key: b64::enc(pk),
            }
        }
    };
    let created = Created {
        keys: snapshot.keys.len(),
        versions: snapshot.versions.len(),
        audit_rows: snapshot.audit.len(),
    };
    let body = Body {
        created_at_ms: crate::store::now_ms(),
        sealing,
        snapshot,
    };
    write_file(out, &body)?;
    // Read back what was written: a backup that does not parse is not a backup.
    read_file(out)?;
    Ok(created)
}

/// `backup create`: snapshot `store` into `out`, sealed under the master key or to `recipient`.
/// Counted in the store's backup statistics and audited.
pub fn create(store: &Store, out: &Path, recipient: Option<&[u8]>, subject: &str) -> Result<Created> {
    let result = create_inner(store, out, recipient);
    store.record_backup(result.is_ok())?;
    let mut event = AuditEvent {
        subject: subject.into(),
        operation: "backup.create".into(),
        ..AuditEvent::default()
    };
    match &result {
        Ok(c) => {
            event.outcome = "ok".into();
            event.detail = format!(
                "{} keys, {} versions, {} audit rows",
                c.keys, c.versions, c.audit_rows
            );
        }
        Err(e) => {
            event.outcome = e.code().into();
            event.detail = e.to_string();
        }
    }
    store.audit(&event)?;
    result
}

/// `backup restore`: puts `body` into `store`, which must be empty. Roots sealed under the master
/// key must open under the store's master key; roots sealed to a recipient need `backup_key`.
pub fn restore(store: &Store, body: &Body, backup_key: Option<&RecipientKeyPair>) -> Result<()> {
    if !store.is_empty()? {
        return Err(BackupError::TargetNotEmpty(
            "restore goes into a new, empty store (it already has keys, secrets or audit rows)".into(),
        ));
    }
    let result = match &body.sealing {
        Sealing::MasterKey => {
            // The check value proves it is this master key before anything is written.
            let check = body
                .snapshot
                .meta
                .iter()
                .find(|m| m.name == "master_check")
                .ok_or_else(|| BackupError::Malformed("no master key check value".into()))?;
            let blob = b64::dec(&check.sealed).ok_or_else(|| BackupError::Malformed("check value".into()))?;
            let aad = meta_aad("master_check").unwrap_or_default();
            store.open_sealed(aad, &blob).map_err(|_| {
                BackupError::WrongKey(
                    "the backup is sealed under another master key than this store's".into(),
                )
            })?;
            // The master key is proven: a blob that does not open was altered.
            store.restore_snapshot(&body.snapshot, &|aad, sealed| {
                store.open_sealed(aad, sealed).map_err(|_| {
                    StoreError::Corrupt(
                        "a sealed secret in the backup does not open: the backup was altered".into(),
                    )
                })?;
                Ok(sealed.to_vec())
            })
        }
        Sealing::Recipient { public_key } => {
            let kp = backup_key.ok_or_else(|| {
                BackupError::WrongKey(
                    "the backup is sealed to a backup recipient: give its key (--backup-key)".into(),
                )
            })?;
            if b64::enc(&kp.public_sec1()) != *public_key {
                return Err(BackupError::WrongKey(
                    "the backup is sealed to another backup recipient than this key".into(),
                ));
            }
            store.restore_snapshot(&body.snapshot, &|aad, sealed| {
                if sealed.len() < hpke_p256::PUBLIC_KEY_LEN {
                    return Err(StoreError::Corrupt("a sealed secret is too short".into()));
                }
                let s = SealedKey {
                    enc: sealed[..hpke_p256::PUBLIC_KEY_LEN].to_vec(),
                    ciphertext: sealed[hpke_p256::PUBLIC_KEY_LEN..].to_vec(),
                };
                let plain = hpke_p256::open(kp, &recipient_info(aad), b"", &s).map_err(|_| {
                    StoreError::Corrupt("a secret sealed to the backup key does not open".into())
                })?;
                store.seal_secret(aad, &plain)
            })
        }
    };
    result.map_err(|e| match e {
        StoreError::Corrupt(m) => BackupError::Corrupt(m),
        StoreError::MasterKey(m) => BackupError::WrongKey(m),
        other => BackupError::Store(other),
    })?;
    store.audit(&AuditEvent {
        subject: "cli".into(),
        operation: "backup.restore".into(),
        outcome: "ok".into(),
        detail: format!(
            "{} keys, {} versions from a backup of {}",
            body.snapshot.keys.len(),
            body.snapshot.versions.len(),
            body.created_at_ms
        ),
        ..AuditEvent::default()
    })?;
    Ok(())
}

/// What `verify` checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Roots opened and matched against their public keys.
    pub roots_checked: usize,
    /// Audit rows whose chain verified.
    pub audit_rows: u64,
}

/// `backup verify`: restores `body` into `scratch` (an empty store with the right master key) and
/// checks it: every root opens under the master key and derives its version's public key, and
/// the restored audit chain verifies.
pub fn verify(scratch: &Store, body: &Body, backup_key: Option<&RecipientKeyPair>) -> Result<Verified> {
    restore(scratch, body, backup_key)?;
    let restored = scratch.snapshot()?;
    let mut roots_checked = 0;
    for v in &restored.versions {
        let Some(root) = &v.root else { continue };
        let sealed = b64::dec(root).ok_or_else(|| BackupError::VerifyFailed("root not base64".into()))?;
        let public = b64::dec(&v.public_key)
            .ok_or_else(|| BackupError::VerifyFailed("public key not base64".into()))?;
        scratch
            .check_root(&v.key_id, v.version, &sealed, &public)
            .map_err(|e| BackupError::VerifyFailed(e.to_string()))?;
        roots_checked += 1;
    }
    let report = scratch.audit_verify()?;
    if let Some(p) = report.problem {
        return Err(BackupError::VerifyFailed(format!(
            "the audit chain is broken: {p}"
        )));
    }
    if restored.keys.len() != body.snapshot.keys.len()
        || restored.versions.len() != body.snapshot.versions.len()
    {
        return Err(BackupError::VerifyFailed(
            "rows went missing in the restore".into(),
        ));
    }
    Ok(Verified {
        roots_checked,
        audit_rows: report.rows,
    })
}
