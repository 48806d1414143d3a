//! What the sockets carry: topic bodies built from an agent's state with the shared wire
//! models, the envelope, and the fixed channel messages (heartbeat, pong, socket closing).

use bytestring::ByteString;
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::{
    genesys::{
        models::{
            ActivityEvent, ActivityPresence, ChannelMetadataBody, Envelope, EnvelopeMetadata,
            MediaCounts, MediaSummary, OutOfOffice, PresenceDefinitionRef, PresenceEvent,
            RoutingStatus, RoutingStatusEvent, ScheduleUpdateEvent, SystemMessage,
            UserConversationSummary,
        },
        topics::{CHANNEL_METADATA, SOCKET_CLOSING, UserTopicKind, user_topic},
    },
    sim::{
        agent::{Media, Status},
        org::Org,
    },
};

/// The body of one agent-topic message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Body {
    Presence(PresenceEvent),
    RoutingStatus(RoutingStatusEvent),
    Activity(ActivityEvent),
    ConversationSummary(UserConversationSummary),
    Schedules(ScheduleUpdateEvent),
}

/// Keys holding wall-clock timestamps, left out of `GET /sim/events`.
pub const TIMESTAMP_KEYS: &[&str] = &["modifiedDate", "startTime", "dateActiveQueuesChanged"];

fn definition_ref(org: &Org, status: &Status) -> PresenceDefinitionRef {
    PresenceDefinitionRef {
        id: Some(org.presences[usize::from(status.definition)].id.clone()),
        system_presence: Some(status.presence.notification().to_owned()),
        self_uri: None,
    }
}

/// `v2.users.{id}.presence` (Genesys reference §3.1). `systemPresence` uses the notification spelling
/// (`AVAILABLE`, `ON_QUEUE`; only `AVAILABLE` is confirmed).
pub fn presence(org: &Org, status: &Status) -> PresenceEvent {
    PresenceEvent {
        source: Some("PURECLOUD".to_owned()),
        presence_definition: Some(definition_ref(org, status)),
        primary: Some(true),
        message: Some(String::new()),
        modified_date: Some(status.presence_modified),
        future_presence_definition: None,
    }
}

fn routing(status: &Status) -> RoutingStatus {
    RoutingStatus {
        user_id: None,
        status: status.routing.kind(),
        start_time: Some(status.routing_start),
    }
}

/// `v2.users.{id}.routingStatus` (Genesys reference §3.2).
pub fn routing_status(org: &Org, agent: u32, status: &Status) -> RoutingStatusEvent {
    RoutingStatusEvent {
        id: Some(org.agents[agent as usize].id.clone()),
        routing_status: Some(routing(status)),
        error_info: None,
    }
}

/// `v2.users.{id}.activity` (Genesys reference §3.3).
pub fn activity(org: &Org, agent: u32, status: &Status) -> ActivityEvent {
    ActivityEvent {
        id: Some(org.agents[agent as usize].id.clone()),
        routing_status: Some(routing(status)),
        presence: Some(ActivityPresence {
            presence_definition: Some(definition_ref(org, status)),
            presence_message: Some(String::new()),
            modified_date: Some(status.presence_modified),
        }),
        out_of_office: Some(OutOfOffice {
            active: Some(status.out_of_office),
            modified_date: Some(status.out_of_office_modified),
        }),
        active_queue_ids: Some(
            (status.queues.as_slice().iter())
                .map(|q| org.queues[usize::from(*q)].id.clone())
                .collect(),
        ),
        date_active_queues_changed: Some(status.queues_changed),
    }
}

/// `v2.users.{id}.conversationsummary` (Genesys reference §3.4): ACD counts under `contactCenter`; the emulator
/// has no non-ACD interactions and no after-call work, so those are 0.
pub fn conversation_summary(
    org: &Org,
    agent: u32,
    conversations: &[u8; 5],
) -> UserConversationSummary {
    let summary = |active: u8| {
        Some(MediaSummary {
            contact_center: Some(MediaCounts {
                active: Some(u32::from(active)),
                acw: Some(0),
            }),
            enterprise: Some(MediaCounts {
                active: Some(0),
                acw: Some(0),
            }),
        })
    };
    let count = |m: Media| conversations[m.index()];
    UserConversationSummary {
        user_id: Some(org.agents[agent as usize].id.clone()),
        call: summary(count(Media::Call)),
        callback: summary(count(Media::Callback)),
        email: summary(count(Media::Email)),
        message: summary(count(Media::Message)),
        chat: summary(count(Media::Chat)),
        social_expression: summary(0),
        video: summary(0),
    }
}

/// The envelope `{topicName, version: "2", eventBody, metadata: {CorrelationId}}`, serialized.
pub fn envelope<B: Serialize>(topic_name: String, body: B, correlation_id: Uuid) -> ByteString {
    let envelope = Envelope {
        topic_name,
        version: Some("2".to_owned()),
        event_body: body,
        metadata: Some(EnvelopeMetadata {
            correlation_id: Some(correlation_id.to_string()),
        }),
    };
    to_text(&envelope)
}

/// An agent topic's envelope.
pub fn agent_envelope(
    org: &Org,
    agent: u32,
    kind: UserTopicKind,
    body: &Body,
    correlation_id: Uuid,
) -> ByteString {
    envelope(
        user_topic(&org.agents[agent as usize].id, kind),
        body,
        correlation_id,
    )
}

/// `{"topicName":"channel.metadata","eventBody":{"message": ...}}`: no `version` and no
/// `metadata`, like the third-party sample (whether real heartbeats carry them is
/// UNCONFIRMED).
pub fn channel_metadata(message: &str) -> ByteString {
    to_text(&Envelope {
        topic_name: CHANNEL_METADATA.to_owned(),
        version: None,
        event_body: ChannelMetadataBody {
            message: message.to_owned(),
        },
        metadata: None,
    })
}

/// `v2.system.socket_closing`: the body fields populated for it are UNCONFIRMED; the emulator
/// sends `channelId` and a `message`.
pub fn socket_closing(channel_id: &str) -> ByteString {
    envelope(
        SOCKET_CLOSING.to_owned(),
        SystemMessage {
            channel_id: Some(channel_id.to_owned()),
            message: Some("The socket is closing for maintenance; reconnect now.".to_owned()),
            ..SystemMessage::default()
        },
        Uuid::new_v4(),
    )
}

fn to_text<T: Serialize>(value: &T) -> ByteString {
    // Serializing these plain structs to a String cannot fail (no maps with non-string keys,
    // no failing Serialize impls); an empty frame would be the visible symptom if it did.
    ByteString::from(serde_json::to_string(value).unwrap_or_default())
}

/// A body as compact JSON with its wall-clock timestamps removed (for `GET /sim/events`).
/// Kept as raw JSON text: a parsed tree would cost ~10 times the memory.
pub fn without_timestamps(body: &Body) -> Box<RawValue> {
    let mut value = serde_json::to_value(body).unwrap_or_default();
    strip(&mut value);
    // Re-serializing a Value cannot fail; `null` would be the visible symptom if it did.
    serde_json::value::to_raw_value(&value).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

fn strip(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| !TIMESTAMP_KEYS.contains(&k.as_str()));
            map.values_mut().for_each(strip);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}
