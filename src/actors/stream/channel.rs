//! ChannelActor: one notification channel's WebSocket, kept alive.
//!
//! Started and supervised by the [`GenesysStreamActor`](super::GenesysStreamActor), one per
//! channel. It dials the channel's `connectUri`, turns every text frame into an
//! [`AgentSignal`] for the validator that owns the agent (or a counted, audited reject) or,
//! for a schedules notification, a [`ScheduleChanged`] for the ReferenceActor, and keeps the
//! socket healthy:
//! - watchdog: no frame for `heartbeat_interval × heartbeat_timeout_factor` → reconnect;
//! - `{"message":"ping"}` every `ping_interval_secs`;
//! - `v2.system.socket_closing` → reconnect at once; an unexpected close or error →
//!   reconnect after capped exponential backoff with jitter;
//! - a channel that no longer exists (the socket upgrade answers 404, or a `HEAD` of the
//!   channel does after a failed redial) is replaced: the parent creates a new channel,
//!   resubscribes, and hands it over ([`UseChannel`]).
//!
//! It tells the parent [`ChannelUp`] (which triggers reconciliation) and [`ChannelDown`].

use std::time::{Duration, Instant};

use actix::{
    Actor, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message,
    SpawnHandle, StreamHandler, WrapFuture,
    io::{SinkWrite, WriteHandler},
};
use awc::{error::WsProtocolError, ws};
use futures_util::{StreamExt, stream::SplitSink};
use tracing::{debug, error, info, warn};

use super::{GenesysStreamActor, StreamContext};
use crate::{
    actors::{
        audit::records,
        reference::ScheduleChanged,
        validator::{AgentSignal, SignalInput},
    },
    event::{AgentId, AuditRecord, RejectReason, Rejected},
    genesys::{
        models::{Channel, ScheduleUpdateEvent},
        notification::{self, Notification},
        socket::{ChannelSocket, PING, SocketError},
        topics::UserTopicKind,
    },
};

type SocketSink = SinkWrite<ws::Message, SplitSink<ChannelSocket, ws::Message>>;

/// Why a socket was (re)connected; the label of `agentcast_upstream_reconnects_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconnectCause {
    HeartbeatTimeout,
    SocketClosing,
    Closed,
    Error,
    ConnectFailed,
    ChannelGone,
}

impl ReconnectCause {
    pub const ALL: [ReconnectCause; 6] = [
        Self::HeartbeatTimeout,
        Self::SocketClosing,
        Self::Closed,
        Self::Error,
        Self::ConnectFailed,
        Self::ChannelGone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeartbeatTimeout => "heartbeat_timeout",
            Self::SocketClosing => "socket_closing",
            Self::Closed => "closed",
            Self::Error => "error",
            Self::ConnectFailed => "connect_failed",
            Self::ChannelGone => "channel_gone",
        }
    }
}

/// To the parent: the socket of channel `index` is connected.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChannelUp {
    pub index: usize,
}

/// To the parent: the socket of channel `index` is down and being reconnected.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChannelDown {
    pub index: usize,
    pub cause: ReconnectCause,
}

/// To the parent: channel `index` no longer exists; a replacement is needed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChannelGone {
    pub index: usize,
    /// Replacements already tried and failed (the backoff's step).
    pub attempt: u32,
}

/// From the parent: connect to this (replacement) channel.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UseChannel {
    pub channel: Channel,
}

/// From the parent: close the socket and stop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseChannel;

pub struct ChannelActor {
    index: usize,
    channel: Channel,
    parent: Addr<GenesysStreamActor>,
    cx: StreamContext,
    sink: Option<SocketSink>,
    frames: Option<SpawnHandle>,
    connected: bool,
    last_frame: Instant,
    /// Consecutive failed attempts, for the backoff.
    attempt: u32,
    /// Whether the next connect should first check that the channel still exists.
    verify_first: bool,
}

