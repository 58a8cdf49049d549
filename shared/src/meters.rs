//! What the meter and PV screens show: every live meter with the site's totals, the aux meter
//! with today's aux energy, and the PV inverter with its efficiency. Pure: the `meters` component
//! reads the stores and [`crate::telemetry::choose`] picks live or history per device; this shapes
//! the answers.

use serde::Serialize;

use crate::energy::Energy;
use crate::live::LiveValues;
use crate::schema::meter::{MAUX, MMAIN};
use crate::telemetry::{Read, Shown, Source, Timed};
use crate::time::{format_iso, local_date, Date, UtcOffset};

/// The meters with history tables in the `Meter` database (the only ones that can fall back).
pub const HISTORY_METERS: [&str; 2] = [MMAIN, MAUX];

/// Nominal sampling interval of meter rows, seconds (DOMAIN: meter rows every 10 s).
pub const METER_INTERVAL_SECS: i64 = 10;
/// Nominal sampling interval of inverter rows, seconds (DOMAIN: inverter every 60 s).
pub const INVERTER_INTERVAL_SECS: i64 = 60;

/// Below this DC power (kW) AC/DC is noise (a PV string at dusk), so no efficiency is given.
pub const MIN_DC_KW_FOR_EFFICIENCY: f64 = 0.1;

/// One meter reading: a `Meter.MMAIN`/`MAUX` row or a `meter:<name>` live hash (same fields).
#[derive(Debug, Clone, PartialEq)]
pub struct MeterReading {
    /// Unix seconds (UTC).
    pub ts: i64,
    pub i_a: f64,
    pub i_b: f64,
    pub i_c: f64,
    pub vll_ab: f64,
    pub vll_bc: f64,
    pub vll_ca: f64,
    pub kw_tot: f64,
    pub kvar_tot: f64,
    pub pf: f64,
    pub freq: f64,
}

impl Timed for MeterReading {
    fn ts(&self) -> i64 {
        self.ts
    }
}

impl MeterReading {
    /// The live hash as a reading; `None` when a field is missing or unreadable (half a hash is
    /// treated like no live value, as for racks).
    pub fn from_live(live: &LiveValues) -> Option<MeterReading> {
        Some(MeterReading {
            ts: live.ts?,
            i_a: live.f64("I_a")?,
            i_b: live.f64("I_b")?,
            i_c: live.f64("I_c")?,
            vll_ab: live.f64("Vll_ab")?,
            vll_bc: live.f64("Vll_bc")?,
            vll_ca: live.f64("Vll_ca")?,
            kw_tot: live.f64("KW_tot")?,
            kvar_tot: live.f64("KVAR_tot")?,
            pf: live.f64("PF")?,
            freq: live.f64("freq")?,
        })
    }
}

/// One meter as shown. Field names are the meters' register names, as the legacy frontend reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeterView {
    pub name: String,
    #[serde(rename = "I_a")]
    pub i_a: f64,
    #[serde(rename = "I_b")]
    pub i_b: f64,
    #[serde(rename = "I_c")]
    pub i_c: f64,
    #[serde(rename = "Vll_ab")]
    pub vll_ab: f64,
    #[serde(rename = "Vll_bc")]
    pub vll_bc: f64,
    #[serde(rename = "Vll_ca")]
    pub vll_ca: f64,
    /// Total active power, kW (MMAIN: positive = export; MAUX: the aux load, positive).
    #[serde(rename = "KW_tot")]
    pub kw_tot: f64,
    #[serde(rename = "KVAR_tot")]
    pub kvar_tot: f64,
    #[serde(rename = "PF")]
    pub pf: f64,
    pub freq: f64,
    pub source: Source,
    pub stale: bool,
    pub updated_at: String,
}

impl MeterView {
    pub fn new(name: &str, shown: Shown<MeterReading>, offset: UtcOffset) -> MeterView {
        let r = shown.reading;
        MeterView {
            name: name.to_owned(),
            i_a: r.i_a,
            i_b: r.i_b,
            i_c: r.i_c,
            vll_ab: r.vll_ab,
            vll_bc: r.vll_bc,
            vll_ca: r.vll_ca,
            kw_tot: r.kw_tot,
            kvar_tot: r.kvar_tot,
            pf: r.pf,
            freq: r.freq,
            source: shown.source,
            stale: shown.stale,
            updated_at: format_iso(r.ts, offset),
        }
    }
}

/// `ok`: every meter fresh; `stale`: at least one is not; `no_data`: no meter at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetersStatus {
    Ok,
    Stale,
    NoData,
}

/// `GET /api/v1/meters`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeterList {
    pub meters: Vec<MeterView>,
    pub meter_count: usize,
    /// Sum of `KW_tot` of the fresh meters only, kW: a stale value is not "now".
    pub total_power: f64,
    pub status: MetersStatus,
}

