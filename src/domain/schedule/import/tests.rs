use jiff::civil::{Date, DateTime};

use super::*;

const PEOPLE: [(&str, &str, &str); 4] = [
    ("zhangwei", "张伟", "13800138001"),
    ("lina", "李娜", "13800138002"),
    ("liuyang", "刘洋", "13800138004"),
    ("chenjing", "陈静", "13800138005"),
];

/// Exact name, else phone digits: what the configuration does with the catalogue.
fn resolve(name: &str, phone: Option<&str>) -> Result<String, String> {
    let digits = |p: &str| p.chars().filter(char::is_ascii_digit).collect::<String>();
    PEOPLE
        .iter()
        .find(|(_, n, _)| *n == name)
        .or_else(|| phone.and_then(|p| PEOPLE.iter().find(|(_, _, q)| *q == digits(p))))
        .map(|(id, _, _)| id.to_string())
        .ok_or_else(|| format!("no person named '{name}'"))
}

fn import(
    bytes: &[u8],
    format: RosterFormat,
    year: Option<i16>,
) -> Result<Vec<RosterShift>, Vec<RosterError>> {
    let table = ShiftTimes::defaults();
    let options = ImportOptions { year, shift_times: &table, sheet: None };
    parse_roster(bytes, format, &options, &resolve)
}

fn dt(s: &str) -> DateTime {
    s.parse().unwrap()
}

fn summary(shifts: &[RosterShift]) -> Vec<(String, String, DateTime, DateTime)> {
    shifts.iter().map(|s| (s.person().to_owned(), s.shift().to_owned(), s.start(), s.end())).collect()
}

const CSV: &str = "\
2026年国庆节假日值班表,,,,,,
日期,星期,班次,值班人,联系电话,开始时间,结束时间
2026-10-01,周四,白班,张伟,138-0013-8001,,
,,夜班,李娜,138-0013-8002,,
2026/10/2,周五,全天,刘洋、陈静,,,
10月3日（周六）,,白班,Liu Y,13800138004,09:00,
2026年10月3日,周六,夜班,陈静,,18:00,次日9:00
注：如有调整请提前一天告知项目经理,,,,,,
";

#[test]
fn a_csv_roster_in_the_usual_shape() {
    let shifts = import(CSV.as_bytes(), RosterFormat::Csv, Some(2026)).unwrap();
    let expect = vec![
        ("zhangwei", "白班", dt("2026-10-01T08:30"), dt("2026-10-01T17:30")),
        ("lina", "夜班", dt("2026-10-01T17:30"), dt("2026-10-02T08:30")),
        ("liuyang", "全天", dt("2026-10-02T00:00"), dt("2026-10-03T00:00")),
        ("chenjing", "全天", dt("2026-10-02T00:00"), dt("2026-10-03T00:00")),
        // An unknown spelling of the name, matched by phone; the start column beats the shift's.
        ("liuyang", "白班", dt("2026-10-03T09:00"), dt("2026-10-03T17:30")),
        ("chenjing", "夜班", dt("2026-10-03T18:00"), dt("2026-10-04T09:00")),
    ];
    let expect: Vec<_> = expect.into_iter().map(|(a, b, c, d)| (a.to_owned(), b.to_owned(), c, d)).collect();
    assert_eq!(summary(&shifts), expect);
    assert_eq!(shifts[0].phone(), Some("138-0013-8001"));
    assert_eq!(shifts[1].date(), Date::constant(2026, 10, 1), "an empty date cell continues the row above");
}

#[test]
fn gbk_and_byte_order_marks_are_read() {
    let (gbk, _, lossy) = encoding_rs::GBK.encode(CSV);
    assert!(!lossy);
    assert!(std::str::from_utf8(&gbk).is_err(), "really GBK");
    let from_gbk = import(&gbk, RosterFormat::Csv, Some(2026)).unwrap();
    let plain = import(CSV.as_bytes(), RosterFormat::Csv, Some(2026)).unwrap();
    assert_eq!(from_gbk, plain);

    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(CSV.as_bytes());
    assert_eq!(import(&bom, RosterFormat::Csv, Some(2026)).unwrap(), plain);

    let tabs = CSV.replace(',', "\t");
    assert_eq!(import(tabs.as_bytes(), RosterFormat::Csv, Some(2026)).unwrap(), plain);
}

