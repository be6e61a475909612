//! Feishu (飞书) for zhiban: the app's bot as a [`ChatApi`]. Messages and card actions come in
//! through the callback route (`src/web/im.rs`); custom group bots are in [`super::robot`].
//!
//! Chat ids: `oc_…` is a chat (a group, or a person's p2p chat with the bot), `ou_…` a person's
//! `open_id` (pages go there). Cards with buttons are updated in place for everyone; a text is
//! edited (at most 20 times, Feishu's limit; then the card is posted again).

use async_trait::async_trait;
use zhiban_integrations::chat::{ChatId, OutgoingText, Provider, SendError};
use zhiban_integrations::feishu::{FeishuApi, FeishuSettings};

use super::sink::ChatApi;
use crate::config::im::FeishuConfig;

pub struct FeishuBot {
    pub api: FeishuApi,
}

impl FeishuBot {
    pub fn new(config: &FeishuConfig, http: reqwest::Client) -> Result<FeishuBot, String> {
        let settings = FeishuSettings {
            api_base: config.api_base.clone(),
            ..FeishuSettings::new(&config.app_id, config.app_secret.expose())
        };
        FeishuApi::new(settings, http).map(|api| FeishuBot { api }).map_err(|e| format!("feishu: {e}"))
    }
}

#[async_trait]
impl ChatApi for FeishuBot {
    fn provider(&self) -> Provider {
        Provider::Feishu
    }

    /// A chat id (`oc_…`) may be a group or a p2p chat; both are paced as a chat (5 QPS each).
    fn is_group(&self, chat: &ChatId) -> bool {
        let c = chat.0.trim();
        c.starts_with("oc_") || c.starts_with("chat_id:")
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

    /// Feishu takes the card action's answer in the callback response.
    async fn answer(&self, _press: &str, _text: Option<&str>) -> Result<(), SendError> {
        Ok(())
    }

    async fn download(&self, _file_id: &str, _max_bytes: u64) -> Result<Vec<u8>, SendError> {
        Err(SendError::Rejected("attachments are not fetched from Feishu".into()))
    }
}
