//! Energy from power samples: the trapezoid integral over a window, with gaps not bridged.
//!
//! Between two consecutive samples the power is taken to change linearly; an interval longer than
//! [`MAX_GAP_FACTOR`] × the nominal sampling interval is a gap: it adds no energy and is counted,
//! so a collector outage never shows as steady consumption. Positive power (discharge, export,
//! generation) and negative power (charge, import) are integrated separately as well, splitting
//! an interval where the power crosses zero at the crossing point.
//!
//! [`Integrator`] is the one implementation: it takes samples one at a time (so rows can be read
//! page by page) and splits the integral into buckets (hours, days) and at the window's edges;
//! [`integrate`] is its single-bucket use.

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
/// `nominal_interval_secs` nominally, over their whole span.
pub fn integrate(samples: &[PowerSample], nominal_interval_secs: i64) -> Energy {
    let mut integrator = Integrator::unbounded(nominal_interval_secs);
    for sample in samples {
        integrator.push(*sample);
    }
    integrator.finish().total
}

/// The integral over consecutive buckets and their total.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucketed {
    /// One per bucket, in order. A bucket's `gaps` counts the unbridged intervals overlapping it,
    /// so a gap spanning two buckets shows in both.
    pub buckets: Vec<Energy>,
    /// The whole window: energies and samples are the buckets' sums, `gaps` counts each gap once.
    pub total: Energy,
}

/// The trapezoid integral of samples streamed in time order, split into consecutive buckets
/// `[edges[i], edges[i + 1])` that together make the window `[edges[0], edges[last])`.
///
/// Samples may come from outside the window (the last one before it and the first one after it,
/// so the window's edges are interpolated rather than left out): an interval that straddles a
/// bucket edge or a window edge is split there, the power at the edge taken on the line between
/// its two samples. So the integral of a window equals the sum of the integrals of any partition
/// of it: a day's total is the sum of its hours. Only samples inside the window are counted.
/// Rows can be fed page by page: the integrator keeps only the previous sample.
#[derive(Debug, Clone)]
pub struct Integrator {
    edges: Vec<i64>,
    max_gap: i64,
    previous: Option<PowerSample>,
    buckets: Vec<Energy>,
    gaps: u32,
}

impl Integrator {
    /// Buckets between consecutive `edges` (strictly increasing, at least two of them).
    pub fn new(nominal_interval_secs: i64, edges: Vec<i64>) -> Integrator {
        debug_assert!(edges.len() >= 2 && edges.windows(2).all(|w| w[0] < w[1]));
        Integrator {
            buckets: vec![Energy::default(); edges.len().saturating_sub(1)],
            edges,
            max_gap: nominal_interval_secs.max(1) * MAX_GAP_FACTOR,
            previous: None,
            gaps: 0,
        }
    }

    /// One bucket holding all of time: the plain integral of whatever is pushed.
    pub fn unbounded(nominal_interval_secs: i64) -> Integrator {
        Integrator::new(nominal_interval_secs, vec![i64::MIN, i64::MAX])
    }

    fn start(&self) -> i64 {
        self.edges[0]
    }

    fn end(&self) -> i64 {
        self.edges[self.edges.len() - 1]
    }

    /// The bucket holding instant `t` (within the window).
    fn bucket_of(&self, t: i64) -> usize {
        self.edges.partition_point(|&e| e <= t) - 1
    }

    /// Adds the next sample (one not later than the previous is skipped).
    pub fn push(&mut self, sample: PowerSample) {
        let inside = sample.ts >= self.start() && sample.ts < self.end();
        if inside {
            let b = self.bucket_of(sample.ts);
            self.buckets[b].samples += 1;
        }
        let Some(previous) = self.previous else {
            self.previous = Some(sample);
            return;
        };
        if sample.ts <= previous.ts {
            return;
        }
        self.previous = Some(sample);
        // The part of the interval inside the window, if any.
        let (from, to) = (previous.ts.max(self.start()), sample.ts.min(self.end()));
        if from >= to {
            return;
        }
        let gap = sample.ts - previous.ts > self.max_gap;
        if gap {
            self.gaps += 1;
        }
        let mut b = self.bucket_of(from);
        while b < self.buckets.len() && self.edges[b] < to {
            let (u, v) = (from.max(self.edges[b]), to.min(self.edges[b + 1]));
            let bucket = &mut self.buckets[b];
            if gap {
                bucket.gaps += 1;
            } else {
                let hours = (v - u) as f64 / 3600.0;
                let (pos, neg) = split_trapezoid(
                    power_at(previous, sample, u),
                    power_at(previous, sample, v),
                    hours,
                );
                bucket.positive_kwh += pos;
                bucket.negative_kwh += neg;
            }
            b += 1;
        }
    }

    pub fn finish(mut self) -> Bucketed {
        let mut total = Energy {
            gaps: self.gaps,
            ..Energy::default()
        };
        for bucket in &mut self.buckets {
            bucket.kwh = bucket.positive_kwh - bucket.negative_kwh;
            total.positive_kwh += bucket.positive_kwh;
            total.negative_kwh += bucket.negative_kwh;
            total.samples += bucket.samples;
        }
        total.kwh = total.positive_kwh - total.negative_kwh;
        Bucketed {
            buckets: self.buckets,
            total,
        }
    }
}

