//! The Bot API calls zhiban makes, over teloxide-core's [`Bot`].

use std::time::Duration;

use teloxide_core::payloads::{
    AnswerCallbackQuerySetters, EditMessageTextSetters, GetUpdatesSetters, SendMessageSetters,
    SetWebhookSetters,
};
use teloxide_core::requests::Requester;
use teloxide_core::types::{
    AllowedUpdate, CallbackQueryId, FileId, InlineKeyboardButton, InlineKeyboardMarkup, MessageId, Recipient,
    ReplyParameters,
};
use teloxide_core::{ApiError, Bot, RequestError};

use super::error::{ConfigError, map_request_error};
use super::update::convert_update;
use crate::chat::{Button, ChatId, ChatUpdate, MAX_BUTTON_DATA, OutgoingText, SendError};

/// The public Bot API server.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// How long a long poll may take beyond the `timeout` it asked Telegram for, before we give up on
/// the connection.
pub const POLL_GRACE: Duration = Duration::from_secs(15);

/// Telegram's limit on the text shown to whoever pressed a button.
const MAX_ANSWER_CHARS: usize = 200;

/// The update kinds zhiban asks for, in long polling and for its webhook.
const ALLOWED_UPDATES: [AllowedUpdate; 3] =
    [AllowedUpdate::Message, AllowedUpdate::CallbackQuery, AllowedUpdate::MyChatMember];

/// Who the bot is, from `getMe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    pub id: i64,
    /// Without the `@`.
    pub username: String,
}

/// A Telegram bot: the Bot API calls zhiban makes, with neutral arguments and errors.
///
/// Two teloxide [`Bot`]s share the token and URL:
///
/// - ordinary calls use the [`reqwest::Client`] given to [`TelegramApi::new`], with its proxy,
///   roots and timeout;
/// - `getUpdates` uses a client of its own without an overall timeout, and each long poll is bounded
///   by `timeout + POLL_GRACE` instead. teloxide-core does not lengthen a request's timeout for a
///   long poll (its `timeout_hint` code is commented out, see teloxide issue 223), so a shared client
///   with a 30 s timeout would cut every 50 s poll. This second client takes the proxy from the
///   environment (`HTTPS_PROXY`, `NO_PROXY`) like reqwest's default, not the caller's settings.
#[derive(Clone)]
pub struct TelegramApi {
    bot: Bot,
    poll_bot: Bot,
}

impl std::fmt::Debug for TelegramApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("TelegramApi").field("api_url", &self.bot.api_url().as_str()).finish_non_exhaustive()
    }
}

impl TelegramApi {
    /// `api_url` is the Bot API base URL: [`DEFAULT_API_URL`], a self-hosted Bot API server or a
    /// test fake. A base path (`https://proxy.example/tg`) is kept: requests go to
    /// `{api_url}/bot{token}/{Method}`.
    pub fn new(token: &str, api_url: &str, http: reqwest::Client) -> Result<TelegramApi, ConfigError> {
        if token.is_empty() {
            return Err(ConfigError::InvalidToken("empty"));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
            return Err(ConfigError::InvalidToken("it contains a space, a control character or a '/'"));
        }
        let url = parse_api_url(api_url)?;
        let poll_client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Ok(TelegramApi {
            bot: Bot::with_client(token, http).set_api_url(url.clone()),
            poll_bot: Bot::with_client(token, poll_client).set_api_url(url),
        })
    }

    /// `getMe`: checks the token and tells the bot's username (to recognise `/cmd@bot` and mentions).
    pub async fn get_me(&self) -> Result<BotIdentity, SendError> {
        let me = self.bot.get_me().await.map_err(|e| map_request_error(&e))?;
        Ok(BotIdentity {
            id: i64::try_from(me.user.id.0).unwrap_or(i64::MAX),
            username: me.user.username.clone().unwrap_or_default(),
        })
    }

    /// Long polling with `getUpdates`: waits up to `timeout` for updates with `update_id >= offset`
    /// (which also confirms, and drops for good, every update below `offset`), at most `limit`
    /// (1–100) of them. Returns them in `update_id` order; an update teloxide cannot read comes back
    /// as [`ChatEvent::Ignored`](crate::chat::ChatEvent::Ignored) with its id, so the offset can move past it.
    ///
    /// Asks for `message`, `callback_query` and `my_chat_member` updates.
    pub async fn get_updates(
        &self,
        offset: Option<i64>,
        timeout: Duration,
        limit: u8,
    ) -> Result<Vec<ChatUpdate>, SendError> {
        let secs = u32::try_from(timeout.as_secs()).unwrap_or(u32::MAX);
        let mut request = self
            .poll_bot
            .get_updates()
            .timeout(secs)
            .limit(limit.clamp(1, 100))
            .allowed_updates(ALLOWED_UPDATES);
        if let Some(offset) = offset {
            let offset = i32::try_from(offset)
                .map_err(|_| SendError::Rejected(format!("update offset {offset} is out of range")))?;
            request = request.offset(offset);
        }
        let bound = Duration::from_secs(u64::from(secs)) + POLL_GRACE;
        let updates = match tokio::time::timeout(bound, request).await {
            Err(_) => {
                return Err(SendError::Transient(format!(
                    "getUpdates got no answer within {}s",
                    bound.as_secs()
                )));
            }
            Ok(result) => result.map_err(|e| map_request_error(&e))?,
        };
        let mut updates: Vec<ChatUpdate> = updates.iter().map(convert_update).collect();
        updates.sort_by_key(|u| u.id);
        Ok(updates)
    }

