//! A circuit breaker per key-service URL: closed; open after `breaker_threshold` consecutive
//! failures; one half-open probe after `breaker_cooldown_ms`.

use crate::retry::RetryPolicy;

#[derive(Default)]
pub(crate) struct Breaker {
    failures: u32,
    open_until: Option<f64>,
    probing: bool,
}

impl Breaker {
    /// Closed: yes. Open: no until the cooldown ends, then one probe (half-open).
    pub(crate) fn allow(&mut self, now: f64) -> bool {
        match self.open_until {
            None => true,
            Some(t) if now >= t && !self.probing => {
                self.probing = true;
                true
            }
            Some(_) => false,
        }
    }

    /// The URL answered: close the circuit.
    pub(crate) fn success(&mut self) {
        *self = Self::default();
    }

    /// The URL failed. Returns true when this failure opened the circuit.
    pub(crate) fn failure(&mut self, now: f64, policy: &RetryPolicy) -> bool {
        self.failures += 1;
        let was_open = self.open_until.is_some();
        if self.probing || self.failures >= policy.breaker_threshold {
            self.open_until = Some(now + policy.breaker_cooldown_ms as f64);
            self.probing = false;
            return !was_open;
        }
        false
    }
}
