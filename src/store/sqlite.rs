//! The embedded default: SQLite in WAL mode, one writer connection (`BEGIN IMMEDIATE`) and a pool of
//! readers. One writer is what SQLite allows anyway; holding it in our own pool turns "database is
//! locked" failures into an orderly queue.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{StoreError, StoreResult};

type Db = sqlx::Sqlite;

// Deliberate: the shared SQL is compiled once per backend, each time with its own `Db` and dialect.
#[allow(clippy::duplicate_mod)]
#[path = "common.rs"]
mod common;

pub use common::SqlStore;

mod dialect {
    use sqlx::{Pool, Transaction};

    use super::Db;
    use crate::store::Backend;

    pub const BACKEND: Backend = Backend::Sqlite;
    pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
    /// SQLite has no row locks: the writer connection serialises every write transaction.
    pub const WRITE_LOCK: Option<&str> = None;
    pub const FOR_UPDATE: &str = "";
    pub const TAKE_DUE_TIMERS: &str = "DELETE FROM timers WHERE id IN \
        (SELECT id FROM timers WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2) RETURNING incident_id, kind, due_at";
    pub const CLAIM_OUTBOX: &str = "UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
        WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $3 \
        AND (claimed_until IS NULL OR claimed_until <= $3) ORDER BY next_attempt_at, id LIMIT $4)";

    /// `BEGIN IMMEDIATE` takes the write lock up front: a deferred transaction that reads and then
    /// writes skips SQLite's busy handler and fails instead of waiting.
    /// Ids continue from the largest: the single writer makes this race-free.
    pub async fn next_incident_ids(
        tx: &mut Transaction<'static, Db>,
        count: u32,
    ) -> Result<Vec<i64>, sqlx::Error> {
        let max: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM incidents").fetch_one(&mut **tx).await?;
        Ok((1..=i64::from(count)).map(|n| max + n).collect())
    }

    pub async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }
}

pub async fn connect(url: &str) -> StoreResult<SqlStore> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Url(format!("{url}: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let filename = options.get_filename().to_path_buf();
    let in_memory = url.contains(":memory:") || filename.as_os_str().is_empty();
    if !in_memory && let Some(dir) = filename.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create the database folder {}: {e}", dir.display()))
        })?;
    }
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await?;
    let reader = if in_memory {
        // Every connection to ":memory:" is its own database: readers must share the writer's.
        writer.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.read_only(true))
            .await?
    };
    Ok(SqlStore { writer, reader })
}
