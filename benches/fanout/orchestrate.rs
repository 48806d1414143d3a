//! Runs the matrix: for each subscriber count, a fresh server (the in-bench publisher, or the
//! agentcast given with `--url`), fleets of subscribers in separate processes, then each event
//! rate for a warm-up and a measured window. Prints one JSON document.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::{Args, procfs};

/// (without, with) window pairs of the stalled comparison.
const STALL_PAIRS: usize = 3;
/// Longest wait for the stalled subscriber's eviction.
const STALL_EVICTION_WAIT_SECS: u64 = 180;

/// The server-side queueing histogram.
const QUEUE_HISTOGRAM: &str = "agentcast_subscriber_queue_seconds";

/// A child process of this binary, driven by lines on stdin/stdout.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Proc {
    /// Spawns this binary with `args`, behind `prefix` (a command such as `taskset -c 1`).
    fn spawn(prefix: &str, args: &[String]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut words = prefix.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(words).arg(exe);
                command
            }
            None => Command::new(exe),
        };
        let mut child = command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take().context("child stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("child stdout")?);
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    fn send(&mut self, line: &str) -> anyhow::Result<()> {
        writeln!(self.stdin, "{line}")?;
        self.stdin.flush()?;
        Ok(())
    }

    fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("child process ended early");
        }
        Ok(line.trim().to_owned())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The agentcast under test.
struct Target {
    addr: SocketAddr,
    /// Path and query prefix of the subscribe URL.
    path: String,
    key: String,
    pid: Option<u32>,
    server: Option<Proc>,
    set_rate_cmd: Option<String>,
}

impl Target {
    fn start(args: &Args) -> anyhow::Result<Self> {
        Self::start_server(args, false)
    }

    /// The target, or with `bare` an in-bench bare actix-ws server (the memory floor).
    fn start_server(args: &Args, bare: bool) -> anyhow::Result<Self> {
        if let Some(url) = &args.url {
            let rest = url
                .strip_prefix("ws://")
                .context("--url must be ws://host:port/path")?;
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let addr = std::net::ToSocketAddrs::to_socket_addrs(host)?
                .next()
                .context("--url host does not resolve")?;
            return Ok(Self {
                addr,
                path: if path.is_empty() {
                    "/v1/subscribe".into()
                } else {
                    path.into()
                },
                key: args.key.clone().context("--key is required with --url")?,
                pid: args.pid,
                server: None,
                set_rate_cmd: args.set_rate_cmd.clone(),
            });
        }
        let key = format!("bench-{}", uuid::Uuid::new_v4());
        let mut server_args = vec![
            "--role".to_owned(),
            "server".into(),
            "--key".into(),
            key.clone(),
            "--workers".into(),
            args.workers.to_string(),
        ];
        if bare {
            server_args.push("--bare".into());
        }
        let mut server = Proc::spawn(&args.server_prefix, &server_args)?;
        let ready: Value = serde_json::from_str(&server.line()?)?;
        Ok(Self {
            addr: ready["addr"].as_str().context("server addr")?.parse()?,
            path: "/v1/subscribe".into(),
            key,
            pid: ready["pid"].as_u64().map(|p| p as u32),
            server: Some(server),
            set_rate_cmd: None,
        })
    }

    fn set_rate(&mut self, rate: u32) -> anyhow::Result<()> {
        if let Some(server) = &mut self.server {
            return server.send(&format!("rate {rate}"));
        }
        if let Some(cmd) = &self.set_rate_cmd {
            let status = Command::new("sh")
                .arg("-c")
                .arg(cmd.replace("{rate}", &rate.to_string()))
                .status()?;
            if !status.success() {
                bail!("--set-rate-cmd failed: {status}");
            }
        }
        Ok(())
    }

    fn cpu(&self) -> Option<f64> {
        self.pid.and_then(procfs::cpu_secs)
    }

    fn rss(&self) -> Option<u64> {
        self.pid.and_then(procfs::rss_kib)
    }

    /// `GET /v1/metrics`, for evictions.
    fn stats(&self) -> Option<Value> {
        serde_json::from_str(&self.get("/v1/metrics")?).ok()
    }

    /// A histogram's cumulative buckets from `GET /metrics`: `(upper bound, count)`.
    fn histogram(&self, name: &str) -> Option<Vec<(f64, u64)>> {
        let text = self.get("/metrics")?;
        let prefix = format!("{name}_bucket{{le=\"");
        Some(
            text.lines()
                .filter_map(|line| line.strip_prefix(&prefix))
                .filter_map(|rest| {
                    let (le, count) = rest.split_once("\"} ")?;
                    Some((
                        le.parse().unwrap_or(f64::INFINITY),
                        count.trim().parse().ok()?,
                    ))
                })
                .collect(),
        )
    }

