//! Reference data: what validation needs to know besides the event itself — the roster,
//! presence definitions, utilization limits, published shifts and activity categories.
//!
//! [`ReferenceData`] is an immutable snapshot; [`ReferenceCache`] holds the current one and
//! is swapped whole when the [`ReferenceActor`](crate::actors::reference::ReferenceActor)
//! refreshes something, so validators on other threads read it without locks and the hot
//! path never calls REST.
//! This module is data only: it depends on no actor.

mod schedule;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

pub use schedule::{AgentSchedule, ScheduleLookup, ShiftWindow};

use crate::{
    event::AgentId,
    genesys::models::{SystemPresence, UtilizationResponse},
};

/// Maximum concurrent interactions per media type, from utilization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capacity {
    pub per_media: BTreeMap<String, MediaCapacity>,
    /// `media → maximum`, as every payload shows it (made once, shared).
    maximums: Arc<BTreeMap<String, u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaCapacity {
    pub maximum: u32,
    /// Whether non-ACD interactions count toward the limit.
    pub include_non_acd: bool,
}

impl Capacity {
    pub fn from_response(response: &UtilizationResponse) -> Self {
        let per_media = response
            .utilization
            .iter()
            .filter_map(|(media, u)| {
                u.maximum_capacity.map(|maximum| {
                    (
                        media.clone(),
                        MediaCapacity {
                            maximum,
                            include_non_acd: u.include_non_acd.unwrap_or(false),
                        },
                    )
                })
            })
            .collect::<BTreeMap<String, MediaCapacity>>();
        let maximums = Arc::new(
            per_media
                .iter()
                .map(|(m, c)| (m.clone(), c.maximum))
                .collect(),
        );
        Self {
            per_media,
            maximums,
        }
    }

    /// `media → maximum`, as the payload shows it.
    pub fn maximums(&self) -> &Arc<BTreeMap<String, u32>> {
        &self.maximums
    }
}

/// Where an agent's capacity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacitySource<'a> {
    /// The agent's own utilization settings.
    Agent(&'a Capacity),
    /// The organisation default (the agent has no override, or it is not fetched yet).
    Organization(&'a Capacity),
    /// Neither could be had.
    Unknown,
}

impl<'a> CapacitySource<'a> {
    pub fn capacity(self) -> Option<&'a Capacity> {
        match self {
            Self::Agent(c) | Self::Organization(c) => Some(c),
            Self::Unknown => None,
        }
    }
}

/// One immutable snapshot of everything validation reads.
#[derive(Debug, Clone, Default)]
pub struct ReferenceData {
    /// Active users agentcast follows.
    pub roster: HashSet<AgentId>,
    /// Presence definition id → system presence.
    pub presence_definitions: HashMap<String, SystemPresence>,
    /// The organisation's default utilization, once fetched.
    pub org_capacity: Option<Capacity>,
    /// Agents whose own utilization was fetched, and their limits.
    pub agent_capacity: HashMap<AgentId, Capacity>,
    /// Published shifts of every agent in a business unit whose schedule search succeeded.
    pub schedules: HashMap<AgentId, Arc<AgentSchedule>>,
    /// Business units, and whether their schedules are loaded.
    pub business_units: BTreeMap<String, bool>,
    /// Whether the list of business units itself is known.
    pub business_units_known: bool,
    /// When schedules were last loaded successfully.
    pub schedules_loaded_at: Option<DateTime<Utc>>,
    /// The queues each agent is joined to (active in while On Queue), once loaded.
    pub memberships: HashMap<AgentId, Vec<String>>,
}

