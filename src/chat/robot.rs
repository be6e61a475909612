//! Group robots (群机器人) of WeCom, DingTalk and Feishu as chat channels, and the outbox sink
//! `chat:<provider>` of those providers: the app's messages go through the [`ChatSink`], a robot
//! channel's through its robot.
//!
//! A robot only posts: the incident's card is posted once, when the incident opens, and each
//! update follows as a new message @-mentioning whoever has the incident (the assignee, else the
//! people paged for it) by their IM user id from the catalogue, or by mobile number. Robots are
//! paced per robot under the provider's limit (`robot_per_minute`, WeCom and DingTalk allow 20 a
//! minute), and when the provider says to wait, the message waits in the outbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::SignedDuration;
use tracing::info;
use zhiban_integrations::chat::{ChatId, Provider, SendError};
use zhiban_integrations::{dingtalk, feishu, wecom};

use super::cards::render_card;
use super::dingtalk::DingtalkBot;
use super::feishu::FeishuBot;
use super::outgoing::{ChatOutgoing, sink_name};
use super::sink::{ChatApi, ChatContext, ChatSink, Pacer};
use super::wecom::WecomBot;
use crate::config::Config;
use crate::config::chat::RobotTarget;
use crate::domain::IncidentId;
use crate::engine::Clock;
use crate::engine::sinks::{DeliveryError, Sink};
use crate::messages::Messages;
use crate::store::chat::PostKind;
use crate::store::{OutboxMessage, SharedStore};

/// What a robot posts, the same for every provider.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RobotPost {
    pub title: String,
    pub markdown: String,
    pub mention_mobiles: Vec<String>,
    pub mention_user_ids: Vec<String>,
}

impl RobotPost {
    /// The first line as the title, the rest as the body.
    pub fn from_text(text: &str) -> RobotPost {
        let text = text.trim();
        let (title, rest) = text.split_once('\n').unwrap_or((text, ""));
        RobotPost { title: title.trim().to_string(), markdown: rest.trim().to_string(), ..Default::default() }
    }
}

/// One group robot's webhook.
pub enum GroupRobot {
    Wecom(wecom::Robot),
    Dingtalk(dingtalk::Robot),
    Feishu(feishu::Robot),
}

macro_rules! robot_message {
    ($module:ident, $post:expr) => {
        $module::RobotMessage {
            title: $post.title.clone(),
            markdown: $post.markdown.clone(),
            mention_mobiles: $post.mention_mobiles.clone(),
            mention_user_ids: $post.mention_user_ids.clone(),
            mention_all: false,
        }
    };
}

impl GroupRobot {
    pub fn new(provider: Provider, target: &RobotTarget) -> Result<GroupRobot, String> {
        let url = target.url.expose().to_string();
        let secret = target.secret.as_ref().map(|s| s.expose().to_string());
        match provider {
            Provider::Wecom => Ok(GroupRobot::Wecom(wecom::Robot::new(url, secret))),
            Provider::Dingtalk => dingtalk::Robot::new(url, secret)
                .map(GroupRobot::Dingtalk)
                .map_err(|e| format!("dingtalk robot: {e}")),
            Provider::Feishu => Ok(GroupRobot::Feishu(feishu::Robot::new(url, secret))),
            Provider::Telegram => Err("Telegram has no group robots".into()),
        }
    }

    pub async fn send(&self, http: &reqwest::Client, post: &RobotPost) -> Result<(), SendError> {
        match self {
            GroupRobot::Wecom(r) => r.send(http, &robot_message!(wecom, post)).await,
            GroupRobot::Dingtalk(r) => r.send(http, &robot_message!(dingtalk, post)).await,
            GroupRobot::Feishu(r) => r.send(http, &robot_message!(feishu, post)).await,
        }
    }
}

/// The robot channels of one provider.
pub struct RobotSink {
    pub provider: Provider,
    /// By channel chat id (`robot:<name>`).
    pub robots: HashMap<ChatId, GroupRobot>,
    pub pacer: Pacer,
    pub http: reqwest::Client,
    pub store: SharedStore,
    pub config: Arc<Config>,
    pub messages: Arc<Messages>,
    pub clock: Arc<dyn Clock>,
}

fn wait(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::from_secs(1)).max(SignedDuration::from_millis(50))
}

fn transient(what: &str, e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::transient(format!("{what}: {e}"))
}

