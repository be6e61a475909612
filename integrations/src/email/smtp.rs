//! Outbound mail through an SMTP relay: lettre's pooled async transport over tokio and rustls.
//!
//! [`SmtpSender::new`] only builds the transport; connections open on the first
//! [`SmtpSender::send`] and are reused. Errors are sorted into [`SmtpError::Permanent`] (a 5xx
//! answer: do not retry this message) and [`SmtpError::Transient`] (4xx, network, TLS, timeout:
//! retry later). TLS trusts the web PKI roots, the host's installed roots and
//! [`SmtpSettings::ca_file`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

pub use super::imap::Security;
use super::imap::{extra_roots, native_roots};

/// Where and how to reach the relay.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// [`Security::Tls`]: implicit TLS (465); [`Security::StartTls`]: STARTTLS required (587);
    /// [`Security::Plain`]: no TLS (25, intranet relays).
    pub security: Security,
    /// User name for AUTH (PLAIN or LOGIN); `None` sends without authenticating.
    pub user: Option<String>,
    pub password: Option<String>,
    /// An extra PEM file of CA certificates to trust, for intranet relays with a private CA.
    pub ca_file: Option<PathBuf>,
    /// The limit for each network step; a whole send is limited to four times this.
    pub timeout: Duration,
    /// The EHLO name; `None` uses this host's name.
    pub hello_name: Option<String>,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("hello_name", &self.hello_name)
            .finish()
    }
}

/// Why a message was not sent. Names the relay (`host:port`); never contains the password.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// The settings cannot work (credentials half given, unreadable CA file, bad names).
    #[error("SMTP configuration: {0}")]
    Config(String),
    /// Worth retrying later: a 4xx answer, a network or TLS failure, a timeout.
    #[error("SMTP temporary failure: {0}")]
    Transient(String),
    /// Not worth retrying this message: a 5xx answer (unknown recipient, refused, rejected login).
    #[error("SMTP permanent failure: {0}")]
    Permanent(String),
}

impl SmtpError {
    /// Whether retrying the same message cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SmtpError::Permanent(_))
    }
}

/// A pooled connection to one relay. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
    timeout: Duration,
}

impl fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSender").field("server", &self.server).finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// Builds the transport. Does not connect, but must run inside a tokio runtime: the pool
    /// spawns its idle-connection reaper there.
    pub fn new(s: &SmtpSettings) -> Result<SmtpSender, SmtpError> {
        let server = format!("{}:{}", s.host, s.port);
        let config = |what: String| SmtpError::Config(format!("{server}: {what}"));

        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
            .port(s.port)
            .timeout(Some(s.timeout));
        builder = match s.security {
            Security::Plain => builder.tls(Tls::None),
            Security::StartTls => builder.tls(Tls::Required(tls_parameters(s).map_err(config)?)),
            Security::Tls => builder.tls(Tls::Wrapper(tls_parameters(s).map_err(config)?)),
        };
        builder = match (&s.user, &s.password) {
            (Some(user), Some(password)) => {
                builder.credentials(Credentials::new(user.clone(), password.clone()))
            }
            (None, None) => builder,
            (Some(user), None) => return Err(config(format!("user {user:?} is set but no password"))),
            (None, Some(_)) => return Err(config("a password is set but no user".into())),
        };
        if let Some(name) = &s.hello_name {
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(config(format!("invalid EHLO name {name:?}")));
            }
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        Ok(SmtpSender { transport: builder.build(), server, timeout: s.timeout })
    }

    /// Sends one message to the recipients of its envelope (To, Cc and Bcc).
    pub async fn send(&self, message: lettre::Message) -> Result<(), SmtpError> {
        let server = &self.server;
        match tokio::time::timeout(self.timeout * 4, self.transport.send(message)).await {
            Err(_) => Err(SmtpError::Transient(format!("{server}: sending timed out"))),
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(SmtpError::Permanent(format!("{server}: {e}"))),
            Ok(Err(e)) => Err(SmtpError::Transient(format!("{server}: {e}"))),
        }
    }
}

/// rustls through lettre: web PKI roots, plus the host's roots and the CA file as extra roots.
fn tls_parameters(s: &SmtpSettings) -> Result<TlsParameters, String> {
    let mut params = TlsParameters::builder(s.host.clone()).certificate_store(CertificateStore::WebpkiRoots);
    let extra = extra_roots(s.ca_file.as_deref())?;
    for der in native_roots().iter().chain(&extra) {
        let cert = Certificate::from_der(der.to_vec()).map_err(|e| format!("CA certificate: {e}"))?;
        params = params.add_root_certificate(cert);
    }
    params.build_rustls().map_err(|e| format!("TLS configuration: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            host: "relay.court.example".into(),
            port: 25,
            security: Security::Plain,
            user: Some("ops".into()),
            password: Some("hunter2-secret".into()),
            ca_file: None,
            timeout: Duration::from_secs(10),
            hello_name: None,
        }
    }

    #[test]
    fn debug_hides_the_password() {
        assert!(!format!("{:?}", settings()).contains("hunter2"));
    }

    #[tokio::test]
    async fn half_given_credentials_and_missing_ca_file_are_config_errors() {
        let s = SmtpSettings { password: None, ..settings() };
        assert!(matches!(SmtpSender::new(&s), Err(SmtpError::Config(m)) if m.contains("\"ops\"")));
        let s = SmtpSettings { user: None, ..settings() };
        assert!(matches!(SmtpSender::new(&s), Err(SmtpError::Config(_))));
        let s = SmtpSettings {
            security: Security::StartTls,
            ca_file: Some("/nonexistent/zhiban-ca.pem".into()),
            ..settings()
        };
        assert!(matches!(SmtpSender::new(&s), Err(SmtpError::Config(m)) if m.contains("zhiban-ca.pem")));
        for security in [Security::Plain, Security::StartTls, Security::Tls] {
            assert!(SmtpSender::new(&SmtpSettings { security, ..settings() }).is_ok());
        }
    }
}
