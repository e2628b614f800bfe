//! The negative vectors: mutations of the positive ones, each with the error it MUST give
//! (FORMAT.md §9, §10).

use serde_json::{Value, json};

use super::dek_for;

/// Negative vectors from the positive ones; `good` is the sealed "many-segments" message and
/// `hlen` its header length.
pub(crate) fn vectors(positives: &[Value], good: &[u8], hlen: usize) -> Vec<Value> {
    // Mutations of "many-segments" (S = 64, 16 segments, context tenant/object).
    let good = good.to_vec();
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
    neg
}
