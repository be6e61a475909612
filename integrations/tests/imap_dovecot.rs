//! The IMAP client against a throwaway Dovecot, and the SMTP sender against the in-process sink
//! (both in `tests/common/mail_server.rs`). Without Dovecot the IMAP tests skip themselves, except
//! under CI.

#[path = "../../tests/common/mail_server.rs"]
mod mail_server;

use std::time::{Duration, Instant};

use lettre::Message;
use lettre::message::header::ContentType;
use mail_server::{Dovecot, SmtpSink};
use zhiban_integrations::email::imap::{ImapError, ImapSession, ImapSettings, Security};
use zhiban_integrations::email::smtp::{SmtpError, SmtpSender, SmtpSettings};

const TIMEOUT: Duration = Duration::from_secs(10);

fn settings(d: &Dovecot, security: Security) -> ImapSettings {
    let (host, port) = match security {
        Security::Tls => ("localhost", d.imaps_port),
        Security::StartTls | Security::Plain => ("127.0.0.1", d.imap_port),
    };
    ImapSettings {
        host: host.into(),
        port,
        security,
        user: d.user.clone(),
        password: d.password.clone(),
        mailbox: "INBOX".into(),
        ca_file: (security != Security::Plain).then(|| d.ca_pem.clone()),
        timeout: TIMEOUT,
    }
}

fn mail(n: u32) -> Vec<u8> {
    format!(
        "From: 张三 <zhangsan@court.example>\r\n\
         To: duty@court.example\r\n\
         Subject: =?UTF-8?B?5a6h5Yik57O757uf5peg5rOV55m75b2V?= {n}\r\n\
         Message-ID: <m{n}@court.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         第 {n} 封：审判系统无法登录。\r\n"
    )
    .into_bytes()
}

async fn connect(d: &Dovecot, security: Security) -> ImapSession {
    ImapSession::connect(&settings(d, security))
        .await
        .unwrap_or_else(|e| panic!("connect {security:?}: {e}\n{}", d.logs()))
}

#[tokio::test]
async fn plain_tls_and_starttls_connect_and_uid_validity_is_stable() {
    let Some(d) = Dovecot::start().await else { return };
    let plain = connect(&d, Security::Plain).await;
    assert!(plain.uid_validity() > 0);
    assert!(plain.supports_idle());
    assert!(plain.supports_move());
    let validity = plain.uid_validity();
    plain.logout().await;

    for security in [Security::Tls, Security::StartTls, Security::Plain] {
        let s = connect(&d, security).await;
        assert_eq!(s.uid_validity(), validity, "{security:?}");
        s.logout().await;
    }
}

#[tokio::test]
async fn tls_without_the_ca_file_is_a_tls_error() {
    let Some(d) = Dovecot::start().await else { return };
    for security in [Security::Tls, Security::StartTls] {
        let s = ImapSettings { ca_file: None, host: "localhost".into(), ..settings(&d, security) };
        let err = ImapSession::connect(&s).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ImapError::Tls(_)), "{security:?}: {err:?}");
        assert!(text.contains(&format!("localhost:{}", s.port)), "{text}");
    }
    // A CA file that does not exist is named in the error.
    let s = ImapSettings { ca_file: Some(d.dir.join("missing-ca.pem")), ..settings(&d, Security::Tls) };
    let err = ImapSession::connect(&s).await.unwrap_err();
    assert!(matches!(&err, ImapError::Tls(m) if m.contains("missing-ca.pem")), "{err:?}");
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_naming_the_user_but_not_the_password() {
    let Some(d) = Dovecot::start().await else { return };
    for security in [Security::Plain, Security::Tls] {
        let s = ImapSettings { password: "wrong-Secret-42".into(), ..settings(&d, security) };
        let err = ImapSession::connect(&s).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ImapError::Auth(_)), "{err:?}");
        assert!(text.contains(&d.user) && text.contains(&s.port.to_string()), "{text}");
        assert!(
            !text.contains("wrong-Secret-42") && !format!("{err:?}").contains("wrong-Secret-42"),
            "{text}"
        );
    }
    // Nothing listening: a connect error naming the address.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = ImapSettings { port, ..settings(&d, Security::Plain) };
    let err = ImapSession::connect(&s).await.unwrap_err();
    assert!(matches!(&err, ImapError::Connect(m) if m.contains(&format!("127.0.0.1:{port}"))), "{err:?}");
}

