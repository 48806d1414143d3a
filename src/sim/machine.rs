//! The state machine: one call to [`step`] makes one change to one agent and says which
//! topics it touched. Every decision is drawn from the world's seeded generator, so a seed
//! gives the same sequence of changes; the only outside input is the instant at which the
//! schedule is read (see `org/schedule.rs` for why that stays reproducible near the anchor).
//!
//! A change is one of:
//! - a presence change, weighted by the agent's scheduled activity (On Queue during on-queue
//!   work, Break/Meal during those activities, Offline off shift, now and then Busy, Away,
//!   Meeting or Training). Routing status follows: `OFF_QUEUE` unless On Queue, then `IDLE`
//!   or `INTERACTING`; active queues are the agent's queues while On Queue.
//! - an interaction starting or ending (call, callback, chat, email, message) for an agent
//!   with interactions; about 5% of the starts that find the media type full go ahead anyway,
//!   so over-capacity happens now and then.
//! - rarely (0.3%) `NOT_RESPONDING` for an idle on-queue agent, or a schedule edit.
//!
//! An agent already doing what its schedule says is "settled": the step then tries another
//! agent (up to [`ATTEMPTS`] times) so changes concentrate where something happens.

use chrono::{DateTime, Utc};

use crate::{
    genesys::{
        models::{ActivityCategory, EntityRef, ScheduleUpdate, ScheduleUpdateEvent, time},
        topics::UserTopicKind,
    },
    sim::{
        agent::{AgentState, Media, Presence, QueueSet, Routing},
        ids::{below, chance, weighted},
        org::{
            CODE_ON_QUEUE, Org,
            schedule::{Scheduled, scheduled_at},
        },
        world::World,
    },
};

/// Agents tried per step before a change is forced on the last one.
pub const ATTEMPTS: usize = 4;

/// A set of topics, emitted in [`Topics::ORDER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Topics(u8);

impl Topics {
    /// The order messages of one change are sent in.
    pub const ORDER: [UserTopicKind; 5] = [
        UserTopicKind::Presence,
        UserTopicKind::RoutingStatus,
        UserTopicKind::Activity,
        UserTopicKind::ConversationSummary,
        UserTopicKind::Schedules,
    ];

    fn bit(kind: UserTopicKind) -> u8 {
        1 << Self::ORDER.iter().position(|k| *k == kind).unwrap_or(0)
    }

    pub fn with(mut self, kind: UserTopicKind) -> Self {
        self.0 |= Self::bit(kind);
        self
    }

    pub fn contains(self, kind: UserTopicKind) -> bool {
        self.0 & Self::bit(kind) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = UserTopicKind> {
        Self::ORDER.into_iter().filter(move |k| self.contains(*k))
    }
}

/// One change to one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub agent: u32,
    pub topics: Topics,
    /// The body of the schedules message, when `topics` has it.
    pub schedule: Option<ScheduleUpdateEvent>,
}

impl Change {
    fn new(agent: u32, topics: Topics) -> Self {
        Self {
            agent,
            topics,
            schedule: None,
        }
    }
}

/// Makes one change somewhere in the org.
pub fn step(org: &Org, world: &mut World, now: DateTime<Utc>) -> Change {
    let n = world.agents.len() as u32;
    let mut agent = 0;
    for _ in 0..ATTEMPTS {
        agent = below(&mut world.rng, n);
        if let Some(change) = try_step(org, world, agent, now) {
            return change;
        }
    }
    let category = scheduled_category(org, world, agent, now);
    let current = world.agents[agent as usize].status.presence;
    let target = weighted(
        &mut world.rng,
        &presence_weights(category.as_ref(), current),
    )
    .unwrap_or(Presence::Available);
    change_presence(org, world, agent, target, now)
}

/// The category the agent's schedule has at `now` (`None`: off shift).
pub fn scheduled_category(
    org: &Org,
    world: &World,
    agent: u32,
    now: DateTime<Utc>,
) -> Option<ActivityCategory> {
    match scheduled_at(&world.shifts[agent as usize], now) {
        Scheduled::OffShift => None,
        Scheduled::OnShift(code) => {
            Some(org.category(agent, code.unwrap_or(CODE_ON_QUEUE)).clone())
        }
    }
}

