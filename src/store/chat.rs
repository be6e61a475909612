//! What the chat integrations keep: updates taken before they are answered, the bot's messages
//! about incidents, bound accounts and binding codes, guided reports in progress, chats that moved
//! or went away, single-instance leases and attachments. Both backends implement [`ChatStore`]
//! with the same SQL (`chat_sql.rs`).

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use zhiban_integrations::chat::{ChatId, ChatUpdate, Provider};

use super::StoreResult;
use crate::domain::{IncidentId, PersonId};

/// An update waiting to be handled, leased to one worker.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub id: i64,
    pub provider: Provider,
    /// `None` when the stored body no longer parses (kept for inspection, never retried).
    pub update: Option<ChatUpdate>,
    pub attempts: u32,
}

/// What the bot's message in a chat was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostKind {
    /// The incident's card in a group channel, edited in place.
    Card,
    /// An update threaded under the card.
    Thread,
    /// The bot's answer to a person (报障 receipt, command result).
    Reply,
    /// A page sent to a person.
    Page,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::Card => "card",
            PostKind::Thread => "thread",
            PostKind::Reply => "reply",
            PostKind::Page => "page",
        }
    }
}

/// Where messages for a chat go now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatRoute {
    /// This chat (the one asked about, or the one it moved to).
    Live(ChatId),
    /// The chat cannot be reached: the bot was blocked or removed, the chat deleted.
    Gone { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentMeta {
    pub id: i64,
    pub incident_id: IncidentId,
    pub name: String,
    pub mime: Option<String>,
    pub size: u64,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait ChatStore: Send + Sync {
    /// Keep updates (those seen before are skipped) and, for long polling, set the provider's
    /// cursor to `next_update`, in one transaction: the offset never passes an update not kept.
    /// The cursor is set, not only raised: after a quiet week Telegram may restart its update ids
    /// lower, and only the lease holder writes it.
    /// Returns how many were new.
    async fn inbox_add(
        &self,
        provider: Provider,
        updates: &[ChatUpdate],
        next_update: Option<i64>,
        at: Timestamp,
    ) -> StoreResult<usize>;
    /// The update id long polling asks for next.
    async fn chat_cursor(&self, provider: Provider) -> StoreResult<Option<i64>>;
    /// Lease up to `limit` updates not yet handled, oldest first.
    async fn inbox_claim(
        &self,
        worker: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> StoreResult<Vec<InboxItem>>;
    /// The update was handled (or given up on, with the error).
    async fn inbox_done(&self, id: i64, worker: &str, at: Timestamp, error: Option<&str>) -> StoreResult<()>;
    /// Handling failed for now: try again at `at`.
    async fn inbox_retry(&self, id: i64, worker: &str, at: Timestamp, error: &str) -> StoreResult<()>;
    /// Updates not yet handled.
    async fn inbox_pending(&self) -> StoreResult<i64>;

    /// Take or keep the lease `name` until `now + ttl`; false if another holder has it.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        ttl: SignedDuration,
    ) -> StoreResult<bool>;
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;

    /// Remember a message of the bot about an incident.
    async fn add_chat_message(
        &self,
        provider: Provider,
        chat: &ChatId,
        message_id: &str,
        incident: IncidentId,
        kind: PostKind,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// The incident a message of the bot was about (for a reply to it).
    async fn chat_message_incident(
        &self,
        provider: Provider,
        chat: &ChatId,
        message_id: &str,
    ) -> StoreResult<Option<IncidentId>>;
    /// The incident's card in that chat.
    async fn chat_card(
        &self,
        provider: Provider,
        chat: &ChatId,
        incident: IncidentId,
    ) -> StoreResult<Option<String>>;

    /// The person an IM account is bound to.
    async fn im_binding(&self, provider: Provider, user_id: &str) -> StoreResult<Option<PersonId>>;
    /// Store a binding code's hash for `person`, valid until `expires`.
    async fn add_bind_code(
        &self,
        code_hash: &str,
        person: &PersonId,
        at: Timestamp,
        expires: Timestamp,
    ) -> StoreResult<()>;
    /// The account a person bound on a provider (the newest binding).
    async fn im_account_of(&self, provider: Provider, person: &PersonId) -> StoreResult<Option<String>>;
    /// Use a code (once, before it expires) to bind this account; the person bound, if it worked.
    async fn redeem_bind_code(
        &self,
        code_hash: &str,
        provider: Provider,
        user_id: &str,
        username: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<Option<PersonId>>;

    /// A person's guided report in that chat, and when it last changed.
    async fn chat_session(
        &self,
        provider: Provider,
        chat: &ChatId,
        user_id: &str,
    ) -> StoreResult<Option<(String, Timestamp)>>;
    /// Save (or with `None`, end) a guided report.
    async fn save_chat_session(
        &self,
        provider: Provider,
        chat: &ChatId,
        user_id: &str,
        state: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<()>;

    /// A group moved to another chat id (Telegram: upgraded to a supergroup).
    async fn chat_moved(&self, provider: Provider, from: &ChatId, to: &ChatId) -> StoreResult<()>;
    /// The chat wrote to us: it is reachable again (unblocked, the bot re-added).
    async fn chat_alive(&self, provider: Provider, chat: &ChatId) -> StoreResult<()>;
    /// A chat cannot be reached any more.
    async fn chat_gone(
        &self,
        provider: Provider,
        chat: &ChatId,
        reason: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Where messages for `chat` go now, following moves.
    async fn chat_route(&self, provider: Provider, chat: &ChatId) -> StoreResult<ChatRoute>;

    /// Attach a file to an incident; false if this source's file was attached before.
    async fn add_attachment(
        &self,
        incident: IncidentId,
        name: &str,
        mime: Option<&str>,
        data: &[u8],
        source: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    async fn attachments_of(&self, incident: IncidentId) -> StoreResult<Vec<AttachmentMeta>>;
    async fn attachment(&self, id: i64) -> StoreResult<Option<(AttachmentMeta, Vec<u8>)>>;
}
