//! Crash test: nothing accepted is lost to a `kill -9`.
//!
//! The service side runs as a child process: this same binary, started with
//! `AGENTCAST_CRASH_CHILD` set, runs the real WebhookActor on a real outbox and feeds it
//! synthetic broadcasts at 500 events/s, printing `accepted <event id>` for each one only once
//! the outbox has committed it. The parent runs a receiver on loopback (every 7th answer a 500,
//! so retries are in flight), kills the child with SIGKILL mid-stream, starts it again on the
//! same outbox with no new events, and waits until every id printed before the kill has reached
//! the receiver at least once. It lists any missing id. Bounded: about 10 s, at most 90 s.
//!
//! No libtest harness (`harness = false`): `main` is either the child or the test.

mod common;

use std::{
    collections::HashSet,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use agentcast::{
    actors::webhook::{Submit, WebhookActor, WebhookConfig, WebhookMetrics},
    config::{Settings, WebhookSettings},
    event::Scope,
};
use common::receiver::{TestReceiver, broadcast};
use tokio::sync::mpsc;

const NAME: &str = "killed_mid_stream_loses_no_accepted_event";
const CHILD_ENV: &str = "AGENTCAST_CRASH_CHILD";
/// Events per second the child feeds.
const RATE: u64 = 500;
/// Accepted events after which the child is killed (about two seconds in).
const KILL_AFTER: usize = 1_000;
/// Agents the events are spread over.
const AGENTS: u64 = 50;
/// Bound on the whole test.
const DEADLINE: Duration = Duration::from_secs(90);
/// After the restart, give up when nothing arrives for this long.
const QUIET: Duration = Duration::from_secs(20);

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
        return;
    }
    common::harness::run_single(NAME, crash_test);
}

/// The child: `spec` is `<outbox path> <receiver url> <events to feed>`.
fn child(spec: &str) {
    let mut parts = spec.split(' ');
    let (outbox, url, count) = (
        parts.next().expect("outbox path").to_owned(),
        parts.next().expect("receiver url").to_owned(),
        parts
            .next()
            .expect("count")
            .parse::<u64>()
            .expect("count is a number"),
    );
    actix_rt::System::new().block_on(async move {
        let mut settings = Settings::defaults();
        settings.webhook.outbox_path = outbox;
        settings.webhook.allow_hosts = vec!["127.0.0.1".into()];
        settings.webhook.retry_schedule_secs = vec![0.05; 40];
        settings.webhooks = vec![WebhookSettings {
            id: "crash".into(),
            url,
            secret_env: "S".into(),
            ..WebhookSettings::default()
        }];
        let secret = agentcast::actors::webhook::signing::generate_secret();
        let config = WebhookConfig::from_settings_with(&settings, &|_| Some(secret.clone()))
            .expect("config");
        let metrics = WebhookMetrics::new(&prometheus::Registry::new());
        let actor = WebhookActor::start(config, metrics, None, None).expect("webhook actor");
        let mut tick = actix_rt::time::interval(Duration::from_millis(10));
        let per_tick = RATE / 100;
        let mut next = 0;
        while next < count {
            tick.tick().await;
            for _ in 0..per_tick.min(count - next) {
                let id = format!("evt_crash_{next:06}");
                let agent = format!("agent-{}", next % AGENTS);
                let b = Arc::new(broadcast(&id, next + 1, &agent, Scope::GlobalRouting));
                let actor = actor.clone();
                actix_rt::spawn(async move {
                    if let Ok(Ok(_)) = actor.send(Submit { broadcast: b }).await {
                        println!("accepted {id}");
                    }
                });
                next += 1;
            }
        }
        std::future::pending::<()>().await;
    });
}

fn spawn_child(outbox: &str, url: &str, count: u64) -> (Child, mpsc::UnboundedReceiver<String>) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD_ENV, format!("{outbox} {url} {count}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(id) = line.strip_prefix("accepted ") {
                let _ = tx.send(id.to_owned());
            }
        }
    });
    (child, rx)
}

async fn crash_test() {
    let started = Instant::now();
    let left = || DEADLINE.saturating_sub(started.elapsed());
    let mut receiver = TestReceiver::failing_every(7).expect("a loopback webhook receiver");
    let dir = tempfile::tempdir().expect("temp dir");
    let outbox = dir.path().join("outbox.sqlite").display().to_string();
    let mut received: HashSet<String> = HashSet::new();

    // Run 1: feed at 500/s, kill -9 once 1,000 events are accepted.
    let (mut child, mut accepted_rx) = spawn_child(&outbox, &receiver.url, RATE * 60);
    let mut accepted: Vec<String> = Vec::new();
    while accepted.len() < KILL_AFTER {
        tokio::select! {
            id = accepted_rx.recv() => accepted.push(id.expect("the child runs until killed")),
            r = receiver.next(left()) => { received.insert(r.expect("deliveries flow").id); }
        }
        assert!(
            !left().is_zero(),
            "the child accepted only {} events in time",
            accepted.len()
        );
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("child reaped");
    // Ids printed before the kill are still in the pipe.
    while let Some(id) = accepted_rx.recv().await {
        accepted.push(id);
    }
    received.extend(receiver.drain().into_iter().map(|r| r.id));
    let delivered_before = accepted.iter().filter(|id| received.contains(*id)).count();
    println!(
        "  killed after {} accepted events; {} of them delivered before the kill",
        accepted.len(),
        delivered_before
    );

    // Run 2: same outbox, no new events; pending deliveries must resume.
    let (mut child, _) = spawn_child(&outbox, &receiver.url, 0);
    let missing = |received: &HashSet<String>| -> Vec<String> {
        accepted
            .iter()
            .filter(|id| !received.contains(*id))
            .cloned()
            .collect()
    };
    while !missing(&received).is_empty() && !left().is_zero() {
        match receiver.next(left().min(QUIET)).await {
            Some(r) => {
                received.insert(r.id);
            }
            None => break,
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("child reaped");
    let missing = missing(&received);
    println!(
        "  after the restart: {} of {} accepted events delivered ({} resumed), {:.1} s in all",
        accepted.len() - missing.len(),
        accepted.len(),
        accepted.len() - missing.len() - delivered_before,
        started.elapsed().as_secs_f64()
    );
    assert!(
        missing.is_empty(),
        "{} accepted event(s) never reached the receiver: {missing:?}",
        missing.len()
    );
}
