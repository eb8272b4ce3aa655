//! When a schedule fires next: a pure function of the schedule, an instant and the appliance's
//! time zone. Every timer, `nextRun` and the missed-run check use it, so they cannot disagree.
//!
//! Semantics (docs/SCHEDULES.md):
//! - types 1/2 fire every N minutes/hours from `time` until midnight, again from `time` the
//!   next day;
//! - `week` 1-4 is the Nth occurrence of the weekday in its month, 5 the last occurrence;
//! - a date a month lacks (31st, 29/30 February) is skipped for that month;
//! - a wall-clock time inside a spring-forward gap fires at the first instant after the gap; a
//!   time that occurs twice on a fall-back day fires once, at its first occurrence.

use super::schedule::{ScheduleData, ScheduleKind};
use crate::clock::Zone;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};

/// How far ahead to look: a 29 February schedule may wait eight years (2096 -> 2104).
const HORIZON_DAYS: i64 = 366 * 8 + 2;

/// The first instant strictly after `after` at which `s` fires, `None` if it never does again.
pub fn next_fire(s: &ScheduleData, after: DateTime<Utc>, zone: &Zone) -> Option<DateTime<Utc>> {
    let start = zone.local(after).date() - Duration::days(1);
    let days: Box<dyn Iterator<Item = NaiveDate>> = match s.once {
        Some(d) if s.kind == ScheduleKind::Once => Box::new(std::iter::once(d)),
        _ if s.kind == ScheduleKind::Once => return None,
        _ => Box::new((0..HORIZON_DAYS).map(move |i| start + Duration::days(i))),
    };
    for day in days {
        if !fires_on(s, day) {
            continue;
        }
        // Wall-clock to instant is monotonic, so the first slot past `after` is the earliest.
        for t in day_times(s) {
            match zone.instant(day.and_time(t)) {
                Some(at) if at > after => return Some(at),
                _ => {}
            }
        }
    }
    None
}

/// Every slot in `(from, to]`, oldest first, at most `cap` of them (the newest are kept).
pub fn slots_between(
    s: &ScheduleData,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    zone: &Zone,
    cap: usize,
) -> (Vec<DateTime<Utc>>, usize) {
    let mut out = std::collections::VecDeque::new();
    let mut total = 0;
    let mut at = from;
    while let Some(next) = next_fire(s, at, zone) {
        if next > to {
            break;
        }
        total += 1;
        out.push_back(next);
        if out.len() > cap {
            out.pop_front();
        }
        at = next;
    }
    (out.into(), total)
}

fn weekday_index(day: NaiveDate) -> usize {
    day.weekday().num_days_from_monday() as usize
}

fn days_in_month(day: NaiveDate) -> u32 {
    let (y, m) = (day.year(), day.month());
    let first_next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    first_next
        .map(|d| d.pred_opt().map(|p| p.day()).unwrap_or(31))
        .unwrap_or(31)
}

/// Week slots (0-based: 0-3 = first..fourth occurrence, 4 = last) that `day` belongs to.
fn week_matches(s: &ScheduleData, day: NaiveDate) -> bool {
    let Some(weeks) = s.weeks else { return false };
    let nth = ((day.day() - 1) / 7) as usize;
    let last = day.day() + 7 > days_in_month(day);
    (nth < 4 && weeks.has(nth)) || (last && weeks.has(4))
}

fn fires_on(s: &ScheduleData, day: NaiveDate) -> bool {
    let weekday = || s.weekdays.is_some_and(|b| b.has(weekday_index(day)));
    let date = || s.dates.is_some_and(|b| b.has(day.day() as usize - 1));
    let month = || s.months.is_some_and(|b| b.has(day.month0() as usize));
    use ScheduleKind::*;
    match s.kind {
        Once => s.once == Some(day),
        EveryMinute | Hourly | Daily => true,
        Weekly | SmartWeekly => weekday(),
        MonthlyWeekDay | SmartMonthlyWeekDay => weekday() && week_matches(s, day),
        MonthlyDate | SmartMonthlyDate => date(),
        SmartCustomWeekDay => month() && weekday() && week_matches(s, day),
        SmartCustomDate => month() && date(),
    }
}

