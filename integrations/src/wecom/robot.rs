//! The group robot (群机器人 / 消息推送): `POST {webhook}` with a JSON body, spec §1.
//!
//! A WeCom robot does not sign its requests: the whole webhook URL (its `key`) is the credential,
//! so it is never written into an error or a log line.

use serde_json::{Value, json};

use super::error::{map_errcode, map_reqwest, map_status};
use super::intake::markdown_to_text;
use super::text::truncate_bytes;
use crate::chat::SendError;

/// `text` content limit, in UTF-8 bytes [doc].
pub const MAX_TEXT_BYTES: usize = 2048;
/// `markdown` content limit, in UTF-8 bytes [doc].
pub const MAX_MARKDOWN_BYTES: usize = 4096;

/// The message a group robot posts: the same for every provider.
pub use crate::chat::RobotMessage;

/// A WeCom group robot, by its webhook URL
/// (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`, or a private deployment's).
#[derive(Clone)]
pub struct Robot {
    webhook: String,
    /// WeCom robots do not sign requests; kept for the providers' common shape and unused.
    secret: Option<String>,
}

impl std::fmt::Debug for Robot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Robot")
            .field("webhook", &"<redacted>")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Robot {
    /// `secret` is ignored: WeCom robots have no signing secret.
    pub fn new(webhook: impl Into<String>, secret: Option<String>) -> Robot {
        Robot { webhook: webhook.into(), secret }
    }

    /// The JSON body [`Robot::send`] posts for `message`:
    ///
    /// - without mobile mentions and `@all`: `markdown`, the title as a `##` heading, then the
    ///   body, then one `<@userid>` per user mention (markdown messages mention by UserID only);
    /// - with mobile mentions or `@all`: `text` (which alone has `mentioned_mobile_list`), the title
    ///   and the body as plain text, with `mentioned_list` (UserIDs, `@all`) and
    ///   `mentioned_mobile_list`.
    ///
    /// Content beyond WeCom's limits (4096 / 2048 bytes) is cut at a character boundary with `…`,
    /// the mentions kept, rather than refused.
    pub fn body(message: &RobotMessage) -> Value {
        let title = message.title.trim();
        if message.mention_mobiles.is_empty() && !message.mention_all {
            let mentions: String =
                message.mention_user_ids.iter().map(|id| format!("<@{id}>")).collect::<Vec<_>>().join(" ");
            let tail = if mentions.is_empty() { String::new() } else { format!("\n{mentions}") };
            let head = if title.is_empty() { String::new() } else { format!("## {title}\n") };
            let room = MAX_MARKDOWN_BYTES.saturating_sub(tail.len());
            let content =
                format!("{}{tail}", truncate_bytes(&format!("{head}{}", message.markdown.trim_end()), room));
            json!({ "msgtype": "markdown", "markdown": { "content": content } })
        } else {
            let (plain, _) = markdown_to_text(&message.markdown);
            let full = match (title.is_empty(), plain.is_empty()) {
                (true, _) => plain,
                (false, true) => title.to_string(),
                (false, false) => format!("{title}\n{plain}"),
            };
            let mut users = message.mention_user_ids.clone();
            if message.mention_all {
                users.push("@all".to_string());
            }
            json!({
                "msgtype": "text",
                "text": {
                    "content": truncate_bytes(&full, MAX_TEXT_BYTES),
                    "mentioned_list": users,
                    "mentioned_mobile_list": message.mention_mobiles,
                }
            })
        }
    }

    /// Posts `message` (see [`Robot::body`]). Errors: 45009 → `RetryAfter(60 s)`; 93000 (bad key,
    /// or the robot removed) and 93004 (disabled) → `Unauthorized`; 93008 (not in the group) →
    /// `ChatGone`; -1, 5xx and network errors → `Transient`; other codes (bad msgtype, empty or too
    /// large content) → `Rejected`.
    pub async fn send(&self, http: &reqwest::Client, message: &RobotMessage) -> Result<(), SendError> {
        let url = reqwest::Url::parse(&self.webhook)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                SendError::Rejected("the WeCom robot webhook is not an http(s) URL".to_string())
            })?;
        let what = "posting to the WeCom robot";
        let response =
            http.post(url).json(&Robot::body(message)).send().await.map_err(|e| map_reqwest(e, what))?;
        let status = response.status();
        if !status.is_success() {
            return Err(map_status(status, what));
        }
        let answer: Value = response.json().await.map_err(|e| map_reqwest(e, what))?;
        match answer.get("errcode").and_then(Value::as_i64) {
            Some(0) => Ok(()),
            Some(code) => {
                let errmsg = answer.get("errmsg").and_then(Value::as_str).unwrap_or_default();
                Err(map_errcode(code, &self.scrub(errmsg)))
            }
            None => Err(SendError::Transient(format!("{what}: an answer without errcode"))),
        }
    }

    /// `errmsg` with the webhook's key removed, should WeCom ever echo it.
    fn scrub(&self, errmsg: &str) -> String {
        let key = reqwest::Url::parse(&self.webhook)
            .ok()
            .and_then(|u| u.query_pairs().find(|(k, _)| k == "key").map(|(_, v)| v.into_owned()));
        match key {
            Some(key) if !key.is_empty() => errmsg.replace(&key, "<key>"),
            _ => errmsg.to_string(),
        }
    }
}
