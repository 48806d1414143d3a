//! The Genesys Cloud client: OAuth client credentials, REST on a shared budget, the
//! Notifications API, and the wire models. No actors live here; the stream actor drives it.
//!
//! - [`GenesysClient`] is the handle: token ([`auth`]), budget and retries ([`transport`]),
//!   typed calls ([`calls`]).
//! - [`models`] are the wire shapes, shared with the emulator.
//! - [`topics`] names topics and spreads them over channels; [`regions`] maps hosts.

pub mod auth;
pub mod backoff;
pub mod calls;
mod client;
mod error;
pub mod models;
pub mod notification;
pub mod regions;
pub mod socket;
pub mod topics;
pub mod transport;

pub use calls::{ChannelSubscription, IncludeChannels, UserExpand};
pub use client::{ClientConfig, GenesysClient};
pub use error::GenesysError;
