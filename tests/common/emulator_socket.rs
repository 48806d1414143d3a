//! The emulator's notification WebSockets over real loopback sockets with awc: connect, the
//! next frame or message (every wait bounded), pings and pongs.

use std::time::Duration;

use awc::ws::{Frame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::Value;

use super::{WAIT, within};

/// A client WebSocket.
pub type Ws = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// Connects a WebSocket (frames up to 32 MiB).
pub async fn connect(uri: &str) -> Ws {
    let (_, ws) = within(
        "WebSocket connect",
        awc::Client::new()
            .ws(uri)
            .max_frame_size(32 << 20)
            .connect(),
    )
    .await
    .expect("WebSocket connected");
    ws
}

/// The next frame, `None` when the stream ended or failed; panics after `wait`.
pub async fn next_frame<S>(ws: &mut S, wait: Duration) -> Option<Frame>
where
    S: Stream<Item = Result<Frame, awc::error::WsProtocolError>> + Unpin,
{
    tokio::time::timeout(wait, ws.next())
        .await
        .expect("timed out waiting for a frame")
        .and_then(Result::ok)
}

/// The next frame within `wait`, or `Err(())` when none came in time.
pub async fn frame_within<S>(ws: &mut S, wait: Duration) -> Result<Option<Frame>, ()>
where
    S: Stream<Item = Result<Frame, awc::error::WsProtocolError>> + Unpin,
{
    match tokio::time::timeout(wait, ws.next()).await {
        Ok(frame) => Ok(frame.and_then(Result::ok)),
        Err(_) => Err(()),
    }
}

/// The next text frame as a string (other frames fail the test).
pub async fn next_text<S>(ws: &mut S) -> String
where
    S: Stream<Item = Result<Frame, awc::error::WsProtocolError>> + Unpin,
{
    loop {
        match next_frame(ws, WAIT).await {
            Some(Frame::Text(bytes)) => {
                return String::from_utf8(bytes.to_vec()).expect("UTF-8 text");
            }
            Some(Frame::Ping(_) | Frame::Pong(_)) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The next message that is not a heartbeat, parsed.
pub async fn next_event<S>(ws: &mut S) -> Value
where
    S: Stream<Item = Result<Frame, awc::error::WsProtocolError>> + Unpin,
{
    loop {
        let text = next_text(ws).await;
        let value: Value = serde_json::from_str(&text).expect("JSON message");
        if value["topicName"] != "channel.metadata" {
            return value;
        }
    }
}

pub async fn send_text<S>(ws: &mut S, text: &str)
where
    S: Sink<Message, Error = awc::error::WsProtocolError> + Unpin,
{
    within(
        "WebSocket send",
        ws.send(Message::Text(text.to_owned().into())),
    )
    .await
    .expect("sent");
}

/// What the next text frame is: the body's `message` for `channel.metadata` (heartbeat,
/// pong), else the topic.
pub async fn next_kind(ws: &mut Ws) -> String {
    let message: Value = serde_json::from_str(&next_text(ws).await).expect("json");
    if message["topicName"] == "channel.metadata" {
        message["eventBody"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    } else {
        message["topicName"].as_str().unwrap_or_default().to_owned()
    }
}

/// Sends a ping and waits for its pong; fails if anything else comes first.
pub async fn ping_pong(ws: &mut Ws, before: &str) {
    send_text(ws, r#"{"message": "ping"}"#).await;
    assert_eq!(next_kind(ws).await, "pong", "{before}");
}

/// Sends an RFC 6455 ping, which the emulator answers whatever the faults, and returns the
/// kinds of the text frames that came before its pong: what the emulator sent before it read
/// the ping (a socket's frames are handled in order).
pub async fn until_protocol_pong(ws: &mut Ws) -> Vec<String> {
    within(
        "WebSocket ping",
        ws.send(Message::Ping(actix_web::web::Bytes::from_static(b"marker"))),
    )
    .await
    .expect("sent");
    let mut before = Vec::new();
    loop {
        match next_frame(ws, WAIT).await {
            Some(Frame::Pong(bytes)) if &bytes[..] == b"marker" => return before,
            Some(Frame::Text(bytes)) => {
                let message: Value = serde_json::from_slice(&bytes).expect("json");
                let kind = match message["eventBody"]["message"].as_str() {
                    Some(m) if message["topicName"] == "channel.metadata" => m.to_owned(),
                    _ => message["topicName"].as_str().unwrap_or_default().to_owned(),
                };
                before.push(kind);
            }
            Some(Frame::Ping(_) | Frame::Pong(_)) => {}
            other => panic!("expected frames until the pong, got {other:?}"),
        }
    }
}
