//! `power-io`: energy through the grid connection, the batteries and the PV inverter, per
//! site-local hour or day.
//!
//! Each source is integrated once over the whole window with the bucket edges as split points
//! ([`crate::energy::Integrator`]), so a day's figures are the sum of its hours'.

use serde::Serialize;

use super::{Interval, Window};
use crate::energy::{Bucketed, Energy};
use crate::time::{format_iso, UtcOffset};

/// Per-source counts: the grid meter (MMAIN), both PCS together, the PV inverter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PerSource<T> {
    pub grid: T,
    pub pcs: T,
    pub pv: T,
}

/// One bucket, or the whole window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IoEnergy {
    pub start: String,
    pub end: String,
    /// From the grid (MMAIN `KW_tot` < 0), kWh.
    pub import_kwh: f64,
    /// To the grid (MMAIN `KW_tot` > 0), kWh.
    pub export_kwh: f64,
    /// Into the batteries through both PCS (`p_kw` < 0), kWh.
    pub charge_kwh: f64,
    /// Out of the batteries (`p_kw` > 0), kWh.
    pub discharge_kwh: f64,
    /// PV generation (`ac_kw` > 0), kWh.
    pub pv_kwh: f64,
    /// Samples inside the bucket.
    pub samples: PerSource<usize>,
    /// Unbridged intervals touching the bucket (in the totals: each counted once).
    pub gaps: PerSource<u32>,
}

/// The `power-io` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerIo {
    pub from: String,
    pub to: String,
    pub interval: &'static str,
    pub buckets: Vec<IoEnergy>,
    pub totals: IoEnergy,
    /// Sources without a single sample in the window.
    pub notes: Vec<String>,
}

/// The integrals of every source over the same buckets.
pub struct Integrals {
    pub grid: Bucketed,
    /// One per PCS.
    pub pcs: Vec<Bucketed>,
    pub pv: Bucketed,
}

impl PowerIo {
    /// `edges` are the buckets' edges the integrals were split at.
    pub fn new(
        window: Window,
        interval: Interval,
        offset: UtcOffset,
        edges: &[i64],
        integrals: &Integrals,
    ) -> PowerIo {
        let at = |i: usize, pick: fn(&Bucketed, usize) -> Energy| Parts {
            grid: pick(&integrals.grid, i),
            pcs: integrals.pcs.iter().map(|b| pick(b, i)).collect(),
            pv: pick(&integrals.pv, i),
        };
        let buckets = edges
            .windows(2)
            .enumerate()
            .map(|(i, span)| at(i, |b, i| b.buckets[i]).view(span[0], span[1], offset))
            .collect();
        let totals = at(0, |b, _| b.total).view(window.from, window.to, offset);
        let mut notes = Vec::new();
        for (source, samples) in [
            ("MMAIN", totals.samples.grid),
            ("PCS (pcs0_data, pcs1_data)", totals.samples.pcs),
            ("INVERTER_1", totals.samples.pv),
        ] {
            if samples == 0 {
                notes.push(format!("no {source} history in the window"));
            }
        }
        PowerIo {
            from: format_iso(window.from, offset),
            to: format_iso(window.to, offset),
            interval: interval.as_str(),
            buckets,
            totals,
            notes,
        }
    }
}

/// One bucket's (or the window's) energy of every source.
struct Parts {
    grid: Energy,
    pcs: Vec<Energy>,
    pv: Energy,
}

