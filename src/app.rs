//! The commands and their wiring.

use std::process::ExitCode;

use crate::{
    cli::{Cli, Command},
    config::{ConfigError, Settings},
    telemetry,
};

/// Exit code for a configuration that cannot be used.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a failure at run time (bad credentials, unreachable Genesys, port in use).
pub const EXIT_FAILURE: u8 = 1;

/// Runs one command to completion and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(err) => return config_failure(&err),
    };
    telemetry::init(
        cli.log_format.unwrap_or(settings.log.format),
        &settings.log.level,
    );
    match cli.command {
        Command::CheckConfig => check_config(&settings),
        Command::Sim(args) => run_sim(&settings, &args),
        Command::Run | Command::Demo(_) => {
            eprintln!("agentcast: not yet wired");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `agentcast sim`: the emulator alone, with the command-line flags over `[sim]`.
fn run_sim(settings: &Settings, args: &crate::cli::SimArgs) -> ExitCode {
    let mut sim = settings.sim.clone();
    args.apply(&mut sim);
    let mut checked = settings.clone();
    checked.sim = sim.clone();
    let problems = checked.validate();
    if !problems.is_empty() {
        return config_failure(&ConfigError::Invalid(problems));
    }
    match crate::sim::run_blocking(crate::sim::SimConfig::from_settings(&sim)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("agentcast: the emulator failed: {err}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn config_failure(err: &ConfigError) -> ExitCode {
    eprintln!("agentcast: {err}");
    ExitCode::from(EXIT_CONFIG)
}

fn check_config(settings: &Settings) -> ExitCode {
    println!("configuration OK");
    match toml_render(settings) {
        Some(rendered) => println!("{rendered}"),
        None => println!("{settings:#?}"),
    }
    ExitCode::SUCCESS
}

fn toml_render(settings: &Settings) -> Option<String> {
    serde_json::to_string_pretty(settings).ok()
}
