//! `EndpointWorker`: one per endpoint, the delivery loop.
//!
//! Receives committed deliveries from the WebhookActor ([`Enqueue`]) and keeps up to
//! `max_queued_per_endpoint` of them in its [`Scheduler`]; beyond that they wait in the outbox
//! and are read back in id order when room frees up (also at start, which is how deliveries
//! pending at a crash resume). It sends while it has concurrency to spare: each attempt is
//! vetted by the SSRF guard, signed, POSTed with a time limit, and classified. Outcomes are
//! written back to the outbox in batches ([`RecordOutcomes`]), reported to the audit trail and
//! to an optional observer. A 410 or a failing streak longer than `disable_after` disables the
//! endpoint: its queue goes to the dead-letter list and new events follow until an operator
//! re-enables it ([`Enable`]).
//!
//! A dead or slow receiver costs only its own worker: the actors upstream never wait for it,
//! and its memory is bounded by `max_queued_per_endpoint`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, Recipient,
    ResponseFuture, SpawnHandle, WrapFuture,
};
use actix_web::http::header;
use tokio::sync::oneshot;
use tracing::{debug, error};

mod health;
mod report;

use super::{
    DeliveryReport, ReportResult,
    attempt::{AttemptError, Attempted, Vetted, send},
    endpoint::Endpoint,
    metrics::WebhookMetrics,
    outbox::{
        AttemptLog, DEAD_REASON_DISABLED, EndpointRecord, LoadPending, NextState, OutboxStore,
        Outcome, RecordOutcomes, SaveEndpoint, now_ms,
    },
    scheduler::{Delivery, Finish, Scheduler},
    ssrf::SsrfGuard,
};
use crate::event::AuditSink;

/// Wait before retrying an outbox read or write that failed.
const STORE_RETRY_DELAY: Duration = Duration::from_secs(1);
/// `User-Agent` of every delivery.
const USER_AGENT: &str = concat!("agentcast/", env!("CARGO_PKG_VERSION"));

/// What every worker shares.
pub struct WorkerShared {
    pub store: Addr<OutboxStore>,
    pub guard: SsrfGuard,
    pub disable_after: Duration,
    pub max_response_bytes: usize,
    pub max_queued: usize,
    pub metrics: WebhookMetrics,
    pub audit: Option<AuditSink>,
    pub observer: Option<Recipient<DeliveryReport>>,
}

/// Committed deliveries for this endpoint, in id order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Enqueue {
    pub deliveries: Vec<Delivery>,
}

/// Re-enables a disabled endpoint (admin API).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Enable {
    /// Who asked (the admin key's holder), for the audit trail.
    pub by: String,
}

/// The in-memory side of an endpoint's health.
#[derive(Message)]
#[rtype(result = "WorkerHealth")]
pub struct GetHealth;

#[derive(Debug, Clone)]
pub struct WorkerHealth {
    pub record: EndpointRecord,
    pub queued: usize,
    pub in_flight: usize,
    pub last_failure: Option<FailureSummary>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FailureSummary {
    pub at: chrono::DateTime<chrono::Utc>,
    pub status: Option<u16>,
    pub error: String,
}

/// Resolves once every outcome so far is written to the outbox.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlushOutcomes;

/// Sent to the WebhookActor when the endpoint is disabled or enabled.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EndpointChanged {
    pub endpoint: Arc<str>,
    pub enabled: bool,
}

