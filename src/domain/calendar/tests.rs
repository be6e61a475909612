use std::sync::Arc;

use jiff::civil::{Date, Time, Weekday, date, time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

fn court() -> Calendar {
    let calendar =
        WorkingCalendar::new(WorkingHours::court_default(), Arc::new(HolidayTable::embedded()), shanghai());
    Calendar::Working(calendar.unwrap())
}

/// Wall-clock time in Asia/Shanghai.
fn at(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
    shanghai().to_timestamp(date(y, mo, d).at(h, mi, 0, 0)).unwrap()
}

fn mins(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

fn hours(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

fn custom(spec: HoursSpec) -> Calendar {
    let hours = spec.build().unwrap();
    Calendar::Working(WorkingCalendar::new(hours, Arc::new(HolidayTable::embedded()), shanghai()).unwrap())
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------- holiday data

#[test]
fn embedded_data_matches_the_notices() {
    let table = HolidayTable::embedded();
    assert_eq!(table.years().collect::<Vec<_>>(), vec![2025, 2026]);
    assert!(table.covers(2025) && table.covers(2026) && !table.covers(2027));
    let y2025 = table.year(2025).unwrap();
    assert_eq!(y2025.off().count(), 28);
    assert_eq!(y2025.workdays().count(), 5);
    let y2026 = table.year(2026).unwrap();
    assert_eq!(y2026.off().count(), 33);
    assert_eq!(
        y2026.workdays().collect::<Vec<_>>(),
        vec![
            date(2026, 1, 4),
            date(2026, 2, 14),
            date(2026, 2, 28),
            date(2026, 5, 9),
            date(2026, 9, 20),
            date(2026, 10, 10)
        ]
    );
    let cases = [
        (date(2026, 1, 1), DayKind::Holiday),
        (date(2026, 1, 3), DayKind::Holiday), // a Saturday inside the block
        (date(2026, 1, 4), DayKind::MakeUpWorkday),
        (date(2026, 2, 14), DayKind::MakeUpWorkday),
        (date(2026, 2, 23), DayKind::Holiday), // Monday, last day of the Spring Festival block
        (date(2026, 2, 24), DayKind::Weekday),
        (date(2026, 10, 10), DayKind::MakeUpWorkday),
        (date(2026, 10, 11), DayKind::Weekend),
        (date(2025, 1, 26), DayKind::MakeUpWorkday),
        (date(2025, 10, 8), DayKind::Holiday),
        (date(2027, 1, 1), DayKind::Weekday), // no data for 2027: plain rule
    ];
    for (day, kind) in cases {
        assert_eq!(table.day_kind(day), kind, "{day}");
        assert_eq!(table.is_working_day(day), kind.is_working_day(), "{day}");
    }
}

#[test]
fn missing_years_lists_years_without_data() {
    let table = HolidayTable::embedded();
    assert_eq!(table.missing_years(date(2024, 12, 1), date(2027, 3, 1)), vec![2024, 2027]);
    assert_eq!(table.missing_years(date(2025, 1, 1), date(2026, 12, 31)), Vec::<i16>::new());
    assert_eq!(table.missing_years(date(2026, 1, 1), date(2025, 1, 1)), Vec::<i16>::new());
    assert_eq!(HolidayTable::empty().missing_years(date(2026, 5, 1), date(2026, 5, 2)), vec![2026]);
}

#[test]
fn parse_year_accepts_a_new_year_block_starting_in_december() {
    let year = HolidayTable::parse_year(
        "year = 2019\noff = [\"2018-12-30\", \"2018-12-31\", \"2019-01-01\"]\nworkdays = [\"2018-12-29\"]\n",
    )
    .unwrap();
    let table = HolidayTable::from_years(vec![year]).unwrap();
    assert_eq!(table.day_kind(date(2018, 12, 29)), DayKind::MakeUpWorkday);
    assert_eq!(table.day_kind(date(2018, 12, 31)), DayKind::Holiday);
    assert!(!table.covers(2018));
}

#[test]
fn parse_year_errors_name_the_offending_value() {
    let err = |text: &str| HolidayTable::parse_year(text).unwrap_err();
    let e = err("year = 2026\noff = [\"2026-1-01\"]\nworkdays = []");
    assert_eq!(e, CalendarError::BadDate { field: "off", value: "2026-1-01".into() });
    assert_eq!(e.to_string(), "off: \"2026-1-01\" is not a date in the form YYYY-MM-DD");
    let e = err("year = 2026\noff = [\"2026-02-30\"]\nworkdays = []");
    assert!(matches!(e, CalendarError::BadDate { .. }), "{e}");
    let e = err("year = 2026\noff = [\"2025-10-01\"]\nworkdays = []");
    assert_eq!(e, CalendarError::DateOutsideYear { field: "off", date: date(2025, 10, 1), year: 2026 });
    let e = err("year = 2026\noff = [\"2027-01-01\"]\nworkdays = []");
    assert!(e.to_string().starts_with("off: 2027-01-01 does not belong to year 2026"), "{e}");
    let e = err("year = 2026\noff = []\nworkdays = [\"2026-01-05\"]");
    assert_eq!(
        e.to_string(),
        "workdays: 2026-01-05 is a Monday, but a make-up workday (调休上班日) must be a Saturday or Sunday"
    );
    let e = err("year = 2026\noff = [\"2026-01-04\"]\nworkdays = [\"2026-01-04\"]");
    assert_eq!(e, CalendarError::OffAndWorkday { date: date(2026, 1, 4) });
    let e = err("year = 2026\noff = [\"2026-01-01\", \"2026-01-01\"]\nworkdays = []");
    assert_eq!(e, CalendarError::DuplicateDate { field: "off", date: date(2026, 1, 1) });
    let e = err("year = 2026\noff = []\nworkdays = []\nextra = 1");
    assert!(matches!(e, CalendarError::HolidaySyntax(ref m) if m.contains("extra")), "{e}");
    let e = err("year = 2026\noff = []");
    assert!(matches!(e, CalendarError::HolidaySyntax(ref m) if m.contains("workdays")), "{e}");
    let e = err("year = 0\noff = []\nworkdays = []");
    assert_eq!(e, CalendarError::BadYear { year: 0 });
}

#[test]
fn from_years_rejects_a_year_twice_and_a_date_in_two_years() {
    let y = |text: &str| HolidayTable::parse_year(text).unwrap();
    let a = y("year = 2026\noff = []\nworkdays = []");
    let e = HolidayTable::from_years(vec![a.clone(), a]).unwrap_err();
    assert_eq!(e, CalendarError::DuplicateYear { year: 2026 });
    let e = HolidayTable::from_years(vec![
        y("year = 2019\noff = [\"2018-12-31\"]\nworkdays = []"),
        y("year = 2018\noff = [\"2018-12-31\"]\nworkdays = []"),
    ])
    .unwrap_err();
    assert_eq!(
        e,
        CalendarError::DateInTwoYears { date: date(2018, 12, 31), first_year: 2018, second_year: 2019 }
    );
}

// ---------------------------------------------------------------- working hours and specs

#[test]
fn intervals_parse_and_print() {
    let p = |s: &str| WorkingInterval::parse(s).unwrap();
    assert_eq!(p("08:30-12:00").to_string(), "08:30-12:00");
    assert_eq!(p("8:30 - 12:00"), p("08:30-12:00"));
    assert_eq!(p("14：30～18：00"), p("14:30-18:00"));
    assert_eq!(p("08:30:15-09:00").to_string(), "08:30:15-09:00");
    let all_day = p("00:00-24:00");
    assert_eq!(all_day.end(), None);
    assert_eq!(all_day.duration(), hours(24));
    assert_eq!(p("08:30-12:00").start(), time(8, 30, 0, 0));
    assert_eq!(p("08:30-12:00").end(), Some(time(12, 0, 0, 0)));
    assert_eq!(WorkingInterval::new(time(8, 30, 0, 0), time(12, 0, 0, 0)).unwrap(), p("08:30-12:00"));
    for bad in [
        "08:30",
        "08:30-",
        "8-12",
        "08:60-09:00",
        "24:00-24:00",
        "24:30-23:00",
        "18:00-08:30",
        "09:00-09:00",
        "a-b",
    ] {
        assert!(matches!(WorkingInterval::parse(bad), Err(CalendarError::BadInterval { .. })), "{bad}");
    }
    assert!(WorkingInterval::new(time(12, 0, 0, 0), time(8, 0, 0, 0)).is_err());
}

#[test]
fn hours_errors_name_weekday_index_and_text() {
    let spec = HoursSpec { tue: list(&["08:30-12:00", "14:30-12:00"]), ..HoursSpec::default() };
    assert_eq!(
        spec.build().unwrap_err().to_string(),
        "hours.tue[1] = \"14:30-12:00\": start 14:30 is not before end 12:00 (intervals cannot run past midnight; \
         end with 24:00 and start the next day at 00:00)"
    );
    let spec = HoursSpec { wed: list(&["08:30-12:00", "11:00-18:00"]), ..HoursSpec::default() };
    assert_eq!(
        spec.build().unwrap_err(),
        CalendarError::IntervalOrder {
            day: "wed",
            index: 1,
            text: "11:00-18:00".into(),
            previous_index: 0,
            previous_text: "08:30-12:00".into(),
        }
    );
    let spec = HoursSpec { fri: list(&["14:30-18:00", "08:30-12:00"]), ..HoursSpec::default() };
    assert!(
        spec.build()
            .unwrap_err()
            .to_string()
            .starts_with("hours.fri[1] = \"08:30-12:00\" starts before hours.fri[0]")
    );
    let spec = HoursSpec { sat: list(&["25:00-26:00"]), ..HoursSpec::default() };
    assert_eq!(
        spec.build().unwrap_err().to_string(),
        "hours.sat[0] = \"25:00-26:00\": start \"25:00\" is not a time like 08:30"
    );
    // Touching intervals are allowed.
    let spec = HoursSpec { mon: list(&["08:00-12:00", "12:00-13:00"]), ..HoursSpec::default() };
    assert!(spec.build().is_ok());
}

#[test]
fn court_default_is_mon_to_fri_0830_1200_1430_1800() {
    let h = WorkingHours::court_default();
    let day =
        [WorkingInterval::parse("08:30-12:00").unwrap(), WorkingInterval::parse("14:30-18:00").unwrap()];
    for w in [Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday, Weekday::Friday] {
        assert_eq!(h.on(w), day);
    }
    assert!(h.on(Weekday::Saturday).is_empty() && h.on(Weekday::Sunday).is_empty());
    let full = ["08:30-12:00", "14:30-18:00"];
    let spec = HoursSpec {
        mon: list(&full),
        tue: list(&full),
        wed: list(&full),
        thu: list(&full),
        fri: list(&full),
        ..HoursSpec::default()
    };
    assert_eq!(spec.build().unwrap(), h);
}

#[derive(serde::Deserialize)]
struct Config {
    calendars: std::collections::BTreeMap<String, CalendarSpec>,
}

#[test]
fn calendar_specs_deserialize_and_build() {
    let text = r#"
        [calendars.court]
        kind = "working"
        timezone = "Asia/Shanghai"
        hours = { mon = ["08:30-12:00", "14:30-18:00"], tue = ["08:30-12:00", "14:30-18:00"], wed = ["08:30-12:00", "14:30-18:00"], thu = ["08:30-12:00", "14:30-18:00"], fri = ["08:30-12:00", "14:30-18:00"], sat = [], sun = [] }

        [calendars.duty]
        kind = "always"

        [calendars.plain]
        kind = "working"
    "#;
    let config: Config = toml::from_str(text).unwrap();
    let holidays = Arc::new(HolidayTable::embedded());
    let utc = TimeZone::UTC;
    let court = config.calendars["court"].build(holidays.clone(), &utc).unwrap();
    let Calendar::Working(court) = court else { panic!("court is a working calendar") };
    assert_eq!(court.hours(), &WorkingHours::court_default());
    assert_eq!(court.time_zone().iana_name(), Some("Asia/Shanghai"));
    assert!(matches!(config.calendars["duty"].build(holidays.clone(), &utc).unwrap(), Calendar::Always));
    let Calendar::Working(plain) = config.calendars["plain"].build(holidays.clone(), &utc).unwrap() else {
        panic!("plain is a working calendar")
    };
    assert_eq!(plain.hours(), &WorkingHours::court_default());
    assert_eq!(plain.time_zone(), &utc);

    // Deserialising WorkingHours directly validates too.
    let hours: Result<WorkingHours, _> = toml::from_str("mon = [\"12:00-08:00\"]");
    assert!(hours.unwrap_err().to_string().contains("hours.mon[0] = \"12:00-08:00\""));
}

#[test]
fn calendar_spec_errors() {
    let holidays = Arc::new(HolidayTable::embedded());
    let tz = shanghai();
    let parse = |text: &str| toml::from_str::<CalendarSpec>(text);
    let e =
        parse("kind = \"always\"\nhours = { mon = [\"08:00-09:00\"] }").unwrap().build(holidays.clone(), &tz);
    assert_eq!(e.unwrap_err(), CalendarError::HoursForAlways);
    let e = parse("kind = \"working\"\ntimezone = \"Asia/Beijing\"").unwrap().build(holidays.clone(), &tz);
    assert!(matches!(e, Err(CalendarError::UnknownTimeZone { ref name, .. }) if name == "Asia/Beijing"));
    let e = parse("kind = \"working\"\nhours = { sat = [] }").unwrap().build(holidays.clone(), &tz);
    assert_eq!(e.unwrap_err(), CalendarError::NoWorkingHours);
    assert!(parse("kind = \"working\"\nhours = { monday = [] }").unwrap_err().to_string().contains("monday"));
    assert!(parse("kind = \"5x8\"").is_err());
    assert!(parse("kind = \"working\"\nzone = \"UTC\"").is_err());
}

// ---------------------------------------------------------------- the holiday weeks

#[test]
fn spring_festival_make_up_saturday_1750_plus_30_minutes() {
    // 2026-02-14 is a make-up Saturday; 2/15–2/23 is the Spring Festival block.
    let cal = court();
    assert_eq!(cal.add(at(2026, 2, 14, 17, 50), mins(30)).unwrap(), at(2026, 2, 24, 8, 50));
}

#[test]
fn national_day_1730_plus_4_hours() {
    // 30 min on 9/30, then 10/1–10/7 off, then 3.5 h fill the morning of 10/8 exactly: 12:00.
    let cal = court();
    assert_eq!(cal.add(at(2026, 9, 30, 17, 30), hours(4)).unwrap(), at(2026, 10, 8, 12, 0));
    // One minute more runs into the afternoon.
    assert_eq!(cal.add(at(2026, 9, 30, 17, 30), hours(4) + mins(1)).unwrap(), at(2026, 10, 8, 14, 31));
}

#[test]
fn make_up_saturday_and_sunday_are_counted() {
    let cal = court();
    // 2026-10-10 (Saturday) is a make-up workday.
    assert_eq!(cal.add(at(2026, 10, 9, 17, 0), hours(2)).unwrap(), at(2026, 10, 10, 9, 30));
    assert!(cal.is_working_instant(at(2026, 10, 10, 10, 0)));
    assert!(!cal.is_working_instant(at(2026, 10, 11, 10, 0)));
    // 2025-01-26 (Sunday) is a make-up workday; 2025-01-25 (Saturday) is not.
    assert_eq!(cal.add(at(2025, 1, 24, 17, 0), hours(2)).unwrap(), at(2025, 1, 26, 9, 30));
    assert!(!cal.is_working_instant(at(2025, 1, 25, 10, 0)));
}

#[test]
fn fault_on_new_years_day_counts_from_the_make_up_sunday() {
    let cal = court();
    let reported = at(2026, 1, 1, 10, 0);
    assert!(!cal.is_working_instant(reported));
    assert_eq!(cal.next_working_instant(reported), at(2026, 1, 4, 8, 30));
    assert_eq!(cal.add(reported, mins(30)).unwrap(), at(2026, 1, 4, 9, 0));
    assert_eq!(cal.working_time_between(reported, at(2026, 1, 4, 9, 0)), mins(30));
}

#[test]
fn lunch_break_and_day_boundaries() {
    let cal = court();
    // Monday 2026-03-02.
    assert_eq!(cal.add(at(2026, 3, 2, 11, 50), mins(20)).unwrap(), at(2026, 3, 2, 14, 40));
    assert_eq!(cal.add(at(2026, 3, 2, 12, 30), mins(20)).unwrap(), at(2026, 3, 2, 14, 50));
    // Used up exactly at the end of a segment: that end, not the next start.
    assert_eq!(cal.add(at(2026, 3, 2, 11, 30), mins(30)).unwrap(), at(2026, 3, 2, 12, 0));
    assert_eq!(cal.add(at(2026, 3, 2, 17, 30), mins(30)).unwrap(), at(2026, 3, 2, 18, 0));
    // Zero is the start itself.
    assert_eq!(cal.add(at(2026, 3, 2, 19, 0), SignedDuration::ZERO).unwrap(), at(2026, 3, 2, 19, 0));
    // Half-open segments.
    let one_second = SignedDuration::from_secs(1);
    assert!(cal.is_working_instant(at(2026, 3, 2, 8, 30)));
    assert!(!cal.is_working_instant(at(2026, 3, 2, 8, 30) - one_second));
    assert!(cal.is_working_instant(at(2026, 3, 2, 12, 0) - one_second));
    assert!(!cal.is_working_instant(at(2026, 3, 2, 12, 0)));
    assert!(!cal.is_working_instant(at(2026, 3, 2, 18, 0)));
    assert_eq!(cal.next_working_instant(at(2026, 3, 2, 12, 0)), at(2026, 3, 2, 14, 30));
    assert_eq!(cal.next_working_instant(at(2026, 3, 2, 18, 0)), at(2026, 3, 3, 8, 30));
    assert_eq!(cal.next_working_instant(at(2026, 3, 6, 18, 0)), at(2026, 3, 9, 8, 30)); // Friday → Monday
    assert_eq!(cal.next_working_instant(at(2026, 3, 2, 9, 0)), at(2026, 3, 2, 9, 0));
    // The contract example: 17:50 + 30 min → 08:50 next working day.
    assert_eq!(cal.add(at(2026, 3, 2, 17, 50), mins(30)).unwrap(), at(2026, 3, 3, 8, 50));
}

#[test]
fn working_time_between_across_holiday_blocks() {
    let cal = court();
    // 9/30 (7 h), 10/1–10/7 off, 10/8 (7 h).
    assert_eq!(cal.working_time_between(at(2026, 9, 30, 8, 30), at(2026, 10, 9, 8, 30)), hours(14));
    // 2025 Spring Festival: 1/27 (7 h), 1/28–2/4 off.
    assert_eq!(cal.working_time_between(at(2025, 1, 27, 8, 30), at(2025, 2, 5, 8, 30)), hours(7));
    // Partial days and a lunch break.
    assert_eq!(cal.working_time_between(at(2026, 3, 2, 11, 0), at(2026, 3, 2, 15, 0)), mins(90));
    assert_eq!(cal.working_time_between(at(2026, 3, 2, 15, 0), at(2026, 3, 2, 11, 0)), SignedDuration::ZERO);
    assert_eq!(cal.working_time_between(at(2026, 10, 1, 0, 0), at(2026, 10, 8, 0, 0)), SignedDuration::ZERO);
}

#[test]
fn seven_by_twenty_four_is_plain_arithmetic() {
    let cal = Calendar::Always;
    let t = at(2026, 10, 1, 3, 17);
    assert_eq!(cal.add(t, hours(4)).unwrap(), t + hours(4));
    assert_eq!(cal.add(t, SignedDuration::ZERO).unwrap(), t);
    assert_eq!(cal.working_time_between(t, t + mins(90)), mins(90));
    assert_eq!(cal.working_time_between(t + mins(90), t), SignedDuration::ZERO);
    assert_eq!(cal.next_working_instant(t), t);
    assert!(cal.is_working_instant(t));
    assert_eq!(cal.add_working_days(t, 5).unwrap(), t + hours(120));
    assert!(matches!(cal.add(t, mins(-1)), Err(CalendarError::NegativeDuration { .. })));
    assert_eq!(cal.add(Timestamp::MAX, mins(1)), Err(CalendarError::OutOfRange));
}

#[test]
fn negative_duration_is_an_error() {
    let e = court().add(at(2026, 3, 2, 9, 0), mins(-5)).unwrap_err();
    assert_eq!(e, CalendarError::NegativeDuration { duration: mins(-5) });
}

#[test]
fn make_up_workday_uses_fridays_hours() {
    let cal = custom(HoursSpec {
        mon: list(&["08:00-17:00"]),
        fri: list(&["09:00-11:00"]),
        sat: list(&["10:00-12:00"]),
        ..HoursSpec::default()
    });
    let Calendar::Working(working) = &cal else { unreachable!() };
    // 2026-01-04 is a make-up Sunday; 2026-02-14 a make-up Saturday: Friday's hours, not Saturday's.
    assert_eq!(working.hours_on(date(2026, 1, 4)), working.hours().on(Weekday::Friday));
    assert_eq!(working.hours_on(date(2026, 2, 14)), working.hours().on(Weekday::Friday));
    assert!(cal.is_working_instant(at(2026, 1, 4, 9, 0)));
    assert!(!cal.is_working_instant(at(2026, 2, 14, 11, 30)));
    // An ordinary Saturday has the Saturday hours; a Saturday in a holiday block has none.
    assert!(cal.is_working_instant(at(2026, 3, 7, 11, 30)));
    assert!(working.hours_on(date(2026, 1, 3)).is_empty());
    assert!(!cal.is_working_instant(at(2026, 1, 3, 11, 0)));
}

#[test]
fn add_working_days_keeps_the_wall_clock_time() {
    let cal = court();
    // Mon 9/28 10:00 + 5: 9/29, 9/30, 10/8, 10/9, 10/10 (make-up Saturday).
    assert_eq!(cal.add_working_days(at(2026, 9, 28, 10, 0), 5).unwrap(), at(2026, 10, 10, 10, 0));
    // Reported at night: counts from the next working morning.
    assert_eq!(cal.add_working_days(at(2026, 9, 30, 20, 0), 1).unwrap(), at(2026, 10, 9, 8, 30));
    // Reported on a holiday: counts from 1/4 08:30 (make-up Sunday).
    assert_eq!(cal.add_working_days(at(2026, 1, 1, 10, 0), 5).unwrap(), at(2026, 1, 9, 8, 30));
    // Reported in the lunch break: counts from 14:30.
    assert_eq!(cal.add_working_days(at(2026, 3, 2, 13, 0), 1).unwrap(), at(2026, 3, 3, 14, 30));
    assert_eq!(cal.add_working_days(at(2026, 3, 2, 13, 0), 0).unwrap(), at(2026, 3, 2, 14, 30));
    assert_eq!(cal.add_working_days(at(2026, 3, 2, 9, 15), 0).unwrap(), at(2026, 3, 2, 9, 15));
}

#[test]
fn add_working_days_clamps_into_shorter_days() {
    let cal = custom(HoursSpec {
        mon: list(&["08:00-13:00"]),
        tue: list(&["08:30-12:00", "14:30-18:00"]),
        wed: list(&["08:00-18:00"]),
        thu: list(&["08:00-18:00"]),
        fri: list(&["08:30-12:00"]),
        ..HoursSpec::default()
    });
    // Mon 3/2 12:30 → Tue 12:30 is in the break: back to 12:00.
    assert_eq!(cal.add_working_days(at(2026, 3, 2, 12, 30), 1).unwrap(), at(2026, 3, 3, 12, 0));
    // Mon 08:10 → Tue 08:10 is before the day starts: forward to 08:30.
    assert_eq!(cal.add_working_days(at(2026, 3, 2, 8, 10), 1).unwrap(), at(2026, 3, 3, 8, 30));
    // Thu 16:00 → Fri 16:00 is after the day's end: back to 12:00.
    assert_eq!(cal.add_working_days(at(2026, 3, 5, 16, 0), 1).unwrap(), at(2026, 3, 6, 12, 0));
}

#[test]
fn years_without_data_follow_the_plain_rule() {
    let cal = court();
    // 2027 has no notice yet: 2027-01-01 (Friday) is counted as a working day.
    assert!(cal.is_working_instant(at(2027, 1, 1, 9, 0)));
    assert_eq!(cal.add(at(2026, 12, 31, 17, 50), mins(30)).unwrap(), at(2027, 1, 1, 8, 50));
    assert_eq!(cal.add(at(2027, 1, 1, 17, 50), mins(30)).unwrap(), at(2027, 1, 4, 8, 50));
}

#[test]
fn calendars_of_all_day_intervals_join_across_midnight() {
    let cal = custom(HoursSpec {
        mon: list(&["00:00-24:00"]),
        tue: list(&["00:00-24:00"]),
        ..HoursSpec::default()
    });
    // Mon 2026-03-02 23:00 + 2 h → Tue 01:00; Tue 23:00 + 2 h → next Monday 01:00.
    assert_eq!(cal.add(at(2026, 3, 2, 23, 0), hours(2)).unwrap(), at(2026, 3, 3, 1, 0));
    assert_eq!(cal.add(at(2026, 3, 3, 23, 0), hours(2)).unwrap(), at(2026, 3, 9, 1, 0));
    assert!(cal.is_working_instant(at(2026, 3, 3, 0, 0)));
    assert!(!cal.is_working_instant(at(2026, 3, 4, 0, 0)));
}

#[test]
fn daylight_saving_days_count_their_real_length() {
    // Europe/Berlin: 2026-03-29 has 23 hours, 2026-10-25 has 25; 02:30 on 3/29 does not exist.
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let every_day = list(&["00:00-24:00"]);
    let spec = HoursSpec {
        mon: every_day.clone(),
        tue: every_day.clone(),
        wed: every_day.clone(),
        thu: every_day.clone(),
        fri: every_day.clone(),
        sat: every_day.clone(),
        sun: every_day,
    };
    let cal = Calendar::Working(
        WorkingCalendar::new(spec.build().unwrap(), Arc::new(HolidayTable::empty()), berlin.clone()).unwrap(),
    );
    let midnight = |d: Date| berlin.to_timestamp(d.to_datetime(Time::midnight())).unwrap();
    let (mar29, mar30) = (midnight(date(2026, 3, 29)), midnight(date(2026, 3, 30)));
    assert_eq!(cal.working_time_between(mar29, mar30), hours(23));
    assert_eq!(
        cal.working_time_between(midnight(date(2026, 10, 25)), midnight(date(2026, 10, 26))),
        hours(25)
    );
    assert_eq!(cal.add(mar29, hours(23)).unwrap(), mar30);

    let gap = HoursSpec { sun: list(&["02:30-04:00"]), ..HoursSpec::default() };
    let cal = Calendar::Working(
        WorkingCalendar::new(gap.build().unwrap(), Arc::new(HolidayTable::empty()), berlin.clone()).unwrap(),
    );
    let four = berlin.to_timestamp(date(2026, 3, 29).at(4, 0, 0, 0)).unwrap();
    assert_eq!(cal.working_time_between(mar29, mar30), mins(30));
    assert_eq!(cal.add(mar29, mins(30)).unwrap(), four);
}

#[test]
fn ten_thousand_deadlines_of_three_working_days() {
    let cal = court();
    let start = at(2025, 1, 1, 0, 0);
    let mut last = start;
    for i in 0..10_000_i64 {
        let t = start + SignedDuration::from_mins(i * 97);
        last = cal.add(t, hours(21)).unwrap();
        assert!(last > t);
    }
    assert!(last > start);
}

// ---------------------------------------------------------------- properties

/// Instants from 2024-12-01 to 2027-02-01 (holiday years and the plain years around them), minute steps
/// with an occasional odd second.
fn instant() -> impl Strategy<Value = Timestamp> {
    let from = at(2024, 12, 1, 0, 0).as_second();
    let to = at(2027, 2, 1, 0, 0).as_second();
    prop_oneof![
        (from / 60..to / 60).prop_map(|m| Timestamp::from_second(m * 60).unwrap()),
        (from..to).prop_map(|s| Timestamp::from_second(s).unwrap()),
    ]
}

/// Up to ~4 weeks of working time.
fn working_time() -> impl Strategy<Value = SignedDuration> {
    prop_oneof![
        (0_i64..=160 * 60).prop_map(SignedDuration::from_mins),
        (0_i64..=3600).prop_map(SignedDuration::from_secs)
    ]
}

fn a_date_of(dates: Vec<Date>) -> impl Strategy<Value = Date> {
    proptest::sample::select(dates)
}

fn seconds_of_day() -> impl Strategy<Value = Time> {
    (0_i32..86_400).prop_map(|s| Time::new((s / 3600) as i8, (s / 60 % 60) as i8, (s % 60) as i8, 0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn add_is_monotone(t in instant(), d1 in working_time(), d2 in working_time()) {
        let cal = court();
        let (d1, d2) = if d1 <= d2 { (d1, d2) } else { (d2, d1) };
        prop_assert!(cal.add(t, d1).unwrap() <= cal.add(t, d2).unwrap());
    }

    #[test]
    fn add_is_additive_from_any_instant(t in instant(), a in working_time(), b in working_time()) {
        let cal = court();
        prop_assert_eq!(cal.add(cal.add(t, a).unwrap(), b).unwrap(), cal.add(t, a + b).unwrap());
    }

    #[test]
    fn working_time_between_inverts_add(t in instant(), d in working_time()) {
        let cal = court();
        let u = cal.add(t, d).unwrap();
        prop_assert!(u >= t);
        prop_assert_eq!(cal.working_time_between(t, u), d);
        // And `u` is the earliest such instant: a second earlier is short (for d > 0).
        if d.is_positive() {
            prop_assert!(cal.working_time_between(t, u - SignedDuration::from_secs(1)) < d);
        }
    }

    #[test]
    fn working_instants_start_the_clock(t in instant(), d in working_time()) {
        let cal = court();
        let s = cal.next_working_instant(t);
        prop_assert!(s >= t);
        prop_assert!(cal.is_working_instant(s));
        prop_assert_eq!(cal.working_time_between(t, s), SignedDuration::ZERO);
        if d.is_positive() {
            prop_assert_eq!(cal.add(t, d).unwrap(), cal.add(s, d).unwrap());
        }
        prop_assert_eq!(cal.is_working_instant(t), s == t);
    }

    #[test]
    fn working_time_between_is_additive(a in instant(), b in instant(), c in instant()) {
        let cal = court();
        let mut v = [a, b, c];
        v.sort();
        let [a, b, c] = v;
        prop_assert_eq!(cal.working_time_between(a, b) + cal.working_time_between(b, c), cal.working_time_between(a, c));
    }

    #[test]
    fn holiday_dates_are_never_working_time(
        day in a_date_of(HolidayTable::embedded().years().flat_map(|y| HolidayTable::embedded().year(y).unwrap().off().collect::<Vec<_>>()).collect()),
        clock in seconds_of_day(),
    ) {
        let cal = court();
        let t = shanghai().to_timestamp(day.to_datetime(clock)).unwrap();
        prop_assert!(!cal.is_working_instant(t));
    }

    #[test]
    fn make_up_workdays_are_working_time(
        day in a_date_of(HolidayTable::embedded().years().flat_map(|y| HolidayTable::embedded().year(y).unwrap().workdays().collect::<Vec<_>>()).collect()),
        minute in 0_i32..420,
    ) {
        // 420 minutes of Friday's hours: 08:30–12:00 and 14:30–18:00.
        let cal = court();
        let clock = if minute < 210 { 8 * 60 + 30 + minute } else { 14 * 60 + 30 + minute - 210 };
        let t = at(day.year(), day.month(), day.day(), (clock / 60) as i8, (clock % 60) as i8);
        prop_assert!(matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday));
        prop_assert!(cal.is_working_instant(t));
    }

    #[test]
    fn add_working_days_is_monotone_and_lands_in_working_time(t in instant(), n in 0_u32..15) {
        let cal = court();
        let a = cal.add_working_days(t, n).unwrap();
        let b = cal.add_working_days(t, n + 1).unwrap();
        prop_assert!(a < b);
        prop_assert!(a >= t);
        // With equal hours every working day, n + 1 working days are exactly 7 h more working time.
        prop_assert_eq!(cal.working_time_between(a, b), SignedDuration::from_hours(7));
        prop_assert!(cal.is_working_instant(a));
    }
}
