//! Real-looking mail from Chinese mail systems (`tests/mail/*.eml`, raw bytes in their own charsets)
//! through `parse_mail`, plus a proptest that random bytes and mutated fixtures never panic.

use std::path::PathBuf;

use proptest::prelude::*;
use zhiban_integrations::email::{
    Automatic, InboundMail, MailError, parse_mail, strip_quoted, ticket_in_subject,
};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mail").join(name)
}

fn raw(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse(name: &str) -> InboundMail {
    parse_mail(&raw(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const GOOD: &[&str] = &[
    "gbk_base64_subject.eml",
    "gb2312_qp.eml",
    "gb18030_4byte.eml",
    "big5.eml",
    "html_only_foxmail.eml",
    "gbk_attachment_rfc2231.eml",
    "gbk_no_charset.eml",
    "outlook_ooo_zh.eml",
    "bounce_mailer_daemon.eml",
    "mailing_list.eml",
    "foxmail_reply_ticket.eml",
    "gbk_8bit_headers.eml",
];

#[test]
fn gbk_base64_body_and_rfc2047_subject() {
    let m = parse("gbk_base64_subject.eml");
    assert_eq!(m.subject, "审判系统无法登录（第三审判庭）");
    let from = m.from.as_ref().unwrap();
    assert_eq!(from.name.as_deref(), Some("李四"));
    assert_eq!(from.address, "lisi@court.gov.cn", "domain lowercased");
    assert_eq!(m.to[0].name.as_deref(), Some("值班"));
    assert_eq!(m.cc[0].address, "wangwu@court.gov.cn");
    assert_eq!(m.message_id.as_deref(), Some("1a2b3c4d.5e6f.18c0d9e1f2a.Coremail.lisi@court.gov.cn"));
    assert!(m.text.starts_with("值班同志：\n\n第三审判庭的审判系统从上午九点起无法登录"), "{}", m.text);
    assert!(m.text.ends_with("某某区人民法院 第三审判庭"), "{:?}", m.text);
    assert_eq!(m.date.unwrap().to_string(), "2026-11-24T01:12:30Z");
    assert_eq!(m.html, None);
    assert!(m.attachments.is_empty());
    assert_eq!(m.automatic, None);
}

#[test]
fn gb2312_quoted_printable() {
    let m = parse("gb2312_qp.eml");
    assert_eq!(m.subject, "系统升级通知");
    assert_eq!(m.text, "各位好：\n\n今晚22:00至23:00进行电子卷宗系统升级，期间无法上传卷宗。\n\n信息技术处");
}

#[test]
fn gb18030_four_byte_character() {
    let m = parse("gb18030_4byte.eml");
    assert_eq!(m.subject, "生僻字𠂇显示异常");
    assert_eq!(m.from.unwrap().name.as_deref(), Some("立案庭"));
    assert_eq!(m.text, "当事人姓名含生僻字“𠂇”，立案系统显示为问号，请协助处理。");
}

#[test]
fn big5() {
    let m = parse("big5.eml");
    assert_eq!(m.subject, "視訊開庭系統無法連線");
    assert_eq!(m.from.unwrap().name.as_deref(), Some("資訊室"));
    assert_eq!(m.text, "您好，本院視訊開庭系統無法連線，請協助。\n臺北地方法院 資訊室");
}

#[test]
fn html_only_foxmail_becomes_text() {
    let m = parse("html_only_foxmail.eml");
    assert_eq!(m.subject, "庭审直播推流中断");
    assert!(m.html.as_deref().unwrap().contains("<ol><li>重启编码器</li>"));
    assert_eq!(
        m.text,
        "值班室：\n\n庭审直播平台 推流中断，画面黑屏。\n已尝试：\n1. 重启编码器\n2. 更换网线\n\n\
         监控截图见 监控面板 (https://monitor.court.gov.cn/d/abc)。\n\n赵六 <zhaoliu@court.gov.cn>"
    );
}

#[test]
fn rfc2231_gbk_attachment_and_inline_image() {
    let m = parse("gbk_attachment_rfc2231.eml");
    assert_eq!(m.subject, "十一月排班表");
    assert_eq!(m.text, "附件是十一月排班表，请查收。");
    assert!(m.html.as_deref().unwrap().contains("cid:logo@court"));
    let names: Vec<&str> = m.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["attachment-1.png", "十一月排班表.xlsx"]);
    assert_eq!(m.attachments[0].mime, "image/png");
    assert!(m.attachments[0].data.starts_with(b"\x89PNG\r\n"));
    let xlsx = &m.attachments[1];
    assert_eq!(xlsx.mime, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    let expected: Vec<u8> = (0..4).flat_map(|_| 0..=255u8).collect();
    assert_eq!(xlsx.data, expected);
}

#[test]
fn gbk_body_without_charset_label_is_retried_as_gb18030() {
    let m = parse("gbk_no_charset.eml");
    assert_eq!(m.text, "OA系统审批流程卡在“庭长审批”一步，无法提交。");
}

#[test]
fn raw_8bit_gbk_headers_and_attachment_name() {
    let m = parse("gbk_8bit_headers.eml");
    assert_eq!(m.subject, "卷宗扫描仪故障");
    assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("档案室"));
    assert_eq!(m.text, "扫描仪报错，日志见附件。");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].name, "扫描日志.txt");
    assert_eq!(m.attachments[0].mime, "text/plain");
    // A file keeps its own bytes (GBK here), not mail-parser's UTF-8 rendering; the CRLF before the
    // boundary belongs to the delimiter (RFC 2046 §5.1.1).
    assert_eq!(m.attachments[0].data, "错误码 E-1024".encode_gbk());
}

trait EncodeGbk {
    fn encode_gbk(&self) -> Vec<u8>;
}
impl EncodeGbk for str {
    fn encode_gbk(&self) -> Vec<u8> {
        encoding_rs::GBK.encode(self).0.into_owned()
    }
}

#[test]
fn outlook_chinese_out_of_office() {
    let m = parse("outlook_ooo_zh.eml");
    assert_eq!(m.subject, "自动回复: 【工单 20261124-007】审判系统无法登录");
    assert_eq!(m.automatic, Some(Automatic::AutoReply("Auto-Submitted: auto-replied".into())));
    assert_eq!(m.in_reply_to, ["zhiban.0011223344556677@court.gov.cn"]);
    assert_eq!(ticket_in_subject(&m.subject).as_deref(), Some("20261124-007"));
    assert!(m.text.starts_with("我于11月24日至11月30日休假"));
}

#[test]
fn bounce_from_mailer_daemon() {
    let m = parse("bounce_mailer_daemon.eml");
    assert_eq!(
        m.automatic,
        Some(Automatic::Bounce("Content-Type: multipart/report; report-type=delivery-status".into()))
    );
    assert_eq!(m.from.as_ref().unwrap().address, "MAILER-DAEMON@mail.court.gov.cn");
    assert!(m.text.contains("550 5.1.1 User unknown"), "{}", m.text);
    let mimes: Vec<&str> = m.attachments.iter().map(|a| a.mime.as_str()).collect();
    assert_eq!(mimes, ["message/delivery-status", "text/rfc822-headers"]);
    assert!(String::from_utf8_lossy(&m.attachments[0].data).contains("Status: 5.1.1"));
}

#[test]
fn mailing_list_is_bulk() {
    let m = parse("mailing_list.eml");
    assert_eq!(m.subject, "【周报】全国法院信息化运维周报（第47期）");
    assert_eq!(m.automatic, Some(Automatic::Bulk("Precedence: list".into())));
    assert_eq!(ticket_in_subject(&m.subject), None);
}

#[test]
fn foxmail_reply_to_a_ticket() {
    let m = parse("foxmail_reply_ticket.eml");
    assert_eq!(m.subject, "回复：【工单 20261125-003】打印机无法打印");
    assert_eq!(ticket_in_subject(&m.subject).as_deref(), Some("20261125-003"));
    assert_eq!(m.in_reply_to, ["zhiban.aabbccddeeff0011@court.gov.cn"]);
    assert_eq!(
        m.references,
        ["zhiban.0011223344556677@court.gov.cn", "zhiban.aabbccddeeff0011@court.gov.cn"]
    );
    assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("周八"));
    assert_eq!(m.automatic, None);
    assert_eq!(strip_quoted(&m.text), "已经恢复正常，谢谢！\n\n周八\n第三审判庭");
    // The HTML alternative, turned into text, strips the same way.
    let html_text = zhiban_integrations::email::html::html_to_text(m.html.as_deref().unwrap());
    assert_eq!(strip_quoted(&html_text), "已经恢复正常，谢谢！\n\n周八\n第三审判庭");
}

