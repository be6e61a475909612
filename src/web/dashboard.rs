//! The browser dashboard: the open and recent incidents, and one incident with its timeline.
//! Server-rendered HTML (auto-escaped), signed in with HTTP Basic auth (any user name, the
//! person's API token as the password) so that it needs no JavaScript and no session store.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::Serde;
use minijinja::{Environment, context};
use serde::Serialize;

use super::AppState;
use super::api::parse_ticket;
use super::auth::{browser_person, require};
use super::error::ApiError;
use crate::config::{Language, Permission, Person};
use crate::domain::{Incident, Status};
use crate::store::IncidentFilter;

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("incidents.html", include_str!("templates/incidents.html")),
            ("incident.html", include_str!("templates/incident.html")),
        ] {
            env.add_template(name, source).expect("the dashboard templates are valid");
        }
        env
    })
}

#[derive(Serialize)]
struct Row {
    ticket: String,
    severity: u8,
    severity_label: String,
    status_label: String,
    title: String,
    description: String,
    system_name: Option<String>,
    unit_name: Option<String>,
    assignee_name: Option<String>,
    created: String,
    occurrences: u32,
    link: Option<String>,
    /// SLA: the deadlines, in local time, and whether they were missed.
    respond_due: Option<String>,
    resolve_due: Option<String>,
    respond_breached: bool,
    resolve_breached: bool,
    paused: bool,
}

fn row(state: &AppState, i: &Incident) -> Row {
    let catalogue = &state.config.catalogue;
    Row {
        ticket: i.ticket.to_string(),
        severity: i.severity.level(),
        severity_label: state.messages.severity(i.severity).to_string(),
        status_label: state.messages.status(i.status).to_string(),
        title: i.title.clone(),
        description: i.description.clone(),
        system_name: i
            .system
            .as_ref()
            .map(|s| catalogue.system(s).map(|x| x.name.clone()).unwrap_or(s.clone())),
        unit_name: i.unit.as_ref().map(|u| catalogue.unit(u).map(|x| x.name.clone()).unwrap_or(u.clone())),
        assignee_name: i
            .assignee
            .as_ref()
            .map(|p| catalogue.person(&p.0).map(|x| x.name.clone()).unwrap_or(p.0.clone())),
        created: local_time(state, i.created_at),
        occurrences: i.occurrences,
        // Only web links: a sender's `javascript:` URL must never become a clickable link.
        link: i.link.clone().filter(|l| l.starts_with("http://") || l.starts_with("https://")),
        respond_due: i
            .sla
            .as_ref()
            .filter(|s| s.responded_at.is_none())
            .and_then(|s| s.respond_due)
            .map(|t| local_time(state, t)),
        resolve_due: i.sla.as_ref().and_then(|s| s.resolve_due).map(|t| local_time(state, t)),
        respond_breached: i.sla.as_ref().is_some_and(|s| s.respond_breached),
        resolve_breached: i.sla.as_ref().is_some_and(|s| s.resolve_breached),
        paused: i.sla.as_ref().is_some_and(|s| s.paused()),
    }
}

fn local_time(state: &AppState, t: jiff::Timestamp) -> String {
    t.to_zoned_datetime(state.config.server.timezone.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Person, Box<Response>> {
    let me = browser_person(&state.config, headers).map_err(|e| {
        let mut r = e.into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"zhiban\", charset=\"UTF-8\""),
        );
        r
    })?;
    require(me, Permission::ReadIncidents).map_err(IntoResponse::into_response)?;
    Ok(me.clone())
}

fn render(state: &AppState, name: &str, me: &Person, ctx: minijinja::Value) -> Response {
    let lang = match state.config.server.language {
        Language::ZhCn => "zh-CN",
        Language::En => "en",
    };
    let full = context! { t => Serde(state.messages.dashboard()), lang => lang, me => &me.name, ..ctx };
    match templates().get_template(name).and_then(|t| t.render(full)) {
        Ok(html) => {
            let mut r = Html(html).into_response();
            let h = r.headers_mut();
            // No scripts, no framing, no sniffing: the pages are plain server-rendered HTML.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'",
                ),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            r
        }
        Err(e) => ApiError::Internal(format!("rendering {name}: {e}")).into_response(),
    }
}

pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let me = match signed_in(&state, &headers) {
        Ok(me) => me,
        Err(r) => return *r,
    };
    let open = IncidentFilter {
        statuses: Status::OPEN.to_vec(),
        limit: 300,
        most_severe_first: true,
        ..Default::default()
    };
    let recent = IncidentFilter { limit: 50, ..Default::default() };
    let (open, recent) = match (state.store.incidents(&open).await, state.store.incidents(&recent).await) {
        (Ok(open), Ok(recent)) => (open, recent),
        (Err(e), _) | (_, Err(e)) => return ApiError::from(e).into_response(),
    };
    let open: Vec<Row> = open.iter().map(|i| row(&state, i)).collect();
    let recent: Vec<Row> = recent.iter().map(|i| row(&state, i)).collect();
    // 当前值班: who answers now, for leaders glancing at the board.
    let now = state.service.now();
    let on_call: Vec<OnCallRow> = state
        .config
        .on_call
        .snapshot()
        .values()
        .map(|s| {
            let people = s.on_call_at(now);
            OnCallRow {
                schedule: s.name().to_string(),
                until: people.iter().filter_map(|p| p.end).min().map(|t| local_time(&state, t)),
                people: people
                    .iter()
                    .map(|p| OnCallPerson {
                        name: state.service.person_name(&crate::domain::PersonId(p.person.clone())),
                        phone: state.config.catalogue.person(&p.person).and_then(|x| x.phone.clone()),
                    })
                    .collect(),
            }
        })
        .collect();
    render(
        &state,
        "incidents.html",
        &me,
        context! { open => Serde(&open), recent => Serde(&recent), on_call => Serde(&on_call) },
    )
}

#[derive(Serialize)]
struct OnCallRow {
    schedule: String,
    people: Vec<OnCallPerson>,
    until: Option<String>,
}

#[derive(Serialize)]
struct OnCallPerson {
    name: String,
    phone: Option<String>,
}

#[derive(Serialize)]
struct EntryRow {
    at: String,
    actor: String,
    text: String,
}

/// 升级状态: the policy, where it stands, and when the next tier is paged.
#[derive(Serialize)]
struct EscalationView {
    policy: String,
    /// A key of the dashboard texts (`escalation_<state>`).
    state: &'static str,
    tier: u32,
    /// Local time: the next tier (active) or the first page (waiting).
    next: Option<String>,
}

fn escalation_view(state: &AppState, incident: &Incident) -> Option<EscalationView> {
    use crate::domain::escalation::EscalationStatus;
    let e = incident.escalation.as_ref()?;
    let policy = state.config.paging.book.as_ref().and_then(|b| b.policy(&e.policy));
    let (key, next) = match &e.status {
        EscalationStatus::Active => (
            "escalation_tier",
            policy
                .as_ref()
                .and_then(|p| p.tiers.get(e.tier as usize))
                .zip(e.tier_paged_at)
                .map(|(tier, at)| local_time(state, at + tier.ack_timeout)),
        ),
        EscalationStatus::Waiting { until } => ("escalation_waiting", Some(local_time(state, *until))),
        EscalationStatus::Acknowledged => ("escalation_acknowledged", None),
        EscalationStatus::Exhausted => ("escalation_exhausted", None),
        EscalationStatus::Stopped => ("escalation_stopped", None),
        EscalationStatus::Held { .. } => ("escalation_held", None),
    };
    Some(EscalationView {
        policy: policy.map(|p| p.name.clone()).unwrap_or_else(|| e.policy.clone()),
        state: key,
        tier: e.tier + 1,
        next,
    })
}

#[derive(Serialize)]
struct PageRow {
    due: String,
    person: String,
    channel: String,
    status: String,
    error: Option<String>,
}

pub async fn incident(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
) -> Response {
    let me = match signed_in(&state, &headers) {
        Ok(me) => me,
        Err(r) => return *r,
    };
    let ticket = match parse_ticket(&ticket) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let (incident, timeline) = match state.store.incident_with_timeline(ticket).await {
        Ok(Some(found)) => found,
        Ok(None) => return ApiError::NotFound(format!("no incident {ticket}")).into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let url = state.service.incident_url(incident.ticket);
    let entries: Vec<EntryRow> = timeline
        .iter()
        .map(|e| {
            let actor = state.service.actor_name(&e.actor);
            EntryRow {
                at: local_time(&state, e.at),
                text: state.messages.event_text(
                    &incident,
                    state.service.system_name(&incident),
                    &url,
                    &e.event,
                    &actor,
                    &state.service.event_people(&e.event),
                ),
                actor,
            }
        })
        .collect();
    // 定级依据: why the incident got its first level.
    let reasons: Vec<String> = timeline
        .iter()
        .find_map(|e| match &e.event {
            crate::domain::EventKind::Opened { reasons, .. } => Some(reasons.clone()),
            _ => None,
        })
        .unwrap_or_default();
    // 呼叫记录: who was paged on which channel, and what became of each page.
    let pages: Vec<PageRow> = match state.store.pages_of(incident.id).await {
        Ok(pages) => pages
            .iter()
            .map(|p| PageRow {
                due: local_time(&state, p.due_at),
                person: state.service.person_name(&p.person),
                channel: p.channel.clone(),
                status: state
                    .messages
                    .dashboard()
                    .get(&format!("page_{}", p.status.as_str()))
                    .cloned()
                    .unwrap_or_else(|| p.status.as_str().to_string()),
                error: p.error.clone(),
            })
            .collect(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    render(
        &state,
        "incident.html",
        &me,
        context! {
            i => Serde(row(&state, &incident)),
            timeline => Serde(&entries),
            reasons => Serde(&reasons),
            pages => Serde(&pages),
            escalation => Serde(escalation_view(&state, &incident)),
        },
    )
}
