//! The subscriber protocol's frames (documented in `docs/subscriber-protocol.md`): what the
//! server writes besides `agent.state` payloads, and what a client may send.

use std::sync::Arc;

use bytestring::ByteString;
use serde::Serialize;

use super::{filter::FilterSpec, published::Published};

pub const WELCOME: &str = "welcome";
pub const SUBSCRIBED: &str = "subscribed";
pub const SNAPSHOT: &str = "snapshot";
pub const ERROR: &str = "error";
pub const PONG: &str = "pong";

/// `{"type":"welcome",...}`: the first frame of every session.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Welcome<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub session_id: &'a str,
    /// The last seq assigned; every later `agent.state` has a larger one.
    pub seq: u64,
    /// Changes when the hub restarts; a `since` from another epoch gets a snapshot.
    pub epoch: &'a str,
    pub heartbeat_secs: u64,
    pub stale_timeout_secs: u64,
    /// True: the events after `since` follow (replay). False: a snapshot follows.
    pub recovered: bool,
    pub filter: &'a FilterSpec,
}

/// `{"type":"subscribed",...}`: the answer to a `subscribe` frame, followed by a snapshot.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscribed<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub seq: u64,
    pub filter: &'a FilterSpec,
}

/// `{"type":"error",...}`: a client frame was not understood; the session goes on.
#[derive(Debug, Serialize)]
pub struct ErrorFrame<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub code: &'static str,
    pub message: &'a str,
}

/// Error codes of `error` frames.
pub mod error_code {
    /// A text frame that is not a JSON object.
    pub const INVALID_JSON: &str = "invalid_json";
    /// A JSON object whose `type` is missing or unknown.
    pub const UNKNOWN_TYPE: &str = "unknown_type";
    /// A `subscribe` frame with unknown fields or values.
    pub const INVALID_SUBSCRIBE: &str = "invalid_subscribe";
    /// A `subscribe` frame naming a scope the key may not receive.
    pub const SCOPE_NOT_GRANTED: &str = "scope_not_granted";
    /// A binary frame: the protocol is text (JSON) only.
    pub const BINARY_NOT_SUPPORTED: &str = "binary_not_supported";
    /// A `subscribe` frame less than a second after the previous one (ignored).
    pub const TOO_MANY_SUBSCRIBES: &str = "too_many_subscribes";
}

pub fn encode(frame: &impl Serialize) -> ByteString {
    // expect: these frames are structs of strings, numbers and string lists, which always
    // serialize.
    ByteString::from(serde_json::to_string(frame).expect("protocol frames serialize"))
}

pub fn error_frame(code: &'static str, message: &str) -> ByteString {
    encode(&ErrorFrame {
        kind: ERROR,
        code,
        message,
    })
}

