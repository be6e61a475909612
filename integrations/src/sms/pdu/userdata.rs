//! TP-DCS and TP-UD: which alphabet, the user data header, and the text.

use super::{Alphabet, Concat, PduError, gsm7, reader::Reader};

/// The alphabet named by a TP-DCS octet (TS 23.038 §4). Reserved values fall back to GSM 7-bit,
/// as the standard tells receivers to; compressed text is not supported.
pub(super) fn alphabet_of_dcs(dcs: u8) -> Result<Alphabet, PduError> {
    match dcs >> 4 {
        0x0..=0x7 => {
            if dcs & 0x20 != 0 {
                return Err(PduError::Unsupported("compressed user data"));
            }
            Ok(match (dcs >> 2) & 0x03 {
                1 => Alphabet::Data8,
                2 => Alphabet::Ucs2,
                _ => Alphabet::Gsm7,
            })
        }
        0xE => Ok(Alphabet::Ucs2),
        0xF if dcs & 0x04 != 0 => Ok(Alphabet::Data8),
        _ => Ok(Alphabet::Gsm7),
    }
}

/// The DCS octet we write: class-less general coding.
pub(super) fn dcs_of(alphabet: Alphabet) -> u8 {
    match alphabet {
        Alphabet::Gsm7 => 0x00,
        Alphabet::Data8 => 0x04,
        Alphabet::Ucs2 => 0x08,
    }
}

/// Reads TP-UDL and TP-UD (everything left in `r`) into text and concatenation info.
pub(super) fn decode(
    alphabet: Alphabet,
    has_udh: bool,
    r: &mut Reader<'_>,
) -> Result<(String, Option<Concat>), PduError> {
    let udl = usize::from(r.u8("user data length")?);
    let ud = r.rest();
    let (header_len, concat) = if has_udh {
        let udhl = usize::from(*ud.first().ok_or(PduError::Truncated("user data header"))?);
        let header = ud.get(1..1 + udhl).ok_or(PduError::Truncated("user data header"))?;
        (1 + udhl, parse_concat(header))
    } else {
        (0, None)
    };
    let text = match alphabet {
        Alphabet::Gsm7 => {
            // UDL counts septets, the header included; the text starts at the next septet boundary.
            let header_septets = (header_len * 8).div_ceil(7);
            let count = udl.checked_sub(header_septets).ok_or(PduError::Truncated("user data"))?;
            let fill = header_septets * 7 - header_len * 8;
            let body = ud.get(header_len..).unwrap_or_default();
            let septets = gsm7::unpack(body, fill, count);
            if septets.len() < count {
                return Err(PduError::Truncated("user data"));
            }
            gsm7::decode(&septets)
        }
        Alphabet::Ucs2 | Alphabet::Data8 => {
            let body = ud.get(header_len..udl).ok_or(PduError::Truncated("user data"))?;
            if alphabet == Alphabet::Ucs2 {
                let units: Vec<u16> =
                    body.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect();
                String::from_utf16_lossy(&units)
            } else {
                String::from_utf8_lossy(body).into_owned()
            }
        }
    };
    Ok((text, concat))
}

/// Finds a concatenation element (IEI 0x00, 8-bit reference; IEI 0x08, 16-bit reference) in a
/// user data header; ignores other elements and nonsensical values.
fn parse_concat(mut header: &[u8]) -> Option<Concat> {
    while let [iei, len, rest @ ..] = header {
        let len = usize::from(*len);
        let data = rest.get(..len)?;
        let found = match (*iei, data) {
            (0x00, &[reference, total, seq]) => Some(Concat { reference: u16::from(reference), total, seq }),
            (0x08, &[hi, lo, total, seq]) => {
                Some(Concat { reference: u16::from_be_bytes([hi, lo]), total, seq })
            }
            _ => None,
        };
        if let Some(c) = found.filter(|c| c.total > 0 && c.seq > 0 && c.seq <= c.total) {
            return Some(c);
        }
        header = rest.get(len..)?;
    }
    None
}

/// The user data header for a concatenated part: 8-bit reference when it fits, else 16-bit.
pub(super) fn concat_header(c: Concat) -> Vec<u8> {
    match u8::try_from(c.reference) {
        Ok(r) => vec![0x05, 0x00, 0x03, r, c.total, c.seq],
        Err(_) => {
            let [hi, lo] = c.reference.to_be_bytes();
            vec![0x06, 0x08, 0x04, hi, lo, c.total, c.seq]
        }
    }
}

/// TP-UDL and TP-UD for `payload` behind an optional header.
pub(super) fn encode(payload: &Payload, header: &[u8], out: &mut Vec<u8>) -> Result<(), PduError> {
    let too_long = |_| PduError::TooLong;
    match payload {
        Payload::Septets(septets) => {
            let header_septets = (header.len() * 8).div_ceil(7);
            let fill = header_septets * 7 - header.len() * 8;
            let udl = header_septets + septets.len();
            if udl > 160 {
                return Err(PduError::TooLong);
            }
            out.push(u8::try_from(udl).map_err(too_long)?);
            out.extend_from_slice(header);
            out.extend_from_slice(&gsm7::pack(septets, fill));
        }
        Payload::Octets(octets) => {
            let udl = header.len() + octets.len();
            if udl > 140 {
                return Err(PduError::TooLong);
            }
            out.push(u8::try_from(udl).map_err(too_long)?);
            out.extend_from_slice(header);
            out.extend_from_slice(octets);
        }
    }
    Ok(())
}

/// The text of one part, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Payload {
    Septets(Vec<u8>),
    Octets(Vec<u8>),
}

/// Splits text into parts that each fit one PDU: 160 septets or 70 UCS2 units alone, 153 septets
/// or 67 units beside a concatenation header. Never splits a GSM escape pair or a UTF-16
/// surrogate pair, which would garble the character on the phone.
pub(super) fn split(text: &str, alphabet: Alphabet) -> Result<Vec<Payload>, PduError> {
    let (single, multi, groups): (usize, usize, Vec<Vec<u8>>) = match alphabet {
        Alphabet::Gsm7 => {
            let groups = gsm7::encode(text).ok_or(PduError::NotGsm7)?;
            (160, 153, groups.into_iter().map(<[u8]>::to_vec).collect())
        }
        Alphabet::Ucs2 => {
            let groups = text
                .chars()
                .map(|c| {
                    let mut buf = [0u16; 2];
                    c.encode_utf16(&mut buf).iter().flat_map(|u| u.to_be_bytes()).collect()
                })
                .collect();
            (140, 134, groups)
        }
        Alphabet::Data8 => (140, 134, text.bytes().map(|b| vec![b]).collect()),
    };
    let make = |units: Vec<u8>| {
        if alphabet == Alphabet::Gsm7 { Payload::Septets(units) } else { Payload::Octets(units) }
    };
    let total: usize = groups.iter().map(Vec::len).sum();
    if total <= single {
        return Ok(vec![make(groups.concat())]);
    }
    let mut parts = Vec::new();
    let mut current = Vec::with_capacity(multi);
    for group in groups {
        if current.len() + group.len() > multi {
            parts.push(make(std::mem::take(&mut current)));
        }
        current.extend_from_slice(&group);
    }
    if !current.is_empty() {
        parts.push(make(current));
    }
    if parts.len() > 255 {
        return Err(PduError::TooLong);
    }
    Ok(parts)
}
