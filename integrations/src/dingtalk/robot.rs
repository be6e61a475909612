//! The custom robot (自定义机器人): an outbound-only group webhook, optionally signed (spec §3.1).

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::error::{ConfigError, map_robot_error, network_error, quote};
use super::sign::{sign, url_encode};
use crate::chat::SendError;

/// DingTalk's suggested limit for a markdown message's title, in characters \[doc\].
pub const MAX_TITLE_CHARS: usize = 100;

/// The message a group robot posts: the same for every provider.
pub use crate::chat::RobotMessage;

/// A custom robot's webhook (`https://oapi.dingtalk.com/robot/send?access_token=…`) and its
/// 加签 secret (`SEC…`), when the robot's security setting uses signing. The URL holds the
/// robot's key: it never appears in errors or in `Debug`.
#[derive(Clone)]
pub struct Robot {
    webhook: String,
    secret: Option<String>,
}

impl std::fmt::Debug for Robot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Robot").field("signed", &self.secret.is_some()).finish_non_exhaustive()
    }
}

impl Robot {
    /// `webhook` is the robot's URL as DingTalk shows it (any host: private deployments and test
    /// fakes differ only there); `secret` the 加签 secret, `None` (or empty) when the robot is
    /// secured by keywords or an IP allow-list instead.
    pub fn new(webhook: impl Into<String>, secret: Option<String>) -> Result<Robot, ConfigError> {
        let webhook = webhook.into().trim().to_string();
        if webhook.is_empty() {
            return Err(ConfigError::Empty("robot webhook"));
        }
        let invalid =
            |reason: &str| ConfigError::InvalidUrl { what: "robot webhook", reason: reason.to_string() };
        let url = reqwest::Url::parse(&webhook).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(invalid("not an http(s) URL"));
        }
        if url.fragment().is_some() {
            return Err(invalid("it has a #fragment"));
        }
        let secret = secret.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(Robot { webhook, secret })
    }

    /// Sends `message` as markdown, signed with the current time when there is a secret.
    pub async fn send(&self, http: &reqwest::Client, message: &RobotMessage) -> Result<(), SendError> {
        self.send_at(http, message, Timestamp::now()).await
    }

    /// [`Robot::send`] with the signing time given.
    pub async fn send_at(
        &self,
        http: &reqwest::Client,
        message: &RobotMessage,
        now: Timestamp,
    ) -> Result<(), SendError> {
        let body = robot_body(message)?;
        post_robot(http, &self.signed_url(now), &body, "DingTalk robot").await
    }

    /// The webhook with `&timestamp=<ms>&sign=<urlencoded base64>` appended when signing.
    pub(crate) fn signed_url(&self, now: Timestamp) -> String {
        let Some(secret) = &self.secret else { return self.webhook.clone() };
        let timestamp = now.as_millisecond().to_string();
        let sep = if self.webhook.contains('?') { '&' } else { '?' };
        format!("{}{sep}timestamp={timestamp}&sign={}", self.webhook, url_encode(&sign(secret, &timestamp)))
    }
}

/// The JSON body for a [`RobotMessage`]: `msgtype: markdown` with `markdown.title`,
/// `markdown.text` (with the `@…` of the mentions) and `at`. Also what a session webhook takes.
pub fn robot_body(message: &RobotMessage) -> Result<Value, SendError> {
    let mut text = message.markdown.trim_end().to_string();
    let title = derive_title(&message.title, &text);
    if text.trim().is_empty() && title.is_empty() {
        return Err(SendError::Rejected("a DingTalk robot message needs a title or a text".to_string()));
    }
    if text.trim().is_empty() {
        text = title.clone();
    }
    let missing: Vec<String> = message
        .mention_mobiles
        .iter()
        .chain(&message.mention_user_ids)
        .map(|who| format!("@{}", who.trim()))
        .filter(|at| at.len() > 1 && !text.contains(at.as_str()))
        .collect();
    if !missing.is_empty() {
        text.push_str("\n\n");
        text.push_str(&missing.join(" "));
    }
    Ok(json!({
        "msgtype": "markdown",
        "markdown": { "title": title, "text": text },
        "at": {
            "atMobiles": message.mention_mobiles,
            "atUserIds": message.mention_user_ids,
            "isAtAll": message.mention_all,
        },
    }))
}

/// The given title, or the first line of the text without markdown marks, cut to
/// [`MAX_TITLE_CHARS`].
pub(crate) fn derive_title(title: &str, text: &str) -> String {
    let title = title.trim();
    let raw = if title.is_empty() {
        text.lines()
            .map(|l| l.trim().trim_start_matches(['#', '>', '-', '*', ' ']).trim())
            .find(|l| !l.is_empty())
            .unwrap_or("")
    } else {
        title
    };
    raw.chars().take(MAX_TITLE_CHARS).collect()
}

/// POSTs a robot body and reads `{"errcode","errmsg"}`. `what` names the endpoint in errors,
/// never the URL.
pub(crate) async fn post_robot(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
    what: &str,
) -> Result<(), SendError> {
    let response = http.post(url).json(body).send().await.map_err(|e| network_error(what, e))?;
    let status = response.status();
    let raw = response.text().await.map_err(|e| network_error(what, e))?;
    if !status.is_success() {
        let text = format!("{what}: HTTP {status}: {}", quote(&raw));
        return Err(match status.as_u16() {
            429 => SendError::RetryAfter(Duration::from_secs(60)),
            401 | 403 => SendError::Unauthorized(text),
            400..=499 => SendError::Rejected(text),
            _ => SendError::Transient(text),
        });
    }
    let answer: Value = serde_json::from_str(&raw)
        .map_err(|_| SendError::Transient(format!("{what}: unreadable answer: {}", quote(&raw))))?;
    match answer.get("errcode").and_then(Value::as_i64) {
        Some(0) => Ok(()),
        Some(code) => Err(map_robot_error(code, answer.get("errmsg").and_then(Value::as_str).unwrap_or(""))),
        None => Err(SendError::Transient(format!("{what}: an answer without errcode: {}", quote(&raw)))),
    }
}