/// The power at `t` (between `a.ts` and `b.ts`) on the line from `a` to `b`; exactly the
/// sample's own value at either end.
fn power_at(a: PowerSample, b: PowerSample, t: i64) -> f64 {
    if t <= a.ts {
        a.kw
    } else if t >= b.ts {
        b.kw
    } else {
        a.kw + (b.kw - a.kw) * ((t - a.ts) as f64 / (b.ts - a.ts) as f64)
    }
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

    /// Rounding aside.
    fn near(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    fn bucketed(samples: &[PowerSample], nominal: i64, edges: &[i64]) -> Bucketed {
        let mut i = Integrator::new(nominal, edges.to_vec());
        samples.iter().for_each(|s| i.push(*s));
        i.finish()
    }

    #[test]
    fn buckets_split_intervals_at_their_edges() {
        // A ramp 0 → 3600 kW over one hour sampled at its ends: 450 kWh in the first half hour,
        // 1350 in the second (the power at the edge is on the line: 1800 kW).
        let b = bucketed(&[s(0, 0.0), s(3600, 3600.0)], 3600, &[0, 1800, 3600]);
        assert!(close(b.buckets[0].kwh, 450.0) && close(b.buckets[1].kwh, 1350.0));
        assert!(close(b.total.kwh, 1800.0));
        // The sample at the window's end belongs to the next window: one sample counted.
        assert_eq!((b.buckets[0].samples, b.buckets[1].samples), (1, 0));
        assert_eq!(b.total.samples, 1);
    }

    #[test]
    fn window_edges_are_interpolated_from_samples_outside() {
        // 0 kW at -10 s, 20 kW at +10 s: inside [0, 10) the power runs 10 → 20 kW.
        let b = bucketed(&[s(-10, 0.0), s(10, 20.0)], 10, &[0, 10]);
        assert!(close(b.total.kwh, 15.0 * 10.0 / 3600.0));
        assert_eq!(b.total.samples, 0, "neither sample is inside the window");
        // Intervals wholly outside the window add nothing; a hole over it is a gap.
        let b = bucketed(
            &[s(-30, 50.0), s(-20, 50.0), s(40, 50.0), s(50, 50.0)],
            10,
            &[0, 10],
        );
        assert_eq!(b.total.kwh, 0.0);
        assert_eq!(b.total.gaps, 1, "the hole over the window is a gap");
    }

    #[test]
    fn a_day_is_the_sum_of_its_hours() {
        // Irregular times, sign changes, a gap: 26 h of samples around a 24 h window.
        let mut samples = Vec::new();
        let mut t = -3600;
        let mut k = 0u32;
        while t < 25 * 3600 {
            let kw = 300.0 * ((k as f64) * 0.37).sin() + 40.0;
            samples.push(s(t, kw));
            k += 1;
            // A few holes of 700 s, one of them across an hour's edge.
            t += if [97, 500, 1900].contains(&k) {
                700
            } else {
                7 + i64::from(k % 13)
            };
        }
        let hours: Vec<i64> = (0..=24).map(|h| h * 3600).collect();
        let by_hour = bucketed(&samples, 10, &hours);
        let by_day = bucketed(&samples, 10, &[0, 86_400]);
        let day = by_day.buckets[0];
        let sum = |f: fn(&Energy) -> f64| by_hour.buckets.iter().map(f).sum::<f64>();
        assert!(near(sum(|e| e.positive_kwh), day.positive_kwh));
        assert!(near(sum(|e| e.negative_kwh), day.negative_kwh));
        assert!(near(sum(|e| e.kwh), day.kwh));
        assert!(day.positive_kwh > 0.0 && day.negative_kwh > 0.0);
        assert_eq!(by_hour.total.samples, day.samples);
        assert_eq!(by_hour.total.gaps, day.gaps);
        assert!(day.gaps > 0);
        // Two consecutive half-day windows add up to the day too.
        let am = bucketed(&samples, 10, &[0, 43_200]).total;
        let pm = bucketed(&samples, 10, &[43_200, 86_400]).total;
        assert!(near(am.kwh + pm.kwh, day.kwh));
        assert_eq!(am.samples + pm.samples, day.samples);
    }

    #[test]
    fn a_gap_shows_in_every_bucket_it_touches_and_once_in_the_total() {
        // 10 s samples to 1000 s, nothing until 2500 s: the hole spans buckets 0, 1 and 2.
        let mut samples: Vec<_> = (0..=100).map(|i| s(i * 10, 36.0)).collect();
        samples.extend((250..=300).map(|i| s(i * 10, 36.0)));
        let b = bucketed(&samples, 10, &[0, 1200, 2400, 3600]);
        let gaps: Vec<u32> = b.buckets.iter().map(|e| e.gaps).collect();
        assert_eq!(gaps, [1, 1, 1]);
        assert_eq!(b.total.gaps, 1);
        assert!(close(b.total.kwh, 36.0 * (1000.0 + 500.0) / 3600.0));
        assert!(close(b.buckets[1].kwh, 0.0));
    }

    #[test]
    fn crossing_zero_across_a_bucket_edge() {
        // +10 → -10 kW over 2 h, buckets of an hour: the first hour is all discharge (5 kWh),
        // the second all charge (5 kWh), the crossing sitting on the edge.
        let b = bucketed(&[s(0, 10.0), s(7200, -10.0)], 7200, &[0, 3600, 7200]);
        assert!(close(b.buckets[0].positive_kwh, 5.0) && b.buckets[0].negative_kwh == 0.0);
        assert!(close(b.buckets[1].negative_kwh, 5.0) && b.buckets[1].positive_kwh == 0.0);
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
