//! Users (`GET /api/v2/users`), their routing status and live conversation counts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::{presence::UserPresence, time};

/// A page of any paged listing (`UserEntityListing`, `OrganizationPresenceEntityListing`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PagedListing<T> {
    #[serde(default = "Vec::new")]
    pub entities: Vec<T>,
    pub page_size: Option<u32>,
    pub page_number: Option<u32>,
    pub total: Option<u64>,
    pub first_uri: Option<String>,
    pub self_uri: Option<String>,
    pub next_uri: Option<String>,
    pub previous_uri: Option<String>,
    pub last_uri: Option<String>,
    pub page_count: Option<u32>,
}

/// One page of `GET /api/v2/users`.
pub type UserListing = PagedListing<User>;

/// A user (agent). Only the fields agentcast reads or the emulator must serve are modelled;
/// everything else in the real payload is ignored.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
    /// `active` | `inactive` | `deleted`.
    pub state: Option<String>,
    pub division: Option<super::EntityRef>,
    pub routing_status: Option<RoutingStatus>,
    pub presence: Option<UserPresence>,
    pub conversation_summary: Option<UserConversationSummary>,
    pub version: Option<u64>,
    pub self_uri: Option<String>,
}

/// `GET /api/v2/users/{id}/routingstatus`, and `User.routingStatus` with `expand=routingStatus`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingStatus {
    pub user_id: Option<String>,
    pub status: RoutingStatusKind,
    #[serde(default, with = "time::option")]
    pub start_time: Option<DateTime<Utc>>,
}

/// `OFF_QUEUE | IDLE | INTERACTING | NOT_RESPONDING | COMMUNICATING`; any other value is kept
/// as [`RoutingStatusKind::Other`] rather than failing the whole message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum RoutingStatusKind {
    OffQueue,
    Idle,
    Interacting,
    NotResponding,
    Communicating,
    Other(String),
}

impl RoutingStatusKind {
    pub fn as_str(&self) -> &str {
        match self {
            Self::OffQueue => "OFF_QUEUE",
            Self::Idle => "IDLE",
            Self::Interacting => "INTERACTING",
            Self::NotResponding => "NOT_RESPONDING",
            Self::Communicating => "COMMUNICATING",
            Self::Other(raw) => raw,
        }
    }

    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_))
    }

    /// The status as text, without copying a known value.
    pub fn to_cow(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Self::OffQueue => "OFF_QUEUE".into(),
            Self::Idle => "IDLE".into(),
            Self::Interacting => "INTERACTING".into(),
            Self::NotResponding => "NOT_RESPONDING".into(),
            Self::Communicating => "COMMUNICATING".into(),
            Self::Other(raw) => raw.clone().into(),
        }
    }
}

impl From<String> for RoutingStatusKind {
    fn from(raw: String) -> Self {
        match raw.as_str() {
            "OFF_QUEUE" => Self::OffQueue,
            "IDLE" => Self::Idle,
            "INTERACTING" => Self::Interacting,
            "NOT_RESPONDING" => Self::NotResponding,
            "COMMUNICATING" => Self::Communicating,
            _ => Self::Other(raw),
        }
    }
}

impl From<RoutingStatusKind> for String {
    fn from(kind: RoutingStatusKind) -> Self {
        match kind {
            RoutingStatusKind::Other(raw) => raw,
            known => known.as_str().to_owned(),
        }
    }
}

impl std::fmt::Display for RoutingStatusKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Live interaction counts per media type (`UserConversationSummary`), pushed on
/// `v2.users.{id}.conversationsummary` and returned by `expand=conversationSummary`.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserConversationSummary {
    pub user_id: Option<String>,
    pub call: Option<MediaSummary>,
    pub callback: Option<MediaSummary>,
    pub email: Option<MediaSummary>,
    pub message: Option<MediaSummary>,
    pub chat: Option<MediaSummary>,
    pub social_expression: Option<MediaSummary>,
    pub video: Option<MediaSummary>,
}

impl UserConversationSummary {
    /// `(media type, summary)` for every media type present, with the names utilization uses.
    pub fn media(&self) -> impl Iterator<Item = (&'static str, &MediaSummary)> {
        [
            ("call", &self.call),
            ("callback", &self.callback),
            ("email", &self.email),
            ("message", &self.message),
            ("chat", &self.chat),
            ("socialExpression", &self.social_expression),
            ("video", &self.video),
        ]
        .into_iter()
        .filter_map(|(name, summary)| summary.as_ref().map(|s| (name, s)))
    }
}

#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaSummary {
    /// ACD interactions.
    pub contact_center: Option<MediaCounts>,
    /// Non-ACD interactions.
    pub enterprise: Option<MediaCounts>,
}

impl MediaSummary {
    /// Active interactions, ACD and non-ACD together.
    pub fn active(&self) -> u32 {
        let active = |c: &Option<MediaCounts>| c.as_ref().and_then(|c| c.active).unwrap_or(0);
        active(&self.contact_center) + active(&self.enterprise)
    }
}

#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaCounts {
    pub active: Option<u32>,
    pub acw: Option<u32>,
}
