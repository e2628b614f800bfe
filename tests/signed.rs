//! Signed messages (FORMAT.md §6.5, SECURITY.md "reader"): a principal that can only unwrap —
//! and so holds a message's data key — cannot make a message that a reader requiring signed
//! messages accepts. Without the signed suite it can.
#![allow(clippy::unwrap_used, missing_docs)]

use std::cell::RefCell;
use std::rc::Rc;

mod common;
use common::block_on;

use keyseal::format::ecdsa_p256::SignatureKeyPair;
use keyseal::format::layout::BodyLayout;
use keyseal::format::signature::SignatureChain;
use keyseal::hpke_p256::{RecipientKeyPair, open_entry, seal_entry};
use keyseal::{
    Clock, DataKey, DecryptPolicy, EncryptionContext, EntryKind, Error, GeneratedKey, Header, KeySeal,
    KeySealConfig, KeyService, LocalBoxFuture, MessageId, Observer, PublicKeyInfo, RustCryptoEngine,
    ServiceBinding, WrappedKeyEntry,
};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

struct Now;
impl Clock for Now {
    fn now_ms(&self) -> f64 {
        0.0
    }
    fn unix_ms(&self) -> f64 {
        0.0
    }
    fn sleep(&self, _: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// A key service that binds the context into every wrapped key (here: HPKE to its own key with
/// the context as AAD, as keyseal-kms binds it with AES-GCM), so an entry opens only under the
/// context it was made for.
struct Binder {
    kek: RecipientKeyPair,
    unwraps: RefCell<u32>,
}

impl KeyService for Binder {
    fn id(&self) -> &str {
        "acme"
    }
    fn generate<'a>(
        &'a self,
        key_id: &'a str,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<GeneratedKey, Error>> {
        Box::pin(async move {
            let data_key = DataKey::generate()?;
            let wrapped = seal_entry(&self.kek.public_sec1(), key_id, 1, context, &data_key)?;
            Ok(GeneratedKey { data_key, wrapped })
        })
    }
    fn wrap<'a>(
        &'a self,
        key_id: &'a str,
        dek: &'a DataKey,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move { Ok(seal_entry(&self.kek.public_sec1(), key_id, 1, context, dek)?) })
    }
    fn unwrap<'a>(
        &'a self,
        _: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<DataKey, Error>> {
        *self.unwraps.borrow_mut() += 1;
        Box::pin(async move { Ok(open_entry(&self.kek.secret_scalar(), key_id, wrapped, context)?) })
    }
    fn rewrap<'a>(
        &'a self,
        _: EntryKind,
        _: &'a str,
        _: &'a [u8],
        _: &'a EncryptionContext,
        _: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async { unreachable!() })
    }
    fn public_key<'a>(&'a self, key_id: &'a str) -> LocalBoxFuture<'a, Result<PublicKeyInfo, Error>> {
        Box::pin(async move {
            Ok(PublicKeyInfo {
                key_id: key_id.into(),
                version: 1,
                public_sec1: self.kek.public_sec1().to_vec(),
            })
        })
    }
}

fn sdk(svc: Rc<Binder>, policy: DecryptPolicy) -> KeySeal {
    let mut c = KeySealConfig::new(vec![ServiceBinding {
        service: svc,
        key_id: "acme/default".into(),
    }]);
    c.segment_size = 64;
    c.decrypt = policy;
    KeySeal::new(c, Rc::new(Now), Rc::new(Observer::default())).unwrap()
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("tenant", "acme"), ("invoice", "42")]).unwrap()
}

