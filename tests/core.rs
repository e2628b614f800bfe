//! Behaviour of the core API beyond the vectors: secrets stay secret, streaming equals one-shot,
//! rewrap keeps the body, limits hold, the key-service trait drives a real envelope flow.
#![allow(clippy::unwrap_used, missing_docs)]

use std::cell::RefCell;
use std::collections::HashMap;

mod common;
use common::block_on;

use keyseal::hpke_p256::{RecipientKeyPair, SealedKey, open_from_sender, seal_to_recipient};
use keyseal::{
    BodyLayout, DataKey, EncryptionContext, EntryKind, Error, GeneratedKey, Header, HeaderLength, KeyService,
    KeyServiceErrorKind, LocalBoxFuture, MessageId, PublicKeyInfo, RustCryptoEngine, SegmentOpener,
    SegmentSealer, WrappedKeyEntry,
};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn entry(w: &[u8]) -> WrappedKeyEntry {
    WrappedKeyEntry {
        kind: EntryKind::Kms,
        key_service_id: "acme".into(),
        key_id: "acme/default".into(),
        wrapped: w.to_vec(),
    }
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("tenant", "acme"), ("object", "o1")]).unwrap()
}

fn sealed_with(dek: &DataKey, seg: u32, pt: &[u8]) -> Vec<u8> {
    let h = keyseal::new_header(dek, MessageId::random().unwrap(), seg, ctx(), vec![entry(b"w")]).unwrap();
    keyseal::seal(&RustCryptoEngine, dek, &h, pt).unwrap()
}

#[test]
fn data_key_debug_is_redacted_exactly() {
    let dek = DataKey::from_bytes(&[0xab; 32]).unwrap();
    assert_eq!(format!("{dek:?}"), "DataKey(<redacted>)");
    assert_eq!(
        format!(
            "{:?}",
            GeneratedKey {
                data_key: dek.clone_secret(),
                wrapped: vec![1]
            }
        )
        .matches("ab")
        .count(),
        0
    );
    let kp = RecipientKeyPair::generate();
    let dbg = format!("{kp:?}");
    assert!(dbg.contains("<redacted>"), "{dbg}");
    let secret_hex: String = kp.secret_scalar().iter().map(|b| format!("{b:02x}")).collect();
    assert!(!dbg.contains(&secret_hex[..8]));
    // Errors never carry key bytes: a wrong-key failure is the bare opaque variant.
    let sealed = sealed_with(&dek, 64, b"x");
    let wrong = DataKey::from_bytes(&[0xcd; 32]).unwrap();
    let err = keyseal::open(&RustCryptoEngine, &wrong, &sealed, &EncryptionContext::new()).unwrap_err();
    assert_eq!(err, Error::DecryptionFailed);
    assert_eq!(err.to_string(), "decryption failed");
}

