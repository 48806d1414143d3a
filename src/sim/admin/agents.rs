//! Setting one agent's state, utilization or shifts on purpose.
//!
//! `POST /sim/agents/{id}/state` takes any of
//! `{"systemPresence": "OnQueue" (any spelling), "presenceDefinitionId": "...",
//!   "routingStatus": "IDLE", "conversations": {"call": 2}, "activeQueueIds": ["..."],
//!   "outOfOffice": true}`
//! and emits what changed like a real change: `.presence` (presence given), `.routingStatus`
//! (when it changed), `.activity` (presence, routing, queues or out of office changed),
//! `.conversationsummary` (conversations given). Left out: the routing status follows the
//! presence and interaction counts; active queues follow the presence; media left out of
//! `conversations` keep their counts.
//!
//! `POST /sim/agents/{id}/utilization` takes a utilization body; media given replace the org
//! default, an empty `utilization` removes the override. `POST /sim/agents/{id}/shifts`
//! takes `{"shifts":[{"startDate","lengthMinutes","activities"?:[{"startDate",
//! "lengthMinutes","category"|"activityCodeId"}]}]}` (replacing every shift; a shift without
//! activities is all on-queue work) or `{"offShift": true}` (removes the shifts covering now),
//! and emits `.workforcemanagement.schedules` with Added/Edited/Deleted updates when anything
//! changed.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::truth_agent;
use crate::{
    genesys::{
        models::{
            ActivityCategory, ScheduleUpdate, ScheduleUpdateEvent, UtilizationResponse, time,
        },
        topics::{UserTopicKind, user_topic},
    },
    sim::{
        agent::{MAX_ACTIVE_QUEUES, Media, Presence, QueueSet, Routing},
        emitter::publish,
        machine::{Change, Topics},
        org::{
            Org,
            schedule::{ActivityPlan, ShiftPlan},
            utilization::Utilization,
        },
        respond::{ApiError, parse_json},
        world::{Sim, lock},
    },
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sim/agents/{id}/state", web::post().to(set_state))
        .route(
            "/sim/agents/{id}/utilization",
            web::post().to(set_utilization),
        )
        .route("/sim/agents/{id}/shifts", web::post().to(set_shifts));
}

