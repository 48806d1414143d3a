//! Webhook and audit figures on this machine: `cargo bench --bench webhook`.
//!
//! 1. Signed deliveries per second to a local receiver (one endpoint, 1,000 agents, the
//!    outbox with `synchronous = full`, every attempt recorded).
//! 2. Outbox acceptance → 2xx latency, p50 and p99, at a paced 1,000 events/s; also the
//!    hand-over → commit window (what a crash could lose) at that rate.
//! 3. Audit records written per second (hash-chained, batched, `synchronous = full`).
//!
//! Every figure printed is measured here; nothing is typed in. A line per stage goes to stderr
//! as it finishes; stdout gets one JSON document with every figure, for `docs/benchmarks/`.

#[path = "../tests/common/forward.rs"]
mod forward;
#[path = "../tests/common/receiver.rs"]
mod receiver;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix::Addr;
use agentcast::{
    Synchronous,
    actors::{
        Broadcasted,
        audit::{AuditActor, AuditConfig, AuditMetrics, Flush as AuditFlush},
        webhook::{
            DeliveryReport, ReportResult, Submit, WebhookActor, WebhookConfig, WebhookMetrics,
            signing::generate_secret,
        },
    },
    config::{AuditSettings, Settings, WebhookSettings},
    event::{AuditKind, AuditRecord, Scope},
};
use forward::forward;
use receiver::{TestReceiver, broadcast};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

/// The agentcast binary's allocator (src/main.rs), so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const THROUGHPUT_EVENTS: u64 = 30_000;
const AGENTS: u64 = 1_000;
const PACED_RATE: u64 = 1_000;
const PACED_SECS: u64 = 10;
const AUDIT_RECORDS: u64 = 200_000;
/// Bound on waiting for any one stage.
const STAGE_LIMIT: Duration = Duration::from_secs(120);

fn main() {
    // `cargo bench --bench webhook -- [throughput] [latency] [audit]`: the stages to run (all
    // by default).
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |stage: &str| args.is_empty() || args.iter().any(|a| a == stage);
    let report = actix_rt::System::new().block_on(async {
        let mut report = json!({
            "benchmark": "agentcast webhook/audit",
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "load_average": std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim(),
        });
        if run("throughput") {
            report["throughput"] = throughput().await;
        }
        if run("latency") {
            report["latency"] = json!([
                latency(Synchronous::Full).await,
                latency(Synchronous::Normal).await,
            ]);
        }
        if run("audit") {
            report["audit"] = audit().await;
        }
        report
    });
    println!("{report:#}");
}

fn start_webhooks(
    dir: &tempfile::TempDir,
    url: &str,
    synchronous: Synchronous,
) -> (Addr<WebhookActor>, UnboundedReceiver<DeliveryReport>) {
    let mut settings = Settings::defaults();
    settings.webhook.synchronous = synchronous;
    settings.webhook.outbox_path = dir.path().join("outbox.sqlite").display().to_string();
    settings.webhook.allow_hosts = vec!["127.0.0.1".into()];
    settings.webhook.concurrency = 64;
    settings.webhook.max_queued_per_endpoint = 50_000;
    settings.webhooks = vec![WebhookSettings {
        id: "bench".into(),
        url: url.into(),
        secret_env: "S".into(),
        ..WebhookSettings::default()
    }];
    let secret = generate_secret();
    let config =
        WebhookConfig::from_settings_with(&settings, &|_| Some(secret.clone())).expect("config");
    let (observer, reports) = forward::<DeliveryReport>();
    let actor = WebhookActor::start(
        config,
        WebhookMetrics::new(&prometheus::Registry::new()),
        None,
        Some(observer),
    )
    .expect("webhook actor");
    (actor, reports)
}

fn event(i: u64) -> Arc<agentcast::event::Broadcast> {
    Arc::new(broadcast(
        &format!("evt_bench_{i:08}"),
        i + 1,
        &format!("agent-{}", i % AGENTS),
        Scope::GlobalRouting,
    ))
}