fn try_step(org: &Org, world: &mut World, agent: u32, now: DateTime<Utc>) -> Option<Change> {
    if chance(&mut world.rng, 3)
        && let Some(change) = edit_schedule(org, world, agent)
    {
        return Some(change);
    }
    let state = &world.agents[agent as usize];
    let (presence, routing) = (state.status.presence, state.status.routing);
    let total = state.total_conversations();
    let roll = below(&mut world.rng, 100);
    if presence == Presence::OnQueue {
        if routing == Routing::Idle && roll < 2 {
            return Some(not_responding(world, agent, now));
        }
        if roll < 45 {
            return Some(start_interaction(world, agent, now));
        }
        if roll < 80 {
            return Some(if total > 0 {
                end_interaction(world, agent, now)
            } else {
                start_interaction(world, agent, now)
            });
        }
    } else if total > 0 && roll < 30 {
        return Some(end_interaction(world, agent, now));
    }
    let category = scheduled_category(org, world, agent, now);
    let target = weighted(&mut world.rng, &presence_weights(category.as_ref(), None))?;
    (target != presence).then(|| change_presence(org, world, agent, target, now))
}

/// Presence weights for an activity category, leaving `exclude` out.
fn presence_weights(
    category: Option<&ActivityCategory>,
    exclude: impl Into<Option<Presence>>,
) -> Vec<(Presence, u32)> {
    use Presence::*;
    let table: &[(Presence, u32)] = match category {
        None => &[(Offline, 90), (Available, 4), (Away, 3), (OnQueue, 3)],
        Some(ActivityCategory::OnQueueWork) => &[
            (OnQueue, 80),
            (Available, 8),
            (Away, 3),
            (Busy, 3),
            (Break, 2),
            (Meal, 1),
            (Meeting, 1),
            (Training, 1),
            (Offline, 1),
        ],
        Some(ActivityCategory::Break) => &[(Break, 80), (OnQueue, 8), (Available, 6), (Away, 6)],
        Some(ActivityCategory::Meal) => &[(Meal, 80), (Away, 8), (OnQueue, 6), (Available, 6)],
        Some(ActivityCategory::Meeting) => {
            &[(Meeting, 80), (Busy, 8), (OnQueue, 6), (Available, 6)]
        }
        Some(ActivityCategory::Training) => {
            &[(Training, 80), (Busy, 8), (OnQueue, 6), (Available, 6)]
        }
        Some(ActivityCategory::OffQueueWork) => {
            &[(Busy, 60), (Available, 25), (OnQueue, 10), (Away, 5)]
        }
        Some(_) => &[(Offline, 85), (Away, 10), (Available, 5)],
    };
    let exclude = exclude.into();
    table
        .iter()
        .copied()
        .filter(|(p, _)| Some(*p) != exclude)
        .collect()
}

fn change_presence(
    org: &Org,
    world: &mut World,
    agent: u32,
    presence: Presence,
    now: DateTime<Utc>,
) -> Change {
    let alternates = &org.alternates[presence.index()];
    let definition = if !alternates.is_empty() && chance(&mut world.rng, 250) {
        alternates[below(&mut world.rng, alternates.len() as u32) as usize]
    } else {
        Org::system_definition(presence)
    };
    let queues = org.agents[agent as usize].queues;
    let state = &mut world.agents[agent as usize];
    let topics = set_presence(state, presence, definition, queues, now);
    Change::new(agent, topics)
}

/// Sets a presence and what follows from it (routing status, active queues); returns the
/// topics to emit. Shared with the admin API.
pub fn set_presence(
    state: &mut AgentState,
    presence: Presence,
    definition: u16,
    member_queues: QueueSet,
    now: DateTime<Utc>,
) -> Topics {
    let ts = state.stamp(now);
    state.remember();
    let routing = state.routing_for(presence);
    let status = &mut state.status;
    status.presence = presence;
    status.definition = definition;
    status.presence_modified = ts;
    let mut topics = Topics::default()
        .with(UserTopicKind::Presence)
        .with(UserTopicKind::Activity);
    if routing != status.routing {
        status.routing = routing;
        status.routing_start = ts;
        topics = topics.with(UserTopicKind::RoutingStatus);
    }
    let queues = if presence == Presence::OnQueue {
        member_queues
    } else {
        QueueSet::EMPTY
    };
    if queues != status.queues {
        status.queues = queues;
        status.queues_changed = ts;
    }
    topics
}

