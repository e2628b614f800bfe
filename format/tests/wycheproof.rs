#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used)]
//! Project Wycheproof vectors for the two primitives keyseal's security rests on:
//!
//! * AES-256-GCM with a 96-bit nonce and a 128-bit tag, through `aes_gcm::Aes256Gcm`, the exact
//!   cipher `keyseal_format::RustCryptoEngine` wraps (and the AEAD of the HPKE suite).
//! * ECDH on P-256 through `p256::ecdh` (the curve arithmetic under DHKEM(P-256)), both the
//!   ASN.1/X.509 (`ecdh_secp256r1`) and the uncompressed-point (`ecdh_secp256r1_ecpoint`) sets;
//!   the point set also goes through `keyseal_format::hpke_p256::seal`, which must refuse every
//!   invalid recipient key.
//!
//! Wycheproof's keys cannot be fed to `RustCryptoEngine` itself: the engine is keyed with a
//! `PayloadKey`, which only the key schedule can make (its constructor is `pub(crate)`). So the
//! AES-GCM vectors run against `Aes256Gcm` directly, and a bridge check shows that the engine is
//! byte-for-byte `Aes256Gcm` with empty associated data under the key it is given
//! (`PayloadKey::expose_secret`), using the plaintexts and nonces of every vector with empty
//! AAD.
//!
//! Valid tests must give the expected result, invalid ones must fail, acceptable ones may do
//! either and are counted.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use keyseal_format::key_schedule::payload_key;
use keyseal_format::{AeadEngine, DataKey, MessageId, RustCryptoEngine};
use p256::pkcs8::DecodePublicKey;
use wycheproof::TestResult;

/// How many tests ran and how the acceptable ones went.
#[derive(Debug, Default)]
struct Tally {
    run: usize,
    valid: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
}

impl Tally {
    fn record(&mut self, expected: TestResult, accepted: bool) {
        self.run += 1;
        match expected {
            TestResult::Valid => self.valid += 1,
            TestResult::Invalid => self.invalid += 1,
            TestResult::Acceptable if accepted => self.acceptable_accepted += 1,
            TestResult::Acceptable => self.acceptable_rejected += 1,
        }
    }
}

fn nonce96(bytes: &[u8]) -> [u8; 12] {
    bytes.try_into().unwrap()
}

#[test]
fn aes_256_gcm() {
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).unwrap();
    let mut tally = Tally::default();
    let mut bridged = 0usize;
    for group in &set.test_groups {
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            continue;
        }
        for t in &group.tests {
            let id = t.tc_id;
            let cipher = Aes256Gcm::new_from_slice(&t.key).unwrap();
            let nonce = Nonce::from(nonce96(&t.nonce));
            let mut expected = t.ct.to_vec();
            expected.extend_from_slice(&t.tag);

            let mut sealed = t.pt.to_vec();
            cipher.encrypt_in_place(&nonce, &t.aad, &mut sealed).unwrap();
            let mut opened = expected.clone();
            let open_result = cipher.decrypt_in_place(&nonce, &t.aad, &mut opened);

            match t.result {
                TestResult::Valid => {
                    assert_eq!(sealed, expected, "tcId {id}: ciphertext differs");
                    assert!(open_result.is_ok(), "tcId {id}: valid ciphertext rejected");
                    assert_eq!(opened, *t.pt, "tcId {id}: wrong plaintext");
                }
                TestResult::Invalid => {
                    assert!(open_result.is_err(), "tcId {id}: invalid ciphertext accepted");
                }
                TestResult::Acceptable => {
                    if open_result.is_ok() {
                        assert_eq!(opened, *t.pt, "tcId {id}: wrong plaintext");
                    }
                }
            }
            tally.record(t.result, open_result.is_ok());

            if t.aad.is_empty() {
                engine_matches_aes256gcm(id, &t.key, &nonce96(&t.nonce), &t.pt);
                bridged += 1;
            }
        }
    }
    println!("wycheproof aes_gcm (256-bit key, 96-bit nonce, 128-bit tag): {tally:?}");
    println!("wycheproof aes_gcm: {bridged} empty-AAD vectors also checked through RustCryptoEngine");
    assert!(tally.run > 0, "no AES-256-GCM test ran");
    assert!(bridged > 0, "no empty-AAD vector reached the engine");
}

