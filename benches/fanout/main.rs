//! Fan-out benchmark: WebSocket subscribers in separate processes against agentcast, printing
//! one JSON document of measured figures on stdout (progress goes to stderr).
//!
//! ```sh
//! cargo bench --bench fanout                       # the full matrix against the in-bench publisher
//! cargo bench --bench fanout -- --quick            # a short smoke run
//! cargo bench --bench fanout -- --pipeline         # end to end: emulator → agentcast run → fleets
//! cargo bench --bench fanout -- --url ws://127.0.0.1:8080/v1/subscribe --key KEY --pid PID \
//!     --set-rate-cmd 'curl -s -XPOST "http://127.0.0.1:4000/sim/admin/rate?eventsPerSec={rate}"'
//! ```
//!
//! The binary plays three roles, spawning itself (`current_exe()` with `--role`):
//! - `orchestrate` (default): runs the matrix, gathers the fleets' reports, reads the server's
//!   CPU time and RSS from `/proc/<pid>/stat` and `/proc/<pid>/status`, prints the JSON;
//! - `server`: the in-bench publisher, a real hub and subscribe route (the production code)
//!   fed synthetic validated states stamped with the current time, at a rate set on stdin;
//! - `fleet`: many real WebSocket subscribers in one process (a minimal client), measuring
//!   end-to-end latency as receive wall time minus the payload's
//!   `availabilityStatusMatrix.timestamp`, deliveries and gaps, reporting on stdin's request.

mod children;
mod fleet;
mod orchestrate;
mod procfs;
#[path = "../../tests/common/rawws.rs"]
mod rawws;
mod server;
mod window;

use clap::{Parser, ValueEnum};

/// The agentcast binary's allocator (src/main.rs), so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    Orchestrate,
    Server,
    Fleet,
}

#[derive(Debug, Clone, Parser)]
#[command(about = "agentcast fan-out benchmark (prints JSON on stdout)")]
pub struct Args {
    #[arg(long, value_enum, default_value = "orchestrate")]
    role: Role,
    /// Subscriber counts of the matrix.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    subscribers: Vec<usize>,
    /// Event rates (per second) of the matrix.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    rates: Vec<u32>,
    /// Measured seconds per cell (after a warm-up).
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Warm-up seconds before each measurement.
    #[arg(long, default_value_t = 3)]
    warmup_secs: u64,
    /// Subscribers per fleet process (fd limit 20,000 per process). Small fleets spread the
    /// subscribers' work: one process per 1,000 subscribers saturated its thread at 100k
    /// deliveries/s, four of 250 did not.
    #[arg(long, default_value_t = 250)]
    per_fleet: usize,
    /// Idle subscribers for the RSS-per-idle-subscriber figure (0: skip).
    #[arg(long, default_value_t = 10_000)]
    idle_subscribers: usize,
    /// The stalled-subscriber comparison: subscribers,rate (empty: skip).
    #[arg(long, default_value = "1000,200")]
    stall: String,
    /// Seconds per window of the stalled comparison.
    #[arg(long, default_value_t = 8)]
    stall_secs: u64,
    /// Ask for JSON-array batches (`?batch=true`) instead of one frame per event.
    #[arg(long)]
    batch: bool,
    /// Command prefix for the fleet processes, e.g. "taskset -c 1" or "nice -n 19".
    #[arg(long, default_value = "")]
    fleet_prefix: String,
    /// Command prefix for the in-bench server process, e.g. "taskset -c 0".
    #[arg(long, default_value = "")]
    server_prefix: String,
    /// HTTP worker threads of the in-bench server.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// A short run: 100 and 1,000 subscribers at 100 and 1,000 events/s, 4 s each.
    #[arg(long)]
    quick: bool,
    /// Drive a running agentcast instead of the in-bench publisher: its subscribe URL.
    #[arg(long)]
    url: Option<String>,
    /// API key for the subscribers (the in-bench server makes its own).
    #[arg(long)]
    key: Option<String>,
    /// PID of the running agentcast, for its CPU time and RSS (with --url).
    #[arg(long)]
    pid: Option<u32>,
    /// Shell command that sets the upstream event rate, `{rate}` replaced (with --url).
    #[arg(long)]
    set_rate_cmd: Option<String>,
    /// End to end: run the emulator (`agentcast sim`) and the whole service (`agentcast run`)
    /// as child processes, and drive the event rate through the emulator's admin API.
    #[arg(long)]
    pipeline: bool,
    /// Agents in the emulator's organisation (with --pipeline).
    #[arg(long, default_value_t = 1000)]
    pipeline_agents: u32,

    // Child-role arguments.
    /// (server) address to bind.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// (fleet) host:port to connect to.
    #[arg(long)]
    addr: Option<String>,
    /// (fleet) request target, path and query.
    #[arg(long, default_value = "/v1/subscribe")]
    target: String,
    /// (fleet) subscribers in this process.
    #[arg(long, default_value_t = 0)]
    n: usize,
    /// (fleet) one subscriber that stops reading after its welcome and snapshot.
    #[arg(long)]
    stalled: bool,
    /// (server) the bare actix-ws floor instead of agentcast (for the idle-memory comparison).
    #[arg(long)]
    bare: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    let result = match args.role {
        Role::Orchestrate => orchestrate::run(args),
        Role::Server => server::run(args),
        Role::Fleet => fleet::run(args),
    };
    if let Err(err) = result {
        eprintln!("fanout bench: {err:#}");
        std::process::exit(1);
    }
}
