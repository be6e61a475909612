//! Mails to the person who reported by mail when their ticket moves on (确认, 到场, 恢复, 关闭,
//! 重新打开), queued in the same transaction as the change.

use minijinja::context;
use zhiban_integrations::email::subject_tag;

use super::outgoing::{self, MailOut};
use crate::domain::{EventKind, Incident, TimelineEntry};
use crate::engine::IncidentService;
use crate::store::NewOutboxMessage;

/// The changes a reporter hears about.
fn tells_reporter(event: &EventKind) -> bool {
    matches!(
        event,
        EventKind::Acknowledged
            | EventKind::ArrivedOnSite
            | EventKind::Resolved { .. }
            | EventKind::Closed { .. }
            | EventKind::Reopened { .. }
    )
}

pub fn reporter_mails(
    service: &IncidentService,
    incident: &Incident,
    recorded: &[&(u32, TimelineEntry)],
) -> Vec<NewOutboxMessage> {
    let config = service.config();
    let (Some(_), Some(to)) =
        (config.email.as_ref().and_then(|e| e.smtp.as_ref()), incident.labels.get("reporter_email"))
    else {
        return Vec::new();
    };
    let m = service.messages();
    let url = service.incident_url(incident.ticket);
    let tag = subject_tag(&incident.ticket.to_string());
    recorded
        .iter()
        .filter(|(_, e)| tells_reporter(&e.event))
        .map(|(seq, entry)| {
            let text = m.event_text(
                incident,
                service.system_name(incident),
                &url,
                &entry.event,
                &service.actor_name(&entry.actor),
                &service.event_people(&entry.event),
            );
            let out = MailOut {
                to: vec![to.clone()],
                subject: m.email(
                    "update_subject",
                    context! { tag => &tag, status => m.status(incident.status), title => &incident.title },
                ),
                text: m.email(
                    "update_text",
                    context! { text, url => &url, footer => m.email("footer", context! {}) },
                ),
                html: None,
                in_reply_to: None,
                references: Vec::new(),
                seed: format!("incident:{}:event:{seq}:reporter", incident.id),
                incident: Some(incident.id.0),
                attachments: Vec::new(),
            };
            outgoing::message(
                format!("mail:incident:{}:event:{seq}", incident.id),
                Some(incident.id),
                &out,
                entry.at,
            )
        })
        .collect()
}
