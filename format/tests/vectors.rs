//! The shared vectors of tests/vectors/ (FORMAT.md §10). Runs natively, and under
//! wasm-bindgen-test in Node and in headless Chromium (`make test`).
#![allow(clippy::unwrap_used, missing_docs)]

use keyseal_format::ecdsa_p256::SignatureKeyPair;
use keyseal_format::hpke_p256::{RecipientKeyPair, open_entry};
use keyseal_format::{
    BodyLayout, DataKey, EncryptionContext, EntryKind, Header, MessageId, RustCryptoEngine, SegmentOpener,
    WrappedKeyEntry,
};
use serde_json::Value;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const POSITIVE: &str = include_str!("../../tests/vectors/positive.json");
const NEGATIVE: &str = include_str!("../../tests/vectors/negative.json");

fn vectors(src: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(src).unwrap();
    v["vectors"].as_array().unwrap().clone()
}

fn hexf(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(v[field].as_str().unwrap_or_else(|| panic!("field {field}"))).unwrap()
}

fn context(v: &Value) -> EncryptionContext {
    EncryptionContext::from_pairs(v.as_array().unwrap().iter().map(|p| {
        (
            p[0].as_str().unwrap().to_string(),
            p[1].as_str().unwrap().to_string(),
        )
    }))
    .unwrap()
}

fn kind(name: &str) -> EntryKind {
    EntryKind::from_name(name).unwrap_or(EntryKind::Unknown(0x7f))
}

