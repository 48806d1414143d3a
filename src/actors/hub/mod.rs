//! BroadcastHubActor: numbers every validated state, serializes it once and shares the bytes
//! with every matching subscriber session and every downstream actor.
//!
//! Receives: [`Publish`] from the validators; [`Subscribe`], [`UpdateFilter`] and
//! [`Unsubscribe`] from sessions; [`GetStats`] from `/v1/metrics`; [`CloseAll`] at shutdown.
//! Emits: frames into each session's [`Outbox`] (a shared, byte-bounded queue: pushing never
//! blocks and never awaits; a session over budget is closed with 4008), and [`Broadcasted`] to
//! the downstream recipients given at construction (see [`downstream`] for the policy when
//! their mailboxes are full).
//!
//! Consistency: `seq` is assigned here, one by one, and the snapshot (latest state per agent),
//! the recovery ring and the fan-out are all updated in the same handler, so a new session's
//! catch-up (replay after `since`, or a snapshot) and its live events meet with no gap and no
//! duplicate.
//!
//! It runs on its own arbiter (thread), see [`HubHandle::start`]; sessions run on the HTTP
//! workers and drain their outboxes there. What the hub and the sessions share (the outbox,
//! the protocol frames, the filters, the fan-out metrics) is in [`crate::fanout`]; the hub
//! knows nothing of the session actor.

pub mod downstream;
mod handle;
pub mod latency;
pub mod latest;
mod messages;
pub mod snapshots;
pub mod store;

pub use self::{handle::HubHandle, messages::*};

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, MessageResult, ResponseActFuture,
    WrapFuture,
};
use bytestring::ByteString;
use chrono::Utc;
use tokio::sync::oneshot;

use self::{
    downstream::{Downstream, DownstreamQueue},
    latency::{LatencyWindow, Percentiles},
    snapshots::SnapshotCache,
    store::Store,
};
use crate::{
    config::SubscriberSettings,
    event::{AGENT_STATE_TYPE, AgentStatePayload, Broadcast, Validated},
    fanout::{
        SessionId,
        admission::Admission,
        filter::Matcher,
        metrics::{self, FanoutMetrics},
        outbox::{Close, Frame, Outbox, Pushed},
        protocol,
        published::Published,
        wake::WakeBatch,
    },
};

/// Mailbox size of the hub: validators that `send().await` are held back past it.
pub const MAILBOX_CAPACITY: usize = 4096;

// ---------------------------------------------------------------------------------------------
// The actor

struct SessionEntry {
    id: SessionId,
    filter: Matcher,
    outbox: Arc<Outbox>,
}

pub struct BroadcastHubActor {
    settings: Arc<SubscriberSettings>,
    metrics: Arc<FanoutMetrics>,
    admission: Arc<Admission>,
    /// The last seq assigned (0: none yet).
    seq: u64,
    /// Identifies this hub's seq sequence; a restart starts a new one.
    epoch: String,
    event_ids: ulid::Generator,
    store: Store,
    /// Recent snapshot renderings, shared by sessions with the same filter.
    snapshots: SnapshotCache,
    /// Registered sessions, dense for the fan-out loop, and their positions by id.
    sessions: Vec<SessionEntry>,
    positions: HashMap<SessionId, usize>,
    /// The writers to wake after a fan-out, by worker.
    wakes: WakeBatch,
    downstream: Vec<DownstreamQueue>,
    retry_scheduled: bool,
    latency: LatencyWindow,
    latency_sum_ms: f64,
    total_broadcasts: u64,
    closing: bool,
    /// CloseAll callers waiting for the last session to stop.
    drained: Vec<oneshot::Sender<()>>,
}

impl BroadcastHubActor {
    pub fn new(
        settings: Arc<SubscriberSettings>,
        metrics: Arc<FanoutMetrics>,
        admission: Arc<Admission>,
        downstream: Vec<Downstream>,
    ) -> Self {
        let downstream = downstream
            .into_iter()
            .map(|d| DownstreamQueue::new(d, settings.downstream_backlog_max, &metrics))
            .collect();
        Self {
            store: Store::new(settings.recovery_ring_size),
            snapshots: SnapshotCache::new(Duration::from_millis(settings.snapshot_share_ms)),
            settings,
            metrics,
            admission,
            seq: 0,
            epoch: ulid::Ulid::generate().to_string(),
            event_ids: ulid::Generator::new(),
            sessions: Vec::new(),
            positions: HashMap::new(),
            wakes: WakeBatch::default(),
            downstream,
            retry_scheduled: false,
            latency: LatencyWindow::new(),
            latency_sum_ms: 0.0,
            total_broadcasts: 0,
            closing: false,
            drained: Vec::new(),
        }
    }

    fn next_event_id(&mut self) -> String {
        let ulid = match self.event_ids.generate() {
            Ok(ulid) => ulid,
            // More than 2^80 ids in one millisecond: take the next one anyway.
            Err(overflow) => overflow.commit_overflow_increment(),
        };
        format!("evt_{ulid}")
    }

