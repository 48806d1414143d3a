//! Prometheus metrics. One [`Metrics`] per service instance, passed to whoever records; no
//! global registry, so tests can run several instances side by side. Components with metrics
//! of their own register them in [`Metrics::registry`]. Names follow Prometheus conventions:
//! `agentcast_` prefix, unit in the name, `_total` on counters.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    /// Genesys REST calls by route template (`GET /api/v2/users`) and HTTP status
    /// (`error` when no answer came back).
    pub genesys_rest_calls: IntCounterVec,
    /// Duration of Genesys REST calls by route, each attempt counted.
    pub genesys_rest_seconds: HistogramVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let genesys_rest_calls = IntCounterVec::new(
            Opts::new(
                "agentcast_genesys_rest_requests_total",
                "Genesys REST requests by route and status.",
            ),
            &["route", "status"],
        )
        .expect("metric definition is valid"); // expect: constant, valid metric name and labels
        let genesys_rest_seconds = HistogramVec::new(
            HistogramOpts::new(
                "agentcast_genesys_rest_request_duration_seconds",
                "Genesys REST request duration by route.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        )
        .expect("metric definition is valid"); // expect: constant, valid metric name and labels
        for collector in [
            Box::new(genesys_rest_calls.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(genesys_rest_seconds.clone()),
        ] {
            // expect: each name is registered once, here.
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            genesys_rest_calls,
            genesys_rest_seconds,
        }
    }

    /// The registry, for components that define their own metrics
    /// (`SomeMetrics::new(metrics.registry())`).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|e| format!("# encoding failed: {e}\n"))
    }

    /// The count for one `(route, status)` pair (tests and the emulator's comparisons).
    pub fn rest_calls(&self, route: &str, status: &str) -> u64 {
        self.genesys_rest_calls
            .with_label_values(&[route, status])
            .get()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
