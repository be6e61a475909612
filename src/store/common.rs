// The SQL both backends share. This file is compiled once inside `store::sqlite` and once inside
// `store::postgres` (see their `#[path]` attributes); `Db` and `dialect` come from the includer.

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp, civil::Date};
use sqlx::{Pool, QueryBuilder, Row, Transaction};

use super::{Db, dialect};
use crate::domain::{
    Actor, Channel, DedupKey, EventKind, Incident, IncidentId, PersonId, Severity, Status, TicketNo,
    TimelineEntry, TimerKind,
};
use crate::store::{
    Backend, DedupClaim, DueTimer, IncidentFilter, NewOutboxMessage, OutboxMessage, OutboxStatus, Receipt,
    Store, StoreError, StoreResult, StoreStats, Tx, from_ms, ms,
};

const INCIDENT_COLUMNS: &str = "id, ticket, title, description, status, severity, system_id, unit_id, source, \
     dedup_key, assignee, occurrences, labels, link, created_at, updated_at, acknowledged_at, resolved_at, closed_at";

const OUTBOX_COLUMNS: &str = "id, idempotency_key, incident_id, sink, payload, status, attempts, next_attempt_at, \
     last_error, created_at, sent_at";

#[derive(sqlx::FromRow)]
struct IncidentRow {
    id: i64,
    ticket: String,
    title: String,
    description: String,
    status: String,
    severity: i64,
    system_id: Option<String>,
    unit_id: Option<String>,
    source: String,
    dedup_key: String,
    assignee: Option<String>,
    occurrences: i64,
    labels: String,
    link: Option<String>,
    created_at: i64,
    updated_at: i64,
    acknowledged_at: Option<i64>,
    resolved_at: Option<i64>,
    closed_at: Option<i64>,
}

