//! The AT command conversation.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::time::Instant;

use super::lines::{LineBuffer, Token};
use super::{ModemConfig, ReceivedSms, StoredSms, assemble};
use crate::sms::pdu::{self, Address, PduError, SubmitOptions};
use crate::sms::{PhoneNumber, SendReceipt, SmsError, SmsMessage};

const CTRL_Z: u8 = 0x1A;
const ESC: u8 = 0x1B;

/// A GSM modem on a byte stream. One task owns it: AT commands cannot be interleaved.
pub struct Modem<S> {
    io: S,
    lines: LineBuffer,
    cfg: ModemConfig,
    /// Storage indices announced by `+CMTI` and not yet handed out.
    new_messages: VecDeque<u32>,
    /// Concatenation reference for the next long text.
    next_reference: u8,
}

/// How a command's answer ended.
enum Final {
    Ok,
    Error(SmsError),
}

impl<S: AsyncRead + AsyncWrite + Unpin> Modem<S> {
    pub fn new(io: S, cfg: ModemConfig) -> Modem<S> {
        Modem { io, lines: LineBuffer::default(), cfg, new_messages: VecDeque::new(), next_reference: 0 }
    }

    /// Gives the stream back.
    pub fn into_inner(self) -> S {
        self.io
    }

    /// Prepares the modem: cancels any half-typed PDU left by a previous run (ESC), turns echo
    /// off, selects PDU mode and, if configured, new-message indications.
    pub async fn init(&mut self) -> Result<(), SmsError> {
        self.write(&[ESC]).await?;
        self.command("ATE0").await?;
        self.command("AT+CMGF=0").await?;
        if self.cfg.new_message_indications {
            self.command("AT+CNMI=2,1,0,0,0").await?;
        }
        Ok(())
    }

    /// Sends a text, in several parts if needed. The receipt's id is the message reference of
    /// each part (`"12"`, `"12,13"`). If a later part fails, earlier parts have been sent.
    pub async fn send(&mut self, msg: &SmsMessage) -> Result<SendReceipt, SmsError> {
        let number = PhoneNumber::parse(&msg.to)?;
        let opts = SubmitOptions {
            encoding: self.cfg.encoding,
            validity: self.cfg.validity,
            reference: self.next_reference,
            status_report: false,
        };
        let pdus = pdu::encode_submit(&Address::from(&number), &msg.text, &opts).map_err(|e| match e {
            PduError::BadAddress => SmsError::InvalidNumber(msg.to.clone()),
            other => SmsError::InvalidConfig(format!("cannot encode SMS: {other}")),
        })?;
        if pdus.len() > 1 {
            self.next_reference = self.next_reference.wrapping_add(1);
        }
        let mut references = Vec::with_capacity(pdus.len());
        for part in &pdus {
            references.push(self.send_part(part).await?);
        }
        Ok(SendReceipt { provider_id: Some(references.join(",")) })
    }

    async fn send_part(&mut self, part: &pdu::SubmitPdu) -> Result<String, SmsError> {
        let command = format!("AT+CMGS={}", part.tpdu_len());
        self.write(format!("{command}\r").as_bytes()).await?;
        let deadline = Instant::now() + self.cfg.command_timeout;
        loop {
            match self.expect_token(true, deadline, "the > prompt").await {
                Ok(Token::Prompt) => break,
                Ok(Token::Line(line)) => {
                    if let Some(Final::Error(e)) = self.final_result(&line, &command) {
                        return Err(e);
                    }
                    self.note_unsolicited(&line);
                }
                Err(e) => {
                    // Leave no half-open prompt behind for the next command.
                    let _ = self.write(&[ESC]).await;
                    return Err(e);
                }
            }
        }
        let mut pdu = part.hex().into_bytes();
        pdu.push(CTRL_Z);
        self.write(&pdu).await?;
        let deadline = Instant::now() + self.cfg.send_timeout;
        let mut reference = None;
        loop {
            let Token::Line(line) = self.expect_token(false, deadline, "+CMGS").await? else { continue };
            if let Some(mr) = line.strip_prefix("+CMGS:") {
                reference = Some(mr.trim().to_string());
                continue;
            }
            match self.final_result(&line, &command) {
                Some(Final::Ok) => {
                    return reference.ok_or_else(|| SmsError::Modem("OK without +CMGS reference".into()));
                }
                Some(Final::Error(e)) => return Err(e),
                None => self.note_unsolicited(&line),
            }
        }
    }

