//! `POST /api/v1/webhooks/{source}`: monitoring alerts in. Authenticate, parse (a pure parser per
//! format in `zhiban-integrations`), classify, commit, and only then answer 2xx.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Serialize;
use tracing::{info, warn};
use zhiban_integrations::{PayloadError, SourceKind};

use super::AppState;
use super::auth::check_source;
use super::error::ApiError;
use crate::engine::report_from_alert;

#[derive(Debug, Serialize)]
pub struct WebhookAnswer {
    /// Alerts in the request.
    pub accepted: usize,
    pub incidents: Vec<AnswerItem>,
}

#[derive(Debug, Serialize)]
pub struct AnswerItem {
    /// What intake did: created, attached, reopened, resolved, duplicate, ignored.
    pub status: &'static str,
    pub ticket: Option<String>,
    pub url: Option<String>,
}

pub async fn receive(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookAnswer>, ApiError> {
    let result = handle(&state, &source, &headers, body).await;
    let label = match &result {
        Ok(_) => "accepted".to_string(),
        Err(e) => e.status().as_u16().to_string(),
    };
    let known = SourceKind::from_path_segment(&source).map(|s| s.as_str()).unwrap_or("unknown");
    state.metrics.webhook_request(known, &label);
    if let Err(e) = &result {
        warn!(source = known, status = e.status().as_u16(), "webhook refused: {e}");
    }
    result.map(Json)
}

async fn handle(
    state: &AppState,
    source: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<WebhookAnswer, ApiError> {
    let kind = SourceKind::from_path_segment(source).ok_or_else(|| {
        ApiError::NotFound(format!("unknown source '{source}'; use alertmanager, grafana, zabbix or generic"))
    })?;
    let config = state.config.sources.get(&kind).ok_or_else(|| {
        ApiError::NotFound(format!("the source '{source}' is not enabled in the configuration"))
    })?;
    let body = body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "the body is larger than server.body_limit_bytes ({} bytes)",
                state.config.server.body_limit_bytes
            ))
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    })?;
    check_source(&config.auth, headers, &body)?;
    let alerts = zhiban_integrations::parse(kind, &body).map_err(payload_error)?;
    let limit = state.config.intake.max_alerts_per_request;
    if alerts.len() > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "{} alerts in one request; at most {limit} (intake.max_alerts_per_request)",
            alerts.len()
        )));
    }
    let accepted = alerts.len();
    let reports: Vec<_> = alerts
        .into_iter()
        .map(|a| report_from_alert(a, config, &state.config.classifier, state.config.server.language))
        .collect();
    let outcomes = state.intake.submit(reports).await?;
    let incidents = outcomes
        .into_iter()
        .map(|o| {
            state.metrics.alert(kind.as_str(), o.disposition.as_str());
            if let Some(ticket) = o.ticket {
                info!(incident = %ticket, source = kind.as_str(), "alert {}", o.disposition.as_str());
            }
            AnswerItem {
                status: o.disposition.as_str(),
                ticket: o.ticket.map(|t| t.to_string()),
                url: o.ticket.map(|t| state.service.incident_url(t)),
            }
        })
        .collect();
    Ok(WebhookAnswer { accepted, incidents })
}

fn payload_error(e: PayloadError) -> ApiError {
    match e.path() {
        Some(path) if path != "." => ApiError::bad_field(path, e.to_string()),
        _ => ApiError::bad_request(e.to_string()),
    }
}
