//! The trusted issuers of the policy (`keyseal-kms apply`, PROTOCOL.md §8.6), kept in `meta`
//! sealed under the master key like the service's other secrets: whoever can write the database
//! but does not hold the master key cannot add an issuer (and so cannot mint tokens the service
//! accepts); a row that does not open is refused, never trusted.

use zeroize::Zeroizing;

use super::audit::{self, AuditEvent};
use super::db::params;
use super::{Result, Store, StoreError};

/// The `meta` row of the sealed policy issuers.
pub(super) const POLICY_ISSUERS: &str = "policy_issuers";
/// Its additional data.
pub(super) const POLICY_ISSUERS_AAD: &[u8] = b"keyseal-kms/v1 policy-issuers";

impl Store {
    /// The sealed policy issuers as stored, if a policy set any.
    pub fn policy_issuers_sealed(&self) -> Result<Option<Vec<u8>>> {
        let conn = self.lock()?;
        conn.query_opt("SELECT v FROM meta WHERE k=?1", params![POLICY_ISSUERS])?
            .map(|r| r.get(0))
            .transpose()
    }

    /// Opens the sealed policy issuers (JSON, see [`crate::auth::TrustedIssuer`]).
    pub fn open_policy_issuers(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.open_sealed(POLICY_ISSUERS_AAD, sealed).map_err(|e| match e {
            StoreError::MasterKey(_) => {
                StoreError::Corrupt("the stored policy issuers do not open under the master key".into())
            }
            e => e,
        })
    }

    /// Seals and stores the policy issuers (JSON) and appends `events` to the audit log, in one
    /// transaction.
    pub fn set_policy_issuers(&self, json: &[u8], events: &[AuditEvent]) -> Result<()> {
        let sealed = self.seal_secret(POLICY_ISSUERS_AAD, json)?;
        let conn = self.lock()?;
        let tx = conn.begin_write()?;
        tx.execute(
            "INSERT INTO meta(k, v) VALUES(?1, ?2) ON CONFLICT(k) DO UPDATE SET v=excluded.v",
            params![POLICY_ISSUERS, sealed],
        )?;
        for e in events {
            audit::append(&tx, e)?;
        }
        tx.commit()?;
        Ok(())
    }
}
