//! An IMAP mailbox client for the inbound ticket mailbox: async-imap over tokio and tokio-rustls.
//!
//! [`ImapSession::connect`] opens a connection (implicit TLS, STARTTLS or plain), logs in and
//! selects one mailbox. The session then lists new UIDs, fetches raw messages without setting
//! `\Seen`, marks and moves messages, and waits with IDLE. Every network step runs under
//! [`ImapSettings::timeout`]; after any error the session should be dropped and a new one opened.
//!
//! Server certificates are checked against the public web PKI roots, the host's installed roots
//! and an optional extra PEM file ([`ImapSettings::ca_file`]) for intranet CAs. Messages are keyed
//! by `(uid_validity, uid)`: when [`ImapSession::uid_validity`] changes, earlier UIDs mean nothing.
//!
//! Mailbox names are UTF-8 here and sent as IMAP modified UTF-7 (RFC 3501 §5.1.3), so a folder
//! such as `已处理` works on servers without `UTF8=ACCEPT`.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{Response, Status};
use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// A plain connection upgraded with STARTTLS before logging in (IMAP 143, submission 587).
    StartTls,
    /// No TLS at all: only for trusted intranet servers and tests.
    Plain,
}

/// Where and how to reach the mailbox.
#[derive(Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: String,
    pub password: String,
    /// The mailbox to select, usually `INBOX`. UTF-8; sent as modified UTF-7.
    pub mailbox: String,
    /// An extra PEM file of CA certificates to trust, for intranet servers with a private CA.
    pub ca_file: Option<PathBuf>,
    /// The limit for each network step (connect, handshake, each command).
    pub timeout: Duration,
}

impl fmt::Debug for ImapSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("mailbox", &self.mailbox)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What went wrong, with the server (`host:port`) and, where it matters, the user or mailbox.
/// Never contains the password.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The TCP connection failed, or the server refused or closed it.
    #[error("IMAP connection failed: {0}")]
    Connect(String),
    /// The TLS handshake or STARTTLS failed (certificate, protocol), or the CA file is unusable.
    #[error("IMAP TLS failed: {0}")]
    Tls(String),
    /// The server rejected the user name or password.
    #[error("IMAP login failed: {0}")]
    Auth(String),
    /// The server answered a command with NO/BAD, or something unexpected.
    #[error("IMAP error: {0}")]
    Protocol(String),
    /// A network step took longer than [`ImapSettings::timeout`].
    #[error("IMAP operation timed out")]
    Timeout,
}

/// A logged-in connection with one mailbox selected.
pub struct ImapSession {
    session: Session<Conn>,
    /// `host:port`, for error messages.
    server: String,
    user: String,
    mailbox: String,
    timeout: Duration,
    uid_validity: u32,
    idle: bool,
    mv: bool,
    uidplus: bool,
    /// Folders known to exist (modified UTF-7 names), so `move_to` does not LIST every time.
    known_folders: HashSet<String>,
}

impl fmt::Debug for ImapSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSession")
            .field("server", &self.server)
            .field("user", &self.user)
            .field("mailbox", &self.mailbox)
            .field("uid_validity", &self.uid_validity)
            .finish_non_exhaustive()
    }
}

