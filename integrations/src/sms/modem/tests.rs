//! Driver tests against a scripted modem on `tokio::io::duplex`; the pseudo-terminal tests are in
//! `tests/sms_modem_pty.rs`.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};

use super::*;
use crate::sms::pdu::{Address, Alphabet, Concat, DeliverPdu, decode_submit, encode_deliver};
use crate::sms::{SmsError, SmsMessage};

/// One exchange: what the driver must write, and what the modem answers.
type Step = (Vec<u8>, Vec<u8>);

fn step(input: impl AsRef<[u8]>, reply: impl AsRef<[u8]>) -> Step {
    (input.as_ref().to_vec(), reply.as_ref().to_vec())
}

/// Plays the modem: checks each input byte for byte, then answers. Returns what it saw.
fn scripted(script: Vec<Step>) -> (DuplexStream, tokio::task::JoinHandle<()>) {
    let (driver_side, mut modem) = tokio::io::duplex(8192);
    let task = tokio::spawn(async move {
        for (input, reply) in script {
            let mut got = vec![0u8; input.len()];
            tokio::time::timeout(Duration::from_secs(2), modem.read_exact(&mut got))
                .await
                .expect("driver wrote too little")
                .expect("read");
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&input));
            modem.write_all(&reply).await.expect("write");
        }
        // Keep the line open until the driver is done.
        let mut rest = Vec::new();
        let _ = modem.read_to_end(&mut rest).await;
    });
    (driver_side, task)
}

fn fast() -> ModemConfig {
    ModemConfig {
        command_timeout: Duration::from_millis(300),
        send_timeout: Duration::from_millis(300),
        ..ModemConfig::default()
    }
}

fn chinese_alert_pdu() -> String {
    "0011000D91683108108300F00008A710544A8B66FF1A670D52A156685B95673A".to_string()
}

#[tokio::test]
async fn init_tolerates_echo() {
    let (io, task) = scripted(vec![
        step([0x1B], ""),
        step("ATE0\r", "ATE0\r\r\nOK\r\n"),
        step("AT+CMGF=0\r", "\r\nOK\r\n"),
        step("AT+CNMI=2,1,0,0,0\r", "\r\nOK\r\n"),
    ]);
    let mut modem = Modem::new(io, fast());
    modem.init().await.unwrap();
    drop(modem);
    task.await.unwrap();
}

#[tokio::test]
async fn send_with_unsolicited_lines_interleaved() {
    let mut pdu = chinese_alert_pdu().into_bytes();
    pdu.push(0x1A);
    let (io, task) = scripted(vec![
        step("AT+CMGS=31\r", "\r\n+CMTI: \"SM\",4\r\n\r\n> "),
        step(pdu, "\r\n+CREG: 1\r\nRING\r\n+CMGS: 12\r\n\r\nOK\r\n"),
    ]);
    let mut modem = Modem::new(io, fast());
    let receipt = modem.send(&SmsMessage::new("13800138000", "告警：服务器宕机")).await.unwrap();
    assert_eq!(receipt.provider_id.as_deref(), Some("12"));
    // The indication that arrived mid-send is kept, not lost.
    assert_eq!(modem.wait_for_new_message(Duration::from_millis(10)).await.unwrap(), Some(4));
    drop(modem);
    task.await.unwrap();
}

#[tokio::test]
async fn long_text_goes_in_parts() {
    let text = "法院电子卷宗系统故障".repeat(8); // 80 characters: 2 parts
    let mut script = Vec::new();
    let to = Address::international("8613800138000");
    let opts = crate::sms::pdu::SubmitOptions { validity: Some(0xA7), ..Default::default() };
    for (i, part) in crate::sms::pdu::encode_submit(&to, &text, &opts).unwrap().iter().enumerate() {
        let mut body = part.hex().into_bytes();
        body.push(0x1A);
        script.push(step(format!("AT+CMGS={}\r", part.tpdu_len()), "> "));
        script.push(step(body, format!("\r\n+CMGS: {}\r\n\r\nOK\r\n", 20 + i)));
    }
    let (io, task) = scripted(script);
    let mut modem = Modem::new(io, fast());
    let receipt = modem.send(&SmsMessage::new("+8613800138000", &text)).await.unwrap();
    assert_eq!(receipt.provider_id.as_deref(), Some("20,21"));
    drop(modem);
    task.await.unwrap();
}

