//! Symmetric crypto of the key service: the master key, per-version key material derivation
//! (docs/PROTOCOL.md §7.1), wrapping and unwrapping in the `kms` layout (§7.2, whose layout facts
//! are `keyseal_protocol::kms_layout`), and the service's import key (§8.2).
//!
//! Nothing in here implements `Debug` or `Display` for secret material; secrets live in
//! zeroizing buffers and are dropped as soon as the operation is done.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use aws_lc_rs::agreement;
use hpke::{Deserializable, Kem as _, Serializable};
use keyseal_format::DataKey;
use keyseal_format::hpke_p256::{self, DH_LEN, HpkeContext, PUBLIC_KEY_LEN, SealedKey};
use keyseal_protocol::kms_layout;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// The HPKE KEM used by the service (RFC 9180 DHKEM(P-256, HKDF-SHA256), id 0x0010).
pub type Kem = hpke::kem::DhP256HkdfSha256;

/// Length of the AES-GCM nonce.
const NONCE_LEN: usize = 12;
/// HPKE info label for customer key material imported under the service's import key.
pub const IMPORT_INFO_PREFIX: &[u8] = b"keyseal-kms/v1 import";

/// Failure of a crypto step. Deliberately carries no detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// Authentication failed or the input is malformed.
    Invalid,
    /// The input is well formed but bound to a different encryption context.
    ContextMismatch,
    /// The operating system RNG failed.
    Rng,
    /// The device holding the key (a PKCS#11 token) failed or is absent.
    Device,
}

/// Fill a buffer from the OS RNG.
pub fn random(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|_| CryptoError::Rng)
}

/// A fresh random 32-byte secret.
pub fn random_secret() -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mut s = Zeroizing::new([0u8; 32]);
    random(s.as_mut())?;
    Ok(s)
}

/// AES-256-GCM seal with a random nonce; output is nonce ‖ ciphertext ‖ tag.
pub fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Invalid)?;
    let mut nonce_bytes = [0u8; NONCE_LEN];
    random(&mut nonce_bytes)?;
    let nonce = Nonce::<Aes256Gcm>::try_from(&nonce_bytes[..]).map_err(|_| CryptoError::Invalid)?;
    let ct = cipher
        .encrypt(&nonce, Payload { msg: plaintext, aad })
        .map_err(|_| CryptoError::Invalid)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// AES-256-GCM open of `nonce ‖ ciphertext ‖ tag`.
pub fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(CryptoError::Invalid);
    }
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Invalid)?;
    let nonce = Nonce::<Aes256Gcm>::try_from(&sealed[..NONCE_LEN]).map_err(|_| CryptoError::Invalid)?;
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &sealed[NONCE_LEN..],
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Invalid)
}

/// Open to exactly 32 bytes.
pub fn open32(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let pt = open(key, aad, sealed)?;
    to_secret32(&pt)
}

/// Copy a 32-byte slice into a zeroizing array.
pub fn to_secret32(bytes: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    if bytes.len() != 32 {
        return Err(CryptoError::Invalid);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(bytes);
    Ok(out)
}

/// SHA-256.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hkdf32(ikm: &[u8], info: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let hk = hkdf::Hkdf::<Sha256>::new(None, ikm);
    let mut out = Zeroizing::new([0u8; 32]);
    hk.expand(info, out.as_mut()).map_err(|_| CryptoError::Invalid)?;
    Ok(out)
}

