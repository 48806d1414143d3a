//! The hub's messages (it receives them all) and its answers.

use std::{collections::HashMap, sync::Arc};

use actix::Message;
use serde::Serialize;

use super::downstream::DownstreamStats;
use crate::{
    event::Validated,
    fanout::{SessionId, filter::Filter, outbox::Outbox},
};

/// A validated state to broadcast (from a ValidatorActor).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Publish {
    pub validated: Validated,
}

/// A broadcast, as the downstream actors (webhooks, audit) receive it, and the notice of
/// broadcasts dropped for one of them (defined with the other messages several actors receive).
pub use crate::actors::{Broadcasted, BroadcastsDropped};

/// A new session: the hub queues its welcome and catch-up, then registers it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub session_id: SessionId,
    pub outbox: Arc<Outbox>,
    pub filter: Filter,
    /// Replay the events after this seq if the ring still holds them.
    pub since: Option<u64>,
    /// The epoch `since` was read in; another epoch gets a snapshot.
    pub epoch: Option<String>,
}

/// A session's new filter (a `subscribe` frame): answered with `subscribed` and a snapshot.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct UpdateFilter {
    pub session_id: SessionId,
    pub filter: Filter,
}

/// A session has stopped.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub session_id: SessionId,
}

/// The figures of `/v1/metrics`.
#[derive(Debug, Message)]
#[rtype(result = "HubStats")]
pub struct GetStats;

/// Shutdown: refuse new subscribers, close every session with 1001, and answer once all have
/// stopped (or after `close_timeout_secs` and a margin).
#[derive(Debug, Message)]
#[rtype(result = "ClosedAll")]
pub struct CloseAll;

/// The answer to [`CloseAll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClosedAll {
    /// Sessions asked to close.
    pub closed: usize,
    /// Sessions still admitted when the wait ended (0 unless it timed out).
    pub remaining: usize,
}

/// The hub's figures. The first three are the seed's.
#[derive(Debug, Clone, Serialize)]
pub struct HubStats {
    pub total_broadcasts: u64,
    pub average_latency_ms: f64,
    pub active_subscribers: usize,
    /// Ingest → dispatch percentiles over the last one to two minutes.
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    pub latency_window_secs: u64,
    /// Agent states written to subscribers (live, replayed, or in snapshots).
    pub deliveries: u64,
    /// WebSocket frames written to subscribers.
    pub frames: u64,
    /// Evictions by reason (`slow_consumer`, `stale`).
    pub evictions: HashMap<&'static str, u64>,
    /// The last seq assigned and the hub's epoch.
    pub seq: u64,
    pub epoch: String,
    /// Broadcasts held for recovery, and agents in the snapshot.
    pub recovery_ring: usize,
    pub snapshot_agents: usize,
    pub downstream: Vec<DownstreamStats>,
}
