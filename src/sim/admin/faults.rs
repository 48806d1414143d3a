//! `POST /sim/faults/<name>` (JSON body, optional fields) and `POST /sim/faults/clear`.
//!
//! | fault | body | effect | answer |
//! |---|---|---|---|
//! | `expire_tokens` | | every issued token answers 401 `credentials.expired` | `{tokensExpired}` |
//! | `rate_limit` | `{secs}` | every `/api/v2` call answers 429, `Retry-After` = seconds left | `{secs}` |
//! | `drop_sockets` | | every socket is dropped without a close frame or `socket_closing` | `{socketsAffected}` |
//! | `socket_closing` | `{graceSecs?}` | `v2.system.socket_closing` on every socket, close (1001) after the grace (default `socket_closing_grace`) | `{socketsAffected, graceSecs}` |
//! | `expire_channel` | `{channelId?}` | that channel (404 if unknown) or every channel expires now: socket closed (1001), HEAD 404 | `{channelsExpired}` |
//! | `stop_heartbeats` | `{secs?}` | no heartbeats and no pongs, for `secs` or until cleared | `{secs}` |
//! | `malformed_frame` | | a text frame that is not JSON on every socket | `{socketsAffected}` |
//! | `oversized_frame` | `{bytes}` | on every socket subscribed to an agent topic, that topic's current message padded with JSON whitespace to more than `bytes` | `{socketsAffected, frameBytes}` |
//! | `duplicate` | | each socket's last agent-topic message again, same bytes | `{socketsAffected}` |
//! | `stale_event` | | for each subscribed activity/presence/routingStatus topic of an agent with a previous state, that topic's message built from the previous state (older timestamps) | `{socketsAffected, messages}` |
//! | `slow_rest` | `{delayMs, secs}` | every `/api/v2` answer delayed | `{delayMs, secs}` |
//! | `server_errors` | `{count, status}` | the next `count` `/api/v2` calls answer `status` (500..=599) | `{count, status}` |
//! | `schedule_processing` | `{count}` | the next `count` schedule searches answer `Processing` | `{count}` |
//! | `channel_without_uri` | `{count}` | the next `count` created channels have no `connectUri` (a broken answer) | `{count}` |
//! | `clear` | | disarms every lasting fault | `{cleared: true}` |

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::optional_body;
use crate::{
    genesys::topics::{UserTopicKind, user_topic},
    sim::{
        hub::{Control, close_reason},
        messages::{self, Body},
        respond::ApiError,
        world::{Sim, lock},
    },
};

/// Longest duration a fault accepts (`secs`, `graceSecs`; `delayMs` up to a minute).
const MAX_FAULT_SECS: u64 = 86_400 * 365;
const MAX_DELAY_MS: u64 = 60_000;

/// Largest `oversized_frame` size.
const MAX_OVERSIZED_BYTES: usize = 64 * 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sim/faults/{name}", web::post().to(fault));
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultBody {
    secs: Option<u64>,
    grace_secs: Option<u64>,
    channel_id: Option<String>,
    bytes: Option<usize>,
    delay_ms: Option<u64>,
    count: Option<u32>,
    status: Option<u16>,
}

fn required<T>(value: Option<T>, name: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::BadRequest(format!("{name} is required")))
}

/// `value` if it is at most `max`.
fn at_most(value: Option<u64>, max: u64, name: &str) -> Result<Option<u64>, ApiError> {
    match value {
        Some(v) if v > max => Err(ApiError::BadRequest(format!(
            "{name} must be at most {max}"
        ))),
        other => Ok(other),
    }
}

