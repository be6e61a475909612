//! The operator's configuration: one TOML file, documented key by key in
//! `config/zhiban.example.toml`. Loading parses, resolves secrets and validates everything, and
//! reports every problem it finds with the file, the key and the reason.

pub mod catalogue;
pub mod chat;
pub mod drill;
pub mod email;
pub mod emergency;
pub mod im;
pub mod paging;
pub mod schedule;
pub mod secret;
pub mod sla;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use serde::Deserialize;

pub use catalogue::{Catalogue, Permission, Person, Role};
pub use secret::{Secret, SecretSource};

use std::sync::Arc;

use crate::domain::calendar::HolidayTable;
use crate::domain::classify::{Classifier, RuleSet};
use crate::domain::{EventKind, LifecyclePolicy, RetryPolicy, Severity};
pub use paging::{PageChannelConfig, PageChannelKind, PagingConfig, StormRule};
use zhiban_integrations::SourceKind;

/// One thing wrong with a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    /// Dotted path of the key, e.g. `sources.alertmanager.token` or `people[3].phone`.
    pub key: String,
    pub reason: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file.display(), self.key, self.reason)
    }
}

/// Every problem of one file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(f, "the configuration has {n} problem{}:", if n == 1 { "" } else { "s" })?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// Collects problems while validating; knows nothing of files until the end.
#[derive(Debug, Default)]
pub struct Problems(Vec<(String, String)>);

impl Problems {
    pub fn add(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.0.push((key.into(), reason.into()));
    }

    /// The problems as `key: reason` lines (for a plan sent through the API).
    pub fn lines(self) -> Vec<String> {
        self.0.into_iter().map(|(key, reason)| format!("{key}: {reason}")).collect()
    }

    fn into_error(self, file: &Path) -> Option<ConfigError> {
        if self.0.is_empty() {
            return None;
        }
        let problems = self
            .0
            .into_iter()
            .map(|(key, reason)| ConfigProblem { file: file.to_path_buf(), key, reason })
            .collect();
        Some(ConfigError { problems })
    }
}

// ---------------------------------------------------------------------------------------------
// The file, as written.

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    incidents: RawIncidents,
    #[serde(default)]
    outbox: RawOutbox,
    #[serde(default)]
    intake: RawIntake,
    #[serde(default)]
    api: RawApi,
    #[serde(default)]
    sources: BTreeMap<String, RawSource>,
    #[serde(default)]
    notify: RawNotify,
    #[serde(default)]
    holidays: RawHolidays,
    #[serde(default)]
    classify: RawClassify,
    #[serde(default)]
    calendars: BTreeMap<String, crate::domain::calendar::CalendarSpec>,
    #[serde(default)]
    sla: sla::RawSla,
    #[serde(default)]
    schedules: Vec<schedule::RawSchedule>,
    #[serde(default)]
    paging: paging::RawPaging,
    #[serde(default)]
    chat: chat::RawChat,
    telegram: Option<chat::RawTelegram>,
    wecom: Option<im::RawWecom>,
    dingtalk: Option<im::RawDingtalk>,
    feishu: Option<im::RawFeishu>,
    #[serde(default)]
    robot_intake: Vec<im::RawRobotIntake>,
    email: Option<email::RawEmail>,
    #[serde(default)]
    drills: Vec<drill::RawDrill>,
    #[serde(default)]
    emergency_plans: Vec<emergency::RawPlan>,
    // The catalogue's tables, listed here rather than flattened: serde cannot combine `flatten`
    // with `deny_unknown_fields`, and a misspelt top-level key must not pass silently.
    #[serde(default)]
    units: Vec<catalogue::Unit>,
    #[serde(default)]
    systems: Vec<catalogue::System>,
    #[serde(default)]
    people: Vec<catalogue::Person>,
    #[serde(default)]
    teams: Vec<catalogue::Team>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default = "default_listen")]
    listen: String,
    public_url: Option<String>,
    #[serde(default = "default_body_limit")]
    body_limit_bytes: usize,
    #[serde(default = "default_language")]
    language: String,
    #[serde(default = "default_timezone")]
    timezone: String,
    #[serde(default = "default_shutdown_grace")]
    shutdown_grace_seconds: u64,
    /// A bearer token for Prometheus to scrape `/metrics` with (any person's API token works too).
    metrics_token: Option<SecretSource>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: default_listen(),
            public_url: None,
            body_limit_bytes: default_body_limit(),
            language: default_language(),
            timezone: default_timezone(),
            shutdown_grace_seconds: default_shutdown_grace(),
            metrics_token: None,
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_body_limit() -> usize {
    1024 * 1024
}
fn default_language() -> String {
    "zh-CN".into()
}
fn default_timezone() -> String {
    "Asia/Shanghai".into()
}
fn default_shutdown_grace() -> u64 {
    20
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    #[serde(default = "default_database_url")]
    url: String,
}