fn agent(org: &Org, id: &str) -> Result<u32, ApiError> {
    org.agent_index(id)
        .ok_or_else(|| ApiError::NotFound(format!("agent {id} not found")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StateBody {
    system_presence: Option<String>,
    presence_definition_id: Option<String>,
    routing_status: Option<String>,
    conversations: Option<BTreeMap<String, u8>>,
    active_queue_ids: Option<Vec<String>>,
    out_of_office: Option<bool>,
}

/// A state body, checked against the org.
struct Wanted {
    presence: Option<(Presence, u16)>,
    routing: Option<Routing>,
    conversations: Vec<(Media, u8)>,
    queues: Option<QueueSet>,
    out_of_office: Option<bool>,
}

fn check(org: &Org, body: StateBody) -> Result<Wanted, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let presence = match (&body.system_presence, &body.presence_definition_id) {
        (None, None) => None,
        (raw, def_id) => {
            let named = raw
                .as_deref()
                .map(|r| {
                    Presence::parse(r).ok_or_else(|| bad(format!("unknown systemPresence {r:?}")))
                })
                .transpose()?;
            let definition = def_id
                .as_deref()
                .map(|d| {
                    org.presence_index(d)
                        .ok_or_else(|| bad(format!("unknown presenceDefinitionId {d:?}")))
                })
                .transpose()?;
            match (named, definition) {
                (Some(p), Some(d)) if org.presences[usize::from(d)].presence != p => {
                    return Err(bad(
                        "presenceDefinitionId belongs to another systemPresence".into(),
                    ));
                }
                (Some(p), None) => Some((p, Org::system_definition(p))),
                (_, Some(d)) => Some((org.presences[usize::from(d)].presence, d)),
                (None, None) => None,
            }
        }
    };
    let routing = body
        .routing_status
        .as_deref()
        .map(|r| Routing::parse(r).ok_or_else(|| bad(format!("unknown routingStatus {r:?}"))))
        .transpose()?;
    let conversations = (body.conversations.unwrap_or_default().into_iter())
        .map(|(name, n)| {
            Media::parse(&name)
                .map(|m| (m, n))
                .ok_or_else(|| bad(format!("unknown media type {name:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let queues = match body.active_queue_ids {
        None => None,
        Some(ids) if ids.len() > MAX_ACTIVE_QUEUES => {
            return Err(bad(format!("at most {MAX_ACTIVE_QUEUES} activeQueueIds")));
        }
        Some(ids) => {
            let mut set = QueueSet::EMPTY;
            for id in ids {
                let q = org
                    .queue_index(&id)
                    .ok_or_else(|| bad(format!("unknown queue {id:?}")))?;
                set.insert(q);
            }
            Some(set)
        }
    };
    Ok(Wanted {
        presence,
        routing,
        conversations,
        queues,
        out_of_office: body.out_of_office,
    })
}

async fn set_state(
    path: web::Path<String>,
    body: web::Bytes,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let org = &sim.org;
    let agent = agent(org, &path)?;
    let wanted = check(org, super::optional_body(&body)?)?;
    let mut world = lock(&sim.world);
    let state = &mut world.agents[agent as usize];
    let ts = state.stamp(Utc::now());
    state.remember();
    let mut topics = Topics::default();
    for (media, n) in &wanted.conversations {
        state.conversations[media.index()] = *n;
    }
    if !wanted.conversations.is_empty() {
        topics = topics.with(UserTopicKind::ConversationSummary);
    }
    let status_before = state.status;
    if let Some((presence, definition)) = wanted.presence {
        state.status.presence = presence;
        state.status.definition = definition;
        state.status.presence_modified = ts;
        state.status.queues = if presence == Presence::OnQueue {
            org.agents[agent as usize].queues
        } else {
            QueueSet::EMPTY
        };
        topics = topics
            .with(UserTopicKind::Presence)
            .with(UserTopicKind::Activity);
    }
    let routing = wanted
        .routing
        .unwrap_or_else(|| state.routing_for(state.status.presence));
    if routing != state.status.routing {
        state.status.routing = routing;
        state.status.routing_start = ts;
        topics = topics.with(UserTopicKind::RoutingStatus);
    }
    if let Some(queues) = wanted.queues {
        state.status.queues = queues;
    }
    if state.status.queues != status_before.queues {
        state.status.queues_changed = ts;
    }
    if let Some(ooo) = wanted
        .out_of_office
        .filter(|o| *o != state.status.out_of_office)
    {
        state.status.out_of_office = ooo;
        state.status.out_of_office_modified = ts;
    }
    if state.status != status_before {
        topics = topics.with(UserTopicKind::Activity);
    }
    let change = Change {
        agent,
        topics,
        schedule: None,
    };
    publish(&sim, &mut world, &mut lock(&sim.hub), &change);
    let id = &org.agents[agent as usize].id;
    let names: Vec<String> = topics.iter().map(|k| user_topic(id, k)).collect();
    Ok(
        HttpResponse::Ok()
            .json(json!({"agent": truth_agent(&sim, &world, agent), "topics": names})),
    )
}

async fn set_utilization(
    path: web::Path<String>,
    body: web::Bytes,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let agent = agent(&sim.org, &path)?;
    let body: UtilizationResponse = parse_json(&body)?;
    let mut world = lock(&sim.world);
    let answer = if body.utilization.is_empty() {
        world.overrides[agent as usize] = None;
        Utilization::ORG_DEFAULT.to_model(Some("Organization"))
    } else {
        let own = Utilization::ORG_DEFAULT
            .merged(&body)
            .map_err(ApiError::BadRequest)?;
        world.overrides[agent as usize] = Some(own);
        own.to_model(Some("Agent"))
    };
    Ok(HttpResponse::Ok().json(answer))
}

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

fn plan(org: &Org, agent: u32, body: ShiftBody) -> Result<ShiftPlan, ApiError> {
    let bu = org.bu_of(agent);
    let on_queue = crate::sim::org::CODE_ON_QUEUE;
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

async fn set_shifts(
    path: web::Path<String>,
    body: web::Bytes,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let org = &sim.org;
    let agent = agent(org, &path)?;
    let body: ShiftsBody = parse_json(&body)?;
    let now = Utc::now();
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
            user: Some(crate::genesys::models::EntityRef::new(
                org.agents[agent as usize].id.clone(),
            )),
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
