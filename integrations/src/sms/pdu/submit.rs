//! SMS-SUBMIT: what we hand the modem with `AT+CMGS` (TS 23.040 §9.2.2.2), and reading it back.

use std::time::Duration;

use super::address::Address;
use super::reader::{Reader, from_hex};
use super::userdata::{self, Payload};
use super::{Alphabet, Concat, PduError};

/// Which alphabet to send in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// GSM 7-bit when every character has a GSM form (160 characters per SMS), else UCS2.
    #[default]
    Auto,
    Gsm7,
    /// UTF-16BE, 70 units per SMS: every phone shows Chinese this way.
    Ucs2,
}

/// Options for [`encode_submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitOptions {
    pub encoding: Encoding,
    /// TP-VP in relative format (see [`relative_validity`]); `None` omits it, and the SMSC keeps
    /// the message for its default time. A page that arrives a week late is noise, so the modem
    /// driver sets one.
    pub validity: Option<u8>,
    /// The concatenation reference shared by the parts of one long text; must differ between
    /// long texts sent close together to the same phone.
    pub reference: u8,
    /// Ask for a delivery report (TP-SRR).
    pub status_report: bool,
}

impl Default for SubmitOptions {
    fn default() -> Self {
        SubmitOptions { encoding: Encoding::Auto, validity: Some(0xAA), reference: 0, status_report: false }
    }
}

/// One encoded SMS-SUBMIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitPdu {
    /// The PDU as sent after the `> ` prompt: SMSC length `00` (use the SIM's SMSC), then the TPDU.
    pub bytes: Vec<u8>,
}

impl SubmitPdu {
    /// Upper-case hex, as typed after the prompt.
    pub fn hex(&self) -> String {
        hex::encode_upper(&self.bytes)
    }

    /// The `<length>` of `AT+CMGS=<length>`: octets of the TPDU, without the SMSC octet.
    pub fn tpdu_len(&self) -> usize {
        self.bytes.len().saturating_sub(1)
    }
}

/// Encodes `text` for `to` as one SMS-SUBMIT, or several with concatenation headers when it is
/// too long for one. Fails on an address that is not digits, a GSM-7 request for non-GSM text,
/// and text that needs more than 255 parts.
pub fn encode_submit(to: &Address, text: &str, opts: &SubmitOptions) -> Result<Vec<SubmitPdu>, PduError> {
    let alphabet = match opts.encoding {
        Encoding::Gsm7 => Alphabet::Gsm7,
        Encoding::Ucs2 => Alphabet::Ucs2,
        Encoding::Auto if super::gsm7::encode(text).is_some() => Alphabet::Gsm7,
        Encoding::Auto => Alphabet::Ucs2,
    };
    let parts = userdata::split(text, alphabet)?;
    let total = u8::try_from(parts.len()).map_err(|_| PduError::TooLong)?;
    let mut out = Vec::with_capacity(parts.len());
    for (seq, payload) in (1..=total).zip(parts) {
        let header = if total > 1 {
            userdata::concat_header(Concat { reference: u16::from(opts.reference), total, seq })
        } else {
            Vec::new()
        };
        out.push(encode_one(to, &payload, &header, alphabet, opts)?);
    }
    Ok(out)
}

fn encode_one(
    to: &Address,
    payload: &Payload,
    header: &[u8],
    alphabet: Alphabet,
    opts: &SubmitOptions,
) -> Result<SubmitPdu, PduError> {
    let mut first = 0x01; // TP-MTI = SMS-SUBMIT
    if opts.validity.is_some() {
        first |= 0x10; // TP-VPF = relative
    }
    if opts.status_report {
        first |= 0x20;
    }
    if !header.is_empty() {
        first |= 0x40; // TP-UDHI
    }
    let mut bytes = vec![0x00, first, 0x00]; // SMSC from SIM, first octet, TP-MR (modem assigns)
    to.encode_into(&mut bytes, true)?;
    bytes.push(0x00); // TP-PID: plain SMS
    bytes.push(userdata::dcs_of(alphabet));
    if let Some(vp) = opts.validity {
        bytes.push(vp);
    }
    userdata::encode(payload, header, &mut bytes)?;
    Ok(SubmitPdu { bytes })
}

/// The relative TP-VP octet for at least `d` (TS 23.040 §9.2.3.12.1), capped at 63 weeks.
pub fn relative_validity(d: Duration) -> u8 {
    let minutes = d.as_secs().div_ceil(60);
    let code = if minutes <= 720 {
        minutes.div_ceil(5).saturating_sub(1)
    } else if minutes <= 24 * 60 {
        143 + (minutes - 720).div_ceil(30)
    } else if minutes <= 30 * 24 * 60 {
        166 + minutes.div_ceil(24 * 60)
    } else {
        192 + minutes.div_ceil(7 * 24 * 60)
    };
    u8::try_from(code).unwrap_or(u8::MAX)
}

/// An SMS-SUBMIT read back, e.g. by a fake modem in tests or from `AT+CMGL` storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedSubmit {
    pub to: Address,
    pub alphabet: Alphabet,
    pub text: String,
    pub concat: Option<Concat>,
    /// The relative TP-VP octet, when relative validity was used.
    pub validity: Option<u8>,
    pub message_reference: u8,
    pub status_report: bool,
}

/// Decodes a hex SMS-SUBMIT (with its SMSC part, as `AT+CMGS` receives it).
pub fn decode_submit(hex: &str) -> Result<DecodedSubmit, PduError> {
    let bytes = from_hex(hex)?;
    let mut r = Reader::new(&bytes);
    Address::decode_smsc(&mut r)?;
    let first = r.u8("first octet")?;
    if first & 0x03 != 0x01 {
        return Err(PduError::Unsupported("not an SMS-SUBMIT"));
    }
    let message_reference = r.u8("message reference")?;
    let to = Address::decode_tp(&mut r)?;
    let _pid = r.u8("protocol identifier")?;
    let alphabet = userdata::alphabet_of_dcs(r.u8("data coding scheme")?)?;
    let validity = match (first >> 3) & 0x03 {
        0b10 => Some(r.u8("validity period")?),
        0b00 => None,
        _ => {
            r.take(7, "validity period")?;
            None
        }
    };
    let (text, concat) = userdata::decode(alphabet, first & 0x40 != 0, &mut r)?;
    Ok(DecodedSubmit {
        to,
        alphabet,
        text,
        concat,
        validity,
        message_reference,
        status_report: first & 0x20 != 0,
    })
}
