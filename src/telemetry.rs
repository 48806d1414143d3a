//! Logging: tracing to stderr, human-readable or JSON. stdout is kept for machine-readable
//! output (the emulator's first line). Client-caused connection errors that actix-http logs
//! at ERROR are logged at their cause's level instead ([`client_errors`]).

mod client_errors;

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, fmt::MakeWriter, layer::SubscriberExt as _};

use crate::config::LogFormat;

/// Installs the global subscriber, writing to stderr. `RUST_LOG` overrides `level`.
pub fn init(format: LogFormat, level: &str) {
    // Colours only for a person at a terminal, never in files or log collectors.
    install(
        format,
        level,
        std::io::stderr,
        std::io::stderr().is_terminal(),
    );
}

/// As [`init`], writing to `writer` without colours (a test reads the log this way).
pub fn init_with_writer<W>(format: LogFormat, level: &str, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    install(format, level, writer, false);
}

fn install<W>(format: LogFormat, level: &str, writer: W, ansi: bool)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    let installed = match format {
        LogFormat::Human => builder
            .finish()
            .with(client_errors::ClientErrors)
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .finish()
            .with(client_errors::ClientErrors)
            .try_init(),
    };
    // A second call (tests) keeps the first subscriber.
    drop(installed);
}
