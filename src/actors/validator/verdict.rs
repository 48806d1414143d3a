//! The checks: shift, capacity and notification scope, from an agent's tracked state and the
//! reference data. Pure functions, so every rule is unit-tested without actors.

use std::borrow::Cow;

use chrono::{DateTime, Duration, Utc};

use super::tracked::Tracked;
use crate::{
    config::{InteractionsMatch, ValidationSettings},
    event::{AgentState, Scope, Violation, ViolationKind},
    genesys::models::SystemPresence,
    reference::{ReferenceData, ScheduleLookup},
};

/// The rules, resolved once from settings.
#[derive(Debug, Clone)]
pub struct Rules {
    pub on_duty: Vec<SystemPresence>,
    pub shift_grace: Duration,
    pub max_concurrent_interactions: u32,
    pub scope_rules: Vec<ScopeRow>,
}

/// One resolved row of the scope table.
#[derive(Debug, Clone)]
pub struct ScopeRow {
    /// Empty means any presence.
    pub presences: Vec<SystemPresence>,
    pub interactions: InteractionsMatch,
    pub scope: Scope,
}

impl Rules {
    pub fn from_settings(v: &ValidationSettings) -> Self {
        Self {
            on_duty: v
                .on_duty_presences
                .iter()
                .map(|p| SystemPresence::parse(p))
                .collect(),
            shift_grace: Duration::minutes(v.shift_grace_minutes),
            max_concurrent_interactions: v.max_concurrent_interactions,
            scope_rules: v
                .scope_rules
                .iter()
                .filter_map(|r| {
                    Some(ScopeRow {
                        presences: r
                            .presences
                            .iter()
                            .map(|p| SystemPresence::parse(p))
                            .collect(),
                        interactions: r.interactions,
                        scope: Scope::parse(&r.scope)?,
                    })
                })
                .collect(),
        }
    }

    /// The first matching row's scope; `internal_monitoring` when none matches.
    pub fn scope(&self, presence: Option<&SystemPresence>, interactions: u32) -> Scope {
        self.scope_rules
            .iter()
            .find(|row| {
                let presence_ok =
                    row.presences.is_empty() || presence.is_some_and(|p| row.presences.contains(p));
                let interactions_ok = match row.interactions {
                    InteractionsMatch::None => interactions == 0,
                    InteractionsMatch::Some => interactions > 0,
                    InteractionsMatch::Any => true,
                };
                presence_ok && interactions_ok
            })
            .map_or(Scope::InternalMonitoring, |row| row.scope)
    }
}

/// The outcome of validating one agent's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub state: AgentState,
    pub violations: Vec<Violation>,
    pub scope: Scope,
    /// True only when every check ran and none failed.
    pub validated: bool,
}

