//! One mail from a mailbox becomes work exactly once: a new report (classified like any other),
//! a comment on the ticket it answers (by the 【工单 …】 tag or by In-Reply-To/References), or
//! nothing (an auto-reply, a bounce, the bot's own mail), or it is set aside as malformed with why.
//! What became of it is recorded under the mailbox's UIDVALIDITY and the mail's UID.

use std::collections::BTreeMap;

use minijinja::context;
use tracing::{info, warn};
use zhiban_integrations::email::{
    InboundMail, is_own_address, parse_mail, strip_quoted, subject_tag, ticket_in_subject,
};

use super::outgoing::{self, MailOut};
use crate::config::email::MailboxConfig;
use crate::config::{Permission, Person};
use crate::domain::classify::ClassifyInput;
use crate::domain::{Action, Actor, Channel, Incident, IncidentId, PersonId, TicketNo};
use crate::engine::classify::{
    MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS, Report, clean_text, reason_texts, reported_fault,
};
use crate::engine::{ActError, Disposition, IncidentService};
use crate::store::StoreError;
use zhiban_commands::{Command, ParseContext, TicketRef};
use zhiban_integrations::sms::reply::ReplyAction;

/// What became of one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Seen before (another instance, or before a restart): nothing done.
    Before,
    Reported {
        incident: IncidentId,
        disposition: Disposition,
    },
    Commented {
        incident: IncidentId,
    },
    Ignored {
        why: String,
    },
    Quarantined {
        why: String,
    },
}

impl Taken {
    fn outcome(&self) -> String {
        match self {
            Taken::Before => "before".into(),
            Taken::Reported { disposition, .. } => disposition.as_str().into(),
            Taken::Commented { .. } => "comment".into(),
            Taken::Ignored { why } => format!("ignored: {why}"),
            Taken::Quarantined { why } => format!("quarantined: {why}"),
        }
    }

    fn incident(&self) -> Option<IncidentId> {
        match self {
            Taken::Reported { incident, .. } | Taken::Commented { incident } => Some(*incident),
            _ => None,
        }
    }
}

/// Where a mail came from: the mailbox and the mail's place in it.
#[derive(Debug, Clone, Copy)]
pub struct MailRef<'a> {
    pub mailbox: &'a MailboxConfig,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// Take one raw mail. An error means the database could not be reached: nothing was recorded, and
/// the mail stays unhandled on the server to be taken again.
pub async fn take(service: &IncidentService, at: MailRef<'_>, raw: &[u8]) -> Result<Taken, StoreError> {
    let store = service.store();
    let name = at.mailbox.name.as_str();
    if store.mail_seen(name, at.uidvalidity, at.uid).await? {
        return Ok(Taken::Before);
    }
    let now = service.now();
    let mail = match parse_mail(raw) {
        Ok(m) => m,
        Err(e) => {
            let why = e.to_string();
            warn!(mailbox = name, uid = at.uid, "a mail was set aside: {why}");
            store.quarantine_mail(name, at.uidvalidity, at.uid, &why, raw, now).await?;
            return Ok(Taken::Quarantined { why });
        }
    };
    let taken = decide(service, at, &mail).await?;
    store
        .record_mail(
            name,
            at.uidvalidity,
            at.uid,
            mail.message_id.as_deref(),
            &taken.outcome(),
            taken.incident(),
            now,
        )
        .await?;
    info!(mailbox = name, uid = at.uid, outcome = %taken.outcome(), "mail taken");
    Ok(taken)
}