impl Default for RawDatabase {
    fn default() -> Self {
        RawDatabase { url: default_database_url() }
    }
}

fn default_database_url() -> String {
    "sqlite://data/zhiban.db".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(Default)]
struct RawIncidents {
    /// The level when nothing else decides; overrides the rule set's `default_level`.
    default_severity: Option<Severity>,
    /// "15m", "1h 30m", "0" (off). Absent: off.
    ack_reminder_after: Option<String>,
    /// "72h", "0" (off). Absent: off.
    auto_close_after: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbox {
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_initial_backoff")]
    initial_backoff_seconds: u64,
    #[serde(default = "default_max_backoff")]
    max_backoff_seconds: u64,
    #[serde(default = "default_lease")]
    lease_seconds: u64,
    #[serde(default = "default_send_timeout")]
    send_timeout_seconds: u64,
}

impl Default for RawOutbox {
    fn default() -> Self {
        RawOutbox {
            max_attempts: default_max_attempts(),
            initial_backoff_seconds: default_initial_backoff(),
            max_backoff_seconds: default_max_backoff(),
            lease_seconds: default_lease(),
            send_timeout_seconds: default_send_timeout(),
        }
    }
}

fn default_max_attempts() -> u32 {
    10
}
fn default_initial_backoff() -> u64 {
    5
}
fn default_max_backoff() -> u64 {
    900
}
fn default_lease() -> u64 {
    60
}
fn default_send_timeout() -> u64 {
    15
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntake {
    #[serde(default = "default_batch")]
    max_batch: usize,
    #[serde(default = "default_max_alerts")]
    max_alerts_per_request: usize,
}

impl Default for RawIntake {
    fn default() -> Self {
        RawIntake { max_batch: default_batch(), max_alerts_per_request: default_max_alerts() }
    }
}

fn default_batch() -> usize {
    512
}
fn default_max_alerts() -> usize {
    1000
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    #[serde(default)]
    tokens: Vec<RawApiToken>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApiToken {
    person: String,
    token: SecretSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawAuthKind {
    Bearer,
    Hmac,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(default = "yes")]
    enabled: bool,
    auth: RawAuthKind,
    token: Option<SecretSource>,
    secret: Option<SecretSource>,
    #[serde(default = "default_signature_header")]
    signature_header: String,
    #[serde(default)]
    severity_map: BTreeMap<String, Severity>,
    default_severity: Option<Severity>,
}

fn yes() -> bool {
    true
}
fn default_signature_header() -> String {
    "X-Zhiban-Signature".into()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClassify {
    /// A rules file (relative to the configuration file's folder); absent: the built-in rule set
    /// (config/rules/default.toml).
    rules: Option<String>,
    /// Reports of one system within this window count together for correlation ("3 reporters →
    /// 二级" in the rules). Default "30m".
    correlation_window: Option<String>,
}

/// The rule set built into the binary.
pub const DEFAULT_RULES: &str = include_str!("../../config/rules/default.toml");

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHolidays {
    /// A folder of `<year>.toml` holiday files, relative to the configuration file's folder; absent:
    /// the years built into the binary (2025, 2026).
    dir: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    #[serde(default)]
    sinks: Vec<RawSink>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawSinkKind {
    Log,
    Webhook,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSink {
    name: String,
    kind: RawSinkKind,
    url: Option<String>,
    secret: Option<SecretSource>,
    #[serde(default = "default_sink_events")]
    events: Vec<String>,
    #[serde(default = "least_severe")]
    min_severity: Severity,
}

fn default_sink_events() -> Vec<String> {
    [
        "opened",
        "acknowledged",
        "arrived_on_site",
        "resolved",
        "closed",
        "reopened",
        "severity_changed",
        "ack_overdue",
        "sla_warning",
        "sla_breached",
        "progress_overdue",
        "escalation_exhausted",
        "reassigned",
        "escalated_by_hand",
        "handover",
    ]
    .map(String::from)
    .to_vec()
}

fn least_severe() -> Severity {
    Severity::Four
}

// ---------------------------------------------------------------------------------------------
// The validated configuration the program runs on.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    ZhCn,
    En,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub server: ServerConfig,
    pub database_url: String,
    pub incidents: IncidentsConfig,
    pub outbox: OutboxConfig,
    pub intake: IntakeConfig,
    /// API tokens → person id.
    pub api_tokens: Vec<(Secret, String)>,
    pub sources: BTreeMap<SourceKind, SourceConfig>,
    pub sinks: Vec<SinkConfig>,
    pub catalogue: Catalogue,
    /// Statutory holidays and make-up workdays (法定节假日, 调休).
    pub holidays: Arc<HolidayTable>,
    /// System id → SLA policy id, for systems under another contract.
    pub sla_systems: BTreeMap<String, String>,
    /// Things that work but need attention (a year without holiday data).
    pub warnings: Vec<String>,
    /// 定级: the severity classifier, built from the rules and the catalogue.
    pub classifier: Arc<Classifier>,
    /// Reports of one system within this window count together for correlation.
    pub correlation_window: SignedDuration,
    /// 呼叫: escalation policies, channels, action links, storms.
    pub paging: PagingConfig,
    /// 值班表: on-call schedules by id, as configured.
    pub schedules: BTreeMap<String, crate::domain::schedule::Schedule>,
    /// The same with the shift swaps recorded at runtime: what paging, handover and feeds use.
    pub on_call: Arc<crate::domain::schedule::LiveSchedules>,
    /// Schedule id → the sinks of its 交接班 notices (else every sink subscribed to `handover`).
    pub handover_sinks: BTreeMap<String, Vec<String>>,
    /// 群聊与机器人: who may report by IM, binding codes, the group channels of incidents.
    pub chat: chat::ChatConfig,
    /// The Telegram bot, when configured.
    pub telegram: Option<chat::TelegramConfig>,
    /// 企业微信, 钉钉, 飞书: the apps, and the robot-compatible intake.
    pub im: im::ImConfig,
    /// 邮件: the bot's address, SMTP, the mailboxes read for reports; when configured.
    pub email: Option<email::EmailConfig>,
    /// 演练方案 by id.
    pub drills: Arc<crate::domain::drill::LiveDrills>,
    /// 应急预案 by id.
    pub emergency_plans: BTreeMap<String, crate::domain::emergency::EmergencyPlan>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Base of the links zhiban hands out (ticket pages in webhook answers and messages).
    pub public_url: String,
    pub body_limit_bytes: usize,
    pub language: Language,
    pub timezone: TimeZone,
    pub shutdown_grace: SignedDuration,
    pub metrics_token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct IncidentsConfig {
    pub lifecycle: LifecyclePolicy,
}

#[derive(Debug, Clone)]
pub struct OutboxConfig {
    pub retry: RetryPolicy,
    pub lease: SignedDuration,
    pub send_timeout: SignedDuration,
}

#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// Most alerts committed in one transaction (group commit of concurrent requests).
    pub max_batch: usize,
    pub max_alerts_per_request: usize,
}

#[derive(Debug, Clone)]
pub enum SourceAuth {
    Bearer(Secret),
    /// HMAC-SHA256 of the raw body, hex, in `header` as `sha256=<hex>` (or bare hex).
    Hmac {
        secret: Secret,
        header: String,
    },
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub auth: SourceAuth,
    /// Sender severity text (lower-cased) → level.
    pub severity_map: BTreeMap<String, Severity>,
    pub default_severity: Option<Severity>,
}

#[derive(Debug, Clone)]
pub enum SinkKind {
    /// Writes each notification to zhiban's log: for trials and for debugging.
    Log,
    /// POSTs JSON to a URL, signed with HMAC-SHA256 when a secret is set.
    Webhook { url: String, secret: Option<Secret> },
}

#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub name: String,
    pub kind: SinkKind,
    pub events: Vec<String>,
    pub min_severity: Severity,
}

impl SinkConfig {
    pub fn wants(&self, event: &EventKind, severity: Severity) -> bool {
        severity <= self.min_severity && self.events.iter().any(|e| e == event.name())
    }
}

impl Config {
    /// Read, parse and validate a file; `env` supplies environment variables (secrets).
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            problems: vec![ConfigProblem {
                file: path.to_path_buf(),
                key: "(file)".into(),
                reason: if e.kind() == std::io::ErrorKind::NotFound {
                    "the file does not exist; copy config/zhiban.example.toml to start, or pass --config"
                        .to_string()
                } else {
                    format!("cannot read the file: {e}")
                },
            }],
        })?;
        Config::parse(path, &text, env)
    }

    pub fn parse(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let raw = parse_raw(path, text)?;
        let mut problems = Problems::default();
        let config = validate(path, raw, env, &mut problems);
        match problems.into_error(path) {
            Some(e) => Err(e),
            None => Ok(config),
        }
    }

    pub fn person_for_token(&self, presented: &str) -> Option<&Person> {
        use subtle::ConstantTimeEq;
        let mut found = None;
        // Compare against every token, in constant time each, so timing reveals nothing.
        for (secret, person) in &self.api_tokens {
            if bool::from(secret.expose().as_bytes().ct_eq(presented.as_bytes())) {
                found = Some(person.as_str());
            }
        }
        found.and_then(|id| self.catalogue.person(id))
    }
}

fn parse_raw(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
    let one = |key: String, reason: String| ConfigError {
        problems: vec![ConfigProblem { file: path.to_path_buf(), key, reason }],
    };
    let de = toml::Deserializer::parse(text).map_err(|e| one("(syntax)".into(), toml_message(text, &e)))?;
    serde_path_to_error::deserialize::<_, RawConfig>(de).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." || key.is_empty() { "(top level)".to_string() } else { key };
        one(key, toml_message(text, e.inner()))
    })
}

fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map(|l| l.chars().count() + 1).unwrap_or(1);
            format!("{message} (line {line}, column {column})")
        }
        None => message,
    }
}

/// A duration written for people ("15m", "1h 30m", "72h"); "0" or absent means off.
fn optional_duration(p: &mut Problems, key: &str, value: &Option<String>) -> Option<SignedDuration> {
    let text = value.as_deref()?.trim();
    if text == "0" {
        return None;
    }
    match text.parse::<SignedDuration>() {
        Ok(d) if d.is_positive() && d <= SignedDuration::from_hours(24 * 366) => Some(d),
        Ok(_) => {
            p.add(key, format!("'{text}' must be positive and at most a year (or \"0\" for off)"));
            None
        }
        Err(_) => {
            p.add(key, format!("'{text}' is not a duration; write e.g. \"15m\", \"1h 30m\" or \"72h\""));
            None
        }
    }
}

fn validate(
    path: &Path,
    mut raw: RawConfig,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Problems,
) -> Config {
    let catalogue = Catalogue {
        units: std::mem::take(&mut raw.units),
        systems: std::mem::take(&mut raw.systems),
        people: std::mem::take(&mut raw.people),
        teams: std::mem::take(&mut raw.teams),
    };
    let listen = raw.server.listen.parse::<SocketAddr>().unwrap_or_else(|_| {
        p.add("server.listen", format!("'{}' is not an address like 127.0.0.1:8080", raw.server.listen));
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });
    let public_url = match &raw.server.public_url {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            u.trim_end_matches('/').to_string()
        }
        Some(u) => {
            p.add("server.public_url", format!("'{u}' must start with http:// or https://"));
            String::new()
        }
        None => format!("http://{listen}"),
    };
    if raw.server.body_limit_bytes < 1024 || raw.server.body_limit_bytes > 64 * 1024 * 1024 {
        p.add("server.body_limit_bytes", "must be between 1024 and 67108864");
    }
    let language = match raw.server.language.as_str() {
        "zh-CN" | "zh" => Language::ZhCn,
        "en" => Language::En,
        other => {
            p.add("server.language", format!("'{other}' is not supported; use zh-CN or en"));
            Language::ZhCn
        }
    };
    let timezone = TimeZone::get(&raw.server.timezone).unwrap_or_else(|_| {
        p.add(
            "server.timezone",
            format!("'{}' is not a known time zone (e.g. Asia/Shanghai)", raw.server.timezone),
        );
        TimeZone::UTC
    });
    if !(raw.database.url.starts_with("sqlite:")
        || raw.database.url.starts_with("postgres://")
        || raw.database.url.starts_with("postgresql://"))
    {
        p.add("database.url", "use sqlite://PATH or postgres://USER@HOST/DB");
    }

    let metrics_token = raw
        .server
        .metrics_token
        .as_ref()
        .and_then(|t| t.resolve(env).map_err(|e| p.add("server.metrics_token", e)).ok());
    let holidays = Arc::new(load_holidays(path, &raw.holidays, p));
    let mut warnings = Vec::new();
    let today = jiff::Timestamp::now().to_zoned_datetime(timezone.clone()).date();
    let horizon = today.checked_add(jiff::Span::new().days(366)).unwrap_or(today);
    for year in holidays.missing_years(today, horizon) {
        warnings.push(format!(
            "no holiday data for {year}: 5×8 deadlines in {year} count every Monday to Friday; add \
             config/holidays/{year}.toml from the State Council notice (published in November of {})",
            year - 1
        ));
    }
    let classifier =
        Arc::new(build_classifier(path, &raw.classify, raw.incidents.default_severity, &catalogue, p));
    let system_ids: Vec<&str> = catalogue.systems.iter().map(|s| s.id.as_str()).collect();
    let (sla_book, sla_systems) =
        sla::build(&raw.calendars, &raw.sla, holidays.clone(), &timezone, &system_ids, p);
    let config_dir = path.parent().unwrap_or(Path::new("."));
    let schedules = schedule::build(&raw.schedules, &catalogue, &timezone, config_dir, p);
    let on_call = Arc::new(crate::domain::schedule::LiveSchedules::new(schedules.clone()));
    let drills = drill::build(&raw.drills, &catalogue, &schedules, &raw.chat.channel_names(), &timezone, p);
    let drills = Arc::new(crate::domain::drill::LiveDrills::new(drills.into_values()));
    let emergency_plans =
        emergency::build(&raw.emergency_plans, &catalogue, &schedules, &raw.chat.channel_names(), p);
    let paging =
        paging::build(&raw.paging, &catalogue, &schedules, on_call.clone(), env, p, Some(drills.clone()));
    let lifecycle = LifecyclePolicy {
        ack_reminder_after: optional_duration(
            p,
            "incidents.ack_reminder_after",
            &raw.incidents.ack_reminder_after,
        ),
        auto_close_after: optional_duration(p, "incidents.auto_close_after", &raw.incidents.auto_close_after),
        sla: sla_book,
        escalation: paging.book.clone(),
    };

    let o = &raw.outbox;
    if o.max_attempts == 0 {
        p.add("outbox.max_attempts", "must be at least 1");
    }
    if o.initial_backoff_seconds == 0 || o.initial_backoff_seconds > o.max_backoff_seconds {
        p.add("outbox.initial_backoff_seconds", "must be at least 1 and at most outbox.max_backoff_seconds");
    }
    if o.lease_seconds <= o.send_timeout_seconds {
        p.add(
            "outbox.lease_seconds",
            "must be longer than outbox.send_timeout_seconds, or two instances could send one message",
        );
    }
    let secs = |s: u64| SignedDuration::from_secs(s.min(i64::MAX as u64) as i64);
    let outbox = OutboxConfig {
        retry: RetryPolicy {
            initial: secs(o.initial_backoff_seconds),
            max_delay: secs(o.max_backoff_seconds),
            max_attempts: o.max_attempts,
        },
        lease: secs(o.lease_seconds),
        send_timeout: secs(o.send_timeout_seconds),
    };
    if raw.intake.max_batch == 0 {
        p.add("intake.max_batch", "must be at least 1");
    }
    if raw.intake.max_alerts_per_request == 0 {
        p.add("intake.max_alerts_per_request", "must be at least 1");
    }

    catalogue.validate(p);

    let mut api_tokens = Vec::new();
    for (i, t) in raw.api.tokens.iter().enumerate() {
        match t.token.resolve(env) {
            Ok(s) => api_tokens.push((s, t.person.clone())),
            Err(e) => p.add(format!("api.tokens[{i}].token"), e),
        }
        if catalogue.person(&t.person).is_none() {
            p.add(format!("api.tokens[{i}].person"), format!("no person has the id '{}'", t.person));
        }
    }

    let mut sources = BTreeMap::new();
    for (name, s) in &raw.sources {
        let key = |field: &str| format!("sources.{name}.{field}");
        let Some(kind) = SourceKind::from_path_segment(name) else {
            p.add(format!("sources.{name}"), "unknown source; use alertmanager, grafana, zabbix or generic");
            continue;
        };
        let auth = match s.auth {
            RawAuthKind::Bearer => match &s.token {
                None => {
                    p.add(key("token"), "auth = \"bearer\" needs a token");
                    None
                }
                Some(t) => t.resolve(env).map_err(|e| p.add(key("token"), e)).ok().map(SourceAuth::Bearer),
            },
            RawAuthKind::Hmac => match &s.secret {
                None => {
                    p.add(key("secret"), "auth = \"hmac\" needs a secret");
                    None
                }
                Some(t) => t
                    .resolve(env)
                    .map_err(|e| p.add(key("secret"), e))
                    .ok()
                    .map(|secret| SourceAuth::Hmac { secret, header: s.signature_header.clone() }),
            },
        };
        if let Some(secret) = match &auth {
            Some(SourceAuth::Bearer(s)) => Some(s),
            Some(SourceAuth::Hmac { secret, .. }) => Some(secret),
            None => None,
        } && secret.expose().len() < 16
        {
            p.add(
                key(if s.auth == RawAuthKind::Bearer { "token" } else { "secret" }),
                "must be at least 16 characters",
            );
        }
        if s.auth == RawAuthKind::Hmac
            && axum::http::HeaderName::try_from(s.signature_header.as_str()).is_err()
        {
            p.add(key("signature_header"), format!("'{}' is not an HTTP header name", s.signature_header));
        }
        if let (true, Some(auth)) = (s.enabled, auth) {
            let severity_map = s.severity_map.iter().map(|(k, v)| (k.trim().to_lowercase(), *v)).collect();
            sources.insert(kind, SourceConfig { auth, severity_map, default_severity: s.default_severity });
        }
    }

    // One secret, one purpose: a token shared by two sources (or a source and a person) would let
    // one of them act as the other.
    let mut secrets: Vec<(String, &Secret)> = Vec::new();
    for (i, (secret, _)) in api_tokens.iter().enumerate() {
        secrets.push((format!("api.tokens[{i}].token"), secret));
    }
    for (kind, source) in &sources {
        let (field, secret) = match &source.auth {
            SourceAuth::Bearer(s) => ("token", s),
            SourceAuth::Hmac { secret, .. } => ("secret", secret),
        };
        secrets.push((format!("sources.{}.{field}", kind.as_str()), secret));
    }
    if let Some(t) = &metrics_token {
        secrets.push(("server.metrics_token".into(), t));
    }
    for i in 0..secrets.len() {
        for j in 0..i {
            if secrets[i].1 == secrets[j].1 {
                p.add(
                    secrets[i].0.clone(),
                    format!("the same secret as {}; give each its own", secrets[j].0),
                );
            }
        }
    }

    let mut sinks = Vec::new();
    let mut sink_names = std::collections::HashSet::new();
    for (i, s) in raw.notify.sinks.iter().enumerate() {
        let key = |field: &str| format!("notify.sinks[{i}].{field}");
        if !catalogue::valid_id(&s.name) {
            p.add(key("name"), "use letters, digits, '-' and '_'");
        } else if !sink_names.insert(s.name.clone()) {
            p.add(key("name"), format!("the name '{}' is used twice", s.name));
        }
        for (j, e) in s.events.iter().enumerate() {
            // Besides incident events, sinks may take the 交接班 notices.
            if !EventKind::NAMES.contains(&e.as_str()) && e != "handover" {
                p.add(
                    format!("notify.sinks[{i}].events[{j}]"),
                    format!("'{e}' is not an event; use handover or one of {}", EventKind::NAMES.join(", ")),
                );
            }
        }
        let kind = match s.kind {
            RawSinkKind::Log => SinkKind::Log,
            RawSinkKind::Webhook => {
                let url = match &s.url {
                    Some(u) if u.starts_with("http://") || u.starts_with("https://") => u.clone(),
                    Some(u) => {
                        p.add(key("url"), format!("'{u}' must start with http:// or https://"));
                        String::new()
                    }
                    None => {
                        p.add(key("url"), "a webhook sink needs a url");
                        String::new()
                    }
                };
                let secret =
                    s.secret.as_ref().and_then(|x| x.resolve(env).map_err(|e| p.add(key("secret"), e)).ok());
                SinkKind::Webhook { url, secret }
            }
        };
        sinks.push(SinkConfig {
            name: s.name.clone(),
            kind,
            events: s.events.clone(),
            min_severity: s.min_severity,
        });
    }

    let sink_names: Vec<&str> = sinks.iter().map(|s: &SinkConfig| s.name.as_str()).collect();
    let handover_sinks = schedule::handover_sinks(&raw.schedules, &sink_names, p);
    let chat = chat::build_chat(&raw.chat, &catalogue, env, p);
    let im_raw = im::RawIm {
        wecom: raw.wecom.as_ref(),
        dingtalk: raw.dingtalk.as_ref(),
        feishu: raw.feishu.as_ref(),
        robot_intake: &raw.robot_intake,
    };
    let im = im::build(im_raw, env, p);
    im::check_needs(&im, &chat, &paging, p);
    let telegram = raw.telegram.as_ref().and_then(|t| chat::build_telegram(t, env, p));
    let email = raw.email.as_ref().map(|e| email::build(e, env, p));
    if email.as_ref().and_then(|e| e.smtp.as_ref()).is_none() {
        for (i, c) in paging.channels.iter().enumerate() {
            if matches!(c.kind, PageChannelKind::Email) {
                p.add(
                    format!("paging.channels[{i}].kind"),
                    "an email channel needs [email] with [email.smtp]",
                );
            }
        }
    }
    if !emergency_plans.is_empty() && paging.channels.is_empty() {
        p.add(
            "emergency_plans",
            "an emergency plan calls its group through paging channels; configure [[paging.channels]]",
        );
    }
    if raw.telegram.is_none() {
        for (i, c) in paging.channels.iter().enumerate() {
            if matches!(c.kind, PageChannelKind::Telegram) {
                p.add(format!("paging.channels[{i}].kind"), "a telegram channel needs a [telegram] section");
            }
        }
        for (i, c) in chat.channels.iter().enumerate() {
            if c.provider == zhiban_integrations::chat::Provider::Telegram {
                p.add(format!("chat.channels[{i}].provider"), "telegram needs a [telegram] section");
            }
        }
    }

    Config {
        file: path.to_path_buf(),
        handover_sinks,
        chat,
        telegram,
        im,
        email,
        drills,
        emergency_plans,
        server: ServerConfig {
            listen,
            public_url,
            body_limit_bytes: raw.server.body_limit_bytes,
            language,
            timezone,
            shutdown_grace: secs(raw.server.shutdown_grace_seconds),
            metrics_token,
        },
        database_url: raw.database.url,
        incidents: IncidentsConfig { lifecycle },
        outbox,
        intake: IntakeConfig {
            max_batch: raw.intake.max_batch.max(1),
            max_alerts_per_request: raw.intake.max_alerts_per_request.max(1),
        },
        api_tokens,
        sources,
        sinks,
        catalogue,
        holidays,
        sla_systems,
        warnings,
        classifier,
        correlation_window: optional_duration(
            p,
            "classify.correlation_window",
            &raw.classify.correlation_window,
        )
        .unwrap_or(SignedDuration::from_mins(30)),
        paging,
        schedules,
        on_call,
    }
}

