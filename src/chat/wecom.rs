//! WeCom (企业微信) for zhiban: the self-built app as a [`ChatApi`]. Messages and card clicks come
//! in through the callback route (`src/web/im.rs`); group robots are in [`super::robot`].
//!
//! Chat ids follow `zhiban_integrations::wecom::Target`: a member's UserID (a private chat),
//! `party:ID` / `tag:ID` (a department or tag: a team gets cards with buttons) and `appchat:ID`
//! (a group chat the app created; text only). Only cards with buttons can be edited, once per
//! response code: a click brings a fresh one, so a page is edited after each click.

use async_trait::async_trait;
use zhiban_integrations::chat::{ChatId, OutgoingText, Provider, SendError};
use zhiban_integrations::wecom::{WecomApi, WecomSettings, parse_card_handle};

use super::sink::ChatApi;
use crate::config::im::WecomConfig;

pub struct WecomBot {
    pub api: WecomApi,
}

impl WecomBot {
    pub fn new(config: &WecomConfig, http: reqwest::Client) -> Result<WecomBot, String> {
        let settings = WecomSettings {
            api_base: config.api_base.clone(),
            ..WecomSettings::new(&config.corp_id, config.agent_id, config.secret.expose())
        };
        WecomApi::new(settings, http).map(|api| WecomBot { api }).map_err(|e| format!("wecom: {e}"))
    }
}

#[async_trait]
impl ChatApi for WecomBot {
    fn provider(&self) -> Provider {
        Provider::Wecom
    }

    fn is_group(&self, chat: &ChatId) -> bool {
        ["party:", "tag:", "appchat:"].iter().any(|p| chat.0.trim().starts_with(p))
    }

    fn private_chat(&self, user_id: &str) -> ChatId {
        ChatId(user_id.to_string())
    }

    async fn send(&self, chat: &ChatId, message: &OutgoingText) -> Result<String, SendError> {
        self.api.send_text(chat, message).await
    }

    async fn edit(&self, chat: &ChatId, message_id: &str, message: &OutgoingText) -> Result<(), SendError> {
        self.api.edit_text(chat, message_id, message).await
    }

    /// WeCom takes the click's answer in the callback response (an empty 200).
    async fn answer(&self, _press: &str, _text: Option<&str>) -> Result<(), SendError> {
        Ok(())
    }

    async fn download(&self, _file_id: &str, _max_bytes: u64) -> Result<Vec<u8>, SendError> {
        Err(SendError::Rejected("attachments are not fetched from WeCom".into()))
    }

    fn can_edit(&self, message_id: &str) -> bool {
        parse_card_handle(message_id).is_some()
    }
}
