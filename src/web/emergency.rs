//! 应急预案 over HTTP: an incident's emergencies, activating a plan for an incident, ticking a
//! checklist step, the evaluation (应急流程评估单) that ends it, and the counts for reports.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::api::{incident_named, parse_json, parse_ticket, readable_incident, required};
use super::auth::{person, require};
use super::error::ApiError;
use crate::config::Permission;
use crate::domain::PersonId;
use crate::domain::emergency::{Emergency, FollowUp};
use crate::domain::schedule::parse_instant;
use crate::engine::emergency::{self, EmergencyError};

impl From<EmergencyError> for ApiError {
    fn from(e: EmergencyError) -> ApiError {
        match e {
            EmergencyError::UnknownPlan(_) | EmergencyError::Unknown(_) | EmergencyError::UnknownStep(_) => {
                ApiError::NotFound(e.to_string())
            }
            EmergencyError::NotAllowed(..) => ApiError::Conflict(e.to_string()),
            EmergencyError::Act(a) => a.into(),
            EmergencyError::Store(s) => s.into(),
        }
    }
}

fn acting(state: &AppState, headers: &HeaderMap) -> Result<PersonId, ApiError> {
    let me = person(&state.config, headers)?;
    if !(me.may(Permission::Work) || me.may(Permission::ChangeSchedules)) {
        require(me, Permission::Admin)?;
    }
    Ok(PersonId(me.id.clone()))
}

/// `GET /api/v1/incidents/{ticket}/emergencies`.
pub async fn of_incident(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let incident = readable_incident(&state, &headers, &ticket).await?;
    Ok(Json(json!({ "emergencies": state.store.emergencies_of(incident.id).await? })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateBody {
    plan: Option<String>,
}

/// `POST /api/v1/incidents/{ticket}/emergencies {"plan": "…"}`: activate a plan by hand.
pub async fn activate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Emergency>, ApiError> {
    let by = acting(&state, &headers)?;
    let b: ActivateBody = parse_json(body)?;
    let plan = required(b.plan, "plan")?;
    let ticket = parse_ticket(&ticket)?;
    let incident = incident_named(&state, ticket).await?;
    Ok(Json(emergency::activate_for(&state.service, &incident, &plan, &by).await?))
}

/// `POST /api/v1/emergencies/{id}/activate` (an offered plan).
pub async fn activate_offered(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Emergency>, ApiError> {
    let by = acting(&state, &headers)?;
    Ok(Json(emergency::activate(&state.service, id, &by).await?))
}

/// `POST /api/v1/emergencies/{id}/steps/{n}`: a checklist step done.
pub async fn step(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, n)): Path<(i64, u32)>,
) -> Result<Json<Emergency>, ApiError> {
    let by = acting(&state, &headers)?;
    Ok(Json(emergency::step_done(&state.service, id, n, &by).await?.0))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    objectives_met: Option<bool>,
    follow_up: Option<FollowUp>,
    text: Option<String>,
}

/// `POST /api/v1/emergencies/{id}/end`: the evaluation (objectives met? a problem or a change?).
pub async fn end(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Emergency>, ApiError> {
    let by = acting(&state, &headers)?;
    let b: EndBody = parse_json(body)?;
    let met = b
        .objectives_met
        .ok_or_else(|| ApiError::bad_field("objectives_met", "say whether the objectives were met"))?;
    let follow_up =
        b.follow_up.ok_or_else(|| ApiError::bad_field("follow_up", "use none, problem or change"))?;
    let text = b.text.unwrap_or_default();
    Ok(Json(emergency::end(&state.service, id, &by, met, follow_up, &text).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    from: String,
    until: String,
}

/// `GET /api/v1/emergencies/stats?from=&until=`: counts, causes and durations for reports.
pub async fn stats(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::ReadIncidents)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let tz = &state.config.server.timezone;
    let from = parse_instant(&q.from, tz).map_err(|e| ApiError::bad_field("from", e))?;
    let until = parse_instant(&q.until, tz).map_err(|e| ApiError::bad_field("until", e))?;
    let stats = emergency::stats(&state.service, from, until).await?;
    Ok(Json(json!({ "from": from, "until": until, "stats": stats })))
}
