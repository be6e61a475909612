//! 应急演练 over HTTP: the plans and recent runs, starting a plan, pausing, resuming, stopping and
//! evaluating a run, and a run's record as Markdown or HTML (a file to keep).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::api::{parse_json, required};
use super::auth::{person, require};
use super::error::ApiError;
use crate::config::Permission;
use crate::domain::drill::DrillRun;
use crate::domain::{Actor, PersonId};
use crate::engine::drills::{self, DrillError};

impl From<DrillError> for ApiError {
    fn from(e: DrillError) -> ApiError {
        match e {
            DrillError::UnknownPlan(_) => ApiError::NotFound(e.to_string()),
            DrillError::NotLead => ApiError::Forbidden(e.to_string()),
            DrillError::Store(s) => s.into(),
            DrillError::Act(a) => a.into(),
            _ => ApiError::Conflict(e.to_string()),
        }
    }
}

/// `GET /api/v1/drills`: the plans and the latest runs.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::ReadIncidents)?;
    let plans: Vec<Value> = state
        .config
        .drills
        .all()
        .into_iter()
        .map(|p| {
            json!({
                "id": p.id, "name": p.name, "scenario": p.scenario, "lead": p.lead,
                "level": p.incident.severity, "system": p.incident.system, "unit": p.incident.unit,
                "tiers": p.tiers.iter().map(|t| t.targets.iter().map(|x| x.to_string()).collect::<Vec<_>>()).collect::<Vec<_>>(),
                "channels": p.channels, "objectives": p.objectives, "schedule": p.schedule,
            })
        })
        .collect();
    let runs = state.store.drill_runs(50).await?;
    Ok(Json(json!({ "plans": plans, "runs": runs })))
}

fn may_run(state: &AppState, headers: &HeaderMap) -> Result<PersonId, ApiError> {
    let me = person(&state.config, headers)?;
    if !(me.may(Permission::Work) || me.may(Permission::ChangeSchedules)) {
        require(me, Permission::Admin)?;
    }
    Ok(PersonId(me.id.clone()))
}

/// `PUT /api/v1/drills/{plan}`: create or change a plan (the keys of `[[drills]]`, as JSON).
/// Leaders, the project manager and admins write drill plans.
pub async fn put(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(plan): Path<String>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let me = person(&state.config, &headers)?;
    if !me.may(Permission::ChangeSchedules) {
        require(me, Permission::Admin)?;
    }
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    match drills::save_plan(&state.service, &plan, &body, &PersonId(me.id.clone())).await {
        Ok(p) => Ok(Json(json!({ "id": p.id, "name": p.name, "policy": p.policy_id() }))),
        Err(Ok(problems)) => Err(ApiError::bad_request(problems.join("; "))),
        Err(Err(e)) => Err(e.into()),
    }
}

/// `POST /api/v1/drills/{plan}/start`.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(plan): Path<String>,
) -> Result<(StatusCode, Json<DrillRun>), ApiError> {
    let me = may_run(&state, &headers)?;
    let run = drills::start(&state.service, &plan, &me.0).await?;
    Ok((StatusCode::CREATED, Json(run)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateBody {
    text: Option<String>,
}

/// `POST /api/v1/drill-runs/{id}/{pause|resume|stop|evaluate}`.
pub async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DrillRun>, ApiError> {
    let me = may_run(&state, &headers)?;
    let run =
        state.store.drill_run(id).await?.ok_or_else(|| ApiError::NotFound(format!("no drill run {id}")))?;
    let actor = Actor::Person(me.clone());
    let run = match action.as_str() {
        "pause" => drills::pause(&state.service, &run, actor).await?,
        "resume" => drills::resume(&state.service, &run, actor).await?,
        "stop" => drills::stop(&state.service, &run, actor).await?,
        "evaluate" => {
            let b: EvaluateBody = parse_json(body)?;
            drills::evaluate_run(&state.service, &run, &me, &required(b.text, "text")?).await?
        }
        other => {
            return Err(ApiError::NotFound(format!(
                "no drill action '{other}'; use pause, resume, stop or evaluate"
            )));
        }
    };
    Ok(Json(run))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    format: Option<String>,
}

/// `GET /api/v1/drill-runs/{id}/report?format=md|html|json`.
pub async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let me = person(&state.config, &headers)?;
    require(me, Permission::ReadIncidents)?;
    let run =
        state.store.drill_run(id).await?.ok_or_else(|| ApiError::NotFound(format!("no drill run {id}")))?;
    let record = drills::record(&state.service, &run).await?;
    let file = |ext: &str| format!("attachment; filename=\"drill-{id}.{ext}\"");
    Ok(match q.format.as_deref().unwrap_or("md") {
        "md" | "markdown" => (
            [
                (header::CONTENT_TYPE, "text/markdown; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, file("md")),
            ],
            drills::render(&state.service, &record, false),
        )
            .into_response(),
        "html" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8".to_string())],
            drills::render(&state.service, &record, true),
        )
            .into_response(),
        "json" => Json(record).into_response(),
        other => return Err(ApiError::bad_field("format", format!("'{other}' is not md, html or json"))),
    })
}
