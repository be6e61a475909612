//! The custom bot (自定义机器人) of a Feishu group: one webhook URL, optionally signed.

use serde_json::{Value, json};

use super::error::{map_robot_error, map_status, network, quote};
use super::sign::robot_sign;
use crate::chat::SendError;

/// Feishu refuses custom bot bodies above 20 KB (`9499 Bad Request`) \[doc\].
pub const MAX_ROBOT_BODY: usize = 20 * 1024;

/// The message a group robot posts: the same for every provider.
pub use crate::chat::RobotMessage;

/// A group's custom bot. The webhook URL is a credential (`…/bot/v2/hook/<uuid>`): it never
/// appears in errors or in `Debug`.
#[derive(Clone)]
pub struct Robot {
    webhook: String,
    secret: Option<String>,
}

impl std::fmt::Debug for Robot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = reqwest::Url::parse(&self.webhook).ok().and_then(|u| u.host_str().map(str::to_string));
        f.debug_struct("Robot").field("host", &host).field("signed", &self.secret.is_some()).finish()
    }
}

impl Robot {
    /// `webhook` is the bot's URL (`https://open.feishu.cn/open-apis/bot/v2/hook/<uuid>`, or a
    /// private deployment's); `secret` the signing secret when 签名校验 is on (empty counts as none).
    pub fn new(webhook: impl Into<String>, secret: Option<String>) -> Robot {
        Robot { webhook: webhook.into(), secret: secret.filter(|s| !s.is_empty()) }
    }

    /// Posts `message` as an interactive card (a header with the title, the markdown as `lark_md`,
    /// the mentions on a last line), signed when there is a secret. The markdown is cut to keep the
    /// body within [`MAX_ROBOT_BODY`].
    pub async fn send(&self, http: &reqwest::Client, message: &RobotMessage) -> Result<(), SendError> {
        let body = self.request_body(message, jiff::Timestamp::now());
        let response = http
            .post(&self.webhook)
            .json(&body)
            .send()
            .await
            .map_err(|e| network("posting to the Feishu robot", e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| network("reading the Feishu robot's answer", e))?;
        let answer: Option<Value> = serde_json::from_str(&text).ok();
        let code = answer
            .as_ref()
            .and_then(|v| v.get("code").or_else(|| v.get("StatusCode")))
            .and_then(Value::as_i64);
        let msg = answer
            .as_ref()
            .and_then(|v| v.get("msg").or_else(|| v.get("StatusMessage")))
            .and_then(Value::as_str)
            .unwrap_or_default();
        match code {
            Some(0) if (200..300).contains(&status) => Ok(()),
            Some(code) if code != 0 => Err(map_robot_error(code, msg)),
            // A 404 for a hook that does not exist (or a proxy's page): the URL is wrong.
            _ if status == 404 => {
                Err(SendError::Unauthorized("the Feishu robot webhook was not found (HTTP 404)".into()))
            }
            _ if (200..300).contains(&status) => Err(SendError::Transient(format!(
                "unreadable answer from the Feishu robot: {}",
                quote(&text)
            ))),
            _ => Err(map_status(status, &text, None)),
        }
    }

    /// The JSON body [`Robot::send`] posts at `now`.
    pub fn request_body(&self, message: &RobotMessage, now: jiff::Timestamp) -> Value {
        let mut markdown = to_lark_md(&message.markdown);
        let mentions = mention_line(message);
        let mut body = self.body_with(message, &markdown, &mentions, now);
        for _ in 0..8 {
            let size = serde_json::to_vec(&body).map(|b| b.len()).unwrap_or(0);
            if size <= MAX_ROBOT_BODY {
                break;
            }
            // JSON escaping makes a character cost up to 6 bytes: cut with room to spare.
            let keep = markdown.len().saturating_sub(size - MAX_ROBOT_BODY + 64);
            markdown = format!("{}\n…（内容过长，已截断）", cut_at(&markdown, keep));
            body = self.body_with(message, &markdown, &mentions, now);
        }
        body
    }

    fn body_with(
        &self,
        message: &RobotMessage,
        markdown: &str,
        mentions: &str,
        now: jiff::Timestamp,
    ) -> Value {
        let mut content = markdown.trim_end().to_string();
        if !mentions.is_empty() {
            if !content.is_empty() {
                content.push('\n');
            }
            content.push_str(mentions);
        }
        let mut card = json!({
            "config": { "wide_screen_mode": true },
            "elements": [ { "tag": "div", "text": { "tag": "lark_md", "content": content } } ],
        });
        if !message.title.trim().is_empty() {
            card["header"] = json!({
                "title": { "tag": "plain_text", "content": message.title.trim() },
                "template": "blue",
            });
        }
        let mut body = json!({ "msg_type": "interactive", "card": card });
        if let Some(secret) = &self.secret {
            let timestamp = now.as_second().to_string();
            body["sign"] = json!(robot_sign(secret, &timestamp));
            body["timestamp"] = json!(timestamp);
        }
        body
    }
}

/// The last line of a robot card: `<at id=…></at>` for ids and everyone, `@mobile` as text.
fn mention_line(message: &RobotMessage) -> String {
    let mut parts: Vec<String> = Vec::new();
    if message.mention_all {
        parts.push("<at id=all></at>".to_string());
    }
    for id in message.mention_user_ids.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        // `<`/`>` would break out of the tag.
        let id: String = id.chars().filter(|c| !matches!(c, '<' | '>' | ' ')).collect();
        parts.push(format!("<at id={id}></at>"));
    }
    for mobile in message.mention_mobiles.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        parts.push(format!("@{mobile}"));
    }
    parts.join(" ")
}

/// Common markdown to Feishu's `lark_md`, which has bold, italics, strike-through, links and
/// mentions but no headings: a heading becomes a bold line.
pub(crate) fn to_lark_md(markdown: &str) -> String {
    markdown
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let hashes = trimmed.chars().take_while(|&c| c == '#').count();
            if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
                let heading = trimmed[hashes..].trim();
                if heading.is_empty() { String::new() } else { format!("**{heading}**") }
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn cut_at(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
