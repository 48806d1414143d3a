//! ReferenceActor: loads reference data over REST and keeps it fresh, on the client's budget.
//!
//! Who sends it what:
//! - the GenesysStreamActor asks [`LoadRoster`] at start and on its roster timer, and
//!   [`LoadReference`] once at start;
//! - each ChannelActor sends [`ScheduleChanged`] when a schedules notification says that an
//!   agent's published schedule changed.
//!
//! What it keeps in the [`ReferenceCache`], each change swapped in as a new snapshot:
//! - the roster;
//! - presence definitions and the org's default utilization (at start);
//! - every business unit's published schedules for today ± N days, in bulk per unit, on a
//!   timer and on [`ScheduleChanged`], coalesced so that a unit is fetched at most once per
//!   `schedule_min_interval_secs` however many notifications arrive: REST calls do not grow
//!   with the event rate (`schedules.rs`);
//! - each agent's own utilization, fetched in the background at a fixed pace; the org default
//!   stands in until then (`utilization.rs`);
//! - queue memberships (queues, then each queue's joined members), so that an agent whose
//!   state was read over REST shows its active queues before any notification reports them
//!   (`memberships.rs`).
//!
//! What it emits: after each change, one [`Reevaluate`] to the validator pool for the agents
//! the change concerns, and one for every agent each minute (shift boundaries pass without
//! any event). The pool is given at construction, so nothing is wired late: the cache first,
//! then the validator pool reading it, then this actor writing it.

mod memberships;
mod schedules;
mod utilization;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::{Duration, Instant},
};

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, ResponseActFuture, WrapFuture,
};
use tracing::warn;

use crate::{
    actors::validator::{Reevaluate, ValidatorPool},
    config::ReferenceSettings,
    event::AgentId,
    genesys::{GenesysClient, GenesysError, models::SystemPresence},
    reference::{Capacity, ReferenceCache},
};

/// How often validators re-check every agent (shift boundaries pass without any event).
const REEVALUATE_EVERY: Duration = Duration::from_secs(60);

/// Reads the roster; replies with the active user ids.
#[derive(Message)]
#[rtype(result = "Result<Vec<AgentId>, GenesysError>")]
pub struct LoadRoster;

/// Loads presence definitions, the org utilization and every unit's schedules, answering when
/// done (queue memberships follow in the background). Failures are logged and leave the data
/// unknown (validation marks it); timers retry.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LoadReference;

/// An agent's published schedule changed (a schedules notification arrived): refetch the
/// agent's business unit, then have the validators re-evaluate its agents.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ScheduleChanged {
    pub agent_id: AgentId,
}

pub struct ReferenceActor {
    client: GenesysClient,
    cache: ReferenceCache,
    settings: ReferenceSettings,
    /// Told to re-evaluate the agents each refresh concerns.
    validators: ValidatorPool,
    /// Units whose schedules changed and wait for a refresh.
    dirty_units: HashSet<String>,
    /// Whether a flush of `dirty_units` is scheduled.
    flush_scheduled: bool,
    /// When each unit's schedules were last requested.
    last_fetch: HashMap<String, Instant>,
    /// Agents found in no unit, and when.
    without_unit: HashMap<AgentId, Instant>,
    /// Agents whose own utilization is still to be fetched.
    utilization_queue: VecDeque<AgentId>,
    utilization_round_started: Option<Instant>,
}

impl ReferenceActor {
    /// An actor that writes `cache` and tells `validators` (which read it) what changed.
    pub fn new(
        client: GenesysClient,
        cache: ReferenceCache,
        settings: ReferenceSettings,
        validators: ValidatorPool,
    ) -> Self {
        Self {
            client,
            cache,
            settings,
            validators,
            dirty_units: HashSet::new(),
            flush_scheduled: false,
            last_fetch: HashMap::new(),
            without_unit: HashMap::new(),
            utilization_queue: VecDeque::new(),
            utilization_round_started: None,
        }
    }

    /// Asks the validators to re-evaluate `agent_ids` (`None`: every agent they track).
    fn reevaluate(&self, agent_ids: Option<Vec<AgentId>>) {
        self.validators.reevaluate(Reevaluate { agent_ids });
    }
}

impl Actor for ReferenceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(
            Duration::from_secs(self.settings.schedule_refresh_secs),
            |act, ctx| {
                act.refresh_schedules(None, ctx);
            },
        );
        let pace = Duration::from_secs_f64(
            60.0 / f64::from(self.settings.utilization_fetches_per_minute.max(1)),
        );
        ctx.run_interval(pace, |act, ctx| act.fetch_next_utilization(ctx));
        ctx.run_interval(
            Duration::from_secs(self.settings.queue_refresh_secs),
            |act, ctx| {
                act.refresh_memberships(ctx);
            },
        );
        ctx.run_interval(REEVALUATE_EVERY, |act, _| act.reevaluate(None));
    }
}

impl Handler<LoadRoster> for ReferenceActor {
    type Result = ResponseActFuture<Self, Result<Vec<AgentId>, GenesysError>>;

    fn handle(&mut self, _: LoadRoster, _: &mut Context<Self>) -> Self::Result {
        let client = self.client.clone();
        Box::pin(
            async move { client.all_users(&[]).await }
                .into_actor(self)
                .map(|result, act, _| {
                    let users = result?;
                    let roster: Vec<AgentId> =
                        users.iter().map(|u| AgentId::from(u.id.as_str())).collect();
                    let known = act.cache.load().roster.clone();
                    let joiners: Vec<AgentId> = roster
                        .iter()
                        .filter(|id| !known.contains(*id))
                        .cloned()
                        .collect();
                    act.utilization_queue.extend(joiners);
                    act.utilization_round_started
                        .get_or_insert_with(Instant::now);
                    act.cache
                        .update(|data| data.roster = roster.iter().cloned().collect());
                    Ok(roster)
                }),
        )
    }
}

impl Handler<LoadReference> for ReferenceActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: LoadReference, ctx: &mut Context<Self>) -> Self::Result {
        // Queue memberships only refine active queues; the rest is awaited so that the first
        // states published are checked against real schedules and limits.
        self.refresh_memberships(ctx);
        let client = self.client.clone();
        Box::pin(
            async move {
                let definitions = client.presence_definitions().await;
                let org = client.org_utilization().await;
                (definitions, org)
            }
            .into_actor(self)
            .map(|(definitions, org), act, _| {
                act.cache.update(|data| {
                    match definitions {
                        Ok(definitions) => {
                            data.presence_definitions = definitions
                                .into_iter()
                                .filter_map(|d| d.system_presence.as_deref().map(|p| (d.id.clone(), SystemPresence::parse(p))))
                                .collect();
                        }
                        Err(err) => warn!(error = %err, "Could not load presence definitions."),
                    }
                    match org {
                        Ok(org) => data.org_capacity = Some(Capacity::from_response(&org)),
                        Err(err) => warn!(error = %err, "Could not load the org utilization; capacity stays unknown."),
                    }
                });
            })
            .then(|(), act, _| act.schedules_job(None)),
        )
    }
}
