//! Sending to chats: the outbox sink of a provider (replies, cards edited in place, threaded
//! updates, answers to button presses) and the page channel (a direct message with 确认 / 到场 /
//! 转派 buttons). Both pace themselves under the provider's limits, put a chat's messages off
//! when the provider says to wait, follow a group that moved, and record a chat that is gone.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::SignedDuration;
use minijinja::context;
use tracing::{info, warn};
use zhiban_integrations::chat::{Button, ChatId, OutgoingText, Provider, SendError};

use super::cards::render_card;
use super::outgoing::ChatOutgoing;
use crate::config::Config;
use crate::domain::{IncidentId, PersonId};
use crate::engine::Clock;
use crate::engine::paging::{Delivered, PageChannel, PageMessage};
use crate::engine::sinks::{DeliveryError, Sink};
use crate::messages::Messages;
use crate::store::chat::{ChatRoute, PostKind};
use crate::store::{OutboxMessage, SharedStore};

/// A chat provider's API, in neutral terms ([`crate::chat::telegram`] implements it for Telegram).
#[async_trait]
pub trait ChatApi: Send + Sync {
    fn provider(&self) -> Provider;
    /// Whether the chat is a group (paced per minute) rather than a person.
    fn is_group(&self, chat: &ChatId) -> bool;
    /// The chat for direct messages to a person's account.
    fn private_chat(&self, user_id: &str) -> ChatId;
    async fn send(&self, chat: &ChatId, message: &OutgoingText) -> Result<String, SendError>;
    async fn edit(&self, chat: &ChatId, message_id: &str, message: &OutgoingText) -> Result<(), SendError>;
    async fn answer(&self, press: &str, text: Option<&str>) -> Result<(), SendError>;
    async fn download(&self, file_id: &str, max_bytes: u64) -> Result<Vec<u8>, SendError>;
    /// Whether buttons only open links (DingTalk): a page then carries its signed action link.
    fn buttons_are_links(&self) -> bool {
        false
    }
    /// Whether this message of the bot can be edited; a card that cannot stays as posted, and the
    /// threaded updates carry the news.
    fn can_edit(&self, _message_id: &str) -> bool {
        true
    }
}

/// Keeps sending under a provider's limits: so many messages a second overall, so many a minute
/// into one group, and nothing into a chat the provider asked us to leave alone for a while.
/// Per instance: with several instances each keeps its own count, so configure the limits with
/// headroom (the defaults are 25/s and 18/min against Telegram's 30 and 20).
pub struct Pacer {
    per_second: u32,
    group_per_minute: u32,
    state: Mutex<PacerState>,
}

#[derive(Default)]
struct PacerState {
    recent: VecDeque<Instant>,
    groups: HashMap<ChatId, VecDeque<Instant>>,
    paused: HashMap<ChatId, Instant>,
}

impl Pacer {
    pub fn new(per_second: u32, group_per_minute: u32) -> Pacer {
        Pacer {
            per_second: per_second.max(1),
            group_per_minute: group_per_minute.max(1),
            state: Mutex::default(),
        }
    }

    /// Take a slot to send into `chat` now, or say how long to wait.
    pub fn take(&self, chat: Option<&ChatId>, group: bool, now: Instant) -> Result<(), Duration> {
        let mut s = self.state.lock().expect("pacer lock");
        if let Some(chat) = chat
            && let Some(until) = s.paused.get(chat).copied()
        {
            if until > now {
                return Err(until - now);
            }
            s.paused.remove(chat);
        }
        let second = Duration::from_secs(1);
        while s.recent.front().is_some_and(|t| now.duration_since(*t) >= second) {
            s.recent.pop_front();
        }
        if s.recent.len() >= self.per_second as usize {
            return Err(second - now.duration_since(s.recent[0]));
        }
        if let (Some(chat), true) = (chat, group) {
            let minute = Duration::from_secs(60);
            let sent = s.groups.entry(chat.clone()).or_default();
            while sent.front().is_some_and(|t| now.duration_since(*t) >= minute) {
                sent.pop_front();
            }
            if sent.len() >= self.group_per_minute as usize {
                return Err(minute - now.duration_since(sent[0]));
            }
            sent.push_back(now);
        }
        s.recent.push_back(now);
        Ok(())
    }

