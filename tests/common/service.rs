//! agentcast itself, started in-process against a [`TestSim`], on a free loopback port.

use std::{collections::HashMap, sync::Arc};

use agentcast::{Service, ServiceOptions, Settings, auth::Grant, event::Scope};
use serde_json::Value;

use super::{WAIT, eventually, sim::TestSim, within};

/// The key every test service accepts, with every scope and admin rights.
pub const KEY: &str = "test-key-0123456789";

pub struct TestService {
    pub service: Option<Service>,
    pub base: String,
    http: awc::Client,
    /// Holds the webhook outbox and the audit trail; removed when the test ends.
    pub data_dir: tempfile::TempDir,
}

/// Settings tuned for tests: fast heartbeats, short backoffs, quick reconciliation.
pub fn test_settings(sim: &TestSim) -> Settings {
    let mut settings = Settings::defaults();
    settings.genesys.api_base = sim.handle.base.clone();
    settings.genesys.retry_initial_backoff_ms = 20;
    settings.genesys.retry_max_backoff_secs = 1;
    settings.genesys.requests_per_minute = 300;
    settings.http.listen = "127.0.0.1:0".into();
    // The emulator's test heartbeat is 200 ms; expecting one every 500 ms leaves room for a
    // loaded machine before the watchdog calls a socket dead (after 2.5 × 500 ms of silence).
    settings.upstream.heartbeat_interval_secs = 0.5;
    settings.upstream.ping_interval_secs = 0.5;
    settings.upstream.reconnect_initial_backoff_ms = 50;
    settings.upstream.reconnect_max_backoff_secs = 1;
    settings.upstream.reconcile_delay_ms = 50;
    settings.validation.pool_size = 2;
    settings
}

impl TestService {
    /// Starts a service against `sim`, with [`test_settings`] adjusted by `tweak`.
    pub async fn start(sim: &TestSim, tweak: impl FnOnce(&mut Settings)) -> Self {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let mut settings = test_settings(sim);
        settings.webhook.outbox_path = data_dir.path().join("outbox.sqlite").display().to_string();
        settings.audit.path = data_dir.path().join("audit.sqlite").display().to_string();
        tweak(&mut settings);
        Self::try_start(sim, settings, data_dir, |_| {})
            .await
            .expect("the service starts")
    }

    /// Starts a service with webhook secrets handed in directly (`(variable, secret)` pairs).
    pub async fn start_with_secrets(
        sim: &TestSim,
        tweak: impl FnOnce(&mut Settings),
        secrets: Vec<(String, String)>,
    ) -> Self {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let mut settings = test_settings(sim);
        settings.webhook.outbox_path = data_dir.path().join("outbox.sqlite").display().to_string();
        settings.audit.path = data_dir.path().join("audit.sqlite").display().to_string();
        tweak(&mut settings);
        let prepare = move |options: &mut ServiceOptions| {
            options.secret_of = Box::new(move |var| {
                secrets
                    .iter()
                    .find(|(v, _)| v == var)
                    .map(|(_, s)| s.clone())
            });
        };
        Self::try_start(sim, settings, data_dir, prepare)
            .await
            .expect("the service starts")
    }

    pub async fn try_start(
        sim: &TestSim,
        settings: Settings,
        data_dir: tempfile::TempDir,
        prepare: impl FnOnce(&mut ServiceOptions),
    ) -> Result<Self, agentcast::StartError> {
        if std::env::var_os("AGENTCAST_TEST_LOG").is_some() {
            agentcast::telemetry::init(agentcast::config::LogFormat::Human, "info");
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let grant = Grant {
            name: "test".into(),
            scopes: Scope::ALL.to_vec(),
            admin: true,
        };
        let mut options = ServiceOptions::new(Arc::new(settings), sim.credentials(), listener);
        options.extra_keys = vec![(KEY.to_owned(), grant)];
        prepare(&mut options);
        let service = within("service start", Service::start(options)).await?;
        let base = format!("http://{}", service.local_addr);
        Ok(Self {
            service: Some(service),
            base,
            http: awc::Client::builder().timeout(WAIT).finish(),
            data_dir,
        })
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let mut response = within(
            path,
            self.http
                .get(format!("{}{path}", self.base))
                .insert_header(("Authorization", format!("Bearer {KEY}")))
                .send(),
        )
        .await
        .expect("agentcast answers");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().limit(64 << 20).await.expect("JSON")
    }

    /// Every agent's latest payload, by agent id.
    pub async fn agents(&self) -> HashMap<String, Value> {
        let agents = self.get_json("/v1/agents").await;
        agents
            .as_array()
            .expect("an array")
            .iter()
            .map(|a| {
                (
                    a["agentId"].as_str().expect("agentId").to_owned(),
                    a.clone(),
                )
            })
            .collect()
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        let mut response = within(
            "/metrics",
            self.http.get(format!("{}/metrics", self.base)).send(),
        )
        .await
        .expect("metrics");
        String::from_utf8(
            response
                .body()
                .limit(16 << 20)
                .await
                .expect("body")
                .to_vec(),
        )
        .expect("utf-8")
    }

    /// The value of one sample, e.g. `agentcast_rejects_total{reason="stale"}`. A sample that
    /// is not in `/metrics` fails the test, naming it: a misspelt name must not read as 0.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self.metrics_text().await;
        sample_value(&text, sample).unwrap_or_else(|| {
            let family = sample.split('{').next().unwrap_or(sample);
            let present: Vec<&str> = text
                .lines()
                .filter(|line| line.starts_with(family))
                .collect();
            panic!("no sample {sample} in /metrics; samples of {family}: {present:?}")
        })
    }

