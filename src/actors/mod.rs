//! The actors, one per file or folder: who sends whom what is documented at the top of each.
//!
//! ```text
//!  ValidatorActor × N ──Publish──▶ BroadcastHubActor ──Outbox (shared bytes)──▶ SessionActor × subscribers
//!                                        └──Broadcasted──▶ WebhookActor, AuditActor
//! ```

pub mod hub;
pub mod session;

pub use hub::{BroadcastHubActor, Broadcasted, HubHandle, Publish};
