// The chat tables' SQL, shared by both backends like `common.rs` (see the `#[path]` attributes in
// `sqlite.rs` and `postgres.rs`).

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use zhiban_integrations::chat::{ChatId, ChatUpdate, Provider};

use super::common::SqlStore;
use super::dialect;
use crate::domain::{IncidentId, PersonId};
use crate::store::chat::{AttachmentMeta, ChatRoute, ChatStore, InboxItem, PostKind};
use crate::store::{StoreError, StoreResult, from_ms, ms};

/// How many moves are followed before a loop of moves is called corrupt.
const MAX_MOVES: usize = 8;

#[derive(sqlx::FromRow)]
struct AttachmentRow {
    id: i64,
    incident_id: i64,
    name: String,
    mime: Option<String>,
    size: i64,
    created_at: i64,
}

impl AttachmentRow {
    fn into_meta(self) -> StoreResult<AttachmentMeta> {
        Ok(AttachmentMeta {
            id: self.id,
            incident_id: IncidentId(self.incident_id),
            name: self.name,
            mime: self.mime,
            size: self.size.max(0) as u64,
            created_at: from_ms(self.created_at)?,
        })
    }
}

const ATTACHMENT_COLUMNS: &str = "id, incident_id, name, mime, size, created_at";

#[async_trait]
impl ChatStore for SqlStore {
    async fn inbox_add(
        &self,
        provider: Provider,
        updates: &[ChatUpdate],
        next_update: Option<i64>,
        at: Timestamp,
    ) -> StoreResult<usize> {
        let mut tx = self.writer.begin().await?;
        let mut added = 0;
        for update in updates {
            let body = serde_json::to_string(update).expect("a chat update always serializes");
            let r = sqlx::query(
                "INSERT INTO chat_inbox (provider, update_id, body, received_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (provider, update_id) DO NOTHING",
            )
            .bind(provider.as_str())
            .bind(update.id)
            .bind(body)
            .bind(ms(at))
            .execute(&mut *tx)
            .await?;
            added += r.rows_affected() as usize;
        }
        if let Some(next) = next_update {
            sqlx::query(
                "INSERT INTO chat_cursors (provider, next_update) VALUES ($1, $2) \
                 ON CONFLICT (provider) DO UPDATE SET next_update = excluded.next_update",
            )
            .bind(provider.as_str())
            .bind(next)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn chat_cursor(&self, provider: Provider) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT next_update FROM chat_cursors WHERE provider = $1")
            .bind(provider.as_str())
            .fetch_optional(&self.writer)
            .await?)
    }

