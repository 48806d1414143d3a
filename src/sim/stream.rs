//! The streaming WebSocket, `GET /channels/{channelId}`.
//!
//! An unknown channel is answered 404 before the upgrade. Otherwise the socket is linked to
//! its channel (closing any older socket of that channel: one socket per channel) and served
//! by its own task, which selects over:
//! - control commands from the hub and the fault endpoints (close, close after a grace,
//!   abort without a close frame);
//! - the channel's outbound queue (messages serialized once by the emitter);
//! - the heartbeat timer (`channel.metadata` "WebSocket Heartbeat"), on the emulator's clock
//!   like the `socket_closing` grace: both are re-armed when a test advances the clock;
//! - client frames: `{"message":"ping"}` is answered with a `channel.metadata` "pong",
//!   protocol pings with pongs, any other text is ignored.
//!
//! Writing to the actix-ws session awaits when its own 32-message buffer is full; the task
//! still watches the control queue meanwhile, so a stuck client can be closed. No shared
//! state is locked across an await.

use std::{
    pin::{Pin, pin},
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use bytestring::ByteString;
use tokio::{
    sync::{mpsc, watch},
    time::{Sleep, sleep_until},
};

use crate::{
    genesys::models::ChannelMetadataBody,
    sim::{
        clock::SimClock,
        hub::{Control, SocketEnds, close_reason},
        messages,
        respond::ApiError,
        world::{Sim, lock},
    },
};

/// Largest frame accepted from a client.
const MAX_CLIENT_FRAME_BYTES: usize = 64 * 1024;
/// How long a close handshake may take before the socket is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Heartbeat text.
pub const HEARTBEAT: &str = "WebSocket Heartbeat";

/// How a socket's task ends.
enum Exit {
    /// Send this close frame.
    Close(CloseReason),
    /// Drop the connection without a close frame.
    Abort,
    /// The client closed or vanished.
    ClientGone(Option<CloseReason>),
}

/// Upgrades to a WebSocket for a known channel.
pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    path: web::Path<String>,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let channel_id = path.into_inner();
    let not_found = || ApiError::NotFound(format!("channel {channel_id} does not exist"));
    if lock(&sim.hub).get(&channel_id).is_none() {
        return Err(not_found());
    }
    let (response, session, stream) =
        actix_ws::handle(&req, body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let ends = lock(&sim.hub)
        .attach(&channel_id, sim.clock.now())
        .ok_or_else(not_found)?;
    tracing::info!(%channel_id, socket_id = ends.socket_id, "Socket connected.");
    let stream = stream.max_frame_size(MAX_CLIENT_FRAME_BYTES);
    actix_web::rt::spawn(serve(sim.into_inner(), channel_id, session, stream, ends));
    Ok(response)
}

async fn serve(
    sim: Arc<Sim>,
    channel_id: String,
    mut session: Session,
    mut stream: MessageStream,
    mut ends: SocketEnds,
) {
    let heartbeat_text = messages::channel_metadata(HEARTBEAT);
    let pong_text = messages::channel_metadata("pong");
    let period = sim.config.heartbeat_interval;
    let clock = &sim.clock;
    let mut clock_moved = clock.changes();
    // Deadlines on the emulator's clock, and the real-time timers that wait for them.
    let mut next_beat = clock.now() + period;
    let mut beat = pin!(sleep_until(clock.timer_deadline(next_beat)));
    let mut closing = Closing::new(clock);
    // Biased: control, then heartbeats and client frames (rarely ready), then the queue, so
    // a busy queue never starves heartbeats or pongs.
    let exit = loop {
        let outgoing = tokio::select! {
            biased;
            command = ends.control.recv() => match closing.on_control(command, clock) {
                Some(exit) => break exit,
                None => continue,
            },
            () = closing.timer.as_mut(), if closing.at.is_some() => break closing_exit(),
            Ok(()) = clock_moved.changed() => {
                beat.as_mut().reset(clock.timer_deadline(next_beat));
                closing.rearm(clock);
                continue;
            }
            () = beat.as_mut() => {
                // A late beat is not made up for: the next one is a period after this one.
                next_beat = clock.now() + period;
                beat.as_mut().reset(clock.timer_deadline(next_beat));
                if heartbeats_stopped(&sim) {
                    continue;
                }
                heartbeat_text.clone()
            }
            frame = stream.recv() => match frame {
                Some(Ok(Message::Text(text))) if is_ping(&text) && !heartbeats_stopped(&sim) => {
                    pong_text.clone()
                }
                Some(Ok(Message::Ping(bytes))) => {
                    if session.pong(&bytes).await.is_err() {
                        break Exit::ClientGone(None);
                    }
                    continue;
                }
                Some(Ok(Message::Close(reason))) => break Exit::ClientGone(reason),
                Some(Err(_)) | None => break Exit::ClientGone(None),
                Some(Ok(_)) => continue,
            },
            text = ends.data.recv() => match text {
                Some(text) => text,
                None => break Exit::Close(close_reason(CloseCode::Away, "channel removed")),
            },
        };
        if let Err(exit) = send(
            &mut session,
            outgoing,
            &mut ends.control,
            &mut closing,
            &mut clock_moved,
            clock,
        )
        .await
        {
            break exit;
        }
        ends.messages_sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    lock(&sim.hub).detach(&channel_id, ends.socket_id, sim.clock.now());
    match exit {
        Exit::Close(reason) => {
            tracing::info!(%channel_id, socket_id = ends.socket_id, code = ?reason.code, "Closing socket.");
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.close(Some(reason))).await;
        }
        Exit::ClientGone(reason) => {
            tracing::info!(%channel_id, socket_id = ends.socket_id, "Client closed the socket.");
            if reason.is_some() {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.close(reason)).await;
            }
        }
        Exit::Abort => {
            tracing::info!(%channel_id, socket_id = ends.socket_id, "Dropping socket without a close frame.");
            drop(session);
            drop(stream);
        }
    }
}

