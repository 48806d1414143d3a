//! One agent's live state: presence, routing status, active queues, out of office and
//! interaction counts, plus the state before the last change (the `stale_event` fault replays
//! it). Everything is `Copy` and allocation-free so a change costs no heap work.

use chrono::{DateTime, Duration, Utc};

use crate::genesys::models::{RoutingStatusKind, SystemPresence};

/// The ten system presences, in the order of [`SystemPresence::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Presence {
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
}

impl Presence {
    pub const ALL: [Presence; 10] = [
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

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn system(self) -> SystemPresence {
        SystemPresence::ALL[self.index()].clone()
    }

    /// Any surface's spelling (`ON_QUEUE`, `On Queue`, `OnQueue`, `onqueue`).
    pub fn parse(raw: &str) -> Option<Self> {
        let parsed = SystemPresence::parse(raw);
        Self::ALL.into_iter().find(|p| p.system() == parsed)
    }

    /// `/api/v2/presence/definitions` and `/sim/truth`: `Available`, `OnQueue`.
    pub fn canonical(self) -> &'static str {
        [
            "Available",
            "Away",
            "Busy",
            "Offline",
            "Idle",
            "OnQueue",
            "Meal",
            "Training",
            "Meeting",
            "Break",
        ][self.index()]
    }

    /// Notification bodies: `AVAILABLE`, `ON_QUEUE`.
    pub fn notification(self) -> &'static str {
        [
            "AVAILABLE",
            "AWAY",
            "BUSY",
            "OFFLINE",
            "IDLE",
            "ON_QUEUE",
            "MEAL",
            "TRAINING",
            "MEETING",
            "BREAK",
        ][self.index()]
    }

    /// The deprecated `/api/v2/presencedefinitions` and user-presence spelling: `On Queue`.
    pub fn legacy(self) -> &'static str {
        match self {
            Self::OnQueue => "On Queue",
            other => other.canonical(),
        }
    }
}

/// Routing statuses (`OFF_QUEUE | IDLE | INTERACTING | NOT_RESPONDING | COMMUNICATING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    OffQueue,
    Idle,
    Interacting,
    NotResponding,
    Communicating,
}

impl Routing {
    pub const ALL: [Routing; 5] = [
        Self::OffQueue,
        Self::Idle,
        Self::Interacting,
        Self::NotResponding,
        Self::Communicating,
    ];

    pub fn kind(self) -> RoutingStatusKind {
        match self {
            Self::OffQueue => RoutingStatusKind::OffQueue,
            Self::Idle => RoutingStatusKind::Idle,
            Self::Interacting => RoutingStatusKind::Interacting,
            Self::NotResponding => RoutingStatusKind::NotResponding,
            Self::Communicating => RoutingStatusKind::Communicating,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OffQueue => "OFF_QUEUE",
            Self::Idle => "IDLE",
            Self::Interacting => "INTERACTING",
            Self::NotResponding => "NOT_RESPONDING",
            Self::Communicating => "COMMUNICATING",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(raw.trim()))
    }
}

/// The media types utilization limits (`call, callback, chat, email, message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Call,
    Callback,
    Chat,
    Email,
    Message,
}

impl Media {
    pub const ALL: [Media; 5] = [
        Self::Call,
        Self::Callback,
        Self::Chat,
        Self::Email,
        Self::Message,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        ["call", "callback", "chat", "email", "message"][self.index()]
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == raw)
    }
}

/// Most queues an agent can be active in at once (the admin API refuses more).
pub const MAX_ACTIVE_QUEUES: usize = 8;

/// A small set of queue indices (into `Org::queues`), kept inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueSet {
    ids: [u16; MAX_ACTIVE_QUEUES],
    len: u8,
}

impl QueueSet {
    pub const EMPTY: QueueSet = QueueSet {
        ids: [0; MAX_ACTIVE_QUEUES],
        len: 0,
    };

    /// Adds `queue` unless present; false when the set is full.
    pub fn insert(&mut self, queue: u16) -> bool {
        if self.as_slice().contains(&queue) {
            return true;
        }
        if usize::from(self.len) == MAX_ACTIVE_QUEUES {
            return false;
        }
        self.ids[usize::from(self.len)] = queue;
        self.len += 1;
        true
    }

    pub fn as_slice(&self) -> &[u16] {
        &self.ids[..usize::from(self.len)]
    }
}

/// What the presence, routingStatus and activity topics report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub presence: Presence,
    /// Index into `Org::presences` (a System definition or a User one mapped to `presence`).
    pub definition: u16,
    pub presence_modified: DateTime<Utc>,
    pub routing: Routing,
    pub routing_start: DateTime<Utc>,
    pub queues: QueueSet,
    pub queues_changed: DateTime<Utc>,
    pub out_of_office: bool,
    pub out_of_office_modified: DateTime<Utc>,
}

/// One agent's live state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    pub status: Status,
    /// The status before the last change that touched it, for the `stale_event` fault.
    pub previous: Option<Status>,
    /// Active ACD interactions per [`Media`].
    pub conversations: [u8; 5],
    /// The last timestamp handed out, so timestamps are strictly increasing per agent.
    pub last_stamp: DateTime<Utc>,
}

impl AgentState {
    pub fn new(status: Status, conversations: [u8; 5]) -> Self {
        let last_stamp = status
            .presence_modified
            .max(status.routing_start)
            .max(status.queues_changed)
            .max(status.out_of_office_modified);
        Self {
            status,
            previous: None,
            conversations,
            last_stamp,
        }
    }

    /// A timestamp for a change now: wall-clock, but always after the previous one
    /// (Genesys timestamps have millisecond precision, so the step is 1 ms).
    pub fn stamp(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let next = now.max(self.last_stamp + Duration::milliseconds(1));
        self.last_stamp = next;
        next
    }

    /// Keeps the current status as `previous` before it changes.
    pub fn remember(&mut self) {
        self.previous = Some(self.status);
    }

    pub fn total_conversations(&self) -> u32 {
        self.conversations.iter().map(|c| u32::from(*c)).sum()
    }

    /// The routing status an agent in `presence` has with its current interactions.
    pub fn routing_for(&self, presence: Presence) -> Routing {
        match presence {
            Presence::OnQueue if self.total_conversations() > 0 => Routing::Interacting,
            Presence::OnQueue => Routing::Idle,
            _ => Routing::OffQueue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_back_to_its_presence() {
        for p in Presence::ALL {
            for raw in [p.canonical(), p.notification(), p.legacy()] {
                assert_eq!(Presence::parse(raw), Some(p), "{raw}");
            }
        }
        assert_eq!(Presence::parse("Lunch"), None);
    }

    #[test]
    fn stamps_strictly_increase_even_when_the_clock_does_not() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        let status = Status {
            presence: Presence::Offline,
            definition: 3,
            presence_modified: t,
            routing: Routing::OffQueue,
            routing_start: t,
            queues: QueueSet::EMPTY,
            queues_changed: t,
            out_of_office: false,
            out_of_office_modified: t,
        };
        let mut agent = AgentState::new(status, [0; 5]);
        let a = agent.stamp(t);
        let b = agent.stamp(t);
        assert!(a > t && b > a);
    }
}