/// The engine under a key-schedule-derived key (seeded from the vector's key) seals exactly as
/// `Aes256Gcm` with empty AAD under that key, opens its own output, and rejects a flipped tag
/// bit, clearing the buffer.
fn engine_matches_aes256gcm(id: usize, key: &[u8], nonce: &[u8; 12], pt: &[u8]) {
    let dek = DataKey::from_bytes(key).unwrap();
    let message_id = MessageId::assume_unique_for_key([0x5a; 32]);
    let pk = payload_key(&dek, keyseal_format::header::Suite::Aead, &message_id, &[0u8; 32]).unwrap();
    let engine = RustCryptoEngine.keyed(&pk).unwrap();

    let mut by_engine = pt.to_vec();
    engine.seal_in_place(nonce, &mut by_engine).unwrap();
    let mut direct = pt.to_vec();
    Aes256Gcm::new_from_slice(pk.expose_secret())
        .unwrap()
        .encrypt_in_place(&Nonce::from(*nonce), b"", &mut direct)
        .unwrap();
    assert_eq!(by_engine, direct, "tcId {id}: engine differs from Aes256Gcm");

    let mut opened = by_engine.clone();
    engine.open_in_place(nonce, &mut opened).unwrap();
    assert_eq!(opened, pt, "tcId {id}: engine round trip");

    let mut tampered = by_engine;
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    assert!(
        engine.open_in_place(nonce, &mut tampered).is_err(),
        "tcId {id}: tampered tag accepted"
    );
    assert!(
        tampered.is_empty(),
        "tcId {id}: engine left data in a failed buffer"
    );
}

/// A Wycheproof private key (a big-endian ASN.1 integer: may carry a leading zero byte or be
/// shorter than 32 bytes) as a P-256 secret key.
fn secret_key(bytes: &[u8]) -> p256::SecretKey {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let trimmed = &bytes[first..];
    assert!(trimmed.len() <= 32, "private key longer than 32 bytes");
    let mut padded = [0u8; 32];
    padded[32 - trimmed.len()..].copy_from_slice(trimmed);
    p256::SecretKey::from_slice(&padded).unwrap()
}

fn run_ecdh(name: wycheproof::ecdh::TestName) -> Tally {
    use wycheproof::ecdh::EcdhEncoding;
    let set = wycheproof::ecdh::TestSet::load(name).unwrap();
    let mut tally = Tally::default();
    for group in &set.test_groups {
        assert_eq!(group.curve, wycheproof::EllipticCurve::Secp256r1);
        for t in &group.tests {
            let id = t.tc_id;
            let sk = secret_key(&t.private_key);
            let public = match group.encoding {
                EcdhEncoding::Asn1 => p256::PublicKey::from_public_key_der(&t.public_key).ok(),
                EcdhEncoding::EcPoint => p256::PublicKey::from_sec1_bytes(&t.public_key).ok(),
            };
            let shared = public.map(|pk| {
                p256::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine())
                    .raw_secret_bytes()
                    .to_vec()
            });
            match t.result {
                TestResult::Valid => {
                    let got = shared
                        .as_ref()
                        .unwrap_or_else(|| panic!("tcId {id}: valid key rejected"));
                    assert_eq!(got, &*t.shared_secret, "tcId {id}: wrong shared secret");
                }
                TestResult::Invalid => {
                    assert!(
                        shared.is_none(),
                        "tcId {id}: invalid public key accepted ({})",
                        t.comment
                    );
                }
                TestResult::Acceptable => {
                    if let Some(got) = &shared {
                        assert_eq!(got, &*t.shared_secret, "tcId {id}: wrong shared secret");
                    }
                }
            }
            tally.record(t.result, shared.is_some());

            if group.encoding == EcdhEncoding::EcPoint {
                keyseal_accepts_recipient(id, t.result, &t.public_key);
            }
        }
    }
    tally
}

/// `keyseal_format::hpke_p256::seal` takes only 65-byte uncompressed points and must refuse every
/// invalid one; a valid uncompressed point must be usable.
fn keyseal_accepts_recipient(id: usize, expected: TestResult, public: &[u8]) {
    let sealed = keyseal_format::hpke_p256::seal(public, b"wycheproof", b"", b"data key");
    let uncompressed =
        public.len() == keyseal_format::hpke_p256::PUBLIC_KEY_LEN && public.first() == Some(&4);
    match expected {
        TestResult::Valid if uncompressed => {
            assert!(sealed.is_ok(), "tcId {id}: keyseal refused a valid key")
        }
        TestResult::Invalid => assert!(sealed.is_err(), "tcId {id}: keyseal sealed to an invalid key"),
        _ => {}
    }
}

#[test]
fn ecdh_p256_x509() {
    let tally = run_ecdh(wycheproof::ecdh::TestName::EcdhSecp256r1);
    println!("wycheproof ecdh_secp256r1 (X.509 public keys): {tally:?}");
    assert!(tally.run > 0, "no ECDH test ran");
}

#[test]
fn ecdh_p256_ecpoint() {
    let tally = run_ecdh(wycheproof::ecdh::TestName::EcdhSecp256r1Ecpoint);
    println!(
        "wycheproof ecdh_secp256r1_ecpoint (uncompressed points, also via keyseal_format::hpke_p256::seal): {tally:?}"
    );
    assert!(tally.run > 0, "no ECDH test ran");
}
