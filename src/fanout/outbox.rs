//! A session's outbound queue: the hand-off between the hub (one thread, pushes) and the
//! session's writer (an HTTP worker thread, drains).
//!
//! Pushing never blocks and never awaits: it takes a short lock, appends a shared frame (a
//! reference-counted buffer; no copy per subscriber) and wakes the writer only if it was idle,
//! so a busy session is woken once per drain rather than once per event. The queue is bounded
//! in bytes: a push that would take it past the budget closes the session instead
//! ([`Close::SlowConsumer`]) and frees what was queued. The initial catch-up (welcome, replay,
//! snapshot) is not counted against the budget; it is bounded by the ring and the agent count.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
};

use bytes::Bytes;
use bytestring::ByteString;

use super::{
    published::Published,
    snapshot::RenderedSnapshot,
    wake::{WakeBatch, WakeGroup},
};

/// One queued item.
#[derive(Debug)]
pub enum Frame {
    /// An `agent.state` payload shared with every other session.
    Event(Arc<Published>),
    /// A control frame (`welcome`, `subscribed`, `error`, `pong`).
    Text(ByteString),
    /// Every matching agent's latest state, rendered into `snapshot` frames (shared with
    /// other sessions of the same filter).
    Snapshot(Arc<RenderedSnapshot>),
    /// A WebSocket ping (heartbeat).
    Ping,
    /// A WebSocket pong answering the client's ping.
    Pong(Bytes),
}

/// A frame and the bytes it counts against the budget (0 for the initial catch-up).
#[derive(Debug)]
pub struct Queued {
    pub frame: Frame,
    pub cost: usize,
}

/// Why and how a session closes. The first close requested wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// The client sent a close frame: answer 1000.
    ClientClosed,
    /// Server shutdown: write what is queued, then 1001 "going away".
    Shutdown,
    /// The client broke the protocol: 1002.
    ProtocolError,
    /// The client sent a frame over the limit: 1009.
    TooBig,
    /// The queue overflowed its budget: 4008 "slow consumer".
    SlowConsumer,
    /// Nothing came back for `stale_timeout_secs`: 4001 "stale".
    Stale,
}

impl Close {
    pub fn code(self) -> u16 {
        match self {
            Self::ClientClosed => 1000,
            Self::Shutdown => 1001,
            Self::ProtocolError => 1002,
            Self::TooBig => 1009,
            Self::SlowConsumer => 4008,
            Self::Stale => 4001,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::ClientClosed => "bye",
            Self::Shutdown => "going away",
            Self::ProtocolError => "protocol error",
            Self::TooBig => "frame too big",
            Self::SlowConsumer => "slow consumer",
            Self::Stale => "stale",
        }
    }

    /// Whether queued frames are written before the close frame.
    pub fn flushes(self) -> bool {
        matches!(self, Self::Shutdown)
    }

    /// The `reason` label of `agentcast_subscriber_disconnects_total`.
    pub fn metric_reason(self) -> &'static str {
        match self {
            Self::ClientClosed => "client_close",
            Self::Shutdown => "shutdown",
            Self::ProtocolError => "protocol_error",
            Self::TooBig => "too_big",
            Self::SlowConsumer => "slow_consumer",
            Self::Stale => "stale",
        }
    }

    /// Whether this close is an eviction (counted and audited).
    pub fn is_eviction(self) -> bool {
        matches!(self, Self::SlowConsumer | Self::Stale)
    }
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// The budget would have been exceeded: the session is now closing with 4008.
    Overflowed,
    /// The session is closing or closed; nothing was queued.
    Closed,
}

/// What the writer found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Frames were moved into the writer's batch.
    Frames,
    /// The session must close (for a flushing close, what was queued is in the batch).
    Close(Close),
}

/// What the idle writer waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wants {
    /// Frames or a close (the writer is idle).
    Anything,
    /// Only a close (the writer is blocked on a full socket; new frames would not help).
    Close,
}

#[derive(Debug)]
struct State {
    queue: VecDeque<Queued>,
    /// Counted bytes ever pushed (with `Outbox::released_bytes`: what is queued now).
    pushed_bytes: u64,
    close: Option<Close>,
    waker: Option<Waker>,
    wants: Wants,
}

#[derive(Debug)]
pub struct Outbox {
    state: Mutex<State>,
    /// Counted bytes ever handed to the socket by the writer. Pushed minus released is what
    /// is queued or taken by the writer and not yet written; keeping the two apart means the
    /// hub and the writer never write the same counter.
    released_bytes: AtomicU64,
    budget_bytes: u64,
    /// The worker's wake group, through which the hub wakes the writer (see [`super::wake`]).
    group: Option<Arc<WakeGroup>>,
}