#[test]
fn positive_vectors_open() {
    let all = vectors(POSITIVE);
    assert!(all.len() >= 10, "need at least 10 positive vectors");
    for v in &all {
        let name = v["name"].as_str().unwrap();
        let dek = DataKey::from_bytes(&hexf(v, "data_key")).unwrap();
        let sealed = hexf(v, "sealed");
        let (header, pt) = keyseal_format::open(&RustCryptoEngine, &dek, &sealed, &EncryptionContext::new())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(pt, hexf(v, "plaintext"), "{name}");
        assert_eq!(header.context(), &context(&v["context"]), "{name}");
        assert_eq!(
            header.encoded_len() as u64,
            v["header_len"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            header.segment_size() as u64,
            v["segment_size"].as_u64().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn positive_vectors_reseal_byte_identical() {
    for v in &vectors(POSITIVE) {
        let name = v["name"].as_str().unwrap();
        let dek = DataKey::from_bytes(&hexf(v, "data_key")).unwrap();
        let mid = MessageId::assume_unique_for_key(hexf(v, "message_id").try_into().unwrap());
        let entries = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| WrappedKeyEntry {
                kind: kind(e["kind"].as_str().unwrap()),
                key_service_id: e["key_service_id"].as_str().unwrap().into(),
                key_id: e["key_id"].as_str().unwrap().into(),
                wrapped: hexf(e, "wrapped"),
            })
            .collect();
        let seg = v["segment_size"].as_u64().unwrap() as u32;
        let pt = hexf(v, "plaintext");
        let sealed = match v.get("signing_secret") {
            // Suite 2: RFC 6979 signatures are deterministic, so re-sealing is byte-identical too.
            Some(_) => {
                let key =
                    SignatureKeyPair::from_secret_scalar(&hexf(v, "signing_secret").try_into().unwrap())
                        .unwrap();
                let ctx = context(&v["context"]);
                let header = keyseal_format::new_signed_header(&dek, mid, seg, ctx, entries).unwrap();
                keyseal_format::seal_signed(&RustCryptoEngine, &dek, &header, &pt, &key).unwrap()
            }
            None => {
                let header =
                    keyseal_format::new_header(&dek, mid, seg, context(&v["context"]), entries).unwrap();
                keyseal_format::seal(&RustCryptoEngine, &dek, &header, &pt).unwrap()
            }
        };
        assert_eq!(hex::encode(&sealed), v["sealed"].as_str().unwrap(), "{name}");
    }
}

#[test]
fn positive_vectors_random_access_every_segment() {
    for v in &vectors(POSITIVE) {
        let dek = DataKey::from_bytes(&hexf(v, "data_key")).unwrap();
        let sealed = hexf(v, "sealed");
        let pt = hexf(v, "plaintext");
        let (header, off) = Header::parse(&sealed).unwrap();
        let layout = BodyLayout::for_message(&header, (sealed.len() - off) as u64).unwrap();
        let opener = SegmentOpener::new(&RustCryptoEngine, &header, &dek).unwrap();
        for k in 0..layout.segment_count() {
            let r = layout.segment_range(k);
            let seg = &sealed[off + r.start as usize..off + r.end as usize];
            let got = opener.open_segment(&layout, k, seg).unwrap();
            let pr = layout.plaintext_range(k);
            assert_eq!(got, pt[pr.start as usize..pr.end as usize]);
        }
    }
}

#[test]
fn hpke_entry_vector_opens_to_its_data_key() {
    let all = vectors(POSITIVE);
    let v = all.iter().find(|v| v["name"] == "hpke-p256-entry").unwrap();
    let secret: [u8; 32] = hexf(v, "recipient_secret").try_into().unwrap();
    let kp = RecipientKeyPair::from_secret_scalar(&secret).unwrap();
    assert_eq!(kp.public_sec1().to_vec(), hexf(v, "recipient_public"));
    let e = &v["entries"][0];
    let dek = open_entry(
        &secret,
        e["key_id"].as_str().unwrap(),
        &hexf(e, "wrapped"),
        &context(&v["context"]),
    )
    .unwrap();
    assert_eq!(dek.expose_secret().to_vec(), hexf(v, "data_key"));
}

#[test]
fn negative_vectors_fail_with_their_error() {
    let all = vectors(NEGATIVE);
    assert!(all.len() >= 15, "need at least 15 negative vectors");
    for v in &all {
        let name = v["name"].as_str().unwrap();
        let want = v["error"].as_str().unwrap();
        let err = if v["operation"] == "open_hpke_entry" {
            let secret: [u8; 32] = hexf(v, "recipient_secret").try_into().unwrap();
            open_entry(
                &secret,
                v["key_id"].as_str().unwrap(),
                &hexf(v, "wrapped"),
                &context(&v["context"]),
            )
            .map(|_| ())
            .unwrap_err()
        } else {
            let dek = DataKey::from_bytes(&hexf(v, "data_key")).unwrap();
            let required = if v["require_context"].is_array() {
                context(&v["require_context"])
            } else {
                EncryptionContext::new()
            };
            match keyseal_format::open(&RustCryptoEngine, &dek, &hexf(v, "sealed"), &required) {
                Ok(_) => panic!("{name}: opened, expected {want}"),
                Err(e) => e,
            }
        };
        assert_eq!(err.code(), want, "{name}: got {err:?}");
    }
}

#[test]
fn negative_vectors_fail_when_streamed_in_small_pieces() {
    // The same failures through the incremental path, 7 bytes at a time: never any plaintext
    // from a segment that did not authenticate.
    for v in vectors(NEGATIVE)
        .iter()
        .filter(|v| v["error"] == "DECRYPTION_FAILED" && v["operation"].is_null())
    {
        let dek = DataKey::from_bytes(&hexf(v, "data_key")).unwrap();
        let sealed = hexf(v, "sealed");
        let Ok((header, off)) = Header::parse(&sealed) else {
            continue;
        };
        let result = SegmentOpener::new(&RustCryptoEngine, &header, &dek).and_then(|mut o| {
            let mut out = Vec::new();
            for chunk in sealed[off..].chunks(7) {
                o.push(chunk, &mut out)?;
            }
            o.finish(&mut out)?;
            Ok(out)
        });
        assert_eq!(result.unwrap_err().code(), "DECRYPTION_FAILED", "{}", v["name"]);
    }
}
