//! Published shifts: how they are built around the anchor, what is scheduled at an instant,
//! the small edits the state machine makes, and their wire form.
//!
//! Every shift and activity boundary lies on a 15-minute grid whose origin is the anchor
//! minus 7.5 minutes (rounded to the second). So the nearest boundary is 7.5 minutes away
//! from the anchor: runs started near the anchor see the same schedule for their first
//! minutes, which keeps a seed's first changes reproducible even though the state machine
//! reads the schedule at wall-clock time.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rand::Rng;

use super::{ActivityCodeDef, BusinessUnit, CODE_BREAK, CODE_MEAL, CODE_ON_QUEUE};
use crate::{
    genesys::models::{self, ScheduleActivity, WeekScheduleRef},
    sim::ids::{below, between, chance, uuid_from},
};

/// Minutes in one schedule slot.
pub const SLOT_MINUTES: u32 = 15;
/// Slots in a day.
const DAY_SLOTS: i64 = 96;

/// One activity of a shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityPlan {
    pub start: DateTime<Utc>,
    pub minutes: u32,
    /// Index into the business unit's activity codes.
    pub code: u16,
}

impl ActivityPlan {
    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::minutes(i64::from(self.minutes))
    }
}

/// One published shift; its activities cover it without gaps when generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftPlan {
    pub id: String,
    pub start: DateTime<Utc>,
    pub minutes: u32,
    pub activities: Vec<ActivityPlan>,
    pub manually_edited: bool,
}

impl ShiftPlan {
    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::minutes(i64::from(self.minutes))
    }

    pub fn covers(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end()
    }

    /// Builds a shift from one activity code per slot, merging runs of the same code.
    pub fn from_slots(id: String, start: DateTime<Utc>, slots: &[u16]) -> Self {
        let mut activities: Vec<ActivityPlan> = Vec::new();
        for (i, code) in slots.iter().enumerate() {
            match activities.last_mut() {
                Some(last) if last.code == *code => last.minutes += SLOT_MINUTES,
                _ => activities.push(ActivityPlan {
                    start: start + slot_duration(i as i64),
                    minutes: SLOT_MINUTES,
                    code: *code,
                }),
            }
        }
        Self {
            id,
            start,
            minutes: slots.len() as u32 * SLOT_MINUTES,
            activities,
            manually_edited: false,
        }
    }

    /// Moves one break-like activity 15 minutes earlier or later (into the on-queue work next
    /// to it), or, when there is none, lengthens the shift by 15 minutes.
    pub fn edit(&mut self, rng: &mut impl Rng) {
        let movable: Vec<usize> = (1..self.activities.len().saturating_sub(1))
            .filter(|&i| {
                let (prev, next) = (&self.activities[i - 1], &self.activities[i + 1]);
                self.activities[i].code != CODE_ON_QUEUE
                    && prev.code == CODE_ON_QUEUE
                    && next.code == CODE_ON_QUEUE
                    && (prev.minutes > SLOT_MINUTES || next.minutes > SLOT_MINUTES)
            })
            .collect();
        self.manually_edited = true;
        let slot = slot_duration(1);
        if movable.is_empty() {
            self.minutes += SLOT_MINUTES;
            if let Some(last) = self.activities.last_mut() {
                last.minutes += SLOT_MINUTES;
            }
            return;
        }
        let i = movable[below(rng, movable.len() as u32) as usize];
        let earlier = chance(rng, 500);
        let (before, rest) = self.activities.split_at_mut(i);
        let (moved, after) = rest.split_at_mut(1);
        let (prev, act, next) = (&mut before[i - 1], &mut moved[0], &mut after[0]);
        let (can_earlier, can_later) = (prev.minutes > SLOT_MINUTES, next.minutes > SLOT_MINUTES);
        if can_earlier && (earlier || !can_later) {
            prev.minutes -= SLOT_MINUTES;
            act.start -= slot;
            next.start -= slot;
            next.minutes += SLOT_MINUTES;
        } else {
            prev.minutes += SLOT_MINUTES;
            act.start += slot;
            next.start += slot;
            next.minutes -= SLOT_MINUTES;
        }
    }

    /// The wire form, resolving codes against the shift's business unit.
    pub fn to_model(&self, bu: &BusinessUnit, work_plan: (&str, &str)) -> models::Shift {
        let week = bu.week_of(self.start);
        models::Shift {
            id: Some(self.id.clone()),
            start_date: self.start,
            length_minutes: self.minutes,
            activities: self
                .activities
                .iter()
                .map(|a| activity_model(a, bu.code(a.code)))
                .collect(),
            manually_edited: Some(self.manually_edited),
            schedule: week.map(|w| WeekScheduleRef {
                id: Some(w.id.clone()),
                week_date: Some(w.week_date.to_string()),
                self_uri: Some(format!(
                    "/api/v2/workforcemanagement/businessunits/{}/weeks/{}/schedules/{}",
                    bu.id, w.week_date, w.id
                )),
            }),
            work_plan_id: Some(work_plan.0.to_owned()),
            work_plan_shift_id: Some(work_plan.1.to_owned()),
        }
    }
}

fn activity_model(a: &ActivityPlan, code: &ActivityCodeDef) -> ScheduleActivity {
    ScheduleActivity {
        start_date: a.start,
        length_minutes: a.minutes,
        description: Some(String::new()),
        activity_code_id: Some(code.id.clone()),
        paid: Some(code.paid),
        payable_minutes: Some(if code.paid { a.minutes } else { 0 }),
        time_off_request_id: None,
        external_activity_id: None,
        external_activity_type: None,
    }
}

