//! SMS replies to pages (`1 007`, `到场 007`, `3 007 王强`): who sent it, which incident it means,
//! and the action taken as that person, answered whatever happens, in the words of the message
//! catalogue's `[sms]` section.

use minijinja::context;
use tracing::{Instrument as _, info, info_span, warn};
use zhiban_integrations::sms::PhoneNumber;
use zhiban_integrations::sms::reply::{self, ReplyAction, TicketRef};

use crate::config::{Config, Permission, Person};
use crate::domain::{Action, Actor, Channel, Incident, PersonId, Status, TicketNo};
use crate::engine::answers::{name_of, person_by_name, refusal, short_title};
use crate::engine::{ActError, IncidentService};
use crate::messages::{Messages, Section};
use crate::store::{IncidentFilter, PageStatus, StoreError};

/// How far back a reply's `007` is looked for among the incidents that are still open.
const OPEN_INCIDENTS_SEARCHED: u32 = 200;
/// How many recently finished incidents are looked at to explain that `007` is done already.
const FINISHED_INCIDENTS_SEARCHED: u32 = 50;

/// What became of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// The action was taken.
    Done,
    /// The phone number belongs to nobody in the catalogue.
    UnknownSender,
    /// The text is not a reply (the answer explains the forms).
    NotUnderstood,
    /// No incident paged to this person matches the ticket.
    UnknownTicket,
    /// The incident is not in a state that allows the action, the person may not act, or the
    /// person to hand it to is unknown.
    Refused,
    /// The database could not be reached; nothing changed. Keep the message and try again.
    Unavailable,
}

/// The result of a reply: what happened and the answer to send back (in `server.language`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyOutcome {
    pub kind: ReplyKind,
    pub person: Option<PersonId>,
    pub ticket: Option<TicketNo>,
    pub answer: String,
}

impl ReplyOutcome {
    fn new(kind: ReplyKind, answer: impl Into<String>) -> ReplyOutcome {
        ReplyOutcome { kind, person: None, ticket: None, answer: answer.into() }
    }

    /// True when the message must stay where it is (on the SIM) to be handled again later.
    pub fn retry_later(&self) -> bool {
        self.kind == ReplyKind::Unavailable
    }
}

/// `138****8001`: enough to tell numbers apart in a log, not enough to dial.
pub fn masked(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 {
        return "***".into();
    }
    let tail: String = digits[digits.len() - 4..].iter().collect();
    let head: String = digits[..3].iter().collect();
    format!("{head}****{tail}")
}

/// Handles one SMS reply from `from_phone` and returns the answer. Never panics on any text;
/// acts only as the person the number belongs to, through [`Channel::Sms`].
pub async fn handle_reply(
    service: &IncidentService,
    config: &Config,
    from_phone: &str,
    text: &str,
) -> ReplyOutcome {
    let span = info_span!("sms_reply", from = %masked(from_phone));
    async move {
        let outcome = handle(service, config, from_phone, text).await;
        info!(
            kind = ?outcome.kind,
            ticket = outcome.ticket.map(|t| t.to_string()).unwrap_or_default(),
            person = outcome.person.as_ref().map(|p| p.0.as_str()).unwrap_or(""),
            "SMS reply handled"
        );
        outcome
    }
    .instrument(span)
    .await
}

async fn handle(service: &IncidentService, config: &Config, from_phone: &str, text: &str) -> ReplyOutcome {
    let m = service.messages();
    let Some(person) = person_by_phone(config, from_phone) else {
        return ReplyOutcome::new(ReplyKind::UnknownSender, m.sms("unknown_sender", context! {}));
    };
    let person_id = PersonId(person.id.clone());
    let with_person = |mut o: ReplyOutcome| {
        o.person = Some(person_id.clone());
        o
    };
    let parsed = match reply::parse_reply(text) {
        Ok(r) => r,
        Err(e) => return with_person(ReplyOutcome::new(ReplyKind::NotUnderstood, e.to_string())),
    };
    if !person.may(Permission::Work) {
        return with_person(ReplyOutcome::new(ReplyKind::Refused, m.sms("no_permission", context! {})));
    }
    let incident = match find_incident(service, &person_id, &parsed.ticket).await {
        Ok(Found::Open(incident)) => incident,
        Ok(Found::Finished(incident)) => {
            let mut o = ReplyOutcome::new(
                ReplyKind::Refused,
                m.sms(
                    "finished",
                    context! { ticket => incident.ticket.to_string(), status => m.status(incident.status) },
                ),
            );
            o.ticket = Some(incident.ticket);
            return with_person(o);
        }
        Ok(Found::Nothing) => {
            return with_person(ReplyOutcome::new(
                ReplyKind::UnknownTicket,
                m.sms(
                    "unknown_ticket",
                    context! { ticket => parsed.ticket.to_string(), usage => reply::USAGE },
                ),
            ));
        }
        Err(e) => return with_person(unavailable(m, &e)),
    };
    let ticket = incident.ticket;
    let action = match &parsed.action {
        ReplyAction::Acknowledge => Action::Acknowledge,
        ReplyAction::Arrive => Action::ArriveOnSite,
        ReplyAction::Reassign { to: None } => {
            Action::Decline { reason: m.sms("reason_decline", context! {}) }
        }
        ReplyAction::Reassign { to: Some(name) } => match person_by_name(m, Section::Sms, config, name) {
            Ok(to) => Action::Reassign {
                to: PersonId(to.id.clone()),
                reason: m.sms("reason_reassign", context! {}),
            },
            Err(answer) => {
                let mut o = ReplyOutcome::new(ReplyKind::Refused, answer);
                o.ticket = Some(ticket);
                return with_person(o);
            }
        },
    };
    let done = done_answer(m, config, &incident, &action);
    let result = service.act(ticket, action.clone(), Actor::Person(person_id.clone()), Channel::Sms).await;
    let mut outcome = match result {
        Ok(_) => ReplyOutcome::new(ReplyKind::Done, done),
        Err(ActError::Transition(e)) => ReplyOutcome::new(
            ReplyKind::Refused,
            refusal(m, Section::Sms, config, &incident, &person_id, &action, &e),
        ),
        Err(ActError::NotFound(_)) => ReplyOutcome::new(
            ReplyKind::UnknownTicket,
            m.sms("not_found", context! { ticket => ticket.to_string() }),
        ),
        Err(ActError::Store(e)) => unavailable(m, &e),
    };
    outcome.ticket = Some(ticket);
    with_person(outcome)
}

