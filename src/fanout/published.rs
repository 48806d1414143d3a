//! [`Published`]: one broadcast as the hub hands it to every session, serialized once.

use std::{sync::Arc, time::Instant};

use bytestring::ByteString;

use crate::event::Broadcast;

/// A broadcast together with its JSON as a WebSocket text payload (the same bytes as
/// `broadcast.json`, validated as UTF-8 once).
#[derive(Debug)]
pub struct Published {
    pub broadcast: Arc<Broadcast>,
    pub text: ByteString,
    /// When the hub dispatched it (for the sessions' queueing time).
    pub dispatched_at: Instant,
}
