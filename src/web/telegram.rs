//! `POST /telegram/webhook`: Telegram's webhook mode. The secret header is checked in constant
//! time, the update committed to the chat inbox, and only then is Telegram told 200; a failure to
//! commit answers 503, so Telegram delivers the update again.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use tracing::warn;
use zhiban_integrations::chat::Provider;
use zhiban_integrations::telegram::{SECRET_HEADER, parse_update, secret_matches};

use super::AppState;
use super::error::ApiError;
use crate::config::chat::TelegramMode;

pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let Some(telegram) = state.config.telegram.as_ref().filter(|t| t.mode == TelegramMode::Webhook) else {
        return Err(ApiError::NotFound(
            "the Telegram webhook is not enabled (telegram.mode = \"webhook\")".into(),
        ));
    };
    let secret = telegram.webhook_secret.as_ref().map(|s| s.expose()).unwrap_or_default();
    if !secret_matches(headers.get(SECRET_HEADER).map(|v| v.as_bytes()), secret) {
        warn!("a Telegram webhook call without the right secret token was refused");
        return Err(ApiError::Unauthorized(format!("missing or wrong {SECRET_HEADER}")));
    }
    let body = body.map_err(|e| ApiError::PayloadTooLarge(e.body_text()))?;
    let update =
        parse_update(&body).map_err(|e| ApiError::bad_request(format!("not a Telegram update: {e}")))?;
    state
        .store
        .inbox_add(Provider::Telegram, std::slice::from_ref(&update), None, state.service.now())
        .await?;
    state.inbox_wake.notify_one();
    Ok(StatusCode::OK)
}