pub struct EndpointWorker {
    cfg: Arc<Endpoint>,
    shared: Arc<WorkerShared>,
    parent: Recipient<EndpointChanged>,
    /// Built in `started()`, on the worker's own thread (awc clients are not `Send`).
    client: Option<awc::Client>,
    /// The endpoint's address as last vetted by the SSRF guard.
    vetted: Vetted,
    sched: Scheduler,
    /// Health as persisted in the outbox.
    record: EndpointRecord,
    last_failure: Option<FailureSummary>,
    /// Highest delivery id held in memory or finished: everything at or below it that is still
    /// pending is in `sched`.
    loaded_upto: i64,
    /// Highest delivery id the WebhookActor has announced.
    max_seen: i64,
    /// Some pending deliveries are only in the outbox: read them back when there is room.
    spilled: bool,
    loading: bool,
    /// Outcomes not yet sent to the outbox, and whether a write is in progress.
    outcomes: Vec<Outcome>,
    writing: bool,
    flush_waiters: Vec<oneshot::Sender<()>>,
    /// The wake-up armed for the earliest waiting retry.
    timer: Option<(Instant, SpawnHandle)>,
}

impl EndpointWorker {
    pub fn new(
        cfg: Arc<Endpoint>,
        shared: Arc<WorkerShared>,
        parent: Recipient<EndpointChanged>,
        record: EndpointRecord,
    ) -> Self {
        Self {
            cfg,
            shared,
            parent,
            client: None,
            vetted: Vetted::default(),
            sched: Scheduler::new(),
            record,
            last_failure: None,
            loaded_upto: 0,
            max_seen: 0,
            spilled: true,
            loading: false,
            outcomes: Vec::new(),
            writing: false,
            flush_waiters: Vec::new(),
            timer: None,
        }
    }

    fn endpoint(&self) -> &str {
        &self.cfg.id
    }

