use std::fmt;

use super::SmsError;

/// A phone number in E.164 form, parsed from what people type into configuration.
///
/// Providers disagree on the form they want (Aliyun: `13800138000`; Tencent: `+8613800138000`;
/// a modem: `8613800138000` with TON international), so the number is parsed once and each
/// provider asks for its form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    /// Country code and subscriber digits, no `+`: `8613800138000`.
    digits: String,
}

impl PhoneNumber {
    /// Accepts `13800138000`, `+8613800138000`, `008613800138000`, `8613800138000` and
    /// international `+<8..15 digits>`; ignores spaces, `-`, `.`, `(` and `)`. A bare 11-digit number
    /// must look like a mainland mobile (`1[3-9]…`): landlines cannot receive SMS.
    pub fn parse(raw: &str) -> Result<PhoneNumber, SmsError> {
        let invalid = || SmsError::InvalidNumber(raw.chars().take(40).collect());
        let trimmed = raw.trim();
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(invalid()),
            }
        }
        let international = if plus {
            digits
        } else if let Some(after) = digits.strip_prefix("00") {
            after.to_string()
        } else if is_mainland_mobile(&digits) {
            format!("86{digits}")
        } else if digits.len() == 13 && digits.starts_with("86") && is_mainland_mobile(&digits[2..]) {
            digits
        } else {
            return Err(invalid());
        };
        let ok_len = (8..=15).contains(&international.len()) && !international.starts_with('0');
        let ok_cn = !international.starts_with("86") || is_mainland_mobile(&international[2..]);
        if ok_len && ok_cn { Ok(PhoneNumber { digits: international }) } else { Err(invalid()) }
    }

    /// `+8613800138000`.
    pub fn e164(&self) -> String {
        format!("+{}", self.digits)
    }

    /// `8613800138000`: E.164 without the `+`, as a PDU international address carries it.
    pub fn international_digits(&self) -> &str {
        &self.digits
    }

    /// `13800138000` for a mainland number, `None` for any other country.
    pub fn mainland(&self) -> Option<&str> {
        self.digits.strip_prefix("86")
    }

    /// The mainland number without prefix, otherwise the international digits without `+`: the
    /// form Chinese providers (Aliyun, most intranet gateways) expect.
    pub fn domestic_or_international(&self) -> &str {
        self.mainland().unwrap_or(&self.digits)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.digits)
    }
}

fn is_mainland_mobile(d: &str) -> bool {
    d.len() == 11 && d.starts_with('1') && d.as_bytes().get(1).is_some_and(|b| (b'3'..=b'9').contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        for raw in ["13800138000", "+8613800138000", "008613800138000", "8613800138000", "+86 138-0013-8000"]
        {
            let n = PhoneNumber::parse(raw).unwrap();
            assert_eq!(n.e164(), "+8613800138000", "{raw}");
            assert_eq!(n.mainland(), Some("13800138000"));
        }
        let hk = PhoneNumber::parse("+852 9123 4567").unwrap();
        assert_eq!(hk.e164(), "+85291234567");
        assert_eq!(hk.domestic_or_international(), "85291234567");
        assert_eq!(hk.mainland(), None);
    }

    #[test]
    fn rejects() {
        for raw in
            ["", "+", "12345", "010-12345678", "+8601012345678", "1380013800a", "23800138000", "+0123456789"]
        {
            assert!(matches!(PhoneNumber::parse(raw), Err(SmsError::InvalidNumber(_))), "{raw}");
        }
    }
}
