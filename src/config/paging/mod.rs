//! `[paging]`: escalation policies (升级策略), paging channels, notification rules, action links and
//! alert storms — validated into an [`EscalationBook`] and a [`PagingConfig`].

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use zhiban_integrations::sms::http_gateway;

mod sms;

pub use sms::{DEFAULT_PARAM_MAX_CHARS, PageField, SmsChannelConfig, SmsProvider, SmsTemplate};
use sms::{RawTemplateParams, sms_channel};

use super::Problems;
use super::catalogue::{Catalogue, Role};
use super::secret::{Secret, SecretSource};
use crate::domain::Severity;
use crate::domain::escalation::{
    AtOnce, Directory, EscalationBook, EscalationPolicy, NotifyRule, Target, Tier,
};
use crate::domain::incident::PersonId;
use crate::domain::schedule::{LiveSchedules, Schedule};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPaging {
    /// The policy for incidents whose system's team names none.
    default_policy: Option<String>,
    /// How people without rules of their own are reached.
    #[serde(default)]
    default_rules: Vec<RawRule>,
    /// Signs the action links printed in pages (SMS, email). Needed when any channel prints links.
    link_secret: Option<SecretSource>,
    /// How long an action link works.
    link_ttl: Option<String>,
    storm: Option<RawStorm>,
    #[serde(default)]
    channels: Vec<RawChannel>,
    #[serde(default)]
    policies: Vec<RawPolicy>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    channel: String,
    /// How long after the page this channel is used ("0", "2m").
    #[serde(default)]
    after: Option<String>,
    /// Only for these levels (1-4); absent: every level.
    #[serde(default)]
    levels: Vec<Severity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorm {
    /// More than this many incidents opened within `window` is a storm.
    threshold: u32,
    #[serde(default)]
    window: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawChannelKind {
    Log,
    Webhook,
    SmsGateway,
    AliyunSms,
    TencentSms,
    GsmModem,
    Telegram,
    Email,
    Wecom,
    Dingtalk,
    Feishu,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: String,
    kind: RawChannelKind,
    url: Option<String>,
    secret: Option<SecretSource>,
    // The keys of the SMS kinds (`sms_gateway`, `aliyun_sms`, `tencent_sms`, `gsm_modem`); which
    // of them a kind takes is checked in `sms_channel`.
    // sms_gateway
    method: Option<zhiban_integrations::sms::Method>,
    /// Header name → value; a value may be a secret (`{ env = "SMS_TOKEN" }`).
    headers: Option<BTreeMap<String, SecretSource>>,
    body: Option<String>,
    escape: Option<http_gateway::Escape>,
    response: Option<http_gateway::ResponseRule>,
    /// Send the answer to an SMS reply back through the gateway (default true).
    answer_replies: Option<bool>,
    // aliyun_sms
    access_key_id: Option<String>,
    access_key_secret: Option<SecretSource>,
    template_code: Option<String>,
    // tencent_sms
    secret_id: Option<String>,
    secret_key: Option<SecretSource>,
    sdk_app_id: Option<String>,
    template_id: Option<String>,
    // aliyun_sms and tencent_sms
    sign_name: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    template_params: Option<RawTemplateParams>,
    param_max_chars: Option<usize>,
    // the HTTP kinds: the bearer token of POST /api/v1/sms/inbound/{channel}
    inbound_token: Option<SecretSource>,
    // gsm_modem
    device: Option<String>,
    baud: Option<u32>,
    poll_every: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    id: String,
    name: String,
    repeat_every: Option<String>,
    #[serde(default)]
    loops: u32,
    #[serde(default)]
    wait_for_working_hours: Vec<Severity>,
    #[serde(default)]
    at_once: Vec<RawAtOnce>,
    tiers: Vec<RawTier>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTier {
    targets: Vec<String>,
    ack_timeout: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAtOnce {
    severities: Vec<Severity>,
    targets: Vec<String>,
}

/// A configured paging channel.
#[derive(Debug, Clone)]
pub struct PageChannelConfig {
    pub name: String,
    pub kind: PageChannelKind,
}

#[derive(Debug, Clone)]
pub enum PageChannelKind {
    /// Writes pages to zhiban's log (development, and a record when nothing else is set up).
    Log,
    /// POSTs each page as JSON to a notification gateway of the site's own (signed like sinks).
    Webhook { url: String, secret: Option<Secret> },
    /// Sends the page's text by SMS (see [`SmsChannelConfig`]).
    Sms(Box<SmsChannelConfig>),
    /// A direct message from the Telegram bot (`[telegram]`) with 确认 / 到场 / 转派 buttons.
    Telegram,
    /// A mail (HTML and plain text, with the signed action link) through `[email.smtp]`.
    Email,
    /// A direct message from the WeCom, DingTalk or Feishu app (`[wecom]`, `[dingtalk]`,
    /// `[feishu]`): buttons on WeCom and Feishu, the signed action link on DingTalk.
    Im(zhiban_integrations::chat::Provider),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StormRule {
    pub threshold: u32,
    pub window: SignedDuration,
}

#[derive(Debug, Clone, Default)]
pub struct PagingConfig {
    pub book: Option<Arc<EscalationBook>>,
    pub default_policy: Option<String>,
    /// Team id → policy id.
    pub team_policies: BTreeMap<String, String>,
    pub channels: Vec<PageChannelConfig>,
    pub link_secret: Option<Secret>,
    pub link_ttl: SignedDuration,
    pub storm: Option<StormRule>,
}

impl PagingConfig {
    /// The policy that pages for an incident of this system.
    pub fn policy_for(&self, catalogue: &Catalogue, system: Option<&str>) -> Option<String> {
        self.book.as_ref()?;
        system
            .and_then(|s| catalogue.system(s))
            .and_then(|s| self.team_policies.get(&s.team))
            .or(self.default_policy.as_ref())
            .cloned()
    }
}

/// Resolves targets from the catalogue and the schedules.
#[derive(Debug)]
pub struct ConfigDirectory {
    schedules: Arc<LiveSchedules>,
    teams: BTreeMap<String, Vec<PersonId>>,
    roles: BTreeMap<Role, Vec<PersonId>>,
    rules: BTreeMap<PersonId, Vec<NotifyRule>>,
    default_rules: Vec<NotifyRule>,
}

impl Directory for ConfigDirectory {
    fn on_call(&self, schedule: &str, at: Timestamp) -> Vec<PersonId> {
        self.schedules
            .snapshot()
            .get(schedule)
            .map(|s| s.people_at(at).into_iter().map(PersonId).collect())
            .unwrap_or_default()
    }

    fn team_members(&self, team: &str) -> Vec<PersonId> {
        self.teams.get(team).cloned().unwrap_or_default()
    }

    fn with_role(&self, role: Role) -> Vec<PersonId> {
        self.roles.get(&role).cloned().unwrap_or_default()
    }

    fn notify_rules(&self, person: &PersonId) -> Vec<NotifyRule> {
        self.rules.get(person).cloned().unwrap_or_else(|| self.default_rules.clone())
    }
}

pub(crate) fn duration(p: &mut Problems, key: &str, text: &str, allow_zero: bool) -> Option<SignedDuration> {
    let text = text.trim();
    if allow_zero && text == "0" {
        return Some(SignedDuration::ZERO);
    }
    match text.parse::<SignedDuration>() {
        Ok(d) if d.is_positive() && d <= SignedDuration::from_hours(24 * 31) => Some(d),
        _ => {
            p.add(key, format!("'{text}' is not a positive duration of at most 31 days; write e.g. \"2m\", \"15m\", \"1h\""));
            None
        }
    }
}

fn rules(p: &mut Problems, key: &str, raw: &[RawRule], channels: &HashSet<String>) -> Vec<NotifyRule> {
    let mut out = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        if !channels.contains(&r.channel) {
            p.add(format!("{key}[{i}].channel"), format!("no paging channel is named '{}'", r.channel));
            continue;
        }
        let after = match &r.after {
            None => SignedDuration::ZERO,
            Some(a) => match duration(p, &format!("{key}[{i}].after"), a, true) {
                Some(d) => d,
                None => continue,
            },
        };
        out.push(NotifyRule { channel: r.channel.clone(), after, levels: r.levels.clone() });
    }
    out
}

pub(crate) fn target(
    p: &mut Problems,
    key: &str,
    text: &str,
    catalogue: &Catalogue,
    schedules: &BTreeMap<String, Schedule>,
) -> Option<Target> {
    let (kind, id) = text.split_once(':').unwrap_or(("", text));
    let t = match kind {
        "person" if catalogue.person(id).is_some() => Target::Person(PersonId(id.to_string())),
        "schedule" if schedules.contains_key(id) => Target::Schedule(id.to_string()),
        "team" if catalogue.teams.iter().any(|t| t.id == id) => Target::Team(id.to_string()),
        "role" => match id {
            "admin" => Target::Role(Role::Admin),
            "engineer" => Target::Role(Role::Engineer),
            "leader" => Target::Role(Role::Leader),
            _ => {
                p.add(key, format!("'{id}' is not a role to page; use engineer, leader or admin"));
                return None;
            }
        },
        "person" | "schedule" | "team" => {
            p.add(key, format!("no {kind} has the id '{id}'"));
            return None;
        }
        _ => {
            p.add(
                key,
                format!("'{text}' names no target; write person:ID, schedule:ID, team:ID or role:leader"),
            );
            return None;
        }
    };
    Some(t)
}

pub(super) fn build(
    raw: &RawPaging,
    catalogue: &Catalogue,
    schedules: &BTreeMap<String, Schedule>,
    live: Arc<LiveSchedules>,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Problems,
    more_policies: Option<Arc<dyn crate::domain::escalation::PolicySource>>,
) -> PagingConfig {
    let mut channels = Vec::new();
    let mut names = HashSet::new();
    for (i, c) in raw.channels.iter().enumerate() {
        let key = |f: &str| format!("paging.channels[{i}].{f}");
        if !super::catalogue::valid_id(&c.name) {
            p.add(key("name"), "use letters, digits, '-' and '_'");
        } else if !names.insert(c.name.clone()) {
            p.add(key("name"), format!("the name '{}' is used twice", c.name));
        }
        let kind = match c.kind {
            RawChannelKind::Log => PageChannelKind::Log,
            RawChannelKind::Telegram => PageChannelKind::Telegram,
            RawChannelKind::Email => PageChannelKind::Email,
            RawChannelKind::Wecom => PageChannelKind::Im(zhiban_integrations::chat::Provider::Wecom),
            RawChannelKind::Dingtalk => PageChannelKind::Im(zhiban_integrations::chat::Provider::Dingtalk),
            RawChannelKind::Feishu => PageChannelKind::Im(zhiban_integrations::chat::Provider::Feishu),
            RawChannelKind::Webhook => {
                let url = match &c.url {
                    Some(u) if u.starts_with("http://") || u.starts_with("https://") => u.clone(),
                    Some(u) => {
                        p.add(key("url"), format!("'{u}' must start with http:// or https://"));
                        String::new()
                    }
                    None => {
                        p.add(key("url"), "a webhook channel needs a url");
                        String::new()
                    }
                };
                let secret =
                    c.secret.as_ref().and_then(|s| s.resolve(env).map_err(|e| p.add(key("secret"), e)).ok());
                PageChannelKind::Webhook { url, secret }
            }
            RawChannelKind::SmsGateway
            | RawChannelKind::AliyunSms
            | RawChannelKind::TencentSms
            | RawChannelKind::GsmModem => match sms_channel(p, &key, c, env) {
                Some(sms) => PageChannelKind::Sms(Box::new(sms)),
                None => PageChannelKind::Log,
            },
        };
        channels.push(PageChannelConfig { name: c.name.clone(), kind });
    }

    let default_rules = rules(p, "paging.default_rules", &raw.default_rules, &names);
    let mut person_rules = BTreeMap::new();
    for (i, person) in catalogue.people.iter().enumerate() {
        if !person.notify.is_empty() {
            person_rules.insert(
                PersonId(person.id.clone()),
                rules(p, &format!("people[{i}].notify"), &person.notify, &names),
            );
        }
    }

    let mut policies = BTreeMap::new();
    for (i, r) in raw.policies.iter().enumerate() {
        let key = |f: &str| format!("paging.policies[{i}].{f}");
        if !super::catalogue::valid_id(&r.id) {
            p.add(key("id"), "use letters, digits, '-' and '_'");
        } else if policies.contains_key(&r.id) {
            p.add(key("id"), format!("the id '{}' is used twice", r.id));
        }
        if r.tiers.is_empty() {
            p.add(key("tiers"), "a policy needs at least one tier");
        }
        let mut tiers = Vec::new();
        for (j, t) in r.tiers.iter().enumerate() {
            let tkey = format!("paging.policies[{i}].tiers[{j}]");
            if t.targets.is_empty() {
                p.add(format!("{tkey}.targets"), "a tier needs at least one target");
            }
            let targets = t
                .targets
                .iter()
                .enumerate()
                .filter_map(|(k, x)| target(p, &format!("{tkey}.targets[{k}]"), x, catalogue, schedules))
                .collect();
            let Some(ack_timeout) = duration(p, &format!("{tkey}.ack_timeout"), &t.ack_timeout, false) else {
                continue;
            };
            tiers.push(Tier { targets, ack_timeout });
        }
        let at_once = r
            .at_once
            .iter()
            .enumerate()
            .map(|(j, a)| AtOnce {
                severities: a.severities.clone(),
                targets: a
                    .targets
                    .iter()
                    .enumerate()
                    .filter_map(|(k, x)| {
                        target(
                            p,
                            &format!("paging.policies[{i}].at_once[{j}].targets[{k}]"),
                            x,
                            catalogue,
                            schedules,
                        )
                    })
                    .collect(),
            })
            .collect();
        let repeat_every = r.repeat_every.as_deref().and_then(|d| duration(p, &key("repeat_every"), d, true));
        if r.loops > 10 {
            p.add(key("loops"), "at most 10");
        }
        policies.insert(
            r.id.clone(),
            Arc::new(EscalationPolicy {
                id: r.id.clone(),
                name: r.name.clone(),
                tiers,
                repeat_every: repeat_every.filter(|d| d.is_positive()),
                loops: r.loops.min(10),
                at_once,
                wait_for_working_hours: r.wait_for_working_hours.clone(),
            }),
        );
    }
    if let Some(d) = &raw.default_policy
        && !policies.contains_key(d)
    {
        p.add("paging.default_policy", format!("no policy has the id '{d}'"));
    }
    let mut team_policies = BTreeMap::new();
    for (i, team) in catalogue.teams.iter().enumerate() {
        if let Some(policy) = &team.escalation_policy {
            if policies.contains_key(policy) {
                team_policies.insert(team.id.clone(), policy.clone());
            } else {
                p.add(
                    format!("teams[{i}].escalation_policy"),
                    format!("no paging policy has the id '{policy}'"),
                );
            }
        }
    }
    if !policies.is_empty() && channels.is_empty() {
        p.add("paging.channels", "policies page people through channels; configure at least one");
    }
    if !policies.is_empty() && default_rules.is_empty() && raw.default_rules.is_empty() {
        p.add(
            "paging.default_rules",
            "say how people without rules of their own are reached, e.g. [{ channel = \"log\" }]",
        );
    }

    let link_secret = raw
        .link_secret
        .as_ref()
        .and_then(|s| s.resolve(env).map_err(|e| p.add("paging.link_secret", e)).ok());
    if let Some(s) = &link_secret
        && s.expose().len() < 32
    {
        p.add("paging.link_secret", "must be at least 32 characters");
    }
    let link_ttl = raw
        .link_ttl
        .as_deref()
        .and_then(|d| duration(p, "paging.link_ttl", d, false))
        .unwrap_or(SignedDuration::from_hours(24));
    let storm = raw.storm.as_ref().and_then(|s| {
        if s.threshold < 2 {
            p.add("paging.storm.threshold", "must be at least 2");
            return None;
        }
        let window = match &s.window {
            None => SignedDuration::from_mins(1),
            Some(w) => duration(p, "paging.storm.window", w, false)?,
        };
        Some(StormRule { threshold: s.threshold, window })
    });

    let mut roles: BTreeMap<Role, Vec<PersonId>> = BTreeMap::new();
    for person in &catalogue.people {
        for role in &person.roles {
            roles.entry(*role).or_default().push(PersonId(person.id.clone()));
        }
    }
    let teams = catalogue
        .teams
        .iter()
        .map(|t| (t.id.clone(), t.members.iter().map(|m| PersonId(m.clone())).collect()))
        .collect();
    // The directory also serves calls that are not escalations (an emergency plan's group).
    let book = (!policies.is_empty() || !channels.is_empty()).then(|| {
        Arc::new(EscalationBook {
            policies,
            // Drill plans page through policies of their own (`drill:<plan>`), editable at runtime.
            more: more_policies,
            directory: Arc::new(ConfigDirectory {
                schedules: live,
                teams,
                roles,
                rules: person_rules,
                default_rules,
            }),
        })
    });
    PagingConfig {
        book,
        default_policy: raw.default_policy.clone(),
        team_policies,
        channels,
        link_secret,
        link_ttl,
        storm,
    }
}
