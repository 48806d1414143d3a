//! Messages several actors receive.

use std::sync::Arc;

use crate::event::Broadcast;

/// A broadcast as the hub forwards it to downstream recipients (WebhookActor, AuditActor):
/// numbered and serialized once, shared by everyone.
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "()")]
pub struct Broadcasted {
    pub broadcast: Arc<Broadcast>,
}