impl ImapSession {
    /// Connects, upgrades to TLS as configured, logs in with LOGIN and selects the mailbox.
    pub async fn connect(s: &ImapSettings) -> Result<ImapSession, ImapError> {
        let server = format!("{}:{}", s.host, s.port);
        let t = s.timeout;

        let tcp = step(t, TcpStream::connect((s.host.as_str(), s.port)))
            .await?
            .map_err(|e| ImapError::Connect(format!("{server}: {e}")))?;
        let _ = tcp.set_nodelay(true);

        let conn = match s.security {
            Security::Tls => Conn::Tls(Box::new(tls_handshake(tcp, s, &server).await?)),
            Security::StartTls | Security::Plain => Conn::Plain(tcp),
        };
        let mut client = Client::new(conn);
        read_greeting(&mut client, t, &server).await?;

        if s.security == Security::StartTls {
            step(t, client.run_command_and_check_ok("STARTTLS", None))
                .await?
                .map_err(|e| ImapError::Tls(format!("{server}: STARTTLS refused: {e}")))?;
            let Conn::Plain(tcp) = client.into_inner() else {
                unreachable!("STARTTLS runs on a plain connection")
            };
            client = Client::new(Conn::Tls(Box::new(tls_handshake(tcp, s, &server).await?)));
        }

        let user = &s.user;
        let mut session = match step(t, client.login(user, &s.password)).await? {
            Ok(session) => session,
            Err((async_imap::error::Error::No(info), _)) => {
                return Err(ImapError::Auth(format!("{server}: login as {user:?} rejected: {info}")));
            }
            Err((async_imap::error::Error::Bad(info), _)) => {
                return Err(ImapError::Auth(format!(
                    "{server}: login as {user:?} refused (BAD, plaintext login disabled?): {info}"
                )));
            }
            Err((async_imap::error::Error::Validate(e), _)) => {
                return Err(ImapError::Auth(format!(
                    "{server}: user name or password for {user:?} contains a forbidden character: {e}"
                )));
            }
            Err((e, _)) => {
                return Err(ImapError::Protocol(format!("{server}: login as {user:?}: {e}")));
            }
        };

        let caps = step(t, session.capabilities())
            .await?
            .map_err(|e| ImapError::Protocol(format!("{server}: CAPABILITY: {e}")))?;
        let idle = caps.has_str("IDLE");
        let mv = caps.has_str("MOVE");
        let uidplus = caps.has_str("UIDPLUS");

        let mailbox = s.mailbox.clone();
        let selected = step(t, session.select(encode_mailbox_name(&mailbox)))
            .await?
            .map_err(|e| ImapError::Protocol(format!("{server}: SELECT {mailbox:?} as {user:?}: {e}")))?;
        let uid_validity = selected.uid_validity.ok_or_else(|| {
            ImapError::Protocol(format!("{server}: SELECT {mailbox:?} returned no UIDVALIDITY"))
        })?;

        Ok(ImapSession {
            session,
            server,
            user: s.user.clone(),
            mailbox,
            timeout: t,
            uid_validity,
            idle,
            mv,
            uidplus,
            known_folders: HashSet::new(),
        })
    }

    /// The selected mailbox's UIDVALIDITY: UIDs are only comparable while it stays the same.
    pub fn uid_validity(&self) -> u32 {
        self.uid_validity
    }

    /// Whether the server advertises IDLE (RFC 2177).
    pub fn supports_idle(&self) -> bool {
        self.idle
    }

    /// Whether the server advertises MOVE (RFC 6851).
    pub fn supports_move(&self) -> bool {
        self.mv
    }

    /// UIDs greater than `after_uid`, ascending.
    ///
    /// `UID SEARCH UID n:*` always matches the last message even when its UID is below `n`
    /// (RFC 3501: `*` is the largest UID in use), so the answer is filtered.
    pub async fn uids_after(&mut self, after_uid: u32) -> Result<Vec<u32>, ImapError> {
        let Some(first) = after_uid.checked_add(1) else {
            return Ok(Vec::new());
        };
        let found = self.search(&format!("UID {first}:*")).await?;
        Ok(found.into_iter().filter(|&uid| uid > after_uid).collect())
    }

    /// UIDs of messages without `\Seen`, ascending.
    pub async fn unseen(&mut self) -> Result<Vec<u32>, ImapError> {
        self.search("UNSEEN").await
    }

    /// The raw message (`BODY.PEEK[]`, so `\Seen` is not set), or `None` when the UID is gone.
    pub async fn fetch(&mut self, uid: u32) -> Result<Option<Vec<u8>>, ImapError> {
        let fetches = step(self.timeout, async {
            self.session.uid_fetch(uid.to_string(), "(UID BODY.PEEK[])").await?.try_collect::<Vec<_>>().await
        })
        .await?
        .map_err(|e| self.protocol(&format!("UID FETCH {uid}"), e))?;
        Ok(fetches.iter().filter(|f| f.uid == Some(uid)).find_map(|f| f.body()).map(<[u8]>::to_vec))
    }

    /// Sets `\Seen` on one message.
    pub async fn mark_seen(&mut self, uid: u32) -> Result<(), ImapError> {
        self.store(uid, "+FLAGS.SILENT (\\Seen)").await
    }

    /// Moves one message to `folder` (UTF-8 name), creating the folder when it does not exist.
    ///
    /// Uses `UID MOVE` when the server has MOVE; otherwise `UID COPY`, `\Deleted` and
    /// `UID EXPUNGE` (UIDPLUS) or, as a last resort, `EXPUNGE`, which also removes any other
    /// message already flagged `\Deleted` in the mailbox.
    pub async fn move_to(&mut self, uid: u32, folder: &str) -> Result<(), ImapError> {
        let encoded = encode_mailbox_name(folder);
        self.ensure_folder(folder, &encoded).await?;
        let t = self.timeout;
        if self.mv {
            return step(t, self.session.uid_mv(uid.to_string(), &encoded))
                .await?
                .map_err(|e| self.protocol(&format!("UID MOVE {uid} to {folder:?}"), e));
        }
        step(t, self.session.uid_copy(uid.to_string(), &encoded))
            .await?
            .map_err(|e| self.protocol(&format!("UID COPY {uid} to {folder:?}"), e))?;
        self.store(uid, "+FLAGS.SILENT (\\Deleted)").await?;
        let expunged = if self.uidplus {
            step(t, async { self.session.uid_expunge(uid.to_string()).await?.try_collect::<Vec<_>>().await })
                .await?
        } else {
            step(t, async { self.session.expunge().await?.try_collect::<Vec<_>>().await }).await?
        };
        expunged.map(drop).map_err(|e| self.protocol(&format!("EXPUNGE {uid}"), e))
    }

