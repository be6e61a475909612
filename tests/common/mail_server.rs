//! Mail servers for tests: a throwaway Dovecot (IMAP, IMAPS, STARTTLS) and an in-process SMTP sink.
//!
//! Shared by the root crate's tests (`tests/common/mod.rs`) and by zhiban-integrations' tests
//! (`#[path = "../../tests/common/mail_server.rs"] mod mail_server;`), so it uses only std and
//! tokio.
//!
//! [`Dovecot::start`] needs the `dovecot` and `doveadm` binaries (Debian: `dovecot-imapd`), the
//! `openssl` CLI and root (Dovecot switches to the mail user). Without them it returns `None` and
//! says why, so the test can skip itself, except when the `CI` variable is set: CI installs
//! Dovecot, so there it panics. Each instance has its own directory, ports and certificate, so
//! tests can run in parallel.
#![allow(dead_code)]

use std::collections::HashSet;
use std::io::Write as _;
use std::net::TcpListener as StdTcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The mail user's uid and gid: `nobody`, which exists everywhere and is not root.
const MAIL_UID: u32 = 65534;

/// A Dovecot serving one user on 127.0.0.1, killed and deleted on drop.
pub struct Dovecot {
    /// Plain IMAP; STARTTLS is offered and plaintext LOGIN is allowed.
    pub imap_port: u16,
    /// IMAP over implicit TLS.
    pub imaps_port: u16,
    pub user: String,
    pub password: String,
    /// The server's self-signed certificate (SAN `localhost`, `127.0.0.1`): trust it as a CA file.
    pub ca_pem: PathBuf,
    /// The instance's directory (configuration, logs, the user's Maildir).
    pub dir: PathBuf,
    /// The `dovecot.conf` to pass to `doveadm -c`.
    pub conf: PathBuf,
    child: Child,
}

impl Dovecot {
    /// Starts a fresh instance, or `None` (with the reason on stderr) when Dovecot cannot run
    /// here. Panics instead of returning `None` when `CI` is set.
    pub async fn start() -> Option<Dovecot> {
        Dovecot::start_with_config("").await
    }

    /// Like [`Dovecot::start`], with `extra` appended to `dovecot.conf`, e.g.
    /// `imap_capability = IMAP4rev1 IDLE` to hide MOVE and UIDPLUS from clients.
    pub async fn start_with_config(extra: &str) -> Option<Dovecot> {
        if let Err(why) = prerequisites() {
            if std::env::var_os("CI").is_some() {
                panic!("Dovecot is required under CI: {why}");
            }
            eprintln!("skipping: Dovecot is not available ({why})");
            return None;
        }
        let mut last_error = String::new();
        // A port picked free can be taken by a parallel test before Dovecot binds it: retry.
        for _ in 0..5 {
            match Dovecot::try_start(extra).await {
                Ok(dovecot) => return Some(dovecot),
                Err(e) => last_error = e,
            }
        }
        panic!("Dovecot did not start: {last_error}");
    }

