//! The actors, one per file or folder; who sends whom what is documented at the top of each.
//!
//! ```text
//!  GenesysStreamActor ─(ChannelActor × channels)─AgentSignal─▶ ValidatorActor × N
//!      ──Publish──▶ BroadcastHubActor ──Outbox (shared bytes)──▶ SessionActor × subscribers
//!                         └──Broadcasted──▶ WebhookActor, AuditActor
//! ```

pub mod hub;
pub mod ingest_metrics;
pub mod session;
pub mod stream;
pub mod validator;
