//! Notification channels: their lifetime, subscriptions, the index from agent topic to
//! channels, and the link to each channel's WebSocket.
//!
//! The emitter calls [`Hub::deliver`] with bytes serialized once; delivery is a `try_send`
//! into the socket's bounded queue, so nothing here ever awaits a socket. Each socket's own
//! task drains its queue (see `stream.rs`).
//!
//! **Slow-client policy:** a socket's queue holds [`SOCKET_QUEUE_CAPACITY`] messages. When it
//! is full the socket is unlinked at once (the channel counts as unconnected and its
//! subscriptions stay), counted in `slowClientCloses`, and told to close with 1008 (policy
//! violation). Queued messages are dropped; the client reconnects to the same channel.
//! Messages for a channel with no socket are dropped, as on the real service.

mod channel;
mod topics;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, atomic::AtomicU64},
    time::{Duration, Instant},
};

use actix_ws::{CloseCode, CloseReason};
use bytestring::ByteString;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc::{self, error::TrySendError};

use self::channel::{CONTROL_CAPACITY, SocketLink};
pub use self::{
    channel::{
        Channel, Control, SOCKET_QUEUE_CAPACITY, SocketEnds, Target, close_reason, kind_index,
    },
    topics::resolve,
};
use crate::genesys::topics::{MAX_CHANNELS_PER_CLIENT, MAX_TOPICS_PER_CHANNEL, UserTopicKind};

const KINDS: usize = UserTopicKind::ALL.len();

/// More than 1,000 topics would be on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a channel may have at most 1000 topics; this request would leave {count}")]
pub struct TooManyTopics {
    pub count: usize,
}

/// Replace the subscriptions or add to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Replace,
    Add,
}

/// Every channel of every client.
#[derive(Debug)]
pub struct Hub {
    slots: Vec<Option<Channel>>,
    free: Vec<u32>,
    by_id: HashMap<String, u32>,
    /// `agent * KINDS + kind` → slots of the channels subscribed to that topic.
    index: Vec<Vec<u32>>,
    next_socket_id: u64,
    ttl: Duration,
    pub slow_client_closes: u64,
}

