// The SQL both backends share. This file is compiled once inside `store::sqlite` and once inside
// `store::postgres` (see their `#[path]` attributes); `Db` and `dialect` come from the includer.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp, civil::Date};
use sqlx::{Pool, QueryBuilder, Row, Transaction};

use super::{Db, dialect};
use crate::domain::audit::{AuditEntry, AuditRecord};
use crate::domain::silence::{Matcher, Silence};
use crate::domain::{
    Actor, Channel, DedupKey, EventKind, Incident, IncidentId, PersonId, Severity, Status, TicketNo,
    TimelineEntry, TimerKind,
};
use crate::store::{
    Backend, DueTimer, IncidentFilter, NewOutboxMessage, NewPage, OutboxMessage, OutboxStatus, Page,
    PageStatus, PageStop, ReceiptKey, ShiftSwap, Store, StoreError, StoreResult, StoreStats, Tx, from_ms, ms,
};

const PAGE_COLUMNS: &str = "id, incident_id, page_key, person, channel, reason, status, due_at, created_at, \
     sent_at, answered_at, error";

const SWAP_COLUMNS: &str = "id, schedule, person, replaces, starts_at, ends_at, requested_by, approved_by, reason, \
     created_at, cancelled_at";

#[derive(sqlx::FromRow)]
struct SwapRow {
    id: i64,
    schedule: String,
    person: String,
    replaces: Option<String>,
    starts_at: i64,
    ends_at: i64,
    requested_by: Option<String>,
    approved_by: String,
    reason: String,
    created_at: i64,
    cancelled_at: Option<i64>,
}

impl SwapRow {
    fn into_domain(self) -> StoreResult<ShiftSwap> {
        Ok(ShiftSwap {
            id: self.id,
            schedule: self.schedule,
            person: PersonId(self.person),
            replaces: self.replaces.map(PersonId),
            from: from_ms(self.starts_at)?,
            until: from_ms(self.ends_at)?,
            requested_by: self.requested_by.map(PersonId),
            approved_by: PersonId(self.approved_by),
            reason: self.reason,
            created_at: from_ms(self.created_at)?,
            cancelled_at: self.cancelled_at.map(from_ms).transpose()?,
        })
    }
}

const SILENCE_COLUMNS: &str = "id, matcher, reason, created_by, starts_at, ends_at, ended_at";

#[derive(sqlx::FromRow)]
struct SilenceRow {
    id: i64,
    matcher: String,
    reason: String,
    created_by: String,
    starts_at: i64,
    ends_at: i64,
    ended_at: Option<i64>,
}

