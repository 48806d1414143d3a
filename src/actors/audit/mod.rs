//! `AuditActor`: the durable, hash-chained audit trail (architecture §7).
//!
//! ```text
//!  hub ─────────── Broadcasted ──┐
//!  validator, sessions, stream,  ├──▶ AuditActor ──WriteBatch (group commit)──▶ AuditWriter
//!  webhook workers ─ AuditRecord ┘    bounded queue                            (SQLite thread)
//! ```
//!
//! Whoever witnesses something sends an [`AuditRecord`] built by the constructor of its kind in
//! [`records`] (rejects, evictions, upstream connect/disconnect, webhook attempts, outcomes and
//! endpoint changes); the hub forwards every broadcast as [`Broadcasted`]. The actor writes its
//! own `start` record when it starts and a `stop` record on [`Shutdown`]. Records wait in a
//! queue of at most `queue_capacity`; the writer takes everything queued while the previous
//! batch was being written (at most `batch_max`) in one transaction, numbering and
//! hash-chaining each record on its own thread, so no SQLite call or chain hash runs on an
//! actix event loop.
//!
//! The actor has an arbiter (thread) of its own ([`AuditTrail`]): a broadcast's record (its
//! JSON, the SHA-256 of its payload) is built there, not on the threads of the stream, the hub
//! or the validators. [`AuditTrail::shutdown`] writes the `stop` record, flushes, and stops it.
//!
//! Nothing is left out silently; what is missing is said in the chain by an `audit_gap` record
//! ([`records::gap`]: how many events, the `seq` range of the broadcasts among them, when, why)
//! where the missing records would have been, and `agentcast audit verify` sums them up:
//! - when the writer cannot keep up and the queue is full, a record cannot be kept: it is
//!   counted (`agentcast_audit_unwritten_records_total`), logged at ERROR once per gap, and as
//!   soon as there is room again the gap record enters the chain;
//! - when the hub's backlog for this actor overflows, the hub drops broadcasts and sends
//!   [`BroadcastsDropped`] in their place, which becomes the gap record (or, if the queue is
//!   full then too, is counted into the queue's own gap, events and all).
//!
//! A failed write is retried, never dropped.
//!
//! Queries ([`AuditQuery`]) go to the writer's connection. Retention removes records older than
//! `retention_days` and keeps the last removed hash as the anchor `agentcast audit verify`
//! starts from ([`chain::verify`]).

pub mod chain;
pub mod records;
mod writer;

use std::{collections::VecDeque, path::PathBuf, time::Duration};

use actix::{
    Actor, ActorFutureExt, Addr, Arbiter, ArbiterHandle, AsyncContext, Context, Handler, Message,
    MessageResult, ResponseFuture, WrapFuture,
};
use chrono::Utc;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry};
use tokio::sync::oneshot;
use tracing::{error, info, warn};

use self::writer::{AuditWriter, Purge, Query, WriteBatch};
pub use self::{
    chain::{Broken, BrokenBecause, Head, HeadProblem, Verified, VerifyError, verify_path},
    writer::{PendingRecord, Since, StoredRecord},
};
use super::{Broadcasted, BroadcastsDropped};
use crate::{
    config::AuditSettings,
    event::{AuditKind, AuditRecord},
    store::{StoreError, Synchronous},
};

/// The kind of the record that reports records the trail could not keep.
pub const GAP_KIND: &str = AuditKind::Gap.as_str();
/// Why the audit actor itself left records out.
const QUEUE_FULL: &str = "the audit queue was full (audit.queue_capacity)";
/// Wait before retrying a batch whose write failed.
const WRITE_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Records removed per retention transaction.
const PURGE_CHUNK: usize = 10_000;
/// Most records one query returns.
pub const MAX_QUERY_LIMIT: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit store: {0}")]
    Store(#[from] StoreError),
    #[error("the audit actor is not running")]
    Stopped,
}

/// What the audit actor is configured with.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub path: PathBuf,
    pub synchronous: Synchronous,
    pub batch_max: usize,
    pub queue_capacity: usize,
    pub retention: Duration,
    pub maintenance_interval: Duration,
}

impl AuditConfig {
    pub fn from_settings(s: &AuditSettings) -> Self {
        Self {
            path: PathBuf::from(&s.path),
            synchronous: s.synchronous,
            batch_max: s.batch_max.max(1),
            queue_capacity: s.queue_capacity.max(s.batch_max).max(1),
            retention: s.retention(),
            maintenance_interval: s.maintenance_interval(),
        }
    }
}

