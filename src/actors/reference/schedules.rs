//! Published schedules: every business unit's, in bulk, on the refresh timer and when
//! [`ScheduleChanged`] marks an agent's unit dirty. Dirty units are coalesced so that each is
//! fetched at most once per `schedule_min_interval_secs`; an agent in no known unit is looked
//! up (its management unit) at most once per [`NO_UNIT_RETRY`].

use std::time::{Duration, Instant};

use actix::{ActorFutureExt, AsyncContext, Context, Handler, ResponseActFuture, WrapFuture};
use chrono::{Duration as Days, Utc};
use tracing::{info, warn};

use super::{ReferenceActor, ScheduleChanged};
use crate::{
    event::AgentId,
    genesys::{GenesysClient, GenesysError},
    reference::AgentSchedule,
};

/// How long an agent found in no business unit is not looked up again.
const NO_UNIT_RETRY: Duration = Duration::from_secs(3600);

/// One unit's schedules as loaded: each agent's, or why they could not be had.
type UnitSchedules = (String, Result<Vec<(AgentId, AgentSchedule)>, GenesysError>);

impl ReferenceActor {
    /// Fetches the listed units' schedules (all units when `None`) and swaps them in.
    pub(super) fn refresh_schedules(
        &mut self,
        units: Option<Vec<String>>,
        ctx: &mut Context<Self>,
    ) {
        let job = self.schedules_job(units);
        ctx.spawn(job);
    }

    /// Fetches the listed units' schedules (all units when `None`) and swaps them in, as a
    /// future of this actor (spawned by the timers, awaited at start).
    pub(super) fn schedules_job(
        &mut self,
        units: Option<Vec<String>>,
    ) -> ResponseActFuture<Self, ()> {
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

    /// Swaps the loaded schedules in and has the validators re-evaluate the agents in them.
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
        self.reevaluate(Some(touched));
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