async fn fault(
    path: web::Path<String>,
    body: web::Bytes,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let mut body: FaultBody = optional_body(&body)?;
    body.secs = at_most(body.secs, MAX_FAULT_SECS, "secs")?;
    body.grace_secs = at_most(body.grace_secs, MAX_FAULT_SECS, "graceSecs")?;
    body.delay_ms = at_most(body.delay_ms, MAX_DELAY_MS, "delayMs")?;
    let now = sim.clock.now();
    let summary = match name.as_str() {
        "clear" => {
            lock(&sim.faults).clear();
            json!({"cleared": true})
        }
        "expire_tokens" => json!({"tokensExpired": lock(&sim.auth).expire_all(now)}),
        "rate_limit" => {
            let secs = required(body.secs, "secs")?;
            lock(&sim.faults).arm_rate_limit(now + Duration::from_secs(secs));
            json!({"secs": secs})
        }
        "slow_rest" => {
            let (delay_ms, secs) = (
                required(body.delay_ms, "delayMs")?,
                required(body.secs, "secs")?,
            );
            lock(&sim.faults).arm_slow_rest(
                Duration::from_millis(delay_ms),
                now + Duration::from_secs(secs),
            );
            json!({"delayMs": delay_ms, "secs": secs})
        }
        "server_errors" => {
            let (count, status) = (
                required(body.count, "count")?,
                required(body.status, "status")?,
            );
            if !(500..=599).contains(&status) {
                return Err(ApiError::BadRequest("status must be in 500..=599".into()));
            }
            lock(&sim.faults).arm_server_errors(count, status);
            json!({"count": count, "status": status})
        }
        "schedule_processing" => {
            let count = required(body.count, "count")?;
            lock(&sim.faults).arm_schedule_processing(count);
            json!({"count": count})
        }
        "channel_without_uri" => {
            let count = required(body.count, "count")?;
            lock(&sim.faults).arm_channels_without_uri(count);
            json!({"count": count})
        }
        "stop_heartbeats" => {
            lock(&sim.faults).stop_heartbeats(body.secs.map(|s| now + Duration::from_secs(s)));
            json!({"secs": body.secs})
        }
        "expire_channel" => expire_channel(&sim, body.channel_id)?,
        "drop_sockets" => {
            json!({"socketsAffected": each_socket(&sim, |hub, slot| hub.control(slot, Control::Abort))})
        }
        "socket_closing" => {
            let grace = body
                .grace_secs
                .map_or(sim.config.socket_closing_grace, Duration::from_secs);
            let affected = each_socket(&sim, |hub, slot| {
                let Some(id) = hub.channel_at(slot).map(|c| c.id.clone()) else {
                    return false;
                };
                hub.deliver(slot, &messages::socket_closing(&id), false)
                    && hub.control(slot, Control::CloseAfter(grace))
            });
            json!({"socketsAffected": affected, "graceSecs": grace.as_secs_f64()})
        }
        "malformed_frame" => {
            let text = bytestring::ByteString::from_static("{\"topicName\":\"v2.users.");
            json!({"socketsAffected": each_socket(&sim, |hub, slot| hub.deliver(slot, &text, false))})
        }
        "duplicate" => {
            let affected = each_socket(&sim, |hub, slot| {
                hub.last_event(slot)
                    .is_some_and(|text| hub.deliver(slot, &text, false))
            });
            json!({"socketsAffected": affected})
        }
        "oversized_frame" => oversized(&sim, required(body.bytes, "bytes")?)?,
        "stale_event" => stale(&sim),
        other => return Err(ApiError::NotFound(format!("unknown fault {other:?}"))),
    };
    tracing::info!(fault = %name, %summary, "Fault applied.");
    Ok(HttpResponse::Ok().json(summary))
}

/// Runs `act` on every connected socket; counts those it reports affected.
fn each_socket(sim: &Sim, mut act: impl FnMut(&mut crate::sim::hub::Hub, u32) -> bool) -> usize {
    let mut hub = lock(&sim.hub);
    let slots = hub.connected_slots();
    slots
        .into_iter()
        .filter(|slot| act(&mut hub, *slot))
        .count()
}

