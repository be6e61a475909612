//! What the chat sinks send, as outbox payloads. A card is rendered when it goes out, from the
//! incident as it is then, so a queue of card updates always ends with the current state.

use serde::{Deserialize, Serialize};
use zhiban_integrations::chat::{Button, ChatId, Provider};

use crate::domain::IncidentId;
use crate::store::NewOutboxMessage;

/// One message for a chat provider's sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChatOutgoing {
    /// An answer to a person (报障 receipt, command result, a guided report's question).
    Reply {
        chat: ChatId,
        text: String,
        #[serde(default)]
        reply_to: Option<String>,
        #[serde(default)]
        buttons: Vec<Vec<Button>>,
        /// The incident the answer is about: a reply to it then means that incident.
        #[serde(default)]
        incident: Option<i64>,
    },
    /// Post the incident's card in a group channel, or edit the card posted before.
    Card { chat: ChatId, incident: i64 },
    /// An update threaded under the incident's card.
    Thread { chat: ChatId, incident: i64, text: String },
    /// Answer a button press (the spinner on the person's screen stops, with a short text).
    Answer { press: String, text: Option<String> },
    /// Edit a message the bot sent (a page, after someone acted on it).
    Edit { chat: ChatId, message_id: String, text: String, buttons: Vec<Vec<Button>> },
}

impl ChatOutgoing {
    /// The chat it goes to (answers to button presses go to no chat).
    pub fn chat(&self) -> Option<&ChatId> {
        match self {
            ChatOutgoing::Reply { chat, .. }
            | ChatOutgoing::Card { chat, .. }
            | ChatOutgoing::Thread { chat, .. }
            | ChatOutgoing::Edit { chat, .. } => Some(chat),
            ChatOutgoing::Answer { .. } => None,
        }
    }
}

/// The outbox sink of a provider's chats.
pub fn sink_name(provider: Provider) -> String {
    format!("chat:{}", provider.as_str())
}

/// The outbox message carrying `out`. `key` names it uniquely (a retry can never queue it twice);
/// messages about one incident to one sink go out in order.
pub fn message(
    provider: Provider,
    key: String,
    incident: Option<IncidentId>,
    out: &ChatOutgoing,
    not_before: jiff::Timestamp,
) -> NewOutboxMessage {
    NewOutboxMessage {
        idempotency_key: key,
        incident_id: incident,
        sink: sink_name(provider),
        payload: serde_json::to_value(out).expect("a chat message always serializes"),
        not_before,
    }
}
