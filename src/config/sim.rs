//! `[sim]`: the embedded Genesys Cloud emulator (`agentcast sim` and `agentcast demo`).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::Problems;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    pub listen: String,
    pub agents: u32,
    pub seed: u64,
    pub events_per_sec: f64,
    pub token_lifetime_secs: u64,
    pub rate_limit_per_minute: u32,
    pub heartbeat_interval_secs: u64,
    pub channel_ttl_secs: u64,
    pub socket_closing_grace_secs: u64,
    pub max_page_size: u32,
}

impl SimSettings {
    pub(super) fn validate(&self, p: &mut Problems) {
        p.check(
            self.listen.parse::<SocketAddr>().is_ok(),
            "sim.listen",
            format!("{:?} is not an address such as 127.0.0.1:0", self.listen),
        );
        p.at_least("sim.agents", self.agents, 1);
        p.check(
            self.events_per_sec.is_finite() && self.events_per_sec >= 0.0,
            "sim.events_per_sec",
            "must be a number ≥ 0",
        );
        p.at_least("sim.token_lifetime_secs", self.token_lifetime_secs, 1);
        p.at_least("sim.rate_limit_per_minute", self.rate_limit_per_minute, 1);
        p.at_least(
            "sim.heartbeat_interval_secs",
            self.heartbeat_interval_secs,
            1,
        );
        p.at_least("sim.channel_ttl_secs", self.channel_ttl_secs, 1);
        p.at_least("sim.max_page_size", self.max_page_size, 1);
    }
}