#[test]
fn english_headers_work_too() {
    let csv = "date,shift,name,phone\n2026-10-01,day,张伟,\n2026-10-01,night,李娜,\n";
    let shifts = import(csv.as_bytes(), RosterFormat::Csv, None).unwrap();
    assert_eq!(shifts.len(), 2);
    assert_eq!(shifts[1].end(), dt("2026-10-02T08:30"));
}

#[test]
fn every_bad_row_is_reported_with_row_and_column() {
    let csv = "\
日期,班次,值班人,电话
2026-10-01,白班,王五,
2026-10-32,白班,张伟,
2026-10-02,早班,张伟,
10月3日,白班,李娜,
2026-10-04,白班,,
2026-10-05,白班,李娜,
";
    let errors = import(csv.as_bytes(), RosterFormat::Csv, None).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 5, "{text:#?}");
    assert_eq!(text[0], "row 2, column 值班人: no person named '王五'");
    assert!(text[1].starts_with("row 3, column 日期: '2026-10-32'"), "{}", text[1]);
    assert!(text[2].starts_with("row 4, column 班次: unknown shift '早班'"), "{}", text[2]);
    assert!(text[3].starts_with("row 5, column 日期: '10月3日' has no year"), "{}", text[3]);
    assert_eq!(text[4], "row 6, column 值班人: no one is named for this shift");
}

#[test]
fn files_without_the_needed_columns_are_refused() {
    let no_header = "姓名,电话\n张伟,1\n";
    assert_eq!(
        import(no_header.as_bytes(), RosterFormat::Csv, None).unwrap_err(),
        vec![RosterError::NoHeader]
    );
    let no_shift = "日期,值班人\n2026-10-01,张伟\n";
    assert_eq!(
        import(no_shift.as_bytes(), RosterFormat::Csv, None).unwrap_err(),
        vec![RosterError::NoShiftOrTimes]
    );
    let times_only = "日期,值班人,开始,结束\n2026-10-01,张伟,08:00,20:00\n";
    let shifts = import(times_only.as_bytes(), RosterFormat::Csv, None).unwrap();
    assert_eq!((shifts[0].shift(), shifts[0].end()), ("值班", dt("2026-10-01T20:00")));
    assert!(import(b"", RosterFormat::Csv, None).is_err());
}

#[test]
fn dates_and_times_as_people_write_them() {
    for (text, expect) in [
        ("2026-10-01", (2026, 10, 1)),
        ("2026/10/1", (2026, 10, 1)),
        ("2026.10.01", (2026, 10, 1)),
        ("2026年10月1日", (2026, 10, 1)),
        ("2026年10月1日 星期四", (2026, 10, 1)),
        ("10月1日", (2026, 10, 1)),
        ("10月1号（周四）", (2026, 10, 1)),
        ("20261001", (2026, 10, 1)),
        ("46296", (2026, 10, 1)),
        ("2026-10-01 08:30", (2026, 10, 1)),
    ] {
        let d = text::parse_date(text, Some(2026)).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(d, Date::new(expect.0, expect.1, expect.2).unwrap(), "{text}");
    }
    for bad in ["", "明天", "2026-13-01", "2026-02-30", "1/2/3/4", "99999999999999999999"] {
        assert!(text::parse_date(bad, Some(2026)).is_err(), "{bad}");
    }
    assert!(text::parse_time("次日08:30").unwrap().1);
    assert!(text::parse_time("24:00").unwrap().1);
    assert_eq!(text::parse_time("8点半").unwrap().0, jiff::civil::Time::constant(8, 30, 0, 0));
    assert!(text::parse_time("25:00").is_err());
}

