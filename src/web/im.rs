//! WeCom, DingTalk and Feishu on the HTTP edge.
//!
//! - Callbacks: `GET`/`POST /im/wecom/callback` (URL verification, encrypted messages and card
//!   clicks), `POST /im/dingtalk/callback` (HTTP-mode robot messages, signed), `POST
//!   /im/feishu/callback` (url_verification, encrypted events, card actions). Each is verified
//!   by the provider's module first (a refusal is logged, answered with its status, and nothing is
//!   processed); an update is committed to the chat inbox before the provider is answered (503
//!   when the store cannot take it, so the provider delivers it again).
//! - Robot-compatible intake, for monitoring tools set up for a group robot: the provider's robot
//!   URL with zhiban's host, `POST /cgi-bin/webhook/send?key=` (WeCom), `POST
//!   /robot/send?access_token=[&timestamp=&sign=]` (DingTalk), `POST /open-apis/bot/v2/hook/{token}`
//!   (Feishu), also under `/api/v1/robots/{wecom,dingtalk}/send` and
//!   `/api/v1/robots/feishu/hook/{token}`. The key is checked in constant time against
//!   `[[robot_intake]]`, and the signature where a secret is set; the body becomes a report like a
//!   webhook alert (fingerprint = its title, source `robot:<provider>`), answered the way the
//!   provider's robot answers.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use subtle::ConstantTimeEq;
use tracing::{debug, info, warn};
use zhiban_integrations::chat::{ChatUpdate, Provider};
use zhiban_integrations::{AlertStatus, InboundAlert, SourceKind, dingtalk, feishu, wecom};

use super::AppState;
use super::error::ApiError;
use crate::config::im::RobotIntake;
use crate::config::{SourceAuth, SourceConfig};
use crate::engine::report_from_alert;

// ---- callbacks ---------------------------------------------------------------------------------

/// A verified callback, in the same terms for the three providers: the update to commit, if any,
/// and what to answer.
struct Verified {
    update: Option<ChatUpdate>,
    content_type: &'static str,
    body: Vec<u8>,
}

macro_rules! verified {
    ($module:ident, $provider:expr, $outcome:expr) => {
        match $outcome {
            $module::CallbackOutcome::Reply { content_type, body } => {
                Verified { update: None, content_type, body }
            }
            $module::CallbackOutcome::Update { update, reply } => {
                Verified { update: Some(update), content_type: reply.content_type, body: reply.body }
            }
            $module::CallbackOutcome::Ignored { what, reply } => {
                debug!(provider = $provider.as_str(), "an IM callback zhiban does not act on: {what}");
                Verified { update: None, content_type: reply.content_type, body: reply.body }
            }
        }
    };
}

fn headers_of(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
        .collect()
}

fn body_of(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| ApiError::PayloadTooLarge(e.body_text()))
}

/// A refused callback, logged, as an HTTP answer with the provider module's status.
fn refused(provider: Provider, status: u16, reason: String) -> ApiError {
    warn!(provider = provider.as_str(), status, "an IM callback was refused: {reason}");
    match status {
        401 => ApiError::Unauthorized(reason),
        403 => ApiError::Forbidden(reason),
        405 => ApiError::MethodNotAllowed,
        500 => ApiError::Internal(reason),
        _ => ApiError::bad_request(reason),
    }
}

/// Commit an update (then wake the inbox worker) before answering the provider.
async fn answer(state: &AppState, provider: Provider, verified: Verified) -> Result<Response, ApiError> {
    if let Some(update) = verified.update {
        let now = state.service.now();
        state.store.inbox_add(provider, std::slice::from_ref(&update), None, now).await?;
        state.inbox_wake.notify_one();
    }
    Ok(([(header::CONTENT_TYPE, verified.content_type)], verified.body).into_response())
}