#[tokio::test]
async fn a_missing_mailbox_is_a_protocol_error_naming_it() {
    let Some(d) = Dovecot::start().await else { return };
    let s = ImapSettings { mailbox: "工单".into(), ..settings(&d, Security::Plain) };
    let err = ImapSession::connect(&s).await.unwrap_err();
    assert!(matches!(&err, ImapError::Protocol(m) if m.contains("工单")), "{err:?}");
}

#[tokio::test]
async fn uids_unseen_fetch_and_mark_seen() {
    let Some(d) = Dovecot::start().await else { return };
    let mut s = connect(&d, Security::Plain).await;
    assert_eq!(s.uids_after(0).await.unwrap(), Vec::<u32>::new());
    assert_eq!(s.unseen().await.unwrap(), Vec::<u32>::new());

    for n in 1..=3 {
        d.deliver(&mail(n));
    }
    assert_eq!(s.uids_after(0).await.unwrap(), [1, 2, 3]);
    assert_eq!(s.uids_after(1).await.unwrap(), [2, 3]);
    // "UID 4:*" matches message 3 on the server: it must be filtered out.
    assert_eq!(s.uids_after(3).await.unwrap(), Vec::<u32>::new());
    assert_eq!(s.uids_after(100).await.unwrap(), Vec::<u32>::new());
    assert_eq!(s.uids_after(u32::MAX).await.unwrap(), Vec::<u32>::new());
    assert_eq!(s.unseen().await.unwrap(), [1, 2, 3]);

    let raw = s.fetch(2).await.unwrap().expect("message 2");
    assert_eq!(raw, mail(2), "the bytes as delivered");
    assert!(!d.flags("INBOX", 2).contains(&"\\Seen".to_owned()), "BODY.PEEK must not set \\Seen");
    assert_eq!(s.unseen().await.unwrap(), [1, 2, 3]);
    assert_eq!(s.fetch(99).await.unwrap(), None);

    s.mark_seen(2).await.unwrap();
    assert_eq!(d.flags("INBOX", 2), ["\\Seen"]);
    assert_eq!(s.unseen().await.unwrap(), [1, 3]);
    assert_eq!(s.uids_after(0).await.unwrap(), [1, 2, 3]);
    s.logout().await;
}

#[tokio::test]
async fn move_to_creates_folders_including_chinese_names() {
    let Some(d) = Dovecot::start().await else { return };
    for n in 1..=3 {
        d.deliver(&mail(n));
    }
    let mut s = connect(&d, Security::StartTls).await;
    s.move_to(1, "已处理").await.unwrap();
    s.move_to(2, "已处理").await.unwrap();
    s.move_to(3, "Processed").await.unwrap();

    let boxes = d.mailboxes();
    assert!(boxes.contains(&"已处理".to_owned()), "{boxes:?}");
    assert_eq!(d.mailbox_count("已处理"), 2);
    assert_eq!(d.mailbox_count("Processed"), 1);
    assert_eq!(d.mailbox_count("INBOX"), 0);
    assert_eq!(s.uids_after(0).await.unwrap(), Vec::<u32>::new());

    // A new session finds the existing folder (LIST) instead of failing on CREATE.
    d.deliver(&mail(4));
    s.logout().await;
    let mut s = connect(&d, Security::Plain).await;
    s.move_to(4, "已处理").await.unwrap();
    assert_eq!(d.mailbox_count("已处理"), 3);
    assert!(!d.flags("已处理", 3).contains(&"\\Deleted".to_owned()));
    s.logout().await;
}

#[tokio::test]
async fn move_to_without_move_or_uidplus_copies_and_expunges() {
    let Some(d) = Dovecot::start_with_config("imap_capability = IMAP4rev1 LITERAL+ IDLE").await else {
        return;
    };
    for n in 1..=3 {
        d.deliver(&mail(n));
    }
    let mut s = connect(&d, Security::Plain).await;
    assert!(!s.supports_move());
    s.move_to(2, "已处理").await.unwrap();
    assert_eq!(d.mailbox_count("已处理"), 1);
    assert_eq!(d.mailbox_count("INBOX"), 2);
    assert_eq!(s.uids_after(0).await.unwrap(), [1, 3]);
    assert!(!d.flags("已处理", 1).contains(&"\\Deleted".to_owned()), "the copy is not deleted");
    s.move_to(3, "已处理").await.unwrap();
    assert_eq!(s.uids_after(0).await.unwrap(), [1]);
    assert_eq!(d.mailbox_count("已处理"), 2);
    s.logout().await;
}

