//! Every JSON example in docs/PROTOCOL.md parses into the type of its section, and every JSON
//! block there is annotated with that type (`<!-- example: Type -->` on the line before), so an
//! example cannot drift from the structs the client and the server use.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use keyseal_protocol::{
    ErrorBody, ErrorName, GenerateBatchAnswer, GenerateBatchRequest, GenerateRequest, KeyAnswer,
    PublicKeyJwk, Recipient, RewrapBatchAnswer, RewrapBatchRequest, SealedKey, StatusAnswer, Suite,
    UnwrapRequest,
};
use serde::de::DeserializeOwned;

const PROTOCOL: &str = include_str!("../../docs/PROTOCOL.md");

fn examples() -> Vec<(String, String)> {
    let lines: Vec<&str> = PROTOCOL.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "```json" {
            let label = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| l.trim().strip_prefix("<!-- example: "))
                .and_then(|l| l.strip_suffix(" -->"))
                .unwrap_or_else(|| {
                    panic!(
                        "PROTOCOL.md line {}: JSON block without <!-- example: Type -->",
                        i + 1
                    )
                });
            let end = (i + 1..lines.len()).find(|&j| lines[j].trim() == "```").unwrap();
            out.push((label.to_string(), lines[i + 1..end].join("\n")));
            i = end;
        }
        i += 1;
    }
    out
}

fn parse<T: DeserializeOwned>(label: &str, json: &str) -> T {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("PROTOCOL.md example {label}: {e}\n{json}"))
}

fn check(label: &str, json: &str) {
    match label {
        "StatusAnswer" => {
            let s: StatusAnswer = parse(label, json);
            assert_eq!(s.hpke_suites, vec![Suite::V1]);
            assert_eq!(s.protocol_version, keyseal_protocol::PROTOCOL_VERSION);
        }
        "GenerateRequest" => {
            let r: GenerateRequest = parse(label, json);
            assert_eq!(r.recipient.unwrap().public_key.0.len(), 65);
            r.context.to_context().unwrap();
        }
        "GenerateBatchRequest" => {
            let r: GenerateBatchRequest = parse(label, json);
            assert_eq!(r.recipient.public_key.0.len(), 65);
            assert!(r.contexts.len() >= 2);
            for c in &r.contexts {
                c.to_context().unwrap();
            }
        }
        "GenerateBatchAnswer" => {
            let a: GenerateBatchAnswer = parse(label, json);
            assert_eq!(a.enc.0.len(), 65);
            assert!(a.items.len() >= 2);
            for i in &a.items {
                assert_eq!(i.ciphertext.0.len(), 48);
                assert_eq!(
                    keyseal_protocol::kms_layout::version(&i.wrapped_key.0),
                    Some(a.key_version)
                );
            }
        }
        "KeyAnswer" => {
            let a: KeyAnswer = parse(label, json);
            let sealed = a.sealed_key.unwrap();
            assert_eq!((sealed.enc.0.len(), sealed.ciphertext.0.len()), (65, 48));
            assert_eq!(
                keyseal_protocol::kms_layout::version(&a.wrapped_key.unwrap().0),
                a.key_version
            );
        }
        "UnwrapRequest" => {
            let r: UnwrapRequest = parse(label, json);
            assert_eq!(r.kind.as_deref(), Some("kms"));
            assert_eq!(r.wrapped_key.0.len(), keyseal_protocol::kms_layout::LEN_V1);
        }
        "RewrapBatchRequest" => {
            let r: RewrapBatchRequest = parse(label, json);
            assert!(!r.items.is_empty());
        }
        "RewrapBatchAnswer" => {
            let a: RewrapBatchAnswer = parse(label, json);
            assert!(
                a.items
                    .iter()
                    .any(|i| matches!(i, keyseal_protocol::BatchItemAnswer::Refused { .. }))
            );
            assert!(
                a.items
                    .iter()
                    .any(|i| matches!(i, keyseal_protocol::BatchItemAnswer::Rewrapped(_)))
            );
        }
        "PublicKeyJwk" => {
            let j: PublicKeyJwk = parse(label, json);
            let sec1 = j.to_sec1().unwrap();
            assert_eq!(PublicKeyJwk::from_sec1(&j.key_id, j.key_version, &sec1), Some(j));
        }
        "ErrorBody" => {
            let e: ErrorBody = parse(label, json);
            let name = e.name().unwrap();
            assert_eq!(name.status(), e.code);
            assert_eq!(name, ErrorName::KeyDisabled);
        }
        "Recipient" => {
            let r: Recipient = parse(label, json);
            assert_eq!(r.suite, Suite::V1);
        }
        "SealedKey" => {
            let s: SealedKey = parse(label, json);
            assert_eq!(s.ciphertext.0.len(), 48);
        }
        other => panic!("PROTOCOL.md names an example type this test does not know: {other}"),
    }
}

#[test]
fn every_protocol_example_parses_into_its_type() {
    let all = examples();
    assert!(all.len() >= 10, "found only {} examples", all.len());
    for (label, json) in &all {
        check(label, json);
    }
}

#[test]
fn error_names_round_trip_and_keep_their_status() {
    for n in ErrorName::ALL {
        assert_eq!(ErrorName::parse(n.as_str()), Some(n));
        let body: ErrorBody =
            serde_json::from_value(serde_json::to_value(ErrorBody::new(n, "m")).unwrap()).unwrap();
        assert_eq!(body.code, n.status());
    }
}

#[test]
fn secrets_never_print() {
    let r: keyseal_protocol::WrapRequest = serde_json::from_str(
        r#"{"key_id":"acme/k","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","context":{},"authorization":"eyJhbGciOiJFUzI1NiJ9.secret.sig"}"#,
    )
    .unwrap();
    let shown = format!("{r:?}");
    assert!(!shown.contains("AAAA") && !shown.contains("secret"), "{shown}");
}

#[test]
fn a_repeated_context_key_is_kept_so_that_it_can_be_refused() {
    let r: GenerateRequest = serde_json::from_str(r#"{"key_id":"a/b","context":{"x":"1","x":"2"}}"#).unwrap();
    assert_eq!(r.context.0.len(), 2);
    assert!(r.context.to_context().is_err());
}

#[test]
fn bad_base64_is_refused() {
    let e = serde_json::from_str::<UnwrapRequest>(r#"{"key_id":"a/b","wrapped_key":"AA-_","context":{}}"#)
        .unwrap_err();
    assert!(e.to_string().contains("RFC 4648"), "{e}");
}
