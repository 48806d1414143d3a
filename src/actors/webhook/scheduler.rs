//! The per-endpoint delivery scheduler: one lane per agent, at most one delivery of a lane in
//! flight, lanes independent of each other.
//!
//! A lane holds its agent's deliveries in outbox order. Only its head may be sent; the next one
//! becomes sendable when the head is finished (delivered or dead-lettered), so a newer state of
//! an agent never reaches the endpoint before an older one succeeded or was given up. A lane
//! whose head failed waits for its retry time while every other lane keeps flowing. The worker
//! asks for [`Scheduler::next_ready`] while it has concurrency to spare, and sleeps until
//! [`Scheduler::next_wakeup`] otherwise. Pure data structure: no I/O, no clock of its own.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, VecDeque, hash_map::Entry},
    sync::Arc,
    time::Instant,
};

use bytes::Bytes;

use crate::event::AgentId;

/// One event to deliver to one endpoint.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Outbox row id. Ids only increase, so within an endpoint they order the deliveries.
    pub id: i64,
    /// The event id: the `webhook-id` of every attempt.
    pub event_id: Arc<str>,
    pub agent_id: AgentId,
    /// The payload bytes, exactly as signed and sent.
    pub payload: Bytes,
    /// Attempts already made.
    pub attempts: u32,
    /// Not to be sent before this (a retry's wait, possibly carried over a restart).
    pub not_before: Option<Instant>,
    /// When the event was accepted into the outbox, Unix milliseconds.
    pub accepted_ms: i64,
}

