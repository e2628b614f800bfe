//! Telemetry: typed events for every key-service call, cache hit or miss and decrypt outcome,
//! and the counters/histograms behind `metrics()` and the Prometheus text.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt::Write as _;

use serde::Serialize;

/// One thing the SDK did, for `onEvent`. Serialized with a `type` tag and camelCase fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Event {
    /// One HTTP attempt to a key service.
    KmsCall {
        /// Key-service id.
        service: String,
        /// Base URL tried.
        url: String,
        /// Operation (`generate`, `wrap`, `unwrap`, `rewrap`, `public_key`).
        op: &'static str,
        /// Whether it succeeded.
        ok: bool,
        /// Error code when it failed.
        code: Option<&'static str>,
        /// HTTP status, when there was an answer.
        status: Option<u16>,
        /// Wall time of the attempt.
        latency_ms: f64,
        /// 1-based attempt number within the call.
        attempt: u32,
    },
    /// A circuit breaker opened for a URL.
    CircuitOpen {
        /// Key-service id.
        service: String,
        /// Base URL.
        url: String,
    },
    /// A cached data key was used (`cache` is `encrypt` or `decrypt`).
    CacheHit {
        /// Which cache.
        cache: &'static str,
        /// The key id.
        key_id: String,
    },
    /// No usable cached data key.
    CacheMiss {
        /// Which cache.
        cache: &'static str,
        /// The key id.
        key_id: String,
    },
    /// Cached data keys were dropped (`reason`: `purge` or `key_disabled`).
    CachePurged {
        /// The key id, or none for all.
        key_id: Option<String>,
        /// Why.
        reason: &'static str,
    },
    /// An encrypt finished.
    Encrypt {
        /// Whether it succeeded.
        ok: bool,
        /// Error code on failure.
        code: Option<&'static str>,
        /// Plaintext bytes.
        bytes: u64,
    },
    /// A decrypt finished.
    Decrypt {
        /// Whether it succeeded.
        ok: bool,
        /// Error code on failure.
        code: Option<&'static str>,
        /// Sealed bytes.
        bytes: u64,
    },
}

/// Upper bounds (ms) of the latency histogram buckets.
pub const LATENCY_BUCKETS_MS: [f64; 14] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 30000.0,
];
const RECENT: usize = 2048;

#[derive(Default)]
struct OpStats {
    calls: u64,
    errors: BTreeMap<&'static str, u64>,
    buckets: [u64; LATENCY_BUCKETS_MS.len()],
    sum_ms: f64,
    recent: VecDeque<f64>,
}

#[derive(Default)]
struct Inner {
    ops: BTreeMap<&'static str, OpStats>,
    cache_hits: u64,
    cache_misses: u64,
    encrypt_ok: u64,
    encrypt_failed: BTreeMap<&'static str, u64>,
    decrypt_ok: u64,
    decrypt_failed: BTreeMap<&'static str, u64>,
    last_time_to_revoke_ms: Option<f64>,
    known_disabled: BTreeSet<String>,
}

/// A callback that receives every [`Event`].
pub type EventSink = Box<dyn Fn(&Event)>;

/// Counters and histograms, plus the event sink. Shared by the SDK and its key-service clients.
#[derive(Default)]
pub struct Observer {
    inner: RefCell<Inner>,
    sink: Option<EventSink>,
}

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

/// What `metrics()` returns (the SLIs of the brief).
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
    /// An observer that forwards events to `sink`.
    pub fn with_sink(sink: Option<EventSink>) -> Self {
        Self {
            inner: RefCell::default(),
            sink,
        }
    }

    /// Emits an event to the sink, if any.
    pub fn emit(&self, e: Event) {
        if let Some(s) = &self.sink {
            s(&e);
        }
    }

    pub(crate) fn kms_attempt(&self, op: &'static str, code: Option<&'static str>, latency_ms: f64) {
        let mut i = self.inner.borrow_mut();
        let s = i.ops.entry(op).or_default();
        s.calls += 1;
        if let Some(c) = code {
            *s.errors.entry(c).or_default() += 1;
        }
        s.sum_ms += latency_ms;
        if let Some(b) = LATENCY_BUCKETS_MS.iter().position(|&ub| latency_ms <= ub) {
            s.buckets[b] += 1;
        }
        if s.recent.len() == RECENT {
            s.recent.pop_front();
        }
        s.recent.push_back(latency_ms);
    }

    pub(crate) fn cache(&self, hit: bool, cache: &'static str, key_id: &str) {
        {
            let mut i = self.inner.borrow_mut();
            if hit {
                i.cache_hits += 1
            } else {
                i.cache_misses += 1
            }
        }
        let key_id = key_id.into();
        self.emit(if hit {
            Event::CacheHit { cache, key_id }
        } else {
            Event::CacheMiss { cache, key_id }
        });
    }

    pub(crate) fn encrypted(&self, result: Result<(), &'static str>, bytes: u64) {
        {
            let mut i = self.inner.borrow_mut();
            match result {
                Ok(()) => i.encrypt_ok += 1,
                Err(c) => *i.encrypt_failed.entry(c).or_default() += 1,
            }
        }
        self.emit(Event::Encrypt {
            ok: result.is_ok(),
            code: result.err(),
            bytes,
        });
    }

    pub(crate) fn decrypted(&self, result: Result<(), &'static str>, bytes: u64) {
        {
            let mut i = self.inner.borrow_mut();
            match result {
                Ok(()) => i.decrypt_ok += 1,
                Err(c) => *i.decrypt_failed.entry(c).or_default() += 1,
            }
        }
        self.emit(Event::Decrypt {
            ok: result.is_ok(),
            code: result.err(),
            bytes,
        });
    }

    /// Records a `KeyDisabled` refusal; the first one per key after it worked sets time-to-revoke.
    pub(crate) fn key_disabled(&self, key_id: &str, disabled_at_unix_ms: Option<f64>, now_unix_ms: f64) {
        let mut i = self.inner.borrow_mut();
        if i.known_disabled.insert(key_id.into())
            && let Some(at) = disabled_at_unix_ms
        {
            i.last_time_to_revoke_ms = Some((now_unix_ms - at).max(0.0));
        }
    }

    pub(crate) fn key_worked(&self, key_id: &str) {
        let mut i = self.inner.borrow_mut();
        if !i.known_disabled.is_empty() {
            i.known_disabled.remove(key_id);
        }
    }

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
