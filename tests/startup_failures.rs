//! `agentcast run` as a newcomer meets it: each start-up failure is one clear message and the
//! documented exit code (1 at run time, 2 for configuration), and a good start runs until
//! SIGTERM and exits 0. The binary runs as a child process against the emulator.

mod common;

use std::{
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use common::{
    process::{free_port, output_within, text},
    sim::TestSim,
};

/// Runs `agentcast` with `args` and `env` (plus a temporary data directory), waiting at most
/// a minute.
fn agentcast(args: &[&str], env: &[(&str, String)]) -> Output {
    let data = tempfile::tempdir().expect("a temporary directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentcast"));
    command
        .args(args)
        .current_dir(data.path())
        .env_remove("GENESYS_HOST")
        .env_remove("GENESYS_CLIENT_ID")
        .env_remove("GENESYS_CLIENT_SECRET")
        .env_remove("WEBHOOK_URL")
        .env("AGENTCAST_LOG_LEVEL", "warn")
        .env("AGENTCAST_HTTP_LISTEN", "127.0.0.1:0")
        .env("AGENTCAST_GENESYS_RETRY_INITIAL_BACKOFF_MS", "20")
        .env("AGENTCAST_GENESYS_RETRY_MAX_BACKOFF_SECS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().expect("agentcast starts");
    output_within(
        child,
        Duration::from_secs(60),
        &format!("agentcast {args:?}"),
    )
}

fn stderr(output: &Output) -> String {
    text(&output.stderr)
}

/// The last line agentcast wrote to stderr: the one-line error a person reads.
fn error_line(output: &Output) -> String {
    stderr(output)
        .lines()
        .rev()
        .find(|l| l.starts_with("agentcast:"))
        .unwrap_or_default()
        .to_owned()
}

fn sim_env(sim: &TestSim, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AGENTCAST_GENESYS_API_BASE", sim.handle.base.clone()),
        ("GENESYS_CLIENT_ID", sim.handle.client_id.clone()),
        ("GENESYS_CLIENT_SECRET", secret.to_owned()),
    ]
}

#[test]
fn bad_credentials_are_one_clear_error_and_exit_1() {
    let sim = TestSim::start(5, |_| {});
    let output = agentcast(&["run"], &sim_env(&sim, "not-the-secret"));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let line = error_line(&output);
    assert!(
        line.contains("refused the OAuth client credentials")
            && line.contains("GENESYS_CLIENT_SECRET"),
        "{line}"
    );
    assert!(
        !stderr(&output).contains("not-the-secret"),
        "the secret is never printed"
    );
}

