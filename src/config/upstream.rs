//! `[upstream]`: the notification channels' sockets and how they are kept alive.

use serde::{Deserialize, Serialize};

use super::{Problem, Problems};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    pub heartbeat_interval_secs: f64,
    pub heartbeat_timeout_factor: f64,
    pub ping_interval_secs: f64,
    pub reconnect_initial_backoff_ms: u64,
    pub reconnect_max_backoff_secs: u64,
    pub renew_before_expiry_secs: u64,
    pub roster_refresh_secs: u64,
    pub max_frame_bytes: usize,
    pub reconcile_delay_ms: u64,
    pub validator_queue_limit: usize,
}

impl UpstreamSettings {
    pub(super) fn validate(&self, p: &mut Problems) {
        p.positive_seconds(
            "upstream.heartbeat_interval_secs",
            self.heartbeat_interval_secs,
        );
        if self.heartbeat_timeout_factor.is_nan() || self.heartbeat_timeout_factor < 1.0 {
            p.push(Problem::new(
                "upstream.heartbeat_timeout_factor",
                "must be at least 1",
            ));
        } else if self.heartbeat_interval_secs > 0.0
            && super::try_secs(self.heartbeat_interval_secs).is_ok()
        {
            p.positive_scaled(
                "upstream.heartbeat_timeout_factor",
                self.heartbeat_timeout_factor,
                self.heartbeat_interval_secs,
                " × heartbeat_interval_secs",
            );
        }
        p.positive_seconds("upstream.ping_interval_secs", self.ping_interval_secs);
        p.at_least(
            "upstream.reconnect_initial_backoff_ms",
            self.reconnect_initial_backoff_ms,
            1,
        );
        p.at_least("upstream.roster_refresh_secs", self.roster_refresh_secs, 1);
        p.at_least("upstream.max_frame_bytes", self.max_frame_bytes, 1024);
        p.at_least(
            "upstream.validator_queue_limit",
            self.validator_queue_limit,
            1,
        );
    }
}