    /// Numbers, serializes (once) and records a validated state.
    fn publish(&mut self, validated: Validated) -> Option<Arc<Published>> {
        let seq = self.seq + 1;
        let event_id = self.next_event_id();
        let broadcast_at = Utc::now();
        let latency = validated.received_at.elapsed();
        let latency_ms = latency.as_secs_f64() * 1000.0;
        let Validated {
            agent_id,
            state,
            violations,
            scope,
            validated: valid,
            reconciled,
            ..
        } = validated;
        let kinds = violations.iter().map(|v| v.kind).collect();
        let queues = state.queues.clone();
        let payload = AgentStatePayload {
            kind: AGENT_STATE_TYPE.into(),
            id: event_id.clone(),
            seq,
            agent_id: agent_id.to_string(),
            availability_status_matrix: state,
            notification_scope: scope,
            validated: valid,
            violations,
            broadcast_timestamp: broadcast_at,
            latency_ms,
            reconciled,
        };
        let json = match serde_json::to_string(&payload) {
            Ok(json) => json,
            Err(err) => {
                // Plain data with string keys always serializes; if it ever does not, the
                // state is lost and says so, and seq stays gap-free.
                tracing::error!(agent_id = %agent_id, error = %err, "Cannot serialize an agent state; it was not broadcast.");
                return None;
            }
        };
        self.seq = seq;
        let text = ByteString::from(json);
        let broadcast = Arc::new(Broadcast {
            seq,
            event_id,
            agent_id,
            scope,
            violations: kinds,
            queues,
            validated: valid,
            json: text.as_bytes().clone(),
            latency_ms,
            broadcast_at,
        });
        let published = Arc::new(Published {
            broadcast,
            text,
            dispatched_at: Instant::now(),
        });
        self.store.record(&published);
        self.total_broadcasts += 1;
        self.latency_sum_ms += latency_ms;
        self.latency.record(latency);
        self.metrics.broadcasts.inc();
        self.metrics
            .broadcast_latency_seconds
            .observe(latency.as_secs_f64());
        Some(published)
    }

    /// Queues a broadcast for every matching session; sessions found over budget are closing
    /// (4008) and leave the registry at once.
    fn fan_out(&mut self, published: &Arc<Published>) {
        let mut overflowed = Vec::new();
        for entry in &self.sessions {
            if entry.filter.matches(&published.broadcast)
                && entry.outbox.push_event(published, &mut self.wakes) != Pushed::Queued
            {
                overflowed.push(entry.id);
            }
        }
        // One cross-thread wake per HTTP worker, not one per session.
        self.wakes.flush();
        for id in overflowed {
            self.remove(id);
        }
    }

    fn forward_downstream(&mut self, broadcast: &Arc<Broadcast>, ctx: &mut Context<Self>) {
        let mut retry = false;
        for queue in &mut self.downstream {
            retry |= queue.forward(broadcast);
        }
        if retry {
            self.schedule_retry(ctx);
        }
    }

    fn schedule_retry(&mut self, ctx: &mut Context<Self>) {
        if self.retry_scheduled {
            return;
        }
        self.retry_scheduled = true;
        ctx.run_later(downstream::RETRY_INTERVAL, |hub, ctx| {
            hub.retry_scheduled = false;
            let mut again = false;
            for queue in &mut hub.downstream {
                again |= queue.retry();
            }
            if again {
                hub.schedule_retry(ctx);
            }
        });
    }

    fn register(&mut self, entry: SessionEntry) {
        if let Some(&at) = self.positions.get(&entry.id) {
            self.sessions[at] = entry;
            return;
        }
        self.positions.insert(entry.id, self.sessions.len());
        self.sessions.push(entry);
        self.metrics.subscribers.set(self.sessions.len() as i64);
    }

    fn remove(&mut self, id: SessionId) {
        let Some(at) = self.positions.remove(&id) else {
            return;
        };
        self.sessions.swap_remove(at);
        if let Some(moved) = self.sessions.get(at) {
            self.positions.insert(moved.id, at);
        }
        self.metrics.subscribers.set(self.sessions.len() as i64);
    }

    fn notify_if_drained(&mut self) {
        if self.closing && self.sessions.is_empty() && self.admission.active() == 0 {
            for waiter in self.drained.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    fn stats(&mut self) -> HubStats {
        let Percentiles {
            p50_ms,
            p99_ms,
            max_ms,
        } = self.latency.percentiles();
        HubStats {
            total_broadcasts: self.total_broadcasts,
            average_latency_ms: if self.total_broadcasts == 0 {
                0.0
            } else {
                self.latency_sum_ms / self.total_broadcasts as f64
            },
            active_subscribers: self.sessions.len(),
            latency_p50_ms: p50_ms,
            latency_p99_ms: p99_ms,
            latency_max_ms: max_ms,
            latency_window_secs: latency::WINDOW.as_secs(),
            deliveries: self.metrics.deliveries.get(),
            frames: self.metrics.frames.get(),
            evictions: metrics::EVICTION_REASONS
                .into_iter()
                .map(|reason| (reason, self.metrics.evictions_for(reason)))
                .collect(),
            seq: self.seq,
            epoch: self.epoch.clone(),
            recovery_ring: self.store.ring_len(),
            snapshot_agents: self.store.agents(),
            downstream: self.downstream.iter().map(DownstreamQueue::stats).collect(),
        }
    }
}

impl Actor for BroadcastHubActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        tracing::info!(epoch = %self.epoch, ring = self.settings.recovery_ring_size, "Broadcast hub started.");
    }
}