#[tokio::test]
async fn idle_wakes_when_mail_arrives_and_times_out_otherwise() {
    let Some(d) = Dovecot::start().await else { return };
    let s = connect(&d, Security::Tls).await;

    let started = Instant::now();
    let (s, woke) = s.idle(Duration::from_millis(800)).await.unwrap();
    assert!(!woke, "nothing arrived");
    assert!(started.elapsed() >= Duration::from_millis(700), "{:?}", started.elapsed());

    let d = std::sync::Arc::new(d);
    let deliverer = {
        let d = d.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            d.deliver(&mail(1));
        })
    };
    let started = Instant::now();
    let (mut s, woke) = s.idle(Duration::from_secs(20)).await.unwrap();
    let waited = started.elapsed();
    deliverer.join().unwrap();
    assert!(woke, "IDLE should wake on new mail");
    assert!(waited < Duration::from_secs(6), "woke after {waited:?}");

    // The session is usable after DONE.
    assert_eq!(s.uids_after(0).await.unwrap(), [1]);
    s.logout().await;
}

fn sink_settings(sink: &SmtpSink) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port: sink.port(),
        security: Security::Plain,
        user: Some("zhiban@court.example".into()),
        password: Some("smtp-pw-9".into()),
        ca_file: None,
        timeout: TIMEOUT,
        hello_name: Some("zhiban.court.example".into()),
    }
}

fn message(to: &str, subject: &str) -> Message {
    Message::builder()
        .from("值班机器人 <zhiban@court.example>".parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body("审判系统无法登录，请处理。\n".to_owned())
        .unwrap()
}

#[tokio::test]
async fn smtp_sends_a_chinese_subject_with_auth() {
    let sink = SmtpSink::start_with_auth("zhiban@court.example", "smtp-pw-9").await;
    let sender = SmtpSender::new(&sink_settings(&sink)).unwrap();
    sender.send(message("李四 <lisi@court.example>", "【工单 20261125-003】审判系统无法登录")).await.unwrap();
    sender.send(message("wangwu@court.example", "第二封")).await.unwrap();

    let got = sink.wait_for(2, TIMEOUT).await;
    assert_eq!(got[0].from, "zhiban@court.example");
    assert_eq!(got[0].to, ["lisi@court.example"]);
    assert_eq!(got[0].auth_user.as_deref(), Some("zhiban@court.example"));
    let parsed = mail_parser::MessageParser::default().parse(&got[0].raw).unwrap();
    assert_eq!(parsed.subject(), Some("【工单 20261125-003】审判系统无法登录"));
    assert_eq!(parsed.body_text(0).unwrap().trim_end(), "审判系统无法登录，请处理。");
    assert!(got[0].raw.is_ascii(), "headers and body go out 7-bit encoded");
    assert_eq!(got[1].to, ["wangwu@court.example"]);

    // Wrong password: the relay's 535 is permanent, and the password is not in the message.
    let bad = SmtpSettings { password: Some("nope-pw-1".into()), ..sink_settings(&sink) };
    let err = SmtpSender::new(&bad).unwrap().send(message("lisi@court.example", "x")).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(!err.to_string().contains("nope-pw-1"));
}

#[tokio::test]
async fn smtp_550_recipient_is_permanent_and_451_is_transient() {
    let sink = SmtpSink::start().await;
    sink.reject_recipient("nobody@court.example");
    let sender =
        SmtpSender::new(&SmtpSettings { user: None, password: None, ..sink_settings(&sink) }).unwrap();

    let err = sender.send(message("nobody@court.example", "退信")).await.unwrap_err();
    assert!(matches!(&err, SmtpError::Permanent(m) if m.contains("550")), "{err:?}");
    assert!(err.is_permanent());
    assert!(err.to_string().contains(&format!("127.0.0.1:{}", sink.port())), "{err}");

    sink.fail_next_data();
    let err = sender.send(message("lisi@court.example", "稍后重试")).await.unwrap_err();
    assert!(matches!(&err, SmtpError::Transient(m) if m.contains("451")), "{err:?}");
    assert!(!err.is_permanent());

    // The pooled sender recovers after both.
    sender.send(message("lisi@court.example", "恢复")).await.unwrap();
    let got = sink.wait_for(1, TIMEOUT).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["lisi@court.example"]);
}

#[tokio::test]
async fn smtp_unreachable_relay_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: Security::Plain,
        user: None,
        password: None,
        ca_file: None,
        timeout: Duration::from_secs(2),
        hello_name: None,
    };
    let err = SmtpSender::new(&s).unwrap().send(message("lisi@court.example", "x")).await.unwrap_err();
    assert!(matches!(err, SmtpError::Transient(_)), "{err:?}");
}
