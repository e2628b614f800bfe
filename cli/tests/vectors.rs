//! The shared vectors (tests/vectors/, FORMAT.md §10) through both native engines: the `ring`
//! engine behind `AeadEngine` and the parallel pipeline give the bytes of every positive vector
//! (the RustCrypto engine is the reference), and the `keyseal` binary opens every positive vector
//! and refuses every negative one with its code and exit status, with either engine, leaving no
//! output file.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use keyseal::format::ecdsa_p256::SignatureKeyPair;
use keyseal::format::signature::SignatureChain;
use keyseal::{DataKey, EncryptionContext, ExternalSegments, Header, RustCryptoEngine, Suite};
use keyseal_cli::engine::{RingCipher, RingEngine};
use keyseal_cli::pipeline::{self, Direction, Plan, Signing};
use serde_json::Value;

const POSITIVE: &str = include_str!("../../tests/vectors/positive.json");
const NEGATIVE: &str = include_str!("../../tests/vectors/negative.json");

fn vectors(src: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(src).unwrap();
    v["vectors"].as_array().unwrap().clone()
}

fn hexf(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(v[field].as_str().unwrap()).unwrap()
}

#[test]
fn ring_engine_and_pipeline_give_the_vector_bytes() {
    let all = vectors(POSITIVE);
    assert!(all.len() >= 10);
    for v in &all {
        let name = v["name"].as_str().unwrap();
        let dek = DataKey::from_bytes(&hexf(v, "data_key")).unwrap();
        let sealed = hexf(v, "sealed");
        let pt = hexf(v, "plaintext");
        let (header, off) = Header::parse(&sealed).unwrap();
        let signer = v.get("signing_secret").map(|_| {
            SignatureKeyPair::from_secret_scalar(&hexf(v, "signing_secret").try_into().unwrap()).unwrap()
        });
        // The engines behind the core's AeadEngine: same bytes, both directions.
        for engine in [&RingEngine as &dyn keyseal::AeadEngine, &RustCryptoEngine] {
            let again = match &signer {
                Some(k) => keyseal::format::seal_signed(engine, &dek, &header, &pt, k).unwrap(),
                None => keyseal::seal(engine, &dek, &header, &pt).unwrap(),
            };
            assert_eq!(again, sealed, "{name} seal with {}", engine.name());
            let (_, opened) = keyseal::open(engine, &dek, &sealed, &EncryptionContext::new()).unwrap();
            assert_eq!(opened, pt, "{name} open with {}", engine.name());
        }
        // The parallel pipeline, with 1 to 3 workers.
        for threads in 1..=3 {
            let mut segs = ExternalSegments::for_seal(&header, &dek).unwrap();
            let cipher = RingCipher::new(&segs.take_key().unwrap()).unwrap();
            let chain = || SignatureChain::new(header.auth_hash());
            let signing = match &signer {
                Some(k) => Signing::Sign(chain(), k),
                None => Signing::None,
            };
            let plan = Plan {
                direction: Direction::Seal,
                segment_size: header.segment_size(),
                threads,
            };
            let mut body = Vec::new();
            pipeline::run(plan, &cipher, &mut &pt[..], &mut body, signing, &|_| {}).unwrap();
            assert_eq!(body, sealed[off..], "{name} pipeline seal, {threads} threads");
            let signing = match header.suite() {
                Suite::Signed => Signing::Verify(chain(), *header.verification_key().unwrap()),
                _ => Signing::None,
            };
            let plan = Plan {
                direction: Direction::Open,
                ..plan
            };
            let mut opened = Vec::new();
            pipeline::run(plan, &cipher, &mut &sealed[off..], &mut opened, signing, &|_| {}).unwrap();
            assert_eq!(opened, pt, "{name} pipeline open, {threads} threads");
        }
    }
}

#[test]
fn the_binary_opens_positive_and_refuses_negative_vectors_with_both_engines() {
    let dir = common::scratch();
    let mut checked = 0;
    for (i, v) in vectors(POSITIVE).iter().enumerate() {
        let (s, k) = (dir.path().join(format!("p{i}")), dir.path().join(format!("k{i}")));
        std::fs::write(&s, hexf(v, "sealed")).unwrap();
        std::fs::write(&k, v["data_key"].as_str().unwrap()).unwrap();
        for engine in ["native", "rustcrypto"] {
            let out = std::process::Command::new(common::KEYSEAL)
                .args(["decrypt", "--engine", engine, "--data-key-file"])
                .arg(&k)
                .arg(&s)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                v["name"],
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout, hexf(v, "plaintext"), "{} with {engine}", v["name"]);
            checked += 1;
        }
    }
    for (i, v) in vectors(NEGATIVE).iter().enumerate() {
        if v.get("operation").is_some() {
            continue; // entry-level vectors (open_hpke_entry): no message to open
        }
        let name = v["name"].as_str().unwrap();
        let code = v["error"].as_str().unwrap();
        let (s, k) = (
            dir.path().join(format!("n{i}")),
            dir.path().join(format!("nk{i}")),
        );
        std::fs::write(&s, hexf(v, "sealed")).unwrap();
        std::fs::write(&k, v["data_key"].as_str().unwrap()).unwrap();
        for engine in ["native", "rustcrypto"] {
            let out_file = dir.path().join(format!("out{i}-{engine}"));
            let mut c = std::process::Command::new(common::KEYSEAL);
            c.args(["decrypt", "--engine", engine, "--data-key-file"])
                .arg(&k)
                .arg(&s)
                .arg("-o")
                .arg(&out_file);
            for p in v["require_context"].as_array().into_iter().flatten() {
                c.arg("--require-context").arg(format!(
                    "{}={}",
                    p[0].as_str().unwrap(),
                    p[1].as_str().unwrap()
                ));
            }
            let out = c.output().unwrap();
            common::assert_fails(&out, code);
            assert!(!out_file.exists(), "{name} ({engine}): no plaintext file");
            checked += 1;
        }
    }
    assert!(checked > 80, "checked {checked}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".keyseal-tmp-"))
        .collect();
    assert!(left.is_empty(), "temporary files left behind");
}