    /// The provider said to wait before sending into `chat` again.
    pub fn pause(&self, chat: &ChatId, wait: Duration, now: Instant) {
        let mut s = self.state.lock().expect("pacer lock");
        let until = now + wait;
        let entry = s.paused.entry(chat.clone()).or_insert(until);
        *entry = (*entry).max(until);
    }
}

/// Everything a chat sink or page channel needs.
#[derive(Clone)]
pub struct ChatContext {
    pub api: Arc<dyn ChatApi>,
    pub pacer: Arc<Pacer>,
    pub store: SharedStore,
    pub config: Arc<Config>,
    pub messages: Arc<Messages>,
    pub clock: Arc<dyn Clock>,
}

fn wait(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::from_secs(1)).max(SignedDuration::from_millis(50))
}

impl ChatContext {
    /// Where a chat's messages go now (following moves), or why they cannot go.
    async fn route(&self, chat: &ChatId) -> Result<ChatId, DeliveryError> {
        match self.store.chat_route(self.api.provider(), chat).await {
            Ok(ChatRoute::Live(c)) => Ok(c),
            Ok(ChatRoute::Gone { reason }) => {
                Err(DeliveryError::permanent(format!("chat {chat} is gone: {reason}")))
            }
            Err(e) => Err(DeliveryError::transient(format!("reading the chat's state: {e}"))),
        }
    }

    /// Run `call` against `chat` under the pacer, following a move once.
    async fn call<T, F, Fut>(&self, chat: &ChatId, call: F) -> Result<T, DeliveryError>
    where
        F: Fn(ChatId) -> Fut,
        Fut: std::future::Future<Output = Result<T, SendError>>,
    {
        let mut target = self.route(chat).await?;
        for _ in 0..2 {
            if let Err(d) = self.pacer.take(Some(&target), self.api.is_group(&target), Instant::now()) {
                return Err(DeliveryError::throttled(format!("pacing chat {target}"), wait(d)));
            }
            match call(target.clone()).await {
                Ok(v) => return Ok(v),
                Err(SendError::ChatMigrated(to)) => {
                    info!(from = %target, to = %to, "the chat moved; following it");
                    self.store
                        .chat_moved(self.api.provider(), &target, &to)
                        .await
                        .map_err(|e| DeliveryError::transient(format!("recording the move: {e}")))?;
                    target = to;
                }
                Err(e) => return Err(self.failed(&target, e).await),
            }
        }
        Err(DeliveryError::transient(format!("chat {chat} moved twice in one delivery")))
    }

    async fn failed(&self, chat: &ChatId, e: SendError) -> DeliveryError {
        match e {
            SendError::RetryAfter(d) => {
                self.pacer.pause(chat, d, Instant::now());
                DeliveryError::throttled(format!("rate limited in chat {chat}"), wait(d))
            }
            SendError::ChatGone(reason) => {
                warn!(%chat, %reason, "the chat cannot be reached any more");
                let at = self.clock.now();
                if let Err(e) = self.store.chat_gone(self.api.provider(), chat, &reason, at).await {
                    warn!("recording the chat as gone failed: {e}");
                }
                DeliveryError::permanent(format!("chat {chat} is gone: {reason}"))
            }
            SendError::Rejected(m) => DeliveryError::permanent(m),
            // A wrong or revoked token is the operator's to fix; keep the messages until then.
            SendError::Unauthorized(m) => {
                DeliveryError::transient(format!("the bot's credentials were refused: {m}"))
            }
            SendError::Transient(m) => DeliveryError::transient(m),
            SendError::ChatMigrated(to) => DeliveryError::transient(format!("chat moved to {to}")),
        }
    }

    async fn remember(&self, chat: &ChatId, message_id: &str, incident: IncidentId, kind: PostKind) {
        let at = self.clock.now();
        if let Err(e) =
            self.store.add_chat_message(self.api.provider(), chat, message_id, incident, kind, at).await
        {
            // The message went out; only replying to it will not find its incident.
            warn!("remembering the bot's message failed: {e}");
        }
    }
}

/// The outbox sink `chat:<provider>`.
pub struct ChatSink {
    pub ctx: ChatContext,
}