/// Additional data binding a version's root secret to its row when stored under the master key.
pub fn root_aad(key_id: &str, version: u32) -> Vec<u8> {
    let mut aad = b"keyseal-kms/v1 root\0".to_vec();
    aad.extend_from_slice(key_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// The material of one key version, derived from its 32-byte root secret (§7.1 of PROTOCOL.md).
/// The KEK is derived at once (one HKDF); the HPKE key pair only when asked for, because it costs
/// a P-256 scalar multiplication.
pub struct VersionKeys {
    /// AES-256-GCM key encryption key used for `kms` wrapped keys.
    pub kek: Zeroizing<[u8; 32]>,
    root: Zeroizing<[u8; 32]>,
}

/// A version's HPKE key pair.
pub struct HpkeKeys {
    /// P-256 secret scalar (big-endian).
    pub secret: Zeroizing<[u8; 32]>,
    /// Uncompressed SEC1 public key (65 bytes).
    pub public: Vec<u8>,
}

impl VersionKeys {
    /// The AES-256-GCM key encryption key of KACLS wrapped keys (src/kacls.rs), separate from
    /// the `kms` layout's [`Self::kek`].
    pub fn kacls_kek(&self) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        hkdf32(self.root.as_ref(), b"keyseal-kms/v1 kacls kek")
    }

    /// The version's HPKE key pair.
    pub fn hpke(&self) -> Result<HpkeKeys, CryptoError> {
        let ikm = hkdf32(self.root.as_ref(), b"keyseal-kms/v1 hpke-p256 ikm")?;
        let (sk, pk) = Kem::derive_keypair(ikm.as_ref());
        let mut sk_bytes = sk.to_bytes();
        let secret = to_secret32(sk_bytes.as_slice())?;
        sk_bytes.as_mut_slice().zeroize();
        Ok(HpkeKeys {
            secret,
            public: pk.to_bytes().to_vec(),
        })
    }
}

/// Derive a version's KEK (and, lazily, its HPKE key pair) from its root secret.
pub fn derive_version_keys(root: &[u8; 32]) -> Result<VersionKeys, CryptoError> {
    Ok(VersionKeys {
        kek: hkdf32(root, b"keyseal-kms/v1 kek")?,
        root: to_secret32(root)?,
    })
}

/// Public key only (for listing and JWKs).
pub fn derive_public(root: &[u8; 32]) -> Result<Vec<u8>, CryptoError> {
    Ok(derive_version_keys(root)?.hpke()?.public)
}

fn wrap_aad(key_id: &str, version: u32, ctx_hash: &[u8; 32]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + key_id.len() + 4 + 32);
    aad.extend_from_slice(b"keyseal-kms/v1 wrap\0");
    aad.extend_from_slice(key_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&version.to_be_bytes());
    aad.extend_from_slice(ctx_hash);
    aad
}

/// Wraps a 32-byte DEK in the v1 `kms` layout (§7.2).
pub fn wrap_dek(
    kek: &[u8; 32],
    key_id: &str,
    version: u32,
    context_encoded: &[u8],
    dek: &[u8; 32],
) -> Result<Vec<u8>, CryptoError> {
    let ctx_hash = sha256(&[context_encoded]);
    let sealed = seal(kek, &wrap_aad(key_id, version, &ctx_hash), dek)?;
    let mut out = Vec::with_capacity(kms_layout::LEN_V1);
    out.push(kms_layout::FORMAT_V1);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&ctx_hash);
    out.extend_from_slice(&sealed);
    debug_assert_eq!(out.len(), kms_layout::LEN_V1);
    Ok(out)
}

/// The key version named in clear by a v1 `kms` wrapped key (§7.3 step 1).
pub fn wrapped_version(wrapped: &[u8]) -> Result<u32, CryptoError> {
    kms_layout::version(wrapped).ok_or(CryptoError::Invalid)
}

/// Unwraps a v1 `kms` wrapped key (§7.3). The context hash stored in clear is compared first so
/// that a different context is reported as [`CryptoError::ContextMismatch`].
pub fn unwrap_dek(
    kek: &[u8; 32],
    key_id: &str,
    context_encoded: &[u8],
    wrapped: &[u8],
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let version = wrapped_version(wrapped)?;
    let stored = kms_layout::context_hash(wrapped).ok_or(CryptoError::Invalid)?;
    let ctx_hash = sha256(&[context_encoded]);
    if subtle_eq(stored, &ctx_hash) != 1 {
        return Err(CryptoError::ContextMismatch);
    }
    open32(
        kek,
        &wrap_aad(key_id, version, &ctx_hash),
        &wrapped[kms_layout::SEALED_OFFSET..],
    )
}

fn subtle_eq(a: &[u8; 32], b: &[u8; 32]) -> u8 {
    let mut acc = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        acc |= x ^ y;
    }
    u8::from(acc == 0)
}

