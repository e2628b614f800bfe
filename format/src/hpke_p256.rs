//! RFC 9180 HPKE, base mode, suite DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM
//! (KEM 0x0010, KDF 0x0001, AEAD 0x0002): P-256 from the `p256` crate, the rest in
//! [`crate::hpke_schedule`], so that a platform's ECDH can replace the scalar multiplications
//! (`*_with_dh`). Two uses:
//! `hpke-p256` wrapped-key entries (FORMAT.md §4.5) and data keys sealed to an SDK's ephemeral
//! recipient key by the key service (PROTOCOL.md §5).

use alloc::vec::Vec;
use core::fmt;

use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use zeroize::{Zeroize, Zeroizing};

use crate::Error;
use crate::context::EncryptionContext;
use crate::data_key::DataKey;
pub use crate::hpke_schedule::{DH_LEN, HpkeContext, PUBLIC_KEY_LEN};

/// Length of a sealed data key: 32 bytes plus the 16-byte tag.
pub const SEALED_DEK_LEN: usize = 48;
/// HPKE `info` of data keys sealed to a recipient key (PROTOCOL.md §5).
pub const RECIPIENT_INFO: &[u8] = b"keyseal/v1 recipient-dek";
/// HPKE `info` of the data keys of a `/generate-batch` answer, all sealed in one context
/// (PROTOCOL.md §3.2.1).
pub const BATCH_RECIPIENT_INFO: &[u8] = b"keyseal/v1 recipient-dek-batch";
/// Prefix of the HPKE `info` of `hpke-p256` entries (FORMAT.md §4.5).
pub const ENTRY_INFO_PREFIX: &[u8] = b"keyseal/v1 hpke-p256";
/// Length of an `hpke-p256` entry's wrapped bytes: version ‖ enc ‖ sealed data key.
pub const ENTRY_LEN: usize = 4 + PUBLIC_KEY_LEN + SEALED_DEK_LEN;

/// A data key sealed with HPKE: the encapsulated key and the ciphertext.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SealedKey {
    /// HPKE `enc`: the sender's ephemeral public key, 65 bytes.
    pub enc: Vec<u8>,
    /// AES-256-GCM ciphertext of the 32-byte data key and its tag, 48 bytes.
    pub ciphertext: Vec<u8>,
}

/// A P-256 key pair for HPKE. The SDK makes an ephemeral one per key-service call (unless a
/// platform does it, [`HpkeContext::from_dh`]); the key service keeps one per key version. The
/// private key never prints.
pub struct RecipientKeyPair {
    sk: SecretKey,
    pk: [u8; PUBLIC_KEY_LEN],
}

impl RecipientKeyPair {
    /// A fresh random key pair (a uniform scalar from the system's randomness). Panics only if
    /// the platform has no randomness at all.
    pub fn generate() -> Self {
        #[allow(clippy::expect_used)]
        Self::try_generate().expect("the platform has no randomness")
    }

    /// [`Self::generate`] that reports missing randomness instead of panicking.
    pub fn try_generate() -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        loop {
            getrandom::fill(bytes.as_mut()).map_err(|_| Error::RandomUnavailable)?;
            // Out of range (probability about 2^-32): draw again.
            if let Ok(kp) = Self::from_secret_scalar(&bytes) {
                return Ok(kp);
            }
        }
    }

    /// The key pair of a 32-byte big-endian private scalar (checked to be in range).
    pub fn from_secret_scalar(secret: &[u8; 32]) -> Result<Self, Error> {
        let sk = SecretKey::from_slice(secret).map_err(|_| Error::InvalidArgument {
            reason: "not a P-256 private key",
        })?;
        let mut pk = [0u8; PUBLIC_KEY_LEN];
        pk.copy_from_slice(sk.public_key().to_sec1_point(false).as_bytes());
        Ok(Self { sk, pk })
    }

    /// The private scalar, for the key service to store under its master key.
    pub fn secret_scalar(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        let mut bytes = self.sk.to_bytes();
        out.copy_from_slice(&bytes);
        bytes.as_mut_slice().zeroize();
        out
    }

    /// The public key as uncompressed SEC1 (`04 ‖ x ‖ y`).
    pub fn public_sec1(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.pk
    }

    /// The Diffie-Hellman value with `peer` (uncompressed SEC1): the x-coordinate of the shared
    /// point, as RFC 9180 §7.1.1 takes it. A peer that is not a point on P-256 is an error.
    pub fn diffie_hellman(&self, peer: &[u8]) -> Result<Zeroizing<[u8; DH_LEN]>, Error> {
        let peer = public_key(peer)?;
        let shared = p256::ecdh::diffie_hellman(self.sk.to_nonzero_scalar(), peer.as_affine());
        let mut out = Zeroizing::new([0u8; DH_LEN]);
        out.copy_from_slice(shared.raw_secret_bytes().as_slice());
        Ok(out)
    }
}

