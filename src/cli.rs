//! The command line: `agentcast run | demo | sim | check-config | audit verify`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::{actors::audit::chain::Head, config::LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "agentcast",
    version,
    about = "Relays Genesys Cloud agent state changes, validated against WFM shift schedules and \
             utilization limits, to WebSocket subscribers and webhooks.",
    long_about = None,
)]
pub struct Cli {
    /// Configuration file (default: ./config.toml when present, else the built-in defaults).
    /// Environment variables AGENTCAST_<SECTION>_<KEY> override it.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Log output: human-readable lines or one JSON object per line (overrides log.format).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Relay a real Genesys Cloud org. Needs GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET (an
    /// OAuth client-credentials client) and genesys.region or GENESYS_HOST.
    Run,
    /// Everything in one process against the embedded emulator: no Genesys org needed.
    Demo(SimArgs),
    /// Run the Genesys Cloud emulator alone. Its first stdout line is
    /// {"base": ..., "clientId": ..., "clientSecret": ...}; point `agentcast run` at it with
    /// AGENTCAST_GENESYS_API_BASE, GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET.
    Sim(SimArgs),
    /// Validate the configuration and make the checks `run` makes before it starts (credentials
    /// and webhook secrets in the environment, http.listen, the outbox and audit files); print
    /// every problem found, and exit 2 if there is any.
    CheckConfig,
    /// Ask a running agentcast whether it is alive (GET /healthz); exit 0 if so, 1 if not.
    /// For container health checks.
    Healthcheck {
        /// The URL to ask (default: /healthz on http.listen, 0.0.0.0 read as 127.0.0.1).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit trail's hash chain. Prints the record count, the gaps recorded in
    /// it and its head (`<id>:<sha256>`) and exits 0 when intact; names the first broken record
    /// and exits 1 otherwise. Keep the head somewhere else and pass it to a later run as
    /// --head: that run fails if the newest records were removed or the chain rewritten.
    Verify {
        /// The audit store (default: audit.path from the configuration).
        #[arg(long, value_name = "PATH")]
        path: Option<PathBuf>,
        /// A head printed by an earlier run: the chain must still hold that record, with that
        /// hash.
        #[arg(long, value_name = "ID:SHA256")]
        head: Option<Head>,
    },
}

/// Emulator settings that can be given on the command line (they override the [sim] section).
#[derive(Debug, Clone, Default, Args)]
pub struct SimArgs {
    /// Address to serve on, e.g. 127.0.0.1:0 for any free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Agents in the simulated organisation.
    #[arg(long, value_name = "N")]
    pub agents: Option<u32>,
    /// Seed: the same seed gives the same organisation and the same sequence of changes.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Agent state changes per second.
    #[arg(long, value_name = "R")]
    pub events_per_sec: Option<f64>,
}

impl SimArgs {
    /// Applies the flags that were given over the configured emulator settings.
    pub fn apply(&self, sim: &mut crate::config::SimSettings) {
        if let Some(listen) = &self.listen {
            sim.listen.clone_from(listen);
        }
        if let Some(agents) = self.agents {
            sim.agents = agents;
        }
        if let Some(seed) = self.seed {
            sim.seed = seed;
        }
        if let Some(rate) = self.events_per_sec {
            sim.events_per_sec = rate;
        }
    }
}
