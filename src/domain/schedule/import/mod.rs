//! Roster import (值班表导入): holiday duty rosters from the CSV or Excel files teams already keep.
//!
//! A roster is a table with a header row (found among the first [`HEADER_SEARCH_ROWS`] rows, so a
//! title row above it is fine) and one row per person and shift. Columns are found by their header,
//! in Chinese or English; others (星期, 备注, 带班领导 …) are ignored:
//!
//! | column | headers | |
//! | --- | --- | --- |
//! | date | 日期, 值班日期, date | required; `2026-10-01`, `2026/10/1`, `2026年10月1日`, `10月1日` (with a year given), Excel dates; empty = the date of the row above (merged cells) |
//! | shift | 班次, 班别, 时段, 值班时段, shift | a name from [`ShiftTimes`] (白班, 夜班, 全天 …) |
//! | name | 值班人, 值班人员, 值班员, 姓名, name, person | required; several people as `张伟、李娜` |
//! | phone | 电话, 联系电话, 手机, 手机号, 联系方式, phone, mobile | helps match a name; shown as written |
//! | start, end | 开始(时间), 结束(时间), 接班时间, 交班时间, start, end | times that beat the shift's; an end at or before the start, or written `次日08:30`, is on the next day |
//!
//! A name becomes a person id through the `resolve` function the caller passes in (the configuration
//! matches the catalogue by name and phone), so this module stays pure. Every bad row is reported,
//! with its row number as the spreadsheet shows it and the column's header as written.

#[cfg(test)]
mod tests;
mod text;

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Data, Reader};
use jiff::civil::{Date, DateTime, Time};

use super::fold;
use super::roster::{RosterShift, ShiftTimes};

/// How many rows from the top may come before the header row (titles, notes).
pub const HEADER_SEARCH_ROWS: usize = 10;

/// The kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RosterFormat {
    /// Comma-separated (or tab-separated) text in UTF-8, UTF-16 with a BOM, or GBK.
    Csv,
    /// An Excel workbook (.xlsx, .xlsm, .xls) or OpenDocument spreadsheet (.ods).
    Workbook,
}

impl RosterFormat {
    /// The format a file name's extension says, if it is one of ours.
    pub fn from_extension(ext: &str) -> Option<RosterFormat> {
        match ext.to_ascii_lowercase().as_str() {
            "csv" | "txt" | "tsv" => Some(RosterFormat::Csv),
            "xlsx" | "xlsm" | "xls" | "ods" => Some(RosterFormat::Workbook),
            _ => None,
        }
    }
}

/// What the importer needs besides the bytes.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions<'a> {
    /// The year of dates written without one (`10月1日`); None makes such dates an error.
    pub year: Option<i16>,
    /// Shift names and their times.
    pub shift_times: &'a ShiftTimes,
    /// The worksheet to read (workbooks only); None = the first.
    pub sheet: Option<&'a str>,
}

/// What is wrong with a roster file or one of its rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    /// The bytes are not a readable file of the format.
    #[error("cannot read the file: {reason}")]
    Unreadable { reason: String },
    /// The workbook has no sheet of that name (or no sheet at all).
    #[error("no worksheet named '{name}' (sheets: {sheets})")]
    NoSheet { name: String, sheets: String },
    /// No row near the top names a date column and a name column.
    #[error(
        "no header row in the first {HEADER_SEARCH_ROWS} rows: a roster needs a date column (日期 or date) \
         and a name column (值班人, 姓名 or name)"
    )]
    NoHeader,
    /// The header row names neither a shift column nor start and end columns.
    #[error("the header row has no shift column (班次 or shift) and no start and end columns (开始, 结束)")]
    NoShiftOrTimes,
    /// One cell of one row.
    #[error("row {row}, column {column}: {reason}")]
    Cell { row: usize, column: String, reason: String },
    /// One row as a whole.
    #[error("row {row}: {reason}")]
    Row { row: usize, reason: String },
}

/// Turns a name (and the phone written next to it, if any) into a person id, or says why it cannot.
pub type Resolve<'a> = dyn Fn(&str, Option<&str>) -> Result<String, String> + 'a;

/// Reads a roster. All rows are checked; on any problem, all problems are returned.
pub fn parse_roster(
    bytes: &[u8],
    format: RosterFormat,
    options: &ImportOptions<'_>,
    resolve: &Resolve<'_>,
) -> Result<Vec<RosterShift>, Vec<RosterError>> {
    let table = match format {
        RosterFormat::Csv => read_csv(bytes),
        RosterFormat::Workbook => read_workbook(bytes, options.sheet),
    }
    .map_err(|e| vec![e])?;
    Import { options, resolve }.rows(&table)
}