/// The classifier from the configured rules file (or the built-in rules) and the catalogue.
fn build_classifier(
    config_path: &Path,
    raw: &RawClassify,
    default_level: Option<Severity>,
    catalogue: &Catalogue,
    p: &mut Problems,
) -> Classifier {
    let text = match &raw.rules {
        None => DEFAULT_RULES.to_string(),
        Some(file) => {
            let path = config_path.parent().unwrap_or(Path::new(".")).join(file);
            match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    p.add("classify.rules", format!("cannot read {}: {e}", path.display()));
                    DEFAULT_RULES.to_string()
                }
            }
        }
    };
    let built = RuleSet::from_toml(&text).and_then(|mut rules| {
        if let Some(level) = default_level {
            rules.default_level = level;
        }
        Classifier::new(rules, catalogue)
    });
    match built {
        Ok(c) => c,
        Err(e) => {
            p.add("classify.rules", e.to_string());
            let rules = RuleSet::from_toml(DEFAULT_RULES).expect("the built-in rules are valid");
            Classifier::new(rules, catalogue).expect("the built-in rules compile")
        }
    }
}

/// The holiday years: from the configured folder, or those built into the binary.
fn load_holidays(config_path: &Path, raw: &RawHolidays, p: &mut Problems) -> HolidayTable {
    let Some(dir) = &raw.dir else { return HolidayTable::embedded() };
    let dir = config_path.parent().unwrap_or(Path::new(".")).join(dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            p.add("holidays.dir", format!("cannot read {}: {e}", dir.display()));
            return HolidayTable::embedded();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|f| f.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut years = Vec::new();
    for file in files {
        let parsed = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|t| HolidayTable::parse_year(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(y) => years.push(y),
            Err(e) => p.add("holidays.dir", format!("{}: {e}", file.display())),
        }
    }
    HolidayTable::from_years(years).unwrap_or_else(|e| {
        p.add("holidays.dir", e.to_string());
        HolidayTable::embedded()
    })
}

#[cfg(test)]
mod tests;
