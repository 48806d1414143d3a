//! `AuditWriter`: the audit store's one connection, on its own thread (a `SyncArbiter` actor).
//! It numbers the records, chains their hashes, writes each batch in one transaction, answers
//! queries, and applies retention while keeping the chain verifiable.

use std::{path::Path, sync::Mutex};

use actix::{Actor, Addr, Handler, Message, SyncArbiter, SyncContext};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{
    AuditQuery,
    chain::{GENESIS, RecordFields, record_hash, stored_time, to_hash},
};
use crate::{
    event::AgentId,
    store::{self, StoreError, Synchronous},
};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,  -- 1, 2, 3, … with no gaps (the chain checks it)
    at       TEXT    NOT NULL,     -- RFC 3339, UTC, microseconds: hashed as stored
    at_us    INTEGER NOT NULL,     -- the same time in Unix microseconds, for range queries
    kind     TEXT    NOT NULL,
    agent_id TEXT,
    details  TEXT    NOT NULL,     -- JSON, hashed as stored
    hash     BLOB    NOT NULL      -- SHA-256(previous hash ‖ every column above)
);
CREATE INDEX audit_kind  ON audit(kind, id);
CREATE INDEX audit_agent ON audit(agent_id, id) WHERE agent_id IS NOT NULL;
CREATE INDEX audit_at    ON audit(at_us);
-- The last record removed by retention: verification starts from its hash.
CREATE TABLE audit_anchor (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_id   INTEGER NOT NULL,
    last_hash BLOB    NOT NULL,
    purged_at TEXT    NOT NULL
);
"#,
    // v2 hashes at_us too; records written before keep their v1 hashes.
    r#"
CREATE TABLE audit_format (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    v2_from_id INTEGER NOT NULL
);
INSERT INTO audit_format (singleton, v2_from_id)
VALUES (1, COALESCE((SELECT MAX(id) FROM audit), (SELECT last_id FROM audit_anchor), 0) + 1);
"#,
];

/// A record waiting to be written.
#[derive(Debug, Clone)]
pub struct PendingRecord {
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub agent_id: Option<AgentId>,
    pub details: serde_json::Value,
}

pub struct AuditWriter {
    conn: Connection,
    /// Runs the WAL checkpoints off this thread; stops with the writer.
    _checkpointer: store::Checkpointer,
    /// Id and hash of the last record written (or of the anchor, or 0 and the genesis).
    last_id: i64,
    last_hash: [u8; 32],
}

impl Actor for AuditWriter {
    type Context = SyncContext<Self>;
}

impl AuditWriter {
    /// Opens (or creates) the audit store and starts its thread.
    pub fn start(path: &Path, synchronous: Synchronous) -> Result<Addr<Self>, StoreError> {
        let conn = store::open(path, synchronous, MIGRATIONS)?;
        let (last_id, last_hash) = head(&conn)?;
        let slot = Mutex::new(Some((conn, store::Checkpointer::spawn(path)?)));
        Ok(SyncArbiter::start_with_thread_builder(
            1,
            || std::thread::Builder::new().name("agentcast-audit".into()),
            move || {
                // expect: one thread, and this actor never stops itself, so the factory runs
                // once; the lock is never poisoned (nothing panics while holding it).
                let (conn, checkpointer) = slot
                    .lock()
                    .expect("audit slot lock")
                    .take()
                    .expect("the audit connection is taken once");
                AuditWriter {
                    conn,
                    _checkpointer: checkpointer,
                    last_id,
                    last_hash,
                }
            },
        ))
    }
}

/// Where the chain continues: the last record, else the anchor, else the genesis.
fn head(conn: &Connection) -> Result<(i64, [u8; 32]), StoreError> {
    let last: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let anchor: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT last_id, last_hash FROM audit_anchor WHERE singleton = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    Ok(match last.or(anchor) {
        Some((id, hash)) => (id, to_hash(&hash)),
        None => (0, GENESIS),
    })
}

/// Writes records in one transaction, in order; answers the id of the last one.
#[derive(Message)]
#[rtype(result = "Result<i64, BatchNotWritten>")]
pub struct WriteBatch {
    pub records: Vec<PendingRecord>,
}

/// A failed [`WriteBatch`], handing the records back to be retried.
#[derive(Debug)]
pub struct BatchNotWritten {
    pub error: StoreError,
    pub records: Vec<PendingRecord>,
}

impl Handler<WriteBatch> for AuditWriter {
    type Result = Result<i64, BatchNotWritten>;

    fn handle(&mut self, msg: WriteBatch, _: &mut SyncContext<Self>) -> Self::Result {
        self.write(&msg.records).map_err(|error| BatchNotWritten {
            error,
            records: msg.records,
        })
    }
}

