//! A text (with buttons) to group channels named in a plan (a drill's announcement and record, an
//! emergency plan's offer and checklist), queued in one transaction, once per key.

use zhiban_integrations::chat::Button;

use super::outgoing::{self, ChatOutgoing};
use crate::domain::IncidentId;
use crate::engine::IncidentService;
use crate::store::{NewOutboxMessage, StoreError};

/// Queue `text` to each configured channel named in `names`. `key` names the message (a retry
/// never queues it twice); with an incident, replies to it mean that incident and the messages
/// go out in order with its other messages.
pub async fn post(
    service: &IncidentService,
    names: &[String],
    key: &str,
    text: String,
    buttons: Vec<Vec<Button>>,
    incident: Option<IncidentId>,
) -> Result<(), StoreError> {
    let now = service.now();
    let messages: Vec<NewOutboxMessage> = service
        .config()
        .chat
        .channels
        .iter()
        .filter(|c| names.contains(&c.name))
        .map(|c| {
            let out = ChatOutgoing::Reply {
                chat: c.chat.clone(),
                text: text.clone(),
                reply_to: None,
                buttons: buttons.clone(),
                incident: incident.map(|i| i.0),
            };
            outgoing::message(c.provider, format!("{key}:{}", c.name), incident, &out, now)
        })
        .collect();
    if messages.is_empty() {
        return Ok(());
    }
    let mut tx = service.store().begin().await?;
    tx.enqueue(&messages).await?;
    tx.commit().await?;
    service.wake_outbox();
    Ok(())
}
