//! What the hub remembers: the latest broadcast per agent (the snapshot) and a ring of the
//! last K broadcasts (recovery), both consistent with `seq`.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
};

use crate::{
    event::AgentId,
    fanout::{filter::Filter, published::Published},
};

#[derive(Debug)]
pub struct Store {
    latest: HashMap<AgentId, Arc<Published>>,
    ring: VecDeque<Arc<Published>>,
    ring_size: usize,
}

impl Store {
    pub fn new(ring_size: usize) -> Self {
        Self {
            latest: HashMap::new(),
            ring: VecDeque::with_capacity(ring_size.min(4096)),
            ring_size,
        }
    }

    /// Remembers a broadcast; its `seq` must follow the previous one.
    pub fn record(&mut self, published: &Arc<Published>) {
        debug_assert!(
            self.ring
                .back()
                .is_none_or(|last| last.broadcast.seq + 1 == published.broadcast.seq)
        );
        self.latest.insert(
            Arc::clone(&published.broadcast.agent_id),
            Arc::clone(published),
        );
        if self.ring_size == 0 {
            return;
        }
        if self.ring.len() == self.ring_size {
            self.ring.pop_front();
        }
        self.ring.push_back(Arc::clone(published));
    }

    /// The matching events with `seq > since`, if the ring still holds all of them; `current`
    /// is the last assigned seq.
    pub fn replay(&self, since: u64, current: u64, filter: &Filter) -> Option<Vec<Arc<Published>>> {
        if since > current {
            return None;
        }
        if since == current {
            return Some(Vec::new());
        }
        let first = self.ring.front()?.broadcast.seq;
        if since + 1 < first {
            return None;
        }
        let skip = usize::try_from(since + 1 - first).ok()?;
        Some(
            self.ring
                .iter()
                .skip(skip)
                .filter(|p| filter.matches(&p.broadcast))
                .cloned()
                .collect(),
        )
    }

    /// Every matching agent's latest state, oldest first.
    pub fn snapshot(&self, filter: &Filter) -> Vec<Arc<Published>> {
        let mut agents: Vec<Arc<Published>> = self
            .latest
            .values()
            .filter(|p| filter.matches(&p.broadcast))
            .cloned()
            .collect();
        agents.sort_unstable_by_key(|p| p.broadcast.seq);
        agents
    }

    /// One agent's latest broadcast.
    pub fn latest_of(&self, agent_id: &str) -> Option<&Arc<Published>> {
        self.latest.get(agent_id)
    }

    /// Every agent's latest broadcast, by agent id.
    pub fn all_latest(&self) -> Vec<Arc<Published>> {
        let mut all: Vec<Arc<Published>> = self.latest.values().cloned().collect();
        all.sort_unstable_by(|a, b| a.broadcast.agent_id.cmp(&b.broadcast.agent_id));
        all
    }

    pub fn ring_len(&self) -> usize {
        self.ring.len()
    }

    pub fn agents(&self) -> usize {
        self.latest.len()
    }

    /// The oldest seq a `since` may name and still be replayed.
    pub fn oldest_replayable_since(&self, current: u64) -> u64 {
        self.ring
            .front()
            .map_or(current, |p| p.broadcast.seq.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;
    use bytestring::ByteString;
    use chrono::Utc;

    use super::*;
    use crate::{
        auth::Grant,
        event::{Broadcast, Scope},
        fanout::filter::FilterSpec,
    };

    fn published(seq: u64, agent: &str) -> Arc<Published> {
        Arc::new(Published {
            broadcast: Arc::new(Broadcast {
                seq,
                event_id: format!("evt_{seq}"),
                agent_id: agent.into(),
                scope: Scope::GlobalRouting,
                violations: vec![],
                queues: vec![],
                validated: true,
                json: Bytes::new(),
                latency_ms: 0.0,
                broadcast_at: Utc::now(),
            }),
            text: ByteString::new(),
            dispatched_at: Instant::now(),
        })
    }

    fn all() -> Filter {
        let grant = Grant {
            name: "t".into(),
            scopes: Scope::ALL.to_vec(),
            admin: false,
        };
        Filter::new(FilterSpec::default(), &grant).unwrap()
    }

    fn seqs(list: &[Arc<Published>]) -> Vec<u64> {
        list.iter().map(|p| p.broadcast.seq).collect()
    }

    #[test]
    fn replay_returns_exactly_the_missed_events_or_nothing() {
        let mut store = Store::new(4);
        for seq in 1..=10 {
            store.record(&published(seq, if seq % 2 == 0 { "a" } else { "b" }));
        }
        // The ring holds 7..=10.
        assert_eq!(seqs(&store.replay(6, 10, &all()).unwrap()), [7, 8, 9, 10]);
        assert_eq!(seqs(&store.replay(8, 10, &all()).unwrap()), [9, 10]);
        assert_eq!(seqs(&store.replay(10, 10, &all()).unwrap()), [] as [u64; 0]);
        assert!(store.replay(5, 10, &all()).is_none());
        assert!(store.replay(11, 10, &all()).is_none());
        assert_eq!(store.oldest_replayable_since(10), 6);
    }

    #[test]
    fn the_snapshot_holds_each_agents_latest_state_in_seq_order() {
        let mut store = Store::new(0);
        for seq in 1..=5 {
            store.record(&published(seq, if seq == 3 { "c" } else { "a" }));
        }
        assert_eq!(seqs(&store.snapshot(&all())), [3, 5]);
        assert!(store.replay(4, 5, &all()).is_none());
        assert_eq!(store.ring_len(), 0);
    }
}