impl Hub {
    pub fn new(agents: usize, ttl: Duration) -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            index: vec![Vec::new(); agents * KINDS],
            next_socket_id: 1,
            ttl,
            slow_client_closes: 0,
        }
    }

    fn slot(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    pub fn get(&self, id: &str) -> Option<&Channel> {
        self.slot(id).and_then(|s| self.slots[s as usize].as_ref())
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Channel> {
        let slot = self.slot(id)?;
        self.slots[slot as usize].as_mut()
    }

    pub fn channels(&self) -> impl Iterator<Item = &Channel> {
        self.slots.iter().flatten()
    }

    /// Creates a channel for `client_id`. At the 21st channel the client's oldest unconnected
    /// channel (by last use) is removed, else its oldest; the removed id is returned.
    pub fn create(
        &mut self,
        client_id: &str,
        token: &str,
        now: Instant,
        now_utc: DateTime<Utc>,
    ) -> (&Channel, Option<String>) {
        let owned: Vec<&Channel> = self
            .channels()
            .filter(|c| c.client_id == client_id)
            .collect();
        let evicted = (owned.len() >= MAX_CHANNELS_PER_CLIENT)
            .then(|| {
                owned
                    .iter()
                    .min_by_key(|c| (c.connected(), c.last_used))
                    .map(|c| c.id.clone())
            })
            .flatten();
        if let Some(victim) = &evicted {
            self.remove(
                victim,
                close_reason(
                    CloseCode::Away,
                    "channel limit reached: replaced by a new channel",
                ),
            );
        }
        let channel = Channel {
            id: crate::sim::ids::channel_id(),
            client_id: client_id.to_owned(),
            token: token.to_owned(),
            expires: now_utc + self.ttl,
            expires_at: now + self.ttl,
            last_used: now,
            topics: BTreeMap::new(),
            socket: None,
            sockets_opened: 0,
            slow_client_closes: 0,
            messages_sent: Arc::new(AtomicU64::new(0)),
        };
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                self.slots.len() as u32 - 1
            }
        };
        self.by_id.insert(channel.id.clone(), slot);
        let entry = self.slots[slot as usize].insert(channel);
        (entry, evicted)
    }

    /// Removes a channel, closing its socket with `reason`; false when it did not exist.
    pub fn remove(&mut self, id: &str, reason: CloseReason) -> bool {
        let Some(slot) = self.by_id.remove(id) else {
            return false;
        };
        let Some(mut channel) = self.slots[slot as usize].take() else {
            return false;
        };
        self.unindex(slot, channel.topics.values());
        if let Some(link) = channel.socket.take() {
            let _ = link.control.try_send(Control::Close(reason));
        }
        self.free.push(slot);
        true
    }

    /// Removes the channels whose time is up; returns their ids.
    pub fn expire_due(&mut self, now: Instant) -> Vec<String> {
        let due: Vec<String> = self
            .channels()
            .filter(|c| c.expires_at <= now)
            .map(|c| c.id.clone())
            .collect();
        for id in &due {
            self.remove(id, close_reason(CloseCode::Away, "channel expired"));
        }
        due
    }

    /// Applies a subscription change (already validated) and extends the channel's life.
    pub fn subscribe(
        &mut self,
        id: &str,
        mode: Mode,
        topics: Vec<(String, Option<Target>)>,
        now: Instant,
        now_utc: DateTime<Utc>,
    ) -> Result<(), TooManyTopics> {
        let ttl = self.ttl;
        let Some(slot) = self.slot(id) else {
            return Ok(());
        };
        let Some(channel) = self.slots[slot as usize].as_mut() else {
            return Ok(());
        };
        let mut next = match mode {
            Mode::Replace => BTreeMap::new(),
            Mode::Add => channel.topics.clone(),
        };
        next.extend(topics);
        if next.len() > MAX_TOPICS_PER_CHANNEL {
            return Err(TooManyTopics { count: next.len() });
        }
        channel.expires = now_utc + ttl;
        channel.expires_at = now + ttl;
        channel.last_used = now;
        let old = std::mem::replace(&mut channel.topics, next);
        self.unindex(slot, old.values());
        self.reindex(slot);
        Ok(())
    }

    /// Removes every subscription of a channel.
    pub fn clear(&mut self, id: &str, now: Instant) {
        let Some(slot) = self.slot(id) else {
            return;
        };
        let Some(channel) = self.slots[slot as usize].as_mut() else {
            return;
        };
        channel.last_used = now;
        let old = std::mem::take(&mut channel.topics);
        self.unindex(slot, old.values());
    }

    fn unindex<'a>(&mut self, slot: u32, targets: impl Iterator<Item = &'a Option<Target>>) {
        for target in targets.flatten() {
            let entry = &mut self.index[target.agent as usize * KINDS + kind_index(target.kind)];
            entry.retain(|s| *s != slot);
        }
    }

    fn reindex(&mut self, slot: u32) {
        let Some(channel) = self.slots[slot as usize].as_ref() else {
            return;
        };
        for target in channel.topics.values().flatten() {
            let entry = &mut self.index[target.agent as usize * KINDS + kind_index(target.kind)];
            if !entry.contains(&slot) {
                entry.push(slot);
            }
        }
    }

    /// Links a new socket to a channel, closing the one it replaces. `None`: no such channel.
    pub fn attach(&mut self, id: &str, now: Instant) -> Option<SocketEnds> {
        let socket_id = self.next_socket_id;
        let channel = self.get_mut(id)?;
        let (data_tx, data) = mpsc::channel(SOCKET_QUEUE_CAPACITY);
        let (control_tx, control) = mpsc::channel(CONTROL_CAPACITY);
        let old = channel.socket.replace(SocketLink {
            id: socket_id,
            data: data_tx,
            control: control_tx,
            last_event: None,
        });
        if let Some(old) = old {
            let reason = close_reason(
                CloseCode::Normal,
                "another WebSocket connected to this channel",
            );
            let _ = old.control.try_send(Control::Close(reason));
        }
        channel.sockets_opened += 1;
        channel.last_used = now;
        let messages_sent = Arc::clone(&channel.messages_sent);
        self.next_socket_id += 1;
        Some(SocketEnds {
            socket_id,
            data,
            control,
            messages_sent,
        })
    }

    /// Unlinks a socket that ended, unless a newer one has replaced it already.
    pub fn detach(&mut self, id: &str, socket_id: u64, now: Instant) {
        if let Some(channel) = self.get_mut(id)
            && channel.socket.as_ref().is_some_and(|s| s.id == socket_id)
        {
            channel.socket = None;
            channel.last_used = now;
        }
    }

    /// Slots of the channels subscribed to an agent topic.
    pub fn subscribers(&self, agent: u32, kind: UserTopicKind) -> &[u32] {
        self.index
            .get(agent as usize * KINDS + kind_index(kind))
            .map_or(&[], Vec::as_slice)
    }

    /// True when some subscribed channel has a socket to deliver to.
    pub fn any_connected(&self, slots: &[u32]) -> bool {
        slots.iter().any(|s| {
            self.slots[*s as usize]
                .as_ref()
                .is_some_and(Channel::connected)
        })
    }

    /// Queues `text` on the socket of the channel in `slot`, applying the slow-client policy.
    /// `event`: remember it for the `duplicate` fault.
    pub fn deliver(&mut self, slot: u32, text: &ByteString, event: bool) -> bool {
        let Some(Some(channel)) = self.slots.get_mut(slot as usize) else {
            return false;
        };
        let Some(link) = channel.socket.as_mut() else {
            return false;
        };
        match link.data.try_send(text.clone()) {
            Ok(()) => {
                if event {
                    link.last_event = Some(text.clone());
                }
                true
            }
            Err(TrySendError::Full(_)) => {
                if let Some(link) = channel.socket.take() {
                    let reason =
                        close_reason(CloseCode::Policy, "client too slow: outbound queue full");
                    let _ = link.control.try_send(Control::Close(reason));
                }
                channel.slow_client_closes += 1;
                self.slow_client_closes += 1;
                tracing::warn!(channel_id = %channel.id, "Closing a socket whose client is too slow.");
                false
            }
            Err(TrySendError::Closed(_)) => {
                channel.socket = None;
                false
            }
        }
    }

    /// Slots of every channel with a socket.
    pub fn connected_slots(&self) -> Vec<u32> {
        (self.slots.iter().enumerate())
            .filter(|(_, c)| c.as_ref().is_some_and(Channel::connected))
            .map(|(i, _)| i as u32)
            .collect()
    }

    pub fn channel_at(&self, slot: u32) -> Option<&Channel> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// The last agent-topic message queued on a slot's socket.
    pub fn last_event(&self, slot: u32) -> Option<ByteString> {
        self.channel_at(slot)?.socket.as_ref()?.last_event.clone()
    }

    /// Sends a control command to a slot's socket; true when it was queued.
    pub fn control(&mut self, slot: u32, command: Control) -> bool {
        let Some(Some(channel)) = self.slots.get_mut(slot as usize) else {
            return false;
        };
        let Some(link) = channel.socket.as_ref() else {
            return false;
        };
        let queued = link.control.try_send(command.clone()).is_ok();
        if matches!(command, Control::Abort | Control::Close(_)) {
            channel.socket = None;
        }
        queued
    }
}
