//! `WebhookActor`: at-least-once, signed delivery of every broadcast to the supervisor systems'
//! webhooks (architecture §6).
//!
//! ```text
//!  hub ──Broadcasted──▶ WebhookActor ──InsertEvents (batched)──▶ OutboxStore (SQLite thread)
//!                          │  ◀──── committed: the event is *accepted* ────┘
//!                          └──Enqueue──▶ EndpointWorker × endpoints ──signed POST──▶ receiver
//!                                           │ RecordOutcomes (batched) ──▶ OutboxStore
//!                                           └ AuditRecord ──▶ AuditActor, DeliveryReport ──▶ observer
//! ```
//!
//! The hub hands over each broadcast with `do_send` and never waits. The actor picks the
//! endpoints whose scopes (and `violations_only`) want it and queues it for the outbox; the
//! outbox writes everything queued while the previous transaction committed in one transaction
//! (group commit, at most `batch_max` events). **An event is accepted when that transaction has
//! committed**; only then do the workers see it, and only then does [`Submit`] answer. A crash
//! before the commit loses the event for webhooks (it was never accepted); the window is the
//! hand-over-to-commit time, measured by `agentcast_webhook_accept_duration_seconds` and
//! bounded by `accept_queue_capacity`. After the commit nothing is lost: a restart reads every
//! pending delivery back, and at worst resends one whose success was not yet recorded (same
//! `webhook-id`, so receivers can drop the duplicate).
//!
//! Messages: [`Broadcasted`] and [`Submit`] (accept), [`Flush`] (shutdown), and the admin
//! commands behind `/v1/webhooks…`: [`ListEndpoints`], [`ListDeadLetters`], [`ReplayDeadLetters`],
//! [`EnableEndpoint`], [`ListAttempts`].

mod admin;
mod attempt;
mod endpoint;
mod metrics;
mod outbox;
mod retry;
mod scheduler;
pub mod signing;
pub mod ssrf;
mod worker;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use actix::{
    Actor, ActorFutureExt, Addr, Arbiter, AsyncContext, Context, Handler, Message, Recipient,
    ResponseFuture, WrapFuture,
};
use futures_util::future::join_all;
use tokio::sync::oneshot;
use tracing::{error, info, warn};

pub use self::{
    admin::{
        EnableEndpoint, EndpointHealth, GetLosses, ListAttempts, ListDeadLetters, ListEndpoints,
        Loss, ReplayDeadLetters, WebhookLosses,
    },
    attempt::AttemptError,
    endpoint::{Endpoint, WebhookConfig},
    metrics::WebhookMetrics,
    outbox::{AttemptView, DeadLetter, ReplaySelector},
    retry::RetryPolicy,
    scheduler::Delivery,
    worker::FailureSummary,
};
use self::{
    outbox::{
        EndpointRecord, InsertEvents, Inserted, NewEvent, OutboxStore, Purge, Target, now_ms,
    },
    worker::{EndpointChanged, EndpointWorker, Enqueue, FlushOutcomes, WorkerShared},
};
use super::{
    Broadcasted, BroadcastsDropped,
    audit::records::{self, EndpointChange, WebhookDeadLetter},
};
use crate::{
    config::ConfigError,
    event::{AgentId, AuditSink, Broadcast},
    store::StoreError,
};

/// Why an event refused at the outbox's door is lost (audit records, `/v1/webhooks`).
const REFUSED_REASON: &str = "refused: outbox queue full";
/// Wait before retrying an outbox write that failed.
const STORE_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Deliveries removed per retention transaction (keeps each one short).
const PURGE_CHUNK: usize = 5_000;
/// Most records one admin listing returns.
pub const MAX_LIST_LIMIT: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no webhook endpoint {0:?}")]
    UnknownEndpoint(String),
    #[error("webhook endpoint {0:?} is disabled: enable it before replaying")]
    Disabled(String),
    #[error("no dead letter of event {event_id:?} for endpoint {endpoint:?}")]
    NoDeadLetter { endpoint: String, event_id: String },
    #[error("the outbox queue is full ({0} events wait for the outbox); event refused")]
    Overloaded(usize),
    #[error("outbox: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the webhook actor is not running")]
    Stopped,
}

