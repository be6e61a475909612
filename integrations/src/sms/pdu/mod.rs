//! SMS PDUs (3GPP TS 23.040 / 23.038) for GSM modems in PDU mode (`AT+CMGF=0`).
//!
//! PDU mode is used rather than text mode because it is the portable way to send Chinese: text
//! mode needs modem-specific `AT+CSCS`/`AT+CSMP` settings. This module is pure: bytes in, bytes out.
//!
//! - [`encode_submit`] turns a number and a text into one or more SMS-SUBMIT PDUs (UCS2, or GSM
//!   7-bit for pure GSM text; long texts are split with a concatenation header `05 00 03 ref total
//!   seq`: 67 UCS2 units or 153 septets per part), each with its `AT+CMGS` length;
//! - [`decode_deliver`] reads a received SMS-DELIVER: sender, service-centre time, text in GSM
//!   7-bit, 8-bit or UCS2, and concatenation info for joining parts;
//! - [`decode_submit`] and [`encode_deliver`] are the mirror images, for fake modems and tests.
//!
//! No input makes a decoder panic; malformed PDUs are a [`PduError`].
//!
//! ```
//! use zhiban_integrations::sms::pdu::{Address, Encoding, SubmitOptions, encode_submit};
//!
//! let opts = SubmitOptions { encoding: Encoding::Ucs2, ..SubmitOptions::default() };
//! let pdus = encode_submit(&Address::international("8613800138000"), "告警：服务器宕机", &opts).unwrap();
//! assert_eq!(pdus[0].tpdu_len(), 31); // AT+CMGS=31
//! assert_eq!(pdus[0].hex(), "0011000D91683108108300F00008AA10544A8B66FF1A670D52A156685B95673A");
//! ```

mod address;
mod deliver;
mod gsm7;
mod reader;
mod submit;
mod userdata;

pub use address::{Address, TypeOfNumber};
pub use deliver::{DeliverPdu, decode_deliver, encode_deliver};
pub use submit::{
    DecodedSubmit, Encoding, SubmitOptions, SubmitPdu, decode_submit, encode_submit, relative_validity,
};

/// The alphabet of a PDU's user data (from its TP-DCS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    Gsm7,
    /// 8-bit data; decoded as UTF-8 (lossy), since no standard text encoding applies.
    Data8,
    Ucs2,
}

/// Concatenation info of one part of a long message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// The same for all parts of one message (8 or 16 bits on the wire).
    pub reference: u16,
    /// Number of parts, 1..=255.
    pub total: u8,
    /// This part's number, 1..=total.
    pub seq: u8,
}

/// Why a PDU could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    #[error("PDU is not valid hex")]
    Hex,
    #[error("PDU ends inside the {0}")]
    Truncated(&'static str),
    #[error("unsupported PDU: {0}")]
    Unsupported(&'static str),
    #[error("address is not a phone number or GSM text")]
    BadAddress,
    #[error("invalid service centre time stamp")]
    BadTimestamp,
    #[error("text has characters outside the GSM 7-bit alphabet")]
    NotGsm7,
    #[error("text too long for one SMS part, or for 255 parts")]
    TooLong,
}

#[cfg(test)]
mod tests;