pub async fn wecom_callback(
    State(state): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some((config, (token, aes_key))) =
        state.config.im.wecom.as_ref().and_then(|c| c.callback.as_ref().map(|cb| (c, cb)))
    else {
        return Err(ApiError::NotFound(
            "the WeCom callback is not configured ([wecom] callback_token and callback_aes_key)".into(),
        ));
    };
    let body = body_of(body)?;
    let settings = wecom::CallbackSettings {
        token: token.expose().to_string(),
        encoding_aes_key: aes_key.expose().to_string(),
        receive_id: config.corp_id.clone(),
    };
    let headers = headers_of(&headers);
    let request = wecom::CallbackRequest {
        method: method.as_str(),
        query: query.as_deref().unwrap_or_default(),
        headers: &headers,
        body: &body,
        now: state.service.now(),
    };
    let verified = wecom::handle_callback(&settings, &request)
        .map_err(|e| refused(Provider::Wecom, e.http_status(), e.to_string()))?;
    answer(&state, Provider::Wecom, verified!(wecom, Provider::Wecom, verified)).await
}

pub async fn dingtalk_callback(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some(config) = state.config.im.dingtalk.as_ref() else {
        return Err(ApiError::NotFound("the DingTalk callback is not configured ([dingtalk])".into()));
    };
    let body = body_of(body)?;
    let settings = dingtalk::CallbackSettings { app_secret: config.app_secret.expose().to_string() };
    let headers = headers_of(&headers);
    let request = dingtalk::CallbackRequest {
        method: "POST",
        query: query.as_deref().unwrap_or_default(),
        headers: &headers,
        body: &body,
        now: state.service.now(),
    };
    let verified = dingtalk::handle_callback(&settings, &request).map_err(|e| {
        let status = match e {
            dingtalk::CallbackError::Method(_) => 405,
            dingtalk::CallbackError::NoSecret => 500,
            dingtalk::CallbackError::Body(_) => 400,
            _ => 401,
        };
        refused(Provider::Dingtalk, status, e.to_string())
    })?;
    answer(&state, Provider::Dingtalk, verified!(dingtalk, Provider::Dingtalk, verified)).await
}

pub async fn feishu_callback(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some((config, token)) =
        state.config.im.feishu.as_ref().and_then(|c| c.verification_token.as_ref().map(|t| (c, t)))
    else {
        return Err(ApiError::NotFound(
            "the Feishu callback is not configured ([feishu] verification_token)".into(),
        ));
    };
    let body = body_of(body)?;
    let settings = feishu::CallbackSettings {
        verification_token: token.expose().to_string(),
        encrypt_key: config.encrypt_key.as_ref().map(|k| k.expose().to_string()),
    };
    let headers = headers_of(&headers);
    let request = feishu::CallbackRequest {
        method: "POST",
        query: query.as_deref().unwrap_or_default(),
        headers: &headers,
        body: &body,
        now: state.service.now(),
    };
    let verified = feishu::handle_callback(&settings, &request).map_err(|e| {
        let status = match e {
            feishu::CallbackError::Method(_) => 405,
            feishu::CallbackError::NoEncryptKey => 500,
            feishu::CallbackError::Malformed(_) | feishu::CallbackError::Decrypt(_) => 400,
            _ => 401,
        };
        refused(Provider::Feishu, status, e.to_string())
    })?;
    answer(&state, Provider::Feishu, verified!(feishu, Provider::Feishu, verified)).await
}

// ---- robot-compatible intake -------------------------------------------------------------------

/// Why a robot-shaped post was refused, answered in the provider's robot's own shape.
enum Refusal {
    Key,
    Sign,
    Body(String),
    Unavailable(String),
}

fn robot_answer(provider: Provider, outcome: Result<(), Refusal>) -> Response {
    let (status, code, message) = match outcome {
        Ok(()) => (StatusCode::OK, 0, String::new()),
        Err(refusal) => {
            let (status, codes, message) = match refusal {
                Refusal::Key => (
                    StatusCode::UNAUTHORIZED,
                    (93000, 300001, 19001),
                    format!("unknown key: no [[robot_intake]] of {} has it", provider.as_str()),
                ),
                Refusal::Sign => (
                    StatusCode::UNAUTHORIZED,
                    (93000, 310000, 19021),
                    "sign not match: the timestamp and sign are missing, wrong or over an hour old"
                        .to_string(),
                ),
                Refusal::Body(m) => (StatusCode::BAD_REQUEST, (40008, 40035, 9499), m),
                Refusal::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, (-1, -1, 1500), m),
            };
            warn!(
                provider = provider.as_str(),
                status = status.as_u16(),
                "a robot-shaped post was refused: {message}"
            );
            let code = match provider {
                Provider::Wecom => codes.0,
                Provider::Dingtalk => codes.1,
                _ => codes.2,
            };
            (status, code, message)
        }
    };
    let body = match provider {
        Provider::Feishu => {
            json!({ "code": code, "msg": if code == 0 { "success".to_string() } else { message } })
        }
        _ => json!({ "errcode": code, "errmsg": if code == 0 { "ok".to_string() } else { message } }),
    };
    (status, Json(body)).into_response()
}