    /// Waits with IDLE for up to `timeout`, then ends it with DONE.
    ///
    /// Returns the session for reuse and whether the server reported a change (a new message,
    /// an expunge or flag change) before the timeout. The caller should poll after a wake-up and
    /// also after a timeout: a server may announce nothing. Servers drop idle clients after
    /// 30 minutes (RFC 2177), so keep `timeout` well below that.
    pub async fn idle(self, timeout: Duration) -> Result<(ImapSession, bool), ImapError> {
        let ImapSession {
            session,
            server,
            user,
            mailbox,
            timeout: t,
            uid_validity,
            idle,
            mv,
            uidplus,
            known_folders,
        } = self;
        let mut handle = session.idle();
        step(t, handle.init())
            .await?
            .map_err(|e| ImapError::Protocol(format!("{server}: IDLE in {mailbox:?}: {e}")))?;
        let (wait, stop) = handle.wait_with_timeout(timeout);
        // `wait_with_timeout` bounds the wait; the outer limit only guards a stuck stream.
        let waited = step(timeout + t, wait).await;
        drop(stop);
        let woke = match waited? {
            Ok(IdleResponse::NewData(_)) => true,
            Ok(IdleResponse::Timeout | IdleResponse::ManualInterrupt) => false,
            Err(e) => return Err(ImapError::Protocol(format!("{server}: IDLE in {mailbox:?}: {e}"))),
        };
        let session = step(t, handle.done())
            .await?
            .map_err(|e| ImapError::Protocol(format!("{server}: DONE after IDLE in {mailbox:?}: {e}")))?;
        let session = ImapSession {
            session,
            server,
            user,
            mailbox,
            timeout: t,
            uid_validity,
            idle,
            mv,
            uidplus,
            known_folders,
        };
        Ok((session, woke))
    }

    /// Says LOGOUT and closes the connection; errors are ignored.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(self.timeout, self.session.logout()).await;
    }

    /// Searches after a NOOP: the server only makes mail that arrived since the last command
    /// visible to the session (EXISTS) at a command boundary, and SEARCH alone does not count.
    async fn search(&mut self, query: &str) -> Result<Vec<u32>, ImapError> {
        step(self.timeout, self.session.noop()).await?.map_err(|e| self.protocol("NOOP", e))?;
        let found = step(self.timeout, self.session.uid_search(query))
            .await?
            .map_err(|e| self.protocol(&format!("UID SEARCH {query}"), e))?;
        let mut uids: Vec<u32> = found.into_iter().collect();
        uids.sort_unstable();
        Ok(uids)
    }

    async fn store(&mut self, uid: u32, what: &str) -> Result<(), ImapError> {
        step(self.timeout, async {
            self.session.uid_store(uid.to_string(), what).await?.try_collect::<Vec<_>>().await
        })
        .await?
        .map(drop)
        .map_err(|e| self.protocol(&format!("UID STORE {uid} {what}"), e))
    }

    async fn ensure_folder(&mut self, folder: &str, encoded: &str) -> Result<(), ImapError> {
        if self.known_folders.contains(encoded) {
            return Ok(());
        }
        if !self.folder_exists(folder, encoded).await? {
            let created = step(self.timeout, self.session.create(encoded)).await?;
            if let Err(e) = created {
                // Another client may have created it in the meantime.
                if !self.folder_exists(folder, encoded).await? {
                    return Err(self.protocol(&format!("CREATE {folder:?}"), e));
                }
            }
        }
        self.known_folders.insert(encoded.to_owned());
        Ok(())
    }

    async fn folder_exists(&mut self, folder: &str, encoded: &str) -> Result<bool, ImapError> {
        let pattern = quote(encoded);
        let names = step(self.timeout, async {
            self.session.list(Some(""), Some(&pattern)).await?.try_collect::<Vec<_>>().await
        })
        .await?
        .map_err(|e| self.protocol(&format!("LIST {folder:?}"), e))?;
        Ok(names.iter().any(|n| n.name() == encoded))
    }

    fn protocol(&self, what: &str, e: async_imap::error::Error) -> ImapError {
        ImapError::Protocol(format!("{}: {what} in {:?} as {:?}: {e}", self.server, self.mailbox, self.user))
    }
}

