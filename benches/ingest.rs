//! Ingest benchmark: the emulator (a child process) streams agent changes as fast as asked;
//! agentcast's real upstream path (GenesysStreamActor, ChannelActors, the validator pool, the
//! reference loader, on the Genesys client) takes them in; a sink stands where the hub would
//! be ("through the pool with no subscribers"). Prints one JSON object with what it measured
//! over the window: validated states per second, ingest → validated latency p50/p99/max, REST
//! calls per 1,000 and per 10,000 validated states, peak RSS and CPU of this process.
//!
//! `cargo bench --bench ingest`; `INGEST_BENCH_AGENTS` (default 6000), `INGEST_BENCH_RATE`
//! (emulator changes/s, default 100000), `INGEST_BENCH_SECS` (window, default 15).

mod support;

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use actix::{Actor, Context, Handler};
use agentcast::{
    Metrics,
    actors::{
        hub::Publish,
        ingest_metrics::IngestMetrics,
        reference::ReferenceActor,
        stream::{GenesysStreamActor, Start, StreamContext, UpstreamStatus},
        validator::{ValidatorOutputs, ValidatorPool},
    },
    config::{Credentials, Settings},
    genesys::{ClientConfig, GenesysClient, backoff::Backoff},
    reference::ReferenceCache,
};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use support::{Emulator, env_or};

/// The agentcast binary's allocator (src/main.rs), so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WARMUP: Duration = Duration::from_secs(3);

/// Stands where the hub would be: counts validated states and records their latency.
struct Sink {
    count: Rc<Cell<u64>>,
    latency_us: Rc<RefCell<Histogram<u64>>>,
}

impl Actor for Sink {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The hub's mailbox size: validators wait (back-pressure) past it, as they would.
        ctx.set_mailbox_capacity(agentcast::actors::hub::MAILBOX_CAPACITY);
    }
}

impl Handler<Publish> for Sink {
    type Result = ();

    fn handle(&mut self, msg: Publish, _: &mut Context<Self>) {
        self.count.set(self.count.get() + 1);
        let micros = msg.validated.received_at.elapsed().as_micros() as u64;
        let _ = self.latency_us.borrow_mut().record(micros.max(1));
    }
}

async fn admin(http: &awc::Client, base: &str, path: &str, body: Option<Value>) -> Value {
    let url = format!("{base}{path}");
    let mut res = match body {
        Some(body) => http.post(url).send_json(&body).await,
        None => http.get(url).send().await,
    }
    .expect("the emulator answers");
    res.json().limit(64 << 20).await.unwrap_or(Value::Null)
}

fn main() {
    let agents: u32 = env_or("INGEST_BENCH_AGENTS", 6000);
    let rate: f64 = env_or("INGEST_BENCH_RATE", 100_000.0);
    let window = Duration::from_secs(env_or("INGEST_BENCH_SECS", 15));
    let emulator = Emulator::start(&[
        "--agents",
        &agents.to_string(),
        "--events-per-sec",
        "0",
        "--listen",
        "127.0.0.1:0",
    ]);
    actix_rt::System::new().block_on(run(&emulator, agents, rate, window));
}