#[test]
fn an_xlsx_roster_with_real_date_cells() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date_format = Format::new().set_num_format("yyyy\"年\"m\"月\"d\"日\"");
    let time_format = Format::new().set_num_format("hh:mm");
    sheet.write_string(0, 1, "国庆值班表").unwrap();
    for (col, head) in ["日期", "班次", "姓名", "手机", "开始", "结束"].iter().enumerate() {
        sheet.write_string(1, col as u16 + 1, *head).unwrap();
    }
    // A date-typed cell.
    sheet
        .write_datetime_with_format(2, 1, ExcelDateTime::from_ymd(2026, 10, 1).unwrap(), &date_format)
        .unwrap();
    sheet.write_string(2, 2, "白班").unwrap();
    sheet.write_string(2, 3, "张伟").unwrap();
    sheet.write_number(2, 4, 13_800_138_001.0).unwrap();
    // A plain serial number and time-typed start/end cells.
    sheet.write_number(3, 1, 46_296.0).unwrap();
    sheet.write_string(3, 2, "夜班").unwrap();
    sheet.write_string(3, 3, "李娜").unwrap();
    sheet.write_datetime_with_format(3, 5, ExcelDateTime::from_hms(18, 0, 0).unwrap(), &time_format).unwrap();
    sheet.write_datetime_with_format(3, 6, ExcelDateTime::from_hms(8, 0, 0).unwrap(), &time_format).unwrap();
    // A text date and an unknown person: reported with the spreadsheet's row number.
    sheet.write_string(4, 1, "2026-10-02").unwrap();
    sheet.write_string(4, 2, "白班").unwrap();
    sheet.write_string(4, 3, "王五").unwrap();
    let bytes = book.save_to_buffer().unwrap();

    let errors = import(&bytes, RosterFormat::Workbook, None).unwrap_err();
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["row 5, column 姓名: no person named '王五'"]
    );

    let mut book = Workbook::new();
    let sheet = book.add_worksheet().set_name("值班").unwrap();
    sheet.write_string(0, 0, "日期").unwrap();
    sheet.write_string(0, 1, "班次").unwrap();
    sheet.write_string(0, 2, "姓名").unwrap();
    sheet.write_string(0, 3, "开始").unwrap();
    sheet.write_string(0, 4, "结束").unwrap();
    sheet
        .write_datetime_with_format(1, 0, ExcelDateTime::from_ymd(2026, 10, 1).unwrap(), &date_format)
        .unwrap();
    sheet.write_string(1, 1, "白班").unwrap();
    sheet.write_string(1, 2, "张伟").unwrap();
    sheet.write_number(2, 0, 46_296.0).unwrap();
    sheet.write_string(2, 1, "夜班").unwrap();
    sheet.write_string(2, 2, "李娜").unwrap();
    sheet.write_datetime_with_format(2, 3, ExcelDateTime::from_hms(18, 0, 0).unwrap(), &time_format).unwrap();
    sheet.write_datetime_with_format(2, 4, ExcelDateTime::from_hms(8, 0, 0).unwrap(), &time_format).unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let shifts = import(&bytes, RosterFormat::Workbook, None).unwrap();
    assert_eq!(
        summary(&shifts),
        vec![
            ("zhangwei".to_owned(), "白班".to_owned(), dt("2026-10-01T08:30"), dt("2026-10-01T17:30")),
            ("lina".to_owned(), "夜班".to_owned(), dt("2026-10-01T18:00"), dt("2026-10-02T08:00")),
        ]
    );
    let table = ShiftTimes::defaults();
    let options = ImportOptions { year: None, shift_times: &table, sheet: Some("Sheet9") };
    let e = parse_roster(&bytes, RosterFormat::Workbook, &options, &resolve).unwrap_err();
    assert_eq!(e[0].to_string(), "no worksheet named 'Sheet9' (sheets: 值班)");
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bytes in [&b""[..], b"PK\x03\x04garbage", &[0xFF; 64], b"\x00\x01\x02"] {
        assert!(matches!(
            import(bytes, RosterFormat::Workbook, None),
            Err(e) if matches!(e[0], RosterError::Unreadable { .. })
        ));
        let _ = import(bytes, RosterFormat::Csv, None);
    }
}