/// A fresh ephemeral P-256 key pair and its Diffie-Hellman value with `recipient` (65-byte
/// uncompressed SEC1), by aws-lc-rs: the per-answer scalar multiplications of a sealed answer
/// (docs/DESIGN.md "Sealed answers at speed"). A point not on the curve is [`CryptoError::Invalid`].
fn ephemeral_dh(recipient: &[u8]) -> Result<(Zeroizing<[u8; DH_LEN]>, [u8; PUBLIC_KEY_LEN]), CryptoError> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let eph = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng)
        .map_err(|_| CryptoError::Rng)?;
    let mut enc = [0u8; PUBLIC_KEY_LEN];
    let public = eph.compute_public_key().map_err(|_| CryptoError::Rng)?;
    if public.as_ref().len() != PUBLIC_KEY_LEN {
        return Err(CryptoError::Invalid);
    }
    enc.copy_from_slice(public.as_ref());
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, recipient);
    let dh = agreement::agree_ephemeral(eph, peer, CryptoError::Invalid, |secret| {
        let mut dh = Zeroizing::new([0u8; DH_LEN]);
        if secret.len() != DH_LEN {
            return Err(CryptoError::Invalid);
        }
        dh.copy_from_slice(secret);
        Ok(dh)
    })?;
    Ok((dh, enc))
}

/// PROTOCOL.md §5: seals a data key to the SDK's recipient key, byte for byte what
/// [`hpke_p256::seal_to_recipient`] makes (the key schedule and AEAD are the format crate's,
/// [`HpkeContext::from_dh`]), with the ephemeral key pair and ECDH by aws-lc-rs.
pub fn seal_to_recipient(recipient: &[u8], dek: &DataKey) -> Result<SealedKey, CryptoError> {
    let recipient = hpke_p256::sec1_array(recipient).map_err(|_| CryptoError::Invalid)?;
    let (dh, enc) = ephemeral_dh(recipient)?;
    let ctx = HpkeContext::from_dh(&dh, &enc, recipient, hpke_p256::RECIPIENT_INFO)
        .map_err(|_| CryptoError::Invalid)?;
    Ok(SealedKey {
        enc: enc.to_vec(),
        ciphertext: ctx
            .seal(0, b"", dek.expose_secret())
            .map_err(|_| CryptoError::Invalid)?,
    })
}

/// PROTOCOL.md §3.2.1: seals every data key of a batch to `recipient` in one HPKE context, as
/// [`hpke_p256::seal_batch_to_recipient`] does, with the ECDH by aws-lc-rs.
pub fn seal_batch_to_recipient(
    recipient: &[u8],
    deks: &[DataKey],
) -> Result<(Vec<u8>, Vec<Vec<u8>>), CryptoError> {
    let recipient = hpke_p256::sec1_array(recipient).map_err(|_| CryptoError::Invalid)?;
    let (dh, enc) = ephemeral_dh(recipient)?;
    let ctx = HpkeContext::from_dh(&dh, &enc, recipient, hpke_p256::BATCH_RECIPIENT_INFO)
        .map_err(|_| CryptoError::Invalid)?;
    let mut out = Vec::with_capacity(deks.len());
    for (i, dek) in deks.iter().enumerate() {
        let i = u32::try_from(i).map_err(|_| CryptoError::Invalid)?;
        out.push(
            ctx.seal(i, &hpke_p256::batch_aad(i), dek.expose_secret())
                .map_err(|_| CryptoError::Invalid)?,
        );
    }
    Ok((enc.to_vec(), out))
}

/// HPKE info for importing material for `key_id`.
pub fn import_info(key_id: &str) -> Vec<u8> {
    let mut info = IMPORT_INFO_PREFIX.to_vec();
    info.push(0);
    info.extend_from_slice(key_id.as_bytes());
    info
}

/// The service's import key pair, derived from a stored 32-byte seed.
pub fn import_public(seed: &[u8; 32]) -> Vec<u8> {
    let (_, pk) = Kem::derive_keypair(seed);
    pk.to_bytes().to_vec()
}

/// Open customer key material HPKE-sealed to the import key (base mode, aad empty).
pub fn import_open(
    seed: &[u8; 32],
    key_id: &str,
    enc: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let (sk, _) = Kem::derive_keypair(seed);
    let encapped = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| CryptoError::Invalid)?;
    let pt = hpke::single_shot_open::<hpke::aead::AesGcm256, hpke::kdf::HkdfSha256, Kem>(
        &hpke::OpModeR::Base,
        &sk,
        &encapped,
        &import_info(key_id),
        ciphertext,
        b"",
    )
    .map_err(|_| CryptoError::Invalid)?;
    let pt = Zeroizing::new(pt);
    to_secret32(&pt)
}