async fn run(emulator: &Emulator, agents: u32, rate: f64, window: Duration) {
    let mut settings = Settings::defaults();
    settings.genesys.api_base = emulator.base.clone();
    let metrics = Arc::new(Metrics::new());
    let ingest = IngestMetrics::new(metrics.registry());
    let credentials = Credentials::new(emulator.client_id.clone(), emulator.client_secret.clone());
    let client = GenesysClient::new(
        ClientConfig::from_settings(&settings.genesys, credentials).expect("api base"),
        metrics.clone(),
    );

    let count = Rc::new(Cell::new(0u64));
    let latency_us = Rc::new(RefCell::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
    ));
    let sink = Sink {
        count: count.clone(),
        latency_us: latency_us.clone(),
    }
    .start();
    let cache = ReferenceCache::default();
    let outputs = ValidatorOutputs {
        publish: sink.recipient(),
        audit: None,
    };
    let pool = ValidatorPool::start(
        &settings.validation,
        settings.upstream.validator_queue_limit,
        cache.clone(),
        outputs,
        ingest.clone(),
    );
    let reference = ReferenceActor::new(
        client.clone(),
        cache,
        settings.reference.clone(),
        pool.clone(),
    )
    .start();
    let status = Arc::new(UpstreamStatus::default());
    let cx = StreamContext {
        client,
        pool: pool.clone(),
        schedule_changes: reference.clone().recipient(),
        metrics: ingest.clone(),
        audit: None,
        upstream: settings.upstream.clone(),
        max_payload_bytes: settings.validation.max_payload_bytes,
        reconnect_backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)),
    };
    let stream = GenesysStreamActor::new(cx, reference, status.clone()).start();
    stream
        .send(Start)
        .await
        .expect("the stream runs")
        .expect("the stream starts");
    while !status.is_ready() {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }

    let http = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    admin(
        &http,
        &emulator.base,
        "/sim/rate",
        Some(json!({"eventsPerSec": rate})),
    )
    .await;
    admin(&http, &emulator.base, "/sim/resume", Some(json!({}))).await;
    actix_rt::time::sleep(WARMUP).await;

    let me = std::process::id();
    let calls = |v: Value| v["total"].as_u64().unwrap_or(0);
    let emitted = |v: Value| v["eventsEmitted"].as_u64().unwrap_or(0);
    latency_us.borrow_mut().reset();
    let (t0, n0, cpu0, emu_cpu0) = (
        Instant::now(),
        count.get(),
        support::cpu_secs(me),
        support::cpu_secs(emulator.pid()),
    );
    let threads0 = support::thread_cpu_secs(me);
    let (calls0, emitted0) = (
        calls(admin(&http, &emulator.base, "/sim/calls", None).await),
        emitted(admin(&http, &emulator.base, "/sim/truth", None).await),
    );
    actix_rt::time::sleep(window).await;
    let (calls1, emitted1) = (
        calls(admin(&http, &emulator.base, "/sim/calls", None).await),
        emitted(admin(&http, &emulator.base, "/sim/truth", None).await),
    );
    let (secs, n1, cpu1, emu_cpu1) = (
        t0.elapsed().as_secs_f64(),
        count.get(),
        support::cpu_secs(me),
        support::cpu_secs(emulator.pid()),
    );
    let threads = support::thread_cpu_percent(&threads0, &support::thread_cpu_secs(me), secs);
    admin(&http, &emulator.base, "/sim/pause", Some(json!({}))).await;

    let validated = (n1 - n0) as f64;
    // The admin reads above are not REST calls to the Platform API; /sim/calls counts only those.
    let rest_calls = calls1.saturating_sub(calls0) as f64;
    let h = latency_us.borrow();
    let ms = |us: u64| (us as f64 / 10.0).round() / 100.0;
    let report = json!({
        "benchmark": "ingest",
        "agents": agents,
        "channels": status.channels.load(Ordering::Relaxed),
        "validators": pool.size(),
        "windowSecs": (secs * 10.0).round() / 10.0,
        "emulatorTargetChangesPerSec": rate,
        "emulatorEmittedChangesPerSec": ((emitted1 - emitted0) as f64 / secs).round(),
        "validatedPerSec": (validated / secs).round(),
        "ingestToValidatedMs": {"p50": ms(h.value_at_quantile(0.5)), "p99": ms(h.value_at_quantile(0.99)), "max": ms(h.max())},
        "restCalls": rest_calls,
        "restCallsPer1000Validated": if validated > 0.0 { (rest_calls / validated * 1000.0 * 1000.0).round() / 1000.0 } else { 0.0 },
        "restCallsPer10000Validated": if validated > 0.0 { (rest_calls / validated * 10_000.0 * 1000.0).round() / 1000.0 } else { 0.0 },
        "rejects": ingest.rejects.with_label_values(&["stale"]).get() + ingest.rejects.with_label_values(&["duplicate"]).get()
            + ingest.rejects.with_label_values(&["malformed"]).get() + ingest.rejects.with_label_values(&["oversized"]).get(),
        "peakRssMiB": (support::peak_rss_mib(me) * 10.0).round() / 10.0,
        "agentcastCpuPercentOfOneCore": ((cpu1 - cpu0) / secs * 1000.0).round() / 10.0,
        "agentcastCpuPercentByThread": threads,
        "emulatorCpuPercentOfOneCore": ((emu_cpu1 - emu_cpu0) / secs * 1000.0).round() / 10.0,
        "machineCores": std::thread::available_parallelism().map_or(1, |n| n.get()),
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("JSON"));
    pool.stop();
}