impl IncidentRow {
    fn into_domain(self) -> StoreResult<Incident> {
        let corrupt = |what: &str, v: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("incident {}: {what} '{v}'", self.id))
        };
        let opt_ms = |v: Option<i64>| v.map(from_ms).transpose();
        Ok(Incident {
            id: IncidentId(self.id),
            ticket: self.ticket.parse::<TicketNo>().map_err(|_| corrupt("ticket", &self.ticket))?,
            status: Status::parse(&self.status).ok_or_else(|| corrupt("status", &self.status))?,
            severity: Severity::from_level(self.severity)
                .ok_or_else(|| corrupt("severity", &self.severity))?,
            labels: serde_json::from_str::<BTreeMap<String, String>>(&self.labels)
                .map_err(|_| corrupt("labels", &self.labels))?,
            occurrences: u32::try_from(self.occurrences)
                .map_err(|_| corrupt("occurrences", &self.occurrences))?,
            title: self.title,
            description: self.description,
            system: self.system_id,
            unit: self.unit_id,
            source: self.source,
            dedup_key: DedupKey::from_stored(self.dedup_key),
            assignee: self.assignee.map(PersonId),
            link: self.link,
            created_at: from_ms(self.created_at)?,
            updated_at: from_ms(self.updated_at)?,
            acknowledged_at: opt_ms(self.acknowledged_at)?,
            resolved_at: opt_ms(self.resolved_at)?,
            closed_at: opt_ms(self.closed_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TimelineRow {
    id: i64,
    at: i64,
    actor_kind: String,
    actor_id: Option<String>,
    channel: String,
    detail: String,
}

impl TimelineRow {
    fn into_domain(self) -> StoreResult<TimelineEntry> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("timeline entry {}: {what}", self.id));
        Ok(TimelineEntry {
            at: from_ms(self.at)?,
            actor: Actor::from_parts(&self.actor_kind, self.actor_id.clone())
                .ok_or_else(|| corrupt("actor"))?,
            channel: Channel::parse(&self.channel).ok_or_else(|| corrupt("channel"))?,
            event: serde_json::from_str::<EventKind>(&self.detail).map_err(|_| corrupt("detail"))?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    idempotency_key: String,
    incident_id: Option<i64>,
    sink: String,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
}

impl OutboxRow {
    fn into_domain(self) -> StoreResult<OutboxMessage> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("outbox message {}: {what}", self.id));
        Ok(OutboxMessage {
            id: self.id,
            incident_id: self.incident_id.map(IncidentId),
            payload: serde_json::from_str(&self.payload).map_err(|_| corrupt("payload"))?,
            status: OutboxStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            attempts: u32::try_from(self.attempts).map_err(|_| corrupt("attempts"))?,
            next_attempt_at: from_ms(self.next_attempt_at)?,
            created_at: from_ms(self.created_at)?,
            sent_at: self.sent_at.map(from_ms).transpose()?,
            idempotency_key: self.idempotency_key,
            sink: self.sink,
            last_error: self.last_error,
        })
    }
}

/// The store: a writer pool and a reader pool (the same pool on PostgreSQL).
pub struct SqlStore {
    pub(super) writer: Pool<Db>,
    pub(super) reader: Pool<Db>,
}

pub struct SqlTx {
    tx: Transaction<'static, Db>,
}

fn labels_json(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).expect("a string map always serializes")
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        dialect::BACKEND
    }

    async fn migrate(&self) -> StoreResult<()> {
        dialect::MIGRATOR.run(&self.writer).await.map_err(|e| StoreError::Migrate(e.to_string()))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = dialect::begin_write(&self.writer).await?;
        Ok(Box::new(SqlTx { tx }))
    }

    async fn begin_intake(&self) -> StoreResult<Box<dyn Tx>> {
        let mut tx = dialect::begin_write(&self.writer).await?;
        if let Some(lock) = dialect::INTAKE_LOCK {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        Ok(Box::new(SqlTx { tx }))
    }

    async fn incident_by_ticket(&self, ticket: TicketNo) -> StoreResult<Option<Incident>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE ticket = $1"));
        let row: Option<IncidentRow> =
            sqlx::query_as(sql).bind(ticket.to_string()).fetch_optional(&self.reader).await?;
        row.map(IncidentRow::into_domain).transpose()
    }

    async fn incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<Incident>> {
        let mut q: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE 1=1"));
        if !filter.statuses.is_empty() {
            q.push(" AND status IN (");
            let mut list = q.separated(", ");
            for s in &filter.statuses {
                list.push_bind(s.as_str());
            }
            q.push(")");
        }
        if !filter.severities.is_empty() {
            q.push(" AND severity IN (");
            let mut list = q.separated(", ");
            for s in &filter.severities {
                list.push_bind(i64::from(s.level()));
            }
            q.push(")");
        }
        if let Some(system) = &filter.system {
            q.push(" AND system_id = ").push_bind(system.clone());
        }
        if let Some(unit) = &filter.unit {
            q.push(" AND unit_id = ").push_bind(unit.clone());
        }
        if let Some(from) = filter.created_from {
            q.push(" AND created_at >= ").push_bind(ms(from));
        }
        if let Some(until) = filter.created_until {
            q.push(" AND created_at < ").push_bind(ms(until));
        }
        if let Some(before) = filter.before_id {
            q.push(" AND id < ").push_bind(before.0);
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(filter.limit.max(1)));
        let rows: Vec<IncidentRow> = q.build_query_as().fetch_all(&self.reader).await?;
        rows.into_iter().map(IncidentRow::into_domain).collect()
    }

    async fn timeline(&self, incident: IncidentId) -> StoreResult<Vec<TimelineEntry>> {
        let rows: Vec<TimelineRow> = sqlx::query_as(
            "SELECT id, at, actor_kind, actor_id, channel, detail FROM timeline WHERE incident_id = $1 ORDER BY id",
        )
        .bind(incident.0)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(TimelineRow::into_domain).collect()
    }

    async fn next_timer_due(&self) -> StoreResult<Option<Timestamp>> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MIN(due_at) FROM timers").fetch_one(&self.reader).await?;
        v.map(from_ms).transpose()
    }

    async fn claim_outbox(
        &self,
        worker: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let sql = sqlx::AssertSqlSafe(format!("{} RETURNING {OUTBOX_COLUMNS}", dialect::CLAIM_OUTBOX));
        let rows: Vec<OutboxRow> = sqlx::query_as(sql)
            .bind(worker)
            .bind(ms(now + lease))
            .bind(ms(now))
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        let mut out = rows.into_iter().map(OutboxRow::into_domain).collect::<StoreResult<Vec<_>>>()?;
        out.sort_by_key(|m| (m.next_attempt_at, m.id));
        Ok(out)
    }

    async fn outbox_sent(&self, id: i64, worker: &str, at: Timestamp) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $1, claimed_by = NULL, claimed_until = NULL, last_error = NULL \
             WHERE id = $2 AND claimed_by = $3 AND status = 'pending'",
        )
        .bind(ms(at))
        .bind(id)
        .bind(worker)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn outbox_retry(&self, id: i64, worker: &str, at: Timestamp, error: &str) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1, last_error = $2, claimed_by = NULL, claimed_until = NULL \
             WHERE id = $3 AND claimed_by = $4 AND status = 'pending'",
        )
        .bind(ms(at))
        .bind(error)
        .bind(id)
        .bind(worker)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn outbox_dead(&self, id: i64, worker: &str, error: &str) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE outbox SET status = 'dead', last_error = $1, claimed_by = NULL, claimed_until = NULL \
             WHERE id = $2 AND claimed_by = $3 AND status = 'pending'",
        )
        .bind(error)
        .bind(id)
        .bind(worker)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn next_outbox_due(&self) -> StoreResult<Option<Timestamp>> {
        // A claimed row becomes due again when its lease ends.
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(CASE WHEN claimed_until IS NOT NULL AND claimed_until > next_attempt_at \
             THEN claimed_until ELSE next_attempt_at END) FROM outbox WHERE status = 'pending'",
        )
        .fetch_one(&self.reader)
        .await?;
        v.map(from_ms).transpose()
    }

    async fn outbox_messages(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!("SELECT {OUTBOX_COLUMNS} FROM outbox"));
        if let Some(s) = status {
            q.push(" WHERE status = ").push_bind(s.as_str());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit.max(1)));
        let rows: Vec<OutboxRow> = q.build_query_as().fetch_all(&self.reader).await?;
        rows.into_iter().map(OutboxRow::into_domain).collect()
    }

    async fn stats(&self, now: Timestamp) -> StoreResult<StoreStats> {
        let mut stats = StoreStats::default();
        let open: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT severity, COUNT(*) FROM incidents \
             WHERE status IN ('new', 'reopened', 'acknowledged', 'in_progress', 'on_site') GROUP BY severity",
        )
        .fetch_all(&self.reader)
        .await?;
        for s in Severity::ALL {
            stats.open_by_severity.insert(s.level(), 0);
        }
        for (sev, n) in open {
            stats.open_by_severity.insert(sev as u8, n);
        }
        stats.incidents_total =
            sqlx::query_scalar("SELECT COUNT(*) FROM incidents").fetch_one(&self.reader).await?;
        let outbox: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM outbox WHERE status IN ('pending', 'dead') GROUP BY status",
        )
        .fetch_all(&self.reader)
        .await?;
        for (status, n) in outbox {
            match status.as_str() {
                "pending" => stats.outbox_pending = n,
                _ => stats.outbox_dead = n,
            }
        }
        stats.timers_pending =
            sqlx::query_scalar("SELECT COUNT(*) FROM timers").fetch_one(&self.reader).await?;
        let overdue: Option<i64> = sqlx::query_scalar("SELECT MIN(due_at) FROM timers WHERE due_at <= $1")
            .bind(ms(now))
            .fetch_one(&self.reader)
            .await?;
        stats.oldest_overdue_timer = overdue.map(from_ms).transpose()?;
        Ok(stats)
    }
}