/// Base64 helpers (standard alphabet with padding as on the wire, §2; url-safe unpadded for JWKs).
pub mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// How the protocol's binary fields refuse anything but standard base64 (§2).
    pub const EXPECTED: &str = "standard base64 with padding";

    /// Standard base64 with padding.
    pub fn enc(bytes: &[u8]) -> String {
        keyseal_protocol::bytes::encode(bytes)
    }
    /// Decode standard base64 with padding (strict).
    pub fn dec(s: &str) -> Option<Vec<u8>> {
        keyseal_protocol::bytes::decode(s)
    }
    /// base64url without padding.
    pub fn url(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wrap_roundtrip_and_mismatch() {
        let kek = [7u8; 32];
        let dek = [9u8; 32];
        let w = wrap_dek(&kek, "acme/default", 3, b"ctx", &dek).unwrap();
        assert_eq!(w.len(), kms_layout::LEN_V1);
        assert_eq!(wrapped_version(&w).unwrap(), 3);
        assert_eq!(*unwrap_dek(&kek, "acme/default", b"ctx", &w).unwrap(), dek);
        assert_eq!(
            unwrap_dek(&kek, "acme/default", b"other", &w).err(),
            Some(CryptoError::ContextMismatch)
        );
        assert_eq!(
            unwrap_dek(&kek, "acme/other", b"ctx", &w).err(),
            Some(CryptoError::Invalid)
        );
        let mut t = w.clone();
        t[60] ^= 1;
        assert_eq!(
            unwrap_dek(&kek, "acme/default", b"ctx", &t).err(),
            Some(CryptoError::Invalid)
        );
    }

    #[test]
    fn sealed_answers_open_with_the_format_crate() {
        use keyseal_format::hpke_p256::RecipientKeyPair;
        let kp = RecipientKeyPair::generate();
        let dek = DataKey::from_bytes(&[5u8; 32]).unwrap();
        let sealed = seal_to_recipient(&kp.public_sec1(), &dek).unwrap();
        assert_eq!(sealed.enc.len(), 65);
        assert_eq!(sealed.ciphertext.len(), hpke_p256::SEALED_DEK_LEN);
        let opened = hpke_p256::open_from_sender(&kp, &sealed).unwrap();
        assert_eq!(opened.expose_secret(), dek.expose_secret());
        // Two seals of one key differ (fresh ephemeral key each time).
        assert_ne!(
            seal_to_recipient(&kp.public_sec1(), &dek).unwrap().enc,
            sealed.enc
        );

        let deks: Vec<DataKey> = (0..3u8).map(|i| DataKey::from_bytes(&[i; 32]).unwrap()).collect();
        let (enc, cts) = seal_batch_to_recipient(&kp.public_sec1(), &deks).unwrap();
        let dh = kp.diffie_hellman(&enc).unwrap();
        let ctx = hpke_p256::batch_context(&dh, &kp.public_sec1(), &enc).unwrap();
        for (i, (ct, dek)) in cts.iter().zip(&deks).enumerate() {
            let got = hpke_p256::open_batch_item(&ctx, u32::try_from(i).unwrap(), ct).unwrap();
            assert_eq!(got.expose_secret(), dek.expose_secret());
        }
    }

    #[test]
    fn a_recipient_off_the_curve_is_refused() {
        let dek = DataKey::from_bytes(&[5u8; 32]).unwrap();
        let mut bad = [0u8; 65];
        bad[0] = 4;
        bad[64] = 7;
        assert_eq!(seal_to_recipient(&bad, &dek).err(), Some(CryptoError::Invalid));
        assert_eq!(
            seal_to_recipient(&bad[..33], &dek).err(),
            Some(CryptoError::Invalid)
        );
        assert_eq!(
            seal_batch_to_recipient(&bad, &[dek]).err(),
            Some(CryptoError::Invalid)
        );
    }

    #[test]
    fn version_keys_are_deterministic() {
        let a = derive_version_keys(&[1u8; 32]).unwrap();
        let b = derive_version_keys(&[1u8; 32]).unwrap();
        assert_eq!(a.hpke().unwrap().public, b.hpke().unwrap().public);
        assert_eq!(a.hpke().unwrap().public.len(), 65);
        assert_ne!(*a.kek, *a.hpke().unwrap().secret);
    }
}
