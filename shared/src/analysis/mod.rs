//! The analysis screens: power loss and round-trip efficiency, power in/out per hour or day, and
//! frequency against power. Pure: the `analysis` component reads the rows (through
//! `guest::analysis`) and this module validates the request, shapes the answers and holds the
//! arithmetic that is not the trapezoid itself ([`crate::energy`]).
//!
//! Every route takes a window `[from, to)`; see [`window`] for its defaults and limits.

pub mod freq;
pub mod io;
pub mod loss;

use serde_json::Value;

use crate::error::{ApiError, FieldError};
use crate::params::{choice, instant, Query};
use crate::time::{local_date, Date, UtcOffset};

/// PCS history rows come every 10 s (DOMAIN "Time-series conventions").
pub const PCS_INTERVAL_SECS: i64 = 10;
/// Rack history rows come every 60 s.
pub const RACK_INTERVAL_SECS: i64 = 60;
/// The base line comes every 10 s.
pub const BASELINE_INTERVAL_SECS: i64 = 10;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// The window when neither bound is given: the last 24 hours.
pub const DEFAULT_WINDOW_SECS: i64 = DAY;
/// The longest `power-loss` and `power-io` window: 31 days, a month of history. At nominal rates
/// that is ~268k rows per 10 s table (MMAIN, MAUX, each PCS), read page by page.
pub const MAX_ENERGY_WINDOW_SECS: i64 = 31 * DAY;
/// The longest `freq-power` window (DOMAIN: 24 h), 8640 samples at 10 s.
pub const MAX_FREQ_WINDOW_SECS: i64 = DAY;

/// A validated request window `[from, to)`, Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: i64,
    pub to: i64,
}

impl Window {
    pub fn secs(&self) -> i64 {
        self.to - self.from
    }
}

/// The window of `query`'s `from` and `to` (site-local dates such as `2026-11-22`, meaning local
/// midnight, or ISO datetimes): `to` defaults to `now`, `from` to 24 hours before `to`. So
/// `from=2026-11-21&to=2026-11-22` is the whole local day of the 21st. 422 for a value that does
/// not parse, `from >= to`, or a window longer than `max_secs`; every bad field is reported.
pub fn window(
    query: &Query,
    now: i64,
    offset: UtcOffset,
    max_secs: i64,
) -> Result<Window, ApiError> {
    let parse = |name| {
        query
            .get(name)
            .map(|raw| instant("query", name, raw, offset))
            .transpose()
    };
    let (from, to) = match (parse("from"), parse("to")) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(a), Err(b)) => return Err(ApiError::Validation(vec![a, b])),
        (Err(e), _) | (_, Err(e)) => return Err(ApiError::validation(e)),
    };
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - DEFAULT_WINDOW_SECS);
    let input = || query.get("to").map_or(Value::Null, Value::from);
    if from >= to {
        return Err(ApiError::validation(FieldError::new(
            "query",
            "to",
            "value_error",
            "Value error, `to` must be later than `from`",
            input(),
        )));
    }
    if to - from > max_secs {
        return Err(ApiError::validation(FieldError::new(
            "query",
            "to",
            "value_error",
            format!(
                "Value error, the window from `from` to `to` must be at most {}",
                describe_secs(max_secs)
            ),
            input(),
        )));
    }
    Ok(Window { from, to })
}

/// `24 hours`, `31 days`.
fn describe_secs(secs: i64) -> String {
    if secs % DAY == 0 && secs > DAY {
        format!("{} days", secs / DAY)
    } else {
        format!("{} hours", secs / HOUR)
    }
}