#[tokio::test]
async fn cms_errors_are_classified() {
    let mut pdu = chinese_alert_pdu().into_bytes();
    pdu.push(0x1A);
    let (io, task) = scripted(vec![
        step("AT+CMGS=31\r", "> "),
        step(pdu.clone(), "\r\n+CMS ERROR: 500\r\n"),
        step("AT+CMGS=31\r", "> "),
        step(pdu, "\r\n+CMS ERROR: 304\r\n"),
        step("AT+CMGS=31\r", "\r\nERROR\r\n"),
    ]);
    let mut modem = Modem::new(io, fast());
    let msg = SmsMessage::new("13800138000", "告警：服务器宕机");
    let e = modem.send(&msg).await.unwrap_err();
    assert!(matches!(&e, SmsError::Modem(m) if m.contains("+CMS ERROR: 500")), "{e}");
    assert!(!e.is_permanent());
    let e = modem.send(&msg).await.unwrap_err();
    assert_eq!(
        e,
        SmsError::Rejected { code: "CMS 304".into(), message: "invalid PDU mode parameter".into() }
    );
    let e = modem.send(&msg).await.unwrap_err();
    assert!(matches!(&e, SmsError::Modem(m) if m.ends_with("ERROR")), "{e}");
    drop(modem);
    task.await.unwrap();
}

#[tokio::test]
async fn missing_prompt_times_out_and_cancels() {
    let (io, task) = scripted(vec![step("AT+CMGS=31\r", ""), step([0x1B], "")]);
    let mut modem = Modem::new(io, ModemConfig { command_timeout: Duration::from_millis(50), ..fast() });
    let started = tokio::time::Instant::now();
    let e = modem.send(&SmsMessage::new("13800138000", "告警：服务器宕机")).await.unwrap_err();
    assert!(matches!(&e, SmsError::Modem(m) if m.contains("timed out")), "{e}");
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(modem);
    task.await.unwrap();
}

#[tokio::test]
async fn bad_input_is_refused_before_talking_to_the_modem() {
    let (io, task) = scripted(vec![]);
    let mut modem = Modem::new(io, fast());
    assert!(matches!(modem.send(&SmsMessage::new("12345", "x")).await, Err(SmsError::InvalidNumber(_))));
    let huge = "值".repeat(67 * 255 + 1);
    assert!(matches!(
        modem.send(&SmsMessage::new("13800138000", &huge)).await,
        Err(SmsError::InvalidConfig(_))
    ));
    drop(modem);
    task.await.unwrap();
}

fn deliver(text: &str, concat: Option<Concat>, minute: i8) -> String {
    encode_deliver(&DeliverPdu {
        smsc: Some(Address::international("8613800100500")),
        sender: Address::international("8613800138000"),
        timestamp: jiff::civil::date(2026, 11, 25).at(13, minute, 0, 0).in_tz("UTC").unwrap().timestamp(),
        offset: jiff::tz::Offset::from_hours(8).unwrap(),
        alphabet: Alphabet::Ucs2,
        text: text.to_string(),
        concat,
    })
    .unwrap()
}

#[tokio::test]
async fn read_and_delete_after_indication() {
    let pdu = deliver("1 007", None, 0);
    let (io, task) = scripted(vec![
        step("AT+CMGR=3\r", format!("\r\n+CMGR: 0,,{}\r\n{pdu}\r\n\r\nOK\r\n", pdu.len() / 2 - 9)),
        step("AT+CMGD=3\r", "\r\nOK\r\n"),
        step("AT+CMGR=9\r", "\r\n+CMS ERROR: 321\r\n"),
    ]);
    let mut modem = Modem::new(io, fast());
    let got = modem.read(3).await.unwrap().unwrap();
    assert_eq!((got.sender.to_string().as_str(), got.text.as_str()), ("+8613800138000", "1 007"));
    modem.delete(3).await.unwrap();
    assert_eq!(modem.read(9).await.unwrap(), None);
    assert_eq!(modem.wait_for_new_message(Duration::from_millis(20)).await.unwrap(), None);
    drop(modem);
    task.await.unwrap();
}