async fn throughput() -> Value {
    let receiver = TestReceiver::always_ok().expect("receiver");
    let dir = tempfile::tempdir().expect("dir");
    let (actor, mut reports) = start_webhooks(&dir, &receiver.url, Synchronous::Full);
    let events: Vec<_> = (0..THROUGHPUT_EVENTS).map(event).collect();
    let started = Instant::now();
    for b in events {
        actor.do_send(Broadcasted { broadcast: b });
    }
    let mut delivered = 0;
    while delivered < THROUGHPUT_EVENTS {
        let report = tokio::time::timeout(STAGE_LIMIT, reports.recv())
            .await
            .expect("deliveries flow")
            .expect("observer");
        match report.result {
            ReportResult::Delivered => delivered += 1,
            other => panic!("unexpected outcome {other:?} for {}", report.event_id),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let per_sec = THROUGHPUT_EVENTS as f64 / secs;
    eprintln!(
        "throughput: {THROUGHPUT_EVENTS} signed deliveries in {secs:.2} s = {per_sec:.0} deliveries/s (target ≥ 5,000)"
    );
    receiver.stop().await;
    json!({
        "what": "signed deliveries to a loopback receiver, one endpoint, synchronous = full",
        "deliveries": THROUGHPUT_EVENTS,
        "secs": secs,
        "deliveries_per_sec": per_sec,
        "target_per_sec": 5_000,
    })
}

/// Per event id: when it was handed over and when the outbox commit answered.
type AcceptTimes = HashMap<Arc<str>, (Instant, Instant)>;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn latency(synchronous: Synchronous) -> Value {
    let receiver = TestReceiver::always_ok().expect("receiver");
    let dir = tempfile::tempdir().expect("dir");
    let (actor, mut reports) = start_webhooks(&dir, &receiver.url, synchronous);
    let total = PACED_RATE * PACED_SECS;
    let accepted: Arc<Mutex<AcceptTimes>> = Arc::default();
    let feeder = {
        let accepted = accepted.clone();
        let actor = actor.clone();
        actix_rt::spawn(async move {
            let mut tick = actix_rt::time::interval(Duration::from_millis(10));
            let per_tick = PACED_RATE / 100;
            let mut i = 0;
            while i < total {
                tick.tick().await;
                for _ in 0..per_tick {
                    let b = event(i);
                    let (id, actor, accepted) = (
                        Arc::<str>::from(b.event_id.as_str()),
                        actor.clone(),
                        accepted.clone(),
                    );
                    actix_rt::spawn(async move {
                        let handed = Instant::now();
                        actor
                            .send(Submit { broadcast: b })
                            .await
                            .expect("actor")
                            .expect("accepted");
                        accepted
                            .lock()
                            .unwrap()
                            .insert(id, (handed, Instant::now()));
                    });
                    i += 1;
                }
            }
        })
    };
    let mut done: HashMap<Arc<str>, Instant> = HashMap::new();
    while (done.len() as u64) < total {
        let report = tokio::time::timeout(STAGE_LIMIT, reports.recv())
            .await
            .expect("deliveries flow")
            .expect("observer");
        if report.result == ReportResult::Delivered {
            done.insert(report.event_id, Instant::now());
        }
    }
    feeder.await.expect("feeder");
    let accepted = std::mem::take(&mut *accepted.lock().unwrap());
    let mut to_2xx: Vec<f64> = Vec::new();
    let mut window: Vec<f64> = Vec::new();
    for (id, delivered_at) in &done {
        let (handed, committed) = accepted[id];
        to_2xx.push(
            delivered_at
                .saturating_duration_since(committed)
                .as_secs_f64()
                * 1000.0,
        );
        window.push((committed - handed).as_secs_f64() * 1000.0);
    }
    to_2xx.sort_by(f64::total_cmp);
    window.sort_by(f64::total_cmp);
    let synchronous = synchronous.pragma().to_lowercase();
    let (p50, p99, max) = (
        percentile(&to_2xx, 50.0),
        percentile(&to_2xx, 99.0),
        to_2xx.last().copied().unwrap_or_default(),
    );
    let (w50, w99, wmax) = (
        percentile(&window, 50.0),
        percentile(&window, 99.0),
        window.last().copied().unwrap_or_default(),
    );
    eprintln!(
        "latency at {PACED_RATE} events/s for {PACED_SECS} s, synchronous = {synchronous}: outbox-accept → 2xx p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms (target p99 ≤ 50 ms)"
    );
    eprintln!(
        "  hand-over → outbox commit (the window a crash could lose): p50 {w50:.2} ms, p99 {w99:.2} ms, max {wmax:.2} ms"
    );
    receiver.stop().await;
    json!({
        "synchronous": synchronous,
        "default": synchronous == "full",
        "rate_per_sec": PACED_RATE,
        "secs": PACED_SECS,
        "accept_to_2xx_ms": {"p50": p50, "p99": p99, "max": max},
        "handover_to_commit_ms": {"p50": w50, "p99": w99, "max": wmax},
        "target_p99_ms": 50,
    })
}

async fn audit() -> Value {
    let dir = tempfile::tempdir().expect("dir");
    let settings = AuditSettings {
        path: dir.path().join("audit.sqlite").display().to_string(),
        queue_capacity: AUDIT_RECORDS as usize + 10,
        ..AuditSettings::default()
    };
    let metrics = AuditMetrics::new(&prometheus::Registry::new());
    let trail =
        AuditActor::start(AuditConfig::from_settings(&settings), metrics.clone()).expect("audit");
    let audit = trail.addr.clone();
    let records: Vec<AuditRecord> = (0..AUDIT_RECORDS)
        .map(|i| {
            AuditRecord::now(
                AuditKind::WebhookAttempt,
                Some(format!("agent-{}", i % AGENTS).into()),
                serde_json::json!({
                    "endpoint": "bench", "event_id": format!("evt_bench_{i:08}"), "attempt": 1,
                    "status": 200, "duration_ms": 0.42, "outcome": "delivered",
                }),
            )
        })
        .collect();
    let started = Instant::now();
    for record in records {
        audit.do_send(record);
    }
    tokio::time::timeout(STAGE_LIMIT, audit.send(AuditFlush))
        .await
        .expect("flushed in time")
        .expect("audit");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(metrics.unwritten.get(), 0);
    let written = metrics.written.get();
    eprintln!(
        "audit: {written} records written (hash-chained, batches of ≤ {}) in {secs:.2} s = {:.0} records/s (target ≥ 20,000)",
        settings.batch_max,
        written as f64 / secs
    );
    let verify_started = Instant::now();
    let verified = agentcast::actors::audit::verify_path(&dir.path().join("audit.sqlite"), None)
        .expect("chain intact");
    let verify_secs = verify_started.elapsed().as_secs_f64();
    eprintln!(
        "  audit verify: {} records checked in {verify_secs:.2} s",
        verified.records
    );
    json!({
        "records": written,
        "batch_max": settings.batch_max,
        "secs": secs,
        "records_per_sec": written as f64 / secs,
        "target_per_sec": 20_000,
        "verify_records": verified.records,
        "verify_secs": verify_secs,
    })
}
