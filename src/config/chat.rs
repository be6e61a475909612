//! `[chat]` (what every IM shares: who may report, binding codes, group channels) and
//! `[telegram]` (the bot's token, API URL, polling or webhook).

use jiff::SignedDuration;
use serde::Deserialize;
use zhiban_integrations::chat::{ChatId, Provider};

use super::catalogue::Catalogue;
use super::{Problems, Secret, SecretSource};
use crate::domain::Severity;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChat {
    /// Whether people whose IM account is bound to nobody may report faults.
    #[serde(default)]
    allow_unbound_reports: bool,
    bind_code_ttl: Option<String>,
    guided_report_ttl: Option<String>,
    attachment_max_bytes: Option<u64>,
    #[serde(default)]
    channels: Vec<RawChannel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: String,
    provider: String,
    /// The group as the app sees it; or `robot`, a group robot's webhook (posts only).
    chat: Option<String>,
    robot: Option<SecretSource>,
    /// The robot's signing secret (DingTalk, Feishu 加签).
    secret: Option<SecretSource>,
    #[serde(default)]
    units: Vec<String>,
    #[serde(default)]
    systems: Vec<String>,
    #[serde(default)]
    levels: Vec<u8>,
    /// Whether drill incidents (演练) are posted here; on by default so drills are seen.
    drills: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelegram {
    token: SecretSource,
    api_url: Option<String>,
    #[serde(default = "default_mode")]
    mode: String,
    webhook_secret: Option<SecretSource>,
    poll_timeout: Option<String>,
    /// Messages per second over all chats (Telegram allows about 30).
    max_per_second: Option<u32>,
    /// Messages per minute into one group (Telegram allows about 20).
    group_per_minute: Option<u32>,
}

impl RawChat {
    /// The channels' names as written (drill plans name them).
    pub(super) fn channel_names(&self) -> Vec<&str> {
        self.channels.iter().map(|c| c.name.as_str()).collect()
    }
}

fn default_mode() -> String {
    "polling".into()
}

/// What every IM integration shares.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    pub allow_unbound_reports: bool,
    pub bind_code_ttl: SignedDuration,
    /// A guided report left unanswered this long is dropped.
    pub guided_report_ttl: SignedDuration,
    pub attachment_max_bytes: u64,
    pub channels: Vec<ChannelRoute>,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            allow_unbound_reports: false,
            bind_code_ttl: SignedDuration::from_hours(24),
            guided_report_ttl: SignedDuration::from_mins(30),
            attachment_max_bytes: 10 * 1024 * 1024,
            channels: Vec::new(),
        }
    }
}

/// A group channel and the incidents posted to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRoute {
    pub name: String,
    pub provider: Provider,
    /// The group; for a robot channel `robot:<name>`, which the provider's sink posts through the robot.
    pub chat: ChatId,
    /// A group robot (WeCom, DingTalk, Feishu): cards are posted, never edited.
    pub robot: Option<RobotTarget>,
    /// Empty: every unit (likewise systems and levels).
    pub units: Vec<String>,
    pub systems: Vec<String>,
    pub levels: Vec<Severity>,
    pub drills: bool,
}

/// A group robot's webhook URL (it holds the robot's key) and signing secret.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotTarget {
    pub url: Secret,
    pub secret: Option<Secret>,
}

impl ChannelRoute {
    /// Whether an incident of this unit, system and level belongs in this channel.
    pub fn wants(&self, unit: Option<&str>, system: Option<&str>, severity: Severity, drill: bool) -> bool {
        let matches = |list: &[String], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|x| x == v))
        };
        (!drill || self.drills)
            && matches(&self.units, unit)
            && matches(&self.systems, system)
            && (self.levels.is_empty() || self.levels.contains(&severity))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelegramMode {
    /// getUpdates, from the one instance holding the lease.
    Polling,
    /// Telegram POSTs to `{public_url}/telegram/webhook` with the secret header.
    Webhook,
}

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub token: Secret,
    pub api_url: String,
    pub mode: TelegramMode,
    pub webhook_secret: Option<Secret>,
    pub poll_timeout: SignedDuration,
    pub max_per_second: u32,
    pub group_per_minute: u32,
}

pub const TELEGRAM_API: &str = "https://api.telegram.org";

/// An optional duration key: the shared rule (positive, at most 31 days), else `default`.
fn duration(p: &mut Problems, key: &str, text: Option<&String>, default: SignedDuration) -> SignedDuration {
    text.and_then(|t| super::paging::duration(p, key, t, false)).unwrap_or(default)
}

