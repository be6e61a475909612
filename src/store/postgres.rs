//! PostgreSQL, for several instances side by side: due timers and outbox rows are claimed with
//! `FOR UPDATE SKIP LOCKED`, so every instance takes different rows and a killed instance's rows
//! come back (its transaction rolls back, its leases run out).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::{StoreError, StoreResult};

type Db = sqlx::Postgres;

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

    pub const BACKEND: Backend = Backend::Postgres;
    pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
    pub const WRITE_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(7204263)");
    pub const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    /// Lets instances claim different rows of a queue side by side.
    pub const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
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

    // Bulk statements: one array parameter per column (`UNNEST`, `= ANY`), whatever the number of
    // rows, so a statement's text (and its cached plan) is the same for every batch size.
    //
    // Lookups by key run as unnamed statements (`persistent(false)`), planned with their actual
    // arguments each time: a generic plan cached while a table was still small (a sequential
    // scan) would stay in use as it grows — measured 3 ms instead of 0.05 ms per dedup lookup
    // after 20,000 incidents.

    use super::common::{
        INCIDENT_COLUMNS, IncidentRow, UPSERT_INCIDENTS, escalation_json, labels_json, sla_json,
    };
    use crate::domain::{DedupKey, Incident, IncidentId, TimelineEntry, TimerKind};
    use crate::store::{NewOutboxMessage, NewPage, ReceiptKey, ms};

    type Tx = Transaction<'static, Db>;

    pub async fn find_receipts(
        tx: &mut Tx,
        source: &str,
        ids: &[&str],
    ) -> Result<Vec<(String, Option<i64>)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT occurrence_id, incident_id FROM intake_receipts WHERE source = $1 AND occurrence_id = ANY($2)",
        )
            .persistent(false)
        .bind(source)
        .bind(ids)
        .fetch_all(&mut **tx)
        .await
    }

    pub async fn insert_receipts(
        tx: &mut Tx,
        rows: &[(ReceiptKey, Option<IncidentId>)],
        at: i64,
    ) -> Result<(), sqlx::Error> {
        let sources: Vec<&str> = rows.iter().map(|(k, _)| k.source.as_str()).collect();
        let ids: Vec<&str> = rows.iter().map(|(k, _)| k.occurrence_id.as_str()).collect();
        let incidents: Vec<Option<i64>> = rows.iter().map(|(_, i)| i.map(|i| i.0)).collect();
        sqlx::query(
            "INSERT INTO intake_receipts (source, occurrence_id, incident_id, received_at) \
             SELECT s, o, i, $4 FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS u(s, o, i) \
             ON CONFLICT (source, occurrence_id) DO NOTHING",
        )
        .bind(sources)
        .bind(ids)
        .bind(incidents)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn dedup_holders(tx: &mut Tx, keys: &[DedupKey]) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let keys: Vec<&str> = keys.iter().map(DedupKey::as_str).collect();
        sqlx::query_as("SELECT dedup_key, incident_id FROM open_dedup WHERE dedup_key = ANY($1)")
            .persistent(false)
            .bind(keys)
            .fetch_all(&mut **tx)
            .await
    }

    /// Returns the keys inserted.
    pub async fn claim_dedups(
        tx: &mut Tx,
        claims: &[(DedupKey, IncidentId)],
    ) -> Result<Vec<String>, sqlx::Error> {
        let keys: Vec<&str> = claims.iter().map(|(k, _)| k.as_str()).collect();
        let ids: Vec<i64> = claims.iter().map(|(_, i)| i.0).collect();
        sqlx::query_scalar(
            "INSERT INTO open_dedup (dedup_key, incident_id) SELECT * FROM UNNEST($1::text[], $2::bigint[]) \
             ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key",
        )
        .bind(keys)
        .bind(ids)
        .fetch_all(&mut **tx)
        .await
    }

    pub async fn write_incidents(
        tx: &mut Tx,
        incidents: &[Incident],
        upsert: bool,
    ) -> Result<(), sqlx::Error> {
        let col = |f: &dyn Fn(&Incident) -> Option<String>| incidents.iter().map(f).collect::<Vec<_>>();
        let num = |f: &dyn Fn(&Incident) -> Option<i64>| incidents.iter().map(f).collect::<Vec<_>>();
        let sql = format!(
            "INSERT INTO incidents ({INCIDENT_COLUMNS}) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], \
             $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
             $12::bigint[], $13::bigint[], $14::text[], $15::text[], $16::bigint[], $17::bigint[], $18::bigint[], \
             $19::bigint[], $20::bigint[], $21::text[], $22::text[]){}",
            if upsert { UPSERT_INCIDENTS } else { "" }
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(num(&|i| Some(i.id.0)))
            .bind(col(&|i| Some(i.ticket.to_string())))
            .bind(col(&|i| Some(i.title.clone())))
            .bind(col(&|i| Some(i.description.clone())))
            .bind(col(&|i| Some(i.status.as_str().to_string())))
            .bind(num(&|i| Some(i64::from(i.severity.level()))))
            .bind(col(&|i| i.system.clone()))
            .bind(col(&|i| i.unit.clone()))
            .bind(col(&|i| Some(i.source.clone())))
            .bind(col(&|i| Some(i.dedup_key.as_str().to_string())))
            .bind(col(&|i| i.assignee.as_ref().map(|p| p.0.clone())))
            .bind(num(&|i| Some(i64::from(i.occurrences))))
            .bind(num(&|i| Some(i64::from(i.event_count))))
            .bind(col(&|i| Some(labels_json(&i.labels))))
            .bind(col(&|i| i.link.clone()))
            .bind(num(&|i| Some(ms(i.created_at))))
            .bind(num(&|i| Some(ms(i.updated_at))))
            .bind(num(&|i| i.acknowledged_at.map(ms)))
            .bind(num(&|i| i.resolved_at.map(ms)))
            .bind(num(&|i| i.closed_at.map(ms)))
            .bind(col(&|i| sla_json(i)))
            .bind(col(&|i| escalation_json(i)))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Row locks taken in id order, so two transactions never wait on each other in a cycle.
    pub async fn lock_incidents(tx: &mut Tx, ids: &[i64]) -> Result<Vec<IncidentRow>, sqlx::Error> {
        let sql =
            format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ANY($1) ORDER BY id FOR UPDATE");
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).persistent(false).bind(ids).fetch_all(&mut **tx).await
    }

    pub async fn append_timeline(
        tx: &mut Tx,
        entries: &[(IncidentId, u32, TimelineEntry)],
    ) -> Result<(), sqlx::Error> {
        let incidents: Vec<i64> = entries.iter().map(|(i, _, _)| i.0).collect();
        let seqs: Vec<i64> = entries.iter().map(|(_, s, _)| i64::from(*s)).collect();
        let ats: Vec<i64> = entries.iter().map(|(_, _, e)| ms(e.at)).collect();
        let actor_kinds: Vec<&str> = entries.iter().map(|(_, _, e)| e.actor.kind()).collect();
        let actor_ids: Vec<Option<&str>> = entries.iter().map(|(_, _, e)| e.actor.id()).collect();
        let channels: Vec<&str> = entries.iter().map(|(_, _, e)| e.channel.as_str()).collect();
        let kinds: Vec<&str> = entries.iter().map(|(_, _, e)| e.event.name()).collect();
        let details: Vec<String> = entries
            .iter()
            .map(|(_, _, e)| serde_json::to_string(&e.event).expect("events always serialize"))
            .collect();
        sqlx::query(
            "INSERT INTO timeline (incident_id, seq, at, actor_kind, actor_id, channel, kind, detail) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[])",
        )
        .bind(incidents)
        .bind(seqs)
        .bind(ats)
        .bind(actor_kinds)
        .bind(actor_ids)
        .bind(channels)
        .bind(kinds)
        .bind(details)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn arm_timers(
        tx: &mut Tx,
        timers: &[(IncidentId, TimerKind, jiff::Timestamp)],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let incidents: Vec<i64> = timers.iter().map(|(i, _, _)| i.0).collect();
        let kinds: Vec<&str> = timers.iter().map(|(_, k, _)| k.as_str()).collect();
        let dues: Vec<i64> = timers.iter().map(|(_, _, d)| ms(*d)).collect();
        sqlx::query(
            "INSERT INTO timers (incident_id, kind, due_at, created_at) \
             SELECT i, k, d, $4 FROM UNNEST($1::bigint[], $2::text[], $3::bigint[]) AS u(i, k, d) \
             ON CONFLICT (incident_id, kind) DO UPDATE SET due_at = excluded.due_at",
        )
        .bind(incidents)
        .bind(kinds)
        .bind(dues)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn cancel_timers(tx: &mut Tx, timers: &[(IncidentId, TimerKind)]) -> Result<(), sqlx::Error> {
        let incidents: Vec<i64> = timers.iter().map(|(i, _)| i.0).collect();
        let kinds: Vec<&str> = timers.iter().map(|(_, k)| k.as_str()).collect();
        sqlx::query(
            "DELETE FROM timers t USING UNNEST($1::bigint[], $2::text[]) AS u(i, k) \
             WHERE t.incident_id = u.i AND t.kind = u.k",
        )
        .bind(incidents)
        .bind(kinds)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Returns (id, incident, page key) of the pages inserted.
    pub async fn insert_pages(
        tx: &mut Tx,
        pages: &[NewPage],
        now: i64,
    ) -> Result<Vec<(i64, i64, String)>, sqlx::Error> {
        let incidents: Vec<i64> = pages.iter().map(|p| p.incident_id.0).collect();
        let keys: Vec<&str> = pages.iter().map(|p| p.page_key.as_str()).collect();
        let people: Vec<&str> = pages.iter().map(|p| p.person.0.as_str()).collect();
        let channels: Vec<&str> = pages.iter().map(|p| p.channel.as_str()).collect();
        let reasons: Vec<String> = pages
            .iter()
            .map(|p| serde_json::to_string(&p.reason).expect("a page reason always serializes"))
            .collect();
        let due: Vec<i64> = pages.iter().map(|p| ms(p.due_at)).collect();
        sqlx::query_as(
            "INSERT INTO pages (incident_id, page_key, person, channel, reason, status, due_at, created_at) \
             SELECT i, k, p, c, r, 'queued', d, $7 \
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) \
             AS u(i, k, p, c, r, d) \
             ON CONFLICT (incident_id, page_key) DO NOTHING RETURNING id, incident_id, page_key",
        )
        .bind(incidents)
        .bind(keys)
        .bind(people)
        .bind(channels)
        .bind(reasons)
        .bind(due)
        .bind(now)
        .fetch_all(&mut **tx)
        .await
    }

    pub async fn enqueue(tx: &mut Tx, messages: &[NewOutboxMessage]) -> Result<usize, sqlx::Error> {
        let keys: Vec<&str> = messages.iter().map(|m| m.idempotency_key.as_str()).collect();
        let incidents: Vec<Option<i64>> = messages.iter().map(|m| m.incident_id.map(|i| i.0)).collect();
        let sinks: Vec<&str> = messages.iter().map(|m| m.sink.as_str()).collect();
        let payloads: Vec<String> = messages.iter().map(|m| m.payload.to_string()).collect();
        let due: Vec<i64> = messages.iter().map(|m| ms(m.not_before)).collect();
        let ids: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO outbox (idempotency_key, incident_id, sink, payload, status, attempts, next_attempt_at, created_at) \
             SELECT k, i, s, p, 'pending', 0, n, n \
             FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[]) AS u(k, i, s, p, n) \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        )
        .bind(keys)
        .bind(incidents)
        .bind(sinks)
        .bind(payloads)
        .bind(due)
        .fetch_all(&mut **tx)
        .await?;
        Ok(ids.len())
    }

    pub async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
        pool.begin().await
    }
}

pub async fn connect(url: &str) -> StoreResult<SqlStore> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Url(format!("{}: {e}", super::redact_url(url))))?;
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await?;
    Ok(SqlStore { writer: pool.clone(), reader: pool })
}