impl MeterList {
    /// The list, sorted by name so the answer is stable whatever order SCAN returns keys in.
    pub fn new(mut meters: Vec<MeterView>) -> MeterList {
        meters.sort_by(|a, b| a.name.cmp(&b.name));
        let total_power = meters.iter().filter(|m| !m.stale).map(|m| m.kw_tot).sum();
        let status = if meters.is_empty() {
            MetersStatus::NoData
        } else if meters.iter().any(|m| m.stale) {
            MetersStatus::Stale
        } else {
            MetersStatus::Ok
        };
        MeterList {
            meter_count: meters.len(),
            meters,
            total_power,
            status,
        }
    }
}

/// Combines the per-meter outcomes of a listing. A meter with no data anywhere is left out. When
/// some meter could not be read from either store, the listing still answers with the others;
/// only when nothing answered at all is the first failure reported (the 503 naming its store).
pub fn collect_meters<E>(
    outcomes: Vec<(String, Read<Shown<MeterReading>, E>)>,
    offset: UtcOffset,
) -> Result<MeterList, E> {
    let mut meters = Vec::new();
    let mut failure = None;
    for (name, outcome) in outcomes {
        match outcome {
            Ok(Some(shown)) => meters.push(MeterView::new(&name, shown, offset)),
            Ok(None) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) if meters.is_empty() => Err(e),
        _ => Ok(MeterList::new(meters)),
    }
}

/// The meter names behind the keys a SCAN of `<prefix>meter:*` found, plus the history meters
/// (which may answer from MySQL without a live hash), without duplicates, in name order.
pub fn meter_names(prefix: &str, keys: &[String]) -> Vec<String> {
    let mut names: Vec<String> = keys
        .iter()
        .filter_map(|k| k.strip_prefix(prefix)?.strip_prefix("meter:"))
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .chain(HISTORY_METERS.iter().map(|n| (*n).to_owned()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Today (the site-local day containing `now`) as UTC bounds `[start, end)`, for index range
/// scans on `ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    pub date: Date,
    pub start: i64,
    pub end: i64,
}

impl Day {
    pub fn containing(now: i64, offset: UtcOffset) -> Day {
        let date = local_date(now, offset);
        let start = date.start_utc(offset);
        Day {
            date,
            start,
            end: start + 86_400,
        }
    }

    /// `YYYY-MM-DD`.
    pub fn iso_date(&self) -> String {
        let d = self.date;
        format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
    }
}

/// Today's energy from the history rows: the trapezoid integral with its gaps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyToday {
    /// The site-local date integrated.
    pub date: String,
    pub kwh: f64,
    /// Intervals longer than 5 × the nominal interval, not bridged.
    pub gaps: u32,
    pub samples: usize,
    pub nominal_interval_secs: i64,
}

impl EnergyToday {
    pub fn new(day: &Day, energy: Energy, nominal_interval_secs: i64) -> EnergyToday {
        EnergyToday {
            date: day.iso_date(),
            kwh: energy.kwh,
            gaps: energy.gaps,
            samples: energy.samples,
            nominal_interval_secs,
        }
    }
}

/// `GET /api/v1/meters/aux`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuxView {
    #[serde(flatten)]
    pub meter: MeterView,
    /// `None` when the `Meter` database cannot be read (the live value is still shown).
    pub today: Option<EnergyToday>,
}

/// One inverter reading: an `Inverter.INVERTER_1` row or the `inverter:1` live hash.
#[derive(Debug, Clone, PartialEq)]
pub struct InverterReading {
    pub ts: i64,
    pub status: String,
    pub ac_kw: f64,
    pub dc_kw: f64,
    /// The inverter's own register, reset at local midnight.
    pub today_kwh: f64,
    pub lifetime_kwh: f64,
}

impl Timed for InverterReading {
    fn ts(&self) -> i64 {
        self.ts
    }
}

impl InverterReading {
    pub fn from_live(live: &LiveValues) -> Option<InverterReading> {
        Some(InverterReading {
            ts: live.ts?,
            status: live.str("status")?.to_owned(),
            ac_kw: live.f64("ac_kw")?,
            dc_kw: live.f64("dc_kw")?,
            today_kwh: live.f64("today_kwh")?,
            lifetime_kwh: live.f64("lifetime_kwh")?,
        })
    }
}

/// AC/DC as a fraction; `None` when there is (next to) no DC power to convert.
pub fn efficiency(ac_kw: f64, dc_kw: f64) -> Option<f64> {
    (dc_kw >= MIN_DC_KW_FOR_EFFICIENCY && ac_kw.is_finite()).then(|| ac_kw / dc_kw)
}

