//! Convergence benchmark, the ingest acceptance at full size: the emulator (1,000 agents,
//! 200 changes/s) and the whole service (stream, validators, hub, `/v1/agents`) run in this
//! process over real loopback sockets; after the events flow for a while the emulator stops
//! and the benchmark measures how long until every agent in `/v1/agents` equals the emulator's
//! truth (target: within 2 s). Prints one JSON object.
//!
//! `cargo bench --bench converge`; `CONVERGE_BENCH_AGENTS` (default 1000),
//! `CONVERGE_BENCH_RATE` (changes/s, default 200), `CONVERGE_BENCH_SECS` (seconds of events
//! before the stop, default 20).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{
    service::{TestService, differences},
    sim::TestSim,
};
use serde_json::json;

/// The agentcast binary's allocator (src/main.rs), so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The acceptance's bound on convergence after the events stop.
const TARGET: Duration = Duration::from_secs(2);
/// Give up measuring (and say so) after this long.
const GIVE_UP: Duration = Duration::from_secs(30);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let agents: u32 = env_or("CONVERGE_BENCH_AGENTS", 1000);
    let rate: f64 = env_or("CONVERGE_BENCH_RATE", 200.0);
    let secs: u64 = env_or("CONVERGE_BENCH_SECS", 20);
    actix_rt::System::new().block_on(run(agents, rate, Duration::from_secs(secs)));
}

async fn run(agents: u32, rate: f64, flowing: Duration) {
    let sim = TestSim::start(agents, |c| c.events_per_sec = 0.0);
    let service = TestService::start(&sim, |s| {
        s.validation.pool_size = std::thread::available_parallelism().map_or(2, |n| n.get());
    })
    .await;
    service.ready().await;
    eprintln!("converge bench: {agents} agents ready; {rate} changes/s for {flowing:?}");

    let validated_before = service.metric("agentcast_validated_total").await;
    sim.post("/sim/rate", json!({ "eventsPerSec": rate })).await;
    actix_rt::time::sleep(flowing).await;
    sim.post("/sim/pause", json!({})).await;
    let stopped = Instant::now();
    let validated_at_stop = service.metric("agentcast_validated_total").await;

    let mut polls = 0u32;
    let mut first_differences = None;
    let (converged_after, last_differences) = loop {
        let diffs = differences(&sim, &service).await;
        polls += 1;
        first_differences.get_or_insert(diffs.len());
        if diffs.is_empty() {
            break (Some(stopped.elapsed()), diffs);
        }
        if stopped.elapsed() > GIVE_UP {
            break (None, diffs);
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    };
    let report = json!({
        "agents": agents,
        "eventsPerSec": rate,
        "flowingSecs": flowing.as_secs_f64(),
        "validatedWhileFlowing": validated_at_stop - validated_before,
        "differencesAtStop": first_differences,
        "convergedAfterMs": converged_after.map(|d| (d.as_secs_f64() * 1e4).round() / 10.0),
        "targetMs": TARGET.as_millis() as u64,
        "withinTarget": converged_after.is_some_and(|d| d <= TARGET),
        "polls": polls,
        "remainingDifferences": last_differences.iter().take(10).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("JSON"));
    service.shutdown().await;
}
