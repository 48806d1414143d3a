//! The durable outbox: a SQLite file (WAL) written by one connection on its own thread.
//!
//! `OutboxStore` is a `SyncArbiter` actor with one thread, so every SQLite call runs off the
//! actix event loops and writes are serialized. The WebhookActor sends it batches of accepted
//! events ([`InsertEvents`], one transaction per batch: an event is *accepted* when that
//! transaction commits); the endpoint workers send it their attempt outcomes
//! ([`RecordOutcomes`], batched the same way) and read pending deliveries back
//! ([`LoadPending`]) at start, after a restart, and when their in-memory queue has room again.
//!
//! Tables: `events` (payload once per event), `deliveries` (one per event and endpoint: state,
//! attempts, next attempt), `attempts` (time, status, duration, error, truncated answer),
//! `endpoints` (enabled, why disabled, failing since). The admin side (counts, dead letters,
//! replay, attempts, retention) is in [`admin`].

mod admin;

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix::{Actor, Addr, Handler, Message, SyncArbiter, SyncContext};
use bytes::Bytes;
use rusqlite::{Connection, params};

use super::scheduler::Delivery;
use crate::{
    event::AgentId,
    store::{self, StoreError, Synchronous},
};

pub use admin::{
    AttemptView, CountDeliveries, DeadLetter, ListAttempts, ListDeadLetters, Purge, Replay,
    ReplaySelector,
};

/// Delivery states as stored. Queries spell them as literals (`state = 0`) where a partial
/// index must be usable: SQLite only matches a partial index's `WHERE` against literals.
const PENDING: i64 = 0;
const DELIVERED: i64 = 1;
const DEAD: i64 = 2;
/// A dead letter that was replayed (a new pending delivery carries it on).
const REPLAYED: i64 = 3;

const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT    NOT NULL UNIQUE,
    agent_id   TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    payload    BLOB    NOT NULL
);
-- AUTOINCREMENT: ids never repeat, even after the newest rows are purged, so an id orders an
-- endpoint's deliveries and "everything after id N" is well defined.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_row       INTEGER NOT NULL REFERENCES events(id),
    endpoint        TEXT    NOT NULL,
    state           INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    dead_reason     TEXT
);
CREATE INDEX deliveries_pending  ON deliveries(endpoint, id) WHERE state = 0;
CREATE INDEX deliveries_dead     ON deliveries(endpoint, id) WHERE state = 2;
CREATE INDEX deliveries_finished ON deliveries(updated_ms)   WHERE state <> 0;
CREATE INDEX deliveries_event    ON deliveries(event_row);
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    status      INTEGER,
    duration_ms REAL    NOT NULL,
    error       TEXT,
    response    TEXT
);
CREATE INDEX attempts_delivery ON attempts(delivery_id);
CREATE TABLE endpoints (
    id               TEXT PRIMARY KEY,
    url              TEXT    NOT NULL,
    enabled          INTEGER NOT NULL,
    disabled_reason  TEXT,
    disabled_ms      INTEGER,
    failing_since_ms INTEGER,
    last_success_ms  INTEGER
);
"#];

/// Current Unix time in milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The outbox's writer: one connection, one thread.
pub struct OutboxStore {
    conn: Connection,
    /// The configured durability of accepted events.
    synchronous: Synchronous,
    /// Runs the WAL checkpoints off this thread; stops with the store.
    _checkpointer: Option<store::Checkpointer>,
}

impl Actor for OutboxStore {
    type Context = SyncContext<Self>;
}

/// An open outbox, not yet running.
pub struct Opened {
    pub conn: Connection,
    synchronous: Synchronous,
    checkpointer: store::Checkpointer,
}

/// Opens (or creates) the outbox, brings its schema up to date and starts its checkpointer.
pub fn open(path: &Path, synchronous: Synchronous) -> Result<Opened, StoreError> {
    let conn = store::open(path, synchronous, MIGRATIONS)?;
    Ok(Opened {
        conn,
        synchronous,
        checkpointer: store::Checkpointer::spawn(path)?,
    })
}