/// How an attempt (or its absence) ended, as told to the observer.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportResult {
    Delivered,
    Retrying { after: Duration },
    DeadLettered { reason: String },
}

/// One attempt's result, or a delivery dead-lettered without one. Sent to the observer given to
/// [`WebhookActor::start`] (tests and the benchmark await these instead of polling) when the
/// attempt ends; the outbox records the outcome in its next batch ([`Flush`] waits for it).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct DeliveryReport {
    pub endpoint: Arc<str>,
    pub event_id: Arc<str>,
    pub agent_id: AgentId,
    pub delivery_id: i64,
    /// The attempt's number (1 = first); for a delivery dead-lettered unsent, attempts made.
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// When the event was accepted into the outbox, Unix ms.
    pub accepted_ms: i64,
    pub result: ReportResult,
}

/// Accept a broadcast and answer once it is committed to the outbox (back-pressure for
/// callers that want it: the crash-test feeder, the benchmark). The hub uses [`Broadcasted`].
#[derive(Message)]
#[rtype(result = "Result<Accepted, WebhookError>")]
pub struct Submit {
    pub broadcast: Arc<Broadcast>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// Endpoints the event was accepted for (0: no endpoint wants it, nothing stored).
    pub endpoints: usize,
}

/// Resolves when everything handed over before it is committed and every attempt outcome so
/// far is recorded (the shutdown path calls it before stopping the system).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Flush;

/// One endpoint as the actor routes to it.
struct Route {
    cfg: Arc<Endpoint>,
    worker: Addr<EndpointWorker>,
    enabled: bool,
}

/// A broadcast waiting for the outbox.
struct Waiting {
    event: NewEvent,
    handed_at: Instant,
    reply: Option<oneshot::Sender<Result<Accepted, WebhookError>>>,
}

pub struct WebhookActor {
    routes: Vec<Route>,
    config: Arc<WebhookConfig>,
    store: Addr<OutboxStore>,
    metrics: WebhookMetrics,
    audit: Option<AuditSink>,
    observer: Option<Recipient<DeliveryReport>>,
    /// Handed over, not yet committed, oldest first (at most `accept_queue_capacity`).
    waiting: Vec<Waiting>,
    /// A batch is being written (or a failed write is waiting to be retried).
    writing: bool,
    /// Events refused in the current run of a full queue (logged once per run).
    refusing: u64,
    /// Events lost for webhooks (refused, or dropped before they reached this actor).
    losses: WebhookLosses,
    /// Broadcasts handed over so far, and how many of them are settled (committed or refused).
    handed: u64,
    settled: u64,
    flush_waiters: Vec<(u64, oneshot::Sender<()>)>,
    /// Endpoint records read from the outbox at start, handed to the workers in `started()`.
    records: HashMap<Arc<str>, EndpointRecord>,
}

impl WebhookActor {
    /// Opens the outbox (creating it if needed), starts its thread, and starts the actor and
    /// one worker per endpoint on a new arbiter (thread) of the current system, so deliveries
    /// never share an event loop with the hub. `audit` receives every attempt, dead letter and
    /// endpoint change; `observer`, if any, every [`DeliveryReport`].
    pub fn start(
        config: WebhookConfig,
        metrics: WebhookMetrics,
        audit: Option<AuditSink>,
        observer: Option<Recipient<DeliveryReport>>,
    ) -> Result<Addr<Self>, WebhookError> {
        for endpoint in &config.endpoints {
            metrics.init_endpoint(&endpoint.id);
        }
        let opened = outbox::open(&config.outbox_path, config.synchronous)?;
        let records = outbox::load_endpoint_records(&opened.conn)?;
        let store = OutboxStore::spawn(opened);
        let arbiter = Arbiter::new();
        let config = Arc::new(config);
        Ok(Self::start_in_arbiter(&arbiter.handle(), move |_| Self {
            routes: Vec::new(),
            config,
            store,
            metrics,
            audit,
            observer,
            waiting: Vec::new(),
            writing: false,
            refusing: 0,
            losses: WebhookLosses::default(),
            handed: 0,
            settled: 0,
            flush_waiters: Vec::new(),
            records,
        }))
    }

