//! The embedded Genesys Cloud emulator: a stand-in for login, the Platform API and the
//! notification service, faithful to `docs/reference/genesys-cloud-api.md`, so code that
//! works against it works against Genesys Cloud.
//!
//! ```text
//!            ┌──────────────── one port: http://127.0.0.1:PORT ────────────────┐
//!  client ──▶│ /oauth/token · /api/v2/** (auth, rate limit, faults) · /sim/**  │
//!            │ /channels/{id} WebSocket ◀── per-socket queue ◀── hub ◀─┐      │
//!            └───────────────────────────────────────────────────────────│──────┘
//!   org (generated from seed + anchor) ─▶ world (agent state) ─▶ machine ─▶ emitter
//! ```
//!
//! - `org`: the generated organisation (business/management units, activity codes, queues,
//!   presence definitions, users, shifts, utilization); `agent`, `world`: live state.
//! - `machine`: the seeded state machine; `emitter`: its clock and fan-out; `messages`: the
//!   wire bodies; `hub`: channels and subscriptions; `stream`: the WebSocket.
//! - `auth`, `respond`, `rest`: the Platform API; `admin`, `faults`: the `/sim/` API.
//!
//! [`spawn`] runs an emulator on its own thread (tests, `agentcast demo`); [`run_blocking`]
//! runs one in the foreground (`agentcast sim`).
//!
//! # Where the reference is UNCONFIRMED, the emulator chooses
//! - Tokens: `token_type` `bearer`; credentials only via Basic auth; an expired token gets
//!   401 `credentials.expired` (`auth.rs`, `rest/oauth.rs`).
//! - Notification bodies spell presences `AVAILABLE`, `ON_QUEUE`, ...; REST user presences
//!   `Available`, `On Queue` (legacy spelling); `/api/v2/systempresences` ids are `AVAILABLE`,
//!   `ON_QUEUE`, ... (`messages.rs`, `rest/users.rs`, `rest/presence.rs`).
//! - Heartbeats and pongs carry no `version`/`metadata`; `socket_closing` carries `channelId`
//!   and `message`. Close codes: 1000 when a newer socket takes the channel, 1001 at expiry,
//!   removal, shutdown and after `socket_closing`, 1008 for a client too slow to read; RFC 6455
//!   pings are answered (`stream.rs`, `hub/`).
//! - Resubscribing (PUT/POST) resets `expires` to now + TTL; DELETE answers 204; unknown user
//!   ids in topics are permitted; compound topics count per expanded topic; invalid topics
//!   make the whole request 400 unless `ignoreErrors=true` (`rest/notifications.rs`,
//!   `hub/topics.rs`).
//! - Users sort by name; page URIs keep the other query parameters; the `id` filter takes up
//!   to `max_page_size` ids (`rest/users.rs`).
//! - Schedule search: `Processing` answers send no completion notification (search again);
//!   `downloadUrl` is served at `/downloads/{operationId}` (`rest/wfm.rs`).
//! - Utilization interruptible lists are the reference's constructed example.

mod admin;
mod agent;
mod auth;
mod clock;
mod emitter;
mod faults;
mod hub;
mod ids;
mod machine;
mod messages;
mod org;
mod respond;
mod rest;
mod server;
mod stream;
mod world;

use std::{
    io::{self, Write},
    net::{SocketAddr, TcpListener},
    sync::Arc,
    thread::JoinHandle,
    time::Duration,
};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use self::world::Sim;
use crate::config::SimSettings;

/// Everything an emulator needs.
#[derive(Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    pub agents: u32,
    pub seed: u64,
    pub events_per_sec: f64,
    /// `expires_in` is reported in whole seconds, at least 1.
    pub token_lifetime: Duration,
    /// Requests per minute per token.
    pub rate_limit_per_minute: u32,
    pub heartbeat_interval: Duration,
    pub channel_ttl: Duration,
    pub socket_closing_grace: Duration,
    pub max_page_size: u32,
    pub client_id: String,
    pub client_secret: String,
    /// The "now" the org's shifts are built around.
    pub anchor: DateTime<Utc>,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("listen", &self.listen)
            .field("agents", &self.agents)
            .field("seed", &self.seed)
            .field("events_per_sec", &self.events_per_sec)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("anchor", &self.anchor)
            .finish_non_exhaustive()
    }
}