#[derive(Clone)]
pub struct AuditMetrics {
    /// Records committed to the store.
    pub written: IntCounter,
    /// Records that could not be kept (queue full); each gap is also recorded in the chain.
    pub unwritten: IntCounter,
    /// Records waiting to be written.
    pub queued: IntGauge,
    /// Batch writes that failed (retried).
    pub write_errors: IntCounter,
    /// Duration of one batch write.
    pub batch_seconds: Histogram,
}

impl AuditMetrics {
    pub fn new(registry: &Registry) -> Self {
        // expect (all below): constant, valid metric names, each registered once.
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let queued = IntGauge::new(
            "agentcast_audit_queued_records",
            "Audit records waiting to be written.",
        )
        .expect("valid metric");
        registry
            .register(Box::new(queued.clone()))
            .expect("unique metric");
        let batch_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "agentcast_audit_write_duration_seconds",
                "Duration of one audit batch write (one transaction).",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
        )
        .expect("valid metric");
        registry
            .register(Box::new(batch_seconds.clone()))
            .expect("unique metric");
        Self {
            written: counter(
                "agentcast_audit_records_written_total",
                "Audit records committed to the store.",
            ),
            unwritten: counter(
                "agentcast_audit_unwritten_records_total",
                "Audit records that could not be kept because the queue was full.",
            ),
            queued,
            write_errors: counter(
                "agentcast_audit_write_errors_total",
                "Audit batch writes that failed and were retried.",
            ),
            batch_seconds,
        }
    }
}

/// Records matching every filter given, oldest first, at most `limit` (capped at
/// [`MAX_QUERY_LIMIT`]). Records still queued are not seen until written.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<StoredRecord>, AuditError>")]
pub struct AuditQuery {
    pub kind: Option<String>,
    pub agent_id: Option<String>,
    pub since: Option<Since>,
    pub limit: usize,
}

/// Applies the retention now, as if the time were `as_of` (the maintenance timer sends the
/// real time); answers how many records were removed.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<usize, AuditError>")]
pub struct ApplyRetention {
    pub as_of: chrono::DateTime<Utc>,
}

/// Resolves once every record received before it is committed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Flush;

/// Writes the `stop` record and resolves once everything received before it is committed (the
/// last step of the shutdown path).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown {
    pub reason: String,
}

/// Answers the thread the actor runs on (one of its own, not the system thread the stream and
/// the HTTP server share; the tests check it).
#[derive(Message)]
#[rtype(result = "std::thread::ThreadId")]
pub struct RunningOn;

/// Records that could not be kept since the last gap record.
#[derive(Debug, Default)]
struct Gap {
    /// Events they stood for (a dropped gap record stands for the events it reported).
    count: u64,
    seqs: Option<(u64, u64)>,
    times: Option<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)>,
}

impl Gap {
    fn absorb(&mut self, missing: &Missing) {
        self.count += missing.count;
        self.seqs = span(self.seqs, missing.seqs);
        self.times = span(self.times, Some(missing.times));
    }
}

/// The smallest range holding both.
fn span<T: Ord + Copy>(a: Option<(T, T)>, b: Option<(T, T)>) -> Option<(T, T)> {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
        (a, b) => a.or(b),
    }
}

/// What leaving one record out of the chain loses.
#[derive(Debug, Clone, Copy)]
struct Missing {
    count: u64,
    seqs: Option<(u64, u64)>,
    times: (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
}

impl Missing {
    /// One record, dated `at`, that is not a broadcast.
    fn one(at: chrono::DateTime<Utc>) -> Self {
        Self {
            count: 1,
            seqs: None,
            times: (at, at),
        }
    }
}

pub struct AuditActor {
    writer: Addr<AuditWriter>,
    config: AuditConfig,
    metrics: AuditMetrics,
    queue: VecDeque<PendingRecord>,
    /// A batch is being written (or a failed one waits to be retried).
    writing: bool,
    gap: Gap,
    /// Records accepted into the queue so far, and how many of them are committed.
    accepted: u64,
    committed: u64,
    flush_waiters: Vec<(u64, oneshot::Sender<()>)>,
}

/// The running audit trail: the actor's address, and the arbiter (thread) it has to itself,
/// so building records' JSON and hashing payloads never runs on the threads of the stream,
/// the hub or the validators.
pub struct AuditTrail {
    pub addr: Addr<AuditActor>,
    arbiter: Arbiter,
}

impl AuditTrail {
    /// The arbiter the actor runs on.
    pub fn arbiter(&self) -> ArbiterHandle {
        self.arbiter.handle()
    }

