//! Unit tests of the email module; fixture files are exercised in `tests/email_fixtures.rs`.

use super::*;

fn mailbox(name: Option<&str>, address: &str) -> Mailbox {
    Mailbox::new(name, address)
}

// --- ticket tags --------------------------------------------------------------------------------

#[test]
fn ticket_tags_in_all_written_forms() {
    for subject in [
        "【工单 20261124-007】审判系统无法登录",
        "回复：【工单 20261124-007】审判系统无法登录",
        "Re: [工单 20261124-007] 审判系统无法登录",
        "[工单#20261124-007]",
        "【工单：20261124-007】",
        "【工单:20261124-007】",
        "[Ticket 20261124-007] court system down",
        "[TICKET #20261124-007]",
        "【工单 ２０２６１１２４－００７】",
        "［工单 20261124-007］",
        "【 工单　20261124-007 】",
        "【工單 20261124-007】",
    ] {
        assert_eq!(ticket_in_subject(subject).as_deref(), Some("20261124-007"), "{subject}");
    }
    assert_eq!(ticket_in_subject("【工单 20261124-0123】").as_deref(), Some("20261124-0123"));
    assert_eq!(ticket_in_subject("【工单 20261124-00007】").as_deref(), Some("20261124-00007"));
    // The first valid tag wins; invalid ones are skipped.
    assert_eq!(
        ticket_in_subject("[工单 20261331-001] 【工单 20261125-003】").as_deref(),
        Some("20261125-003")
    );
}

#[test]
fn not_ticket_tags() {
    for subject in [
        "",
        "审判系统无法登录",
        "工单 20261124-007",      // no brackets
        "【工单 20261124-07】",   // short sequence
        "【工单 2026112-007】",   // short date
        "【工单 20261324-007】",  // month 13
        "【工单 20260230-007】",  // 30 February
        "【工单 20261124-007",    // unclosed
        "【工单 20261124-007x】", // junk before the bracket
        "【周报】20261124-007",
        "[Tickets 20261124-007]",
        "【工单 19991231-001】", // before 2000
    ] {
        assert_eq!(ticket_in_subject(subject), None, "{subject}");
    }
    assert_eq!(ticket_in_subject("【工单 20240229-001】").as_deref(), Some("20240229-001"));
}

#[test]
fn subject_tag_round_trips() {
    assert_eq!(subject_tag("20261124-007"), "【工单 20261124-007】");
    let subject = format!("{} 审判系统无法登录", subject_tag("20261124-007"));
    assert_eq!(ticket_in_subject(&subject).as_deref(), Some("20261124-007"));
}

// --- strip_quoted -------------------------------------------------------------------------------

#[test]
fn strip_foxmail() {
    let text = "好的，已处理。\n\n\n\n\nzhangsan@court.gov.cn\n \n在 2026/11/24 10:00，值班<duty@court.gov.cn> 写道：\n>请确认打印机是否恢复。\n>\n";
    assert_eq!(strip_quoted(text), "好的，已处理。\n\nzhangsan@court.gov.cn");
}

#[test]
fn strip_qq_mail() {
    let text = "收到，下午过去看。\n\n\n\n\n------------------\u{a0}原始邮件\u{a0}------------------\n发件人: \"值班\"<duty@court.gov.cn>;\n发送时间: 2026年11月24日(星期二) 上午10:00\n收件人: \"张三\"<12345678@qq.com>;\n主题: 【工单 20261124-007】审判系统无法登录\n\n请确认。";
    assert_eq!(strip_quoted(text), "收到，下午过去看。");
}

#[test]
fn strip_outlook_chinese() {
    let text = "王工：\r\n\r\n问题依旧，截图附后。\r\n\r\n________________________________\r\n发件人: 值班 <duty@court.gov.cn>\r\n发送时间: 2026年11月24日 10:00\r\n收件人: 王五 <wangwu@court.gov.cn>\r\n主题: 【工单 20261124-007】审判系统无法登录\r\n\r\n已重置密码。\r\n";
    assert_eq!(strip_quoted(text), "王工：\n\n问题依旧，截图附后。");
    let old = "已恢复\n\n-----原始邮件-----\n发件人: 值班 [mailto:duty@court.gov.cn]\n发送时间: 2026年11月24日 10:00\n收件人: 王五\n主题: 工单\n\n正文";
    assert_eq!(strip_quoted(old), "已恢复");
    let english = "Fixed.\n\nFrom: Duty <duty@court.gov.cn>\nSent: Tuesday, November 24, 2026 10:00 AM\nTo: Wang Wu <wangwu@court.gov.cn>\nSubject: [Ticket 20261124-007]\n\nPlease confirm.";
    assert_eq!(strip_quoted(english), "Fixed.");
}

