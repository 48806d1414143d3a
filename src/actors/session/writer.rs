//! A session's writer: drains the [`Outbox`] into the actix-ws `Session`.
//!
//! actix-ws queues at most 32 messages per connection and its `text()` waits when they are
//! all taken, so the writer is the only producer and it only takes frames from the outbox when
//! actix-ws can accept one: a stalled client therefore backs up into the outbox, where the
//! byte budget applies, and never into anything unbounded. While the writer waits on a full
//! socket it listens for a close, so an eviction or a shutdown is not stuck behind it; a close
//! frame that cannot get through within `close_timeout` is given up.
//!
//! Coalescing: everything queued since the last drain is taken at once. Each `agent.state`
//! goes out as its own WebSocket frame (actix-ws then encodes all queued frames into one
//! buffer, so the socket sees one write), or, for a client that asked for `batch=true`, runs
//! of queued events go out as one frame holding a JSON array.

use std::{
    collections::VecDeque, future::poll_fn, pin::Pin, sync::Arc, task::Poll, time::Duration,
};

use actix_ws::{CloseCode, CloseReason, Message};
use bytes::Bytes;
use bytestring::ByteString;
use futures_util::Sink;

use super::{
    outbox::{Close, Frame, Outbox, Queued, Taken},
    protocol,
};
use crate::actors::hub::{metrics::FanoutMetrics, store::Published};

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

enum Stop {
    Gone,
    Close(Close),
}

pub struct Writer {
    outbox: Arc<Outbox>,
    sink: actix_ws::Session,
    framing: Framing,
    frame_max_bytes: usize,
    close_timeout: Duration,
    metrics: Arc<FanoutMetrics>,
    /// Frames taken from the outbox and not yet handed to the socket.
    batch: VecDeque<Queued>,
    /// False once a flushing close has begun: waiting on the socket is then bounded by the
    /// close timeout rather than interrupted by the close itself.
    interruptible: bool,
    /// Counted bytes handed to the socket and not yet released to the outbox.
    unreleased: usize,
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
            interruptible: true,
            unreleased: 0,
            deliveries: 0,
            frames: 0,
        }
    }

    /// Writes until a close is requested (returned) or the connection goes (`None`); then
    /// [`close`](Self::close) finishes the job.
    pub async fn run(&mut self) -> Option<Close> {
        loop {
            let taken = poll_fn(|cx| self.outbox.poll_take(cx, &mut self.batch)).await;
            let result = match taken {
                Taken::Frames => self.write_batch().await,
                Taken::Close(close) => Err(Stop::Close(close)),
            };
            self.account();
            match result {
                Ok(()) => {}
                Err(Stop::Gone) => return None,
                Err(Stop::Close(close)) => return Some(close),
            }
        }
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

    async fn write_batch(&mut self) -> Result<(), Stop> {
        while let Some(queued) = self.batch.pop_front() {
            self.unreleased += queued.cost;
            match queued.frame {
                Frame::Event(first) => {
                    if self.framing == Framing::Array && self.next_is_event() {
                        let array = self.coalesce(&first);
                        self.send(Message::Text(array)).await?;
                    } else {
                        self.deliveries += 1;
                        self.send(Message::Text(first.text.clone())).await?;
                    }
                }
                Frame::Text(text) => self.send(Message::Text(text)).await?,
                Frame::Snapshot { seq, agents } => {
                    for frame in protocol::snapshot_frames(seq, &agents, self.frame_max_bytes) {
                        self.send(Message::Text(frame)).await?;
                    }
                    self.deliveries += agents.len() as u64;
                }
                Frame::Ping => self.send(Message::Ping(Bytes::new())).await?,
                Frame::Pong(payload) => self.send(Message::Pong(payload)).await?,
            }
        }
        Ok(())
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

    /// Hands one message to actix-ws, waiting for room; a close requested meanwhile wins.
    async fn send(&mut self, message: Message) -> Result<(), Stop> {
        let mut released = false;
        poll_fn(|cx| match Pin::new(&mut self.sink).poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(_)) => Poll::Ready(Err(Stop::Gone)),
            Poll::Pending => {
                if !released {
                    // The socket is full: what was written so far no longer counts.
                    self.outbox.release(std::mem::take(&mut self.unreleased));
                    released = true;
                }
                if self.interruptible {
                    self.outbox
                        .poll_close(cx)
                        .map(|close| Err(Stop::Close(close)))
                } else {
                    Poll::Pending
                }
            }
        })
        .await?;
        Pin::new(&mut self.sink)
            .start_send(message)
            .map_err(|_| Stop::Gone)?;
        self.frames += 1;
        Ok(())
    }

    /// Writes what a flushing close keeps, then the close frame, within `close_timeout`.
    pub async fn close(mut self, close: Close) -> WriterEnd {
        let close_timeout = self.close_timeout;
        let outcome = tokio::time::timeout(close_timeout, async {
            if close.flushes() {
                self.interruptible = false;
                // What was taken before the close, then what was queued after it.
                let mut flushed = self.write_batch().await;
                if flushed.is_ok() {
                    self.outbox.take_all(&mut self.batch);
                    flushed = self.write_batch().await;
                }
                self.account();
                if let Err(Stop::Gone) = flushed {
                    return WriterEnd::Gone;
                }
            }
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
