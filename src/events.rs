//! Telemetry: typed events for every key-service call, cache hit or miss and encrypt or decrypt
//! outcome, and the [`Observer`] that records them into the figures of `metrics.rs`.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use core::cell::RefCell;

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
        /// The W3C trace id the attempt was sent under (from the caller's trace context), if any.
        trace_id: Option<String>,
        /// The attempt's own span id (its `traceparent`'s parent-id field), if traced.
        span_id: Option<String>,
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
/// Latency samples kept per operation for the percentiles.
pub(crate) const RECENT: usize = 2048;

#[derive(Default)]
pub(crate) struct OpStats {
    pub(crate) calls: u64,
    pub(crate) errors: BTreeMap<&'static str, u64>,
    pub(crate) buckets: [u64; LATENCY_BUCKETS_MS.len()],
    pub(crate) sum_ms: f64,
    pub(crate) recent: VecDeque<f64>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) ops: BTreeMap<&'static str, OpStats>,
    pub(crate) cache_hits: u64,
    pub(crate) cache_misses: u64,
    pub(crate) encrypt_ok: u64,
    pub(crate) encrypt_failed: BTreeMap<&'static str, u64>,
    pub(crate) decrypt_ok: u64,
    pub(crate) decrypt_failed: BTreeMap<&'static str, u64>,
    pub(crate) last_time_to_revoke_ms: Option<f64>,
    pub(crate) known_disabled: BTreeSet<String>,
}

/// A callback that receives every [`Event`].
pub type EventSink = Box<dyn Fn(&Event)>;

/// Counters and histograms, plus the event sink. Shared by the SDK and its key-service clients.
#[derive(Default)]
pub struct Observer {
    pub(crate) inner: RefCell<Inner>,
    sink: Option<EventSink>,
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
}
