//! Capped exponential backoff with jitter, shared by REST retries and socket reconnects.

use std::time::Duration;

use rand::RngExt;

/// Delays `initial, 2·initial, 4·initial, …` capped at `max`, each drawn uniformly from the
/// upper half of its step ("equal jitter"), so that many clients retrying together spread out
/// while each still waits at least half the nominal delay.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
        }
    }

    /// The nominal (jitter-free) delay before retry number `attempt` (0-based).
    pub fn nominal(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay to wait before retry number `attempt`, with jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let nominal = self.nominal(attempt);
        let half = nominal / 2;
        half + half.mul_f64(rand::rng().random_range(0.0..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_jitter_stays_in_the_upper_half() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let nominal: Vec<u128> = (0..6).map(|a| b.nominal(a).as_millis()).collect();
        assert_eq!(nominal, [100, 200, 400, 800, 1000, 1000]);
        for attempt in 0..40 {
            let d = b.delay(attempt);
            assert!(
                d >= b.nominal(attempt) / 2 && d <= b.nominal(attempt),
                "{d:?}"
            );
        }
    }
}
