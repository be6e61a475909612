//! TP-DA / TP-OA / SMSC addresses (3GPP TS 23.040 §9.1.2.5): a length, a type-of-address octet and
//! the digits in swapped semi-octets, or GSM 7-bit text for alphanumeric senders.

use std::fmt;

use super::{PduError, gsm7, reader::Reader};
use crate::sms::PhoneNumber;

/// The type of number (TON) from the type-of-address octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeOfNumber {
    /// TON 0 (`0x81`): what many modem manuals use for a plain domestic number.
    Unknown,
    /// TON 1 (`0x91`): country code and number, written here without `+`.
    International,
    /// TON 2 (`0xA1`).
    National,
    /// TON 5 (`0xD0`): a text sender such as `10086` services or `ICBC`.
    Alphanumeric,
    /// Any other TON value (network specific, subscriber, abbreviated, reserved).
    Other(u8),
}

/// An address: its type and its digits (or text, for alphanumeric senders).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub ton: TypeOfNumber,
    /// Digits (`0-9 * # a b c`) without `+`, or the text of an alphanumeric address.
    pub value: String,
}

impl TypeOfNumber {
    fn code(self) -> u8 {
        match self {
            TypeOfNumber::Unknown => 0,
            TypeOfNumber::International => 1,
            TypeOfNumber::National => 2,
            TypeOfNumber::Alphanumeric => 5,
            TypeOfNumber::Other(n) => n & 0x07,
        }
    }

    fn from_code(code: u8) -> TypeOfNumber {
        match code & 0x07 {
            0 => TypeOfNumber::Unknown,
            1 => TypeOfNumber::International,
            2 => TypeOfNumber::National,
            5 => TypeOfNumber::Alphanumeric,
            n => TypeOfNumber::Other(n),
        }
    }
}

impl Address {
    pub fn international(digits: impl Into<String>) -> Address {
        Address { ton: TypeOfNumber::International, value: digits.into() }
    }

    pub fn unknown(digits: impl Into<String>) -> Address {
        Address { ton: TypeOfNumber::Unknown, value: digits.into() }
    }

    pub fn national(digits: impl Into<String>) -> Address {
        Address { ton: TypeOfNumber::National, value: digits.into() }
    }

    pub fn alphanumeric(text: impl Into<String>) -> Address {
        Address { ton: TypeOfNumber::Alphanumeric, value: text.into() }
    }

    /// The type-of-address octet: extension bit, TON, and NPI 1 (ISDN/E.164) for numbers or 0
    /// (unknown) for alphanumeric addresses.
    fn type_octet(&self) -> u8 {
        let npi = if self.ton == TypeOfNumber::Alphanumeric { 0 } else { 1 };
        0x80 | (self.ton.code() << 4) | npi
    }

    /// Appends length, type and value octets. `semi_octet_length` is true for TP addresses (the
    /// length counts digits) and false for the SMSC address (the length counts octets).
    pub(super) fn encode_into(&self, out: &mut Vec<u8>, semi_octet_length: bool) -> Result<(), PduError> {
        let (length_digits, value) = if self.ton == TypeOfNumber::Alphanumeric {
            let septets: Vec<u8> = gsm7::encode(&self.value).ok_or(PduError::BadAddress)?.concat();
            let packed = gsm7::pack(&septets, 0);
            // For alphanumeric addresses the length counts the semi-octets actually used.
            ((septets.len() * 7).div_ceil(4), packed)
        } else {
            (self.value.chars().count(), bcd(&self.value)?)
        };
        if self.value.is_empty() || value.len() > 10 {
            return Err(PduError::BadAddress);
        }
        let length = if semi_octet_length { length_digits } else { value.len() + 1 };
        out.push(u8::try_from(length).map_err(|_| PduError::BadAddress)?);
        out.push(self.type_octet());
        out.extend_from_slice(&value);
        Ok(())
    }

    /// Reads a TP address (length in semi-octets).
    pub(super) fn decode_tp(r: &mut Reader<'_>) -> Result<Address, PduError> {
        let digits = usize::from(r.u8("address length")?);
        let toa = r.u8("type of address")?;
        let octets = r.take(digits.div_ceil(2), "address")?;
        Address::from_parts(toa, octets, Some(digits))
    }

    /// Reads the SMSC address (length in octets, including the type octet); `None` when absent.
    pub(super) fn decode_smsc(r: &mut Reader<'_>) -> Result<Option<Address>, PduError> {
        let len = usize::from(r.u8("SMSC length")?);
        if len == 0 {
            return Ok(None);
        }
        let toa = r.u8("SMSC type of address")?;
        let octets = r.take(len - 1, "SMSC address")?;
        Address::from_parts(toa, octets, None).map(Some)
    }

    fn from_parts(toa: u8, octets: &[u8], digits: Option<usize>) -> Result<Address, PduError> {
        let ton = TypeOfNumber::from_code(toa >> 4);
        if ton == TypeOfNumber::Alphanumeric {
            let bits = digits.map_or(octets.len() * 8, |d| d * 4);
            let text = gsm7::decode(&gsm7::unpack(octets, 0, bits / 7));
            return Ok(Address { ton, value: text });
        }
        let mut value = String::with_capacity(octets.len() * 2);
        for &b in octets {
            for nibble in [b & 0x0F, b >> 4] {
                match nibble {
                    0..=9 => value.push(char::from(b'0' + nibble)),
                    0x0A => value.push('*'),
                    0x0B => value.push('#'),
                    0x0C => value.push('a'),
                    0x0D => value.push('b'),
                    0x0E => value.push('c'),
                    _ => {} // 0xF: filler
                }
            }
        }
        if let Some(d) = digits {
            value.truncate(d);
        }
        Ok(Address { ton, value })
    }
}

/// Digits in swapped semi-octets, padded with `F`.
fn bcd(digits: &str) -> Result<Vec<u8>, PduError> {
    let nibbles = digits
        .chars()
        .map(|c| match c {
            '0'..='9' => Ok(c as u8 - b'0'),
            '*' => Ok(0x0A),
            '#' => Ok(0x0B),
            _ => Err(PduError::BadAddress),
        })
        .collect::<Result<Vec<u8>, _>>()?;
    Ok(nibbles.chunks(2).map(|pair| pair[0] | (pair.get(1).copied().unwrap_or(0x0F) << 4)).collect())
}

impl From<&PhoneNumber> for Address {
    fn from(number: &PhoneNumber) -> Address {
        Address::international(number.international_digits())
    }
}

impl fmt::Display for Address {
    /// `+8613800138000` for international numbers, the digits or text otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ton == TypeOfNumber::International {
            write!(f, "+{}", self.value)
        } else {
            f.write_str(&self.value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_numbers() {
        let mut out = Vec::new();
        Address::international("8613800138000").encode_into(&mut out, true).unwrap();
        assert_eq!(hex::encode_upper(&out), "0D91683108108300F0");
        out.clear();
        Address::unknown("13421839693").encode_into(&mut out, true).unwrap();
        assert_eq!(hex::encode_upper(&out), "0B813124819396F3");
        assert_eq!(Address::international("+86").encode_into(&mut out, true), Err(PduError::BadAddress));
        assert_eq!(Address::international("").encode_into(&mut out, true), Err(PduError::BadAddress));
    }

    #[test]
    fn alphanumeric_round_trip() {
        let mut out = Vec::new();
        Address::alphanumeric("ZhiBan").encode_into(&mut out, true).unwrap();
        let decoded = Address::decode_tp(&mut Reader::new(&out)).unwrap();
        assert_eq!(decoded, Address::alphanumeric("ZhiBan"));
    }
}