async fn decide(service: &IncidentService, at: MailRef<'_>, mail: &InboundMail) -> Result<Taken, StoreError> {
    let config = service.config();
    let Some(email) = config.email.as_ref() else {
        return Ok(Taken::Ignored { why: "email is not configured".into() });
    };
    if let Some(automatic) = &mail.automatic {
        return Ok(Taken::Ignored { why: automatic.reason().to_string() });
    }
    let Some(from) = mail.from.as_ref() else {
        return Ok(Taken::Ignored { why: "no sender".into() });
    };
    if is_own_address(from, &email.own_addresses) {
        return Ok(Taken::Ignored { why: "sent by zhiban itself".into() });
    }
    let person = config
        .catalogue
        .people
        .iter()
        .find(|p| p.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&from.address)));
    if let Some(incident) = thread_of(service, mail).await?
        && incident.status.is_open()
    {
        // Where strangers may not report, only the catalogue and the ticket's own reporter add to it.
        let reporter =
            incident.labels.get("reporter_email").is_some_and(|r| r.eq_ignore_ascii_case(&from.address));
        if person.is_none() && !reporter && !at.mailbox.allow_unknown_senders {
            return Ok(Taken::Ignored { why: format!("{} is not in the catalogue", from.address) });
        }
        return comment(service, at, mail, &incident, person, &from.address).await;
    }
    if person.is_none() && !at.mailbox.allow_unknown_senders {
        return Ok(Taken::Ignored { why: format!("{} is not in the catalogue", from.address) });
    }
    report(service, at, mail, person).await
}

/// The ticket a mail answers: the subject's tag, else a message id it refers to.
async fn thread_of(service: &IncidentService, mail: &InboundMail) -> Result<Option<Incident>, StoreError> {
    let store = service.store();
    if let Some(ticket) = ticket_in_subject(&mail.subject).and_then(|t| t.parse::<TicketNo>().ok())
        && let Some(incident) = store.incident_by_ticket(ticket).await?
    {
        return Ok(Some(incident));
    }
    let ids: Vec<String> = mail.in_reply_to.iter().chain(mail.references.iter().rev()).cloned().collect();
    if ids.is_empty() {
        return Ok(None);
    }
    match store.mail_thread(&ids).await? {
        Some(id) => store.incident(id).await,
        None => Ok(None),
    }
}

async fn comment(
    service: &IncidentService,
    at: MailRef<'_>,
    mail: &InboundMail,
    incident: &Incident,
    person: Option<&Person>,
    address: &str,
) -> Result<Taken, StoreError> {
    let store = service.store();
    let now = service.now();
    let text = clean_text(strip_quoted(&mail.text).trim(), MAX_DESCRIPTION_CHARS);
    let actor = match person {
        Some(p) => Actor::Person(PersonId(p.id.clone())),
        None => Actor::Source(format!("email:{address}")),
    };
    // An engineer answering their own page by mail with 确认 / 到场 / 恢复 on the first line acts.
    // Only an answer to a page mail sent to that person counts: a From header is easy to forge,
    // the page's Message-ID is not known outside the mailbox it went to.
    let mut action = Action::Comment { text: text.clone() };
    if let Some(p) = person.filter(|p| p.may(Permission::Work))
        && let Some(command) = command_in(&text)
        && answers_own_page(service, mail, incident, &PersonId(p.id.clone())).await?
    {
        action = command;
    }
    if !text.is_empty() {
        match service.act(incident.ticket, action, actor, Channel::Email).await {
            Ok(_) => {}
            Err(ActError::Store(e)) => return Err(e),
            Err(e) => warn!(ticket = %incident.ticket, "a mail reply could not be added: {e}"),
        }
    }
    attach(service, at, mail, incident.id).await?;
    if let Some(id) = &mail.message_id {
        store.add_mail_thread(std::slice::from_ref(id), incident.id, now).await?;
    }
    Ok(Taken::Commented { incident: incident.id })
}

/// Whether the mail answers a page of this incident that was mailed to `person`.
async fn answers_own_page(
    service: &IncidentService,
    mail: &InboundMail,
    incident: &Incident,
    person: &PersonId,
) -> Result<bool, StoreError> {
    let pages = service.store().pages_of(incident.id).await?;
    let ours: Vec<String> = pages
        .iter()
        .filter(|p| &p.person == person)
        .map(|p| super::sink::page_message_id(service.config(), p.id, &p.person))
        .collect();
    Ok(mail.in_reply_to.iter().chain(mail.references.iter()).any(|id| ours.contains(id)))
}