#[tokio::test]
async fn receive_joins_parts_and_drops_unreadable() {
    let single = deliver("2 007", None, 0);
    let part2 = deliver("张三", Some(Concat { reference: 9, total: 2, seq: 2 }), 1);
    let part1 = deliver("3 007 ", Some(Concat { reference: 9, total: 2, seq: 1 }), 1);
    let sent = "0011000D91683108108300F00008A70400680069"; // a stored outgoing SUBMIT
    let listing = format!(
        "\r\n+CMGL: 1,1,,24\r\n{single}\r\n+CMGL: 2,0,,26\r\n{part2}\r\n+CMTI: \"SM\",6\r\n\
         +CMGL: 3,3,,19\r\n{sent}\r\n+CMGL: 4,0,,30\r\n{part1}\r\n+CMGL: 5,0,,3\r\n0020\r\n\r\nOK\r\n"
    );
    let (io, task) = scripted(vec![step("AT+CMGL=4\r", listing), step("AT+CMGD=5\r", "OK\r\n")]);
    let mut modem = Modem::new(io, fast());
    let received = modem.receive().await.unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].text, "2 007");
    assert_eq!(received[0].indices, vec![1]);
    assert_eq!(received[1].text, "3 007 张三");
    assert_eq!(received[1].indices, vec![4, 2]);
    assert!(received[1].complete);
    assert_eq!(received[1].at.to_string(), "2026-11-25T13:01:00Z");
    assert_eq!(modem.wait_for_new_message(Duration::ZERO).await.unwrap(), Some(6));
    drop(modem);
    task.await.unwrap();
}

#[tokio::test]
async fn closed_line_is_an_error() {
    let (io, modem_side) = tokio::io::duplex(64);
    drop(modem_side);
    let mut modem = Modem::new(io, fast());
    assert!(matches!(modem.init().await, Err(SmsError::Modem(_))));
}

#[test]
fn submit_in_script_is_what_the_spec_shows() {
    // The scripted PDUs above use the driver's default validity (24 h, A7).
    let back = decode_submit(&chinese_alert_pdu()).unwrap();
    assert_eq!(back.text, "告警：服务器宕机");
    assert_eq!(back.validity, Some(0xA7));
}

mod assembly {
    use super::*;

    fn part(index: u32, text: &str, concat: Option<(u8, u8)>, minute: i8) -> StoredSms {
        let hex = deliver(text, concat.map(|(total, seq)| Concat { reference: 1, total, seq }), minute);
        StoredSms { index, pdu: crate::sms::pdu::decode_deliver(&hex).unwrap() }
    }

    fn now(minute: i8) -> jiff::Timestamp {
        jiff::civil::date(2026, 11, 25).at(13, minute, 0, 0).in_tz("UTC").unwrap().timestamp()
    }

    #[test]
    fn young_incomplete_waits_old_incomplete_is_given_up() {
        let parts = || vec![part(1, "a", Some((3, 1)), 0), part(3, "c", Some((3, 3)), 0)];
        let ten_min = Duration::from_secs(600);
        assert!(assemble(parts(), now(5), ten_min).is_empty());
        let given_up = assemble(parts(), now(10), ten_min);
        assert_eq!(given_up.len(), 1);
        assert_eq!(given_up[0].text, "a…c");
        assert!(!given_up[0].complete);
        assert_eq!(given_up[0].indices, vec![1, 3]);
    }

    #[test]
    fn duplicates_are_used_once_and_deleted() {
        let parts =
            vec![part(1, "a", Some((2, 1)), 0), part(2, "a", Some((2, 1)), 0), part(3, "b", Some((2, 2)), 1)];
        let out = assemble(parts, now(1), Duration::from_secs(600));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text, "ab");
        assert_eq!(out[0].indices, vec![1, 3, 2]);
    }
}
