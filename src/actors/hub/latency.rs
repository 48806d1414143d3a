//! Latency percentiles over a sliding window, for `/v1/metrics`: two histograms, the current
//! one and the previous one, swapped every [`WINDOW`], so figures cover the last one to two
//! windows. Prometheus gets the same latencies as a histogram for any window it likes.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Length of one histogram's window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Largest latency recorded exactly (larger ones are clamped): one hour, in microseconds.
const MAX_MICROS: u64 = 3_600_000_000;
/// Significant figures kept: 2 keeps each histogram near 40 KiB with 1 % precision.
const SIGNIFICANT_FIGURES: u8 = 2;

pub struct LatencyWindow {
    current: Histogram<u64>,
    previous: Histogram<u64>,
    current_since: Instant,
}

/// Percentiles in milliseconds (`None` when nothing was recorded in the window).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl LatencyWindow {
    pub fn new() -> Self {
        // expect: constant bounds that hdrhistogram accepts (low 1, high ≥ 2, 2 figures).
        let histogram = || {
            Histogram::new_with_bounds(1, MAX_MICROS, SIGNIFICANT_FIGURES)
                .expect("valid histogram bounds")
        };
        Self {
            current: histogram(),
            previous: histogram(),
            current_since: Instant::now(),
        }
    }

    fn rotate(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.current_since);
        if elapsed >= WINDOW {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.reset();
            if elapsed >= 2 * WINDOW {
                self.previous.reset();
            }
            self.current_since = now;
        }
    }

    pub fn record(&mut self, latency: Duration) {
        self.rotate(Instant::now());
        let micros = u64::try_from(latency.as_micros()).unwrap_or(MAX_MICROS);
        self.current.saturating_record(micros.clamp(1, MAX_MICROS));
    }

    pub fn percentiles(&mut self) -> Percentiles {
        self.rotate(Instant::now());
        let mut merged = self.previous.clone();
        // add() fails only when the histograms' bounds differ; both come from `new`.
        if merged.add(&self.current).is_err() || merged.is_empty() {
            return Percentiles::default();
        }
        let ms = |micros: u64| Some(micros as f64 / 1000.0);
        Percentiles {
            p50_ms: ms(merged.value_at_quantile(0.5)),
            p99_ms: ms(merged.value_at_quantile(0.99)),
            max_ms: ms(merged.max()),
        }
    }
}

impl Default for LatencyWindow {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_what_was_recorded() {
        let mut window = LatencyWindow::new();
        assert_eq!(window.percentiles(), Percentiles::default());
        for micros in 1..=1000 {
            window.record(Duration::from_micros(micros));
        }
        let p = window.percentiles();
        let near =
            |value: Option<f64>, expected: f64| (value.unwrap() - expected).abs() < expected * 0.02;
        assert!(near(p.p50_ms, 0.5), "{p:?}");
        assert!(near(p.p99_ms, 0.99), "{p:?}");
        assert!(near(p.max_ms, 1.0), "{p:?}");
    }
}