impl SimConfig {
    /// From the `[sim]` settings, with a random client id (a UUID) and secret, anchored now.
    /// An unparsable `listen` (settings are validated first) falls back to `127.0.0.1:0`.
    pub fn from_settings(s: &SimSettings) -> Self {
        Self {
            listen: s
                .listen
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
            agents: s.agents.max(1),
            seed: s.seed,
            events_per_sec: s.events_per_sec,
            token_lifetime: Duration::from_secs(s.token_lifetime_secs.max(1)),
            rate_limit_per_minute: s.rate_limit_per_minute.max(1),
            heartbeat_interval: Duration::from_secs(s.heartbeat_interval_secs.max(1)),
            channel_ttl: Duration::from_secs(s.channel_ttl_secs.max(1)),
            socket_closing_grace: Duration::from_secs(s.socket_closing_grace_secs),
            max_page_size: s.max_page_size.max(1),
            client_id: uuid::Uuid::new_v4().to_string(),
            client_secret: ids::access_token(),
            anchor: Utc::now(),
        }
    }
}

/// A running emulator on its own thread; stops on [`SimHandle::stop`] or drop.
#[derive(Debug)]
pub struct SimHandle {
    /// `http://127.0.0.1:PORT`: login, API, streaming and admin.
    pub base: String,
    pub client_id: String,
    pub client_secret: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// Closes every socket and stops the server, waiting for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("The emulator thread panicked.");
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds, builds the org and returns the shared state (with its base URL).
fn prepare(config: SimConfig) -> io::Result<(Arc<Sim>, TcpListener)> {
    let listener = TcpListener::bind(config.listen)?;
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip([127, 0, 0, 1].into());
    }
    let sim = Arc::new(Sim::new(config, format!("http://{addr}")));
    tracing::info!(
        base = %sim.base,
        agents = sim.org.agents.len(),
        seed = sim.config.seed,
        events_per_sec = sim.config.events_per_sec,
        "Genesys Cloud emulator listening."
    );
    Ok((sim, listener))
}

/// Starts an emulator on its own OS thread with its own actix System; returns once bound.
pub fn spawn(config: SimConfig) -> io::Result<SimHandle> {
    let (sim, listener) = prepare(config)?;
    let handle_fields = (
        sim.base.clone(),
        sim.config.client_id.clone(),
        sim.config.client_secret.clone(),
    );
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
    let thread = std::thread::Builder::new()
        .name("agentcast-sim".into())
        .spawn(move || {
            let system = actix_web::rt::System::new();
            let result = system.block_on(server::serve(sim, listener, async move {
                let _ = ready_tx.send(Ok(()));
                let _ = stop_rx.await;
            }));
            if let Err(err) = result {
                tracing::error!(error = %err, "The emulator stopped with an error.");
            }
        })?;
    ready_rx
        .recv()
        .map_err(|_| io::Error::other("the emulator thread ended before serving"))??;
    let (base, client_id, client_secret) = handle_fields;
    Ok(SimHandle {
        base,
        client_id,
        client_secret,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// Runs an emulator in the foreground for `agentcast sim`: prints
/// `{"base","clientId","clientSecret"}` as the first stdout line, serves until Ctrl-C or
/// SIGTERM, then shuts down cleanly.
pub fn run_blocking(config: SimConfig) -> io::Result<()> {
    let (sim, listener) = prepare(config)?;
    let line = serde_json::json!({
        "base": sim.base,
        "clientId": sim.config.client_id,
        "clientSecret": sim.config.client_secret,
    });
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    drop(stdout);
    actix_web::rt::System::new().block_on(server::serve(sim, listener, shutdown_signal()))
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(err) => {
                    tracing::warn!(error = %err, "Cannot listen for SIGTERM; Ctrl-C only.");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("Shutdown signal received.");
}