    fn route(&self, endpoint: &str) -> Result<&Route, WebhookError> {
        self.routes
            .iter()
            .find(|r| &*r.cfg.id == endpoint)
            .ok_or_else(|| WebhookError::UnknownEndpoint(endpoint.to_owned()))
    }

    /// Queues a broadcast for the outbox, or refuses it when the queue is full.
    fn accept(
        &mut self,
        broadcast: &Broadcast,
        reply: Option<oneshot::Sender<Result<Accepted, WebhookError>>>,
        ctx: &mut Context<Self>,
    ) {
        let targets: Vec<Target> = self
            .routes
            .iter()
            .filter(|r| r.cfg.wants(broadcast))
            .map(|r| Target {
                endpoint: r.cfg.id.clone(),
                disabled: !r.enabled,
            })
            .collect();
        if targets.is_empty() {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(Accepted { endpoints: 0 }));
            }
            return;
        }
        if self.waiting.len() >= self.config.accept_queue_capacity {
            self.metrics.refused.inc();
            if self.refusing == 0 {
                error!(
                    event_id = broadcast.event_id,
                    waiting = self.waiting.len(),
                    "Webhook outbox queue full: events are refused for webhooks (lost for them) \
                     until it drains; each is counted and audited."
                );
            }
            self.refusing += 1;
            self.losses.record(
                Loss {
                    at: chrono::Utc::now(),
                    count: 1,
                    first_seq: broadcast.seq,
                    last_seq: broadcast.seq,
                    reason: REFUSED_REASON.into(),
                },
                true,
            );
            if let Some(audit) = &self.audit {
                audit.do_send(records::webhook_dead_letter(&WebhookDeadLetter::Refused {
                    event_id: &broadcast.event_id,
                    agent_id: broadcast.agent_id.clone(),
                    endpoints: targets.iter().map(|t| &*t.endpoint).collect(),
                    reason: REFUSED_REASON,
                }));
            }
            if let Some(reply) = reply {
                let _ = reply.send(Err(WebhookError::Overloaded(self.waiting.len())));
            }
            return;
        }
        if self.refusing > 0 {
            warn!(
                refused = self.refusing,
                "Webhook outbox queue has room again."
            );
            self.refusing = 0;
        }
        self.handed += 1;
        self.metrics.unaccepted.inc();
        self.waiting.push(Waiting {
            event: NewEvent {
                event_id: broadcast.event_id.as_str().into(),
                agent_id: broadcast.agent_id.clone(),
                seq: broadcast.seq,
                payload: broadcast.json.clone(),
                targets,
            },
            handed_at: Instant::now(),
            reply,
        });
        self.write(ctx);
    }

    /// Writes everything waiting (up to `batch_max`) in one transaction, unless a write is in
    /// progress: then it goes in the next one (group commit).
    fn write(&mut self, ctx: &mut Context<Self>) {
        if self.writing || self.waiting.is_empty() {
            return;
        }
        self.writing = true;
        let take = self.waiting.len().min(self.config.batch_max);
        let batch: Vec<Waiting> = self.waiting.drain(..take).collect();
        let events = batch.iter().map(|w| w.event.clone()).collect();
        let insert = self.store.send(InsertEvents { events });
        ctx.spawn(insert.into_actor(self).map(move |res, act, ctx| {
            let res = match res {
                Ok(res) => res.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match res {
                Ok(inserted) => {
                    act.committed(batch, inserted);
                    act.writing = false;
                    act.write(ctx);
                }
                Err(e) => {
                    act.metrics.store_errors.inc();
                    error!(error = %e, events = batch.len(), "Outbox: could not write accepted events; retrying.");
                    act.waiting.splice(0..0, batch);
                    ctx.run_later(STORE_RETRY_DELAY, |act, ctx| {
                        act.writing = false;
                        act.write(ctx);
                    });
                }
            }
        }));
    }

    /// The batch is durable: answer, count, and hand the deliveries to the workers.
    fn committed(&mut self, batch: Vec<Waiting>, inserted: Inserted) {
        let n = batch.len() as u64;
        self.settled += n;
        self.metrics.unaccepted.sub(n as i64);
        for waiting in batch {
            self.metrics
                .accept_seconds
                .observe(waiting.handed_at.elapsed().as_secs_f64());
            if let Some(reply) = waiting.reply {
                let _ = reply.send(Ok(Accepted {
                    endpoints: waiting.event.targets.len(),
                }));
            }
        }
        let mut by_endpoint: HashMap<Arc<str>, Vec<Delivery>> = HashMap::new();
        for (endpoint, delivery) in inserted.pending {
            by_endpoint.entry(endpoint).or_default().push(delivery);
        }
        for route in &self.routes {
            if let Some(deliveries) = by_endpoint.remove(&route.cfg.id) {
                self.metrics
                    .accepted
                    .with_label_values(&[&route.cfg.id])
                    .inc_by(deliveries.len() as u64);
                route.worker.do_send(Enqueue { deliveries });
            }
        }
        for (endpoint, event_id, agent_id) in inserted.dead {
            self.metrics
                .dead_letters
                .with_label_values(&[&endpoint])
                .inc();
            if let Some(audit) = &self.audit {
                audit.do_send(records::webhook_dead_letter(&WebhookDeadLetter::Event {
                    endpoint: &endpoint,
                    event_id: &event_id,
                    agent_id: agent_id.clone(),
                    attempts: 0,
                    reason: outbox::DEAD_REASON_DISABLED,
                }));
            }
            if let Some(observer) = &self.observer {
                observer.do_send(DeliveryReport {
                    endpoint,
                    event_id,
                    agent_id,
                    delivery_id: 0,
                    attempt: 0,
                    status: None,
                    error: None,
                    accepted_ms: now_ms(),
                    result: ReportResult::DeadLettered {
                        reason: outbox::DEAD_REASON_DISABLED.into(),
                    },
                });
            }
        }
        let settled = self.settled;
        let (done, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flush_waiters)
            .into_iter()
            .partition(|(number, _)| *number <= settled);
        self.flush_waiters = open;
        for (_, waiter) in done {
            let _ = waiter.send(());
        }
    }

    /// Removes delivered and dead-lettered events older than the retention, a chunk at a time.
    fn purge(&mut self, ctx: &mut Context<Self>) {
        let cutoff_ms =
            now_ms() - i64::try_from(self.config.retention.as_millis()).unwrap_or(i64::MAX);
        let purge = self.store.send(Purge {
            cutoff_ms,
            limit: PURGE_CHUNK,
        });
        ctx.spawn(purge.into_actor(self).map(|res, act, ctx| match res {
            Ok(Ok(n)) if n >= PURGE_CHUNK => act.purge(ctx),
            Ok(Ok(n)) if n > 0 => {
                info!(deliveries = n, "Outbox retention: old deliveries removed.")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => error!(error = %e, "Outbox retention failed; next run retries."),
            Err(e) => error!(error = %e, "Outbox retention failed; next run retries."),
        }));
    }
}

impl Actor for WebhookActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let shared = Arc::new(WorkerShared {
            store: self.store.clone(),
            guard: self.config.guard.clone(),
            disable_after: self.config.disable_after,
            max_response_bytes: self.config.max_response_bytes,
            max_queued: self.config.max_queued_per_endpoint,
            metrics: self.metrics.clone(),
            audit: self.audit.clone(),
            observer: self.observer.clone(),
        });
        let parent = ctx.address().recipient();
        for cfg in &self.config.endpoints {
            let url = cfg.url.to_string();
            let record = match self.records.remove(&cfg.id) {
                Some(record) if record.url == url || record.enabled => {
                    EndpointRecord { url, ..record }
                }
                found => {
                    // A new URL for a disabled endpoint is an operator's fix: start enabled.
                    if let (Some(old), Some(audit)) = (found, &self.audit) {
                        audit.do_send(records::webhook_endpoint(
                            &cfg.id,
                            &EndpointChange::EnabledForNewUrl {
                                was_disabled_because: old.disabled_reason.as_deref(),
                            },
                        ));
                    }
                    EndpointRecord {
                        id: cfg.id.clone(),
                        url,
                        enabled: true,
                        disabled_reason: None,
                        disabled_ms: None,
                        failing_since_ms: None,
                        last_success_ms: None,
                    }
                }
            };
            let enabled = record.enabled;
            let worker =
                EndpointWorker::new(cfg.clone(), shared.clone(), parent.clone(), record).start();
            self.routes.push(Route {
                cfg: cfg.clone(),
                worker,
                enabled,
            });
        }
        if !self.config.maintenance_interval.is_zero() {
            ctx.run_interval(self.config.maintenance_interval, |act, ctx| act.purge(ctx));
        }
        info!(
            endpoints = self.routes.len(),
            outbox = %self.config.outbox_path.display(),
            "Webhook delivery started."
        );
    }
}

