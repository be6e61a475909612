//! Errors as HTTP answers: a status and a JSON body that says precisely what was wrong.
//!
//! `{"error": {"code": "bad_request", "message": "请求有误", "detail": "The field `alerts[0].labels` …", "field": "alerts[0].labels"}}`

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::TransitionError;
use crate::engine::{ActError, IntakeError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{detail}")]
    BadRequest { detail: String, field: Option<String> },
    #[error("{0}")]
    Conflict(String),
    #[error("this endpoint does not take that method")]
    MethodNotAllowed,
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The store cannot take the request now: senders retry on 5xx and drop on 4xx.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::BadRequest { detail: detail.into(), field: None }
    }

    pub fn bad_field(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError::BadRequest { detail: detail.into(), field: Some(field.into()) }
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.parts().0
    }
}

/// The one-line summary in the configured language, looked up by code (set once at start-up).
static SUMMARIES: std::sync::OnceLock<std::collections::HashMap<&'static str, String>> =
    std::sync::OnceLock::new();

pub fn set_summaries(messages: &crate::messages::Messages) {
    let codes = ["unauthorized", "forbidden", "not_found", "bad_request", "payload_too_large", "unavailable"];
    let map = codes.into_iter().map(|c| (c, messages.error(c).to_string())).collect();
    let _ = SUMMARIES.set(map);
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let summary =
            SUMMARIES.get().and_then(|m| m.get(code)).cloned().unwrap_or_else(|| code.replace('_', " "));
        let detail = self.to_string();
        let mut body = json!({ "error": { "code": code, "message": summary, "detail": detail } });
        if let ApiError::BadRequest { field: Some(f), .. } = &self {
            body["error"]["field"] = json!(f);
        }
        let mut response = (status, Json(body)).into_response();
        match &self {
            ApiError::Unavailable(_) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            ApiError::Unauthorized(_) => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
            StoreError::NotFound(m) => ApiError::NotFound(m),
            other => {
                tracing::error!("store error: {other}");
                ApiError::Internal("the request could not be completed; see the server log".into())
            }
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Failed(m) => {
                tracing::error!("intake failed: {m}");
                ApiError::Unavailable("the report could not be stored; please retry".into())
            }
            other => ApiError::Unavailable(other.to_string()),
        }
    }
}

impl From<ActError> for ApiError {
    fn from(e: ActError) -> Self {
        match e {
            ActError::NotFound(t) => ApiError::NotFound(format!("no incident {t}")),
            ActError::Transition(t @ TransitionError::NotAllowed { .. }) => ApiError::Conflict(t.to_string()),
            ActError::Transition(t @ TransitionError::SameSeverity(_)) => ApiError::Conflict(t.to_string()),
            ActError::Transition(t @ TransitionError::Empty(what)) => {
                ApiError::bad_field(what, t.to_string())
            }
            ActError::Transition(t @ TransitionError::NoSla) => ApiError::Conflict(t.to_string()),
            ActError::Transition(t) => ApiError::bad_request(t.to_string()),
            ActError::Store(s) => s.into(),
        }
    }
}
