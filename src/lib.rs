//! agentcast relays Genesys Cloud agent state changes, validated against WFM shift schedules
//! and utilization limits, to WebSocket subscribers and webhooks.
//!
//! # Layout
//!
//! ```text
//!  Genesys Cloud, or the embedded emulator (sim)
//!    │  OAuth client credentials · Notifications API channels · WebSocket stream · REST
//!    ▼
//!  genesys   the client: token manager, rate-limited REST with retries, typed calls, models
//!  config    typed settings: embedded defaults → config.toml → AGENTCAST_* environment
//!  cli, app  the commands (run, demo, sim, check-config) and their wiring
//!  event     the domain types that flow between actors (Validated, Broadcast, AuditRecord)
//!  actors    stream (upstream channels) → validator pool → hub (numbers, serializes once,
//!            fans out) → session (one per WebSocket subscriber), webhook (outbox, signed,
//!            retried delivery) and audit (hash-chained trail)
//!  fanout    what the hub and the sessions share: outbox, writer, protocol frames, filters
//!  auth      API keys and what each may do (Grant), checked by http, the hub and the sessions
//!  reference the reference data validation reads: roster, schedules, utilization, queues
//!  http      routes: subscribe, agents, metrics, webhooks and audit admin, health
//!  store     the embedded SQLite (WAL) the webhook outbox and the audit trail are kept in
//!  metrics   the Prometheus registry every component records into
//!  sim       a faithful Genesys Cloud emulator: org, state machine, REST, streaming, faults
//! ```
//!
//! # Surface
//!
//! The binary's entry is [`run`] with a parsed [`Cli`]; [`Service`] is the whole service in
//! this process (what `agentcast run` starts), [`Settings`] its configuration, and
//! [`SimHandle`] a running emulator. The modules the integration tests and benchmarks drive one
//! piece at a time (each actor, the HTTP routes, the Genesys client, the emulator, the domain
//! types) are public; the wiring, the command line, the metrics registry and the SQLite store
//! are not.
#![forbid(unsafe_code)]

pub mod actors;
mod app;
pub mod auth;
mod cli;
pub mod cluster;
pub mod config;
pub mod event;
pub mod fanout;
pub mod frame_limit;
pub mod genesys;
pub mod http;
mod metrics;
pub mod reference;
pub mod sim;
mod store;
pub mod telemetry;

pub use app::{
    main as run,
    service::{Service, ServiceOptions, StartError},
};
pub use cli::Cli;
pub use config::Settings;
pub use metrics::Metrics;
pub use sim::{SimConfig, SimHandle};
pub use store::Synchronous;