#[test]
fn data_key_rejects_wrong_length() {
    assert_eq!(
        DataKey::from_bytes(&[0; 31]).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        DataKey::from_bytes(&[0; 33]).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
}

#[test]
fn streaming_in_any_chunking_equals_one_shot() {
    let dek = DataKey::generate().unwrap();
    let pt: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let header =
        keyseal::new_header(&dek, MessageId::random().unwrap(), 100, ctx(), vec![entry(b"w")]).unwrap();
    let one_shot = keyseal::seal(&RustCryptoEngine, &dek, &header, &pt).unwrap();
    for chunk in [1usize, 7, 99, 100, 101, 4096, 10_000] {
        let mut out = header.encode();
        let mut s = SegmentSealer::new(&RustCryptoEngine, &header, &dek).unwrap();
        for c in pt.chunks(chunk) {
            s.push(c, &mut out).unwrap();
        }
        s.finish(&mut out).unwrap();
        assert_eq!(out, one_shot, "seal chunk {chunk}");

        let (h2, off) = Header::parse(&out).unwrap();
        let mut o = SegmentOpener::new(&RustCryptoEngine, &h2, &dek).unwrap();
        let mut got = Vec::new();
        for c in out[off..].chunks(chunk) {
            o.push(c, &mut got).unwrap();
            // Plaintext is only ever released in whole segments.
            assert!(got.len() % 100 == 0);
        }
        o.finish(&mut got).unwrap();
        assert_eq!(got, pt, "open chunk {chunk}");
    }
}

#[test]
fn sealer_refuses_a_header_made_for_another_key() {
    let dek = DataKey::generate().unwrap();
    let other = DataKey::generate().unwrap();
    let header =
        keyseal::new_header(&dek, MessageId::random().unwrap(), 64, ctx(), vec![entry(b"w")]).unwrap();
    assert_eq!(
        SegmentSealer::new(&RustCryptoEngine, &header, &other)
            .err()
            .unwrap()
            .code(),
        "INVALID_ARGUMENT"
    );
}

#[test]
fn header_length_from_any_prefix() {
    let dek = DataKey::generate().unwrap();
    let sealed = sealed_with(&dek, 64, &[1; 500]);
    let (h, off) = Header::parse(&sealed).unwrap();
    assert_eq!(off, h.encoded_len());
    for n in 0..=off {
        match Header::length_from_prefix(&sealed[..n]).unwrap() {
            HeaderLength::NeedAtLeast(m) => assert!(m > n && m <= off, "prefix {n} asks for {m}"),
            HeaderLength::Complete(m) => assert_eq!(m, off),
        }
    }
    // A reader needs at most two round trips: 11 bytes, then auth_len + 4.
    assert!(matches!(
        Header::length_from_prefix(&sealed[..11]).unwrap(),
        HeaderLength::NeedAtLeast(_)
    ));
    assert_eq!(
        Header::length_from_prefix(b"%PDF-1.7").unwrap_err().code(),
        "INVALID_FORMAT"
    );
}

#[test]
fn rewrap_replaces_only_the_wrapped_key_section() {
    let dek = DataKey::generate().unwrap();
    let pt = vec![7u8; 1000];
    let sealed = sealed_with(&dek, 64, &pt);
    let (old, off) = Header::parse(&sealed).unwrap();
    let new_entries = vec![
        WrappedKeyEntry {
            kind: EntryKind::Kms,
            key_service_id: "acme".into(),
            key_id: "acme/2027".into(),
            wrapped: vec![9; 80],
        },
        WrappedKeyEntry {
            kind: EntryKind::Kms,
            key_service_id: "escrow".into(),
            key_id: "acme/escrow".into(),
            wrapped: vec![8; 40],
        },
    ];
    // Only the header is needed as input.
    let r = keyseal::rewrap(&sealed[..off], new_entries.clone()).unwrap();
    assert_eq!(r.body_offset, off);
    let mut moved = r.header.clone();
    moved.extend_from_slice(&sealed[r.body_offset..]);
    let (h, new_off) = Header::parse(&moved).unwrap();
    assert_eq!(h.entries(), &new_entries[..]);
    assert_eq!(h.auth_hash(), old.auth_hash());
    assert_eq!(&moved[new_off..], &sealed[off..], "body bytes identical");
    let old_wrapped = &old.entries()[0].wrapped;
    assert!(
        !h.entries().iter().any(|e| &e.wrapped == old_wrapped),
        "old wrapped key gone"
    );
    let (_, got) = keyseal::open(&RustCryptoEngine, &dek, &moved, &ctx()).unwrap();
    assert_eq!(got, pt);
    assert_eq!(
        keyseal::rewrap(&sealed[..off], vec![]).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
}

#[test]
fn layout_arithmetic() {
    let l = BodyLayout::for_plaintext(64, 1000).unwrap();
    assert_eq!(l.segment_count(), 16);
    assert_eq!(l.body_len(), 1000 + 16 * 16);
    assert_eq!(BodyLayout::for_body(64, l.body_len()).unwrap(), l);
    assert_eq!(l.segments_for(0, 1), 0..1);
    assert_eq!(l.segments_for(63, 2), 0..2);
    assert_eq!(l.segments_for(960, 1000), 15..16);
    assert_eq!(l.segments_for(2000, 5), 0..0);
    assert_eq!(BodyLayout::for_plaintext(64, 0).unwrap().segment_count(), 1);
    assert_eq!(BodyLayout::for_plaintext(64, 64).unwrap().segment_count(), 2);
    assert_eq!(BodyLayout::for_body(64, 15).unwrap_err(), Error::DecryptionFailed);
    assert_eq!(BodyLayout::for_body(64, 80).unwrap_err(), Error::DecryptionFailed);
}

#[test]
fn context_rules() {
    assert_eq!(
        EncryptionContext::from_pairs([("a", "1"), ("a", "2")])
            .unwrap_err()
            .code(),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        EncryptionContext::from_pairs([("", "1")]).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
    let big = "x".repeat(4097);
    assert_eq!(
        EncryptionContext::from_pairs([("a", big.as_str())])
            .unwrap_err()
            .code(),
        "LIMIT_EXCEEDED"
    );
    let many: Vec<(String, String)> = (0..65).map(|i| (format!("k{i:03}"), String::new())).collect();
    assert_eq!(
        EncryptionContext::from_pairs(many).unwrap_err().code(),
        "LIMIT_EXCEEDED"
    );
    let c = EncryptionContext::from_pairs([("b", "2"), ("a", "1")]).unwrap();
    assert_eq!(c.encode(), [0, 2, 0, 1, b'a', 0, 1, b'1', 0, 1, b'b', 0, 1, b'2']);
    assert_eq!(
        c.require(&EncryptionContext::from_pairs([("a", "1")]).unwrap()),
        Ok(())
    );
    assert_eq!(
        c.require(&EncryptionContext::from_pairs([("a", "9")]).unwrap()),
        Err(Error::ContextMismatch { key: "a".into() })
    );
}

#[test]
fn segment_size_limits() {
    let dek = DataKey::generate().unwrap();
    for bad in [0u32, 63, 16 * 1024 * 1024 + 1] {
        let e = keyseal::new_header(&dek, MessageId::random().unwrap(), bad, ctx(), vec![entry(b"w")])
            .unwrap_err();
        assert_eq!(e.code(), "LIMIT_EXCEEDED");
    }
}

#[test]
fn recipient_sealing_round_trip_and_wrong_key() {
    let kp = RecipientKeyPair::generate();
    let dek = DataKey::generate().unwrap();
    let sealed = seal_to_recipient(&kp.public_sec1(), &dek).unwrap();
    assert_eq!(sealed.enc.len(), 65);
    assert_eq!(sealed.ciphertext.len(), 48);
    assert_eq!(open_from_sender(&kp, &sealed).unwrap(), dek);
    let other = RecipientKeyPair::generate();
    assert_eq!(
        open_from_sender(&other, &sealed).unwrap_err(),
        Error::DecryptionFailed
    );
    let mut bad = sealed.clone();
    bad.ciphertext[0] ^= 1;
    assert_eq!(open_from_sender(&kp, &bad).unwrap_err(), Error::DecryptionFailed);
    let garbage = SealedKey {
        enc: vec![4; 65],
        ciphertext: vec![0; 48],
    };
    assert_eq!(
        open_from_sender(&kp, &garbage).unwrap_err(),
        Error::DecryptionFailed
    );
    assert_eq!(
        seal_to_recipient(&[4; 10], &dek).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
}

/// An in-memory key service: wraps data keys by HPKE-sealing them to its own key pair, so the
/// trait is exercised end to end without a network.
struct MemoryKeyService {
    kp: RecipientKeyPair,
    disabled: RefCell<bool>,
    calls: RefCell<HashMap<&'static str, u32>>,
}

impl MemoryKeyService {
    fn count(&self, op: &'static str) {
        *self.calls.borrow_mut().entry(op).or_default() += 1;
    }
    fn check(&self) -> Result<(), Error> {
        if *self.disabled.borrow() {
            return Err(Error::KeyService {
                kind: KeyServiceErrorKind::KeyDisabled,
                message: "key disabled".into(),
            });
        }
        Ok(())
    }
}

impl KeyService for MemoryKeyService {
    fn id(&self) -> &str {
        "memory"
    }
    fn generate<'a>(
        &'a self,
        key_id: &'a str,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<GeneratedKey, Error>> {
        Box::pin(async move {
            self.count("generate");
            self.check()?;
            let data_key = DataKey::generate()?;
            let wrapped =
                keyseal::hpke_p256::seal_entry(&self.kp.public_sec1(), key_id, 1, context, &data_key)?;
            Ok(GeneratedKey { data_key, wrapped })
        })
    }
    fn wrap<'a>(
        &'a self,
        key_id: &'a str,
        dek: &'a DataKey,
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(
            async move { keyseal::hpke_p256::seal_entry(&self.kp.public_sec1(), key_id, 1, context, dek) },
        )
    }
    fn unwrap<'a>(
        &'a self,
        _kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
    ) -> LocalBoxFuture<'a, Result<DataKey, Error>> {
        Box::pin(async move {
            self.count("unwrap");
            self.check()?;
            keyseal::hpke_p256::open_entry(&self.kp.secret_scalar(), key_id, wrapped, context)
        })
    }
    fn rewrap<'a>(
        &'a self,
        _kind: EntryKind,
        key_id: &'a str,
        wrapped: &'a [u8],
        context: &'a EncryptionContext,
        to: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Vec<u8>, Error>> {
        Box::pin(async move {
            let dek = keyseal::hpke_p256::open_entry(&self.kp.secret_scalar(), key_id, wrapped, context)?;
            keyseal::hpke_p256::seal_entry(&self.kp.public_sec1(), to.unwrap_or(key_id), 1, context, &dek)
        })
    }
    fn public_key<'a>(&'a self, key_id: &'a str) -> LocalBoxFuture<'a, Result<PublicKeyInfo, Error>> {
        Box::pin(async move {
            Ok(PublicKeyInfo {
                key_id: key_id.into(),
                version: 1,
                public_sec1: self.kp.public_sec1().to_vec(),
            })
        })
    }
}