impl ChannelActor {
    pub fn new(
        index: usize,
        channel: Channel,
        parent: Addr<GenesysStreamActor>,
        cx: StreamContext,
    ) -> Self {
        Self {
            index,
            channel,
            parent,
            cx,
            sink: None,
            frames: None,
            connected: false,
            last_frame: Instant::now(),
            attempt: 0,
            verify_first: false,
        }
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        let client = self.cx.client.clone();
        let Some(uri) = self.channel.connect_uri.clone() else {
            // Channels come from `create_channel`, which refuses one without a connectUri.
            error!(channel_id = %self.channel.id, "Channel has no connectUri; asking for a new one.");
            self.parent.do_send(ChannelGone {
                index: self.index,
                attempt: 0,
            });
            return;
        };
        let id = self.channel.id.clone();
        let verify = self.verify_first;
        let max_frame = self.cx.upstream.max_frame_bytes;
        // Dial first: the socket needs no REST call, so a reconnect is not held up by a
        // rate-limited REST budget. Only when dialling fails for another reason than a 404
        // does a HEAD tell an expired or evicted channel from a passing fault.
        let fut = async move {
            match client.connect_channel(&uri, max_frame).await {
                Err(SocketError::Connect { .. } | SocketError::Refused { .. })
                    if verify && !client.channel_exists(&id).await.unwrap_or(true) =>
                {
                    Err(SocketError::ChannelGone { uri })
                }
                other => other,
            }
        };
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| match result {
            Ok(socket) => {
                let (sink, stream) = socket.split();
                act.sink = Some(SinkWrite::new(sink, ctx));
                act.frames = Some(ctx.add_stream(stream));
                act.connected = true;
                act.last_frame = Instant::now();
                act.attempt = 0;
                act.cx.metrics.channels_connected.inc();
                info!(channel_id = %act.channel.id, index = act.index, "Channel socket connected.");
                act.audit(records::upstream_connect(&act.channel.id));
                act.parent.do_send(ChannelUp { index: act.index });
            }
            Err(SocketError::ChannelGone { .. }) => {
                warn!(channel_id = %act.channel.id, "Channel no longer exists; asking for a new one.");
                act.cx.metrics.reconnects.with_label_values(&[ReconnectCause::ChannelGone.as_str()]).inc();
                act.parent.do_send(ChannelGone { index: act.index, attempt: 0 });
            }
            Err(err) => {
                warn!(channel_id = %act.channel.id, error = %err, "Could not connect the channel socket.");
                act.schedule_reconnect(ReconnectCause::ConnectFailed, ctx);
            }
        }));
    }

    /// Drops the current socket (if any) and connects again after the cause's delay.
    fn reconnect(&mut self, cause: ReconnectCause, ctx: &mut Context<Self>) {
        self.drop_socket(ctx);
        warn!(channel_id = %self.channel.id, cause = cause.as_str(), "Channel socket lost; reconnecting.");
        self.audit(records::upstream_disconnect(
            &self.channel.id,
            cause.as_str(),
        ));
        self.parent.do_send(ChannelDown {
            index: self.index,
            cause,
        });
        self.schedule_reconnect(cause, ctx);
    }

    fn schedule_reconnect(&mut self, cause: ReconnectCause, ctx: &mut Context<Self>) {
        self.cx
            .metrics
            .reconnects
            .with_label_values(&[cause.as_str()])
            .inc();
        // socket_closing is a planned move: reconnect at once. Anything else backs off.
        let delay = if cause == ReconnectCause::SocketClosing {
            Duration::ZERO
        } else {
            self.cx.reconnect_backoff.delay(self.attempt)
        };
        self.attempt = self.attempt.saturating_add(1);
        self.verify_first = true;
        ctx.run_later(delay, |act, ctx| act.connect(ctx));
    }

    fn drop_socket(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.frames.take() {
            ctx.cancel_future(handle);
        }
        if let Some(mut sink) = self.sink.take() {
            sink.close();
            ctx.cancel_future(sink.handle());
        }
        if std::mem::take(&mut self.connected) {
            self.cx.metrics.channels_connected.dec();
        }
    }

    fn audit(&self, record: AuditRecord) {
        if let Some(audit) = &self.cx.audit {
            audit.do_send(record);
        }
    }

    fn reject(
        &self,
        reason: RejectReason,
        agent_id: Option<AgentId>,
        topic: Option<String>,
        detail: String,
    ) {
        self.cx.metrics.reject(reason);
        debug!(reason = reason.as_str(), %detail, "Rejected a frame.");
        if let Some(audit) = &self.cx.audit {
            audit.do_send(records::reject(&Rejected {
                reason,
                agent_id,
                topic,
                detail,
                correlation_id: None,
            }));
        }
    }

    fn handle_text(&mut self, text: &bytes::Bytes, ctx: &mut Context<Self>) {
        let received_at = Instant::now();
        if text.len() > self.cx.max_payload_bytes {
            return self.reject(
                RejectReason::Oversized,
                None,
                None,
                format!("{} bytes > {}", text.len(), self.cx.max_payload_bytes),
            );
        }

        match notification::parse(text) {
            Err(err) => self.reject(RejectReason::Malformed, None, None, err.to_string()),
            Ok(Notification::Heartbeat | Notification::Pong | Notification::Metadata { .. }) => {}
            Ok(Notification::SocketClosing) => {
                info!(channel_id = %self.channel.id, "Genesys announced socket_closing.");
                self.reconnect(ReconnectCause::SocketClosing, ctx);
            }
            Ok(Notification::System { topic }) => {
                info!(channel_id = %self.channel.id, %topic, "System notification.")
            }
            Ok(Notification::Unknown { topic }) => self.reject(
                RejectReason::UnknownTopic,
                None,
                Some(topic),
                "topic not subscribed by agentcast".into(),
            ),
            Ok(Notification::User {
                user_id,
                kind: UserTopicKind::Schedules,
                body,
                ..
            }) => self.schedule_changed(AgentId::from(user_id), &body),
            Ok(Notification::User {
                user_id,
                kind,
                correlation_id,
                body,
            }) => {
                let signal = AgentSignal {
                    agent_id: AgentId::from(user_id),
                    received_at,
                    input: SignalInput::Notification {
                        kind,
                        correlation_id,
                        body,
                    },
                };
                self.cx.pool.send(signal);
                if self.cx.pool.is_full() {
                    // Back-pressure: stop reading this socket until the validators catch up.
                    let pool = self.cx.pool.clone();
                    ctx.wait(async move { pool.wait_for_room().await }.into_actor(self));
                }
            }
        }
    }

    /// An agent's published schedule changed: the ReferenceActor refetches it and then has
    /// the validators re-evaluate, once.
    fn schedule_changed(&self, agent_id: AgentId, body: &[u8]) {
        let kind = UserTopicKind::Schedules;
        self.cx
            .metrics
            .signals
            .with_label_values(&[kind.as_label()])
            .inc();
        match serde_json::from_slice::<ScheduleUpdateEvent>(body) {
            Ok(_) => self
                .cx
                .schedule_changes
                .do_send(ScheduleChanged { agent_id }),
            Err(err) => self.reject(
                RejectReason::InvalidBody,
                Some(agent_id),
                Some(kind.suffix().to_owned()),
                err.to_string(),
            ),
        }
    }
}

