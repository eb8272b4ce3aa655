//! ZDM schedule types 0-11: parsing and validation of the JSON shapes, the pipe-terminated
//! bitmap storage of spec §3.3, display names and description strings of §3.1/§3.4.

use super::fields::{join, reject_unknown, type_of, FieldErrors};
use super::invalid::Invalid;
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

pub const TYPE_NAMES: [&str; 12] = [
    "Once",
    "Every Minute",
    "Hourly",
    "Daily",
    "Weekly",
    "Monthly (Specific Week and Day of the Week)",
    "Monthly on Specific Date",
    "Smart Weekly (Specific Day of the Week)",
    "Smart Monthly (Specific Week and Day of the Week)",
    "Smart Monthly (Specific Date)",
    "Smart Custom (Specific Month, Week and Day of the Week)",
    "Smart Custom (Specific Month and Date)",
];

/// Lower-case aliases the vendor's docs and CLI use (current and pre-2026 names), by type.
const TYPE_ALIASES: [(&str, ScheduleKind); 17] = [
    ("once", ScheduleKind::Once),
    ("every minute", ScheduleKind::EveryMinute),
    ("hourly", ScheduleKind::Hourly),
    ("daily", ScheduleKind::Daily),
    ("weekly", ScheduleKind::Weekly),
    ("monthly on specific week", ScheduleKind::MonthlyWeekDay),
    ("monthly on specific day", ScheduleKind::MonthlyDate),
    ("smart weekly", ScheduleKind::SmartWeekly),
    ("smart monthly week", ScheduleKind::SmartMonthlyWeekDay),
    ("smart monthly date", ScheduleKind::SmartMonthlyDate),
    (
        "smart custom monthly week",
        ScheduleKind::SmartCustomWeekDay,
    ),
    ("smart custom monthly date", ScheduleKind::SmartCustomDate),
    ("smart weekly on specific day", ScheduleKind::SmartWeekly),
    (
        "smart monthly on specific week and day",
        ScheduleKind::SmartMonthlyWeekDay,
    ),
    (
        "smart monthly on specific date",
        ScheduleKind::SmartMonthlyDate,
    ),
    (
        "smart custom monthly on specific month, week and day",
        ScheduleKind::SmartCustomWeekDay,
    ),
    (
        "smart custom monthly on specific month and date",
        ScheduleKind::SmartCustomDate,
    ),
];

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEKDAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const WEEK_NAMES: [&str; 5] = [
    "First Week",
    "Second Week",
    "Third Week",
    "Fourth Week",
    "Last Week",
];
const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub const TIME_MSG: &str = "time must be in 'HH:mm' format (00:00 ~ 23:59).";
pub const MONTH_MSG: &str = "month must be between 1 and 12.";
pub const DATE_MSG: &str = "day must be between 1 and 31.";
pub const WEEK_MSG: &str = "week must be between 1 and 5.";
pub const WEEKDAY_MSG: &str =
    "Invalid day value. (day must be one of: mon, tue, wed, thu, fri, sat, sun)";
pub const TYPE_MSG: &str = "invalid schedule type (must be 0 ~ 11)";

/// The ZDM schedule types (spec §3.1), stored and sent as their numbers 0-11. Types 7-11 are
/// "smart": a basic (full backup) and an advanced (incremental) half.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ScheduleKind {
    Once = 0,
    EveryMinute = 1,
    Hourly = 2,
    Daily = 3,
    Weekly = 4,
    MonthlyWeekDay = 5,
    MonthlyDate = 6,
    SmartWeekly = 7,
    SmartMonthlyWeekDay = 8,
    SmartMonthlyDate = 9,
    SmartCustomWeekDay = 10,
    SmartCustomDate = 11,
}

impl ScheduleKind {
    pub const ALL: [ScheduleKind; 12] = [
        ScheduleKind::Once,
        ScheduleKind::EveryMinute,
        ScheduleKind::Hourly,
        ScheduleKind::Daily,
        ScheduleKind::Weekly,
        ScheduleKind::MonthlyWeekDay,
        ScheduleKind::MonthlyDate,
        ScheduleKind::SmartWeekly,
        ScheduleKind::SmartMonthlyWeekDay,
        ScheduleKind::SmartMonthlyDate,
        ScheduleKind::SmartCustomWeekDay,
        ScheduleKind::SmartCustomDate,
    ];