    /// The last step of the shutdown path: writes the `stop` record, waits until everything
    /// received before it is committed, then stops the arbiter and waits for its thread to
    /// end.
    pub async fn shutdown(self, reason: impl Into<String>) -> Result<(), AuditError> {
        let flushed = self
            .addr
            .send(Shutdown {
                reason: reason.into(),
            })
            .await;
        self.arbiter.stop();
        let arbiter = self.arbiter;
        let joined = actix_rt::task::spawn_blocking(move || arbiter.join()).await;
        if !matches!(joined, Ok(Ok(()))) {
            error!("The audit arbiter's thread did not end cleanly.");
        }
        flushed.map_err(|_| AuditError::Stopped)
    }
}

impl AuditActor {
    /// Opens (or creates) the audit store, starts its writer thread, and starts the actor on
    /// an arbiter of its own. Needs a running actix `System`.
    pub fn start(config: AuditConfig, metrics: AuditMetrics) -> Result<AuditTrail, AuditError> {
        let writer = AuditWriter::start(&config.path, config.synchronous)?;
        let arbiter = Arbiter::new();
        let addr = Self::start_in_arbiter(&arbiter.handle(), move |_| Self {
            writer,
            config,
            metrics,
            queue: VecDeque::new(),
            writing: false,
            gap: Gap::default(),
            accepted: 0,
            committed: 0,
            flush_waiters: Vec::new(),
        });
        Ok(AuditTrail { addr, arbiter })
    }

    /// Queues a record, or, when the queue is full, counts it into the current gap.
    /// `missing` is what leaving it out loses.
    fn push(&mut self, record: AuditRecord, missing: Missing, ctx: &mut Context<Self>) {
        self.close_gap();
        if self.queue.len() >= self.config.queue_capacity {
            if self.gap.count == 0 {
                error!(
                    capacity = self.config.queue_capacity,
                    "Audit queue full: records cannot be kept until the writer catches up."
                );
            }
            self.gap.absorb(&missing);
            self.metrics.unwritten.inc();
            return;
        }
        self.enqueue(record);
        self.write(ctx);
    }

    fn enqueue(&mut self, record: AuditRecord) {
        self.queue.push_back(PendingRecord {
            at: record.at,
            kind: record.kind.as_str(),
            agent_id: record.agent_id,
            details: record.details,
        });
        self.accepted += 1;
        self.metrics.queued.set(self.queue.len() as i64);
    }

    /// Once there is room after a gap, records it in the chain where it happened.
    fn close_gap(&mut self) {
        if self.gap.count == 0 || self.queue.len() >= self.config.queue_capacity {
            return;
        }
        let gap = std::mem::take(&mut self.gap);
        let Some((first_at, last_at)) = gap.times else {
            return;
        };
        warn!(
            unwritten = gap.count,
            "Audit writer caught up; the gap is recorded."
        );
        self.enqueue(records::gap(&records::Gap {
            count: gap.count,
            seqs: gap.seqs,
            first_at,
            last_at,
            reason: QUEUE_FULL.into(),
        }));
    }

    /// Writes what is queued (up to `batch_max`) in one transaction, unless a write is in
    /// progress: then it waits for the next one (group commit).
    fn write(&mut self, ctx: &mut Context<Self>) {
        if self.writing || self.queue.is_empty() {
            return;
        }
        self.writing = true;
        let take = self.queue.len().min(self.config.batch_max);
        let batch: Vec<PendingRecord> = self.queue.drain(..take).collect();
        let written = batch.len() as u64;
        let timer = self.metrics.batch_seconds.start_timer();
        let write = self.writer.send(WriteBatch { records: batch });
        ctx.spawn(write.into_actor(self).map(move |res, act, ctx| {
            timer.observe_duration();
            let (error, returned) = match res {
                Ok(Ok(_)) => {
                    act.written(written);
                    act.write(ctx);
                    return;
                }
                Ok(Err(failed)) => (failed.error.to_string(), failed.records),
                // The writer thread is gone (shutdown): nothing left to retry on.
                Err(e) => (e.to_string(), Vec::new()),
            };
            act.metrics.write_errors.inc();
            error!(error = %error, records = returned.len(), "Audit write failed; retrying.");
            for record in returned.into_iter().rev() {
                act.queue.push_front(record);
            }
            ctx.run_later(WRITE_RETRY_DELAY, |act, ctx| {
                act.writing = false;
                act.write(ctx);
            });
        }));
    }

    /// A batch of `written` records is committed.
    fn written(&mut self, written: u64) {
        self.metrics.written.inc_by(written);
        self.committed += written;
        let committed = self.committed;
        let (done, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flush_waiters)
            .into_iter()
            .partition(|(n, _)| *n <= committed);
        self.flush_waiters = open;
        for (_, waiter) in done {
            let _ = waiter.send(());
        }
        self.writing = false;
        self.close_gap();
        self.metrics.queued.set(self.queue.len() as i64);
    }

