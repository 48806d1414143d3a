//! A session's writer: drains the [`Outbox`] into the actix-ws `Session`.
//!
//! actix-ws queues at most 32 messages per connection and its `text()` waits when they are
//! all taken, so the writer is the only producer and it only takes the next message when
//! actix-ws can accept one: a stalled client therefore backs up into the outbox, where the
//! byte budget applies, and never into anything unbounded. While the writer waits on a full
//! socket it listens for a close, so an eviction or a shutdown is not stuck behind it; a close
//! frame that cannot get through within `close_timeout` is given up.
//!
//! Coalescing: everything queued since the last drain is taken at once. Each `agent.state`
//! goes out as its own WebSocket frame (actix-ws then encodes all queued frames into one
//! buffer, so the socket sees one write), or, for a client that asked for `batch=true`, runs
//! of queued events go out as one frame holding a JSON array.
//!
//! The writing loop is a hand-written poll function rather than an `async fn`: it runs once
//! per event per subscriber, and it lives as long as the connection, so both its CPU and its
//! size matter (`cargo bench --bench fanout` measures both).

use std::{
    collections::VecDeque,
    future::{Future, poll_fn},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use actix_ws::{CloseCode, CloseReason, Message};
use bytes::Bytes;
use bytestring::ByteString;
use futures_util::Sink;

use super::{
    metrics::FanoutMetrics,
    outbox::{Close, Frame, Outbox, Queued, Taken},
    published::Published,
    snapshot::RenderedSnapshot,
};

/// How queued `agent.state` payloads are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One JSON object per WebSocket frame (the default).
    Frames,
    /// Runs of queued events as one JSON array per frame (`?batch=true`).
    Array,
}

/// How the writer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterEnd {
    /// The close frame was handed to the socket.
    Closed(Close),
    /// The close frame could not get through a stalled socket in time.
    CloseTimedOut(Close),
    /// The connection went away.
    Gone,
}

/// Why the writing loop returned.
enum Stop {
    /// The connection went away.
    Gone,
    /// A close was requested.
    Close(Close),
    /// Everything taken was written (flushing closes only).
    Flushed,
}

pub struct Writer {
    outbox: Arc<Outbox>,
    sink: actix_ws::Session,
    framing: Framing,
    frame_max_bytes: usize,
    close_timeout: Duration,
    metrics: Arc<FanoutMetrics>,
    /// Frames taken from the outbox and not yet turned into messages.
    batch: VecDeque<Queued>,
    /// The next message, waiting for room in actix-ws.
    pending: Option<Message>,
    /// A snapshot being written, chunk by chunk: the next chunk's index.
    snapshot: Option<(Arc<RenderedSnapshot>, usize)>,
    /// Counted bytes handed to the socket and not yet released to the outbox.
    unreleased: usize,
    /// Whether this drain's oldest live event has had its queueing time observed.
    queue_observed: bool,
    deliveries: u64,
    frames: u64,
}

impl Writer {
    pub fn new(
        outbox: Arc<Outbox>,
        sink: actix_ws::Session,
        framing: Framing,
        frame_max_bytes: usize,
        close_timeout: Duration,
        metrics: Arc<FanoutMetrics>,
    ) -> Self {
        Self {
            outbox,
            sink,
            framing,
            frame_max_bytes,
            close_timeout,
            metrics,
            batch: VecDeque::new(),
            pending: None,
            snapshot: None,
            unreleased: 0,
            queue_observed: false,
            deliveries: 0,
            frames: 0,
        }
    }

    /// Writes until a close is requested (returned) or the connection goes (`None`); then
    /// [`close`](Self::close) finishes the job.
    pub async fn run(&mut self) -> Option<Close> {
        let stopped = poll_fn(|cx| self.poll_write(cx, true)).await;
        self.account();
        match stopped {
            Stop::Close(close) => Some(close),
            Stop::Gone | Stop::Flushed => None,
        }
    }

