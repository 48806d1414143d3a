//! ReferenceActor: loads reference data over REST and keeps it fresh, on the client's budget.
//!
//! - the roster (`LoadRoster`, asked by the stream at start and on its roster timer);
//! - presence definitions and the org's default utilization (`LoadReference`, at start);
//! - every business unit's published schedules for today ± N days, in bulk per unit, on a
//!   timer and when a schedules notification says an agent's schedule changed — coalesced so
//!   that a unit is fetched at most once per `schedule_min_interval_secs` however many
//!   notifications arrive (REST calls do not grow with the event rate);
//! - each agent's own utilization, fetched in the background at a fixed pace; the org default
//!   stands in until then;
//! - queue memberships (queues, then each queue's joined members), so that an agent whose
//!   state was read over REST shows its active queues before any notification reports them.
//!
//! Each change swaps a new snapshot into the [`ReferenceCache`]; validators are then asked to
//! re-evaluate the agents it concerns.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::{Duration, Instant},
};

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, ResponseActFuture, WrapFuture,
};
use chrono::{Duration as Days, Utc};
use tracing::{info, warn};

use super::{AgentSchedule, Capacity, ReferenceCache};
use crate::{
    actors::validator::{Reevaluate, ScheduleChanged, ValidatorPool},
    config::ReferenceSettings,
    event::AgentId,
    genesys::{GenesysClient, GenesysError, models::SystemPresence},
};

/// How often validators re-check every agent (shift boundaries pass without any event).
const REEVALUATE_EVERY: Duration = Duration::from_secs(60);
/// How long an agent found in no business unit is not looked up again.
const NO_UNIT_RETRY: Duration = Duration::from_secs(3600);

/// One unit's schedules as loaded: each agent's, or why they could not be had.
type UnitSchedules = (String, Result<Vec<(AgentId, AgentSchedule)>, GenesysError>);

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

/// Gives the loader the validators to notify after a refresh.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachValidators {
    pub pool: ValidatorPool,
}

pub struct ReferenceActor {
    client: GenesysClient,
    cache: ReferenceCache,
    settings: ReferenceSettings,
    validators: Option<ValidatorPool>,
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
    pub fn new(client: GenesysClient, cache: ReferenceCache, settings: ReferenceSettings) -> Self {
        Self {
            client,
            cache,
            settings,
            validators: None,
            dirty_units: HashSet::new(),
            flush_scheduled: false,
            last_fetch: HashMap::new(),
            without_unit: HashMap::new(),
            utilization_queue: VecDeque::new(),
            utilization_round_started: None,
        }
    }

    /// Fetches the listed units' schedules (all units when `None`) and swaps them in.
    fn refresh_schedules(&mut self, units: Option<Vec<String>>, ctx: &mut Context<Self>) {
        let job = self.schedules_job(units);
        ctx.spawn(job);
    }

    /// Fetches the listed units' schedules (all units when `None`) and swaps them in, as a
    /// future of this actor (spawned by the timers, awaited at start).
    fn schedules_job(&mut self, units: Option<Vec<String>>) -> ResponseActFuture<Self, ()> {
        let client = self.client.clone();
        let (before, after) = (
            self.settings.schedule_days_before,
            self.settings.schedule_days_after,
        );
        let now = Instant::now();
        if let Some(units) = &units {
            for unit in units {
                self.last_fetch.insert(unit.clone(), now);
            }
        }
        let fut = async move {
            let units = match units {
                Some(units) => units,
                None => client
                    .business_units()
                    .await
                    .map(|list| list.into_iter().map(|u| u.id).collect())?,
            };
            let mut loaded = Vec::with_capacity(units.len());
            for unit in units {
                let result = load_unit(&client, &unit, before, after).await;
                loaded.push((unit, result));
            }
            Ok::<_, GenesysError>(loaded)
        };
        Box::pin(fut.into_actor(self).map(move |result, act, _| match result {
            Err(err) => {
                warn!(error = %err, "Could not list business units; schedules stay unknown until the next refresh.");
            }
            Ok(loaded) => act.apply_schedules(loaded, now),
        }))
    }