    fn flush(&mut self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if self.committed >= self.accepted {
            let _ = tx.send(());
        } else {
            self.flush_waiters.push((self.accepted, tx));
        }
        rx
    }

    /// Removes the records older than the retention as of `as_of`, a chunk per transaction
    /// so writes interleave.
    fn retention(
        &self,
        as_of: chrono::DateTime<Utc>,
    ) -> impl Future<Output = Result<usize, AuditError>> + use<> {
        let writer = self.writer.clone();
        let before = chrono::Duration::from_std(self.config.retention)
            .ok()
            .and_then(|keep| as_of.checked_sub_signed(keep));
        async move {
            let Some(before) = before else {
                return Ok(0);
            };
            let mut removed = 0;
            loop {
                let n = writer
                    .send(Purge {
                        before,
                        limit: PURGE_CHUNK,
                    })
                    .await
                    .map_err(|_| AuditError::Stopped)??;
                removed += n;
                if n < PURGE_CHUNK {
                    return Ok(removed);
                }
            }
        }
    }
}

impl Actor for AuditActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if !self.config.maintenance_interval.is_zero() {
            ctx.run_interval(self.config.maintenance_interval, |act, ctx| {
                let run = act.retention(Utc::now());
                ctx.spawn(run.into_actor(act).map(|res, _, _| match res {
                    Ok(0) => {}
                    Ok(n) => info!(records = n, "Audit retention: old records removed."),
                    Err(e) => error!(error = %e, "Audit retention failed; the next run retries."),
                }));
            });
        }
        let start = records::start();
        let missing = Missing::one(start.at);
        self.push(start, missing, ctx);
    }
}

impl Handler<AuditRecord> for AuditActor {
    type Result = ();

    fn handle(&mut self, msg: AuditRecord, ctx: &mut Context<Self>) {
        let missing = Missing::one(msg.at);
        self.push(msg, missing, ctx);
    }
}

impl Handler<Broadcasted> for AuditActor {
    type Result = ();

    fn handle(&mut self, msg: Broadcasted, ctx: &mut Context<Self>) {
        let b = &msg.broadcast;
        let missing = Missing {
            count: 1,
            seqs: Some((b.seq, b.seq)),
            times: (b.broadcast_at, b.broadcast_at),
        };
        self.push(records::broadcast(b), missing, ctx);
    }
}

impl Handler<BroadcastsDropped> for AuditActor {
    type Result = ();

    fn handle(&mut self, msg: BroadcastsDropped, ctx: &mut Context<Self>) {
        error!(
            count = msg.count,
            first_seq = msg.first_seq,
            last_seq = msg.last_seq,
            reason = %msg.reason,
            "Broadcasts the hub dropped are missing from the audit trail; an audit_gap record \
             says which."
        );
        let seqs = Some((msg.first_seq, msg.last_seq));
        let missing = Missing {
            count: msg.count,
            seqs,
            times: (msg.first_at, msg.last_at),
        };
        let record = records::gap(&records::Gap {
            count: msg.count,
            seqs,
            first_at: msg.first_at,
            last_at: msg.last_at,
            reason: msg.reason,
        });
        self.push(record, missing, ctx);
    }
}

impl Handler<Flush> for AuditActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> Self::Result {
        let done = self.flush();
        Box::pin(async move {
            let _ = done.await;
        })
    }
}

impl Handler<Shutdown> for AuditActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Shutdown, ctx: &mut Context<Self>) -> Self::Result {
        let stop = records::stop(&msg.reason);
        let missing = Missing::one(stop.at);
        self.push(stop, missing, ctx);
        let done = self.flush();
        Box::pin(async move {
            let _ = done.await;
        })
    }
}

impl Handler<RunningOn> for AuditActor {
    type Result = MessageResult<RunningOn>;

    fn handle(&mut self, _: RunningOn, _: &mut Context<Self>) -> Self::Result {
        MessageResult(std::thread::current().id())
    }
}

impl Handler<ApplyRetention> for AuditActor {
    type Result = ResponseFuture<Result<usize, AuditError>>;

    fn handle(&mut self, msg: ApplyRetention, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.retention(msg.as_of))
    }
}

impl Handler<AuditQuery> for AuditActor {
    type Result = ResponseFuture<Result<Vec<StoredRecord>, AuditError>>;

    fn handle(&mut self, mut q: AuditQuery, _: &mut Context<Self>) -> Self::Result {
        q.limit = q.limit.clamp(1, MAX_QUERY_LIMIT);
        let query = self.writer.send(Query(q));
        Box::pin(async move { Ok(query.await.map_err(|_| AuditError::Stopped)??) })
    }
}
