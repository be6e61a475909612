// The drill tables' SQL, shared by both backends like `common.rs`.

use async_trait::async_trait;
use jiff::Timestamp;

use super::common::SqlStore;
use crate::domain::IncidentId;
use crate::domain::drill::{DrillRun, Evaluation, RunStatus};
use crate::store::drill::DrillStore;
use crate::store::{StoreError, StoreResult, from_ms, ms};

const RUN_COLUMNS: &str =
    "id, plan, status, incident_id, started_by, announced_at, starts_at, ended_at, evaluation";

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    plan: String,
    status: String,
    incident_id: Option<i64>,
    started_by: String,
    announced_at: i64,
    starts_at: i64,
    ended_at: Option<i64>,
    evaluation: Option<String>,
}

impl RunRow {
    fn into_domain(self) -> StoreResult<DrillRun> {
        Ok(DrillRun {
            id: self.id,
            status: RunStatus::parse(&self.status).ok_or_else(|| {
                StoreError::Corrupt(format!("drill run {}: status '{}'", self.id, self.status))
            })?,
            plan: self.plan,
            incident: self.incident_id.map(IncidentId),
            started_by: self.started_by,
            announced_at: from_ms(self.announced_at)?,
            starts_at: from_ms(self.starts_at)?,
            ended_at: self.ended_at.map(from_ms).transpose()?,
            evaluation: self
                .evaluation
                .map(|e| serde_json::from_str(&e))
                .transpose()
                .map_err(|_| StoreError::Corrupt(format!("drill run {}: evaluation", self.id)))?,
        })
    }
}

#[async_trait]
impl DrillStore for SqlStore {
    async fn create_drill_run(
        &self,
        plan: &str,
        started_by: &str,
        announced_at: Timestamp,
        starts_at: Timestamp,
    ) -> StoreResult<Option<DrillRun>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO drill_runs (plan, status, started_by, announced_at, starts_at) VALUES ($1, 'announced', $2, $3, $4) \
             ON CONFLICT (plan, starts_at) DO NOTHING RETURNING {RUN_COLUMNS}"
        ));
        let row: Option<RunRow> = sqlx::query_as(sql)
            .bind(plan)
            .bind(started_by)
            .bind(ms(announced_at))
            .bind(ms(starts_at))
            .fetch_optional(&self.writer)
            .await?;
        row.map(RunRow::into_domain).transpose()
    }

    async fn drill_run(&self, id: i64) -> StoreResult<Option<DrillRun>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM drill_runs WHERE id = $1"));
        let row: Option<RunRow> = sqlx::query_as(sql).bind(id).fetch_optional(&self.writer).await?;
        row.map(RunRow::into_domain).transpose()
    }

    async fn drill_runs(&self, limit: u32) -> StoreResult<Vec<DrillRun>> {
        let sql =
            sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM drill_runs ORDER BY id DESC LIMIT $1"));
        let rows: Vec<RunRow> = sqlx::query_as(sql).bind(i64::from(limit)).fetch_all(&self.reader).await?;
        rows.into_iter().map(RunRow::into_domain).collect()
    }

    async fn live_drill_runs(&self) -> StoreResult<Vec<DrillRun>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM drill_runs WHERE status IN ('announced', 'running', 'paused') ORDER BY id"
        ));
        let rows: Vec<RunRow> = sqlx::query_as(sql).fetch_all(&self.writer).await?;
        rows.into_iter().map(RunRow::into_domain).collect()
    }

    async fn last_drill_start(&self, plan: &str) -> StoreResult<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar("SELECT MAX(starts_at) FROM drill_runs WHERE plan = $1")
            .bind(plan)
            .fetch_one(&self.writer)
            .await?;
        at.map(from_ms).transpose()
    }

    async fn set_drill_status(
        &self,
        id: i64,
        from: &[RunStatus],
        to: RunStatus,
        incident: Option<IncidentId>,
        ended_at: Option<Timestamp>,
    ) -> StoreResult<bool> {
        let from: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE drill_runs SET status = $1, incident_id = COALESCE($2, incident_id), ended_at = COALESCE($3, ended_at) \
             WHERE id = $4 AND status IN ({})",
            from.join(", ")
        ));
        let r = sqlx::query(sql)
            .bind(to.as_str())
            .bind(incident.map(|i| i.0))
            .bind(ended_at.map(ms))
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn evaluate_drill_run(&self, id: i64, evaluation: &Evaluation) -> StoreResult<()> {
        let text = serde_json::to_string(evaluation).expect("an evaluation always serializes");
        sqlx::query("UPDATE drill_runs SET evaluation = $1 WHERE id = $2")
            .bind(text)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn save_drill_plan(&self, id: &str, body: &str, by: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO drill_plans (id, body, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(body)
        .bind(by)
        .bind(ms(at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn drill_plans_version(&self) -> StoreResult<(i64, i64)> {
        Ok(sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) FROM drill_plans")
            .fetch_one(&self.writer)
            .await?)
    }

    async fn drill_plans(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as("SELECT id, body FROM drill_plans ORDER BY id").fetch_all(&self.writer).await?)
    }

    async fn unreported_drill_runs(&self) -> StoreResult<Vec<DrillRun>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM drill_runs WHERE reported_at IS NULL AND status IN ('stopped', 'finished') ORDER BY id"
        ));
        let rows: Vec<RunRow> = sqlx::query_as(sql).fetch_all(&self.writer).await?;
        rows.into_iter().map(RunRow::into_domain).collect()
    }

    async fn claim_drill_report(&self, id: i64, at: Timestamp) -> StoreResult<bool> {
        let r = sqlx::query("UPDATE drill_runs SET reported_at = $1 WHERE id = $2 AND reported_at IS NULL")
            .bind(ms(at))
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