/// How an attempt at a lane's head ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Delivered or dead-lettered: the lane moves on.
    Done,
    /// Failed, to be tried again at `at`; `attempts` made so far.
    RetryAt { at: Instant, attempts: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LaneState {
    /// Listed in `ready`.
    Ready,
    /// Its head is being attempted.
    InFlight,
    /// Its head waits until this time (listed in `waiting`).
    Waiting(Instant),
}

#[derive(Debug)]
struct Lane {
    queue: VecDeque<Delivery>,
    state: LaneState,
}

#[derive(Debug, Default)]
pub struct Scheduler {
    lanes: HashMap<AgentId, Lane>,
    /// Lanes whose head may be sent now, oldest first.
    ready: VecDeque<AgentId>,
    /// Lanes waiting for a time; entries of lanes that moved on are skipped when popped.
    waiting: BinaryHeap<Reverse<(Instant, AgentId)>>,
    /// Deliveries held, in flight included.
    queued: usize,
    in_flight: usize,
}

impl Scheduler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Deliveries held, in flight included.
    pub fn len(&self) -> usize {
        self.queued
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Appends a delivery to its agent's lane (deliveries must be pushed in id order).
    pub fn push(&mut self, delivery: Delivery, now: Instant) {
        self.queued += 1;
        match self.lanes.entry(delivery.agent_id.clone()) {
            Entry::Occupied(mut lane) => lane.get_mut().queue.push_back(delivery),
            Entry::Vacant(slot) => {
                let agent = slot.key().clone();
                slot.insert(Lane {
                    queue: VecDeque::from([delivery]),
                    state: LaneState::Ready,
                });
                self.arm(&agent, now);
            }
        }
    }

    /// The next delivery to attempt, marking its lane in flight.
    pub fn next_ready(&mut self, now: Instant) -> Option<Delivery> {
        while let Some(Reverse((at, _))) = self.waiting.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, agent))) = self.waiting.pop() else {
                break;
            };
            if let Some(lane) = self.lanes.get_mut(&agent)
                && lane.state == LaneState::Waiting(at)
            {
                lane.state = LaneState::Ready;
                self.ready.push_back(agent);
            }
        }
        let agent = self.ready.pop_front()?;
        // expect: an agent is listed in `ready` only while its lane exists and is Ready.
        let lane = self.lanes.get_mut(&agent).expect("ready lane exists");
        lane.state = LaneState::InFlight;
        self.in_flight += 1;
        lane.queue.front().cloned()
    }

    /// Records how the attempt at `agent`'s head ended.
    pub fn finish(&mut self, agent: &AgentId, how: Finish, now: Instant) {
        let Some(lane) = self.lanes.get_mut(agent) else {
            return;
        };
        if lane.state != LaneState::InFlight {
            return;
        }
        self.in_flight -= 1;
        match how {
            Finish::Done => {
                lane.queue.pop_front();
                self.queued -= 1;
                if lane.queue.is_empty() {
                    self.lanes.remove(agent);
                } else {
                    self.arm(agent, now);
                }
            }
            Finish::RetryAt { at, attempts } => {
                if let Some(head) = lane.queue.front_mut() {
                    head.attempts = attempts;
                    head.not_before = Some(at);
                }
                lane.state = LaneState::Waiting(at);
                self.waiting.push(Reverse((at, agent.clone())));
            }
        }
    }

    /// Removes and returns every delivery not in flight (an endpoint being disabled). Lanes
    /// with a delivery in flight keep only that one.
    pub fn take_queued(&mut self) -> Vec<Delivery> {
        let mut taken = Vec::new();
        self.lanes.retain(|_, lane| {
            let keep = usize::from(lane.state == LaneState::InFlight);
            taken.extend(lane.queue.drain(keep..));
            keep == 1
        });
        self.ready.clear();
        self.waiting.clear();
        self.queued -= taken.len();
        taken.sort_by_key(|d| d.id);
        taken
    }

    /// The earliest time a waiting lane becomes sendable (may be stale: then a wake-up finds
    /// nothing to do).
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.waiting.peek().map(|Reverse((at, _))| *at)
    }

    /// Puts a lane whose head is new in `ready` or `waiting`.
    fn arm(&mut self, agent: &AgentId, now: Instant) {
        // expect: callers arm only lanes that exist and have a head.
        let lane = self.lanes.get_mut(agent).expect("armed lane exists");
        match lane.queue.front().and_then(|d| d.not_before) {
            Some(at) if at > now => {
                lane.state = LaneState::Waiting(at);
                self.waiting.push(Reverse((at, agent.clone())));
            }
            _ => {
                lane.state = LaneState::Ready;
                self.ready.push_back(agent.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn delivery(id: i64, agent: &str) -> Delivery {
        Delivery {
            id,
            event_id: format!("evt_{id}").into(),
            agent_id: agent.into(),
            payload: Bytes::new(),
            attempts: 0,
            not_before: None,
            accepted_ms: 0,
        }
    }

    fn drain(s: &mut Scheduler, now: Instant) -> Vec<i64> {
        std::iter::from_fn(|| s.next_ready(now))
            .map(|d| d.id)
            .collect()
    }

    #[test]
    fn one_delivery_per_agent_is_in_flight_and_the_next_waits_for_it() {
        let now = Instant::now();
        let mut s = Scheduler::new();
        for (id, agent) in [(1, "a"), (2, "a"), (3, "b"), (4, "a"), (5, "b")] {
            s.push(delivery(id, agent), now);
        }
        assert_eq!(drain(&mut s, now), [1, 3]);
        assert_eq!(s.in_flight(), 2);
        s.finish(&"a".into(), Finish::Done, now);
        assert_eq!(drain(&mut s, now), [2]);
        s.finish(&"a".into(), Finish::Done, now);
        s.finish(&"b".into(), Finish::Done, now);
        assert_eq!(drain(&mut s, now), [4, 5]);
        s.finish(&"a".into(), Finish::Done, now);
        s.finish(&"b".into(), Finish::Done, now);
        assert!(s.is_empty());
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn a_retrying_agent_waits_while_other_agents_flow() {
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        let mut s = Scheduler::new();
        s.push(delivery(1, "a"), now);
        s.push(delivery(2, "a"), now);
        s.push(delivery(3, "b"), now);
        assert_eq!(drain(&mut s, now), [1, 3]);
        s.finish(
            &"a".into(),
            Finish::RetryAt {
                at: later,
                attempts: 1,
            },
            now,
        );
        s.finish(&"b".into(), Finish::Done, now);
        s.push(delivery(4, "b"), now);
        assert_eq!(drain(&mut s, now), [4], "b flows while a waits");
        assert_eq!(s.next_wakeup(), Some(later));
        let retried = s.next_ready(later).unwrap();
        assert_eq!(
            (retried.id, retried.attempts),
            (1, 1),
            "a's head again, not 2"
        );
        s.finish(&"a".into(), Finish::Done, later);
        assert_eq!(drain(&mut s, later), [2]);
    }

    #[test]
    fn a_delivery_carried_over_with_a_wait_is_held_until_then() {
        let now = Instant::now();
        let mut s = Scheduler::new();
        let mut waiting = delivery(1, "a");
        waiting.not_before = Some(now + Duration::from_secs(1));
        s.push(waiting, now);
        assert!(s.next_ready(now).is_none());
        assert_eq!(drain(&mut s, now + Duration::from_secs(1)), [1]);
    }

    #[test]
    fn taking_the_queue_leaves_only_what_is_in_flight() {
        let now = Instant::now();
        let mut s = Scheduler::new();
        for (id, agent) in [(1, "a"), (2, "a"), (3, "b"), (4, "c")] {
            s.push(delivery(id, agent), now);
        }
        assert_eq!(s.next_ready(now).unwrap().id, 1);
        let taken: Vec<i64> = s.take_queued().iter().map(|d| d.id).collect();
        assert_eq!(taken, [2, 3, 4]);
        assert_eq!((s.len(), s.in_flight()), (1, 1));
        s.finish(&"a".into(), Finish::Done, now);
        assert!(s.is_empty());
        assert!(s.next_ready(now).is_none());
    }
}