pub fn pong_frame() -> ByteString {
    ByteString::from_static(r#"{"type":"pong"}"#)
}

/// Appends `snapshot` frames holding `agents`, each at most `frame_max_bytes` (a single larger
/// state still goes whole). There is always at least one frame; the last says `"last":true`.
pub fn snapshot_frames(
    seq: u64,
    agents: &[Arc<Published>],
    frame_max_bytes: usize,
) -> Vec<ByteString> {
    let head = format!(r#"{{"type":"{SNAPSHOT}","seq":{seq},"agents":["#);
    const TAIL_MORE: &str = r#"],"last":false}"#;
    const TAIL_LAST: &str = r#"],"last":true}"#;
    let mut frames = Vec::new();
    let mut current = String::with_capacity(frame_max_bytes.min(64 << 10));
    current.push_str(&head);
    let mut in_frame = 0usize;
    for agent in agents {
        let text: &str = &agent.text;
        if in_frame > 0 && current.len() + 1 + text.len() + TAIL_MORE.len() > frame_max_bytes {
            current.push_str(TAIL_MORE);
            frames.push(ByteString::from(std::mem::replace(
                &mut current,
                String::with_capacity(frame_max_bytes.min(64 << 10)),
            )));
            current.push_str(&head);
            in_frame = 0;
        }
        if in_frame > 0 {
            current.push(',');
        }
        current.push_str(text);
        in_frame += 1;
    }
    current.push_str(TAIL_LAST);
    frames.push(ByteString::from(current));
    frames
}

/// What a client sent in a text frame.
#[derive(Debug, PartialEq)]
pub enum ClientFrame {
    /// Replace the filter (answered with `subscribed` and a snapshot).
    Subscribe(FilterSpec),
    /// Application-level ping (answered with `{"type":"pong"}`), for clients that cannot send
    /// WebSocket pings (browsers).
    Ping,
}

/// Why a client text frame was refused: an error code and message for the `error` frame.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

/// Parses a client text frame.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, Refusal> {
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| Refusal {
        code: error_code::INVALID_JSON,
        message: format!("not JSON: {e}"),
    })?;
    let Some(object) = value.as_object_mut() else {
        return Err(Refusal {
            code: error_code::INVALID_JSON,
            message: "a frame must be a JSON object with a \"type\"".into(),
        });
    };
    let kind = object.remove("type");
    match kind.as_ref().and_then(|k| k.as_str()) {
        Some("subscribe") => serde_json::from_value::<FilterSpec>(value)
            .map(ClientFrame::Subscribe)
            .map_err(|e| Refusal {
                code: error_code::INVALID_SUBSCRIBE,
                message: e.to_string(),
            }),
        Some("ping") => Ok(ClientFrame::Ping),
        Some(other) => Err(Refusal {
            code: error_code::UNKNOWN_TYPE,
            message: format!("unknown frame type {other:?}; expected \"subscribe\" or \"ping\""),
        }),
        None => Err(Refusal {
            code: error_code::UNKNOWN_TYPE,
            message: "a frame must have a string \"type\"".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use chrono::Utc;

    use super::*;
    use crate::event::{Broadcast, Scope};

    fn published(text: &str) -> Arc<Published> {
        let text = ByteString::from(text.to_owned());
        Arc::new(Published {
            broadcast: Arc::new(Broadcast {
                seq: 1,
                event_id: "evt".into(),
                agent_id: "a".into(),
                scope: Scope::GlobalRouting,
                violations: vec![],
                queues: vec![],
                validated: true,
                json: Bytes::new(),
                latency_ms: 0.0,
                broadcast_at: Utc::now(),
            }),
            text,
            dispatched_at: std::time::Instant::now(),
        })
    }

    #[test]
    fn snapshots_are_chunked_into_valid_json_frames() {
        let agents: Vec<_> = (0..10)
            .map(|i| published(&format!(r#"{{"seq":{i},"pad":"{}"}}"#, "x".repeat(40))))
            .collect();
        let frames = snapshot_frames(42, &agents, 200);
        assert!(frames.len() > 1);
        let mut seen = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(frame).unwrap();
            assert_eq!(v["type"], "snapshot");
            assert_eq!(v["seq"], 42);
            assert_eq!(v["last"], i + 1 == frames.len());
            for agent in v["agents"].as_array().unwrap() {
                seen.push(agent["seq"].as_u64().unwrap());
            }
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        let empty = snapshot_frames(7, &[], 200);
        assert_eq!(
            &*empty[0],
            r#"{"type":"snapshot","seq":7,"agents":[],"last":true}"#
        );
    }

    #[test]
    fn client_frames_are_parsed_or_refused_with_a_code() {
        assert_eq!(
            parse_client_frame(
                r#"{"type":"subscribe","scopes":["global_routing"],"violationsOnly":true}"#
            ),
            Ok(ClientFrame::Subscribe(FilterSpec {
                scopes: vec![Scope::GlobalRouting],
                violations_only: true,
                ..FilterSpec::default()
            }))
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"ping"}"#),
            Ok(ClientFrame::Ping)
        );
        let code = |text: &str| parse_client_frame(text).unwrap_err().code;
        assert_eq!(code("hello"), error_code::INVALID_JSON);
        assert_eq!(code("[1]"), error_code::INVALID_JSON);
        assert_eq!(code(r#"{"type":"dance"}"#), error_code::UNKNOWN_TYPE);
        assert_eq!(code(r#"{"kind":"subscribe"}"#), error_code::UNKNOWN_TYPE);
        assert_eq!(
            code(r#"{"type":"subscribe","scopes":["everything"]}"#),
            error_code::INVALID_SUBSCRIBE
        );
        assert_eq!(
            code(r#"{"type":"subscribe","colour":"red"}"#),
            error_code::INVALID_SUBSCRIBE
        );
    }
}