impl RobotSink {
    /// Who to @-mention about an incident: its assignee, else the people paged for it; by IM user
    /// id when the catalogue has one for this provider, else by mobile number.
    async fn mentions(&self, incident: IncidentId, post: &mut RobotPost) -> Result<(), DeliveryError> {
        let Some(i) =
            self.store.incident(incident).await.map_err(|e| transient("reading the incident", e))?
        else {
            return Ok(());
        };
        let people = match i.assignee {
            Some(p) => vec![p],
            None => {
                let pages =
                    self.store.pages_of(incident).await.map_err(|e| transient("reading the pages", e))?;
                let mut people: Vec<_> = pages.into_iter().map(|p| p.person).collect();
                people.dedup();
                people
            }
        };
        for id in people {
            let Some(person) = self.config.catalogue.person(&id.0) else { continue };
            match super::identity::account(person, self.provider).filter(|a| !a.starts_with('@')) {
                Some(account) => post.mention_user_ids.push(account.trim().to_string()),
                None => post.mention_mobiles.extend(person.phone.iter().map(|p| p.replace([' ', '-'], ""))),
            }
        }
        post.mention_user_ids.dedup();
        post.mention_mobiles.dedup();
        Ok(())
    }

    async fn deliver(&self, m: &OutboxMessage, out: ChatOutgoing) -> Result<(), DeliveryError> {
        let (chat, incident, text, kind) = match out {
            ChatOutgoing::Card { chat, incident } => {
                let id = IncidentId(incident);
                let posted = self
                    .store
                    .chat_card(self.provider, &chat, id)
                    .await
                    .map_err(|e| transient("reading the card", e))?;
                if posted.is_some() {
                    // Robots cannot edit: the card stays as posted, the updates follow it.
                    return Ok(());
                }
                let incident = match self.store.incident(id).await {
                    Ok(Some(i)) => i,
                    Ok(None) => return Err(DeliveryError::permanent(format!("no incident {id}"))),
                    Err(e) => return Err(transient("reading the incident", e)),
                };
                let text = render_card(&self.config, &self.messages, &incident, self.clock.now());
                (chat, Some(id), text, PostKind::Card)
            }
            ChatOutgoing::Thread { chat, incident, text } => {
                (chat, Some(IncidentId(incident)), text, PostKind::Thread)
            }
            ChatOutgoing::Reply { chat, text, incident, .. } => {
                (chat, incident.map(IncidentId), text, PostKind::Reply)
            }
            ChatOutgoing::Answer { .. } => return Ok(()),
            ChatOutgoing::Edit { chat, .. } => {
                return Err(DeliveryError::permanent(format!("{chat} is a group robot, which cannot edit")));
            }
        };
        let robot = self.robots.get(&chat).ok_or_else(|| {
            DeliveryError::permanent(format!(
                "no {} robot channel is configured as {chat}",
                self.provider.as_str()
            ))
        })?;
        if let Err(d) = self.pacer.take(Some(&chat), true, Instant::now()) {
            return Err(DeliveryError::throttled(format!("pacing robot {chat}"), wait(d)));
        }
        let mut post = RobotPost::from_text(&text);
        if let (Some(id), PostKind::Card | PostKind::Thread) = (incident, kind) {
            self.mentions(id, &mut post).await?;
        }
        match robot.send(&self.http, &post).await {
            Ok(()) => {}
            Err(SendError::RetryAfter(d)) => {
                self.pacer.pause(&chat, d, Instant::now());
                return Err(DeliveryError::throttled(format!("robot {chat} is rate limited"), wait(d)));
            }
            Err(e @ (SendError::ChatGone(_) | SendError::Rejected(_))) => {
                return Err(DeliveryError::permanent(format!("robot {chat}: {e}")));
            }
            Err(e) => return Err(transient(&format!("robot {chat}"), e)),
        }
        if let Some(id) = incident {
            let at = self.clock.now();
            let message_id = format!("outbox:{}", m.id);
            if let Err(e) = self.store.add_chat_message(self.provider, &chat, &message_id, id, kind, at).await
            {
                info!("remembering the robot's post failed: {e}");
            }
        }
        Ok(())
    }
}

/// The sink `chat:<provider>`: robot channels through their robots, the rest through the app.
pub struct ImSink {
    pub provider: Provider,
    pub app: Option<ChatSink>,
    pub robots: Option<RobotSink>,
}

