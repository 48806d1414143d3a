//! Dialing a notification channel's WebSocket, and the one message a client sends on it.
//!
//! The socket is opened on the channel's `connectUri` with no credentials (the channel id is
//! the credential, as in every official client). Frames larger than `max_frame_bytes` end
//! the connection, so the limit is set well above the service's own payload limit: an
//! oversized notification then arrives and is rejected as data, not as a dead socket. The
//! limit is enforced at the frame header ([`BoundedCodec`]), so a frame declared larger is
//! refused before its payload is buffered.

use actix_codec::Framed;
use awc::{BoxedSocket, error::WsClientError};

use super::GenesysClient;
use crate::frame_limit::BoundedCodec;

/// The health check the official SDKs send; answered with `pong` on `channel.metadata`.
pub const PING: &str = r#"{"message":"ping"}"#;

/// A connected channel socket.
pub type ChannelSocket = Framed<BoxedSocket, BoundedCodec>;

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The streaming host answered 404: the channel expired or was removed.
    #[error("channel {uri} no longer exists (404)")]
    ChannelGone { uri: String },
    /// The upgrade was refused with another status.
    #[error("channel socket {uri} was refused with status {status}")]
    Refused { uri: String, status: u16 },
    /// No connection, or a broken handshake.
    #[error("could not open channel socket {uri}: {detail}")]
    Connect { uri: String, detail: String },
}

impl GenesysClient {
    /// Opens the WebSocket of a channel.
    pub async fn connect_channel(
        &self,
        connect_uri: &str,
        max_frame_bytes: usize,
    ) -> Result<ChannelSocket, SocketError> {
        let connected = self
            .http()
            .ws(connect_uri)
            .max_frame_size(max_frame_bytes)
            .connect()
            .await;
        match connected {
            Ok((_, socket)) => Ok(socket.into_map_codec(|codec| {
                BoundedCodec::new(codec.max_size(max_frame_bytes), max_frame_bytes)
            })),
            Err(WsClientError::InvalidResponseStatus(status)) if status.as_u16() == 404 => {
                Err(SocketError::ChannelGone {
                    uri: connect_uri.to_owned(),
                })
            }
            Err(WsClientError::InvalidResponseStatus(status)) => Err(SocketError::Refused {
                uri: connect_uri.to_owned(),
                status: status.as_u16(),
            }),
            Err(other) => Err(SocketError::Connect {
                uri: connect_uri.to_owned(),
                detail: other.to_string(),
            }),
        }
    }
}