/// Runs one network step under the time limit.
async fn step<T>(limit: Duration, fut: impl Future<Output = T>) -> Result<T, ImapError> {
    tokio::time::timeout(limit, fut).await.map_err(|_| ImapError::Timeout)
}

async fn read_greeting(client: &mut Client<Conn>, t: Duration, server: &str) -> Result<(), ImapError> {
    let greeting = step(t, client.read_response())
        .await?
        .map_err(|e| ImapError::Connect(format!("{server}: reading the greeting: {e}")))?
        .ok_or_else(|| ImapError::Connect(format!("{server}: closed the connection before greeting")))?;
    match greeting.parsed() {
        Response::Data { status: Status::Ok | Status::PreAuth, .. } => Ok(()),
        Response::Data { status, outcome } => Err(ImapError::Connect(format!(
            "{server}: greeting {status:?}: {}",
            outcome.information.as_deref().unwrap_or("")
        ))),
        other => Err(ImapError::Connect(format!("{server}: unexpected greeting {other:?}"))),
    }
}

async fn tls_handshake(
    tcp: TcpStream,
    s: &ImapSettings,
    server: &str,
) -> Result<TlsStream<TcpStream>, ImapError> {
    let config = client_config(s.ca_file.as_deref()).map_err(|e| ImapError::Tls(format!("{server}: {e}")))?;
    let name = ServerName::try_from(s.host.clone())
        .map_err(|e| ImapError::Tls(format!("{server}: {:?} is not a valid TLS server name: {e}", s.host)))?;
    step(s.timeout, TlsConnector::from(Arc::new(config)).connect(name, tcp))
        .await?
        .map_err(|e| ImapError::Tls(format!("{server}: TLS handshake: {e}")))
}

/// A rustls client configuration (ring) trusting the web PKI roots, the host's roots and
/// `ca_file`.
fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots.add_parsable_certificates(native_roots().iter().cloned());
    for cert in extra_roots(ca_file)? {
        roots.add(cert).map_err(|e| format!("CA file: unusable certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The host's installed CA certificates that rustls can use, loaded once per process.
pub(crate) fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        rustls_native_certs::load_native_certs()
            .certs
            .into_iter()
            .filter(|c| RootCertStore::empty().add(c.clone()).is_ok())
            .collect()
    })
}

/// The certificates in the PEM file `ca_file`: an error when it cannot be read or holds none.
pub(crate) fn extra_roots(ca_file: Option<&Path>) -> Result<Vec<CertificateDer<'static>>, String> {
    let Some(path) = ca_file else {
        return Ok(Vec::new());
    };
    let pem = std::fs::read(path).map_err(|e| format!("CA file {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("CA file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("CA file {}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

/// An IMAP quoted string.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Encodes a UTF-8 mailbox name as IMAP modified UTF-7 (RFC 3501 §5.1.3): printable ASCII
/// stays, `&` becomes `&-`, anything else is UTF-16BE in base64 (`,` for `/`, no padding)
/// between `&` and `-`.
pub fn encode_mailbox_name(name: &str) -> String {
    fn flush(out: &mut String, pending: &mut Vec<u16>) {
        if pending.is_empty() {
            return;
        }
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out.push('-');
        pending.clear();
    }

    let mut out = String::with_capacity(name.len());
    let mut pending = Vec::new();
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut out, &mut pending);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            pending.extend_from_slice(ch.encode_utf16(&mut [0; 2]));
        }
    }
    flush(&mut out, &mut pending);
    out
}

/// The byte stream under async-imap: plain TCP, or TLS over TCP (possibly after STARTTLS).
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Conn::Plain(_) => "Conn::Plain",
            Conn::Tls(_) => "Conn::Tls",
        })
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf7_names() {
        assert_eq!(encode_mailbox_name("INBOX"), "INBOX");
        assert_eq!(encode_mailbox_name("Tom & Jerry"), "Tom &- Jerry");
        // RFC 3501 §5.1.3's example.
        assert_eq!(encode_mailbox_name("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(encode_mailbox_name("已处理"), "&XfJZBHQG-");
        assert_eq!(encode_mailbox_name("工单.已处理"), "&XeVTVQ-.&XfJZBHQG-");
        // Outside the BMP: a surrogate pair.
        assert_eq!(encode_mailbox_name("𠂇"), "&2EDchw-");
    }

    #[test]
    fn settings_debug_hides_the_password() {
        let s = ImapSettings {
            host: "mail.court.example".into(),
            port: 993,
            security: Security::Tls,
            user: "ops".into(),
            password: "hunter2-secret".into(),
            mailbox: "INBOX".into(),
            ca_file: None,
            timeout: Duration::from_secs(30),
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
