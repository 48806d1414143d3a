//! The admin API under `/sim/` (no auth, JSON, camelCase), for tests and demos:
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /sim/truth` | | `{eventsEmitted, paused, eventsPerSec, agents:[{id, name, systemPresence, presenceDefinitionId, routingStatus, activeQueueIds, conversations{call,callback,chat,email,message}, onShift, scheduledActivity, outOfOffice, overCapacity}]}` |
//! | `GET /sim/calls` | | `{total, calls:[{route, status, count}]}` |
//! | `GET /sim/channels` | | `{slowClientCloses, channels:[{id, clientId, connected, topics, expires, socketsOpened, messagesSent, slowClientCloses}]}` |
//! | `GET /sim/events?limit=N` | | `{events:[{seq, agentId, messages:[{topicName, correlationId, eventBody}]}]}` (first ≤ 10,000 changes, bodies without timestamps) |
//! | `POST /sim/pause`, `POST /sim/resume` | | `{paused}` |
//! | `POST /sim/rate` | `{eventsPerSec}` | `{eventsPerSec}` |
//! | `POST /sim/step` | `{count}` | `{emitted, eventsEmitted}` |
//! | `POST /sim/clock` | `{advanceMs}` | `{offsetMs}`: the emulator's clock moved forward (see `clock.rs`), how far ahead of real time it now is |
//! | `POST /sim/agents/{id}/state` | see `agents.rs` | `{agent, topics}` |
//! | `POST /sim/agents/{id}/utilization` | `{utilization:{call:{maximumCapacity}}}` | the user utilization |
//! | `POST /sim/agents/{id}/shifts` | `{shifts:[..]}` or `{offShift:true}` | `{shifts, topics}` |
//! | `POST /sim/faults/<name>`, `POST /sim/faults/clear` | see `faults.rs` | a JSON summary |

mod agents;
mod faults;
mod shifts;

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    genesys::models::time,
    sim::{
        agent::Media,
        emitter,
        machine::scheduled_category,
        respond::{ApiError, parse_json},
        rest::Params,
        world::{MAX_EVENTS_PER_SEC, Sim, World, lock},
    },
};

/// Most changes one `POST /sim/step` may ask for.
const MAX_STEP: u64 = 1_000_000;
/// Most one `POST /sim/clock` may advance the clock: a year.
const MAX_ADVANCE_MS: u64 = 365 * 86_400 * 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sim/truth", web::get().to(truth))
        .route("/sim/calls", web::get().to(calls))
        .route("/sim/channels", web::get().to(channels))
        .route("/sim/events", web::get().to(events))
        .route("/sim/pause", web::post().to(pause))
        .route("/sim/resume", web::post().to(resume))
        .route("/sim/rate", web::post().to(rate))
        .route("/sim/step", web::post().to(step))
        .route("/sim/clock", web::post().to(advance_clock));
    agents::configure(cfg);
    faults::configure(cfg);
}

/// One agent as `/sim/truth` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TruthAgent {
    id: String,
    name: String,
    system_presence: &'static str,
    presence_definition_id: String,
    routing_status: &'static str,
    active_queue_ids: Vec<String>,
    conversations: BTreeMap<&'static str, u8>,
    on_shift: bool,
    scheduled_activity: Option<String>,
    out_of_office: bool,
    over_capacity: bool,
}

pub fn truth_agent(sim: &Sim, world: &World, agent: u32) -> TruthAgent {
    let org = &sim.org;
    let def = &org.agents[agent as usize];
    let state = &world.agents[agent as usize];
    let status = &state.status;
    let on_shift =
        crate::sim::org::schedule::scheduled_at(&world.shifts[agent as usize], sim.clock.utc_now())
            != crate::sim::org::schedule::Scheduled::OffShift;
    TruthAgent {
        id: def.id.clone(),
        name: def.name.clone(),
        system_presence: status.presence.canonical(),
        presence_definition_id: org.presences[usize::from(status.definition)].id.clone(),
        routing_status: status.routing.as_str(),
        active_queue_ids: (status.queues.as_slice().iter())
            .map(|q| org.queues[usize::from(*q)].id.clone())
            .collect(),
        conversations: (Media::ALL.into_iter())
            .map(|m| (m.name(), state.conversations[m.index()]))
            .collect(),
        on_shift,
        scheduled_activity: scheduled_category(org, world, agent, sim.clock.utc_now())
            .map(|c| c.as_str().to_owned()),
        out_of_office: status.out_of_office,
        over_capacity: world.over_capacity(agent),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Truth {
    events_emitted: u64,
    paused: bool,
    events_per_sec: f64,
    agents: Vec<TruthAgent>,
}

async fn truth(sim: web::Data<Sim>) -> HttpResponse {
    let world = lock(&sim.world);
    let truth = Truth {
        events_emitted: world.events_emitted,
        paused: sim.paused(),
        events_per_sec: sim.rate(),
        agents: (0..sim.org.agents.len() as u32)
            .map(|a| truth_agent(&sim, &world, a))
            .collect(),
    };
    drop(world);
    HttpResponse::Ok().json(truth)
}

async fn calls(sim: web::Data<Sim>) -> HttpResponse {
    let stats = lock(&sim.calls);
    let calls: Vec<_> = stats
        .iter()
        .map(|(route, status, count)| json!({"route": route, "status": status, "count": count}))
        .collect();
    HttpResponse::Ok().json(json!({"total": stats.total(), "calls": calls}))
}

async fn channels(sim: web::Data<Sim>) -> HttpResponse {
    let hub = lock(&sim.hub);
    let channels: Vec<_> = hub
        .channels()
        .map(|c| {
            json!({
                "id": c.id,
                "clientId": c.client_id,
                "connected": c.connected(),
                "topics": c.topics.keys().collect::<Vec<_>>(),
                "expires": time::format(&c.expires),
                "socketsOpened": c.sockets_opened,
                "messagesSent": c.messages_sent.load(std::sync::atomic::Ordering::Relaxed),
                "slowClientCloses": c.slow_client_closes,
            })
        })
        .collect();
    HttpResponse::Ok()
        .json(json!({"slowClientCloses": hub.slow_client_closes, "channels": channels}))
}

async fn events(req: HttpRequest, sim: web::Data<Sim>) -> Result<HttpResponse, ApiError> {
    let limit = Params::of(&req).number("limit", u32::MAX)? as usize;
    let world = lock(&sim.world);
    let events = &world.log[..limit.min(world.log.len())];
    Ok(HttpResponse::Ok().json(json!({ "events": events })))
}

async fn pause(sim: web::Data<Sim>) -> HttpResponse {
    sim.set_paused(true);
    HttpResponse::Ok().json(json!({"paused": true}))
}

async fn resume(sim: web::Data<Sim>) -> HttpResponse {
    sim.set_paused(false);
    HttpResponse::Ok().json(json!({"paused": false}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RateBody {
    events_per_sec: f64,
}

async fn rate(body: web::Bytes, sim: web::Data<Sim>) -> Result<HttpResponse, ApiError> {
    let RateBody { events_per_sec } = parse_json(&body)?;
    if !(0.0..=MAX_EVENTS_PER_SEC).contains(&events_per_sec) {
        return Err(ApiError::BadRequest(format!(
            "eventsPerSec must be in 0..={MAX_EVENTS_PER_SEC}"
        )));
    }
    sim.set_rate(events_per_sec);
    Ok(HttpResponse::Ok().json(json!({"eventsPerSec": events_per_sec})))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StepBody {
    count: u64,
}

async fn step(body: web::Bytes, sim: web::Data<Sim>) -> Result<HttpResponse, ApiError> {
    let StepBody { count } = parse_json(&body)?;
    if count > MAX_STEP {
        return Err(ApiError::BadRequest(format!(
            "count must be at most {MAX_STEP}"
        )));
    }
    let worker = sim.clone().into_inner();
    let emitted = web::block(move || emitter::emit(&worker, count))
        .await
        .map_err(|e| ApiError::BadRequest(format!("step failed: {e}")))?;
    let total = lock(&sim.world).events_emitted;
    Ok(HttpResponse::Ok().json(json!({"emitted": emitted, "eventsEmitted": total})))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockBody {
    advance_ms: u64,
}

async fn advance_clock(body: web::Bytes, sim: web::Data<Sim>) -> Result<HttpResponse, ApiError> {
    let ClockBody { advance_ms } = parse_json(&body)?;
    if advance_ms > MAX_ADVANCE_MS {
        return Err(ApiError::BadRequest(format!(
            "advanceMs must be at most {MAX_ADVANCE_MS}"
        )));
    }
    let offset = sim
        .clock
        .advance(std::time::Duration::from_millis(advance_ms));
    tracing::info!(
        advance_ms,
        offset_ms = offset.as_millis(),
        "Clock advanced."
    );
    Ok(HttpResponse::Ok().json(json!({"offsetMs": offset.as_millis() as u64})))
}

/// Parses an optional JSON body: empty means `{}`.
pub fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(body)
    }
}