impl OutboxStore {
    /// Starts the outbox thread with its connection.
    pub fn spawn(opened: Opened) -> Addr<Self> {
        let slot = Mutex::new(Some(opened));
        SyncArbiter::start_with_thread_builder(
            1,
            || std::thread::Builder::new().name("agentcast-outbox".into()),
            move || {
                // expect: one thread, and this actor never stops itself, so the factory runs
                // once; the lock is never poisoned (nothing panics while holding it).
                let opened = slot
                    .lock()
                    .expect("outbox slot lock")
                    .take()
                    .expect("the outbox connection is taken once");
                OutboxStore {
                    conn: opened.conn,
                    synchronous: opened.synchronous,
                    _checkpointer: Some(opened.checkpointer),
                }
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Accepting events

/// An event to accept, with the endpoints it goes to.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: Arc<str>,
    pub agent_id: AgentId,
    pub seq: u64,
    pub payload: Bytes,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub endpoint: Arc<str>,
    /// Disabled endpoints get the event straight in their dead-letter list.
    pub disabled: bool,
}

/// Writes a batch of events and their deliveries in one transaction.
#[derive(Message)]
#[rtype(result = "Result<Inserted, StoreError>")]
pub struct InsertEvents {
    pub events: Vec<NewEvent>,
}

#[derive(Debug, Default)]
pub struct Inserted {
    /// Pending deliveries created, by endpoint, in id order.
    pub pending: Vec<(Arc<str>, Delivery)>,
    /// Deliveries created dead (endpoint disabled): endpoint, event id, agent.
    pub dead: Vec<(Arc<str>, Arc<str>, AgentId)>,
    /// Events already in the outbox (the same event id handed over twice); not written again.
    pub duplicates: usize,
}

impl Handler<InsertEvents> for OutboxStore {
    type Result = Result<Inserted, StoreError>;

    fn handle(&mut self, msg: InsertEvents, _: &mut SyncContext<Self>) -> Self::Result {
        // Accepted means durable as configured (RecordOutcomes relaxes it for its own commits).
        self.conn.execute_batch(&format!(
            "PRAGMA synchronous = {}",
            self.synchronous.pragma()
        ))?;
        let now = now_ms();
        let tx = self.conn.transaction()?;
        let mut inserted = Inserted::default();
        {
            let mut event_stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (event_id, agent_id, seq, created_ms, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut delivery_stmt = tx.prepare_cached(
                "INSERT INTO deliveries
                   (event_row, endpoint, state, attempts, created_ms, updated_ms, dead_reason)
                 VALUES (?1, ?2, ?3, 0, ?4, ?4, ?5)",
            )?;
            for event in msg.events {
                let seq = i64::try_from(event.seq).unwrap_or(i64::MAX);
                let written = event_stmt.execute(params![
                    &*event.event_id,
                    &*event.agent_id,
                    seq,
                    now,
                    &event.payload[..]
                ])?;
                if written == 0 {
                    inserted.duplicates += 1;
                    continue;
                }
                let event_row = tx.last_insert_rowid();
                for target in event.targets {
                    let (state, reason) = if target.disabled {
                        (DEAD, Some(DEAD_REASON_DISABLED))
                    } else {
                        (PENDING, None)
                    };
                    delivery_stmt.execute(params![
                        event_row,
                        &*target.endpoint,
                        state,
                        now,
                        reason
                    ])?;
                    if target.disabled {
                        inserted.dead.push((
                            target.endpoint,
                            event.event_id.clone(),
                            event.agent_id.clone(),
                        ));
                    } else {
                        inserted.pending.push((
                            target.endpoint,
                            Delivery {
                                id: tx.last_insert_rowid(),
                                event_id: event.event_id.clone(),
                                agent_id: event.agent_id.clone(),
                                payload: event.payload.clone(),
                                attempts: 0,
                                not_before: None,
                                accepted_ms: now,
                            },
                        ));
                    }
                }
            }
        }
        tx.commit()?;
        Ok(inserted)
    }
}

/// The dead-letter reason of events kept from a disabled endpoint.
pub const DEAD_REASON_DISABLED: &str = "endpoint disabled";

// ---------------------------------------------------------------------------------------------
// Attempt outcomes

/// One attempt as recorded.
#[derive(Debug, Clone)]
pub struct AttemptLog {
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at_ms: i64,
    /// HTTP status; `None` when no answer came (timeout, refused, network error).
    pub status: Option<u16>,
    pub duration_ms: f64,
    pub error: Option<String>,
    /// The answer's body, truncated to `webhook.max_response_bytes`.
    pub response: Option<String>,
}

/// Where a delivery stands after an attempt (or without one, when its endpoint is disabled).
#[derive(Debug, Clone)]
pub enum NextState {
    Retry { at_ms: i64 },
    Delivered,
    Dead { reason: String },
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub delivery_id: i64,
    pub attempt: Option<AttemptLog>,
    pub next: NextState,
}

/// Records a batch of outcomes in one transaction. These commits are not synced to disk even
/// with `synchronous = "full"`: an outcome lost to a power failure only means a delivery is
/// sent again (a duplicate with the same webhook-id), never that one is lost, and skipping the
/// fsync keeps the accept path's commits fast. The next accept commit syncs them anyway.
#[derive(Message)]
#[rtype(result = "Result<(), OutcomesNotRecorded>")]
pub struct RecordOutcomes {
    pub outcomes: Vec<Outcome>,
}

/// A failed [`RecordOutcomes`], handing the outcomes back to be retried.
#[derive(Debug)]
pub struct OutcomesNotRecorded {
    pub error: StoreError,
    pub outcomes: Vec<Outcome>,
}

impl Handler<RecordOutcomes> for OutboxStore {
    type Result = Result<(), OutcomesNotRecorded>;

    fn handle(&mut self, msg: RecordOutcomes, _: &mut SyncContext<Self>) -> Self::Result {
        self.record_outcomes(&msg.outcomes)
            .map_err(|error| OutcomesNotRecorded {
                error,
                outcomes: msg.outcomes,
            })
    }
}

impl OutboxStore {
    fn record_outcomes(&mut self, outcomes: &[Outcome]) -> Result<(), StoreError> {
        // Set per transaction: InsertEvents puts the configured level back before each commit.
        self.conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        let now = now_ms();
        let tx = self.conn.transaction()?;
        {
            let mut attempt_stmt = tx.prepare_cached(
                "INSERT INTO attempts
                   (delivery_id, attempt, at_ms, status, duration_ms, error, response)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut state_stmt = tx.prepare_cached(
                "UPDATE deliveries
                    SET state = ?2, attempts = MAX(attempts, ?3), next_attempt_ms = ?4,
                        dead_reason = ?5, updated_ms = ?6
                  WHERE id = ?1 AND (state = 0 OR (state = 2 AND ?2 = 1))",
            )?;
            // A delivery dead-lettered while its attempt was in flight (its endpoint was
            // disabled) that then succeeded is recorded as delivered.
            for outcome in outcomes {
                let attempts = outcome.attempt.as_ref().map_or(0, |a| a.attempt);
                if let Some(a) = &outcome.attempt {
                    attempt_stmt.execute(params![
                        outcome.delivery_id,
                        a.attempt,
                        a.at_ms,
                        a.status,
                        a.duration_ms,
                        a.error,
                        a.response
                    ])?;
                }
                let (state, next_ms, reason) = match &outcome.next {
                    NextState::Retry { at_ms } => (PENDING, Some(*at_ms), None),
                    NextState::Delivered => (DELIVERED, None, None),
                    NextState::Dead { reason } => (DEAD, None, Some(reason.as_str())),
                };
                state_stmt.execute(params![
                    outcome.delivery_id,
                    state,
                    attempts,
                    next_ms,
                    reason,
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// Moves every pending delivery of an endpoint to its dead-letter list (it was disabled).
#[derive(Message)]
#[rtype(result = "Result<usize, StoreError>")]
pub struct DeadLetterPending {
    pub endpoint: Arc<str>,
    pub reason: String,
}

impl Handler<DeadLetterPending> for OutboxStore {
    type Result = Result<usize, StoreError>;

    fn handle(&mut self, msg: DeadLetterPending, _: &mut SyncContext<Self>) -> Self::Result {
        Ok(self.conn.execute(
            "UPDATE deliveries SET state = 2, dead_reason = ?2, updated_ms = ?3
              WHERE endpoint = ?1 AND state = 0",
            params![&*msg.endpoint, msg.reason, now_ms()],
        )?)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading pending deliveries back

/// Pending deliveries of an endpoint with ids above `after_id`, in id order.
#[derive(Message)]
#[rtype(result = "Result<Vec<Delivery>, StoreError>")]
pub struct LoadPending {
    pub endpoint: Arc<str>,
    pub after_id: i64,
    pub limit: usize,
}

impl Handler<LoadPending> for OutboxStore {
    type Result = Result<Vec<Delivery>, StoreError>;

    fn handle(&mut self, msg: LoadPending, _: &mut SyncContext<Self>) -> Self::Result {
        let (now_wall, now) = (now_ms(), Instant::now());
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, e.event_id, e.agent_id, e.payload, d.attempts, d.next_attempt_ms,
                    e.created_ms
               FROM deliveries d JOIN events e ON e.id = d.event_row
              WHERE d.endpoint = ?1 AND d.state = 0 AND d.id > ?2
              ORDER BY d.id LIMIT ?3",
        )?;
        let limit = i64::try_from(msg.limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![&*msg.endpoint, msg.after_id, limit], |row| {
            let next_ms: Option<i64> = row.get(5)?;
            Ok(Delivery {
                id: row.get(0)?,
                event_id: Arc::from(row.get::<_, String>(1)?),
                agent_id: Arc::from(row.get::<_, String>(2)?),
                payload: Bytes::from(row.get::<_, Vec<u8>>(3)?),
                attempts: row.get(4)?,
                not_before: next_ms
                    .filter(|&ms| ms > now_wall)
                    .map(|ms| now + Duration::from_millis((ms - now_wall).unsigned_abs())),
                accepted_ms: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

// ---------------------------------------------------------------------------------------------
// Endpoint state

/// What the outbox remembers of an endpoint across restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    pub id: Arc<str>,
    pub url: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_ms: Option<i64>,
    /// Start of the current run of failures (cleared by a success).
    pub failing_since_ms: Option<i64>,
    pub last_success_ms: Option<i64>,
}

/// Every endpoint record in the outbox (read at start, before the outbox thread runs).
pub fn load_endpoint_records(
    conn: &Connection,
) -> Result<HashMap<Arc<str>, EndpointRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, url, enabled, disabled_reason, disabled_ms, failing_since_ms,
                    last_success_ms FROM endpoints",
    )?;
    let rows = stmt.query_map([], |row| {
        let id: Arc<str> = Arc::from(row.get::<_, String>(0)?);
        Ok((
            id.clone(),
            EndpointRecord {
                id,
                url: row.get(1)?,
                enabled: row.get(2)?,
                disabled_reason: row.get(3)?,
                disabled_ms: row.get(4)?,
                failing_since_ms: row.get(5)?,
                last_success_ms: row.get(6)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct SaveEndpoint(pub EndpointRecord);

impl Handler<SaveEndpoint> for OutboxStore {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, SaveEndpoint(e): SaveEndpoint, _: &mut SyncContext<Self>) -> Self::Result {
        self.conn.execute(
            "INSERT INTO endpoints (id, url, enabled, disabled_reason, disabled_ms,
                                    failing_since_ms, last_success_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(id) DO UPDATE SET url = ?2, enabled = ?3, disabled_reason = ?4,
                 disabled_ms = ?5, failing_since_ms = ?6, last_success_ms = ?7",
            params![
                &*e.id,
                e.url,
                e.enabled,
                e.disabled_reason,
                e.disabled_ms,
                e.failing_since_ms,
                e.last_success_ms
            ],
        )?;
        Ok(())
    }
}

pub(super) fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests;
