//! SMS-DELIVER: what a modem returns for a received message (TS 23.040 §9.2.2.1).

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;

use super::address::Address;
use super::reader::{Reader, from_hex};
use super::userdata::{self, Payload};
use super::{Alphabet, Concat, PduError};

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverPdu {
    /// The service centre that delivered it, when the modem includes it.
    pub smsc: Option<Address>,
    pub sender: Address,
    /// When the service centre received it (TP-SCTS).
    pub timestamp: Timestamp,
    /// The service centre's UTC offset, as it stated it.
    pub offset: Offset,
    pub alphabet: Alphabet,
    /// The text of this part only; see [`Concat`] for joining.
    pub text: String,
    pub concat: Option<Concat>,
}

/// Decodes a hex SMS-DELIVER as printed by `+CMGR`/`+CMGL` in PDU mode (SMSC part first).
pub fn decode_deliver(hex: &str) -> Result<DeliverPdu, PduError> {
    let bytes = from_hex(hex)?;
    let mut r = Reader::new(&bytes);
    let smsc = Address::decode_smsc(&mut r)?;
    let first = r.u8("first octet")?;
    if first & 0x03 != 0x00 {
        return Err(PduError::Unsupported("not an SMS-DELIVER"));
    }
    let sender = Address::decode_tp(&mut r)?;
    let _pid = r.u8("protocol identifier")?;
    let alphabet = userdata::alphabet_of_dcs(r.u8("data coding scheme")?)?;
    let scts: [u8; 7] =
        r.take(7, "service centre time stamp")?.try_into().map_err(|_| PduError::BadTimestamp)?;
    let (timestamp, offset) = decode_scts(scts)?;
    let (text, concat) = userdata::decode(alphabet, first & 0x40 != 0, &mut r)?;
    Ok(DeliverPdu { smsc, sender, timestamp, offset, alphabet, text, concat })
}

/// Encodes an SMS-DELIVER; for fake modems and tests (a real modem never needs to write one).
/// The text must fit one PDU.
pub fn encode_deliver(pdu: &DeliverPdu) -> Result<String, PduError> {
    let mut bytes = Vec::new();
    match &pdu.smsc {
        Some(smsc) => smsc.encode_into(&mut bytes, false)?,
        None => bytes.push(0),
    }
    let header = pdu.concat.map(userdata::concat_header).unwrap_or_default();
    bytes.push(if header.is_empty() { 0x04 } else { 0x44 }); // DELIVER, no more messages (TP-MMS)
    pdu.sender.encode_into(&mut bytes, true)?;
    bytes.push(0x00);
    bytes.push(userdata::dcs_of(pdu.alphabet));
    bytes.extend_from_slice(&encode_scts(pdu.timestamp, pdu.offset));
    let payload = match pdu.alphabet {
        Alphabet::Gsm7 => Payload::Septets(super::gsm7::encode(&pdu.text).ok_or(PduError::NotGsm7)?.concat()),
        Alphabet::Ucs2 => Payload::Octets(pdu.text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
        Alphabet::Data8 => Payload::Octets(pdu.text.as_bytes().to_vec()),
    };
    userdata::encode(&payload, &header, &mut bytes)?;
    Ok(hex::encode_upper(bytes))
}

/// Semi-octet swapped BCD: `0x21` is 12.
fn swapped(b: u8) -> Result<u8, PduError> {
    let (lo, hi) = (b & 0x0F, b >> 4);
    if lo > 9 || hi > 9 {
        return Err(PduError::BadTimestamp);
    }
    Ok(lo * 10 + hi)
}

fn to_swapped(n: u8) -> u8 {
    (n / 10) | ((n % 10) << 4)
}

/// TP-SCTS: year, month, day, hour, minute, second in swapped BCD, then the zone in quarter hours
/// with the sign in bit 3.
fn decode_scts(s: [u8; 7]) -> Result<(Timestamp, Offset), PduError> {
    let [y, mo, d, h, mi, sec, tz] = s;
    let year = 2000 + i16::from(swapped(y)?);
    let quarters = i32::from(tz & 0x07) * 10 + i32::from(tz >> 4);
    if tz >> 4 > 9 {
        return Err(PduError::BadTimestamp);
    }
    let sign = if tz & 0x08 != 0 { -1 } else { 1 };
    let offset = Offset::from_seconds(sign * quarters * 15 * 60).map_err(|_| PduError::BadTimestamp)?;
    let civil = DateTime::new(
        year,
        i8::try_from(swapped(mo)?).map_err(|_| PduError::BadTimestamp)?,
        i8::try_from(swapped(d)?).map_err(|_| PduError::BadTimestamp)?,
        i8::try_from(swapped(h)?).map_err(|_| PduError::BadTimestamp)?,
        i8::try_from(swapped(mi)?).map_err(|_| PduError::BadTimestamp)?,
        i8::try_from(swapped(sec)?).map_err(|_| PduError::BadTimestamp)?,
        0,
    )
    .map_err(|_| PduError::BadTimestamp)?;
    let ts = offset.to_timestamp(civil).map_err(|_| PduError::BadTimestamp)?;
    Ok((ts, offset))
}

fn encode_scts(ts: Timestamp, offset: Offset) -> [u8; 7] {
    let dt = offset.to_datetime(ts);
    let two = |n: i64| to_swapped(u8::try_from(n.rem_euclid(100)).unwrap_or(0));
    let quarters = offset.seconds().unsigned_abs() / 900;
    let tz =
        to_swapped(u8::try_from(quarters.min(79)).unwrap_or(0)) | if offset.seconds() < 0 { 0x08 } else { 0 };
    [
        two(dt.year().into()),
        two(dt.month().into()),
        two(dt.day().into()),
        two(dt.hour().into()),
        two(dt.minute().into()),
        two(dt.second().into()),
        tz,
    ]
}
