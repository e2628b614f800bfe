//! The master key that seals key roots and the service secrets in the store (docs/PROTOCOL.md
//! §7.1): 32 bytes in process memory (a key file or `KEYSEAL_KMS_MASTER_KEY`), or an AES-256 key in
//! a PKCS#11 token ([`crate::pkcs11`]) that never leaves it. Either way a sealed blob is
//! `nonce(12) ‖ AES-256-GCM ciphertext ‖ tag(16)` with the same additional data, so a store moves
//! from one to the other by re-sealing (`keyseal-kms master-key migrate`). The store (any backend)
//! only calls [`MasterKey::seal`] and [`MasterKey::open`].

use zeroize::Zeroizing;

use crate::crypto::{self, CryptoError};
use crate::pkcs11::Pkcs11Key;

/// Where the master key lives.
pub enum MasterKey {
    /// In process memory, from a key file or the environment.
    Local(Zeroizing<[u8; 32]>),
    /// In a PKCS#11 token: every seal and open is a call into the token.
    Pkcs11(Pkcs11Key),
    /// No master key (reading what needs none, such as the audit chain): every seal and open fails.
    Absent,
}

impl From<Zeroizing<[u8; 32]>> for MasterKey {
    fn from(k: Zeroizing<[u8; 32]>) -> Self {
        MasterKey::Local(k)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl MasterKey {
    /// AES-256-GCM seal under the master key with a fresh random nonce.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self {
            MasterKey::Local(k) => crypto::seal(k, aad, plaintext),
            MasterKey::Pkcs11(k) => k.seal(aad, plaintext),
            MasterKey::Absent => Err(CryptoError::Device),
        }
    }

    /// AES-256-GCM open of what [`Self::seal`] made.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match self {
            MasterKey::Local(k) => crypto::open(k, aad, sealed),
            MasterKey::Pkcs11(k) => k.open(aad, sealed),
            MasterKey::Absent => Err(CryptoError::Device),
        }
    }

    /// [`Self::open`] to exactly 32 bytes.
    pub fn open32(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let pt = self.open(aad, sealed)?;
        crypto::to_secret32(&pt)
    }

    /// What it is, for logs: never the key.
    pub fn describe(&self) -> String {
        match self {
            MasterKey::Local(_) => "master key in memory (key file or KEYSEAL_KMS_MASTER_KEY)".into(),
            MasterKey::Pkcs11(k) => format!("master key in PKCS#11 token ({})", k.describe()),
            MasterKey::Absent => "no master key".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_debug_form_never_shows_the_key() {
        let k = MasterKey::from(Zeroizing::new([0xabu8; 32]));
        let s = format!("{k:?}");
        assert!(!s.contains("ab") && !s.contains("171"), "{s}");
        let sealed = k.seal(b"aad", b"secret").unwrap();
        assert_eq!(&*k.open(b"aad", &sealed).unwrap(), b"secret");
        assert_eq!(k.open(b"other", &sealed).err(), Some(CryptoError::Invalid));
        assert_eq!(MasterKey::Absent.seal(b"", b"").err(), Some(CryptoError::Device));
    }
}
