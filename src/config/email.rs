//! `[email]`: the bot's address, the SMTP relay it sends through, and the mailboxes whose mail
//! becomes fault reports (邮件报障).

use std::path::PathBuf;

use jiff::SignedDuration;
use serde::Deserialize;

use super::{Problems, Secret, SecretSource};
pub use zhiban_integrations::email::imap::Security;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {
    /// `值班机器人 <zhiban@court.example>` or a bare address.
    from: String,
    /// More addresses that are the bot's own (aliases): their mail never opens a ticket.
    #[serde(default)]
    own_addresses: Vec<String>,
    attachment_max_bytes: Option<u64>,
    smtp: Option<RawServer>,
    #[serde(default)]
    mailboxes: Vec<RawMailbox>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    host: String,
    port: Option<u16>,
    #[serde(default = "default_security")]
    security: String,
    user: Option<String>,
    password: Option<SecretSource>,
    /// A PEM file with the CA of an intranet server.
    ca_file: Option<PathBuf>,
    timeout: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    name: String,
    host: String,
    port: Option<u16>,
    #[serde(default = "default_security")]
    security: String,
    user: String,
    password: SecretSource,
    #[serde(default = "default_folder")]
    folder: String,
    /// Handled mail is moved here; absent, it is only flagged \Seen.
    processed_folder: Option<String>,
    poll_interval: Option<String>,
    #[serde(default = "default_true")]
    idle: bool,
    ca_file: Option<PathBuf>,
    /// Whether senders who are not in the catalogue may report (court staff often are not).
    #[serde(default = "default_true")]
    allow_unknown_senders: bool,
}

fn default_security() -> String {
    "tls".into()
}

fn default_folder() -> String {
    "INBOX".into()
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub ca_file: Option<PathBuf>,
    pub timeout: SignedDuration,
}

#[derive(Debug, Clone)]
pub struct MailboxConfig {
    pub name: String,
    pub server: ServerConfig,
    pub folder: String,
    pub processed_folder: Option<String>,
    pub poll_interval: SignedDuration,
    pub idle: bool,
    pub allow_unknown_senders: bool,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub from_name: Option<String>,
    pub from_address: String,
    /// Lowercased: `from_address` and the aliases.
    pub own_addresses: Vec<String>,
    pub attachment_max_bytes: u64,
    pub smtp: Option<ServerConfig>,
    pub mailboxes: Vec<MailboxConfig>,
}

/// `Name <addr>` or `addr`, split; `None` when there is no plausible address.
pub fn split_address(text: &str) -> Option<(Option<String>, String)> {
    let text = text.trim();
    let (name, address) = match (text.rfind('<'), text.ends_with('>')) {
        (Some(open), true) => {
            let name = text[..open].trim().trim_matches('"').trim();
            (Some(name.to_string()).filter(|n| !n.is_empty()), text[open + 1..text.len() - 1].trim())
        }
        _ => (None, text),
    };
    let (local, domain) = address.split_once('@')?;
    let plausible = !local.is_empty() && domain.contains('.') && !address.chars().any(char::is_whitespace);
    plausible.then(|| (name, address.to_string()))
}

fn security(p: &mut Problems, key: &str, text: &str) -> Security {
    match text {
        "tls" => Security::Tls,
        "starttls" => Security::StartTls,
        "plain" => Security::Plain,
        other => {
            p.add(key, format!("'{other}' is not a security mode; use tls, starttls or plain"));
            Security::Tls
        }
    }
}

/// An optional duration key read by the shared rule, and at most a day (timeouts, polling).
fn duration(p: &mut Problems, key: &str, text: Option<&String>, default: SignedDuration) -> SignedDuration {
    match text.and_then(|t| super::paging::duration(p, key, t, false)) {
        Some(d) if d > SignedDuration::from_hours(24) => {
            p.add(key, "must be at most 24h");
            default
        }
        Some(d) => d,
        None => default,
    }
}