impl AuditWriter {
    fn write(&mut self, records: &[PendingRecord]) -> Result<i64, StoreError> {
        let tx = self.conn.transaction()?;
        let (mut id, mut prev) = (self.last_id, self.last_hash);
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO audit (id, at, at_us, kind, agent_id, details, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for record in records {
                id += 1;
                let (at, at_us) = stored_time(record.at);
                let details = record.details.to_string();
                let agent = record.agent_id.as_deref();
                let hash = record_hash(
                    &prev,
                    &RecordFields {
                        id,
                        at: &at,
                        at_us,
                        kind: record.kind,
                        agent_id: agent,
                        details: &details,
                    },
                );
                stmt.execute(params![
                    id,
                    at,
                    at_us,
                    record.kind,
                    agent,
                    details,
                    &hash[..]
                ])?;
                prev = hash;
            }
        }
        tx.commit()?;
        (self.last_id, self.last_hash) = (id, prev);
        Ok(id)
    }
}

/// Where a query starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Records at or after this time.
    Time(DateTime<Utc>),
    /// Records after this id (a client's cursor).
    After(i64),
}

/// Runs an [`AuditQuery`] on the writer's connection.
#[derive(Message)]
#[rtype(result = "Result<Vec<StoredRecord>, StoreError>")]
pub struct Query(pub AuditQuery);

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRecord {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub agent_id: Option<String>,
    pub details: serde_json::Value,
    /// Hex SHA-256 of the chain at this record.
    pub hash: String,
}

impl Handler<Query> for AuditWriter {
    type Result = Result<Vec<StoredRecord>, StoreError>;

    fn handle(&mut self, Query(q): Query, _: &mut SyncContext<Self>) -> Self::Result {
        let mut sql =
            String::from("SELECT id, at, kind, agent_id, details, hash FROM audit WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(kind) = q.kind {
            sql.push_str(" AND kind = ?");
            args.push(kind.into());
        }
        if let Some(agent) = q.agent_id {
            sql.push_str(" AND agent_id = ?");
            args.push(agent.into());
        }
        match q.since {
            Some(Since::Time(t)) => {
                sql.push_str(" AND at_us >= ?");
                args.push(t.timestamp_micros().into());
            }
            Some(Since::After(id)) => {
                sql.push_str(" AND id > ?");
                args.push(id.into());
            }
            None => {}
        }
        sql.push_str(" ORDER BY id LIMIT ?");
        args.push(i64::try_from(q.limit).unwrap_or(i64::MAX).into());
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
            let details: String = row.get(4)?;
            Ok(StoredRecord {
                id: row.get(0)?,
                at: row.get(1)?,
                kind: row.get(2)?,
                agent_id: row.get(3)?,
                details: serde_json::from_str(&details)
                    .unwrap_or(serde_json::Value::String(details)),
                hash: hex::encode(row.get::<_, Vec<u8>>(5)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Removes up to `limit` of the oldest records written before `before`, moving the anchor to
/// the last one removed. Answers how many went (fewer than `limit`: done for now).
#[derive(Message)]
#[rtype(result = "Result<usize, StoreError>")]
pub struct Purge {
    pub before: DateTime<Utc>,
    pub limit: usize,
}

impl Handler<Purge> for AuditWriter {
    type Result = Result<usize, StoreError>;

    fn handle(&mut self, msg: Purge, _: &mut SyncContext<Self>) -> Self::Result {
        let cutoff = msg.before.timestamp_micros();
        let limit = i64::try_from(msg.limit).unwrap_or(i64::MAX);
        // The oldest records, in id order, up to the first one young enough to keep.
        let mut last: Option<(i64, Vec<u8>)> = None;
        let mut count = 0;
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id, at_us, hash FROM audit ORDER BY id LIMIT ?1")?;
            let mut rows = stmt.query([limit])?;
            while let Some(row) = rows.next()? {
                if row.get::<_, i64>(1)? >= cutoff {
                    break;
                }
                last = Some((row.get(0)?, row.get(2)?));
                count += 1;
            }
        }
        let Some((last_id, last_hash)) = last else {
            return Ok(0);
        };
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM audit WHERE id <= ?1", [last_id])?;
        tx.execute(
            "INSERT INTO audit_anchor (singleton, last_id, last_hash, purged_at)
             VALUES (1, ?1, ?2, ?3)
             ON CONFLICT(singleton) DO UPDATE SET last_id = ?1, last_hash = ?2, purged_at = ?3",
            params![
                last_id,
                last_hash,
                Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
            ],
        )?;
        tx.commit()?;
        Ok(count)
    }
}
