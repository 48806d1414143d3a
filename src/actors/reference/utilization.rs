//! Each agent's own utilization, one REST call at a time at `utilization_fetches_per_minute`:
//! roster joiners are queued as they appear, and the whole roster again every
//! `utilization_refresh_secs`. An agent with its own limits is re-evaluated once they are in;
//! the org default stands in until then.

use std::time::{Duration, Instant};

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use tracing::warn;

use super::ReferenceActor;
use crate::reference::Capacity;

impl ReferenceActor {
    /// Fetches one agent's own utilization, if any are waiting.
    pub(super) fn fetch_next_utilization(&mut self, ctx: &mut Context<Self>) {
        if self.utilization_queue.is_empty() {
            let refresh = Duration::from_secs(self.settings.utilization_refresh_secs);
            if self
                .utilization_round_started
                .is_some_and(|at| at.elapsed() >= refresh)
            {
                self.utilization_queue
                    .extend(self.cache.load().roster.iter().cloned());
                self.utilization_round_started = Some(Instant::now());
            }
            return;
        }
        let Some(agent) = self.utilization_queue.pop_front() else {
            return;
        };
        let client = self.client.clone();
        let fut = {
            let agent = agent.clone();
            async move { client.user_utilization(&agent).await }
        };
        ctx.spawn(fut.into_actor(self).map(move |result, act, _| match result {
            Ok(response) => {
                let own = response.level.as_deref() == Some("Agent");
                act.cache.update(|data| {
                    if own {
                        data.agent_capacity.insert(agent.clone(), Capacity::from_response(&response));
                    } else {
                        data.agent_capacity.remove(&agent);
                    }
                });
                if own {
                    act.reevaluate(Some(vec![agent]));
                }
            }
            Err(err) if err.is_not_found() => {}
            Err(err) => {
                warn!(agent_id = %agent, error = %err, "Could not load an agent's utilization; will retry.");
                act.utilization_queue.push_back(agent);
            }
        }));
    }
}
