//! Forwarding broadcasts to downstream actors (the WebhookActor, the AuditActor) without ever
//! waiting for them.
//!
//! Policy: `try_send` into the recipient's mailbox. When the mailbox is full, the broadcast
//! waits in a per-recipient backlog in the hub, in order, retried every [`RETRY_INTERVAL`];
//! while a backlog is non-empty new broadcasts join it, so order is kept. A backlog is capped at
//! `downstream_backlog_max`: past it the oldest broadcast is dropped, counted in
//! `agentcast_hub_downstream_dropped_total` and logged as an error (data lost for that
//! recipient). A recipient that has stopped gets nothing more; what it missed is counted the
//! same way. The backlog size is the gauge `agentcast_hub_downstream_backlog`.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use actix::{Recipient, dev::SendError};
use prometheus::{IntCounter, IntGauge};

use super::{Broadcasted, metrics::FanoutMetrics};
use crate::event::Broadcast;

/// How often a non-empty backlog is retried.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(5);

/// A downstream recipient of every broadcast, given to the hub at construction.
#[derive(Clone)]
pub struct Downstream {
    /// Label in metrics and logs (`webhooks`, `audit`).
    pub name: String,
    pub recipient: Recipient<Broadcasted>,
}

impl Downstream {
    pub fn new(name: impl Into<String>, recipient: Recipient<Broadcasted>) -> Self {
        Self {
            name: name.into(),
            recipient,
        }
    }
}

/// Stats of one downstream recipient.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DownstreamStats {
    pub name: String,
    pub backlog: usize,
    pub dropped: u64,
}

pub(super) struct DownstreamQueue {
    name: String,
    recipient: Recipient<Broadcasted>,
    backlog: VecDeque<Arc<Broadcast>>,
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
            backlog: VecDeque::new(),
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
                Err(SendError::Full(message)) => self.backlog.push_back(message.broadcast),
                Err(SendError::Closed(_)) => {
                    self.mark_gone(1);
                    return false;
                }
            }
        } else {
            self.backlog.push_back(Arc::clone(broadcast));
            if self.backlog.len() > self.max_backlog {
                self.backlog.pop_front();
                self.dropped.inc();
                tracing::error!(
                    recipient = %self.name,
                    backlog = self.backlog.len(),
                    "Downstream backlog full; the oldest broadcast was dropped for this recipient."
                );
            }
        }
        self.backlog_gauge.set(self.backlog.len() as i64);
        true
    }

    /// Sends what the mailbox takes now. Returns whether a backlog remains.
    pub(super) fn retry(&mut self) -> bool {
        while let Some(front) = self.backlog.front() {
            match self.recipient.try_send(Broadcasted {
                broadcast: Arc::clone(front),
            }) {
                Ok(()) => {
                    self.backlog.pop_front();
                }
                Err(SendError::Full(_)) => break,
                Err(SendError::Closed(_)) => {
                    let lost = self.backlog.len();
                    self.backlog.clear();
                    self.mark_gone(lost as u64);
                }
            }
        }
        self.backlog_gauge.set(self.backlog.len() as i64);
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
            backlog: self.backlog.len(),
            dropped: self.dropped.get(),
        }
    }
}
