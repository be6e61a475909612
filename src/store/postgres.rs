//! PostgreSQL, for several instances side by side: due timers and outbox rows are claimed with
//! `FOR UPDATE SKIP LOCKED`, so every instance takes different rows and a killed instance's rows
//! come back (its transaction rolls back, its leases run out).

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

use super::StoreResult;

type Db = sqlx::Postgres;

// Deliberate: the shared SQL is compiled once per backend, each time with its own `Db` and dialect.
#[allow(clippy::duplicate_mod)]
#[path = "common.rs"]
mod common;

pub use common::SqlStore;

mod dialect {
    use sqlx::{Pool, Transaction};

    use super::Db;
    use crate::store::Backend;

    pub const BACKEND: Backend = Backend::Postgres;
    pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
    pub const WRITE_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(7204263)");
    pub const FOR_UPDATE: &str = " FOR UPDATE";
    pub const TAKE_DUE_TIMERS: &str = "DELETE FROM timers WHERE id IN \
        (SELECT id FROM timers WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
        RETURNING incident_id, kind, due_at";
    pub const CLAIM_OUTBOX: &str = "UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
        WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $3 \
        AND (claimed_until IS NULL OR claimed_until <= $3) ORDER BY next_attempt_at, id LIMIT $4 \
        FOR UPDATE SKIP LOCKED)";

    pub async fn next_incident_ids(
        tx: &mut Transaction<'static, Db>,
        count: u32,
    ) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT nextval(pg_get_serial_sequence('incidents', 'id')) FROM generate_series(1, $1)",
        )
        .bind(i64::from(count))
        .fetch_all(&mut **tx)
        .await
    }

    pub async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
        pool.begin().await
    }
}

pub async fn connect(url: &str) -> StoreResult<SqlStore> {
    let pool =
        PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(5)).connect(url).await?;
    Ok(SqlStore { writer: pool.clone(), reader: pool })
}
