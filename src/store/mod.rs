//! Embedded SQLite, shared by the webhook outbox and the audit trail.
//!
//! One file per store, opened in WAL mode (readers never block the single writer), with a
//! chosen fsync policy ([`Synchronous`]), a busy timeout, and the schema kept current by
//! numbered migrations recorded in `PRAGMA user_version`. Each store has exactly one writing
//! connection, owned by its own thread (a `SyncArbiter` actor), so no SQLite call ever runs
//! on an actix event loop.
//!
//! WAL checkpoints (copying the log back into the database file, with an fsync) run on a
//! [`Checkpointer`] thread of their own, so the writer's commits do not stall behind them; the
//! writer checkpoints itself only if the log grows past [`WRITER_CHECKPOINT_PAGES`] anyway.

use std::{
    path::{Path, PathBuf},
    sync::mpsc,
    time::Duration,
};

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

/// How long a connection waits for another's lock before failing (the verifier or an operator's
/// `sqlite3` shell may hold a read lock briefly).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// Page cache of a writing connection, KiB (SQLite's default is 2 MiB): the indexes of a busy
/// outbox or audit table stay in memory between batches.
const CACHE_KIB: u32 = 16 * 1024;
/// The writer checkpoints itself only past this many WAL pages (4 KiB each): a safety net for
/// a checkpointer that cannot keep up, not the normal path.
pub const WRITER_CHECKPOINT_PAGES: u32 = 16_384;
/// The WAL file is cut back to this size after a checkpoint (SQLite otherwise keeps its
/// largest size: ~20 MB after a 1,500-event burst, up to 64 MiB past a slow checkpointer).
pub const WAL_SIZE_LIMIT_BYTES: i64 = 4 << 20;

/// When a commit is considered durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// The WAL is synced at checkpoints only: a committed transaction survives a process crash
    /// or `kill -9` (it is in the OS page cache), but an OS crash or power loss may lose the
    /// last commits.
    Normal,
    /// The WAL is synced at every commit: a committed transaction survives power loss too.
    Full,
}

impl Synchronous {
    /// The value of `PRAGMA synchronous`.
    pub fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the directory of {path}: {source}")]
    Directory {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} has schema version {found}, newer than this build knows ({known})")]
    TooNew {
        path: String,
        found: usize,
        known: usize,
    },
    #[error("{path} does not exist")]
    Missing { path: String },
    #[error("cannot start the checkpoint thread of {path}: {source}")]
    Thread {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Opens (creating it when needed) the store at `path` and applies the `migrations` it lacks.
/// `migrations[i]` moves the schema from version `i` to `i + 1`, in one transaction.
pub fn open(
    path: &Path,
    synchronous: Synchronous,
    migrations: &[&str],
) -> Result<Connection, StoreError> {
    let shown = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
            path: shown.clone(),
            source,
        })?;
    }
    let mut conn = Connection::open(path).map_err(|source| StoreError::Open {
        path: shown.clone(),
        source,
    })?;
    configure(&conn, synchronous)?;
    migrate(&mut conn, &shown, migrations)?;
    Ok(conn)
}

/// Opens an existing store without creating or migrating it (the audit verifier).
pub fn open_existing(path: &Path) -> Result<Connection, StoreError> {
    let shown = path.display().to_string();
    if !path.exists() {
        return Err(StoreError::Missing { path: shown });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open {
        path: shown,
        source,
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

fn configure(conn: &Connection, synchronous: Synchronous) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // journal_mode answers with the mode now in force; WAL is refused only on odd filesystems.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "SQLite refused WAL mode; writes will block readers.");
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {}; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = {}; \
         PRAGMA cache_size = -{}; PRAGMA journal_size_limit = {};",
        synchronous.pragma(),
        WRITER_CHECKPOINT_PAGES,
        CACHE_KIB,
        WAL_SIZE_LIMIT_BYTES
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migrate(conn: &mut Connection, path: &str, migrations: &[&str]) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let found = usize::try_from(found).unwrap_or(usize::MAX);
    if found > migrations.len() {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known: migrations.len(),
        });
    }
    for (version, sql) in migrations.iter().enumerate().skip(found) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
        tx.commit()?;
    }
    Ok(())
}

/// A thread that runs passive WAL checkpoints on its own connection. Passive checkpoints never
/// block the writer; dropping the handle stops the thread.
pub struct Checkpointer {
    /// Dropped with the handle, which ends the thread's wait.
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub fn spawn(path: &Path) -> Result<Self, StoreError> {
        let conn = open_existing(path)?;
        let shown: PathBuf = path.to_owned();
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("agentcast-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_INTERVAL)
                {
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        row.get::<_, i64>(0)
                    });
                    if let Err(e) = done {
                        tracing::warn!(path = %shown.display(), error = %e, "WAL checkpoint failed; the writer checkpoints when the log grows.");
                    }
                }
            })
            .map_err(|source| StoreError::Thread {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Self { _stop: stop })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/store.sqlite");
        let migrations = [
            "CREATE TABLE a (x INTEGER);",
            "ALTER TABLE a ADD COLUMN y TEXT;",
        ];
        let conn = open(&path, Synchronous::Normal, &migrations).unwrap();
        conn.execute("INSERT INTO a (x, y) VALUES (1, 'one')", [])
            .unwrap();
        drop(conn);
        let conn = open(&path, Synchronous::Full, &migrations).unwrap();
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM a", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let limit: i64 = conn
            .query_row("PRAGMA journal_size_limit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(limit, WAL_SIZE_LIMIT_BYTES);
        drop(conn);
        let err = open(&path, Synchronous::Full, &migrations[..1]).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { found: 2, .. }), "{err}");
    }

    #[test]
    fn an_existing_store_is_required_by_open_existing() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_existing(&dir.path().join("none.sqlite")).unwrap_err();
        assert!(matches!(err, StoreError::Missing { .. }));
    }
}