impl fmt::Debug for RecipientKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecipientKeyPair")
            .field("public", &"<65 bytes>")
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn public_key(sec1: &[u8]) -> Result<PublicKey, Error> {
    if sec1.len() != PUBLIC_KEY_LEN || sec1[0] != 0x04 {
        return Err(Error::InvalidArgument {
            reason: "P-256 public key must be 65-byte uncompressed SEC1",
        });
    }
    PublicKey::from_sec1_bytes(sec1).map_err(|_| Error::InvalidArgument {
        reason: "not a valid P-256 public key",
    })
}

/// `sec1` as an uncompressed SEC1 array of the right length (not checked to be on the curve).
pub fn sec1_array(sec1: &[u8]) -> Result<&[u8; PUBLIC_KEY_LEN], Error> {
    sec1.try_into().map_err(|_| Error::InvalidArgument {
        reason: "P-256 public key must be 65-byte uncompressed SEC1",
    })
}

/// Seals `plaintext` to `recipient` with HPKE base mode (a fresh ephemeral key).
pub fn seal(recipient_sec1: &[u8], info: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<SealedKey, Error> {
    let eph = RecipientKeyPair::try_generate()?;
    let dh = eph.diffie_hellman(recipient_sec1)?;
    let enc = eph.public_sec1();
    let ctx = HpkeContext::from_dh(&dh, &enc, sec1_array(recipient_sec1)?, info)?;
    Ok(SealedKey {
        enc: enc.to_vec(),
        ciphertext: ctx.seal(0, aad, plaintext)?,
    })
}

/// The `aad` of item `index` of a batch (PROTOCOL.md §3.2.1): `u32 BE index`.
pub fn batch_aad(index: u32) -> [u8; 4] {
    index.to_be_bytes()
}

/// Key service side of PROTOCOL.md §3.2.1: seals every data key of a batch to `recipient` in one
/// HPKE context (one ephemeral key, one DH): item `i` is message `i` of the context, with `aad`
/// [`batch_aad`]`(i)`. Returns `enc` and one 48-byte ciphertext per key.
pub fn seal_batch_to_recipient(
    recipient_sec1: &[u8],
    deks: &[DataKey],
) -> Result<(Vec<u8>, Vec<Vec<u8>>), Error> {
    let eph = RecipientKeyPair::try_generate()?;
    let dh = eph.diffie_hellman(recipient_sec1)?;
    let enc = eph.public_sec1();
    let ctx = HpkeContext::from_dh(&dh, &enc, sec1_array(recipient_sec1)?, BATCH_RECIPIENT_INFO)?;
    let mut out = Vec::with_capacity(deks.len());
    for (i, dek) in deks.iter().enumerate() {
        let i = u32::try_from(i).map_err(|_| Error::InvalidArgument {
            reason: "batch too large",
        })?;
        out.push(ctx.seal(i, &batch_aad(i), dek.expose_secret())?);
    }
    Ok((enc.to_vec(), out))
}

/// SDK side of PROTOCOL.md §3.2.1: the HPKE context of a batch answer from the DH value between
/// the recipient's private key and `enc`.
pub fn batch_context(
    dh: &[u8; DH_LEN],
    recipient: &[u8; PUBLIC_KEY_LEN],
    enc: &[u8],
) -> Result<HpkeContext, Error> {
    let enc = sec1_array(enc).map_err(|_| Error::DecryptionFailed)?;
    HpkeContext::from_dh(dh, enc, recipient, BATCH_RECIPIENT_INFO)
}

/// Opens item `index` of a batch in `ctx` ([`batch_context`]).
pub fn open_batch_item(ctx: &HpkeContext, index: u32, ciphertext: &[u8]) -> Result<DataKey, Error> {
    let pt = ctx.open(index, &batch_aad(index), ciphertext)?;
    DataKey::from_bytes(&pt).map_err(|_| Error::DecryptionFailed)
}

/// Opens an HPKE base-mode ciphertext. Every failure is [`Error::DecryptionFailed`].
pub fn open(
    recipient: &RecipientKeyPair,
    info: &[u8],
    aad: &[u8],
    sealed: &SealedKey,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let dh = recipient
        .diffie_hellman(&sealed.enc)
        .map_err(|_| Error::DecryptionFailed)?;
    open_with_dh(&dh, &recipient.public_sec1(), info, aad, sealed)
}

/// [`open`] with the Diffie-Hellman value computed elsewhere (a platform's ECDH between the
/// recipient's private key and `sealed.enc`): `recipient` is the recipient's public key.
pub fn open_with_dh(
    dh: &[u8; DH_LEN],
    recipient: &[u8; PUBLIC_KEY_LEN],
    info: &[u8],
    aad: &[u8],
    sealed: &SealedKey,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let enc = sec1_array(&sealed.enc).map_err(|_| Error::DecryptionFailed)?;
    HpkeContext::from_dh(dh, enc, recipient, info)?.open(0, aad, &sealed.ciphertext)
}

/// Key service side of PROTOCOL.md §5: seals a data key to the SDK's ephemeral recipient key
/// (`info` = [`RECIPIENT_INFO`], empty `aad`).
pub fn seal_to_recipient(recipient_sec1: &[u8], dek: &DataKey) -> Result<SealedKey, Error> {
    seal(recipient_sec1, RECIPIENT_INFO, b"", dek.expose_secret())
}

/// SDK side of PROTOCOL.md §5: opens a data key the key service sealed to `recipient`.
pub fn open_from_sender(recipient: &RecipientKeyPair, sealed: &SealedKey) -> Result<DataKey, Error> {
    let pt = open(recipient, RECIPIENT_INFO, b"", sealed)?;
    DataKey::from_bytes(&pt).map_err(|_| Error::DecryptionFailed)
}

/// [`open_from_sender`] with a Diffie-Hellman value computed by a platform.
pub fn open_from_sender_with_dh(
    dh: &[u8; DH_LEN],
    recipient: &[u8; PUBLIC_KEY_LEN],
    sealed: &SealedKey,
) -> Result<DataKey, Error> {
    let pt = open_with_dh(dh, recipient, RECIPIENT_INFO, b"", sealed)?;
    DataKey::from_bytes(&pt).map_err(|_| Error::DecryptionFailed)
}

/// FORMAT.md §4.5: `info = "keyseal/v1 hpke-p256" ‖ 0x00 ‖ key_id ‖ 0x00 ‖ u32 version`.
pub fn entry_info(key_id: &str, version: u32) -> Vec<u8> {
    let mut info = Vec::with_capacity(ENTRY_INFO_PREFIX.len() + key_id.len() + 6);
    info.extend_from_slice(ENTRY_INFO_PREFIX);
    info.push(0);
    info.extend_from_slice(key_id.as_bytes());
    info.push(0);
    info.extend_from_slice(&version.to_be_bytes());
    info
}

/// Makes the wrapped bytes of an `hpke-p256` entry (FORMAT.md §4.5) offline, from the public key
/// of version `version` of key `key_id`: `u32 version ‖ enc ‖ ciphertext`, `aad` = the context's
/// canonical encoding.
pub fn seal_entry(
    public_sec1: &[u8],
    key_id: &str,
    version: u32,
    context: &EncryptionContext,
    dek: &DataKey,
) -> Result<Vec<u8>, Error> {
    let s = seal(
        public_sec1,
        &entry_info(key_id, version),
        &context.encode(),
        dek.expose_secret(),
    )?;
    let mut out = Vec::with_capacity(ENTRY_LEN);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&s.enc);
    out.extend_from_slice(&s.ciphertext);
    Ok(out)
}

