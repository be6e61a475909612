//! Mail set aside as malformed (隔离邮件), for admins: the list with each reason, and the raw
//! message to look at or re-send by hand.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{person, require};
use super::error::ApiError;
use crate::config::Permission;

/// `GET /api/v1/mail/quarantine`: newest first.
pub async fn quarantine(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::Admin)?;
    let mails = state.store.quarantined_mail(500).await?;
    Ok(Json(json!({ "mails": mails })))
}

/// `GET /api/v1/mail/quarantine/{id}`: the mail as it arrived (`message/rfc822`).
pub async fn quarantined(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::Admin)?;
    let raw = state
        .store
        .quarantined_raw(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no quarantined mail {id}")))?;
    Ok(([(header::CONTENT_TYPE, "message/rfc822")], raw).into_response())
}
