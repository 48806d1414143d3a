//! [`GetLatest`]: the latest state of every agent (or one), as subscribers received it, for
//! `GET /v1/agents`.

use std::sync::Arc;

use actix::{Context, Handler, Message, MessageResult};

use super::BroadcastHubActor;
use crate::{event::AgentId, fanout::published::Published};

/// Asks the hub for the latest broadcast of one agent, or of every agent (by agent id).
#[derive(Debug, Message)]
#[rtype(result = "Vec<Arc<Published>>")]
pub struct GetLatest {
    pub agent_id: Option<AgentId>,
}

impl Handler<GetLatest> for BroadcastHubActor {
    type Result = MessageResult<GetLatest>;

    fn handle(&mut self, msg: GetLatest, _: &mut Context<Self>) -> Self::Result {
        MessageResult(match msg.agent_id {
            Some(agent_id) => self
                .store
                .latest_of(&agent_id)
                .cloned()
                .into_iter()
                .collect(),
            None => self.store.all_latest(),
        })
    }
}
