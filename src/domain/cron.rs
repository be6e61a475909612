//! Cron expressions read in a time zone: POSIX 5 fields (Vixie numbering, 0/7 = Sunday,
//! 1 = Monday), an optional leading seconds field, and `L`, `W`, `#` and `5#L`.
//!
//! Parsing and matching are croner 4's, without its chrono and jiff-0.2 backends: a small newtype
//! over jiff 1 `ZonedDateTime` implements croner's public `CronDateTime` trait. Only used to
//! compute `due_at` instants; nothing here reads a clock.

use std::cmp::Ordering;
use std::str::FromStr;

use croner::{CivilDate, CivilDateTime, CivilTime, Cron, CronDateTime, Resolution, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ZonedDateTime};

/// A cron expression (POSIX 5 fields, optional seconds, L/W/#) read in a time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    cron: Cron,
    expression: String,
    tz: TimeZone,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{expression}' is not a cron expression: {reason}")]
pub struct CronError {
    pub expression: String,
    pub reason: String,
}

impl CronSchedule {
    pub fn parse(expression: &str, tz: TimeZone) -> Result<CronSchedule, CronError> {
        let cron = Cron::from_str(expression)
            .map_err(|e| CronError { expression: expression.to_owned(), reason: e.to_string() })?;
        Ok(CronSchedule { cron, expression: expression.to_owned(), tz })
    }

    /// The first firing strictly after `after`. `None` if the expression never fires again
    /// (e.g. `0 0 30 2 *`, or a year field in the past).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        // croner truncates `after` to its second and, being exclusive, starts one second later:
        // the result is always > `after`, and carries no sub-second part.
        let start = Wall(after.to_zoned_datetime(self.tz.clone()));
        self.cron.find_next_occurrence(&start, false).ok().map(|w| w.0.timestamp())
    }

    /// Firings in (from, until], at most `limit`.
    pub fn between(&self, from: Timestamp, until: Timestamp, limit: usize) -> Vec<Timestamp> {
        let mut out = Vec::new();
        let mut cursor = from;
        while out.len() < limit {
            match self.next_after(cursor) {
                Some(t) if t <= until => {
                    out.push(t);
                    cursor = t;
                }
                _ => break,
            }
        }
        out
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }
}

/// jiff 1 adapter for croner (croner's own `jiff` feature targets jiff 0.2).
#[derive(Debug, Clone)]
struct Wall(ZonedDateTime);

impl CronDateTime for Wall {
    fn to_civil(&self) -> CivilDateTime {
        let dt = self.0.datetime();
        // jiff has already range-checked every part.
        CivilDateTime::new(
            CivilDate::from_parts_unchecked(i32::from(dt.year()), dt.month() as u32, dt.day() as u32),
            CivilTime::from_parts_unchecked(dt.hour() as u32, dt.minute() as u32, dt.second() as u32),
        )
    }

    fn civil_weekday(&self) -> Weekday {
        Weekday::from_days_from_sunday(self.0.weekday().to_sunday_zero_offset() as u32)
    }