impl SilenceRow {
    fn into_domain(self) -> StoreResult<Silence> {
        Ok(Silence {
            id: self.id,
            matcher: serde_json::from_str(&self.matcher)
                .map_err(|_| StoreError::Corrupt(format!("silence {}: matcher", self.id)))?,
            reason: self.reason,
            created_by: PersonId(self.created_by),
            starts_at: from_ms(self.starts_at)?,
            ends_at: from_ms(self.ends_at)?,
            ended_at: self.ended_at.map(from_ms).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PageRow {
    id: i64,
    incident_id: i64,
    page_key: String,
    person: String,
    channel: String,
    reason: String,
    status: String,
    due_at: i64,
    created_at: i64,
    sent_at: Option<i64>,
    answered_at: Option<i64>,
    error: Option<String>,
}

impl PageRow {
    fn into_domain(self) -> StoreResult<Page> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("page {}: {what}", self.id));
        Ok(Page {
            id: self.id,
            incident_id: IncidentId(self.incident_id),
            reason: serde_json::from_str(&self.reason).map_err(|_| corrupt("reason"))?,
            status: PageStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            due_at: from_ms(self.due_at)?,
            created_at: from_ms(self.created_at)?,
            sent_at: self.sent_at.map(from_ms).transpose()?,
            answered_at: self.answered_at.map(from_ms).transpose()?,
            page_key: self.page_key,
            person: PersonId(self.person),
            channel: self.channel,
            error: self.error,
        })
    }
}

pub(super) const INCIDENT_COLUMNS: &str = "id, ticket, title, description, status, severity, system_id, unit_id, source, \
     dedup_key, assignee, occurrences, event_count, labels, link, created_at, updated_at, acknowledged_at, \
     resolved_at, closed_at, sla, escalation";

const OUTBOX_COLUMNS: &str = "id, idempotency_key, incident_id, sink, payload, status, attempts, next_attempt_at, \
     last_error, created_at, sent_at";

#[derive(sqlx::FromRow)]
pub(super) struct IncidentRow {
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
    event_count: i64,
    labels: String,
    link: Option<String>,
    created_at: i64,
    updated_at: i64,
    acknowledged_at: Option<i64>,
    resolved_at: Option<i64>,
    closed_at: Option<i64>,
    sla: Option<String>,
    escalation: Option<String>,
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
            event_count: u32::try_from(self.event_count)
                .map_err(|_| corrupt("event_count", &self.event_count))?,
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
            sla: self
                .sla
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("incident {}: sla: {e}", self.id)))?,
            escalation: self
                .escalation
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("incident {}: escalation: {e}", self.id)))?,
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
struct AuditRow {
    seq: i64,
    at: i64,
    actor_kind: String,
    actor_id: Option<String>,
    action: String,
    subject: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl AuditRow {
    fn into_domain(self) -> StoreResult<AuditRecord> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("audit record {}: {what}", self.seq));
        Ok(AuditRecord {
            seq: self.seq,
            entry: AuditEntry {
                at: from_ms(self.at)?,
                actor: Actor::from_parts(&self.actor_kind, self.actor_id.clone())
                    .ok_or_else(|| corrupt("actor"))?,
                action: self.action,
                subject: self.subject,
                detail: serde_json::from_str(&self.detail).map_err(|_| corrupt("detail"))?,
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
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

/// Set when an incident row is written again: every field that can change.
pub(super) const UPSERT_INCIDENTS: &str = " ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
     description = excluded.description, status = excluded.status, severity = excluded.severity, \
     system_id = excluded.system_id, unit_id = excluded.unit_id, assignee = excluded.assignee, \
     occurrences = excluded.occurrences, event_count = excluded.event_count, labels = excluded.labels, \
     link = excluded.link, updated_at = excluded.updated_at, acknowledged_at = excluded.acknowledged_at, \
     resolved_at = excluded.resolved_at, closed_at = excluded.closed_at, \
     sla = excluded.sla, escalation = excluded.escalation";

pub struct SqlTx {
    tx: Transaction<'static, Db>,
}

pub(super) fn labels_json(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).expect("a string map always serializes")
}

pub(super) fn sla_json(incident: &Incident) -> Option<String> {
    incident.sla.as_ref().map(|s| serde_json::to_string(s).expect("the SLA state always serializes"))
}

pub(super) fn escalation_json(incident: &Incident) -> Option<String> {
    incident
        .escalation
        .as_ref()
        .map(|s| serde_json::to_string(s).expect("the escalation state always serializes"))
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
        let mut tx = dialect::begin_write(&self.writer).await?;
        if let Some(lock) = dialect::WRITE_LOCK {
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

    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"));
        let row: Option<IncidentRow> = sqlx::query_as(sql).bind(id.0).fetch_optional(&self.reader).await?;
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
        q.push(if filter.most_severe_first {
            " ORDER BY severity, id DESC LIMIT "
        } else {
            " ORDER BY id DESC LIMIT "
        })
        .push_bind(i64::from(filter.limit.max(1)));
        let rows: Vec<IncidentRow> = q.build_query_as().fetch_all(&self.reader).await?;
        rows.into_iter().map(IncidentRow::into_domain).collect()
    }

    async fn incident_with_timeline(
        &self,
        ticket: TicketNo,
    ) -> StoreResult<Option<(Incident, Vec<TimelineEntry>)>> {
        let mut tx = self.reader.begin_with(dialect::BEGIN_SNAPSHOT).await?;
        let sql = sqlx::AssertSqlSafe(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE ticket = $1"));
        let row: Option<IncidentRow> =
            sqlx::query_as(sql).bind(ticket.to_string()).fetch_optional(&mut *tx).await?;
        let Some(row) = row else { return Ok(None) };
        let incident = row.into_domain()?;
        let rows: Vec<TimelineRow> = sqlx::query_as(
            "SELECT id, at, actor_kind, actor_id, channel, detail FROM timeline WHERE incident_id = $1 ORDER BY seq",
        )
        .bind(incident.id.0)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let timeline = rows.into_iter().map(TimelineRow::into_domain).collect::<StoreResult<Vec<_>>>()?;
        Ok(Some((incident, timeline)))
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

    async fn outbox_defer(&self, id: i64, worker: &str, at: Timestamp, reason: &str) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1, last_error = $2, attempts = attempts - 1, \
             claimed_by = NULL, claimed_until = NULL WHERE id = $3 AND claimed_by = $4 AND status = 'pending'",
        )
        .bind(ms(at))
        .bind(reason)
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

    async fn audit_log(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT seq, at, actor_kind, actor_id, action, subject, detail, prev_hash, hash FROM audit_log \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(AuditRow::into_domain).collect()
    }

    async fn page(&self, id: i64) -> StoreResult<Option<Page>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {PAGE_COLUMNS} FROM pages WHERE id = $1"));
        let row: Option<PageRow> = sqlx::query_as(sql).bind(id).fetch_optional(&self.reader).await?;
        row.map(PageRow::into_domain).transpose()
    }

    async fn pages_of(&self, incident: IncidentId) -> StoreResult<Vec<Page>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {PAGE_COLUMNS} FROM pages WHERE incident_id = $1 ORDER BY id"
        ));
        let rows: Vec<PageRow> = sqlx::query_as(sql).bind(incident.0).fetch_all(&self.reader).await?;
        rows.into_iter().map(PageRow::into_domain).collect()
    }