/// The `[[robot_intake]]` entry whose key was presented, compared in constant time with every one.
fn intake_entry<'a>(
    entries: &'a [RobotIntake],
    provider: Provider,
    key: Option<&str>,
) -> Option<&'a RobotIntake> {
    let key = key?.as_bytes();
    let mut found = None;
    for entry in entries.iter().filter(|e| e.provider == provider) {
        if bool::from(entry.key.expose().as_bytes().ct_eq(key)) && found.is_none() {
            found = Some(entry);
        }
    }
    found
}

fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(&format!("http://zhiban/?{}", query.unwrap_or_default())).ok()?;
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn robot_intake(
    state: &AppState,
    provider: Provider,
    key: Option<String>,
    query: Option<&str>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), Refusal> {
    let entry = intake_entry(&state.config.im.robot_intake, provider, key.as_deref()).ok_or(Refusal::Key)?;
    let body = body.map_err(|e| Refusal::Body(e.body_text()))?;
    let now = state.service.now();
    if let Some(secret) = &entry.secret {
        let signed = match provider {
            Provider::Dingtalk => match (query_value(query, "timestamp"), query_value(query, "sign")) {
                (Some(ts), Some(sign)) => dingtalk::verify_robot_sign(secret.expose(), &ts, &sign, now),
                _ => false,
            },
            Provider::Feishu => feishu::robot_signature(&body)
                .is_some_and(|s| feishu::verify_robot_sign(secret.expose(), &s.timestamp, &s.sign, now)),
            _ => true,
        };
        if !signed {
            return Err(Refusal::Sign);
        }
    }
    let bad = |e: zhiban_integrations::PayloadError| {
        Refusal::Body(format!("not a {} robot body: {e}", provider.as_str()))
    };
    let (title, text) = match provider {
        Provider::Wecom => wecom::parse_robot_payload(&body).map(|p| (p.title, p.text)),
        Provider::Dingtalk => dingtalk::parse_robot_payload(&body).map(|p| (p.title, p.text)),
        _ => feishu::parse_robot_payload(&body).map(|p| (p.title, p.text)),
    }
    .map_err(bad)?;
    let alert = InboundAlert {
        source: SourceKind::Generic,
        status: AlertStatus::Firing,
        // Repeats of the same alert join its ticket.
        fingerprint: title.clone(),
        occurrence_id: None,
        title,
        description: text,
        severity_hint: None,
        system: None,
        unit: None,
        labels: BTreeMap::from([("robot_intake".to_string(), entry.name.clone())]),
        starts_at: None,
        ends_at: None,
        link: None,
    };
    let source = SourceConfig {
        auth: SourceAuth::Bearer(entry.key.clone()),
        severity_map: BTreeMap::new(),
        default_severity: None,
    };
    let config = &state.config;
    let mut report = report_from_alert(alert, &source, &config.classifier, config.server.language);
    report.source = format!("robot:{}", provider.as_str());
    let outcomes = state
        .intake
        .submit(vec![report])
        .await
        .map_err(|e| Refusal::Unavailable(ApiError::from(e).to_string()))?;
    for o in outcomes {
        if let Some(ticket) = o.ticket {
            info!(incident = %ticket, robot_intake = %entry.name, "robot post {}", o.disposition.as_str());
        }
    }
    Ok(())
}

pub async fn wecom_robot(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let key = query_value(query.as_deref(), "key");
    robot_answer(Provider::Wecom, robot_intake(&state, Provider::Wecom, key, query.as_deref(), body).await)
}

pub async fn dingtalk_robot(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let key = query_value(query.as_deref(), "access_token");
    let outcome = robot_intake(&state, Provider::Dingtalk, key, query.as_deref(), body).await;
    robot_answer(Provider::Dingtalk, outcome)
}

pub async fn feishu_robot(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    robot_answer(Provider::Feishu, robot_intake(&state, Provider::Feishu, Some(token), None, body).await)
}
