//! 换班 through the API: a leader (or the project manager) records who covers whom, when, who
//! asked and why; the swap counts for paging, handover and calendar feeds at once.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::api::{parse_json, required};
use super::auth::{person, require};
use super::error::ApiError;
use crate::config::Permission;
use crate::domain::PersonId;
use crate::domain::schedule::parse_instant;
use crate::engine::swaps::{self, SwapError};
use crate::store::ShiftSwap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapBody {
    /// Who is on call instead.
    person: Option<String>,
    /// Whom they replace; absent: whoever is on call.
    replaces: Option<String>,
    /// RFC 3339, or a wall-clock time in the server's time zone ("2026-11-27T08:30").
    from: Option<String>,
    until: Option<String>,
    requested_by: Option<String>,
    reason: Option<String>,
}

fn instant(state: &AppState, field: &str, text: &str) -> Result<Timestamp, ApiError> {
    parse_instant(text, &state.config.server.timezone).map_err(|e| ApiError::bad_field(field, e))
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(schedule): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::ReadIncidents)?;
    if !state.config.schedules.contains_key(&schedule) {
        return Err(ApiError::NotFound(format!("no schedule '{schedule}'")));
    }
    let swaps: Vec<ShiftSwap> = state
        .store
        .shift_swaps(state.service.now() - jiff::SignedDuration::from_hours(24 * 15))
        .await?
        .into_iter()
        .filter(|s| s.schedule == schedule)
        .collect();
    Ok(Json(json!({ "schedule": schedule, "swaps": swaps })))
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(schedule): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::ChangeSchedules)?;
    let b: SwapBody = parse_json(body)?;
    let swap = ShiftSwap {
        id: 0,
        schedule,
        person: PersonId(required(b.person, "person")?),
        replaces: b.replaces.filter(|r| !r.trim().is_empty()).map(PersonId),
        from: instant(&state, "from", &required(b.from, "from")?)?,
        until: instant(&state, "until", &required(b.until, "until")?)?,
        requested_by: b.requested_by.filter(|r| !r.trim().is_empty()).map(PersonId),
        approved_by: PersonId(me.id.clone()),
        reason: required(b.reason, "reason")?,
        created_at: state.service.now(),
        cancelled_at: None,
    };
    match swaps::record(&state.service, swap).await {
        Ok(stored) => Ok((StatusCode::CREATED, Json(json!({ "swap": stored })))),
        Err(SwapError::UnknownSchedule(s)) => Err(ApiError::NotFound(format!("no schedule '{s}'"))),
        Err(SwapError::UnknownPerson(p)) => Err(ApiError::bad_request(format!("no person has the id '{p}'"))),
        Err(SwapError::Invalid(e)) => Err(ApiError::bad_request(e.to_string())),
        Err(SwapError::Store(e)) => Err(e.into()),
    }
}

pub async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((schedule, id)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::ChangeSchedules)?;
    if !swaps::cancel(&state.service, &schedule, id, &PersonId(me.id.clone())).await? {
        return Err(ApiError::NotFound(format!("no running swap {id} on '{schedule}'")));
    }
    Ok(Json(json!({ "cancelled": id })))
}
