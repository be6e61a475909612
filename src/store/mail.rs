//! What the email integration keeps: the mails taken from each mailbox (by UIDVALIDITY and UID),
//! malformed mail set aside for an admin, and message ids that thread replies to tickets. Both
//! backends implement [`MailStore`] with the same SQL (`mail_sql.rs`).

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;

use super::StoreResult;
use crate::domain::IncidentId;

/// A mail set aside because it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantinedMail {
    pub id: i64,
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
    pub reason: String,
    pub size: u64,
    pub received_at: Timestamp,
}

#[async_trait]
pub trait MailStore: Send + Sync {
    /// The highest UID taken from this mailbox under this UIDVALIDITY (`None`: never read).
    async fn mail_last_uid(&self, mailbox: &str, uidvalidity: u32) -> StoreResult<Option<u32>>;
    /// Whether this mail was taken before.
    async fn mail_seen(&self, mailbox: &str, uidvalidity: u32, uid: u32) -> StoreResult<bool>;
    /// Record what became of a mail; false if it was recorded before.
    #[allow(clippy::too_many_arguments)]
    async fn record_mail(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        message_id: Option<&str>,
        outcome: &str,
        incident: Option<IncidentId>,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Set a malformed mail aside with why, and record it as taken, in one transaction.
    async fn quarantine_mail(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        reason: &str,
        raw: &[u8],
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Newest first.
    async fn quarantined_mail(&self, limit: u32) -> StoreResult<Vec<QuarantinedMail>>;
    async fn quarantined_raw(&self, id: i64) -> StoreResult<Option<Vec<u8>>>;
    /// Note that these message ids belong to an incident's thread.
    async fn add_mail_thread(
        &self,
        message_ids: &[String],
        incident: IncidentId,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// The incident the first known of these message ids belongs to.
    async fn mail_thread(&self, message_ids: &[String]) -> StoreResult<Option<IncidentId>>;
}
