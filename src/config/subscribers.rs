//! `[subscribers]`: WebSocket subscribers on `GET /v1/subscribe`: limits, heartbeat, queues,
//! recovery.

use serde::{Deserialize, Serialize};

use super::Problems;

/// Longest time one rendered snapshot may be shared: a minute.
const MAX_SNAPSHOT_SHARE_MS: u64 = 60_000;

/// Defaults are documented in `config.toml` and repeated by [`SubscriberSettings::default`]
/// (a test keeps the two equal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscriberSettings {
    /// Most sessions at once; the next upgrade is refused with 503 and `Retry-After`.
    pub max_subscribers: usize,
    /// The `Retry-After` of that 503.
    pub retry_after_secs: u64,
    /// A session pings its client this often.
    pub ping_interval_secs: u64,
    /// A session that received nothing (no pong, no frame) for this long evicts itself.
    pub stale_timeout_secs: u64,
    /// Outbound queue budget per session; past it the session is closed with 4008.
    pub queue_max_bytes: usize,
    /// Largest frame written when queued events are coalesced or a snapshot is chunked.
    pub frame_max_bytes: usize,
    /// Largest frame (or fragmented message) a client may send; past it, close 1009.
    pub client_frame_max_bytes: usize,
    /// Broadcasts kept for replay with `?since=`; older `since` values get a snapshot.
    pub recovery_ring_size: usize,
    /// How long one rendered snapshot is shared with new sessions of the same filter (they
    /// also get the events since it); 0 renders one per session.
    pub snapshot_share_ms: u64,
    /// How long a close frame may wait behind a stalled socket before the session gives up.
    pub close_timeout_secs: u64,
    /// Broadcasts the hub holds for a downstream actor whose mailbox is full; past it the
    /// oldest is dropped and counted.
    pub downstream_backlog_max: usize,
}

impl Default for SubscriberSettings {
    fn default() -> Self {
        Self {
            max_subscribers: 10_000,
            retry_after_secs: 5,
            ping_interval_secs: 10,
            stale_timeout_secs: 30,
            queue_max_bytes: 1 << 20,
            frame_max_bytes: 64 << 10,
            client_frame_max_bytes: 64 << 10,
            recovery_ring_size: 10_000,
            snapshot_share_ms: 1_000,
            close_timeout_secs: 5,
            downstream_backlog_max: 65_536,
        }
    }
}

impl SubscriberSettings {
    pub(super) fn validate(&self, p: &mut Problems) {
        p.at_least("subscribers.max_subscribers", self.max_subscribers, 1);
        p.at_least("subscribers.ping_interval_secs", self.ping_interval_secs, 1);
        p.check(
            self.stale_timeout_secs >= self.ping_interval_secs.saturating_mul(2),
            "subscribers.stale_timeout_secs",
            format!(
                "{} must be at least twice ping_interval_secs ({}), or a live client can be evicted between two pings",
                self.stale_timeout_secs, self.ping_interval_secs
            ),
        );
        p.at_least("subscribers.frame_max_bytes", self.frame_max_bytes, 1024);
        p.check(
            self.queue_max_bytes >= self.frame_max_bytes,
            "subscribers.queue_max_bytes",
            format!(
                "{} must be at least frame_max_bytes ({})",
                self.queue_max_bytes, self.frame_max_bytes
            ),
        );
        p.at_least(
            "subscribers.client_frame_max_bytes",
            self.client_frame_max_bytes,
            256,
        );
        p.check(
            self.snapshot_share_ms <= MAX_SNAPSHOT_SHARE_MS,
            "subscribers.snapshot_share_ms",
            format!(
                "{} is above {MAX_SNAPSHOT_SHARE_MS} (one minute)",
                self.snapshot_share_ms
            ),
        );
        p.at_least("subscribers.close_timeout_secs", self.close_timeout_secs, 1);
        p.at_least(
            "subscribers.downstream_backlog_max",
            self.downstream_backlog_max,
            1,
        );
    }
}
