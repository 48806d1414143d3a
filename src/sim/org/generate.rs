//! Builds the org and its initial state from `(seed, agents, anchor)`.
//!
//! Sizes: one business unit per 1,000 agents, one management unit per 100, one queue per 25
//! (each agent in 1–3). About 84% of agents are on a shift covering the anchor (some of
//! them inside a break or meal), 15% are off shift and 1% have a full day of time off (out
//! of office). Initial states follow the schedule, with a few violations planted on purpose
//! (off shift but Available/On Queue; over capacity) so a demo shows some at once.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{
    ActivityCodeDef, AgentDef, BusinessUnit, CODE_ON_QUEUE, CODE_TIME_OFF, ManagementUnitDef, Org,
    PresenceDef, PublishedWeek, QueueDef, names,
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

/// Agents per business unit, management unit and queue.
const AGENTS_PER_BU: u32 = 1_000;
const AGENTS_PER_MU: u32 = 100;
const AGENTS_PER_QUEUE: u32 = 25;

/// The three definition ids seen in public examples (Available is the official one).
const AVAILABLE_ID: &str = "6a3af858-942f-489d-9700-5f9bcdcdae9b";
const ON_QUEUE_ID: &str = "e08eaf1b-ee47-4fa9-a231-1200e284798f";
const MEAL_ID: &str = "3fd96123-badb-4f69-bc03-1b1ccc6d8014";

/// User-type presence definitions and the system presence each maps to.
const USER_PRESENCES: &[(&str, Presence)] = &[
    ("Lunch", Presence::Meal),
    ("Coffee", Presence::Break),
    ("Coaching", Presence::Meeting),
    ("Project Work", Presence::Busy),
    ("Commuting", Presence::Away),
];

/// `(name, category, length, paid, counts as work, default, time-off selectable)`, in the
/// order of the `CODE_*` constants.
const CODES: &[(&str, ActivityCategory, u32, bool, bool, bool, bool)] = &[
    (
        "On Queue Work",
        ActivityCategory::OnQueueWork,
        60,
        true,
        true,
        true,
        false,
    ),
    (
        "Break",
        ActivityCategory::Break,
        15,
        true,
        false,
        true,
        false,
    ),
    (
        "Meal",
        ActivityCategory::Meal,
        30,
        false,
        false,
        true,
        false,
    ),
    (
        "Meeting",
        ActivityCategory::Meeting,
        30,
        true,
        true,
        true,
        false,
    ),
    (
        "Off Queue Work",
        ActivityCategory::OffQueueWork,
        60,
        true,
        true,
        true,
        false,
    ),
    (
        "Time Off",
        ActivityCategory::TimeOff,
        480,
        true,
        false,
        true,
        true,
    ),
    (
        "Training",
        ActivityCategory::Training,
        60,
        true,
        true,
        true,
        false,
    ),
    (
        "Unavailable",
        ActivityCategory::Unavailable,
        60,
        false,
        false,
        true,
        false,
    ),
    (
        "Coaching",
        ActivityCategory::Meeting,
        30,
        true,
        true,
        false,
        false,
    ),
    (
        "Project Work",
        ActivityCategory::OffQueueWork,
        60,
        true,
        true,
        false,
        false,
    ),
];

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

/// The org and its initial state; the same arguments give the same result.
pub fn generate(seed: u64, agent_count: u32, anchor: DateTime<Utc>) -> (Org, Initial) {
    let rng = &mut ChaCha8Rng::seed_from_u64(seed);
    let n = agent_count.max(1);
    let id = uuid_from(rng).to_string();
    let division_id = uuid_from(rng).to_string();
    let business_units: Vec<BusinessUnit> = (0..n.div_ceil(AGENTS_PER_BU))
        .map(|i| business_unit(rng, i, anchor))
        .collect();
    let mu_count = n.div_ceil(AGENTS_PER_MU);
    let management_units: Vec<ManagementUnitDef> = (0..mu_count)
        .map(|i| ManagementUnitDef {
            id: uuid_from(rng).to_string(),
            name: format!("Team {}", i + 1),
            bu: i * business_units.len() as u32 / mu_count,
            work_plan_id: uuid_from(rng).to_string(),
            work_plan_shift_id: uuid_from(rng).to_string(),
        })
        .collect();
    let queues: Vec<QueueDef> = (0..n.div_ceil(AGENTS_PER_QUEUE))
        .map(|i| {
            let themes = names::QUEUE_THEMES.len() as u32;
            QueueDef {
                id: uuid_from(rng).to_string(),
                name: format!(
                    "{} {}",
                    names::QUEUE_THEMES[(i % themes) as usize],
                    i / themes + 1
                ),
            }
        })
        .collect();
    let presences = presence_definitions(rng);
    let agents: Vec<AgentDef> = (0..n)
        .map(|i| agent(rng, i, i * mu_count / n, queues.len() as u32))
        .collect();

    let mut org = Org {
        id,
        division_id,
        anchor,
        business_units,
        management_units,
        queues,
        alternates: Default::default(),
        agent_by_id: HashMap::new(),
        queue_by_id: HashMap::new(),
        name_order: Vec::new(),
        presences,
        agents,
    };
    index(&mut org);
    let initial = initial_state(rng, &org, anchor);
    (org, initial)
}

