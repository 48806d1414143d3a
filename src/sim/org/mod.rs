//! The simulated organisation: business units, management units, activity codes, queues,
//! presence definitions, users and the org utilization default. It is generated once from
//! `(seed, agents, anchor)` by [`generate()`] and never changes afterwards; what does change
//! (agent state, shifts, utilization overrides) lives in [`crate::sim::world::World`].

mod generate;
mod initial;
pub mod names;
pub mod schedule;
pub mod utilization;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

pub use self::{generate::generate, initial::Initial};
use crate::{
    genesys::models::{ActivityCategory, ActivityCode},
    sim::agent::{Presence, QueueSet},
};

/// Activity code indices, the same in every business unit.
pub const CODE_ON_QUEUE: u16 = 0;
pub const CODE_BREAK: u16 = 1;
pub const CODE_MEAL: u16 = 2;
pub const CODE_MEETING: u16 = 3;
pub const CODE_TIME_OFF: u16 = 5;
pub const CODE_TRAINING: u16 = 6;
pub const CODE_COACHING: u16 = 8;

/// An activity code of a business unit.
#[derive(Debug, Clone)]
pub struct ActivityCodeDef {
    pub id: String,
    pub name: &'static str,
    pub category: ActivityCategory,
    pub length_minutes: u32,
    pub paid: bool,
    pub counts_as_work: bool,
    pub default_code: bool,
    pub time_off_selectable: bool,
}

impl ActivityCodeDef {
    pub fn to_model(&self, bu_id: &str) -> ActivityCode {
        ActivityCode {
            id: self.id.clone(),
            name: Some(self.name.to_owned()),
            active: Some(true),
            default_code: Some(self.default_code),
            category: Some(self.category.clone()),
            length_in_minutes: Some(self.length_minutes),
            counts_as_paid_time: Some(self.paid),
            counts_as_work_time: Some(self.counts_as_work),
            agent_time_off_selectable: Some(self.time_off_selectable),
            counts_toward_shrinkage: Some(!self.counts_as_work),
            planned_shrinkage: Some(!self.counts_as_work),
            interruptible: Some(false),
            secondary_presences: Some(Vec::new()),
            planning_groups: Some(Vec::new()),
            metadata: Some(serde_json::json!({ "version": 1 })),
            self_uri: Some(format!(
                "/api/v2/workforcemanagement/businessunits/{bu_id}/activitycodes/{}",
                self.id
            )),
        }
    }
}

/// A published schedule week of a business unit.
#[derive(Debug, Clone)]
pub struct PublishedWeek {
    pub id: String,
    pub week_date: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct BusinessUnit {
    pub id: String,
    pub time_zone: &'static str,
    pub codes: Vec<ActivityCodeDef>,
    pub weeks: Vec<PublishedWeek>,
}

impl BusinessUnit {
    /// The code at `index`; out-of-range indices (never produced) fall back to on-queue work.
    pub fn code(&self, index: u16) -> &ActivityCodeDef {
        self.codes
            .get(usize::from(index))
            .unwrap_or(&self.codes[usize::from(CODE_ON_QUEUE)])
    }

    pub fn code_by_id(&self, id: &str) -> Option<u16> {
        self.codes.iter().position(|c| c.id == id).map(|i| i as u16)
    }

    /// The first code of a category.
    pub fn code_for(&self, category: &ActivityCategory) -> Option<u16> {
        self.codes
            .iter()
            .position(|c| c.category == *category)
            .map(|i| i as u16)
    }

    pub fn week_of(&self, t: DateTime<Utc>) -> Option<&PublishedWeek> {
        let monday = schedule::week_start(t);
        self.weeks.iter().find(|w| w.week_date == monday)
    }
}

#[derive(Debug, Clone)]
pub struct ManagementUnitDef {
    pub id: String,
    pub name: String,
    /// Index into `Org::business_units`.
    pub bu: u32,
    pub work_plan_id: String,
    pub work_plan_shift_id: String,
}

#[derive(Debug, Clone)]
pub struct QueueDef {
    pub id: String,
}

/// A presence definition: one of the ten System ones, or a User one mapped to a system
/// presence (e.g. `Lunch` → Meal).
#[derive(Debug, Clone)]
pub struct PresenceDef {
    pub id: String,
    pub name: String,
    pub presence: Presence,
    pub user_defined: bool,
}

/// A user (agent) of the org.
#[derive(Debug, Clone)]
pub struct AgentDef {
    pub id: String,
    pub name: String,
    pub email: String,
    /// Index into `Org::management_units`.
    pub mu: u32,
    /// The queues the agent is a member of (1 to 3).
    pub queues: QueueSet,
}

/// The generated organisation (immutable).
#[derive(Debug, Clone)]
pub struct Org {
    pub id: String,
    pub division_id: String,
    pub anchor: DateTime<Utc>,
    pub business_units: Vec<BusinessUnit>,
    pub management_units: Vec<ManagementUnitDef>,
    pub queues: Vec<QueueDef>,
    /// The ten System definitions first, in [`Presence::ALL`] order, then the User ones.
    pub presences: Vec<PresenceDef>,
    pub agents: Vec<AgentDef>,
    /// Agent indices sorted by name (then id): the order of `GET /api/v2/users`.
    pub name_order: Vec<u32>,
    /// User-defined definitions per system presence (indices into `presences`).
    pub alternates: [Vec<u16>; 10],
    agent_by_id: HashMap<String, u32>,
    queue_by_id: HashMap<String, u16>,
}

impl Org {
    pub fn agent_index(&self, id: &str) -> Option<u32> {
        self.agent_by_id.get(id).copied()
    }

    pub fn queue_index(&self, id: &str) -> Option<u16> {
        self.queue_by_id.get(id).copied()
    }

    pub fn presence_index(&self, id: &str) -> Option<u16> {
        self.presences
            .iter()
            .position(|p| p.id == id)
            .map(|i| i as u16)
    }

    /// The System definition of a presence.
    pub fn system_definition(presence: Presence) -> u16 {
        presence.index() as u16
    }

    pub fn mu_of(&self, agent: u32) -> &ManagementUnitDef {
        &self.management_units[self.agents[agent as usize].mu as usize]
    }

    pub fn bu_of(&self, agent: u32) -> &BusinessUnit {
        &self.business_units[self.mu_of(agent).bu as usize]
    }

    pub fn bu_index(&self, id: &str) -> Option<usize> {
        self.business_units.iter().position(|b| b.id == id)
    }

    pub fn mu_index(&self, id: &str) -> Option<usize> {
        self.management_units.iter().position(|m| m.id == id)
    }

    /// The category of one of an agent's activity codes.
    pub fn category(&self, agent: u32, code: u16) -> &ActivityCategory {
        &self.bu_of(agent).code(code).category
    }
}
