//! Forwarding broadcasts to downstream actors (the WebhookActor, the AuditActor) without ever
//! waiting for them.
//!
//! Policy: `try_send` into the recipient's mailbox. When the mailbox is full, the broadcast
//! waits in a per-recipient backlog in the hub, in order, retried every [`RETRY_INTERVAL`];
//! while a backlog is non-empty new broadcasts join it, so order is kept. A backlog holds at
//! most `downstream_backlog_max` broadcasts: past it the oldest is dropped, and never silently.
//! The dropped broadcasts are summed up in one [`BroadcastsDropped`] notice at the head of the
//! backlog (how many, their `seq` range, when, why), which the recipient receives in their
//! place, in order, as soon as its mailbox has room: the audit trail writes it as an
//! `audit_gap` record, the webhook actor counts, reports and audits it. Each dropped broadcast
//! is also counted in `agentcast_hub_downstream_dropped_total`, and the start of each gap is
//! logged at ERROR.
//!
//! A recipient that has stopped gets nothing more; what it missed is counted the same way (no
//! notice can reach it). The backlog size is the gauge `agentcast_hub_downstream_backlog`.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use actix::{Actor, Addr, Handler, Recipient, dev::SendError, dev::ToEnvelope};
use prometheus::{IntCounter, IntGauge};

use super::{Broadcasted, BroadcastsDropped};
use crate::{event::Broadcast, fanout::metrics::FanoutMetrics};

/// How often a non-empty backlog is retried.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(5);

/// A downstream recipient of every broadcast, given to the hub at construction.
#[derive(Clone)]
pub struct Downstream {
    /// Label in metrics and logs (`webhooks`, `audit`).
    pub name: String,
    pub recipient: Recipient<Broadcasted>,
    /// Where the notice of broadcasts dropped for this recipient goes (the same actor).
    pub dropped: Recipient<BroadcastsDropped>,
}

impl Downstream {
    pub fn new(
        name: impl Into<String>,
        recipient: Recipient<Broadcasted>,
        dropped: Recipient<BroadcastsDropped>,
    ) -> Self {
        Self {
            name: name.into(),
            recipient,
            dropped,
        }
    }

    /// An actor that takes both the broadcasts and the notice of those dropped for it.
    pub fn of<A>(name: impl Into<String>, addr: &Addr<A>) -> Self
    where
        A: Actor + Handler<Broadcasted> + Handler<BroadcastsDropped>,
        A::Context: ToEnvelope<A, Broadcasted> + ToEnvelope<A, BroadcastsDropped>,
    {
        Self::new(name, addr.clone().recipient(), addr.clone().recipient())
    }
}

/// Stats of one downstream recipient.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DownstreamStats {
    pub name: String,
    /// Broadcasts waiting in the hub for this recipient.
    pub backlog: usize,
    /// Broadcasts this recipient never got.
    pub dropped: u64,
}

/// What waits for a recipient: broadcasts, and at the head, the notice of those dropped.
enum Pending {
    Broadcast(Arc<Broadcast>),
    Dropped(BroadcastsDropped),
}

/// How one `try_send` went.
enum Sent {
    Taken,
    Full,
    Closed,
}

fn sent<M>(result: Result<(), SendError<M>>) -> Sent {
    match result {
        Ok(()) => Sent::Taken,
        Err(SendError::Full(_)) => Sent::Full,
        Err(SendError::Closed(_)) => Sent::Closed,
    }
}

pub(super) struct DownstreamQueue {
    name: String,
    recipient: Recipient<Broadcasted>,
    dropped_recipient: Recipient<BroadcastsDropped>,
    backlog: VecDeque<Pending>,
    /// Broadcasts in `backlog` (the notice at its head, if any, is not one).
    queued: usize,
    max_backlog: usize,
    gone: bool,
    backlog_gauge: IntGauge,
    dropped: IntCounter,
}

impl DownstreamQueue {
    pub(super) fn new(downstream: Downstream, max_backlog: usize, metrics: &FanoutMetrics) -> Self {
        let labels = [downstream.name.as_str()];
        Self {
            backlog_gauge: metrics.downstream_backlog.with_label_values(&labels),
            dropped: metrics.downstream_dropped.with_label_values(&labels),
            name: downstream.name,
            recipient: downstream.recipient,
            dropped_recipient: downstream.dropped,
            backlog: VecDeque::new(),
            queued: 0,
            max_backlog,
            gone: false,
        }
    }

