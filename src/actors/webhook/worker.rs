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
use actix_web::http::{StatusCode, header};
use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};

use super::{
    DeliveryReport, ReportResult,
    endpoint::Endpoint,
    metrics::WebhookMetrics,
    outbox::{
        AttemptLog, DEAD_REASON_DISABLED, DeadLetterPending, EndpointRecord, LoadPending,
        NextState, OutboxStore, Outcome, RecordOutcomes, SaveEndpoint, now_ms,
    },
    retry::parse_retry_after,
    scheduler::{Delivery, Finish, Scheduler},
    signing::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP},
    ssrf::{Blocked, SsrfGuard},
};
use crate::event::{AuditKind, AuditRecord, AuditSink};

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

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    #[error("{0}")]
    Blocked(#[from] Blocked),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Network(String),
    #[error("redirect not followed: {status} to {location}")]
    Redirect { status: u16, location: String },
    #[error("410 Gone: the receiver asked for no more deliveries")]
    Gone,
    #[error("429 Too Many Requests")]
    Throttled,
    #[error("HTTP {0}")]
    Status(u16),
}

impl AttemptError {
    /// The `outcome` label of `agentcast_webhook_attempts_total`.
    fn label(&self) -> &'static str {
        match self {
            Self::Blocked(_) => "blocked",
            Self::Timeout(_) => "timeout",
            Self::Network(_) => "network",
            Self::Redirect { .. } => "redirect",
            Self::Gone => "gone",
            Self::Throttled | Self::Status(_) => "http_error",
        }
    }

    /// A 429 or a timeout: the next wait is at least the throttle floor.
    fn throttled(&self) -> bool {
        matches!(self, Self::Throttled | Self::Timeout(_))
    }
}

/// What one attempt came to.
struct Attempted {
    at_ms: i64,
    duration: Duration,
    status: Option<u16>,
    error: Option<AttemptError>,
    retry_after: Option<Duration>,
    response: Option<String>,
}

pub struct EndpointWorker {
    cfg: Arc<Endpoint>,
    shared: Arc<WorkerShared>,
    parent: Recipient<EndpointChanged>,
    /// Built in `started()`, on the worker's own thread (awc clients are not `Send`).
    client: Option<awc::Client>,
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

    fn succeeded(&mut self, delivery: &Delivery) {
        let now = now_ms();
        self.shared
            .metrics
            .delivery_seconds
            .with_label_values(&[self.endpoint()])
            .observe((now - delivery.accepted_ms).max(0) as f64 / 1000.0);
        self.record.last_success_ms = Some(now);
        if self.record.failing_since_ms.take().is_some() {
            info!(endpoint = self.endpoint(), "Webhook endpoint recovered.");
            self.persist();
        }
    }

    /// Books a failure against the endpoint's health; disables it on a 410 or when it has
    /// failed without a success for `disable_after`.
    fn failed(&mut self, error: &AttemptError, status: Option<u16>, ctx: &mut Context<Self>) {
        let now = now_ms();
        self.last_failure = Some(FailureSummary {
            at: chrono::Utc::now(),
            status,
            error: error.to_string(),
        });
        let since = match self.record.failing_since_ms {
            Some(since) => since,
            None => {
                self.record.failing_since_ms = Some(now);
                self.persist();
                now
            }
        };
        if *error == AttemptError::Gone {
            self.disable("the receiver answered 410 Gone".into(), ctx);
        } else {
            let failing_for = Duration::from_millis((now - since).max(0).unsigned_abs());
            if failing_for >= self.shared.disable_after {
                self.disable(
                    format!(
                        "every attempt failed for {} s (disable_after is {} s); last: {error}",
                        failing_for.as_secs(),
                        self.shared.disable_after.as_secs()
                    ),
                    ctx,
                );
            }
        }
    }

