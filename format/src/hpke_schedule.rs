//! RFC 9180 HPKE for keyseal's one suite — DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM,
//! base mode (KEM 0x0010, KDF 0x0001, AEAD 0x0002) — from the Diffie-Hellman value on.
//!
//! The DH itself is an input: the format's own P-256 ([`crate::hpke_p256`]) computes it in Rust,
//! and a platform (WebCrypto `deriveBits` in a browser, a worker, Node, Deno, Bun or workerd)
//! computes the same 32 bytes (the x-coordinate of the shared point, RFC 9180 §7.1.1) without the
//! scalar multiplication in wasm. Everything after it — `ExtractAndExpand` of the KEM (§4.1), the
//! key schedule (§5.1) and the nonces of a context (§5.2) — is here, once, for both. The RFC's
//! test vectors (`tests/data/rfc9180-p256-base.json`) and the `hpke` crate check it.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use alloc::vec::Vec;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::Error;

/// Length of an uncompressed SEC1 P-256 public key, and of `enc` for this KEM.
pub const PUBLIC_KEY_LEN: usize = 65;
/// Length of a P-256 Diffie-Hellman value (the shared point's x-coordinate).
pub const DH_LEN: usize = 32;
/// AES-256-GCM tag length.
pub const TAG_LEN: usize = 16;

/// `suite_id` of the KEM: `"KEM" ‖ I2OSP(0x0010, 2)` (RFC 9180 §4.1).
const KEM_SUITE: &[u8] = b"KEM\x00\x10";
/// `suite_id` of the key schedule: `"HPKE" ‖ kem_id ‖ kdf_id ‖ aead_id` (§5.1).
const HPKE_SUITE: &[u8] = b"HPKE\x00\x10\x00\x01\x00\x02";
const VERSION_LABEL: &[u8] = b"HPKE-v1";

fn labeled_extract(suite: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> Hkdf<Sha256> {
    let mut labeled = Zeroizing::new(Vec::with_capacity(
        VERSION_LABEL.len() + suite.len() + label.len() + ikm.len(),
    ));
    labeled.extend_from_slice(VERSION_LABEL);
    labeled.extend_from_slice(suite);
    labeled.extend_from_slice(label);
    labeled.extend_from_slice(ikm);
    Hkdf::<Sha256>::new(Some(salt), &labeled)
}

fn labeled_expand(
    prk: &Hkdf<Sha256>,
    suite: &[u8],
    label: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let len = u16::try_from(out.len()).map_err(|_| Error::invalid("HKDF output length"))?;
    prk.expand_multi_info(&[&len.to_be_bytes(), VERSION_LABEL, suite, label, info], out)
        .map_err(|_| Error::invalid("HKDF output length"))
}

/// The KEM's shared secret (RFC 9180 §4.1 `ExtractAndExpand`) from the DH value and the
/// `kem_context` = `enc ‖ pkR`.
fn shared_secret(
    dh: &[u8; DH_LEN],
    enc: &[u8; PUBLIC_KEY_LEN],
    recipient: &[u8; PUBLIC_KEY_LEN],
) -> Result<Zeroizing<[u8; 32]>, Error> {
    let eae_prk = labeled_extract(KEM_SUITE, b"", b"eae_prk", dh);
    let mut kem_context = [0u8; 2 * PUBLIC_KEY_LEN];
    kem_context[..PUBLIC_KEY_LEN].copy_from_slice(enc);
    kem_context[PUBLIC_KEY_LEN..].copy_from_slice(recipient);
    let mut ss = Zeroizing::new([0u8; 32]);
    labeled_expand(&eae_prk, KEM_SUITE, b"shared_secret", &kem_context, ss.as_mut())?;
    Ok(ss)
}

/// An HPKE context (RFC 9180 §5.2): the AEAD key and base nonce of one encapsulation; message
/// `seq` uses the nonce `base_nonce XOR I2OSP(seq, 12)`. Sender and receiver hold the same one.
pub struct HpkeContext {
    key: Zeroizing<[u8; 32]>,
    base_nonce: [u8; 12],
}

impl HpkeContext {
    /// The context of base mode from a DH value: `enc` is the sender's ephemeral public key,
    /// `recipient` the recipient's public key, both uncompressed SEC1.
    pub fn from_dh(
        dh: &[u8; DH_LEN],
        enc: &[u8; PUBLIC_KEY_LEN],
        recipient: &[u8; PUBLIC_KEY_LEN],
        info: &[u8],
    ) -> Result<Self, Error> {
        let ss = shared_secret(dh, enc, recipient)?;
        // §5.1, mode_base: psk and psk_id are empty.
        let mut psk_id_hash = [0u8; 32];
        let mut info_hash = [0u8; 32];
        psk_id_hash.copy_from_slice(&labeled_prk(b"psk_id_hash", b""));
        info_hash.copy_from_slice(&labeled_prk(b"info_hash", info));
        let mut ks_context = [0u8; 65];
        ks_context[0] = 0; // mode_base
        ks_context[1..33].copy_from_slice(&psk_id_hash);
        ks_context[33..].copy_from_slice(&info_hash);
        let secret = labeled_extract(HPKE_SUITE, ss.as_ref(), b"secret", b"");
        let mut key = Zeroizing::new([0u8; 32]);
        let mut base_nonce = [0u8; 12];
        labeled_expand(&secret, HPKE_SUITE, b"key", &ks_context, key.as_mut())?;
        labeled_expand(&secret, HPKE_SUITE, b"base_nonce", &ks_context, &mut base_nonce)?;
        Ok(Self { key, base_nonce })
    }

    fn nonce(&self, seq: u32) -> [u8; 12] {
        let mut n = self.base_nonce;
        for (b, s) in n[8..].iter_mut().zip(seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&(*self.key).into())
    }

    /// AES-256-GCM seal of message `seq`: ciphertext ‖ tag.
    pub fn seal(&self, seq: u32, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut buf = plaintext.to_vec();
        self.cipher()
            .encrypt_in_place(&Nonce::from(self.nonce(seq)), aad, &mut buf)
            .map_err(|_| Error::invalid("HPKE message too long"))?;
        Ok(buf)
    }

    /// Opens message `seq` (ciphertext ‖ tag). Every failure is [`Error::DecryptionFailed`].
    pub fn open(&self, seq: u32, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        if sealed.len() < TAG_LEN {
            return Err(Error::DecryptionFailed);
        }
        let mut buf = Zeroizing::new(sealed.to_vec());
        self.cipher()
            .decrypt_in_place(&Nonce::from(self.nonce(seq)), aad, &mut *buf)
            .map_err(|_| Error::DecryptionFailed)?;
        Ok(buf)
    }
}

impl Drop for HpkeContext {
    fn drop(&mut self) {
        self.base_nonce.zeroize();
    }
}

/// `LabeledExtract("", label, ikm)` of the key schedule, as bytes (its PRK).
fn labeled_prk(label: &[u8], ikm: &[u8]) -> [u8; 32] {
    let mut labeled = Vec::with_capacity(VERSION_LABEL.len() + HPKE_SUITE.len() + label.len() + ikm.len());
    labeled.extend_from_slice(VERSION_LABEL);
    labeled.extend_from_slice(HPKE_SUITE);
    labeled.extend_from_slice(label);
    labeled.extend_from_slice(ikm);
    let (prk, _) = Hkdf::<Sha256>::extract(Some(b""), &labeled);
    let mut out = [0u8; 32];
    out.copy_from_slice(prk.as_slice());
    out
}
