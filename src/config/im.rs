//! `[wecom]`, `[dingtalk]`, `[feishu]` (the app each IM sends as, its callback settings, pacing)
//! and `[[robot_intake]]` (monitoring tools posting robot-shaped bodies to zhiban). Every base URL
//! is configuration: 政务微信 / 粤政易, 政务钉钉 / 专属钉钉 and private Feishu differ only there.

use serde::Deserialize;
use zhiban_integrations::chat::Provider;

use super::chat::ChatConfig;
use super::paging::{PageChannelKind, PagingConfig};
use super::{Problems, Secret, SecretSource};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWecom {
    api_base: Option<String>,
    corp_id: String,
    agent_id: i64,
    secret: SecretSource,
    /// 接收消息: Token and EncodingAESKey; without them the callback route is off.
    callback_token: Option<SecretSource>,
    callback_aes_key: Option<SecretSource>,
    max_per_second: Option<u32>,
    group_per_minute: Option<u32>,
    robot_per_minute: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDingtalk {
    api_base: Option<String>,
    oapi_base: Option<String>,
    app_key: String,
    /// Also the key robot callbacks are signed with.
    app_secret: SecretSource,
    robot_code: Option<String>,
    max_per_second: Option<u32>,
    group_per_minute: Option<u32>,
    robot_per_minute: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeishu {
    api_base: Option<String>,
    app_id: String,
    app_secret: SecretSource,
    /// 事件与回调: Verification Token (the callback route is off without it) and Encrypt Key.
    verification_token: Option<SecretSource>,
    encrypt_key: Option<SecretSource>,
    max_per_second: Option<u32>,
    group_per_minute: Option<u32>,
    robot_per_minute: Option<u32>,
}

/// The pacing keys every section has (written out in each: serde cannot combine `flatten` with
/// `deny_unknown_fields`).
struct RawPacing {
    max_per_second: Option<u32>,
    group_per_minute: Option<u32>,
    robot_per_minute: Option<u32>,
}

macro_rules! raw_pacing {
    ($raw:expr) => {
        RawPacing {
            max_per_second: $raw.max_per_second,
            group_per_minute: $raw.group_per_minute,
            robot_per_minute: $raw.robot_per_minute,
        }
    };
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRobotIntake {
    name: String,
    provider: String,
    /// The WeCom `key`, the DingTalk `access_token` or the Feishu hook token the tool posts with.
    key: SecretSource,
    /// DingTalk and Feishu 加签 secret: requests must then be signed.
    secret: Option<SecretSource>,
}

/// How fast an IM may be sent to: messages a second overall, a minute into one group chat, a
/// minute through one group robot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImPacing {
    pub max_per_second: u32,
    pub group_per_minute: u32,
    pub robot_per_minute: u32,
}

impl ImPacing {
    /// Defaults with headroom under each provider's published limits, and those limits.
    fn for_provider(provider: Provider) -> (ImPacing, ImPacing) {
        let p = |max_per_second, group_per_minute, robot_per_minute| ImPacing {
            max_per_second,
            group_per_minute,
            robot_per_minute,
        };
        match provider {
            // WeCom robots: 20 a minute; apps: about 30 a minute to one member or chat.
            Provider::Wecom => (p(20, 18, 18), p(50, 30, 20)),
            // DingTalk robots: 20 a minute (then 10 minutes of silence); the OpenAPI 20 QPS.
            Provider::Dingtalk => (p(15, 18, 18), p(20, 40, 20)),
            // Feishu: 50 QPS per app, 5 QPS per chat; custom bots 100 a minute.
            Provider::Feishu => (p(40, 180, 90), p(50, 300, 100)),
            Provider::Telegram => (p(25, 18, 18), p(30, 20, 20)),
        }
    }

    /// Robot pacing when the provider has no section.
    pub fn default_for(provider: Provider) -> ImPacing {
        Self::for_provider(provider).0
    }
}

#[derive(Debug, Clone)]
pub struct WecomConfig {
    pub api_base: String,
    pub corp_id: String,
    pub agent_id: i64,
    pub secret: Secret,
    /// `(Token, EncodingAESKey)` of the callback URL.
    pub callback: Option<(Secret, Secret)>,
    pub pacing: ImPacing,
}

#[derive(Debug, Clone)]
pub struct DingtalkConfig {
    pub api_base: String,
    pub oapi_base: String,
    pub app_key: String,
    pub app_secret: Secret,
    /// Empty: the app key.
    pub robot_code: String,
    pub pacing: ImPacing,
}

#[derive(Debug, Clone)]
pub struct FeishuConfig {
    pub api_base: String,
    pub app_id: String,
    pub app_secret: Secret,
    pub verification_token: Option<Secret>,
    pub encrypt_key: Option<Secret>,
    pub pacing: ImPacing,
}

/// A monitoring tool allowed to post robot-shaped bodies.
#[derive(Debug, Clone)]
pub struct RobotIntake {
    pub name: String,
    pub provider: Provider,
    pub key: Secret,
    pub secret: Option<Secret>,
}

/// WeCom, DingTalk and Feishu.
#[derive(Debug, Clone, Default)]
pub struct ImConfig {
    pub wecom: Option<WecomConfig>,
    pub dingtalk: Option<DingtalkConfig>,
    pub feishu: Option<FeishuConfig>,
    pub robot_intake: Vec<RobotIntake>,
}

impl ImConfig {
    /// Whether the provider's app is configured (its section is there).
    pub fn has_app(&self, provider: Provider) -> bool {
        match provider {
            Provider::Wecom => self.wecom.is_some(),
            Provider::Dingtalk => self.dingtalk.is_some(),
            Provider::Feishu => self.feishu.is_some(),
            Provider::Telegram => false,
        }
    }

    /// How fast the provider's robots may be posted to.
    pub fn robot_pacing(&self, provider: Provider) -> ImPacing {
        let configured = match provider {
            Provider::Wecom => self.wecom.as_ref().map(|c| c.pacing),
            Provider::Dingtalk => self.dingtalk.as_ref().map(|c| c.pacing),
            Provider::Feishu => self.feishu.as_ref().map(|c| c.pacing),
            Provider::Telegram => None,
        };
        configured.unwrap_or(ImPacing::default_for(provider))
    }
}

pub(super) struct RawIm<'a> {
    pub wecom: Option<&'a RawWecom>,
    pub dingtalk: Option<&'a RawDingtalk>,
    pub feishu: Option<&'a RawFeishu>,
    pub robot_intake: &'a [RawRobotIntake],
}

fn base_url(p: &mut Problems, key: &str, given: Option<&String>, default: &str) -> String {
    let url = given.map(|s| s.trim()).unwrap_or(default).trim_end_matches('/').to_string();
    let ok = reqwest::Url::parse(&url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.query().is_none());
    if !ok {
        p.add(key, format!("'{url}' is not an http(s) base URL (without a query)"));
    }
    url
}

fn secret(
    p: &mut Problems,
    key: &str,
    source: &SecretSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Secret> {
    source.resolve(env).map_err(|e| p.add(key, e)).ok()
}

fn pacing(p: &mut Problems, section: &str, raw: &RawPacing, provider: Provider) -> ImPacing {
    let (defaults, limits) = ImPacing::for_provider(provider);
    let mut one = |field: &str, value: Option<u32>, default: u32, limit: u32| {
        let v = value.unwrap_or(default);
        if v == 0 || v > limit {
            p.add(
                format!("{section}.{field}"),
                format!("must be between 1 and {limit} (the provider's limit)"),
            );
        }
        v.clamp(1, limit)
    };
    ImPacing {
        max_per_second: one(
            "max_per_second",
            raw.max_per_second,
            defaults.max_per_second,
            limits.max_per_second,
        ),
        group_per_minute: one(
            "group_per_minute",
            raw.group_per_minute,
            defaults.group_per_minute,
            limits.group_per_minute,
        ),
        robot_per_minute: one(
            "robot_per_minute",
            raw.robot_per_minute,
            defaults.robot_per_minute,
            limits.robot_per_minute,
        ),
    }
}

fn not_empty(p: &mut Problems, key: &str, value: &str) -> String {
    if value.trim().is_empty() {
        p.add(key, "must not be empty");
    }
    value.trim().to_string()
}

pub(super) fn build(raw: RawIm<'_>, env: &dyn Fn(&str) -> Option<String>, p: &mut Problems) -> ImConfig {
    use zhiban_integrations::{dingtalk, feishu, wecom};
    let wecom = raw.wecom.and_then(|w| {
        let api_base = base_url(p, "wecom.api_base", w.api_base.as_ref(), wecom::DEFAULT_API_BASE);
        let corp_id = not_empty(p, "wecom.corp_id", &w.corp_id);
        let secret = secret(p, "wecom.secret", &w.secret, env);
        let callback = match (&w.callback_token, &w.callback_aes_key) {
            (None, None) => None,
            (Some(t), Some(k)) => {
                let token = self::secret(p, "wecom.callback_token", t, env);
                let key = self::secret(p, "wecom.callback_aes_key", k, env);
                if let Some(k) = &key
                    && wecom::crypto::aes_key(k.expose()).is_err()
                {
                    p.add("wecom.callback_aes_key", "must be the 43-character EncodingAESKey");
                }
                token.zip(key)
            }
            _ => {
                p.add("wecom.callback_token", "set both callback_token and callback_aes_key, or neither");
                None
            }
        };
        let pacing = pacing(p, "wecom", &raw_pacing!(w), Provider::Wecom);
        Some(WecomConfig { api_base, corp_id, agent_id: w.agent_id, secret: secret?, callback, pacing })
    });
    let dingtalk = raw.dingtalk.and_then(|d| {
        let api_base = base_url(p, "dingtalk.api_base", d.api_base.as_ref(), dingtalk::DEFAULT_API_BASE);
        let oapi_base = base_url(p, "dingtalk.oapi_base", d.oapi_base.as_ref(), dingtalk::DEFAULT_OAPI_BASE);
        let app_key = not_empty(p, "dingtalk.app_key", &d.app_key);
        let app_secret = secret(p, "dingtalk.app_secret", &d.app_secret, env);
        let pacing = pacing(p, "dingtalk", &raw_pacing!(d), Provider::Dingtalk);
        Some(DingtalkConfig {
            api_base,
            oapi_base,
            app_key,
            app_secret: app_secret?,
            robot_code: d.robot_code.as_deref().unwrap_or_default().trim().to_string(),
            pacing,
        })
    });
    let feishu = raw.feishu.and_then(|f| {
        let api_base = base_url(p, "feishu.api_base", f.api_base.as_ref(), feishu::DEFAULT_API_BASE);
        let app_id = not_empty(p, "feishu.app_id", &f.app_id);
        let app_secret = secret(p, "feishu.app_secret", &f.app_secret, env);
        let verification_token =
            f.verification_token.as_ref().and_then(|s| secret(p, "feishu.verification_token", s, env));
        let encrypt_key = f.encrypt_key.as_ref().and_then(|s| secret(p, "feishu.encrypt_key", s, env));
        if encrypt_key.is_some() && verification_token.is_none() {
            p.add(
                "feishu.verification_token",
                "the callback needs the Verification Token with the Encrypt Key",
            );
        }
        let pacing = pacing(p, "feishu", &raw_pacing!(f), Provider::Feishu);
        Some(FeishuConfig {
            api_base,
            app_id,
            app_secret: app_secret?,
            verification_token,
            encrypt_key,
            pacing,
        })
    });
    let mut robot_intake: Vec<RobotIntake> = Vec::new();
    for (i, r) in raw.robot_intake.iter().enumerate() {
        let key = |field: &str| format!("robot_intake[{i}].{field}");
        let provider = match Provider::parse(r.provider.trim()) {
            Some(p @ (Provider::Wecom | Provider::Dingtalk | Provider::Feishu)) => p,
            _ => {
                p.add(
                    key("provider"),
                    format!("'{}' has no robots; use wecom, dingtalk or feishu", r.provider),
                );
                continue;
            }
        };
        if !super::catalogue::valid_id(&r.name) {
            p.add(key("name"), "use letters, digits, '-' and '_'");
        }
        let Some(k) = secret(p, &key("key"), &r.key, env) else { continue };
        let v = k.expose();
        if v.len() < 16 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
            p.add(key("key"), "must be at least 16 of A-Z a-z 0-9 - _ . (it stands in a URL)");
        }
        if robot_intake.iter().any(|o| o.key == k) {
            p.add(key("key"), "the same key as another robot_intake; give each tool its own");
        }
        let secret = r.secret.as_ref().and_then(|s| secret(p, &key("secret"), s, env));
        if provider == Provider::Wecom && secret.is_some() {
            p.add(key("secret"), "WeCom robots do not sign requests; the key is the credential");
        }
        robot_intake.push(RobotIntake { name: r.name.clone(), provider, key: k, secret });
    }
    ImConfig { wecom, dingtalk, feishu, robot_intake }
}

/// A chat channel or paging channel of an IM needs that IM's section (a group robot does not).
pub(super) fn check_needs(im: &ImConfig, chat: &ChatConfig, paging: &PagingConfig, p: &mut Problems) {
    for (i, c) in chat.channels.iter().enumerate() {
        let provider = c.provider;
        if provider != Provider::Telegram && c.robot.is_none() && !im.has_app(provider) {
            p.add(
                format!("chat.channels[{i}].chat"),
                format!(
                    "sending as the app needs a [{0}] section (or use robot = \"<webhook URL>\")",
                    provider.as_str()
                ),
            );
        }
    }
    for (i, c) in paging.channels.iter().enumerate() {
        if let PageChannelKind::Im(provider) = c.kind
            && !im.has_app(provider)
        {
            p.add(
                format!("paging.channels[{i}].kind"),
                format!("a {0} channel needs a [{0}] section", provider.as_str()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{Config, ConfigError};
    use super::*;

    const PEOPLE: &str = "[[people]]\nid = \"admin\"\nname = \"管理员\"\nroles = [\"admin\"]\n";

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("test.toml"), &format!("{PEOPLE}\n{text}"), &|_| None)
    }

    fn keys(text: &str) -> Vec<String> {
        parse(text).unwrap_err().problems.into_iter().map(|p| format!("{}: {}", p.key, p.reason)).collect()
    }

    #[test]
    fn sections_with_private_deployment_urls() {
        let c = parse(
            r#"
[wecom]
api_base = "https://zwwx.example.gov.cn/"
corp_id = "wwcorp"
agent_id = 1000002
secret = "app-secret"
callback_token = "token"
callback_aes_key = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
robot_per_minute = 10

[dingtalk]
api_base = "https://api.zwding.example.gov.cn"
oapi_base = "https://oapi.zwding.example.gov.cn"
app_key = "dingkey"
app_secret = "ding-secret"

[[chat.channels]]
name = "ops"
provider = "feishu"
robot = "https://open.feishu.cn/open-apis/bot/v2/hook/abc"
secret = "sign-secret"

[[paging.channels]]
name = "wx"
kind = "wecom"

[[robot_intake]]
name = "zabbix"
provider = "dingtalk"
key = "zabbix-dingtalk-token-01"
secret = "SECsecret"
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let wecom = c.im.wecom.as_ref().unwrap();
        assert_eq!(wecom.api_base, "https://zwwx.example.gov.cn");
        assert_eq!(wecom.pacing.robot_per_minute, 10);
        assert!(wecom.callback.is_some());
        assert_eq!(c.im.dingtalk.as_ref().unwrap().oapi_base, "https://oapi.zwding.example.gov.cn");
        // A robot channel needs no [feishu] section; its pacing is the default.
        assert_eq!(c.chat.channels[0].chat.0, "robot:ops");
        assert_eq!(c.im.robot_pacing(Provider::Feishu), ImPacing::default_for(Provider::Feishu));
        assert_eq!(c.im.robot_intake[0].provider, Provider::Dingtalk);
    }

    #[test]
    fn problems_name_the_key() {
        let problems = keys(
            r#"
[wecom]
api_base = "ftp://x"
corp_id = ""
agent_id = 1
secret = "s"
callback_token = "t"
robot_per_minute = 25

[[chat.channels]]
name = "g"
provider = "dingtalk"
chat = "cid123"

[[chat.channels]]
name = "r"
provider = "wecom"
chat = "party:1"
robot = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"

[[paging.channels]]
name = "fs"
kind = "feishu"

[[robot_intake]]
name = "w"
provider = "wecom"
key = "short"
secret = "s"

[[robot_intake]]
name = "t"
provider = "telegram"
key = "0123456789abcdef"
"#,
        );
        for expected in [
            "wecom.api_base: ",
            "wecom.corp_id: must not be empty",
            "wecom.callback_token: set both",
            "wecom.robot_per_minute: must be between 1 and 20",
            "chat.channels[0].chat: sending as the app needs a [dingtalk] section",
            "chat.channels[1].chat: give either chat",
            "paging.channels[0].kind: a feishu channel needs a [feishu] section",
            "robot_intake[0].key: must be at least 16",
            "robot_intake[0].secret: WeCom robots do not sign",
            "robot_intake[1].provider: 'telegram' has no robots",
        ] {
            assert!(problems.iter().any(|p| p.starts_with(expected)), "{expected} in {problems:#?}");
        }
    }
}