#[test]
fn strip_netease() {
    let text = "谢谢，可以登录了。\n\n\n\n\n\n\n\n在 2026-11-24 10:00:00，\"值班\" <duty@court.gov.cn> 写道：\n>您好，\n>已为您重置密码。\n";
    assert_eq!(strip_quoted(text), "谢谢，可以登录了。");
    let reply_header = "谢谢\n---- 回复的原邮件 ----\n| 发件人 | 值班<duty@court.gov.cn> |\n| 日期 | 2026年11月24日 10:00 |\n";
    assert_eq!(strip_quoted(reply_header), "谢谢");
}

#[test]
fn strip_gmail() {
    let zh = "已确认。\n\n张三 <zhangsan@gmail.com> 于2026年11月24日周二 10:00写道：\n\n> 请确认\n>\n";
    assert_eq!(strip_quoted(zh), "已确认。");
    let en = "Confirmed, thanks.\n\nOn Tue, Nov 24, 2026 at 10:00 AM Duty Desk <duty@court.gov.cn>\nwrote:\n\n> Please confirm.\n";
    assert_eq!(strip_quoted(en), "Confirmed, thanks.");
}

#[test]
fn strip_signature_and_quotes() {
    let text = "内容一\n> 引用\n内容二\n-- \n张三\n电话 123";
    assert_eq!(strip_quoted(text), "内容一\n内容二");
}

#[test]
fn strip_is_conservative() {
    // Nothing to strip.
    assert_eq!(strip_quoted("  单行回复  \n"), "单行回复");
    // "From:" in running text is not an Outlook header block.
    let text = "From: 张三 提到的问题已解决。\n请关闭工单。";
    assert_eq!(strip_quoted(text), text);
    // "关于" contains 于 but this is no attribution line.
    let text = "关于昨天的故障，已写报告。";
    assert_eq!(strip_quoted(text), text);
    // Bottom-posting keeps the reply below the quote.
    let bottom =
        "On Tue, Nov 24, 2026 at 10:00 AM Duty <duty@court.gov.cn> wrote:\n> Please confirm.\n\nConfirmed.";
    assert_eq!(strip_quoted(bottom), "Confirmed.");
    // Only a quote: keep everything rather than return nothing.
    let only = "------------------ 原始邮件 ------------------\n发件人: a\n发送时间: b\n主题: c";
    assert_eq!(strip_quoted(only), only);
    assert_eq!(strip_quoted(""), "");
}

// --- loops ---------------------------------------------------------------------------------------

fn automatic_of(headers: &str) -> Option<Automatic> {
    let raw =
        format!("From: someone@court.gov.cn\r\nMessage-ID: <x@y>\r\n{headers}Subject: 你好\r\n\r\nbody\r\n");
    parse_mail(raw.as_bytes()).unwrap().automatic
}

#[test]
fn automatic_headers() {
    assert_eq!(automatic_of(""), None);
    assert_eq!(automatic_of("Auto-Submitted: no\r\n"), None);
    assert_eq!(
        automatic_of("Auto-Submitted: auto-generated; owner-email=\"a@b\"\r\n"),
        Some(Automatic::AutoReply("Auto-Submitted: auto-generated".into()))
    );
    assert_eq!(automatic_of("X-Autoreply: yes\r\n"), Some(Automatic::AutoReply("X-Autoreply: yes".into())));
    assert_eq!(automatic_of("x-autorespond: 1\r\n"), Some(Automatic::AutoReply("X-Autorespond: 1".into())));
    assert_eq!(
        automatic_of("X-Auto-Response-Suppress: DR, OOF, AutoReply\r\n"),
        Some(Automatic::AutoReply("X-Auto-Response-Suppress: OOF".into()))
    );
    assert_eq!(automatic_of("X-Auto-Response-Suppress: DR\r\n"), None);
    assert_eq!(automatic_of("Precedence: bulk\r\n"), Some(Automatic::Bulk("Precedence: bulk".into())));
    assert_eq!(automatic_of("Precedence: junk\r\n"), Some(Automatic::Bulk("Precedence: junk".into())));
    assert_eq!(
        automatic_of("Precedence: auto_reply\r\n"),
        Some(Automatic::AutoReply("Precedence: auto_reply".into()))
    );
    assert_eq!(
        automatic_of("List-Unsubscribe: <mailto:leave@lists.cn>\r\n"),
        Some(Automatic::Bulk("List-Unsubscribe: <mailto:leave@lists.cn>".into()))
    );
    assert_eq!(
        automatic_of("Return-Path: <>\r\n"),
        Some(Automatic::Bounce("Return-Path: <> (null sender)".into()))
    );
    assert_eq!(automatic_of("Return-Path: <a@b.cn>\r\n"), None);
}