#[async_trait]
impl Tx for SqlTx {
    async fn record_receipt(
        &mut self,
        source: &str,
        occurrence_id: &str,
        at: Timestamp,
    ) -> StoreResult<Receipt> {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO intake_receipts (source, occurrence_id, received_at) VALUES ($1, $2, $3) \
             ON CONFLICT (source, occurrence_id) DO NOTHING RETURNING received_at",
        )
        .bind(source)
        .bind(occurrence_id)
        .bind(ms(at))
        .fetch_optional(&mut *self.tx)
        .await?;
        if inserted.is_some() {
            return Ok(Receipt::New);
        }
        let incident: Option<i64> = sqlx::query_scalar(
            "SELECT incident_id FROM intake_receipts WHERE source = $1 AND occurrence_id = $2",
        )
        .bind(source)
        .bind(occurrence_id)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(Receipt::Seen(incident.map(IncidentId)))
    }

    async fn link_receipt(
        &mut self,
        source: &str,
        occurrence_id: &str,
        incident: IncidentId,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE intake_receipts SET incident_id = $1 WHERE source = $2 AND occurrence_id = $3")
            .bind(incident.0)
            .bind(source)
            .bind(occurrence_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn claim_dedup(&mut self, key: &DedupKey) -> StoreResult<DedupClaim> {
        // Insert-first: on PostgreSQL a concurrent claimant waits here for the other transaction and
        // then sees its row, so two instances never open two incidents for one fault.
        let claimed: Option<String> = sqlx::query_scalar(
            "INSERT INTO open_dedup (dedup_key, incident_id) VALUES ($1, NULL) \
             ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key",
        )
        .bind(key.as_str())
        .fetch_optional(&mut *self.tx)
        .await?;
        if claimed.is_some() {
            return Ok(DedupClaim::Claimed);
        }
        let holder: Option<i64> =
            sqlx::query_scalar("SELECT incident_id FROM open_dedup WHERE dedup_key = $1")
                .bind(key.as_str())
                .fetch_one(&mut *self.tx)
                .await?;
        match holder {
            Some(id) => Ok(DedupClaim::HeldBy(IncidentId(id))),
            // A claim is always bound in the transaction that made it; an unbound row is a bug.
            None => {
                Err(StoreError::Corrupt(format!("dedup key '{key}' is claimed but bound to no incident")))
            }
        }
    }

    async fn dedup_holder(&mut self, key: &DedupKey) -> StoreResult<Option<IncidentId>> {
        let holder: Option<Option<i64>> =
            sqlx::query_scalar("SELECT incident_id FROM open_dedup WHERE dedup_key = $1")
                .bind(key.as_str())
                .fetch_optional(&mut *self.tx)
                .await?;
        Ok(holder.flatten().map(IncidentId))
    }

    async fn bind_dedup(&mut self, key: &DedupKey, incident: IncidentId) -> StoreResult<()> {
        sqlx::query("UPDATE open_dedup SET incident_id = $1 WHERE dedup_key = $2")
            .bind(incident.0)
            .bind(key.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn release_dedup(&mut self, key: &DedupKey, incident: IncidentId) -> StoreResult<()> {
        sqlx::query("DELETE FROM open_dedup WHERE dedup_key = $1 AND incident_id = $2")
            .bind(key.as_str())
            .bind(incident.0)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn next_ticket_seq(&mut self, day: Date) -> StoreResult<u32> {
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO ticket_counters (day, last_seq) VALUES ($1, 1) \
             ON CONFLICT (day) DO UPDATE SET last_seq = ticket_counters.last_seq + 1 RETURNING last_seq",
        )
        .bind(TicketNo::day_key(day))
        .fetch_one(&mut *self.tx)
        .await?;
        u32::try_from(seq).map_err(|_| StoreError::Corrupt(format!("ticket counter {seq}")))
    }

    async fn next_incident_id(&mut self) -> StoreResult<IncidentId> {
        let id: i64 = sqlx::query_scalar(dialect::NEXT_INCIDENT_ID).fetch_one(&mut *self.tx).await?;
        Ok(IncidentId(id))
    }

    async fn insert_incident(&mut self, i: &Incident) -> StoreResult<()> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO incidents ({INCIDENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        ));
        sqlx::query(sql)
            .bind(i.id.0)
            .bind(i.ticket.to_string())
            .bind(&i.title)
            .bind(&i.description)
            .bind(i.status.as_str())
            .bind(i64::from(i.severity.level()))
            .bind(&i.system)
            .bind(&i.unit)
            .bind(&i.source)
            .bind(i.dedup_key.as_str())
            .bind(i.assignee.as_ref().map(|p| p.0.clone()))
            .bind(i64::from(i.occurrences))
            .bind(labels_json(&i.labels))
            .bind(&i.link)
            .bind(ms(i.created_at))
            .bind(ms(i.updated_at))
            .bind(i.acknowledged_at.map(ms))
            .bind(i.resolved_at.map(ms))
            .bind(i.closed_at.map(ms))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn lock_incident(&mut self, id: IncidentId) -> StoreResult<Incident> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1{}",
            dialect::FOR_UPDATE
        ));
        let row: Option<IncidentRow> = sqlx::query_as(sql).bind(id.0).fetch_optional(&mut *self.tx).await?;
        row.ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?.into_domain()
    }

    async fn lock_incident_by_ticket(&mut self, ticket: TicketNo) -> StoreResult<Option<Incident>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE ticket = $1{}",
            dialect::FOR_UPDATE
        ));
        let row: Option<IncidentRow> =
            sqlx::query_as(sql).bind(ticket.to_string()).fetch_optional(&mut *self.tx).await?;
        row.map(IncidentRow::into_domain).transpose()
    }

    async fn save_incident(&mut self, i: &Incident) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE incidents SET title = $1, description = $2, status = $3, severity = $4, system_id = $5, \
             unit_id = $6, assignee = $7, occurrences = $8, labels = $9, link = $10, updated_at = $11, \
             acknowledged_at = $12, resolved_at = $13, closed_at = $14 WHERE id = $15",
        )
        .bind(&i.title)
        .bind(&i.description)
        .bind(i.status.as_str())
        .bind(i64::from(i.severity.level()))
        .bind(&i.system)
        .bind(&i.unit)
        .bind(i.assignee.as_ref().map(|p| p.0.clone()))
        .bind(i64::from(i.occurrences))
        .bind(labels_json(&i.labels))
        .bind(&i.link)
        .bind(ms(i.updated_at))
        .bind(i.acknowledged_at.map(ms))
        .bind(i.resolved_at.map(ms))
        .bind(i.closed_at.map(ms))
        .bind(i.id.0)
        .execute(&mut *self.tx)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::NotFound(format!("incident {}", i.id)));
        }
        Ok(())
    }

    async fn append_timeline(&mut self, incident: IncidentId, e: &TimelineEntry) -> StoreResult<i64> {
        let detail = serde_json::to_string(&e.event).expect("events always serialize");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO timeline (incident_id, at, actor_kind, actor_id, channel, kind, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(incident.0)
        .bind(ms(e.at))
        .bind(e.actor.kind())
        .bind(e.actor.id())
        .bind(e.channel.as_str())
        .bind(e.event.name())
        .bind(detail)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(id)
    }

    async fn arm_timer(
        &mut self,
        incident: IncidentId,
        kind: TimerKind,
        due: Timestamp,
        now: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO timers (incident_id, kind, due_at, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (incident_id, kind) DO UPDATE SET due_at = excluded.due_at",
        )
        .bind(incident.0)
        .bind(kind.as_str())
        .bind(ms(due))
        .bind(ms(now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn cancel_timer(&mut self, incident: IncidentId, kind: TimerKind) -> StoreResult<()> {
        sqlx::query("DELETE FROM timers WHERE incident_id = $1 AND kind = $2")
            .bind(incident.0)
            .bind(kind.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn take_due_timers(&mut self, now: Timestamp, limit: u32) -> StoreResult<Vec<DueTimer>> {
        let rows = sqlx::query(dialect::TAKE_DUE_TIMERS)
            .bind(ms(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await?;
        let mut timers = Vec::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get("kind")?;
            timers.push(DueTimer {
                incident_id: IncidentId(row.try_get("incident_id")?),
                kind: TimerKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("timer kind '{kind}'")))?,
                due_at: from_ms(row.try_get("due_at")?)?,
            });
        }
        timers.sort_by_key(|t| (t.due_at, t.incident_id));
        Ok(timers)
    }

    async fn enqueue(&mut self, m: &NewOutboxMessage) -> StoreResult<bool> {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO outbox (idempotency_key, incident_id, sink, payload, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        )
        .bind(&m.idempotency_key)
        .bind(m.incident_id.map(|i| i.0))
        .bind(&m.sink)
        .bind(m.payload.to_string())
        .bind(ms(m.not_before))
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(inserted.is_some())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}
