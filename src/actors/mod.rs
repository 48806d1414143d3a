//! The actors, one per file or folder; who sends whom what is documented at the top of each.
//!
//! ```text
//!  GenesysStreamActor ──LoadRoster, LoadReference──▶ ReferenceActor ──┐ (writes the cache)
//!   └ ChannelActor × channels ──ScheduleChanged──▶ ReferenceActor     │ Reevaluate
//!   └ ChannelActor × channels ──AgentSignal──▶ ValidatorActor × N ◀───┘ (read the cache)
//!      ──Publish──▶ BroadcastHubActor ──Outbox (shared bytes)──▶ SessionActor × subscribers
//!                         └──Broadcasted──▶ WebhookActor (durable, signed, retried delivery)
//!                                        └─▶ AuditActor (durable, hash-chained trail)
//! ```
//!
//! The hub and the sessions do not import each other: what they share (the outbox, the
//! writer, the protocol frames, filters, fan-out metrics) is in [`crate::fanout`], and a
//! session knows of the hub only its messages and [`HubHandle`].
//!
//! Past its backlog for a downstream actor the hub drops broadcasts, and tells that actor
//! which in their place ([`BroadcastsDropped`]), so every loss is recorded.

pub mod audit;
pub mod hub;
pub mod ingest_metrics;
mod messages;
pub mod reference;
pub mod session;
pub mod stream;
pub mod validator;
pub mod webhook;

pub use hub::{BroadcastHubActor, HubHandle, Publish};
pub use messages::{Broadcasted, BroadcastsDropped};