fn unavailable(m: &Messages, e: &StoreError) -> ReplyOutcome {
    warn!("an SMS reply could not be handled now: {e}");
    ReplyOutcome::new(ReplyKind::Unavailable, m.sms("unavailable", context! {}))
}

/// The person whose catalogue phone is this number, in any of the forms people write
/// (`+86 138-0013-8001`, `008613800138001`, `13800138001`). Nobody when two people share it.
fn person_by_phone<'a>(config: &'a Config, from: &str) -> Option<&'a Person> {
    let from = PhoneNumber::parse(from).ok()?;
    let mut matches = config.catalogue.people.iter().filter(|p| {
        p.phone.as_deref().and_then(|ph| PhoneNumber::parse(ph).ok()).is_some_and(|ph| ph == from)
    });
    let first = matches.next()?;
    if matches.next().is_some() {
        warn!("an SMS reply came from a number that several people share; it is ignored");
        return None;
    }
    Some(first)
}

enum Found {
    Open(Incident),
    /// The ticket was paged to this person but is resolved, closed, merged or cancelled.
    Finished(Incident),
    Nothing,
}

/// `Full`: that incident. `Seq(n)`: the newest open incident with that number of the day that
/// paged this person; failing that, the newest finished one (to say it is done).
async fn find_incident(
    service: &IncidentService,
    person: &PersonId,
    ticket: &TicketRef,
) -> Result<Found, StoreError> {
    let store = service.store();
    let seq = match ticket {
        TicketRef::Full(text) => {
            let Ok(number) = text.parse::<TicketNo>() else { return Ok(Found::Nothing) };
            return Ok(match store.incident_by_ticket(number).await? {
                Some(i) if i.status.is_open() => Found::Open(i),
                Some(i) => Found::Finished(i),
                None => Found::Nothing,
            });
        }
        TicketRef::Seq(n) => u32::from(*n),
    };
    let open: Vec<Status> = Status::OPEN.to_vec();
    let finished: Vec<Status> = Status::ALL.into_iter().filter(|s| !s.is_open()).collect();
    for (statuses, limit, open) in
        [(open, OPEN_INCIDENTS_SEARCHED, true), (finished, FINISHED_INCIDENTS_SEARCHED, false)]
    {
        let filter = IncidentFilter { statuses, limit, ..IncidentFilter::default() };
        for incident in store.incidents(&filter).await? {
            if incident.ticket.seq() != seq {
                continue;
            }
            let pages = store.pages_of(incident.id).await?;
            let paged = pages.iter().any(|p| &p.person == person && p.status != PageStatus::Cancelled);
            if paged {
                return Ok(if open { Found::Open(incident) } else { Found::Finished(incident) });
            }
        }
    }
    Ok(Found::Nothing)
}

fn done_answer(m: &Messages, config: &Config, incident: &Incident, action: &Action) -> String {
    let ticket = incident.ticket.to_string();
    match action {
        Action::Acknowledge => m.sms(
            "acknowledged",
            context! { ticket, title => short_title(&incident.title), code => incident.ticket.seq_text() },
        ),
        Action::ArriveOnSite => m.sms("arrived", context! { ticket }),
        Action::Reassign { to, .. } => m.sms("reassigned", context! { ticket, name => name_of(config, to) }),
        _ => m.sms("declined", context! { ticket }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_numbers() {
        assert_eq!(masked("+86 138-0013-8001"), "861****8001");
        assert_eq!(masked("13800138001"), "138****8001");
        assert_eq!(masked("10086"), "***");
    }
}
