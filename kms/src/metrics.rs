//! Prometheus metrics (OpenMetrics text at `/v1/metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Labels of request metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    /// Operation (`generate`, `wrap`, `unwrap`, `rewrap`, `public_key`, `status`, `admin`...).
    pub operation: String,
    /// `ok` or the protocol error name.
    pub outcome: String,
}

/// Labels of the refusal counter (seed M9).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// The protocol error name the request was refused with.
    pub reason: String,
}

/// The answers that refuse a request for who is asking or what it asks of a key (seed M9): no or
/// a bad token, a tenant or role that may not, a key disabled or destroyed, too many requests.
pub const REFUSALS: [&str; 5] = [
    "Unauthenticated",
    "AccessDenied",
    "KeyDisabled",
    "KeyDestroyed",
    "Throttled",
];

/// Labels of the key-state gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// Key state.
    pub state: String,
}

/// Labels of the per-key rotation gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyLabels {
    /// Key id.
    pub key_id: String,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms .. ~3.3 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// All metrics of the service (docs/PROTOCOL.md §10, plus `keyseal_kms_requests_in_flight`).
pub struct Metrics {
    registry: Registry,
    requests: Family<OpLabels, Counter>,
    latency: Family<OpLabels, Histogram, fn() -> Histogram>,
    keys: Family<StateLabels, Gauge>,
    in_flight: Gauge,
    next_rotation: Family<KeyLabels, Gauge<f64, AtomicU64>>,
    version_age: Family<KeyLabels, Gauge<f64, AtomicU64>>,
    refusals: Family<RefusalLabels, Counter>,
    backup_attempts: Gauge,
    backup_successes: Gauge,
    backup_last_success: Gauge,
    backup_last_verified: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Register everything.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("keyseal_kms");
        let requests = Family::<OpLabels, Counter>::default();
        let latency =
            Family::<OpLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let keys = Family::<StateLabels, Gauge>::default();
        registry.register(
            "requests",
            "Requests by operation and outcome (ok or error name)",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Request latency by operation and outcome",
            latency.clone(),
        );
        registry.register("keys", "Keys by state", keys.clone());
        let in_flight = Gauge::default();
        registry.register(
            "requests_in_flight",
            "Requests queued for a worker or running (the --max-in-flight limit applies to it)",
            in_flight.clone(),
        );
        let next_rotation = Family::<KeyLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "key_next_rotation_timestamp_seconds",
            "When each key with a rotation period rotates next (Unix seconds; PROTOCOL.md §8.5)",
            next_rotation.clone(),
        );
        let version_age = Family::<KeyLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "key_primary_version_age_seconds",
            "Age of each key's current (primary) version",
            version_age.clone(),
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "refusals",
            "Requests refused by reason: Unauthenticated, AccessDenied, KeyDisabled, KeyDestroyed, Throttled (seed M9)",
            refusals.clone(),
        );
        let backup_attempts = Gauge::default();
        registry.register(
            "backup_attempts",
            "`backup create` runs recorded in the store (seed M10)",
            backup_attempts.clone(),
        );
        let backup_successes = Gauge::default();
        registry.register(
            "backup_successes",
            "`backup create` runs that wrote a backup (seed M10)",
            backup_successes.clone(),
        );
        let backup_last_success = Gauge::default();
        registry.register(
            "backup_last_success_timestamp_seconds",
            "Unix time of the last backup written, 0 if none",
            backup_last_success.clone(),
        );
        let backup_last_verified = Gauge::default();
        registry.register(
            "backup_last_verified_success_timestamp_seconds",
            "Unix time of the last `backup verify` that restored and checked a backup, 0 if none (seed M10)",
            backup_last_verified.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            keys,
            in_flight,
            next_rotation,
            version_age,
            refusals,
            backup_attempts,
            backup_successes,
            backup_last_success,
            backup_last_verified,
        }
    }

    /// Record one request.
    pub fn observe(&self, operation: &str, outcome: &str, seconds: f64) {
        let l = OpLabels {
            operation: operation.to_string(),
            outcome: outcome.to_string(),
        };
        self.requests.get_or_create(&l).inc();
        self.latency.get_or_create(&l).observe(seconds);
        if REFUSALS.contains(&outcome) {
            self.refusals
                .get_or_create(&RefusalLabels {
                    reason: outcome.to_string(),
                })
                .inc();
        }
    }

    /// Set the backup gauges from the store's bookkeeping.
    pub fn set_backups(&self, s: &crate::store::BackupStats) {
        self.backup_attempts.set(s.attempts);
        self.backup_successes.set(s.successes);
        self.backup_last_success.set(s.last_success_ms / 1000);
        self.backup_last_verified.set(s.last_verified_ms / 1000);
    }

    /// Set the key-state gauge.
    pub fn set_keys(&self, state: &str, n: i64) {
        self.keys
            .get_or_create(&StateLabels {
                state: state.to_string(),
            })
            .set(n);
    }

    /// Set the rotation gauges of one key (`next_at_ms`: when a period is set).
    pub fn set_rotation(&self, key_id: &str, next_at_ms: Option<i64>, primary_since_ms: i64, now_ms: i64) {
        let l = KeyLabels {
            key_id: key_id.to_string(),
        };
        match next_at_ms {
            Some(t) => {
                self.next_rotation.get_or_create(&l).set(t as f64 / 1000.0);
            }
            None => {
                self.next_rotation.remove(&l);
            }
        }
        self.version_age
            .get_or_create(&l)
            .set((now_ms - primary_since_ms).max(0) as f64 / 1000.0);
    }

    /// Set the in-flight gauge.
    pub fn set_in_flight(&self, n: usize) {
        self.in_flight.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Encode as OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
