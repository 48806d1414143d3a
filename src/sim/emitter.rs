//! Drives the state machine at the configured rate and publishes each change.
//!
//! A tick every [`TICK`] emits `rate × elapsed` changes (the fraction carries over; a backlog
//! is capped at [`MAX_BACKLOG_SECS`] of changes, so an overloaded emulator emits fewer rather
//! than bursting). The truth moves whether or not anyone is subscribed. For each change, each
//! touched topic gets a correlation id from the seeded generator (always, so subscriptions do
//! not change the sequence); its message is serialized once, only when a connected channel is
//! subscribed, and the same bytes are queued on every such socket.
//!
//! The world and hub locks are held for at most [`BATCH`] changes at a time, so REST calls
//! interleave with a heavy emission.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::time::MissedTickBehavior;

use crate::{
    genesys::topics::{UserTopicKind, user_topic},
    sim::{
        hub::Hub,
        ids::uuid_from,
        machine::{self, Change},
        messages::{self, Body},
        world::{LoggedChange, LoggedMessage, Sim, World, lock},
    },
};

/// Time between ticks.
pub const TICK: Duration = Duration::from_millis(5);
/// Largest backlog of changes carried between ticks, in seconds of the current rate.
pub const MAX_BACKLOG_SECS: f64 = 1.0;
/// Changes made per lock hold.
pub const BATCH: u64 = 256;
/// Time between channel-expiry sweeps.
const SWEEP: Duration = Duration::from_millis(50);

/// The tick loop; runs until the emulator stops.
pub async fn run(sim: Arc<Sim>) {
    let mut ticker = actix_web::rt::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last = Instant::now();
    let mut next_sweep = last;
    let mut due = 0.0f64;
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let elapsed = now - last;
        last = now;
        if now >= next_sweep {
            sweep(&sim, sim.clock.now());
            next_sweep = now + SWEEP;
        }
        if sim.paused() {
            due = 0.0;
            continue;
        }
        let rate = sim.rate();
        due = (due + rate * elapsed.as_secs_f64()).min(rate * MAX_BACKLOG_SECS + 1.0);
        let whole = due.floor();
        if whole >= 1.0 {
            due -= whole;
            emit(&sim, whole as u64);
        }
    }
}

/// Removes expired channels (closing their sockets).
fn sweep(sim: &Sim, now: Instant) {
    let expired = lock(&sim.hub).expire_due(now);
    for channel_id in expired {
        tracing::info!(%channel_id, "Channel expired.");
    }
}

/// Makes and publishes `count` changes; returns how many were made.
pub fn emit(sim: &Sim, count: u64) -> u64 {
    let mut done = 0;
    while done < count {
        let batch = (count - done).min(BATCH);
        let mut world = lock(&sim.world);
        let mut hub = lock(&sim.hub);
        for _ in 0..batch {
            let change = machine::step(&sim.org, &mut world, sim.clock.utc_now());
            publish(sim, &mut world, &mut hub, &change);
        }
        done += batch;
    }
    done
}

/// Counts a change, logs it while the log has room, and queues its messages on the
/// subscribed sockets.
pub fn publish(sim: &Sim, world: &mut World, hub: &mut Hub, change: &Change) {
    world.events_emitted += 1;
    let agent_id = &sim.org.agents[change.agent as usize].id;
    let mut logged = world.wants_log().then(|| LoggedChange {
        seq: world.events_emitted,
        agent_id: agent_id.clone(),
        messages: Vec::new(),
    });
    for kind in change.topics.iter() {
        let correlation_id = uuid_from(&mut world.rng);
        let deliver = hub.any_connected(hub.subscribers(change.agent, kind));
        if !deliver && logged.is_none() {
            continue;
        }
        let Some(body) = body(sim, world, change, kind) else {
            continue;
        };
        if let Some(logged) = logged.as_mut() {
            logged.messages.push(LoggedMessage {
                topic_name: user_topic(agent_id, kind),
                correlation_id: correlation_id.to_string(),
                event_body: messages::without_timestamps(&body),
            });
        }
        if deliver {
            let text =
                messages::agent_envelope(&sim.org, change.agent, kind, &body, correlation_id);
            for i in 0..hub.subscribers(change.agent, kind).len() {
                let slot = hub.subscribers(change.agent, kind)[i];
                hub.deliver(slot, &text, true);
            }
        }
    }
    if let Some(logged) = logged {
        world.log.push(logged);
    }
}

