//! The commands: `check-config`, `sim`, `run` and `demo`. The service's wiring is in
//! [`service`].
//!
//! Exit codes: 0 success, 1 a failure at run time (bad credentials, unreachable Genesys,
//! port in use), 2 a configuration that cannot be used. `check-config` and `run` run the same
//! pre-flight checks ([`Settings::preflight`]) before anything starts, so `check-config` finds
//! every configuration problem `run` would stop on, in the same words.

mod demo;
pub mod service;

use std::{process::ExitCode, sync::Arc};

use tracing::info;

use self::service::{Service, ServiceOptions, StartError};

use crate::{
    actors::audit::{VerifyError, chain::Head, verify_path},
    cli::{AuditCommand, Cli, Command, SimArgs},
    config::{BindError, ConfigError, Credentials, Listener, Settings},
    genesys::{GenesysClient, GenesysError},
    sim::{self, SimConfig},
    telemetry,
};

/// Exit code for a configuration that cannot be used.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a failure at run time.
pub const EXIT_FAILURE: u8 = 1;

/// Runs one command to completion and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(err) => return config_failure(&err),
    };
    let mut level = settings.log.level.clone();
    if matches!(cli.command, Command::Demo(_)) && level == Settings::defaults().log.level {
        // The emulator's own logs would drown the demo's output.
        level.push_str(",agentcast::sim=warn");
    }
    telemetry::init(cli.log_format.unwrap_or(settings.log.format), &level);
    match cli.command {
        Command::CheckConfig => check_config(&settings),
        Command::Healthcheck { url } => {
            healthcheck(url.unwrap_or_else(|| healthz_url(&settings.http.listen)))
        }
        Command::Audit(AuditCommand::Verify { path, head }) => audit_verify(
            path.as_deref()
                .unwrap_or_else(|| std::path::Path::new(&settings.audit.path)),
            head,
        ),
        Command::Sim(args) => match apply_sim_args(&mut settings, &args) {
            Ok(()) => run_sim(&settings),
            Err(err) => config_failure(&err),
        },
        Command::Run => run(&settings),
        Command::Demo(args) => match apply_sim_args(&mut settings, &args) {
            Ok(()) => demo::run(&settings),
            Err(err) => config_failure(&err),
        },
    }
}

fn config_failure(err: &ConfigError) -> ExitCode {
    eprintln!("agentcast: {err}");
    ExitCode::from(EXIT_CONFIG)
}

fn runtime_failure(what: &str, err: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("agentcast: {what}: {err}");
    ExitCode::from(EXIT_FAILURE)
}