#[async_trait]
impl Sink for ImSink {
    async fn deliver(&self, m: &OutboxMessage) -> Result<(), DeliveryError> {
        let out: ChatOutgoing = serde_json::from_value(m.payload.clone())
            .map_err(|e| DeliveryError::permanent(format!("not a chat message: {e}")))?;
        let robot =
            out.chat().is_some_and(|c| self.robots.as_ref().is_some_and(|r| r.robots.contains_key(c)));
        match (&self.robots, &self.app) {
            (Some(robots), _) if robot => robots.deliver(m, out).await,
            (_, Some(app)) => app.deliver(m).await,
            _ => Err(DeliveryError::permanent(format!(
                "the {0} app is not configured ([{0}]) and this is no robot channel",
                self.provider.as_str()
            ))),
        }
    }
}

/// WeCom, DingTalk and Feishu as configured: per provider, the app's context (for the handler and
/// the page channels) and the outbox sink of the app and the robot channels.
pub struct ImChats {
    pub contexts: HashMap<Provider, ChatContext>,
    pub sinks: Vec<(String, Box<dyn Sink>)>,
}

pub fn build(
    config: &Arc<Config>,
    http: &reqwest::Client,
    store: &SharedStore,
    messages: &Arc<Messages>,
    clock: &Arc<dyn Clock>,
) -> Result<ImChats, String> {
    let mut chats = ImChats { contexts: HashMap::new(), sinks: Vec::new() };
    let im = &config.im;
    for provider in [Provider::Wecom, Provider::Dingtalk, Provider::Feishu] {
        let app: Option<(Arc<dyn ChatApi>, _)> = match provider {
            Provider::Wecom => {
                im.wecom.as_ref().map(|c| Ok((Arc::new(WecomBot::new(c, http.clone())?) as _, c.pacing)))
            }
            Provider::Dingtalk => im
                .dingtalk
                .as_ref()
                .map(|c| Ok((Arc::new(DingtalkBot::new(c, http.clone())?) as _, c.pacing))),
            Provider::Feishu => {
                im.feishu.as_ref().map(|c| Ok((Arc::new(FeishuBot::new(c, http.clone())?) as _, c.pacing)))
            }
            Provider::Telegram => None,
        }
        .transpose()
        .map_err(|e: String| e)?;
        let ctx = app.map(|(api, pacing)| ChatContext {
            api,
            pacer: Arc::new(Pacer::new(pacing.max_per_second, pacing.group_per_minute)),
            store: store.clone(),
            config: config.clone(),
            messages: messages.clone(),
            clock: clock.clone(),
        });
        let mut robots = HashMap::new();
        for c in config.chat.channels.iter().filter(|c| c.provider == provider) {
            if let Some(target) = &c.robot {
                let robot =
                    GroupRobot::new(provider, target).map_err(|e| format!("chat channel {}: {e}", c.name))?;
                robots.insert(c.chat.clone(), robot);
            }
        }
        if ctx.is_none() && robots.is_empty() {
            continue;
        }
        let robots = (!robots.is_empty()).then(|| RobotSink {
            provider,
            robots,
            // Feishu's bots also take at most 5 a second.
            pacer: Pacer::new(5, im.robot_pacing(provider).robot_per_minute),
            http: http.clone(),
            store: store.clone(),
            config: config.clone(),
            messages: messages.clone(),
            clock: clock.clone(),
        });
        let sink = ImSink { provider, app: ctx.clone().map(|ctx| ChatSink { ctx }), robots };
        chats.sinks.push((sink_name(provider), Box::new(sink)));
        if let Some(ctx) = ctx {
            chats.contexts.insert(provider, ctx);
        }
    }
    Ok(chats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_takes_its_title_from_the_first_line() {
        let p = RobotPost::from_text("  【二级】统一业务登录失败\n状态：新建\n负责人：张伟 ");
        assert_eq!(p.title, "【二级】统一业务登录失败");
        assert_eq!(p.markdown, "状态：新建\n负责人：张伟");
        assert_eq!(RobotPost::from_text("一行").markdown, "");
    }

    #[test]
    fn a_wecom_robot_is_paced_at_its_limit() {
        // robot_per_minute defaults under WeCom's 20: the 19th post in a minute waits.
        let limit = crate::config::im::ImPacing::default_for(Provider::Wecom).robot_per_minute;
        assert!(limit <= 20);
        let pacer = Pacer::new(5, limit);
        let robot = ChatId("robot:ops".into());
        let t0 = Instant::now();
        for i in 0..limit {
            let at = t0 + Duration::from_secs(u64::from(i));
            assert!(pacer.take(Some(&robot), true, at).is_ok(), "post {i}");
        }
        let wait = pacer.take(Some(&robot), true, t0 + Duration::from_secs(30)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(30));
    }
}