#[test]
fn automatic_senders_and_subjects() {
    let parse = |from: &str, subject: &str| {
        let raw = format!("From: {from}\r\nSubject: {subject}\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n");
        parse_mail(raw.as_bytes()).unwrap().automatic
    };
    assert!(matches!(parse("postmaster@court.gov.cn", "hi"), Some(Automatic::Bounce(_))));
    assert!(matches!(parse("Mail Delivery System <MAILER-DAEMON@x.cn>", "hi"), Some(Automatic::Bounce(_))));
    assert!(matches!(parse("a@b.cn", "=?UTF-8?B?57O757uf6YCA5L+h?="), Some(Automatic::Bounce(_)))); // 系统退信
    assert!(matches!(parse("a@b.cn", "Automatic reply: hello"), Some(Automatic::AutoReply(_))));
    assert_eq!(parse("a@b.cn", "Re: 明天外出培训"), None);
}

// --- compose -------------------------------------------------------------------------------------

fn outgoing() -> OutgoingMail {
    OutgoingMail {
        from: mailbox(Some("值班机器人"), "duty@court.gov.cn"),
        to: vec![mailbox(Some("张三"), "zhangsan@court.gov.cn"), mailbox(None, "lisi@court.gov.cn")],
        cc: vec![mailbox(Some("信息技术处"), "xxc@court.gov.cn")],
        subject: format!("回复：{} 审判系统无法登录（第三审判庭）", subject_tag("20261124-007")),
        text: "张三：\n\n已为您重置密码，请重新登录。\n若仍有问题，直接回复本邮件。\n".into(),
        html: Some("<p>张三：</p><p>已为您重置密码，请重新登录。</p>".into()),
        in_reply_to: Some("1a2b3c4d.5e6f@court.gov.cn".into()),
        references: vec!["root-1@court.gov.cn".into(), "1a2b3c4d.5e6f@court.gov.cn".into()],
        message_id: new_message_id("court.gov.cn", "ticket:20261124-007:reply:1"),
        attachments: vec![
            MailAttachment {
                name: "十一月排班表.xlsx".into(),
                mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into(),
                data: (0..=255u8).cycle().take(3000).collect(),
            },
            MailAttachment {
                name: "操作说明 (v2).txt".into(),
                mime: "text/plain".into(),
                data: "一、重置密码\n".into(),
            },
        ],
        auto_submitted: true,
        date: Some("2026-11-24T02:00:00Z".parse().unwrap()),
    }
}

#[test]
fn compose_then_parse_round_trips() {
    let out = outgoing();
    let bytes = compose(&out).unwrap().formatted();
    let raw = String::from_utf8(bytes.clone()).expect("composed mail is ASCII");
    assert!(raw.is_ascii(), "headers and bodies are encoded");
    assert!(raw.contains("Auto-Submitted: auto-replied\r\n"), "{raw}");
    assert!(raw.contains("X-Auto-Response-Suppress: All\r\n"));

    let back = parse_mail(&bytes).unwrap();
    assert_eq!(back.subject, out.subject);
    assert_eq!(back.message_id.as_deref(), Some(out.message_id.as_str()));
    assert_eq!(back.in_reply_to, ["1a2b3c4d.5e6f@court.gov.cn"]);
    assert_eq!(back.references, out.references);
    assert_eq!(back.from.as_ref(), Some(&out.from));
    assert_eq!(back.to, out.to);
    assert_eq!(back.cc, out.cc);
    assert_eq!(back.text, out.text.trim_end());
    assert_eq!(back.html.as_deref(), out.html.as_deref());
    assert_eq!(back.date, out.date);
    assert_eq!(back.attachments, out.attachments);
    assert_eq!(back.automatic, Some(Automatic::AutoReply("Auto-Submitted: auto-replied".into())));
    assert_eq!(ticket_in_subject(&back.subject).as_deref(), Some("20261124-007"));
}

