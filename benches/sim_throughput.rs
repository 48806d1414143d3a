//! Emulator throughput: starts `agentcast sim --agents 10000 --events-per-sec 2000` as a child
//! process, subscribes (raw awc) as many agent topics as 20 channels allow (activity and
//! presence of every agent: 20 × 1,000), measures for 20 s and prints one JSON object: the
//! target and actually emitted changes per second (from `/sim/truth` `eventsEmitted`), the
//! messages per second the subscriber received, and the emulator's CPU use (utime + stime
//! from `/proc/<pid>/stat`, as % of one core) and RSS. Every figure is measured.
//!
//! `cargo bench --bench sim_throughput`; `SIM_BENCH_AGENTS`, `SIM_BENCH_RATE` and
//! `SIM_BENCH_SECS` override the defaults.

mod support;

use std::{
    cell::Cell,
    rc::Rc,
    time::{Duration, Instant},
};

use awc::ws::Frame;
use base64::Engine;
use futures_util::StreamExt;
use serde_json::{Value, json};

const CHANNELS: usize = 20;
const TOPICS_PER_CHANNEL: usize = 1000;
const WARMUP: Duration = Duration::from_secs(2);

async fn call(
    http: &awc::Client,
    token: &str,
    method: awc::http::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let req = http
        .request(method, url)
        .insert_header(("Authorization", format!("Bearer {token}")));
    let mut res = match body {
        Some(body) => req.send_json(&body).await,
        None => req.send().await,
    }
    .expect("request");
    let bytes = res.body().limit(256 << 20).await.expect("body");
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

async fn events_emitted(http: &awc::Client, base: &str) -> u64 {
    let mut res = http
        .get(format!("{base}/sim/truth"))
        .send()
        .await
        .expect("truth");
    let truth: Value =
        serde_json::from_slice(&res.body().limit(256 << 20).await.expect("body")).expect("json");
    truth["eventsEmitted"].as_u64().expect("eventsEmitted")
}

async fn run(agents: u32, rate: f64, window: Duration) -> Value {
    let emulator = support::Emulator::start(&[
        "--agents",
        &agents.to_string(),
        "--events-per-sec",
        &rate.to_string(),
    ]);
    let pid = emulator.child.id();
    let http = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", emulator.client_id, emulator.client_secret));
    let mut res = http
        .post(format!("{}/oauth/token", emulator.base))
        .insert_header(("Authorization", format!("Basic {basic}")))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body("grant_type=client_credentials")
        .await
        .expect("token");
    let token: Value = serde_json::from_slice(&res.body().await.expect("body")).expect("json");
    let token = token["access_token"].as_str().expect("token").to_owned();

    let mut users = Vec::new();
    for page in 1.. {
        let url = format!(
            "{}/api/v2/users?pageSize=500&pageNumber={page}",
            emulator.base
        );
        let listing = call(&http, &token, awc::http::Method::GET, url, None).await;
        users.extend(
            listing["entities"]
                .as_array()
                .expect("entities")
                .iter()
                .map(|u| u["id"].as_str().expect("id").to_owned()),
        );
        if listing["nextUri"].is_null() {
            break;
        }
    }
    let topics: Vec<String> = users
        .iter()
        .flat_map(|id| {
            [
                format!("v2.users.{id}.activity"),
                format!("v2.users.{id}.presence"),
            ]
        })
        .take(CHANNELS * TOPICS_PER_CHANNEL)
        .collect();
    let received = Rc::new(Cell::new(0u64));
    let bytes = Rc::new(Cell::new(0u64));
    let mut readers = Vec::new();
    for chunk in topics.chunks(TOPICS_PER_CHANNEL) {
        let channel = call(
            &http,
            &token,
            awc::http::Method::POST,
            format!("{}/api/v2/notifications/channels", emulator.base),
            None,
        )
        .await;
        let id = channel["id"].as_str().expect("channel id");
        let body: Vec<Value> = chunk.iter().map(|t| json!({ "id": t })).collect();
        let url = format!(
            "{}/api/v2/notifications/channels/{id}/subscriptions",
            emulator.base
        );
        call(
            &http,
            &token,
            awc::http::Method::PUT,
            url,
            Some(Value::Array(body)),
        )
        .await;
        let uri = channel["connectUri"]
            .as_str()
            .expect("connectUri")
            .to_owned();
        let (_, mut ws) = awc::Client::new()
            .ws(uri)
            .max_frame_size(1 << 20)
            .connect()
            .await
            .expect("socket");
        let (received, bytes) = (Rc::clone(&received), Rc::clone(&bytes));
        readers.push(actix_web::rt::spawn(async move {
            while let Some(Ok(frame)) = ws.next().await {
                if let Frame::Text(text) = frame {
                    received.set(received.get() + 1);
                    bytes.set(bytes.get() + text.len() as u64);
                }
            }
        }));
    }

    actix_web::rt::time::sleep(WARMUP).await;
    // Each sample is taken right after a /sim/truth answer, so both ends carry the same lag.
    let e0 = events_emitted(&http, &emulator.base).await;
    let (t0, m0, b0, c0) = (
        Instant::now(),
        received.get(),
        bytes.get(),
        support::cpu_secs(pid),
    );
    actix_web::rt::time::sleep(window).await;
    let e1 = events_emitted(&http, &emulator.base).await;
    let (m1, b1, c1) = (received.get(), bytes.get(), support::cpu_secs(pid));
    let secs = t0.elapsed().as_secs_f64();
    let rss = support::rss_mib(pid);
    let mut res = http
        .get(format!("{}/sim/channels", emulator.base))
        .send()
        .await
        .expect("channels");
    let channels: Value =
        serde_json::from_slice(&res.body().limit(64 << 20).await.expect("body")).expect("json");
    for reader in readers {
        reader.abort();
    }
    drop(emulator);
    let per_sec = |n: u64| (n as f64 / secs * 10.0).round() / 10.0;
    json!({
        "command": format!("agentcast sim --agents {agents} --events-per-sec {rate}"),
        "windowSecs": (secs * 100.0).round() / 100.0,
        "channels": topics.len().div_ceil(TOPICS_PER_CHANNEL),
        "subscribedTopics": topics.len(),
        "targetEventsPerSec": rate,
        "emittedEventsPerSec": per_sec(e1 - e0),
        "messagesReceivedPerSec": per_sec(m1 - m0),
        "megabytesReceivedPerSec": ((b1 - b0) as f64 / secs / 1e6 * 100.0).round() / 100.0,
        "emulatorCpuPercentOfOneCore": ((c1 - c0) / secs * 1000.0).round() / 10.0,
        "emulatorRssMiB": (rss * 10.0).round() / 10.0,
        "slowClientCloses": channels["slowClientCloses"],
    })
}

fn main() {
    // `cargo bench` passes `--bench`; there are no other options.
    let agents: u32 = support::env_or("SIM_BENCH_AGENTS", 10_000);
    let rate: f64 = support::env_or("SIM_BENCH_RATE", 2_000.0);
    let window = Duration::from_secs(support::env_or("SIM_BENCH_SECS", 20));
    // Setup and teardown take seconds; a stuck run fails instead of hanging.
    let limit = window + Duration::from_secs(180);
    let result = actix_web::rt::System::new()
        .block_on(async { tokio::time::timeout(limit, run(agents, rate, window)).await })
        .expect("the benchmark finished in time");
    println!("{result}");
}
