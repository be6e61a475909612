//! Answers to people who act on an incident from a channel (an SMS reply, an IM message): who
//! they mean by a name, and why an action was not taken, in the words of the catalogue section of
//! that channel (`[sms]` or `[chat]`). "Already done" is not an error to an engineer.

use minijinja::context;

use crate::config::{Config, Person};
use crate::domain::{Action, Incident, PersonId, Status, TransitionError};
use crate::messages::{Messages, Section};

/// The person to hand over to, by name (`王强`) or id (`wangqiang`).
pub fn person_by_name<'a>(
    m: &Messages,
    section: Section,
    config: &'a Config,
    name: &str,
) -> Result<&'a Person, String> {
    let name = name.trim();
    let people = &config.catalogue.people;
    let by_name: Vec<&Person> = people.iter().filter(|p| p.name == name).collect();
    match by_name.as_slice() {
        [one] => return Ok(one),
        [] => {}
        _ => return Err(m.text(section, "ambiguous_name", context! { name => name, id => &by_name[0].id })),
    }
    people
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(name))
        .ok_or_else(|| m.text(section, "unknown_name", context! { name => name }))
}

pub fn name_of(config: &Config, person: &PersonId) -> String {
    config.catalogue.person(&person.0).map(|p| p.name.clone()).unwrap_or_else(|| person.0.clone())
}

pub fn short_title(title: &str) -> String {
    let mut t: String = title.chars().take(20).collect();
    if title.chars().count() > 20 {
        t.push('…');
    }
    t
}

/// Why the action was not taken, politely; "already done" is not an error to the engineer.
pub fn refusal(
    m: &Messages,
    section: Section,
    config: &Config,
    incident: &Incident,
    person: &PersonId,
    action: &Action,
    error: &TransitionError,
) -> String {
    let ticket = incident.ticket.to_string();
    let owner = incident.assignee.as_ref();
    match (action, error) {
        (Action::Acknowledge, TransitionError::NotAllowed { from, .. }) if from.is_open() => match owner {
            Some(p) if p == person => m.text(section, "already_acknowledged_by_you", context! { ticket }),
            Some(p) => {
                m.text(section, "already_acknowledged_by", context! { ticket, name => name_of(config, p) })
            }
            None => m.text(section, "already_acknowledged", context! { ticket }),
        },
        (Action::ArriveOnSite, TransitionError::NotAllowed { from: Status::OnSite, .. }) => {
            m.text(section, "already_on_site", context! { ticket })
        }
        (_, TransitionError::SameAssignee(p)) => {
            m.text(section, "same_assignee", context! { ticket, name => name_of(config, p) })
        }
        (_, TransitionError::NoHigherTier) => {
            m.text(section, "no_higher_tier", context! { ticket, code => incident.ticket.seq_text() })
        }
        (_, TransitionError::NotAllowed { from, .. }) => m.text(
            section,
            "not_allowed",
            context! { ticket, status => m.status(*from), action => action_text(m, section, action) },
        ),
        (_, other) => m.text(
            section,
            "failed",
            context! { ticket, action => action_text(m, section, action), error => other.to_string() },
        ),
    }
}

/// The name of the action, for "cannot …" answers.
pub fn action_text(m: &Messages, section: Section, action: &Action) -> String {
    let key = match (section, action) {
        (_, Action::Acknowledge) => "action_acknowledge",
        (_, Action::ArriveOnSite) => "action_arrive",
        (Section::Chat, Action::Comment { .. }) => "action_comment",
        (Section::Chat, Action::Resolve { .. }) => "action_resolve",
        (Section::Chat, Action::Close { .. }) => "action_close",
        (Section::Chat, Action::SetSeverity { .. }) => "action_set_severity",
        (Section::Chat, Action::Escalate { .. }) => "action_escalate",
        (Section::Chat, Action::Decline { .. }) => "action_decline",
        _ => "action_reassign",
    };
    m.text(section, key, context! {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_cut() {
        assert_eq!(short_title("短"), "短");
        assert_eq!(short_title(&"长".repeat(30)).chars().count(), 21);
    }
}
