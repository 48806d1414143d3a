//! Queue memberships: every queue, then each queue's joined members, swapped in whole on the
//! `queue_refresh_secs` timer (and once at start); every agent is re-evaluated after.

use std::collections::HashMap;

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use tracing::{info, warn};

use super::ReferenceActor;
use crate::{event::AgentId, genesys::GenesysError};

impl ReferenceActor {
    /// Loads queue memberships and swaps them in.
    pub(super) fn refresh_memberships(&mut self, ctx: &mut Context<Self>) {
        let client = self.client.clone();
        let fut = async move {
            let mut memberships: HashMap<AgentId, Vec<String>> = HashMap::new();
            for queue in client.queues().await? {
                for member in client.joined_queue_members(&queue.id).await? {
                    if member.joined != Some(false) {
                        memberships
                            .entry(AgentId::from(member.id.as_str()))
                            .or_default()
                            .push(queue.id.clone());
                    }
                }
            }
            Ok::<_, GenesysError>(memberships)
        };
        ctx.spawn(fut.into_actor(self).map(|result, act, _| match result {
            Ok(memberships) => {
                info!(agents = memberships.len(), "Loaded queue memberships.");
                act.cache.update(|data| data.memberships = memberships);
                act.reevaluate(None);
            }
            Err(err) => warn!(error = %err, "Could not load queue memberships; will retry."),
        }));
    }
}