/// One cell, whatever the file kind.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// An Excel date or date-time.
    DateTime(DateTime),
    /// An Excel time of day (a date cell below one day).
    Time(Time),
}

impl Cell {
    fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }

    fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.trim().to_owned(),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Cell::Number(n) => n.to_string(),
            Cell::DateTime(dt) => dt.to_string(),
            Cell::Time(t) => t.strftime("%H:%M").to_string(),
        }
    }
}

/// Rows with their numbers as the spreadsheet shows them (1-based).
struct Table {
    rows: Vec<(usize, Vec<Cell>)>,
}

fn read_csv(bytes: &[u8]) -> Result<Table, RosterError> {
    let text = text::decode(bytes);
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let delimiter =
        if first_line.matches('\t').count() > first_line.matches(',').count() { b'\t' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| RosterError::Unreadable { reason: e.to_string() })?;
        let row = record.position().map_or(i + 1, |p| usize::try_from(p.line()).unwrap_or(i + 1));
        let cells =
            record.iter().map(|c| if c.trim().is_empty() { Cell::Empty } else { Cell::Text(c.to_owned()) });
        rows.push((row, cells.collect()));
    }
    Ok(Table { rows })
}

fn read_workbook(bytes: &[u8], sheet: Option<&str>) -> Result<Table, RosterError> {
    // Rosters are user files; a reader bug on a strange file must become an error, not a crash.
    catch_unwind(AssertUnwindSafe(|| read_workbook_inner(bytes, sheet))).unwrap_or_else(|_| {
        Err(RosterError::Unreadable { reason: "the spreadsheet reader failed on this file".to_owned() })
    })
}

fn read_workbook_inner(bytes: &[u8], sheet: Option<&str>) -> Result<Table, RosterError> {
    let unreadable = |e: calamine::Error| RosterError::Unreadable { reason: e.to_string() };
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(unreadable)?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(wanted) => names.iter().find(|n| fold(n) == fold(wanted)).cloned(),
        None => names.first().cloned(),
    };
    let Some(name) = name else {
        return Err(RosterError::NoSheet { name: sheet.unwrap_or("").to_owned(), sheets: names.join(", ") });
    };
    let range = book.worksheet_range(&name).map_err(unreadable)?;
    let (top, left) = range.start().unwrap_or((0, 0));
    let mut rows = Vec::new();
    for (i, row) in range.rows().enumerate() {
        let mut cells: Vec<Cell> = (0..left).map(|_| Cell::Empty).collect();
        cells.extend(row.iter().map(cell_of));
        rows.push((top as usize + i + 1, cells));
    }
    Ok(Table { rows })
}

fn cell_of(data: &Data) -> Cell {
    match data {
        Data::Empty | Data::Error(_) => Cell::Empty,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(dt) => {
            let value = dt.as_f64();
            if (0.0..1.0).contains(&value) {
                let secs = (value * 86_400.0).round() as i64;
                let time = Time::midnight().checked_add(jiff::SignedDuration::from_secs(secs));
                // 1.0 day rounds to 24:00, which a time cannot hold: keep it as text.
                match time {
                    Ok(t) if secs < 86_400 => Cell::Time(t),
                    _ => Cell::Text("24:00".to_owned()),
                }
            } else {
                let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
                let dt = i16::try_from(y).ok().and_then(|y| {
                    let date = Date::new(y, mo as i8, d as i8).ok()?;
                    Some(date.to_datetime(Time::new(h as i8, mi as i8, s as i8, 0).ok()?))
                });
                dt.map_or(Cell::Number(value), Cell::DateTime)
            }
        }
    }
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Date,
    Shift,
    Name,
    Phone,
    Start,
    End,
}

const HEADERS: [(Column, &[&str]); 6] = [
    (Column::Date, &["日期", "值班日期", "date", "day"]),
    (Column::Shift, &["班次", "班别", "班种", "时段", "值班时段", "值班班次", "shift"]),
    (
        Column::Name,
        &["值班人", "值班人员", "值班员", "值班工程师", "姓名", "人员", "name", "person", "engineer"],
    ),
    (
        Column::Phone,
        &["电话", "联系电话", "手机", "手机号", "手机号码", "联系方式", "电话号码", "phone", "mobile", "tel"],
    ),
    (Column::Start, &["开始", "开始时间", "起始时间", "接班时间", "上班时间", "start", "from"]),
    (Column::End, &["结束", "结束时间", "截止时间", "交班时间", "下班时间", "end", "until", "to"]),
];