    /// Starts attempts while concurrency allows, then arms the timer for the next retry.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        if !self.record.enabled {
            return;
        }
        let now = Instant::now();
        while self.sched.in_flight() < self.cfg.concurrency {
            let Some(delivery) = self.sched.next_ready(now) else {
                break;
            };
            self.spawn_attempt(delivery, ctx);
        }
        self.shared
            .metrics
            .queued
            .with_label_values(&[self.endpoint()])
            .set(self.sched.len() as i64);
        // With every slot busy a completion pumps again; a timer now would spin.
        if self.sched.in_flight() < self.cfg.concurrency {
            self.arm_timer(ctx);
        }
        self.refill(ctx);
    }

    fn arm_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(at) = self.sched.next_wakeup() else {
            return;
        };
        if let Some((armed, handle)) = self.timer {
            if armed <= at {
                return;
            }
            ctx.cancel_future(handle);
        }
        let handle = ctx.run_later(at.saturating_duration_since(Instant::now()), |act, ctx| {
            act.timer = None;
            act.pump(ctx);
        });
        self.timer = Some((at, handle));
    }

    /// Reads pending deliveries back from the outbox when some are only there and memory has
    /// room (at most half full, so reads come in large pages).
    fn refill(&mut self, ctx: &mut Context<Self>) {
        if !self.record.enabled
            || !self.spilled
            || self.loading
            || self.sched.len() > self.shared.max_queued / 2
        {
            return;
        }
        let limit = self.shared.max_queued - self.sched.len();
        // Every delivery announced so far was committed before its announcement, and this read
        // is queued behind those commits: a short page means everything up to here is loaded.
        let seen_at_request = self.max_seen;
        self.loading = true;
        let read = self.shared.store.send(LoadPending {
            endpoint: self.cfg.id.clone(),
            after_id: self.loaded_upto,
            limit,
        });
        ctx.spawn(read.into_actor(self).map(move |res, act, ctx| {
            act.loading = false;
            match res {
                Ok(Ok(rows)) => {
                    let full = rows.len() >= limit;
                    let now = Instant::now();
                    for delivery in rows {
                        if delivery.id > act.loaded_upto {
                            act.loaded_upto = delivery.id;
                            act.sched.push(delivery, now);
                        }
                    }
                    if !full {
                        act.loaded_upto = act.loaded_upto.max(seen_at_request);
                        act.spilled = act.max_seen > act.loaded_upto;
                    }
                    act.pump(ctx);
                }
                Ok(Err(e)) => act.store_failed("read pending deliveries", &e, ctx),
                Err(e) => act.store_failed("read pending deliveries", &e, ctx),
            }
        }));
    }

    fn store_failed(&mut self, what: &str, e: &dyn std::fmt::Display, ctx: &mut Context<Self>) {
        self.shared.metrics.store_errors.inc();
        error!(endpoint = self.endpoint(), error = %e, "Outbox: could not {what}; retrying.");
        ctx.run_later(STORE_RETRY_DELAY, |act, ctx| act.pump(ctx));
    }

    fn spawn_attempt(&mut self, delivery: Delivery, ctx: &mut Context<Self>) {
        // expect: the client is built in started(), before any message is handled.
        let client = self.client.clone().expect("client built at start");
        let attempt = send(
            client,
            self.cfg.clone(),
            self.shared.clone(),
            self.vetted.clone(),
            delivery.clone(),
        );
        ctx.spawn(
            attempt
                .into_actor(self)
                .map(move |attempted, act, ctx| act.finished(delivery, attempted, ctx)),
        );
    }

    /// Books the result of an attempt and moves the lane on.
    fn finished(&mut self, delivery: Delivery, attempted: Attempted, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let number = delivery.attempts + 1;
        let label = attempted
            .error
            .as_ref()
            .map_or("delivered", AttemptError::label);
        let metrics = &self.shared.metrics;
        metrics
            .attempts
            .with_label_values(&[self.endpoint(), label])
            .inc();
        metrics
            .attempt_seconds
            .with_label_values(&[self.endpoint()])
            .observe(attempted.duration.as_secs_f64());
        let log = AttemptLog {
            attempt: number,
            at_ms: attempted.at_ms,
            status: attempted.status,
            duration_ms: attempted.duration.as_secs_f64() * 1000.0,
            error: attempted.error.as_ref().map(ToString::to_string),
            response: attempted.response.clone(),
        };
        let (next, finish, result) = match &attempted.error {
            None => {
                self.succeeded(&delivery);
                (NextState::Delivered, Finish::Done, ReportResult::Delivered)
            }
            Some(error) => {
                self.failed(error, attempted.status, ctx);
                let retry = if self.record.enabled {
                    self.cfg
                        .retry
                        .next_delay(number, error.throttled(), attempted.retry_after)
                } else {
                    None
                };
                match retry {
                    Some(wait) => (
                        NextState::Retry {
                            at_ms: now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
                        },
                        Finish::RetryAt {
                            at: now + wait,
                            attempts: number,
                        },
                        ReportResult::Retrying { after: wait },
                    ),
                    None => {
                        let reason = if self.record.enabled {
                            format!("gave up after {number} attempts; last: {error}")
                        } else {
                            DEAD_REASON_DISABLED.to_owned()
                        };
                        (
                            NextState::Dead {
                                reason: reason.clone(),
                            },
                            Finish::Done,
                            ReportResult::DeadLettered { reason },
                        )
                    }
                }
            }
        };
        self.audit_attempt(&delivery, &log, &result);
        self.report(&delivery, number, &log, result);
        self.record_outcome(
            Outcome {
                delivery_id: delivery.id,
                attempt: Some(log),
                next,
            },
            ctx,
        );
        self.sched.finish(&delivery.agent_id, finish, now);
        self.pump(ctx);
    }

    fn persist(&self) {
        self.shared.store.do_send(SaveEndpoint(self.record.clone()));
    }

    fn record_outcome(&mut self, outcome: Outcome, ctx: &mut Context<Self>) {
        self.outcomes.push(outcome);
        self.write_outcomes(ctx);
    }

    /// Writes the outcomes gathered so far in one transaction; those arriving meanwhile wait
    /// for the next (group commit).
    fn write_outcomes(&mut self, ctx: &mut Context<Self>) {
        if self.writing {
            return;
        }
        if self.outcomes.is_empty() {
            for waiter in self.flush_waiters.drain(..) {
                let _ = waiter.send(());
            }
            return;
        }
        self.writing = true;
        let outcomes = std::mem::take(&mut self.outcomes);
        let write = self.shared.store.send(RecordOutcomes { outcomes });
        ctx.spawn(write.into_actor(self).map(|res, act, ctx| {
            let (error, returned) = match res {
                Ok(Ok(())) => {
                    act.writing = false;
                    act.write_outcomes(ctx);
                    return;
                }
                Ok(Err(failed)) => (failed.error.to_string(), failed.outcomes),
                // The outbox thread is gone (shutdown): nothing to retry on.
                Err(e) => (e.to_string(), Vec::new()),
            };
            act.shared.metrics.store_errors.inc();
            error!(endpoint = act.endpoint(), error = %error, count = returned.len(), "Outbox: could not record attempt outcomes; retrying.");
            act.outcomes.splice(0..0, returned);
            ctx.run_later(STORE_RETRY_DELAY, |act, ctx| {
                act.writing = false;
                act.write_outcomes(ctx);
            });
        }));
    }

    fn dead_letter_unsent(&mut self, deliveries: Vec<Delivery>, ctx: &mut Context<Self>) {
        for delivery in deliveries {
            self.shared
                .metrics
                .dead_letters
                .with_label_values(&[self.endpoint()])
                .inc();
            self.report(
                &delivery,
                delivery.attempts,
                &AttemptLog::none(),
                ReportResult::DeadLettered {
                    reason: DEAD_REASON_DISABLED.into(),
                },
            );
            self.record_outcome(
                Outcome {
                    delivery_id: delivery.id,
                    attempt: None,
                    next: NextState::Dead {
                        reason: DEAD_REASON_DISABLED.into(),
                    },
                },
                ctx,
            );
        }
    }
}

