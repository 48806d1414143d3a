//! `agentcast check-config` finds every problem `agentcast run` would stop on. Each bad
//! configuration in the table gets the same verdict and the same words from both commands, the
//! documented exit code (2: a configuration that cannot be used), one line per problem, no
//! panic, and no secret in the output. The binary runs as a child process in a throwaway
//! directory; Genesys is a closed loopback port, so a `run` that got past the checks would fail
//! there with exit 1 instead.

mod common;

use std::{
    path::Path,
    process::{Command, Output, Stdio},
    time::Duration,
};

use common::{
    process::{free_port, output_within, text},
    sim::TestSim,
};

/// How long one command may take before the test gives up on it.
const EXIT_WAIT: Duration = Duration::from_secs(60);
/// A valid Standard Webhooks secret (the spec's test vector A).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The part of [`SECRET`] that must never be printed.
const SECRET_TEXT: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Exit code of an unusable configuration (README, `agentcast --help`).
const EXIT_CONFIG: i32 = 2;

/// One endpoint whose secret is read from `CRM_SECRET`.
const WEBHOOK: &str = "[[webhooks]]\nid = \"crm\"\nurl = \"https://hooks.example.com/agentcast\"\nsecret_env = \"CRM_SECRET\"\n";

/// One bad configuration: a config file, environment variables, files made in the working
/// directory, and what the problem line must say.
struct Case {
    name: &'static str,
    config: String,
    env: Vec<(&'static str, String)>,
    prepare: fn(&Path),
    says: &'static str,
    /// Text that must appear in neither command's output (a secret).
    hidden: Option<&'static str>,
}

impl Case {
    fn new(name: &'static str, config: impl Into<String>, says: &'static str) -> Self {
        Self {
            name,
            config: config.into(),
            env: Vec::new(),
            prepare: |_| {},
            says,
            hidden: None,
        }
    }

    fn env(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.env.push((key, value.into()));
        self
    }

    fn prepare(mut self, prepare: fn(&Path)) -> Self {
        self.prepare = prepare;
        self
    }

