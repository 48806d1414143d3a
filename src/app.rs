//! The commands and their wiring: `check-config`, `sim`, `run` and `demo`.
//!
//! Exit codes: 0 success, 1 a failure at run time (bad credentials, unreachable Genesys,
//! port in use), 2 a configuration that cannot be used.

use std::{process::ExitCode, sync::Arc};

use tracing::info;

use crate::{
    cli::{Cli, Command, SimArgs},
    config::{ConfigError, Credentials, Settings},
    genesys::{ClientConfig, GenesysClient, GenesysError},
    metrics::Metrics,
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
    let Some(config) = ClientConfig::from_settings(&settings.genesys, credentials) else {
        return config_failure(&ConfigError::Invalid(settings.validate()));
    };
    actix_rt::System::new().block_on(async move {
        let client = GenesysClient::new(config, Arc::new(Metrics::new()));
        match startup_check(&client).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => runtime_failure("cannot start", &err),
        }
    })
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
    run_sim(settings)
}
