//! What the broadcast hub and the subscriber sessions share: both depend on this module, neither
//! on the other's internals, and nothing here depends on either actor.
//!
//! ```text
//!  BroadcastHubActor (its own thread)                 SessionActor × subscribers (HTTP workers)
//!    publish: one Published (serialized once)
//!    fan-out: Frame ──push──▶ Outbox (per session, byte-bounded) ──drain──▶ Writer ──▶ socket
//!             woken in batches, one wake per worker (wake)
//! ```
//!
//! - [`published`]: a broadcast with its JSON as a shared text payload; [`snapshot`]: a
//!   snapshot the hub picks and the first writer that needs it renders.
//! - [`outbox`]: the per-session queue between the hub and the session's [`writer`];
//!   [`wake`]: waking the writers of one worker at once.
//! - [`protocol`]: the subscriber protocol's frames (welcome, subscribed, snapshot, error, the
//!   client's frames).
//! - [`filter`]: what a subscriber asked for and was granted; [`admission`]: the
//!   `max_subscribers` permits; [`metrics`]: the fan-out's Prometheus metrics; [`SessionId`].
//!
//! The hub's messages and handle (`Subscribe`, `UpdateFilter`, `Unsubscribe`, `HubHandle`) stay
//! with the hub in `crate::actors::hub`; the session actor is `crate::actors::session`.

pub mod admission;
pub mod filter;
pub mod metrics;
pub mod outbox;
pub mod protocol;
pub mod published;
mod session_id;
pub mod snapshot;
pub mod wake;
pub mod writer;

pub use self::session_id::SessionId;
