//! The message catalogue: every text people read, per language, from `config/messages/*.toml`
//! (embedded in the binary). Event texts are minijinja templates, checked when the catalogue loads.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior, context};
use serde::Deserialize;

use crate::config::Language;
use crate::domain::{EventKind, Incident, Severity, Status};

const ZH_CN: &str = include_str!("../../config/messages/zh-CN.toml");
const EN: &str = include_str!("../../config/messages/en.toml");

#[derive(Debug, Deserialize)]
struct Catalogue {
    severity: BTreeMap<String, String>,
    status: BTreeMap<String, String>,
    actor: BTreeMap<String, String>,
    events: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    dashboard: BTreeMap<String, String>,
    format: BTreeMap<String, String>,
    pages: BTreeMap<String, String>,
    link: BTreeMap<String, String>,
    handover: BTreeMap<String, String>,
    /// Absent as a whole, it fails loading with the first missing key of [`SMS_KEYS`].
    #[serde(default)]
    sms: BTreeMap<String, String>,
    /// Absent as a whole, it fails loading with the first missing key of [`CHAT_KEYS`].
    #[serde(default)]
    chat: BTreeMap<String, String>,
    /// Absent as a whole, it fails loading with the first missing key of [`EMAIL_KEYS`].
    #[serde(default)]
    email: BTreeMap<String, String>,
    /// Absent as a whole, it fails loading with the first missing key of [`DRILL_KEYS`].
    #[serde(default)]
    drill: BTreeMap<String, String>,
    /// Absent as a whole, it fails loading with the first missing key of [`EMERGENCY_KEYS`].
    #[serde(default)]
    emergency: BTreeMap<String, String>,
}

/// The templates of `[emergency]`: emergency plans' offers, checklists and process record lines.
pub const EMERGENCY_KEYS: &[&str] = &[
    "group_name",
    "offer",
    "button_activate",
    "activated_record",
    "checklist",
    "step_record",
    "ended_record",
    "follow_up_none",
    "follow_up_problem",
    "follow_up_change",
    "activated",
    "step_done",
    "failed",
];

/// The templates of `[drill]`: announcements, the drill record and the answers to 演练 commands.
pub const DRILL_KEYS: &[&str] = &[
    "announce",
    "reason",
    "paused_reason",
    "stopped_reason",
    "objective_acknowledge",
    "objective_on_site",
    "objective_restore",
    "step_acknowledged",
    "step_on_site",
    "step_restored",
    "status_announced",
    "status_running",
    "status_paused",
    "status_stopped",
    "status_finished",
    "report_md",
    "report_html",
    "started",
    "paused",
    "resumed",
    "stopped",
    "evaluated",
    "status",
    "none",
    "failed",
];

/// The templates of `[email]`: mails to reporters and pages by mail, each compiled as
/// `email.<key>`. The variables each uses are listed beside it in the catalogue.
pub const EMAIL_KEYS: &[&str] =
    &["ack_subject", "ack_text", "joined_text", "update_subject", "update_text", "page_html", "footer"];

/// The templates of `[chat]`: the bot's answers, cards and buttons in IM chats, each compiled as
/// `chat.<key>`. The variables each uses are listed beside it in the catalogue.
pub const CHAT_KEYS: &[&str] = &[
    "received",
    "joined",
    "reopened",
    "ask_system",
    "ask_unit",
    "ask_phone",
    "bad_phone",
    "button_skip",
    "button_cancel",
    "guided_cancelled",
    "guided_expired",
    "unbound_report_refused",
    "unbound_refused",
    "no_permission",
    "bound",
    "bad_code",
    "bind_hint",
    "unknown_ticket",
    "unavailable",
    "acknowledged",
    "arrived",
    "updated",
    "resolved",
    "closed",
    "severity_set",
    "escalated",
    "declined",
    "already_acknowledged_by_you",
    "already_acknowledged_by",
    "already_acknowledged",
    "already_on_site",
    "same_assignee",
    "no_higher_tier",
    "not_allowed",
    "failed",
    "ambiguous_name",
    "unknown_name",
    "action_acknowledge",
    "action_arrive",
    "action_reassign",
    "action_comment",
    "action_resolve",
    "action_close",
    "action_set_severity",
    "action_escalate",
    "action_decline",
    "action_report",
    "action_handover",
    "action_drill",
    "action_emergency",
    "action_read",
    "action_swap",
    "swap_done",
    "swap_bad",
    "swap_no_shift",
    "swap_ambiguous",
    "reason_decline",
    "reason_reassign",
    "oncall",
    "status_all",
    "handover_done",
    "not_available",
    "card",
    "thread",
    "page_done",
    "button_ack",
    "button_arrive",
    "button_reassign",
    "attachment_saved",
    "attachment_too_big",
];