    /// `setWebhook` for `message`, `callback_query` and `my_chat_member` updates, with the secret
    /// Telegram sends back in [`SECRET_HEADER`](super::SECRET_HEADER) (1–256 characters of
    /// `A-Z a-z 0-9 _ -`).
    pub async fn set_webhook(&self, url: &str, secret_token: &str) -> Result<(), SendError> {
        let url = reqwest::Url::parse(url)
            .map_err(|e| SendError::Rejected(format!("invalid webhook URL {url:?}: {e}")))?;
        if secret_token.is_empty()
            || secret_token.len() > 256
            || !secret_token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(SendError::Rejected(
                "the webhook secret must be 1-256 characters of A-Z, a-z, 0-9, _ and -".to_string(),
            ));
        }
        self.bot
            .set_webhook(url)
            .secret_token(secret_token)
            .allowed_updates(ALLOWED_UPDATES)
            .await
            .map_err(|e| map_request_error(&e))?;
        Ok(())
    }

    /// `deleteWebhook`, keeping pending updates (long polling gets them).
    pub async fn delete_webhook(&self) -> Result<(), SendError> {
        self.bot.delete_webhook().await.map_err(|e| map_request_error(&e))?;
        Ok(())
    }

    /// `sendMessage` as plain text (no `parse_mode`: nothing in the text is markup), as a reply to
    /// `reply_to` when set (sent anyway if that message is gone), with an inline keyboard of
    /// callback buttons when there are buttons. Returns the new message's id.
    pub async fn send_text(&self, chat: &ChatId, message: &OutgoingText) -> Result<String, SendError> {
        // Telegram refuses texts over 4096 characters for good; cut them rather than lose them.
        let mut request = self.bot.send_message(recipient(chat)?, fit(&message.text));
        if let Some(reply_to) = &message.reply_to {
            request = request
                .reply_parameters(ReplyParameters::new(message_id(reply_to)?).allow_sending_without_reply());
        }
        if !message.buttons.is_empty() {
            request = request.reply_markup(keyboard(&message.buttons)?);
        }
        match request.await {
            Ok(sent) => Ok(sent.id.0.to_string()),
            // Sent, but teloxide could not read the message Telegram returned: do not send it twice.
            Err(e) => sent_anyway(&e).ok_or_else(|| map_request_error(&e)),
        }
    }

    /// `editMessageText` with the new text and keyboard; no buttons removes the keyboard.
    /// Telegram's "message is not modified" (same text and keyboard) counts as success.
    pub async fn edit_text(
        &self,
        chat: &ChatId,
        message_id: &str,
        message: &OutgoingText,
    ) -> Result<(), SendError> {
        let markup = if message.buttons.is_empty() {
            InlineKeyboardMarkup::default()
        } else {
            keyboard(&message.buttons)?
        };
        let request = self
            .bot
            .edit_message_text(recipient(chat)?, self::message_id(message_id)?, fit(&message.text))
            .reply_markup(markup);
        match request.await {
            Ok(_) => Ok(()),
            Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(RequestError::Api(ApiError::Unknown(text))) if text.contains("message is not modified") => {
                Ok(())
            }
            Err(e) if sent_anyway(&e).is_some() => Ok(()),
            Err(e) => Err(map_request_error(&e)),
        }
    }

    /// `answerCallbackQuery`, with an optional short text shown to whoever pressed (cut to 200
    /// characters). A press older than about 15 s, or answered already, is
    /// [`SendError::Rejected`].
    pub async fn answer_button(&self, press_id: &str, text: Option<&str>) -> Result<(), SendError> {
        let mut request = self.bot.answer_callback_query(CallbackQueryId(press_id.to_string()));
        if let Some(text) = text {
            request = request.text(text.chars().take(MAX_ANSWER_CHARS).collect::<String>());
        }
        request.await.map_err(|e| map_request_error(&e))?;
        Ok(())
    }

    /// `getFile`, then the file's bytes. A file above `max_bytes` is [`SendError::Rejected`], by the
    /// size `getFile` tells and again while downloading. The public Bot API serves files up to
    /// 20 MB; a Bot API server in `--local` mode (which gives absolute paths on its own disk) is not
    /// supported.
    pub async fn download(&self, file_id: &str, max_bytes: u64) -> Result<Vec<u8>, SendError> {
        let file = self.bot.get_file(FileId(file_id.to_string())).await.map_err(|e| map_request_error(&e))?;
        if file.meta.size != u32::MAX && u64::from(file.meta.size) > max_bytes {
            return Err(too_big(u64::from(file.meta.size), max_bytes));
        }
        if file.path.starts_with('/') {
            return Err(SendError::Rejected(
                "the Bot API server runs in --local mode: its files are on its own disk".to_string(),
            ));
        }
        let url = file_url(&self.bot.api_url(), self.bot.token(), &file.path);
        let mut response = self.bot.client().get(url).send().await.map_err(download_error)?;
        let status = response.status();
        if !status.is_success() {
            let what = format!("downloading a file: HTTP {status}");
            return Err(match status.as_u16() {
                401 => SendError::Unauthorized(what),
                429 => SendError::RetryAfter(Duration::from_secs(5)),
                400..=499 => SendError::Rejected(what),
                _ => SendError::Transient(what),
            });
        }
        if let Some(length) = response.content_length()
            && length > max_bytes
        {
            return Err(too_big(length, max_bytes));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(download_error)? {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_big((bytes.len() + chunk.len()) as u64, max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

fn parse_api_url(api_url: &str) -> Result<reqwest::Url, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidUrl { url: api_url.to_string(), reason };
    // `{base}/bot…` is built by adding path segments: a trailing slash would add an empty one.
    let url = reqwest::Url::parse(api_url.trim_end_matches('/')).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https".to_string()));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("not a base URL".to_string()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment cannot be kept".to_string()));
    }
    Ok(url)
}