#[test]
fn key_service_trait_drives_an_envelope_flow() {
    let ks = MemoryKeyService {
        kp: RecipientKeyPair::generate(),
        disabled: RefCell::new(false),
        calls: RefCell::default(),
    };
    let svc: &dyn KeyService = &ks;
    let c = ctx();
    let g = block_on(svc.generate("acme/default", &c)).unwrap();
    let e = WrappedKeyEntry {
        kind: EntryKind::HpkeP256,
        key_service_id: svc.id().into(),
        key_id: "acme/default".into(),
        wrapped: g.wrapped,
    };
    let header =
        keyseal::new_header(&g.data_key, MessageId::random().unwrap(), 64, c.clone(), vec![e]).unwrap();
    let sealed = keyseal::seal(&RustCryptoEngine, &g.data_key, &header, b"secret report").unwrap();

    let (h, _) = Header::parse(&sealed).unwrap();
    let e = &h.entries()[0];
    let dek = block_on(svc.unwrap(e.kind, &e.key_id, &e.wrapped, h.context())).unwrap();
    assert_eq!(
        keyseal::open(&RustCryptoEngine, &dek, &sealed, &c).unwrap().1,
        b"secret report"
    );

    // Moving the wrapped key to another context fails at the key service.
    let other = EncryptionContext::from_pairs([("tenant", "evil")]).unwrap();
    assert_eq!(
        block_on(svc.unwrap(e.kind, &e.key_id, &e.wrapped, &other)).unwrap_err(),
        Error::DecryptionFailed
    );

    // Rewrap through the trait: new header, same body, still opens.
    let w2 = block_on(svc.rewrap(e.kind, &e.key_id, &e.wrapped, h.context(), Some("acme/2027"))).unwrap();
    let r = keyseal::rewrap(
        &sealed,
        vec![WrappedKeyEntry {
            key_id: "acme/2027".into(),
            wrapped: w2,
            ..e.clone()
        }],
    )
    .unwrap();
    let mut moved = r.header;
    moved.extend_from_slice(&sealed[r.body_offset..]);
    let (h2, _) = Header::parse(&moved).unwrap();
    let e2 = &h2.entries()[0];
    let dek2 = block_on(svc.unwrap(e2.kind, &e2.key_id, &e2.wrapped, h2.context())).unwrap();
    assert_eq!(
        keyseal::open(&RustCryptoEngine, &dek2, &moved, &c).unwrap().1,
        b"secret report"
    );

    *ks.disabled.borrow_mut() = true;
    assert_eq!(
        block_on(svc.unwrap(e2.kind, &e2.key_id, &e2.wrapped, h2.context()))
            .unwrap_err()
            .code(),
        "KEY_DISABLED"
    );
    assert_eq!(ks.calls.borrow()["unwrap"], 4);
}

#[test]
fn inspect_reads_the_key_version_of_keyseal_kms_entries_only() {
    // PROTOCOL.md §7.2: a keyseal-kms wrapped key is 97 bytes, layout version 1, then the key
    // version (u32 BE). Any other shape is opaque: no version.
    let dek = DataKey::from_bytes(&[3; 32]).unwrap();
    let mut wrapped = vec![0u8; 97];
    wrapped[0] = 1;
    wrapped[1..5].copy_from_slice(&7u32.to_be_bytes());
    let mut other = entry(b"opaque bytes of another key service");
    other.key_service_id = "dr".into();
    let h = keyseal::new_header(
        &dek,
        MessageId::random().unwrap(),
        1024,
        ctx(),
        vec![entry(&wrapped), other],
    )
    .unwrap();
    let info = keyseal::inspect(&keyseal::seal(&RustCryptoEngine, &dek, &h, b"x").unwrap()).unwrap();
    assert_eq!(info.entries[0].key_version, Some(7));
    assert_eq!(info.entries[1].key_version, None);
}
