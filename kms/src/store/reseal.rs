//! Moving a store to another master key (`keyseal-kms master-key migrate`, e.g. from a key file
//! to an HSM): every blob sealed under the master key — the check value, the service secrets and
//! every key version's root — is opened under the current key, sealed under the new one and
//! opened again under the new one before the transaction commits. A failure anywhere changes
//! nothing.

use super::db::params;

use super::master_key::{IDENTITY_AAD, IMPORT_AAD, ISSUER_AAD, MASTER_CHECK_AAD};
use super::trusted_issuers::{POLICY_ISSUERS, POLICY_ISSUERS_AAD};
use super::{Result, Store, StoreError};
use crate::crypto::{self, CryptoError};
use crate::master::MasterKey;

/// The `meta` rows sealed under the master key, with their additional data.
pub(super) const SEALED_META: [(&str, &[u8]); 5] = [
    ("master_check", MASTER_CHECK_AAD),
    ("local_issuer_key", ISSUER_AAD),
    ("import_seed", IMPORT_AAD),
    ("identity_key", IDENTITY_AAD),
    (POLICY_ISSUERS, POLICY_ISSUERS_AAD),
];

fn moved(from: &MasterKey, to: &MasterKey, aad: &[u8], sealed: &[u8], what: &str) -> Result<Vec<u8>> {
    let device = |e: CryptoError| match e {
        CryptoError::Device => StoreError::Unavailable("the HSM holding a master key failed".into()),
        CryptoError::Rng => StoreError::Rng,
        _ => StoreError::Corrupt(format!("{what} does not open under the current master key")),
    };
    let plain = from.open(aad, sealed).map_err(device)?;
    let resealed = to.seal(aad, &plain).map_err(device)?;
    let check = to.open(aad, &resealed).map_err(device)?;
    if *check != *plain {
        return Err(StoreError::Corrupt(format!(
            "{what} does not open under the new master key"
        )));
    }
    Ok(resealed)
}

impl Store {
    /// Re-seals everything under `to` in one transaction; returns how many blobs moved. The store
    /// keeps using its current master key: open it again with `to` afterwards.
    pub fn reseal_all(&self, to: &MasterKey) -> Result<usize> {
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        let mut n = 0;
        for (name, aad) in SEALED_META {
            let v: Option<Vec<u8>> = tx
                .query_opt("SELECT v FROM meta WHERE k=?1", params![name])?
                .map(|r| r.get(0))
                .transpose()?;
            if let Some(sealed) = v {
                let resealed = moved(&self.master, to, aad, &sealed, name)?;
                tx.execute("UPDATE meta SET v=?2 WHERE k=?1", params![name, resealed])?;
                n += 1;
            }
        }
        let roots: Vec<(String, u32, Vec<u8>)> = tx
            .query(
                "SELECT key_id, version, root_enc FROM key_versions WHERE root_enc IS NOT NULL",
                params![],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .collect::<Result<_>>()?;
        for (key_id, version, sealed) in roots {
            let what = format!("the root of {key_id} version {version}");
            let resealed = moved(
                &self.master,
                to,
                &crypto::root_aad(&key_id, version),
                &sealed,
                &what,
            )?;
            tx.execute(
                "UPDATE key_versions SET root_enc=?3 WHERE key_id=?1 AND version=?2",
                params![key_id, version, resealed],
            )?;
            n += 1;
        }
        tx.commit()?;
        Ok(n)
    }
}