    fn resolve_civil(&self, civil: CivilDateTime) -> Result<Resolution<Self>, croner::errors::CronError> {
        use croner::errors::CronError::{InvalidDate, InvalidTime};
        let year = i16::try_from(civil.year()).map_err(|_| InvalidDate)?;
        let dt = jiff::civil::DateTime::new(
            year,
            civil.month() as i8,
            civil.day() as i8,
            civil.hour() as i8,
            civil.minute() as i8,
            civil.second() as i8,
            0,
        )
        .map_err(|_| InvalidDate)?;
        let amb = self.0.time_zone().to_ambiguous_zoned_datetime(dt);
        Ok(match amb.offset() {
            AmbiguousOffset::Unambiguous { .. } => {
                Resolution::Single(Wall(amb.unambiguous().map_err(|_| InvalidTime)?))
            }
            AmbiguousOffset::Fold { .. } => Resolution::Ambiguous(
                Wall(amb.clone().earlier().map_err(|_| InvalidTime)?),
                Wall(amb.later().map_err(|_| InvalidTime)?),
            ),
            AmbiguousOffset::Gap { .. } => Resolution::Gap,
        })
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0.checked_add(SignedDuration::from_secs(seconds)).ok().map(Wall)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.timestamp().cmp(&other.0.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::Weekday as Wd;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn local(t: Timestamp) -> String {
        t.to_zoned_datetime(shanghai()).strftime("%Y-%m-%d %H:%M:%S %:z %a").to_string()
    }

    fn sched(expr: &str) -> CronSchedule {
        CronSchedule::parse(expr, shanghai()).unwrap()
    }

    #[test]
    fn weekdays_are_posix_not_quartz() {
        let s = sched("30 9 * * 1-5");
        // Friday 2026-11-27 10:00 +08:00 → Monday 11-30, never Sat/Sun.
        let fired = s.between(at("2026-11-27T10:00:00+08:00"), at("2026-12-12T00:00:00+08:00"), 100);
        assert_eq!(fired.len(), 10);
        assert_eq!(local(fired[0]), "2026-11-30 09:30:00 +08:00 Mon");
        for t in &fired {
            let z = t.to_zoned_datetime(shanghai());
            assert!(!matches!(z.weekday(), Wd::Saturday | Wd::Sunday), "{}", local(*t));
            assert_eq!((z.hour(), z.minute(), z.second()), (9, 30, 0));
        }
        let days: Vec<Wd> = fired[..5].iter().map(|t| t.to_zoned_datetime(shanghai()).weekday()).collect();
        assert_eq!(days, [Wd::Monday, Wd::Tuesday, Wd::Wednesday, Wd::Thursday, Wd::Friday]);
    }

    #[test]
    fn last_day_of_month() {
        let s = sched("0 9 L * *");
        let next = s.next_after(at("2026-11-02T00:00:00+08:00")).unwrap();
        assert_eq!(local(next), "2026-11-30 09:00:00 +08:00 Mon");
        assert_eq!(next, at("2026-11-30T01:00:00Z"));
        let feb = s.next_after(at("2027-02-01T00:00:00+08:00")).unwrap();
        assert_eq!(local(feb), "2027-02-28 09:00:00 +08:00 Sun");
    }

    #[test]
    fn last_friday_of_month() {
        let s = sched("0 10 * * 5#L");
        let next = s.next_after(at("2026-11-01T00:00:00+08:00")).unwrap();
        assert_eq!(local(next), "2026-11-27 10:00:00 +08:00 Fri");
        let after = s.next_after(next).unwrap();
        assert_eq!(local(after), "2026-12-25 10:00:00 +08:00 Fri");
    }

    #[test]
    fn quarterly() {
        let s = sched("0 2 1 */3 *");
        let fired = s.between(at("2026-01-01T00:00:00+08:00"), at("2027-12-31T00:00:00+08:00"), 100);
        let got: Vec<String> = fired.iter().map(|t| local(*t)).collect();
        assert_eq!(
            got,
            [
                "2026-01-01 02:00:00 +08:00 Thu",
                "2026-04-01 02:00:00 +08:00 Wed",
                "2026-07-01 02:00:00 +08:00 Wed",
                "2026-10-01 02:00:00 +08:00 Thu",
                "2027-01-01 02:00:00 +08:00 Fri",
                "2027-04-01 02:00:00 +08:00 Thu",
                "2027-07-01 02:00:00 +08:00 Thu",
                "2027-10-01 02:00:00 +08:00 Fri",
            ]
        );
    }

    #[test]
    fn optional_seconds_field() {
        let s = sched("15 30 9 * * *");
        let next = s.next_after(at("2026-11-27T00:00:00+08:00")).unwrap();
        assert_eq!(local(next), "2026-11-27 09:30:15 +08:00 Fri");
    }

    #[test]
    fn invalid_expressions_name_themselves() {
        for bad in ["", "not cron", "61 * * * *", "* * * *", "0 9 * * 8", "0 25 * * *", "0 9 32 * *"] {
            let err = CronSchedule::parse(bad, shanghai()).unwrap_err();
            assert_eq!(err.expression, bad);
            assert!(!err.reason.is_empty());
            assert!(err.to_string().starts_with(&format!("'{bad}' is not a cron expression: ")), "{err}");
        }
    }

    #[test]
    fn next_after_is_strictly_after() {
        let s = sched("30 9 * * *");
        let firing = at("2026-11-27T09:30:00+08:00");
        assert_eq!(s.next_after(firing), Some(at("2026-11-28T09:30:00+08:00")));
        // One nanosecond before the firing still gets it; just after skips it.
        assert_eq!(s.next_after(firing - SignedDuration::from_nanos(1)), Some(firing));
        assert_eq!(
            s.next_after(firing + SignedDuration::from_millis(500)),
            Some(at("2026-11-28T09:30:00+08:00"))
        );
    }

    #[test]
    fn between_is_half_open_and_limited() {
        let s = sched("*/10 * * * *");
        let from = at("2026-11-27T09:00:00+08:00");
        let until = at("2026-11-27T10:00:00+08:00");
        let all = s.between(from, until, 100);
        assert_eq!(all.len(), 6);
        assert_eq!(all.first(), Some(&at("2026-11-27T09:10:00+08:00")));
        assert_eq!(all.last(), Some(&until));
        assert_eq!(s.between(from, until, 3), all[..3]);
        assert!(s.between(from, until, 0).is_empty());
        assert!(s.between(until, from, 10).is_empty());
    }

    #[test]
    fn never_fires_gives_none() {
        let s = sched("0 0 30 2 *");
        assert_eq!(s.next_after(at("2026-01-01T00:00:00Z")), None);
        assert!(s.between(at("2026-01-01T00:00:00Z"), at("2030-01-01T00:00:00Z"), 5).is_empty());
    }

    #[test]
    fn dst_gap_and_fold_go_through_the_adapter() {
        let ny = TimeZone::get("America/New_York").unwrap();
        // 2026-03-08 02:30 does not exist: a fixed-time job runs at the first instant after the gap.
        let s = CronSchedule::parse("30 2 * * *", ny.clone()).unwrap();
        let gap = s.next_after(at("2026-03-08T00:00:00-05:00")).unwrap();
        assert_eq!(gap, at("2026-03-08T03:00:00-04:00"));
        // 2026-11-01 01:30 happens twice: a fixed-time job runs once, at the earlier one.
        let s = CronSchedule::parse("30 1 * * *", ny).unwrap();
        let fold = s.next_after(at("2026-11-01T00:00:00-04:00")).unwrap();
        assert_eq!(fold, at("2026-11-01T01:30:00-04:00"));
        assert_eq!(s.next_after(fold), Some(at("2026-11-02T01:30:00-05:00")));
    }

    #[test]
    fn expression_is_kept_verbatim() {
        let s = sched("0 9 L * *");
        assert_eq!(s.expression(), "0 9 L * *");
        assert_eq!(s.time_zone(), &shanghai());
    }
}