#[test]
fn broken_input_is_an_error_with_a_reason() {
    let err = |bytes: &[u8]| parse_mail(bytes).unwrap_err();
    assert_eq!(err(b""), MailError::Empty);
    assert_eq!(err(b" \r\n\t\n"), MailError::Empty);

    let e = err(&raw("garbage.bin"));
    assert_eq!(e.code(), "no_headers", "{e}");
    assert!(e.to_string().contains("first line is not a header field"), "{e}");

    let e = err(&raw("truncated_multipart.eml"));
    assert_eq!(e.code(), "malformed");
    assert!(e.to_string().contains("closing boundary \"------=_Part_0_1234--\""), "{e}");

    let e = err(&raw("header_only.eml"));
    assert_eq!(e.code(), "malformed");
    assert!(e.to_string().contains("header section never ends"), "{e}");

    let e = err(b"Subject: hello\r\nX-Foo: bar\r\n\r\nbody\r\n");
    assert_eq!(e, MailError::Malformed("neither a From address nor a Message-ID".into()));

    let e = err(b"From: a@b.cn\r\nContent-Type: multipart/mixed\r\n\r\nbody\r\n");
    assert!(e.to_string().contains("without a boundary"), "{e}");

    let e = err(b"Hello, this is not a mail.\nFrom: a@b.cn\n\nx");
    assert_eq!(e.code(), "no_headers");

    let big = vec![b'a'; zhiban_integrations::email::MAX_RAW_BYTES + 1];
    assert!(matches!(err(&big), MailError::TooLarge { .. }));
}

