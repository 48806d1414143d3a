//! `[webhook]`: webhook delivery shared by every endpoint: the outbox, retries, the SSRF
//! allow-list, and the defaults `[[webhooks]]` endpoints inherit.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Problem, Problems, duration};

/// Longest attempt timeout accepted (the Standard Webhooks advice is 15–30 s).
const MAX_TIMEOUT_SECS: f64 = 30.0;
/// Most deliveries in flight per endpoint.
const MAX_CONCURRENCY: u32 = 1024;
/// Largest answer body kept per attempt.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// See config.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookDeliverySettings {
    pub outbox_path: String,
    pub synchronous: crate::store::Synchronous,
    pub allow_hosts: Vec<String>,
    pub timeout_secs: f64,
    pub concurrency: u32,
    pub retry_schedule_secs: Vec<f64>,
    pub retry_jitter: f64,
    pub throttle_floor_secs: f64,
    pub max_retry_after_secs: f64,
    pub disable_after_secs: f64,
    pub max_response_bytes: usize,
    pub batch_max: usize,
    pub accept_queue_capacity: usize,
    pub max_queued_per_endpoint: usize,
    pub retention_hours: f64,
    pub maintenance_interval_secs: f64,
}

impl Default for WebhookDeliverySettings {
    /// The values documented in config.toml (a test keeps the two equal).
    fn default() -> Self {
        Self {
            outbox_path: "agentcast-outbox.sqlite".into(),
            synchronous: crate::store::Synchronous::Full,
            allow_hosts: Vec::new(),
            timeout_secs: 15.0,
            concurrency: 16,
            retry_schedule_secs: vec![5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
            retry_jitter: 0.2,
            throttle_floor_secs: 60.0,
            max_retry_after_secs: 36000.0,
            disable_after_secs: 432000.0,
            max_response_bytes: 4096,
            batch_max: 1000,
            accept_queue_capacity: 50_000,
            max_queued_per_endpoint: 10_000,
            retention_hours: 168.0,
            maintenance_interval_secs: 600.0,
        }
    }
}

impl WebhookDeliverySettings {
    /// Delivered and dead-lettered events older than this are removed from the outbox.
    pub fn retention(&self) -> Duration {
        duration::secs(self.retention_hours * duration::SECS_PER_HOUR)
    }

    pub(super) fn validate(&self, p: &mut Problems) {
        p.check(
            !self.outbox_path.trim().is_empty(),
            "webhook.outbox_path",
            "must not be empty",
        );
        p.check(
            self.allow_hosts.iter().all(|h| !h.trim().is_empty()),
            "webhook.allow_hosts",
            "entries must not be empty",
        );
        check_timeout(p, "webhook.timeout_secs", self.timeout_secs);
        check_concurrency(p, "webhook.concurrency", self.concurrency);
        check_schedule(p, "webhook.retry_schedule_secs", &self.retry_schedule_secs);
        p.check(
            (0.0..1.0).contains(&self.retry_jitter),
            "webhook.retry_jitter",
            format!("{} is outside 0 ≤ jitter < 1", self.retry_jitter),
        );
        p.seconds("webhook.throttle_floor_secs", self.throttle_floor_secs);
        p.seconds("webhook.max_retry_after_secs", self.max_retry_after_secs);
        p.positive_seconds("webhook.disable_after_secs", self.disable_after_secs);
        p.positive_scaled(
            "webhook.retention_hours",
            self.retention_hours,
            duration::SECS_PER_HOUR,
            " hours",
        );
        p.positive_seconds(
            "webhook.maintenance_interval_secs",
            self.maintenance_interval_secs,
        );
        p.check(
            self.max_response_bytes <= MAX_RESPONSE_BYTES,
            "webhook.max_response_bytes",
            format!("must be at most {MAX_RESPONSE_BYTES}"),
        );
        p.at_least("webhook.batch_max", self.batch_max, 1);
        p.check(
            self.accept_queue_capacity >= self.batch_max,
            "webhook.accept_queue_capacity",
            "must be at least webhook.batch_max",
        );
        p.at_least(
            "webhook.max_queued_per_endpoint",
            self.max_queued_per_endpoint,
            2,
        );
    }
}

/// An attempt's time limit: 0 < timeout ≤ 30 s.
pub(super) fn check_timeout(p: &mut Problems, key: &str, value: f64) {
    p.check(
        value > 0.0 && value <= MAX_TIMEOUT_SECS,
        key,
        format!(
            "{value} is outside 0 < timeout ≤ {MAX_TIMEOUT_SECS} (the Standard Webhooks advice is 15–30)"
        ),
    );
}

/// Deliveries in flight per endpoint: 1..=1024.
pub(super) fn check_concurrency(p: &mut Problems, key: &str, value: u32) {
    p.check(
        (1..=MAX_CONCURRENCY).contains(&value),
        key,
        format!("{value} is outside 1..={MAX_CONCURRENCY}"),
    );
}

/// Every wait of a retry schedule is a number of seconds a duration holds; the first that is
/// not is named.
pub(super) fn check_schedule(p: &mut Problems, key: &str, schedule: &[f64]) {
    if let Some((i, err)) = schedule
        .iter()
        .enumerate()
        .find_map(|(i, &wait)| duration::try_secs(wait).err().map(|err| (i, err)))
    {
        p.push(Problem::new(
            key,
            format!(
                "wait {} ({}) {err}: every wait must be a number of seconds ≥ 0",
                i + 1,
                super::problem::number(schedule[i])
            ),
        ));
    }
}