/// Command-line emulator flags override the `[sim]` section; the result is validated again.
fn apply_sim_args(settings: &mut Settings, args: &SimArgs) -> Result<(), ConfigError> {
    args.apply(&mut settings.sim);
    let problems = settings.validate();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// The `/healthz` URL of a server listening on `listen`.
fn healthz_url(listen: &str) -> String {
    let local = listen
        .replace("0.0.0.0", "127.0.0.1")
        .replace("[::]", "[::1]");
    format!("http://{local}/healthz")
}

/// `agentcast healthcheck`: 0 when `url` answers 2xx within 3 s, 1 otherwise.
fn healthcheck(url: String) -> ExitCode {
    actix_rt::System::new().block_on(async move {
        let client = awc::Client::builder()
            .timeout(std::time::Duration::from_secs(3))
            .finish();
        match client.get(&url).send().await {
            Ok(response) if response.status().is_success() => ExitCode::SUCCESS,
            Ok(response) => runtime_failure(&format!("{url} is unhealthy"), &response.status()),
            Err(err) => runtime_failure(&format!("{url} did not answer"), &err),
        }
    })
}

/// `agentcast audit verify`: exit 0 when the chain is intact (and holds `head`, if given), 1
/// when broken, short of `head`, or unreadable.
fn audit_verify(path: &std::path::Path, head: Option<Head>) -> ExitCode {
    match verify_path(path, head) {
        Ok(v) => {
            let ids = match (v.first_id, v.last_id) {
                (Some(first), Some(last)) => format!(" (ids {first}..={last})"),
                _ => String::new(),
            };
            let anchor = v
                .anchor_id
                .map(|id| format!(", from the retention anchor at record {id}"))
                .unwrap_or_default();
            let matched = v
                .matched
                .map(|h| format!("; it holds the anchored head {}", h.id))
                .unwrap_or_default();
            let gaps = match v.gap_records {
                0 => "no gaps".to_owned(),
                n => format!(
                    "{n} audit_gap record{} covering {} missing events",
                    if n == 1 { "" } else { "s" },
                    v.gap_events
                ),
            };
            println!(
                "audit chain intact: {} records{ids}{anchor}{matched}; {gaps}; head {}",
                v.records, v.head
            );
            ExitCode::SUCCESS
        }
        Err(VerifyError::Broken(broken)) => {
            println!("audit chain BROKEN in {}: {broken}", path.display());
            ExitCode::from(EXIT_FAILURE)
        }
        Err(VerifyError::Head(problem)) => {
            println!("audit chain BROKEN in {}: {problem}", path.display());
            ExitCode::from(EXIT_FAILURE)
        }
        Err(err) => {
            eprintln!("agentcast: cannot verify {}: {err}", path.display());
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Reads a variable of the process environment.
fn process_env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

/// `agentcast check-config`: the validated settings and the pre-flight checks `run` makes.
fn check_config(settings: &Settings) -> ExitCode {
    let ready = match settings.preflight(&process_env) {
        Ok(ready) => ready,
        Err(err) => return config_failure(&err),
    };
    println!("configuration OK");
    if let Some(api) = settings.genesys.resolved_api_base() {
        println!("Genesys API: {api}");
    }
    if let Listener::InUse(err) = &ready.listener {
        println!(
            "note: {} (http.listen) is in use now ({err}); `agentcast run` cannot start while it is",
            settings.http.listen
        );
    }
    // Validation refused any secret written in the settings, so none is printed here.
    match toml::to_string_pretty(settings) {
        Ok(rendered) => println!("\n# effective settings\n{rendered}"),
        Err(err) => println!("(could not render the effective settings: {err})"),
    }
    ExitCode::SUCCESS
}

fn run_sim(settings: &Settings) -> ExitCode {
    match sim::run_blocking(SimConfig::from_settings(&settings.sim)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => runtime_failure(
            &format!("emulator could not serve on {}", settings.sim.listen),
            &err,
        ),
    }
}

fn run(settings: &Settings) -> ExitCode {
    let ready = match settings.preflight(&process_env) {
        Ok(ready) => ready,
        Err(err) => return config_failure(&err),
    };
    let listener = match ready.listener {
        Listener::Bound(listener) => listener,
        Listener::InUse(err) => return cannot_listen(&settings.http.listen, &err),
    };
    serve(
        settings.clone(),
        ready.credentials,
        listener,
        |_| {},
        |_| {},
    )
}

fn cannot_listen(listen: &str, err: &std::io::Error) -> ExitCode {
    runtime_failure(&format!("cannot listen on {listen} (http.listen)"), err)
}

/// A listen address that could not be bound: in use (exit 1) or unusable here (exit 2).
fn bind_failure(listen: &str, err: BindError) -> ExitCode {
    match err {
        BindError::InUse(err) => cannot_listen(listen, &err),
        BindError::Unusable(problem) => config_failure(&ConfigError::Invalid(vec![problem])),
    }
}

/// Starts the service on `listener`, runs until Ctrl-C or SIGTERM, then shuts it down.
/// `prepare` may adjust the options (the demo adds its viewer key and webhook secret);
/// `started` is told the running service (the demo prints its URLs).
fn serve(
    settings: Settings,
    credentials: Credentials,
    listener: std::net::TcpListener,
    prepare: impl FnOnce(&mut ServiceOptions),
    started: impl FnOnce(&Service),
) -> ExitCode {
    actix_rt::System::new().block_on(async move {
        // Installed before anything starts: a service that cannot be stopped cleanly by
        // SIGTERM would lose its last audit and outbox writes to the SIGKILL that follows.
        let signal = match shutdown_signal() {
            Ok(signal) => signal,
            Err(err) => {
                return runtime_failure("cannot install the SIGTERM and SIGINT handlers", &err);
            }
        };
        tokio::pin!(signal);
        let mut options = ServiceOptions::new(Arc::new(settings), credentials, listener);
        prepare(&mut options);
        // Listening from the start: a stop during start-up still shuts down cleanly.
        let service = tokio::select! {
            launched = Service::launch(options) => match launched {
                Ok(service) => service,
                Err(err) => return start_failure(&err),
            },
            () = &mut signal => return ExitCode::SUCCESS,
        };
        let connected = tokio::select! {
            connected = service.connect_upstream() => Some(connected),
            () = &mut signal => None,
        };
        match connected {
            Some(Ok(())) => {
                started(&service);
                signal.await;
            }
            Some(Err(err)) => {
                service.shutdown().await;
                return start_failure(&err);
            }
            None => info!("Stopping before the upstream subscription finished."),
        }
        service.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// A start that failed: exit 2 when the configuration is what cannot be used, else 1.
fn start_failure(err: &StartError) -> ExitCode {
    match err {
        StartError::Config(err) => config_failure(err),
        err if err.is_configuration() => {
            eprintln!("agentcast: cannot start: {err}");
            ExitCode::from(EXIT_CONFIG)
        }
        err => runtime_failure("cannot start", err),
    }
}

/// Installs the Ctrl-C and SIGTERM handlers; the future resolves on either.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use actix_rt::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            info!("Shutdown requested.");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            match actix_rt::signal::ctrl_c().await {
                Ok(()) => info!("Shutdown requested."),
                Err(err) => {
                    tracing::error!(error = %err, "The Ctrl-C handler failed; stopping.");
                }
            }
        })
    }
}

/// The start-up check: a token and the first roster page. Never `/api/v2/users/me`, which a
/// client-credentials token cannot call.
pub async fn startup_check(client: &GenesysClient) -> Result<(), GenesysError> {
    let page = client.users_page(1, 1, &[]).await?;
    info!(
        api_base = %client.config().api_base,
        active_users = page.total.unwrap_or(page.entities.len() as u64),
        "Connected to Genesys Cloud."
    );
    Ok(())
}