#[test]
fn mbox_from_line_and_lf_line_ends_are_accepted() {
    let m = parse_mail(b"From MAILER-DAEMON Thu Nov 26 09:00:00 2026\nFrom: a@B.cn\nSubject: x\n\nhello\n")
        .unwrap();
    assert_eq!(m.from.unwrap().address, "a@b.cn");
    assert_eq!(m.text, "hello");
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(pos, byte, op) in edits {
        if bytes.is_empty() {
            bytes.push(byte);
            continue;
        }
        let at = pos % bytes.len();
        match op % 4 {
            0 => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            2 => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

proptest! {
    // 256 cases each by default; `PROPTEST_CASES=50000` for a longer run.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_mail(&bytes);
    }

    #[test]
    fn header_like_random_input_never_panics(
        body in proptest::collection::vec(
            prop_oneof![
                Just(b"From: a@b.cn\r\n".to_vec()),
                Just(b"Content-Type: multipart/mixed; boundary=x\r\n".to_vec()),
                Just(b"Content-Type: message/rfc822\r\n".to_vec()),
                Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
                Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
                Just(b"\r\n".to_vec()),
                Just(b"--x\r\n".to_vec()),
                Just(b"--x--\r\n".to_vec()),
                Just(b"=?gbk?B?1tDOxA==?=".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..40),
            ],
            0..40,
        )
    ) {
        let bytes: Vec<u8> = body.concat();
        let _ = parse_mail(&bytes);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..GOOD.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..12),
    ) {
        let bytes = mutate(raw(GOOD[which]), &edits);
        if let Ok(mail) = parse_mail(&bytes) {
            let _ = strip_quoted(&mail.text);
            let _ = ticket_in_subject(&mail.subject);
        }
    }
}

#[test]
fn every_good_fixture_parses() {
    for name in GOOD {
        let m = parse(name);
        assert!(!m.text.contains('\u{fffd}'), "{name}: replacement character in {:?}", m.text);
        assert!(!m.subject.contains('\u{fffd}'), "{name}: replacement character in {:?}", m.subject);
    }
}
