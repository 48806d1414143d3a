//! `POST /sim/agents/{id}/shifts`: replace an agent's shifts with
//! `{"shifts":[{"startDate","lengthMinutes","activities"?:[{"startDate","lengthMinutes",
//! "category"|"activityCodeId"}]}]}` (a shift without activities is all on-queue work), or
//! take the agent off shift with `{"offShift": true}` (removes the shifts covering now).
//! Emits `.workforcemanagement.schedules` with Added/Edited/Deleted updates when anything
//! changed; answers `{shifts, topics}`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::agents::agent;
use crate::{
    genesys::{
        models::{ActivityCategory, EntityRef, ScheduleUpdate, ScheduleUpdateEvent, time},
        topics::{UserTopicKind, user_topic},
    },
    sim::{
        emitter::publish,
        machine::{Change, Topics},
        org::{
            CODE_ON_QUEUE, Org,
            schedule::{ActivityPlan, ShiftPlan},
        },
        respond::{ApiError, parse_json},
        world::{Sim, lock},
    },
};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ShiftsBody {
    #[serde(default)]
    off_shift: bool,
    shifts: Option<Vec<ShiftBody>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShiftBody {
    #[serde(with = "time")]
    start_date: DateTime<Utc>,
    length_minutes: u32,
    activities: Option<Vec<ActivityBody>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivityBody {
    #[serde(with = "time")]
    start_date: DateTime<Utc>,
    length_minutes: u32,
    category: Option<String>,
    activity_code_id: Option<String>,
}

/// Longest shift or activity accepted, in minutes (a week).
const MAX_LENGTH_MINUTES: u32 = 7 * 24 * 60;

/// Refuses lengths outside 1..=a week and dates outside 1970..=2200 (so no date arithmetic
/// can overflow later).
fn check_span(start: DateTime<Utc>, minutes: u32) -> Result<(), ApiError> {
    use chrono::Datelike;
    if !(1..=MAX_LENGTH_MINUTES).contains(&minutes) || !(1970..=2200).contains(&start.year()) {
        return Err(ApiError::BadRequest(format!(
            "lengthMinutes must be in 1..={MAX_LENGTH_MINUTES} and startDate within 1970..=2200"
        )));
    }
    Ok(())
}

fn plan(org: &Org, agent: u32, body: ShiftBody) -> Result<ShiftPlan, ApiError> {
    check_span(body.start_date, body.length_minutes)?;
    if let Some(activities) = &body.activities {
        for a in activities {
            check_span(a.start_date, a.length_minutes)?;
        }
    }
    let bu = org.bu_of(agent);
    let on_queue = CODE_ON_QUEUE;
    let activities = match body.activities {
        None => vec![ActivityPlan {
            start: body.start_date,
            minutes: body.length_minutes,
            code: on_queue,
        }],
        Some(list) => list
            .into_iter()
            .map(|a| {
                let code = match (&a.activity_code_id, &a.category) {
                    (Some(id), _) => bu.code_by_id(id),
                    (None, Some(c)) => bu.code_for(&ActivityCategory::from(c.clone())),
                    (None, None) => Some(on_queue),
                };
                let code = code.ok_or_else(|| {
                    ApiError::BadRequest("unknown activityCodeId or category".into())
                })?;
                Ok(ActivityPlan {
                    start: a.start_date,
                    minutes: a.length_minutes,
                    code,
                })
            })
            .collect::<Result<_, ApiError>>()?,
    };
    Ok(ShiftPlan {
        id: uuid::Uuid::new_v4().to_string(),
        start: body.start_date,
        minutes: body.length_minutes,
        activities,
        manually_edited: true,
    })
}

pub(super) async fn set_shifts(
    path: web::Path<String>,
    body: web::Bytes,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let org = &sim.org;
    let agent = agent(org, &path)?;
    let body: ShiftsBody = parse_json(&body)?;
    let now = sim.clock.utc_now();
    let mut world = lock(&sim.world);
    let old = world.shifts[agent as usize].clone();
    let new: Vec<ShiftPlan> = match (body.off_shift, body.shifts) {
        (true, None) => old.iter().filter(|s| !s.covers(now)).cloned().collect(),
        (false, Some(list)) => list
            .into_iter()
            .map(|s| plan(org, agent, s))
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(ApiError::BadRequest(
                "give either shifts or offShift: true".into(),
            ));
        }
    };
    let starts = |list: &[ShiftPlan]| list.iter().map(|s| s.start).collect::<Vec<_>>();
    let (old_starts, new_starts) = (starts(&old), starts(&new));
    let mut updates = Vec::new();
    for (kind, dates) in [
        (
            "Deleted",
            old_starts
                .iter()
                .filter(|s| !new_starts.contains(s))
                .copied()
                .collect::<Vec<_>>(),
        ),
        (
            "Added",
            new_starts
                .iter()
                .filter(|s| !old_starts.contains(s))
                .copied()
                .collect(),
        ),
        (
            "Edited",
            new_starts
                .iter()
                .filter(|s| {
                    old_starts.contains(s)
                        && old.iter().find(|o| o.start == **s)
                            != new.iter().find(|n| n.start == **s)
                })
                .copied()
                .collect(),
        ),
    ] {
        if !dates.is_empty() {
            updates.push(ScheduleUpdate {
                kind: Some(kind.to_owned()),
                shift_start_dates: Some(dates.iter().map(time::format).collect()),
            });
        }
    }
    world.shifts[agent as usize] = new;
    let mut topics = Vec::new();
    if !updates.is_empty() {
        let touched = old.iter().chain(world.shifts[agent as usize].iter());
        let start = touched.clone().map(|s| s.start).min().unwrap_or(now);
        let end = touched.map(ShiftPlan::end).max().unwrap_or(now);
        let schedule = ScheduleUpdateEvent {
            user: Some(EntityRef::new(org.agents[agent as usize].id.clone())),
            start_date: Some(start),
            end_date: Some(end),
            updates: Some(updates),
        };
        let change = Change {
            agent,
            topics: Topics::default().with(UserTopicKind::Schedules),
            schedule: Some(schedule),
        };
        world.agents[agent as usize].stamp(now);
        publish(&sim, &mut world, &mut lock(&sim.hub), &change);
        topics.push(user_topic(
            &org.agents[agent as usize].id,
            UserTopicKind::Schedules,
        ));
    }
    let bu = org.bu_of(agent);
    let mu = org.mu_of(agent);
    let shifts: Vec<_> = world.shifts[agent as usize]
        .iter()
        .map(|s| s.to_model(bu, (&mu.work_plan_id, &mu.work_plan_shift_id)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"shifts": shifts, "topics": topics})))
}
