//! The HTTP edge (axum): webhooks, the JSON API, the dashboard, health and metrics.

mod api;
mod auth;
mod dashboard;
mod drills;
mod emergency;
pub mod error;
mod health;
mod im;
mod links;
mod mail;
mod oncall;
mod schedules;
mod sms;
mod telegram;
mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode, header};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::engine::{IncidentService, IntakeQueue};
use crate::messages::Messages;
use crate::metrics::Metrics;
use crate::store::SharedStore;

/// Everything a request handler may use.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: SharedStore,
    pub service: Arc<IncidentService>,
    pub intake: IntakeQueue,
    pub messages: Arc<Messages>,
    pub metrics: Arc<Metrics>,
    /// Wakes the chat inbox worker when a webhook committed an update.
    pub inbox_wake: Arc<tokio::sync::Notify>,
}

/// Request ids: a per-process random prefix and a counter, short enough to quote in a phone call.
#[derive(Clone)]
struct RequestIds {
    prefix: String,
    next: Arc<AtomicU64>,
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.prefix).parse().ok().map(RequestId::new)
    }
}

pub fn router(state: AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let ids = RequestIds {
        prefix: format!("{:06x}", rand::random::<u32>() & 0xff_ffff),
        next: Arc::new(AtomicU64::new(1)),
    };
    let body_limit = state.config.server.body_limit_bytes;
    Router::new()
        .route("/", get(dashboard::index))
        .route("/incidents/{ticket}", get(dashboard::incident))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/v1/webhooks/{source}", post(webhooks::receive))
        .route("/api/v1/incidents", get(api::list).post(api::create))
        .route("/api/v1/incidents/{ticket}", get(api::show))
        .route("/api/v1/incidents/{ticket}/pages", get(api::pages))
        .route("/api/v1/silences", get(api::silences).post(api::create_silence))
        .route("/api/v1/handover", post(api::handover))
        .route("/api/v1/oncall", get(oncall::now))
        .route("/api/v1/schedules/{schedule}/swaps", get(schedules::list).post(schedules::create))
        .route("/api/v1/schedules/{schedule}/swaps/{id}", axum::routing::delete(schedules::cancel))
        .route("/calendar/{file}", get(oncall::feed))
        .route("/api/v1/silences/{id}", axum::routing::delete(api::end_silence))
        .route("/api/v1/incidents/{ticket}/{action}", post(api::act))
        .route("/a/{token}", get(links::show).post(links::act))
        .route("/api/v1/sms/inbound/{channel}", post(sms::inbound))
        .route("/telegram/webhook", post(telegram::webhook))
        .route("/im/wecom/callback", get(im::wecom_callback).post(im::wecom_callback))
        .route("/im/dingtalk/callback", post(im::dingtalk_callback))
        .route("/im/feishu/callback", post(im::feishu_callback))
        .route("/api/v1/robots/wecom/send", post(im::wecom_robot))
        .route("/api/v1/robots/dingtalk/send", post(im::dingtalk_robot))
        .route("/api/v1/robots/feishu/hook/{token}", post(im::feishu_robot))
        // The same at the providers' own robot paths: a tool changes only the host.
        .route("/cgi-bin/webhook/send", post(im::wecom_robot))
        .route("/robot/send", post(im::dingtalk_robot))
        .route("/open-apis/bot/v2/hook/{token}", post(im::feishu_robot))
        .route(
            "/api/v1/incidents/{ticket}/emergencies",
            get(emergency::of_incident).post(emergency::activate),
        )
        .route("/api/v1/emergencies/stats", get(emergency::stats))
        .route("/api/v1/emergencies/{id}/activate", post(emergency::activate_offered))
        .route("/api/v1/emergencies/{id}/steps/{n}", post(emergency::step))
        .route("/api/v1/emergencies/{id}/end", post(emergency::end))
        .route("/api/v1/drills", get(drills::list))
        .route("/api/v1/drills/{plan}", axum::routing::put(drills::put))
        .route("/api/v1/drills/{plan}/start", post(drills::start))
        .route("/api/v1/drill-runs/{id}/report", get(drills::report))
        .route("/api/v1/drill-runs/{id}/{action}", post(drills::act))
        .route("/api/v1/mail/quarantine", get(mail::quarantine))
        .route("/api/v1/mail/quarantine/{id}", get(mail::quarantined))
        .route("/api/v1/incidents/{ticket}/attachments/{id}", get(api::attachment))
        .route("/api/v1/outbox", get(api::outbox))
        .route("/api/v1/audit", get(api::audit))
        .fallback(|| async { error::ApiError::NotFound("no such endpoint".into()) })
        .method_not_allowed_fallback(|| async { error::ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(error::ApiError::Internal(
                "the server hit a bug; see its log".into(),
            ))
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            // The route's template, not the path: some paths carry secrets (a robot hook's key, an
            // action link's token).
            let route = req.extensions().get::<axum::extract::MatchedPath>().map_or("-", |m| m.as_str());
            tracing::info_span!("http", method = %req.method(), route = %route, request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, ids))
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]))
        .with_state(state)
}
