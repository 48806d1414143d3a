//! What a validator knows of one agent, and how each kind of input changes it: the
//! duplicate and stale checks live here.

use std::{
    collections::BTreeMap,
    hash::{DefaultHasher, Hash, Hasher},
    time::Instant,
};

use chrono::{DateTime, Utc};

use crate::{
    genesys::models::{
        ActivityEvent, PresenceDefinitionRef, RoutingStatusKind, SystemPresence, User,
        UserConversationSummary,
    },
    reference::ReferenceData,
};

/// How many recent correlation ids are remembered per agent for duplicate detection.
const RECENT_IDS: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct Presence {
    pub system: SystemPresence,
    pub definition_id: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    pub status: RoutingStatusKind,
    pub at: Option<DateTime<Utc>>,
}

/// Active interactions of one media type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaLoad {
    /// ACD (contact centre) interactions.
    pub acd: u32,
    /// Non-ACD (enterprise) interactions.
    pub non_acd: u32,
}

/// What an input did to the tracked state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// Nothing new (the same message again).
    Duplicate,
    /// Older than what is already known.
    Stale,
    /// Accepted, but nothing changed (e.g. reconciliation found the state as known).
    Unchanged,
}

/// One agent's state as the validator knows it.
#[derive(Debug, Clone, Default)]
pub struct Tracked {
    pub presence: Option<Presence>,
    pub routing: Option<Routing>,
    pub queues: Vec<String>,
    /// Whether `queues` came from a notification (`activeQueueIds`) rather than from queue
    /// memberships (after a REST observation).
    pub queues_reported: bool,
    pub conversations: Option<BTreeMap<&'static str, MediaLoad>>,
    /// When the last conversation summary notification arrived.
    conversations_seen_at: Option<Instant>,
    /// When the interaction counts last changed (a summary carries no time of its own, so
    /// this is when agentcast received it).
    conversations_changed_at: Option<DateTime<Utc>>,
    recent_ids: [u64; RECENT_IDS],
    recent_next: usize,
}

impl Tracked {
    /// Remembers a correlation id; false when it was seen recently (a duplicate).
    pub fn first_sighting(&mut self, correlation_id: &str) -> bool {
        let mut hasher = DefaultHasher::new();
        correlation_id.hash(&mut hasher);
        let id = hasher.finish() | 1; // never 0, the empty slot
        if self.recent_ids.contains(&id) {
            return false;
        }
        self.recent_ids[self.recent_next] = id;
        self.recent_next = (self.recent_next + 1) % RECENT_IDS;
        true
    }

