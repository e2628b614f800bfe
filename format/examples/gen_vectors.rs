//! Regenerates `tests/vectors/*.json` (FORMAT.md §10). Run: `make vectors` (`cargo run -p keyseal-format --example gen_vectors`).
//! The output is checked in; the vector tests re-derive the positive messages byte for byte, so
//! any change to the format shows up as a diff here.
#![allow(clippy::unwrap_used, missing_docs)]

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

fn main() {
    let default_entry = || vec![kms_entry("acme", "acme/default", b"opaque-wrapped-dek-v1")];
    let ctx = || vec![("tenant", "acme"), ("object", "doc-42")];
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

    let cases = vec![
        Case {
            name: "empty",
            signing: None,
            description: "empty plaintext: one empty last segment (16-byte body)",
            segment_size: 64,
            context: ctx(),
            entries: default_entry(),
            plaintext: vec![],
            extra: json!({}),
        },
        Case {
            name: "one-byte",
            signing: None,
            description: "a single byte",
            segment_size: 64,
            context: ctx(),
            entries: default_entry(),
            plaintext: vec![0x2a],
            extra: json!({}),
        },
        Case {
            name: "segment-minus-one",
            signing: None,
            description: "S-1 bytes: one last segment, one byte short of full",
            segment_size: 64,
            context: ctx(),
            entries: default_entry(),
            plaintext: fill(63, 1),
            extra: json!({}),
        },
        Case {
            name: "exact-segment",
            signing: None,
            description: "exactly S bytes: one full segment then an empty last segment",
            segment_size: 64,
            context: ctx(),
            entries: default_entry(),
            plaintext: fill(64, 2),
            extra: json!({}),
        },
        Case {
            name: "exact-multiple",
            signing: None,
            description: "3*S bytes: three full segments and an empty last one",
            segment_size: 64,
            context: ctx(),
            entries: default_entry(),
            plaintext: fill(192, 3),
            extra: json!({}),
        },
        Case {
            name: "many-segments",
            signing: None,
            description: "1000 bytes in 64-byte segments: 16 segments, last holds 40 bytes",
            segment_size: 64,
            context: ctx(),
            entries: default_entry(),
            plaintext: fill(1000, 4),
            extra: json!({}),
        },
        Case {
            name: "empty-context",
            signing: None,
            description: "no context pairs",
            segment_size: 128,
            context: vec![],
            entries: default_entry(),
            plaintext: b"hello, keyseal".to_vec(),
            extra: json!({}),
        },
        Case {
            name: "non-ascii-context",
            signing: None,
            description: "UTF-8 context, keys sorted by bytes (\u{00e9} > z), a value with emoji and CJK",
            segment_size: 64,
            context: vec![
                ("z", "last ascii"),
                ("\u{00e9}tat", "d\u{00e9}j\u{00e0} vu"),
                ("a", "\u{1f510} \u{79d8}\u{5bc6}"),
            ],
            entries: default_entry(),
            plaintext: "d\u{00e9}j\u{00e0} vu \u{1f510}".as_bytes().to_vec(),
            extra: json!({}),
        },
        Case {
            name: "two-entries",
            signing: None,
            description: "primary and escrow key services",
            segment_size: 64,
            context: ctx(),
            entries: vec![
                kms_entry("acme", "acme/default", b"primary-wrapped"),
                kms_entry("acme-escrow", "acme/escrow", b"escrow-wrapped"),
            ],
            plaintext: fill(100, 5),
            extra: json!({}),
        },
        Case {
            name: "hpke-p256-entry",
            signing: None,
            description: "an hpke-p256 entry sealed offline to key version 3; open it with recipient_secret to get the data key",
            segment_size: 64,
            context: ctx(),
            entries: vec![WrappedKeyEntry {
                kind: EntryKind::HpkeP256,
                key_service_id: "acme".into(),
                key_id: "acme/default".into(),
                wrapped: hpke_wrapped.clone(),
            }],
            plaintext: fill(70, 6),
            extra: json!({"recipient_secret": hex::encode(fill(32, 7)), "recipient_public": hex::encode(recipient.public_sec1())}),
        },
        Case {
            name: "large-segment",
            signing: None,
            description: "4096-byte segments, 10000 bytes",
            segment_size: 4096,
            context: ctx(),
            entries: default_entry(),
            plaintext: fill(10000, 8),
            extra: json!({}),
        },
        Case {
            name: "unknown-entry-kind",
            signing: None,
            description: "an entry of unknown kind 0x7f before a kms entry: readers keep and skip it",
            segment_size: 64,
            context: ctx(),
            entries: vec![
                WrappedKeyEntry {
                    kind: EntryKind::Unknown(0x7f),
                    key_service_id: "future".into(),
                    key_id: "k".into(),
                    wrapped: vec![1, 2, 3],
                },
                kms_entry("acme", "acme/default", b"w"),
            ],
            plaintext: fill(65, 9),
            extra: json!({}),
        },
        Case {
            name: "signed",
            signing: Some(signing_secret),
            description: "suite 2: 200 bytes in 64-byte segments, the verification key in the context, the 64-byte signature after the body",
            segment_size: 64,
            context: signed_ctx(),
            entries: default_entry(),
            plaintext: fill(200, 10),
            extra: json!({"signing_secret": hex::encode(signing_secret)}),
        },
        Case {
            name: "signed-empty",
            signing: Some(signing_secret),
            description: "suite 2, empty plaintext: one empty segment, then the signature",
            segment_size: 64,
            context: signed_ctx(),
            entries: default_entry(),
            plaintext: vec![],
            extra: json!({"signing_secret": hex::encode(signing_secret)}),
        },
    ];

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

    // Negative vectors: mutations of "many-segments" (S = 64, 16 segments, context tenant/object).
    let (good, hlen) = base.unwrap();
    let dek_hex = positives[5]["data_key"].as_str().unwrap().to_string();
    let seg = 64 + 16;
    let body = hlen;
    // Offsets inside the authenticated part: see FORMAT.md §3.2.
    let ctx_start = 11 + 32 + 4; // pair count
    let auth_len = u32::from_be_bytes(good[7..11].try_into().unwrap()) as usize;
    let commit = auth_len - 32;
    let section = auth_len; // u32 section length, then u16 count
    let first_entry = section + 4 + 2;
    let mut neg = vec![];
    let mut add = |name: &str, description: &str, bytes: Vec<u8>, error: &str, extra: Value| {
        let mut v = json!({"name": name, "description": description, "data_key": dek_hex, "sealed": hex::encode(bytes), "error": error});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        neg.push(v);
    };
    let flip = |at: usize, mask: u8| {
        let mut b = good.clone();
        b[at] ^= mask;
        b
    };
    let none = || json!({});
    add("empty-input", "zero bytes", vec![], "INVALID_FORMAT", none());
    add(
        "bad-magic",
        "first magic byte flipped",
        flip(0, 0x01),
        "INVALID_FORMAT",
        none(),
    );
    add(
        "unknown-version",
        "version byte 2",
        {
            let mut b = good.clone();
            b[4] = 2;
            b
        },
        "UNSUPPORTED_VERSION",
        none(),
    );
    add(
        "unknown-suite",
        "suite 0x00ff",
        {
            let mut b = good.clone();
            b[6] = 0xff;
            b
        },
        "UNSUPPORTED_SUITE",
        none(),
    );
    add(
        "auth-len-plus-one",
        "auth_len one too large",
        {
            let mut b = good.clone();
            b[10] = b[10].wrapping_add(1);
            b
        },
        "INVALID_FORMAT",
        none(),
    );
    add(
        "auth-len-hostile",
        "auth_len 0xffffffff",
        {
            let mut b = good.clone();
            b[7..11].copy_from_slice(&[0xff; 4]);
            b
        },
        "LIMIT_EXCEEDED",
        none(),
    );
    add(
        "message-id-flipped",
        "one bit of the message id flipped: commitment no longer matches",
        flip(11, 0x80),
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "segment-size-flipped",
        "segment size 64 -> 65: header hash changes",
        flip(11 + 32 + 3, 0x01),
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "segment-size-too-small",
        "segment size 1, below the minimum",
        {
            let mut b = good.clone();
            b[43..47].copy_from_slice(&1u32.to_be_bytes());
            b
        },
        "LIMIT_EXCEEDED",
        none(),
    );
    add(
        "context-value-flipped",
        "last byte of the last context value flipped: header hash changes",
        flip(commit - 1, 0x01),
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "context-unsorted",
        "first context key's first byte raised so keys are out of order",
        {
            let mut b = good.clone();
            b[ctx_start + 4] = b'z';
            b
        },
        "INVALID_FORMAT",
        none(),
    );
    add(
        "context-not-utf8",
        "a context key byte set to 0xff",
        {
            let mut b = good.clone();
            b[ctx_start + 4] = 0xff;
            b
        },
        "INVALID_FORMAT",
        none(),
    );
    add(
        "context-key-len-hostile",
        "first context key length 0xffff",
        {
            let mut b = good.clone();
            b[ctx_start + 2..ctx_start + 4].copy_from_slice(&[0xff, 0xff]);
            b
        },
        "LIMIT_EXCEEDED",
        none(),
    );
    add(
        "commitment-flipped",
        "one bit of the key commitment flipped",
        flip(commit + 5, 0x04),
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "section-len-hostile",
        "wrapped-key section length 0xffffffff",
        {
            let mut b = good.clone();
            b[section..section + 4].copy_from_slice(&[0xff; 4]);
            b
        },
        "LIMIT_EXCEEDED",
        none(),
    );
    add(
        "zero-entries",
        "entry count 0 (section length adjusted)",
        {
            let mut b = good[..section].to_vec();
            b.extend_from_slice(&2u32.to_be_bytes());
            b.extend_from_slice(&0u16.to_be_bytes());
            b.extend_from_slice(&good[body..]);
            b
        },
        "INVALID_FORMAT",
        none(),
    );
    add(
        "entry-kind-zero",
        "entry kind 0 is reserved",
        {
            let mut b = good.clone();
            b[first_entry] = 0;
            b
        },
        "INVALID_FORMAT",
        none(),
    );
    add(
        "entry-wrapped-len-hostile",
        "wrapped length 0xffff points past the section",
        {
            let mut b = good.clone();
            let sid_len = b[first_entry + 1] as usize;
            let kid_at = first_entry + 2 + sid_len;
            let kid_len = u16::from_be_bytes([b[kid_at], b[kid_at + 1]]) as usize;
            let wl = kid_at + 2 + kid_len;
            b[wl..wl + 2].copy_from_slice(&[0xff, 0xff]);
            b
        },
        "LIMIT_EXCEEDED",
        none(),
    );
    add(
        "truncated-header",
        "cut inside the authenticated part",
        good[..40].to_vec(),
        "INVALID_FORMAT",
        none(),
    );
    add(
        "tag-flipped",
        "last byte of the last segment's tag flipped",
        {
            let n = good.len();
            flip(n - 1, 0x01)
        },
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "ciphertext-flipped",
        "a ciphertext byte of segment 3 flipped",
        flip(body + 3 * seg + 10, 0x20),
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "truncated-segment",
        "last byte removed",
        good[..good.len() - 1].to_vec(),
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "dropped-last-segment",
        "the last segment removed: the previous one is not marked last",
        good[..body + 15 * seg].to_vec(),
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "body-cut-at-segment",
        "only the header and the first full segment",
        good[..body + seg].to_vec(),
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "reordered-segments",
        "segments 1 and 2 swapped",
        {
            let mut b = good.clone();
            let (s1, s2) = (body + seg, body + 2 * seg);
            let one = good[s1..s1 + seg].to_vec();
            b[s1..s1 + seg].copy_from_slice(&good[s2..s2 + seg]);
            b[s2..s2 + seg].copy_from_slice(&one);
            b
        },
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "appended-segment",
        "segment 0 appended again after the last segment",
        {
            let mut b = good.clone();
            b.extend_from_slice(&good[body..body + seg]);
            b
        },
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "appended-bytes",
        "one zero byte appended",
        {
            let mut b = good.clone();
            b.push(0);
            b
        },
        "DECRYPTION_FAILED",
        none(),
    );
    add(
        "wrong-data-key",
        "correct message, different data key",
        good.clone(),
        "DECRYPTION_FAILED",
        json!({"data_key": hex::encode(dek_for(200).expose_secret())}),
    );
    add(
        "context-mismatch",
        "reader requires tenant=other",
        good.clone(),
        "CONTEXT_MISMATCH",
        json!({"require_context": [["tenant", "other"]]}),
    );
    add(
        "context-missing",
        "reader requires a pair the message lacks",
        good.clone(),
        "CONTEXT_MISMATCH",
        json!({"require_context": [["region", "eu"]]}),
    );
    // The hpke-p256 entry with one byte flipped: opening the entry fails.
    let hp = &positives[9];
    let mut bad_entry = hex::decode(hp["entries"][0]["wrapped"].as_str().unwrap()).unwrap();
    bad_entry[40] ^= 1;
    add(
        "hpke-entry-flipped",
        "the hpke-p256 entry of vector hpke-p256-entry with one byte of enc flipped; operation open_hpke_entry",
        vec![],
        "DECRYPTION_FAILED",
        json!({
            "operation": "open_hpke_entry", "recipient_secret": hp["recipient_secret"], "key_id": "acme/default",
            "context": hp["context"], "wrapped": hex::encode(&bad_entry)
        }),
    );
    add(
        "hpke-entry-wrong-context",
        "the hpke-p256 entry opened under another context; operation open_hpke_entry",
        vec![],
        "DECRYPTION_FAILED",
        json!({
            "operation": "open_hpke_entry", "recipient_secret": hp["recipient_secret"], "key_id": "acme/default",
            "context": [["tenant", "evil"]], "wrapped": hp["entries"][0]["wrapped"]
        }),
    );

    // Suite 2 (mutations of "signed"): the signature is part of what authenticates.
    let signed = hex::decode(positives[12]["sealed"].as_str().unwrap()).unwrap();
    let signed_dek = positives[12]["data_key"].as_str().unwrap().to_string();
    let mut add_signed = |name: &str, description: &str, bytes: Vec<u8>, error: &str| {
        neg.push(json!({"name": name, "description": description, "data_key": signed_dek, "sealed": hex::encode(bytes), "error": error}));
    };
    let n = signed.len();
    add_signed(
        "signed-signature-flipped",
        "suite 2: one bit of the signature flipped",
        {
            let mut b = signed.clone();
            b[n - 10] ^= 0x01;
            b
        },
        "DECRYPTION_FAILED",
    );
    add_signed(
        "signed-signature-missing",
        "suite 2: the 64-byte signature cut off",
        signed[..n - 64].to_vec(),
        "DECRYPTION_FAILED",
    );
    add_signed(
        "signed-signature-truncated",
        "suite 2: the last byte of the signature cut off",
        signed[..n - 1].to_vec(),
        "DECRYPTION_FAILED",
    );
    add_signed(
        "signed-extended",
        "suite 2: a byte appended after the signature",
        {
            let mut b = signed.clone();
            b.push(0);
            b
        },
        "DECRYPTION_FAILED",
    );
    add_signed(
        "signed-suite-downgraded",
        "suite 2 message with its suite byte set to 1: a verification key in an unsigned header",
        {
            let mut b = signed.clone();
            b[6] = 1;
            b
        },
        "INVALID_FORMAT",
    );
    add_signed(
        "unsigned-suite-upgraded",
        "the many-segments (suite 1) message with its suite byte set to 2: a signed header without a verification key",
        {
            let mut b = good.clone();
            b[6] = 2;
            b
        },
        "INVALID_FORMAT",
    );

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
