//! Drill runs (演练记录). Both backends implement [`DrillStore`] with the same SQL (`drill_sql.rs`).

use async_trait::async_trait;
use jiff::Timestamp;

use super::StoreResult;
use crate::domain::IncidentId;
use crate::domain::drill::{DrillRun, Evaluation, RunStatus};

#[async_trait]
pub trait DrillStore: Send + Sync {
    /// A new run, announced; `None` if the plan has a run starting at that instant already (a
    /// scheduled drill that another instance started).
    async fn create_drill_run(
        &self,
        plan: &str,
        started_by: &str,
        announced_at: Timestamp,
        starts_at: Timestamp,
    ) -> StoreResult<Option<DrillRun>>;
    async fn drill_run(&self, id: i64) -> StoreResult<Option<DrillRun>>;
    /// Newest first.
    async fn drill_runs(&self, limit: u32) -> StoreResult<Vec<DrillRun>>;
    /// Runs announced, running or paused.
    async fn live_drill_runs(&self) -> StoreResult<Vec<DrillRun>>;
    /// The latest start of a plan's runs.
    async fn last_drill_start(&self, plan: &str) -> StoreResult<Option<Timestamp>>;
    /// Move a run on; false if it was not in `from`.
    async fn set_drill_status(
        &self,
        id: i64,
        from: &[RunStatus],
        to: RunStatus,
        incident: Option<IncidentId>,
        ended_at: Option<Timestamp>,
    ) -> StoreResult<bool>;
    async fn evaluate_drill_run(&self, id: i64, evaluation: &Evaluation) -> StoreResult<()>;
    /// Keep a plan edited through the API (its body as written, JSON).
    async fn save_drill_plan(&self, id: &str, body: &str, by: &str, at: Timestamp) -> StoreResult<()>;
    /// Changes whenever a plan is saved through the API: (how many, the latest save).
    async fn drill_plans_version(&self) -> StoreResult<(i64, i64)>;
    /// The plans edited through the API: (id, body).
    async fn drill_plans(&self) -> StoreResult<Vec<(String, String)>>;
    /// Ended runs whose record was not posted yet.
    async fn unreported_drill_runs(&self) -> StoreResult<Vec<DrillRun>>;
    /// Claim posting a run's report; false if it was posted before.
    async fn claim_drill_report(&self, id: i64, at: Timestamp) -> StoreResult<bool>;
}
