//! The streaming WebSocket, `GET /channels/{channelId}`.
//!
//! An unknown channel is answered 404 before the upgrade. Otherwise the socket is linked to
//! its channel (closing any older socket of that channel: one socket per channel) and served
//! by its own task, which selects over:
//! - control commands from the hub and the fault endpoints (close, close after a grace,
//!   abort without a close frame);
//! - the channel's outbound queue (messages serialized once by the emitter);
//! - the heartbeat timer (`channel.metadata` "WebSocket Heartbeat");
//! - client frames: `{"message":"ping"}` is answered with a `channel.metadata` "pong",
//!   protocol pings with pongs, any other text is ignored.
//!
//! Writing to the actix-ws session awaits when its own 32-message buffer is full; the task
//! still watches the control queue meanwhile, so a stuck client can be closed. No shared
//! state is locked across an await.

use std::{pin::pin, sync::Arc, time::Duration};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use bytestring::ByteString;
use tokio::{
    sync::mpsc,
    time::{Instant, sleep_until},
};

use crate::{
    genesys::models::ChannelMetadataBody,
    sim::{
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
        .attach(&channel_id, std::time::Instant::now())
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
    let mut heartbeat = tokio::time::interval_at(Instant::now() + period, period);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing: Option<Instant> = None;
    // Biased: control, then heartbeats and client frames (rarely ready), then the queue, so
    // a busy queue never starves heartbeats or pongs.
    let exit = loop {
        let deadline = closing.unwrap_or_else(far_future);
        let outgoing = tokio::select! {
            biased;
            command = ends.control.recv() => match on_control(command, &mut closing) {
                Some(exit) => break exit,
                None => continue,
            },
            () = sleep_until(deadline), if closing.is_some() => break closing_exit(),
            _ = heartbeat.tick() => {
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
        if let Err(exit) = send(&mut session, outgoing, &mut ends.control, &mut closing).await {
            break exit;
        }
        ends.messages_sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    lock(&sim.hub).detach(&channel_id, ends.socket_id, std::time::Instant::now());
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
    closing: &mut Option<Instant>,
) -> Result<(), Exit> {
    let mut write = pin!(session.text(text));
    loop {
        let deadline = closing.unwrap_or_else(far_future);
        tokio::select! {
            biased;
            written = &mut write => return written.map_err(|_| Exit::ClientGone(None)),
            command = control.recv() => {
                if let Some(exit) = on_control(command, closing) {
                    return Err(exit);
                }
            }
            () = sleep_until(deadline), if closing.is_some() => return Err(closing_exit()),
        }
    }
}

/// Applies a control command; `Some` when the socket must end.
fn on_control(command: Option<Control>, closing: &mut Option<Instant>) -> Option<Exit> {
    match command {
        Some(Control::Close(reason)) => Some(Exit::Close(reason)),
        Some(Control::Abort) => Some(Exit::Abort),
        Some(Control::CloseAfter(grace)) => {
            let at = Instant::now() + grace;
            *closing = Some(closing.map_or(at, |c| c.min(at)));
            None
        }
        None => Some(Exit::Close(close_reason(
            CloseCode::Away,
            "channel removed",
        ))),
    }
}

fn closing_exit() -> Exit {
    Exit::Close(close_reason(
        CloseCode::Away,
        "socket closing for maintenance",
    ))
}

fn heartbeats_stopped(sim: &Sim) -> bool {
    lock(&sim.faults).heartbeats_stopped(std::time::Instant::now())
}

/// `{"message":"ping"}` (any JSON spacing).
fn is_ping(text: &str) -> bool {
    serde_json::from_str::<ChannelMetadataBody>(text).is_ok_and(|b| b.message == "ping")
}

/// A deadline that never comes (for a disabled `sleep_until` branch).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}