    async fn page_result(
        &self,
        id: i64,
        status: PageStatus,
        at: Timestamp,
        error: Option<&str>,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE pages SET status = $1, sent_at = COALESCE(sent_at, $2), error = $3 \
             WHERE id = $4 AND status IN ('queued', 'sent')",
        )
        .bind(status.as_str())
        .bind(ms(at))
        .bind(error)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn use_link(&self, page_id: i64, action: &str, at: Timestamp) -> StoreResult<bool> {
        let r = sqlx::query(
            "INSERT INTO link_uses (page_id, action, used_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(page_id)
        .bind(action)
        .bind(ms(at))
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn shift_swaps(&self, ends_after: Timestamp) -> StoreResult<Vec<ShiftSwap>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {SWAP_COLUMNS} FROM schedule_overrides WHERE ends_at > $1 AND cancelled_at IS NULL ORDER BY id"
        ));
        let rows: Vec<SwapRow> = sqlx::query_as(sql).bind(ms(ends_after)).fetch_all(&self.reader).await?;
        rows.into_iter().map(SwapRow::into_domain).collect()
    }

    async fn last_handover(&self, schedule: &str) -> StoreResult<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar("SELECT MAX(at) FROM handovers WHERE schedule = $1")
            .bind(schedule)
            .fetch_one(&self.reader)
            .await?;
        at.map(from_ms).transpose()
    }

    async fn silences(&self, active_at: Option<Timestamp>) -> StoreResult<Vec<Silence>> {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!("SELECT {SILENCE_COLUMNS} FROM silences"));
        if let Some(now) = active_at {
            q.push(" WHERE ends_at > ").push_bind(ms(now)).push(" AND ended_at IS NULL");
        }
        q.push(" ORDER BY id DESC LIMIT 500");
        let rows: Vec<SilenceRow> = q.build_query_as().fetch_all(&self.reader).await?;
        rows.into_iter().map(SilenceRow::into_domain).collect()
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
        for s in PageStatus::ALL {
            stats.pages_by_status.insert(s.as_str().to_string(), 0);
        }
        let pages: Vec<(String, i64)> = sqlx::query_as("SELECT status, COUNT(*) FROM pages GROUP BY status")
            .fetch_all(&self.reader)
            .await?;
        stats.pages_by_status.extend(pages);
        stats.chat_inbox_pending = crate::store::chat::ChatStore::inbox_pending(self).await?;
        Ok(stats)
    }
}

