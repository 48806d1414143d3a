//! The org's initial state at the anchor: each agent's shifts, time off, utilization override,
//! presence, routing status and interactions, mostly following the schedule, with a few
//! violations planted on purpose (off shift but Available/On Queue; over capacity) so a demo
//! shows some at once.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use super::{
    CODE_ON_QUEUE, CODE_TIME_OFF, Org,
    schedule::{self, Scheduled, ShiftPlan, ShiftShape, TimeOffMarker},
    utilization::Utilization,
};
use crate::{
    genesys::models::ActivityCategory,
    sim::{
        agent::{AgentState, Media, Presence, QueueSet, Routing, Status},
        ids::{below, between, chance, uuid_from, weighted},
    },
};

/// What changes later, as generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initial {
    pub agents: Vec<AgentState>,
    pub shifts: Vec<Vec<ShiftPlan>>,
    pub time_off: Vec<Vec<TimeOffMarker>>,
    pub overrides: Vec<Option<Utilization>>,
    /// Seed of the state machine's generator.
    pub machine_seed: u64,
}

pub(super) fn initial_state(rng: &mut impl Rng, org: &Org, anchor: DateTime<Utc>) -> Initial {
    let n = org.agents.len();
    let mut initial = Initial {
        agents: Vec::with_capacity(n),
        shifts: Vec::with_capacity(n),
        time_off: Vec::with_capacity(n),
        overrides: Vec::with_capacity(n),
        machine_seed: 0,
    };
    let seconds = |s: u32| Duration::seconds(i64::from(s));
    for i in 0..n as u32 {
        let shape = match below(rng, 1000) {
            0..=9 => ShiftShape::TimeOff,
            10..=84 => ShiftShape::Ended,
            85..=159 => ShiftShape::Later,
            _ => ShiftShape::OnNow,
        };
        let shifts = schedule::generate_shifts(rng, anchor, shape);
        let time_off = if shape == ShiftShape::TimeOff {
            vec![TimeOffMarker {
                date: anchor.date_naive(),
                minutes: 480,
                code: CODE_TIME_OFF,
                request_id: uuid_from(rng).to_string(),
            }]
        } else {
            Vec::new()
        };
        let overrides = chance(rng, 100).then(|| Utilization {
            caps: [
                1,
                1,
                between(rng, 2, 6) as u8,
                between(rng, 1, 3) as u8,
                between(rng, 1, 3) as u8,
            ],
        });
        let caps = overrides.unwrap_or(Utilization::ORG_DEFAULT);
        let category = match schedule::scheduled_at(&shifts, anchor) {
            Scheduled::OffShift => None,
            Scheduled::OnShift(code) => {
                Some(org.category(i, code.unwrap_or(CODE_ON_QUEUE)).clone())
            }
        };
        // Planted violations: every 37th off-shift agent is Available or On Queue.
        let presence = match (&category, shape) {
            (_, ShiftShape::TimeOff) => Presence::Offline,
            (None, _) if i % 37 == 5 => [Presence::OnQueue, Presence::Available][i as usize % 2],
            (None, _) => Presence::Offline,
            (Some(c), _) => scheduled_presence(rng, c),
        };
        let mut conversations = [0u8; 5];
        if presence == Presence::OnQueue && chance(rng, 550) {
            let media = weighted(
                rng,
                &[
                    (Media::Call, 50),
                    (Media::Chat, 25),
                    (Media::Email, 15),
                    (Media::Message, 10),
                ],
            )
            .unwrap_or(Media::Call);
            conversations[media.index()] = 1;
        }
        // Planted violation: every 53rd on-queue agent has one call more than allowed.
        if presence == Presence::OnQueue && i % 53 == 11 {
            conversations[Media::Call.index()] = caps.capacity(Media::Call) + 1;
        }
        let modified = anchor - seconds(between(rng, 60, 7_200));
        let definition = match &org.alternates[presence.index()] {
            alts if !alts.is_empty() && chance(rng, 250) => {
                alts[below(rng, alts.len() as u32) as usize]
            }
            _ => Org::system_definition(presence),
        };
        let mut state = AgentState::new(
            Status {
                presence,
                definition,
                presence_modified: modified,
                routing: Routing::OffQueue,
                routing_start: modified,
                queues: QueueSet::EMPTY,
                queues_changed: modified,
                out_of_office: shape == ShiftShape::TimeOff,
                out_of_office_modified: anchor - seconds(between(rng, 86_400, 172_800)),
            },
            conversations,
        );
        state.status.routing = state.routing_for(presence);
        if presence == Presence::OnQueue {
            state.status.queues = org.agents[i as usize].queues;
        }
        initial.agents.push(state);
        initial.shifts.push(shifts);
        initial.time_off.push(time_off);
        initial.overrides.push(overrides);
    }
    plant_fallback_violations(org, &mut initial, anchor);
    initial.machine_seed = rng.next_u64();
    initial
}

/// The presence an agent doing `category` most likely shows.
fn scheduled_presence(rng: &mut impl Rng, category: &ActivityCategory) -> Presence {
    let choices: &[(Presence, u32)] = match category {
        ActivityCategory::OnQueueWork => &[
            (Presence::OnQueue, 85),
            (Presence::Available, 10),
            (Presence::Busy, 5),
        ],
        ActivityCategory::Break => &[(Presence::Break, 90), (Presence::OnQueue, 10)],
        ActivityCategory::Meal => &[(Presence::Meal, 90), (Presence::Away, 10)],
        ActivityCategory::Meeting => &[(Presence::Meeting, 90), (Presence::Busy, 10)],
        ActivityCategory::Training => &[(Presence::Training, 100)],
        ActivityCategory::OffQueueWork => &[(Presence::Busy, 80), (Presence::Available, 20)],
        _ => &[(Presence::Offline, 100)],
    };
    weighted(rng, choices).unwrap_or(Presence::Available)
}

/// Small orgs may miss the planted violations; put one of each in when possible.
fn plant_fallback_violations(org: &Org, initial: &mut Initial, anchor: DateTime<Utc>) {
    let off_shift = |i: usize| {
        schedule::scheduled_at(&initial.shifts[i], anchor) == Scheduled::OffShift
            && initial.time_off[i].is_empty()
    };
    let has_off_violation = (0..initial.agents.len())
        .any(|i| off_shift(i) && initial.agents[i].status.presence != Presence::Offline);
    if !has_off_violation && let Some(i) = (0..initial.agents.len()).find(|&i| off_shift(i)) {
        let agent = &mut initial.agents[i];
        agent.status.presence = Presence::Available;
        agent.status.definition = Org::system_definition(Presence::Available);
    }
    let over = |i: usize, a: &AgentState| {
        let caps = initial.overrides[i].unwrap_or(Utilization::ORG_DEFAULT);
        Media::ALL
            .into_iter()
            .any(|m| a.conversations[m.index()] > caps.capacity(m))
    };
    let has_over = initial.agents.iter().enumerate().any(|(i, a)| over(i, a));
    if !has_over
        && let Some(i) =
            (initial.agents.iter()).position(|a| a.status.presence == Presence::OnQueue)
    {
        let caps = initial.overrides[i].unwrap_or(Utilization::ORG_DEFAULT);
        let agent = &mut initial.agents[i];
        agent.conversations[Media::Call.index()] = caps.capacity(Media::Call) + 1;
        agent.status.routing = Routing::Interacting;
        agent.status.queues = org.agents[i].queues;
    }
}