impl ChatSink {
    async fn card(&self, chat: &ChatId, incident: i64) -> Result<(), DeliveryError> {
        let ctx = &self.ctx;
        let id = IncidentId(incident);
        let incident = match ctx.store.incident(id).await {
            Ok(Some(i)) => i,
            Ok(None) => return Err(DeliveryError::permanent(format!("no incident {id}"))),
            Err(e) => return Err(DeliveryError::transient(format!("reading the incident: {e}"))),
        };
        let text = OutgoingText {
            text: render_card(&ctx.config, &ctx.messages, &incident, ctx.clock.now()),
            ..Default::default()
        };
        let live = ctx.route(chat).await?;
        let posted = ctx
            .store
            .chat_card(ctx.api.provider(), &live, id)
            .await
            .map_err(|e| DeliveryError::transient(format!("reading the card: {e}")))?;
        if let Some(message_id) = posted {
            if !ctx.api.can_edit(&message_id) {
                return Ok(());
            }
            match ctx
                .call(chat, |c| {
                    let (api, m, t) = (ctx.api.clone(), message_id.clone(), text.clone());
                    async move { api.edit(&c, &m, &t).await }
                })
                .await
            {
                Ok(()) => return Ok(()),
                // The card was deleted in the chat (a gone chat fails again below): post a new one.
                Err(e) if e.permanent => warn!("editing the card failed ({e}); posting it again"),
                Err(e) => return Err(e),
            }
        }
        let message_id = ctx
            .call(chat, |c| {
                let (api, t) = (ctx.api.clone(), text.clone());
                async move { api.send(&c, &t).await }
            })
            .await?;
        let live = ctx.route(chat).await.unwrap_or_else(|_| chat.clone());
        ctx.remember(&live, &message_id, id, PostKind::Card).await;
        Ok(())
    }

    async fn thread(&self, chat: &ChatId, incident: i64, text: &str) -> Result<(), DeliveryError> {
        let ctx = &self.ctx;
        let id = IncidentId(incident);
        let live = ctx.route(chat).await?;
        let card = ctx
            .store
            .chat_card(ctx.api.provider(), &live, id)
            .await
            .map_err(|e| DeliveryError::transient(format!("reading the card: {e}")))?;
        let Some(card) = card else {
            // The card goes first in the same lane; it failed or was put off, so wait for it.
            return Err(DeliveryError::transient("the card is not posted yet"));
        };
        let out = OutgoingText { text: text.to_string(), reply_to: Some(card), buttons: Vec::new() };
        let message_id = ctx
            .call(chat, |c| {
                let (api, t) = (ctx.api.clone(), out.clone());
                async move { api.send(&c, &t).await }
            })
            .await?;
        ctx.remember(&live, &message_id, id, PostKind::Thread).await;
        Ok(())
    }
}

#[async_trait]
impl Sink for ChatSink {
    async fn deliver(&self, m: &OutboxMessage) -> Result<(), DeliveryError> {
        let out: ChatOutgoing = serde_json::from_value(m.payload.clone())
            .map_err(|e| DeliveryError::permanent(format!("not a chat message: {e}")))?;
        let ctx = &self.ctx;
        match out {
            ChatOutgoing::Reply { chat, text, reply_to, buttons, incident } => {
                let out = OutgoingText { text, reply_to, buttons };
                let message_id = ctx
                    .call(&chat, |c| {
                        let (api, t) = (ctx.api.clone(), out.clone());
                        async move { api.send(&c, &t).await }
                    })
                    .await?;
                if let Some(incident) = incident {
                    let live = ctx.route(&chat).await.unwrap_or(chat);
                    ctx.remember(&live, &message_id, IncidentId(incident), PostKind::Reply).await;
                }
                Ok(())
            }
            ChatOutgoing::Card { chat, incident } => self.card(&chat, incident).await,
            ChatOutgoing::Thread { chat, incident, text } => self.thread(&chat, incident, &text).await,
            ChatOutgoing::Answer { press, text } => {
                if let Err(d) = ctx.pacer.take(None, false, Instant::now()) {
                    return Err(DeliveryError::throttled("pacing", wait(d)));
                }
                match ctx.api.answer(&press, text.as_deref()).await {
                    Ok(()) => Ok(()),
                    // Too late to stop the spinner: nothing lost, the chat shows the result.
                    Err(SendError::Rejected(m)) => {
                        info!("the button press could not be answered: {m}");
                        Ok(())
                    }
                    Err(SendError::RetryAfter(d)) => Err(DeliveryError::throttled("rate limited", wait(d))),
                    Err(e) => Err(DeliveryError::transient(e.to_string())),
                }
            }
            ChatOutgoing::Edit { chat, message_id, text, buttons } => {
                let out = OutgoingText { text, reply_to: None, buttons };
                ctx.call(&chat, |c| {
                    let (api, id, t) = (ctx.api.clone(), message_id.clone(), out.clone());
                    async move { api.edit(&c, &id, &t).await }
                })
                .await
            }
        }
    }
}