    fn hides(mut self, text: &'static str) -> Self {
        self.hidden = Some(text);
        self
    }
}

/// Runs `agentcast --config agentcast.toml <command>` in `dir` with only `env` (and the base
/// variables every case shares) in its environment.
fn agentcast(dir: &Path, command: &str, env: &[(&'static str, String)]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_agentcast"))
        .args(["--config", "agentcast.toml", command])
        .current_dir(dir)
        .env_clear()
        // A panic would show its backtrace, which the test looks for.
        .env("RUST_BACKTRACE", "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agentcast starts");
    output_within(child, EXIT_WAIT, "agentcast")
}

/// The environment of a usable configuration: credentials, a free listen port, Genesys on a
/// closed port, no retries.
fn base_env() -> Vec<(&'static str, String)> {
    vec![
        ("GENESYS_CLIENT_ID", "client-id".into()),
        ("GENESYS_CLIENT_SECRET", "client-secret".into()),
        ("AGENTCAST_HTTP_LISTEN", "127.0.0.1:0".into()),
        (
            "AGENTCAST_GENESYS_API_BASE",
            format!("http://127.0.0.1:{}", free_port()),
        ),
        ("AGENTCAST_GENESYS_MAX_RETRIES", "0".into()),
        ("AGENTCAST_LOG_LEVEL", "warn".into()),
    ]
}

/// `env` over the base environment (a case's value replaces the base one; an empty value
/// removes it).
fn environment(case_env: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&'static str, String)> = base_env()
        .into_iter()
        .filter(|(k, _)| !case_env.iter().any(|(c, _)| c == k))
        .collect();
    env.extend(case_env.iter().filter(|(_, v)| !v.is_empty()).cloned());
    env
}

/// Whether `dir` really refuses new files (it does not for root).
fn refuses_writes(dir: &Path) -> bool {
    let probe = dir.join("probe");
    let refused = std::fs::write(&probe, b"").is_err();
    let _ = std::fs::remove_file(probe);
    refused
}

fn cases() -> Vec<Case> {
    let with_secret = |config: &str| format!("{WEBHOOK}{config}");
    let outbox = |path: &str| format!("[webhook]\noutbox_path = \"{path}\"\n");
    let audit = |path: &str| format!("[audit]\npath = \"{path}\"\n");
    vec![
        Case::new(
            "webhook secret variable unset",
            WEBHOOK,
            "  - CRM_SECRET: is not set: webhook endpoint \"crm\" needs its signing secret",
        ),
        Case::new(
            "webhook secret too short",
            WEBHOOK,
            "  - CRM_SECRET: a secret decodes to 5 bytes",
        )
        .env("CRM_SECRET", "whsec_c2hvcnQ=")
        .hides("c2hvcnQ"),
        Case::new(
            "webhook secret not base64",
            WEBHOOK,
            "  - CRM_SECRET: a secret is not valid base64",
        )
        .env("CRM_SECRET", "whsec_not*base64!")
        .hides("not*base64"),
        Case::new(
            "webhook URL not http(s)",
            WEBHOOK.replace("https://", "ftp://"),
            "  - webhooks[0].url: \"ftp://hooks.example.com/agentcast\" is not an http(s) URL",
        )
        .env("CRM_SECRET", SECRET),
        Case::new(
            "webhook secret written in the file",
            WEBHOOK.replace("CRM_SECRET", SECRET),
            "  - webhooks[0].secret_env: holds a secret, not the name of an environment variable",
        )
        .hides(SECRET_TEXT),
        Case::new(
            "Genesys client secret written in the file",
            "[genesys]\nclient_secret = \"file-secret-value\"\n",
            "  - genesys.client_secret: secrets are read only from the environment",
        )
        .hides("file-secret-value"),
        Case::new(
            "unknown key",
            "[http]\nlisten_port = 8080\n",
            "  - http.listen_port: unknown field",
        ),
        Case::new(
            "listen address that is no address",
            "",
            "  - http.listen: \"nowhere\" is not an address",
        )
        .env("AGENTCAST_HTTP_LISTEN", "nowhere"),
        Case::new(
            "listen address not on this host",
            "",
            "  - http.listen: cannot listen on 192.0.2.1:8080: ",
        )
        .env("AGENTCAST_HTTP_LISTEN", "192.0.2.1:8080"),
        Case::new(
            "credentials missing",
            "",
            "  - GENESYS_CLIENT_SECRET: is not set: the OAuth client credentials come from the environment",
        )
        .env("GENESYS_CLIENT_SECRET", ""),
        Case::new(
            "outbox path is a directory",
            outbox("data"),
            "  - webhook.outbox_path: data is a directory",
        )
        .prepare(|dir| std::fs::create_dir(dir.join("data")).expect("mkdir")),
        Case::new(
            "outbox path is not an SQLite file",
            outbox("notes.txt"),
            "  - webhook.outbox_path: notes.txt is not an SQLite database",
        )
        .prepare(|dir| std::fs::write(dir.join("notes.txt"), "notes").expect("write")),
        Case::new(
            "outbox path is the audit file's path",
            with_secret(&format!(
                "{}{}",
                outbox("trail.sqlite"),
                audit("./trail.sqlite")
            )),
            "  - webhook.outbox_path: trail.sqlite is also audit.path",
        )
        .env("CRM_SECRET", SECRET),
        Case::new(
            "outbox path under a file",
            outbox("notes.txt/outbox.sqlite"),
            "  - webhook.outbox_path: cannot use notes.txt/outbox.sqlite: ",
        )
        .prepare(|dir| std::fs::write(dir.join("notes.txt"), "notes").expect("write")),
        Case::new(
            "outbox directory nobody may write",
            outbox("/proc/self/outbox.sqlite"),
            "  - webhook.outbox_path: /proc/self is not writable",
        ),
        Case::new(
            "audit path is a directory",
            audit("data"),
            "  - audit.path: data is a directory",
        )
        .prepare(|dir| std::fs::create_dir(dir.join("data")).expect("mkdir")),
        Case::new(
            "audit directory nobody may write",
            audit("/proc/self/audit.sqlite"),
            "  - audit.path: /proc/self is not writable",
        ),
        Case::new(
            "a number of hours no duration holds",
            "[webhook]\nretention_hours = 1e300\n",
            "  - webhook.retention_hours: 1e300 hours is too long for a duration",
        ),
    ]
}

/// Both commands on `case`, in a directory of its own; every assertion of the table.
fn check(case: &Case) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("agentcast.toml"), &case.config).expect("config file");
    (case.prepare)(dir.path());
    let env = environment(&case.env);
    let checked = agentcast(dir.path(), "check-config", &env);
    let ran = agentcast(dir.path(), "run", &env);
    let name = case.name;
    let (checked_err, ran_err) = (text(&checked.stderr), text(&ran.stderr));
    assert_eq!(
        checked.status.code(),
        Some(EXIT_CONFIG),
        "{name}: check-config\n{checked_err}"
    );
    assert_eq!(
        ran.status.code(),
        Some(EXIT_CONFIG),
        "{name}: run\n{ran_err}"
    );
    assert_eq!(checked_err, ran_err, "{name}: the same words from both");
    assert!(
        checked_err.starts_with("agentcast: invalid configuration:\n"),
        "{name}:\n{checked_err}"
    );
    assert!(
        checked_err.lines().any(|line| line.starts_with(case.says)),
        "{name}: no line starting {:?}\n{checked_err}",
        case.says
    );
    for output in [&checked, &ran] {
        let (out, err) = (text(&output.stdout), text(&output.stderr));
        assert!(out.is_empty(), "{name}: nothing on stdout\n{out}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{name}: a panic\n{err}"
        );
        if let Some(hidden) = case.hidden {
            assert!(
                !out.contains(hidden) && !err.contains(hidden),
                "{name}: the secret is printed\n{out}\n{err}"
            );
        }
    }
}

#[test]
fn check_config_and_run_agree_on_every_bad_configuration() {
    // Every row runs (each failing one prints its panic message), then the failures are named.
    let failed: Vec<&str> = cases()
        .iter()
        .filter(|case| std::panic::catch_unwind(|| check(case)).is_err())
        .map(|case| case.name)
        .collect();
    assert!(failed.is_empty(), "rows that failed: {failed:#?}");
}

/// Not for root, which writes anywhere: there the `/proc/self` rows above stand in for it.
#[test]
fn a_read_only_outbox_directory_is_refused_alike_when_it_really_is_read_only() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    if !refuses_writes(&locked) {
        eprintln!("skipped: this user writes into read-only directories (root)");
        return;
    }
    let case = Case::new(
        "outbox in a read-only directory",
        "[webhook]\noutbox_path = \"ro/outbox.sqlite\"\n",
        "  - webhook.outbox_path: ro is not writable",
    )
    .prepare(|dir| {
        std::fs::create_dir(dir.join("ro")).expect("mkdir");
        std::fs::set_permissions(dir.join("ro"), std::fs::Permissions::from_mode(0o555))
            .expect("chmod");
    });
    check(&case);
}

