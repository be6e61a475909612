//! Dates, times and encodings the way Chinese duty rosters write them.

use std::borrow::Cow;

use jiff::civil::{Date, DateTime, Time};

use crate::domain::schedule::window::{Clock, parse_clock};

/// The text of a CSV file: UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark,
/// or — what Excel in China writes when it saves "CSV" — GBK/GB18030.
pub(super) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return encoding.decode_without_bom_handling(&bytes[bom..]).0;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        // GB18030 is a superset of GBK and GB2312; a byte sequence it cannot read becomes U+FFFD,
        // which then fails as an unknown name with its row and column.
        Err(_) => encoding_rs::GB18030.decode_without_bom_handling(bytes).0,
    }
}

/// The first day of Excel's 1900 date system as serial numbers count it (serial 1 = 1900-01-01, with
/// Excel's phantom 1900-02-29, so modern dates count from 1899-12-30).
const EXCEL_EPOCH: Date = Date::constant(1899, 12, 30);

/// An Excel serial date (days since 1899-12-30, the fraction a time of day); for 1900-03-01 onwards.
pub(super) fn from_excel_serial(serial: f64) -> Option<DateTime> {
    if !serial.is_finite() || !(61.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor();
    let secs = ((serial - days) * 86_400.0).round() as i64;
    let date = EXCEL_EPOCH.checked_add(jiff::Span::new().try_days(days as i64).ok()?).ok()?;
    date.to_datetime(Time::midnight()).checked_add(jiff::SignedDuration::from_secs(secs)).ok()
}

/// A date as rosters write it: `2026-10-01`, `2026/10/1`, `2026.10.1`, `2026年10月1日`, `20261001`,
/// `10月1日` and `10-01` (with `year`), an Excel serial number (`46296`); anything after the date
/// (`（周四）`, ` 星期四`, a time) is ignored.
pub(super) fn parse_date(text: &str, year: Option<i16>) -> Result<Date, String> {
    let t = text.trim();
    let head: String = t.chars().take_while(|c| c.is_ascii_digit() || "-/.年月日号".contains(*c)).collect();
    let numbers: Vec<&str> = head.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).collect();
    let bad = || format!("'{t}' is not a date like 2026-10-01, 2026/10/1, 2026年10月1日 or 10月1日");
    let num = |s: &str| s.parse::<i16>().map_err(|_| bad());
    let (y, m, d) = match numbers.as_slice() {
        [serial] if serial.len() == 5 && head == *serial => {
            let n: f64 = serial.parse().map_err(|_| bad())?;
            return from_excel_serial(n).map(|dt| dt.date()).ok_or_else(bad);
        }
        [ymd] if ymd.len() == 8 => (num(&ymd[..4])?, num(&ymd[4..6])?, num(&ymd[6..])?),
        [y, m, d] if y.len() == 4 => (num(y)?, num(m)?, num(d)?),
        [m, d] if m.len() <= 2 && d.len() <= 2 => {
            let Some(y) = year else {
                return Err(format!(
                    "'{t}' has no year; write it like 2026-10-01, or give the roster's year in the configuration"
                ));
            };
            (y, num(m)?, num(d)?)
        }
        _ => return Err(bad()),
    };
    let m = i8::try_from(m).map_err(|_| bad())?;
    let d = i8::try_from(d).map_err(|_| bad())?;
    Date::new(y, m, d).map_err(|_| format!("'{t}': there is no such day"))
}

/// A time of day in a start or end column: `08:30`, `8:30`, `8点半`, `24:00`; for an end, a prefix
/// 次日 / 翌日 / 第二天 says it is on the next day. Returns the time and whether it is the next day.
pub(super) fn parse_time(text: &str) -> Result<(Time, bool), String> {
    let t = text.trim();
    let (rest, next_day) = ["次日", "翌日", "第二天", "+1"]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .map_or((t, false), |r| (r, true));
    match parse_clock(rest) {
        Some(Clock::Time(time)) => Ok((time, next_day)),
        Some(Clock::Midnight24) if !next_day => Ok((Time::midnight(), true)),
        _ => Err(format!("'{t}' is not a time like 08:30 or 次日08:30")),
    }
}

/// Splits a cell naming several people: `张伟、李娜`, `张伟,李娜`, `张伟/李娜`, one per line.
pub(super) fn split_people(text: &str) -> Vec<&str> {
    text.split(['、', ',', '，', '/', '／', ';', '；', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}
