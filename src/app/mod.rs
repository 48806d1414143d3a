//! The commands: `check-config`, `sim`, `run` and `demo`. The service's wiring is in
//! [`service`].
//!
//! Exit codes: 0 success, 1 a failure at run time (bad credentials, unreachable Genesys,
//! port in use), 2 a configuration that cannot be used.

mod demo;
pub mod service;

use std::{process::ExitCode, sync::Arc};

use tracing::info;

use self::service::{Service, ServiceOptions};

use crate::{
    actors::audit::{VerifyError, chain::Head, verify_path},
    cli::{AuditCommand, Cli, Command, SimArgs},
    config::{ConfigError, Credentials, Settings},
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

fn check_config(settings: &Settings) -> ExitCode {
    println!("configuration OK");
    if let Some(api) = settings.genesys.resolved_api_base() {
        println!("Genesys API: {api}");
    }
    if let Err(ConfigError::Invalid(missing)) = Credentials::from_env() {
        let vars: Vec<&str> = missing.iter().map(|p| p.key.as_str()).collect();
        println!(
            "note: `agentcast run` also needs {} in the environment (the OAuth client credentials)",
            vars.join(" and ")
        );
    }
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
    let credentials = match Credentials::from_env() {
        Ok(credentials) => credentials,
        Err(err) => return config_failure(&err),
    };
    serve(settings.clone(), credentials, |_| {}, |_| {})
}

/// Binds the HTTP listener, starts the service, runs until Ctrl-C or SIGTERM, then shuts it
/// down. `prepare` may adjust the options (the demo adds its viewer key and webhook secret);
/// `started` is told the running service (the demo prints its URLs).
fn serve(
    settings: Settings,
    credentials: Credentials,
    prepare: impl FnOnce(&mut ServiceOptions),
    started: impl FnOnce(&Service),
) -> ExitCode {
    let listener = match std::net::TcpListener::bind(&settings.http.listen) {
        Ok(listener) => listener,
        Err(err) => {
            return runtime_failure(
                &format!("cannot listen on {} (http.listen)", settings.http.listen),
                &err,
            );
        }
    };
    actix_rt::System::new().block_on(async move {
        let mut options = ServiceOptions::new(Arc::new(settings), credentials, listener);
        prepare(&mut options);
        // Listening from the start: a stop during start-up still shuts down cleanly.
        let signal = shutdown_signal();
        tokio::pin!(signal);
        let service = tokio::select! {
            launched = Service::launch(options) => match launched {
                Ok(service) => service,
                Err(err) => return runtime_failure("cannot start", &err),
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
                return runtime_failure("cannot start", &err);
            }
            None => info!("Stopping before the upstream subscription finished."),
        }
        service.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = actix_rt::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match actix_rt::signal::unix::signal(actix_rt::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    info!("Shutdown requested.");
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