    /// When the current state began: the latest of the presence and routing times Genesys
    /// gave, and the time the interaction counts last changed.
    pub fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.activity_at().max(self.conversations_changed_at)
    }

    /// The upstream time of the current presence/routing state.
    pub fn activity_at(&self) -> Option<DateTime<Utc>> {
        let p = self.presence.as_ref().and_then(|p| p.at);
        let r = self.routing.as_ref().and_then(|r| r.at);
        p.max(r)
    }

    /// Total active interactions.
    pub fn interaction_load(&self) -> u32 {
        self.conversations
            .as_ref()
            .map_or(0, |c| c.values().map(|m| m.acd + m.non_acd).sum())
    }

    /// A `v2.users.{id}.activity` notification.
    pub fn apply_activity(&mut self, event: &ActivityEvent, reference: &ReferenceData) -> Applied {
        let presence = event.presence.as_ref().and_then(|p| {
            presence_from(p.presence_definition.as_ref(), reference).map(
                |(system, definition_id)| Presence {
                    system,
                    definition_id,
                    at: p.modified_date,
                },
            )
        });
        let routing = event.routing_status.as_ref().map(|r| Routing {
            status: r.status.clone(),
            at: r.start_time,
        });
        let event_at = presence
            .as_ref()
            .and_then(|p| p.at)
            .max(routing.as_ref().and_then(|r| r.at));
        if let (Some(event_at), Some(known_at)) = (event_at, self.activity_at())
            && event_at < known_at
        {
            return Applied::Stale;
        }
        let presence = presence.or_else(|| self.presence.clone());
        let routing = routing.or_else(|| self.routing.clone());
        let queues = event
            .active_queue_ids
            .clone()
            .unwrap_or_else(|| self.queues.clone());
        if presence == self.presence && routing == self.routing && queues == self.queues {
            return Applied::Duplicate;
        }
        self.presence = presence;
        self.routing = routing;
        self.queues = queues;
        self.queues_reported |= event.active_queue_ids.is_some();
        Applied::Changed
    }

    /// Derives the active queues from queue memberships when no notification has reported
    /// them; true when that changed them.
    pub fn derive_queues(&mut self, agent_id: &str, reference: &ReferenceData) -> bool {
        let Some(presence) = self.presence.as_ref().filter(|_| !self.queues_reported) else {
            return false;
        };
        let derived = reference.active_queues(agent_id, &presence.system);
        if derived == self.queues {
            return false;
        }
        self.queues = derived;
        true
    }

    /// A `v2.users.{id}.conversationsummary` notification.
    pub fn apply_conversations(
        &mut self,
        summary: &UserConversationSummary,
        received_at: Instant,
    ) -> Applied {
        self.conversations_seen_at = Some(received_at);
        let loads = loads_of(summary);
        if self.conversations.as_ref() == Some(&loads) {
            return Applied::Unchanged;
        }
        self.conversations = Some(loads);
        self.conversations_changed_at = Some(Utc::now());
        Applied::Changed
    }

    /// State read over REST after a reconnect (`GET /api/v2/users?expand=…`), fetched at
    /// `fetched_at`. Each part replaces the known one only when it is newer: a presence or
    /// routing status with a later timestamp, a conversation summary when no notification
    /// arrived since the fetch began.
    pub fn apply_observed(
        &mut self,
        user: &User,
        fetched_at: Instant,
        reference: &ReferenceData,
    ) -> Applied {
        let mut changed = false;
        if let Some(p) = &user.presence
            && let Some((system, definition_id)) =
                presence_from(p.presence_definition.as_ref(), reference)
        {
            let observed = Presence {
                system,
                definition_id,
                at: p.modified_date,
            };
            if newer(observed.at, self.presence.as_ref().and_then(|k| k.at))
                && Some(&observed) != self.presence.as_ref()
            {
                self.presence = Some(observed);
                // activeQueueIds is not on the REST user: what a notification said is stale.
                self.queues_reported = false;
                changed = true;
            }
        }
        if let Some(r) = &user.routing_status {
            let observed = Routing {
                status: r.status.clone(),
                at: r.start_time,
            };
            if newer(observed.at, self.routing.as_ref().and_then(|k| k.at))
                && Some(&observed) != self.routing.as_ref()
            {
                self.routing = Some(observed);
                changed = true;
            }
        }
        if let Some(summary) = &user.conversation_summary
            && self
                .conversations_seen_at
                .is_none_or(|seen| seen < fetched_at)
        {
            let loads = loads_of(summary);
            if self.conversations.as_ref() != Some(&loads) {
                self.conversations = Some(loads);
                self.conversations_changed_at = Some(Utc::now());
                changed = true;
            }
        }
        changed |= self.derive_queues(&user.id, reference);
        if changed {
            Applied::Changed
        } else {
            Applied::Unchanged
        }
    }
}

/// True when `observed` should replace `known`: nothing known, or observed strictly later
/// (an observation without a timestamp replaces only nothing).
fn newer(observed: Option<DateTime<Utc>>, known: Option<DateTime<Utc>>) -> bool {
    match (observed, known) {
        (_, None) => true,
        (Some(o), Some(k)) => o > k,
        (None, Some(_)) => false,
    }
}

/// The system presence of a definition reference: its `systemPresence` in any spelling, or
/// the organisation's definition when only the id is given.
fn presence_from(
    definition: Option<&PresenceDefinitionRef>,
    reference: &ReferenceData,
) -> Option<(SystemPresence, Option<String>)> {
    let definition = definition?;
    let system = match (&definition.system_presence, &definition.id) {
        (Some(raw), _) => SystemPresence::parse(raw),
        (None, Some(id)) => reference.presence_of_definition(id)?.clone(),
        (None, None) => return None,
    };
    Some((system, definition.id.clone()))
}

