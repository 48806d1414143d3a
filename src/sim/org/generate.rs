//! Builds the org and its initial state from `(seed, agents, anchor)`.
//!
//! Sizes: one business unit per 1,000 agents, one management unit per 100, one queue per 25
//! (each agent in 1–3). About 84% of agents are on a shift covering the anchor (some of
//! them inside a break or meal), 15% are off shift and 1% have a full day of time off (out
//! of office); see `initial.rs` for the state they start in.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{
    ActivityCodeDef, AgentDef, BusinessUnit, ManagementUnitDef, Org, PresenceDef, PublishedWeek,
    QueueDef, initial::Initial, names, schedule,
};
use crate::{
    genesys::models::ActivityCategory,
    sim::{
        agent::{Presence, QueueSet},
        ids::{below, between, uuid_from},
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
        .map(|_| QueueDef {
            id: uuid_from(rng).to_string(),
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
    let initial = super::initial::initial_state(rng, &org, anchor);
    (org, initial)
}

fn business_unit(rng: &mut impl Rng, i: u32, anchor: DateTime<Utc>) -> BusinessUnit {
    let time_zone = names::TIME_ZONES[i as usize % names::TIME_ZONES.len()];
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
    // Two ids are always drawn (the weeks of the day before and after), so the rest of the
    // org does not depend on whether those fall in one week or two.
    let mut weeks: Vec<PublishedWeek> = Vec::new();
    for day in [-1, 1] {
        let id = uuid_from(rng).to_string();
        let week_date = schedule::week_start(anchor + Duration::days(day));
        if !weeks.iter().any(|w| w.week_date == week_date) {
            weeks.push(PublishedWeek { id, week_date });
        }
    }
    BusinessUnit {
        id: uuid_from(rng).to_string(),
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
