//! Crash test of the real service: nothing accepted is lost to a `kill -9` of `agentcast run`.
//!
//! The test runs the emulator in-process (500 agents) and a webhook receiver on loopback
//! (every 7th answer a 500, so retries are in flight), and starts the service binary,
//! `agentcast run`, as a child process pointed at both, on an outbox in a temporary
//! directory. Run 1: once the service is ready and the agents' first states have gone
//! through, the emulator makes 500 changes/s; once the receiver has seen 1,000 more deliveries
//! (two to four seconds) the child is killed with SIGKILL mid-stream. The events
//! *accepted* before the kill are the ones committed to the child's outbox, read from the file
//! afterwards. Run 2: the emulator is paused (no new changes), the same binary starts again on
//! the same outbox, and the test waits until every accepted id has reached the receiver at
//! least once, then stops the child with SIGTERM (it must exit 0). It lists any missing id.
//! Bounded: about 10 s, at most 90 s; a child that exits on its own fails the test with the
//! tail of its stderr. Nothing is timed: the figures printed are for the reader.
//!
//! No libtest harness (`harness = false`): one test, with `--list` and name filters.

mod common;

use std::{
    collections::{HashSet, VecDeque},
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use agentcast::actors::webhook::signing::generate_secret;
use common::{
    process::{exit_within, free_port},
    receiver::TestReceiver,
    sim::TestSim,
};
use serde_json::json;

const NAME: &str = "service_killed_mid_stream_loses_no_accepted_event";
/// Agents in the emulated org, and the changes per second it makes across them.
const AGENTS: u32 = 500;
const RATE: f64 = 500.0;
/// Distinct deliveries the receiver sees after the changes start and before the child is
/// killed (about two seconds; the agents' first states, broadcast at start-up, come on top).
const KILL_AFTER: usize = 1_000;
/// The endpoint's id in the service's configuration (and in its outbox).
const ENDPOINT: &str = "crash";
/// The environment variable the endpoint's secret is read from.
const SECRET_VAR: &str = "CRASH_WEBHOOK_SECRET";
/// Bound on the whole test.
const DEADLINE: Duration = Duration::from_secs(90);
/// Bound on a start-up (until `/readyz` answers 200) and on a SIGTERM shutdown.
const START: Duration = Duration::from_secs(30);
/// After the restart, give up when nothing arrives for this long.
const QUIET: Duration = Duration::from_secs(20);
/// Before the changes start, the first states have settled when none came for this long,
/// or after at most this long.
const SETTLE_QUIET: Duration = Duration::from_millis(500);
const SETTLE_MAX: Duration = Duration::from_secs(10);
/// How often the loops look at whether the child is still running.
const TICK: Duration = Duration::from_millis(100);
/// Lines of the child's stderr kept for a failure message.
const STDERR_TAIL: usize = 40;

fn main() {
    common::harness::run_single(NAME, crash_test);
}

/// `agentcast run` as a child process, with the tail of its stderr.
struct Service {
    child: Child,
    port: u16,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The thread collecting stderr; it ends when the child's stderr closes.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    /// Starts `agentcast --config <dir>/config.toml run` in `dir`, on a free loopback port.
    fn start(dir: &Path, sim: &TestSim, receiver: &str, secret: &str) -> Self {
        let port = free_port();
        let config = dir.join("config.toml");
        std::fs::write(&config, config_toml(dir, sim, receiver, port)).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_agentcast"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .current_dir(dir)
            .env_remove("GENESYS_HOST")
            .env_remove("WEBHOOK_URL")
            .env_remove("RUST_LOG")
            .env("GENESYS_CLIENT_ID", &sim.handle.client_id)
            .env("GENESYS_CLIENT_SECRET", &sim.handle.client_secret)
            .env(SECRET_VAR, secret)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("agentcast starts");
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let pipe = child.stderr.take().expect("piped stderr");
        let tail = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                // unwrap: nothing panics while holding this lock.
                let mut tail = tail.lock().unwrap();
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        Self {
            child,
            port,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    /// The last lines the child wrote to stderr.
    fn stderr_tail(&self) -> String {
        // unwrap: nothing panics while holding this lock.
        let tail = self.stderr.lock().unwrap();
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Fails the test if the child has exited on its own.
    fn assert_running(&mut self, when: &str) {
        if let Some(status) = self.child.try_wait().expect("child status") {
            // The last lines: the reader ends at the closed pipe.
            if let Some(reader) = self.stderr_reader.take() {
                let _ = reader.join();
            }
            panic!(
                "agentcast exited early ({status}) {when}; its stderr ends with:\n{}",
                self.stderr_tail()
            );
        }
    }

    /// Waits until `/readyz` answers 200 (upstream connected, reference data loaded).
    async fn ready(&mut self, when: &str) -> Duration {
        let started = Instant::now();
        let http = awc::Client::builder().timeout(TICK * 10).finish();
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        loop {
            self.assert_running(when);
            if let Ok(response) = http.get(&url).send().await
                && response.status().is_success()
            {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < START,
                "agentcast was not ready within {START:?} {when}; its stderr ends with:\n{}",
                self.stderr_tail()
            );
            actix_rt::time::sleep(TICK).await;
        }
    }

    /// SIGKILL, then reap.
    fn kill(mut self) {
        self.assert_running("before the kill");
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("child reaped");
    }

    /// SIGTERM, and the exit status once it stops (SIGKILL after [`START`]).
    async fn terminate(mut self) -> Result<std::process::ExitStatus, String> {
        self.assert_running("before SIGTERM");
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        // Waited for on the blocking pool: the emulator and receiver keep running meanwhile.
        let (child, stderr) = (self.child, self.stderr);
        let exited = tokio::task::spawn_blocking(move || exit_within(child, START))
            .await
            .expect("the waiter");
        exited.map(|output| output.status).ok_or_else(|| {
            let tail = stderr.lock().unwrap().iter().cloned().collect::<Vec<_>>();
            format!(
                "did not stop within {START:?} of SIGTERM; its stderr ends with:\n{}",
                tail.join("\n")
            )
        })
    }
}

/// The child's configuration: the emulator, the receiver as the one endpoint (loopback
/// allowed, retries 50 ms apart), the outbox and audit trail in `dir`, short backoffs.
fn config_toml(dir: &Path, sim: &TestSim, receiver: &str, port: u16) -> String {
    let path = |name: &str| dir.join(name).display().to_string();
    let retries = vec!["0.05"; 40].join(", ");
    format!(
        r#"[genesys]
api_base = {api_base:?}
requests_per_minute = 300
retry_initial_backoff_ms = 20
retry_max_backoff_secs = 1

[http]
listen = "127.0.0.1:{port}"

[log]
level = "warn,actix_server=warn"

[upstream]
reconnect_initial_backoff_ms = 50
reconnect_max_backoff_secs = 1
reconcile_delay_ms = 50

[validation]
pool_size = 2

[webhook]
outbox_path = {outbox:?}
allow_hosts = ["127.0.0.1"]
retry_schedule_secs = [{retries}]

[audit]
path = {audit:?}

[[webhooks]]
id = "{ENDPOINT}"
url = {receiver:?}
secret_env = "{SECRET_VAR}"
"#,
        api_base = sim.handle.base,
        outbox = path("outbox.sqlite"),
        audit = path("audit.sqlite"),
    )
}

/// A copy of the outbox (the database and its write-ahead log) in `into`, so that reading it
/// leaves the original as the kill left it: the restarted service, not this test, recovers
/// the log. Returns the copy's path and the log's size in bytes.
fn snapshot(outbox: &Path, into: &Path) -> (std::path::PathBuf, u64) {
    std::fs::create_dir_all(into).expect("snapshot dir");
    let name = outbox.file_name().expect("a file name").to_owned();
    let copy = into.join(&name);
    std::fs::copy(outbox, &copy).expect("copy the outbox");
    let mut wal_name = name;
    wal_name.push("-wal");
    let wal = outbox.with_file_name(&wal_name);
    let wal_bytes = match std::fs::copy(&wal, into.join(&wal_name)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => panic!("copy the outbox's log: {e}"),
    };
    (copy, wal_bytes)
}

/// What the outbox holds for the endpoint: every event id with its delivery state
/// (0 pending, 1 delivered, 2 dead, 3 replayed).
fn outbox_deliveries(path: &Path) -> Vec<(String, i64)> {
    let db = rusqlite::Connection::open(path).expect("the outbox opens");
    let events: i64 = db
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .expect("events count");
    let mut stmt = db
        .prepare(
            "SELECT e.event_id, d.state FROM deliveries d JOIN events e ON e.id = d.event_row
              WHERE d.endpoint = ?1 ORDER BY d.id",
        )
        .expect("query");
    let rows: Vec<(String, i64)> = stmt
        .query_map([ENDPOINT], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows read");
    assert_eq!(
        events as usize,
        rows.len(),
        "every event in the outbox has a delivery for the one endpoint (it takes every scope)"
    );
    rows
}

fn count_state(rows: &[(String, i64)], state: i64) -> usize {
    rows.iter().filter(|(_, s)| *s == state).count()
}

async fn crash_test() {
    let started = Instant::now();
    let left = || DEADLINE.saturating_sub(started.elapsed());
    let sim = TestSim::start(AGENTS, |c| c.events_per_sec = 0.0);
    let mut receiver = TestReceiver::failing_every(7).expect("a loopback webhook receiver");
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = generate_secret();
    let mut received: HashSet<String> = HashSet::new();
    let mut requests_seen = 0usize;

    // Run 1: the service relays 500 changes/s; kill -9 once 1,000 deliveries arrived.
    let mut service = Service::start(dir.path(), &sim, &receiver.url, &secret);
    let startup = service.ready("in run 1").await;
    // The agents' first states, broadcast once the service is ready: let them through before
    // the changes start, so the kill comes mid-stream (until 500 ms without one; bounded).
    let settling = Instant::now();
    while settling.elapsed() < SETTLE_MAX {
        let Some(r) = receiver.next(SETTLE_QUIET).await else {
            break;
        };
        requests_seen += 1;
        received.insert(r.id);
        service.assert_running("in run 1");
    }
    let at_start = received.len();
    sim.post("/sim/rate", json!({ "eventsPerSec": RATE })).await;
    let flowing = Instant::now();
    while received.len() < at_start + KILL_AFTER {
        if let Some(r) = receiver.next(TICK).await {
            requests_seen += 1;
            received.insert(r.id);
        }
        service.assert_running("in run 1");
        assert!(
            !left().is_zero(),
            "the receiver got only {} deliveries in time; agentcast's stderr ends with:\n{}",
            received.len(),
            service.stderr_tail()
        );
    }
    service.kill();
    let killed_after = flowing.elapsed();
    sim.post("/sim/pause", json!({})).await;
    // Requests the receiver took in before the kill and has not been asked for yet (any still
    // in its sockets arrive in run 2 and are counted there).
    for r in receiver.drain() {
        requests_seen += 1;
        received.insert(r.id);
    }
    let received_before = received.clone();

    // Accepted before the kill: committed to the outbox (read from a copy).
    let outbox = dir.path().join("outbox.sqlite");
    let (copy, wal_bytes) = snapshot(&outbox, &dir.path().join("at-kill"));
    let rows = outbox_deliveries(&copy);
    let accepted: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
    let accepted_set: HashSet<&String> = accepted.iter().collect();
    let unknown: Vec<&String> = received_before
        .iter()
        .filter(|id| !accepted_set.contains(id))
        .collect();
    let delivered_before = accepted
        .iter()
        .filter(|id| received_before.contains(*id))
        .count();
    println!(
        "  run 1: ready after {:.1} s ({} deliveries of first states); killed {:.1} s into the \
         stream, after {} requests ({} distinct ids) reached the receiver",
        startup.as_secs_f64(),
        at_start,
        killed_after.as_secs_f64(),
        requests_seen,
        received_before.len()
    );
    println!(
        "  outbox at the kill ({} KiB of log): {} accepted events ({} recorded pending, {} \
         delivered, {} dead); {} of them reached the receiver before the kill, {} had not",
        wal_bytes / 1024,
        accepted.len(),
        count_state(&rows, 0),
        count_state(&rows, 1),
        count_state(&rows, 2),
        delivered_before,
        accepted.len() - delivered_before
    );
    assert!(!accepted.is_empty(), "the outbox holds no accepted event");
    assert!(
        unknown.is_empty(),
        "{} id(s) reached the receiver without being in the outbox: {:?}",
        unknown.len(),
        unknown.iter().take(20).collect::<Vec<_>>()
    );

    // Run 2: the same outbox, no new changes; pending deliveries must resume.
    let mut service = Service::start(dir.path(), &sim, &receiver.url, &secret);
    let restarted = Instant::now();
    // Deliveries resume before the service is ready; keep what arrives meanwhile. Ready, it
    // has its signal handler, so the SIGTERM at the end is a graceful stop.
    let restart_ready = service.ready("after the restart").await;
    let missing = |received: &HashSet<String>| -> Vec<String> {
        accepted
            .iter()
            .filter(|id| !received.contains(*id))
            .cloned()
            .collect()
    };
    let mut last_progress = Instant::now();
    let mut outstanding = missing(&received).len();
    while outstanding > 0 && !left().is_zero() && last_progress.elapsed() < QUIET {
        if let Some(r) = receiver.next(TICK).await {
            requests_seen += 1;
            received.insert(r.id);
            let now = missing(&received).len();
            if now < outstanding {
                outstanding = now;
                last_progress = Instant::now();
            }
        }
        service.assert_running("after the restart");
    }
    let resumed_in = restarted.elapsed();
    let stopped = service.terminate().await;
    let missing = missing(&received);
    let rows_after = outbox_deliveries(&outbox);
    let accepted_states: Vec<i64> = rows_after
        .iter()
        .filter(|(id, _)| accepted_set.contains(id))
        .map(|(_, s)| *s)
        .collect();
    println!(
        "  after the restart: ready after {:.1} s; {} of {} accepted events delivered ({} \
         resumed) within {:.1} s; {} missing; {} requests in all; {:.1} s in all",
        restart_ready.as_secs_f64(),
        accepted.len() - missing.len(),
        accepted.len(),
        accepted.len() - missing.len() - delivered_before,
        resumed_in.as_secs_f64(),
        missing.len(),
        requests_seen,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  outbox after SIGTERM: {} events; the accepted ones {} delivered, {} pending, {} dead; \
         exit: {}",
        rows_after.len(),
        accepted_states.iter().filter(|s| **s == 1).count(),
        accepted_states.iter().filter(|s| **s == 0).count(),
        accepted_states.iter().filter(|s| **s == 2).count(),
        match &stopped {
            Ok(status) => status.to_string(),
            Err(e) => e.clone(),
        }
    );
    assert!(
        missing.is_empty(),
        "{} accepted event(s) never reached the receiver: {missing:?}",
        missing.len()
    );
    let status = stopped.unwrap_or_else(|e| panic!("agentcast {e}"));
    assert_eq!(status.code(), Some(0), "agentcast exits 0 on SIGTERM");
}
