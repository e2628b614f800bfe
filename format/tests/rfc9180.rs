#![allow(clippy::unwrap_used)]
//! RFC 9180 known answers for keyseal's HPKE suite, DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 /
//! AES-256-GCM in base mode (mode 0, kem_id 16, kdf_id 1, aead_id 2), plus the AES-128-GCM
//! vector the RFC prints in Appendix A.3.1 for the same KEM and KDF. The vectors live in
//! `tests/data/rfc9180-p256-base.json`, whose `source` field says where they come from.
//!
//! Checked through the `hpke` crate keyseal uses:
//! * `DeriveKeyPair(ikmR)` and `DeriveKeyPair(ikmE)` give `skRm`/`pkRm` and `skEm`/`pkEm`;
//! * a sender whose randomness is `ikmE` reproduces `enc`, every published ciphertext in order,
//!   and the exports; its sequence number 255 equals AES-GCM under the published `key` with
//!   `base_nonce XOR 255` (no published ciphertext for 255 in the file, so this checks the
//!   nonce schedule against the published key schedule instead);
//! * a receiver built from `skRm` and `enc` opens every ciphertext and rejects a tampered one;
//!
//! and through keyseal itself: `RecipientKeyPair::from_secret_scalar(skRm)` has public key
//! `pkRm`, and `hpke_p256::open` (single-shot, i.e. sequence 0) returns the first plaintext.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use hpke::aead::{Aead, AesGcm128, AesGcm256};
use hpke::kdf::HkdfSha256;
use hpke::kem::DhP256HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use keyseal_format::hpke_p256::{RecipientKeyPair, SealedKey};
use serde::Deserialize;

type Kem = DhP256HkdfSha256;

const VECTORS: &str = include_str!("../../tests/data/rfc9180-p256-base.json");

#[derive(Deserialize)]
struct VectorFile {
    source: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    mode: u8,
    kem_id: u16,
    kdf_id: u16,
    aead_id: u16,
    info: String,
    #[serde(rename = "ikmE")]
    ikm_e: String,
    #[serde(rename = "pkEm")]
    pk_em: String,
    #[serde(rename = "skEm")]
    sk_em: String,
    #[serde(rename = "ikmR")]
    ikm_r: String,
    #[serde(rename = "pkRm")]
    pk_rm: String,
    #[serde(rename = "skRm")]
    sk_rm: String,
    enc: String,
    key: String,
    base_nonce: String,
    encryptions: Vec<Encryption>,
    exports: Vec<Export>,
}

#[derive(Deserialize)]
struct Encryption {
    seq: u64,
    pt: String,
    aad: String,
    nonce: String,
    ct: String,
}

#[derive(Deserialize)]
struct Export {
    exporter_context: String,
    #[serde(rename = "L")]
    len: usize,
    exported_value: String,
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn load() -> VectorFile {
    serde_json::from_str(VECTORS).unwrap()
}

/// The one vector of keyseal's own suite.
fn keyseal_suite(file: &VectorFile) -> &Vector {
    file.vectors
        .iter()
        .find(|v| (v.mode, v.kem_id, v.kdf_id, v.aead_id) == (0, 16, 1, 2))
        .unwrap()
}

/// RFC 9180 §5.2: the nonce of sequence number `seq`.
fn nonce_for(base_nonce: &[u8], seq: u64) -> Vec<u8> {
    let mut n = base_nonce.to_vec();
    let s = seq.to_be_bytes();
    let off = n.len() - s.len();
    for (b, x) in n[off..].iter_mut().zip(s) {
        *b ^= x;
    }
    n
}

/// AES-GCM straight from `aes_gcm`, independent of `hpke`: the AEAD of the vector's suite.
fn aes_gcm_seal(key: &[u8], nonce: &[u8], aad: &[u8], pt: &[u8]) -> Vec<u8> {
    let nonce: [u8; 12] = nonce.try_into().unwrap();
    let mut buf = pt.to_vec();
    match key.len() {
        16 => Aes128Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_in_place(&nonce.into(), aad, &mut buf)
            .unwrap(),
        32 => Aes256Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_in_place(&nonce.into(), aad, &mut buf)
            .unwrap(),
        n => panic!("no AES-GCM with a {n}-byte key"),
    }
    buf
}

/// Randomness that yields exactly `ikmE`, so the sender's `DeriveKeyPair(random(Nsk))` becomes
/// the RFC's `DeriveKeyPair(ikmE)`.
struct FixedIkm(Vec<u8>);

impl hpke::rand_core::TryRng for FixedIkm {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        panic!("HPKE asked for a u32 instead of ikmE")
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        panic!("HPKE asked for a u64 instead of ikmE")
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        assert_eq!(
            dst.len(),
            self.0.len(),
            "HPKE asked for {} random bytes",
            dst.len()
        );
        dst.copy_from_slice(&self.0);
        Ok(())
    }
}