impl Handler<Publish> for BroadcastHubActor {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) {
        if let Some(published) = self.publish(msg.validated) {
            self.fan_out(&published);
            self.forward_downstream(&published.broadcast, ctx);
        }
    }
}

impl Handler<Subscribe> for BroadcastHubActor {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Self::Context) {
        if self.closing {
            msg.outbox.close(Close::Shutdown);
            return;
        }
        let same_epoch = msg.epoch.as_deref().is_none_or(|e| e == self.epoch);
        let replay = msg
            .since
            .filter(|_| same_epoch)
            .and_then(|since| self.store.replay(since, self.seq, &msg.filter));
        let recovered = replay.is_some();
        // Without a replay: a snapshot (perhaps rendered for an earlier session with the same
        // filter) and the events since it. The session starts at the snapshot's seq.
        let (start_seq, snapshot, events) = match replay {
            Some(events) => (self.seq, None, events),
            None => {
                let catch_up = self.snapshots.for_new_session(
                    &self.store,
                    &msg.filter,
                    self.seq,
                    self.settings.frame_max_bytes,
                );
                self.metrics.count_snapshot(catch_up.shared);
                (
                    catch_up.snapshot.seq,
                    Some(catch_up.snapshot),
                    catch_up.since,
                )
            }
        };
        let session_id = msg.session_id.to_string();
        let welcome = protocol::encode(&protocol::Welcome {
            kind: protocol::WELCOME,
            session_id: &session_id,
            seq: start_seq,
            epoch: &self.epoch,
            heartbeat_secs: self.settings.ping_interval_secs,
            stale_timeout_secs: self.settings.stale_timeout_secs,
            recovered,
            filter: msg.filter.spec(),
        });
        let catch_up: Vec<Frame> = std::iter::once(Frame::Text(welcome))
            .chain(snapshot.map(Frame::Snapshot))
            .chain(events.into_iter().map(Frame::Event))
            .collect();
        if msg.outbox.push_catch_up(catch_up) == Pushed::Queued {
            self.register(SessionEntry {
                id: msg.session_id,
                filter: msg.filter.into_matcher(),
                outbox: msg.outbox,
            });
        }
    }
}

impl Handler<UpdateFilter> for BroadcastHubActor {
    type Result = ();

    fn handle(&mut self, msg: UpdateFilter, _ctx: &mut Self::Context) {
        let Some(&at) = self.positions.get(&msg.session_id) else {
            return;
        };
        let subscribed = protocol::encode(&protocol::Subscribed {
            kind: protocol::SUBSCRIBED,
            seq: self.seq,
            filter: msg.filter.spec(),
        });
        let (snapshot, shared) = self.snapshots.as_of_now(
            &self.store,
            &msg.filter,
            self.seq,
            self.settings.frame_max_bytes,
        );
        self.metrics.count_snapshot(shared);
        let snapshot = Frame::Snapshot(snapshot);
        let entry = &mut self.sessions[at];
        entry.filter = msg.filter.into_matcher();
        if entry
            .outbox
            .push_catch_up([Frame::Text(subscribed), snapshot])
            != Pushed::Queued
        {
            self.remove(msg.session_id);
        }
    }
}

impl Handler<Unsubscribe> for BroadcastHubActor {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _ctx: &mut Self::Context) {
        self.remove(msg.session_id);
        self.notify_if_drained();
    }
}

impl Handler<GetStats> for BroadcastHubActor {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _msg: GetStats, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.stats())
    }
}

impl Handler<CloseAll> for BroadcastHubActor {
    type Result = ResponseActFuture<Self, ClosedAll>;

    fn handle(&mut self, _msg: CloseAll, _ctx: &mut Self::Context) -> Self::Result {
        self.closing = true;
        self.admission.close();
        let closed = self.sessions.len();
        for entry in &self.sessions {
            entry.outbox.close(Close::Shutdown);
        }
        tracing::info!(
            sessions = closed,
            "Closing every subscriber session (1001)."
        );
        let (tx, rx) = oneshot::channel();
        self.drained.push(tx);
        self.notify_if_drained();
        // Each session gives up on its close frame after close_timeout_secs; the margin
        // covers the sessions' own stop.
        let wait = Duration::from_secs(self.settings.close_timeout_secs) + Duration::from_secs(2);
        Box::pin(
            async move { tokio::time::timeout(wait, rx).await }
                .into_actor(self)
                .map(move |_, hub, _| ClosedAll {
                    closed,
                    remaining: hub.admission.active(),
                }),
        )
    }
}