impl Handler<Broadcasted> for WebhookActor {
    type Result = ();

    fn handle(&mut self, msg: Broadcasted, ctx: &mut Context<Self>) {
        self.accept(&msg.broadcast, None, ctx);
    }
}

/// Broadcasts the hub dropped for this actor: lost for every endpoint that would have wanted
/// them. Counted, kept for `/v1/webhooks`, logged at ERROR and audited.
impl Handler<BroadcastsDropped> for WebhookActor {
    type Result = ();

    fn handle(&mut self, msg: BroadcastsDropped, _: &mut Context<Self>) {
        self.metrics.dropped.inc_by(msg.count);
        error!(
            count = msg.count,
            first_seq = msg.first_seq,
            last_seq = msg.last_seq,
            reason = %msg.reason,
            "Broadcasts never reached the webhook actor: they are lost for webhooks."
        );
        if let Some(audit) = &self.audit {
            audit.do_send(records::webhook_dead_letter(&WebhookDeadLetter::Dropped {
                count: msg.count,
                first_seq: msg.first_seq,
                last_seq: msg.last_seq,
                reason: &msg.reason,
            }));
        }
        self.losses.record(
            Loss {
                at: chrono::Utc::now(),
                count: msg.count,
                first_seq: msg.first_seq,
                last_seq: msg.last_seq,
                reason: msg.reason,
            },
            false,
        );
    }
}

impl Handler<Submit> for WebhookActor {
    type Result = ResponseFuture<Result<Accepted, WebhookError>>;

    fn handle(&mut self, msg: Submit, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.accept(&msg.broadcast, Some(tx), ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(WebhookError::Stopped)) })
    }
}

impl Handler<Flush> for WebhookActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        if self.settled >= self.handed {
            let _ = tx.send(());
        } else {
            self.flush_waiters.push((self.handed, tx));
        }
        let workers: Vec<_> = self.routes.iter().map(|r| r.worker.clone()).collect();
        Box::pin(async move {
            let _ = rx.await;
            join_all(workers.iter().map(|w| w.send(FlushOutcomes))).await;
        })
    }
}

impl Handler<EndpointChanged> for WebhookActor {
    type Result = ();

    fn handle(&mut self, msg: EndpointChanged, _: &mut Context<Self>) {
        if let Some(route) = self.routes.iter_mut().find(|r| r.cfg.id == msg.endpoint) {
            route.enabled = msg.enabled;
        }
    }
}