impl hpke::rand_core::TryCryptoRng for FixedIkm {}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn file_holds_keyseal_suite() {
    let file = load();
    assert!(file.source.contains("RFC 9180"));
    let v = keyseal_suite(&file);
    assert!(v.name.contains("AES-256-GCM"));
    for v in &file.vectors {
        assert_eq!((v.mode, v.kem_id, v.kdf_id), (0, 16, 1), "{}", v.name);
        let seqs: Vec<u64> = v.encryptions.iter().map(|e| e.seq).collect();
        assert!(seqs.starts_with(&[0, 1]), "{}: sequences {seqs:?}", v.name);
        assert!(!v.exports.is_empty(), "{}", v.name);
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn derive_key_pair() {
    for v in &load().vectors {
        let (sk_r, pk_r) = Kem::derive_keypair(&h(&v.ikm_r));
        assert_eq!(sk_r.to_bytes().as_slice(), h(&v.sk_rm), "{}: skRm", v.name);
        assert_eq!(pk_r.to_bytes().as_slice(), h(&v.pk_rm), "{}: pkRm", v.name);
        let (sk_e, pk_e) = Kem::derive_keypair(&h(&v.ikm_e));
        assert_eq!(sk_e.to_bytes().as_slice(), h(&v.sk_em), "{}: skEm", v.name);
        assert_eq!(pk_e.to_bytes().as_slice(), h(&v.pk_em), "{}: pkEm", v.name);
        assert_eq!(v.enc, v.pk_em, "{}: enc is pkEm for DHKEM", v.name);
    }
}

/// The published key schedule outputs (`key`, `base_nonce`) are consistent with the published
/// nonces and ciphertexts, independently of `hpke`.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn key_schedule_outputs_give_ciphertexts() {
    for v in &load().vectors {
        for e in &v.encryptions {
            assert_eq!(
                h(&e.nonce),
                nonce_for(&h(&v.base_nonce), e.seq),
                "{}: nonce {}",
                v.name,
                e.seq
            );
            let ct = aes_gcm_seal(&h(&v.key), &h(&e.nonce), &h(&e.aad), &h(&e.pt));
            assert_eq!(ct, h(&e.ct), "{}: ct {}", v.name, e.seq);
        }
    }
}

fn sender<A: Aead>(v: &Vector) {
    let (_, pk_r) = Kem::derive_keypair(&h(&v.ikm_r));
    let mut rng = FixedIkm(h(&v.ikm_e));
    let (enc, mut ctx) =
        hpke::setup_sender_with_rng::<A, HkdfSha256, Kem>(&OpModeS::Base, &pk_r, &h(&v.info), &mut rng)
            .unwrap();
    assert_eq!(enc.to_bytes().as_slice(), h(&v.enc), "{}: enc", v.name);

    let pt = h(&v.encryptions[0].pt);
    for seq in 0..=255u64 {
        let aad = format!("Count-{seq}");
        let ct = ctx.seal(&pt, aad.as_bytes()).unwrap();
        if let Some(e) = v.encryptions.iter().find(|e| e.seq == seq) {
            assert_eq!(aad.as_bytes(), h(&e.aad), "{}: aad {seq}", v.name);
            assert_eq!(ct, h(&e.ct), "{}: ct {seq}", v.name);
        }
        if seq == 255 {
            let expected = aes_gcm_seal(
                &h(&v.key),
                &nonce_for(&h(&v.base_nonce), 255),
                aad.as_bytes(),
                &pt,
            );
            assert_eq!(ct, expected, "{}: sequence 255", v.name);
        }
    }

    for x in &v.exports {
        let mut out = vec![0u8; x.len];
        ctx.export(&h(&x.exporter_context), &mut out).unwrap();
        assert_eq!(
            out,
            h(&x.exported_value),
            "{}: export {:?}",
            v.name,
            x.exporter_context
        );
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn deterministic_sender() {
    for v in &load().vectors {
        match v.aead_id {
            1 => sender::<AesGcm128>(v),
            2 => sender::<AesGcm256>(v),
            other => panic!("aead_id {other}"),
        }
    }
}

fn receiver<A: Aead>(v: &Vector) {
    let sk_r = <Kem as hpke::Kem>::PrivateKey::from_bytes(&h(&v.sk_rm)).unwrap();
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&h(&v.enc)).unwrap();
    let info = h(&v.info);
    let mut ctx = hpke::setup_receiver::<A, HkdfSha256, Kem>(&OpModeR::Base, &sk_r, &enc, &info).unwrap();
    for (next, e) in (0u64..).zip(&v.encryptions) {
        // The receiver's sequence number advances only on a successful open, so the file's
        // encryptions must be consecutive from 0.
        assert_eq!(e.seq, next, "{}: encryptions must be consecutive", v.name);
        let mut tampered = h(&e.ct);
        tampered[0] ^= 0x80;
        assert!(
            ctx.open(&tampered, &h(&e.aad)).is_err(),
            "{}: tampered ct {} opened",
            v.name,
            e.seq
        );
        let pt = ctx.open(&h(&e.ct), &h(&e.aad)).unwrap();
        assert_eq!(pt, h(&e.pt), "{}: pt {}", v.name, e.seq);
    }
    for x in &v.exports {
        let mut out = vec![0u8; x.len];
        ctx.export(&h(&x.exporter_context), &mut out).unwrap();
        assert_eq!(
            out,
            h(&x.exported_value),
            "{}: export {:?}",
            v.name,
            x.exporter_context
        );
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn receiver_opens() {
    for v in &load().vectors {
        match v.aead_id {
            1 => receiver::<AesGcm128>(v),
            2 => receiver::<AesGcm256>(v),
            other => panic!("aead_id {other}"),
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn keyseal_recipient_key_pair() {
    let file = load();
    let v = keyseal_suite(&file);
    let sk: [u8; 32] = h(&v.sk_rm).try_into().unwrap();
    let kp = RecipientKeyPair::from_secret_scalar(&sk).unwrap();
    assert_eq!(kp.public_sec1().as_slice(), h(&v.pk_rm));
    assert_eq!(*kp.secret_scalar(), sk);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn keyseal_single_shot_open() {
    let file = load();
    let v = keyseal_suite(&file);
    let sk: [u8; 32] = h(&v.sk_rm).try_into().unwrap();
    let kp = RecipientKeyPair::from_secret_scalar(&sk).unwrap();
    let info = h(&v.info);
    let first = &v.encryptions[0];
    assert_eq!(first.seq, 0);
    let sealed = SealedKey {
        enc: h(&v.enc),
        ciphertext: h(&first.ct),
    };
    let pt = keyseal_format::hpke_p256::open(&kp, &info, &h(&first.aad), &sealed).unwrap();
    assert_eq!(pt.as_slice(), h(&first.pt));

    // Single-shot open is sequence 0: the second message, a wrong aad or a wrong info must fail.
    let second = &v.encryptions[1];
    let later = SealedKey {
        enc: h(&v.enc),
        ciphertext: h(&second.ct),
    };
    assert_eq!(
        keyseal_format::hpke_p256::open(&kp, &info, &h(&second.aad), &later).unwrap_err(),
        keyseal_format::Error::DecryptionFailed
    );
    assert!(keyseal_format::hpke_p256::open(&kp, &info, b"Count-1", &sealed).is_err());
    assert!(keyseal_format::hpke_p256::open(&kp, b"other info", &h(&first.aad), &sealed).is_err());
}

/// keyseal's own key schedule (`hpke_schedule`, the one the platform P-256 engines feed with a
/// DH value) reproduces every published ciphertext of its suite from `DH(skEm, pkRm)`, and a
/// receiver computing `DH(skRm, pkEm)` opens them; a wrong sequence number fails.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn keyseal_key_schedule_from_dh() {
    use keyseal_format::hpke_p256::sec1_array;
    use keyseal_format::hpke_schedule::HpkeContext;
    let file = load();
    let v = keyseal_suite(&file);
    let sk_e: [u8; 32] = h(&v.sk_em).try_into().unwrap();
    let sk_r: [u8; 32] = h(&v.sk_rm).try_into().unwrap();
    let (pk_e, pk_r) = (h(&v.pk_em), h(&v.pk_rm));
    let dh_sender = RecipientKeyPair::from_secret_scalar(&sk_e)
        .unwrap()
        .diffie_hellman(&pk_r)
        .unwrap();
    let dh_receiver = RecipientKeyPair::from_secret_scalar(&sk_r)
        .unwrap()
        .diffie_hellman(&pk_e)
        .unwrap();
    assert_eq!(*dh_sender, *dh_receiver);
    let enc = sec1_array(&pk_e).unwrap();
    let rec = sec1_array(&pk_r).unwrap();
    let sender = HpkeContext::from_dh(&dh_sender, enc, rec, &h(&v.info)).unwrap();
    let receiver = HpkeContext::from_dh(&dh_receiver, enc, rec, &h(&v.info)).unwrap();
    assert!(!v.encryptions.is_empty());
    for e in &v.encryptions {
        let seq = u32::try_from(e.seq).unwrap();
        assert_eq!(
            sender.seal(seq, &h(&e.aad), &h(&e.pt)).unwrap(),
            h(&e.ct),
            "seq {seq}"
        );
        assert_eq!(
            receiver.open(seq, &h(&e.aad), &h(&e.ct)).unwrap().as_slice(),
            h(&e.pt)
        );
        assert!(receiver.open(seq + 1, &h(&e.aad), &h(&e.ct)).is_err());
    }
}
