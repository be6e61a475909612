//! A GSM modem driver: AT commands (3GPP TS 27.005) in PDU mode over any byte stream.
//!
//! On an air-gapped intranet a USB GSM modem with a SIM card is the only way to reach a phone.
//! [`Modem`] drives one over anything that is `AsyncRead + AsyncWrite + Unpin`: a serial device
//! opened with [`open_serial`], a pseudo-terminal in tests, or `tokio::io::duplex`.
//!
//! - [`Modem::init`]: `ATE0` (no echo), `AT+CMGF=0` (PDU mode), optionally `AT+CNMI=2,1,0,0,0` so
//!   the modem announces new messages with `+CMTI: "SM",<index>`;
//! - [`Modem::send`]: per part `AT+CMGS=<n>`, wait for `> `, the hex PDU and Ctrl-Z, then
//!   `+CMGS: <mr>` and `OK`, or `+CMS ERROR: <n>` / `ERROR`;
//! - [`Modem::wait_for_new_message`], [`Modem::read`], [`Modem::list`], [`Modem::receive`] and
//!   [`Modem::delete`] read replies.
//!
//! Every wait has a timeout. Unsolicited lines (`+CMTI`, `RING`, `+CREG: …`) may arrive between
//! a command and its answer: they are set aside (new-message indications are queued for
//! [`Modem::wait_for_new_message`]) and never mistaken for the answer.
//!
//! Received messages are deleted only when the caller says so ([`Modem::delete_received`]),
//! after it has recorded them: a crash between reading and recording then re-reads the message
//! instead of losing an engineer's acknowledgement. Callers should therefore tolerate seeing a
//! message twice.

mod assemble;
mod driver;
mod lines;
#[cfg(unix)]
mod serial;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use assemble::{ReceivedSms, assemble};
pub use driver::Modem;
#[cfg(unix)]
pub use serial::{SerialPort, open_serial};

use super::pdu::{DeliverPdu, Encoding};

/// How the driver behaves; the defaults suit common USB modems (SIMCom, Quectel, Huawei).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemConfig {
    /// How long a plain command (`ATE0`, `AT+CMGR`) and the `> ` prompt may take.
    pub command_timeout: Duration,
    /// How long the network may take to accept a part after Ctrl-Z (TS 27.005 allows long waits).
    pub send_timeout: Duration,
    /// Send `AT+CNMI=2,1,0,0,0` during [`Modem::init`], so new messages are announced.
    pub new_message_indications: bool,
    pub encoding: Encoding,
    /// Relative TP-VP octet; the default (`0xA7`, 24 hours) keeps a page from arriving days late.
    pub validity: Option<u8>,
    /// See [`assemble`].
    pub partial_timeout: Duration,
}

impl Default for ModemConfig {
    fn default() -> Self {
        ModemConfig {
            command_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(60),
            new_message_indications: true,
            encoding: Encoding::Auto,
            validity: Some(0xA7),
            partial_timeout: Duration::from_secs(600),
        }
    }
}

/// A received message as stored on the SIM, one part of a long text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSms {
    /// The storage index, for `AT+CMGR`/`AT+CMGD`.
    pub index: u32,
    pub pdu: DeliverPdu,
}
