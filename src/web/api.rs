//! The JSON API: incidents with filters, one incident with its timeline, and the actions people
//! take (acknowledge, arrive, resolve, close, comment, set severity, …) as a named person.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{person, require};
use super::error::ApiError;
use crate::config::Permission;
use crate::domain::classify::ClassifyInput;
use crate::domain::silence::{self, Matcher};
use crate::domain::{
    Action, Actor, Channel, Incident, IncidentId, PersonId, Severity, Status, TicketNo, TimelineEntry,
};
use crate::engine::Report;
use crate::engine::classify::{MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS, clean_text, reason_texts};
use crate::store::{IncidentFilter, OutboxStatus};

/// An incident as the API shows it: the stored fields plus labels and a link.
#[derive(Debug, Serialize)]
pub struct IncidentView {
    #[serde(flatten)]
    pub incident: Incident,
    pub severity_label: String,
    pub status_label: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineView>>,
    /// Files that came with reports (a chat photo, a mail attachment), with their download path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<AttachmentView>>,
}

#[derive(Debug, Serialize)]
pub struct AttachmentView {
    pub id: i64,
    pub name: String,
    pub mime: Option<String>,
    pub size: u64,
    pub created_at: jiff::Timestamp,
    pub path: String,
}

#[derive(Debug, Serialize)]
pub struct TimelineView {
    #[serde(flatten)]
    pub entry: TimelineEntry,
    pub actor_name: String,
}

pub(super) fn view(
    state: &AppState,
    incident: Incident,
    timeline: Option<Vec<TimelineEntry>>,
) -> IncidentView {
    let timeline = timeline.map(|entries| {
        entries
            .into_iter()
            .map(|entry| TimelineView { actor_name: state.service.actor_name(&entry.actor), entry })
            .collect()
    });
    IncidentView {
        severity_label: state.messages.severity(incident.severity).to_string(),
        status_label: state.messages.status(incident.status).to_string(),
        url: state.service.incident_url(incident.ticket),
        incident,
        timeline,
        attachments: None,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated statuses, or `open` for every unresolved one.
    status: Option<String>,
    /// Comma-separated levels 1-4.
    severity: Option<String>,
    system: Option<String>,
    unit: Option<String>,
    /// RFC 3339 instants.
    from: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
    /// Incident id to continue after (the `next` value of the previous page).
    before: Option<i64>,
}

pub(super) fn parse_filter(q: ListQuery) -> Result<IncidentFilter, ApiError> {
    let mut filter = IncidentFilter { limit: q.limit.unwrap_or(50).clamp(1, 500), ..Default::default() };
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        for part in s.split(',').map(str::trim) {
            if part == "open" {
                filter.statuses.extend(Status::OPEN);
            } else {
                let status = Status::parse(part).ok_or_else(|| {
                    ApiError::bad_field("status", format!("'{part}' is not a status; use open or one of new, reopened, acknowledged, in_progress, on_site, resolved, closed, merged, cancelled"))
                })?;
                filter.statuses.push(status);
            }
        }
    }
    if let Some(s) = q.severity.as_deref().filter(|s| !s.is_empty()) {
        for part in s.split(',') {
            filter
                .severities
                .push(part.parse::<Severity>().map_err(|e| ApiError::bad_field("severity", e.to_string()))?);
        }
    }
    let instant = |field: &str, v: Option<String>| -> Result<Option<jiff::Timestamp>, ApiError> {
        v.map(|v| {
            v.parse().map_err(|_| ApiError::bad_field(field, format!("'{v}' is not an RFC 3339 instant")))
        })
        .transpose()
    };
    filter.created_from = instant("from", q.from)?;
    filter.created_until = instant("until", q.until)?;
    filter.system = q.system;
    filter.unit = q.unit;
    filter.before_id = q.before.map(IncidentId);
    Ok(filter)
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::ReadIncidents)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let filter = parse_filter(q)?;
    let incidents = state.store.incidents(&filter).await?;
    let next = (incidents.len() as u32 == filter.limit).then(|| incidents.last().map(|i| i.id.0)).flatten();
    let items: Vec<_> = incidents.into_iter().map(|i| view(&state, i, None)).collect();
    Ok(Json(json!({ "incidents": items, "next": next })))
}

