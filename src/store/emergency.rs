//! Emergency plan activations (应急处理) and their checklist steps. Both backends implement
//! [`EmergencyStore`] with the same SQL (`emergency_sql.rs`).

use async_trait::async_trait;
use jiff::Timestamp;

use super::StoreResult;
use crate::domain::IncidentId;
use crate::domain::emergency::{Emergency, EmergencyEvaluation, EmergencyStatus};

#[async_trait]
pub trait EmergencyStore: Send + Sync {
    /// Offer or activate a plan for an incident; `None` if that plan was offered or activated for
    /// it before.
    async fn create_emergency(
        &self,
        plan: &str,
        incident: IncidentId,
        status: EmergencyStatus,
        by: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<Option<Emergency>>;
    async fn emergency(&self, id: i64) -> StoreResult<Option<Emergency>>;
    async fn emergencies_of(&self, incident: IncidentId) -> StoreResult<Vec<Emergency>>;
    /// Activations (not offers) that began in [from, until), oldest first.
    async fn emergencies_between(&self, from: Timestamp, until: Timestamp) -> StoreResult<Vec<Emergency>>;
    /// An offered plan is activated; false if it was not offered (activated already, ended).
    async fn activate_emergency(&self, id: i64, by: &str, at: Timestamp) -> StoreResult<bool>;
    /// Mark a step done; false if it was done before.
    async fn emergency_step_done(&self, id: i64, step: u32, by: &str, at: Timestamp) -> StoreResult<bool>;
    /// Offered or active emergencies whose offer or activation was not carried out yet.
    async fn unposted_emergencies(&self) -> StoreResult<Vec<Emergency>>;
    /// The offer or activation of an emergency was carried out.
    async fn emergency_posted(&self, id: i64, at: Timestamp) -> StoreResult<()>;
    /// End it with its evaluation; false if it was not active.
    async fn end_emergency(&self, id: i64, evaluation: &EmergencyEvaluation) -> StoreResult<bool>;
}
