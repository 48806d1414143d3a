//! `/metrics` as Prometheus reads it: the text parses, and every documented metric is there
//! with its type, after the service has done some work against the emulator.

mod common;

use std::{collections::HashMap, time::Duration};

use common::{receiver::TestReceiver, service::TestService, sim::TestSim};
use prometheus_parse::{Scrape, Value};
use serde_json::json;

/// The documented metrics (README, "Metrics") and their types.
const DOCUMENTED: &[(&str, &str)] = &[
    ("agentcast_genesys_rest_requests_total", "counter"),
    (
        "agentcast_genesys_rest_request_duration_seconds",
        "histogram",
    ),
    ("agentcast_signals_total", "counter"),
    ("agentcast_rejects_total", "counter"),
    ("agentcast_violations_total", "counter"),
    ("agentcast_validated_total", "counter"),
    ("agentcast_evaluations_total", "counter"),
    ("agentcast_withheld_total", "counter"),
    ("agentcast_validation_latency_seconds", "histogram"),
    ("agentcast_upstream_reconnects_total", "counter"),
    ("agentcast_upstream_channels_connected", "gauge"),
    ("agentcast_validator_backlog", "gauge"),
    ("agentcast_broadcasts_total", "counter"),
    ("agentcast_broadcast_latency_seconds", "histogram"),
    ("agentcast_subscribers", "gauge"),
    ("agentcast_subscriber_deliveries_total", "counter"),
    ("agentcast_subscriber_evictions_total", "counter"),
    ("agentcast_webhook_accepted_total", "counter"),
    ("agentcast_webhook_attempts_total", "counter"),
    ("agentcast_webhook_delivery_latency_seconds", "histogram"),
    ("agentcast_webhook_dead_letters_total", "counter"),
    ("agentcast_webhook_dropped_total", "counter"),
    ("agentcast_audit_records_written_total", "counter"),
    ("agentcast_audit_unwritten_records_total", "counter"),
];

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Counter(_) => "counter",
        Value::Gauge(_) => "gauge",
        Value::Histogram(_) => "histogram",
        Value::Summary(_) => "summary",
        Value::Untyped(_) => "untyped",
    }
}

#[actix_rt::test]
async fn metrics_parse_as_prometheus_text_with_the_documented_names_and_types() {
    let sim = TestSim::start(50, |c| c.heartbeat_interval = Duration::from_millis(200));
    // A webhook endpoint (a local receiver), so that the webhook metrics have an endpoint.
    let receiver = TestReceiver::always_ok().expect("a receiver");
    let secret = agentcast::actors::webhook::signing::generate_secret();
    let url = receiver.url.clone();
    let service = TestService::start_with_secrets(
        &sim,
        |s| {
            s.webhook.allow_hosts.push("127.0.0.1".into());
            s.webhooks.push(agentcast::config::WebhookSettings {
                id: "receiver".into(),
                url,
                secret_env: "RECEIVER_SECRET".into(),
                scopes: vec![],
                violations_only: false,
                timeout_secs: None,
                concurrency: None,
                retry_schedule_secs: None,
            });
        },
        vec![("RECEIVER_SECRET".into(), secret)],
    )
    .await;
    service.ready().await;
    sim.post("/sim/step", json!({"count": 50})).await;
    sim.fault("malformed_frame", json!({})).await;
    service
        .metric_reaches("agentcast_rejects_total{reason=\"malformed\"}", 1.0)
        .await;

    // Some families appear only once their first sample is counted (a webhook delivery, an
    // audit batch written): wait until every documented one is there.
    let text = common::eventually("every documented metric family", || async {
        let text = service.metrics_text().await;
        let missing: Vec<&str> = DOCUMENTED
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| {
                !text
                    .lines()
                    .any(|l| l.starts_with(&format!("# TYPE {name} ")))
            })
            .collect();
        if missing.is_empty() {
            Ok(text)
        } else {
            Err(missing)
        }
    })
    .await;
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("/metrics parses as Prometheus text");
    let mut types: HashMap<&str, &str> = HashMap::new();
    for sample in &scrape.samples {
        let name = sample.metric.as_str();
        let base = name
            .strip_suffix("_bucket")
            .or_else(|| name.strip_suffix("_sum"))
            .or_else(|| name.strip_suffix("_count"))
            .unwrap_or(name);
        let seen = types
            .entry(if DOCUMENTED.iter().any(|(n, _)| *n == base) {
                base
            } else {
                name
            })
            .or_insert(kind(&sample.value));
        // A histogram's parts parse as one histogram sample; keep the richest type seen.
        if kind(&sample.value) == "histogram" {
            *seen = "histogram";
        }
    }
    for (name, expected) in DOCUMENTED {
        assert!(
            name.starts_with("agentcast_"),
            "{name} has the agentcast_ prefix"
        );
        match types.get(name) {
            Some(actual) => assert_eq!(actual, expected, "{name} is a {expected}"),
            None => panic!("{name} is documented but missing from /metrics:\n{text}"),
        }
    }
    for name in types.keys() {
        assert!(
            name.starts_with("agentcast_"),
            "every metric is prefixed: {name}"
        );
    }
    let rejects = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "agentcast_rejects_total" && s.labels.get("reason") == Some("malformed")
        })
        .expect("rejects by reason");
    assert!(matches!(rejects.value, Value::Counter(v) if v >= 1.0));
    service.shutdown().await;
}

/// The tests' metric reader refuses a sample that is not there, naming it, so a misspelt
/// name cannot read as 0 and pass; `metric_or_zero` is the explicit choice where absence
/// means a counter not counted yet.
#[actix_rt::test]
async fn a_missing_sample_fails_naming_it_instead_of_reading_zero() {
    use std::panic::AssertUnwindSafe;

    use futures_util::FutureExt as _;

    let sim = TestSim::start(5, |_| {});
    let service = TestService::start(&sim, |_| {}).await;
    service.ready().await;
    let misspelt = "agentcast_rejects_totl{reason=\"malformed\"}";
    let refused = AssertUnwindSafe(service.metric(misspelt))
        .catch_unwind()
        .await
        .expect_err("a sample missing from /metrics fails the test");
    let message = refused
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains(misspelt), "{message}");
    assert_eq!(service.metric_or_zero(misspelt).await, 0.0);
    assert!(
        service
            .metric("agentcast_signals_total{topic=\"reconciled\"}")
            .await
            >= 5.0,
        "a present sample reads its value"
    );
    service.shutdown().await;
}
