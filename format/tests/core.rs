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

/// A body cut after `k` whole segments plus 16 bytes of the next one has a valid length (an empty
/// last segment): a ranged read to the end must open that "last segment" and fail, not return the
/// first `k` segments as the whole plaintext.
#[test]
fn a_range_to_the_end_of_a_truncated_body_fails() {
    let dek = DataKey::from_bytes(&[5; 32]).unwrap();
    let pt: Vec<u8> = (0..64 * 5 + 9).map(|i| i as u8).collect();
    let sealed = sealed_with(&dek, 64, &pt);
    let (h, hl) = Header::parse(&sealed).unwrap();
    let cut = &sealed[..hl + 3 * (64 + 16) + 16];
    let plan = keyseal_format::plan_range(cut, cut.len() as u64, 0, u64::MAX).unwrap();
    assert_eq!(plan.segments, 0..4, "the fake empty last segment is read");
    assert_eq!(plan.plaintext, 0..3 * 64);
    let opener = SegmentOpener::new(&RustCryptoEngine, &h, &dek).unwrap();
    let last = plan.fetched_range(3);
    let fetched = &cut[plan.fetch.start as usize..plan.fetch.end as usize];
    assert_eq!(
        opener
            .open_segment(&plan.layout, 3, &fetched[last.start as usize..last.end as usize])
            .unwrap_err(),
        Error::DecryptionFailed
    );
    // A start past the (apparent) end reads the last segment too; an explicitly empty range reads nothing.
    let past = keyseal_format::plan_range(cut, cut.len() as u64, 10_000, 5).unwrap();
    assert_eq!(past.segments, 3..4);
    assert!(
        keyseal_format::plan_range(cut, cut.len() as u64, 10, 0)
            .unwrap()
            .segments
            .is_empty()
    );
    // An untruncated object: a range to the end ends with the real (partial) last segment.
    let whole = keyseal_format::plan_range(&sealed, sealed.len() as u64, 64 * 5, 100).unwrap();
    assert_eq!(whole.segments, 5..6);
}

/// FORMAT.md §8: the 16,384-byte limit is on the whole context encoding, pair count included; a
/// reader refuses an encoding one or two bytes over it (it once counted from after the pair count).
#[test]
fn context_limit_counts_the_pair_count() {
    let dek = DataKey::from_bytes(&[5; 32]).unwrap();
    // A context whose encoding is exactly the limit: 2 + (4 + 1 + v) for one pair.
    let max_value = 16 * 1024 - 2 - 4 - 1;
    let value = "v".repeat(4096);
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut left = max_value + 4 + 1; // bytes of pairs
    let mut i = 0;
    while left > 0 {
        let key = format!("k{i:03}");
        let room = left - 4 - key.len();
        let v = value[..room.min(4096)].to_string();
        left -= 4 + key.len() + v.len();
        pairs.push((key, v));
        i += 1;
    }
    let ctx = EncryptionContext::from_pairs(pairs.clone()).unwrap();
    assert_eq!(ctx.encoded_len(), 16 * 1024);
    let h =
        keyseal_format::new_header(&dek, MessageId::random().unwrap(), 64, ctx, vec![entry(b"w")]).unwrap();
    let ok = h.encode();
    Header::parse(&ok).unwrap();
    // Grow the last value by 1 and by 2 bytes in the encoded header (lengths patched by hand).
    for extra in [1usize, 2] {
        let mut bytes = ok.clone();
        let auth_len = u32::from_be_bytes(bytes[7..11].try_into().unwrap()) as usize;
        let commit_at = auth_len - 32;
        let last_value_len_at = {
            let last = &pairs.last().unwrap().1;
            commit_at - last.len() - 2
        };
        let old = u16::from_be_bytes(
            bytes[last_value_len_at..last_value_len_at + 2]
                .try_into()
                .unwrap(),
        ) as usize;
        bytes[last_value_len_at..last_value_len_at + 2]
            .copy_from_slice(&((old + extra) as u16).to_be_bytes());
        for _ in 0..extra {
            bytes.insert(commit_at, b'v');
        }
        bytes[7..11].copy_from_slice(&((auth_len + extra) as u32).to_be_bytes());
        let e = Header::parse(&bytes).unwrap_err();
        assert_eq!(e, Error::LimitExceeded { what: "context size" }, "{extra} over");
    }
}

/// FORMAT.md §4.5: an `hpke-p256` entry is 117 bytes; any other length is INVALID_FORMAT when
/// the header is read (before any key service sees it) and when a writer builds it.
#[test]
fn hpke_entry_of_the_wrong_length_is_invalid_format() {
    let dek = DataKey::from_bytes(&[5; 32]).unwrap();
    let mut e = entry(&[1; 117]);
    e.kind = EntryKind::HpkeP256;
    let h =
        keyseal_format::new_header(&dek, MessageId::random().unwrap(), 64, ctx(), vec![e.clone()]).unwrap();
    let good = h.encode();
    Header::parse(&good).unwrap();
    let short = WrappedKeyEntry {
        wrapped: vec![1; 116],
        ..e
    };
    let err =
        keyseal_format::new_header(&dek, MessageId::random().unwrap(), 64, ctx(), vec![short]).unwrap_err();
    assert_eq!(err.code(), "INVALID_FORMAT");
    // the same, in bytes: cut one byte from the entry and patch its length fields
    let mut bytes = good.clone();
    let n = bytes.len();
    bytes.truncate(n - 1);
    let wl = n - 117 - 2;
    bytes[wl..wl + 2].copy_from_slice(&116u16.to_be_bytes());
    let auth_len = u32::from_be_bytes(bytes[7..11].try_into().unwrap()) as usize;
    let sl = u32::from_be_bytes(bytes[auth_len..auth_len + 4].try_into().unwrap());
    bytes[auth_len..auth_len + 4].copy_from_slice(&(sl - 1).to_be_bytes());
    assert_eq!(Header::parse(&bytes).unwrap_err().code(), "INVALID_FORMAT");
}
