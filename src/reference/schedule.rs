//! Published shifts, reduced to what the shift check needs: windows of time and the activity
//! category scheduled inside each.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::genesys::models::{ActivityCategory, Shift};

/// One shift: `[start, end)`, and its activities.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub activities: Vec<ActivityWindow>,
}

/// One scheduled activity: `[start, end)` and its category (`None` when its activity code
/// is unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub category: Option<ActivityCategory>,
}

/// An agent's published shifts and the business unit they come from.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSchedule {
    pub business_unit: String,
    pub shifts: Vec<ShiftWindow>,
}

/// What is known of an agent's schedule.
#[derive(Debug, Clone, Copy)]
pub enum ScheduleLookup<'a> {
    Known(&'a AgentSchedule),
    /// Every business unit's schedule is loaded and this agent has none.
    NotScheduled,
    /// The schedules could not be had (yet).
    Unknown,
}

impl AgentSchedule {
    /// Builds the windows from a schedule search's shifts, naming each activity's category
    /// through `categories` (activity code id → category).
    pub fn from_shifts(
        business_unit: impl Into<String>,
        shifts: &[Shift],
        categories: &HashMap<String, ActivityCategory>,
    ) -> Self {
        let mut windows: Vec<ShiftWindow> = shifts
            .iter()
            .map(|shift| ShiftWindow {
                start: shift.start_date,
                end: shift.end_date(),
                activities: shift
                    .activities
                    .iter()
                    .map(|a| ActivityWindow {
                        start: a.start_date,
                        end: a.end_date(),
                        category: a
                            .activity_code_id
                            .as_ref()
                            .and_then(|id| categories.get(id).cloned()),
                    })
                    .collect(),
            })
            .collect();
        windows.sort_by_key(|w| w.start);
        Self {
            business_unit: business_unit.into(),
            shifts: windows,
        }
    }

    /// Whether a shift covers `now`, allowing `grace` before its start and after its end.
    pub fn on_shift(&self, now: DateTime<Utc>, grace: Duration) -> bool {
        self.shifts
            .iter()
            .any(|s| s.start - grace <= now && now < s.end + grace)
    }

    /// The category of the activity scheduled at `now`, if a shift and an activity cover it.
    pub fn activity_at(&self, now: DateTime<Utc>) -> Option<&ActivityCategory> {
        self.shifts
            .iter()
            .filter(|s| s.start <= now && now < s.end)
            .flat_map(|s| &s.activities)
            .find(|a| a.start <= now && now < a.end)
            .and_then(|a| a.category.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesys::models::ScheduleActivity;

    fn at(hhmm: &str) -> DateTime<Utc> {
        format!("2026-11-27T{hhmm}:00Z").parse().unwrap()
    }

    fn activity(start: &str, minutes: u32, code: &str) -> ScheduleActivity {
        ScheduleActivity {
            start_date: at(start),
            length_minutes: minutes,
            description: None,
            activity_code_id: Some(code.into()),
            paid: Some(true),
            payable_minutes: Some(minutes),
            time_off_request_id: None,
            external_activity_id: None,
            external_activity_type: None,
        }
    }

    fn schedule() -> AgentSchedule {
        let shift = Shift {
            id: Some("s".into()),
            start_date: at("08:00"),
            length_minutes: 480,
            activities: vec![
                activity("08:00", 240, "work"),
                activity("12:00", 30, "meal"),
                activity("12:30", 210, "work"),
            ],
            manually_edited: None,
            schedule: None,
            work_plan_id: None,
            work_plan_shift_id: None,
        };
        let categories = HashMap::from([
            ("work".to_string(), ActivityCategory::OnQueueWork),
            ("meal".to_string(), ActivityCategory::Meal),
        ]);
        AgentSchedule::from_shifts("bu", &[shift], &categories)
    }

    #[test]
    fn a_shift_covers_its_hours_and_the_grace_around_them() {
        let s = schedule();
        let grace = Duration::minutes(10);
        assert!(s.on_shift(at("09:00"), grace));
        assert!(
            s.on_shift(at("07:51"), grace),
            "inside the grace before the start"
        );
        assert!(!s.on_shift(at("07:49"), grace));
        assert!(
            s.on_shift(at("16:09"), grace),
            "inside the grace after the end"
        );
        assert!(!s.on_shift(at("16:10"), grace));
    }

    #[test]
    fn the_scheduled_activity_is_the_one_covering_now() {
        let s = schedule();
        assert_eq!(
            s.activity_at(at("09:00")),
            Some(&ActivityCategory::OnQueueWork)
        );
        assert_eq!(s.activity_at(at("12:15")), Some(&ActivityCategory::Meal));
        assert_eq!(
            s.activity_at(at("16:05")),
            None,
            "grace does not schedule an activity"
        );
    }
}