fn server(
    p: &mut Problems,
    key: &str,
    raw: &RawServer,
    default_ports: (u16, u16, u16),
    env: &dyn Fn(&str) -> Option<String>,
) -> ServerConfig {
    let security = security(p, &format!("{key}.security"), &raw.security);
    let port = raw.port.unwrap_or(match security {
        Security::Tls => default_ports.0,
        Security::StartTls => default_ports.1,
        Security::Plain => default_ports.2,
    });
    if raw.host.trim().is_empty() {
        p.add(format!("{key}.host"), "must name the server");
    }
    let password = raw
        .password
        .as_ref()
        .and_then(|s| s.resolve(env).map_err(|e| p.add(format!("{key}.password"), e)).ok());
    if raw.user.is_some() != raw.password.is_some() {
        p.add(format!("{key}.user"), "user and password go together");
    }
    ServerConfig {
        host: raw.host.trim().to_string(),
        port,
        security,
        user: raw.user.clone(),
        password,
        ca_file: raw.ca_file.clone(),
        timeout: duration(p, &format!("{key}.timeout"), raw.timeout.as_ref(), SignedDuration::from_secs(30)),
    }
}

pub(super) fn build(raw: &RawEmail, env: &dyn Fn(&str) -> Option<String>, p: &mut Problems) -> EmailConfig {
    let (from_name, from_address) = split_address(&raw.from).unwrap_or_else(|| {
        p.add(
            "email.from",
            format!("'{}' is not an address like 值班机器人 <zhiban@court.example>", raw.from),
        );
        (None, String::new())
    });
    let mut own_addresses = vec![from_address.to_lowercase()];
    for (i, a) in raw.own_addresses.iter().enumerate() {
        match split_address(a) {
            Some((_, address)) => own_addresses.push(address.to_lowercase()),
            None => p.add(format!("email.own_addresses[{i}]"), format!("'{a}' is not an email address")),
        }
    }
    let attachment_max_bytes = raw.attachment_max_bytes.unwrap_or(10 * 1024 * 1024);
    if attachment_max_bytes == 0 || attachment_max_bytes > 50 * 1024 * 1024 {
        p.add("email.attachment_max_bytes", "must be between 1 and 52428800");
    }
    let smtp = raw.smtp.as_ref().map(|s| server(p, "email.smtp", s, (465, 587, 25), env));
    let mut mailboxes = Vec::new();
    for (i, m) in raw.mailboxes.iter().enumerate() {
        let key = format!("email.mailboxes[{i}]");
        if mailboxes.iter().any(|x: &MailboxConfig| x.name == m.name) {
            p.add(format!("{key}.name"), format!("two mailboxes are named '{}'", m.name));
        }
        let raw_server = RawServer {
            host: m.host.clone(),
            port: m.port,
            security: m.security.clone(),
            user: Some(m.user.clone()),
            password: Some(m.password.clone()),
            ca_file: m.ca_file.clone(),
            timeout: None,
        };
        mailboxes.push(MailboxConfig {
            name: m.name.clone(),
            server: server(p, &key, &raw_server, (993, 143, 143), env),
            folder: m.folder.clone(),
            processed_folder: m.processed_folder.clone().filter(|f| !f.trim().is_empty()),
            poll_interval: duration(
                p,
                &format!("{key}.poll_interval"),
                m.poll_interval.as_ref(),
                SignedDuration::from_secs(60),
            ),
            idle: m.idle,
            allow_unknown_senders: m.allow_unknown_senders,
        });
    }
    if !mailboxes.is_empty() && smtp.is_none() {
        p.add("email.smtp", "mailboxes need an SMTP server to answer reporters");
    }
    EmailConfig { from_name, from_address, own_addresses, attachment_max_bytes, smtp, mailboxes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_with_and_without_names() {
        assert_eq!(
            split_address("值班机器人 <zhiban@court.example>"),
            Some((Some("值班机器人".into()), "zhiban@court.example".into()))
        );
        assert_eq!(split_address("\"Ops\" <ops@a.cn>"), Some((Some("Ops".into()), "ops@a.cn".into())));
        assert_eq!(split_address("ops@a.cn"), Some((None, "ops@a.cn".into())));
        for bad in ["", "ops", "ops@localhost", "a b@c.cn", "<>"] {
            assert_eq!(split_address(bad), None, "{bad}");
        }
    }
}