    /// A body from the server (HTTP/1.1 GET, connection closed after).
    fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        Some(response.split_once("\r\n\r\n")?.1.to_owned())
    }

    fn fleet_args(&self, n: usize, query: &str, stalled: bool) -> Vec<String> {
        let sep = if self.path.contains('?') { '&' } else { '?' };
        let mut args = vec![
            "--role".into(),
            "fleet".into(),
            "--addr".into(),
            self.addr.to_string(),
            "--key".into(),
            self.key.clone(),
            "--target".into(),
            format!("{}{sep}{query}", self.path),
            "--n".into(),
            n.to_string(),
        ];
        if stalled {
            args.push("--stalled".into());
        }
        args
    }
}

/// Subscriber fleets, `per_fleet` connections per process.
struct Fleets(Vec<Proc>);

impl Fleets {
    fn connect(target: &Target, args: &Args, n: usize, query: &str) -> anyhow::Result<Self> {
        let per_fleet = args.per_fleet;
        let mut fleets = Vec::new();
        let mut left = n;
        while left > 0 {
            let take = left.min(per_fleet);
            fleets.push(Proc::spawn(
                &args.fleet_prefix,
                &target.fleet_args(take, query, false),
            )?);
            left -= take;
        }
        for fleet in &mut fleets {
            let line = fleet.line()?;
            if line != "READY" {
                bail!("fleet said {line:?}");
            }
        }
        let mut fleets = Self(fleets);
        let ready: u64 = fleets
            .report()?
            .iter()
            .map(|r| r["ready"].as_u64().unwrap_or(0))
            .sum();
        if ready < n as u64 {
            bail!("only {ready} of {n} subscribers connected");
        }
        Ok(fleets)
    }

    fn all(&mut self, command: &str) -> anyhow::Result<()> {
        self.0.iter_mut().try_for_each(|f| f.send(command))
    }

    /// Asks every fleet, then reads every answer, so the windows close nearly together.
    fn report(&mut self) -> anyhow::Result<Vec<Value>> {
        self.all("report")?;
        self.0
            .iter_mut()
            .map(|f| Ok(serde_json::from_str(&f.line()?)?))
            .collect()
    }
}

/// The fleets' reports merged.
struct Window {
    deliveries: u64,
    frames: u64,
    gaps: u64,
    negative: u64,
    closed: usize,
    window_secs: f64,
    /// CPU seconds of all fleet processes in the window.
    fleet_cpu_secs: f64,
    /// Latency histogram: (bucket index, count), bucket width `bucket_us`.
    histogram: Vec<u64>,
    bucket_us: u64,
}

impl Window {
    fn merge(reports: &[Value]) -> Self {
        let mut window = Window {
            deliveries: 0,
            frames: 0,
            gaps: 0,
            negative: 0,
            closed: 0,
            window_secs: 0.0,
            fleet_cpu_secs: 0.0,
            histogram: Vec::new(),
            bucket_us: 50,
        };
        for r in reports {
            let n = |k: &str| r[k].as_u64().unwrap_or(0);
            window.deliveries += n("deliveries");
            window.frames += n("frames");
            window.gaps += n("gaps");
            window.negative += n("negative");
            window.closed += r["closed"].as_array().map_or(0, Vec::len);
            window.window_secs = window
                .window_secs
                .max(r["window_secs"].as_f64().unwrap_or(0.0));
            window.bucket_us = n("bucket_us").max(1);
            window.fleet_cpu_secs += r["cpu_secs"].as_f64().unwrap_or(0.0);
            for pair in r["histogram"].as_array().into_iter().flatten() {
                let (i, c) = (
                    pair[0].as_u64().unwrap_or(0) as usize,
                    pair[1].as_u64().unwrap_or(0),
                );
                if window.histogram.len() <= i {
                    window.histogram.resize(i + 1, 0);
                }
                window.histogram[i] += c;
            }
        }
        window
    }

    /// The latency at quantile `q`, in ms (upper edge of its bucket).
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.histogram.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(round2(((i as u64 + 1) * self.bucket_us) as f64 / 1000.0));
            }
        }
        None
    }

    fn latency(&self) -> Value {
        json!({
            "p50": self.quantile_ms(0.5),
            "p99": self.quantile_ms(0.99),
            "max": self.quantile_ms(1.0),
        })
    }
}

/// Quantiles (upper bucket bounds, ms) of the observations between two cumulative snapshots
/// of a Prometheus histogram.
fn histogram_quantiles(before: &[(f64, u64)], after: &[(f64, u64)]) -> Value {
    let delta: Vec<(f64, u64)> = after
        .iter()
        .map(|(le, n)| {
            let was = before.iter().find(|(b, _)| b == le).map_or(0, |(_, c)| *c);
            (*le, n.saturating_sub(was))
        })
        .collect();
    let total = delta.last().map_or(0, |(_, n)| *n);
    let quantile = |q: f64| -> Option<f64> {
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        delta.iter().find(|(_, n)| *n >= rank).map(|(le, _)| {
            if le.is_finite() {
                round2(le * 1000.0)
            } else {
                f64::INFINITY
            }
        })
    };
    if total == 0 {
        return json!(null);
    }
    json!({"observations": total, "p50_le": quantile(0.5), "p99_le": quantile(0.99)})
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

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
