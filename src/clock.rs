//! The appliance's time zone (decision D16): timestamps are rendered as `YYYY-MM-DD HH:mm:ss` in
//! it and schedules fire in it. Times are stored as UTC seconds.

use chrono::{DateTime, Local, NaiveDateTime, TimeZone, Utc};

/// A `timezone` setting that names no zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an IANA time zone such as Europe/Berlin or UTC (or 'host')")]
pub struct UnknownZone(pub String);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// The host's zone (`TZ`, else `/etc/localtime`).
    Host,
    Named(chrono_tz::Tz),
}

impl Zone {
    pub fn parse(s: &str) -> Result<Zone, UnknownZone> {
        match s.trim() {
            "" | "host" => Ok(Zone::Host),
            name => name
                .parse::<chrono_tz::Tz>()
                .map(Zone::Named)
                .map_err(|_| UnknownZone(name.to_string())),
        }
    }

    /// Wall-clock time in this zone.
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Host => Local.from_utc_datetime(&t.naive_utc()).naive_local(),
            Zone::Named(tz) => tz.from_utc_datetime(&t.naive_utc()).naive_local(),
        }
    }

    /// The instant a wall-clock time of this zone denotes. A time that occurs twice (DST fall-back)
    /// is its first occurrence; a time inside a spring-forward gap is the first instant after the
    /// gap (the transition itself).
    pub fn instant(&self, t: NaiveDateTime) -> Option<DateTime<Utc>> {
        fn pick<Z: TimeZone>(z: &Z, t: NaiveDateTime) -> Option<DateTime<Utc>> {
            // Gaps are whole minutes in every zone in use; two days covers any transition.
            for step in 0..=(48 * 60) {
                let probe = t + chrono::Duration::minutes(step);
                match z.from_local_datetime(&probe) {
                    chrono::LocalResult::Single(d) => return Some(d.with_timezone(&Utc)),
                    chrono::LocalResult::Ambiguous(a, _) => return Some(a.with_timezone(&Utc)),
                    chrono::LocalResult::None => {}
                }
            }
            None
        }
        match self {
            Zone::Host => pick(&Local, t),
            Zone::Named(tz) => pick(tz, t),
        }
    }

    pub fn now_local(&self) -> NaiveDateTime {
        self.local(Utc::now())
    }

    /// `YYYY-MM-DD HH:mm:ss` (spec §1.2).
    pub fn format(&self, t: DateTime<Utc>) -> String {
        self.local(t).format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// Formats stored UTC seconds, `-` when absent.
    pub fn format_secs(&self, secs: Option<i64>) -> String {
        secs.and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
            .map(|t| self.format(t))
            .unwrap_or_else(|| "-".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_zone_formatting() {
        let z = Zone::parse("Asia/Seoul").unwrap();
        let t = DateTime::<Utc>::from_timestamp(1_768_651_432, 0).unwrap();
        assert_eq!(z.format(t), "2026-01-17 21:03:52");
        assert_eq!(z.format_secs(None), "-");
        assert!(Zone::parse("Nowhere/City").is_err());
        assert_eq!(Zone::parse("host").unwrap(), Zone::Host);
    }
}