    /// Waits up to `timeout` for a `+CMTI` new-message indication and returns its storage index
    /// (indications that arrived during earlier commands are returned first). `None` on timeout.
    pub async fn wait_for_new_message(&mut self, timeout: Duration) -> Result<Option<u32>, SmsError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(index) = self.new_messages.pop_front() {
                return Ok(Some(index));
            }
            match self.next_token(false, deadline).await? {
                Some(Token::Line(line)) => self.note_unsolicited(&line),
                Some(Token::Prompt) => {}
                None => return Ok(None),
            }
        }
    }

    /// Reads one stored message (`AT+CMGR=<index>`). `None` for an empty slot or a stored
    /// message that is not a received one (e.g. a saved outgoing message).
    pub async fn read(&mut self, index: u32) -> Result<Option<pdu::DeliverPdu>, SmsError> {
        let lines = match self.command(&format!("AT+CMGR={index}")).await {
            Ok(lines) => lines,
            // 321: invalid memory index, how many modems report an empty slot.
            Err(SmsError::Modem(m)) if m.contains("+CMS ERROR: 321") => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut iter = lines.iter();
        while let Some(line) = iter.next() {
            if let Some(header) = line.strip_prefix("+CMGR:") {
                let stat = header.split(',').next().and_then(|s| s.trim().parse::<u8>().ok());
                let Some(body) = iter.next() else { return Ok(None) };
                if !matches!(stat, Some(0 | 1)) {
                    return Ok(None);
                }
                return pdu::decode_deliver(body)
                    .map(Some)
                    .map_err(|e| SmsError::Modem(format!("message {index} is unreadable: {e}")));
            }
        }
        Ok(None)
    }

    /// Lists all stored received messages (`AT+CMGL=4`). Stored outgoing messages are skipped;
    /// received PDUs this module cannot decode are returned as errors with their index, so the
    /// caller can delete them rather than let them fill the SIM.
    pub async fn list(&mut self) -> Result<(Vec<StoredSms>, Vec<(u32, PduError)>), SmsError> {
        let lines = self.command("AT+CMGL=4").await?;
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        let mut iter = lines.iter().peekable();
        while let Some(line) = iter.next() {
            let Some(header) = line.strip_prefix("+CMGL:") else { continue };
            let mut fields = header.split(',').map(str::trim);
            let index = fields.next().and_then(|s| s.parse::<u32>().ok());
            let stat = fields.next().and_then(|s| s.parse::<u8>().ok());
            // The PDU is the next line unless the modem printed another header (no PDU).
            let Some(body) = iter.next_if(|l| !l.starts_with("+CMGL:")) else { continue };
            let (Some(index), Some(0 | 1)) = (index, stat) else { continue };
            match pdu::decode_deliver(body) {
                Ok(pdu) => ok.push(StoredSms { index, pdu }),
                Err(e) => bad.push((index, e)),
            }
        }
        Ok((ok, bad))
    }

    /// Lists, deletes unreadable received PDUs, and joins parts ([`assemble`]) as of now.
    pub async fn receive(&mut self) -> Result<Vec<ReceivedSms>, SmsError> {
        let (stored, unreadable) = self.list().await?;
        for (index, _) in unreadable {
            self.delete(index).await?;
        }
        Ok(assemble(stored, jiff::Timestamp::now(), self.cfg.partial_timeout))
    }

    /// Deletes one stored message (`AT+CMGD=<index>`).
    pub async fn delete(&mut self, index: u32) -> Result<(), SmsError> {
        self.command(&format!("AT+CMGD={index}")).await.map(drop)
    }

    /// Deletes every stored part of a received message, once it has been recorded.
    pub async fn delete_received(&mut self, message: &ReceivedSms) -> Result<(), SmsError> {
        for &index in &message.indices {
            self.delete(index).await?;
        }
        Ok(())
    }

    /// Runs a command and returns its information lines (everything but echo, unsolicited
    /// lines and the final result).
    async fn command(&mut self, command: &str) -> Result<Vec<String>, SmsError> {
        self.write(format!("{command}\r").as_bytes()).await?;
        let deadline = Instant::now() + self.cfg.command_timeout;
        let prefix = response_prefix(command);
        let mut info = Vec::new();
        loop {
            let Token::Line(line) = self.expect_token(false, deadline, command).await? else { continue };
            match self.final_result(&line, command) {
                Some(Final::Ok) => return Ok(info),
                Some(Final::Error(e)) => return Err(e),
                None => {}
            }
            // Answers to this command carry its prefix (`+CMGL:`) or none (PDU lines); any
            // other `+`/`^` line is unsolicited.
            let unsolicited = (line.starts_with('+') || line.starts_with('^'))
                && prefix.is_none_or(|p| !line.starts_with(p))
                || matches!(line.as_str(), "RING" | "NO CARRIER");
            if unsolicited || line == command {
                self.note_unsolicited(&line);
            } else {
                info.push(line);
            }
        }
    }

    /// `OK`, `ERROR`, `+CMS ERROR: n` and `+CME ERROR: n` end a command.
    fn final_result(&self, line: &str, command: &str) -> Option<Final> {
        if line == "OK" {
            return Some(Final::Ok);
        }
        if line == "ERROR" {
            return Some(Final::Error(SmsError::Modem(format!("{command}: ERROR"))));
        }
        if let Some(code) = line.strip_prefix("+CMS ERROR:") {
            return Some(Final::Error(cms_error(command, code.trim())));
        }
        if line.starts_with("+CME ERROR:") {
            return Some(Final::Error(SmsError::Modem(format!("{command}: {line}"))));
        }
        None
    }

    /// Queues `+CMTI` indications; other unsolicited lines and echoes carry nothing we need.
    fn note_unsolicited(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("+CMTI:")
            && let Some(index) = rest.rsplit(',').next().and_then(|s| s.trim().parse::<u32>().ok())
        {
            self.new_messages.push_back(index);
        }
    }

    /// The next token, or `None` when `deadline` passes first.
    async fn next_token(
        &mut self,
        prompt_expected: bool,
        deadline: Instant,
    ) -> Result<Option<Token>, SmsError> {
        loop {
            if let Some(token) = self.lines.next(prompt_expected) {
                return Ok(Some(token));
            }
            let mut buf = [0u8; 512];
            let Ok(read) = tokio::time::timeout_at(deadline, self.io.read(&mut buf)).await else {
                return Ok(None);
            };
            let read = read.map_err(|e| SmsError::Modem(format!("read: {e}")))?;
            if read == 0 {
                return Err(SmsError::Modem("the modem closed the connection".into()));
            }
            self.lines.push(&buf[..read]);
        }
    }

    /// The next token; a timeout is an error naming what was awaited.
    async fn expect_token(&mut self, prompt: bool, deadline: Instant, what: &str) -> Result<Token, SmsError> {
        self.next_token(prompt, deadline)
            .await?
            .ok_or_else(|| SmsError::Modem(format!("timed out waiting for the answer to {what}")))
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), SmsError> {
        let io = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        };
        tokio::time::timeout(self.cfg.command_timeout, io)
            .await
            .map_err(|_| SmsError::Modem("timed out waiting for the modem to accept input".into()))?
            .map_err(|e| SmsError::Modem(format!("write: {e}")))
    }
}

