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
//! `endpoints` (enabled, why disabled, failing since).

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix::{Actor, Addr, Handler, Message, SyncArbiter, SyncContext};
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::scheduler::Delivery;
use crate::{
    event::AgentId,
    store::{self, StoreError, Synchronous},
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
}

impl Actor for OutboxStore {
    type Context = SyncContext<Self>;
}

/// Opens (or creates) the outbox and brings its schema up to date.
pub fn open(path: &Path, synchronous: Synchronous) -> Result<Connection, StoreError> {
    store::open(path, synchronous, MIGRATIONS)
}

impl OutboxStore {
    /// Starts the outbox thread with its connection.
    pub fn spawn(conn: Connection) -> Addr<Self> {
        let slot = Mutex::new(Some(conn));
        SyncArbiter::start_with_thread_builder(
            1,
            || std::thread::Builder::new().name("agentcast-outbox".into()),
            move || OutboxStore {
                // expect: one thread, and this actor never stops itself, so the factory runs
                // once; the lock is never poisoned (nothing panics while holding it).
                conn: slot
                    .lock()
                    .expect("outbox slot lock")
                    .take()
                    .expect("the outbox connection is taken once"),
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

/// Records a batch of outcomes in one transaction.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct RecordOutcomes {
    pub outcomes: Vec<Outcome>,
}

impl Handler<RecordOutcomes> for OutboxStore {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: RecordOutcomes, _: &mut SyncContext<Self>) -> Self::Result {
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
            for outcome in msg.outcomes {
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

// ---------------------------------------------------------------------------------------------
// Admin: counts, dead letters, replay, attempts

/// Pending and dead-lettered deliveries per endpoint.
#[derive(Message)]
#[rtype(result = "Result<HashMap<String, (u64, u64)>, StoreError>")]
pub struct CountDeliveries;

impl Handler<CountDeliveries> for OutboxStore {
    type Result = Result<HashMap<String, (u64, u64)>, StoreError>;

    fn handle(&mut self, _: CountDeliveries, _: &mut SyncContext<Self>) -> Self::Result {
        let mut counts: HashMap<String, (u64, u64)> = HashMap::new();
        for (pending, sql) in [
            (
                true,
                "SELECT endpoint, COUNT(*) FROM deliveries WHERE state = 0 GROUP BY endpoint",
            ),
            (
                false,
                "SELECT endpoint, COUNT(*) FROM deliveries WHERE state = 2 GROUP BY endpoint",
            ),
        ] {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (endpoint, n) = row?;
                let n = n.unsigned_abs();
                let entry = counts.entry(endpoint).or_default();
                if pending {
                    entry.0 = n;
                } else {
                    entry.1 = n;
                }
            }
        }
        Ok(counts)
    }
}

/// One dead letter as the admin API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeadLetter {
    pub event_id: String,
    pub agent_id: String,
    pub seq: i64,
    pub accepted_at: chrono::DateTime<chrono::Utc>,
    pub dead_at: chrono::DateTime<chrono::Utc>,
    pub attempts: u32,
    pub reason: Option<String>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

/// Dead letters of an endpoint accepted at or after `since_ms`, oldest first.
#[derive(Message)]
#[rtype(result = "Result<Vec<DeadLetter>, StoreError>")]
pub struct ListDeadLetters {
    pub endpoint: Arc<str>,
    pub since_ms: Option<i64>,
    pub limit: usize,
}

impl Handler<ListDeadLetters> for OutboxStore {
    type Result = Result<Vec<DeadLetter>, StoreError>;

    fn handle(&mut self, msg: ListDeadLetters, _: &mut SyncContext<Self>) -> Self::Result {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.event_id, e.agent_id, e.seq, e.created_ms, d.updated_ms, d.attempts,
                    d.dead_reason,
                    (SELECT status FROM attempts a WHERE a.delivery_id = d.id
                      ORDER BY a.id DESC LIMIT 1),
                    (SELECT error FROM attempts a WHERE a.delivery_id = d.id
                      ORDER BY a.id DESC LIMIT 1)
               FROM deliveries d JOIN events e ON e.id = d.event_row
              WHERE d.endpoint = ?1 AND d.state = 2 AND e.created_ms >= ?2
              ORDER BY d.id LIMIT ?3",
        )?;
        let limit = i64::try_from(msg.limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![&*msg.endpoint, msg.since_ms.unwrap_or(i64::MIN), limit],
            |row| {
                Ok(DeadLetter {
                    event_id: row.get(0)?,
                    agent_id: row.get(1)?,
                    seq: row.get(2)?,
                    accepted_at: from_ms(row.get(3)?),
                    dead_at: from_ms(row.get(4)?),
                    attempts: row.get(5)?,
                    reason: row.get(6)?,
                    last_status: row.get(7)?,
                    last_error: row.get(8)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Which dead letters to replay.
#[derive(Debug, Clone)]
pub enum ReplaySelector {
    /// The dead letter(s) of one event.
    Event(String),
    /// Every dead letter of events accepted at or after this time (Unix ms).
    Since(i64),
}

/// Puts dead letters back in the queue as new pending deliveries (attempts start again at 1);
/// the dead letters are marked replayed. Returns the new deliveries in id order.
#[derive(Message)]
#[rtype(result = "Result<Vec<Delivery>, StoreError>")]
pub struct Replay {
    pub endpoint: Arc<str>,
    pub selector: ReplaySelector,
}

impl Handler<Replay> for OutboxStore {
    type Result = Result<Vec<Delivery>, StoreError>;

    fn handle(&mut self, msg: Replay, _: &mut SyncContext<Self>) -> Self::Result {
        let now = now_ms();
        let tx = self.conn.transaction()?;
        let mut replayed = Vec::new();
        {
            let (filter, value): (&str, rusqlite::types::Value) = match msg.selector {
                ReplaySelector::Event(id) => ("e.event_id = ?2", id.into()),
                ReplaySelector::Since(ms) => ("e.created_ms >= ?2", ms.into()),
            };
            let mut select = tx.prepare(&format!(
                "SELECT d.id, d.event_row, e.event_id, e.agent_id, e.payload, e.created_ms
                   FROM deliveries d JOIN events e ON e.id = d.event_row
                  WHERE d.endpoint = ?1 AND d.state = 2 AND {filter}
                  ORDER BY d.id"
            ))?;
            let dead = select
                .query_map(params![&*msg.endpoint, value], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, Vec<u8>>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut mark = tx.prepare_cached(
                "UPDATE deliveries SET state = ?3, updated_ms = ?2 WHERE id = ?1",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO deliveries
                   (event_row, endpoint, state, attempts, created_ms, updated_ms)
                 VALUES (?1, ?2, 0, 0, ?3, ?3)",
            )?;
            for (id, event_row, event_id, agent_id, payload, created_ms) in dead {
                mark.execute(params![id, now, REPLAYED])?;
                insert.execute(params![event_row, &*msg.endpoint, now])?;
                replayed.push(Delivery {
                    id: tx.last_insert_rowid(),
                    event_id: event_id.into(),
                    agent_id: agent_id.into(),
                    payload: payload.into(),
                    attempts: 0,
                    not_before: None,
                    accepted_ms: created_ms,
                });
            }
        }
        tx.commit()?;
        Ok(replayed)
    }
}

/// One attempt as the admin API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttemptView {
    pub attempt: u32,
    pub at: chrono::DateTime<chrono::Utc>,
    pub status: Option<u16>,
    pub duration_ms: f64,
    pub error: Option<String>,
    pub response: Option<String>,
}

/// Every attempt to deliver one event to one endpoint, replays included, oldest first.
#[derive(Message)]
#[rtype(result = "Result<Vec<AttemptView>, StoreError>")]
pub struct ListAttempts {
    pub endpoint: Arc<str>,
    pub event_id: String,
}

impl Handler<ListAttempts> for OutboxStore {
    type Result = Result<Vec<AttemptView>, StoreError>;

    fn handle(&mut self, msg: ListAttempts, _: &mut SyncContext<Self>) -> Self::Result {
        let event_row: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM events WHERE event_id = ?1",
                [&msg.event_id],
                |row| row.get(0),
            )
            .optional()?;
        let Some(event_row) = event_row else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.attempt, a.at_ms, a.status, a.duration_ms, a.error, a.response
               FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
              WHERE d.event_row = ?1 AND d.endpoint = ?2
              ORDER BY a.id",
        )?;
        let rows = stmt.query_map(params![event_row, &*msg.endpoint], |row| {
            Ok(AttemptView {
                attempt: row.get(0)?,
                at: from_ms(row.get(1)?),
                status: row.get(2)?,
                duration_ms: row.get(3)?,
                error: row.get(4)?,
                response: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

// ---------------------------------------------------------------------------------------------
// Retention

/// Removes up to `limit` delivered, dead-lettered or replayed deliveries last changed before
/// `cutoff_ms`, their attempts, and their events once no delivery refers to them. Returns how
/// many deliveries went (fewer than `limit`: nothing more to do for now).
#[derive(Message)]
#[rtype(result = "Result<usize, StoreError>")]
pub struct Purge {
    pub cutoff_ms: i64,
    pub limit: usize,
}

impl Handler<Purge> for OutboxStore {
    type Result = Result<usize, StoreError>;

    fn handle(&mut self, msg: Purge, _: &mut SyncContext<Self>) -> Self::Result {
        let tx = self.conn.transaction()?;
        let gone = {
            let limit = i64::try_from(msg.limit).unwrap_or(i64::MAX);
            let mut select = tx.prepare_cached(
                "SELECT id, event_row FROM deliveries
                  WHERE state <> 0 AND updated_ms < ?1 ORDER BY updated_ms LIMIT ?2",
            )?;
            let rows = select
                .query_map(params![msg.cutoff_ms, limit], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut attempts = tx.prepare_cached("DELETE FROM attempts WHERE delivery_id = ?1")?;
            let mut delivery = tx.prepare_cached("DELETE FROM deliveries WHERE id = ?1")?;
            let mut event = tx.prepare_cached(
                "DELETE FROM events WHERE id = ?1
                   AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event_row = ?1)",
            )?;
            for (id, _) in &rows {
                attempts.execute([id])?;
                delivery.execute([id])?;
            }
            let mut events: Vec<i64> = rows.iter().map(|(_, e)| *e).collect();
            events.sort_unstable();
            events.dedup();
            for e in events {
                event.execute([e])?;
            }
            rows.len()
        };
        tx.commit()?;
        Ok(gone)
    }
}

fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, agent: &str, endpoints: &[(&str, bool)]) -> NewEvent {
        NewEvent {
            event_id: id.into(),
            agent_id: agent.into(),
            seq: 1,
            payload: Bytes::from(format!("{{\"id\":\"{id}\"}}")),
            targets: endpoints
                .iter()
                .map(|(e, disabled)| Target {
                    endpoint: (*e).into(),
                    disabled: *disabled,
                })
                .collect(),
        }
    }

    fn retry_in_past() -> NextState {
        NextState::Retry {
            at_ms: now_ms() - 1,
        }
    }

    fn attempt(n: u32, status: u16) -> Option<AttemptLog> {
        Some(AttemptLog {
            attempt: n,
            at_ms: now_ms(),
            status: Some(status),
            duration_ms: 1.5,
            error: None,
            response: Some("ok".into()),
        })
    }

    #[actix_rt::test]
    async fn deliveries_move_from_pending_to_delivered_dead_and_replayed_and_are_purged() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            OutboxStore::spawn(open(&dir.path().join("o.sqlite"), Synchronous::Normal).unwrap());
        let inserted = store
            .send(InsertEvents {
                events: vec![
                    event("e1", "a", &[("x", false), ("y", true)]),
                    event("e2", "a", &[("x", false)]),
                    event("e1", "a", &[("x", false)]),
                ],
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(inserted.duplicates, 1, "the same event id is accepted once");
        assert_eq!(inserted.pending.len(), 2);
        assert_eq!(
            inserted.dead.len(),
            1,
            "y is disabled: straight to dead letters"
        );
        let (d1, d2) = (inserted.pending[0].1.id, inserted.pending[1].1.id);
        assert!(d2 > d1);

        // Pending ones read back in id order, after a given id, with their payload.
        let pending = store
            .send(LoadPending {
                endpoint: "x".into(),
                after_id: 0,
                limit: 10,
            })
            .await
            .unwrap()
            .unwrap();
        let ids: Vec<i64> = pending.iter().map(|d| d.id).collect();
        assert_eq!(ids, [d1, d2]);
        assert_eq!(&pending[0].payload[..], br#"{"id":"e1"}"#);
        let after = store
            .send(LoadPending {
                endpoint: "x".into(),
                after_id: d1,
                limit: 10,
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.len(), 1);

        // e1 fails once (stays pending, attempts counted), then is delivered; e2 dies.
        let outcomes = vec![
            Outcome {
                delivery_id: d1,
                attempt: attempt(1, 500),
                next: retry_in_past(),
            },
            Outcome {
                delivery_id: d2,
                attempt: attempt(1, 500),
                next: NextState::Dead {
                    reason: "gave up".into(),
                },
            },
        ];
        store
            .send(RecordOutcomes { outcomes })
            .await
            .unwrap()
            .unwrap();
        let pending = store
            .send(LoadPending {
                endpoint: "x".into(),
                after_id: 0,
                limit: 10,
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!((pending.len(), pending[0].attempts), (1, 1));
        let outcomes = vec![Outcome {
            delivery_id: d1,
            attempt: attempt(2, 200),
            next: NextState::Delivered,
        }];
        store
            .send(RecordOutcomes { outcomes })
            .await
            .unwrap()
            .unwrap();
        let counts = store.send(CountDeliveries).await.unwrap().unwrap();
        assert_eq!(counts.get("x"), Some(&(0, 1)));
        assert_eq!(counts.get("y"), Some(&(0, 1)));
        let attempts = store
            .send(ListAttempts {
                endpoint: "x".into(),
                event_id: "e1".into(),
            })
            .await
            .unwrap()
            .unwrap();
        let statuses: Vec<Option<u16>> = attempts.iter().map(|a| a.status).collect();
        assert_eq!(statuses, [Some(500), Some(200)]);

        // Replaying the dead letter makes a new pending delivery with a higher id.
        let letters = store
            .send(ListDeadLetters {
                endpoint: "x".into(),
                since_ms: None,
                limit: 10,
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(letters[0].event_id, "e2");
        assert_eq!(letters[0].last_status, Some(500));
        let replayed = store
            .send(Replay {
                endpoint: "x".into(),
                selector: ReplaySelector::Event("e2".into()),
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(replayed.len(), 1);
        assert!(replayed[0].id > d2);
        assert_eq!(replayed[0].attempts, 0);
        let counts = store.send(CountDeliveries).await.unwrap().unwrap();
        assert_eq!(counts.get("x"), Some(&(1, 0)));

        // Disabling moves pending deliveries to dead letters.
        let moved = store
            .send(DeadLetterPending {
                endpoint: "x".into(),
                reason: DEAD_REASON_DISABLED.into(),
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(moved, 1);

        // Retention removes finished deliveries, their attempts, and events nobody needs.
        let purged = store
            .send(Purge {
                cutoff_ms: now_ms() + 1,
                limit: 100,
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            purged, 4,
            "e1→x delivered, e1→y dead, e2→x replayed and its replay dead"
        );
        let attempts = store
            .send(ListAttempts {
                endpoint: "x".into(),
                event_id: "e1".into(),
            })
            .await
            .unwrap()
            .unwrap();
        assert!(attempts.is_empty());
        let counts = store.send(CountDeliveries).await.unwrap().unwrap();
        assert!(counts.is_empty());
    }

    #[actix_rt::test]
    async fn endpoint_records_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.sqlite");
        let store = OutboxStore::spawn(open(&path, Synchronous::Normal).unwrap());
        let record = EndpointRecord {
            id: "x".into(),
            url: "http://127.0.0.1/".into(),
            enabled: false,
            disabled_reason: Some("the receiver answered 410 Gone".into()),
            disabled_ms: Some(5),
            failing_since_ms: Some(1),
            last_success_ms: None,
        };
        store
            .send(SaveEndpoint(record.clone()))
            .await
            .unwrap()
            .unwrap();
        let records = load_endpoint_records(&open(&path, Synchronous::Normal).unwrap()).unwrap();
        assert_eq!(records.get("x"), Some(&record));
    }
}
