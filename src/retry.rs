//! The retry policy of key-service calls (DESIGN.md "Timeouts and retries"): per-attempt timeout,
//! overall deadline, rounds over the URL list with full-jitter exponential backoff, and the
//! circuit-breaker thresholds.

/// Timeouts, retries and circuit breaking for key-service calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Longest one HTTP attempt may take.
    pub attempt_timeout_ms: u64,
    /// Longest a whole call (all attempts, backoff included) may take; then `TIMEOUT`.
    pub deadline_ms: u64,
    /// Rounds over the URL list before giving up.
    pub max_rounds: u32,
    /// First backoff ceiling; doubles per round (full jitter: a random wait in 0..ceiling).
    pub backoff_base_ms: u64,
    /// Largest backoff ceiling.
    pub backoff_max_ms: u64,
    /// Consecutive failures that open a URL's circuit.
    pub breaker_threshold: u32,
    /// How long an open circuit stays open before one half-open probe is let through.
    pub breaker_cooldown_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempt_timeout_ms: 5_000,
            deadline_ms: 15_000,
            max_rounds: 3,
            backoff_base_ms: 50,
            backoff_max_ms: 2_000,
            breaker_threshold: 5,
            breaker_cooldown_ms: 10_000,
        }
    }
}

impl RetryPolicy {
    /// A full-jitter wait before round `round + 1`: uniform in `0 ..= min(max, base · 2^round)`.
    pub(crate) fn backoff_ms(&self, round: u32) -> u64 {
        let ceiling = self
            .backoff_base_ms
            .saturating_mul(1u64 << round.min(20))
            .min(self.backoff_max_ms);
        random_below(ceiling + 1)
    }

    /// Most attempts one call may make, 429 retries on the same URL included.
    pub(crate) fn max_attempts(&self, urls: usize) -> u32 {
        self.max_rounds
            .max(1)
            .saturating_mul(urls as u32)
            .saturating_add(4)
    }
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    if n == 0 || getrandom::fill(&mut b).is_err() {
        return n / 2;
    }
    u64::from_le_bytes(b) % n
}