async fn attach(
    service: &IncidentService,
    at: MailRef<'_>,
    mail: &InboundMail,
    incident: IncidentId,
) -> Result<(), StoreError> {
    let Some(email) = service.config().email.as_ref() else { return Ok(()) };
    // The mail's place in its mailbox names its files: two mails without a Message-ID differ.
    let key = format!("{}:{}:{}", at.mailbox.name, at.uidvalidity, at.uid);
    for (i, a) in mail.attachments.iter().enumerate() {
        if a.data.len() as u64 > email.attachment_max_bytes {
            warn!(name = %a.name, size = a.data.len(), "a mail attachment over the limit was not kept");
            continue;
        }
        let source = format!("email:{key}:{i}");
        service
            .store()
            .add_attachment(incident, &a.name, Some(&a.mime), &a.data, &source, service.now())
            .await?;
    }
    Ok(())
}

/// The action a reply's first line asks for, in the chat command language (`确认`, `到场`,
/// `恢复 已重启服务`); the ticket is the thread's, whatever the line says.
fn command_in(text: &str) -> Option<Action> {
    let first = text.lines().find(|l| !l.trim().is_empty())?;
    match zhiban_commands::parse(
        first,
        &ParseContext { replying_to: Some(TicketRef::Seq(0)), bot_username: None },
    ) {
        Ok(Some(Command::Ack { .. })) => Some(Action::Acknowledge),
        Ok(Some(Command::Arrive { .. })) => Some(Action::ArriveOnSite),
        Ok(Some(Command::Resolve { note, .. })) => Some(Action::Resolve { note }),
        // The SMS reply codes printed in every page (`1 001` acknowledge, `2 001` on site).
        _ => match zhiban_integrations::sms::reply::parse_reply(first).ok()?.action {
            ReplyAction::Acknowledge => Some(Action::Acknowledge),
            ReplyAction::Arrive => Some(Action::ArriveOnSite),
            ReplyAction::Reassign { .. } => None,
        },
    }
}

/// A subject without the prefixes mail clients add to replies and forwards.
fn bare_subject(subject: &str) -> &str {
    let mut s = subject.trim();
    loop {
        let before = s;
        for prefix in [
            "Re:",
            "RE:",
            "re:",
            "Fw:",
            "FW:",
            "Fwd:",
            "回复：",
            "回复:",
            "答复：",
            "答复:",
            "转发：",
            "转发:",
        ] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest.trim_start();
            }
        }
        if s == before {
            return s;
        }
    }
}