/// The wall-clock times of a firing day, ascending.
fn day_times(s: &ScheduleData) -> Vec<NaiveTime> {
    let Ok(first) = NaiveTime::parse_from_str(&s.time, "%H:%M") else {
        return Vec::new();
    };
    let step_minutes = match s.kind {
        ScheduleKind::EveryMinute => s.interval_minute.unwrap_or(0),
        ScheduleKind::Hourly => s.interval_hour.unwrap_or(0) * 60,
        _ => 0,
    };
    if step_minutes == 0 {
        return vec![first];
    }
    let start = first.signed_duration_since(NaiveTime::MIN).num_minutes() as u32;
    (start..24 * 60)
        .step_by(step_minutes as usize)
        .filter_map(|m| NaiveTime::from_hms_opt(m / 60, m % 60, 0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::{Bits, Role};
    use chrono::TimeZone;

    fn bits(len: u8, on: &[usize]) -> Option<Bits> {
        let mut b = Bits::empty(len);
        for i in on {
            b.set(*i);
        }
        Some(b)
    }

    fn sched(kind: u8, time: &str) -> ScheduleData {
        ScheduleData::at(
            ScheduleKind::from_code(kind.into()).unwrap(),
            Role::Basic,
            time,
        )
    }

    fn berlin() -> Zone {
        Zone::parse("Europe/Berlin").unwrap()
    }

    fn utc() -> Zone {
        Zone::parse("UTC").unwrap()
    }

    /// Local wall-clock of `zone` -> instant (unambiguous times only).
    fn at(zone: &Zone, s: &str) -> DateTime<Utc> {
        let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        zone.instant(t).unwrap()
    }

    fn local(zone: &Zone, t: DateTime<Utc>) -> String {
        zone.local(t).format("%Y-%m-%d %H:%M").to_string()
    }

    /// The next `n` fires after `from` as local wall-clock strings.
    fn fires(s: &ScheduleData, zone: &Zone, from: &str, n: usize) -> Vec<String> {
        let mut t = at(zone, from);
        let mut out = Vec::new();
        for _ in 0..n {
            match next_fire(s, t, zone) {
                Some(next) => {
                    out.push(local(zone, next));
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn once_fires_once_and_never_in_the_past() {
        let mut s = sched(0, "10:30");
        s.once = NaiveDate::from_ymd_opt(2027, 3, 1);
        let z = utc();
        assert_eq!(fires(&s, &z, "2027-02-01 00:00", 3), ["2027-03-01 10:30"]);
        assert!(fires(&s, &z, "2027-03-01 10:30", 1).is_empty());
    }

    #[test]
    fn intervals_are_anchored_at_time_and_stop_at_midnight() {
        let mut s = sched(1, "22:50");
        s.interval_minute = Some(25);
        let z = utc();
        assert_eq!(
            fires(&s, &z, "2027-01-01 23:30", 4),
            [
                "2027-01-01 23:40",
                "2027-01-02 22:50",
                "2027-01-02 23:15",
                "2027-01-02 23:40"
            ]
        );
        let mut h = sched(2, "09:15");
        h.interval_hour = Some(6);
        assert_eq!(
            fires(&h, &z, "2027-01-01 10:00", 4),
            [
                "2027-01-01 15:15",
                "2027-01-01 21:15",
                "2027-01-02 09:15",
                "2027-01-02 15:15"
            ]
        );
    }

    #[test]
    fn daily_and_weekly() {
        let z = utc();
        assert_eq!(
            fires(&sched(3, "00:00"), &z, "2027-12-31 00:00", 2),
            ["2028-01-01 00:00", "2028-01-02 00:00"]
        );
        let mut w = sched(4, "08:00");
        w.weekdays = bits(7, &[0, 4]); // Monday, Friday
        assert_eq!(
            fires(&w, &z, "2027-01-01 08:00", 3), // a Friday, already past
            ["2027-01-04 08:00", "2027-01-08 08:00", "2027-01-11 08:00"]
        );
        let mut sw = sched(7, "01:00");
        sw.weekdays = bits(7, &[6]);
        assert_eq!(fires(&sw, &z, "2027-01-01 00:00", 1), ["2027-01-03 01:00"]);
    }

    #[test]
    fn nth_and_last_weekday_of_month() {
        let z = utc();
        let mut s = sched(5, "12:00");
        s.weekdays = bits(7, &[0]); // Monday
        s.weeks = bits(5, &[1]); // second
        assert_eq!(
            fires(&s, &z, "2027-01-01 00:00", 3),
            ["2027-01-11 12:00", "2027-02-08 12:00", "2027-03-08 12:00"]
        );
        // Last Friday; in a month with five Fridays the fifth, not the fourth.
        let mut last = sched(8, "12:00");
        last.weekdays = bits(7, &[4]);
        last.weeks = bits(5, &[4]);
        assert_eq!(
            fires(&last, &z, "2027-01-01 00:00", 3),
            ["2027-01-29 12:00", "2027-02-26 12:00", "2027-03-26 12:00"]
        );
        // Fourth and last are the same day when a month has four of that weekday.
        let mut both = last.clone();
        both.weeks = bits(5, &[3, 4]);
        assert_eq!(
            fires(&both, &z, "2027-02-01 00:00", 2),
            ["2027-02-26 12:00", "2027-03-26 12:00"]
        );
        // Type 10: only in the chosen months.
        let mut custom = sched(10, "06:00");
        custom.weekdays = bits(7, &[6]);
        custom.weeks = bits(5, &[0]);
        custom.months = bits(12, &[5, 11]);
        assert_eq!(
            fires(&custom, &z, "2027-01-01 00:00", 3),
            ["2027-06-06 06:00", "2027-12-05 06:00", "2028-06-04 06:00"]
        );
    }

    #[test]
    fn dates_a_month_lacks_are_skipped() {
        let z = utc();
        let mut s = sched(6, "03:00");
        s.dates = bits(31, &[30]); // 31st
        assert_eq!(
            fires(&s, &z, "2027-01-31 04:00", 3),
            ["2027-03-31 03:00", "2027-05-31 03:00", "2027-07-31 03:00"]
        );
        let mut feb = sched(11, "03:00");
        feb.months = bits(12, &[1]);
        feb.dates = bits(31, &[28, 29]); // 29th, 30th
        assert_eq!(
            fires(&feb, &z, "2027-01-01 00:00", 2),
            ["2028-02-29 03:00", "2032-02-29 03:00"]
        );
        // Across a century that is not a leap year.
        assert_eq!(fires(&feb, &z, "2096-03-01 00:00", 1), ["2104-02-29 03:00"]);
        let mut never = sched(11, "03:00");
        never.months = bits(12, &[1]);
        never.dates = bits(31, &[29]); // 30 February
        assert!(next_fire(&never, at(&z, "2027-01-01 00:00"), &z).is_none());
        let mut s9 = sched(9, "23:59");
        s9.dates = bits(31, &[0, 14]);
        assert_eq!(
            fires(&s9, &z, "2027-01-15 23:59", 2),
            ["2027-02-01 23:59", "2027-02-15 23:59"]
        );
    }

    #[test]
    fn spring_forward_gap_fires_at_the_end_of_the_gap() {
        // Europe/Berlin, 2027-03-28: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
        let z = berlin();
        let s = sched(3, "02:30");
        let from = at(&z, "2027-03-27 12:00");
        let next = next_fire(&s, from, &z).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2027, 3, 28, 1, 0, 0).unwrap());
        assert_eq!(local(&z, next), "2027-03-28 03:00");
        let after = next_fire(&s, next, &z).unwrap();
        assert_eq!(local(&z, after), "2027-03-29 02:30");
        // Every 15 minutes through the gap: the skipped slots collapse into one fire at 03:00.
        let mut iv = sched(1, "01:30");
        iv.interval_minute = Some(15);
        assert_eq!(
            fires(&iv, &z, "2027-03-28 01:40", 4),
            [
                "2027-03-28 01:45",
                "2027-03-28 03:00",
                "2027-03-28 03:15",
                "2027-03-28 03:30"
            ]
        );
    }

    #[test]
    fn fall_back_overlap_fires_once() {
        // Europe/Berlin, 2027-10-31: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
        let z = berlin();
        let s = sched(3, "02:30");
        let first = next_fire(&s, at(&z, "2027-10-30 12:00"), &z).unwrap();
        assert_eq!(first, Utc.with_ymd_and_hms(2027, 10, 31, 0, 30, 0).unwrap());
        let second = next_fire(&s, first, &z).unwrap();
        assert_eq!(local(&z, second), "2027-11-01 02:30");
        // Hourly through the overlap: 02:00 fires once, the repeated hour adds no fire.
        let mut h = sched(2, "00:00");
        h.interval_hour = Some(1);
        let from = Utc.with_ymd_and_hms(2027, 10, 30, 23, 30, 0).unwrap(); // 01:30 CEST
        let mut t = from;
        let mut seen = Vec::new();
        for _ in 0..3 {
            t = next_fire(&h, t, &z).unwrap();
            seen.push(t.format("%H:%M").to_string());
        }
        assert_eq!(seen, ["00:00", "02:00", "03:00"]); // UTC: 02:00 CEST, 03:00 CET, 04:00 CET
    }

    #[test]
    fn missed_slots_are_counted_and_capped() {
        let z = utc();
        let mut s = sched(1, "00:00");
        s.interval_minute = Some(10);
        let (kept, total) = slots_between(
            &s,
            at(&z, "2027-01-01 00:00"),
            at(&z, "2027-01-01 01:05"),
            &z,
            2,
        );
        assert_eq!(total, 6);
        let kept: Vec<String> = kept.iter().map(|t| local(&z, *t)).collect();
        assert_eq!(kept, ["2027-01-01 00:50", "2027-01-01 01:00"]);
    }
}
