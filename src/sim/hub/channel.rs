//! One notification channel and the hub's end of its socket: the types the hub, the stream
//! handler and the fault endpoints share.

use std::{
    collections::BTreeMap,
    sync::{Arc, atomic::AtomicU64},
    time::{Duration, Instant},
};

use actix_ws::{CloseCode, CloseReason};
use bytestring::ByteString;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::genesys::{models, topics::UserTopicKind};

/// Messages a socket may have queued before it counts as too slow.
pub const SOCKET_QUEUE_CAPACITY: usize = 4_096;
/// Control commands a socket may have pending.
pub(super) const CONTROL_CAPACITY: usize = 16;

/// The agent topic a subscription feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub agent: u32,
    pub kind: UserTopicKind,
}

/// Position of a kind in the index.
pub fn kind_index(kind: UserTopicKind) -> usize {
    UserTopicKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(0)
}

/// Commands to a socket task, besides the messages it forwards.
#[derive(Debug, Clone)]
pub enum Control {
    /// Send a close frame and end.
    Close(CloseReason),
    /// Close with 1001 after this long (after `v2.system.socket_closing`).
    CloseAfter(Duration),
    /// End without a close frame (the `drop_sockets` fault).
    Abort,
}

/// The hub's end of a socket.
#[derive(Debug)]
pub(super) struct SocketLink {
    pub(super) id: u64,
    pub(super) data: mpsc::Sender<ByteString>,
    pub(super) control: mpsc::Sender<Control>,
    /// The last agent-topic message queued, for the `duplicate` fault.
    pub(super) last_event: Option<ByteString>,
}

/// What a new socket's task needs.
#[derive(Debug)]
pub struct SocketEnds {
    pub socket_id: u64,
    pub data: mpsc::Receiver<ByteString>,
    pub control: mpsc::Receiver<Control>,
    pub messages_sent: Arc<AtomicU64>,
}

/// One notification channel.
#[derive(Debug)]
pub struct Channel {
    pub id: String,
    pub client_id: String,
    /// The token that created it (`includechannels=token` lists only these).
    pub token: String,
    pub expires: DateTime<Utc>,
    pub(super) expires_at: Instant,
    pub(super) last_used: Instant,
    /// Subscribed topics (canonical ids) and the agent topic each feeds.
    pub topics: BTreeMap<String, Option<Target>>,
    pub(super) socket: Option<SocketLink>,
    pub sockets_opened: u64,
    pub slow_client_closes: u64,
    pub messages_sent: Arc<AtomicU64>,
}

impl Channel {
    pub fn connected(&self) -> bool {
        self.socket.is_some()
    }

    pub fn to_model(&self, ws_base: &str) -> models::Channel {
        models::Channel {
            connect_uri: Some(format!("{ws_base}/channels/{}", self.id)),
            id: self.id.clone(),
            expires: Some(self.expires),
        }
    }
}

pub fn close_reason(code: CloseCode, description: &str) -> CloseReason {
    CloseReason {
        code,
        description: Some(description.to_owned()),
    }
}