impl Outbox {
    /// An outbox whose writer the hub wakes through `group` (sessions pass their worker's);
    /// without one, pushes wake the writer directly.
    pub fn new(budget_bytes: usize, group: Option<Arc<WakeGroup>>) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                pushed_bytes: 0,
                close: None,
                waker: None,
                wants: Wants::Anything,
            }),
            released_bytes: AtomicU64::new(0),
            budget_bytes: budget_bytes as u64,
            group,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding this lock; if one did, the queue is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a live event, counted against the budget (the hub's fan-out). The writer's
    /// wake goes into `batch` when the outbox has a wake group, and happens now otherwise.
    pub fn push_event(&self, published: &Arc<Published>, batch: &mut WakeBatch) -> Pushed {
        let cost = published.text.len();
        let (pushed, waker) = self.push_inner(Frame::Event(Arc::clone(published)), cost);
        if let Some(waker) = waker {
            match &self.group {
                Some(group) => batch.add(group, waker),
                None => waker.wake(),
            }
        }
        pushed
    }

    /// Queues a control frame, counted against the budget.
    pub fn push_text(&self, text: ByteString) -> Pushed {
        let cost = text.len();
        self.push(Frame::Text(text), cost)
    }

    /// Queues a pong, counted against the budget.
    pub fn push_pong(&self, payload: Bytes) -> Pushed {
        let cost = payload.len() + 2;
        self.push(Frame::Pong(payload), cost)
    }

    /// Queues a heartbeat ping unless one is still waiting to be written.
    pub fn push_ping(&self) -> Pushed {
        {
            let state = self.lock();
            if state.queue.iter().any(|q| matches!(q.frame, Frame::Ping)) {
                return Pushed::Queued;
            }
        }
        self.push(Frame::Ping, 2)
    }

    /// Queues a catch-up (welcome, then replayed events or a snapshot) without counting it.
    /// A snapshot still waiting in the queue is superseded by a newer one.
    pub fn push_catch_up(&self, frames: impl IntoIterator<Item = Frame>) -> Pushed {
        let mut state = self.lock();
        if state.close.is_some() {
            return Pushed::Closed;
        }
        for frame in frames {
            if matches!(frame, Frame::Snapshot(_)) {
                state
                    .queue
                    .retain(|q| !matches!(q.frame, Frame::Snapshot(_)));
            }
            state.queue.push_back(Queued { frame, cost: 0 });
        }
        let waker = match state.wants {
            Wants::Anything => state.waker.take(),
            Wants::Close => None,
        };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Pushed::Queued
    }

    fn push(&self, frame: Frame, cost: usize) -> Pushed {
        let (pushed, waker) = self.push_inner(frame, cost);
        if let Some(waker) = waker {
            waker.wake();
        }
        pushed
    }

    /// Queues a frame; returns the writer's waker if it must be woken.
    fn push_inner(&self, frame: Frame, cost: usize) -> (Pushed, Option<Waker>) {
        let mut state = self.lock();
        if state.close.is_some() {
            return (Pushed::Closed, None);
        }
        let cost = cost as u64;
        let queued = state.pushed_bytes - self.released_bytes.load(Ordering::Acquire);
        if queued + cost > self.budget_bytes {
            state.close = Some(Close::SlowConsumer);
            let dropped = std::mem::take(&mut state.queue);
            let waker = state.waker.take();
            drop(state);
            drop(dropped);
            return (Pushed::Overflowed, waker);
        }
        state.pushed_bytes += cost;
        state.queue.push_back(Queued {
            frame,
            cost: cost as usize,
        });
        let waker = match state.wants {
            Wants::Anything => state.waker.take(),
            Wants::Close => None,
        };
        (Pushed::Queued, waker)
    }

    /// Asks the session to close; the first reason wins. Returns whether this call set it.
    pub fn close(&self, close: Close) -> bool {
        let mut state = self.lock();
        if state.close.is_some() {
            return false;
        }
        state.close = Some(close);
        if !close.flushes() {
            state.queue.clear();
        }
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The close requested, if any.
    pub fn closing(&self) -> Option<Close> {
        self.lock().close
    }

    /// Writer side: moves everything queued into `batch` (which must be empty), or reports a
    /// close, or registers the writer to be woken by the next push or close.
    pub fn poll_take(&self, cx: &mut Context<'_>, batch: &mut VecDeque<Queued>) -> Poll<Taken> {
        debug_assert!(batch.is_empty());
        let mut state = self.lock();
        if let Some(close) = state.close {
            if close.flushes() {
                std::mem::swap(&mut state.queue, batch);
            }
            return Poll::Ready(Taken::Close(close));
        }
        if state.queue.is_empty() {
            state.wants = Wants::Anything;
            register(&mut state.waker, cx);
            return Poll::Pending;
        }
        std::mem::swap(&mut state.queue, batch);
        Poll::Ready(Taken::Frames)
    }

    /// Writer side, during a flushing close: moves what is still queued into `batch`.
    pub fn take_all(&self, batch: &mut VecDeque<Queued>) {
        let mut state = self.lock();
        batch.extend(state.queue.drain(..));
    }

    /// Writer side, while the socket is full: the close requested, or registers the writer to
    /// be woken by a close (not by pushes, which cannot help).
    pub fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Close> {
        let mut state = self.lock();
        match state.close {
            Some(close) => Poll::Ready(close),
            None => {
                state.wants = Wants::Close;
                register(&mut state.waker, cx);
                Poll::Pending
            }
        }
    }

    /// Writer side: `bytes` of counted frames were handed to the socket.
    pub fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.released_bytes
                .fetch_add(bytes as u64, Ordering::AcqRel);
        }
    }

    /// Counted bytes not yet handed to the socket.
    pub fn queued_bytes(&self) -> usize {
        let pushed = self.lock().pushed_bytes;
        (pushed - self.released_bytes.load(Ordering::Acquire)) as usize
    }
}

fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::AtomicUsize,
        task::{Wake, Waker},
    };

    use bytes::Bytes;
    use chrono::Utc;

    use super::*;
    use crate::event::{Broadcast, Scope};

    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn rendered(seq: u64, agents: &[Arc<Published>]) -> Arc<RenderedSnapshot> {
        Arc::new(RenderedSnapshot::new(seq, agents.to_vec(), 64 << 10))
    }

    fn event(len: usize) -> Arc<Published> {
        let text = ByteString::from("x".repeat(len));
        Arc::new(Published {
            broadcast: Arc::new(Broadcast {
                seq: 1,
                event_id: "evt".into(),
                agent_id: "a".into(),
                scope: Scope::GlobalRouting,
                violations: vec![],
                queues: vec![],
                validated: true,
                json: text.as_bytes().clone(),
                latency_ms: 0.0,
                broadcast_at: Utc::now(),
            }),
            text,
            dispatched_at: std::time::Instant::now(),
        })
    }

    #[test]
    fn an_idle_writer_is_woken_once_per_drain_and_gets_everything_queued() {
        let outbox = Outbox::new(1000, None);
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        let mut batch = VecDeque::new();
        assert!(outbox.poll_take(&mut cx, &mut batch).is_pending());
        for _ in 0..3 {
            assert_eq!(
                outbox.push_event(&event(100), &mut WakeBatch::default()),
                Pushed::Queued
            );
        }
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            outbox.poll_take(&mut cx, &mut batch),
            Poll::Ready(Taken::Frames)
        );
        assert_eq!(batch.len(), 3);
        assert_eq!(outbox.queued_bytes(), 300);
        outbox.release(300);
        assert_eq!(outbox.queued_bytes(), 0);
    }

    #[test]
    fn overflow_closes_with_slow_consumer_and_frees_the_queue() {
        let outbox = Outbox::new(250, None);
        assert_eq!(
            outbox.push_event(&event(100), &mut WakeBatch::default()),
            Pushed::Queued
        );
        assert_eq!(
            outbox.push_event(&event(100), &mut WakeBatch::default()),
            Pushed::Queued
        );
        assert_eq!(
            outbox.push_event(&event(100), &mut WakeBatch::default()),
            Pushed::Overflowed
        );
        assert_eq!(
            outbox.push_event(&event(1), &mut WakeBatch::default()),
            Pushed::Closed
        );
        assert_eq!(outbox.closing(), Some(Close::SlowConsumer));
        assert!(!outbox.close(Close::Shutdown), "the first close wins");
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter);
        let mut batch = VecDeque::new();
        assert_eq!(
            outbox.poll_take(&mut Context::from_waker(&waker), &mut batch),
            Poll::Ready(Taken::Close(Close::SlowConsumer))
        );
        assert!(batch.is_empty());
    }

    #[test]
    fn the_catch_up_is_not_counted_and_a_newer_snapshot_replaces_a_waiting_one() {
        let outbox = Outbox::new(150, None);
        outbox.push_catch_up([
            Frame::Text("welcome".into()),
            Frame::Snapshot(rendered(1, &[event(1000)])),
        ]);
        outbox.push_catch_up([Frame::Snapshot(rendered(2, &[]))]);
        assert_eq!(
            outbox.push_event(&event(100), &mut WakeBatch::default()),
            Pushed::Queued
        );
        let waker = Waker::from(Arc::new(CountingWaker(AtomicUsize::new(0))));
        let mut batch = VecDeque::new();
        let _ = outbox.poll_take(&mut Context::from_waker(&waker), &mut batch);
        let kinds: Vec<String> = batch
            .iter()
            .map(|q| match &q.frame {
                Frame::Snapshot(snapshot) => format!("snapshot {}", snapshot.seq),
                Frame::Text(_) => "text".into(),
                Frame::Event(_) => "event".into(),
                _ => "other".into(),
            })
            .collect();
        assert_eq!(kinds, ["text", "snapshot 2", "event"]);
    }

    #[test]
    fn a_blocked_writer_is_woken_by_a_close_but_not_by_pushes() {
        let outbox = Outbox::new(1000, None);
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        assert!(outbox.poll_close(&mut cx).is_pending());
        outbox.push_event(&event(10), &mut WakeBatch::default());
        outbox.push_pong(Bytes::from_static(b"p"));
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
        outbox.close(Close::Stale);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert_eq!(outbox.poll_close(&mut cx), Poll::Ready(Close::Stale));
    }
}