#[async_trait]
impl Tx for SqlTx {
    async fn find_receipts(
        &mut self,
        keys: &[ReceiptKey],
    ) -> StoreResult<HashMap<ReceiptKey, Option<IncidentId>>> {
        let mut by_source: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for k in keys {
            by_source.entry(k.source.as_str()).or_default().push(k.occurrence_id.as_str());
        }
        let mut found = HashMap::new();
        for (source, ids) in by_source {
            for (occurrence_id, incident) in dialect::find_receipts(&mut self.tx, source, &ids).await? {
                found.insert(
                    ReceiptKey { source: source.to_string(), occurrence_id },
                    incident.map(IncidentId),
                );
            }
        }
        Ok(found)
    }

    async fn insert_receipts(
        &mut self,
        rows: &[(ReceiptKey, Option<IncidentId>)],
        at: Timestamp,
    ) -> StoreResult<()> {
        Ok(dialect::insert_receipts(&mut self.tx, rows, ms(at)).await?)
    }

    async fn dedup_holders(&mut self, keys: &[DedupKey]) -> StoreResult<HashMap<DedupKey, IncidentId>> {
        let rows = dialect::dedup_holders(&mut self.tx, keys).await?;
        Ok(rows.into_iter().map(|(k, id)| (DedupKey::from_stored(k), IncidentId(id))).collect())
    }

    async fn claim_dedups(&mut self, claims: &[(DedupKey, IncidentId)]) -> StoreResult<Vec<DedupKey>> {
        let taken: std::collections::HashSet<String> =
            dialect::claim_dedups(&mut self.tx, claims).await?.into_iter().collect();
        Ok(claims.iter().filter(|(k, _)| !taken.contains(k.as_str())).map(|(k, _)| k.clone()).collect())
    }

