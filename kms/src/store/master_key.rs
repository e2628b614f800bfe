//! The master key (docs/PROTOCOL.md §7.1): where it comes from, the check value that refuses a
//! wrong one, and the service secrets stored sealed under it (local token issuer, import key,
//! identity key).

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use keyseal_format::ecdsa_p256::SignatureKeyPair;

use super::db::{DbLocation, params};
use super::{Result, Store, StoreError};
use crate::crypto::{self, b64};
use crate::master::MasterKey;

pub(super) const MASTER_CHECK_AAD: &[u8] = b"keyseal-kms/v1 master-check";
pub(super) const ISSUER_AAD: &[u8] = b"keyseal-kms/v1 local-issuer";
pub(super) const IMPORT_AAD: &[u8] = b"keyseal-kms/v1 import-seed";
pub(super) const IDENTITY_AAD: &[u8] = b"keyseal-kms/v1 identity-key";

/// How a missing service secret is made.
type MakeSecret = fn() -> Result<Zeroizing<[u8; 32]>>;

/// A fresh random 32-byte secret (issuer scalar, import seed).
fn random_secret() -> Result<Zeroizing<[u8; 32]>> {
    crypto::random_secret().map_err(|_| StoreError::Rng)
}

/// The secret scalar of a fresh ECDSA P-256 key pair (identity key, §6.3): drawn until in range.
fn signature_scalar() -> Result<Zeroizing<[u8; 32]>> {
    SignatureKeyPair::generate()
        .map(|kp| kp.secret_scalar())
        .map_err(|_| StoreError::Rng)
}

/// A failed seal under the master key: no randomness, or the HSM failed.
fn master_error(e: crypto::CryptoError) -> StoreError {
    match e {
        crypto::CryptoError::Device => {
            StoreError::Unavailable("the HSM holding the master key failed".into())
        }
        _ => StoreError::Rng,
    }
}

/// The master key of a store: the PKCS#11 key named by `uri` when given (`--master-key
/// pkcs11:...`), else [`load_master_key`].
pub fn open_master_key(
    db: &Path,
    key_file: Option<&Path>,
    uri: Option<&str>,
    create: bool,
) -> Result<MasterKey> {
    match uri {
        Some(uri) => {
            if key_file.is_some() {
                return Err(StoreError::MasterKey(
                    "--master-key (an HSM) and --master-key-file exclude each other".into(),
                ));
            }
            Ok(MasterKey::Pkcs11(crate::pkcs11::Pkcs11Key::connect(uri)?))
        }
        None => Ok(MasterKey::Local(load_master_key(db, key_file, create)?)),
    }
}

/// Where the master key file of a database lives by default: `<db>.master-key`.
pub fn default_master_key_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".master-key");
    PathBuf::from(p)
}

