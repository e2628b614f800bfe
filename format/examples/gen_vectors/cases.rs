//! The positive vectors: what each one seals (FORMAT.md §10).

use keyseal_format::hpke_p256::RecipientKeyPair;
use keyseal_format::{EntryKind, WrappedKeyEntry};
use serde_json::json;

use super::{Case, ctx, fill, kms_entry};

/// Every positive case, in the order of positive.json (the negative vectors refer to some by index).
pub(crate) fn cases(
    hpke_wrapped: Vec<u8>,
    recipient: &RecipientKeyPair,
    signing_secret: [u8; 32],
    signed_ctx: impl Fn() -> Vec<(&'static str, &'static str)>,
) -> Vec<Case> {
    let default_entry =
        || -> Vec<WrappedKeyEntry> { vec![kms_entry("acme", "acme/default", b"opaque-wrapped-dek-v1")] };
    vec![
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
        Case {
            name: "aws-kms-entry",
            signing: None,
            description: "a keyseal-kms entry and an aws-kms entry (kind 3: an AWS KMS CiphertextBlob, opaque to the format)",
            segment_size: 64,
            context: ctx(),
            entries: vec![
                kms_entry("acme", "acme/default", b"primary-wrapped"),
                WrappedKeyEntry {
                    kind: EntryKind::AwsKms,
                    key_service_id: "acme-aws".into(),
                    key_id: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                        .into(),
                    wrapped: fill(184, 9),
                },
            ],
            plaintext: fill(90, 10),
            extra: json!({}),
        },
    ]
}
