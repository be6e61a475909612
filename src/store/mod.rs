//! The database: one interface ([`Store`] and its unit of work [`Tx`]), two backends.
//!
//! SQLite (WAL, one writer connection) is the embedded default; PostgreSQL is chosen by a
//! `postgres://` URL and lets several instances share the work. The SQL is written once
//! (`common.rs`, compiled into each backend module) and only the statements that really differ
//! live in each backend's `dialect`. The domain never sees SQL; the store holds no business rules.

pub mod chat;
pub mod drill;
pub mod emergency;
pub mod mail;
mod postgres;
mod sqlite;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp, civil::Date};
use serde::Serialize;

use crate::domain::audit::AuditRecord;
use crate::domain::escalation::PageReason;
use crate::domain::silence::{Matcher, Silence};
use crate::domain::{
    DedupKey, Incident, IncidentId, PersonId, Severity, Status, TicketNo, TimelineEntry, TimerKind,
};

pub type SharedStore = Arc<dyn Store>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is busy: the caller should answer 503 and let the sender retry.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// A row holds something the code cannot read (a bug or a hand-edited database).
    #[error("the database holds an unreadable value: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Query(String),
    #[error("invalid database URL: {0}")]
    Url(String),
    #[error("migration failed: {0}")]
    Migrate(String),
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &e {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Protocol(_) => {
                StoreError::Unavailable(e.to_string())
            }
            E::RowNotFound => StoreError::NotFound(e.to_string()),
            E::Database(db) => {
                // SQLite busy/locked, PostgreSQL admin shutdown / cannot connect now / serialization.
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                let transient =
                    matches!(code.as_str(), "5" | "6" | "517" | "57P01" | "57P03" | "40001" | "40P01")
                        || code.starts_with("08")
                        || code.starts_with("53");
                if transient {
                    StoreError::Unavailable(e.to_string())
                } else {
                    StoreError::Query(e.to_string())
                }
            }
            E::ColumnDecode { .. } | E::Decode(_) | E::TypeNotFound { .. } => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Query(e.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    pub incident_id: IncidentId,
    pub kind: TimerKind,
    pub due_at: Timestamp,
}

/// A message to deliver, written in the same transaction as the change that caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxMessage {
    /// Unique per logical message: a retry or a second instance can never enqueue it twice.
    pub idempotency_key: String,
    pub incident_id: Option<IncidentId>,
    /// The configured sink that delivers it.
    pub sink: String,
    pub payload: serde_json::Value,
    pub not_before: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    Sent,
    /// Gave up after the retry limit or a permanent error; kept for people to see.
    Dead,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxStatus> {
        [OutboxStatus::Pending, OutboxStatus::Sent, OutboxStatus::Dead].into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub idempotency_key: String,
    pub incident_id: Option<IncidentId>,
    pub sink: String,
    pub payload: serde_json::Value,
    pub status: OutboxStatus,
    /// Attempts started so far (the claim that returned this row included).
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    pub statuses: Vec<Status>,
    pub severities: Vec<Severity>,
    pub system: Option<String>,
    pub unit: Option<String>,
    pub created_from: Option<Timestamp>,
    pub created_until: Option<Timestamp>,
    /// Newest first; at most this many.
    pub limit: u32,
    /// Only incidents with a smaller id (keyset pagination).
    pub before_id: Option<IncidentId>,
    /// Most severe first (then newest), instead of newest first: so that a limit never hides a
    /// 一级 incident behind a storm of milder ones.
    pub most_severe_first: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub open_by_severity: BTreeMap<u8, i64>,
    pub incidents_total: i64,
    pub outbox_pending: i64,
    pub outbox_dead: i64,
    pub timers_pending: i64,
    pub oldest_overdue_timer: Option<Timestamp>,
    /// Pages (呼叫) by status: queued, sent, delivered, acknowledged, failed, cancelled.
    pub pages_by_status: BTreeMap<String, i64>,
    /// Chat updates taken but not handled yet.
    pub chat_inbox_pending: i64,
}

/// The database, as the engine and the web layer see it.
#[async_trait]
pub trait Store:
    chat::ChatStore + mail::MailStore + drill::DrillStore + emergency::EmergencyStore + Send + Sync + 'static
{
    fn backend(&self) -> Backend;
    async fn migrate(&self) -> StoreResult<()>;
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> StoreResult<()>;
    /// A write transaction. Write transactions run one at a time: on SQLite they hold the one
    /// writer connection, on PostgreSQL a transaction-scoped advisory lock, so that instances take
    /// dedup keys and ticket numbers in turn and never deadlock on each other. Keep them short and
    /// never do network I/O inside; batch work into them instead. (Outbox claims need no
    /// transaction: they are single statements.)
    async fn begin(&self) -> StoreResult<Box<dyn Tx>>;

    async fn incident_by_ticket(&self, ticket: TicketNo) -> StoreResult<Option<Incident>>;
    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>>;
    async fn incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<Incident>>;
    /// An incident and its timeline read from one snapshot, so that they agree.
    async fn incident_with_timeline(
        &self,
        ticket: TicketNo,
    ) -> StoreResult<Option<(Incident, Vec<TimelineEntry>)>>;
    async fn next_timer_due(&self) -> StoreResult<Option<Timestamp>>;

    /// Lease up to `limit` due pending messages to `worker` for `lease`; their attempt count goes up.
    /// A message whose lease ran out (its worker died) is due again.
    async fn claim_outbox(
        &self,
        worker: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>>;
    /// Record delivery; false if the lease was lost meanwhile.
    async fn outbox_sent(&self, id: i64, worker: &str, at: Timestamp) -> StoreResult<bool>;
    async fn outbox_retry(&self, id: i64, worker: &str, at: Timestamp, error: &str) -> StoreResult<bool>;
    async fn outbox_dead(&self, id: i64, worker: &str, error: &str) -> StoreResult<bool>;
    /// Put a message off until `at` without counting the attempt: the receiver asked us to slow
    /// down (a rate limit), which says nothing about whether the message can be delivered.
    async fn outbox_defer(&self, id: i64, worker: &str, at: Timestamp, reason: &str) -> StoreResult<bool>;
    async fn next_outbox_due(&self) -> StoreResult<Option<Timestamp>>;
    async fn outbox_messages(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>>;

    async fn stats(&self, now: Timestamp) -> StoreResult<StoreStats>;

    /// Audit records after `after_seq`, oldest first.
    async fn audit_log(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRecord>>;

    async fn page(&self, id: i64) -> StoreResult<Option<Page>>;
    /// An incident's pages, oldest first.
    async fn pages_of(&self, incident: IncidentId) -> StoreResult<Vec<Page>>;
    /// Record what a channel did with a page still queued or sent; false if it moved on meanwhile
    /// (cancelled by an acknowledgement, say).
    async fn page_result(
        &self,
        id: i64,
        status: PageStatus,
        at: Timestamp,
        error: Option<&str>,
    ) -> StoreResult<bool>;
    /// Record the first use of an action link for `action`; false if it was used before.
    async fn use_link(&self, page_id: i64, action: &str, at: Timestamp) -> StoreResult<bool>;

    /// The latest shift change of a schedule that was announced.
    async fn last_handover(&self, schedule: &str) -> StoreResult<Option<Timestamp>>;

    /// Shift swaps not cancelled that end after `ends_after`, oldest first.
    async fn shift_swaps(&self, ends_after: Timestamp) -> StoreResult<Vec<ShiftSwap>>;

    /// Silences, newest first; only those not over at `active_at` when given.
    async fn silences(&self, active_at: Option<Timestamp>) -> StoreResult<Vec<Silence>>;
}

/// 呼叫的状态: where one page stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageStatus {
    /// Waiting for its time or its channel.
    Queued,
    /// The channel took it (an SMS gateway accepted it, a mail server queued it).
    Sent,
    /// The channel confirmed it reached the person (an IM message was posted).
    Delivered,
    /// The person answered (acknowledged, or acted on the incident) after receiving it.
    Acknowledged,
    /// It could not be delivered; the person's next channel takes over.
    Failed,
    /// Stopped before it went out: someone acknowledged first.
    Cancelled,
}

impl PageStatus {
    pub const ALL: [PageStatus; 6] = [
        PageStatus::Queued,
        PageStatus::Sent,
        PageStatus::Delivered,
        PageStatus::Acknowledged,
        PageStatus::Failed,
        PageStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PageStatus::Queued => "queued",
            PageStatus::Sent => "sent",
            PageStatus::Delivered => "delivered",
            PageStatus::Acknowledged => "acknowledged",
            PageStatus::Failed => "failed",
            PageStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<PageStatus> {
        PageStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A page to create (from the domain's [`PagePlan`](crate::domain::escalation::PagePlan)).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPage {
    pub incident_id: IncidentId,
    pub page_key: String,
    pub person: PersonId,
    pub channel: String,
    pub reason: PageReason,
    pub due_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    pub id: i64,
    pub incident_id: IncidentId,
    pub page_key: String,
    pub person: PersonId,
    pub channel: String,
    pub reason: PageReason,
    pub status: PageStatus,
    pub due_at: Timestamp,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub answered_at: Option<Timestamp>,
    pub error: Option<String>,
}

/// Stop an incident's pages not yet sent: of one person, or of everyone. The pages `answered_by`
/// received already count as acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageStop {
    pub incident_id: IncidentId,
    pub person: Option<PersonId>,
    pub answered_by: Option<PersonId>,
}

/// 换班: a shift swap recorded at runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftSwap {
    pub id: i64,
    pub schedule: String,
    /// Who is on call instead.
    pub person: PersonId,
    /// Whom they replace; absent: whoever is on call.
    pub replaces: Option<PersonId>,
    pub from: Timestamp,
    pub until: Timestamp,
    pub requested_by: Option<PersonId>,
    pub approved_by: PersonId,
    pub reason: String,
    pub created_at: Timestamp,
    pub cancelled_at: Option<Timestamp>,
}

/// A delivery already taken, by the sender's own id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReceiptKey {
    pub source: String,
    pub occurrence_id: String,
}

/// One write transaction. The methods take whole sets of rows so that a batch of reports costs a
/// fixed number of statements, however large it is. Dropping it without `commit` rolls back.
#[async_trait]
pub trait Tx: Send {
    /// Which of these deliveries were taken before, and the incident each went to.
    async fn find_receipts(
        &mut self,
        keys: &[ReceiptKey],
    ) -> StoreResult<HashMap<ReceiptKey, Option<IncidentId>>>;
    async fn insert_receipts(
        &mut self,
        rows: &[(ReceiptKey, Option<IncidentId>)],
        at: Timestamp,
    ) -> StoreResult<()>;

    /// Which incident collects each fault's reports now (keys nobody holds are absent).
    async fn dedup_holders(&mut self, keys: &[DedupKey]) -> StoreResult<HashMap<DedupKey, IncidentId>>;
    /// Let these incidents take these keys; returns the keys that were already held by someone.
    async fn claim_dedups(&mut self, claims: &[(DedupKey, IncidentId)]) -> StoreResult<Vec<DedupKey>>;
    /// Let go of keys, each only if that incident holds it.
    async fn release_dedups(&mut self, releases: &[(DedupKey, IncidentId)]) -> StoreResult<()>;

    /// Reserve `count` ticket sequence numbers of that local day; returns the first. Never handed out twice.
    async fn reserve_ticket_seqs(&mut self, day: Date, count: u32) -> StoreResult<u32>;
    async fn next_incident_ids(&mut self, count: u32) -> StoreResult<Vec<IncidentId>>;
    async fn insert_incidents(&mut self, incidents: &[Incident]) -> StoreResult<()>;
    /// Load and lock incidents for the rest of the transaction (in id order, so that two
    /// transactions never wait on each other in a cycle). Missing ids are absent from the result.
    async fn lock_incidents(&mut self, ids: &[IncidentId]) -> StoreResult<Vec<Incident>>;
    async fn lock_incident_by_ticket(&mut self, ticket: TicketNo) -> StoreResult<Option<Incident>>;
    /// How many incidents of a system were opened since `since` (for correlation: many separate
    /// reports of one system raise the level).
    async fn count_opened(&mut self, system: &str, since: Timestamp) -> StoreResult<usize>;
    async fn save_incidents(&mut self, incidents: &[Incident]) -> StoreResult<()>;
    /// Entries with their per-incident sequence numbers (unique per incident).
    async fn append_timeline(&mut self, entries: &[(IncidentId, u32, TimelineEntry)]) -> StoreResult<()>;

    /// Arm (or move) timers; at most one per incident and kind.
    async fn arm_timers(
        &mut self,
        timers: &[(IncidentId, TimerKind, Timestamp)],
        now: Timestamp,
    ) -> StoreResult<()>;
    async fn cancel_timers(&mut self, timers: &[(IncidentId, TimerKind)]) -> StoreResult<()>;
    /// Remove and return up to `limit` due timers. Other instances skip the rows this transaction
    /// holds; if it rolls back (or its instance dies) the timers are due again.
    async fn take_due_timers(&mut self, now: Timestamp, limit: u32) -> StoreResult<Vec<DueTimer>>;

    /// The newest audit record's place and hash (the chain continues from it).
    async fn last_audit(&mut self) -> StoreResult<Option<(i64, String)>>;
    async fn append_audit(&mut self, records: &[AuditRecord]) -> StoreResult<()>;

    /// Create pages; those whose key exists for their incident are skipped. Returns the new pages'
    /// ids, in the order given (`None` for skipped ones).
    async fn insert_pages(&mut self, pages: &[NewPage], now: Timestamp) -> StoreResult<Vec<Option<i64>>>;
    /// Cancel pages not yet sent (and drop their pending outbox messages); see [`PageStop`].
    async fn stop_pages(&mut self, stops: &[PageStop], at: Timestamp) -> StoreResult<()>;

    async fn create_silence(
        &mut self,
        matcher: &Matcher,
        reason: &str,
        created_by: &PersonId,
        starts_at: Timestamp,
        ends_at: Timestamp,
    ) -> StoreResult<Silence>;
    /// End a silence early; false if there is no such silence still running.
    async fn end_silence(&mut self, id: i64, at: Timestamp) -> StoreResult<bool>;
    /// Silences running at `now` (for intake).
    async fn active_silences(&mut self, now: Timestamp) -> StoreResult<Vec<Silence>>;
    /// Record a shift swap (its `id`, `created_at` and `cancelled_at` are ignored); returns it stored.
    async fn insert_shift_swap(&mut self, swap: &ShiftSwap) -> StoreResult<ShiftSwap>;
    /// Cancel a swap of that schedule; false if there is none or it was cancelled already.
    async fn cancel_shift_swap(&mut self, schedule: &str, id: i64, at: Timestamp) -> StoreResult<bool>;
    /// Claim the announcement of a schedule's shift change; false if it was claimed before.
    async fn record_handover(&mut self, schedule: &str, at: Timestamp, now: Timestamp) -> StoreResult<bool>;
    /// How many incidents were opened since `since`, of any system (storm detection).
    async fn count_opened_since(&mut self, since: Timestamp) -> StoreResult<usize>;
    /// The storm whose last incident came after `since`: its lead incident.
    async fn current_storm(&mut self, since: Timestamp) -> StoreResult<Option<IncidentId>>;
    /// Start a storm led by `lead`, or count `more` incidents into it.
    async fn record_storm(&mut self, lead: IncidentId, at: Timestamp, more: u32) -> StoreResult<()>;
    /// Note the incidents a storm holds: (lead, member) pairs.
    async fn add_storm_members(&mut self, members: &[(IncidentId, IncidentId)]) -> StoreResult<()>;
    /// The incidents a storm led by `lead` holds.
    async fn storm_members(&mut self, lead: IncidentId) -> StoreResult<Vec<IncidentId>>;

    /// Messages whose idempotency key exists already are skipped; returns how many were added.
    async fn enqueue(&mut self, messages: &[NewOutboxMessage]) -> StoreResult<usize>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// Open the store that a URL names: `sqlite:PATH` / `sqlite://PATH` (created on first start) or
/// `postgres://…` / `postgresql://…`.
pub async fn connect(url: &str) -> StoreResult<SharedStore> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::connect(url).await?))
    } else {
        Err(StoreError::Url(format!(
            "'{}' names no supported database; use sqlite://PATH or postgres://…",
            redact_url(url)
        )))
    }
}

/// A URL fit for logs: the password replaced.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The same server URL naming another database: `postgres://u@h:5432/a?host=/run/pg` with `b`
/// becomes `postgres://u@h:5432/b?host=/run/pg`.
pub fn url_with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn from_ms(v: i64) -> StoreResult<Timestamp> {
    Timestamp::from_millisecond(v).map_err(|e| StoreError::Corrupt(format!("instant {v}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn database_names_are_replaced_keeping_the_query() {
        use super::url_with_database as w;
        assert_eq!(w("postgres://u@h:5432/postgres", "zb"), "postgres://u@h:5432/zb");
        assert_eq!(w("postgres://u@h/postgres?host=/run/pg", "zb"), "postgres://u@h/zb?host=/run/pg");
        assert_eq!(w("postgres://u@h", "zb"), "postgres://u@h/zb");
    }

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(redact_url("postgres://zb:s3cret@db:5432/zhiban"), "postgres://zb:***@db:5432/zhiban");
        assert_eq!(redact_url("postgres://zb@db/zhiban"), "postgres://zb@db/zhiban");
        assert_eq!(redact_url("sqlite://data/zhiban.db"), "sqlite://data/zhiban.db");
    }
}
