//! `[paging]`: escalation policies (升级策略), paging channels, notification rules, action links and
//! alert storms — validated into an [`EscalationBook`] and a [`PagingConfig`].

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use zhiban_integrations::sms::{aliyun, http_gateway, tencent};

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

/// Aliyun names its template variables (a table), Tencent numbers them (a list).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawTemplateParams {
    Named(BTreeMap<String, String>),
    Ordered(Vec<String>),
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
struct RawTier {
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
}

/// An SMS paging channel: how texts go out, and how replies come back.
#[derive(Debug, Clone)]
pub struct SmsChannelConfig {
    pub provider: SmsProvider,
    /// The bearer token of `POST /api/v1/sms/inbound/{channel}` (HTTP providers only).
    pub inbound_token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub enum SmsProvider {
    /// An intranet HTTP gateway; `gateway.headers` is empty, the headers (which may hold tokens)
    /// are in `headers` so that `Debug` never shows them.
    Gateway { gateway: http_gateway::GatewayConfig, headers: Vec<(String, Secret)>, answer_replies: bool },
    /// Aliyun `SendSms` with an approved template; `params` are its variables by name.
    Aliyun { config: aliyun::AliyunConfig, params: Vec<(String, SmsTemplate)>, max_chars: usize },
    /// Tencent Cloud `SendSms` with an approved template; `params` fill `{1}`, `{2}`… in order.
    Tencent { config: tencent::TencentConfig, params: Vec<SmsTemplate>, max_chars: usize },
    /// A GSM modem on a serial device; replies are read from its SIM.
    Modem { device: String, baud: u32, poll_every: SignedDuration },
}

impl SmsProvider {
    pub fn kind(&self) -> &'static str {
        match self {
            SmsProvider::Gateway { .. } => "sms_gateway",
            SmsProvider::Aliyun { .. } => "aliyun_sms",
            SmsProvider::Tencent { .. } => "tencent_sms",
            SmsProvider::Modem { .. } => "gsm_modem",
        }
    }
}

/// A field of a page that an SMS template parameter may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageField {
    /// `{ticket}`: `20261125-007`.
    Ticket,
    /// `{code}`: the ticket's number of the day, `007` — what a reply quotes.
    Code,
    /// `{sev}`: `一级` … `四级`.
    Sev,
    /// `{title}`.
    Title,
    /// `{system}`: the system's name (empty when none).
    System,
    /// `{unit}`: the unit's name (empty when none).
    Unit,
    /// `{link}`: the signed action link, else the incident's URL.
    Link,
}

impl PageField {
    const ALL: [(&'static str, PageField); 7] = [
        ("ticket", PageField::Ticket),
        ("code", PageField::Code),
        ("sev", PageField::Sev),
        ("title", PageField::Title),
        ("system", PageField::System),
        ("unit", PageField::Unit),
        ("link", PageField::Link),
    ];
}

/// A template parameter's value as configured: literal text and `{field}` placeholders. Any
/// other `{` is literal, except `{word}` with an unknown lower-case word (a likely typo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsTemplate(Vec<TemplatePart>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplatePart {
    Text(String),
    Field(PageField),
}

impl SmsTemplate {
    pub fn parse(template: &str) -> Result<SmsTemplate, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            text.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let len = after.bytes().take_while(|b| b.is_ascii_lowercase() || *b == b'_').count();
            if len > 0 && after.as_bytes().get(len) == Some(&b'}') {
                let word = &after[..len];
                let Some((_, field)) = PageField::ALL.iter().find(|(w, _)| *w == word) else {
                    let known: Vec<String> = PageField::ALL.iter().map(|(w, _)| format!("{{{w}}}")).collect();
                    return Err(format!("unknown placeholder {{{word}}}; use {}", known.join(", ")));
                };
                if !text.is_empty() {
                    parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                }
                parts.push(TemplatePart::Field(*field));
                rest = &after[len + 1..];
            } else {
                text.push('{');
                rest = after;
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(TemplatePart::Text(text));
        }
        Ok(SmsTemplate(parts))
    }

    /// The value with every placeholder filled, cut to `max_chars` characters (the last one
    /// becoming `…`) since providers refuse longer variables.
    pub fn render<'a>(&self, value: impl Fn(PageField) -> &'a str, max_chars: usize) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                TemplatePart::Text(t) => out.push_str(t),
                TemplatePart::Field(f) => out.push_str(value(*f)),
            }
        }
        if out.chars().count() > max_chars {
            out = out.chars().take(max_chars.saturating_sub(1)).collect();
            out.push('…');
        }
        out
    }
}

/// Template variables longer than this are cut: Aliyun refuses variables over 35 characters
/// (the limit for the common "other" variable type), and Tencent's limits are no larger for
/// most template kinds.
pub const DEFAULT_PARAM_MAX_CHARS: usize = 35;

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