/// [`seal_entry`] with the ephemeral key made elsewhere: `enc` is its public key and `dh` its
/// Diffie-Hellman value with `public_sec1` (a platform's ECDH).
pub fn seal_entry_with_dh(
    dh: &[u8; DH_LEN],
    enc: &[u8; PUBLIC_KEY_LEN],
    public_sec1: &[u8; PUBLIC_KEY_LEN],
    key_id: &str,
    version: u32,
    context: &EncryptionContext,
    dek: &DataKey,
) -> Result<Vec<u8>, Error> {
    let ctx = HpkeContext::from_dh(dh, enc, public_sec1, &entry_info(key_id, version))?;
    let ciphertext = ctx.seal(0, &context.encode(), dek.expose_secret())?;
    let mut out = Vec::with_capacity(ENTRY_LEN);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(enc);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// The key version an `hpke-p256` entry was sealed to (its first four bytes).
pub fn entry_key_version(wrapped: &[u8]) -> Result<u32, Error> {
    if wrapped.len() != ENTRY_LEN {
        return Err(Error::format("hpke-p256 entry has the wrong length"));
    }
    Ok(u32::from_be_bytes([
        wrapped[0], wrapped[1], wrapped[2], wrapped[3],
    ]))
}

/// Key service side: opens an `hpke-p256` entry with the private scalar of the version named in
/// it. A wrong key, key id, context or a tampered entry is [`Error::DecryptionFailed`].
pub fn open_entry(
    secret_scalar: &[u8; 32],
    key_id: &str,
    wrapped: &[u8],
    context: &EncryptionContext,
) -> Result<DataKey, Error> {
    let version = entry_key_version(wrapped)?;
    let kp = RecipientKeyPair::from_secret_scalar(secret_scalar)?;
    let sealed = SealedKey {
        enc: wrapped[4..4 + PUBLIC_KEY_LEN].to_vec(),
        ciphertext: wrapped[4 + PUBLIC_KEY_LEN..].to_vec(),
    };
    let pt = open(&kp, &entry_info(key_id, version), &context.encode(), &sealed)?;
    DataKey::from_bytes(&pt).map_err(|_| Error::DecryptionFailed)
}
