//! Incident cards in group channels (群通报): which channels an incident is posted to, the card
//! leaders read at a glance (level, status, assignee, deadlines, elapsed time), edited in place as
//! the incident changes, and a threaded reply under it for each update.

use jiff::{SignedDuration, Timestamp};
use minijinja::context;

use super::outgoing::{self, ChatOutgoing};
use crate::config::{Config, Language};
use crate::domain::{EventKind, Incident, TimelineEntry};
use crate::engine::IncidentService;
use crate::messages::Messages;
use crate::store::NewOutboxMessage;

/// The card's text for `incident` as it is at `now`.
pub fn render_card(config: &Config, messages: &Messages, incident: &Incident, now: Timestamp) -> String {
    let catalogue = &config.catalogue;
    let system =
        incident.system.as_deref().map(|s| catalogue.system(s).map(|x| x.name.as_str()).unwrap_or(s));
    let unit = incident.unit.as_deref().map(|u| catalogue.unit(u).map(|x| x.name.as_str()).unwrap_or(u));
    let assignee = incident
        .assignee
        .as_ref()
        .map(|p| catalogue.person(&p.0).map(|x| x.name.clone()).unwrap_or_else(|| p.0.clone()));
    let until = incident.closed_at.or(incident.resolved_at).unwrap_or(now);
    let sla = incident.sla.as_ref();
    messages.chat(
        "card",
        context! {
            drill => incident.is_drill(),
            sev => messages.severity(incident.severity),
            ticket => incident.ticket.to_string(),
            title => &incident.title,
            status => messages.status(incident.status),
            assignee,
            system,
            unit,
            opened => incident.created_at.to_string(),
            elapsed => elapsed(until.duration_since(incident.created_at), config.server.language),
            respond_by => sla.filter(|s| s.responded_at.is_none()).and_then(|s| s.respond_due).map(|t| t.to_string()),
            respond_breached => sla.is_some_and(|s| s.respond_breached),
            resolve_by => sla.filter(|_| incident.status.is_open()).and_then(|s| s.resolve_due).map(|t| t.to_string()),
            resolve_breached => sla.is_some_and(|s| s.resolve_breached),
            url => format!("{}/incidents/{}", config.server.public_url, incident.ticket),
        },
    )
}

/// `2小时5分` / `2h 5m`: how long an incident has been going, to the minute.
pub fn elapsed(d: SignedDuration, language: Language) -> String {
    let minutes = d.as_secs().max(0) / 60;
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match language {
        Language::ZhCn => match (days, hours) {
            (0, 0) => format!("{mins}分钟"),
            (0, _) if mins == 0 => format!("{hours}小时"),
            (0, _) => format!("{hours}小时{mins}分"),
            _ => format!("{days}天{hours}小时"),
        },
        Language::En => match (days, hours) {
            (0, 0) => format!("{mins}m"),
            (0, _) if mins == 0 => format!("{hours}h"),
            (0, _) => format!("{hours}h {mins}m"),
            _ => format!("{days}d {hours}h"),
        },
    }
}

/// Whether an event gets its own threaded reply under the card (the card itself shows the
/// opening; a held page is not news).
fn threaded(event: &EventKind) -> bool {
    !matches!(event, EventKind::Opened { .. } | EventKind::PagingHeld { .. })
}

/// The channel posts that new timeline entries cause: per channel that wants the incident, the
/// card refreshed once, then one threaded reply per update.
pub fn channel_posts(
    service: &IncidentService,
    incident: &Incident,
    recorded: &[&(u32, TimelineEntry)],
) -> Vec<NewOutboxMessage> {
    let config = service.config();
    let Some(&&(last_seq, ref last)) = recorded.last() else { return Vec::new() };
    let mut out = Vec::new();
    let routes = config.chat.channels.iter().filter(|r| {
        r.wants(incident.unit.as_deref(), incident.system.as_deref(), incident.severity, incident.is_drill())
    });
    let url = service.incident_url(incident.ticket);
    for route in routes {
        let base = format!("chat:{}:{}:incident:{}", route.provider.as_str(), route.chat, incident.id);
        let card = ChatOutgoing::Card { chat: route.chat.clone(), incident: incident.id.0 };
        out.push(outgoing::message(
            route.provider,
            format!("{base}:card:{last_seq}"),
            Some(incident.id),
            &card,
            last.at,
        ));
        for (seq, entry) in recorded.iter().map(|r| (r.0, &r.1)) {
            if !threaded(&entry.event) {
                continue;
            }
            let text = service.messages().event_text(
                incident,
                service.system_name(incident),
                &url,
                &entry.event,
                &service.actor_name(&entry.actor),
                &service.event_people(&entry.event),
            );
            let text = service.messages().chat("thread", context! { drill => incident.is_drill(), text });
            let thread = ChatOutgoing::Thread { chat: route.chat.clone(), incident: incident.id.0, text };
            out.push(outgoing::message(
                route.provider,
                format!("{base}:event:{seq}"),
                Some(incident.id),
                &thread,
                entry.at,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_reads_naturally() {
        let zh = |m: i64| elapsed(SignedDuration::from_mins(m), Language::ZhCn);
        assert_eq!(zh(0), "0分钟");
        assert_eq!(zh(59), "59分钟");
        assert_eq!(zh(125), "2小时5分");
        assert_eq!(zh(60 * 26), "1天2小时");
        assert_eq!(zh(60), "1小时");
        assert_eq!(elapsed(SignedDuration::from_mins(125), Language::En), "2h 5m");
        assert_eq!(elapsed(SignedDuration::from_mins(-5), Language::En), "0m");
    }
}