pub(super) fn build_chat(
    raw: &RawChat,
    catalogue: &Catalogue,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Problems,
) -> ChatConfig {
    let defaults = ChatConfig::default();
    let mut channels = Vec::new();
    for (i, c) in raw.channels.iter().enumerate() {
        let key = |field: &str| format!("chat.channels[{i}].{field}");
        let Some(provider) = Provider::parse(&c.provider) else {
            p.add(
                key("provider"),
                format!("'{}' is not an IM; use telegram, wecom, dingtalk or feishu", c.provider),
            );
            continue;
        };
        let robot = match (&c.chat, &c.robot) {
            (Some(_), Some(_)) | (None, None) => {
                p.add(
                    key("chat"),
                    "give either chat (the app's group id) or robot (a group robot's webhook URL)",
                );
                None
            }
            (Some(chat), None) => {
                if chat.trim().is_empty() {
                    p.add(key("chat"), "must name the group chat (e.g. -1001234567890 for Telegram)");
                }
                None
            }
            (None, Some(_)) if provider == Provider::Telegram => {
                p.add(key("robot"), "Telegram has no group robots; use chat");
                None
            }
            (None, Some(url)) => {
                let url = url.resolve(env).map_err(|e| p.add(key("robot"), e)).unwrap_or(Secret::new(""));
                let url = url.expose().trim();
                if !reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                    p.add(key("robot"), "must be the robot's http(s) webhook URL");
                }
                let secret =
                    c.secret.as_ref().and_then(|s| s.resolve(env).map_err(|e| p.add(key("secret"), e)).ok());
                Some(RobotTarget { url: Secret::new(url), secret })
            }
        };
        if c.secret.is_some() && c.robot.is_none() {
            p.add(key("secret"), "only a robot channel has a signing secret");
        }
        let chat = match &robot {
            Some(_) => ChatId(format!("robot:{}", c.name)),
            None => ChatId(c.chat.as_deref().unwrap_or_default().trim().to_string()),
        };
        let mut units = Vec::new();
        for u in &c.units {
            match catalogue.find_unit(u) {
                Some(unit) => units.push(unit.id.clone()),
                None => p.add(key("units"), format!("'{u}' is not a unit in the catalogue")),
            }
        }
        let mut systems = Vec::new();
        for s in &c.systems {
            match catalogue.find_system(s) {
                Some(system) => systems.push(system.id.clone()),
                None => p.add(key("systems"), format!("'{s}' is not a system in the catalogue")),
            }
        }
        let mut levels = Vec::new();
        for l in &c.levels {
            match Severity::from_level(i64::from(*l)) {
                Some(s) => levels.push(s),
                None => p.add(key("levels"), format!("{l} is not a level; use 1 (一级) to 4 (四级)")),
            }
        }
        channels.push(ChannelRoute {
            name: c.name.clone(),
            provider,
            chat,
            robot,
            units,
            systems,
            levels,
            drills: c.drills.unwrap_or(true),
        });
    }
    let mut names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        p.add("chat.channels", format!("two channels are named '{}'", w[0]));
    }
    let attachment_max_bytes = raw.attachment_max_bytes.unwrap_or(defaults.attachment_max_bytes);
    if attachment_max_bytes == 0 || attachment_max_bytes > 50 * 1024 * 1024 {
        p.add(
            "chat.attachment_max_bytes",
            "must be between 1 and 52428800 (Telegram bots get files up to 20 MB)",
        );
    }
    ChatConfig {
        allow_unbound_reports: raw.allow_unbound_reports,
        bind_code_ttl: duration(p, "chat.bind_code_ttl", raw.bind_code_ttl.as_ref(), defaults.bind_code_ttl),
        guided_report_ttl: duration(
            p,
            "chat.guided_report_ttl",
            raw.guided_report_ttl.as_ref(),
            defaults.guided_report_ttl,
        ),
        attachment_max_bytes,
        channels,
    }
}

pub(super) fn build_telegram(
    raw: &RawTelegram,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Problems,
) -> Option<TelegramConfig> {
    let token = raw.token.resolve(env).map_err(|e| p.add("telegram.token", e)).ok()?;
    let api_url = raw.api_url.as_deref().unwrap_or(TELEGRAM_API).trim_end_matches('/').to_string();
    if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
        p.add("telegram.api_url", format!("'{api_url}' must start with http:// or https://"));
    }
    let mode = match raw.mode.as_str() {
        "polling" => TelegramMode::Polling,
        "webhook" => TelegramMode::Webhook,
        other => {
            p.add("telegram.mode", format!("'{other}' is not a mode; use polling or webhook"));
            TelegramMode::Polling
        }
    };
    let webhook_secret = raw
        .webhook_secret
        .as_ref()
        .and_then(|s| s.resolve(env).map_err(|e| p.add("telegram.webhook_secret", e)).ok());
    match &webhook_secret {
        None if mode == TelegramMode::Webhook => {
            p.add("telegram.webhook_secret", "webhook mode needs a secret (1–256 of A-Z a-z 0-9 _ -)")
        }
        Some(s)
            if s.expose().len() > 256
                || !s.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            p.add("telegram.webhook_secret", "Telegram takes 1–256 characters of A-Z a-z 0-9 _ -")
        }
        _ => {}
    }
    let poll_timeout =
        duration(p, "telegram.poll_timeout", raw.poll_timeout.as_ref(), SignedDuration::from_secs(25));
    if poll_timeout > SignedDuration::from_secs(50) {
        p.add("telegram.poll_timeout", "must be at most 50s (proxies cut longer requests)");
    }
    let max_per_second = raw.max_per_second.unwrap_or(25);
    if max_per_second == 0 || max_per_second > 30 {
        p.add("telegram.max_per_second", "must be between 1 and 30 (Telegram's limit)");
    }
    let group_per_minute = raw.group_per_minute.unwrap_or(18);
    if group_per_minute == 0 || group_per_minute > 20 {
        p.add("telegram.group_per_minute", "must be between 1 and 20 (Telegram's limit)");
    }
    Some(TelegramConfig {
        token,
        api_url,
        mode,
        webhook_secret,
        poll_timeout,
        max_per_second: max_per_second.clamp(1, 30),
        group_per_minute: group_per_minute.clamp(1, 20),
    })
}