impl Actor for EndpointWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let connector = awc::Connector::new()
            .limit(self.cfg.concurrency)
            .timeout(self.cfg.timeout);
        self.client = Some(
            awc::Client::builder()
                .connector(connector)
                .timeout(self.cfg.timeout)
                .disable_redirects()
                .add_default_header((header::USER_AGENT, USER_AGENT))
                .finish(),
        );
        self.shared
            .metrics
            .enabled
            .with_label_values(&[self.endpoint()])
            .set(i64::from(self.record.enabled));
        self.persist();
        debug!(endpoint = self.endpoint(), url = %self.cfg.display_url(), enabled = self.record.enabled, "Webhook worker started.");
        self.refill(ctx);
    }
}

impl Handler<Enqueue> for EndpointWorker {
    type Result = ();

    fn handle(&mut self, msg: Enqueue, ctx: &mut Context<Self>) {
        if !self.record.enabled {
            // Committed just before the WebhookActor heard of the disable.
            self.dead_letter_unsent(msg.deliveries, ctx);
            return;
        }
        let now = Instant::now();
        for delivery in msg.deliveries {
            self.max_seen = self.max_seen.max(delivery.id);
            if self.spilled || delivery.id <= self.loaded_upto {
                continue; // in the outbox; a read brings it back in order
            }
            if self.sched.len() >= self.shared.max_queued {
                self.spilled = true;
                continue;
            }
            self.loaded_upto = delivery.id;
            self.sched.push(delivery, now);
        }
        self.pump(ctx);
    }
}

impl Handler<GetHealth> for EndpointWorker {
    type Result = actix::MessageResult<GetHealth>;

    fn handle(&mut self, _: GetHealth, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(WorkerHealth {
            record: self.record.clone(),
            queued: self.sched.len(),
            in_flight: self.sched.in_flight(),
            last_failure: self.last_failure.clone(),
        })
    }
}

impl Handler<FlushOutcomes> for EndpointWorker {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: FlushOutcomes, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.flush_waiters.push(tx);
        self.write_outcomes(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