#[test]
fn compose_plain_and_not_automatic() {
    let mut out = outgoing();
    out.html = None;
    out.attachments.clear();
    out.auto_submitted = false;
    out.in_reply_to = None;
    out.references.clear();
    let bytes = compose(&out).unwrap().formatted();
    let raw = String::from_utf8_lossy(&bytes);
    assert!(!raw.contains("Auto-Submitted"));
    assert!(!raw.contains("multipart"));
    let back = parse_mail(&bytes).unwrap();
    assert_eq!(back.text, out.text.trim_end());
    assert_eq!(back.html, None);
    assert_eq!(back.automatic, None);
    assert!(back.in_reply_to.is_empty());

    // Only HTML alternative, no attachments; auto-generated when not answering.
    let mut out = outgoing();
    out.attachments.clear();
    out.in_reply_to = None;
    let raw = String::from_utf8(compose(&out).unwrap().formatted()).unwrap();
    assert!(raw.contains("Auto-Submitted: auto-generated\r\n"));
    assert!(raw.contains("multipart/alternative"));
    assert!(!raw.contains("multipart/mixed"));
}

#[test]
fn compose_rejects_bad_input() {
    let mut out = outgoing();
    out.to[0].address = "not an address".into();
    assert!(matches!(compose(&out), Err(MailError::Compose(m)) if m.contains("not an address")));

    let mut out = outgoing();
    out.message_id = "has space@x".into();
    assert!(matches!(compose(&out), Err(MailError::Compose(m)) if m.contains("Message-ID")));

    let mut out = outgoing();
    out.in_reply_to = Some("".into());
    assert!(compose(&out).is_err());

    let mut out = outgoing();
    out.to.clear();
    out.cc.clear();
    assert!(matches!(compose(&out), Err(MailError::Compose(m)) if m.contains("no recipients")));

    // Header injection through the subject or a name is neutralised, not an error.
    let mut out = outgoing();
    out.subject = "坏\r\nBcc: evil@x.cn".into();
    out.from.name = Some("值班\r\nX-Evil: 1".into());
    let raw = String::from_utf8(compose(&out).unwrap().formatted()).unwrap();
    assert!(!raw.contains("\r\nBcc:"));
    assert!(!raw.contains("\r\nX-Evil:"));
}

#[test]
fn message_ids_are_stable() {
    let a = new_message_id("Court.GOV.cn", "ticket:20261124-007:reply:1");
    assert_eq!(a, new_message_id("court.gov.cn", "ticket:20261124-007:reply:1"));
    assert_ne!(a, new_message_id("court.gov.cn", "ticket:20261124-007:reply:2"));
    assert!(a.starts_with("zhiban.") && a.ends_with("@court.gov.cn"), "{a}");
    assert_eq!(a.len(), "zhiban.".len() + 32 + "@court.gov.cn".len());
    assert!(new_message_id("", "x").ends_with("@zhiban.invalid"));
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(MailError::Empty.code(), "empty");
    let e = MailError::TooLarge { size: 30_000_000, max: MAX_RAW_BYTES };
    assert_eq!(e.to_string(), "message too large: 30000000 bytes, the limit is 26214400 bytes");
    assert_eq!(
        mailbox(Some(" 张三 "), "<Zhang.San@Court.GOV.CN>").to_string(),
        "张三 <Zhang.San@court.gov.cn>"
    );
    assert_eq!(mailbox(Some("  "), "a@b.cn").name, None);
}

// --- charsets without a usable label --------------------------------------------------------------

fn gbk(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

#[test]
fn unlabelled_html_uses_meta_charset_and_ascii_label_falls_back() {
    let mut raw = b"From: a@b.cn\r\nContent-Type: text/html\r\n\r\n".to_vec();
    raw.extend(b"<html><head><meta charset=\"big5\"></head><body><p>");
    raw.extend(encoding_rs::BIG5.encode("資訊室").0.iter());
    raw.extend(b"</p></body></html>");
    let m = parse_mail(&raw).unwrap();
    assert_eq!(m.text, "資訊室");

    let mut raw = b"From: a@b.cn\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n".to_vec();
    raw.extend(gbk("审判系统"));
    assert_eq!(parse_mail(&raw).unwrap().text, "审判系统");

    // Valid UTF-8 without a label stays UTF-8.
    let raw = "From: a@b.cn\r\nContent-Type: text/plain\r\n\r\n审判系统\r\n";
    assert_eq!(parse_mail(raw.as_bytes()).unwrap().text, "审判系统");

    // An empty body is fine.
    let m = parse_mail(b"From: a@b.cn\r\n\r\n").unwrap();
    assert_eq!((m.text.as_str(), m.subject.as_str()), ("", ""));
}
