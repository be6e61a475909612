//! The modem driver against a fake modem on a real pseudo-terminal: the driver opens the slave
//! side through `open_serial` (termios raw mode, as for a USB modem) and a task plays the modem
//! on the master side.
#![cfg(unix)]

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use zhiban_integrations::sms::modem::{Modem, ModemConfig, SerialPort, open_serial};
use zhiban_integrations::sms::pdu::{Address, Alphabet, DeliverPdu, decode_submit, encode_deliver};
use zhiban_integrations::sms::{SmsError, SmsMessage};

/// How the fake modem behaves.
#[derive(Clone)]
struct Script {
    /// The answer after a PDU and Ctrl-Z.
    send_answer: &'static str,
    /// Announce message 7 right after `AT+CNMI`.
    announce: Option<String>,
}

/// What the fake modem saw.
#[derive(Debug, Default)]
struct Seen {
    commands: Vec<String>,
    /// (declared `AT+CMGS` length, PDU hex)
    pdus: Vec<(usize, String)>,
}

async fn fake_modem(mut port: SerialPort, script: Script) -> Seen {
    let mut seen = Seen::default();
    let mut buf = Vec::new();
    let mut pending_pdu: Option<usize> = None;
    let mut echo = true;
    loop {
        let mut chunk = [0u8; 256];
        // EIO once the driver closes the slave side: the end of the test.
        let n = match port.read(&mut chunk).await {
            Ok(0) | Err(_) => return seen,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            if let Some(declared) = pending_pdu {
                let Some(end) = buf.iter().position(|&b| b == 0x1A) else { break };
                let pdu: Vec<u8> = buf.drain(..=end).collect();
                seen.pdus.push((declared, String::from_utf8_lossy(&pdu[..end]).into_owned()));
                pending_pdu = None;
                port.write_all(script.send_answer.as_bytes()).await.unwrap();
                continue;
            }
            while buf.first() == Some(&0x1B) {
                buf.remove(0); // ESC: cancel, harmless in command mode
            }
            let Some(end) = buf.iter().position(|&b| b == b'\r') else { break };
            let line: Vec<u8> = buf.drain(..=end).collect();
            let command = String::from_utf8_lossy(&line[..end]).into_owned();
            if echo {
                port.write_all(&line).await.unwrap();
            }
            seen.commands.push(command.clone());
            let answer = if command == "ATE0" {
                echo = false;
                "\r\nOK\r\n".to_string()
            } else if command == "AT+CMGF=0" {
                "\r\nOK\r\n".to_string()
            } else if command.starts_with("AT+CNMI=") {
                let mut a = "\r\nOK\r\n".to_string();
                if script.announce.is_some() {
                    a.push_str("\r\n+CMTI: \"SM\",7\r\n");
                }
                a
            } else if let Some(n) = command.strip_prefix("AT+CMGS=") {
                pending_pdu = n.parse().ok();
                "\r\n> ".to_string()
            } else if command == "AT+CMGR=7" {
                let pdu = script.announce.clone().unwrap_or_default();
                format!("\r\n+CMGR: 0,,{}\r\n{pdu}\r\n\r\nOK\r\n", pdu.len() / 2 - 8)
            } else if command.starts_with("AT+CMGD=") {
                "\r\nOK\r\n".to_string()
            } else {
                "\r\nERROR\r\n".to_string()
            };
            port.write_all(answer.as_bytes()).await.unwrap();
        }
    }
}

/// Opens a pty pair: the driver's end through `open_serial`, the fake modem's end as the master.
fn pty() -> (SerialPort, SerialPort) {
    let pair = nix::pty::openpty(None, None).expect("openpty");
    let path = nix::unistd::ttyname(&pair.slave).expect("ttyname");
    let driver_end = open_serial(&path, 115_200).expect("open_serial");
    drop(pair.slave);
    let modem_end = SerialPort::from_fd(pair.master).expect("master");
    (driver_end, modem_end)
}

fn config() -> ModemConfig {
    ModemConfig {
        command_timeout: Duration::from_millis(500),
        send_timeout: Duration::from_millis(500),
        ..ModemConfig::default()
    }
}

const OK_ANSWER: &str = "\r\n+CMGS: 12\r\n\r\nOK\r\n";