/// The templates of `[sms]`, the answers to an SMS reply, each compiled as `sms.<key>`.
/// Variables, where they apply: `ticket`, `code`, `title`, `name`, `id`, `status`, `action`,
/// `usage`, `error`.
pub const SMS_KEYS: &[&str] = &[
    "unknown_sender",
    "no_permission",
    "finished",
    "unknown_ticket",
    "not_found",
    "unavailable",
    "ambiguous_name",
    "unknown_name",
    "acknowledged",
    "arrived",
    "reassigned",
    "declined",
    "already_acknowledged_by_you",
    "already_acknowledged_by",
    "already_acknowledged",
    "already_on_site",
    "same_assignee",
    "no_higher_tier",
    "not_allowed",
    "failed",
    "action_acknowledge",
    "action_arrive",
    "action_reassign",
    "reason_decline",
    "reason_reassign",
];

/// The catalogue sections that answer people who act from a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Sms,
    Chat,
    Email,
    Drill,
    Emergency,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Sms => "sms",
            Section::Chat => "chat",
            Section::Email => "email",
            Section::Drill => "drill",
            Section::Emergency => "emergency",
        }
    }
}

/// A 交接班 notice.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HandoverView {
    pub schedule: String,
    pub at: jiff::Timestamp,
    pub outgoing: Vec<String>,
    pub incoming: Vec<String>,
    pub incidents: Vec<HandoverItem>,
    /// Open incidents left out of the list.
    pub more: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HandoverItem {
    pub ticket: String,
    pub sev: String,
    pub title: String,
    pub status: String,
    pub assignee: Option<String>,
}

/// What a page says: the incident as the paged person needs it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PageView<'a> {
    pub drill: bool,
    pub sev: &'a str,
    pub ticket: String,
    pub title: &'a str,
    pub system: Option<&'a str>,
    pub unit: Option<&'a str>,
    /// 1-based escalation tier, when the page is one.
    pub tier: Option<u32>,
    pub link: Option<String>,
    /// The SMS reply codes line.
    pub reply: String,
    /// This incident leads an alert storm of this many incidents.
    pub storm: Option<u32>,
    /// What a reminder to the assignee is about (进展提醒, 修复时限预警), when the page is one.
    pub reminder: Option<String>,
    pub url: String,
}

/// The texts of one language, with its templates compiled.
pub struct Messages {
    catalogue: Catalogue,
    env: Environment<'static>,
}

