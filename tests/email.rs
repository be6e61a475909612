//! Email end to end against a real IMAP server (a throwaway Dovecot) and an SMTP sink, on both
//! backends: a GBK mail with an encoded subject becomes a ticket with the right text and gets an
//! answer threaded under it; a reply threads to the ticket as a comment without the quoted part;
//! an out-of-office is ignored; a broken message is quarantined; handled mail is moved; a restart
//! does not import anything twice; state changes are mailed to the reporter; pages go by mail.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::mail_server::{Dovecot, SmtpSink};
use common::*;
use zhiban::config::Config;
use zhiban_integrations::email::{parse_mail, ticket_in_subject};

const WAIT: Duration = Duration::from_secs(30);
const OOO: &[u8] = include_bytes!("../integrations/tests/mail/outlook_ooo_zh.eml");
const BROKEN: &[u8] = include_bytes!("../integrations/tests/mail/garbage.bin");

fn email_config(db: &TestDb, imap: &Dovecot, smtp: &SmtpSink, processed: Option<&str>) -> Config {
    let processed = processed.map(|f| format!("processed_folder = \"{f}\"\n")).unwrap_or_default();
    let text = format!(
        r#"{base}
[email]
from = "值班机器人 <zhiban@court.example>"

[email.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"

[[email.mailboxes]]
name = "ops"
host = "127.0.0.1"
port = {imap_port}
security = "plain"
user = "{user}"
password = "{password}"
poll_interval = "1s"
{processed}
[paging]
default_policy = "default"
link_secret = "test-link-secret-0123456789abcdef-xyz"
default_rules = [{{ channel = "mail" }}]

[[paging.channels]]
name = "mail"
kind = "email"

[[paging.policies]]
id = "default"
name = "默认"
[[paging.policies.tiers]]
targets = ["person:zhangwei"]
ack_timeout = "30m"
"#,
        base = config_text(&db.url, &Knobs::default()),
        smtp_port = smtp.port(),
        imap_port = imap.imap_port,
        user = imap.user,
        password = imap.password,
    );
    let text = text.replace(
        "[[people]]\nid = \"zhangwei\"\nname = \"张伟\"\nphone = \"13800138001\"\n",
        "[[people]]\nid = \"zhangwei\"\nname = \"张伟\"\nphone = \"13800138001\"\nemail = \"zhangwei@ops.example\"\n",
    );
    Config::parse(std::path::Path::new("test.toml"), &text, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

/// A mail as a Chinese mail system sends it: GBK body, RFC 2047 GBK subject and name.
fn gbk_mail(message_id: &str, subject: &str, body: &str, in_reply_to: Option<&str>) -> Vec<u8> {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let gbk = |s: &str| encoding_rs::GBK.encode(s).0.into_owned();
    let reply =
        in_reply_to.map(|r| format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n")).unwrap_or_default();
    let mut mail = format!(
        "From: =?GBK?B?{name}?= <clerk@court.example>\r\nTo: <zhiban@court.example>\r\nSubject: =?GBK?B?{subject}?=\r\n\
         Date: Wed, 25 Nov 2026 09:30:00 +0800\r\nMessage-ID: <{message_id}>\r\n{reply}MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        name = b64(&gbk("书记员小王")),
        subject = b64(&gbk(subject)),
    )
    .into_bytes();
    mail.extend(gbk(body));
    mail.extend(b"\r\n");
    mail
}

async fn incident_count(app: &TestApp) -> usize {
    app.incidents().await.len()
}

async fn a_gbk_mail_becomes_a_ticket_and_replies_thread(backend: Backend) {
    let Some(imap) = Dovecot::start().await else { return };
    let smtp = SmtpSink::start().await;
    let db = TestDb::new(backend).await;
    let app = TestApp::start_with(email_config(&db, &imap, &smtp, Some("已处理"))).await;

    imap.deliver(&gbk_mail(
        "first@court.example",
        "统一业务系统无法登录",
        "今天上午统一业务应用系统全院无法登录，请尽快处理。联系电话 13900139000",
        None,
    ));
    let mut ticket = String::new();
    eventually(WAIT, "the mail becomes a ticket", || {
        let app = &app;
        async move { incident_count(app).await == 1 }
    })
    .await;
    let incident = app.incidents().await.remove(0);
    ticket.push_str(incident["ticket"].as_str().unwrap());
    assert_eq!(incident["title"], "统一业务系统无法登录");
    assert_eq!(incident["system"], "tyyw");
    let shown = app.incident(&ticket).await;
    assert!(shown["description"].as_str().unwrap().contains("全院无法登录"), "{shown}");
    assert_eq!(shown["labels"]["reporter_email"], "clerk@court.example");

    // The answer: to the reporter, threaded under the mail, with the ticket in the subject.
    eventually(WAIT, "an answer to the reporter", || {
        let answered = smtp.messages().iter().any(|m| m.to.iter().any(|t| t == "clerk@court.example"));
        async move { answered }
    })
    .await;
    let sent = smtp.messages();
    let answer = sent.iter().find(|m| m.to.iter().any(|t| t == "clerk@court.example")).unwrap();
    let parsed = parse_mail(&answer.raw).unwrap();
    assert_eq!(ticket_in_subject(&parsed.subject).as_deref(), Some(ticket.as_str()), "{}", parsed.subject);
    assert_eq!(parsed.in_reply_to, ["first@court.example"]);
    assert!(parsed.text.contains(&ticket), "{}", parsed.text);
    assert!(parsed.automatic.is_some(), "zhiban's own mail is marked as automatic");

    // A reply from Foxmail with the tag and a quoted original: a comment, without the quote.
    let reply_subject = format!("回复：【工单 {ticket}】已受理：统一业务系统无法登录");
    imap.deliver(&gbk_mail(
        "second@court.example",
        &reply_subject,
        "补充：二楼第三法庭也无法登录。\r\n\r\n------------------ 原始邮件 ------------------\r\n发件人: 值班机器人\r\n您好，您报告的故障已受理",
        None,
    ));
    let commented = |shown: &serde_json::Value| {
        shown["timeline"].as_array().unwrap().iter().any(|e| {
            e["kind"] == "commented"
                && e["text"].as_str().is_some_and(|t| t.contains("二楼第三法庭") && !t.contains("原始邮件"))
        })
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let shown = app.incident(&ticket).await;
        if commented(&shown) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no comment from the reply: {shown:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // An out-of-office and a broken message open nothing; the broken one is quarantined.
    imap.deliver(OOO);
    imap.deliver(BROKEN);
    eventually(WAIT, "the broken mail is quarantined", || {
        let app = &app;
        async move {
            let (_, q) = app.get("/api/v1/mail/quarantine", ADMIN).await;
            q["mails"]
                .as_array()
                .is_some_and(|m| m.len() == 1 && !m[0]["reason"].as_str().unwrap_or("").is_empty())
        }
    })
    .await;
    eventually(WAIT, "every mail is moved to the processed folder", || {
        let done = imap.mailbox_count("INBOX") == 0 && imap.mailbox_count("已处理") >= 4;
        async move { done }
    })
    .await;
    assert_eq!(incident_count(&app).await, 1, "the out-of-office opened nothing");

    // The engineer was paged by mail, with the action link.
    let page_mail = smtp
        .messages()
        .into_iter()
        .find(|m| m.to.iter().any(|t| t == "zhangwei@ops.example"))
        .expect("a page by mail");
    let page = parse_mail(&page_mail.raw).unwrap();
    assert!(page.html.as_deref().is_some_and(|h| h.contains("/a/")), "{:?}", page.html);
    // Answering the page mail with 确认 acknowledges (the thread names the ticket).
    let page_id = page.message_id.clone().unwrap();
    let answer = format!(
        "From: 张伟 <zhangwei@ops.example>\r\nTo: zhiban@court.example\r\nSubject: Re: {}\r\n\
         Message-ID: <ack@ops.example>\r\nIn-Reply-To: <{page_id}>\r\nReferences: <{page_id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n确认\r\n\r\n> 原文\r\n",
        "page"
    )
    .into_bytes();
    imap.deliver(&answer);
    eventually(WAIT, "acknowledged by mail", || {
        let app = &app;
        let ticket = ticket.clone();
        async move { app.incident(&ticket).await["status"] == "acknowledged" }
    })
    .await;
    assert_eq!(app.incident(&ticket).await["assignee"], "zhangwei");
    // The reporter hears of it.
    eventually(WAIT, "the reporter hears of the acknowledgement", || {
        let heard =
            smtp.messages().iter().filter(|m| m.to.iter().any(|t| t == "clerk@court.example")).any(|m| {
                parse_mail(&m.raw).is_ok_and(|p| p.subject.contains(&ticket) && p.subject.contains("已确认"))
            });
        async move { heard }
    })
    .await;
    app.stop().await;
}

async fn a_restart_imports_nothing_twice(backend: Backend) {
    let Some(imap) = Dovecot::start().await else { return };
    let smtp = SmtpSink::start().await;
    let db = TestDb::new(backend).await;
    // No processed folder: handled mail is only flagged, and stays in INBOX.
    let app = TestApp::start_with(email_config(&db, &imap, &smtp, None)).await;
    imap.deliver(&gbk_mail("a@court.example", "打印机卡纸", "三楼打印机卡纸", None));
    imap.deliver(&gbk_mail("b@court.example", "网络中断", "四楼网络中断", None));
    eventually(WAIT, "two tickets", || {
        let app = &app;
        async move { incident_count(app).await == 2 }
    })
    .await;
    eventually(WAIT, "both flagged seen", || {
        let seen = imap.flags("INBOX", 1).contains(&"\\Seen".to_string())
            && imap.flags("INBOX", 2).contains(&"\\Seen".to_string());
        async move { seen }
    })
    .await;
    app.stop().await;

    let app = TestApp::start_with(email_config(&db, &imap, &smtp, None)).await;
    imap.deliver(&gbk_mail("c@court.example", "电话故障", "五楼电话故障", None));
    eventually(WAIT, "only the new mail is imported", || {
        let app = &app;
        async move { incident_count(app).await == 3 }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(incident_count(&app).await, 3);
    app.stop().await;
}

on_both_backends!(a_gbk_mail_becomes_a_ticket_and_replies_thread, a_restart_imports_nothing_twice);
