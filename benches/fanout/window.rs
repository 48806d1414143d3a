//! Merging the fleets' reports, and quantiles from histograms.

use serde_json::{Value, json};

/// The fleets' reports merged.
pub struct Window {
    pub deliveries: u64,
    pub frames: u64,
    pub gaps: u64,
    pub negative: u64,
    pub closed: usize,
    pub window_secs: f64,
    /// CPU seconds of all fleet processes in the window.
    pub fleet_cpu_secs: f64,
    /// Latency histogram: (bucket index, count), bucket width `bucket_us`.
    pub histogram: Vec<u64>,
    pub bucket_us: u64,
}

impl Window {
    pub fn merge(reports: &[Value]) -> Self {
        let mut window = Window {
            deliveries: 0,
            frames: 0,
            gaps: 0,
            negative: 0,
            closed: 0,
            window_secs: 0.0,
            fleet_cpu_secs: 0.0,
            histogram: Vec::new(),
            bucket_us: 50,
        };
        for r in reports {
            let n = |k: &str| r[k].as_u64().unwrap_or(0);
            window.deliveries += n("deliveries");
            window.frames += n("frames");
            window.gaps += n("gaps");
            window.negative += n("negative");
            window.closed += r["closed"].as_array().map_or(0, Vec::len);
            window.window_secs = window
                .window_secs
                .max(r["window_secs"].as_f64().unwrap_or(0.0));
            window.bucket_us = n("bucket_us").max(1);
            window.fleet_cpu_secs += r["cpu_secs"].as_f64().unwrap_or(0.0);
            for pair in r["histogram"].as_array().into_iter().flatten() {
                let (i, c) = (
                    pair[0].as_u64().unwrap_or(0) as usize,
                    pair[1].as_u64().unwrap_or(0),
                );
                if window.histogram.len() <= i {
                    window.histogram.resize(i + 1, 0);
                }
                window.histogram[i] += c;
            }
        }
        window
    }

    /// The latency at quantile `q`, in ms (upper edge of its bucket).
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.histogram.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(round2(((i as u64 + 1) * self.bucket_us) as f64 / 1000.0));
            }
        }
        None
    }

    pub fn latency(&self) -> Value {
        json!({
            "p50": self.quantile_ms(0.5),
            "p99": self.quantile_ms(0.99),
            "max": self.quantile_ms(1.0),
        })
    }
}

/// Quantiles (upper bucket bounds, ms) of the observations between two cumulative snapshots
/// of a Prometheus histogram.
pub fn histogram_quantiles(before: &[(f64, u64)], after: &[(f64, u64)]) -> Value {
    let delta: Vec<(f64, u64)> = after
        .iter()
        .map(|(le, n)| {
            let was = before.iter().find(|(b, _)| b == le).map_or(0, |(_, c)| *c);
            (*le, n.saturating_sub(was))
        })
        .collect();
    let total = delta.last().map_or(0, |(_, n)| *n);
    let quantile = |q: f64| -> Option<f64> {
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        delta.iter().find(|(_, n)| *n >= rank).map(|(le, _)| {
            if le.is_finite() {
                round2(le * 1000.0)
            } else {
                f64::INFINITY
            }
        })
    };
    if total == 0 {
        return json!(null);
    }
    json!({"observations": total, "p50_le": quantile(0.5), "p99_le": quantile(0.99)})
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