fn duration(p: &mut Problems, key: &str, text: &str, allow_zero: bool) -> Option<SignedDuration> {
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

/// Validates an SMS channel; every problem is reported under `paging.channels[i].<key>`.
fn sms_channel(
    p: &mut Problems,
    key: &dyn Fn(&str) -> String,
    c: &RawChannel,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<SmsChannelConfig> {
    use RawChannelKind::*;
    let kind = c.kind;
    let before = p.0.len();
    // Keys that belong to another kind are mistakes, not options to ignore.
    let takes: &[&str] = match kind {
        SmsGateway => {
            &["url", "method", "headers", "body", "escape", "response", "answer_replies", "inbound_token"]
        }
        AliyunSms => &[
            "access_key_id",
            "access_key_secret",
            "template_code",
            "sign_name",
            "endpoint",
            "region",
            "template_params",
            "param_max_chars",
            "inbound_token",
        ],
        TencentSms => &[
            "secret_id",
            "secret_key",
            "sdk_app_id",
            "template_id",
            "sign_name",
            "endpoint",
            "region",
            "template_params",
            "param_max_chars",
            "inbound_token",
        ],
        _ => &["device", "baud", "poll_every"],
    };
    let present = [
        ("url", c.url.is_some()),
        ("secret", c.secret.is_some()),
        ("method", c.method.is_some()),
        ("headers", c.headers.is_some()),
        ("body", c.body.is_some()),
        ("escape", c.escape.is_some()),
        ("response", c.response.is_some()),
        ("answer_replies", c.answer_replies.is_some()),
        ("access_key_id", c.access_key_id.is_some()),
        ("access_key_secret", c.access_key_secret.is_some()),
        ("template_code", c.template_code.is_some()),
        ("secret_id", c.secret_id.is_some()),
        ("secret_key", c.secret_key.is_some()),
        ("sdk_app_id", c.sdk_app_id.is_some()),
        ("template_id", c.template_id.is_some()),
        ("sign_name", c.sign_name.is_some()),
        ("endpoint", c.endpoint.is_some()),
        ("region", c.region.is_some()),
        ("template_params", c.template_params.is_some()),
        ("param_max_chars", c.param_max_chars.is_some()),
        ("inbound_token", c.inbound_token.is_some()),
        ("device", c.device.is_some()),
        ("baud", c.baud.is_some()),
        ("poll_every", c.poll_every.is_some()),
    ];
    let kind_name = match kind {
        SmsGateway => "sms_gateway",
        AliyunSms => "aliyun_sms",
        TencentSms => "tencent_sms",
        _ => "gsm_modem",
    };
    for (name, _) in present.iter().filter(|(name, set)| *set && !takes.contains(name)) {
        p.add(key(name), format!("a {kind_name} channel has no key '{name}'"));
    }
    let required = |p: &mut Problems, name: &str, value: &Option<String>| -> String {
        match value.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => {
                p.add(key(name), format!("a {kind_name} channel needs {name}"));
                String::new()
            }
        }
    };
    let secret = |p: &mut Problems, name: &str, source: &Option<SecretSource>| -> Option<Secret> {
        match source {
            Some(s) => s.resolve(env).map_err(|e| p.add(key(name), e)).ok(),
            None => {
                p.add(key(name), format!("a {kind_name} channel needs {name}"));
                None
            }
        }
    };
    let inbound_token = c.inbound_token.as_ref().and_then(|s| {
        let token = s.resolve(env).map_err(|e| p.add(key("inbound_token"), e)).ok()?;
        if token.expose().chars().count() < 16 {
            p.add(key("inbound_token"), "must be at least 16 characters");
        }
        Some(token)
    });
    let http_url = |p: &mut Problems, name: &str, url: &str| {
        if !url.starts_with("http://") && !url.starts_with("https://") {
            p.add(key(name), format!("'{url}' must start with http:// or https://"));
        }
    };
    let max_chars = c.param_max_chars.unwrap_or(DEFAULT_PARAM_MAX_CHARS);
    if !(4..=500).contains(&max_chars) {
        p.add(key("param_max_chars"), "must be between 4 and 500");
    }
    let template = |p: &mut Problems, name: String, text: &str| -> Option<SmsTemplate> {
        SmsTemplate::parse(text).map_err(|e| p.add(key(&name), e)).ok()
    };
    let provider = match kind {
        SmsGateway => {
            let url = required(p, "url", &c.url);
            let headers: Vec<(String, Secret)> = c
                .headers
                .iter()
                .flatten()
                .filter_map(|(name, source)| {
                    let value =
                        source.resolve(env).map_err(|e| p.add(key(&format!("headers.{name}")), e)).ok()?;
                    Some((name.clone(), value))
                })
                .collect();
            let gateway = http_gateway::GatewayConfig {
                method: c.method.unwrap_or_default(),
                url,
                headers: Vec::new(),
                body: c.body.clone().unwrap_or_default(),
                escape: c.escape.unwrap_or_default(),
                response: c.response.clone().unwrap_or_default(),
            };
            // The integration checks the templates, placeholders and header syntax; each part
            // alone, to name the key at fault. Header values may be secrets: the integration
            // names the header, never its value.
            let url_only = http_gateway::GatewayConfig {
                body: String::new(),
                response: http_gateway::ResponseRule::default(),
                ..gateway.clone()
            };
            let headers_only = http_gateway::GatewayConfig {
                headers: headers.iter().map(|(n, v)| (n.clone(), v.expose().to_string())).collect(),
                ..url_only.clone()
            };
            let parts = [
                ("url", url_only.clone()),
                ("headers", headers_only),
                ("body", http_gateway::GatewayConfig { body: gateway.body.clone(), ..url_only.clone() }),
                ("response", http_gateway::GatewayConfig { response: gateway.response.clone(), ..url_only }),
            ];
            for (i, (field, check)) in parts.iter().enumerate() {
                if let Err(e) = check.validate() {
                    p.add(
                        key(field),
                        e.to_string().trim_start_matches("invalid SMS configuration: ").to_string(),
                    );
                    if i == 0 {
                        break; // every other check repeats the URL's problem
                    }
                }
            }
            SmsProvider::Gateway { gateway, headers, answer_replies: c.answer_replies.unwrap_or(true) }
        }
        AliyunSms => {
            let id = required(p, "access_key_id", &c.access_key_id);
            let secret = secret(p, "access_key_secret", &c.access_key_secret);
            let sign_name = required(p, "sign_name", &c.sign_name);
            let template_code = required(p, "template_code", &c.template_code);
            let mut config = aliyun::AliyunConfig::new(
                id,
                secret.map(|s| s.expose().to_string()).unwrap_or_default(),
                sign_name,
                template_code,
            );
            if let Some(endpoint) = &c.endpoint {
                http_url(p, "endpoint", endpoint);
                config.endpoint = endpoint.clone();
            }
            if let Some(region) = &c.region {
                config.region = region.clone();
            }
            let params = match &c.template_params {
                Some(RawTemplateParams::Named(map)) => map
                    .iter()
                    .filter_map(|(name, text)| {
                        Some((name.clone(), template(p, format!("template_params.{name}"), text)?))
                    })
                    .collect(),
                Some(RawTemplateParams::Ordered(_)) => {
                    p.add(
                        key("template_params"),
                        "Aliyun names its template variables: write a table, e.g. { ticket = \"{ticket}\", title = \"{title}\" }",
                    );
                    Vec::new()
                }
                None => Vec::new(),
            };
            SmsProvider::Aliyun { config, params, max_chars }
        }
        TencentSms => {
            let id = required(p, "secret_id", &c.secret_id);
            let secret = secret(p, "secret_key", &c.secret_key);
            let app = required(p, "sdk_app_id", &c.sdk_app_id);
            let sign_name = required(p, "sign_name", &c.sign_name);
            let template_id = required(p, "template_id", &c.template_id);
            let mut config = tencent::TencentConfig::new(
                id,
                secret.map(|s| s.expose().to_string()).unwrap_or_default(),
                app,
                sign_name,
                template_id,
            );
            if let Some(endpoint) = &c.endpoint {
                http_url(p, "endpoint", endpoint);
                config.endpoint = endpoint.clone();
            }
            if let Some(region) = &c.region {
                config.region = region.clone();
            }
            let params = match &c.template_params {
                Some(RawTemplateParams::Ordered(list)) => list
                    .iter()
                    .enumerate()
                    .filter_map(|(j, text)| template(p, format!("template_params[{j}]"), text))
                    .collect(),
                Some(RawTemplateParams::Named(_)) => {
                    p.add(
                        key("template_params"),
                        "Tencent numbers its template variables {1}, {2}…: write a list, e.g. [\"{ticket}\", \"{title}\"]",
                    );
                    Vec::new()
                }
                None => Vec::new(),
            };
            SmsProvider::Tencent { config, params, max_chars }
        }
        _ => {
            let device = required(p, "device", &c.device);
            let baud = c.baud.unwrap_or(115_200);
            const BAUDS: [u32; 11] =
                [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200, 230_400, 460_800, 921_600];
            if !BAUDS.contains(&baud) {
                p.add(key("baud"), format!("{baud} is not a serial speed; use e.g. 9600 or 115200"));
            }
            let poll_every = match &c.poll_every {
                Some(d) => duration(p, &key("poll_every"), d, false).unwrap_or(SignedDuration::from_secs(30)),
                None => SignedDuration::from_secs(30),
            };
            SmsProvider::Modem { device, baud, poll_every }
        }
    };
    (p.0.len() == before).then_some(SmsChannelConfig { provider, inbound_token })
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
        out.push(NotifyRule { channel: r.channel.clone(), after });
    }
    out
}

