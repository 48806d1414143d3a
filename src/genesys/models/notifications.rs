//! The Notifications API: channels, topic subscriptions, and the messages that arrive on a
//! channel's WebSocket (the envelope and each topic's body).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_with::skip_serializing_none;

use super::{EntityRef, PresenceDefinitionRef, RoutingStatus, UserConversationSummary, time};

/// `POST /api/v2/notifications/channels`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub connect_uri: Option<String>,
    pub id: String,
    #[serde(default, with = "time::option")]
    pub expires: Option<DateTime<Utc>>,
}

/// `GET /api/v2/notifications/channels`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelEntityListing {
    #[serde(default)]
    pub entities: Vec<Channel>,
}

/// A subscription. Requests need only `id`; answers add `state` and, when rejected, the
/// reason and the missing permissions.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelTopic {
    pub id: String,
    pub state: Option<TopicState>,
    pub rejection_reason: Option<String>,
    pub missing_permissions: Option<Vec<String>>,
    pub self_uri: Option<String>,
}

impl ChannelTopic {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            state: None,
            rejection_reason: None,
            missing_permissions: None,
            self_uri: None,
        }
    }
}

/// `Permitted | Rejected`, unknown values kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum TopicState {
    Permitted,
    Rejected,
    Other(String),
}

impl From<String> for TopicState {
    fn from(raw: String) -> Self {
        match raw.as_str() {
            "Permitted" => Self::Permitted,
            "Rejected" => Self::Rejected,
            _ => Self::Other(raw),
        }
    }
}

impl From<TopicState> for String {
    fn from(state: TopicState) -> Self {
        match state {
            TopicState::Permitted => "Permitted".into(),
            TopicState::Rejected => "Rejected".into(),
            TopicState::Other(raw) => raw,
        }
    }
}

/// The subscriptions endpoints' answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelTopicEntityListing {
    #[serde(default)]
    pub entities: Vec<ChannelTopic>,
}

/// Every WebSocket message: `{topicName, version, eventBody, metadata}`. Heartbeats and pongs
/// carry neither `version` nor `metadata`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<B> {
    pub topic_name: String,
    pub version: Option<String>,
    pub event_body: B,
    pub metadata: Option<EnvelopeMetadata>,
}

/// An envelope whose body is left unparsed until its topic says what it is.
pub type RawEnvelope = Envelope<Box<RawValue>>;

#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeMetadata {
    #[serde(rename = "CorrelationId")]
    pub correlation_id: Option<String>,
    // Other keys (e.g. `"type": "message"` on chat topics) are ignored: capturing them with
    // `#[serde(flatten)]` made every envelope parse buffer its metadata (measured).
}

/// `v2.users.{id}.activity`: presence, routing status and active queues in one message.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEvent {
    pub id: Option<String>,
    pub routing_status: Option<RoutingStatus>,
    pub presence: Option<ActivityPresence>,
    pub out_of_office: Option<OutOfOffice>,
    pub active_queue_ids: Option<Vec<String>>,
    #[serde(default, with = "time::option")]
    pub date_active_queues_changed: Option<DateTime<Utc>>,
}

#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityPresence {
    pub presence_definition: Option<PresenceDefinitionRef>,
    pub presence_message: Option<String>,
    #[serde(default, with = "time::option")]
    pub modified_date: Option<DateTime<Utc>>,
}

#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutOfOffice {
    pub active: Option<bool>,
    #[serde(default, with = "time::option")]
    pub modified_date: Option<DateTime<Utc>>,
}

/// `v2.users.{id}.presence`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEvent {
    pub source: Option<String>,
    pub presence_definition: Option<PresenceDefinitionRef>,
    pub primary: Option<bool>,
    pub message: Option<String>,
    #[serde(default, with = "time::option")]
    pub modified_date: Option<DateTime<Utc>>,
    pub future_presence_definition: Option<PresenceDefinitionRef>,
}

/// `v2.users.{id}.routingStatus`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingStatusEvent {
    pub id: Option<String>,
    pub routing_status: Option<RoutingStatus>,
    pub error_info: Option<serde_json::Value>,
}

/// `v2.users.{id}.conversationsummary`.
pub type ConversationSummaryEvent = UserConversationSummary;

/// `v2.users.{id}.workforcemanagement.schedules`: says which shifts changed, not what they
/// now are, so the schedule must be fetched again.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleUpdateEvent {
    pub user: Option<EntityRef>,
    #[serde(default, with = "time::option")]
    pub start_date: Option<DateTime<Utc>>,
    #[serde(default, with = "time::option")]
    pub end_date: Option<DateTime<Utc>>,
    pub updates: Option<Vec<ScheduleUpdate>>,
}

#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleUpdate {
    /// `Added | Edited | Deleted`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub shift_start_dates: Option<Vec<String>>,
}

/// `channel.metadata`: heartbeats (`WebSocket Heartbeat`) and ping replies (`pong`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMetadataBody {
    pub message: String,
}

/// `v2.system.*` bodies, e.g. `v2.system.socket_closing` (`SystemMessageSystemMessage`).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemMessage {
    pub channel_id: Option<String>,
    pub system_topic_type: Option<String>,
    pub correlation_id: Option<String>,
    pub organization_id: Option<String>,
    pub user_id: Option<String>,
    pub oauth_client_id: Option<String>,
    pub oauth_client_org_id: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub data: Option<serde_json::Value>,
}