    /// Hands a broadcast on, or queues it. Returns whether a retry is needed.
    pub(super) fn forward(&mut self, broadcast: &Arc<Broadcast>) -> bool {
        if self.gone {
            self.dropped.inc();
            return false;
        }
        if self.backlog.is_empty() {
            match self.recipient.try_send(Broadcasted {
                broadcast: Arc::clone(broadcast),
            }) {
                Ok(()) => return false,
                Err(SendError::Full(message)) => self.push(message.broadcast),
                Err(SendError::Closed(_)) => {
                    self.mark_gone(1);
                    return false;
                }
            }
        } else {
            self.push(Arc::clone(broadcast));
        }
        self.backlog_gauge.set(self.queued as i64);
        true
    }

    fn push(&mut self, broadcast: Arc<Broadcast>) {
        self.backlog.push_back(Pending::Broadcast(broadcast));
        self.queued += 1;
        if self.queued > self.max_backlog {
            self.drop_oldest();
        }
    }

    /// Drops the oldest broadcast waiting, into the notice at the head of the backlog (a new
    /// one if there is none: the start of a gap).
    fn drop_oldest(&mut self) {
        let after_notice = usize::from(matches!(self.backlog.front(), Some(Pending::Dropped(_))));
        let Some(Pending::Broadcast(oldest)) = self.backlog.remove(after_notice) else {
            // Only the head can be a notice, and the backlog holds more broadcasts than the cap.
            return;
        };
        self.queued -= 1;
        self.dropped.inc();
        if let Some(Pending::Dropped(notice)) = self.backlog.front_mut() {
            // The notice covers the broadcasts just before this one: the range stays whole.
            notice.count += 1;
            notice.last_seq = oldest.seq;
            notice.last_at = oldest.broadcast_at;
            return;
        }
        tracing::error!(
            recipient = %self.name,
            backlog = self.queued,
            first_seq = oldest.seq,
            "Downstream backlog full: the oldest broadcasts are dropped for this recipient until it \
             catches up; it will be told which."
        );
        self.backlog.push_front(Pending::Dropped(BroadcastsDropped {
            count: 1,
            first_seq: oldest.seq,
            last_seq: oldest.seq,
            first_at: oldest.broadcast_at,
            last_at: oldest.broadcast_at,
            reason: format!(
                "the hub's backlog for {} was full (subscribers.downstream_backlog_max = {})",
                self.name, self.max_backlog
            ),
        }));
    }

    /// Sends what the mailbox takes now. Returns whether a backlog remains.
    pub(super) fn retry(&mut self) -> bool {
        while let Some(front) = self.backlog.front() {
            let result = match front {
                Pending::Broadcast(broadcast) => sent(self.recipient.try_send(Broadcasted {
                    broadcast: Arc::clone(broadcast),
                })),
                Pending::Dropped(notice) => sent(self.dropped_recipient.try_send(notice.clone())),
            };
            match result {
                Sent::Taken => match self.backlog.pop_front() {
                    Some(Pending::Broadcast(_)) => self.queued -= 1,
                    Some(Pending::Dropped(notice)) => tracing::warn!(
                        recipient = %self.name,
                        count = notice.count,
                        first_seq = notice.first_seq,
                        last_seq = notice.last_seq,
                        "Broadcasts dropped for this recipient: it has been told which."
                    ),
                    None => {}
                },
                Sent::Full => break,
                Sent::Closed => {
                    let lost = self.queued as u64;
                    self.backlog.clear();
                    self.queued = 0;
                    self.mark_gone(lost);
                }
            }
        }
        self.backlog_gauge.set(self.queued as i64);
        !self.backlog.is_empty()
    }

    fn mark_gone(&mut self, lost: u64) {
        self.gone = true;
        self.dropped.inc_by(lost);
        tracing::error!(
            recipient = %self.name,
            "Downstream recipient has stopped; it gets no more broadcasts."
        );
    }

    pub(super) fn stats(&self) -> DownstreamStats {
        DownstreamStats {
            name: self.name.clone(),
            backlog: self.queued,
            dropped: self.dropped.get(),
        }
    }
}