    /// The type with API number `code`, if there is one.
    pub fn from_code(code: i64) -> Option<ScheduleKind> {
        usize::try_from(code)
            .ok()
            .and_then(|i| Self::ALL.get(i))
            .copied()
    }

    /// The API number (spec §3.1).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The display name of spec §3.1.
    pub fn name(self) -> &'static str {
        TYPE_NAMES[self as usize]
    }

    pub fn is_smart(self) -> bool {
        self >= ScheduleKind::SmartWeekly
    }
}

impl From<ScheduleKind> for i64 {
    fn from(k: ScheduleKind) -> i64 {
        i64::from(k.code())
    }
}

/// Sent as its number, like the API's `type` field.
impl serde::Serialize for ScheduleKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

impl std::fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// Which half of a schedule a record is. Smart types render differently by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Basic,
    Advanced,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Basic => "basic",
            Role::Advanced => "advanced",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "basic" => Some(Role::Basic),
            "advanced" => Some(Role::Advanced),
            _ => None,
        }
    }
}

/// A set of selected slots (weekdays, weeks, dates or months), bit i = slot i.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bits {
    pub mask: u32,
    pub len: u8,
}

impl Bits {
    pub fn empty(len: u8) -> Self {
        Bits { mask: 0, len }
    }
    pub fn set(&mut self, i: usize) {
        self.mask |= 1 << i;
    }
    pub fn has(&self, i: usize) -> bool {
        self.mask & (1 << i) != 0
    }
    pub fn count(&self) -> u32 {
        self.mask.count_ones()
    }
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len as usize).filter(|i| self.has(*i))
    }
    /// Spec §3.3: `1|0|0|1|...|` with a trailing pipe.
    pub fn encode(&self) -> String {
        (0..self.len as usize)
            .map(|i| if self.has(i) { "1|" } else { "0|" })
            .collect()
    }
    pub fn decode(s: &str, len: u8) -> Option<Bits> {
        let parts: Vec<&str> = s.strip_suffix('|')?.split('|').collect();
        if parts.len() != len as usize {
            return None;
        }
        let mut b = Bits::empty(len);
        for (i, p) in parts.iter().enumerate() {
            match *p {
                "1" => b.set(i),
                "0" => {}
                _ => return None,
            }
        }
        Some(b)
    }
}

/// One schedule record: the `basic` or `advanced` half of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleData {
    pub kind: ScheduleKind,
    pub role: Role,
    /// `HH:mm`
    pub time: String,
    /// Type 0 only.
    pub once: Option<NaiveDate>,
    pub interval_minute: Option<u32>,
    pub interval_hour: Option<u32>,
    pub weekdays: Option<Bits>,
    pub weeks: Option<Bits>,
    pub dates: Option<Bits>,
    pub months: Option<Bits>,
}

/// The keys each type takes in a slot object (spec §3.1).
fn slot_keys(kind: ScheduleKind) -> &'static [&'static str] {
    use ScheduleKind::*;
    match kind {
        Once => &["year", "month", "day", "time"],
        EveryMinute | Hourly => &["time", "interval"],
        Daily => &["time"],
        Weekly | SmartWeekly => &["day", "time"],
        MonthlyWeekDay | SmartMonthlyWeekDay => &["week", "day", "time"],
        MonthlyDate | SmartMonthlyDate => &["day", "time"],
        SmartCustomWeekDay => &["month", "week", "day", "time"],
        SmartCustomDate => &["month", "day", "time"],
    }
}

/// Whether `day` names weekdays (else dates of the month).
fn weekday_day(kind: ScheduleKind) -> bool {
    use ScheduleKind::*;
    matches!(
        kind,
        Weekly | MonthlyWeekDay | SmartWeekly | SmartMonthlyWeekDay | SmartCustomWeekDay
    )
}

/// Parses the schedule `type` field: a number 0-11, a numeric string, a display name or an alias
/// (case-insensitive).
pub fn parse_type(v: &Value) -> Option<ScheduleKind> {
    match v {
        Value::Number(n) => n.as_i64().and_then(ScheduleKind::from_code),
        Value::String(s) => {
            let t = s.trim();
            if let Ok(n) = t.parse::<i64>() {
                return ScheduleKind::from_code(n);
            }
            let l = t.to_ascii_lowercase();
            ScheduleKind::ALL
                .into_iter()
                .find(|k| k.name().to_ascii_lowercase() == l)
                .or_else(|| TYPE_ALIASES.iter().find(|(a, _)| *a == l).map(|(_, k)| *k))
        }
        _ => None,
    }
}