pub(super) fn parse_ticket(raw: &str) -> Result<TicketNo, ApiError> {
    raw.parse().map_err(|e| ApiError::bad_field("ticket", format!("'{raw}': {e}")))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
) -> Result<Json<IncidentView>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::ReadIncidents)?;
    let ticket = parse_ticket(&ticket)?;
    current_view(&state, ticket).await
}

/// An incident with its timeline, as it stands now.
async fn current_view(state: &AppState, ticket: TicketNo) -> Result<Json<IncidentView>, ApiError> {
    let (incident, timeline) = state
        .store
        .incident_with_timeline(ticket)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no incident {ticket}")))?;
    let attachments = state.store.attachments_of(incident.id).await?;
    let mut shown = view(state, incident, Some(timeline));
    shown.attachments = Some(
        attachments
            .into_iter()
            .map(|a| AttachmentView {
                path: format!("/api/v1/incidents/{ticket}/attachments/{}", a.id),
                id: a.id,
                name: a.name,
                mime: a.mime,
                size: a.size,
                created_at: a.created_at,
            })
            .collect(),
    );
    Ok(Json(shown))
}

/// The optional body of an action.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    note: Option<String>,
    reason: Option<String>,
    text: Option<String>,
    severity: Option<Severity>,
    target: Option<String>,
    /// A person id (reassign).
    to: Option<String>,
}

pub(super) fn parse_json<T: for<'de> Deserialize<'de> + Default>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("the body is larger than server.body_limit_bytes".into())
        } else {
            ApiError::bad_request(r.body_text())
        }
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let de = &mut serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            ApiError::bad_request(format!("the body is not valid: {inner}"))
        } else {
            ApiError::bad_field(path.clone(), format!("`{path}`: {inner}"))
        }
    })
}

fn note(value: Option<String>) -> Option<String> {
    value.map(|v| clean_text(&v, MAX_DESCRIPTION_CHARS)).filter(|v| !v.trim().is_empty())
}

/// A required free-text field, cleaned and capped like every text zhiban stores.
pub(super) fn required(value: Option<String>, field: &'static str) -> Result<String, ApiError> {
    value
        .map(|v| clean_text(&v, MAX_DESCRIPTION_CHARS))
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::bad_field(field, format!("`{field}` is required")))
}

/// A silence to set (静默).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceBody {
    dedup_key: Option<String>,
    /// A system id or any of its names.
    system: Option<String>,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    /// How long: "30m", "2h".
    duration: Option<String>,
    reason: Option<String>,
}

pub async fn create_silence(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::Work)?;
    let b: SilenceBody = parse_json(body)?;
    let reason = required(b.reason, "reason")?;
    let duration = required(b.duration, "duration")?;
    let duration = duration
        .parse::<jiff::SignedDuration>()
        .ok()
        .and_then(|d| silence::check_duration(d).ok())
        .ok_or_else(|| {
            ApiError::bad_field(
                "duration",
                format!("'{duration}' is not a duration between 1m and 744h (e.g. \"2h\")"),
            )
        })?;
    let system = match b.system.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            state
                .config
                .catalogue
                .find_system(s)
                .map(|x| x.id.clone())
                .ok_or_else(|| ApiError::bad_field("system", format!("no system is called '{s}'")))?,
        ),
    };
    let matcher = Matcher { dedup_key: b.dedup_key.map(|k| k.trim().to_string()), system, labels: b.labels }
        .validated()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let silence = state.service.create_silence(matcher, &reason, &PersonId(me.id.clone()), duration).await?;
    Ok((StatusCode::CREATED, Json(json!({ "silence": silence }))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilencesQuery {
    /// Include ended silences.
    #[serde(default)]
    all: bool,
}

pub async fn silences(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SilencesQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::ReadIncidents)?;
    let active_at = (!q.all).then(|| state.service.now());
    Ok(Json(json!({ "silences": state.store.silences(active_at).await? })))
}

pub async fn end_silence(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::Work)?;
    if !state.service.end_silence(id, &PersonId(me.id.clone())).await? {
        return Err(ApiError::NotFound(format!("no running silence {id}")));
    }
    Ok(Json(json!({ "ended": id })))
}

/// 交班: hand the caller's open incidents to the person taking over.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverBody {
    to: Option<String>,
    note: Option<String>,
}