    fn disable(&mut self, reason: String, ctx: &mut Context<Self>) {
        if !self.record.enabled {
            return;
        }
        warn!(
            endpoint = self.endpoint(),
            reason, "Webhook endpoint disabled."
        );
        self.record.enabled = false;
        self.record.disabled_reason = Some(reason.clone());
        self.record.disabled_ms = Some(now_ms());
        self.persist();
        self.shared
            .metrics
            .enabled
            .with_label_values(&[self.endpoint()])
            .set(0);
        self.audit(
            AuditKind::WebhookEndpoint,
            None,
            serde_json::json!({
                "endpoint": &*self.cfg.id,
                "action": "disabled",
                "reason": reason,
            }),
        );
        self.parent.do_send(EndpointChanged {
            endpoint: self.cfg.id.clone(),
            enabled: false,
        });
        if let Some((_, handle)) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        // Everything queued, in memory or only in the outbox, goes to the dead-letter list.
        let taken = self.sched.take_queued();
        for delivery in &taken {
            self.report(
                delivery,
                delivery.attempts,
                &AttemptLog::none(),
                ReportResult::DeadLettered {
                    reason: DEAD_REASON_DISABLED.into(),
                },
            );
        }
        self.spilled = true;
        let endpoint = self.cfg.id.clone();
        let moved = self.shared.store.send(DeadLetterPending {
            endpoint: endpoint.clone(),
            reason: DEAD_REASON_DISABLED.into(),
        });
        ctx.spawn(moved.into_actor(self).map(move |res, act, _| match res {
            Ok(Ok(count)) => {
                act.shared
                    .metrics
                    .dead_letters
                    .with_label_values(&[&endpoint])
                    .inc_by(count as u64);
                act.audit(
                    AuditKind::WebhookDeadLetter,
                    None,
                    serde_json::json!({
                        "endpoint": &*endpoint,
                        "count": count,
                        "reason": DEAD_REASON_DISABLED,
                    }),
                );
            }
            Ok(Err(e)) => error!(endpoint = &*endpoint, error = %e, "Outbox: could not dead-letter the queue of a disabled endpoint; its deliveries stay pending."),
            Err(e) => error!(endpoint = &*endpoint, error = %e, "Outbox: could not dead-letter the queue of a disabled endpoint; its deliveries stay pending."),
        }));
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
        let batch = std::mem::take(&mut self.outcomes);
        let write = self.shared.store.send(RecordOutcomes {
            outcomes: batch.clone(),
        });
        ctx.spawn(write.into_actor(self).map(move |res, act, ctx| {
            let failure = match res {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            match failure {
                None => {
                    act.writing = false;
                    act.write_outcomes(ctx);
                }
                Some(e) => {
                    act.shared.metrics.store_errors.inc();
                    error!(endpoint = act.endpoint(), error = %e, count = batch.len(), "Outbox: could not record attempt outcomes; retrying.");
                    act.outcomes.splice(0..0, batch);
                    ctx.run_later(STORE_RETRY_DELAY, |act, ctx| {
                        act.writing = false;
                        act.write_outcomes(ctx);
                    });
                }
            }
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

    fn audit(
        &self,
        kind: AuditKind,
        agent: Option<crate::event::AgentId>,
        details: serde_json::Value,
    ) {
        if let Some(audit) = &self.shared.audit {
            audit.do_send(AuditRecord::now(kind, agent, details));
        }
    }

    fn audit_attempt(&self, delivery: &Delivery, log: &AttemptLog, result: &ReportResult) {
        let (outcome, extra) = match result {
            ReportResult::Delivered => ("delivered", serde_json::Value::Null),
            ReportResult::Retrying { after } => (
                "retry",
                serde_json::json!(u64::try_from(after.as_millis()).unwrap_or(u64::MAX)),
            ),
            ReportResult::DeadLettered { reason } => ("dead_letter", serde_json::json!(reason)),
        };
        self.audit(
            AuditKind::WebhookAttempt,
            Some(delivery.agent_id.clone()),
            serde_json::json!({
                "endpoint": &*self.cfg.id,
                "event_id": &*delivery.event_id,
                "attempt": log.attempt,
                "status": log.status,
                "duration_ms": log.duration_ms,
                "error": log.error,
                "outcome": outcome,
                "retry_in_ms": if outcome == "retry" { extra.clone() } else { serde_json::Value::Null },
            }),
        );
        if let ReportResult::DeadLettered { reason } = result {
            self.shared
                .metrics
                .dead_letters
                .with_label_values(&[self.endpoint()])
                .inc();
            warn!(
                endpoint = self.endpoint(),
                event_id = &*delivery.event_id,
                agent_id = &*delivery.agent_id,
                reason,
                "Webhook event dead-lettered."
            );
            self.audit(
                AuditKind::WebhookDeadLetter,
                Some(delivery.agent_id.clone()),
                serde_json::json!({
                    "endpoint": &*self.cfg.id,
                    "event_id": &*delivery.event_id,
                    "attempts": log.attempt,
                    "reason": reason,
                }),
            );
        }
    }

    fn report(&self, delivery: &Delivery, attempt: u32, log: &AttemptLog, result: ReportResult) {
        if let Some(observer) = &self.shared.observer {
            observer.do_send(DeliveryReport {
                endpoint: self.cfg.id.clone(),
                event_id: delivery.event_id.clone(),
                agent_id: delivery.agent_id.clone(),
                delivery_id: delivery.id,
                attempt,
                status: log.status,
                error: log.error.clone(),
                accepted_ms: delivery.accepted_ms,
                result,
            });
        }
    }
}

impl AttemptLog {
    /// No attempt was made (dead-lettered unsent).
    fn none() -> Self {
        Self {
            attempt: 0,
            at_ms: now_ms(),
            status: None,
            duration_ms: 0.0,
            error: None,
            response: None,
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

impl Handler<Enable> for EndpointWorker {
    type Result = ();

    fn handle(&mut self, msg: Enable, ctx: &mut Context<Self>) {
        if self.record.enabled {
            return;
        }
        info!(
            endpoint = self.endpoint(),
            by = msg.by,
            "Webhook endpoint re-enabled."
        );
        self.record.enabled = true;
        self.record.disabled_reason = None;
        self.record.disabled_ms = None;
        self.record.failing_since_ms = None;
        self.persist();
        self.shared
            .metrics
            .enabled
            .with_label_values(&[self.endpoint()])
            .set(1);
        self.audit(
            AuditKind::WebhookEndpoint,
            None,
            serde_json::json!({ "endpoint": &*self.cfg.id, "action": "enabled", "by": msg.by }),
        );
        self.parent.do_send(EndpointChanged {
            endpoint: self.cfg.id.clone(),
            enabled: true,
        });
        self.spilled = true;
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

/// One attempt: vet the address, sign, POST, read (part of) the answer, within the time limit.
async fn send(
    client: awc::Client,
    cfg: Arc<Endpoint>,
    shared: Arc<WorkerShared>,
    delivery: Delivery,
) -> Attempted {
    let at_ms = now_ms();
    let started = Instant::now();
    let exchange = async {
        let addr = shared.guard.vet(&cfg.url).await?;
        let timestamp = chrono::Utc::now().timestamp();
        let signature = cfg
            .signer
            .sign(&delivery.event_id, timestamp, &delivery.payload);
        let mut response = client
            .post(cfg.url.as_str())
            .address(addr)
            .insert_header((HEADER_ID, &*delivery.event_id))
            .insert_header((HEADER_TIMESTAMP, timestamp.to_string()))
            .insert_header((HEADER_SIGNATURE, signature))
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .send_body(delivery.payload.clone())
            .await
            .map_err(|e| match e {
                awc::error::SendRequestError::Timeout => AttemptError::Timeout(cfg.timeout),
                other => AttemptError::Network(other.to_string()),
            })?;
        let text = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after =
            text(header::RETRY_AFTER).and_then(|v| parse_retry_after(&v, chrono::Utc::now()));
        let location = text(header::LOCATION);
        let status = response.status();
        let mut body = BytesMut::new();
        while body.len() < shared.max_response_bytes {
            match response.next().await {
                Some(Ok(chunk)) => {
                    let room = shared.max_response_bytes - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                _ => break,
            }
        }
        let response = (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned());
        Ok::<_, AttemptError>((status, retry_after, location, response))
    };
    let (status, error, retry_after, response) =
        match actix_rt::time::timeout(cfg.timeout, exchange).await {
            Err(_) => (None, Some(AttemptError::Timeout(cfg.timeout)), None, None),
            Ok(Err(e)) => (None, Some(e), None, None),
            Ok(Ok((status, retry_after, location, response))) => {
                let error = classify(status, location);
                (Some(status.as_u16()), error, retry_after, response)
            }
        };
    Attempted {
        at_ms,
        duration: started.elapsed(),
        status,
        error,
        retry_after,
        response,
    }
}

/// Success is 2xx only; a 3xx is a failure (redirects are not followed).
fn classify(status: StatusCode, location: Option<String>) -> Option<AttemptError> {
    if status.is_success() {
        None
    } else if status.is_redirection() {
        Some(AttemptError::Redirect {
            status: status.as_u16(),
            location: location.unwrap_or_else(|| "(no Location)".into()),
        })
    } else if status == StatusCode::GONE {
        Some(AttemptError::Gone)
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        Some(AttemptError::Throttled)
    } else {
        Some(AttemptError::Status(status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_spec_says() {
        assert_eq!(classify(StatusCode::OK, None), None);
        assert_eq!(classify(StatusCode::NO_CONTENT, None), None);
        assert_eq!(
            classify(StatusCode::FOUND, Some("http://127.0.0.1/".into())),
            Some(AttemptError::Redirect {
                status: 302,
                location: "http://127.0.0.1/".into()
            })
        );
        assert_eq!(classify(StatusCode::GONE, None), Some(AttemptError::Gone));
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, None),
            Some(AttemptError::Throttled)
        );
        assert_eq!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, None),
            Some(AttemptError::Status(500))
        );
        assert!(AttemptError::Throttled.throttled());
        assert!(AttemptError::Timeout(Duration::from_secs(1)).throttled());
        assert!(!AttemptError::Status(503).throttled());
    }
}