/// Values are JSON strings per the spec; numbers and arrays are accepted as well.
fn tokens(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(
            s.split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
        ),
        Value::Number(n) => Some(vec![n.to_string()]),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Some(s.trim().to_ascii_lowercase()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn numeric_bits(v: &Value, len: u8, msg: &str) -> Result<Bits, Invalid> {
    let toks = tokens(v).ok_or_else(|| msg.to_string())?;
    if toks.is_empty() {
        return Err(Invalid::new(msg.to_string()));
    }
    let mut b = Bits::empty(len);
    for t in toks {
        match t.parse::<usize>() {
            Ok(n) if (1..=len as usize).contains(&n) => b.set(n - 1),
            _ => return Err(Invalid::new(msg.to_string())),
        }
    }
    Ok(b)
}

fn weekday_bits(v: &Value) -> Result<Bits, Invalid> {
    let toks = tokens(v).ok_or_else(|| WEEKDAY_MSG.to_string())?;
    if toks.is_empty() {
        return Err(Invalid::new(WEEKDAY_MSG.to_string()));
    }
    let mut b = Bits::empty(7);
    for t in toks {
        match WEEKDAYS.iter().position(|d| *d == t) {
            Some(i) => b.set(i),
            None => return Err(Invalid::new(WEEKDAY_MSG.to_string())),
        }
    }
    Ok(b)
}

pub fn valid_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && b[3].is_ascii_digit()
        && b[4].is_ascii_digit()
        && (b[0] - b'0') * 10 + (b[1] - b'0') < 24
        && b[3] - b'0' < 6
}

fn single_number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses and validates one slot object (`basic` or `advanced`) of a schedule of type `kind`.
/// `field` is the dotted path used in messages (`schedule.basic`, `basic`). Every problem is
/// added to `errs`; `None` is returned when there was any.
pub fn parse_slot(
    kind: ScheduleKind,
    role: Role,
    obj: &Map<String, Value>,
    field: &str,
    errs: &mut FieldErrors,
) -> Option<ScheduleData> {
    let before = errs.clone();
    let keys = slot_keys(kind);
    reject_unknown(obj, keys, field, errs);
    for k in keys {
        if !obj.contains_key(*k) {
            errs.add(
                field,
                format!(
                    "{} schedule validation failed (type: {kind}): {k}: {k} is required",
                    role.as_str()
                ),
            );
        }
    }
    let mut data = ScheduleData::at(kind, role, "");
    if let Some(t) = obj.get("time") {
        match t.as_str().map(str::trim) {
            Some(s) if valid_time(s) => data.time = s.to_string(),
            _ => errs.add(join(field, "time"), TIME_MSG),
        }
    }
    if let Some(d) = obj.get("day") {
        let r = if kind == ScheduleKind::Once {
            match single_number(d) {
                Some(n) if (1..=31).contains(&n) => Ok(Bits {
                    mask: 1 << (n - 1),
                    len: 31,
                }),
                _ => Err(Invalid::new(DATE_MSG)),
            }
        } else if weekday_day(kind) {
            weekday_bits(d)
        } else {
            numeric_bits(d, 31, DATE_MSG)
        };
        match r {
            Ok(b) if weekday_day(kind) => data.weekdays = Some(b),
            Ok(b) => data.dates = Some(b),
            Err(m) => errs.add(join(field, "day"), m),
        }
    }
    if let Some(w) = obj.get("week") {
        match numeric_bits(w, 5, WEEK_MSG) {
            Ok(b) => data.weeks = Some(b),
            Err(m) => errs.add(join(field, "week"), m),
        }
    }
    if let Some(m) = obj.get("month") {
        let r = if kind == ScheduleKind::Once {
            match single_number(m) {
                Some(n) if (1..=12).contains(&n) => Ok(Bits {
                    mask: 1 << (n - 1),
                    len: 12,
                }),
                _ => Err(Invalid::new(MONTH_MSG)),
            }
        } else {
            numeric_bits(m, 12, MONTH_MSG)
        };
        match r {
            Ok(b) => data.months = Some(b),
            Err(msg) => errs.add(join(field, "month"), msg),
        }
    }
    if kind == ScheduleKind::Once {
        if let Some(y) = obj.get("year") {
            match single_number(y) {
                Some(n) if (1970..=9999).contains(&n) => {
                    let m = data.months.map(|b| b.mask.trailing_zeros() + 1);
                    let d = data.dates.map(|b| b.mask.trailing_zeros() + 1);
                    if let (Some(m), Some(d)) = (m, d) {
                        match NaiveDate::from_ymd_opt(n as i32, m, d) {
                            Some(date) => data.once = Some(date),
                            None => {
                                errs.add(field, format!("{d:02}/{m:02}/{n} is not a valid date."))
                            }
                        }
                    }
                }
                _ => errs.add(
                    join(field, "year"),
                    "year must be a four-digit year (1970 ~ 9999).",
                ),
            }
        }
        // The month and date of a Once schedule live in `once`, not in the bitmaps.
        data.months = None;
        data.dates = None;
    }
    if let Some(iv) = obj.get("interval") {
        let (unit, max) = if kind == ScheduleKind::EveryMinute {
            ("minute", 1440)
        } else {
            ("hour", 24)
        };
        let ifield = join(field, "interval");
        match iv {
            Value::Object(o) => {
                reject_unknown(o, &[unit], &ifield, errs);
                match o.get(unit).and_then(single_number) {
                    Some(n) if (1..=max).contains(&n) => {
                        if kind == ScheduleKind::EveryMinute {
                            data.interval_minute = Some(n as u32);
                        } else {
                            data.interval_hour = Some(n as u32);
                        }
                    }
                    Some(_) | None if o.contains_key(unit) => errs.add(
                        join(&ifield, unit),
                        format!("interval.{unit} must be an integer between 1 and {max}."),
                    ),
                    _ => errs.add(
                        field,
                        format!(
                            "{} schedule validation failed (type: {kind}): interval.{unit}: interval.{unit} is required",
                            role.as_str()
                        ),
                    ),
                }
            }
            other => errs.add(
                &ifield,
                format!(
                    "interval must be an object such as {{\"{unit}\": \"5\"}}, got {}",
                    type_of(other)
                ),
            ),
        }
    }
    if *errs != before {
        return None;
    }
    Some(data)
}

/// Type 0 schedules in the past can never fire: refuse them (`now` is local wall-clock time).
pub fn check_not_past(data: &ScheduleData, now: NaiveDateTime) -> Result<(), Invalid> {
    if let Some(date) = data.once {
        let at = date.and_time(parse_hm(&data.time));
        if at <= now {
            return Err(Invalid::new(format!(
                "Once schedule {} is in the past (now {}); choose a future date and time.",
                at.format("%d/%m/%Y %H:%M"),
                now.format("%d/%m/%Y %H:%M")
            )));
        }
    }
    Ok(())
}

pub fn parse_hm(s: &str) -> chrono::NaiveTime {
    chrono::NaiveTime::parse_from_str(s, "%H:%M").unwrap_or_default()
}

/// Spec §3.5 SCHEDULE-ERROR-23: the `basic` (full-backup) half of a smart schedule selects one
/// value per field.
pub fn check_smart_basic_single(data: &ScheduleData) -> Result<(), Invalid> {
    let name = data.kind.name();
    let lists = [
        ("weekday", "weekdays", data.weekdays, true),
        ("week", "weeks", data.weeks, false),
        ("month", "months", data.months, false),
        ("date", "dates", data.dates, false),
    ];
    for (one, many, bits, named) in lists {
        if let Some(b) = bits.filter(|b| b.count() > 1) {
            let shown: Vec<String> = if named {
                b.indices().map(|i| WEEKDAY_NAMES[i].to_string()).collect()
            } else {
                b.indices().map(|i| (i + 1).to_string()).collect()
            };
            return Err(Invalid::new(format!(
                "{name} type schedule does not allow multiple {one} selections in basic. (Currently selected {many}: {})",
                shown.join(", ")
            )));
        }
    }
    Ok(())
}

impl ScheduleData {
    /// A slot of `kind` at `time` (`HH:mm`), nothing else chosen yet.
    pub fn at(kind: ScheduleKind, role: Role, time: &str) -> ScheduleData {
        ScheduleData {
            kind,
            role,
            time: time.into(),
            once: None,
            interval_minute: None,
            interval_hour: None,
            weekdays: None,
            weeks: None,
            dates: None,
            months: None,
        }
    }

    /// Whether any field selects more than one value (spec §3.4 count rule).
    pub fn is_multi(&self) -> bool {
        [self.weekdays, self.weeks, self.dates, self.months]
            .iter()
            .flatten()
            .any(|b| b.count() > 1)
    }

    /// Description string of spec §3.4.
    pub fn describe(&self) -> String {
        let t = &self.time;
        let days = join_names(self.weekdays, &WEEKDAY_NAMES);
        let weeks = join_names(self.weeks, &WEEK_NAMES);
        let months = join_names(self.months, &MONTH_NAMES);
        let dates = self
            .dates
            .map(|b| {
                b.indices()
                    .map(|i| (i + 1).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let basic = self.role == Role::Basic;
        use ScheduleKind::*;
        match (self.kind, basic) {
            (Once, _) => {
                let d = self
                    .once
                    .map(|d| d.format("%d/%m/%Y").to_string())
                    .unwrap_or_default();
                format!("[Basic] Start working on {d} {t}.")
            }
            (EveryMinute, _) => format!(
                "[Basic] Start working at {t} every {} Minute.",
                self.interval_minute.unwrap_or(0)
            ),
            (Hourly, _) => format!(
                "[Basic] Start working at {t} every {} Hour.",
                self.interval_hour.unwrap_or(0)
            ),
            (Daily, _) => format!("[Basic] Start working at {t} every day."),
            (Weekly, _) => format!("[Basic] Start working at {t} {days} every week."),
            (MonthlyWeekDay, _) => {
                format!("[Basic] Start working at {t} {weeks} / {days} every month.")
            }
            (MonthlyDate, _) => format!("[Basic] Start working at {t} {dates} every month."),
            (SmartWeekly, true) => format!("[Basic] Start working every {days} at {t}"),
            (SmartWeekly, false) => format!("[Advanced] Start working every {days} at {t}"),
            (SmartMonthlyWeekDay, true) => {
                format!("[Basic] Start working at {t} on {days} {weeks} of every month.")
            }
            (SmartMonthlyWeekDay, false) => format!(
                "[Advanced] Start working at {t} on the {days} of the {weeks} of every month."
            ),
            (SmartMonthlyDate, true) => {
                format!("[Basic] Start working at {t} on the {dates} of every month.")
            }
            (SmartMonthlyDate, false) => {
                format!("[Advanced] Start working at {t} on the {dates} of every month.")
            }
            (SmartCustomWeekDay, true) => {
                format!("[Basic] Start working at {t} on the {weeks} {days} of {months}")
            }
            (SmartCustomWeekDay, false) => {
                format!("[Advanced] Start working at {t} on the {weeks} / {days} of {months}")
            }
            (SmartCustomDate, true) => format!("[Basic] Start working on {months} {dates} at {t}"),
            (SmartCustomDate, false) => {
                format!("[Advanced] Start working at {t} on the {dates} of {months}")
            }
        }
    }
}

fn join_names(bits: Option<Bits>, names: &[&str]) -> String {
    bits.map(|b| b.indices().map(|i| names[i]).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slot(kind: u8, role: Role, v: Value) -> Result<ScheduleData, FieldErrors> {
        let mut errs = FieldErrors::new();
        let r = parse_slot(
            ScheduleKind::from_code(kind.into()).unwrap(),
            role,
            v.as_object().unwrap(),
            "schedule.basic",
            &mut errs,
        );
        r.ok_or(errs)
    }

    fn desc(kind: u8, role: Role, v: Value) -> String {
        slot(kind, role, v).unwrap().describe()
    }

    use Role::{Advanced as A, Basic as B};

    /// Every golden description string of spec §3.4 (and the decisions table).
    #[test]
    fn golden_descriptions() {
        let cases: Vec<(u8, Role, Value, &str)> = vec![
            (0, B, json!({"year":"2026","month":"01","day":"20","time":"14:30"}), "[Basic] Start working on 20/01/2026 14:30."),
            (0, B, json!({"year":"2025","month":"12","day":"31","time":"23:30"}), "[Basic] Start working on 31/12/2025 23:30."),
            (0, B, json!({"year":"2026","month":"6","day":"1","time":"10:00"}), "[Basic] Start working on 01/06/2026 10:00."),
            (1, B, json!({"time":"00:00","interval":{"minute":"5"}}), "[Basic] Start working at 00:00 every 5 Minute."),
            (1, B, json!({"time":"10:00","interval":{"minute":"5"}}), "[Basic] Start working at 10:00 every 5 Minute."),
            (1, B, json!({"time":"12:00","interval":{"minute":5}}), "[Basic] Start working at 12:00 every 5 Minute."),
            (2, B, json!({"time":"00:30","interval":{"hour":"2"}}), "[Basic] Start working at 00:30 every 2 Hour."),
            (2, B, json!({"time":"09:00","interval":{"hour":"2"}}), "[Basic] Start working at 09:00 every 2 Hour."),
            (2, B, json!({"time":"10:00","interval":{"hour":"2"}}), "[Basic] Start working at 10:00 every 2 Hour."),
            (3, B, json!({"time":"02:00"}), "[Basic] Start working at 02:00 every day."),
            (3, B, json!({"time":"03:00"}), "[Basic] Start working at 03:00 every day."),
            (3, B, json!({"time":"10:00"}), "[Basic] Start working at 10:00 every day."),
            (3, B, json!({"time":"12:00"}), "[Basic] Start working at 12:00 every day."),
            (4, B, json!({"day":"mon, tue","time":"02:00"}), "[Basic] Start working at 02:00 Monday, Tuesday every week."),
            (4, B, json!({"day":"mon,tue,wed,thu,fri","time":"10:00"}), "[Basic] Start working at 10:00 Monday, Tuesday, Wednesday, Thursday, Friday every week."),
            (4, B, json!({"day":"mon,wed,fri","time":"01:30"}), "[Basic] Start working at 01:30 Monday, Wednesday, Friday every week."),
            (4, B, json!({"day":"wed, MON","time":"02:30"}), "[Basic] Start working at 02:30 Monday, Wednesday every week."),
            (5, B, json!({"week":"2","day":"tue, wed","time":"04:00"}), "[Basic] Start working at 04:00 Second Week / Tuesday, Wednesday every month."),
            (5, B, json!({"week":"1,3","day":"mon,fri","time":"10:00"}), "[Basic] Start working at 10:00 First Week, Third Week / Monday, Friday every month."),
            (6, B, json!({"day":"15, 20","time":"05:00"}), "[Basic] Start working at 05:00 15, 20 every month."),
            (6, B, json!({"day":"1,15","time":"10:00"}), "[Basic] Start working at 10:00 1, 15 every month."),
            (6, B, json!({"day":"1,15","time":"12:00"}), "[Basic] Start working at 12:00 1, 15 every month."),
            (6, B, json!({"day":"25, 28","time":"12:00"}), "[Basic] Start working at 12:00 25, 28 every month."),
            (7, B, json!({"day":"mon","time":"01:00"}), "[Basic] Start working every Monday at 01:00"),
            (7, B, json!({"day":"mon","time":"10:00"}), "[Basic] Start working every Monday at 10:00"),
            (7, B, json!({"day":"wed","time":"12:00"}), "[Basic] Start working every Wednesday at 12:00"),
            (7, A, json!({"day":"tue, fri","time":"13:00"}), "[Advanced] Start working every Tuesday, Friday at 13:00"),
            (7, A, json!({"day":"tue,wed,thu,fri","time":"12:00"}), "[Advanced] Start working every Tuesday, Wednesday, Thursday, Friday at 12:00"),
            (7, A, json!({"day":"mon,thu,fri","time":"12:00"}), "[Advanced] Start working every Monday, Thursday, Friday at 12:00"),
            (7, A, json!({"day":"mon,wed,fri","time":"10:00"}), "[Advanced] Start working every Monday, Wednesday, Friday at 10:00"),
            (8, B, json!({"week":"1","day":"mon","time":"02:00"}), "[Basic] Start working at 02:00 on Monday First Week of every month."),
            (8, A, json!({"week":"2,3","day":"mon,thu","time":"14:00"}), "[Advanced] Start working at 14:00 on the Monday, Thursday of the Second Week, Third Week of every month."),
            (8, A, json!({"week":"2,4","day":"tue,wed","time":"12:00"}), "[Advanced] Start working at 12:00 on the Tuesday, Wednesday of the Second Week, Fourth Week of every month."),
            (9, B, json!({"day":"1","time":"03:00"}), "[Basic] Start working at 03:00 on the 1 of every month."),
            (9, A, json!({"day":"15, 19","time":"15:00"}), "[Advanced] Start working at 15:00 on the 15, 19 of every month."),
            (9, A, json!({"day":"10,20,30","time":"12:00"}), "[Advanced] Start working at 12:00 on the 10, 20, 30 of every month."),
            (10, B, json!({"month":"1","week":"1","day":"mon","time":"04:00"}), "[Basic] Start working at 04:00 on the First Week Monday of January"),
            (10, A, json!({"month":"1,4,7,10","week":"2,4","day":"wed,fri","time":"16:00"}), "[Advanced] Start working at 16:00 on the Second Week, Fourth Week / Wednesday, Friday of January, April, July, October"),
            (10, A, json!({"month":"3,6,9,12","week":"1,3","day":"tue,thu","time":"12:00"}), "[Advanced] Start working at 12:00 on the First Week, Third Week / Tuesday, Thursday of March, June, September, December"),
            (11, B, json!({"month":"3","day":"1","time":"05:00"}), "[Basic] Start working on March 1 at 05:00"),
            (11, B, json!({"month":"6","day":"15","time":"10:00"}), "[Basic] Start working on June 15 at 10:00"),
            (11, A, json!({"month":"3,6,9,12","day":"15,20,25","time":"17:00"}), "[Advanced] Start working at 17:00 on the 15, 20, 25 of March, June, September, December"),
            (11, A, json!({"month":"6,9,12","day":"15,30","time":"04:00"}), "[Advanced] Start working at 04:00 on the 15, 30 of June, September, December"),
            (11, A, json!({"month":"3,9","day":"1,15,30","time":"12:00"}), "[Advanced] Start working at 12:00 on the 1, 15, 30 of March, September"),
            (11, A, json!({"month":"1,4,7,10","day":"1,15","time":"03:00"}), "[Advanced] Start working at 03:00 on the 1, 15 of January, April, July, October"),
        ];
        for (kind, role, v, want) in cases {
            assert_eq!(desc(kind, role, v.clone()), want, "type {kind} {v}");
        }
    }

    #[test]
    fn bitmap_storage_matches_spec() {
        let d = slot(4, B, json!({"day":"mon, fri","time":"01:00"})).unwrap();
        assert_eq!(d.weekdays.unwrap().encode(), "1|0|0|0|1|0|0|");
        let d = slot(4, B, json!({"day":"sat, sun","time":"01:00"})).unwrap();
        assert_eq!(d.weekdays.unwrap().encode(), "0|0|0|0|0|1|1|");
        let d = slot(
            5,
            B,
            json!({"week":"2, 4","day":"tue,wed,thu","time":"01:00"}),
        )
        .unwrap();
        assert_eq!(d.weeks.unwrap().encode(), "0|1|0|1|0|");
        assert_eq!(d.weekdays.unwrap().encode(), "0|1|1|1|0|0|0|");
        let d = slot(11, A, json!({"month":"1,4,7,10","day":"1","time":"01:00"})).unwrap();
        assert_eq!(d.months.unwrap().encode(), "1|0|0|1|0|0|1|0|0|1|0|0|");
        let dates = d.dates.unwrap().encode();
        assert_eq!(dates.matches('|').count(), 31);
        assert!(dates.starts_with("1|0|"));
        for b in [d.months.unwrap(), d.dates.unwrap()] {
            assert_eq!(Bits::decode(&b.encode(), b.len), Some(b));
        }
        assert_eq!(Bits::decode("1|0|", 7), None);
    }

    #[test]
    fn type_names_and_aliases() {
        assert_eq!(parse_type(&json!(3)).map(ScheduleKind::code), Some(3));
        assert_eq!(parse_type(&json!("11")).map(ScheduleKind::code), Some(11));
        assert_eq!(parse_type(&json!("daily")).map(ScheduleKind::code), Some(3));
        assert_eq!(
            parse_type(&json!("Monthly on Specific Date")).map(ScheduleKind::code),
            Some(6)
        );
        assert_eq!(
            parse_type(&json!("smart weekly on specific day")).map(ScheduleKind::code),
            Some(7)
        );
        assert_eq!(parse_type(&json!(12)), None);
        assert_eq!(parse_type(&json!(-1)), None);
        assert_eq!(parse_type(&json!("weekly-ish")), None);
        for (i, k) in ScheduleKind::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(k.code()), i);
            assert_eq!(ScheduleKind::from_code(i as i64), Some(k));
            assert_eq!(k.is_smart(), i >= 7, "{k:?}");
            assert_eq!(parse_type(&json!(k.name())), Some(k));
        }
        assert_eq!(ScheduleKind::from_code(12), None);
        assert_eq!(
            ScheduleKind::MonthlyWeekDay.name(),
            "Monthly (Specific Week and Day of the Week)"
        );
    }

    #[test]
    fn value_errors_use_the_spec_messages() {
        let e = slot(3, B, json!({"time":"25:99"})).unwrap_err().to_json();
        assert_eq!(e["schedule.basic.time"][0], TIME_MSG);
        let e = slot(7, B, json!({"day":"mon"})).unwrap_err().to_json();
        assert_eq!(
            e["schedule.basic"][0],
            "basic schedule validation failed (type: 7): time: time is required"
        );
        let e = slot(4, B, json!({"day":"monday","time":"01:00"}))
            .unwrap_err()
            .to_json();
        assert_eq!(e["schedule.basic.day"][0], WEEKDAY_MSG);
        let e = slot(11, B, json!({"month":"13","day":"32","time":"01:00"}))
            .unwrap_err()
            .to_json();
        assert_eq!(e["schedule.basic.month"][0], MONTH_MSG);
        assert_eq!(e["schedule.basic.day"][0], DATE_MSG);
        let e = slot(5, B, json!({"week":"6","day":"mon","time":"01:00"}))
            .unwrap_err()
            .to_json();
        assert_eq!(e["schedule.basic.week"][0], WEEK_MSG);
        let e = slot(3, B, json!({"time":"01:00","week":"1"}))
            .unwrap_err()
            .to_json();
        assert!(e["schedule.basic.week"][0]
            .as_str()
            .unwrap()
            .starts_with("unknown field 'week'"));
        let e = slot(1, B, json!({"time":"01:00","interval":{"minute":"0"}}))
            .unwrap_err()
            .to_json();
        assert!(e["schedule.basic.interval.minute"][0]
            .as_str()
            .unwrap()
            .contains("between 1 and 1440"));
        let e = slot(
            0,
            B,
            json!({"year":"2027","month":"2","day":"30","time":"01:00"}),
        )
        .unwrap_err()
        .to_json();
        assert_eq!(e["schedule.basic"][0], "30/02/2027 is not a valid date.");
        // Smart schedules accept Feb 30 (spec: no month/day cross-check).
        assert!(slot(11, B, json!({"month":"2","day":"30","time":"01:00"})).is_ok());
    }

    #[test]
    fn smart_basic_must_select_single_values() {
        let d = slot(7, B, json!({"day":"mon, tue","time":"01:00"})).unwrap();
        assert_eq!(
            check_smart_basic_single(&d).unwrap_err().0,
            "Smart Weekly (Specific Day of the Week) type schedule does not allow multiple weekday selections in basic. (Currently selected weekdays: Monday, Tuesday)"
        );
        let d = slot(8, B, json!({"week":"1,2","day":"mon","time":"01:00"})).unwrap();
        assert!(check_smart_basic_single(&d)
            .unwrap_err()
            .0
            .contains("multiple week selections in basic. (Currently selected weeks: 1, 2)"));
        let d = slot(11, B, json!({"month":"1,3","day":"1","time":"01:00"})).unwrap();
        assert!(check_smart_basic_single(&d)
            .unwrap_err()
            .0
            .contains("(Currently selected months: 1, 3)"));
        let d = slot(9, B, json!({"day":"1,15","time":"01:00"})).unwrap();
        assert!(check_smart_basic_single(&d)
            .unwrap_err()
            .0
            .contains("multiple date selections in basic. (Currently selected dates: 1, 15)"));
    }

    #[test]
    fn once_in_the_past_is_refused() {
        let d = slot(
            0,
            B,
            json!({"year":"2026","month":"1","day":"20","time":"14:30"}),
        )
        .unwrap();
        let now = NaiveDate::from_ymd_opt(2026, 1, 20)
            .unwrap()
            .and_hms_opt(14, 30, 0)
            .unwrap();
        assert!(check_not_past(&d, now)
            .unwrap_err()
            .0
            .contains("is in the past"));
        let earlier = NaiveDate::from_ymd_opt(2026, 1, 20)
            .unwrap()
            .and_hms_opt(14, 29, 0)
            .unwrap();
        assert!(check_not_past(&d, earlier).is_ok());
    }
}