/// What a reader can do with an unwrapped data key: a new message (new message id) under the
/// header's context and entries, any plaintext; for suite 2 the attacker signs with `signer`
/// over the right chain (the verification key in the context stays the writer's).
fn forge(original: &[u8], dek: &DataKey, plaintext: &[u8], signer: Option<&SignatureKeyPair>) -> Vec<u8> {
    let (h, _) = Header::parse(original).unwrap();
    let mid = MessageId::random().unwrap();
    match signer {
        None => {
            let fake = keyseal::new_header(dek, mid, 64, h.context().clone(), h.entries().to_vec()).unwrap();
            keyseal::seal(&RustCryptoEngine, dek, &fake, plaintext).unwrap()
        }
        Some(key) => {
            let fake =
                keyseal::new_signed_header(dek, mid, 64, h.context().clone(), h.entries().to_vec()).unwrap();
            // The format's writer refuses a key that is not the header's; the attacker writes the
            // bytes by hand: every segment under the payload key, the chain, its own signature.
            let sealer = keyseal::SegmentSealer::new(&RustCryptoEngine, &fake, dek).unwrap();
            assert!(sealer.finish_signed(&mut Vec::new(), key).is_err());
            let layout = BodyLayout::for_plaintext(64, plaintext.len() as u64).unwrap();
            let payload =
                keyseal::key_schedule::payload_key(dek, fake.suite(), fake.message_id(), fake.auth_hash())
                    .unwrap();
            let cipher = keyseal::AeadEngine::keyed(&RustCryptoEngine, &payload).unwrap();
            let mut chain = SignatureChain::new(fake.auth_hash());
            let mut forged = fake.encode();
            for s in layout.segments() {
                let mut seg = plaintext[s.plaintext.start as usize..s.plaintext.end as usize].to_vec();
                cipher.seal_in_place(&s.id.nonce(), &mut seg).unwrap();
                chain.absorb_segment(&seg);
                forged.extend_from_slice(&seg);
            }
            forged.extend_from_slice(&chain.sign(key));
            forged
        }
    }
}

#[test]
fn a_reader_cannot_forge_a_signed_message() {
    let svc = Rc::new(Binder {
        kek: RecipientKeyPair::generate(),
        unwraps: RefCell::new(0),
    });
    let writer = sdk(svc.clone(), DecryptPolicy::default());
    let reader = sdk(svc.clone(), DecryptPolicy::default());

    // The threat, without signatures: a principal that can unwrap makes a message every reader accepts.
    let unsigned = block_on(writer.encrypt(b"pay 100 to bob", &ctx())).unwrap();
    let (h, _) = Header::parse(&unsigned).unwrap();
    let e = &h.entries()[0];
    let dek = block_on(svc.unwrap(e.kind, &e.key_id, &e.wrapped, h.context())).unwrap();
    let forged = forge(&unsigned, &dek, b"pay 1000000 to mallory", None);
    assert_eq!(
        block_on(reader.decrypt(&forged, &ctx())).unwrap().1,
        b"pay 1000000 to mallory"
    );
    // ...and a reader that requires signatures refuses it at once, without asking the key service.
    let before = *svc.unwraps.borrow();
    assert_eq!(
        block_on(reader.decrypt_signed(&forged, &ctx()))
            .unwrap_err()
            .code(),
        "DOWNGRADE_REFUSED"
    );
    assert_eq!(*svc.unwraps.borrow(), before);

    // Signed: the genuine message opens, for both kinds of reader.
    let signed = block_on(writer.encrypt_signed(b"pay 100 to bob", &ctx())).unwrap();
    assert_eq!(
        block_on(reader.decrypt_signed(&signed, &ctx())).unwrap().1,
        b"pay 100 to bob"
    );
    assert_eq!(
        block_on(reader.decrypt(&signed, &ctx())).unwrap().1,
        b"pay 100 to bob"
    );

    // The reader unwraps the signed message's data key, keeps its context (and so the writer's
    // verification key, which the entry is bound to) and signs with a key of its own: refused.
    let (h, _) = Header::parse(&signed).unwrap();
    let e = &h.entries()[0];
    let dek = block_on(svc.unwrap(e.kind, &e.key_id, &e.wrapped, h.context())).unwrap();
    let mallory = SignatureKeyPair::generate().unwrap();
    let forged = forge(&signed, &dek, b"pay 1000000 to mallory", Some(&mallory));
    assert_eq!(
        block_on(reader.decrypt_signed(&forged, &ctx())).unwrap_err(),
        Error::DECRYPTION_FAILED
    );
    assert_eq!(
        block_on(reader.decrypt(&forged, &ctx())).unwrap_err(),
        Error::DECRYPTION_FAILED
    );

    // Putting its own verification key in the context instead unbinds the entry: the key service
    // refuses to open it under a context it was not made for.
    let own = keyseal::signed_context(&ctx(), &mallory.public_sec1()).unwrap();
    let fake = keyseal::new_signed_header(&dek, MessageId::random().unwrap(), 64, own, h.entries().to_vec())
        .unwrap();
    let forged = keyseal::seal_signed(
        &RustCryptoEngine,
        &dek,
        &fake,
        b"pay 1000000 to mallory",
        &mallory,
    )
    .unwrap();
    assert_eq!(
        block_on(reader.decrypt_signed(&forged, &ctx())).unwrap_err(),
        Error::DECRYPTION_FAILED
    );

    // Public-key entries prove no writer: anyone can make one and sign with their own key.
    let anyone = keyseal::signed_context(&ctx(), &mallory.public_sec1()).unwrap();
    let own_dek = DataKey::generate().unwrap();
    let entry = WrappedKeyEntry {
        kind: EntryKind::HpkeP256,
        key_service_id: "acme".into(),
        key_id: "acme/default".into(),
        wrapped: seal_entry(&svc.kek.public_sec1(), "acme/default", 1, &anyone, &own_dek).unwrap(),
    };
    let fake =
        keyseal::new_signed_header(&own_dek, MessageId::random().unwrap(), 64, anyone, vec![entry]).unwrap();
    let forged = keyseal::seal_signed(&RustCryptoEngine, &own_dek, &fake, b"from anyone", &mallory).unwrap();
    let open = sdk(
        svc.clone(),
        DecryptPolicy {
            accept_public_key_entries: true,
            ..DecryptPolicy::default()
        },
    );
    assert_eq!(
        block_on(open.decrypt(&forged, &ctx())).unwrap().1,
        b"from anyone",
        "public-key mode: no writer proof"
    );
    assert_eq!(
        block_on(open.decrypt_signed(&forged, &ctx())).unwrap_err().code(),
        "NO_USABLE_ENTRY"
    );
}