/// A full-day time-off marker (`fullDayTimeOffMarkers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOffMarker {
    pub date: NaiveDate,
    pub minutes: u32,
    pub code: u16,
    pub request_id: String,
}

/// What an agent's schedule says at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduled {
    OffShift,
    /// On shift; the activity code, when an activity covers the instant.
    OnShift(Option<u16>),
}

/// The agent's scheduled state at `t`.
pub fn scheduled_at(shifts: &[ShiftPlan], t: DateTime<Utc>) -> Scheduled {
    match shifts.iter().find(|s| s.covers(t)) {
        None => Scheduled::OffShift,
        Some(shift) => Scheduled::OnShift(
            shift
                .activities
                .iter()
                .find(|a| a.start <= t && t < a.end())
                .map(|a| a.code),
        ),
    }
}

/// Where an agent's anchor-day shift sits relative to the anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftShape {
    /// The shift covers the anchor.
    OnNow,
    /// The shift ended before the anchor.
    Ended,
    /// The shift starts after the anchor.
    Later,
    /// No shift on the anchor day: a full day of time off.
    TimeOff,
}

/// The grid origin: the anchor minus 7.5 minutes, to the second.
pub fn grid_origin(anchor: DateTime<Utc>) -> DateTime<Utc> {
    let secs = anchor.timestamp() - i64::from(SLOT_MINUTES) * 30;
    DateTime::from_timestamp(secs, 0).unwrap_or(anchor)
}

fn slot_duration(slots: i64) -> Duration {
    Duration::minutes(slots * i64::from(SLOT_MINUTES))
}

/// The shifts of one agent for the anchor day and the days either side.
pub fn generate_shifts(
    rng: &mut impl Rng,
    anchor: DateTime<Utc>,
    shape: ShiftShape,
) -> Vec<ShiftPlan> {
    let origin = grid_origin(anchor);
    let len = match below(rng, 100) {
        0..=84 => 32,
        85..=94 => 24,
        _ => 40,
    };
    // Slot index (relative to the origin) where the anchor-day shift starts.
    let start_slot: i64 = match shape {
        ShiftShape::OnNow | ShiftShape::TimeOff => -i64::from(below(rng, len)),
        ShiftShape::Ended => -i64::from(len) - i64::from(below(rng, 16)),
        ShiftShape::Later => 1 + i64::from(below(rng, 24)),
    };
    let mut shifts = Vec::with_capacity(3);
    for day in [-1i64, 0, 1] {
        if day == 0 && shape == ShiftShape::TimeOff {
            continue;
        }
        let start = origin + slot_duration(start_slot + day * DAY_SLOTS);
        let slots = plan_slots(rng, len as usize);
        shifts.push(ShiftPlan::from_slots(
            uuid_from(rng).to_string(),
            start,
            &slots,
        ));
    }
    shifts
}

/// One code per slot: on-queue work with a break, a meal, a second break, and sometimes a
/// meeting, coaching or training block early in the shift.
fn plan_slots(rng: &mut impl Rng, len: usize) -> Vec<u16> {
    let mut slots = vec![CODE_ON_QUEUE; len];
    let first_break = jitter(rng, len / 4);
    let meal = jitter(rng, len / 2);
    let second_break = jitter(rng, len * 3 / 4);
    slots[first_break] = CODE_BREAK;
    slots[meal] = CODE_MEAL;
    slots[meal + 1] = CODE_MEAL;
    slots[second_break] = CODE_BREAK;
    if chance(rng, 200) {
        let code = [
            super::CODE_MEETING,
            super::CODE_COACHING,
            super::CODE_TRAINING,
        ][below(rng, 3) as usize];
        let at = between(rng, 1, 2) as usize;
        if at + 1 < first_break {
            slots[at] = code;
            slots[at + 1] = code;
        }
    }
    slots
}

/// `at` moved by -1, 0 or +1 slot.
fn jitter(rng: &mut impl Rng, at: usize) -> usize {
    (at + between(rng, 0, 2) as usize).saturating_sub(1)
}

/// Monday of the week containing `t` (published schedules are weekly).
pub fn week_start(t: DateTime<Utc>) -> NaiveDate {
    let day = t.date_naive();
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn anchor() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-01T12:03:20Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn shapes_put_the_anchor_inside_or_outside_the_shift_and_boundaries_keep_their_distance() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            for shape in [ShiftShape::OnNow, ShiftShape::Ended, ShiftShape::Later] {
                let shifts = generate_shifts(&mut rng, anchor(), shape);
                let on = matches!(scheduled_at(&shifts, anchor()), Scheduled::OnShift(Some(_)));
                assert_eq!(on, shape == ShiftShape::OnNow, "{shape:?}");
                for s in &shifts {
                    let covered: u32 = s.activities.iter().map(|a| a.minutes).sum();
                    assert_eq!(covered, s.minutes);
                    for a in &s.activities {
                        let gap = (a.start - anchor()).num_seconds().rem_euclid(900);
                        assert_eq!(gap, 450);
                    }
                }
            }
        }
    }

    #[test]
    fn an_edit_keeps_the_shift_covered() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut shifts = generate_shifts(&mut rng, anchor(), ShiftShape::OnNow);
        let shift = &mut shifts[1];
        let before = shift.clone();
        shift.edit(&mut rng);
        assert_ne!(*shift, before);
        assert!(shift.manually_edited);
        let covered: u32 = shift.activities.iter().map(|a| a.minutes).sum();
        assert_eq!(covered, shift.minutes);
        for pair in shift.activities.windows(2) {
            assert_eq!(pair[0].end(), pair[1].start);
        }
    }
}
