//! `[reference]`: the reference data validation reads, and how often it is refreshed.

use serde::{Deserialize, Serialize};

use super::Problems;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSettings {
    pub schedule_refresh_secs: u64,
    pub schedule_min_interval_secs: u64,
    pub schedule_days_before: u32,
    pub schedule_days_after: u32,
    pub utilization_refresh_secs: u64,
    pub utilization_fetches_per_minute: u32,
    pub queue_refresh_secs: u64,
}

impl ReferenceSettings {
    pub(super) fn validate(&self, p: &mut Problems) {
        p.at_least(
            "reference.schedule_refresh_secs",
            self.schedule_refresh_secs,
            1,
        );
        p.at_least(
            "reference.utilization_fetches_per_minute",
            self.utilization_fetches_per_minute,
            1,
        );
    }
}
