//! Native core throughput for `make bench`: `keyseal_format::seal` / `keyseal_format::open` with the RustCrypto
//! engine (AES-NI/CLMUL when the CPU has them), per payload size, 5 runs each; prints one JSON
//! line per (size, op) with the per-run rates. No assertions on time (README: speed is measured,
//! never asserted). Run: `cargo bench --bench core` (make bench sets the profile for a short build).
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use keyseal_format::{DataKey, EncryptionContext, EntryKind, MessageId, RustCryptoEngine, WrappedKeyEntry};

fn main() {
    let dek = DataKey::from_bytes(&[7; 32]).unwrap();
    let ctx = || EncryptionContext::from_pairs([("tenant", "acme"), ("purpose", "bench")]).unwrap();
    let entry = WrappedKeyEntry {
        kind: EntryKind::Kms,
        key_service_id: "bench".into(),
        key_id: "acme/bench".into(),
        wrapped: vec![1; 97],
    };
    let budget = Duration::from_millis(300);
    for size in [1usize << 10, 1 << 20, 64 << 20] {
        let pt: Vec<u8> = (0..size).map(|i| (i * 31) as u8).collect();
        // A fresh message id (and header) per message, as `encrypt` with a cached data key does.
        let seal_one = || {
            let h = keyseal_format::new_header(
                &dek,
                MessageId::random().unwrap(),
                65536,
                ctx(),
                vec![entry.clone()],
            )
            .unwrap();
            keyseal_format::seal(&RustCryptoEngine, &dek, &h, &pt).unwrap()
        };
        let sealed = seal_one();
        let none = EncryptionContext::new();
        let open_one = || keyseal_format::open(&RustCryptoEngine, &dek, &sealed, &none).unwrap();
        assert_eq!(open_one().1, pt);
        for (op, f) in [
            ("seal", &seal_one as &dyn Fn() -> Vec<u8>),
            ("open", &|| open_one().1),
        ] {
            let mut rates = Vec::new();
            for _ in 0..5 {
                let (mut n, t0) = (0u64, Instant::now());
                while n == 0 || (t0.elapsed() < budget && size < (8 << 20)) {
                    std::hint::black_box(f());
                    n += 1;
                }
                rates.push(n as f64 / t0.elapsed().as_secs_f64());
            }
            let ops: Vec<String> = rates.iter().map(|r| format!("{r:.3}")).collect();
            println!(
                "{{\"size\":{size},\"op\":\"{op}\",\"ops_per_sec\":[{}]}}",
                ops.join(",")
            );
        }
    }
}
