//! Building callbacks the way Feishu sends them, for tests and fakes (so a fake server needs no
//! crypto crates): event JSON, encryption, signature headers.

use serde_json::{Value, json};

use super::callback::{CallbackSettings, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use super::sign::{card_signature, event_signature};

pub use super::crypto::encrypt;
pub use super::sign::robot_sign;

/// A callback request: headers and body, as Feishu would send them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCallback {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Wraps an event (schema 2.0 JSON) like Feishu: encrypted (IV from the nonce) and signed when the
/// settings have an Encrypt Key; as is otherwise, with timestamp and nonce headers only.
pub fn seal_event(settings: &CallbackSettings, plain: &Value, timestamp: i64, nonce: &str) -> SignedCallback {
    let ts = timestamp.to_string();
    let mut headers =
        vec![(TIMESTAMP_HEADER.to_string(), ts.clone()), (NONCE_HEADER.to_string(), nonce.to_string())];
    let key = settings.encrypt_key.as_deref().filter(|k| !k.is_empty());
    let body = match key {
        Some(key) => {
            let mut iv = [0u8; 16];
            for (i, b) in nonce.bytes().chain(std::iter::repeat(b'0')).take(16).enumerate() {
                iv[i] = b;
            }
            json!({ "encrypt": encrypt(key, plain.to_string().as_bytes(), iv) }).to_string().into_bytes()
        }
        None => plain.to_string().into_bytes(),
    };
    if let Some(key) = key {
        headers.push((SIGNATURE_HEADER.to_string(), event_signature(&ts, nonce, key, &body)));
    }
    SignedCallback { headers, body }
}

/// An old-style card callback body, signed with SHA-1 and the Verification Token.
pub fn seal_old_card_callback(
    verification_token: &str,
    plain: &Value,
    timestamp: i64,
    nonce: &str,
) -> SignedCallback {
    let ts = timestamp.to_string();
    let body = plain.to_string().into_bytes();
    let signature = card_signature(&ts, nonce, verification_token, &body);
    SignedCallback {
        headers: vec![
            (TIMESTAMP_HEADER.to_string(), ts),
            (NONCE_HEADER.to_string(), nonce.to_string()),
            (SIGNATURE_HEADER.to_string(), signature),
        ],
        body,
    }
}

/// An `im.message.receive_v1` event with a text message. `chat_type` is `p2p` or `group`; a
/// mention of the bot can be written `@_user_1` in `text` with `mentions` naming it.
#[allow(clippy::too_many_arguments)]
pub fn text_message_event(
    token: &str,
    event_id: &str,
    chat_id: &str,
    chat_type: &str,
    open_id: &str,
    message_id: &str,
    text: &str,
    mentions: &[(&str, &str, &str)],
) -> Value {
    let mentions: Vec<Value> = mentions
        .iter()
        .map(|(key, open_id, name)| {
            json!({ "key": key, "id": { "open_id": open_id, "union_id": "", "user_id": "" }, "name": name,
                    "tenant_key": "736588c9260f175d" })
        })
        .collect();
    json!({
        "schema": "2.0",
        "header": {
            "event_id": event_id, "event_type": "im.message.receive_v1", "create_time": "1764036000000",
            "token": token, "app_id": "cli_a1b2c3d4e5f6a7b8", "tenant_key": "736588c9260f175d"
        },
        "event": {
            "sender": {
                "sender_id": { "open_id": open_id, "union_id": "on_8ed6aa67826108097d9ee143816345", "user_id": "" },
                "sender_type": "user", "tenant_key": "736588c9260f175d"
            },
            "message": {
                "message_id": message_id, "create_time": "1764036000000", "chat_id": chat_id,
                "chat_type": chat_type, "message_type": "text",
                "content": json!({ "text": text }).to_string(), "mentions": mentions
            }
        }
    })
}

/// A `card.action.trigger` event: `open_id` pressed the button carrying `data` on `message_id`.
pub fn card_action_event(
    token: &str,
    event_id: &str,
    open_id: &str,
    chat_id: &str,
    message_id: &str,
    data: &str,
) -> Value {
    json!({
        "schema": "2.0",
        "header": {
            "event_id": event_id, "event_type": "card.action.trigger", "create_time": "1764036000000",
            "token": token, "app_id": "cli_a1b2c3d4e5f6a7b8", "tenant_key": "736588c9260f175d"
        },
        "event": {
            "operator": { "tenant_key": "736588c9260f175d", "open_id": open_id, "union_id": "on_1", "user_id": "" },
            "token": "c-295ee57216a5dc9de90fefd0aadb4b1d7d337cc7",
            "action": { "value": { "data": data }, "tag": "button" },
            "host": "im_message",
            "context": { "open_message_id": message_id, "open_chat_id": chat_id }
        }
    })
}
