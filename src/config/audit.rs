//! `[audit]`: the durable, hash-chained audit trail.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Problems, duration};

/// See config.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    pub path: String,
    pub synchronous: crate::store::Synchronous,
    pub batch_max: usize,
    pub queue_capacity: usize,
    pub retention_days: f64,
    pub maintenance_interval_secs: f64,
}

impl Default for AuditSettings {
    /// The values documented in config.toml (a test keeps the two equal).
    fn default() -> Self {
        Self {
            path: "agentcast-audit.sqlite".into(),
            synchronous: crate::store::Synchronous::Full,
            batch_max: 5000,
            queue_capacity: 100_000,
            retention_days: 90.0,
            maintenance_interval_secs: 3600.0,
        }
    }
}

impl AuditSettings {
    /// Records older than this are removed.
    pub fn retention(&self) -> Duration {
        duration::secs(self.retention_days * duration::SECS_PER_DAY)
    }

    /// How often the retention clean-up runs.
    pub fn maintenance_interval(&self) -> Duration {
        duration::secs(self.maintenance_interval_secs)
    }

    pub(super) fn validate(&self, p: &mut Problems) {
        p.check(
            !self.path.trim().is_empty(),
            "audit.path",
            "must not be empty",
        );
        p.at_least("audit.batch_max", self.batch_max, 1);
        p.check(
            self.queue_capacity >= self.batch_max,
            "audit.queue_capacity",
            "must be at least audit.batch_max",
        );
        p.positive_scaled(
            "audit.retention_days",
            self.retention_days,
            duration::SECS_PER_DAY,
            " days",
        );
        p.positive_seconds(
            "audit.maintenance_interval_secs",
            self.maintenance_interval_secs,
        );
    }
}