/// `GET /api/v1/inverter`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InverterView {
    pub name: &'static str,
    pub status: String,
    pub ac_kw: f64,
    pub dc_kw: f64,
    /// AC/DC (0..1), `None` while DC is below [`MIN_DC_KW_FOR_EFFICIENCY`].
    pub efficiency: Option<f64>,
    /// Today's generation from the history rows (trapezoid integral of `ac_kw`), kWh.
    pub today_kwh: Option<f64>,
    /// The inverter's own today register in the shown reading, kWh.
    pub today_kwh_register: f64,
    pub lifetime_kwh: f64,
    /// How `today_kwh` was computed; `None` when the `Inverter` database cannot be read.
    pub today: Option<EnergyToday>,
    pub source: Source,
    pub stale: bool,
    pub updated_at: String,
}

impl InverterView {
    pub fn new(
        shown: Shown<InverterReading>,
        today: Option<EnergyToday>,
        offset: UtcOffset,
    ) -> InverterView {
        let r = shown.reading;
        InverterView {
            name: crate::schema::inverter::INVERTER_1,
            status: r.status,
            ac_kw: r.ac_kw,
            dc_kw: r.dc_kw,
            efficiency: efficiency(r.ac_kw, r.dc_kw),
            today_kwh: today.as_ref().map(|t| t.kwh),
            today_kwh_register: r.today_kwh,
            lifetime_kwh: r.lifetime_kwh,
            today,
            source: shown.source,
            stale: shown.stale,
            updated_at: format_iso(r.ts, offset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::{integrate, PowerSample};

    fn live(pairs: &[(&str, &str)], now: i64) -> LiveValues {
        let fields = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        LiveValues::from_fields(fields, now, 60).unwrap()
    }

    fn meter(kw: f64, ts: i64) -> MeterReading {
        MeterReading {
            ts,
            i_a: 1.0,
            i_b: 2.0,
            i_c: 3.0,
            vll_ab: 380.0,
            vll_bc: 381.0,
            vll_ca: 382.0,
            kw_tot: kw,
            kvar_tot: 4.0,
            pf: 0.98,
            freq: 60.01,
        }
    }

    fn shown(reading: MeterReading, source: Source, stale: bool) -> Shown<MeterReading> {
        Shown {
            reading,
            source,
            stale,
        }
    }

    #[test]
    fn a_meter_hash_reads_with_register_names() {
        let v = live(
            &[
                ("I_a", "10.5"),
                ("I_b", "11"),
                ("I_c", "12"),
                ("Vll_ab", "22800"),
                ("Vll_bc", "22810"),
                ("Vll_ca", "22790"),
                ("KW_tot", "-350.5"),
                ("KVAR_tot", "12.25"),
                ("PF", "0.99"),
                ("freq", "59.98"),
                ("ts", "1795305600"),
            ],
            1_795_305_610,
        );
        let r = MeterReading::from_live(&v).unwrap();
        assert_eq!((r.kw_tot, r.freq, r.ts), (-350.5, 59.98, 1_795_305_600));
        let view = MeterView::new(
            "MMAIN",
            shown(r, Source::Realtime, false),
            UtcOffset::SITE_DEFAULT,
        );
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["KW_tot"], -350.5);
        assert_eq!(json["Vll_ca"], 22790.0);
        assert_eq!(json["updated_at"], "2026-11-22T08:00:00+08:00");
        assert_eq!(json["source"], "realtime");
        let half = live(&[("ts", "1"), ("KW_tot", "5")], 1);
        assert_eq!(MeterReading::from_live(&half), None);
    }

    #[test]
    fn totals_count_fresh_meters_and_status_says_how_current() {
        let o = UtcOffset::SITE_DEFAULT;
        let list = MeterList::new(vec![
            MeterView::new("MMAIN", shown(meter(100.0, 1), Source::Realtime, false), o),
            MeterView::new("MAUX", shown(meter(40.0, 1), Source::Realtime, false), o),
        ]);
        assert_eq!(list.meters[0].name, "MAUX", "sorted by name");
        assert_eq!(
            (list.meter_count, list.total_power, list.status),
            (2, 140.0, MetersStatus::Ok)
        );
        let list = MeterList::new(vec![
            MeterView::new("MMAIN", shown(meter(100.0, 1), Source::History, true), o),
            MeterView::new("MAUX", shown(meter(40.0, 1), Source::Realtime, false), o),
        ]);
        assert_eq!((list.total_power, list.status), (40.0, MetersStatus::Stale));
        let empty = MeterList::new(Vec::new());
        assert_eq!(
            (empty.meter_count, empty.total_power, empty.status),
            (0, 0.0, MetersStatus::NoData)
        );
        assert_eq!(serde_json::to_value(&empty).unwrap()["status"], "no_data");
    }

    #[test]
    fn a_listing_answers_unless_nothing_answered() {
        let o = UtcOffset::SITE_DEFAULT;
        let ok = Ok(Some(shown(meter(1.0, 1), Source::History, true)));
        let list = collect_meters(
            vec![
                ("MAUX".into(), Err("redis:main")),
                ("MMAIN".into(), ok),
                ("MX".into(), Ok(None)),
            ],
            o,
        )
        .unwrap();
        assert_eq!(list.meter_count, 1);
        assert_eq!(
            collect_meters::<&str>(
                vec![
                    ("MAUX".into(), Err("mysql:Meter")),
                    ("MMAIN".into(), Ok(None))
                ],
                o
            ),
            Err("mysql:Meter")
        );
        let none = collect_meters::<&str>(vec![("MAUX".into(), Ok(None))], o).unwrap();
        assert_eq!(none.status, MetersStatus::NoData);
    }

    #[test]
    fn names_come_from_keys_under_the_prefix_plus_history_meters() {
        let keys = [
            "p_meter:MTEST".to_owned(),
            "p_meter:MAUX".to_owned(),
            "p_meter:".to_owned(),
            "other:meter:X".to_owned(),
            "p_meter:MTEST".to_owned(),
        ];
        assert_eq!(meter_names("p_", &keys), ["MAUX", "MMAIN", "MTEST"]);
        assert_eq!(meter_names("", &[]), ["MAUX", "MMAIN"]);
    }

    #[test]
    fn today_is_the_site_local_day() {
        // 2026-11-22T00:30+08:00 is 2026-11-21T16:30Z: the local day began at 16:00Z.
        let now = 1_795_305_600 - 8 * 3600 + 1800;
        let day = Day::containing(now, UtcOffset::SITE_DEFAULT);
        assert_eq!(day.iso_date(), "2026-11-22");
        assert_eq!((day.start, day.end), (now - 1800, now - 1800 + 86_400));
        let utc = Day::containing(now, UtcOffset(0));
        assert_eq!(utc.iso_date(), "2026-11-21");
    }

    #[test]
    fn energy_today_reports_the_integral_and_its_gaps() {
        // 36 kW for 10 minutes at 10 s, then a 2-minute hole: 6 kWh and one gap.
        let mut samples: Vec<_> = (0..=60)
            .map(|i| PowerSample {
                ts: i * 10,
                kw: 36.0,
            })
            .collect();
        samples.push(PowerSample { ts: 720, kw: 36.0 });
        let day = Day::containing(0, UtcOffset(0));
        let today = EnergyToday::new(&day, integrate(&samples, 10), METER_INTERVAL_SECS);
        assert!((today.kwh - 6.0).abs() < 1e-9);
        assert_eq!((today.gaps, today.samples), (1, 62));
        assert_eq!(today.date, "1970-01-01");
    }

    #[test]
    fn efficiency_is_ac_over_dc_unless_dc_is_next_to_nothing() {
        assert_eq!(efficiency(95.0, 100.0), Some(0.95));
        assert_eq!(efficiency(0.0, 0.0), None);
        assert_eq!(efficiency(0.01, 0.05), None);
        assert_eq!(efficiency(1.0, -3.0), None);
    }

    #[test]
    fn an_inverter_view_shows_both_today_figures() {
        let v = live(
            &[
                ("status", "run"),
                ("ac_kw", "480"),
                ("dc_kw", "500"),
                ("today_kwh", "1234.5"),
                ("lifetime_kwh", "1250000"),
                ("ts", "1795305600"),
            ],
            1_795_305_600,
        );
        let r = InverterReading::from_live(&v).unwrap();
        let day = Day::containing(r.ts, UtcOffset::SITE_DEFAULT);
        let today = EnergyToday::new(&day, Energy::default(), INVERTER_INTERVAL_SECS);
        let view = InverterView::new(
            Shown {
                reading: r,
                source: Source::Realtime,
                stale: false,
            },
            Some(today),
            UtcOffset::SITE_DEFAULT,
        );
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["efficiency"], 0.96);
        assert_eq!(json["today_kwh"], 0.0);
        assert_eq!(json["today_kwh_register"], 1234.5);
        assert_eq!(json["today"]["nominal_interval_secs"], 60);
        assert_eq!(json["name"], "INVERTER_1");
        let night = InverterView::new(
            Shown {
                reading: InverterReading {
                    ts: 0,
                    status: "standby".into(),
                    ac_kw: 0.0,
                    dc_kw: 0.0,
                    today_kwh: 0.0,
                    lifetime_kwh: 1.0,
                },
                source: Source::History,
                stale: true,
            },
            None,
            UtcOffset::SITE_DEFAULT,
        );
        let json = serde_json::to_value(&night).unwrap();
        assert!(json["efficiency"].is_null() && json["today_kwh"].is_null());
        assert!(json["today"].is_null());
    }
}
