//! DingTalk (钉钉) for zhiban: the enterprise app's robot as a [`ChatApi`]. Messages come in
//! through the HTTP-mode callback route (`src/web/im.rs`); custom group robots are in
//! [`super::robot`].
//!
//! Chat ids: a userid (a private chat), `cid…` or `group:<openConversationId>` (a group). DingTalk
//! robot buttons only open links and its messages cannot be edited: a page carries one button
//! opening its signed action link (`paging.link_secret`; without it the page goes without
//! buttons), and other buttons (a guided report's choices) are left out, the person types the
//! answer instead.

use async_trait::async_trait;
use zhiban_integrations::chat::{ChatId, OutgoingText, Provider, SendError};
use zhiban_integrations::dingtalk::{DingtalkApi, DingtalkSettings};

use super::sink::ChatApi;
use crate::config::im::DingtalkConfig;

pub struct DingtalkBot {
    pub api: DingtalkApi,
}

impl DingtalkBot {
    pub fn new(config: &DingtalkConfig, http: reqwest::Client) -> Result<DingtalkBot, String> {
        let settings = DingtalkSettings {
            api_base: config.api_base.clone(),
            oapi_base: config.oapi_base.clone(),
            ..DingtalkSettings::new(&config.app_key, config.app_secret.expose(), &config.robot_code)
        };
        DingtalkApi::new(settings, http).map(|api| DingtalkBot { api }).map_err(|e| format!("dingtalk: {e}"))
    }
}

fn is_link(data: &str) -> bool {
    ["http://", "https://", "dingtalk://"].iter().any(|p| data.starts_with(p))
}

#[async_trait]
impl ChatApi for DingtalkBot {
    fn provider(&self) -> Provider {
        Provider::Dingtalk
    }

    fn is_group(&self, chat: &ChatId) -> bool {
        matches!(
            zhiban_integrations::dingtalk::target(chat),
            Ok(zhiban_integrations::dingtalk::Target::Group(_))
        )
    }

    fn private_chat(&self, user_id: &str) -> ChatId {
        ChatId(user_id.to_string())
    }

    async fn send(&self, chat: &ChatId, message: &OutgoingText) -> Result<String, SendError> {
        let mut message = message.clone();
        for row in &mut message.buttons {
            row.retain(|b| is_link(&b.data));
        }
        message.buttons.retain(|row| !row.is_empty());
        self.api.send_text(chat, &message).await
    }

    async fn edit(&self, chat: &ChatId, message_id: &str, message: &OutgoingText) -> Result<(), SendError> {
        self.api.edit_text(chat, message_id, message).await
    }

    /// Link buttons are never pressed in DingTalk: nothing to answer.
    async fn answer(&self, _press: &str, _text: Option<&str>) -> Result<(), SendError> {
        Ok(())
    }

    async fn download(&self, _file_id: &str, _max_bytes: u64) -> Result<Vec<u8>, SendError> {
        Err(SendError::Rejected("attachments are not fetched from DingTalk".into()))
    }

    fn buttons_are_links(&self) -> bool {
        true
    }

    fn can_edit(&self, _message_id: &str) -> bool {
        false
    }
}
