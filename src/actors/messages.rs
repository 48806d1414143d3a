//! Messages several actors receive.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::event::Broadcast;

/// A broadcast as the hub forwards it to downstream recipients (WebhookActor, AuditActor):
/// numbered and serialized once, shared by everyone.
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "()")]
pub struct Broadcasted {
    pub broadcast: Arc<Broadcast>,
}

/// Broadcasts the hub could not hand to a downstream recipient (its backlog for that recipient
/// was full), told to the recipient in their place and in order: `count` broadcasts, `seq`
/// `first_seq..=last_seq`, broadcast between `first_at` and `last_at`. The recipient records
/// the loss (the audit trail as an `audit_gap` record; the webhook actor in its metrics, its
/// health and the audit trail).
#[derive(Debug, Clone, PartialEq, actix::Message)]
#[rtype(result = "()")]
pub struct BroadcastsDropped {
    pub count: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub reason: String,
}
