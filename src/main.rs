//! The `agentcast` binary: parses the command line and hands over to [`agentcast::app`].
#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    agentcast::app::main(agentcast::cli::Cli::parse())
}