fn target(
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
            EscalationPolicy {
                id: r.id.clone(),
                name: r.name.clone(),
                tiers,
                repeat_every: repeat_every.filter(|d| d.is_positive()),
                loops: r.loops.min(10),
                at_once,
                wait_for_working_hours: r.wait_for_working_hours.clone(),
            },
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
    let book = (!policies.is_empty()).then(|| {
        Arc::new(EscalationBook {
            policies,
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

#[cfg(test)]
mod sms_channel_tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    const BASE: &str = r#"
[database]
url = "sqlite::memory:"

[[people]]
id = "admin"
name = "管理员"
roles = ["admin"]

[[api.tokens]]
person = "admin"
token = "test-admin-token-0001"
"#;

    fn problems(channel: &str) -> Vec<(String, String)> {
        let text = format!("{BASE}\n[paging]\n{channel}");
        let env = |k: &str| (k == "SMS_KEY").then(|| "from-env-secret".to_string());
        match Config::parse(Path::new("t.toml"), &text, &env) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.into_iter().map(|p| (p.key, p.reason)).collect(),
        }
    }

    fn sms(channel: &str) -> SmsChannelConfig {
        let text = format!("{BASE}\n[paging]\n{channel}");
        let env = |k: &str| (k == "SMS_KEY").then(|| "from-env-secret".to_string());
        let config = Config::parse(Path::new("t.toml"), &text, &env).unwrap_or_else(|e| panic!("{e}"));
        match &config.paging.channels[0].kind {
            PageChannelKind::Sms(s) => (**s).clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn templates_fill_and_cut() {
        let t = SmsTemplate::parse("【{sev}】{title} {X} {}").unwrap();
        let value = |f: PageField| if f == PageField::Sev { "一级" } else { "电子卷宗无法登录" };
        assert_eq!(t.render(value, 35), "【一级】电子卷宗无法登录 {X} {}");
        assert_eq!(t.render(value, 6), "【一级】电…");
        let e = SmsTemplate::parse("{ticket}{severity}").unwrap_err();
        assert!(e.contains("{severity}") && e.contains("{sev}"), "{e}");
    }

    #[test]
    fn each_kind_parses_with_secrets_kept_out_of_debug() {
        let aliyun = sms(r#"[[paging.channels]]
name = "a"
kind = "aliyun_sms"
access_key_id = "LTAI"
access_key_secret = { env = "SMS_KEY" }
sign_name = "某法院"
template_code = "SMS_1"
template_params = { ticket = "{ticket}" }
inbound_token = "0123456789abcdef"
"#);
        let SmsProvider::Aliyun { config, params, max_chars } = &aliyun.provider else { panic!() };
        assert_eq!(config.access_key_secret, "from-env-secret");
        assert_eq!((params.len(), *max_chars), (1, DEFAULT_PARAM_MAX_CHARS));
        let gateway = sms(r#"[[paging.channels]]
name = "g"
kind = "sms_gateway"
url = "http://10.0.0.5/send"
headers = { "X-Token" = { env = "SMS_KEY" } }
body = '{"to": "{to}", "text": "{text}"}'
"#);
        let debug = format!("{gateway:?}{aliyun:?}");
        assert!(!debug.contains("from-env-secret") && !debug.contains("0123456789abcdef"), "{debug}");
        let modem =
            sms("[[paging.channels]]\nname = \"m\"\nkind = \"gsm_modem\"\ndevice = \"/dev/ttyUSB2\"\n");
        assert!(matches!(modem.provider, SmsProvider::Modem { baud: 115_200, .. }));
    }

    #[test]
    fn problems_name_the_key() {
        let found = problems(
            r#"[[paging.channels]]
name = "t"
kind = "tencent_sms"
secret_id = "AKID"
sdk_app_id = "1400"
template_id = "1"
template_params = { a = "{ticket}" }
device = "/dev/ttyUSB0"
inbound_token = "short"
"#,
        );
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        for key in [
            "paging.channels[0].device",
            "paging.channels[0].secret_key",
            "paging.channels[0].sign_name",
            "paging.channels[0].template_params",
            "paging.channels[0].inbound_token",
        ] {
            assert!(keys.contains(&key), "{key} not in {found:?}");
        }
        let found = problems("[[paging.channels]]\nname = \"m\"\nkind = \"gsm_modem\"\nbaud = 7\n");
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["paging.channels[0].device", "paging.channels[0].baud"], "{found:?}");
    }
}