#[test]
fn signed_streams_verify_at_the_end_and_callers_cannot_use_reserved_context_keys() {
    let svc = Rc::new(Binder {
        kek: RecipientKeyPair::generate(),
        unwraps: RefCell::new(0),
    });
    let ks = sdk(svc, DecryptPolicy::default());
    let pt: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let mut enc = block_on(ks.begin_encrypt_signed(&ctx())).unwrap();
    let mut sealed = enc.header().to_vec();
    for c in pt.chunks(77) {
        sealed.extend(enc.push(c).unwrap());
    }
    sealed.extend(enc.finish().unwrap());
    assert_eq!(block_on(ks.decrypt_signed(&sealed, &ctx())).unwrap().1, pt);

    // Streamed: whole segments are released as they authenticate; the signature decides at the end.
    let mut bad = sealed.clone();
    let n = bad.len();
    bad[n - 3] ^= 1;
    let mut dec = ks.begin_decrypt_signed(EncryptionContext::new());
    let mut got = Vec::new();
    for c in bad.chunks(100) {
        got.extend(block_on(dec.push(&ks, c)).unwrap());
    }
    assert!(
        !got.is_empty() && got.len() < pt.len() && pt.starts_with(&got),
        "reader-authenticated prefix"
    );
    assert_eq!(dec.finish().unwrap_err(), Error::DECRYPTION_FAILED);

    let reserved = EncryptionContext::from_pairs([("keyseal:verification-key", "x")]).unwrap();
    assert_eq!(
        block_on(ks.encrypt(b"x", &reserved)).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
}

#[test]
fn inspect_counts_a_signed_message_s_plaintext_without_its_signature() {
    // FORMAT.md §6.3 and §6.5: the 64-byte signature follows the body; it is not plaintext
    let svc = Rc::new(Binder {
        kek: RecipientKeyPair::generate(),
        unwraps: RefCell::new(0),
    });
    let writer = sdk(svc, DecryptPolicy::default());
    for n in [0usize, 1, 100, 5000] {
        let pt = vec![7u8; n];
        let signed = block_on(writer.encrypt_signed(&pt, &ctx())).unwrap();
        let info = keyseal::inspect(&signed).unwrap();
        assert_eq!(info.plaintext_len, Some(n as u64), "{n} bytes, signed");
        let unsigned = block_on(writer.encrypt(&pt, &ctx())).unwrap();
        assert_eq!(
            keyseal::inspect(&unsigned).unwrap().plaintext_len,
            Some(n as u64),
            "{n} bytes"
        );
    }
}