fn business_unit(rng: &mut impl Rng, i: u32, anchor: DateTime<Utc>) -> BusinessUnit {
    let (region, time_zone) = names::REGIONS[i as usize % names::REGIONS.len()];
    let codes = CODES
        .iter()
        .map(
            |(name, category, length, paid, work, default, time_off)| ActivityCodeDef {
                id: uuid_from(rng).to_string(),
                name,
                category: category.clone(),
                length_minutes: *length,
                paid: *paid,
                counts_as_work: *work,
                default_code: *default,
                time_off_selectable: *time_off,
            },
        )
        .collect();
    let mut weeks: Vec<PublishedWeek> = Vec::new();
    for day in [-1, 0, 1] {
        let week_date = schedule::week_start(anchor + Duration::days(day));
        if !weeks.iter().any(|w| w.week_date == week_date) {
            weeks.push(PublishedWeek {
                id: uuid_from(rng).to_string(),
                week_date,
            });
        }
    }
    BusinessUnit {
        id: uuid_from(rng).to_string(),
        name: format!("{region} {}", i + 1),
        time_zone,
        codes,
        weeks,
    }
}

fn presence_definitions(rng: &mut impl Rng) -> Vec<PresenceDef> {
    let mut defs: Vec<PresenceDef> = Presence::ALL
        .into_iter()
        .map(|p| {
            let id = match p {
                Presence::Available => AVAILABLE_ID.to_owned(),
                Presence::OnQueue => ON_QUEUE_ID.to_owned(),
                Presence::Meal => MEAL_ID.to_owned(),
                _ => uuid_from(rng).to_string(),
            };
            PresenceDef {
                id,
                name: p.legacy().to_owned(),
                presence: p,
                user_defined: false,
            }
        })
        .collect();
    defs.extend(USER_PRESENCES.iter().map(|(name, p)| PresenceDef {
        id: uuid_from(rng).to_string(),
        name: (*name).to_owned(),
        presence: *p,
        user_defined: true,
    }));
    defs
}

fn agent(rng: &mut impl Rng, i: u32, mu: u32, queue_count: u32) -> AgentDef {
    let first = names::FIRST_NAMES[below(rng, names::FIRST_NAMES.len() as u32) as usize];
    let last = names::LAST_NAMES[below(rng, names::LAST_NAMES.len() as u32) as usize];
    let mut queues = QueueSet::EMPTY;
    for _ in 0..between(rng, 1, 3) {
        // The set has room for 8, so inserting at most 3 cannot fail.
        queues.insert(below(rng, queue_count) as u16);
    }
    AgentDef {
        id: uuid_from(rng).to_string(),
        name: format!("{first} {last}"),
        email: format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            i + 1
        ),
        mu,
        queues,
    }
}

fn index(org: &mut Org) {
    org.agent_by_id = (org.agents.iter().enumerate())
        .map(|(i, a)| (a.id.clone(), i as u32))
        .collect();
    org.queue_by_id = (org.queues.iter().enumerate())
        .map(|(i, q)| (q.id.clone(), i as u16))
        .collect();
    for (i, def) in org.presences.iter().enumerate() {
        if def.user_defined {
            org.alternates[def.presence.index()].push(i as u16);
        }
    }
    let mut order: Vec<u32> = (0..org.agents.len() as u32).collect();
    order.sort_by(|a, b| {
        let (a, b) = (&org.agents[*a as usize], &org.agents[*b as usize]);
        (&a.name, &a.id).cmp(&(&b.name, &b.id))
    });
    org.name_order = order;
}

fn initial_state(rng: &mut impl Rng, org: &Org, anchor: DateTime<Utc>) -> Initial {
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