/// Writes one text frame, still obeying control commands while the write waits.
async fn send(
    session: &mut Session,
    text: ByteString,
    control: &mut mpsc::Receiver<Control>,
    closing: &mut Closing,
    clock_moved: &mut watch::Receiver<Duration>,
    clock: &SimClock,
) -> Result<(), Exit> {
    let mut write = pin!(session.text(text));
    loop {
        tokio::select! {
            biased;
            written = &mut write => return written.map_err(|_| Exit::ClientGone(None)),
            command = control.recv() => {
                if let Some(exit) = closing.on_control(command, clock) {
                    return Err(exit);
                }
            }
            () = closing.timer.as_mut(), if closing.at.is_some() => return Err(closing_exit()),
            Ok(()) = clock_moved.changed() => closing.rearm(clock),
        }
    }
}

/// A close announced by `socket_closing`: when (on the emulator's clock) and its timer.
struct Closing {
    at: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl Closing {
    fn new(clock: &SimClock) -> Self {
        Self {
            at: None,
            timer: Box::pin(sleep_until(clock.timer_deadline(far_future(clock)))),
        }
    }

    /// Applies a control command; `Some` when the socket must end.
    fn on_control(&mut self, command: Option<Control>, clock: &SimClock) -> Option<Exit> {
        match command {
            Some(Control::Close(reason)) => Some(Exit::Close(reason)),
            Some(Control::Abort) => Some(Exit::Abort),
            Some(Control::CloseAfter(grace)) => {
                let at = clock.now() + grace;
                self.at = Some(self.at.map_or(at, |c| c.min(at)));
                self.rearm(clock);
                None
            }
            None => Some(Exit::Close(close_reason(
                CloseCode::Away,
                "channel removed",
            ))),
        }
    }

    /// Points the timer at `at` again (after the clock moved, or `at` did).
    fn rearm(&mut self, clock: &SimClock) {
        if let Some(at) = self.at {
            self.timer.as_mut().reset(clock.timer_deadline(at));
        }
    }
}

fn closing_exit() -> Exit {
    Exit::Close(close_reason(
        CloseCode::Away,
        "socket closing for maintenance",
    ))
}

fn heartbeats_stopped(sim: &Sim) -> bool {
    lock(&sim.faults).heartbeats_stopped(sim.clock.now())
}

/// `{"message":"ping"}` (any JSON spacing).
fn is_ping(text: &str) -> bool {
    serde_json::from_str::<ChannelMetadataBody>(text).is_ok_and(|b| b.message == "ping")
}

/// A deadline that never comes (for a disabled timer).
fn far_future(clock: &SimClock) -> Instant {
    clock.now() + Duration::from_secs(86_400 * 365)
}