impl Actor for ChannelActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let upstream = &self.cx.upstream;
        let silence_limit = Duration::from_secs_f64(
            upstream.heartbeat_interval_secs * upstream.heartbeat_timeout_factor,
        );
        ctx.run_interval(silence_limit / 4, move |act, ctx| {
            if act.connected && act.last_frame.elapsed() > silence_limit {
                act.reconnect(ReconnectCause::HeartbeatTimeout, ctx);
            }
        });
        ctx.run_interval(
            Duration::from_secs_f64(upstream.ping_interval_secs),
            |act, _| {
                if let Some(sink) = &mut act.sink {
                    let _queued = sink.write(ws::Message::Text(PING.into()));
                }
            },
        );
        self.connect(ctx);
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        self.drop_socket(ctx);
    }
}

impl StreamHandler<Result<ws::Frame, WsProtocolError>> for ChannelActor {
    fn handle(&mut self, item: Result<ws::Frame, WsProtocolError>, ctx: &mut Context<Self>) {
        self.last_frame = Instant::now();
        match item {
            Ok(ws::Frame::Text(text)) => self.handle_text(&text, ctx),
            Ok(ws::Frame::Binary(_)) => {
                self.reject(RejectReason::Malformed, None, None, "binary frame".into())
            }
            Ok(ws::Frame::Continuation(_)) => self.reject(
                RejectReason::Malformed,
                None,
                None,
                "fragmented frame".into(),
            ),
            Ok(ws::Frame::Ping(payload)) => {
                if let Some(sink) = &mut self.sink {
                    let _queued = sink.write(ws::Message::Pong(payload));
                }
            }
            Ok(ws::Frame::Pong(_)) => {}
            Ok(ws::Frame::Close(reason)) => {
                debug!(channel_id = %self.channel.id, ?reason, "Genesys closed the socket.");
                self.reconnect(ReconnectCause::Closed, ctx);
            }
            Err(err) => {
                warn!(channel_id = %self.channel.id, error = %err, "Channel socket protocol error.");
                self.reconnect(ReconnectCause::Error, ctx);
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        // The socket ended without a close frame (a dropped connection).
        self.frames = None;
        if self.connected {
            self.reconnect(ReconnectCause::Closed, ctx);
        }
    }
}

impl WriteHandler<WsProtocolError> for ChannelActor {
    fn error(&mut self, err: WsProtocolError, _: &mut Context<Self>) -> actix::Running {
        warn!(channel_id = %self.channel.id, error = %err, "Could not write to the channel socket.");
        actix::Running::Continue
    }
}

impl Handler<UseChannel> for ChannelActor {
    type Result = ();

    fn handle(&mut self, msg: UseChannel, ctx: &mut Context<Self>) {
        self.drop_socket(ctx);
        self.channel = msg.channel;
        self.verify_first = false;
        self.connect(ctx);
    }
}

impl Handler<CloseChannel> for ChannelActor {
    type Result = ();

    fn handle(&mut self, _: CloseChannel, ctx: &mut Context<Self>) {
        if let Some(sink) = &mut self.sink {
            let _queued = sink.write(ws::Message::Close(Some(ws::CloseCode::Away.into())));
        }
        ctx.stop();
    }
}
