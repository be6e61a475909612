//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::check_metrics;

use super::AppState;

/// The process answers.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers: a load balancer should send traffic here.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()),
        Err(e) => {
            // The detail goes to the log, not to whoever asks.
            tracing::warn!("not ready: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready: the database is unavailable\n".to_string())
        }
    }
}

/// Prometheus text; needs `Authorization: Bearer` with the scrape token or an API token.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = check_metrics(&state.config, &headers) {
        return e.into_response();
    }
    let now = state.service.now();
    match state.store.stats(now).await {
        Ok(stats) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            state.metrics.render(&stats, now.as_millisecond()),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("# the database is unavailable: {e}\n"),
        ),
    }
    .into_response()
}
