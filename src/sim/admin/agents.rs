//! Setting one agent's state or utilization on purpose.
//!
//! `POST /sim/agents/{id}/state` takes any of
//! `{"systemPresence": "OnQueue" (any spelling), "presenceDefinitionId": "...",
//!   "routingStatus": "IDLE", "conversations": {"call": 2}, "activeQueueIds": ["..."],
//!   "outOfOffice": true}`
//! and emits what changed like a real change: `.presence` (presence given), `.routingStatus`
//! (when it changed), `.activity` (presence, routing, queues or out of office changed),
//! `.conversationsummary` (conversations given); it answers `{agent, topics}`. Left out: the
//! routing status follows the presence and interaction counts; active queues follow the
//! presence; media left out of `conversations` keep their counts.
//!
//! `POST /sim/agents/{id}/utilization` takes a utilization body; media given replace the org
//! default (capacity 0..=25), an empty `utilization` removes the override. It answers the
//! user utilization.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::truth_agent;
use crate::{
    genesys::{
        models::UtilizationResponse,
        topics::{UserTopicKind, user_topic},
    },
    sim::{
        agent::{MAX_ACTIVE_QUEUES, Media, Presence, QueueSet, Routing},
        emitter::publish,
        machine::{Change, Topics},
        org::{Org, utilization::Utilization},
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
        .route(
            "/sim/agents/{id}/shifts",
            web::post().to(super::shifts::set_shifts),
        );
}

pub(super) fn agent(org: &Org, id: &str) -> Result<u32, ApiError> {
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
    let ts = state.stamp(sim.clock.utc_now());
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
        state.previous = Some(status_before);
        topics = topics.with(UserTopicKind::Activity);
    }
    if topics != Topics::default() {
        let change = Change {
            agent,
            topics,
            schedule: None,
        };
        publish(&sim, &mut world, &mut lock(&sim.hub), &change);
    }
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