#[derive(Debug, thiserror::Error)]
pub enum MessagesError {
    #[error("message catalogue {0}: {1}")]
    Parse(&'static str, String),
    #[error("message catalogue {0}: missing {1}")]
    Missing(&'static str, String),
    #[error("message catalogue {0}: template {1}: {2}")]
    Template(&'static str, String, String),
}

impl Messages {
    /// The catalogue of `language`; instants are shown in `timezone`.
    pub fn load(language: Language, timezone: jiff::tz::TimeZone) -> Result<Messages, MessagesError> {
        let (name, text) = match language {
            Language::ZhCn => ("zh-CN", ZH_CN),
            Language::En => ("en", EN),
        };
        Messages::from_text(name, text, timezone)
    }

    fn from_text(
        name: &'static str,
        text: &str,
        timezone: jiff::tz::TimeZone,
    ) -> Result<Messages, MessagesError> {
        let catalogue: Catalogue =
            toml::from_str(text).map_err(|e| MessagesError::Parse(name, e.to_string()))?;
        for s in Severity::ALL {
            if !catalogue.severity.contains_key(&s.level().to_string()) {
                return Err(MessagesError::Missing(name, format!("severity.{}", s.level())));
            }
        }
        for s in Status::ALL {
            if !catalogue.status.contains_key(s.as_str()) {
                return Err(MessagesError::Missing(name, format!("status.{s}")));
            }
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        let pattern = catalogue.format.get("datetime").cloned().unwrap_or_else(|| "%Y-%m-%d %H:%M".into());
        // `{{ instant|local }}`: an RFC 3339 instant shown in the deployment's time zone.
        env.add_filter("local", move |value: String| -> String {
            match value.parse::<jiff::Timestamp>() {
                Ok(t) => t.to_zoned_datetime(timezone.clone()).strftime(&pattern).to_string(),
                Err(_) => value,
            }
        });
        // `{{ text|html }}`: text fit for HTML mail (minijinja's `escape` also escapes `/`, which
        // makes links unreadable in a mail's source).
        env.add_filter("html", |value: String| -> String {
            let mut out = String::with_capacity(value.len());
            for c in value.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#39;"),
                    c => out.push(c),
                }
            }
            out
        });
        env.set_fuel(Some(50_000));
        for event in EventKind::NAMES {
            let source = catalogue
                .events
                .get(event)
                .ok_or_else(|| MessagesError::Missing(name, format!("events.{event}")))?
                .clone();
            env.add_template_owned(event.to_string(), source)
                .map_err(|e| MessagesError::Template(name, format!("events.{event}"), e.to_string()))?;
        }
        for (section, texts) in [("pages", &catalogue.pages), ("handover", &catalogue.handover)] {
            for key in ["text", "subject"] {
                let source = texts
                    .get(key)
                    .ok_or_else(|| MessagesError::Missing(name, format!("{section}.{key}")))?
                    .clone();
                env.add_template_owned(format!("{section}.{key}"), source)
                    .map_err(|e| MessagesError::Template(name, format!("{section}.{key}"), e.to_string()))?;
            }
        }
        for (section, keys, texts) in [
            ("sms", SMS_KEYS, &catalogue.sms),
            ("chat", CHAT_KEYS, &catalogue.chat),
            ("email", EMAIL_KEYS, &catalogue.email),
            ("drill", DRILL_KEYS, &catalogue.drill),
            ("emergency", EMERGENCY_KEYS, &catalogue.emergency),
        ] {
            for key in keys {
                let source = texts
                    .get(*key)
                    .ok_or_else(|| MessagesError::Missing(name, format!("{section}.{key}")))?
                    .clone();
                env.add_template_owned(format!("{section}.{key}"), source)
                    .map_err(|e| MessagesError::Template(name, format!("{section}.{key}"), e.to_string()))?;
            }
        }
        Ok(Messages { catalogue, env })
    }

    pub fn severity(&self, s: Severity) -> &str {
        &self.catalogue.severity[&s.level().to_string()]
    }

    pub fn status(&self, s: Status) -> &str {
        &self.catalogue.status[s.as_str()]
    }

    pub fn system_actor(&self) -> &str {
        self.catalogue.actor.get("system").map(String::as_str).unwrap_or("zhiban")
    }

    /// The dashboard's texts, for its templates.
    pub fn dashboard(&self) -> &BTreeMap<String, String> {
        &self.catalogue.dashboard
    }

    /// A text of the action-link page.
    pub fn link<'a>(&'a self, key: &'a str) -> &'a str {
        self.catalogue.link.get(key).map(String::as_str).unwrap_or(key)
    }

    /// A label of the `[pages]` section (`reminder_<about>`).
    pub fn page_label<'a>(&'a self, key: &'a str) -> &'a str {
        self.catalogue.pages.get(&format!("reminder_{key}")).map(String::as_str).unwrap_or(key)
    }

    /// The subject and text of a page.
    pub fn page_text(&self, view: &PageView<'_>) -> (String, String) {
        let fallback = || format!("{} {} {}", view.sev, view.ticket, view.title);
        (self.render("pages.subject", view, fallback), self.render("pages.text", view, fallback))
    }

    /// The subject and text of a 交接班 notice.
    pub fn handover_text(&self, view: &HandoverView) -> (String, String) {
        let fallback =
            || format!("{} {} -> {}", view.schedule, view.outgoing.join(","), view.incoming.join(","));
        (self.render("handover.subject", view, fallback), self.render("handover.text", view, fallback))
    }

    fn render<T: serde::Serialize>(&self, template: &str, view: &T, fallback: impl Fn() -> String) -> String {
        self.env
            .get_template(template)
            .and_then(|t| {
                // `at|local` takes RFC 3339 text; instants serialize that way.
                t.render(minijinja::value::Serde(view))
            })
            .unwrap_or_else(|_| fallback())
    }

    /// The `[sms]` text `key` (one of [`SMS_KEYS`]) rendered with `ctx`, e.g.
    /// `m.sms("arrived", context! { ticket => "20261124-007" })`.
    pub fn sms(&self, key: &str, ctx: minijinja::Value) -> String {
        self.text(Section::Sms, key, ctx)
    }

    /// The `[chat]` text `key` (one of [`CHAT_KEYS`]) rendered with `ctx`.
    pub fn chat(&self, key: &str, ctx: minijinja::Value) -> String {
        self.text(Section::Chat, key, ctx)
    }

    /// The `[email]` text `key` (one of [`EMAIL_KEYS`]) rendered with `ctx`.
    pub fn email(&self, key: &str, ctx: minijinja::Value) -> String {
        self.text(Section::Email, key, ctx)
    }

    /// The `[drill]` text `key` (one of [`DRILL_KEYS`]) rendered with `ctx`.
    pub fn drill(&self, key: &str, ctx: minijinja::Value) -> String {
        self.text(Section::Drill, key, ctx)
    }

    /// The `[emergency]` text `key` (one of [`EMERGENCY_KEYS`]) rendered with `ctx`.
    pub fn emergency(&self, key: &str, ctx: minijinja::Value) -> String {
        self.text(Section::Emergency, key, ctx)
    }

    /// A text of the answers to people (`[sms]` or `[chat]`), rendered with `ctx`.
    pub fn text(&self, section: Section, key: &str, ctx: minijinja::Value) -> String {
        let name = format!("{}.{key}", section.as_str());
        match self.env.get_template(&name).and_then(|t| t.render(ctx)) {
            Ok(text) => text,
            // Compiled at load; only an unknown key or running out of fuel gets here.
            Err(e) => format!("{name}: {e}"),
        }
    }

    pub fn error<'a>(&'a self, key: &'a str) -> &'a str {
        self.catalogue.errors.get(key).map(String::as_str).unwrap_or(key)
    }

    /// The text announcing `event` on `incident`.
    /// `system_name` is the catalogue name of the incident's system (its id is shown otherwise).
    pub fn event_text(
        &self,
        incident: &Incident,
        system_name: Option<&str>,
        url: &str,
        event: &EventKind,
        actor: &str,
        people: &[String],
    ) -> String {
        let from_sev = match event {
            EventKind::SeverityChanged { from, .. } => self.severity(*from).to_string(),
            _ => String::new(),
        };
        let ctx = context! {
            incident => context! {
                ticket => incident.ticket.to_string(),
                title => &incident.title,
                severity => incident.severity.level(),
                status => incident.status.as_str(),
                system => system_name.or(incident.system.as_deref()),
                unit => &incident.unit,
                assignee => incident.assignee.as_ref().map(|p| p.0.clone()),
                occurrences => incident.occurrences,
                url => url,
            },
            event => minijinja::Value::from(minijinja::value::Serde(event)),
            actor => actor,
            people => people.to_vec(),
            sev => self.severity(incident.severity),
            from_sev => from_sev,
            st => self.status(incident.status),
        };
        match self.env.get_template(event.name()).and_then(|t| t.render(ctx)) {
            Ok(text) => text,
            // The templates were compiled at load; a render failure (fuel) must still say something.
            Err(e) => format!("{} {} ({}: {e})", incident.ticket, incident.title, event.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DedupKey, IncidentId, LifecyclePolicy, NewIncident};

    fn incident() -> Incident {
        Incident::open(
            IncidentId(1),
            "20261124-007".parse().unwrap(),
            NewIncident {
                title: "电子卷宗应用系统无法上传".into(),
                description: String::new(),
                severity: Severity::One,
                system: Some("dzjz".into()),
                unit: None,
                source: "generic".into(),
                dedup_key: DedupKey::new("generic", "x"),
                labels: Default::default(),
                link: None,
                sla_policy: None,
                reasons: vec![],
                escalation_policy: None,
                hold: None,
            },
            "2026-11-24T01:00:00Z".parse().unwrap(),
            &LifecyclePolicy::default(),
        )
        .0
    }

    #[test]
    fn both_catalogues_load_and_cover_every_event() {
        for lang in [Language::ZhCn, Language::En] {
            let m = Messages::load(lang, jiff::tz::TimeZone::UTC).unwrap();
            for name in EventKind::NAMES {
                assert!(m.env.get_template(name).is_ok(), "{name}");
            }
        }
    }

    #[test]
    fn both_catalogues_render_every_sms_text() {
        let known = ["ticket", "code", "title", "name", "id", "status", "action", "usage", "error"];
        for lang in [Language::ZhCn, Language::En] {
            let m = Messages::load(lang, jiff::tz::TimeZone::UTC).unwrap();
            for key in SMS_KEYS {
                let template = m.env.get_template(&format!("sms.{key}")).unwrap();
                let unknown: Vec<String> = template
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !known.contains(&v.as_str()))
                    .collect();
                assert!(unknown.is_empty(), "{lang:?} sms.{key} uses {unknown:?}");
                let ctx = context! {
                    ticket => "20261124-007", code => "007", title => "无法登录", name => "王强",
                    id => "wangqiang", status => m.status(Status::Closed), action => "x", usage => "u",
                    error => "e",
                };
                let text = template.render(ctx).unwrap();
                assert!(!text.trim().is_empty(), "{lang:?} sms.{key}");
                assert!(!m.sms(key, context! { ticket => "20261124-007" }).is_empty());
            }
        }
        let m = Messages::load(Language::ZhCn, jiff::tz::TimeZone::UTC).unwrap();
        assert_eq!(
            m.sms("already_acknowledged_by_you", context! { ticket => "20261124-007" }),
            "您已确认工单 20261124-007，无需重复确认。"
        );
    }

    #[test]
    fn a_missing_sms_text_fails_loading() {
        let text = ZH_CN.replace("\narrived = ", "\n# arrived = ");
        assert_ne!(text, ZH_CN);
        let err = Messages::from_text("zh-CN", &text, jiff::tz::TimeZone::UTC).err().unwrap();
        assert!(matches!(&err, MessagesError::Missing("zh-CN", key) if key == "sms.arrived"), "{err}");
    }

    #[test]
    fn renders_chinese_texts() {
        let m = Messages::load(Language::ZhCn, jiff::tz::TimeZone::UTC).unwrap();
        let i = incident();
        let text = m.event_text(
            &i,
            Some("电子卷宗应用系统"),
            "http://zb/incidents/20261124-007",
            &EventKind::Opened { severity: Severity::One, title: i.title.clone(), reasons: vec![] },
            "监控",
            &[],
        );
        assert_eq!(
            text,
            "【一级故障】20261124-007 电子卷宗应用系统无法上传（电子卷宗应用系统）。详情：http://zb/incidents/20261124-007"
        );
        let text = m.event_text(
            &i,
            None,
            "",
            &EventKind::Resolved { note: None, by_source: true },
            "alertmanager",
            &[],
        );
        assert!(text.contains("监控告警已消除"), "{text}");
        let text = m.event_text(
            &i,
            None,
            "",
            &EventKind::SeverityChanged {
                from: Severity::Three,
                to: Severity::One,
                reason: "全院无法使用".into(),
            },
            "张伟",
            &[],
        );
        assert!(text.contains("由三级调整为一级"), "{text}");
    }
}
