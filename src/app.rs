//! The commands and their wiring.

use std::process::ExitCode;

use crate::{
    actors::audit::{VerifyError, verify_path},
    cli::{AuditCommand, Cli, Command},
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
        Command::Audit(AuditCommand::Verify { path }) => audit_verify(
            path.as_deref()
                .unwrap_or_else(|| std::path::Path::new(&settings.audit.path)),
        ),
        Command::Run | Command::Demo(_) | Command::Sim(_) => {
            eprintln!("agentcast: not yet wired");
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

fn toml_render(settings: &Settings) -> Option<String> {
    serde_json::to_string_pretty(settings).ok()
}
