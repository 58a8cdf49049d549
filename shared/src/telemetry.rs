//! What the live-site screens show of a device, and which store it comes from: the Redis live
//! value while it is fresh, else the newest history row (stale), else a stale live value, else
//! nothing. Pure: the guest layer reads the stores, this decides and shapes the answer.

use serde::Serialize;

use crate::live::LiveValues;
use crate::time::{format_iso, UtcOffset};

mod pcs;

pub use pcs::{PcsReading, PcsView, Phases};

/// Where a shown value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Realtime,
    History,
}

/// A reading with the time it was taken (Unix seconds).
pub trait Timed {
    fn ts(&self) -> i64;
}

/// The reading to show and how to label it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown<T> {
    pub reading: T,
    pub source: Source,
    pub stale: bool,
}

/// Outcome of reading one store: a reading, none there, or the store failed (its error).
pub type Read<T, E> = Result<Option<T>, E>;

/// Picks what to show. `live` is the live value with its staleness (`Err` when Redis failed);
/// `history` reads the newest history row and is only called when the live value is not fresh,
/// so a fresh live value costs no MySQL query. `Ok(None)`: the device has no data at all.
pub fn choose<T, E>(
    live: Read<(T, bool), E>,
    history: impl FnOnce() -> Read<T, E>,
) -> Result<Option<Shown<T>>, E> {
    let (stale_live, live_error) = match live {
        Ok(Some((reading, false))) => {
            return Ok(Some(Shown {
                reading,
                source: Source::Realtime,
                stale: false,
            }))
        }
        Ok(Some((reading, true))) => (Some(reading), None),
        Ok(None) => (None, None),
        Err(e) => (None, Some(e)),
    };
    match history() {
        Ok(Some(reading)) => Ok(Some(Shown {
            reading,
            source: Source::History,
            stale: true,
        })),
        // No history row, or MySQL down: a stale live value is better than nothing.
        Ok(None) | Err(_) if stale_live.is_some() => Ok(stale_live.map(|reading| Shown {
            reading,
            source: Source::Realtime,
            stale: true,
        })),
        Ok(None) => match live_error {
            // Redis failed and MySQL has nothing: we cannot say the device has no data.
            Some(e) => Err(e),
            None => Ok(None),
        },
        Err(e) => Err(e),
    }
}

/// One rack reading: a `rack_data` row or the `bess:<n>` live hash (same fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RackReading {
    /// Unix seconds (UTC).
    pub ts: i64,
    pub status: String,
    pub soc: f64,
    pub soh: f64,
    pub voltage: f64,
    pub current: f64,
    pub power_kw: f64,
    pub cell_v_max_mv: i64,
    pub cell_v_min_mv: i64,
    pub temp_max: f64,
    pub temp_min: f64,
    pub temp_avg: f64,
    pub alarm_count: i64,
}

impl Timed for RackReading {
    fn ts(&self) -> i64 {
        self.ts
    }
}

impl RackReading {
    /// The live hash as a reading; `None` when a field is missing or unreadable (a collector
    /// writing half a hash is treated like no live value).
    pub fn from_live(live: &LiveValues) -> Option<RackReading> {
        Some(RackReading {
            ts: live.ts?,
            status: live.str("status")?.to_owned(),
            soc: live.f64("soc")?,
            soh: live.f64("soh")?,
            voltage: live.f64("voltage")?,
            current: live.f64("current")?,
            power_kw: live.f64("power_kw")?,
            cell_v_max_mv: live.f64("cell_v_max_mv")? as i64,
            cell_v_min_mv: live.f64("cell_v_min_mv")? as i64,
            temp_max: live.f64("temp_max")?,
            temp_min: live.f64("temp_min")?,
            temp_avg: live.f64("temp_avg")?,
            alarm_count: live.f64("alarm_count")? as i64,
        })
    }
}

/// `GET /api/v1/bess/{bess_number}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RackView {
    pub bess_number: u8,
    pub status: String,
    /// State of charge, %.
    pub soc: f64,
    /// State of health, %.
    pub soh: f64,
    pub voltage_v: f64,
    pub current_a: f64,
    /// Positive = discharge.
    pub power_kw: f64,
    pub cell_voltage_max_mv: i64,
    pub cell_voltage_min_mv: i64,
    pub cell_voltage_delta_mv: i64,
    pub temperature_max_c: f64,
    pub temperature_min_c: f64,
    pub temperature_avg_c: f64,
    pub alarm_count: i64,
    pub source: Source,
    pub stale: bool,
    /// When the shown reading was taken, with the site's offset.
    pub updated_at: String,
}