/// The body of one topic of a change, from the agent's state after the change.
fn body(sim: &Sim, world: &World, change: &Change, kind: UserTopicKind) -> Option<Body> {
    let org = &sim.org;
    let state = &world.agents[change.agent as usize];
    Some(match kind {
        UserTopicKind::Presence => Body::Presence(messages::presence(org, &state.status)),
        UserTopicKind::RoutingStatus => {
            Body::RoutingStatus(messages::routing_status(org, change.agent, &state.status))
        }
        UserTopicKind::Activity => {
            Body::Activity(messages::activity(org, change.agent, &state.status))
        }
        UserTopicKind::ConversationSummary => Body::ConversationSummary(
            messages::conversation_summary(org, change.agent, &state.conversations),
        ),
        UserTopicKind::Schedules => Body::Schedules(change.schedule.clone()?),
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::{config::Settings, sim::SimConfig};

    fn sim(seed: u64, anchor: chrono::DateTime<Utc>) -> Sim {
        let mut config = SimConfig::from_settings(&Settings::defaults().sim);
        config.agents = 300;
        config.seed = seed;
        config.anchor = anchor;
        Sim::new(config, "http://127.0.0.1:1".into())
    }

    /// The org as plain data (its lookup maps aside).
    fn org_fingerprint(sim: &Sim) -> String {
        let org = &sim.org;
        format!(
            "{:?}{:?}{:?}{:?}{:?}{:?}",
            org.agents,
            org.business_units,
            org.management_units,
            org.queues,
            org.presences,
            org.name_order
        )
    }

    #[test]
    fn the_same_seed_gives_the_same_org_and_first_1000_changes_and_another_seed_does_not() {
        let anchor = Utc::now();
        let (a, b, c) = (sim(11, anchor), sim(11, anchor), sim(12, anchor));
        assert_eq!(org_fingerprint(&a), org_fingerprint(&b));
        assert_ne!(org_fingerprint(&a), org_fingerprint(&c));
        {
            let (wa, wb) = (lock(&a.world), lock(&b.world));
            assert_eq!(wa.agents, wb.agents);
            assert_eq!(wa.shifts, wb.shifts);
            assert_eq!(wa.overrides, wb.overrides);
            assert_eq!(wa.time_off, wb.time_off);
            assert!(wa.overrides.iter().any(Option::is_some));
        }
        for s in [&a, &b, &c] {
            assert_eq!(emit(s, 1000), 1000);
        }
        let log = |s: &Sim| serde_json::to_string(&lock(&s.world).log).unwrap_or_default();
        let (la, lb, lc) = (log(&a), log(&b), log(&c));
        assert_eq!(lock(&a.world).log.len(), 1000);
        assert_eq!(la, lb);
        assert_ne!(la, lc);
        let topics: std::collections::BTreeSet<String> = (lock(&a.world).log.iter())
            .flat_map(|c| c.messages.iter())
            .filter_map(|m| m.topic_name.rsplit_once('.'))
            .map(|(_, kind)| kind.to_owned())
            .collect();
        for kind in [
            "presence",
            "routingStatus",
            "activity",
            "conversationsummary",
        ] {
            assert!(topics.contains(kind), "{kind} among {topics:?}");
        }
    }

    #[test]
    fn every_change_is_counted_and_timestamps_strictly_increase_per_agent() {
        let s = sim(5, Utc::now());
        let before: Vec<_> = lock(&s.world).agents.iter().map(|a| a.last_stamp).collect();
        emit(&s, 2000);
        let world = lock(&s.world);
        assert_eq!(world.events_emitted, 2000);
        for (agent, state) in world.agents.iter().enumerate() {
            assert!(state.last_stamp >= before[agent]);
            assert!(state.status.presence_modified <= state.last_stamp);
            assert!(state.status.routing_start <= state.last_stamp);
        }
        let over = (0..world.agents.len() as u32)
            .filter(|a| world.over_capacity(*a))
            .count();
        assert!(over > 0, "over capacity happens now and then");
    }
}