    async fn release_dedups(&mut self, releases: &[(DedupKey, IncidentId)]) -> StoreResult<()> {
        for (key, incident) in releases {
            sqlx::query("DELETE FROM open_dedup WHERE dedup_key = $1 AND incident_id = $2")
                .bind(key.as_str())
                .bind(incident.0)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn reserve_ticket_seqs(&mut self, day: Date, count: u32) -> StoreResult<u32> {
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO ticket_counters (day, last_seq) VALUES ($1, $2) \
             ON CONFLICT (day) DO UPDATE SET last_seq = ticket_counters.last_seq + $2 RETURNING last_seq",
        )
        .bind(TicketNo::day_key(day))
        .bind(i64::from(count))
        .fetch_one(&mut *self.tx)
        .await?;
        u32::try_from(last - i64::from(count) + 1)
            .map_err(|_| StoreError::Corrupt(format!("ticket counter {last}")))
    }

    async fn next_incident_ids(&mut self, count: u32) -> StoreResult<Vec<IncidentId>> {
        Ok(dialect::next_incident_ids(&mut self.tx, count).await?.into_iter().map(IncidentId).collect())
    }

    async fn insert_incidents(&mut self, incidents: &[Incident]) -> StoreResult<()> {
        Ok(dialect::write_incidents(&mut self.tx, incidents, false).await?)
    }

    async fn lock_incidents(&mut self, ids: &[IncidentId]) -> StoreResult<Vec<Incident>> {
        let mut sorted: Vec<i64> = ids.iter().map(|i| i.0).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let rows = dialect::lock_incidents(&mut self.tx, &sorted).await?;
        rows.into_iter().map(IncidentRow::into_domain).collect()
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

    async fn count_opened(&mut self, system: &str, since: Timestamp) -> StoreResult<usize> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incidents WHERE system_id = $1 AND created_at >= $2 AND status <> 'cancelled'",
        )
        .bind(system)
        .bind(ms(since))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn save_incidents(&mut self, incidents: &[Incident]) -> StoreResult<()> {
        Ok(dialect::write_incidents(&mut self.tx, incidents, true).await?)
    }

    async fn append_timeline(&mut self, entries: &[(IncidentId, u32, TimelineEntry)]) -> StoreResult<()> {
        Ok(dialect::append_timeline(&mut self.tx, entries).await?)
    }

    async fn arm_timers(
        &mut self,
        timers: &[(IncidentId, TimerKind, Timestamp)],
        now: Timestamp,
    ) -> StoreResult<()> {
        Ok(dialect::arm_timers(&mut self.tx, timers, ms(now)).await?)
    }

    async fn cancel_timers(&mut self, timers: &[(IncidentId, TimerKind)]) -> StoreResult<()> {
        if timers.is_empty() {
            return Ok(());
        }
        Ok(dialect::cancel_timers(&mut self.tx, timers).await?)
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

    async fn last_audit(&mut self) -> StoreResult<Option<(i64, String)>> {
        Ok(sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *self.tx)
            .await?)
    }

    async fn append_audit(&mut self, records: &[AuditRecord]) -> StoreResult<()> {
        for r in records {
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, subject, detail, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(r.seq)
            .bind(ms(r.entry.at))
            .bind(r.entry.actor.kind())
            .bind(r.entry.actor.id())
            .bind(&r.entry.action)
            .bind(&r.entry.subject)
            .bind(r.entry.detail.to_string())
            .bind(&r.prev_hash)
            .bind(&r.hash)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn insert_pages(&mut self, pages: &[NewPage], now: Timestamp) -> StoreResult<Vec<Option<i64>>> {
        if pages.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for the set; it returns the rows it inserted in no promised order, so they
        // are matched back by key. A page already there (or a second one with the same key) gets
        // `None`, exactly as when each was inserted on its own.
        let inserted = dialect::insert_pages(&mut self.tx, pages, ms(now)).await?;
        let mut ids: HashMap<(i64, String), i64> =
            inserted.into_iter().map(|(id, incident, key)| ((incident, key), id)).collect();
        Ok(pages.iter().map(|p| ids.remove(&(p.incident_id.0, p.page_key.clone()))).collect())
    }

    async fn stop_pages(&mut self, stops: &[PageStop], at: Timestamp) -> StoreResult<()> {
        for stop in stops {
            let mut q: QueryBuilder<Db> =
                QueryBuilder::new("UPDATE pages SET status = 'cancelled', answered_at = ");
            q.push_bind(ms(at)).push(" WHERE incident_id = ").push_bind(stop.incident_id.0);
            q.push(" AND status = 'queued'");
            if let Some(person) = &stop.person {
                q.push(" AND person = ").push_bind(person.0.clone());
            }
            q.push(" RETURNING id");
            let cancelled: Vec<i64> = q.build_query_scalar().fetch_all(&mut *self.tx).await?;
            // Their messages need not wait for their time to be skipped; one already claimed by
            // a dispatcher is skipped there, as its page is cancelled.
            for id in cancelled {
                sqlx::query("DELETE FROM outbox WHERE idempotency_key = $1 AND status = 'pending' AND claimed_by IS NULL")
                    .bind(format!("page:{id}"))
                    .execute(&mut *self.tx)
                    .await?;
            }
            if let Some(person) = &stop.answered_by {
                sqlx::query(
                    "UPDATE pages SET status = 'acknowledged', answered_at = $1 \
                     WHERE incident_id = $2 AND person = $3 AND status IN ('sent', 'delivered')",
                )
                .bind(ms(at))
                .bind(stop.incident_id.0)
                .bind(&person.0)
                .execute(&mut *self.tx)
                .await?;
            }
        }
        Ok(())
    }

    async fn create_silence(
        &mut self,
        matcher: &Matcher,
        reason: &str,
        created_by: &PersonId,
        starts_at: Timestamp,
        ends_at: Timestamp,
    ) -> StoreResult<Silence> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO silences (matcher, reason, created_by, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5) \
             RETURNING {SILENCE_COLUMNS}"
        ));
        let row: SilenceRow = sqlx::query_as(sql)
            .bind(serde_json::to_string(matcher).expect("a matcher always serializes"))
            .bind(reason)
            .bind(&created_by.0)
            .bind(ms(starts_at))
            .bind(ms(ends_at))
            .fetch_one(&mut *self.tx)
            .await?;
        row.into_domain()
    }