    async fn try_start(extra: &str) -> Result<Dovecot, String> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "zhiban-dovecot-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
        ));
        let guard = DirGuard(dir.clone());
        std::fs::create_dir_all(dir.join("run")).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir.join("state")).map_err(|e| e.to_string())?;
        let user = "zhiban".to_owned();
        let password = "duty-imap-pw-7".to_owned();
        let home = dir.join("home").join(&user);
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        std::os::unix::fs::chown(&home, Some(MAIL_UID), Some(MAIL_UID)).map_err(|e| e.to_string())?;
        set_mode(&dir, 0o755)?;

        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        let openssl = tokio::process::Command::new(which("openssl").unwrap())
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .args(["-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .output()
            .await
            .map_err(|e| format!("openssl: {e}"))?;
        if !openssl.status.success() {
            return Err(format!("openssl req failed: {}", String::from_utf8_lossy(&openssl.stderr)));
        }

        let users = dir.join("users");
        std::fs::write(
            &users,
            format!("{user}:{{PLAIN}}{password}:{MAIL_UID}:{MAIL_UID}::{}::\n", home.display()),
        )
        .map_err(|e| e.to_string())?;
        set_mode(&users, 0o644)?;

        let imap_port = free_port();
        let imaps_port = free_port();
        let d = dir.display();
        let conf = dir.join("dovecot.conf");
        std::fs::write(
            &conf,
            format!(
                r#"# Throwaway test instance (tests/common/mail_server.rs).
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:~/Maildir
first_valid_uid = 1
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
{extra}
"#
            ),
        )
        .map_err(|e| e.to_string())?;

        let stderr = std::fs::File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
        let child = Command::new(which("dovecot").unwrap())
            .arg("-c")
            .arg(&conf)
            .arg("-F")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("dovecot: {e}"))?;
        std::mem::forget(guard);
        let mut dovecot = Dovecot { imap_port, imaps_port, user, password, ca_pem: cert, dir, conf, child };

        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = dovecot.child.try_wait() {
                return Err(format!("dovecot exited with {status}: {}", dovecot.logs()));
            }
            let plain = TcpStream::connect(("127.0.0.1", imap_port)).await.is_ok();
            if plain && TcpStream::connect(("127.0.0.1", imaps_port)).await.is_ok() {
                return Ok(dovecot);
            }
            if Instant::now() > deadline {
                return Err(format!("dovecot did not listen within 15 s: {}", dovecot.logs()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Puts one raw message into INBOX, as an MTA would (`doveadm save`).
    pub fn deliver(&self, raw: &[u8]) {
        self.deliver_to("INBOX", raw);
    }

    /// Puts one raw message into `folder` (UTF-8 name).
    pub fn deliver_to(&self, folder: &str, raw: &[u8]) {
        let mut child = self
            .doveadm(&["save", "-u", &self.user, "-m", folder])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run doveadm save");
        child.stdin.take().unwrap().write_all(raw).expect("write to doveadm save");
        let out = child.wait_with_output().expect("doveadm save");
        assert!(out.status.success(), "doveadm save failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// How many messages `folder` (UTF-8 name) holds; 0 when it does not exist.
    pub fn mailbox_count(&self, folder: &str) -> usize {
        let out = self
            .doveadm(&["-f", "flow", "mailbox", "status", "-u", &self.user, "messages", folder])
            .output()
            .expect("run doveadm mailbox status");
        if !out.status.success() {
            return 0;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        // `flow` prints `messages=N`, after the mailbox name on some versions.
        text.split_whitespace()
            .find_map(|field| field.strip_prefix("messages="))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected doveadm output {text:?}"))
    }

    /// The mailbox names (UTF-8) of the user.
    pub fn mailboxes(&self) -> Vec<String> {
        let out =
            self.doveadm(&["mailbox", "list", "-u", &self.user]).output().expect("run doveadm mailbox list");
        assert!(out.status.success(), "doveadm mailbox list: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
    }

    /// The flags of message `uid` in `folder`, e.g. `["\\Seen"]`.
    pub fn flags(&self, folder: &str, uid: u32) -> Vec<String> {
        let uid = uid.to_string();
        let out = self
            .doveadm(&["-f", "flow", "fetch", "-u", &self.user, "flags", "mailbox", folder, "uid", &uid])
            .output()
            .expect("run doveadm fetch");
        assert!(out.status.success(), "doveadm fetch: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let (_, flags) =
            text.trim().split_once("flags=").unwrap_or_else(|| panic!("no message {uid} in {folder}"));
        flags.split_whitespace().map(str::to_owned).collect()
    }

    /// The server's log so far (for assertion messages).
    pub fn logs(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default();
        let stderr = std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default();
        format!("{log}{stderr}")
    }

    fn doveadm(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(which("doveadm").unwrap());
        cmd.arg("-c").arg(&self.conf).args(args);
        cmd
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children (imap, auth, ...); SIGKILL would orphan them.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes a half-built instance directory on an early return.
struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn prerequisites() -> Result<(), String> {
    for bin in ["dovecot", "doveadm", "openssl"] {
        if which(bin).is_none() {
            return Err(format!("`{bin}` not found (Debian: apt-get install dovecot-imapd openssl)"));
        }
    }
    let id = Command::new("id").arg("-u").output().map_err(|e| format!("id -u: {e}"))?;
    if String::from_utf8_lossy(&id.stdout).trim() != "0" {
        return Err("the test Dovecot must run as root (it switches to the mail user)".into());
    }
    Ok(())
}

/// `bin` on PATH, or in /usr/sbin (where Debian puts `dovecot`, often not on a user's PATH).
fn which(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(bin))
        .find(|p| p.is_file())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| e.to_string())
}

fn free_port() -> u16 {
    StdTcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The MAIL FROM address (without angle brackets; empty for the null sender).
    pub from: String,
    /// The accepted RCPT TO addresses.
    pub to: Vec<String>,
    /// The message as sent after DATA, dot-unstuffed, CRLF line ends, without the final `.`.
    pub raw: Vec<u8>,
    /// The user that authenticated on the connection, if any.
    pub auth_user: Option<String>,
}

#[derive(Default)]
struct SinkState {
    messages: Vec<ReceivedMail>,
    rejected: HashSet<String>,
    fail_next_data: bool,
}

/// An in-process SMTP server on 127.0.0.1 that records what it receives. No TLS.
///
/// Speaks EHLO/HELO, AUTH PLAIN and LOGIN (when started with credentials, which it then requires
/// before MAIL), MAIL, RCPT, DATA, RSET, NOOP and QUIT.
pub struct SmtpSink {
    port: u16,
    state: Arc<Mutex<SinkState>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    /// A sink that needs no authentication.
    pub async fn start() -> SmtpSink {
        SmtpSink::spawn(None).await
    }

    /// A sink that requires AUTH with this user and password.
    pub async fn start_with_auth(user: &str, password: &str) -> SmtpSink {
        SmtpSink::spawn(Some((user.to_owned(), password.to_owned()))).await
    }

    async fn spawn(credentials: Option<(String, String)>) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the SMTP sink");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(SinkState::default()));
        let credentials = Arc::new(credentials);
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, credentials) = (shared.clone(), credentials.clone());
                tokio::spawn(async move {
                    let _ = sink_session(stream, state, credentials).await;
                });
            }
        });
        SmtpSink { port, state, task }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The messages accepted so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.state.lock().unwrap().messages.clone()
    }

    /// Waits until at least `n` messages arrived and returns them; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "SMTP sink: {} of {n} messages after {timeout:?}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Answers `RCPT TO:<address>` with 550 from now on (case-insensitive).
    pub fn reject_recipient(&self, address: &str) {
        self.state.lock().unwrap().rejected.insert(address.to_ascii_lowercase());
    }

    /// Answers the next DATA command with 451.
    pub fn fail_next_data(&self) {
        self.state.lock().unwrap().fail_next_data = true;
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn sink_session(
    stream: TcpStream,
    state: Arc<Mutex<SinkState>>,
    credentials: Arc<Option<(String, String)>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = Vec::new();
    let mut auth_user: Option<String> = None;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();

    write.write_all(b"220 sink.test ESMTP zhiban test sink\r\n").await?;
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        let upper = text.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        let reply: String = match verb {
            "EHLO" => {
                let auth = if credentials.is_some() { "250-AUTH PLAIN LOGIN\r\n" } else { "" };
                format!("250-sink.test\r\n{auth}250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 52428800\r\n")
            }
            "HELO" => "250 sink.test\r\n".into(),
            "AUTH" => {
                let Some((user, password)) = credentials.as_ref() else {
                    write.write_all(b"502 5.5.1 AUTH not offered\r\n").await?;
                    continue;
                };
                let words: Vec<&str> = text.split_whitespace().collect();
                let given = match words.get(1).map(|m| m.to_ascii_uppercase()).as_deref() {
                    Some("PLAIN") => {
                        let response = match words.get(2) {
                            Some(initial) => initial.to_string(),
                            None => ask(&mut read, &mut write, "334 \r\n").await?,
                        };
                        // authzid NUL authcid NUL password
                        let decoded = base64_decode(&response).unwrap_or_default();
                        let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
                        match parts.as_slice() {
                            [_, u, p] => Some((bytes_to_string(u), bytes_to_string(p))),
                            _ => None,
                        }
                    }
                    Some("LOGIN") => {
                        let u = match words.get(2) {
                            Some(initial) => initial.to_string(),
                            None => ask(&mut read, &mut write, "334 VXNlcm5hbWU6\r\n").await?,
                        };
                        let p = ask(&mut read, &mut write, "334 UGFzc3dvcmQ6\r\n").await?;
                        match (base64_decode(&u), base64_decode(&p)) {
                            (Some(u), Some(p)) => Some((bytes_to_string(&u), bytes_to_string(&p))),
                            _ => None,
                        }
                    }
                    _ => {
                        write.write_all(b"504 5.5.4 unrecognized authentication type\r\n").await?;
                        continue;
                    }
                };
                match given {
                    Some((u, p)) if &u == user && &p == password => {
                        auth_user = Some(u);
                        "235 2.7.0 authentication successful\r\n".into()
                    }
                    _ => "535 5.7.8 authentication credentials invalid\r\n".into(),
                }
            }
            "MAIL" if credentials.is_some() && auth_user.is_none() => {
                "530 5.7.0 authentication required\r\n".into()
            }
            "MAIL" => match path_argument(&text, "FROM:") {
                Some(address) => {
                    from = Some(address);
                    to.clear();
                    "250 2.1.0 ok\r\n".into()
                }
                None => "501 5.5.4 syntax: MAIL FROM:<address>\r\n".into(),
            },
            "RCPT" if from.is_none() => "503 5.5.1 MAIL first\r\n".into(),
            "RCPT" => match path_argument(&text, "TO:") {
                Some(address) if state.lock().unwrap().rejected.contains(&address.to_ascii_lowercase()) => {
                    format!("550 5.1.1 <{address}>: recipient address rejected: user unknown\r\n")
                }
                Some(address) => {
                    to.push(address);
                    "250 2.1.5 ok\r\n".into()
                }
                None => "501 5.5.4 syntax: RCPT TO:<address>\r\n".into(),
            },
            "DATA" if to.is_empty() => "503 5.5.1 RCPT first\r\n".into(),
            "DATA" => {
                let fail = std::mem::take(&mut state.lock().unwrap().fail_next_data);
                if fail {
                    "451 4.3.0 temporary local problem, try again later\r\n".into()
                } else {
                    write.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                    let mut raw = Vec::new();
                    loop {
                        line.clear();
                        if read.read_until(b'\n', &mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == b".\r\n" || line == b".\n" {
                            break;
                        }
                        let content = if line.starts_with(b"..") { &line[1..] } else { &line[..] };
                        raw.extend_from_slice(content);
                    }
                    let mail = ReceivedMail {
                        from: from.take().unwrap_or_default(),
                        to: std::mem::take(&mut to),
                        raw,
                        auth_user: auth_user.clone(),
                    };
                    state.lock().unwrap().messages.push(mail);
                    "250 2.0.0 ok: queued\r\n".into()
                }
            }
            "RSET" => {
                from = None;
                to.clear();
                "250 2.0.0 ok\r\n".into()
            }
            "NOOP" => "250 2.0.0 ok\r\n".into(),
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not recognized\r\n".into(),
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

/// Sends a 334 challenge and reads the client's answer line.
async fn ask(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    challenge: &str,
) -> std::io::Result<String> {
    write.write_all(challenge.as_bytes()).await?;
    let mut answer = String::new();
    read.read_line(&mut answer).await?;
    Ok(answer.trim().to_owned())
}

/// The address in `MAIL FROM:<a> ...` / `RCPT TO:<a> ...` (`prefix` is `FROM:` or `TO:`).
fn path_argument(command: &str, prefix: &str) -> Option<String> {
    let (_, rest) = command.split_once(' ')?;
    let rest = rest.trim_start();
    if !rest.get(..prefix.len())?.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = rest[prefix.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

fn bytes_to_string(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Standard base64 with optional padding; `None` on any other character.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim().trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
