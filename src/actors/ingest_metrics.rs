//! Metrics of the ingest half: signals in, rejects, violations, reconnects, latency.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::event::{RejectReason, ViolationKind};

#[derive(Clone)]
pub struct IngestMetrics {
    /// Notifications received, by topic (`activity`, `conversation_summary`, …) plus
    /// `reconciled` for states found by reconciliation.
    pub signals: IntCounterVec,
    /// Inputs rejected by validation, by reason.
    pub rejects: IntCounterVec,
    /// Violations raised, by kind.
    pub violations: IntCounterVec,
    /// Channel socket reconnects, by cause.
    pub reconnects: IntCounterVec,
    /// States validated and handed to the hub.
    pub validated: IntCounter,
    /// Verdicts computed: one per state change, one per agent re-evaluated.
    pub evaluations: IntCounter,
    /// States not delivered because `validation.deliver = "valid_only"`.
    pub withheld: IntCounter,
    /// Ingest (frame received) → validated.
    pub validation_seconds: Histogram,
    /// Channel sockets currently connected.
    pub channels_connected: IntGauge,
    /// Signals waiting in validator mailboxes.
    pub validator_backlog: IntGauge,
}

impl IngestMetrics {
    pub fn new(registry: &Registry) -> Self {
        let counter_vec = |name: &str, help: &str, label: &str| {
            let metric = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric"); // expect: constant definition
            registry
                .register(Box::new(metric.clone()))
                .expect("metric registered once"); // expect: one IngestMetrics per registry
            metric
        };
        let signals = counter_vec(
            "agentcast_signals_total",
            "Agent state notifications received, by topic.",
            "topic",
        );
        let rejects = counter_vec(
            "agentcast_rejects_total",
            "Inputs rejected by validation, by reason.",
            "reason",
        );
        let violations = counter_vec(
            "agentcast_violations_total",
            "Violations raised, by kind.",
            "kind",
        );
        let reconnects = counter_vec(
            "agentcast_upstream_reconnects_total",
            "Channel socket reconnects, by cause.",
            "cause",
        );
        for reason in RejectReason::ALL {
            rejects.with_label_values(&[reason.as_str()]);
        }
        for kind in ViolationKind::ALL {
            violations.with_label_values(&[kind.as_str()]);
        }
        for cause in crate::actors::stream::ReconnectCause::ALL {
            reconnects.with_label_values(&[cause.as_str()]);
        }
        let validated = IntCounter::new("agentcast_validated_total", "Agent states validated.")
            .expect("valid metric"); // expect: constant definition
        let evaluations = IntCounter::new(
            "agentcast_evaluations_total",
            "Verdicts computed: one per state change, one per agent re-evaluated after reference data changed or a minute passed.",
        )
        .expect("valid metric"); // expect: constant definition
        let withheld = IntCounter::new(
            "agentcast_withheld_total",
            "Validated states not delivered (deliver = valid_only).",
        )
        .expect("valid metric"); // expect: constant definition
        let validation_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "agentcast_validation_latency_seconds",
                "Frame received to state validated.",
            )
            .buckets(vec![
                0.000_05, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                0.5,
            ]),
        )
        .expect("valid metric"); // expect: constant definition
        let channels_connected = IntGauge::new(
            "agentcast_upstream_channels_connected",
            "Channel sockets connected.",
        )
        .expect("valid metric"); // expect: constant definition
        let validator_backlog = IntGauge::new(
            "agentcast_validator_backlog",
            "Signals waiting in validator mailboxes.",
        )
        .expect("valid metric"); // expect: constant definition
        for metric in [
            Box::new(validated.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(evaluations.clone()),
            Box::new(withheld.clone()),
            Box::new(validation_seconds.clone()),
            Box::new(channels_connected.clone()),
            Box::new(validator_backlog.clone()),
        ] {
            registry.register(metric).expect("metric registered once"); // expect: one IngestMetrics per registry
        }
        Self {
            signals,
            rejects,
            violations,
            reconnects,
            validated,
            evaluations,
            withheld,
            validation_seconds,
            channels_connected,
            validator_backlog,
        }
    }

    pub fn reject(&self, reason: RejectReason) {
        self.rejects.with_label_values(&[reason.as_str()]).inc();
    }
}
