//! What the integration tests share, one module per subject. Every wait here is bounded by
//! [`WAIT`]; nothing sleeps where an event can be awaited.
//!
//! - [`sim`]: the emulator in this process ([`sim::TestSim`]) and its admin API.
//! - [`emulator_api`]: a Genesys-style client of the emulator's REST API, by hand.
//! - [`emulator_socket`]: the emulator's notification WebSockets, frame by frame.
//! - [`fixtures`]: recorded Genesys answers, and structural comparison against them.
//! - [`service`]: agentcast itself, in this process, against a [`sim::TestSim`].
//! - [`fanout`]: the hub and the subscribe route alone, with subscribers on raw sockets.
//! - [`rawws`]: a WebSocket client that can misbehave (also the fan-out benchmark's).
//! - [`receiver`]: a webhook receiver whose answers a test scripts, synthetic broadcasts.
//! - [`forward`]: an actor that forwards what it is sent into a channel.
//! - [`audit`]: the audit actor on a temporary store, queries, `agentcast audit verify`.
//! - [`keys`]: API keys for in-process routes.
//! - [`process`]: the agentcast binary as a child process, bounded waits for it.
//! - [`harness`]: a stand-in for libtest in the `harness = false` tests.
//!
//! Each test binary says `mod common;` and uses a subset.
#![allow(dead_code)] // each test binary uses a different subset

pub mod audit;
pub mod emulator_api;
pub mod emulator_socket;
pub mod fanout;
pub mod fixtures;
pub mod forward;
pub mod harness;
pub mod keys;
pub mod nats;
pub mod process;
pub mod rawws;
pub mod receiver;
pub mod service;
pub mod sim;

use std::{fmt::Debug, future::Future, time::Duration};

use tokio::time::Instant;

/// Upper bound for any single wait in a test: generous, for a loaded two-core machine.
pub const WAIT: Duration = Duration::from_secs(30);

/// How often [`eventually`] asks again.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Awaits `fut`, failing the test with `what` if it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// Asks `check` again every 25 ms until it answers `Ok`, and returns that. Fails the test
/// after [`WAIT`], naming `what` and the last `Err` (what the test was still waiting for).
/// For state that can only be polled; where an event can be awaited, await it.
pub async fn eventually<T, E, F, Fut>(what: &str, mut check: F) -> T
where
    E: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        let last = match tokio::time::timeout_at(deadline, check()).await {
            Ok(Ok(value)) => return value,
            Ok(Err(last)) => last,
            Err(_) => panic!("timed out after {WAIT:?} waiting for {what} (no answer)"),
        };
        if Instant::now() + POLL_INTERVAL >= deadline {
            panic!("timed out after {WAIT:?} waiting for {what}; last: {last:?}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
