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

#[allow(clippy::duplicate_mod)]
#[path = "chat_sql.rs"]
mod chat_sql;

#[allow(clippy::duplicate_mod)]
#[path = "mail_sql.rs"]
mod mail_sql;

#[allow(clippy::duplicate_mod)]
#[path = "drill_sql.rs"]
mod drill_sql;

#[allow(clippy::duplicate_mod)]
#[path = "emergency_sql.rs"]
mod emergency_sql;

pub use common::SqlStore;

mod dialect {
    use sqlx::{Pool, Transaction};

    use super::Db;
    use crate::store::Backend;

    pub const BACKEND: Backend = Backend::Sqlite;
    pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
    /// SQLite has no row locks: the writer connection serialises every write transaction.
    pub const WRITE_LOCK: Option<&str> = None;
    /// A read transaction: in WAL mode its first read fixes the snapshot for the rest.
    pub const BEGIN_SNAPSHOT: &str = "BEGIN";
    /// Lets instances claim different rows of a queue side by side.
    pub const SKIP_LOCKED: &str = "";
    pub const FOR_UPDATE: &str = "";
    pub const TAKE_DUE_TIMERS: &str = "DELETE FROM timers WHERE id IN \
        (SELECT id FROM timers WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2) RETURNING incident_id, kind, due_at";
    pub const CLAIM_OUTBOX: &str = "UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
        WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $3 \
        AND (claimed_until IS NULL OR claimed_until <= $3) ORDER BY next_attempt_at, id LIMIT $4)";

    // Bulk statements: multi-row VALUES, chunked under SQLite's 32766-parameter limit.

    use sqlx::QueryBuilder;

    use super::common::{
        INCIDENT_COLUMNS, IncidentRow, UPSERT_INCIDENTS, escalation_json, labels_json, sla_json,
    };
    use crate::domain::{DedupKey, Incident, IncidentId, TimelineEntry, TimerKind};
    use crate::store::{NewOutboxMessage, NewPage, ReceiptKey, ms};

    type Tx = Transaction<'static, Db>;

    fn rows_per_statement(params_per_row: usize) -> usize {
        (30_000 / params_per_row).max(1)
    }

    pub async fn find_receipts(
        tx: &mut Tx,
        source: &str,
        ids: &[&str],
    ) -> Result<Vec<(String, Option<i64>)>, sqlx::Error> {
        let mut out = Vec::new();
        for chunk in ids.chunks(rows_per_statement(1)) {
            let mut q: QueryBuilder<Db> =
                QueryBuilder::new("SELECT occurrence_id, incident_id FROM intake_receipts WHERE source = ");
            q.push_bind(source).push(" AND occurrence_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(")");
            out.extend(q.build_query_as::<(String, Option<i64>)>().fetch_all(&mut **tx).await?);
        }
        Ok(out)
    }

    pub async fn insert_receipts(
        tx: &mut Tx,
        rows: &[(ReceiptKey, Option<IncidentId>)],
        at: i64,
    ) -> Result<(), sqlx::Error> {
        for chunk in rows.chunks(rows_per_statement(4)) {
            let mut q: QueryBuilder<Db> = QueryBuilder::new(
                "INSERT INTO intake_receipts (source, occurrence_id, incident_id, received_at) ",
            );
            q.push_values(chunk, |mut b, (key, incident)| {
                b.push_bind(key.source.clone())
                    .push_bind(key.occurrence_id.clone())
                    .push_bind(incident.map(|i| i.0))
                    .push_bind(at);
            });
            q.push(" ON CONFLICT (source, occurrence_id) DO NOTHING");
            q.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub async fn dedup_holders(tx: &mut Tx, keys: &[DedupKey]) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let mut out = Vec::new();
        for chunk in keys.chunks(rows_per_statement(1)) {
            let mut q: QueryBuilder<Db> =
                QueryBuilder::new("SELECT dedup_key, incident_id FROM open_dedup WHERE dedup_key IN (");
            let mut list = q.separated(", ");
            for k in chunk {
                list.push_bind(k.as_str());
            }
            q.push(")");
            out.extend(q.build_query_as::<(String, i64)>().fetch_all(&mut **tx).await?);
        }
        Ok(out)
    }

    /// Returns the keys inserted.
    pub async fn claim_dedups(
        tx: &mut Tx,
        claims: &[(DedupKey, IncidentId)],
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut taken = Vec::new();
        for chunk in claims.chunks(rows_per_statement(2)) {
            let mut q: QueryBuilder<Db> =
                QueryBuilder::new("INSERT INTO open_dedup (dedup_key, incident_id) ");
            q.push_values(chunk, |mut b, (key, id)| {
                b.push_bind(key.as_str().to_string()).push_bind(id.0);
            });
            q.push(" ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key");
            taken.extend(q.build_query_scalar::<String>().fetch_all(&mut **tx).await?);
        }
        Ok(taken)
    }

    pub async fn write_incidents(
        tx: &mut Tx,
        incidents: &[Incident],
        upsert: bool,
    ) -> Result<(), sqlx::Error> {
        for chunk in incidents.chunks(rows_per_statement(22)) {
            let mut q: QueryBuilder<Db> =
                QueryBuilder::new(format!("INSERT INTO incidents ({INCIDENT_COLUMNS}) "));
            q.push_values(chunk, |mut b, i| {
                b.push_bind(i.id.0)
                    .push_bind(i.ticket.to_string())
                    .push_bind(i.title.clone())
                    .push_bind(i.description.clone())
                    .push_bind(i.status.as_str())
                    .push_bind(i64::from(i.severity.level()))
                    .push_bind(i.system.clone())
                    .push_bind(i.unit.clone())
                    .push_bind(i.source.clone())
                    .push_bind(i.dedup_key.as_str().to_string())
                    .push_bind(i.assignee.as_ref().map(|p| p.0.clone()))
                    .push_bind(i64::from(i.occurrences))
                    .push_bind(i64::from(i.event_count))
                    .push_bind(labels_json(&i.labels))
                    .push_bind(i.link.clone())
                    .push_bind(ms(i.created_at))
                    .push_bind(ms(i.updated_at))
                    .push_bind(i.acknowledged_at.map(ms))
                    .push_bind(i.resolved_at.map(ms))
                    .push_bind(i.closed_at.map(ms))
                    .push_bind(sla_json(i))
                    .push_bind(escalation_json(i));
            });
            if upsert {
                q.push(UPSERT_INCIDENTS);
            }
            q.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// SQLite has no row locks; the single writer already excludes everyone else.
    pub async fn lock_incidents(tx: &mut Tx, ids: &[i64]) -> Result<Vec<IncidentRow>, sqlx::Error> {
        let mut out = Vec::new();
        for chunk in ids.chunks(rows_per_statement(1)) {
            let mut q: QueryBuilder<Db> =
                QueryBuilder::new(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id IN ("));
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(") ORDER BY id");
            out.extend(q.build_query_as::<IncidentRow>().fetch_all(&mut **tx).await?);
        }
        Ok(out)
    }

    pub async fn append_timeline(
        tx: &mut Tx,
        entries: &[(IncidentId, u32, TimelineEntry)],
    ) -> Result<(), sqlx::Error> {
        for chunk in entries.chunks(rows_per_statement(8)) {
            let mut q: QueryBuilder<Db> = QueryBuilder::new(
                "INSERT INTO timeline (incident_id, seq, at, actor_kind, actor_id, channel, kind, detail) ",
            );
            q.push_values(chunk, |mut b, (incident, seq, e)| {
                b.push_bind(incident.0)
                    .push_bind(i64::from(*seq))
                    .push_bind(ms(e.at))
                    .push_bind(e.actor.kind())
                    .push_bind(e.actor.id().map(str::to_string))
                    .push_bind(e.channel.as_str())
                    .push_bind(e.event.name())
                    .push_bind(serde_json::to_string(&e.event).expect("events always serialize"));
            });
            q.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub async fn arm_timers(
        tx: &mut Tx,
        timers: &[(IncidentId, TimerKind, jiff::Timestamp)],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        for chunk in timers.chunks(rows_per_statement(4)) {
            let mut q: QueryBuilder<Db> =
                QueryBuilder::new("INSERT INTO timers (incident_id, kind, due_at, created_at) ");
            q.push_values(chunk, |mut b, (incident, kind, due)| {
                b.push_bind(incident.0).push_bind(kind.as_str()).push_bind(ms(*due)).push_bind(now);
            });
            q.push(" ON CONFLICT (incident_id, kind) DO UPDATE SET due_at = excluded.due_at");
            q.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub async fn cancel_timers(tx: &mut Tx, timers: &[(IncidentId, TimerKind)]) -> Result<(), sqlx::Error> {
        for chunk in timers.chunks(rows_per_statement(2)) {
            let mut q: QueryBuilder<Db> =
                QueryBuilder::new("DELETE FROM timers WHERE (incident_id, kind) IN (");
            q.push_values(chunk, |mut b, (incident, kind)| {
                b.push_bind(incident.0).push_bind(kind.as_str());
            });
            q.push(")");
            q.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Returns (id, incident, page key) of the pages inserted.
    pub async fn insert_pages(
        tx: &mut Tx,
        pages: &[NewPage],
        now: i64,
    ) -> Result<Vec<(i64, i64, String)>, sqlx::Error> {
        let mut inserted = Vec::with_capacity(pages.len());
        for chunk in pages.chunks(rows_per_statement(7)) {
            let mut q: QueryBuilder<Db> = QueryBuilder::new(
                "INSERT INTO pages (incident_id, page_key, person, channel, reason, status, due_at, created_at) ",
            );
            q.push_values(chunk, |mut b, p| {
                b.push_bind(p.incident_id.0)
                    .push_bind(p.page_key.clone())
                    .push_bind(p.person.0.clone())
                    .push_bind(p.channel.clone())
                    .push_bind(serde_json::to_string(&p.reason).expect("a page reason always serializes"))
                    .push("'queued'")
                    .push_bind(ms(p.due_at))
                    .push_bind(now);
            });
            q.push(" ON CONFLICT (incident_id, page_key) DO NOTHING RETURNING id, incident_id, page_key");
            inserted.extend(q.build_query_as::<(i64, i64, String)>().fetch_all(&mut **tx).await?);
        }
        Ok(inserted)
    }

    pub async fn enqueue(tx: &mut Tx, messages: &[NewOutboxMessage]) -> Result<usize, sqlx::Error> {
        let mut added = 0;
        for chunk in messages.chunks(rows_per_statement(6)) {
            let mut q: QueryBuilder<Db> = QueryBuilder::new(
                "INSERT INTO outbox (idempotency_key, incident_id, sink, payload, status, attempts, next_attempt_at, created_at) ",
            );
            q.push_values(chunk, |mut b, m| {
                b.push_bind(m.idempotency_key.clone())
                    .push_bind(m.incident_id.map(|i| i.0))
                    .push_bind(m.sink.clone())
                    .push_bind(m.payload.to_string())
                    .push("'pending'")
                    .push("0")
                    .push_bind(ms(m.not_before))
                    .push_bind(ms(m.not_before));
            });
            q.push(" ON CONFLICT (idempotency_key) DO NOTHING RETURNING id");
            added += q.build_query_scalar::<i64>().fetch_all(&mut **tx).await?.len();
        }
        Ok(added)
    }

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
