//! 换班 from chat: `换班 王强 11月26日 夜班 家中有事` — a leader or the project manager (who
//! approve swaps) records that 王强 covers that day's night shift of whoever has it. The date and
//! shift are read here (pure); the engine records the swap as the API does (audited, in force at
//! once).

use jiff::civil::Date;
use jiff::{Timestamp, tz::TimeZone};

use crate::domain::schedule::Shift;

/// Which part of a day is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftWord {
    /// 白班: a shift starting between 06:00 and 17:00.
    Day,
    /// 夜班: a shift starting at 17:00 or later, or before 06:00.
    Night,
}

/// A swap's date, shift and reason as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapWhen {
    pub day: Date,
    pub shift: Option<ShiftWord>,
    pub reason: String,
}

/// Read `11月26日 夜班 家中有事`, `明天`, `2026-11-26 night`, `12/1 白班 …`. Dates without a
/// year are the next such date from `today` on (yesterday's date means next year's).
pub fn parse_when(text: &str, today: Date) -> Result<SwapWhen, String> {
    let mut words = text.split_whitespace();
    let first = words.next().ok_or("没有写日期")?;
    // `11月26日夜班` written together.
    let (date_text, glued_shift) = split_glued(first);
    let day = parse_day(date_text, today).ok_or_else(|| format!("「{date_text}」不是日期"))?;
    let mut rest: Vec<&str> = words.collect();
    let mut shift = glued_shift.and_then(shift_word);
    if shift.is_none()
        && let Some(w) = rest.first().copied().and_then(shift_word)
    {
        shift = Some(w);
        rest.remove(0);
    }
    Ok(SwapWhen { day, shift, reason: rest.join(" ") })
}

fn split_glued(word: &str) -> (&str, Option<&str>) {
    for suffix in ["白班", "夜班", "日班", "晚班"] {
        if let Some(date) = word.strip_suffix(suffix)
            && !date.is_empty()
        {
            return (date, Some(&word[date.len()..]));
        }
    }
    (word, None)
}

fn shift_word(word: &str) -> Option<ShiftWord> {
    match word.to_lowercase().as_str() {
        "白班" | "日班" | "day" => Some(ShiftWord::Day),
        "夜班" | "晚班" | "night" => Some(ShiftWord::Night),
        _ => None,
    }
}

fn parse_day(text: &str, today: Date) -> Option<Date> {
    let t = text.trim().trim_end_matches(['日', '号']);
    let offset = match t {
        "今天" | "今" | "today" => Some(0),
        "明天" | "明" | "tomorrow" => Some(1),
        "后天" => Some(2),
        _ => None,
    };
    if let Some(days) = offset {
        return today.checked_add(jiff::Span::new().days(days)).ok();
    }
    let normalized: String =
        t.chars().map(|c| if matches!(c, '年' | '月' | '/' | '.') { '-' } else { c }).collect();
    let parts: Vec<&str> = normalized.split('-').filter(|p| !p.is_empty()).collect();
    let number = |s: &str| s.parse::<i16>().ok();
    match parts.as_slice() {
        [y, m, d] => Date::new(number(y)?, number(m)? as i8, number(d)? as i8).ok(),
        [m, d] => {
            let (m, d) = (number(m)? as i8, number(d)? as i8);
            let this_year = Date::new(today.year(), m, d).ok()?;
            if this_year < today { Date::new(today.year() + 1, m, d).ok() } else { Some(this_year) }
        }
        _ => None,
    }
}

/// The shifts of a schedule that a swap on `when` means: those starting that day, of the
/// written part of the day, not already the replacement's.
pub fn matching_shifts(shifts: &[Shift], when: &SwapWhen, tz: &TimeZone, replacement: &str) -> Vec<Shift> {
    shifts
        .iter()
        .filter(|s| {
            let start = s.start.to_zoned_datetime(tz.clone());
            let part = if (6..17).contains(&start.hour()) { ShiftWord::Day } else { ShiftWord::Night };
            start.date() == when.day && when.shift.is_none_or(|w| w == part) && s.person != replacement
        })
        .cloned()
        .collect()
}

/// The instants bounding the local day of `when`, to ask the schedules for its shifts.
pub fn day_bounds(day: Date, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    let start = day.at(0, 0, 0, 0).to_zoned_datetime(tz.clone()).ok()?.timestamp();
    let end = day.tomorrow().ok()?.at(0, 0, 0, 0).to_zoned_datetime(tz.clone()).ok()?.timestamp();
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::Why;
    use jiff::civil::date;

    const TODAY: Date = date(2026, 11, 25);

    #[test]
    fn dates_and_shifts_as_people_write_them() {
        let w = parse_when("11月26日 夜班 家中有事", TODAY).unwrap();
        assert_eq!(
            (w.day, w.shift, w.reason.as_str()),
            (date(2026, 11, 26), Some(ShiftWord::Night), "家中有事")
        );
        let w = parse_when("11月26日夜班", TODAY).unwrap();
        assert_eq!((w.day, w.shift), (date(2026, 11, 26), Some(ShiftWord::Night)));
        assert_eq!(parse_when("明天", TODAY).unwrap().day, date(2026, 11, 26));
        assert_eq!(parse_when("后天 白班", TODAY).unwrap().shift, Some(ShiftWord::Day));
        assert_eq!(parse_when("2026-12-01 night", TODAY).unwrap().day, date(2026, 12, 1));
        assert_eq!(parse_when("12/1", TODAY).unwrap().day, date(2026, 12, 1));
        assert_eq!(parse_when("1月3号", TODAY).unwrap().day, date(2027, 1, 3), "a past date means next year");
        assert_eq!(parse_when("2027年1月3日", TODAY).unwrap().day, date(2027, 1, 3));
        for bad in ["", "下周", "13月1日", "2026-02-30", "夜班"] {
            assert!(parse_when(bad, TODAY).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_written_part_of_the_day_picks_the_shift() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let at = |h: i8| date(2026, 11, 26).at(h, 0, 0, 0).to_zoned_datetime(tz.clone()).unwrap().timestamp();
        let shift = |p: &str, from: i8, to: Timestamp| Shift {
            person: p.into(),
            why: Why::Layer { index: 0, name: "白班".into() },
            start: at(from),
            end: to,
        };
        let shifts = vec![shift("zhangwei", 8, at(17)), shift("lina", 17, at(23))];
        let night = parse_when("11月26日 夜班", TODAY).unwrap();
        let found = matching_shifts(&shifts, &night, &tz, "wangqiang");
        assert_eq!(found.iter().map(|s| s.person.as_str()).collect::<Vec<_>>(), ["lina"]);
        let whole = parse_when("11月26日", TODAY).unwrap();
        assert_eq!(matching_shifts(&shifts, &whole, &tz, "wangqiang").len(), 2);
        assert_eq!(matching_shifts(&shifts, &whole, &tz, "lina").len(), 1, "not the replacement's own shift");
    }
}