pub async fn handover(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::Work)?;
    let b: HandoverBody = parse_json(body)?;
    let to = required(b.to, "to")?;
    if to == me.id {
        return Err(ApiError::bad_field("to", "hand over to someone else"));
    }
    if !state.config.catalogue.person(&to).is_some_and(|p| p.may(Permission::Work)) {
        return Err(ApiError::bad_field("to", format!("'{to}' is not an engineer in the catalogue")));
    }
    let handed = state
        .service
        .hand_over(&PersonId(me.id.clone()), &PersonId(to.clone()), note(b.note), Channel::Api)
        .await?;
    Ok(Json(json!({ "to": to, "handed_over": handed })))
}

/// An incident's pages (呼叫记录): who was paged on which channel, and what became of each.
pub async fn pages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let incident = readable_incident(&state, &headers, &ticket).await?;
    let pages = state.store.pages_of(incident.id).await?;
    Ok(Json(json!({ "ticket": incident.ticket, "escalation": incident.escalation, "pages": pages })))
}

pub async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ticket, verb)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IncidentView>, ApiError> {
    let me = person(&state.config, &headers)?;
    let ticket = parse_ticket(&ticket)?;
    let b: ActionBody = parse_json(body)?;
    let (action, permission) = match verb.as_str() {
        "acknowledge" => (Action::Acknowledge, Permission::Work),
        "start" => (Action::StartProgress, Permission::Work),
        "arrive" => (Action::ArriveOnSite, Permission::Work),
        "resolve" => (Action::Resolve { note: note(b.note) }, Permission::Work),
        "close" => (Action::Close { note: note(b.note) }, Permission::Work),
        "reopen" => (Action::Reopen { reason: required(b.reason, "reason")? }, Permission::Work),
        "cancel" => (Action::Cancel { reason: required(b.reason, "reason")? }, Permission::Triage),
        "merge" => {
            let target = parse_ticket(&required(b.target, "target")?)?;
            (Action::MergeInto { target }, Permission::Triage)
        }
        "comment" => (Action::Comment { text: required(b.text, "text")? }, Permission::Comment),
        "pause" => (Action::PauseSla { reason: required(b.reason, "reason")? }, Permission::Work),
        "resume" => (Action::ResumeSla, Permission::Work),
        "severity" => {
            let to =
                b.severity.ok_or_else(|| ApiError::bad_field("severity", "`severity` (1-4) is required"))?;
            (Action::SetSeverity { to, reason: required(b.reason, "reason")? }, Permission::SetSeverity)
        }
        "decline" => (Action::Decline { reason: required(b.reason, "reason")? }, Permission::Work),
        "escalate" => (Action::Escalate { reason: required(b.reason, "reason")? }, Permission::Work),
        "reassign" => {
            let to = required(b.to, "to")?;
            if state.config.catalogue.person(&to).is_none() {
                return Err(ApiError::bad_field("to", format!("no person has the id '{to}'")));
            }
            (
                Action::Reassign { to: PersonId(to), reason: note(b.reason).unwrap_or_default() },
                Permission::Work,
            )
        }
        other => {
            return Err(ApiError::NotFound(format!(
                "unknown action '{other}'; use acknowledge, start, arrive, resolve, close, reopen, cancel, merge, comment, severity, pause, resume, decline, reassign or escalate"
            )));
        }
    };
    require(me, permission)?;
    let actor = Actor::Person(PersonId(me.id.clone()));
    state.service.act(ticket, action, actor, Channel::Api).await?;
    current_view(&state, ticket).await
}

