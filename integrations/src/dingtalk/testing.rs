//! Helpers for tests and fakes: signed robot callbacks and robot URLs, built with the same
//! published algorithm as the checks (so they prove nothing about the algorithm itself: the spec
//! vectors in the unit tests do that).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::sign::{sign, url_encode};

/// The `timestamp` and `sign` headers DingTalk puts on a robot callback signed at `at`.
pub fn callback_headers(app_secret: &str, at: Timestamp) -> Vec<(String, String)> {
    let timestamp = at.as_millisecond().to_string();
    vec![
        ("Content-Type".to_string(), "application/json; charset=utf-8".to_string()),
        ("timestamp".to_string(), timestamp.clone()),
        ("sign".to_string(), sign(app_secret, &timestamp)),
    ]
}

/// The `&timestamp=…&sign=…` a signed custom robot URL ends with, for a tool posting at `at`.
pub fn robot_query(secret: &str, at: Timestamp) -> String {
    let timestamp = at.as_millisecond().to_string();
    format!("timestamp={timestamp}&sign={}", url_encode(&sign(secret, &timestamp)))
}

/// A text message callback body like DingTalk's (§3.2). `conversation` is `None` for a
/// one-to-one chat, or the group's `(conversationId, title)`.
pub fn text_callback(
    msg_id: &str,
    sender_staff_id: &str,
    sender_nick: &str,
    conversation: Option<(&str, &str)>,
    text: &str,
    at: Timestamp,
    session_webhook: &str,
) -> Value {
    let ms = at.as_millisecond();
    let (kind, id, title) = match conversation {
        None => ("1", format!("cid_single_{sender_staff_id}"), None),
        Some((id, title)) => ("2", id.to_string(), Some(title.to_string())),
    };
    let mut body = json!({
        "conversationId": id,
        "chatbotCorpId": "dingtestcorp0001",
        "chatbotUserId": "$:LWCP_v1:$zhibanTestRobot",
        "msgId": msg_id,
        "senderNick": sender_nick,
        "isAdmin": false,
        "senderStaffId": sender_staff_id,
        "sessionWebhookExpiredTime": ms + 90 * 60 * 1000,
        "createAt": ms,
        "senderCorpId": "dingtestcorp0001",
        "conversationType": kind,
        "senderId": format!("$:LWCP_v1:${sender_staff_id}"),
        "isInAtList": true,
        "sessionWebhook": session_webhook,
        "text": { "content": if kind == "2" { format!(" {text}") } else { text.to_string() } },
        "msgtype": "text",
    });
    if let Some(title) = title {
        body["conversationTitle"] = Value::String(title);
    }
    body
}
