//! Civil time without a time-zone database: the site has one fixed offset (UTC+8 by default), MySQL
//! stores UTC, and every timestamp a client sees carries its offset.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds east of UTC; the site's default is +08:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcOffset(pub i32);

impl UtcOffset {
    pub const SITE_DEFAULT: UtcOffset = UtcOffset(8 * 3600);

    /// Parses `+08:00`, `-05:30`, `+8` or `Z`.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "Z" || s == "z" {
            return Some(UtcOffset(0));
        }
        let sign = match s.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = match s[1..].split_once(':') {
            Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
            None => (s[1..].parse::<i32>().ok()?, 0),
        };
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        Some(UtcOffset(sign * (h * 3600 + m * 60)))
    }
}

/// A proleptic Gregorian date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl std::fmt::Display for Date {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Date {
    /// Parses `YYYY-MM-DD`, rejecting impossible dates such as 2026-02-30.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let year = s[0..4].parse().ok()?;
        let month = s[5..7].parse().ok()?;
        let day = s[8..10].parse().ok()?;
        let date = Date { year, month, day };
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)).then_some(date)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Monday = 0 … Sunday = 6.
    pub fn weekday_from_monday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (self.days_since_epoch() + 3).rem_euclid(7) as u32
    }

    /// The UTC instant at which this local date begins.
    pub fn start_utc(self, offset: UtcOffset) -> i64 {
        self.days_since_epoch() * 86_400 - i64::from(offset.0)
    }
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The local date at a UTC instant.
pub fn local_date(unix: i64, offset: UtcOffset) -> Date {
    Date::from_days_since_epoch((unix + i64::from(offset.0)).div_euclid(86_400))
}

/// ISO 8601 with the offset: `2026-11-22T09:30:00+08:00`.
pub fn format_iso(unix: i64, offset: UtcOffset) -> String {
    let local = unix + i64::from(offset.0);
    let date = Date::from_days_since_epoch(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    let (sign, off) = if offset.0 < 0 {
        ('-', -offset.0)
    } else {
        ('+', offset.0)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        date.year,
        date.month,
        date.day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        off / 3600,
        off / 60 % 60
    )
}

/// Parses MySQL's UTC `YYYY-MM-DD HH:MM:SS[.ffffff]` into Unix seconds (fraction dropped).
pub fn parse_mysql_datetime(s: &str) -> Option<i64> {
    let date = Date::parse(s.get(0..10)?)?;
    let time = s.get(11..19)?;
    if s.as_bytes().get(10) != Some(&b' ') {
        return None;
    }
    let mut parts = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(date.days_since_epoch() * 86_400 + h * 3600 + m * 60 + sec)
}

/// Parses an ISO 8601 datetime `YYYY-MM-DDTHH:MM[:SS[.fraction]]` with an optional `Z` or
/// `±HH:MM`; without one it is site-local (`local`). Unix seconds (a fraction is dropped).
pub fn parse_iso_datetime(s: &str, local: UtcOffset) -> Option<i64> {
    let date = Date::parse(s.get(0..10)?)?;
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let rest = s.get(11..)?;
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let offset = if zone.is_empty() {
        local
    } else {
        UtcOffset::parse(zone)?
    };
    let clock = clock.split('.').next()?;
    let mut parts = clock.split(':');
    let (h, m) = (parts.next()?, parts.next()?);
    let sec = parts.next().unwrap_or("00");
    if parts.next().is_some() || [h, m, sec].iter().any(|p| p.len() != 2) {
        return None;
    }
    let (h, m, sec) = (
        h.parse::<i64>().ok()?,
        m.parse::<i64>().ok()?,
        sec.parse::<i64>().ok()?,
    );
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(date.days_since_epoch() * 86_400 + h * 3600 + m * 60 + sec - i64::from(offset.0))
}

/// Formats Unix seconds as MySQL's UTC `YYYY-MM-DD HH:MM:SS`, for query parameters.
pub fn format_mysql_datetime(unix: i64) -> String {
    let date = Date::from_days_since_epoch(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        date.year,
        date.month,
        date.day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in (-200_000..200_000).step_by(97) {
            let d = Date::from_days_since_epoch(days);
            assert_eq!(d.days_since_epoch(), days, "{d:?}");
        }
        assert_eq!(
            Date::from_days_since_epoch(0),
            Date {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        assert_eq!(
            Date::parse("2000-03-01").unwrap().days_since_epoch(),
            11_017
        );
    }

    #[test]
    fn parses_only_real_dates() {
        assert_eq!(
            Date::parse("2026-11-22"),
            Some(Date {
                year: 2026,
                month: 11,
                day: 22
            })
        );
        assert_eq!(Date::parse("2024-02-29").map(|d| d.day), Some(29));
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "20261122",
            "abcd-ef-gh",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_with_site_offset() {
        // 2026-11-22T01:30:00Z
        let t = Date::parse("2026-11-22").unwrap().days_since_epoch() * 86_400 + 5400;
        assert_eq!(
            format_iso(t, UtcOffset::SITE_DEFAULT),
            "2026-11-22T09:30:00+08:00"
        );
        assert_eq!(
            format_iso(t, UtcOffset(-(5 * 3600 + 1800))),
            "2026-11-21T20:00:00-05:30"
        );
        assert_eq!(format_iso(t, UtcOffset(0)), "2026-11-22T01:30:00+00:00");
    }

    #[test]
    fn local_day_starts_at_offset() {
        let d = Date::parse("2026-11-22").unwrap();
        let start = d.start_utc(UtcOffset::SITE_DEFAULT);
        assert_eq!(format_mysql_datetime(start), "2026-11-21 16:00:00");
        assert_eq!(local_date(start, UtcOffset::SITE_DEFAULT), d);
        assert_eq!(local_date(start - 1, UtcOffset::SITE_DEFAULT).day, 21);
        assert_eq!(d.weekday_from_monday(), 6, "2026-11-22 is a Sunday");
    }

    #[test]
    fn mysql_datetime_round_trip() {
        let t = parse_mysql_datetime("2026-11-21 16:00:05").unwrap();
        assert_eq!(format_mysql_datetime(t), "2026-11-21 16:00:05");
        assert_eq!(parse_mysql_datetime("2026-11-21 16:00:05.250000"), Some(t));
        assert_eq!(parse_mysql_datetime("2026-11-21T16:00:05"), None);
        assert_eq!(parse_mysql_datetime("2026-11-21 24:00:00"), None);
    }

    #[test]
    fn parses_offsets() {
        assert_eq!(UtcOffset::parse("+08:00"), Some(UtcOffset::SITE_DEFAULT));
        assert_eq!(UtcOffset::parse("+8"), Some(UtcOffset::SITE_DEFAULT));
        assert_eq!(UtcOffset::parse("-05:30"), Some(UtcOffset(-19_800)));
        assert_eq!(UtcOffset::parse("Z"), Some(UtcOffset(0)));
        assert_eq!(UtcOffset::parse("08:00"), None);
        assert_eq!(UtcOffset::parse("+15:00"), None);
    }
}
