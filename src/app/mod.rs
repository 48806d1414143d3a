//! The commands: `check-config`, `sim`, `run` and `demo`. The service's wiring is in
//! [`service`].
//!
//! Exit codes: 0 success, 1 a failure at run time (bad credentials, unreachable Genesys,
//! port in use), 2 a configuration that cannot be used.

pub mod service;

use std::{process::ExitCode, sync::Arc};

use tracing::info;

use self::service::{Service, ServiceOptions};

use crate::{
    actors::audit::{VerifyError, verify_path},
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
    telemetry::init(
        cli.log_format.unwrap_or(settings.log.format),
        &settings.log.level,
    );
    match cli.command {
        Command::CheckConfig => check_config(&settings),
        Command::Audit(AuditCommand::Verify { path }) => audit_verify(
            path.as_deref()
                .unwrap_or_else(|| std::path::Path::new(&settings.audit.path)),
        ),
        Command::Sim(args) => match apply_sim_args(&mut settings, &args) {
            Ok(()) => run_sim(&settings),
            Err(err) => config_failure(&err),
        },
        Command::Run => run(&settings),
        Command::Demo(args) => match apply_sim_args(&mut settings, &args) {
            Ok(()) => demo(&settings),
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

/// `agentcast audit verify`: exit 0 when the chain is intact, 1 when broken or unreadable.
fn audit_verify(path: &std::path::Path) -> ExitCode {
    match verify_path(path) {
        Ok(v) => {
            let ids = match (v.first_id, v.last_id) {
                (Some(first), Some(last)) => format!(" (ids {first}..={last})"),
                _ => String::new(),
            };
            let anchor = v
                .anchor_id
                .map(|id| format!(", from the retention anchor at record {id}"))
                .unwrap_or_default();
            println!(
                "audit chain intact: {} records{ids}{anchor}; head sha256 {}",
                v.records,
                hex::encode(v.head)
            );
            ExitCode::SUCCESS
        }
        Err(VerifyError::Broken(broken)) => {
            println!("audit chain BROKEN in {}: {broken}", path.display());
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
    if let Err(err) = Credentials::from_env() {
        println!("note: `agentcast run` will also need {err}");
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
    serve(settings.clone(), credentials, Vec::new(), |_| {})
}

/// Binds the HTTP listener, starts the service, runs until Ctrl-C or SIGTERM, then shuts it
/// down. `started` is told the running service (the demo prints its URLs).
fn serve(
    settings: Settings,
    credentials: Credentials,
    extra_keys: Vec<(String, crate::http::auth::Grant)>,
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
        options.extra_keys = extra_keys;
        let service = match Service::start(options).await {
            Ok(service) => service,
            Err(err) => return runtime_failure("cannot start", &err),
        };
        started(&service);
        shutdown_signal().await;
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

fn demo(settings: &Settings) -> ExitCode {
    let sim = match sim::spawn(SimConfig::from_settings(&settings.sim)) {
        Ok(sim) => sim,
        Err(err) => {
            return runtime_failure(
                &format!("the emulator could not serve on {}", settings.sim.listen),
                &err,
            );
        }
    };
    let mut settings = settings.clone();
    settings.genesys.api_base = sim.base.clone();
    settings.genesys.login_base = String::new();
    let credentials = Credentials::new(sim.client_id.clone(), sim.client_secret.clone());
    let viewer_key = crate::http::auth::generate_key();
    let grant = crate::http::auth::Grant {
        name: "demo-viewer".into(),
        scopes: crate::event::Scope::ALL.to_vec(),
        admin: true,
    };
    let emulator = sim.base.clone();
    let key = viewer_key.clone();
    let code = serve(
        settings,
        credentials,
        vec![(viewer_key, grant)],
        move |service| {
            let base = format!("http://{}", service.local_addr);
            println!(
                "agentcast demo is running against the embedded Genesys Cloud emulator at {emulator}"
            );
            println!("  agents (latest validated states): {base}/v1/agents?access_token={key}");
            println!(
                "  live stream (WebSocket):          ws://{}/v1/subscribe?access_token={key}",
                service.local_addr
            );
            println!("  metrics:                          {base}/metrics  and  {base}/v1/metrics");
            println!("  emulator truth:                   {emulator}/sim/truth");
            println!("Press Ctrl-C to stop.");
        },
    );
    sim.stop();
    code
}
