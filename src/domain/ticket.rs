//! 工单号: ticket numbers a person can read aloud on the phone, e.g. `20261124-007`.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// A ticket number: the local date the incident opened and its sequence number that day.
/// Printed with at least three digits (`-007`); a busy day simply grows to `-1234`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TicketNo {
    day: Date,
    seq: u32,
}

impl TicketNo {
    pub fn new(day: Date, seq: u32) -> Result<TicketNo, ParseTicketError> {
        if seq == 0 {
            return Err(ParseTicketError::ZeroSequence);
        }
        Ok(TicketNo { day, seq })
    }

    pub fn day(&self) -> Date {
        self.day
    }

    /// The day's number as people say it: "007".
    pub fn seq_text(&self) -> String {
        format!("{:03}", self.seq)
    }

    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// The key under which the per-day counter is kept: `20261124`.
    pub fn day_key(day: Date) -> String {
        format!("{:04}{:02}{:02}", day.year(), day.month(), day.day())
    }
}

impl fmt::Display for TicketNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:03}", TicketNo::day_key(self.day), self.seq)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTicketError {
    #[error("a ticket number looks like 20261124-007")]
    Shape,
    #[error("the date in a ticket number is not a real date")]
    Date,
    #[error("ticket sequence numbers start at 1")]
    ZeroSequence,
}

impl FromStr for TicketNo {
    type Err = ParseTicketError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (day, seq) = s.trim().split_once('-').ok_or(ParseTicketError::Shape)?;
        if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseTicketError::Shape);
        }
        if seq.is_empty() || seq.len() > 9 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseTicketError::Shape);
        }
        let year: i16 = day[0..4].parse().map_err(|_| ParseTicketError::Shape)?;
        let month: i8 = day[4..6].parse().map_err(|_| ParseTicketError::Shape)?;
        let dom: i8 = day[6..8].parse().map_err(|_| ParseTicketError::Shape)?;
        let date = Date::new(year, month, dom).map_err(|_| ParseTicketError::Date)?;
        let seq: u32 = seq.parse().map_err(|_| ParseTicketError::Shape)?;
        TicketNo::new(date, seq)
    }
}

impl Serialize for TicketNo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TicketNo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn prints_short_and_readable() {
        let t = TicketNo::new(date(2026, 11, 24), 7).unwrap();
        assert_eq!(t.to_string(), "20261124-007");
        let busy = TicketNo::new(date(2026, 1, 2), 1234).unwrap();
        assert_eq!(busy.to_string(), "20260102-1234");
    }

    #[test]
    fn round_trips() {
        for s in ["20261124-007", "20260102-1234", "20250101-001"] {
            assert_eq!(s.parse::<TicketNo>().unwrap().to_string(), s);
        }
        assert_eq!("20261124-7".parse::<TicketNo>().unwrap().to_string(), "20261124-007");
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "007",
            "2026112-007",
            "20261124-",
            "20261324-001",
            "20261124-000",
            "2026-11-24",
            "20261124-0x1",
        ] {
            assert!(bad.parse::<TicketNo>().is_err(), "{bad}");
        }
    }
}
