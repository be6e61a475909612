//! SMS paging channels (`kind = "sms_gateway" | "aliyun_sms" | "tencent_sms" | "gsm_modem"`):
//! their settings, secrets and template parameters, validated from a `[[paging.channels]]` entry.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use serde::Deserialize;
use zhiban_integrations::sms::{aliyun, http_gateway, tencent};

use super::super::Problems;
use super::super::secret::{Secret, SecretSource};
use super::{RawChannel, duration};

/// Aliyun names its template variables (a table), Tencent numbers them (a list).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum RawTemplateParams {
    Named(BTreeMap<String, String>),
    Ordered(Vec<String>),
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

/// Validates an SMS channel; every problem is reported under `paging.channels[i].<key>`.
pub(super) fn sms_channel(
    p: &mut Problems,
    key: &dyn Fn(&str) -> String,
    c: &RawChannel,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<SmsChannelConfig> {
    use super::RawChannelKind::*;
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
    // Both clouds take a private deployment's endpoint and a region the same way.
    let locate = |p: &mut Problems, endpoint: &mut String, region: &mut String| {
        if let Some(e) = &c.endpoint {
            http_url(p, "endpoint", e);
            *endpoint = e.clone();
        }
        if let Some(r) = &c.region {
            *region = r.clone();
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
            locate(p, &mut config.endpoint, &mut config.region);
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
            locate(p, &mut config.endpoint, &mut config.region);
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

#[cfg(test)]
mod tests {
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
            super::super::PageChannelKind::Sms(s) => (**s).clone(),
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
