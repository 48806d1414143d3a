//! SessionActor: one per WebSocket subscriber, on actix-ws, running on the HTTP worker that
//! accepted it.
//!
//! Receives: the client's frames (the actix-ws `MessageStream`, as a stream); its own heartbeat
//! timer. Sends: [`Subscribe`] (at start), [`UpdateFilter`] (a `subscribe` frame) and
//! [`Unsubscribe`] (when it stops) to the hub; an `eviction` audit record to the
//! audit sink when it evicts itself or is evicted. Writes: everything the hub and the session
//! queue in its [`Outbox`], through its [`Writer`] (the only user of the actix-ws `Session`).
//! The outbox, the writer and the protocol frames are in [`crate::fanout`], which the hub
//! shares; of the hub this actor knows only its messages and [`HubHandle`].
//!
//! Heartbeat: a ping every `ping_interval_secs`; any frame from the client counts as a sign of
//! life; nothing for `stale_timeout_secs` → close 4001 "stale" (an eviction). Bad input: an
//! unknown or malformed text frame, or a binary frame, gets an `error` frame; a frame over
//! `client_frame_max_bytes` closes 1009 (refused at its header, before its payload is read:
//! see [`crate::frame_limit`]); a protocol error closes 1002. Nothing a client sends
//! can panic the session.

pub mod slices;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Handler, Message, StreamHandler};
use actix_ws::{Item, Message as WsMessage, ProtocolError};
use bytes::BytesMut;

use crate::{
    actors::{
        audit::records,
        hub::{HubHandle, Subscribe, Unsubscribe, UpdateFilter},
    },
    auth::Grant,
    fanout::{
        SessionId,
        admission::Permit,
        filter::Filter,
        outbox::{Close, Outbox},
        protocol::{self, ClientFrame, error_code},
        wake,
        writer::{Framing, Writer, WriterEnd},
    },
    frame_limit,
};

/// Shortest time between two `subscribe` frames a session acts on: each costs the hub a
/// snapshot, so a client cannot make it build them in a loop.
pub const SUBSCRIBE_MIN_INTERVAL: Duration = Duration::from_secs(1);

/// What a session starts with, gathered by the subscribe route before the upgrade.
pub struct SessionStart {
    pub grant: Arc<Grant>,
    pub filter: Filter,
    pub since: Option<u64>,
    pub epoch: Option<String>,
    pub framing: Framing,
    pub permit: Permit,
    pub peer: Option<std::net::SocketAddr>,
}

/// A fragmented client message being reassembled.
struct Fragments {
    text: bool,
    buf: BytesMut,
}

/// Kept small on purpose: it lives as long as the connection, ten thousand times over.
pub struct SessionActor {
    id: SessionId,
    grant: Arc<Grant>,
    /// The hub's address, settings, metrics and audit sink.
    fanout: Arc<HubHandle>,
    outbox: Arc<Outbox>,
    /// The writer's task, aborted if the session stops first.
    writer_task: Option<actix_rt::task::JoinHandle<()>>,
    /// Held until the session stops; frees the `max_subscribers` slot.
    permit: Option<Permit>,
    /// The last time anything came from the client.
    last_seen: Instant,
    /// When the last accepted `subscribe` frame came (each costs the hub a snapshot).
    last_subscribe: Option<Instant>,
    fragments: Option<Box<Fragments>>,
    /// Set once the session has decided to close: later client frames are ignored.
    closing: bool,
    /// Set once the end was counted (and audited, for an eviction).
    ended: bool,
    peer: Option<std::net::SocketAddr>,
    /// The client's stream, cancelled after its first error (a codec error leaves the stream
    /// unreadable: polled again, it would fail again at once).
    stream: Option<actix::SpawnHandle>,
}

impl SessionActor {
    /// Starts the actor on the current worker, driving the actix-ws session and stream.
    pub fn start(
        fanout: &Arc<HubHandle>,
        start: SessionStart,
        session: actix_ws::Session,
        stream: actix_ws::MessageStream,
    ) -> Addr<Self> {
        let id = SessionId::next();
        let settings = &fanout.settings;
        let outbox = Outbox::new(settings.queue_max_bytes, Some(wake::WakeGroup::current()));
        let mut writer = Writer::new(
            Arc::clone(&outbox),
            session,
            start.framing,
            settings.frame_max_bytes,
            Duration::from_secs(settings.close_timeout_secs),
            Arc::clone(&fanout.metrics),
        );
        let subscribe = Subscribe {
            session_id: id,
            outbox: Arc::clone(&outbox),
            filter: start.filter,
            since: start.since,
            epoch: start.epoch,
        };
        let stream = stream.max_frame_size(settings.client_frame_max_bytes);
        SessionActor::create(move |ctx| {
            let stream = ctx.add_stream(stream);
            // The writer runs in a task of its own: waking it (every event) polls only the
            // writer, not the actor's mailbox, client stream and timers.
            let session = ctx.address();
            let writer_task = actix_rt::spawn(async move {
                let close = writer.run().await;
                session.do_send(WriterStopped { close });
                let end = match close {
                    Some(close) => Some(writer.close(close).await),
                    None => None,
                };
                session.do_send(WriterFinished { end });
            });
            // Mailboxes are FIFO: the hub has this before any UpdateFilter of the session.
            fanout.addr.do_send(subscribe);
            SessionActor {
                id,
                grant: start.grant,
                fanout: Arc::clone(fanout),
                outbox,
                writer_task: Some(writer_task),
                permit: Some(start.permit),
                last_seen: Instant::now(),
                last_subscribe: None,
                fragments: None,
                closing: false,
                ended: false,
                peer: start.peer,
                stream: Some(stream),
            }
        })
    }

