//! Reading what arrives on a channel socket: heartbeats, pongs, system messages and the
//! per-user topics. The envelope is parsed here, borrowing from the frame; a topic's body is
//! handed on as a slice of the frame's own buffer (no copy), for whoever handles that topic
//! to parse once.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    models::ChannelMetadataBody,
    topics::{Topic, UserTopicKind},
};

/// The `channel.metadata` heartbeat text.
pub const HEARTBEAT_MESSAGE: &str = "WebSocket Heartbeat";
/// The `channel.metadata` reply to a ping.
pub const PONG_MESSAGE: &str = "pong";

/// One message from a channel socket.
#[derive(Debug)]
pub enum Notification {
    Heartbeat,
    Pong,
    /// Another `channel.metadata` message.
    Metadata {
        message: String,
    },
    /// The server will close this socket soon; reconnect now.
    SocketClosing,
    /// Another `v2.system.*` push.
    System {
        topic: String,
    },
    /// A per-user topic agentcast subscribes to.
    User {
        user_id: String,
        kind: UserTopicKind,
        correlation_id: Option<String>,
        /// The `eventBody` JSON, a slice of the frame.
        body: Bytes,
    },
    /// A topic agentcast does not know.
    Unknown {
        topic: String,
    },
}

/// Why a frame could not be read as a notification.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("frame is not a notification envelope: {0}")]
    Envelope(#[from] serde_json::Error),
    #[error("channel.metadata without a message: {0}")]
    Metadata(serde_json::Error),
}

impl NotificationError {
    /// A short label for counting rejects by reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Envelope(_) => "malformed_envelope",
            Self::Metadata(_) => "malformed_metadata",
        }
    }
}

/// The envelope, borrowed from the frame: `version` and unknown keys are skipped.
#[derive(Deserialize)]
struct BorrowedEnvelope<'a> {
    #[serde(rename = "topicName", borrow)]
    topic_name: Cow<'a, str>,
    #[serde(rename = "eventBody", borrow)]
    event_body: &'a RawValue,
    #[serde(default, borrow)]
    metadata: Option<BorrowedMetadata<'a>>,
}

#[derive(Deserialize)]
struct BorrowedMetadata<'a> {
    #[serde(rename = "CorrelationId", default, borrow)]
    correlation_id: Option<Cow<'a, str>>,
}

/// Parses one text frame.
pub fn parse(frame: &Bytes) -> Result<Notification, NotificationError> {
    let envelope: BorrowedEnvelope<'_> = serde_json::from_slice(frame)?;
    let correlation_id = envelope
        .metadata
        .and_then(|m| m.correlation_id)
        .map(Cow::into_owned);
    Ok(match Topic::parse(&envelope.topic_name) {
        Topic::ChannelMetadata => {
            let body: ChannelMetadataBody = serde_json::from_str(envelope.event_body.get())
                .map_err(NotificationError::Metadata)?;
            match body.message.as_str() {
                HEARTBEAT_MESSAGE => Notification::Heartbeat,
                PONG_MESSAGE => Notification::Pong,
                _ => Notification::Metadata {
                    message: body.message,
                },
            }
        }
        Topic::SocketClosing => Notification::SocketClosing,
        Topic::System(topic) => Notification::System {
            topic: topic.to_owned(),
        },
        Topic::User { user_id, kind } => Notification::User {
            user_id: user_id.to_owned(),
            kind,
            correlation_id,
            body: frame.slice_ref(envelope.event_body.get().as_bytes()),
        },
        Topic::Unknown(topic) => Notification::Unknown {
            topic: topic.to_owned(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_pongs_and_user_topics_are_told_apart() {
        let heartbeat =
            r#"{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}"#;
        assert!(matches!(
            parse(&Bytes::from_static(heartbeat.as_bytes())).unwrap(),
            Notification::Heartbeat
        ));
        let pong = r#"{"topicName":"channel.metadata","eventBody":{"message":"pong"}}"#;
        assert!(matches!(
            parse(&Bytes::from_static(pong.as_bytes())).unwrap(),
            Notification::Pong
        ));
        let closing = r#"{"topicName":"v2.system.socket_closing","version":"2","eventBody":{"message":"bye"},"metadata":{"CorrelationId":"c"}}"#;
        assert!(matches!(
            parse(&Bytes::from_static(closing.as_bytes())).unwrap(),
            Notification::SocketClosing
        ));
        let presence = r#"{"topicName":"v2.users.9ed7d9f6-0c59-4360-ac54-40dd35eb9c2f.presence","version":"2","eventBody":{"source":"PURECLOUD","presenceDefinition":{"id":"6a3af858-942f-489d-9700-5f9bcdcdae9b","systemPresence":"AVAILABLE"},"primary":true,"message":""},"metadata":{"CorrelationId":"290034f4-c3d7-46fd-8342-ee5bc859b7e9"}}"#;
        match parse(&Bytes::from_static(presence.as_bytes())).unwrap() {
            Notification::User {
                user_id,
                kind,
                correlation_id,
                body,
            } => {
                assert_eq!(user_id, "9ed7d9f6-0c59-4360-ac54-40dd35eb9c2f");
                assert_eq!(kind, UserTopicKind::Presence);
                assert_eq!(
                    correlation_id.as_deref(),
                    Some("290034f4-c3d7-46fd-8342-ee5bc859b7e9")
                );
                assert_eq!(&body[..], br#"{"source":"PURECLOUD","presenceDefinition":{"id":"6a3af858-942f-489d-9700-5f9bcdcdae9b","systemPresence":"AVAILABLE"},"primary":true,"message":""}"#, "the body is exactly eventBody");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "{",
            "null",
            r#"{"topicName":1}"#,
            r#"{"topicName":"channel.metadata","eventBody":{}}"#,
        ] {
            assert!(parse(&Bytes::from_static(bad.as_bytes())).is_err(), "{bad}");
        }
    }
}