/// Validates `agent_id`'s tracked state at `now`.
pub fn evaluate(
    agent_id: &str,
    tracked: &Tracked,
    reference: &ReferenceData,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Verdict {
    let presence = tracked.presence.as_ref().map(|p| &p.system);
    let interaction_load = tracked.interaction_load();
    let mut violations = Vec::new();

    let on_duty = presence.is_some_and(|p| rules.on_duty.contains(p));
    let (on_shift, scheduled_activity) = match reference.schedule_of(agent_id) {
        ScheduleLookup::Known(schedule) => (
            Some(schedule.on_shift(now, rules.shift_grace)),
            schedule.activity_at(now).map(|c| c.to_cow()),
        ),
        ScheduleLookup::NotScheduled => (Some(false), None),
        ScheduleLookup::Unknown => {
            violations.push(Violation {
                kind: ViolationKind::ScheduleUnknown,
                detail: "published schedules could not be loaded".into(),
            });
            (None, None)
        }
    };
    if on_duty && on_shift == Some(false) {
        let presence = presence.map_or("", |p| p.as_str());
        violations.push(Violation {
            kind: ViolationKind::OffShift,
            detail: format!(
                "{presence} with no shift covering now (±{} min)",
                rules.shift_grace.num_minutes()
            ),
        });
    }

    let capacity = reference.capacity_of(agent_id).capacity();
    match capacity {
        None => violations.push(Violation {
            kind: ViolationKind::CapacityUnknown,
            detail: "utilization could not be loaded".into(),
        }),
        Some(capacity) => {
            for (media, load) in tracked.conversations.iter().flatten() {
                if let Some(limit) = capacity.per_media.get(*media) {
                    let counted = load.acd
                        + if limit.include_non_acd {
                            load.non_acd
                        } else {
                            0
                        };
                    if counted > limit.maximum {
                        violations.push(Violation {
                            kind: ViolationKind::OverCapacity,
                            detail: format!("{media} {counted} > {}", limit.maximum),
                        });
                    }
                }
            }
        }
    }
    if interaction_load > rules.max_concurrent_interactions {
        violations.push(Violation {
            kind: ViolationKind::OverCapacity,
            detail: format!(
                "{interaction_load} interactions > {}",
                rules.max_concurrent_interactions
            ),
        });
    }

    let state = AgentState {
        current_status: presence.map_or(Cow::Borrowed("Unknown"), SystemPresence::to_cow),
        routing_status: tracked
            .routing
            .as_ref()
            .map_or(Cow::Borrowed("UNKNOWN"), |r| r.status.to_cow()),
        interaction_load,
        capacity: capacity.map(|c| c.maximums().clone()).unwrap_or_default(),
        on_shift,
        scheduled_activity,
        queues: tracked.queues.clone(),
        timestamp: tracked.changed_at().unwrap_or(now),
    };
    Verdict {
        scope: rules.scope(presence, interaction_load),
        validated: violations.is_empty(),
        violations,
        state,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::{
        actors::validator::tracked::{MediaLoad, Presence},
        config::Settings,
        genesys::models::{MediaUtilization, UtilizationResponse},
        reference::{AgentSchedule, Capacity, ShiftWindow},
    };

    fn rules() -> Rules {
        Rules::from_settings(&Settings::defaults().validation)
    }

    fn now() -> DateTime<Utc> {
        "2026-11-27T12:00:00Z".parse().unwrap()
    }

    fn reference(shift: Option<(i64, i64)>, chat_capacity: Option<u32>) -> ReferenceData {
        let mut data = ReferenceData {
            business_units_known: true,
            ..Default::default()
        };
        data.business_units.insert("bu".into(), true);
        if let Some((from, to)) = shift {
            let window = ShiftWindow {
                start: now() + Duration::minutes(from),
                end: now() + Duration::minutes(to),
                activities: vec![],
            };
            data.schedules.insert(
                "a".into(),
                AgentSchedule {
                    business_unit: "bu".into(),
                    shifts: vec![window],
                }
                .into(),
            );
        }
        if let Some(chat) = chat_capacity {
            let mut response = UtilizationResponse::default();
            response.utilization.insert(
                "chat".into(),
                MediaUtilization {
                    maximum_capacity: Some(chat),
                    interruptable_media_types: None,
                    include_non_acd: Some(false),
                },
            );
            data.org_capacity = Some(Capacity::from_response(&response));
        }
        data
    }

    fn tracked(presence: SystemPresence, chats: u32) -> Tracked {
        let mut t = Tracked::default();
        t.presence = Some(Presence {
            system: presence,
            definition_id: None,
            at: Some(now()),
        });
        t.conversations = Some(
            HashMap::from([(
                "chat",
                MediaLoad {
                    acd: chats,
                    non_acd: 0,
                },
            )])
            .into_iter()
            .collect(),
        );
        t
    }

    fn kinds(v: &Verdict) -> Vec<ViolationKind> {
        v.violations.iter().map(|v| v.kind).collect()
    }

    #[test]
    fn off_shift_is_raised_for_an_on_duty_presence_outside_every_shift_and_its_grace() {
        let r = rules();
        let on_shift = evaluate(
            "a",
            &tracked(SystemPresence::Available, 0),
            &reference(Some((-60, 60)), Some(4)),
            &r,
            now(),
        );
        assert_eq!(kinds(&on_shift), vec![]);
        assert!(on_shift.validated);
        let within_grace = evaluate(
            "a",
            &tracked(SystemPresence::OnQueue, 0),
            &reference(Some((5, 60)), Some(4)),
            &r,
            now(),
        );
        assert_eq!(kinds(&within_grace), vec![]);
        let early = evaluate(
            "a",
            &tracked(SystemPresence::OnQueue, 0),
            &reference(Some((11, 60)), Some(4)),
            &r,
            now(),
        );
        assert_eq!(kinds(&early), vec![ViolationKind::OffShift]);
        assert!(!early.validated);
        let unscheduled = evaluate(
            "a",
            &tracked(SystemPresence::Busy, 0),
            &reference(None, Some(4)),
            &r,
            now(),
        );
        assert_eq!(kinds(&unscheduled), vec![ViolationKind::OffShift]);
        let off_duty = evaluate(
            "a",
            &tracked(SystemPresence::Offline, 0),
            &reference(None, Some(4)),
            &r,
            now(),
        );
        assert_eq!(
            kinds(&off_duty),
            vec![],
            "an off-duty presence outside shifts is fine"
        );
        let on_break = evaluate(
            "a",
            &tracked(SystemPresence::Break, 0),
            &reference(None, Some(4)),
            &r,
            now(),
        );
        assert_eq!(kinds(&on_break), vec![]);
    }

    #[test]
    fn over_capacity_is_raised_per_media_and_for_the_total() {
        let r = rules();
        let at_limit = evaluate(
            "a",
            &tracked(SystemPresence::OnQueue, 4),
            &reference(Some((-60, 60)), Some(4)),
            &r,
            now(),
        );
        assert_eq!(kinds(&at_limit), vec![]);
        let over = evaluate(
            "a",
            &tracked(SystemPresence::OnQueue, 5),
            &reference(Some((-60, 60)), Some(4)),
            &r,
            now(),
        );
        assert_eq!(kinds(&over), vec![ViolationKind::OverCapacity]);
        assert_eq!(over.violations[0].detail, "chat 5 > 4");
        let total = evaluate(
            "a",
            &tracked(SystemPresence::OnQueue, 6),
            &reference(Some((-60, 60)), Some(10)),
            &r,
            now(),
        );
        assert_eq!(
            kinds(&total),
            vec![ViolationKind::OverCapacity],
            "6 > max_concurrent_interactions 5"
        );
    }

    #[test]
    fn missing_reference_data_marks_the_state_unknown_but_still_produces_it() {
        let r = rules();
        let data = ReferenceData::default();
        let verdict = evaluate("a", &tracked(SystemPresence::OnQueue, 9), &data, &r, now());
        assert_eq!(
            kinds(&verdict),
            vec![
                ViolationKind::ScheduleUnknown,
                ViolationKind::CapacityUnknown,
                ViolationKind::OverCapacity
            ]
        );
        assert_eq!(verdict.state.on_shift, None);
        assert_eq!(verdict.state.current_status, "OnQueue");
        assert!(!verdict.validated);
    }

    #[test]
    fn the_default_scope_table_gives_the_seeds_four_scopes() {
        let r = rules();
        assert_eq!(
            r.scope(Some(&SystemPresence::parse("AVAILABLE")), 0),
            Scope::GlobalRouting
        );
        assert_eq!(
            r.scope(Some(&SystemPresence::parse("On Queue")), 0),
            Scope::GlobalRouting
        );
        assert_eq!(
            r.scope(Some(&SystemPresence::parse("OnQueue")), 2),
            Scope::QueueSpecific
        );
        assert_eq!(
            r.scope(Some(&SystemPresence::parse("Available")), 1),
            Scope::QueueSpecific
        );
        assert_eq!(
            r.scope(Some(&SystemPresence::Busy), 0),
            Scope::SupervisoryOnly
        );
        assert_eq!(
            r.scope(Some(&SystemPresence::Offline), 3),
            Scope::SupervisoryOnly
        );
        assert_eq!(
            r.scope(Some(&SystemPresence::Break), 0),
            Scope::InternalMonitoring
        );
        assert_eq!(r.scope(None, 0), Scope::InternalMonitoring);
    }
}
