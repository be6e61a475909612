// The mail tables' SQL, shared by both backends like `common.rs`.

use async_trait::async_trait;
use jiff::Timestamp;

use super::common::SqlStore;
use crate::domain::IncidentId;
use crate::store::mail::{MailStore, QuarantinedMail};
use crate::store::{StoreResult, from_ms, ms};

#[async_trait]
impl MailStore for SqlStore {
    async fn mail_last_uid(&self, mailbox: &str, uidvalidity: u32) -> StoreResult<Option<u32>> {
        let uid: Option<i64> =
            sqlx::query_scalar("SELECT MAX(uid) FROM mail_seen WHERE mailbox = $1 AND uidvalidity = $2")
                .bind(mailbox)
                .bind(i64::from(uidvalidity))
                .fetch_one(&self.writer)
                .await?;
        Ok(uid.map(|u| u.clamp(0, i64::from(u32::MAX)) as u32))
    }

    async fn mail_seen(&self, mailbox: &str, uidvalidity: u32, uid: u32) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM mail_seen WHERE mailbox = $1 AND uidvalidity = $2 AND uid = $3",
        )
        .bind(mailbox)
        .bind(i64::from(uidvalidity))
        .bind(i64::from(uid))
        .fetch_one(&self.writer)
        .await?;
        Ok(n > 0)
    }

    async fn record_mail(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        message_id: Option<&str>,
        outcome: &str,
        incident: Option<IncidentId>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "INSERT INTO mail_seen (mailbox, uidvalidity, uid, message_id, outcome, incident_id, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING",
        )
        .bind(mailbox)
        .bind(i64::from(uidvalidity))
        .bind(i64::from(uid))
        .bind(message_id)
        .bind(outcome)
        .bind(incident.map(|i| i.0))
        .bind(ms(at))
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn quarantine_mail(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        reason: &str,
        raw: &[u8],
        at: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO mail_quarantine (mailbox, uidvalidity, uid, reason, raw, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING",
        )
        .bind(mailbox)
        .bind(i64::from(uidvalidity))
        .bind(i64::from(uid))
        .bind(reason)
        .bind(raw)
        .bind(ms(at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO mail_seen (mailbox, uidvalidity, uid, outcome, at) VALUES ($1, $2, $3, 'quarantined', $4) \
             ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING",
        )
        .bind(mailbox)
        .bind(i64::from(uidvalidity))
        .bind(i64::from(uid))
        .bind(ms(at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn quarantined_mail(&self, limit: u32) -> StoreResult<Vec<QuarantinedMail>> {
        let rows: Vec<(i64, String, i64, i64, String, i64, i64)> = sqlx::query_as(
            "SELECT id, mailbox, uidvalidity, uid, reason, CAST(LENGTH(raw) AS BIGINT), received_at FROM mail_quarantine \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|(id, mailbox, uidvalidity, uid, reason, size, at)| {
                Ok(QuarantinedMail {
                    id,
                    mailbox,
                    uidvalidity: uidvalidity as u32,
                    uid: uid as u32,
                    reason,
                    size: size.max(0) as u64,
                    received_at: from_ms(at)?,
                })
            })
            .collect()
    }

    async fn quarantined_raw(&self, id: i64) -> StoreResult<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar("SELECT raw FROM mail_quarantine WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn add_mail_thread(
        &self,
        message_ids: &[String],
        incident: IncidentId,
        at: Timestamp,
    ) -> StoreResult<()> {
        for id in message_ids {
            sqlx::query(
                "INSERT INTO mail_threads (message_id, incident_id, at) VALUES ($1, $2, $3) \
                 ON CONFLICT (message_id) DO NOTHING",
            )
            .bind(id)
            .bind(incident.0)
            .bind(ms(at))
            .execute(&self.writer)
            .await?;
        }
        Ok(())
    }

    async fn mail_thread(&self, message_ids: &[String]) -> StoreResult<Option<IncidentId>> {
        for id in message_ids {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT incident_id FROM mail_threads WHERE message_id = $1")
                    .bind(id)
                    .fetch_optional(&self.writer)
                    .await?;
            if let Some(i) = found {
                return Ok(Some(IncidentId(i)));
            }
        }
        Ok(None)
    }
}