/// Loads the master key: `KEYSEAL_KMS_MASTER_KEY` (base64 of 32 bytes), else the key file
/// (explicit or `<db>.master-key`). With `create`, a missing key file is created (mode 0600).
pub fn load_master_key(db: &Path, key_file: Option<&Path>, create: bool) -> Result<Zeroizing<[u8; 32]>> {
    if let Ok(v) = std::env::var("KEYSEAL_KMS_MASTER_KEY") {
        let bytes =
            Zeroizing::new(b64::dec(v.trim()).ok_or_else(|| {
                StoreError::MasterKey("KEYSEAL_KMS_MASTER_KEY is not standard base64".into())
            })?);
        return crypto::to_secret32(&bytes)
            .map_err(|_| StoreError::MasterKey("KEYSEAL_KMS_MASTER_KEY must decode to 32 bytes".into()));
    }
    let path = match (key_file, DbLocation::parse(db)) {
        (Some(f), _) => f.to_path_buf(),
        (None, DbLocation::File(_)) => default_master_key_path(db),
        (None, DbLocation::Postgres(_)) => {
            return Err(StoreError::MasterKey(
                "a PostgreSQL store has no default master key file: give --master-key-file, \
                 --master-key pkcs11:... or KEYSEAL_KMS_MASTER_KEY (the same key on every instance)"
                    .into(),
            ));
        }
    };
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let s = Zeroizing::new(s);
            let bytes = Zeroizing::new(b64::dec(s.trim()).ok_or_else(|| {
                StoreError::MasterKey(format!("{} is not standard base64", path.display()))
            })?);
            crypto::to_secret32(&bytes)
                .map_err(|_| StoreError::MasterKey(format!("{} must decode to 32 bytes", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key = crypto::random_secret().map_err(|_| StoreError::Rng)?;
            write_secret_file(&path, &Zeroizing::new(b64::enc(key.as_ref())))?;
            Ok(key)
        }
        Err(e) => Err(StoreError::MasterKey(format!(
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
        .map_err(|e| StoreError::MasterKey(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(contents.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| StoreError::MasterKey(format!("cannot write {}: {e}", path.display())))
}

impl Store {
    /// Refuses a master key that is not the one this database was made with (§7.1 check value);
    /// a new database records the check value.
    pub(super) fn check_master(&self) -> Result<()> {
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        let check: Option<Vec<u8>> = tx
            .query_opt("SELECT v FROM meta WHERE k='master_check'", params![])?
            .map(|r| r.get(0))
            .transpose()?;
        match check {
            Some(c) => {
                self.master.open(MASTER_CHECK_AAD, &c).map_err(|e| match e {
                    crypto::CryptoError::Device => {
                        StoreError::Unavailable("the HSM holding the master key failed".into())
                    }
                    _ => StoreError::MasterKey("the master key does not match this database".into()),
                })?;
            }
            None => {
                let c = self
                    .master
                    .seal(MASTER_CHECK_AAD, b"keyseal-kms")
                    .map_err(master_error)?;
                tx.execute("INSERT INTO meta(k, v) VALUES('master_check', ?1)", params![c])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A secret stored under the master key in `meta`; when absent, made by `create` (if given)
    /// and stored in the same transaction, so two processes never store two.
    fn meta_secret(
        &self,
        name: &str,
        aad: &[u8],
        create: Option<MakeSecret>,
    ) -> Result<Option<Zeroizing<[u8; 32]>>> {
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        let v: Option<Vec<u8>> = tx
            .query_opt("SELECT v FROM meta WHERE k=?1", params![name])?
            .map(|r| r.get(0))
            .transpose()?;
        let out = match v {
            Some(sealed) => Some(self.master.open32(aad, &sealed).map_err(|e| match e {
                crypto::CryptoError::Device => master_error(e),
                _ => StoreError::Corrupt(format!("stored {name} does not open")),
            })?),
            None => match create {
                Some(make) => {
                    let s = make()?;
                    let sealed = self.master.seal(aad, s.as_ref()).map_err(master_error)?;
                    tx.execute("INSERT INTO meta(k, v) VALUES(?1, ?2)", params![name, sealed])?;
                    Some(s)
                }
                None => None,
            },
        };
        tx.commit()?;
        Ok(out)
    }

    /// The local token issuer's signing scalar (§4.3), if it exists (or created with `create`).
    pub fn local_issuer_secret(&self, create: bool) -> Result<Option<Zeroizing<[u8; 32]>>> {
        self.meta_secret(
            "local_issuer_key",
            ISSUER_AAD,
            create.then_some(random_secret as MakeSecret),
        )
    }

    /// Seed of the service's import key pair (§8.2), created on first use.
    pub fn import_seed(&self) -> Result<Zeroizing<[u8; 32]>> {
        self.meta_secret("import_seed", IMPORT_AAD, Some(random_secret))?
            .ok_or_else(|| StoreError::Corrupt("import key missing".into()))
    }

    /// The secret scalar of the service's identity key (PROTOCOL.md §6.3), if it exists (or
    /// created with `create`, as every [`crate::Service`] does: databases made before identity
    /// keys get one).
    /// Stored sealed under the master key like the local issuer's; it never leaves in clear.
    pub fn identity_secret(&self, create: bool) -> Result<Option<Zeroizing<[u8; 32]>>> {
        self.meta_secret(
            "identity_key",
            IDENTITY_AAD,
            create.then_some(signature_scalar as MakeSecret),
        )
    }
}