fn column_of(header: &str) -> Option<Column> {
    // "电话（手机）" and "*日期" are still the phone and the date.
    let head = header.split(['(', '（']).next().unwrap_or("").replace('*', "");
    let key = fold(&head);
    HEADERS.iter().find(|(_, names)| names.iter().any(|n| fold(n) == key)).map(|(c, _)| *c)
}

/// The header row: the positions and written headers of the columns it names.
struct Header {
    /// (column kind, position, header as written); the first of each kind counts.
    columns: Vec<(Column, usize, String)>,
}

impl Header {
    fn find(row: &[Cell]) -> Option<Header> {
        let mut columns: Vec<(Column, usize, String)> = Vec::new();
        for (i, cell) in row.iter().enumerate() {
            let text = cell.text();
            if let Some(c) = column_of(&text)
                && !columns.iter().any(|(k, _, _)| *k == c)
            {
                columns.push((c, i, text));
            }
        }
        let has = |c: Column| columns.iter().any(|(k, _, _)| *k == c);
        (has(Column::Date) && has(Column::Name)).then_some(Header { columns })
    }

    fn get(&self, c: Column) -> Option<(usize, &str)> {
        self.columns.iter().find(|(k, _, _)| *k == c).map(|(_, i, h)| (*i, h.as_str()))
    }
}

struct Import<'a, 'r> {
    options: &'a ImportOptions<'a>,
    resolve: &'a Resolve<'r>,
}

/// A row's cell in a column, with what an error about it needs.
struct At<'c> {
    row: usize,
    header: &'c str,
    cell: &'c Cell,
}

impl At<'_> {
    fn error(&self, reason: impl Into<String>) -> RosterError {
        RosterError::Cell { row: self.row, column: self.header.to_owned(), reason: reason.into() }
    }
}