impl RackView {
    pub fn new(bess_number: u8, shown: Shown<RackReading>, offset: UtcOffset) -> RackView {
        let r = shown.reading;
        RackView {
            bess_number,
            status: r.status,
            soc: r.soc,
            soh: r.soh,
            voltage_v: r.voltage,
            current_a: r.current,
            power_kw: r.power_kw,
            cell_voltage_max_mv: r.cell_v_max_mv,
            cell_voltage_min_mv: r.cell_v_min_mv,
            cell_voltage_delta_mv: r.cell_v_max_mv - r.cell_v_min_mv,
            temperature_max_c: r.temp_max,
            temperature_min_c: r.temp_min,
            temperature_avg_c: r.temp_avg,
            alarm_count: r.alarm_count,
            source: shown.source,
            stale: shown.stale,
            updated_at: format_iso(r.ts, offset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Picked = Result<Option<(&'static str, Source, bool)>, &'static str>;

    fn shown(r: Result<Option<Shown<&'static str>>, &'static str>) -> Picked {
        r.map(|o| o.map(|s| (s.reading, s.source, s.stale)))
    }

    #[test]
    fn fresh_live_wins_without_reading_history() {
        let r = choose::<_, &str>(Ok(Some(("live", false))), || panic!("no MySQL query"));
        assert_eq!(shown(r), Ok(Some(("live", Source::Realtime, false))));
    }

    #[test]
    fn stale_missing_or_failed_live_falls_back_to_history() {
        for live in [Ok(Some(("old", true))), Ok(None), Err("redis:gtr")] {
            let r = choose(live, || Ok(Some("row")));
            assert_eq!(shown(r), Ok(Some(("row", Source::History, true))));
        }
    }

    #[test]
    fn stale_live_is_shown_when_history_has_nothing_or_fails() {
        let r = choose::<_, &str>(Ok(Some(("old", true))), || Ok(None));
        assert_eq!(shown(r), Ok(Some(("old", Source::Realtime, true))));
        let r = choose(Ok(Some(("old", true))), || Err("mysql:BESS1"));
        assert_eq!(shown(r), Ok(Some(("old", Source::Realtime, true))));
    }

    #[test]
    fn nothing_anywhere_is_none_and_failures_are_reported() {
        assert_eq!(shown(choose::<&str, &str>(Ok(None), || Ok(None))), Ok(None));
        assert_eq!(
            shown(choose::<&str, _>(Ok(None), || Err("mysql:BESS1"))),
            Err("mysql:BESS1")
        );
        assert_eq!(
            shown(choose::<&str, _>(Err("redis:gtr"), || Ok(None))),
            Err("redis:gtr")
        );
        assert_eq!(
            shown(choose::<&str, _>(Err("redis:gtr"), || Err("mysql:BESS1"))),
            Err("mysql:BESS1")
        );
    }

    #[test]
    fn a_rack_view_carries_derived_fields_and_the_readings_time() {
        let fields = [
            ("status", "charging"),
            ("soc", "55.5"),
            ("soh", "98"),
            ("voltage", "812.4"),
            ("current", "-120.5"),
            ("power_kw", "-97.9"),
            ("cell_v_max_mv", "3401"),
            ("cell_v_min_mv", "3388"),
            ("temp_max", "31.5"),
            ("temp_min", "24"),
            ("temp_avg", "27.2"),
            ("alarm_count", "1"),
            ("ts", "1795305600"),
        ];
        let live = LiveValues::from_fields(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            1_795_305_610,
            60,
        )
        .unwrap();
        let reading = RackReading::from_live(&live).unwrap();
        let view = RackView::new(
            3,
            Shown {
                reading,
                source: Source::Realtime,
                stale: false,
            },
            UtcOffset::SITE_DEFAULT,
        );
        assert_eq!(view.cell_voltage_delta_mv, 13);
        assert_eq!(view.updated_at, "2026-11-22T08:00:00+08:00");
        assert_eq!(serde_json::to_value(&view).unwrap()["source"], "realtime");
        let half = LiveValues::from_fields(vec![("ts".into(), "1".into())], 1, 60).unwrap();
        assert_eq!(RackReading::from_live(&half), None);
    }
}