/// The buttons under a page or an incident's answer: what can still be done with it.
pub fn page_buttons(
    messages: &Messages,
    ticket: &str,
    acknowledged: bool,
    on_site: bool,
) -> Vec<Vec<Button>> {
    let button = |key: &str, action: &str| Button {
        label: messages.chat(key, context! {}),
        data: format!("{action}:{ticket}"),
    };
    let mut row = Vec::new();
    if !acknowledged {
        row.push(button("button_ack", "ack"));
    }
    if !on_site {
        row.push(button("button_arrive", "arr"));
    }
    if !acknowledged {
        row.push(button("button_reassign", "fwd"));
    }
    if row.is_empty() { Vec::new() } else { vec![row] }
}

/// Pages as direct messages from the bot.
pub struct ChatPageChannel {
    pub ctx: ChatContext,
}

impl ChatPageChannel {
    /// The person's private chat: bound at runtime, or the account in the catalogue.
    async fn chat_of(&self, person: &PersonId) -> Result<ChatId, DeliveryError> {
        let provider = self.ctx.api.provider();
        let bound = self
            .ctx
            .store
            .im_account_of(provider, person)
            .await
            .map_err(|e| DeliveryError::transient(format!("reading the binding: {e}")))?;
        let configured = self
            .ctx
            .config
            .catalogue
            .person(&person.0)
            .and_then(|p| super::identity::account(p, provider))
            .filter(|a| !a.starts_with('@'))
            .map(str::to_string);
        bound.or(configured).map(|u| self.ctx.api.private_chat(&u)).ok_or_else(|| {
            DeliveryError::permanent(format!(
                "{person} has no {} account bound (zhiban people bind)",
                provider.as_str()
            ))
        })
    }
}

#[async_trait]
impl PageChannel for ChatPageChannel {
    async fn send(&self, page: &PageMessage) -> Result<Delivered, DeliveryError> {
        let chat = self.chat_of(&page.person).await?;
        let buttons = if !self.ctx.api.buttons_are_links() {
            page_buttons(&self.ctx.messages, &page.ticket, false, false)
        } else {
            // One button opening the signed link (确认 / 到场 / 转派 are on its page); none without links.
            let label = self.ctx.messages.chat("button_ack", context! {});
            page.link.iter().map(|link| vec![Button { label: label.clone(), data: link.clone() }]).collect()
        };
        let out = OutgoingText { text: page.text.clone(), reply_to: None, buttons };
        let ctx = &self.ctx;
        let message_id = ctx
            .call(&chat, |c| {
                let (api, t) = (ctx.api.clone(), out.clone());
                async move { api.send(&c, &t).await }
            })
            .await?;
        ctx.remember(&chat, &message_id, page.incident_id, PostKind::Page).await;
        Ok(Delivered::Delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_overall_and_per_group() {
        let pacer = Pacer::new(3, 2);
        let t0 = Instant::now();
        let group = ChatId("-100".into());
        assert!(pacer.take(Some(&group), true, t0).is_ok());
        assert!(pacer.take(Some(&group), true, t0).is_ok());
        let wait = pacer.take(Some(&group), true, t0).unwrap_err();
        assert!(wait > Duration::from_secs(59), "{wait:?}");
        assert!(pacer.take(Some(&ChatId("1".into())), false, t0).is_ok());
        // Three in this second already.
        assert!(pacer.take(Some(&ChatId("2".into())), false, t0).is_err());
        assert!(pacer.take(Some(&ChatId("2".into())), false, t0 + Duration::from_secs(1)).is_ok());
        assert!(pacer.take(Some(&group), true, t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn a_paused_chat_waits_and_others_do_not() {
        let pacer = Pacer::new(30, 20);
        let t0 = Instant::now();
        let chat = ChatId("-5".into());
        pacer.pause(&chat, Duration::from_secs(7), t0);
        assert_eq!(pacer.take(Some(&chat), true, t0 + Duration::from_secs(2)), Err(Duration::from_secs(5)));
        assert!(pacer.take(Some(&ChatId("-6".into())), true, t0).is_ok());
        assert!(pacer.take(Some(&chat), true, t0 + Duration::from_secs(7)).is_ok());
    }
}
