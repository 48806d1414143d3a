//! The fan-out's Prometheus metrics, shared by the hub, the sessions and the subscribe route.
//! Hot-path counters are bumped once per written batch, not once per delivery.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    core::Collector,
};

/// Why a session ended, as counted in `agentcast_subscriber_disconnects_total`.
pub const DISCONNECT_REASONS: [&str; 7] = [
    "client_close",
    "gone",
    "protocol_error",
    "too_big",
    "slow_consumer",
    "stale",
    "shutdown",
];
/// The reasons that count as evictions (`agentcast_subscriber_evictions_total`).
pub const EVICTION_REASONS: [&str; 2] = ["slow_consumer", "stale"];
/// Why an upgrade was refused (`agentcast_subscriber_refusals_total`).
pub const REFUSAL_REASONS: [&str; 5] = [
    "unauthorized",
    "forbidden",
    "bad_request",
    "full",
    "shutting_down",
];

pub struct FanoutMetrics {
    /// Broadcasts numbered and dispatched by the hub.
    pub broadcasts: IntCounter,
    /// Ingest (`Validated.received_at`) → dispatch in the hub.
    pub broadcast_latency_seconds: Histogram,
    /// Sessions registered with the hub now.
    pub subscribers: IntGauge,
    /// Upgrades accepted.
    pub connections: IntCounter,
    /// Upgrades refused, by reason.
    pub refusals: IntCounterVec,
    /// Agent states written to subscriber sockets (live, replayed, or in a snapshot).
    pub deliveries: IntCounter,
    /// WebSocket frames written to subscribers (deliveries / frames = coalescing).
    pub frames: IntCounter,
    /// Dispatch by the hub → hand-off to the subscriber's socket, for the oldest live event
    /// of each batch a session writes: how long events wait in the sessions' queues.
    pub queue_seconds: Histogram,
    /// Sessions evicted, by reason (`slow_consumer`, `stale`).
    pub evictions: IntCounterVec,
    /// Sessions ended, by reason.
    pub disconnects: IntCounterVec,
    /// Snapshots sent to sessions, by whether they were rendered for the session or shared.
    pub snapshots: IntCounterVec,
    /// Broadcasts held by the hub for a downstream actor whose mailbox is full.
    pub downstream_backlog: IntGaugeVec,
    /// Broadcasts a downstream actor never got (backlog full, or actor gone).
    pub downstream_dropped: IntCounterVec,
}

impl FanoutMetrics {
    /// Defines the metrics and registers them (once per registry).
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self {
            broadcasts: IntCounter::new(
                "agentcast_broadcasts_total",
                "Agent states numbered and dispatched by the broadcast hub.",
            )?,
            broadcast_latency_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "agentcast_broadcast_latency_seconds",
                    "Ingest to dispatch inside agentcast (the payload's latencyMs).",
                )
                .buckets(vec![
                    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 0.5, 1.0, 2.5,
                ]),
            )?,
            subscribers: IntGauge::new(
                "agentcast_subscribers",
                "WebSocket subscriber sessions registered with the hub.",
            )?,
            connections: IntCounter::new(
                "agentcast_subscriber_connections_total",
                "WebSocket subscriber upgrades accepted.",
            )?,
            refusals: IntCounterVec::new(
                Opts::new(
                    "agentcast_subscriber_refusals_total",
                    "WebSocket subscriber upgrades refused, by reason.",
                ),
                &["reason"],
            )?,
            deliveries: IntCounter::new(
                "agentcast_subscriber_deliveries_total",
                "Agent states written to subscriber sockets (live, replayed or in a snapshot).",
            )?,
            frames: IntCounter::new(
                "agentcast_subscriber_frames_total",
                "WebSocket frames written to subscribers.",
            )?,
            queue_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "agentcast_subscriber_queue_seconds",
                    "Hub dispatch to hand-off to the subscriber socket, oldest live event of each written batch.",
                )
                .buckets(vec![
                    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
                    0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
            )?,
            evictions: IntCounterVec::new(
                Opts::new(
                    "agentcast_subscriber_evictions_total",
                    "Subscriber sessions evicted, by reason (slow_consumer, stale).",
                ),
                &["reason"],
            )?,
            disconnects: IntCounterVec::new(
                Opts::new(
                    "agentcast_subscriber_disconnects_total",
                    "Subscriber sessions ended, by reason.",
                ),
                &["reason"],
            )?,
            snapshots: IntCounterVec::new(
                Opts::new(
                    "agentcast_subscriber_snapshots_total",
                    "Snapshots sent to subscriber sessions, by source (rendered, or shared with sessions of the same filter).",
                ),
                &["source"],
            )?,
            downstream_backlog: IntGaugeVec::new(
                Opts::new(
                    "agentcast_hub_downstream_backlog",
                    "Broadcasts held by the hub for a downstream actor whose mailbox is full.",
                ),
                &["recipient"],
            )?,
            downstream_dropped: IntCounterVec::new(
                Opts::new(
                    "agentcast_hub_downstream_dropped_total",
                    "Broadcasts a downstream actor never got (backlog full or actor gone).",
                ),
                &["recipient"],
            )?,
        };
        // Every label value exists from the start, so dashboards see zeros rather than gaps.
        for reason in REFUSAL_REASONS {
            metrics.refusals.with_label_values(&[reason]);
        }
        for reason in EVICTION_REASONS {
            metrics.evictions.with_label_values(&[reason]);
        }
        for reason in DISCONNECT_REASONS {
            metrics.disconnects.with_label_values(&[reason]);
        }
        for source in ["rendered", "shared"] {
            metrics.snapshots.with_label_values(&[source]);
        }
        let collectors: [Box<dyn Collector>; 13] = [
            Box::new(metrics.queue_seconds.clone()),
            Box::new(metrics.broadcasts.clone()),
            Box::new(metrics.broadcast_latency_seconds.clone()),
            Box::new(metrics.subscribers.clone()),
            Box::new(metrics.connections.clone()),
            Box::new(metrics.refusals.clone()),
            Box::new(metrics.deliveries.clone()),
            Box::new(metrics.frames.clone()),
            Box::new(metrics.evictions.clone()),
            Box::new(metrics.disconnects.clone()),
            Box::new(metrics.snapshots.clone()),
            Box::new(metrics.downstream_backlog.clone()),
            Box::new(metrics.downstream_dropped.clone()),
        ];
        for collector in collectors {
            registry.register(collector)?;
        }
        Ok(metrics)
    }

    /// One snapshot sent: rendered for its session, or shared with others.
    pub fn count_snapshot(&self, shared: bool) {
        let source = if shared { "shared" } else { "rendered" };
        self.snapshots.with_label_values(&[source]).inc();
    }

    /// Evictions for one reason (`slow_consumer`, `stale`).
    pub fn evictions_for(&self, reason: &str) -> u64 {
        self.evictions.with_label_values(&[reason]).get()
    }
}