/// `AT+CMGL=4` → `+CMGL:`; `None` for commands without an information response prefix.
fn response_prefix(command: &str) -> Option<&str> {
    let name = command.strip_prefix("AT")?;
    let end = name.find(['=', '?']).unwrap_or(name.len());
    let name = &name[..end];
    name.starts_with('+').then_some(name)
}

/// Maps `+CMS ERROR: <n>` (TS 27.005 §3.2.5). Errors the same PDU will always meet (unassigned
/// number, invalid PDU) are permanent; SIM, memory and network trouble may pass.
fn cms_error(command: &str, code: &str) -> SmsError {
    let n: Option<u16> = code.parse().ok();
    let meaning = match n {
        Some(1) => "unassigned number",
        Some(8) => "operator determined barring",
        Some(21) => "short message transfer rejected",
        Some(28) => "unidentified subscriber",
        Some(38) => "network out of order",
        Some(50) => "requested facility not subscribed",
        Some(300) => "ME failure",
        Some(302) => "operation not allowed",
        Some(304) => "invalid PDU mode parameter",
        Some(305) => "invalid text mode parameter",
        Some(310) => "SIM not inserted",
        Some(311) => "SIM PIN required",
        Some(313) => "SIM failure",
        Some(321) => "invalid memory index",
        Some(322) => "memory full",
        Some(330) => "SMSC address unknown",
        Some(331) => "no network service",
        Some(332) => "network timeout",
        Some(500) => "unknown error",
        _ => "",
    };
    match n {
        Some(1 | 28 | 50 | 304 | 305) => {
            SmsError::Rejected { code: format!("CMS {code}"), message: meaning.to_string() }
        }
        _ => SmsError::Modem(format!("{command}: +CMS ERROR: {code} {meaning}").trim_end().to_string()),
    }
}
