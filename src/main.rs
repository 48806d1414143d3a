//! The `agentcast` binary: parses the command line and hands over to [`agentcast::run`].
#![forbid(unsafe_code)]

use clap::Parser;

/// mimalloc: most objects are made on one thread and freed on another (frames, signals,
/// payloads), where glibc malloc spends a fifth of the CPU (see Cargo.toml). The benchmarks
/// that run agentcast in their own process declare it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    agentcast::run(agentcast::Cli::parse())
}
