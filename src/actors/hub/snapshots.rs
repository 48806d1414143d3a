//! Rendered snapshots, shared between the sessions that ask for the same filter.
//!
//! A snapshot is every matching agent's latest state, rendered into `snapshot` frames of at
//! most `frame_max_bytes`. Rendering it for each new session made a reconnect storm cost one
//! copy per session (1,000 subscribers of a 1,000-agent org: ~600 MB at once). The hub instead
//! keeps the last few renderings, by filter, for a short while, and a new session with the
//! same filter gets the shared frames plus a replay of the events since that rendering, which
//! is exactly what it would have received had it connected then.
//!
//! The hub only picks the agents (cheap: shared pointers); the first session writer that
//! needs the frames renders them, on its HTTP worker, so the hub's thread never copies a
//! snapshot. The rendering itself, [`RenderedSnapshot`], is in `crate::fanout::snapshot`,
//! with the other types the hub and the sessions share.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use super::store::Store;
use crate::fanout::{
    filter::{Filter, FilterSpec},
    published::Published,
    snapshot::RenderedSnapshot,
};

/// Renderings kept at once (distinct filters connecting together).
const KEEP: usize = 8;

/// What a new session is sent to catch up: the snapshot, then the events after its `seq`.
pub struct SnapshotCatchUp {
    pub snapshot: Arc<RenderedSnapshot>,
    pub since: Vec<Arc<Published>>,
    /// Whether the rendering was shared rather than made for this session.
    pub shared: bool,
}

struct Kept {
    spec: FilterSpec,
    rendered_at: Instant,
    snapshot: Arc<RenderedSnapshot>,
}

/// The hub's recent renderings.
pub struct SnapshotCache {
    /// How long a rendering is offered to new sessions (with the events since replayed).
    share_for: Duration,
    kept: Vec<Kept>,
}

impl SnapshotCache {
    pub fn new(share_for: Duration) -> Self {
        Self {
            share_for,
            kept: Vec::new(),
        }
    }

    /// The catch-up for a new session at `current` seq: a recent rendering for the same
    /// filter with the events since (if the ring still holds them), or a fresh rendering.
    pub fn for_new_session(
        &mut self,
        store: &Store,
        filter: &Filter,
        current: u64,
        frame_max_bytes: usize,
    ) -> SnapshotCatchUp {
        self.forget_old();
        if let Some(kept) = self.kept.iter().find(|k| k.spec == *filter.spec())
            && let Some(since) = store.replay(kept.snapshot.seq, current, filter)
        {
            return SnapshotCatchUp {
                snapshot: Arc::clone(&kept.snapshot),
                since,
                shared: true,
            };
        }
        SnapshotCatchUp {
            snapshot: self.render(store, filter, current, frame_max_bytes),
            since: Vec::new(),
            shared: false,
        }
    }

    /// A snapshot as of exactly `current` (a session changing its filter has already seen
    /// events up to now, so it cannot be sent older ones): shared only if rendered at `current`.
    pub fn as_of_now(
        &mut self,
        store: &Store,
        filter: &Filter,
        current: u64,
        frame_max_bytes: usize,
    ) -> (Arc<RenderedSnapshot>, bool) {
        self.forget_old();
        match self
            .kept
            .iter()
            .find(|k| k.spec == *filter.spec() && k.snapshot.seq == current)
        {
            Some(kept) => (Arc::clone(&kept.snapshot), true),
            None => (self.render(store, filter, current, frame_max_bytes), false),
        }
    }

    fn render(
        &mut self,
        store: &Store,
        filter: &Filter,
        current: u64,
        frame_max_bytes: usize,
    ) -> Arc<RenderedSnapshot> {
        let snapshot = Arc::new(RenderedSnapshot::new(
            current,
            store.snapshot(filter),
            frame_max_bytes,
        ));
        self.kept.retain(|k| k.spec != *filter.spec());
        if self.share_for.is_zero() {
            return snapshot;
        }
        if self.kept.len() == KEEP {
            self.kept.remove(0);
        }
        self.kept.push(Kept {
            spec: filter.spec().clone(),
            rendered_at: Instant::now(),
            snapshot: Arc::clone(&snapshot),
        });
        snapshot
    }

    fn forget_old(&mut self) {
        let share_for = self.share_for;
        self.kept.retain(|k| k.rendered_at.elapsed() <= share_for);
    }
}
