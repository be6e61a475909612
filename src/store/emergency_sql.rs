// The emergency tables' SQL, shared by both backends like `common.rs`.

use async_trait::async_trait;
use jiff::Timestamp;

use super::common::SqlStore;
use crate::domain::IncidentId;
use crate::domain::emergency::{Emergency, EmergencyEvaluation, EmergencyStatus, StepDone};
use crate::store::emergency::EmergencyStore;
use crate::store::{StoreError, StoreResult, from_ms, ms};

const COLUMNS: &str = "id, plan, incident_id, status, activated_by, activated_at, ended_at, evaluation";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    plan: String,
    incident_id: i64,
    status: String,
    activated_by: Option<String>,
    activated_at: Option<i64>,
    ended_at: Option<i64>,
    evaluation: Option<String>,
}

impl SqlStore {
    async fn with_steps(&self, rows: Vec<Row>) -> StoreResult<Vec<Emergency>> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let steps: Vec<(i32, String, i64)> = sqlx::query_as(
                "SELECT step, done_by, done_at FROM emergency_steps WHERE emergency_id = $1 ORDER BY step",
            )
            .bind(r.id)
            .fetch_all(&self.writer)
            .await?;
            out.push(Emergency {
                id: r.id,
                status: EmergencyStatus::parse(&r.status).ok_or_else(|| {
                    StoreError::Corrupt(format!("emergency {}: status '{}'", r.id, r.status))
                })?,
                plan: r.plan,
                incident: IncidentId(r.incident_id),
                activated_by: r.activated_by,
                activated_at: r.activated_at.map(from_ms).transpose()?,
                ended_at: r.ended_at.map(from_ms).transpose()?,
                evaluation: r
                    .evaluation
                    .map(|e| serde_json::from_str(&e))
                    .transpose()
                    .map_err(|_| StoreError::Corrupt(format!("emergency {}: evaluation", r.id)))?,
                steps: steps
                    .into_iter()
                    .map(|(step, by, at)| Ok(StepDone { step: step.max(0) as u32, by, at: from_ms(at)? }))
                    .collect::<StoreResult<_>>()?,
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl EmergencyStore for SqlStore {
    async fn create_emergency(
        &self,
        plan: &str,
        incident: IncidentId,
        status: EmergencyStatus,
        by: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<Option<Emergency>> {
        let active = status == EmergencyStatus::Active;
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO emergencies (plan, incident_id, status, activated_by, activated_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (incident_id, plan) DO NOTHING RETURNING {COLUMNS}"
        ));
        let row: Option<Row> = sqlx::query_as(sql)
            .bind(plan)
            .bind(incident.0)
            .bind(status.as_str())
            .bind(by)
            .bind(active.then(|| ms(at)))
            .bind(ms(at))
            .fetch_optional(&self.writer)
            .await?;
        Ok(self.with_steps(row.into_iter().collect()).await?.pop())
    }

    async fn emergency(&self, id: i64) -> StoreResult<Option<Emergency>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM emergencies WHERE id = $1"));
        let row: Option<Row> = sqlx::query_as(sql).bind(id).fetch_optional(&self.writer).await?;
        Ok(self.with_steps(row.into_iter().collect()).await?.pop())
    }

    async fn emergencies_of(&self, incident: IncidentId) -> StoreResult<Vec<Emergency>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM emergencies WHERE incident_id = $1 ORDER BY id"
        ));
        let rows: Vec<Row> = sqlx::query_as(sql).bind(incident.0).fetch_all(&self.writer).await?;
        self.with_steps(rows).await
    }

    async fn emergencies_between(&self, from: Timestamp, until: Timestamp) -> StoreResult<Vec<Emergency>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM emergencies WHERE activated_at >= $1 AND activated_at < $2 ORDER BY activated_at"
        ));
        let rows: Vec<Row> =
            sqlx::query_as(sql).bind(ms(from)).bind(ms(until)).fetch_all(&self.reader).await?;
        self.with_steps(rows).await
    }

    async fn activate_emergency(&self, id: i64, by: &str, at: Timestamp) -> StoreResult<bool> {
        // Activation is carried out anew (posted_at cleared): the offer was, the activation not yet.
        let r = sqlx::query(
            "UPDATE emergencies SET status = 'active', activated_by = $1, activated_at = $2, posted_at = NULL \
             WHERE id = $3 AND status = 'offered'",
        )
        .bind(by)
        .bind(ms(at))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn emergency_step_done(&self, id: i64, step: u32, by: &str, at: Timestamp) -> StoreResult<bool> {
        let r = sqlx::query(
            "INSERT INTO emergency_steps (emergency_id, step, done_by, done_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (emergency_id, step) DO NOTHING",
        )
        .bind(id)
        .bind(step as i32)
        .bind(by)
        .bind(ms(at))
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn unposted_emergencies(&self) -> StoreResult<Vec<Emergency>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM emergencies WHERE posted_at IS NULL AND status IN ('offered', 'active') ORDER BY id"
        ));
        let rows: Vec<Row> = sqlx::query_as(sql).fetch_all(&self.writer).await?;
        self.with_steps(rows).await
    }

    async fn emergency_posted(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE emergencies SET posted_at = $1 WHERE id = $2")
            .bind(ms(at))
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn end_emergency(&self, id: i64, evaluation: &EmergencyEvaluation) -> StoreResult<bool> {
        let text = serde_json::to_string(evaluation).expect("an evaluation always serializes");
        let r = sqlx::query(
            "UPDATE emergencies SET status = 'ended', ended_at = $1, evaluation = $2 WHERE id = $3 AND status = 'active'",
        )
        .bind(ms(evaluation.at))
        .bind(text)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
