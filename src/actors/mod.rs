//! The actors: one module each.
//!
//! - [`webhook`]: durable, signed, retried delivery to supervisor webhooks.
//! - [`audit`]: the durable, hash-chained audit trail.

pub mod audit;
mod messages;
pub mod webhook;

pub use messages::Broadcasted;