    /// The value of one sample, 0 if it is absent. Only for a labelled counter that may not
    /// have been counted yet: Prometheus prints a label set once it has been used, so before
    /// the first reject, say, `agentcast_rejects_total{reason="stale"}` is absent and means 0.
    /// (A misspelt name then reads 0 too: use it to wait for a rise, which never comes for a
    /// misspelt name and so fails the wait, never to assert a value.)
    pub async fn metric_or_zero(&self, sample: &str) -> f64 {
        sample_value(&self.metrics_text().await, sample).unwrap_or(0.0)
    }

    /// Waits until `sample` reaches at least `at_least` (absent counts as 0 meanwhile).
    pub async fn metric_reaches(&self, sample: &str, at_least: f64) {
        eventually(&format!("{sample} to reach {at_least}"), || async {
            let value = self.metric_or_zero(sample).await;
            if value >= at_least {
                Ok(())
            } else {
                Err(value)
            }
        })
        .await
    }

    /// Waits until `/readyz` says ready.
    pub async fn ready(&self) {
        eventually("readiness", || async {
            match self.http.get(format!("{}/readyz", self.base)).send().await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(response.status().to_string()),
                Err(err) => Err(err.to_string()),
            }
        })
        .await
    }

    pub async fn shutdown(mut self) {
        if let Some(service) = self.service.take() {
            within("shutdown", service.shutdown()).await;
        }
    }
}

/// The value of `sample` in Prometheus text, if the sample is there.
fn sample_value(text: &str, sample: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(sample)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Differences between agentcast's view and the emulator's truth, one line each.
pub async fn differences(sim: &TestSim, service: &TestService) -> Vec<String> {
    let truth = sim.truth().await;
    let agents = service.agents().await;
    let mut diffs = Vec::new();
    for t in truth["agents"].as_array().expect("truth agents") {
        let id = t["id"].as_str().expect("id");
        let Some(seen) = agents.get(id) else {
            diffs.push(format!("{id}: missing"));
            continue;
        };
        let m = &seen["availabilityStatusMatrix"];
        let load: u64 = t["conversations"]
            .as_object()
            .expect("conversations")
            .values()
            .filter_map(Value::as_u64)
            .sum();
        let mut queues_truth: Vec<&str> = t["activeQueueIds"]
            .as_array()
            .expect("queues")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let mut queues_seen: Vec<&str> = m["queues"]
            .as_array()
            .expect("queues")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        queues_truth.sort_unstable();
        queues_seen.sort_unstable();
        let pairs = [
            (
                "presence",
                t["systemPresence"].as_str().unwrap_or("").to_owned(),
                m["currentStatus"].as_str().unwrap_or("").to_owned(),
            ),
            (
                "routing",
                t["routingStatus"].as_str().unwrap_or("").to_owned(),
                m["routingStatus"].as_str().unwrap_or("").to_owned(),
            ),
            ("load", load.to_string(), m["interactionLoad"].to_string()),
            ("queues", queues_truth.join(","), queues_seen.join(",")),
        ];
        for (what, expected, actual) in pairs {
            if expected != actual {
                diffs.push(format!("{id} {what}: truth {expected}, agentcast {actual}"));
            }
        }
    }
    diffs
}

/// Waits until agentcast's view equals the truth, or fails listing the differences.
pub async fn converges(sim: &TestSim, service: &TestService) {
    eventually("agentcast's view to equal the truth", || async {
        let diffs = differences(sim, service).await;
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} differences, e.g. {}",
                diffs.len(),
                diffs[..diffs.len().min(10)].join("; ")
            ))
        }
    })
    .await
}