impl ReferenceData {
    /// The agent's capacity and where it came from.
    pub fn capacity_of(&self, agent_id: &str) -> CapacitySource<'_> {
        match (self.agent_capacity.get(agent_id), &self.org_capacity) {
            (Some(own), _) => CapacitySource::Agent(own),
            (None, Some(org)) => CapacitySource::Organization(org),
            (None, None) => CapacitySource::Unknown,
        }
    }

    /// The agent's published schedule, or why there is none.
    pub fn schedule_of(&self, agent_id: &str) -> ScheduleLookup<'_> {
        if let Some(schedule) = self.schedules.get(agent_id) {
            return ScheduleLookup::Known(schedule);
        }
        let all_loaded =
            self.business_units_known && self.business_units.values().all(|loaded| *loaded);
        if all_loaded {
            ScheduleLookup::NotScheduled
        } else {
            ScheduleLookup::Unknown
        }
    }

    /// The queues an agent in `presence` is active in, as far as memberships tell: its joined
    /// queues while On Queue, none otherwise.
    pub fn active_queues(&self, agent_id: &str, presence: &SystemPresence) -> Vec<String> {
        if *presence == SystemPresence::OnQueue {
            self.memberships.get(agent_id).cloned().unwrap_or_default()
        } else {
            Vec::new()
        }
    }

    /// The system presence a definition id stands for.
    pub fn presence_of_definition(&self, definition_id: &str) -> Option<&SystemPresence> {
        self.presence_definitions.get(definition_id)
    }
}

/// The current snapshot, shared by the ReferenceActor (writer) and every validator (readers).
#[derive(Debug, Clone, Default)]
pub struct ReferenceCache {
    current: Arc<ArcSwap<ReferenceData>>,
}

impl ReferenceCache {
    pub fn new(data: ReferenceData) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(data)),
        }
    }

    /// The current snapshot (cheap; hold it for the duration of one validation).
    pub fn load(&self) -> Arc<ReferenceData> {
        self.current.load_full()
    }

    /// Replaces the snapshot with `change` applied to a copy of it.
    pub fn update(&self, change: impl FnOnce(&mut ReferenceData)) {
        let mut next = ReferenceData::clone(&self.current.load());
        change(&mut next);
        self.current.store(Arc::new(next));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesys::models::MediaUtilization;

    fn capacity(chat: u32) -> Capacity {
        let mut response = UtilizationResponse::default();
        response.utilization.insert(
            "chat".into(),
            MediaUtilization {
                maximum_capacity: Some(chat),
                interruptable_media_types: None,
                include_non_acd: Some(true),
            },
        );
        Capacity::from_response(&response)
    }

    #[test]
    fn an_agent_override_wins_over_the_org_default_and_nothing_known_is_unknown() {
        let mut data = ReferenceData::default();
        assert_eq!(data.capacity_of("a"), CapacitySource::Unknown);
        data.org_capacity = Some(capacity(4));
        assert_eq!(
            data.capacity_of("a"),
            CapacitySource::Organization(&capacity(4))
        );
        data.agent_capacity.insert("a".into(), capacity(2));
        assert_eq!(data.capacity_of("a"), CapacitySource::Agent(&capacity(2)));
        assert_eq!(
            data.capacity_of("a").capacity().unwrap().per_media["chat"].maximum,
            2
        );
        assert!(data.capacity_of("a").capacity().unwrap().per_media["chat"].include_non_acd);
    }

    #[test]
    fn an_agent_missing_from_loaded_schedules_is_not_scheduled_but_unknown_while_loading() {
        let mut data = ReferenceData::default();
        assert!(matches!(data.schedule_of("a"), ScheduleLookup::Unknown));
        data.business_units_known = true;
        data.business_units.insert("bu".into(), false);
        assert!(matches!(data.schedule_of("a"), ScheduleLookup::Unknown));
        data.business_units.insert("bu".into(), true);
        assert!(matches!(
            data.schedule_of("a"),
            ScheduleLookup::NotScheduled
        ));
    }

    #[test]
    fn updates_are_seen_by_new_readers_and_not_by_held_snapshots() {
        let cache = ReferenceCache::default();
        let before = cache.load();
        cache.update(|d| {
            d.roster.insert("a".into());
        });
        assert!(before.roster.is_empty());
        assert!(cache.load().roster.contains("a"));
    }
}
