//! The validator pool: N ValidatorActors, each on its own thread, and the routing that keeps
//! one agent's signals on one validator (so they stay in order).
//!
//! Senders `do_send` (never wait), and the pool counts what is queued: the stream asks
//! [`ValidatorPool::wait_for_room`] before reading more from its sockets once the backlog
//! passes its limit, which turns a slow validator into TCP back-pressure upstream instead of
//! unbounded memory.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    pin::pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use actix::{Actor, Addr, Arbiter};
use tokio::sync::Notify;

use super::{AgentSignal, Reevaluate, ValidatorActor, ValidatorOutputs, verdict::Rules};
use crate::{
    actors::ingest_metrics::IngestMetrics, config::ValidationSettings, reference::ReferenceCache,
};

/// The count of signals sent but not yet handled, shared by the pool and its validators.
#[derive(Clone)]
pub(super) struct Backlog {
    queued: Arc<AtomicUsize>,
    room: Arc<Notify>,
    low_water: usize,
    metrics: IngestMetrics,
}

impl Backlog {
    fn queued(&self) {
        let now = self.queued.fetch_add(1, Ordering::Relaxed) + 1;
        if now.is_multiple_of(1024) {
            self.metrics.validator_backlog.set(now as i64);
        }
    }

    /// One signal handled.
    pub(super) fn handled(&self) {
        let before = self.queued.fetch_sub(1, Ordering::Relaxed);
        if before == self.low_water + 1 {
            self.room.notify_waiters();
        }
        if before % 1024 == 1 {
            self.metrics.validator_backlog.set(before as i64 - 1);
        }
    }

    fn len(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
pub struct ValidatorPool {
    validators: Arc<[Addr<ValidatorActor>]>,
    arbiters: Arc<Mutex<Vec<Arbiter>>>,
    backlog: Backlog,
    limit: usize,
}

impl ValidatorPool {
    /// Starts `settings.pool_size` validators (0 = one per core), each on a new thread.
    pub fn start(
        settings: &ValidationSettings,
        queue_limit: usize,
        reference: ReferenceCache,
        outputs: ValidatorOutputs,
        metrics: IngestMetrics,
    ) -> Self {
        let size = match settings.pool_size {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let rules = Arc::new(Rules::from_settings(settings));
        let backlog = Backlog {
            queued: Arc::new(AtomicUsize::new(0)),
            room: Arc::new(Notify::new()),
            low_water: queue_limit / 2,
            metrics: metrics.clone(),
        };
        let mut arbiters = Vec::with_capacity(size);
        let validators: Vec<Addr<ValidatorActor>> = (0..size)
            .map(|_| {
                let arbiter = Arbiter::new();
                let (reference, rules, outputs, metrics, backlog) = (
                    reference.clone(),
                    rules.clone(),
                    outputs.clone(),
                    metrics.clone(),
                    backlog.clone(),
                );
                let deliver = settings.deliver;
                let addr = ValidatorActor::start_in_arbiter(&arbiter.handle(), move |_| {
                    ValidatorActor::new(reference, rules, deliver, outputs, metrics, backlog)
                });
                arbiters.push(arbiter);
                addr
            })
            .collect();
        Self {
            validators: validators.into(),
            arbiters: Arc::new(Mutex::new(arbiters)),
            backlog,
            limit: queue_limit,
        }
    }

    pub fn size(&self) -> usize {
        self.validators.len()
    }

    /// Sends a signal to the agent's validator, without waiting.
    pub fn send(&self, signal: AgentSignal) {
        self.backlog.queued();
        self.route(&signal.agent_id).do_send(signal);
    }

    /// Asks every validator to re-evaluate.
    pub fn reevaluate(&self, msg: Reevaluate) {
        for validator in self.validators.iter() {
            validator.do_send(msg.clone());
        }
    }

    /// Signals queued and not yet handled.
    pub fn backlog(&self) -> usize {
        self.backlog.len()
    }

    /// True when the backlog passed its limit and senders should pause.
    pub fn is_full(&self) -> bool {
        self.backlog.len() >= self.limit
    }

    /// Resolves once the backlog has drained to half its limit.
    pub async fn wait_for_room(&self) {
        loop {
            let mut notified = pin!(self.backlog.room.notified());
            notified.as_mut().enable();
            if self.backlog.len() <= self.backlog.low_water {
                return;
            }
            notified.await;
        }
    }

    /// Stops the validator threads (after the messages already queued).
    pub fn stop(&self) {
        let arbiters = std::mem::take(
            &mut *self
                .arbiters
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for arbiter in arbiters {
            arbiter.stop();
            let _joined = arbiter.join();
        }
    }

    fn route(&self, agent_id: &str) -> &Addr<ValidatorActor> {
        let mut hasher = DefaultHasher::new();
        agent_id.hash(&mut hasher);
        &self.validators[(hasher.finish() % self.validators.len() as u64) as usize]
    }
}