async fn report(
    service: &IncidentService,
    at: MailRef<'_>,
    mail: &InboundMail,
    person: Option<&Person>,
) -> Result<Taken, StoreError> {
    let config = service.config();
    let store = service.store();
    let from = mail.from.as_ref().expect("checked by the caller");
    let subject = bare_subject(&mail.subject);
    let body = clean_text(strip_quoted(&mail.text).trim(), MAX_DESCRIPTION_CHARS);
    let title = if subject.is_empty() {
        clean_text(
            body.lines().find(|l| !l.trim().is_empty()).unwrap_or("（无主题邮件）").trim(),
            MAX_TITLE_CHARS,
        )
    } else {
        clean_text(subject, MAX_TITLE_CHARS)
    };
    let text = format!("{title}\n{body}");
    let c = config.classifier.classify(&ClassifyInput {
        text: &text,
        sender_severity: None,
        system_hint: None,
        unit_hint: person.and_then(|p| p.unit.as_deref()),
    });
    let place = format!("{}:{}:{}", at.mailbox.name, at.uidvalidity, at.uid);
    let fingerprint =
        reported_fault(c.system.as_deref(), c.unit.as_deref()).unwrap_or_else(|| format!("mail:{place}"));
    let mut labels = BTreeMap::new();
    labels.insert("reporter_email".to_string(), from.address.clone());
    if let Some(name) = &from.name {
        labels.insert("reporter_name".to_string(), clean_text(name, 100));
    }
    if let Some(p) = person {
        labels.insert("reported_by".to_string(), p.id.clone());
    }
    let reasons = reason_texts(&c, config.server.language);
    let report = Report {
        source: "email".into(),
        fingerprint,
        occurrence_id: Some(
            mail.message_id.clone().map_or_else(|| format!("mail:{place}"), |id| format!("mid:{id}")),
        ),
        resolved: false,
        title,
        description: body,
        severity: c.severity,
        reasons: reasons.clone(),
        system: c.system.clone(),
        unit: c.unit.clone(),
        labels,
        link: None,
        reporter: person.map(|p| PersonId(p.id.clone())),
    };
    let outcome = service.ingest(&[report]).await?.remove(0);
    let Some(id) = outcome.incident else {
        return Ok(Taken::Ignored { why: "nothing to do".into() });
    };
    let Some(incident) = store.incident(id).await? else {
        return Ok(Taken::Ignored { why: "nothing to do".into() });
    };
    attach(service, at, mail, id).await?;
    if let Some(message_id) = &mail.message_id {
        store.add_mail_thread(std::slice::from_ref(message_id), id, service.now()).await?;
    }
    // The answer: the ticket number, level, reasons and deadlines, threaded under the mail.
    let m = service.messages();
    let url = service.incident_url(incident.ticket);
    let tag = subject_tag(&incident.ticket.to_string());
    let footer = m.email("footer", context! {});
    let text = match outcome.disposition {
        Disposition::Created | Disposition::Duplicate => {
            let sla = incident.sla.as_ref();
            m.email(
                "ack_text",
                context! {
                    ticket => incident.ticket.to_string(),
                    sev => m.severity(incident.severity),
                    system => service.system_name(&incident),
                    unit => incident.unit.as_deref().and_then(|u| config.catalogue.unit(u)).map(|u| u.name.clone()),
                    reasons,
                    respond_by => sla.and_then(|s| s.respond_due).map(|t| t.to_string()),
                    resolve_by => sla.and_then(|s| s.resolve_due).map(|t| t.to_string()),
                    url,
                    footer,
                },
            )
        }
        _ => m.email(
            "joined_text",
            context! {
                ticket => incident.ticket.to_string(),
                title => &incident.title,
                occurrences => incident.occurrences,
                status => m.status(incident.status),
                url,
                footer,
            },
        ),
    };
    let subject = m.email("ack_subject", context! { tag, title => &incident.title });
    let mut references = mail.references.clone();
    references.extend(mail.message_id.clone());
    let to = mail.reply_to.clone().unwrap_or_else(|| from.clone());
    let out = MailOut {
        to: vec![to.to_string()],
        subject,
        text,
        html: None,
        in_reply_to: mail.message_id.clone(),
        references,
        seed: format!("ack:{place}"),
        incident: Some(id.0),
        attachments: Vec::new(),
    };
    let mut tx = store.begin().await?;
    tx.enqueue(&[outgoing::message(format!("mail:ack:{place}"), Some(id), &out, service.now())]).await?;
    tx.commit().await?;
    service.wake_outbox();
    Ok(Taken::Reported { incident: id, disposition: outcome.disposition })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_line_can_act() {
        assert_eq!(command_in("确认\n\n> 原文"), Some(Action::Acknowledge));
        assert_eq!(command_in("\n到场"), Some(Action::ArriveOnSite));
        assert_eq!(command_in("1 001"), Some(Action::Acknowledge));
        assert_eq!(command_in("2 001"), Some(Action::ArriveOnSite));
        assert!(
            matches!(command_in("恢复 已重启服务"), Some(Action::Resolve { note: Some(n) }) if n == "已重启服务")
        );
        assert_eq!(command_in("二楼也无法登录"), None);
        assert_eq!(command_in("3 001 王强"), None);
    }

    #[test]
    fn reply_prefixes_are_dropped() {
        assert_eq!(bare_subject("Re: 回复：审判系统无法登录"), "审判系统无法登录");
        assert_eq!(bare_subject("转发: FW: 打印机故障"), "打印机故障");
        assert_eq!(bare_subject("  网络中断 "), "网络中断");
        assert_eq!(bare_subject(""), "");
    }
}