    /// The session's span, made when there is something to log (spans are not kept: a
    /// session lives long and logs rarely).
    fn span(&self) -> tracing::Span {
        tracing::info_span!("session", session_id = %self.id, key = %self.grant.name)
    }

    fn close(&mut self, close: Close) {
        self.closing = true;
        self.outbox.close(close);
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let stale_timeout = Duration::from_secs(self.fanout.settings.stale_timeout_secs);
        let ping_interval = Duration::from_secs(self.fanout.settings.ping_interval_secs);
        let idle = self.last_seen.elapsed();
        if idle >= stale_timeout {
            self.close(Close::Stale);
            return;
        }
        self.outbox.push_ping();
        let left = stale_timeout - idle;
        if left < ping_interval {
            // The deadline falls before the next tick: check it on time.
            ctx.run_later(left, move |session, _| {
                if session.last_seen.elapsed() >= stale_timeout {
                    session.close(Close::Stale);
                }
            });
        }
    }

    fn on_text(&mut self, text: &str) {
        match protocol::parse_client_frame(text) {
            Ok(ClientFrame::Subscribe(_))
                if self
                    .last_subscribe
                    .is_some_and(|at| at.elapsed() < SUBSCRIBE_MIN_INTERVAL) =>
            {
                self.outbox.push_text(protocol::error_frame(
                    error_code::TOO_MANY_SUBSCRIBES,
                    "at most one subscribe frame per second; this one was ignored",
                ));
            }
            Ok(ClientFrame::Subscribe(spec)) => match Filter::new(spec, &self.grant) {
                Ok(filter) => {
                    self.last_subscribe = Some(Instant::now());
                    self.fanout.addr.do_send(UpdateFilter {
                        session_id: self.id,
                        filter,
                    })
                }
                Err(err) => {
                    self.outbox.push_text(protocol::error_frame(
                        error_code::SCOPE_NOT_GRANTED,
                        &err.to_string(),
                    ));
                }
            },
            Ok(ClientFrame::Ping) => {
                self.outbox.push_text(protocol::pong_frame());
            }
            Err(refusal) => {
                self.outbox
                    .push_text(protocol::error_frame(refusal.code, &refusal.message));
            }
        }
    }

    fn on_binary(&mut self) {
        self.outbox.push_text(protocol::error_frame(
            error_code::BINARY_NOT_SUPPORTED,
            "binary frames are not supported; send JSON text frames",
        ));
    }

    /// Reassembles fragmented messages, within `client_frame_max_bytes`.
    fn on_continuation(&mut self, item: Item) {
        let limit = self.fanout.settings.client_frame_max_bytes;
        let (first_text, chunk, last) = match item {
            Item::FirstText(chunk) => (Some(true), chunk, false),
            Item::FirstBinary(chunk) => (Some(false), chunk, false),
            Item::Continue(chunk) => (None, chunk, false),
            Item::Last(chunk) => (None, chunk, true),
        };
        match (first_text, &mut self.fragments) {
            (Some(text), None) => {
                self.fragments = Some(Box::new(Fragments {
                    text,
                    buf: BytesMut::from(&chunk[..]),
                }))
            }
            (None, Some(fragments)) => fragments.buf.extend_from_slice(&chunk),
            // A second first fragment, or a continuation with nothing to continue.
            _ => return self.close(Close::ProtocolError),
        }
        if self.fragments.as_ref().is_some_and(|f| f.buf.len() > limit) {
            self.fragments = None;
            return self.close(Close::TooBig);
        }
        if last && let Some(fragments) = self.fragments.take() {
            let Fragments { text, buf } = *fragments;
            if !text {
                return self.on_binary();
            }
            match std::str::from_utf8(&buf) {
                Ok(text) => self.on_text(text),
                Err(_) => self.close(Close::ProtocolError),
            }
        }
    }

