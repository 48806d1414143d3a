//! Runs the matrix: for each subscriber count, a fresh server (the in-bench publisher, or the
//! agentcast given with `--url`), fleets of subscribers in separate processes, then each event
//! rate for a warm-up and a measured window. Prints one JSON document.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};

use crate::{
    Args,
    children::{Fleets, Proc, Target},
    procfs,
    window::{Window, histogram_quantiles, round2},
};

/// (without, with) window pairs of the stalled comparison.
const STALL_PAIRS: usize = 3;
/// Longest wait for the stalled subscriber's eviction.
const STALL_EVICTION_WAIT_SECS: u64 = 180;

/// The server-side queueing histogram.
const QUEUE_HISTOGRAM: &str = "agentcast_subscriber_queue_seconds";

/// Measures one rate with the fleets connected: warm-up, window, figures.
fn measure(
    target: &mut Target,
    fleets: &mut Fleets,
    subscribers: usize,
    rate: u32,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Value> {
    target.set_rate(rate)?;
    std::thread::sleep(warmup);
    fleets.all("reset")?;
    let queue_before = target.histogram(QUEUE_HISTOGRAM);
    let cpu_before = target.cpu();
    let machine_before = procfs::machine_busy_secs();
    let started = Instant::now();
    std::thread::sleep(duration);
    let reports = fleets.report()?;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = target.cpu().zip(cpu_before).map(|(a, b)| a - b);
    let machine = procfs::machine_busy_secs()
        .zip(machine_before)
        .map(|(a, b)| a - b);
    let rss = target.rss();
    let queue_after = target.histogram(QUEUE_HISTOGRAM);
    target.set_rate(0)?;
    let window = Window::merge(&reports);
    let secs = if window.window_secs > 0.0 {
        window.window_secs
    } else {
        elapsed
    };
    let per_sec = window.deliveries as f64 / secs;
    let result = json!({
        "subscribers": subscribers,
        "events_per_sec": rate,
        "offered_deliveries_per_sec": rate as u64 * subscribers as u64,
        "deliveries_per_sec": per_sec.round(),
        "frames_per_sec": (window.frames as f64 / secs).round(),
        "latency_ms": window.latency(),
        // Server side only: hub dispatch → hand-off to the socket, oldest live event of each
        // batch a session writes (agentcast_subscriber_queue_seconds), in ms.
        "server_queue_ms": queue_before.zip(queue_after).map(|(b, a)| histogram_quantiles(&b, &a)),
        "server_cpu_secs_per_million_deliveries": cpu.filter(|_| window.deliveries > 0)
            .map(|c| round2(c / (window.deliveries as f64 / 1e6))),
        "server_cpu_cores": cpu.map(|c| round2(c / elapsed)),
        "server_rss_kib": rss,
        "fleet_cpu_cores": round2(window.fleet_cpu_secs / secs),
        // Everything else on the machine (other builds, the kernel's own threads): the noise.
        "other_cpu_cores": machine.zip(cpu).map(|(m, c)| round2(((m - c - window.fleet_cpu_secs) / elapsed).max(0.0))),
        "loadavg_1m": procfs::loadavg(),
        "fleet_processes": reports.len(),
        "seq_gaps": window.gaps,
        "negative_latencies": window.negative,
        "closed_subscribers": window.closed,
        // Offered more than this machine delivers: subscribers fall behind their queue budget
        // and are closed with 4008 (the slow-consumer policy) or deliveries lag the offer.
        "overloaded": window.closed > 0 || per_sec < 0.95 * (rate as f64 * subscribers as f64),
        "window_secs": round2(secs),
    });
    eprintln!("  {result}");
    // Let queues drain before the next window.
    std::thread::sleep(Duration::from_secs(1));
    Ok(result)
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    if args.quick {
        args.subscribers = vec![100, 1000];
        args.rates = vec![100, 1000];
        args.duration_secs = 4;
        args.warmup_secs = 2;
        args.idle_subscribers = 2000;
        args.stall_secs = 5;
    }
    let query = if args.batch { "batch=true" } else { "" };
    let warmup = Duration::from_secs(args.warmup_secs);
    let duration = Duration::from_secs(args.duration_secs);
    let mut runs = Vec::new();
    let mut rss_per_subscriber = Vec::new();
    for &subscribers in &args.subscribers {
        eprintln!("{subscribers} subscribers:");
        let mut target = Target::start(&args)?;
        let rss_before = target.rss();
        let mut fleets = Fleets::connect(&target, &args, subscribers, query)?;
        let rss_connected = target.rss();
        if let (Some(a), Some(b)) = (rss_before, rss_connected) {
            rss_per_subscriber.push(json!({
                "subscribers": subscribers,
                "rss_per_subscriber_kib": round2(b.saturating_sub(a) as f64 / subscribers as f64),
            }));
        }
        for &rate in &args.rates {
            runs.push(measure(
                &mut target,
                &mut fleets,
                subscribers,
                rate,
                warmup,
                duration,
            )?);
        }
    }

    let idle = if args.idle_subscribers > 0 && args.url.is_none() {
        let agentcast = idle_rss(&args, false, query)?;
        let floor = idle_rss(&args, true, query)?;
        Some(json!({
            "subscribers": args.idle_subscribers,
            "rss_per_idle_subscriber_kib": agentcast["rss_per_idle_subscriber_kib"],
            "server_rss_kib": agentcast["server_rss_kib"],
            "floor_actix_web_and_actix_ws": floor,
        }))
    } else {
        None
    };

    let stalled = match args.stall.split_once(',') {
        Some((subs, rate)) if !args.stall.is_empty() => {
            let (subscribers, rate): (usize, u32) = (subs.trim().parse()?, rate.trim().parse()?);
            Some(stalled_run(&args, subscribers, rate, query)?)
        }
        _ => None,
    };

    let targets = targets(&runs, idle.as_ref(), stalled.as_ref());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let output = json!({
        "benchmark": "agentcast fan-out",
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "machine": {
            "cpus": nproc,
            "cpu_model": procfs::cpu_model(),
            "kernel": procfs::kernel(),
        },
        "target": match &args.url {
            None if args.pipeline => json!({
                "kind": "end to end: `agentcast sim` → `agentcast run` (stream, validators, hub, sessions, webhooks, audit), each a child process",
                "emulator_agents": args.pipeline_agents,
                "events_per_sec_means": "emulator changes per second; one change can produce up to two validated states (activity, interaction counts), so deliveries per second can exceed events × subscribers",
                "latency_source": "the payload's timestamp is the emulator's emission time for presence/routing changes, and agentcast's receipt time for interaction-count changes (Genesys does not time those)",
            }),
            Some(url) => json!({"kind": "external", "url": url, "pid": args.pid}),
            None => json!({"kind": "in-bench publisher (production hub and subscribe route, synthetic validated states)", "http_workers": args.workers}),
        },
        "framing": if args.batch { "batch=true (JSON arrays of queued events)" } else { "one frame per event" },
        "latency_definition": "subscriber receive wall time (once per socket read) minus the payload's availabilityStatusMatrix.timestamp, which has millisecond resolution; the in-bench publisher emits on whole-millisecond boundaries, so its figures carry only the stamping delay (tens of µs), while against an upstream that stamps at arbitrary times they are upper bounds by up to 1 ms; bucket width 50 µs, upper edges reported",
        "cpu_definition": "server process user+system CPU seconds in the window (/proc/<pid>/stat), divided by millions of deliveries counted by the subscribers; the in-bench server includes its publisher",
        "rss_definition": "server VmRSS after connecting the subscribers minus before, per subscriber (/proc/<pid>/status)",
        "duration_secs": args.duration_secs,
        "warmup_secs": args.warmup_secs,
        "runs": runs,
        "rss_per_connected_subscriber": rss_per_subscriber,
        "idle": idle,
        "stalled": stalled,
        "targets": targets,
    });
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}

/// The others' p99 with and without a subscriber that stopped reading. The machine is shared
/// and noisy, so windows alternate (without, with) `STALL_PAIRS` times, each "with" window with
/// a freshly stalled subscriber (killed after its window), and the medians are compared. Then
/// one stalled subscriber is kept until agentcast evicts it, to show that it does.
fn stalled_run(args: &Args, subscribers: usize, rate: u32, query: &str) -> anyhow::Result<Value> {
    eprintln!("stalled subscriber among {subscribers} at {rate} events/s:");
    let mut target = Target::start(args)?;
    let mut fleets = Fleets::connect(&target, args, subscribers, query)?;
    let window = Duration::from_secs(args.stall_secs);
    let warmup = Duration::from_secs(1);
    let stall = |target: &Target| -> anyhow::Result<Proc> {
        let mut stall = Proc::spawn(&args.fleet_prefix, &target.fleet_args(1, query, true))?;
        if stall.line()? != "READY" {
            bail!("the stalled subscriber did not connect");
        }
        Ok(stall)
    };
    let p99 = |v: &Value| v["latency_ms"]["p99"].as_f64();
    let (mut without, mut with, mut windows) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..STALL_PAIRS {
        let w = measure(&mut target, &mut fleets, subscribers, rate, warmup, window)?;
        without.extend(p99(&w));
        windows.push(json!({"stalled": false, "window": w}));
        let stalled = stall(&target)?;
        let w = measure(&mut target, &mut fleets, subscribers, rate, warmup, window)?;
        with.extend(p99(&w));
        windows.push(json!({"stalled": true, "window": w}));
        drop(stalled);
    }
    // One more stalled subscriber, kept until it is evicted: it overflows its queue (4008) or,
    // since it cannot answer pings either, goes stale (4001), whichever comes first.
    let evictions = |t: &Target| {
        t.stats().map_or(0, |s| {
            let n = |reason: &str| s["evictions"][reason].as_u64().unwrap_or(0);
            n("slow_consumer") + n("stale")
        })
    };
    let evicted_before = evictions(&target);
    let kept = stall(&target)?;
    let stalled_at = Instant::now();
    target.set_rate(rate)?;
    let deadline = stalled_at + Duration::from_secs(STALL_EVICTION_WAIT_SECS);
    while evictions(&target) == evicted_before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    let evicted_after =
        (evictions(&target) > evicted_before).then(|| round2(stalled_at.elapsed().as_secs_f64()));
    target.set_rate(0)?;
    drop(kept);
    let median = |mut v: Vec<f64>| -> Option<f64> {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let (m_without, m_with) = (median(without.clone()), median(with.clone()));
    Ok(json!({
        "subscribers": subscribers,
        "events_per_sec": rate,
        "others_p99_ms_without": without,
        "others_p99_ms_with_stalled": with,
        "median_p99_ms_without": m_without,
        "median_p99_ms_with_stalled": m_with,
        "p99_change_pct": m_without.zip(m_with).map(|(a, b)| round2((b - a) / a * 100.0)),
        "stalled_evicted_after_secs": evicted_after,
        "server_evictions": target.stats().map(|s| s["evictions"].clone()),
        "windows": windows,
    }))
}

/// RSS per idle subscriber: a fresh server, a first hundred subscribers to warm it up (worker
/// buffers, allocator arenas), then the rest; the difference divided by their number.
fn idle_rss(args: &Args, bare: bool, query: &str) -> anyhow::Result<Value> {
    eprintln!(
        "{} idle subscribers ({}):",
        args.idle_subscribers,
        if bare {
            "bare actix-ws floor"
        } else {
            "agentcast"
        }
    );
    let target = Target::start_server(args, bare)?;
    let warm = 100.min(args.idle_subscribers);
    let _warm = Fleets::connect(&target, args, warm, query)?;
    let before = target.rss();
    let _rest = Fleets::connect(&target, args, args.idle_subscribers - warm, query)?;
    let after = target.rss();
    let result = match before.zip(after) {
        Some((a, b)) => json!({
            "server_rss_kib": b,
            "rss_per_idle_subscriber_kib": round2(b.saturating_sub(a) as f64 / (args.idle_subscribers - warm) as f64),
        }),
        None => json!(null),
    };
    eprintln!("  {result}");
    Ok(result)
}

/// The targets, checked against what was measured (null: not measured in this run).
fn targets(runs: &[Value], idle: Option<&Value>, stalled: Option<&Value>) -> Value {
    let at_1000: Option<f64> = runs
        .iter()
        .filter(|r| r["subscribers"] == 1000)
        .filter_map(|r| r["deliveries_per_sec"].as_f64())
        .reduce(f64::max);
    let p99_200 = stalled
        .filter(|s| s["subscribers"] == 1000 && s["events_per_sec"] == 200)
        .and_then(|s| s["median_p99_ms_without"].as_f64());
    let idle_rss = idle.and_then(|i| i["rss_per_idle_subscriber_kib"].as_f64());
    let idle_count = idle.and_then(|i| i["subscribers"].as_u64());
    let stall_change = stalled.and_then(|s| s["p99_change_pct"].as_f64());
    let check = |value: Option<f64>, ok: &dyn Fn(f64) -> bool| value.map(ok);
    json!({
        "deliveries_per_sec_at_1000_subscribers": {"target": ">= 500000", "measured": at_1000, "met": check(at_1000, &|v| v >= 500_000.0)},
        "p99_ms_at_200_events_per_sec_x_1000": {"target": "<= 5", "measured": p99_200, "met": check(p99_200, &|v| v <= 5.0)},
        "rss_kib_per_idle_subscriber_at_10000": {"target": "<= 16", "measured": idle_rss, "subscribers": idle_count, "met": check(idle_rss, &|v| v <= 16.0)},
        "stalled_subscriber_p99_change_pct": {"target": "< 20", "measured": stall_change, "met": check(stall_change, &|v| v < 20.0)},
    })
}
