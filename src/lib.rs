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
#![forbid(unsafe_code)]

pub mod actors;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod event;
pub mod fanout;
pub mod frame_limit;
pub mod genesys;
pub mod http;
pub mod metrics;
pub mod reference;
pub mod sim;
pub mod store;
pub mod telemetry;
