//! 故障等级: four severity levels, 一级 being the most severe.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A fault's severity. `One` (一级) is the most severe; ordering follows urgency, so
/// `Severity::One < Severity::Four` and "more urgent" means "smaller".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    One,
    Two,
    Three,
    Four,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::One, Severity::Two, Severity::Three, Severity::Four];

    /// The level as a number, 1 (一级) to 4 (四级).
    pub fn level(self) -> u8 {
        match self {
            Severity::One => 1,
            Severity::Two => 2,
            Severity::Three => 3,
            Severity::Four => 4,
        }
    }

    pub fn from_level(level: i64) -> Option<Severity> {
        match level {
            1 => Some(Severity::One),
            2 => Some(Severity::Two),
            3 => Some(Severity::Three),
            4 => Some(Severity::Four),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    /// The machine form, `1`..`4`; user-facing labels (一级…) come from the message catalogue.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.level())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a severity level (use 1-4, 一级..四级, I..IV or P1..P4)")]
pub struct ParseSeverityError(pub String);

impl FromStr for Severity {
    type Err = ParseSeverityError;

    /// Accepts the spellings people and tools use: `1`, `一级`, `一`, `1级`, `I`, `P1`, `sev1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        let core = lower
            .strip_prefix("sev")
            .or_else(|| lower.strip_prefix('p'))
            .unwrap_or(&lower)
            .trim_end_matches('级')
            .trim();
        let level = match core {
            "1" | "一" | "i" => 1,
            "2" | "二" | "ii" => 2,
            "3" | "三" | "iii" => 3,
            "4" | "四" | "iv" => 4,
            _ => return Err(ParseSeverityError(s.to_string())),
        };
        Ok(Severity::from_level(level).expect("1..=4"))
    }
}

impl Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.level())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Severity::from_level(n)
                .ok_or_else(|| serde::de::Error::custom(format!("severity {n} is not 1-4"))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spellings_people_use() {
        for (text, want) in [
            ("1", Severity::One),
            ("一级", Severity::One),
            ("二", Severity::Two),
            ("3级", Severity::Three),
            ("IV", Severity::Four),
            ("P2", Severity::Two),
            ("sev3", Severity::Three),
            (" 四级 ", Severity::Four),
        ] {
            assert_eq!(text.parse::<Severity>().unwrap(), want, "{text}");
        }
        for bad in ["", "0", "5", "五级", "critical", "P0"] {
            assert!(bad.parse::<Severity>().is_err(), "{bad}");
        }
    }

    #[test]
    fn one_is_the_most_urgent() {
        assert!(Severity::One < Severity::Four);
        assert_eq!(Severity::ALL.iter().min(), Some(&Severity::One));
    }

    #[test]
    fn serde_round_trip_as_number_and_accepts_text() {
        assert_eq!(serde_json::to_string(&Severity::Two).unwrap(), "2");
        assert_eq!(serde_json::from_str::<Severity>("\"一级\"").unwrap(), Severity::One);
        assert!(serde_json::from_str::<Severity>("7").is_err());
    }
}