impl Import<'_, '_> {
    fn rows(&self, table: &Table) -> Result<Vec<RosterShift>, Vec<RosterError>> {
        let search = table.rows.iter().take(HEADER_SEARCH_ROWS).enumerate();
        let Some((at, header)) =
            search.filter_map(|(i, (_, cells))| Header::find(cells).map(|h| (i, h))).next()
        else {
            return Err(vec![RosterError::NoHeader]);
        };
        let times = header.get(Column::Start).is_some() && header.get(Column::End).is_some();
        if header.get(Column::Shift).is_none() && !times {
            return Err(vec![RosterError::NoShiftOrTimes]);
        }
        let mut shifts = Vec::new();
        let mut errors = Vec::new();
        let mut last_date: Option<Date> = None;
        for (row, cells) in &table.rows[at + 1..] {
            let empty = Cell::Empty;
            let at = |c: Column| {
                header.get(c).map(|(i, h)| At { row: *row, header: h, cell: cells.get(i).unwrap_or(&empty) })
            };
            match self.row(&at, &mut last_date) {
                Ok(mut found) => shifts.append(&mut found),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() { Ok(shifts) } else { Err(errors) }
    }

    /// One row: no shift for a row that names nobody and has no date (a note, a blank line).
    fn row<'c>(
        &self,
        at: &dyn Fn(Column) -> Option<At<'c>>,
        last_date: &mut Option<Date>,
    ) -> Result<Vec<RosterShift>, Vec<RosterError>> {
        let (Some(date_at), Some(name_at)) = (at(Column::Date), at(Column::Name)) else {
            return Ok(Vec::new());
        };
        let date = if date_at.cell.is_empty() {
            last_date.ok_or_else(|| "no date (and no row above with one)".to_owned())
        } else {
            self.date(&date_at)
        };
        if name_at.cell.is_empty() {
            // A dated row with a shift but nobody is a hole in the roster; anything else is a note.
            let shift_given = at(Column::Shift).is_some_and(|s| !s.cell.is_empty());
            return match date {
                Ok(_) if shift_given => Err(vec![name_at.error("no one is named for this shift")]),
                _ => Ok(Vec::new()),
            };
        }
        let date = date.map_err(|reason| vec![date_at.error(reason)])?;
        *last_date = Some(date);

        let mut errors = Vec::new();
        let shift_name = at(Column::Shift).map(|s| s.cell.text()).unwrap_or_default();
        let span = self.span(date, &shift_name, at).map_err(|e| errors.push(e)).ok();

        let names_text = name_at.cell.text();
        let names = text::split_people(&names_text);
        let phones_text = at(Column::Phone).map(|p| p.cell.text()).unwrap_or_default();
        let phones = text::split_people(&phones_text);
        let mut shifts = Vec::new();
        for (k, name) in names.iter().enumerate() {
            // Phones pair with names by position when there is one for each.
            let phone = (phones.len() == names.len()).then(|| phones[k]);
            let person = match (self.resolve)(name, phone) {
                Ok(id) => id,
                Err(reason) => {
                    errors.push(name_at.error(reason));
                    continue;
                }
            };
            let Some((start, end)) = span else { continue };
            let label = if shift_name.is_empty() { "值班".to_owned() } else { shift_name.clone() };
            match RosterShift::new(date, label, start, end, person, phone.map(str::to_owned)) {
                Ok(s) => shifts.push(s),
                Err(e) => errors.push(RosterError::Row { row: name_at.row, reason: e.to_string() }),
            }
        }
        if errors.is_empty() { Ok(shifts) } else { Err(errors) }
    }

    fn date(&self, at: &At<'_>) -> Result<Date, String> {
        match at.cell {
            Cell::DateTime(dt) => Ok(dt.date()),
            Cell::Number(n) => {
                text::from_excel_serial(*n).map(|dt| dt.date()).ok_or_else(|| format!("{n} is not a date"))
            }
            Cell::Time(_) => Err("a time, not a date".to_owned()),
            other => text::parse_date(&other.text(), self.options.year),
        }
    }

    /// The shift's civil start and end: explicit start/end cells win over the shift name's times.
    fn span<'c>(
        &self,
        date: Date,
        shift: &str,
        at: &dyn Fn(Column) -> Option<At<'c>>,
    ) -> Result<(DateTime, DateTime), RosterError> {
        let start_at = at(Column::Start).filter(|a| !a.cell.is_empty());
        let end_at = at(Column::End).filter(|a| !a.cell.is_empty());
        let from_table = || -> Result<(DateTime, DateTime), RosterError> {
            let Some(shift_at) = at(Column::Shift).filter(|a| !a.cell.is_empty()) else {
                let place = start_at.as_ref().or(end_at.as_ref());
                let reason = "no shift (班次) and no start and end times";
                return Err(match place {
                    Some(p) => p.error(reason),
                    None => {
                        RosterError::Row { row: at(Column::Name).map_or(0, |a| a.row), reason: reason.into() }
                    }
                });
            };
            let window = self.options.shift_times.get(shift).ok_or_else(|| {
                let known: Vec<&str> = self.options.shift_times.names().collect();
                shift_at.error(format!(
                    "unknown shift '{shift}' (known: {}); add it to the schedule's shift_times or give start and \
                     end times",
                    known.join(", ")
                ))
            })?;
            let start = date.to_datetime(window.start());
            let end_date = if window.wraps() {
                date.tomorrow().map_err(|e| shift_at.error(e.to_string()))?
            } else {
                date
            };
            Ok((start, end_date.to_datetime(window.end())))
        };
        let (table_start, table_end) = match (&start_at, &end_at) {
            (Some(_), Some(_)) => (None, None),
            _ => {
                let (s, e) = from_table()?;
                (Some(s), Some(e))
            }
        };
        let start = match &start_at {
            Some(a) => self.moment(date, a, None)?,
            None => table_start.unwrap_or(date.to_datetime(Time::midnight())),
        };
        let end = match &end_at {
            Some(a) => self.moment(date, a, Some(start))?,
            None => table_end.unwrap_or(start),
        };
        Ok((start, end))
    }

    /// A start or end cell on `date`; an end (`after` = the start) at or before the start is on the
    /// next day.
    fn moment(&self, date: Date, at: &At<'_>, after: Option<DateTime>) -> Result<DateTime, RosterError> {
        let (time, next_day) = match at.cell {
            Cell::DateTime(dt) => return Ok(*dt),
            Cell::Time(t) => (*t, false),
            other => text::parse_time(&other.text()).map_err(|e| at.error(e))?,
        };
        let mut dt = date.to_datetime(time);
        if next_day || after.is_some_and(|s| dt <= s) {
            dt = dt.tomorrow().map_err(|e| at.error(e.to_string()))?;
        }
        Ok(dt)
    }
}
