//! Behaviour of the format API beyond the vectors: secrets stay secret, streaming equals one-shot,
//! rewrap keeps the body, limits hold.
#![allow(clippy::unwrap_used, missing_docs)]

use keyseal_format::hpke_p256::{RecipientKeyPair, SealedKey, open_from_sender, seal_to_recipient};
use keyseal_format::{
    BodyLayout, DataKey, EncryptionContext, EntryKind, Error, Header, HeaderLength, MessageId,
    RustCryptoEngine, SegmentOpener, SegmentSealer, WrappedKeyEntry,
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
    let h =
        keyseal_format::new_header(dek, MessageId::random().unwrap(), seg, ctx(), vec![entry(b"w")]).unwrap();
    keyseal_format::seal(&RustCryptoEngine, dek, &h, pt).unwrap()
}

#[test]
fn data_key_debug_is_redacted_exactly() {
    let dek = DataKey::from_bytes(&[0xab; 32]).unwrap();
    assert_eq!(format!("{dek:?}"), "DataKey(<redacted>)");
    let kp = RecipientKeyPair::generate();
    let dbg = format!("{kp:?}");
    assert!(dbg.contains("<redacted>"), "{dbg}");
    let secret_hex: String = kp.secret_scalar().iter().map(|b| format!("{b:02x}")).collect();
    assert!(!dbg.contains(&secret_hex[..8]));
    // Errors never carry key bytes: a wrong-key failure is the bare opaque variant.
    let sealed = sealed_with(&dek, 64, b"x");
    let wrong = DataKey::from_bytes(&[0xcd; 32]).unwrap();
    let err =
        keyseal_format::open(&RustCryptoEngine, &wrong, &sealed, &EncryptionContext::new()).unwrap_err();
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
        keyseal_format::new_header(&dek, MessageId::random().unwrap(), 100, ctx(), vec![entry(b"w")])
            .unwrap();
    let one_shot = keyseal_format::seal(&RustCryptoEngine, &dek, &header, &pt).unwrap();
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
        keyseal_format::new_header(&dek, MessageId::random().unwrap(), 64, ctx(), vec![entry(b"w")]).unwrap();
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
    let r = keyseal_format::rewrap(&sealed[..off], new_entries.clone()).unwrap();
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
    let (_, got) = keyseal_format::open(&RustCryptoEngine, &dek, &moved, &ctx()).unwrap();
    assert_eq!(got, pt);
    assert_eq!(
        keyseal_format::rewrap(&sealed[..off], vec![]).unwrap_err().code(),
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
        let e = keyseal_format::new_header(&dek, MessageId::random().unwrap(), bad, ctx(), vec![entry(b"w")])
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