    async fn end_silence(&mut self, id: i64, at: Timestamp) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE silences SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL AND ends_at > $1",
        )
        .bind(ms(at))
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn active_silences(&mut self, now: Timestamp) -> StoreResult<Vec<Silence>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {SILENCE_COLUMNS} FROM silences WHERE starts_at <= $1 AND ends_at > $1 AND ended_at IS NULL ORDER BY id"
        ));
        let rows: Vec<SilenceRow> = sqlx::query_as(sql).bind(ms(now)).fetch_all(&mut *self.tx).await?;
        rows.into_iter().map(SilenceRow::into_domain).collect()
    }

    async fn insert_shift_swap(&mut self, swap: &ShiftSwap) -> StoreResult<ShiftSwap> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO schedule_overrides (schedule, person, replaces, starts_at, ends_at, requested_by, \
             approved_by, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {SWAP_COLUMNS}"
        ));
        let row: SwapRow = sqlx::query_as(sql)
            .bind(&swap.schedule)
            .bind(&swap.person.0)
            .bind(swap.replaces.as_ref().map(|p| p.0.clone()))
            .bind(ms(swap.from))
            .bind(ms(swap.until))
            .bind(swap.requested_by.as_ref().map(|p| p.0.clone()))
            .bind(&swap.approved_by.0)
            .bind(&swap.reason)
            .bind(ms(swap.created_at))
            .fetch_one(&mut *self.tx)
            .await?;
        row.into_domain()
    }

    async fn cancel_shift_swap(&mut self, schedule: &str, id: i64, at: Timestamp) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE schedule_overrides SET cancelled_at = $1 WHERE id = $2 AND schedule = $3 AND cancelled_at IS NULL",
        )
        .bind(ms(at))
        .bind(id)
        .bind(schedule)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn record_handover(&mut self, schedule: &str, at: Timestamp, now: Timestamp) -> StoreResult<bool> {
        let r = sqlx::query(
            "INSERT INTO handovers (schedule, at, posted_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(schedule)
        .bind(ms(at))
        .bind(ms(now))
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn count_opened_since(&mut self, since: Timestamp) -> StoreResult<usize> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM incidents WHERE created_at >= $1")
            .bind(ms(since))
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn current_storm(&mut self, since: Timestamp) -> StoreResult<Option<IncidentId>> {
        let lead: Option<i64> = sqlx::query_scalar(
            "SELECT lead_incident FROM storms WHERE last_at >= $1 ORDER BY last_at DESC LIMIT 1",
        )
        .bind(ms(since))
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(lead.map(IncidentId))
    }

    async fn add_storm_members(&mut self, members: &[(IncidentId, IncidentId)]) -> StoreResult<()> {
        for (lead, member) in members {
            sqlx::query(
                "INSERT INTO storm_members (lead_incident, incident) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(lead.0)
            .bind(member.0)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn storm_members(&mut self, lead: IncidentId) -> StoreResult<Vec<IncidentId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT incident FROM storm_members WHERE lead_incident = $1 ORDER BY incident",
        )
        .bind(lead.0)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(ids.into_iter().map(IncidentId).collect())
    }

    async fn record_storm(&mut self, lead: IncidentId, at: Timestamp, more: u32) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO storms (lead_incident, started_at, last_at, incidents) VALUES ($1, $2, $2, $3) \
             ON CONFLICT (lead_incident) DO UPDATE SET last_at = $2, incidents = storms.incidents + $3",
        )
        .bind(lead.0)
        .bind(ms(at))
        .bind(i64::from(more))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn enqueue(&mut self, messages: &[NewOutboxMessage]) -> StoreResult<usize> {
        Ok(dialect::enqueue(&mut self.tx, messages).await?)
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}
