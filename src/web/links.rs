//! The page a signed action link opens (SMS and email pages carry one): the incident in brief and
//! three buttons, 确认 / 到场 / 转派. Opening the link changes nothing (IM apps and mail scanners
//! fetch links on their own); only the form's POST acts, as the paged person, once per action.

use std::sync::OnceLock;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::Serde;
use minijinja::{Environment, context};
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::config::{Language, Permission, Role};
use crate::domain::action_link::{self, LinkError};
use crate::domain::{Action, Actor, Channel, PersonId};
use crate::engine::ActError;
use crate::store::Page;

fn template() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.add_template("link.html", include_str!("templates/link.html"))
            .expect("the link page template is valid");
        env
    })
}

#[derive(Serialize)]
struct IncidentBrief {
    severity: u8,
    severity_label: String,
    status_label: String,
    title: String,
    system: Option<String>,
    unit: Option<String>,
}

#[derive(Serialize)]
struct Choice {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    action: String,
    to: Option<String>,
}

/// What the page shows above the buttons.
enum Notice {
    None,
    Good(String),
    Bad(String),
}

pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match resolve(&state, &token).await {
        Ok(page) => render(&state, StatusCode::OK, Some(&page), Notice::None).await,
        Err((status, notice)) => render(&state, status, None, notice).await,
    }
}

pub async fn act(
    State(state): State<AppState>,
    Path(token): Path<String>,
    form: Result<Form<LinkForm>, FormRejection>,
) -> Response {
    let page = match resolve(&state, &token).await {
        Ok(page) => page,
        Err((status, notice)) => return render(&state, status, None, notice).await,
    };
    let Ok(Form(form)) = form else {
        let notice = Notice::Bad(state.messages.link("invalid").to_string());
        return render(&state, StatusCode::BAD_REQUEST, Some(&page), notice).await;
    };
    let action = match (form.action.as_str(), form.to.filter(|t| !t.is_empty())) {
        ("acknowledge", _) => Action::Acknowledge,
        ("arrive", _) => Action::ArriveOnSite,
        ("reassign", Some(to)) if state.config.catalogue.person(&to).is_some() => {
            Action::Reassign { to: PersonId(to), reason: String::new() }
        }
        _ => {
            let notice = Notice::Bad(state.messages.link("invalid").to_string());
            return render(&state, StatusCode::BAD_REQUEST, Some(&page), notice).await;
        }
    };
    let allowed = state.config.catalogue.person(&page.person.0).is_some_and(|p| p.may(Permission::Work));
    if !allowed {
        let notice = Notice::Bad(state.messages.error("forbidden").to_string());
        return render(&state, StatusCode::FORBIDDEN, Some(&page), notice).await;
    }
    let now = state.service.now();
    match state.store.use_link(page.id, action.name(), now).await {
        Ok(true) => {}
        Ok(false) => {
            let notice = Notice::Bad(state.messages.link("used").to_string());
            return render(&state, StatusCode::CONFLICT, Some(&page), notice).await;
        }
        Err(e) => return super::error::ApiError::from(e).into_response(),
    }
    let done = match &action {
        Action::Acknowledge => "done_acknowledge",
        Action::ArriveOnSite => "done_arrive",
        _ => "done_reassign",
    };
    let Some(incident) = state.store.incident(page.incident_id).await.ok().flatten() else {
        return render(
            &state,
            StatusCode::NOT_FOUND,
            None,
            Notice::Bad(state.messages.link("invalid").into()),
        )
        .await;
    };
    let actor = Actor::Person(page.person.clone());
    match state.service.act(incident.ticket, action, actor, Channel::Link).await {
        Ok(_) => {
            render(&state, StatusCode::OK, Some(&page), Notice::Good(state.messages.link(done).to_string()))
                .await
        }
        Err(ActError::Transition(e)) => {
            let notice = Notice::Bad(format!("{}{e}", state.messages.link("refused")));
            render(&state, StatusCode::CONFLICT, Some(&page), notice).await
        }
        Err(e) => super::error::ApiError::from(e).into_response(),
    }
}

/// The page a token names, if the token is genuine and current.
async fn resolve(state: &AppState, token: &str) -> Result<Page, (StatusCode, Notice)> {
    let invalid = || (StatusCode::NOT_FOUND, Notice::Bad(state.messages.link("invalid").to_string()));
    let secret = state.config.paging.link_secret.as_ref().ok_or_else(invalid)?;
    let claims =
        action_link::verify(secret.expose().as_bytes(), token, state.service.now()).map_err(|e| match e {
            LinkError::Expired => (StatusCode::GONE, Notice::Bad(state.messages.link("expired").to_string())),
            LinkError::Invalid => invalid(),
        })?;
    state.store.page(claims.page).await.ok().flatten().ok_or_else(invalid)
}

async fn render(state: &AppState, status: StatusCode, page: Option<&Page>, notice: Notice) -> Response {
    let incident = match page {
        Some(p) => state.store.incident(p.incident_id).await.ok().flatten(),
        None => None,
    };
    let catalogue = &state.config.catalogue;
    let brief = incident.as_ref().map(|i| IncidentBrief {
        severity: i.severity.level(),
        severity_label: state.messages.severity(i.severity).to_string(),
        status_label: state.messages.status(i.status).to_string(),
        title: i.title.clone(),
        system: i.system.as_deref().map(|s| catalogue.system(s).map(|x| x.name.clone()).unwrap_or(s.into())),
        unit: i.unit.as_deref().map(|u| catalogue.unit(u).map(|x| x.name.clone()).unwrap_or(u.into())),
    });
    let me = page.map(|p| p.person.0.as_str()).unwrap_or_default();
    let people: Vec<Choice> = catalogue
        .people
        .iter()
        .filter(|p| p.id != me && p.roles.iter().any(|r| matches!(r, Role::Engineer | Role::Admin)))
        .map(|p| Choice { id: p.id.clone(), name: p.name.clone() })
        .collect();
    let lang = match state.config.server.language {
        Language::ZhCn => "zh-CN",
        Language::En => "en",
    };
    let (notice, bad) = match notice {
        Notice::None => (None, false),
        Notice::Good(n) => (Some(n), false),
        Notice::Bad(n) => (Some(n), true),
    };
    let t: std::collections::BTreeMap<&str, &str> = [
        "title",
        "acknowledge",
        "arrive",
        "reassign",
        "reassign_submit",
        "choose_person",
        "status",
        "system",
        "unit",
    ]
    .into_iter()
    .map(|k| (k, state.messages.link(k)))
    .collect();
    let ctx = context! {
        lang => lang,
        t => Serde(t),
        ticket => incident.as_ref().map(|i| i.ticket.to_string()),
        incident => Serde(brief),
        people => Serde(people),
        notice => notice,
        bad => bad,
    };
    match template().get_template("link.html").and_then(|t| t.render(ctx)) {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                ),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => super::error::ApiError::Internal(format!("rendering the link page: {e}")).into_response(),
    }
}
