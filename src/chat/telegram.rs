//! Telegram for zhiban: the bot's API as a [`ChatApi`], long polling by the one instance holding
//! the lease, and webhook mode (Telegram POSTs to `/telegram/webhook` with the secret header,
//! checked in constant time; the update is committed before the 200).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::SignedDuration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zhiban_integrations::chat::{ChatId, OutgoingText, Provider, SendError};
use zhiban_integrations::telegram::TelegramApi;

use super::handler::ChatHandler;
use super::sink::ChatApi;
use crate::config::chat::{TelegramConfig, TelegramMode};
use crate::engine::Clock;
use crate::engine::timers::sleep_or_cancel;
use crate::store::SharedStore;

/// The lease that makes one instance the poller.
pub const POLL_LEASE: &str = "telegram:poll";

pub struct TelegramBot {
    pub api: TelegramApi,
}

#[async_trait]
impl ChatApi for TelegramBot {
    fn provider(&self) -> Provider {
        Provider::Telegram
    }

    fn is_group(&self, chat: &ChatId) -> bool {
        // Telegram gives groups, supergroups and channels negative ids, people positive ones.
        chat.0.starts_with('-')
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

    async fn answer(&self, press: &str, text: Option<&str>) -> Result<(), SendError> {
        self.api.answer_button(press, text.filter(|t| !t.is_empty())).await
    }

    async fn download(&self, file_id: &str, max_bytes: u64) -> Result<Vec<u8>, SendError> {
        self.api.download(file_id, max_bytes).await
    }
}

/// Everything the Telegram loops need.
pub struct TelegramLoop {
    pub bot: Arc<TelegramBot>,
    pub config: TelegramConfig,
    pub public_url: String,
    pub store: SharedStore,
    pub clock: Arc<dyn Clock>,
    pub handler: Arc<ChatHandler>,
    pub instance: String,
    pub inbox: Arc<Notify>,
}

impl TelegramLoop {
    /// Learn the bot's username (for `/cmd@bot` in groups); retried until it works.
    async fn learn_name(&self, cancel: &CancellationToken) {
        let mut delay = Duration::from_secs(1);
        loop {
            match self.bot.api.get_me().await {
                Ok(me) => {
                    info!(bot = %me.username, "Telegram bot connected");
                    self.handler.set_bot_name(Provider::Telegram, me.username);
                    return;
                }
                Err(e) => warn!("Telegram getMe failed: {e}"),
            }
            if sleep_or_cancel(delay, cancel).await {
                return;
            }
            delay = (delay * 2).min(Duration::from_secs(60));
        }
    }

    pub async fn run(self, cancel: CancellationToken) {
        self.learn_name(&cancel).await;
        match self.config.mode {
            TelegramMode::Webhook => self.register_webhook(cancel).await,
            TelegramMode::Polling => self.poll(cancel).await,
        }
    }

    /// Tell Telegram where to POST; every instance may, it is the same URL and secret.
    async fn register_webhook(&self, cancel: CancellationToken) {
        let url = format!("{}/telegram/webhook", self.public_url);
        let secret = self.config.webhook_secret.as_ref().map(|s| s.expose().to_string()).unwrap_or_default();
        let mut delay = Duration::from_secs(1);
        loop {
            match self.bot.api.set_webhook(&url, &secret).await {
                Ok(()) => {
                    info!(%url, "Telegram webhook registered");
                    return;
                }
                Err(e) => warn!("Telegram setWebhook failed: {e}"),
            }
            if sleep_or_cancel(delay, &cancel).await {
                return;
            }
            delay = (delay * 2).min(Duration::from_secs(300));
        }
    }

    /// Long polling, by the lease holder only. Updates are committed to the inbox and the cursor
    /// moved past them in one transaction; then the next poll confirms them to Telegram.
    async fn poll(&self, cancel: CancellationToken) {
        let timeout = Duration::from_millis(self.config.poll_timeout.as_millis().max(0) as u64);
        // Long enough to survive one poll, short enough that another instance takes over soon.
        let ttl = self.config.poll_timeout * 2 + SignedDuration::from_secs(5);
        let mut leading = false;
        loop {
            if cancel.is_cancelled() {
                break;
            }
            match self.store.try_lease(POLL_LEASE, &self.instance, self.clock.now(), ttl).await {
                Ok(true) => {
                    if !leading {
                        info!(instance = %self.instance, "this instance polls Telegram");
                        // getUpdates is refused while a webhook is set.
                        if let Err(e) = self.bot.api.delete_webhook().await {
                            warn!("Telegram deleteWebhook failed: {e}");
                        }
                        leading = true;
                    }
                }
                Ok(false) => {
                    leading = false;
                    if sleep_or_cancel(
                        Duration::from_secs(2).min(timeout.max(Duration::from_millis(200))),
                        &cancel,
                    )
                    .await
                    {
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    warn!("taking the Telegram polling lease failed: {e}");
                    if sleep_or_cancel(Duration::from_secs(2), &cancel).await {
                        break;
                    }
                    continue;
                }
            }
            let offset = match self.store.chat_cursor(Provider::Telegram).await {
                Ok(o) => o,
                Err(e) => {
                    warn!("reading the Telegram cursor failed: {e}");
                    if sleep_or_cancel(Duration::from_secs(2), &cancel).await {
                        break;
                    }
                    continue;
                }
            };
            let polled = tokio::select! {
                _ = cancel.cancelled() => break,
                r = self.bot.api.get_updates(offset, timeout, 100) => r,
            };
            match polled {
                Ok(updates) if updates.is_empty() => {}
                Ok(updates) => {
                    let next = updates.iter().map(|u| u.id).max().map(|m| m + 1);
                    match self.store.inbox_add(Provider::Telegram, &updates, next, self.clock.now()).await {
                        Ok(_) => self.inbox.notify_one(),
                        // Not committed: the same updates come again on the next poll.
                        Err(e) => {
                            warn!("keeping Telegram updates failed: {e}");
                            if sleep_or_cancel(Duration::from_secs(1), &cancel).await {
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    let delay = match &e {
                        SendError::RetryAfter(d) => *d,
                        SendError::Unauthorized(_) => Duration::from_secs(30),
                        _ => Duration::from_secs(3),
                    };
                    warn!("Telegram getUpdates failed: {e}");
                    if sleep_or_cancel(delay, &cancel).await {
                        break;
                    }
                }
            }
        }
        if leading {
            let _ = self.store.release_lease(POLL_LEASE, &self.instance).await;
        }
    }
}
