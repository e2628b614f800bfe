//! The SLI figures of `metrics()` and their Prometheus text exposition, read from the
//! [`Observer`]'s counters and histograms.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use serde::Serialize;

use crate::events::{LATENCY_BUCKETS_MS, Observer};

/// Per-operation figures in a [`MetricsSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpSnapshot {
    /// HTTP attempts.
    pub calls: u64,
    /// Failed attempts by code.
    pub errors: BTreeMap<&'static str, u64>,
    /// Latency percentiles over the most recent 2048 attempts.
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
}

/// What `metrics()` returns: the SDK-side SLIs (key-service latency and errors, cache hit ratio,
/// encrypt and decrypt outcomes, time to revoke; DESIGN.md "SDK policy").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSnapshot {
    /// Key-service figures by operation.
    pub key_service: BTreeMap<&'static str, OpSnapshot>,
    /// Cache hits (encrypt and decrypt caches).
    pub cache_hits: u64,
    /// Cache misses.
    pub cache_misses: u64,
    /// hits / (hits + misses), none before the first lookup.
    pub cache_hit_ratio: Option<f64>,
    /// Successful encrypts.
    pub encrypt_ok: u64,
    /// Failed encrypts by code.
    pub encrypt_failed: BTreeMap<&'static str, u64>,
    /// Successful decrypts.
    pub decrypt_ok: u64,
    /// Failed decrypts by code.
    pub decrypt_failed: BTreeMap<&'static str, u64>,
    /// ok / (ok + failed), none before the first decrypt.
    pub decrypt_success_rate: Option<f64>,
    /// Time from a key's disable (as reported by the key service) to this SDK's first refusal.
    pub last_time_to_revoke_ms: Option<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * (sorted.len() - 1) as f64 + 0.5) as usize;
    sorted.get(rank.min(sorted.len() - 1)).copied()
}

impl Observer {
    /// The current figures.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let i = self.inner.borrow();
        let key_service = i
            .ops
            .iter()
            .map(|(op, s)| {
                let mut v: Vec<f64> = s.recent.iter().copied().collect();
                v.sort_by(f64::total_cmp);
                let snap = OpSnapshot {
                    calls: s.calls,
                    errors: s.errors.clone(),
                    p50_ms: percentile(&v, 0.50),
                    p95_ms: percentile(&v, 0.95),
                    p99_ms: percentile(&v, 0.99),
                };
                (*op, snap)
            })
            .collect();
        let lookups = i.cache_hits + i.cache_misses;
        let failed: u64 = i.decrypt_failed.values().sum();
        MetricsSnapshot {
            key_service,
            cache_hits: i.cache_hits,
            cache_misses: i.cache_misses,
            cache_hit_ratio: (lookups > 0).then(|| i.cache_hits as f64 / lookups as f64),
            encrypt_ok: i.encrypt_ok,
            encrypt_failed: i.encrypt_failed.clone(),
            decrypt_ok: i.decrypt_ok,
            decrypt_failed: i.decrypt_failed.clone(),
            decrypt_success_rate: (i.decrypt_ok + failed > 0)
                .then(|| i.decrypt_ok as f64 / (i.decrypt_ok + failed) as f64),
            last_time_to_revoke_ms: i.last_time_to_revoke_ms,
        }
    }

    /// Prometheus text exposition (version 0.0.4) of the same figures.
    pub fn prometheus_text(&self) -> String {
        let i = self.inner.borrow();
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP keyseal_kms_requests_total Key-service HTTP attempts by operation and outcome."
        );
        let _ = writeln!(o, "# TYPE keyseal_kms_requests_total counter");
        for (op, s) in &i.ops {
            let errs: u64 = s.errors.values().sum();
            let _ = writeln!(
                o,
                "keyseal_kms_requests_total{{op=\"{op}\",outcome=\"ok\"}} {}",
                s.calls - errs
            );
            for (code, n) in &s.errors {
                let _ = writeln!(
                    o,
                    "keyseal_kms_requests_total{{op=\"{op}\",outcome=\"{code}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            o,
            "# HELP keyseal_kms_request_duration_seconds Key-service attempt latency."
        );
        let _ = writeln!(o, "# TYPE keyseal_kms_request_duration_seconds histogram");
        for (op, s) in &i.ops {
            let mut cum = 0;
            for (ub, n) in LATENCY_BUCKETS_MS.iter().zip(s.buckets.iter()) {
                cum += n;
                let _ = writeln!(
                    o,
                    "keyseal_kms_request_duration_seconds_bucket{{op=\"{op}\",le=\"{}\"}} {cum}",
                    ub / 1000.0
                );
            }
            let _ = writeln!(
                o,
                "keyseal_kms_request_duration_seconds_bucket{{op=\"{op}\",le=\"+Inf\"}} {}",
                s.calls
            );
            let _ = writeln!(
                o,
                "keyseal_kms_request_duration_seconds_sum{{op=\"{op}\"}} {}",
                s.sum_ms / 1000.0
            );
            let _ = writeln!(
                o,
                "keyseal_kms_request_duration_seconds_count{{op=\"{op}\"}} {}",
                s.calls
            );
        }
        let _ = writeln!(o, "# TYPE keyseal_cache_lookups_total counter");
        let _ = writeln!(
            o,
            "keyseal_cache_lookups_total{{outcome=\"hit\"}} {}",
            i.cache_hits
        );
        let _ = writeln!(
            o,
            "keyseal_cache_lookups_total{{outcome=\"miss\"}} {}",
            i.cache_misses
        );
        for (name, ok, failed) in [
            ("encrypt", i.encrypt_ok, &i.encrypt_failed),
            ("decrypt", i.decrypt_ok, &i.decrypt_failed),
        ] {
            let _ = writeln!(o, "# TYPE keyseal_{name}_total counter");
            let _ = writeln!(o, "keyseal_{name}_total{{outcome=\"ok\"}} {ok}");
            for (code, n) in failed {
                let _ = writeln!(o, "keyseal_{name}_total{{outcome=\"{code}\"}} {n}");
            }
        }
        if let Some(t) = i.last_time_to_revoke_ms {
            let _ = writeln!(o, "# TYPE keyseal_last_time_to_revoke_seconds gauge");
            let _ = writeln!(o, "keyseal_last_time_to_revoke_seconds {}", t / 1000.0);
        }
        o
    }
}
