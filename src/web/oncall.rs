//! Who is on call (值班): now, per schedule, for the API; and each engineer's duty as an iCalendar
//! feed their phone's calendar subscribes to (`/calendar/<schedule>.ics?person=…&token=…`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{person, require};
use super::error::ApiError;
use crate::config::Permission;
use crate::domain::PersonId;
use crate::domain::action_link::{calendar_token, verify_calendar_token};
use crate::domain::schedule::ical::render_ical;

/// How far back and ahead a feed reaches.
const FEED_PAST_DAYS: i64 = 14;
const FEED_AHEAD_DAYS: i64 = 90;

/// `GET /api/v1/oncall`: every schedule's people on call now, and the caller's calendar feeds.
pub async fn now(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::ReadIncidents)?;
    let now = state.service.now();
    let secret = state.config.paging.link_secret.as_ref();
    let schedules: Vec<Value> = state
        .config
        .on_call
        .snapshot()
        .iter()
        .map(|(id, schedule)| {
            let on_call: Vec<Value> = schedule
                .on_call_at(now)
                .into_iter()
                .map(|o| {
                    let p = state.config.catalogue.person(&o.person);
                    json!({
                        "person": o.person,
                        "name": state.service.person_name(&PersonId(o.person.clone())),
                        "phone": p.and_then(|p| p.phone.clone()),
                        "why": o.why.to_string(),
                        "since": o.start,
                        "until": o.end,
                    })
                })
                .collect();
            let feed = secret.map(|s| {
                let token = calendar_token(s.expose().as_bytes(), id, &me.id);
                format!("{}/calendar/{id}.ics?person={}&token={token}", state.config.server.public_url, me.id)
            });
            json!({ "id": id, "name": schedule.name(), "on_call": on_call, "next_handoff": schedule.next_handoff_after(now), "my_feed": feed })
        })
        .collect();
    Ok(Json(json!({ "at": now, "schedules": schedules })))
}

#[derive(Debug, Deserialize)]
pub struct FeedQuery {
    person: Option<String>,
    token: Option<String>,
    /// Every shift of the schedule, not only the person's.
    #[serde(default)]
    all: bool,
}

/// `GET /calendar/<schedule>.ics`: authenticated by the per-person token in the URL (calendar apps
/// cannot send headers).
pub async fn feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<FeedQuery>,
) -> Response {
    let Some(id) = file.strip_suffix(".ics") else {
        return ApiError::NotFound("no such calendar; use /calendar/<schedule>.ics".into()).into_response();
    };
    let (Some(person), Some(token), Some(secret)) =
        (q.person, q.token, state.config.paging.link_secret.as_ref())
    else {
        return ApiError::Unauthorized("the feed URL needs its person and token".into()).into_response();
    };
    if !verify_calendar_token(secret.expose().as_bytes(), id, &person, &token) {
        return ApiError::Unauthorized("the feed token does not match".into()).into_response();
    }
    let schedules = state.config.on_call.snapshot();
    let Some(schedule) = schedules.get(id) else {
        return ApiError::NotFound(format!("no schedule '{id}'")).into_response();
    };
    let now = state.service.now();
    let shifts = schedule.shifts(
        now - SignedDuration::from_hours(24 * FEED_PAST_DAYS),
        now + SignedDuration::from_hours(24 * FEED_AHEAD_DAYS),
    );
    let names = |p: &str| state.service.person_name(&PersonId(p.to_string()));
    let only = (!q.all).then_some(person.as_str());
    let body = render_ical(schedule, &shifts, &names, only, now);
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    r
}
