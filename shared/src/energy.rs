//! Energy from power samples: the trapezoid integral over a window, with gaps not bridged.
//!
//! Between two consecutive samples the power is taken to change linearly; an interval longer than
//! [`MAX_GAP_FACTOR`] × the nominal sampling interval is a gap: it adds no energy and is counted,
//! so a collector outage never shows as steady consumption. Positive power (discharge, export,
//! generation) and negative power (charge, import) are integrated separately as well, splitting
//! an interval where the power crosses zero at the crossing point.

use serde::Serialize;

/// An interval longer than this many nominal intervals is not bridged.
pub const MAX_GAP_FACTOR: i64 = 5;

/// One sample: Unix seconds and kW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerSample {
    pub ts: i64,
    pub kw: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Energy {
    /// Net energy, kWh (positive minus negative).
    pub kwh: f64,
    /// Energy while the power was positive (discharge / export / generation), kWh, >= 0.
    pub positive_kwh: f64,
    /// Energy while the power was negative (charge / import), kWh, >= 0.
    pub negative_kwh: f64,
    /// Intervals not bridged because they were longer than the gap limit.
    pub gaps: u32,
    /// Samples integrated.
    pub samples: usize,
}

/// Integrates `samples` (in time order; equal or decreasing timestamps are skipped) taken every
/// `nominal_interval_secs` nominally.
pub fn integrate(samples: &[PowerSample], nominal_interval_secs: i64) -> Energy {
    let max_gap = nominal_interval_secs.max(1) * MAX_GAP_FACTOR;
    let mut energy = Energy {
        samples: samples.len(),
        ..Energy::default()
    };
    for pair in samples.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let dt = b.ts - a.ts;
        if dt <= 0 {
            continue;
        }
        if dt > max_gap {
            energy.gaps += 1;
            continue;
        }
        let hours = dt as f64 / 3600.0;
        let (pos, neg) = split_trapezoid(a.kw, b.kw, hours);
        energy.positive_kwh += pos;
        energy.negative_kwh += neg;
    }
    energy.kwh = energy.positive_kwh - energy.negative_kwh;
    energy
}

/// The trapezoid from `p0` to `p1` over `hours`, as (energy above zero, energy below zero).
fn split_trapezoid(p0: f64, p1: f64, hours: f64) -> (f64, f64) {
    if p0 >= 0.0 && p1 >= 0.0 {
        return ((p0 + p1) / 2.0 * hours, 0.0);
    }
    if p0 <= 0.0 && p1 <= 0.0 {
        return (0.0, -(p0 + p1) / 2.0 * hours);
    }
    // The line crosses zero at fraction f of the interval: two triangles.
    let f = p0 / (p0 - p1);
    let first = p0 / 2.0 * f * hours;
    let second = p1 / 2.0 * (1.0 - f) * hours;
    if p0 > 0.0 {
        (first, -second)
    } else {
        (second, -first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ts: i64, kw: f64) -> PowerSample {
        PowerSample { ts, kw }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn steady_power_for_an_hour_is_its_kw() {
        let samples: Vec<_> = (0..=360).map(|i| s(i * 10, 100.0)).collect();
        let e = integrate(&samples, 10);
        assert!(close(e.kwh, 100.0) && close(e.positive_kwh, 100.0) && e.negative_kwh == 0.0);
        assert_eq!((e.gaps, e.samples), (0, 361));
    }

    #[test]
    fn a_ramp_is_a_trapezoid() {
        // 0 → 60 kW over 30 minutes: 15 kWh.
        let e = integrate(&[s(0, 0.0), s(1800, 60.0)], 1800);
        assert!(close(e.kwh, 15.0));
    }

    #[test]
    fn gaps_longer_than_five_intervals_are_not_bridged() {
        // 10 s samples; a 51 s hole is a gap, a 50 s one is bridged.
        let e = integrate(&[s(0, 36.0), s(10, 36.0), s(61, 36.0), s(111, 36.0)], 10);
        assert_eq!(e.gaps, 1);
        assert!(close(e.kwh, 36.0 * 60.0 / 3600.0));
    }

    #[test]
    fn crossing_zero_splits_charge_and_discharge() {
        // +10 kW to -10 kW over 2 h: 5 kWh out, 5 kWh in, net 0.
        let e = integrate(&[s(0, 10.0), s(7200, -10.0)], 7200);
        assert!(close(e.positive_kwh, 5.0) && close(e.negative_kwh, 5.0) && close(e.kwh, 0.0));
        let e = integrate(&[s(0, -30.0), s(3600, -30.0)], 3600);
        assert!(close(e.negative_kwh, 30.0) && close(e.kwh, -30.0));
    }

    #[test]
    fn nothing_to_integrate_is_zero() {
        assert_eq!(integrate(&[], 10), Energy::default());
        let one = integrate(&[s(5, 1.0)], 10);
        assert_eq!((one.kwh, one.samples), (0.0, 1));
        // Out-of-order or repeated timestamps add nothing.
        assert_eq!(integrate(&[s(10, 5.0), s(10, 5.0), s(0, 5.0)], 10).kwh, 0.0);
    }
}