    /// The writing loop. `interruptible`: while the socket is full, a close requested wins
    /// (during a flushing close it must not, or nothing would be flushed).
    fn poll_write(&mut self, cx: &mut Context<'_>, interruptible: bool) -> Poll<Stop> {
        loop {
            if self.pending.is_none() {
                self.pending = self.next_message();
            }
            if let Some(message) = self.pending.take() {
                match Pin::new(&mut self.sink).poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        if Pin::new(&mut self.sink).start_send(message).is_err() {
                            return Poll::Ready(Stop::Gone);
                        }
                        self.frames += 1;
                        continue;
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(Stop::Gone),
                    Poll::Pending => {
                        self.pending = Some(message);
                        // The socket is full: what was written so far no longer counts.
                        self.account();
                        if interruptible && let Poll::Ready(close) = self.outbox.poll_close(cx) {
                            return Poll::Ready(Stop::Close(close));
                        }
                        return Poll::Pending;
                    }
                }
            }
            // Everything taken is written.
            self.account();
            if !interruptible {
                return Poll::Ready(Stop::Flushed);
            }
            match self.outbox.poll_take(cx, &mut self.batch) {
                Poll::Ready(Taken::Frames) => self.queue_observed = false,
                Poll::Ready(Taken::Close(close)) => return Poll::Ready(Stop::Close(close)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The next message from what was taken, coalescing and chunking as configured.
    fn next_message(&mut self) -> Option<Message> {
        if let Some((snapshot, next)) = &mut self.snapshot {
            match snapshot.frames().get(*next) {
                Some(chunk) => {
                    *next += 1;
                    return Some(Message::Text(chunk.clone()));
                }
                None => self.snapshot = None,
            }
        }
        let queued = self.batch.pop_front()?;
        self.unreleased += queued.cost;
        Some(match queued.frame {
            Frame::Event(first) => {
                // Live events only (catch-up events cost nothing and are old on purpose).
                if queued.cost > 0 && !self.queue_observed {
                    self.queue_observed = true;
                    self.metrics
                        .queue_seconds
                        .observe(first.dispatched_at.elapsed().as_secs_f64());
                }
                if self.framing == Framing::Array && self.next_is_event() {
                    Message::Text(self.coalesce(&first))
                } else {
                    self.deliveries += 1;
                    Message::Text(first.text.clone())
                }
            }
            Frame::Text(text) => Message::Text(text),
            Frame::Snapshot(snapshot) => {
                self.deliveries += snapshot.agents() as u64;
                let first = snapshot.frames().first()?.clone();
                self.snapshot = Some((snapshot, 1));
                Message::Text(first)
            }
            Frame::Ping => Message::Ping(Bytes::new()),
            Frame::Pong(payload) => Message::Pong(payload),
        })
    }

    fn next_is_event(&self) -> bool {
        matches!(
            self.batch.front(),
            Some(Queued {
                frame: Frame::Event(_),
                ..
            })
        )
    }

    /// `[first,next,...]` from the run of queued events, up to `frame_max_bytes`.
    fn coalesce(&mut self, first: &Published) -> ByteString {
        let mut array = String::with_capacity(self.frame_max_bytes.min(64 << 10));
        array.push('[');
        array.push_str(&first.text);
        self.deliveries += 1;
        while let Some(Queued {
            frame: Frame::Event(next),
            cost,
        }) = self.batch.front()
        {
            if array.len() + next.text.len() + 2 > self.frame_max_bytes {
                break;
            }
            array.push(',');
            array.push_str(&next.text);
            self.unreleased += *cost;
            self.deliveries += 1;
            self.batch.pop_front();
        }
        array.push(']');
        ByteString::from(array)
    }

    /// Releases written bytes to the outbox and adds to the counters (once per batch).
    fn account(&mut self) {
        self.outbox.release(std::mem::take(&mut self.unreleased));
        if self.deliveries > 0 {
            self.metrics
                .deliveries
                .inc_by(std::mem::take(&mut self.deliveries));
        }
        if self.frames > 0 {
            self.metrics.frames.inc_by(std::mem::take(&mut self.frames));
        }
    }

    /// Writes what a flushing close keeps, then the close frame, within `close_timeout`.
    /// Boxed: a session's task carries this state only while it closes.
    pub fn close(self, close: Close) -> Pin<Box<dyn Future<Output = WriterEnd>>> {
        Box::pin(self.close_inner(close))
    }

    async fn close_inner(mut self, close: Close) -> WriterEnd {
        let close_timeout = self.close_timeout;
        let outcome = tokio::time::timeout(close_timeout, async {
            if close.flushes() {
                // What was taken before the close, then what was queued after it.
                self.outbox.take_all(&mut self.batch);
                let flushed = poll_fn(|cx| self.poll_write(cx, false)).await;
                self.account();
                if let Stop::Gone = flushed {
                    return WriterEnd::Gone;
                }
            }
            self.pending = None;
            self.snapshot = None;
            self.batch.clear();
            let reason = CloseReason {
                code: CloseCode::from(close.code()),
                description: Some(close.description().to_owned()),
            };
            let ready = poll_fn(|cx| Pin::new(&mut self.sink).poll_ready(cx)).await;
            match ready
                .and_then(|()| Pin::new(&mut self.sink).start_send(Message::Close(Some(reason))))
            {
                Ok(()) => WriterEnd::Closed(close),
                Err(_) => WriterEnd::Gone,
            }
        })
        .await;
        outcome.unwrap_or(WriterEnd::CloseTimedOut(close))
    }
}