/// Re-derives the routing status after interaction counts changed (On Queue agents only).
pub fn settle_routing(state: &mut AgentState, now: DateTime<Utc>) -> Topics {
    let topics = Topics::default().with(UserTopicKind::ConversationSummary);
    let routing = state.routing_for(state.status.presence);
    if routing == state.status.routing {
        state.stamp(now);
        return topics;
    }
    let ts = state.stamp(now);
    state.remember();
    state.status.routing = routing;
    state.status.routing_start = ts;
    topics
        .with(UserTopicKind::RoutingStatus)
        .with(UserTopicKind::Activity)
}

fn start_interaction(world: &mut World, agent: u32, now: DateTime<Utc>) -> Change {
    let media = weighted(
        &mut world.rng,
        &[
            (Media::Call, 45),
            (Media::Chat, 25),
            (Media::Email, 15),
            (Media::Message, 10),
            (Media::Callback, 5),
        ],
    )
    .unwrap_or(Media::Call);
    let capacity = world.utilization(agent).capacity(media);
    let over_anyway = chance(&mut world.rng, 50);
    let state = &world.agents[agent as usize];
    let count = state.conversations[media.index()];
    let starts = count < capacity || (over_anyway && count < u8::MAX);
    if !starts && state.total_conversations() > 0 {
        return end_interaction(world, agent, now);
    }
    let state = &mut world.agents[agent as usize];
    if starts {
        state.conversations[media.index()] += 1;
    }
    Change::new(agent, settle_routing(state, now))
}

fn end_interaction(world: &mut World, agent: u32, now: DateTime<Utc>) -> Change {
    let active: Vec<Media> = (Media::ALL.into_iter())
        .filter(|m| world.agents[agent as usize].conversations[m.index()] > 0)
        .collect();
    let state = &mut world.agents[agent as usize];
    if !active.is_empty() {
        let media = active[below(&mut world.rng, active.len() as u32) as usize];
        state.conversations[media.index()] -= 1;
    }
    Change::new(agent, settle_routing(state, now))
}

fn not_responding(world: &mut World, agent: u32, now: DateTime<Utc>) -> Change {
    let state = &mut world.agents[agent as usize];
    let ts = state.stamp(now);
    state.remember();
    state.status.routing = Routing::NotResponding;
    state.status.routing_start = ts;
    let topics = Topics::default()
        .with(UserTopicKind::RoutingStatus)
        .with(UserTopicKind::Activity);
    Change::new(agent, topics)
}

/// Moves a break of the agent's anchor-day shift, or lengthens that shift.
fn edit_schedule(org: &Org, world: &mut World, agent: u32) -> Option<Change> {
    let anchor = org.anchor;
    let shifts = &mut world.shifts[agent as usize];
    let shift = shifts
        .iter_mut()
        .min_by_key(|s| (s.start - anchor).num_seconds().abs())?;
    shift.edit(&mut world.rng);
    let schedule = schedule_update(
        org,
        agent,
        shift.start,
        shift.end(),
        "Edited",
        &[shift.start],
    );
    Some(Change {
        agent,
        topics: Topics::default().with(UserTopicKind::Schedules),
        schedule: Some(schedule),
    })
}

/// A `v2.users.{id}.workforcemanagement.schedules` body (Genesys reference §3.7).
pub fn schedule_update(
    org: &Org,
    agent: u32,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    kind: &str,
    shift_starts: &[DateTime<Utc>],
) -> ScheduleUpdateEvent {
    ScheduleUpdateEvent {
        user: Some(EntityRef::new(org.agents[agent as usize].id.clone())),
        start_date: Some(start),
        end_date: Some(end),
        updates: Some(vec![ScheduleUpdate {
            kind: Some(kind.to_owned()),
            shift_start_dates: Some(shift_starts.iter().map(time::format).collect()),
        }]),
    }
}
