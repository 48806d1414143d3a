//! `[log]`: log format and filter.

use serde::{Deserialize, Serialize};

use super::Problems;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

impl LogSettings {
    pub(super) fn validate(&self, p: &mut Problems) {
        p.check(
            tracing_subscriber::EnvFilter::try_new(&self.level).is_ok(),
            "log.level",
            format!("{:?} is not a valid log filter", self.level),
        );
    }
}