    /// Counts how the session ended, and audits an eviction; once. `None`: the connection went
    /// away.
    fn record_end(&mut self, close: Option<Close>) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let span = self.span();
        let _entered = span.enter();
        let reason = close.map_or("gone", Close::metric_reason);
        let metrics = &self.fanout.metrics;
        metrics.disconnects.with_label_values(&[reason]).inc();
        if let Some(close) = close.filter(|c| c.is_eviction()) {
            metrics.evictions.with_label_values(&[reason]).inc();
            let queued_bytes = self.outbox.queued_bytes();
            tracing::warn!(reason, code = close.code(), queued_bytes, peer = ?self.peer, "Subscriber evicted.");
            if let Some(audit) = &self.fanout.audit {
                audit.do_send(records::eviction(&records::Eviction {
                    session_id: self.id.to_string(),
                    key: &self.grant.name,
                    reason,
                    code: close.code(),
                    queued_bytes,
                    queue_max_bytes: self.fanout.settings.queue_max_bytes,
                    stale_timeout_secs: self.fanout.settings.stale_timeout_secs,
                    idle_secs: self.last_seen.elapsed().as_secs_f64(),
                    peer: self.peer,
                }));
            }
        } else {
            tracing::debug!(reason, "Subscriber session ended.");
        }
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let span = self.span();
        let _entered = span.enter();
        tracing::debug!(peer = ?self.peer, "Subscriber connected.");
        let interval = Duration::from_secs(self.fanout.settings.ping_interval_secs);
        ctx.run_interval(interval, |session, ctx| session.heartbeat(ctx));
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        // Stopped before the writer saw a close: the connection failed.
        self.record_end(self.outbox.closing());
        // Dropping the writer drops the actix-ws session, which ends the response.
        if let Some(task) = self.writer_task.take() {
            task.abort();
        }
        // The permit goes first, so that the hub, handling Unsubscribe, sees it returned.
        self.permit.take();
        self.fanout.addr.do_send(Unsubscribe {
            session_id: self.id,
        });
    }
}

/// From the writer: it stopped writing, because of this close (`None`: the connection went).
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct WriterStopped {
    close: Option<Close>,
}

/// From the writer: it is done (`None`: it had no close to write).
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct WriterFinished {
    end: Option<WriterEnd>,
}

impl Handler<WriterStopped> for SessionActor {
    type Result = ();

    /// Counts how the session ends and audits an eviction now, while the close frame may still
    /// be waiting behind a stalled socket (at most `close_timeout_secs`).
    fn handle(&mut self, msg: WriterStopped, ctx: &mut Self::Context) {
        self.closing = true;
        self.record_end(msg.close);
        if msg.close.is_none() {
            ctx.stop();
        }
    }
}

impl Handler<WriterFinished> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: WriterFinished, ctx: &mut Self::Context) {
        if let Some(WriterEnd::CloseTimedOut(close)) = msg.end {
            self.span().in_scope(|| {
                tracing::debug!(
                    code = close.code(),
                    "Close frame not written in time; giving up on the socket."
                )
            });
        }
        self.writer_task = None;
        ctx.stop();
    }
}

impl StreamHandler<Result<WsMessage, ProtocolError>> for SessionActor {
    fn handle(&mut self, item: Result<WsMessage, ProtocolError>, ctx: &mut Self::Context) {
        if item.is_err()
            && let Some(stream) = self.stream.take()
        {
            ctx.cancel_future(stream);
        }
        if self.closing {
            return;
        }
        self.last_seen = Instant::now();
        match item {
            Ok(WsMessage::Text(text)) => self.on_text(&text),
            Ok(WsMessage::Binary(_)) => self.on_binary(),
            Ok(WsMessage::Continuation(item)) => self.on_continuation(item),
            Ok(WsMessage::Ping(payload)) => {
                self.outbox.push_pong(payload);
            }
            Ok(WsMessage::Pong(_)) | Ok(WsMessage::Nop) => {}
            Ok(WsMessage::Close(_)) => self.close(Close::ClientClosed),
            Err(ProtocolError::Overflow) => self.close(Close::TooBig),
            // The payload guard's refusal of a frame declared over the limit.
            Err(ProtocolError::Io(err)) if frame_limit::is_overflow(&err) => {
                self.close(Close::TooBig)
            }
            // Invalid UTF-8 in a text frame comes as InvalidData: the client's fault.
            Err(ProtocolError::Io(err)) if err.kind() != std::io::ErrorKind::InvalidData => {
                self.span()
                    .in_scope(|| tracing::debug!(error = %err, "Subscriber connection failed."));
                ctx.stop();
            }
            Err(err) => {
                self.span()
                    .in_scope(|| tracing::debug!(error = %err, "Subscriber broke the protocol."));
                self.close(Close::ProtocolError);
            }
        }
    }

    fn finished(&mut self, _ctx: &mut Self::Context) {
        // The client's side is done; answer with a close and let the writer end the session.
        if !self.closing {
            self.close(Close::ClientClosed);
        }
    }
}