/// A fault reported through the API (e.g. by the service desk taking a phone call).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    title: Option<String>,
    #[serde(default)]
    description: String,
    system: Option<String>,
    unit: Option<String>,
    severity: Option<Severity>,
    /// Reports with the same key join one incident while it is open.
    dedup_key: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::Comment)?;
    let b: CreateBody = parse_json(body)?;
    let title = clean_text(&required(b.title, "title")?, MAX_TITLE_CHARS);
    let description = clean_text(&b.description, MAX_DESCRIPTION_CHARS);
    let catalogue = &state.config.catalogue;
    let system = match b.system {
        Some(s) => Some(catalogue.find_system(&s).map(|x| x.id.clone()).ok_or_else(|| {
            ApiError::bad_field(
                "system",
                format!("'{s}' is not a system in the catalogue (name, id or alias)"),
            )
        })?),
        None => None,
    };
    let unit = match b.unit {
        Some(u) => Some(catalogue.find_unit(&u).map(|x| x.id.clone()).ok_or_else(|| {
            ApiError::bad_field("unit", format!("'{u}' is not a unit in the catalogue (name, id or alias)"))
        })?),
        None => None,
    };
    // The reporter's level counts as the sender's; the text (定级) may raise it, never lower it.
    let text = if description.is_empty() { title.clone() } else { format!("{title}\n{description}") };
    let c = state.config.classifier.classify(&ClassifyInput {
        text: &text,
        sender_severity: b.severity,
        system_hint: None,
        unit_hint: None,
    });
    let system = system.or(c.system.clone());
    let unit = unit.or(c.unit.clone());
    let fingerprint = b.dedup_key.unwrap_or_else(|| {
        // Without a key every report is its own incident.
        format!("{}:{}:{}", me.id, state.service.now().as_nanosecond(), rand::random::<u64>())
    });
    let report = Report {
        source: "api".into(),
        fingerprint,
        occurrence_id: None,
        resolved: false,
        title,
        description,
        // The classifier had the reporter's level as the sender's: its answer is never milder.
        severity: c.severity,
        reasons: reason_texts(&c, state.config.server.language),
        system,
        unit,
        labels: [("reported_by".to_string(), me.id.clone())].into(),
        link: None,
        reporter: Some(PersonId(me.id.clone())),
    };
    let outcome = state.intake.submit(vec![report]).await?.remove(0);
    let status = if outcome.disposition == crate::engine::Disposition::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let ticket = outcome.ticket.map(|t| t.to_string());
    let url = outcome.ticket.map(|t| state.service.incident_url(t));
    Ok((status, Json(json!({ "status": outcome.disposition.as_str(), "ticket": ticket, "url": url }))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Records after this sequence number (the `next` of the previous page).
    after: Option<i64>,
    limit: Option<u32>,
}

/// The audit log, oldest first (admins only).
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::Admin)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let records = state.store.audit_log(q.after.unwrap_or(0), q.limit.unwrap_or(100).clamp(1, 1000)).await?;
    let next = records.last().map(|r| r.seq);
    Ok(Json(json!({ "records": records, "next": next })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    status: Option<String>,
    limit: Option<u32>,
}

/// Outbox messages, e.g. `?status=dead` for the dead letters (admins only).
pub async fn outbox(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<OutboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::Admin)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let status = q
        .status
        .map(|s| {
            OutboxStatus::parse(&s).ok_or_else(|| ApiError::bad_field("status", "use pending, sent or dead"))
        })
        .transpose()?;
    let messages = state.store.outbox_messages(status, q.limit.unwrap_or(100).clamp(1, 1000)).await?;
    Ok(Json(json!({ "messages": messages })))
}

/// `GET /api/v1/incidents/{ticket}/attachments/{id}`: a file that came with a report.
pub async fn attachment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((ticket, id)): Path<(String, i64)>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let incident = readable_incident(&state, &headers, &ticket).await?;
    let ticket = incident.ticket;
    let (meta, data) = state
        .store
        .attachment(id)
        .await?
        .filter(|(m, _)| m.incident_id == incident.id)
        .ok_or_else(|| ApiError::NotFound(format!("incident {ticket} has no attachment {id}")))?;
    let mime = meta.mime.unwrap_or_else(|| "application/octet-stream".into());
    // The name is the reporter's: keep it out of the header but for safe characters.
    let safe: String =
        meta.name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect();
    let disposition =
        format!("attachment; filename=\"{}\"", if safe.is_empty() { "attachment".into() } else { safe });
    Ok((
        [(axum::http::header::CONTENT_TYPE, mime), (axum::http::header::CONTENT_DISPOSITION, disposition)],
        data,
    )
        .into_response())
}

/// The incident a path names, for someone who may read incidents.
pub(super) async fn readable_incident(
    state: &AppState,
    headers: &HeaderMap,
    ticket: &str,
) -> Result<Incident, ApiError> {
    let me = person(&state.config, headers)?;
    require(me, Permission::ReadIncidents)?;
    incident_named(state, parse_ticket(ticket)?).await
}

/// The incident with this ticket number, or 404.
pub(super) async fn incident_named(state: &AppState, ticket: TicketNo) -> Result<Incident, ApiError> {
    state
        .store
        .incident_by_ticket(ticket)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no incident {ticket}")))
}