fn loads_of(summary: &UserConversationSummary) -> BTreeMap<&'static str, MediaLoad> {
    summary
        .media()
        .map(|(media, s)| {
            let active = |c: &Option<crate::genesys::models::MediaCounts>| {
                c.as_ref().and_then(|c| c.active).unwrap_or(0)
            };
            (
                media,
                MediaLoad {
                    acd: active(&s.contact_center),
                    non_acd: active(&s.enterprise),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesys::models::{ActivityPresence, MediaCounts, MediaSummary, RoutingStatus};

    fn at(s: &str) -> DateTime<Utc> {
        format!("2026-11-27T{s}Z").parse().unwrap()
    }

    fn activity(presence: &str, p_at: &str, routing: &str, r_at: &str) -> ActivityEvent {
        ActivityEvent {
            id: Some("a".into()),
            routing_status: Some(RoutingStatus {
                user_id: None,
                status: routing.to_string().into(),
                start_time: Some(at(r_at)),
            }),
            presence: Some(ActivityPresence {
                presence_definition: Some(PresenceDefinitionRef {
                    id: Some("def".into()),
                    system_presence: Some(presence.into()),
                    self_uri: None,
                }),
                presence_message: None,
                modified_date: Some(at(p_at)),
            }),
            out_of_office: None,
            active_queue_ids: Some(vec!["q".into()]),
            date_active_queues_changed: None,
        }
    }

    #[test]
    fn a_newer_activity_changes_the_state_an_older_one_is_stale_the_same_one_a_duplicate() {
        let reference = ReferenceData::default();
        let mut t = Tracked::default();
        assert_eq!(
            t.apply_activity(
                &activity("AVAILABLE", "10:00:00", "IDLE", "10:00:00"),
                &reference
            ),
            Applied::Changed
        );
        assert_eq!(
            t.presence.as_ref().unwrap().system,
            SystemPresence::Available
        );
        assert_eq!(
            t.apply_activity(
                &activity("ON_QUEUE", "10:01:00", "IDLE", "10:01:00"),
                &reference
            ),
            Applied::Changed
        );
        assert_eq!(t.presence.as_ref().unwrap().system, SystemPresence::OnQueue);
        assert_eq!(
            t.apply_activity(
                &activity("AVAILABLE", "10:00:00", "IDLE", "10:00:00"),
                &reference
            ),
            Applied::Stale
        );
        assert_eq!(
            t.apply_activity(
                &activity("ON_QUEUE", "10:01:00", "IDLE", "10:01:00"),
                &reference
            ),
            Applied::Duplicate
        );
        // Presence unchanged (older modifiedDate) but routing moved on: the newest part counts.
        assert_eq!(
            t.apply_activity(
                &activity("ON_QUEUE", "10:01:00", "INTERACTING", "10:02:00"),
                &reference
            ),
            Applied::Changed
        );
        assert_eq!(
            t.routing.as_ref().unwrap().status,
            RoutingStatusKind::Interacting
        );
    }

    #[test]
    fn correlation_ids_seen_recently_are_duplicates() {
        let mut t = Tracked::default();
        assert!(t.first_sighting("c1"));
        assert!(!t.first_sighting("c1"));
        for i in 0..RECENT_IDS {
            assert!(t.first_sighting(&format!("x{i}")));
        }
        assert!(
            t.first_sighting("c1"),
            "forgotten after {RECENT_IDS} others"
        );
    }

    #[test]
    fn conversation_counts_split_acd_and_non_acd() {
        let mut t = Tracked::default();
        let summary = UserConversationSummary {
            chat: Some(MediaSummary {
                contact_center: Some(MediaCounts {
                    active: Some(3),
                    acw: Some(0),
                }),
                enterprise: Some(MediaCounts {
                    active: Some(1),
                    acw: None,
                }),
            }),
            ..Default::default()
        };
        assert_eq!(
            t.apply_conversations(&summary, Instant::now()),
            Applied::Changed
        );
        assert_eq!(
            t.conversations.as_ref().unwrap()["chat"],
            MediaLoad { acd: 3, non_acd: 1 }
        );
        assert_eq!(t.interaction_load(), 4);
        assert_eq!(
            t.apply_conversations(&summary, Instant::now()),
            Applied::Unchanged
        );
    }

    #[test]
    fn a_reconciled_observation_replaces_only_what_is_older() {
        let reference = ReferenceData::default();
        let mut t = Tracked::default();
        t.apply_activity(
            &activity("ON_QUEUE", "10:05:00", "IDLE", "10:05:00"),
            &reference,
        );
        let observed = |presence: &str, p_at: &str| User {
            id: "a".into(),
            name: None,
            email: None,
            username: None,
            state: None,
            division: None,
            routing_status: None,
            presence: Some(crate::genesys::models::UserPresence {
                id: None,
                name: None,
                user_id: None,
                source: None,
                source_id: None,
                primary: None,
                presence_definition: Some(PresenceDefinitionRef {
                    id: None,
                    system_presence: Some(presence.into()),
                    self_uri: None,
                }),
                future_presence_definition: None,
                message: None,
                modified_date: Some(at(p_at)),
                self_uri: None,
            }),
            conversation_summary: None,
            version: None,
            self_uri: None,
        };
        assert_eq!(
            t.apply_observed(
                &observed("Available", "10:00:00"),
                Instant::now(),
                &reference
            ),
            Applied::Unchanged
        );
        assert_eq!(
            t.apply_observed(&observed("Break", "10:09:00"), Instant::now(), &reference),
            Applied::Changed
        );
        assert_eq!(t.presence.as_ref().unwrap().system, SystemPresence::Break);
    }
}