    fn apply_schedules(&mut self, loaded: Vec<UnitSchedules>, requested_at: Instant) {
        let mut touched: Vec<AgentId> = Vec::new();
        self.cache.update(|data| {
            data.business_units_known = true;
            for (unit, result) in &loaded {
                match result {
                    Ok(schedules) => {
                        data.schedules.retain(|_, s| s.business_unit != *unit);
                        for (agent, schedule) in schedules {
                            data.schedules.insert(agent.clone(), schedule.clone().into());
                            touched.push(agent.clone());
                        }
                        data.business_units.insert(unit.clone(), true);
                    }
                    Err(err) => {
                        warn!(business_unit = %unit, error = %err, "Could not load a business unit's schedules.");
                        data.business_units.entry(unit.clone()).or_insert(false);
                    }
                }
            }
            data.schedules_loaded_at = Some(Utc::now());
        });
        for (unit, _) in &loaded {
            self.last_fetch.insert(unit.clone(), requested_at);
        }
        info!(
            units = loaded.len(),
            agents = touched.len(),
            "Loaded published schedules."
        );
        if let Some(pool) = &self.validators {
            pool.reevaluate(Reevaluate {
                agent_ids: Some(touched),
            });
        }
    }

    /// Refreshes the dirty units now, or schedules it for when the slowest of them may be
    /// fetched again.
    fn flush_dirty(&mut self, ctx: &mut Context<Self>) {
        if self.dirty_units.is_empty() || self.flush_scheduled {
            return;
        }
        let min_interval = Duration::from_secs(self.settings.schedule_min_interval_secs);
        let wait = self
            .dirty_units
            .iter()
            .filter_map(|u| self.last_fetch.get(u))
            .map(|at| min_interval.saturating_sub(at.elapsed()))
            .max()
            .unwrap_or_default();
        self.flush_scheduled = true;
        ctx.run_later(wait, |act, ctx| {
            act.flush_scheduled = false;
            let units: Vec<String> = act.dirty_units.drain().collect();
            act.refresh_schedules(Some(units), ctx);
        });
    }

    /// Loads queue memberships and swaps them in.
    fn refresh_memberships(&mut self, ctx: &mut Context<Self>) {
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
                if let Some(pool) = &act.validators {
                    pool.reevaluate(Reevaluate { agent_ids: None });
                }
            }
            Err(err) => warn!(error = %err, "Could not load queue memberships; will retry."),
        }));
    }

    /// Fetches one agent's own utilization, if any are waiting.
    fn fetch_next_utilization(&mut self, ctx: &mut Context<Self>) {
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
                if own && let Some(pool) = &act.validators {
                    pool.reevaluate(Reevaluate { agent_ids: Some(vec![agent]) });
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

/// One unit's schedules, with activity codes resolved to categories.
async fn load_unit(
    client: &GenesysClient,
    unit: &str,
    days_before: u32,
    days_after: u32,
) -> Result<Vec<(AgentId, AgentSchedule)>, GenesysError> {
    let categories = client
        .activity_codes(unit)
        .await?
        .into_iter()
        .filter_map(|code| code.category.map(|category| (code.id, category)))
        .collect();
    let today = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_else(Utc::now);
    let start = today - Days::days(i64::from(days_before));
    let end = today + Days::days(i64::from(days_after) + 1);
    let result = client
        .business_unit_schedules(unit, start, end, None)
        .await?;
    Ok(result
        .agent_schedules
        .iter()
        .map(|s| {
            (
                AgentId::from(s.user.id.as_str()),
                AgentSchedule::from_shifts(unit, &s.shifts, &categories),
            )
        })
        .collect())
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
        ctx.run_interval(REEVALUATE_EVERY, |act, _| {
            if let Some(pool) = &act.validators {
                pool.reevaluate(Reevaluate { agent_ids: None });
            }
        });
    }
}

impl Handler<AttachValidators> for ReferenceActor {
    type Result = ();

    fn handle(&mut self, msg: AttachValidators, _: &mut Context<Self>) {
        self.validators = Some(msg.pool);
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

impl Handler<ScheduleChanged> for ReferenceActor {
    type Result = ();

    fn handle(&mut self, msg: ScheduleChanged, ctx: &mut Context<Self>) {
        if let Some(schedule) = self.cache.load().schedules.get(&msg.agent_id) {
            self.dirty_units.insert(schedule.business_unit.clone());
            return self.flush_dirty(ctx);
        }
        if self
            .without_unit
            .get(&msg.agent_id)
            .is_some_and(|at| at.elapsed() < NO_UNIT_RETRY)
        {
            return;
        }
        self.without_unit
            .insert(msg.agent_id.clone(), Instant::now());
        let client = self.client.clone();
        let agent = msg.agent_id.clone();
        ctx.spawn(async move { client.agent_management_unit(&agent).await }.into_actor(self).map(move |result, act, ctx| {
            match result.map(|mu| mu.business_unit.map(|bu| bu.id)) {
                Ok(Some(unit)) => {
                    act.without_unit.remove(&msg.agent_id);
                    act.dirty_units.insert(unit);
                    act.flush_dirty(ctx);
                }
                Ok(None) => {}
                Err(err) => warn!(agent_id = %msg.agent_id, error = %err, "Could not find an agent's business unit."),
            }
        }));
    }
}