/// `power-io`'s window and interval, every bad field reported at once (as FastAPI does).
pub fn io_params(
    query: &Query,
    now: i64,
    offset: UtcOffset,
) -> Result<(Window, Interval), ApiError> {
    match (
        window(query, now, offset, MAX_ENERGY_WINDOW_SECS),
        Interval::from_query(query),
    ) {
        (Ok(window), Ok(interval)) => Ok((window, interval)),
        (Err(ApiError::Validation(mut a)), Err(ApiError::Validation(b))) => {
            a.extend(b);
            Err(ApiError::Validation(a))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// The bucket size of `power-io`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Hour,
    Day,
}

impl Interval {
    pub const NAMES: [&'static str; 2] = ["hour", "day"];

    /// `interval` of `query`, `hour` when absent; 422 for anything else.
    pub fn from_query(query: &Query) -> Result<Interval, ApiError> {
        match query.get("interval") {
            None => Ok(Interval::Hour),
            Some(raw) => match choice("query", "interval", raw, &Interval::NAMES) {
                Ok("day") => Ok(Interval::Day),
                Ok(_) => Ok(Interval::Hour),
                Err(e) => Err(ApiError::validation(e)),
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
        }
    }
}

/// The edges of the site-local hours or days covering `window`: the window's own bounds first
/// and last, every local hour or midnight strictly between them in between. The first and last
/// buckets are partial when the window does not start or end on an edge.
pub fn bucket_edges(window: Window, interval: Interval, offset: UtcOffset) -> Vec<i64> {
    let mut edges = vec![window.from];
    let mut edge = match interval {
        // Offsets are whole minutes, not always whole hours: local hours start at
        // `offset` mod 3600 past a UTC hour.
        Interval::Hour => {
            let shift = i64::from(offset.0);
            (window.from + shift).div_euclid(HOUR) * HOUR - shift + HOUR
        }
        Interval::Day => next_midnight(window.from, offset),
    };
    while edge < window.to {
        edges.push(edge);
        edge = match interval {
            Interval::Hour => edge + HOUR,
            Interval::Day => next_midnight(edge, offset),
        };
    }
    edges.push(window.to);
    edges
}

/// The first local midnight after `t`.
fn next_midnight(t: i64, offset: UtcOffset) -> i64 {
    let today: Date = local_date(t, offset);
    Date::from_days_since_epoch(today.days_since_epoch() + 1).start_utc(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAIPEI: UtcOffset = UtcOffset::SITE_DEFAULT;

    fn q(s: &str) -> Query {
        Query::parse(s)
    }

    fn local(s: &str) -> i64 {
        instant("query", "t", s, TAIPEI).unwrap()
    }

    fn errors(e: ApiError) -> Vec<(Vec<Value>, &'static str)> {
        match e {
            ApiError::Validation(items) => items.into_iter().map(|i| (i.loc, i.kind)).collect(),
            other => panic!("not a 422: {other:?}"),
        }
    }

    fn loc(field: &str) -> Vec<Value> {
        vec![Value::from("query"), Value::from(field)]
    }

    #[test]
    fn the_window_defaults_to_the_last_24_hours() {
        let now = local("2026-11-22T09:30:00");
        let w = window(&q(""), now, TAIPEI, DAY).unwrap();
        assert_eq!((w.from, w.to), (now - DAY, now));
        // `to` alone: the 24 h before it; `from` alone: until now.
        let w = window(&q("to=2026-11-22"), now, TAIPEI, DAY).unwrap();
        assert_eq!((w.from, w.to), (local("2026-11-21"), local("2026-11-22")));
        let w = window(&q("from=2026-11-22T08:00"), now, TAIPEI, DAY).unwrap();
        assert_eq!((w.from, w.to), (local("2026-11-22T08:00"), now));
        // Dates are local midnights; datetimes may carry their own offset.
        let w = window(
            &q("from=2026-11-01&to=2026-11-21T16:00:00Z"),
            now,
            TAIPEI,
            MAX_ENERGY_WINDOW_SECS,
        )
        .unwrap();
        assert_eq!((w.from, w.to), (local("2026-11-01"), local("2026-11-22")));
        assert_eq!(w.secs(), 21 * DAY);
    }

    #[test]
    fn bad_windows_are_422_at_the_right_field() {
        let now = local("2026-11-22T09:30:00");
        let bad = |s: &str, max| errors(window(&q(s), now, TAIPEI, max).unwrap_err());
        assert_eq!(
            bad("from=yesterday", DAY),
            [(loc("from"), "datetime_from_date_parsing")]
        );
        assert_eq!(
            bad("from=x&to=2026-13-01", DAY),
            [
                (loc("from"), "datetime_from_date_parsing"),
                (loc("to"), "datetime_from_date_parsing")
            ]
        );
        assert_eq!(
            bad("from=2026-11-22&to=2026-11-22", DAY),
            [(loc("to"), "value_error")]
        );
        assert_eq!(
            bad("from=2026-11-22&to=2026-11-21", DAY),
            [(loc("to"), "value_error")]
        );
        // One second over the limit.
        assert_eq!(
            bad("from=2026-11-20T00:00:00&to=2026-11-21T00:00:01", DAY),
            [(loc("to"), "value_error")]
        );
        let e = window(&q("from=2026-10-01&to=2026-11-02"), now, TAIPEI, 31 * DAY).unwrap_err();
        assert!(e.body()["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .ends_with("at most 31 days"));
        let e = window(&q("from=2026-11-01"), now, TAIPEI, DAY).unwrap_err();
        assert!(e.body()["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .ends_with("at most 24 hours"));
        // Exactly the limit is fine.
        assert!(window(&q("from=2026-11-20&to=2026-11-21"), now, TAIPEI, DAY).is_ok());
    }

    #[test]
    fn intervals() {
        assert_eq!(Interval::from_query(&q("")), Ok(Interval::Hour));
        assert_eq!(Interval::from_query(&q("interval=day")), Ok(Interval::Day));
        let e = errors(Interval::from_query(&q("interval=week")).unwrap_err());
        assert_eq!(e, [(loc("interval"), "enum")]);
        let now = local("2026-11-22T09:30:00");
        let e = io_params(&q("from=2026-11-23&interval=minute"), now, TAIPEI).unwrap_err();
        assert_eq!(
            errors(e),
            [(loc("to"), "value_error"), (loc("interval"), "enum")]
        );
        let (w, i) = io_params(&q("interval=day"), now, TAIPEI).unwrap();
        assert_eq!((w.secs(), i), (DAY, Interval::Day));
    }

    #[test]
    fn buckets_follow_local_hours_and_days() {
        let w = Window {
            from: local("2026-11-21T22:30"),
            to: local("2026-11-22T01:00"),
        };
        assert_eq!(
            bucket_edges(w, Interval::Hour, TAIPEI),
            [
                local("2026-11-21T22:30"),
                local("2026-11-21T23:00"),
                local("2026-11-22T00:00"),
                local("2026-11-22T01:00"),
            ]
        );
        assert_eq!(
            bucket_edges(w, Interval::Day, TAIPEI),
            [w.from, local("2026-11-22"), w.to]
        );
        // Whole local days: one bucket per day.
        let w = Window {
            from: local("2026-11-01"),
            to: local("2026-11-04"),
        };
        assert_eq!(bucket_edges(w, Interval::Day, TAIPEI).len(), 4);
        assert_eq!(bucket_edges(w, Interval::Hour, TAIPEI).len(), 73);
        // A half-hour offset: local hours start at :30 UTC.
        let india = UtcOffset::parse("+05:30").unwrap();
        let from = instant("query", "t", "2026-11-22T10:15", india).unwrap();
        let w = Window {
            from,
            to: from + 2 * HOUR,
        };
        let edges = bucket_edges(w, Interval::Hour, india);
        assert_eq!(
            edges[1],
            instant("query", "t", "2026-11-22T11:00", india).unwrap()
        );
        assert_eq!(edges.len(), 4);
    }
}