/// `{base}/file/bot{token}/{file_path}`, the path's `/` kept as separators (teloxide's own download
/// would send them as `%2F`).
fn file_url(base: &reqwest::Url, token: &str, file_path: &str) -> reqwest::Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push("file").push(&format!("bot{token}")).extend(file_path.split('/'));
    }
    url
}

fn download_error(e: reqwest::Error) -> SendError {
    // The URL holds the token.
    SendError::Transient(format!("downloading a file: {}", e.without_url()))
}

fn too_big(size: u64, max: u64) -> SendError {
    SendError::Rejected(format!("the file is {size} bytes, more than the limit of {max}"))
}

fn recipient(chat: &ChatId) -> Result<Recipient, SendError> {
    if let Ok(id) = chat.0.parse::<i64>() {
        Ok(Recipient::Id(teloxide_core::types::ChatId(id)))
    } else if chat.0.starts_with('@') && chat.0.len() > 1 {
        Ok(Recipient::ChannelUsername(chat.0.clone()))
    } else {
        Err(SendError::Rejected(format!("{:?} is not a Telegram chat id", chat.0)))
    }
}

fn message_id(id: &str) -> Result<MessageId, SendError> {
    id.parse::<i32>()
        .map(MessageId)
        .map_err(|_| SendError::Rejected(format!("{id:?} is not a Telegram message id")))
}

fn keyboard(rows: &[Vec<Button>]) -> Result<InlineKeyboardMarkup, SendError> {
    if let Some(b) = rows.iter().flatten().find(|b| b.data.len() > MAX_BUTTON_DATA || b.data.is_empty()) {
        return Err(SendError::Rejected(format!(
            "button {:?}: callback data must be 1-{MAX_BUTTON_DATA} bytes, not {}",
            b.label,
            b.data.len()
        )));
    }
    Ok(InlineKeyboardMarkup::new(
        rows.iter().map(|row| row.iter().map(|b| InlineKeyboardButton::callback(&b.label, &b.data))),
    ))
}

/// The `message_id` of a successful answer teloxide could not read.
fn sent_anyway(e: &RequestError) -> Option<String> {
    let RequestError::InvalidJson { raw, .. } = e else { return None };
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    if value.get("ok")? != &serde_json::Value::Bool(true) {
        return None;
    }
    value.pointer("/result/message_id").and_then(serde_json::Value::as_i64).map(|id| id.to_string())
}

#[cfg(test)]
pub(super) fn test_file_url(base: &str, token: &str, path: &str) -> String {
    file_url(&parse_api_url(base).unwrap(), token, path).to_string()
}

#[cfg(test)]
pub(super) fn test_parse_api_url(base: &str) -> Result<String, ConfigError> {
    parse_api_url(base).map(|u| u.to_string())
}

/// Telegram's limit on a message's text, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;

/// The text cut to Telegram's limit, with `…` where it was cut.
fn fit(text: &str) -> String {
    if text.chars().nth(MAX_TEXT_CHARS).is_none() {
        return text.to_string();
    }
    let cut = text.char_indices().nth(MAX_TEXT_CHARS - 1).map_or(text.len(), |(i, _)| i);
    format!("{}…", &text[..cut])
}

#[cfg(test)]
mod fit_tests {
    #[test]
    fn long_texts_are_cut_to_the_limit() {
        let long = "长".repeat(5000);
        let cut = super::fit(&long);
        assert_eq!(cut.chars().count(), super::MAX_TEXT_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(super::fit("短"), "短");
        let exact = "x".repeat(super::MAX_TEXT_CHARS);
        assert_eq!(super::fit(&exact), exact);
    }
}