    async fn inbox_claim(
        &self,
        worker: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> StoreResult<Vec<InboxItem>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE chat_inbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM chat_inbox WHERE done_at IS NULL \
             AND (claimed_until IS NULL OR claimed_until <= $3) ORDER BY id LIMIT $4{}) \
             RETURNING id, provider, body, attempts",
            dialect::SKIP_LOCKED
        ));
        let rows: Vec<(i64, String, String, i32)> = sqlx::query_as(sql)
            .bind(worker)
            .bind(ms(now + lease))
            .bind(ms(now))
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        let mut items: Vec<InboxItem> = rows
            .into_iter()
            .map(|(id, provider, body, attempts)| InboxItem {
                id,
                provider: Provider::parse(&provider).unwrap_or(Provider::Telegram),
                update: serde_json::from_str(&body).ok().filter(|_| Provider::parse(&provider).is_some()),
                attempts: attempts.max(0) as u32,
            })
            .collect();
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    async fn inbox_done(&self, id: i64, worker: &str, at: Timestamp, error: Option<&str>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE chat_inbox SET done_at = $1, error = $2, claimed_by = NULL, claimed_until = NULL \
             WHERE id = $3 AND claimed_by = $4",
        )
        .bind(ms(at))
        .bind(error)
        .bind(id)
        .bind(worker)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn inbox_retry(&self, id: i64, worker: &str, at: Timestamp, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE chat_inbox SET claimed_until = $1, error = $2 WHERE id = $3 AND claimed_by = $4")
            .bind(ms(at))
            .bind(error)
            .bind(id)
            .bind(worker)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn inbox_pending(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM chat_inbox WHERE done_at IS NULL")
            .fetch_one(&self.reader)
            .await?)
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        ttl: SignedDuration,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE leases.holder = excluded.holder OR leases.until <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(ms(now + ttl))
        .bind(ms(now))
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn add_chat_message(
        &self,
        provider: Provider,
        chat: &ChatId,
        message_id: &str,
        incident: IncidentId,
        kind: PostKind,
        at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO chat_messages (provider, chat, message_id, incident_id, kind, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider, chat, message_id) DO NOTHING",
        )
        .bind(provider.as_str())
        .bind(&chat.0)
        .bind(message_id)
        .bind(incident.0)
        .bind(kind.as_str())
        .bind(ms(at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn chat_message_incident(
        &self,
        provider: Provider,
        chat: &ChatId,
        message_id: &str,
    ) -> StoreResult<Option<IncidentId>> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT incident_id FROM chat_messages WHERE provider = $1 AND chat = $2 AND message_id = $3",
        )
        .bind(provider.as_str())
        .bind(&chat.0)
        .bind(message_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(id.map(IncidentId))
    }

    async fn chat_card(
        &self,
        provider: Provider,
        chat: &ChatId,
        incident: IncidentId,
    ) -> StoreResult<Option<String>> {
        // Read from the writer: a card posted a moment ago must be found by the next update.
        Ok(sqlx::query_scalar(
            "SELECT message_id FROM chat_messages WHERE provider = $1 AND chat = $2 AND incident_id = $3 \
             AND kind = 'card' ORDER BY created_at LIMIT 1",
        )
        .bind(provider.as_str())
        .bind(&chat.0)
        .bind(incident.0)
        .fetch_optional(&self.writer)
        .await?)
    }

    async fn im_binding(&self, provider: Provider, user_id: &str) -> StoreResult<Option<PersonId>> {
        let person: Option<String> =
            sqlx::query_scalar("SELECT person FROM im_bindings WHERE provider = $1 AND user_id = $2")
                .bind(provider.as_str())
                .bind(user_id)
                .fetch_optional(&self.writer)
                .await?;
        Ok(person.map(PersonId))
    }

    async fn im_account_of(&self, provider: Provider, person: &PersonId) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT user_id FROM im_bindings WHERE provider = $1 AND person = $2 ORDER BY bound_at DESC LIMIT 1",
        )
        .bind(provider.as_str())
        .bind(&person.0)
        .fetch_optional(&self.writer)
        .await?)
    }

    async fn add_bind_code(
        &self,
        code_hash: &str,
        person: &PersonId,
        at: Timestamp,
        expires: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO bind_codes (code_hash, person, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(code_hash)
        .bind(&person.0)
        .bind(ms(at))
        .bind(ms(expires))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn redeem_bind_code(
        &self,
        code_hash: &str,
        provider: Provider,
        user_id: &str,
        username: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<Option<PersonId>> {
        let mut tx = self.writer.begin().await?;
        let used_by = format!("{}:{user_id}", provider.as_str());
        let person: Option<String> = sqlx::query_scalar(
            "UPDATE bind_codes SET used_at = $1, used_by = $2 \
             WHERE code_hash = $3 AND used_at IS NULL AND expires_at > $1 RETURNING person",
        )
        .bind(ms(at))
        .bind(&used_by)
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(person) = person else { return Ok(None) };
        sqlx::query(
            "INSERT INTO im_bindings (provider, user_id, person, username, bound_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (provider, user_id) DO UPDATE SET person = excluded.person, \
             username = excluded.username, bound_at = excluded.bound_at",
        )
        .bind(provider.as_str())
        .bind(user_id)
        .bind(&person)
        .bind(username)
        .bind(ms(at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(PersonId(person)))
    }

    async fn chat_session(
        &self,
        provider: Provider,
        chat: &ChatId,
        user_id: &str,
    ) -> StoreResult<Option<(String, Timestamp)>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT state, updated_at FROM chat_sessions WHERE provider = $1 AND chat = $2 AND user_id = $3",
        )
        .bind(provider.as_str())
        .bind(&chat.0)
        .bind(user_id)
        .fetch_optional(&self.writer)
        .await?;
        row.map(|(state, at)| Ok((state, from_ms(at)?))).transpose()
    }

    async fn save_chat_session(
        &self,
        provider: Provider,
        chat: &ChatId,
        user_id: &str,
        state: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<()> {
        match state {
            Some(state) => sqlx::query(
                "INSERT INTO chat_sessions (provider, chat, user_id, state, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (provider, chat, user_id) DO UPDATE SET state = excluded.state, \
                 updated_at = excluded.updated_at",
            )
            .bind(provider.as_str())
            .bind(&chat.0)
            .bind(user_id)
            .bind(state)
            .bind(ms(at)),
            None => sqlx::query("DELETE FROM chat_sessions WHERE provider = $1 AND chat = $2 AND user_id = $3")
                .bind(provider.as_str())
                .bind(&chat.0)
                .bind(user_id),
        }
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn chat_moved(&self, provider: Provider, from: &ChatId, to: &ChatId) -> StoreResult<()> {
        if from == to {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO im_chats (provider, chat, moved_to) VALUES ($1, $2, $3) \
             ON CONFLICT (provider, chat) DO UPDATE SET moved_to = excluded.moved_to",
        )
        .bind(provider.as_str())
        .bind(&from.0)
        .bind(&to.0)
        .execute(&mut *tx)
        .await?;
        // The cards live on in the new chat's history: edits and replies go there.
        sqlx::query("UPDATE chat_messages SET chat = $1 WHERE provider = $2 AND chat = $3")
            .bind(&to.0)
            .bind(provider.as_str())
            .bind(&from.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn chat_gone(
        &self,
        provider: Provider,
        chat: &ChatId,
        reason: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO im_chats (provider, chat, gone_at, gone_reason) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (provider, chat) DO UPDATE SET gone_at = excluded.gone_at, gone_reason = excluded.gone_reason",
        )
        .bind(provider.as_str())
        .bind(&chat.0)
        .bind(ms(at))
        .bind(reason)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn chat_alive(&self, provider: Provider, chat: &ChatId) -> StoreResult<()> {
        // Asked on every incoming message: read first, and write (the writer is shared by every
        // transaction) only for the rare chat recorded as gone.
        let gone: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM im_chats WHERE provider = $1 AND chat = $2 AND gone_at IS NOT NULL",
        )
        .bind(provider.as_str())
        .bind(&chat.0)
        .fetch_one(&self.reader)
        .await?;
        if gone == 0 {
            return Ok(());
        }
        sqlx::query(
            "UPDATE im_chats SET gone_at = NULL, gone_reason = NULL WHERE provider = $1 AND chat = $2 AND gone_at IS NOT NULL",
        )
        .bind(provider.as_str())
        .bind(&chat.0)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn chat_route(&self, provider: Provider, chat: &ChatId) -> StoreResult<ChatRoute> {
        let mut current = chat.clone();
        for _ in 0..MAX_MOVES {
            let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT moved_to, gone_reason FROM im_chats WHERE provider = $1 AND chat = $2",
            )
            .bind(provider.as_str())
            .bind(&current.0)
            .fetch_optional(&self.writer)
            .await?;
            match row {
                Some((Some(to), _)) => current = ChatId(to),
                Some((None, Some(reason))) => return Ok(ChatRoute::Gone { reason }),
                _ => return Ok(ChatRoute::Live(current)),
            }
        }
        Err(StoreError::Corrupt(format!("chat {chat}: its moves form a loop")))
    }

    async fn add_attachment(
        &self,
        incident: IncidentId,
        name: &str,
        mime: Option<&str>,
        data: &[u8],
        source: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "INSERT INTO attachments (incident_id, name, mime, size, data, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (incident_id, source) DO NOTHING",
        )
        .bind(incident.0)
        .bind(name)
        .bind(mime)
        .bind(data.len() as i64)
        .bind(data)
        .bind(source)
        .bind(ms(at))
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn attachments_of(&self, incident: IncidentId) -> StoreResult<Vec<AttachmentMeta>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE incident_id = $1 ORDER BY id"
        ));
        let rows: Vec<AttachmentRow> = sqlx::query_as(sql).bind(incident.0).fetch_all(&self.reader).await?;
        rows.into_iter().map(AttachmentRow::into_meta).collect()
    }

    async fn attachment(&self, id: i64) -> StoreResult<Option<(AttachmentMeta, Vec<u8>)>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1"));
        let Some(row): Option<AttachmentRow> =
            sqlx::query_as(sql).bind(id).fetch_optional(&self.reader).await?
        else {
            return Ok(None);
        };
        let data: Vec<u8> = sqlx::query_scalar("SELECT data FROM attachments WHERE id = $1")
            .bind(id)
            .fetch_one(&self.reader)
            .await?;
        Ok(Some((row.into_meta()?, data)))
    }
}
