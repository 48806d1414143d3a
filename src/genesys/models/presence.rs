//! Presence: the organization's definitions (both endpoints) and a user's current presence.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::{EntityRef, time, users::PagedListing};

/// The ten system (primary) presences. Each API surface spells them differently
/// (`AVAILABLE` on notifications, `OnQueue` on `/presence/definitions`, `On Queue` on the
/// deprecated `/presencedefinitions`), so [`SystemPresence::parse`] folds case and drops
/// spaces and underscores; anything else is kept as [`SystemPresence::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SystemPresence {
    Available,
    Away,
    Busy,
    Offline,
    Idle,
    OnQueue,
    Meal,
    Training,
    Meeting,
    Break,
    Other(String),
}

impl SystemPresence {
    pub const ALL: [SystemPresence; 10] = [
        Self::Available,
        Self::Away,
        Self::Busy,
        Self::Offline,
        Self::Idle,
        Self::OnQueue,
        Self::Meal,
        Self::Training,
        Self::Meeting,
        Self::Break,
    ];

    pub fn parse(raw: &str) -> Self {
        let folded: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect();
        match folded.as_str() {
            "available" => Self::Available,
            "away" => Self::Away,
            "busy" => Self::Busy,
            "offline" => Self::Offline,
            "idle" => Self::Idle,
            "onqueue" => Self::OnQueue,
            "meal" => Self::Meal,
            "training" => Self::Training,
            "meeting" => Self::Meeting,
            "break" => Self::Break,
            _ => Self::Other(raw.to_owned()),
        }
    }

    /// The `/api/v2/presence/definitions` spelling (`Available`, `OnQueue`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Available => "Available",
            Self::Away => "Away",
            Self::Busy => "Busy",
            Self::Offline => "Offline",
            Self::Idle => "Idle",
            Self::OnQueue => "OnQueue",
            Self::Meal => "Meal",
            Self::Training => "Training",
            Self::Meeting => "Meeting",
            Self::Break => "Break",
            Self::Other(raw) => raw,
        }
    }

    /// The `/api/v2/presence/definitions` spelling, without copying a known name.
    pub fn to_cow(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Self::Other(raw) => std::borrow::Cow::Owned(raw.clone()),
            known => std::borrow::Cow::Borrowed(known.static_name()),
        }
    }

    fn static_name(&self) -> &'static str {
        match self {
            Self::Available => "Available",
            Self::Away => "Away",
            Self::Busy => "Busy",
            Self::Offline => "Offline",
            Self::Idle => "Idle",
            Self::OnQueue => "OnQueue",
            Self::Meal => "Meal",
            Self::Training => "Training",
            Self::Meeting => "Meeting",
            Self::Break => "Break",
            Self::Other(_) => "Other",
        }
    }

    /// The notification spelling (`AVAILABLE`, `ON_QUEUE`).
    pub fn notification_str(&self) -> String {
        match self {
            Self::OnQueue => "ON_QUEUE".to_owned(),
            Self::Other(raw) => raw.clone(),
            other => other.as_str().to_uppercase(),
        }
    }

    /// The deprecated `/api/v2/presencedefinitions` spelling (`Available`, `On Queue`).
    pub fn legacy_str(&self) -> &str {
        match self {
            Self::OnQueue => "On Queue",
            other => other.as_str(),
        }
    }

    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

impl std::fmt::Display for SystemPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{"id": "...", "systemPresence": "AVAILABLE"}` inside presence events and `UserPresence`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceDefinitionRef {
    pub id: Option<String>,
    pub system_presence: Option<String>,
    pub self_uri: Option<String>,
}

impl PresenceDefinitionRef {
    pub fn kind(&self) -> Option<SystemPresence> {
        self.system_presence.as_deref().map(SystemPresence::parse)
    }
}

/// `GET /api/v2/users/{id}/presences/purecloud`, an entry of the bulk endpoint
/// (`UcUserPresence`, which adds `userId`), and `User.presence` with `expand=presence`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPresence {
    pub id: Option<String>,
    pub name: Option<String>,
    /// Set on entries of the bulk endpoint (`UcUserPresence.userId`).
    pub user_id: Option<String>,
    pub source: Option<String>,
    pub source_id: Option<String>,
    pub primary: Option<bool>,
    pub presence_definition: Option<PresenceDefinitionRef>,
    pub future_presence_definition: Option<PresenceDefinitionRef>,
    pub message: Option<String>,
    #[serde(default, with = "time::option")]
    pub modified_date: Option<DateTime<Utc>>,
    pub self_uri: Option<String>,
}

/// An entry of `GET /api/v2/presence/definitions` (`OrganizationPresenceDefinition`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceDefinition {
    pub id: String,
    pub name: Option<String>,
    /// `System` | `User`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub language_labels: Option<BTreeMap<String, String>>,
    pub system_presence: Option<String>,
    pub division_id: Option<String>,
    pub deactivated: Option<bool>,
    pub self_uri: Option<String>,
}

/// `GET /api/v2/presence/definitions` (not paged).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceDefinitionListing {
    pub total: Option<u64>,
    #[serde(default = "Vec::new")]
    pub entities: Vec<PresenceDefinition>,
    pub self_uri: Option<String>,
}

/// An entry of the deprecated, paged `GET /api/v2/presencedefinitions`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationPresence {
    pub id: String,
    pub name: Option<String>,
    pub language_labels: Option<BTreeMap<String, String>>,
    pub system_presence: Option<String>,
    pub deactivated: Option<bool>,
    pub primary: Option<bool>,
    pub created_by: Option<EntityRef>,
    #[serde(default, with = "time::option")]
    pub created_date: Option<DateTime<Utc>>,
    pub modified_by: Option<EntityRef>,
    #[serde(default, with = "time::option")]
    pub modified_date: Option<DateTime<Utc>>,
    pub self_uri: Option<String>,
}

/// An entry of `GET /api/v2/systempresences` (`SystemPresence`: `{id, name, selfUri}`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemPresenceEntity {
    pub id: String,
    pub name: Option<String>,
    pub self_uri: Option<String>,
}

/// One page of the deprecated `GET /api/v2/presencedefinitions`.
pub type LegacyPresenceListing = PagedListing<OrganizationPresence>;

#[cfg(test)]
mod tests {
    use super::SystemPresence;

    #[test]
    fn every_surface_spelling_of_a_presence_means_the_same_presence() {
        for raw in ["AVAILABLE", "Available", "available"] {
            assert_eq!(SystemPresence::parse(raw), SystemPresence::Available);
        }
        for raw in ["OnQueue", "On Queue", "ON_QUEUE", "onqueue"] {
            assert_eq!(SystemPresence::parse(raw), SystemPresence::OnQueue);
        }
        assert_eq!(
            SystemPresence::parse("Lunch"),
            SystemPresence::Other("Lunch".into())
        );
    }

    #[test]
    fn spellings_round_trip_through_every_surface() {
        for p in SystemPresence::ALL {
            assert_eq!(SystemPresence::parse(p.as_str()), p);
            assert_eq!(SystemPresence::parse(&p.notification_str()), p);
            assert_eq!(SystemPresence::parse(p.legacy_str()), p);
        }
    }
}