#[tokio::test]
async fn sends_chinese_page_over_a_pty() {
    let (driver_end, modem_end) = pty();
    let modem_task = tokio::spawn(fake_modem(modem_end, Script { send_answer: OK_ANSWER, announce: None }));
    let mut modem = Modem::new(driver_end, config());
    modem.init().await.unwrap();
    let text = "【一级】电子卷宗系统无法登录。回复 1 007 确认 / 2 007 到场 / 3 007 转派";
    let receipt = modem.send(&SmsMessage::new("+86 138 0013 8000", text)).await.unwrap();
    assert_eq!(receipt.provider_id.as_deref(), Some("12"));
    drop(modem);

    let seen = modem_task.await.unwrap();
    // 15 header octets (first octet … UDL) + 2 per UTF-16 unit.
    let length = 15 + 2 * text.encode_utf16().count();
    assert_eq!(seen.commands, ["ATE0", "AT+CMGF=0", "AT+CNMI=2,1,0,0,0", &format!("AT+CMGS={length}")]);
    assert_eq!(seen.pdus.len(), 1);
    let (declared, hex) = &seen.pdus[0];
    assert_eq!(*declared, hex.len() / 2 - 1, "AT+CMGS length excludes the SMSC octet");
    let back = decode_submit(hex).unwrap();
    assert_eq!(back.to, Address::international("8613800138000"));
    assert_eq!(back.alphabet, Alphabet::Ucs2);
    assert_eq!(back.text, text);
}

#[tokio::test]
async fn reports_cms_error_over_a_pty() {
    let (driver_end, modem_end) = pty();
    let script = Script { send_answer: "\r\n+CMS ERROR: 500\r\n", announce: None };
    let modem_task = tokio::spawn(fake_modem(modem_end, script));
    let mut modem = Modem::new(driver_end, config());
    modem.init().await.unwrap();
    let err = modem.send(&SmsMessage::new("13800138000", "test")).await.unwrap_err();
    assert!(matches!(&err, SmsError::Modem(m) if m.contains("+CMS ERROR: 500")), "{err}");
    assert!(!err.is_permanent());
    drop(modem);
    let seen = modem_task.await.unwrap();
    assert_eq!(decode_submit(&seen.pdus[0].1).unwrap().text, "test");
}

#[tokio::test]
async fn reads_announced_reply_over_a_pty() {
    let reply = encode_deliver(&DeliverPdu {
        smsc: Some(Address::international("8613800100500")),
        sender: Address::international("8613800138000"),
        timestamp: "2026-11-25T13:30:15Z".parse().unwrap(),
        offset: jiff::tz::Offset::from_hours(8).unwrap(),
        alphabet: Alphabet::Ucs2,
        text: "确认 007".to_string(),
        concat: None,
    })
    .unwrap();
    let (driver_end, modem_end) = pty();
    let modem_task =
        tokio::spawn(fake_modem(modem_end, Script { send_answer: OK_ANSWER, announce: Some(reply) }));
    let mut modem = Modem::new(driver_end, config());
    modem.init().await.unwrap();
    let index = modem.wait_for_new_message(Duration::from_millis(500)).await.unwrap();
    assert_eq!(index, Some(7));
    let pdu = modem.read(7).await.unwrap().expect("a received message");
    assert_eq!(pdu.sender.to_string(), "+8613800138000");
    assert_eq!(pdu.text, "确认 007");
    let parsed = zhiban_integrations::sms::reply::parse_reply(&pdu.text).unwrap();
    assert_eq!(parsed.action, zhiban_integrations::sms::reply::ReplyAction::Acknowledge);
    modem.delete(7).await.unwrap();
    drop(modem);
    let seen = modem_task.await.unwrap();
    assert_eq!(seen.commands[3..], ["AT+CMGR=7", "AT+CMGD=7"]);
}

#[test]
fn unsupported_baud_rate_is_refused() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pair = nix::pty::openpty(None, None).unwrap();
        let path = nix::unistd::ttyname(&pair.slave).unwrap();
        let err = open_serial(&path, 12_345).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(open_serial("/nonexistent/ttyUSB9", 115_200).is_err());
    });
}
