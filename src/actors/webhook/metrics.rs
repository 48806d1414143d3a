//! Webhook metrics, registered in the service's registry.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// Latency buckets from a loopback receiver (sub-millisecond) to a slow remote one (30 s).
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone)]
pub struct WebhookMetrics {
    /// Deliveries written to the outbox (accepted), by endpoint.
    pub accepted: IntCounterVec,
    /// Hand-over to the WebhookActor → outbox commit: the window a crash could lose.
    pub accept_seconds: Histogram,
    /// Events handed over and not yet committed.
    pub unaccepted: IntGauge,
    /// Events refused because more than `accept_queue_capacity` were waiting for the outbox.
    pub refused: IntCounter,
    /// Broadcasts that never reached the webhook actor (the hub's backlog for it was full).
    pub dropped: IntCounter,
    /// Attempts by endpoint and outcome (`delivered`, `http_error`, `timeout`, `network`,
    /// `blocked`, `redirect`, `gone`).
    pub attempts: IntCounterVec,
    /// Duration of each attempt, by endpoint.
    pub attempt_seconds: HistogramVec,
    /// Outbox acceptance → 2xx, by endpoint.
    pub delivery_seconds: HistogramVec,
    /// Events dead-lettered, by endpoint.
    pub dead_letters: IntCounterVec,
    /// Deliveries held in memory (in flight included), by endpoint.
    pub queued: IntGaugeVec,
    /// 1 while the endpoint is enabled, by endpoint.
    pub enabled: IntGaugeVec,
    /// Outbox writes that failed (retried; nothing is dropped).
    pub store_errors: IntCounter,
}

impl WebhookMetrics {
    pub fn new(registry: &Registry) -> Self {
        // expect (all below): constant, valid metric names and labels, each registered once.
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let gauge_vec = |name: &str, help: &str| {
            let g = IntGaugeVec::new(Opts::new(name, help), &["endpoint"]).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let histogram_vec = |name: &str, help: &str| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                &["endpoint"],
            )
            .expect("valid metric");
            registry
                .register(Box::new(h.clone()))
                .expect("unique metric");
            h
        };
        let accept_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "agentcast_webhook_accept_duration_seconds",
                "Time from hand-over to the webhook actor to the outbox commit.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        registry
            .register(Box::new(accept_seconds.clone()))
            .expect("unique metric");
        let unaccepted = IntGauge::new(
            "agentcast_webhook_unaccepted_events",
            "Events handed to the webhook actor and not yet committed to the outbox.",
        )
        .expect("valid metric");
        registry
            .register(Box::new(unaccepted.clone()))
            .expect("unique metric");
        let refused = IntCounter::new(
            "agentcast_webhook_refused_total",
            "Events refused for webhooks because the outbox queue was full (lost for webhooks).",
        )
        .expect("valid metric");
        registry
            .register(Box::new(refused.clone()))
            .expect("unique metric");
        let dropped = IntCounter::new(
            "agentcast_webhook_dropped_total",
            "Broadcasts that never reached the webhook actor because the hub's backlog for it was \
             full (lost for webhooks).",
        )
        .expect("valid metric");
        registry
            .register(Box::new(dropped.clone()))
            .expect("unique metric");
        let store_errors = IntCounter::new(
            "agentcast_webhook_outbox_errors_total",
            "Outbox writes that failed and were retried.",
        )
        .expect("valid metric");
        registry
            .register(Box::new(store_errors.clone()))
            .expect("unique metric");
        Self {
            accepted: counter_vec(
                "agentcast_webhook_accepted_total",
                "Deliveries written to the outbox, by endpoint.",
                &["endpoint"],
            ),
            accept_seconds,
            unaccepted,
            refused,
            dropped,
            attempts: counter_vec(
                "agentcast_webhook_attempts_total",
                "Delivery attempts by endpoint and outcome.",
                &["endpoint", "outcome"],
            ),
            attempt_seconds: histogram_vec(
                "agentcast_webhook_attempt_duration_seconds",
                "Duration of one delivery attempt, by endpoint.",
            ),
            delivery_seconds: histogram_vec(
                "agentcast_webhook_delivery_latency_seconds",
                "Outbox acceptance to a 2xx answer, by endpoint.",
            ),
            dead_letters: counter_vec(
                "agentcast_webhook_dead_letters_total",
                "Events dead-lettered, by endpoint.",
                &["endpoint"],
            ),
            queued: gauge_vec(
                "agentcast_webhook_queued_deliveries",
                "Deliveries held in memory (in flight included), by endpoint.",
            ),
            enabled: gauge_vec(
                "agentcast_webhook_endpoint_enabled",
                "1 while the endpoint is enabled, by endpoint.",
            ),
            store_errors,
        }
    }

    /// Exposes an endpoint's series at zero before anything happens to it, so scrapers and
    /// dashboards see every endpoint from the start.
    pub fn init_endpoint(&self, endpoint: &str) {
        self.accepted.with_label_values(&[endpoint]);
        self.dead_letters.with_label_values(&[endpoint]);
        self.attempts.with_label_values(&[endpoint, "delivered"]);
    }
}