impl Parts {
    fn view(&self, start: i64, end: i64, offset: UtcOffset) -> IoEnergy {
        let pcs_sum = |f: fn(&Energy) -> f64| self.pcs.iter().map(f).sum::<f64>();
        IoEnergy {
            start: format_iso(start, offset),
            end: format_iso(end, offset),
            import_kwh: self.grid.negative_kwh,
            export_kwh: self.grid.positive_kwh,
            charge_kwh: pcs_sum(|e| e.negative_kwh),
            discharge_kwh: pcs_sum(|e| e.positive_kwh),
            pv_kwh: self.pv.positive_kwh,
            samples: PerSource {
                grid: self.grid.samples,
                pcs: self.pcs.iter().map(|e| e.samples).sum(),
                pv: self.pv.samples,
            },
            gaps: PerSource {
                grid: self.grid.gaps,
                pcs: self.pcs.iter().map(|e| e.gaps).sum(),
                pv: self.pv.gaps,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::bucket_edges;
    use crate::energy::{Integrator, PowerSample};

    const T0: i64 = 1_795_276_800; // 2026-11-22T00:00:00+08:00

    fn integral(edges: &[i64], nominal: i64, samples: &[(i64, f64)]) -> Bucketed {
        let mut i = Integrator::new(nominal, edges.to_vec());
        for &(ts, kw) in samples {
            i.push(PowerSample { ts, kw });
        }
        i.finish()
    }

    #[test]
    fn buckets_carry_each_source_and_the_totals_add_up() {
        let window = Window {
            from: T0,
            to: T0 + 2 * 3600,
        };
        let edges = bucket_edges(window, Interval::Hour, UtcOffset::SITE_DEFAULT);
        // Grid: import 100 kW the first hour, export 50 kW the second (the line crosses zero
        // between the two samples around the edge).
        let grid: Vec<(i64, f64)> = (0..=720)
            .map(|i| (T0 + i * 10, if i < 360 { -100.0 } else { 50.0 }))
            .collect();
        let pcs0: Vec<(i64, f64)> = (0..=720).map(|i| (T0 + i * 10, -200.0)).collect();
        let pv: Vec<(i64, f64)> = (0..=120).map(|i| (T0 + i * 60, 30.0)).collect();
        let integrals = Integrals {
            grid: integral(&edges, 10, &grid),
            pcs: vec![integral(&edges, 10, &pcs0), integral(&edges, 10, &[])],
            pv: integral(&edges, 60, &pv),
        };
        let io = PowerIo::new(
            window,
            Interval::Hour,
            UtcOffset::SITE_DEFAULT,
            &edges,
            &integrals,
        );
        assert_eq!(io.buckets.len(), 2);
        assert_eq!(io.buckets[1].start, "2026-11-22T01:00:00+08:00");
        assert_eq!(io.interval, "hour");
        let b0 = &io.buckets[0];
        // 3590 s at -100 kW, then half of the last 10 s interval (-100 → 50) before it crosses.
        let crossing = 100.0 / 150.0 * 10.0;
        assert!((b0.import_kwh - (3590.0 * 100.0 + crossing * 50.0) / 3600.0).abs() < 1e-9);
        assert!((b0.charge_kwh - 200.0).abs() < 1e-9);
        assert!((b0.pv_kwh - 30.0).abs() < 1e-9);
        assert_eq!(
            b0.samples,
            PerSource {
                grid: 360,
                pcs: 360,
                pv: 60
            }
        );
        let sum = |f: fn(&IoEnergy) -> f64| io.buckets.iter().map(f).sum::<f64>();
        for (f, name) in [
            (
                (|e: &IoEnergy| e.import_kwh) as fn(&IoEnergy) -> f64,
                "import",
            ),
            (|e| e.export_kwh, "export"),
            (|e| e.charge_kwh, "charge"),
            (|e| e.discharge_kwh, "discharge"),
            (|e| e.pv_kwh, "pv"),
        ] {
            assert!((sum(f) - f(&io.totals)).abs() < 1e-9, "{name}");
        }
        assert!(io.notes.is_empty());
    }

    #[test]
    fn silent_sources_are_named() {
        let window = Window {
            from: T0,
            to: T0 + 3600,
        };
        let edges = vec![window.from, window.to];
        let none = || integral(&edges, 10, &[]);
        let io = PowerIo::new(
            window,
            Interval::Day,
            UtcOffset::SITE_DEFAULT,
            &edges,
            &Integrals {
                grid: none(),
                pcs: vec![none(), none()],
                pv: none(),
            },
        );
        assert_eq!(io.notes.len(), 3);
        assert_eq!(io.totals.import_kwh, 0.0);
    }
}