fn expire_channel(sim: &Sim, channel_id: Option<String>) -> Result<Value, ApiError> {
    let mut hub = lock(&sim.hub);
    let ids: Vec<String> = match channel_id {
        Some(id) if hub.get(&id).is_none() => {
            return Err(ApiError::NotFound(format!("channel {id} not found")));
        }
        Some(id) => vec![id],
        None => hub.channels().map(|c| c.id.clone()).collect(),
    };
    for id in &ids {
        hub.remove(
            id,
            close_reason(actix_ws::CloseCode::Away, "channel expired"),
        );
    }
    Ok(json!({"channelsExpired": ids.len()}))
}

fn oversized(sim: &Sim, bytes: usize) -> Result<Value, ApiError> {
    if bytes > MAX_OVERSIZED_BYTES {
        return Err(ApiError::BadRequest(format!(
            "bytes must be at most {MAX_OVERSIZED_BYTES}"
        )));
    }
    let world = lock(&sim.world);
    let mut hub = lock(&sim.hub);
    let mut affected = 0;
    let mut frame_bytes = 0;
    for slot in hub.connected_slots() {
        let target = hub.channel_at(slot).and_then(|c| {
            c.topics
                .values()
                .flatten()
                .find(|t| t.kind != UserTopicKind::Schedules)
                .copied()
        });
        let Some(target) = target else {
            continue;
        };
        let state = &world.agents[target.agent as usize];
        let body = state_body(
            sim,
            target.agent,
            target.kind,
            &state.status,
            &state.conversations,
        );
        let text = messages::agent_envelope(
            &sim.org,
            target.agent,
            target.kind,
            &body,
            uuid::Uuid::new_v4(),
        );
        let mut padded = String::with_capacity(bytes + 2);
        padded.push_str(text.strip_suffix('}').unwrap_or(&text));
        let pad = (bytes + 1).saturating_sub(padded.len() + 1);
        padded.extend(std::iter::repeat_n(' ', pad));
        padded.push('}');
        frame_bytes = padded.len();
        if hub.deliver(slot, &padded.into(), false) {
            affected += 1;
        }
    }
    Ok(json!({"socketsAffected": affected, "frameBytes": frame_bytes}))
}

/// The body of an agent topic from a given status.
fn state_body(
    sim: &Sim,
    agent: u32,
    kind: UserTopicKind,
    status: &crate::sim::agent::Status,
    conversations: &[u8; 5],
) -> Body {
    let org = &sim.org;
    match kind {
        UserTopicKind::Presence => Body::Presence(messages::presence(org, status)),
        UserTopicKind::RoutingStatus => {
            Body::RoutingStatus(messages::routing_status(org, agent, status))
        }
        UserTopicKind::ConversationSummary => {
            Body::ConversationSummary(messages::conversation_summary(org, agent, conversations))
        }
        UserTopicKind::Activity | UserTopicKind::Schedules => {
            Body::Activity(messages::activity(org, agent, status))
        }
    }
}

fn stale(sim: &Sim) -> Value {
    let world = lock(&sim.world);
    let mut hub = lock(&sim.hub);
    let (mut affected, mut sent) = (0, 0);
    for slot in hub.connected_slots() {
        let targets: Vec<_> = hub
            .channel_at(slot)
            .map(|c| c.topics.values().flatten().copied().collect())
            .unwrap_or_default();
        let mut any = false;
        for target in targets {
            let stale_kind = matches!(
                target.kind,
                UserTopicKind::Activity | UserTopicKind::Presence | UserTopicKind::RoutingStatus
            );
            let state = &world.agents[target.agent as usize];
            let Some(previous) = state.previous.filter(|_| stale_kind) else {
                continue;
            };
            let body = state_body(
                sim,
                target.agent,
                target.kind,
                &previous,
                &state.conversations,
            );
            let topic = user_topic(&sim.org.agents[target.agent as usize].id, target.kind);
            let text = messages::envelope(topic, &body, uuid::Uuid::new_v4());
            if hub.deliver(slot, &text, false) {
                any = true;
                sent += 1;
            }
        }
        affected += usize::from(any);
    }
    json!({"socketsAffected": affected, "messages": sent})
}
