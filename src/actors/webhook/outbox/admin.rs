//! The outbox's admin side: counts per endpoint, dead letters, replay, the attempts of an
//! event, and retention.

use std::{collections::HashMap, sync::Arc};

use actix::{Handler, Message, SyncContext};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{OutboxStore, REPLAYED, from_ms, now_ms};
use crate::{actors::webhook::scheduler::Delivery, store::StoreError};

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