#[test]
fn a_usable_configuration_passes_check_config_and_run_gets_past_the_checks() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("agentcast.toml"), WEBHOOK).expect("config file");
    let env = environment(&[("CRM_SECRET", SECRET.into())]);
    let checked = agentcast(dir.path(), "check-config", &env);
    let out = text(&checked.stdout);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stderr));
    assert!(out.starts_with("configuration OK\n"), "{out}");
    assert!(
        out.contains("secret_env = \"CRM_SECRET\"") && !out.contains(SECRET_TEXT),
        "{out}"
    );
    let ran = agentcast(dir.path(), "run", &env);
    let err = text(&ran.stderr);
    assert_eq!(ran.status.code(), Some(1), "Genesys is unreachable\n{err}");
    assert!(err.contains("could not reach"), "{err}");
}

/// An outbox written by a newer build passes the file checks but cannot be opened; `run` then
/// fails after the audit trail started, which used to panic ("there is no reactor running",
/// from the audit actor) with a backtrace after the error line.
#[test]
fn an_outbox_a_newer_build_wrote_is_one_clear_line_and_exit_2_without_a_panic() {
    let sim = TestSim::start(5, |_| {});
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("agentcast.toml"), "").expect("config file");
    rusqlite::Connection::open(dir.path().join("agentcast-outbox.sqlite"))
        .expect("an SQLite file")
        .execute_batch("PRAGMA user_version = 99;")
        .expect("a schema version");
    let env = environment(&[
        ("AGENTCAST_GENESYS_API_BASE", sim.handle.base.clone()),
        ("GENESYS_CLIENT_ID", sim.handle.client_id.clone()),
        ("GENESYS_CLIENT_SECRET", sim.handle.client_secret.clone()),
    ]);
    let ran = agentcast(dir.path(), "run", &env);
    let err = text(&ran.stderr);
    assert_eq!(ran.status.code(), Some(EXIT_CONFIG), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("agentcast:"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("agentcast-outbox.sqlite has schema version 99"),
        "{err}"
    );
    let audit = rusqlite::Connection::open(dir.path().join("agentcast-audit.sqlite"))
        .expect("the audit trail");
    let stop: String = audit
        .query_row("SELECT details FROM audit WHERE kind = 'stop'", [], |row| {
            row.get(0)
        })
        .expect("the stop record");
    assert!(stop.contains("start-up failed"), "{stop}");
}
