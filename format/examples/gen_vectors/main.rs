//! Regenerates `tests/vectors/*.json` (FORMAT.md §10). Run: `make vectors` (`cargo run -p keyseal-format --example gen_vectors`).
//! The output is checked in; the vector tests re-derive the positive messages byte for byte, so
//! any change to the format shows up as a diff here.
#![allow(clippy::unwrap_used, missing_docs)]

mod cases;
mod negative;

use keyseal_format::ecdsa_p256::SignatureKeyPair;
use keyseal_format::hpke_p256::{RecipientKeyPair, open_entry, seal_entry};
use keyseal_format::signature::{VERIFICATION_KEY_CONTEXT_KEY, encode_verification_key};
use keyseal_format::{DataKey, EncryptionContext, EntryKind, MessageId, RustCryptoEngine, WrappedKeyEntry};
use serde_json::{Value, json};

fn fill(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn dek_for(i: u8) -> DataKey {
    DataKey::from_bytes(&fill(32, 0x40u8.wrapping_add(i))).unwrap()
}

fn kms_entry(sid: &str, kid: &str, wrapped: &[u8]) -> WrappedKeyEntry {
    WrappedKeyEntry {
        kind: EntryKind::Kms,
        key_service_id: sid.into(),
        key_id: kid.into(),
        wrapped: wrapped.to_vec(),
    }
}

fn entry_json(e: &WrappedKeyEntry) -> Value {
    json!({"kind": e.kind.name(), "key_service_id": e.key_service_id, "key_id": e.key_id, "wrapped": hex::encode(&e.wrapped)})
}

struct Case {
    name: &'static str,
    /// Suite 2: the signing key's secret scalar (published in the vector: RFC 6979 signatures are
    /// deterministic, so re-sealing gives the same bytes).
    signing: Option<[u8; 32]>,
    description: &'static str,
    segment_size: u32,
    context: Vec<(&'static str, &'static str)>,
    entries: Vec<WrappedKeyEntry>,
    plaintext: Vec<u8>,
    extra: Value,
}

/// The context of most vectors.
fn ctx() -> Vec<(&'static str, &'static str)> {
    vec![("tenant", "acme"), ("object", "doc-42")]
}

fn main() {
    // A fixed recipient for the hpke-p256 vector (its secret is published in the vector).
    let recipient = RecipientKeyPair::from_secret_scalar(&fill(32, 7).try_into().unwrap()).unwrap();
    let hpke_dek = dek_for(9);
    let hpke_ctx = EncryptionContext::from_pairs(ctx()).unwrap();
    // HPKE seals with fresh randomness: keep the published entry while it still opens to the same
    // data key, so that regenerating changes nothing that did not change.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors");
    let published = std::fs::read_to_string(format!("{dir}/positive.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| {
            v["vectors"]
                .as_array()?
                .iter()
                .find(|x| x["name"] == "hpke-p256-entry")
                .cloned()
        })
        .and_then(|v| hex::decode(v["entries"][0]["wrapped"].as_str()?).ok())
        .filter(|w| {
            open_entry(&recipient.secret_scalar(), "acme/default", w, &hpke_ctx)
                .is_ok_and(|k| k.expose_secret() == hpke_dek.expose_secret())
        });
    let hpke_wrapped = published.unwrap_or_else(|| {
        seal_entry(&recipient.public_sec1(), "acme/default", 3, &hpke_ctx, &hpke_dek).unwrap()
    });
    // The signing key of the suite-2 vectors and the context it goes into (FORMAT.md §3.4).
    let signing_secret: [u8; 32] = fill(32, 0x51).try_into().unwrap();
    let signing = SignatureKeyPair::from_secret_scalar(&signing_secret).unwrap();
    let vk: &'static str = Box::leak(encode_verification_key(&signing.public_sec1()).into_boxed_str());
    let signed_ctx = move || {
        vec![
            ("tenant", "acme"),
            ("object", "doc-42"),
            (VERIFICATION_KEY_CONTEXT_KEY, vk),
        ]
    };

    let cases = cases::cases(hpke_wrapped, &recipient, signing_secret, signed_ctx);

    let mut positives = vec![];
    let mut base: Option<(Vec<u8>, usize)> = None;
    for (i, c) in cases.into_iter().enumerate() {
        let dek = if c.name == "hpke-p256-entry" {
            hpke_dek.clone_secret()
        } else {
            dek_for(i as u8)
        };
        let mid = MessageId::assume_unique_for_key(fill(32, 0x90 + i as u8).try_into().unwrap());
        let context = EncryptionContext::from_pairs(c.context.clone()).unwrap();
        let (header, sealed) = match c.signing {
            None => {
                let h = keyseal_format::new_header(&dek, mid, c.segment_size, context, c.entries.clone())
                    .unwrap();
                let sealed = keyseal_format::seal(&RustCryptoEngine, &dek, &h, &c.plaintext).unwrap();
                (h, sealed)
            }
            Some(secret) => {
                let key = SignatureKeyPair::from_secret_scalar(&secret).unwrap();
                let h =
                    keyseal_format::new_signed_header(&dek, mid, c.segment_size, context, c.entries.clone())
                        .unwrap();
                let sealed =
                    keyseal_format::message::seal_signed(&RustCryptoEngine, &dek, &h, &c.plaintext, &key)
                        .unwrap();
                (h, sealed)
            }
        };
        if c.name == "many-segments" {
            base = Some((sealed.clone(), header.encoded_len()));
        }
        let mut v = json!({
            "name": c.name,
            "description": c.description,
            "data_key": hex::encode(dek.expose_secret()),
            "message_id": hex::encode(mid.as_bytes()),
            "segment_size": c.segment_size,
            "context": c.context.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "entries": c.entries.iter().map(entry_json).collect::<Vec<_>>(),
            "plaintext": hex::encode(&c.plaintext),
            "header_len": header.encoded_len(),
            "sealed": hex::encode(&sealed),
        });
        v.as_object_mut()
            .unwrap()
            .extend(c.extra.as_object().unwrap().clone());
        positives.push(v);
    }

    let (good, hlen) = base.unwrap();
    let neg = negative::vectors(&positives, &good, hlen);

    let write = |file: &str, about: &str, list: Vec<Value>| {
        let v =
            json!({"format": "keyseal v1", "spec": "docs/FORMAT.md §10", "about": about, "vectors": list});
        std::fs::write(
            format!("{dir}/{file}"),
            serde_json::to_string_pretty(&v).unwrap() + "\n",
        )
        .unwrap();
    };
    write(
        "positive.json",
        "Each vector: open `sealed` with `data_key` (hex) to get `plaintext`; sealing `plaintext` with the same data key, message id, segment size, context and entries MUST give `sealed` byte for byte.",
        positives,
    );
    write(
        "negative.json",
        "Each vector: opening `sealed` with `data_key` (requiring `require_context` if present) MUST fail with `error` and return no plaintext. operation open_hpke_entry: opening `wrapped` as an hpke-p256 entry with `recipient_secret`, `key_id`, `context` MUST fail with `error`.",
        neg,
    );
    eprintln!("wrote {dir}/positive.json and negative.json");
}