#[test]
fn an_unreachable_genesys_is_one_clear_error_and_exit_1() {
    let closed = format!("127.0.0.1:{}", free_port());
    let output = agentcast(
        &["run"],
        &[
            ("AGENTCAST_GENESYS_API_BASE", format!("http://{closed}")),
            ("AGENTCAST_GENESYS_MAX_RETRIES", "1".into()),
            ("GENESYS_CLIENT_ID", "id".into()),
            ("GENESYS_CLIENT_SECRET", "secret".into()),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let line = error_line(&output);
    assert!(
        line.contains("could not reach") && line.contains(&closed),
        "{line}"
    );
}

#[test]
fn a_port_in_use_is_one_clear_error_and_exit_1() {
    let sim = TestSim::start(5, |_| {});
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("addr").to_string();
    let mut env = sim_env(&sim, &sim.handle.client_secret);
    env.push(("AGENTCAST_HTTP_LISTEN", addr.clone()));
    let output = agentcast(&["run"], &env);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let line = error_line(&output);
    assert!(
        line.contains(&format!("cannot listen on {addr} (http.listen)")),
        "{line}"
    );
}

#[test]
fn a_bad_value_names_its_key_and_exits_2() {
    let output = agentcast(
        &["run"],
        &[("AGENTCAST_GENESYS_REQUESTS_PER_MINUTE", "lots".into())],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let line = error_line(&output);
    let text = stderr(&output);
    assert!(
        line.starts_with("agentcast: invalid configuration"),
        "{text}"
    );
    assert!(
        text.contains("genesys.requests_per_minute")
            && text.contains("AGENTCAST_GENESYS_REQUESTS_PER_MINUTE"),
        "{text}"
    );
}

#[test]
fn missing_credentials_name_the_variables_and_exit_2() {
    let output = agentcast(&["run"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("GENESYS_CLIENT_ID") && text.contains("GENESYS_CLIENT_SECRET"),
        "{text}"
    );
}

#[test]
fn check_config_reports_every_problem_in_one_run() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[genesys]\nregion = \"moon.example\"\nrequests_per_minute = 0\nclient_secret = \"oops\"\n[sim]\nagents = 0\n",
    )
    .expect("write config");
    let output = agentcast(
        &[
            "--config",
            path.to_str().expect("utf-8 path"),
            "check-config",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    for key in [
        "genesys.region",
        "genesys.requests_per_minute",
        "genesys.client_secret",
        "sim.agents",
    ] {
        assert!(text.contains(key), "{key} is reported:\n{text}");
    }
}

/// `agentcast run` against `sim` on a free port, working in `data`, stderr piped.
struct Running {
    child: std::process::Child,
    port: u16,
}

impl Running {
    fn start(sim: &TestSim, data: &Path, log_level: &str) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_agentcast"))
            .arg("run")
            .current_dir(data)
            .envs(sim_env(sim, &sim.handle.client_secret))
            .env("AGENTCAST_HTTP_LISTEN", format!("127.0.0.1:{port}"))
            .env("AGENTCAST_LOG_LEVEL", log_level)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("agentcast starts");
        Self { child, port }
    }

    /// Whether `path` answers 2xx (through `agentcast healthcheck`, as Docker asks).
    fn answers(&self, path: &str) -> bool {
        Command::new(env!("CARGO_BIN_EXE_agentcast"))
            .args([
                "healthcheck",
                "--url",
                &format!("http://127.0.0.1:{}{path}", self.port),
            ])
            .stderr(Stdio::null())
            .status()
            .expect("healthcheck runs")
            .success()
    }

    /// Polls until `path` answers, failing if the process exits first.
    fn wait_for(&mut self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.answers(path) {
            assert!(Instant::now() < deadline, "agentcast never answered {path}");
            assert!(
                self.child.try_wait().expect("status").is_none(),
                "agentcast exited early"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the process's output once it has exited (bounded).
    fn terminate(self) -> Output {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        output_within(
            self.child,
            Duration::from_secs(30),
            "agentcast after SIGTERM",
        )
    }
}

#[test]
fn a_good_start_runs_until_sigterm_and_exits_0() {
    let sim = TestSim::start(20, |_| {});
    let data = tempfile::tempdir().expect("a temporary directory");
    let mut running = Running::start(&sim, data.path(), "warn");
    running.wait_for("/readyz");
    let output = running.terminate();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        data.path().join("agentcast-audit.sqlite").exists(),
        "the audit trail was written where configured"
    );
}

/// A stop while the roster is still being subscribed (here every API answer takes a second)
/// takes the same shutdown path as any other: exit 0, and the audit trail's `stop` record.
#[test]
fn a_sigterm_during_start_up_shuts_down_cleanly_and_exits_0() {
    let sim = TestSim::start(20, |_| {});
    actix_rt::System::new().block_on(sim.fault(
        "slow_rest",
        serde_json::json!({"delayMs": 1000, "secs": 120}),
    ));
    let data = tempfile::tempdir().expect("a temporary directory");
    let mut running = Running::start(&sim, data.path(), "info");
    running.wait_for("/healthz");
    assert!(!running.answers("/readyz"), "still subscribing the roster");
    let output = running.terminate();
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(
        log.contains("Stopping before the upstream subscription finished"),
        "{log}"
    );
    let audit = rusqlite::Connection::open(data.path().join("agentcast-audit.sqlite"))
        .expect("the audit trail");
    let stops: i64 = audit
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE kind = 'stop'",
            [],
            |row| row.get(0),
        )
        .expect("a count of stop records");
    assert_eq!(stops, 1, "the stop record was written\n{log}");
}
