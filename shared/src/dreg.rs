//! dReg / E-dReg calculations of DOMAIN.md: expected power, sample compliance, execution
//! rate, performance factor and event income. Pure functions; every number is a field of
//! [`DregParams`] whose [`Default`] holds the DOMAIN defaults (they become Spin variables).
//!
//! Money is integer cents (TWD × 100): an event's income is rounded to the cent once, and
//! daily and monthly totals are integer sums, so a month equals the sum of its days exactly.

use core::fmt;

/// The ancillary service of a schedule event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Dreg,
    Edreg,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Dreg => "dreg",
            Mode::Edreg => "edreg",
        }
    }

    /// Parses `dreg` / `edreg` (case-insensitive; `e-dreg` and `e_dreg` accepted).
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dreg" => Some(Mode::Dreg),
            "edreg" | "e-dreg" | "e_dreg" => Some(Mode::Edreg),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A response curve: no response within the dead band, linear to full response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    /// |d| at or below which the expected power is 0 (Hz).
    pub dead_band_hz: f64,
    /// |d| at or beyond which the expected power is the full capacity (Hz).
    pub full_response_hz: f64,
}

/// One step of the performance-factor table: execution rate >= `min_rate` earns `factor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactorStep {
    pub min_rate: f64,
    pub factor: f64,
}

/// Every dReg/E-dReg parameter (DOMAIN.md defaults in [`Default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DregParams {
    /// Nominal grid frequency (Hz): d = f − nominal.
    pub nominal_hz: f64,
    /// dReg curve: dead band 0.02 Hz, full response at 0.25 Hz.
    pub dreg: Curve,
    /// E-dReg curve: dead band 0.01 Hz, full response at 0.15 Hz.
    pub edreg: Curve,
    /// A sample is compliant when |P_actual − P_expected| <= this fraction of C (0.03).
    pub tolerance_fraction: f64,
    /// Nominal sample interval (s): an event of duration D expects ceil(D / interval) samples.
    pub sample_interval_s: u32,
    /// Performance factor table, highest `min_rate` first; below the last step the factor is 0.
    pub factor_steps: Vec<FactorStep>,
}

impl Default for DregParams {
    fn default() -> Self {
        DregParams {
            nominal_hz: 60.0,
            dreg: Curve {
                dead_band_hz: 0.02,
                full_response_hz: 0.25,
            },
            edreg: Curve {
                dead_band_hz: 0.01,
                full_response_hz: 0.15,
            },
            tolerance_fraction: 0.03,
            sample_interval_s: 10,
            factor_steps: vec![
                FactorStep {
                    min_rate: 0.95,
                    factor: 1.0,
                },
                FactorStep {
                    min_rate: 0.85,
                    factor: 0.7,
                },
                FactorStep {
                    min_rate: 0.70,
                    factor: 0.5,
                },
            ],
        }
    }
}

/// One measured sample: UTC epoch seconds, grid frequency, total actual power (kW, + discharge).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub ts: i64,
    pub freq_hz: f64,
    pub p_kw: f64,
}

/// The outcome of one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Execution {
    /// Samples the event should have (one per interval slot).
    pub expected: u64,
    /// Slots that had a sample.
    pub present: u64,
    /// Slots whose sample was compliant (missing samples count as non-compliant).
    pub compliant: u64,
    /// compliant / expected (0 when nothing was expected).
    pub rate: f64,
    /// Performance factor earned by `rate`.
    pub factor: f64,
}

/// Spin variable names of the parameters read by [`DregParams::from_lookup`].
pub mod variables {
    pub const NOMINAL_HZ: &str = "grid_nominal_hz";
    pub const DREG_DEAD_BAND_HZ: &str = "dreg_dead_band_hz";
    pub const DREG_FULL_RESPONSE_HZ: &str = "dreg_full_response_hz";
    pub const EDREG_DEAD_BAND_HZ: &str = "edreg_dead_band_hz";
    pub const EDREG_FULL_RESPONSE_HZ: &str = "edreg_full_response_hz";
    pub const TOLERANCE_FRACTION: &str = "dreg_tolerance_fraction";
    pub const SAMPLE_INTERVAL_S: &str = "dreg_sample_interval_s";
    /// `min_rate:factor` pairs, highest first: `0.95:1.0,0.85:0.7,0.70:0.5`.
    pub const FACTOR_STEPS: &str = "dreg_factor_steps";
    pub const ALL: [&str; 8] = [
        NOMINAL_HZ,
        DREG_DEAD_BAND_HZ,
        DREG_FULL_RESPONSE_HZ,
        EDREG_DEAD_BAND_HZ,
        EDREG_FULL_RESPONSE_HZ,
        TOLERANCE_FRACTION,
        SAMPLE_INTERVAL_S,
        FACTOR_STEPS,
    ];
}

impl DregParams {
    /// The defaults overridden by whichever variables `lookup` returns (empty values are
    /// ignored), validated. `lookup` is e.g. Spin's `variables::get` with errors mapped to `None`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<DregParams, String> {
        use variables as v;
        let mut p = DregParams::default();
        let get = |name: &str| lookup(name).filter(|s| !s.trim().is_empty());
        let num = |name: &str, slot: &mut f64| -> Result<(), String> {
            if let Some(s) = get(name) {
                *slot = s
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("{name}: not a number: {s:?}"))?;
            }
            Ok(())
        };
        num(v::NOMINAL_HZ, &mut p.nominal_hz)?;
        num(v::DREG_DEAD_BAND_HZ, &mut p.dreg.dead_band_hz)?;
        num(v::DREG_FULL_RESPONSE_HZ, &mut p.dreg.full_response_hz)?;
        num(v::EDREG_DEAD_BAND_HZ, &mut p.edreg.dead_band_hz)?;
        num(v::EDREG_FULL_RESPONSE_HZ, &mut p.edreg.full_response_hz)?;
        num(v::TOLERANCE_FRACTION, &mut p.tolerance_fraction)?;
        if let Some(s) = get(v::SAMPLE_INTERVAL_S) {
            p.sample_interval_s = s.trim().parse().map_err(|_| {
                format!(
                    "{}: not a whole number of seconds: {s:?}",
                    v::SAMPLE_INTERVAL_S
                )
            })?;
        }
        if let Some(s) = get(v::FACTOR_STEPS) {
            p.factor_steps = s
                .split(',')
                .map(|pair| {
                    let (r, f) = pair.trim().split_once(':')?;
                    Some(FactorStep {
                        min_rate: r.trim().parse().ok()?,
                        factor: f.trim().parse().ok()?,
                    })
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{}: expected rate:factor,...: {s:?}", v::FACTOR_STEPS))?;
        }
        p.validate()?;
        Ok(p)
    }

    /// Checks the parameters make sense (positive, ordered thresholds).
    pub fn validate(&self) -> Result<(), String> {
        for (name, c) in [("dreg", self.dreg), ("edreg", self.edreg)] {
            if !(c.dead_band_hz >= 0.0 && c.full_response_hz > c.dead_band_hz) {
                return Err(format!(
                    "{name}: full response ({}) must exceed the dead band ({}) >= 0",
                    c.full_response_hz, c.dead_band_hz
                ));
            }
        }
        if self.nominal_hz.is_nan() || self.nominal_hz <= 0.0 {
            return Err("nominal frequency must be positive".into());
        }
        if !(self.tolerance_fraction >= 0.0 && self.tolerance_fraction < 1.0) {
            return Err("tolerance fraction must be in 0..1".into());
        }
        if self.sample_interval_s == 0 {
            return Err("sample interval must be positive".into());
        }
        for w in self.factor_steps.windows(2) {
            if w[0].min_rate <= w[1].min_rate {
                return Err("factor steps must be sorted by decreasing min_rate".into());
            }
        }
        for s in &self.factor_steps {
            if !(0.0..=1.0).contains(&s.min_rate) || !(0.0..=1.0).contains(&s.factor) {
                return Err("factor steps must be within 0..1".into());
            }
        }
        Ok(())
    }

    pub fn curve(&self, mode: Mode) -> Curve {
        match mode {
            Mode::Dreg => self.dreg,
            Mode::Edreg => self.edreg,
        }
    }

    /// Expected power as a fraction of C in −1..=1: positive (discharge) when the frequency
    /// is below nominal, negative (charge) when above.
    pub fn expected_fraction(&self, mode: Mode, freq_hz: f64) -> f64 {
        let c = self.curve(mode);
        let d = freq_hz - self.nominal_hz;
        let a = d.abs();
        let magnitude = if a <= c.dead_band_hz {
            return 0.0;
        } else if a >= c.full_response_hz {
            1.0
        } else {
            (a - c.dead_band_hz) / (c.full_response_hz - c.dead_band_hz)
        };
        if d < 0.0 {
            magnitude
        } else {
            -magnitude
        }
    }

    /// Expected power in kW for an awarded capacity of `capacity_mw`.
    pub fn expected_kw(&self, mode: Mode, capacity_mw: f64, freq_hz: f64) -> f64 {
        self.expected_fraction(mode, freq_hz) * capacity_mw * 1000.0
    }

    /// The compliance tolerance in kW (3 % of C by default).
    pub fn tolerance_kw(&self, capacity_mw: f64) -> f64 {
        self.tolerance_fraction * capacity_mw * 1000.0
    }

    /// Whether one sample is compliant: |actual − expected| <= tolerance.
    pub fn is_compliant(&self, capacity_mw: f64, expected_kw: f64, actual_kw: f64) -> bool {
        // 1e-6 kW absorbs binary rounding of decimal inputs at the exact boundary.
        (actual_kw - expected_kw).abs() <= self.tolerance_kw(capacity_mw) + 1e-6
    }

    /// Samples expected in `[start_ts, end_ts)`: one per started interval.
    pub fn expected_samples(&self, start_ts: i64, end_ts: i64) -> u64 {
        if end_ts <= start_ts {
            return 0;
        }
        let dur = (end_ts - start_ts) as u64;
        let step = u64::from(self.sample_interval_s);
        dur.div_ceil(step)
    }

    /// The performance factor of an execution rate.
    ///
    /// Rates are compared as `f64`: `compliant / expected` is correctly rounded, so a rate that
    /// equals a threshold exactly (e.g. 342/360 = 0.95) compares equal to the threshold literal.
    pub fn performance_factor(&self, rate: f64) -> f64 {
        self.factor_steps
            .iter()
            .find(|s| rate >= s.min_rate)
            .map_or(0.0, |s| s.factor)
    }

    /// Execution rate and factor from counts.
    pub fn execution(&self, expected: u64, present: u64, compliant: u64) -> Execution {
        let rate = if expected == 0 {
            0.0
        } else {
            compliant.min(expected) as f64 / expected as f64
        };
        Execution {
            expected,
            present,
            compliant: compliant.min(expected),
            rate,
            factor: self.performance_factor(rate),
        }
    }

    /// Evaluates an event over `[start_ts, end_ts)`. The window is cut into slots of
    /// `sample_interval_s` seconds; the first sample falling in each slot is judged, samples
    /// outside the window are ignored, and empty slots count as non-compliant.
    pub fn evaluate(
        &self,
        mode: Mode,
        capacity_mw: f64,
        start_ts: i64,
        end_ts: i64,
        samples: &[Sample],
    ) -> Execution {
        let expected = self.expected_samples(start_ts, end_ts);
        let step = i64::from(self.sample_interval_s);
        let mut seen = vec![false; expected as usize];
        let (mut present, mut compliant) = (0u64, 0u64);
        for s in samples {
            if s.ts < start_ts || s.ts >= end_ts {
                continue;
            }
            let slot = ((s.ts - start_ts) / step) as usize;
            if seen[slot] {
                continue;
            }
            seen[slot] = true;
            present += 1;
            let exp = self.expected_kw(mode, capacity_mw, s.freq_hz);
            if s.p_kw.is_finite()
                && s.freq_hz.is_finite()
                && self.is_compliant(capacity_mw, exp, s.p_kw)
            {
                compliant += 1;
            }
        }
        self.execution(expected, present, compliant)
    }

    /// Income of an event in TWD cents: C × duration_h × price × factor, rounded to the cent.
    pub fn income_cents(
        &self,
        capacity_mw: f64,
        duration_s: i64,
        price_twd_per_mwh: f64,
        factor: f64,
    ) -> i64 {
        income_cents_exact(
            (capacity_mw * 1000.0).round() as i64,
            duration_s,
            (price_twd_per_mwh * 100.0).round() as i64,
            (factor * 1000.0).round() as i64,
        )
    }
}

/// Income in TWD cents from exact integers: capacity in kW (DECIMAL(8,3) MW × 1000), duration in
/// seconds, price in cents per MW·h, factor in per-mille. Rounded half away from zero.
pub fn income_cents_exact(
    capacity_kw: i64,
    duration_s: i64,
    price_cents_per_mwh: i64,
    factor_permille: i64,
) -> i64 {
    // kW → MW (/1000), s → h (/3600), per-mille → 1 (/1000).
    let num = i128::from(capacity_kw)
        * i128::from(duration_s)
        * i128::from(price_cents_per_mwh)
        * i128::from(factor_permille);
    let den: i128 = 1000 * 3600 * 1000;
    let q = num / den;
    let r = num % den;
    let rounded = if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    };
    rounded as i64
}

/// Parses a DECIMAL as MySQL returns it (`"1.250"`, `"-3"`, `"0.5"`) into an integer scaled
/// by 10^scale, exactly; more fractional digits than `scale` are rejected.
pub fn parse_decimal_scaled(s: &str, scale: u32) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > scale as usize
    {
        return None;
    }
    let mut v: i64 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        v = v.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    v = v.checked_mul(10i64.checked_pow(scale - frac.len() as u32)?)?;
    Some(if neg { -v } else { v })
}

/// Formats cents as a decimal string with two places (`123456` → `"1234.56"`).
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let a = cents.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> DregParams {
        DregParams::default()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn defaults_are_valid() {
        p().validate().unwrap();
        let mut bad = p();
        bad.dreg.full_response_hz = 0.01;
        assert!(bad.validate().is_err());
        let mut bad = p();
        bad.factor_steps.reverse();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn parameters_from_variables() {
        use std::collections::HashMap;
        let none = DregParams::from_lookup(|_| None).unwrap();
        assert_eq!(none, DregParams::default());
        let vars: HashMap<&str, &str> = [
            (variables::DREG_DEAD_BAND_HZ, "0.03"),
            (variables::TOLERANCE_FRACTION, " 0.05 "),
            (variables::SAMPLE_INTERVAL_S, "5"),
            (variables::FACTOR_STEPS, "0.9:1, 0.6:0.4"),
            (variables::NOMINAL_HZ, ""),
        ]
        .into_iter()
        .collect();
        let p = DregParams::from_lookup(|k| vars.get(k).map(|s| s.to_string())).unwrap();
        assert_eq!(p.dreg.dead_band_hz, 0.03);
        assert_eq!(p.tolerance_fraction, 0.05);
        assert_eq!(p.sample_interval_s, 5);
        assert_eq!(p.nominal_hz, 60.0);
        assert_eq!(p.performance_factor(0.91), 1.0);
        assert_eq!(p.performance_factor(0.7), 0.4);
        assert_eq!(p.performance_factor(0.5), 0.0);
        for (k, bad) in [
            (variables::DREG_FULL_RESPONSE_HZ, "0.01"), // below the dead band
            (variables::TOLERANCE_FRACTION, "x"),
            (variables::SAMPLE_INTERVAL_S, "1.5"),
            (variables::FACTOR_STEPS, "0.7:0.5,0.9:1"),
            (variables::FACTOR_STEPS, "0.9"),
            (variables::NOMINAL_HZ, "inf"),
        ] {
            assert!(
                DregParams::from_lookup(|name| (name == k).then(|| bad.to_string())).is_err(),
                "{k}={bad}"
            );
        }
    }

    #[test]
    fn dreg_curve() {
        let p = p();
        // dead band
        assert_eq!(p.expected_fraction(Mode::Dreg, 60.0), 0.0);
        assert_eq!(p.expected_fraction(Mode::Dreg, 60.015), 0.0);
        assert_eq!(p.expected_fraction(Mode::Dreg, 59.985), 0.0);
        // linear part: d = -0.135 is half way between 0.02 and 0.25
        assert!(close(p.expected_fraction(Mode::Dreg, 59.865), 0.5));
        assert!(close(p.expected_fraction(Mode::Dreg, 60.135), -0.5));
        // full response and beyond
        assert!(close(p.expected_fraction(Mode::Dreg, 59.75), 1.0));
        assert_eq!(p.expected_fraction(Mode::Dreg, 59.5), 1.0);
        assert_eq!(p.expected_fraction(Mode::Dreg, 60.4), -1.0);
        // continuity at the dead band edge
        assert!(p.expected_fraction(Mode::Dreg, 59.9799).abs() < 1e-3);
        // kW
        assert!(close(p.expected_kw(Mode::Dreg, 2.0, 59.865), 1000.0));
        assert!(close(p.expected_kw(Mode::Dreg, 2.0, 60.3), -2000.0));
    }

    #[test]
    fn edreg_curve() {
        let p = p();
        assert_eq!(p.expected_fraction(Mode::Edreg, 60.009), 0.0);
        assert!(p.expected_fraction(Mode::Edreg, 59.985) > 0.0); // outside E-dReg's dead band
        assert!(close(p.expected_fraction(Mode::Edreg, 59.92), 0.5));
        assert!(close(p.expected_fraction(Mode::Edreg, 60.08), -0.5));
        assert_eq!(p.expected_fraction(Mode::Edreg, 59.8), 1.0);
    }

    #[test]
    fn compliance_tolerance() {
        let p = p();
        // C = 2 MW → tolerance 60 kW
        assert!(close(p.tolerance_kw(2.0), 60.0));
        assert!(p.is_compliant(2.0, 1000.0, 1060.0));
        assert!(p.is_compliant(2.0, 1000.0, 940.0));
        assert!(!p.is_compliant(2.0, 1000.0, 1060.1));
        assert!(!p.is_compliant(2.0, -500.0, -439.0));
        // decimal capacity at the exact boundary
        assert!(p.is_compliant(1.1, 0.0, 33.0));
    }

    #[test]
    fn expected_samples_per_window() {
        let p = p();
        assert_eq!(p.expected_samples(0, 3600), 360);
        assert_eq!(p.expected_samples(0, 3605), 361);
        assert_eq!(p.expected_samples(10, 10), 0);
        assert_eq!(p.expected_samples(10, 0), 0);
    }

    #[test]
    fn performance_factor_thresholds() {
        let p = p();
        assert_eq!(p.performance_factor(1.0), 1.0);
        assert_eq!(p.performance_factor(342.0 / 360.0), 1.0); // exactly 0.95
        assert_eq!(p.performance_factor(19.0 / 20.0), 1.0);
        assert_eq!(p.performance_factor(341.0 / 360.0), 0.7);
        assert_eq!(p.performance_factor(17.0 / 20.0), 0.7); // exactly 0.85
        assert_eq!(p.performance_factor(0.8499), 0.5);
        assert_eq!(p.performance_factor(7.0 / 10.0), 0.5); // exactly 0.70
        assert_eq!(p.performance_factor(0.6999), 0.0);
        assert_eq!(p.performance_factor(0.0), 0.0);
    }

    #[test]
    fn evaluate_counts_missing_and_duplicates() {
        let p = p();
        let start = 1_000_000;
        // 6 slots (60 s). Slot 0 compliant, slot 1 compliant (+ a duplicate that is not),
        // slot 2 non-compliant, slot 3 missing, slots 4-5 compliant, one sample after the end.
        let s = |ts, f, kw| Sample {
            ts,
            freq_hz: f,
            p_kw: kw,
        };
        let samples = [
            s(start, 60.0, 10.0),
            s(start + 10, 59.865, 1000.0), // expected 1000 for C = 2
            s(start + 15, 59.865, 0.0),    // same slot: ignored
            s(start + 20, 60.135, 0.0),    // expected -1000
            s(start + 41, 60.0, -59.0),
            s(start + 50, 60.0, 60.0),
            s(start + 60, 60.0, 5000.0),
        ];
        let e = p.evaluate(Mode::Dreg, 2.0, start, start + 60, &samples);
        assert_eq!(e.expected, 6);
        assert_eq!(e.present, 5);
        assert_eq!(e.compliant, 4);
        assert!(close(e.rate, 4.0 / 6.0));
        assert_eq!(e.factor, 0.0);
        let none = p.evaluate(Mode::Edreg, 1.0, start, start + 60, &[]);
        assert_eq!((none.expected, none.compliant, none.rate), (6, 0, 0.0));
    }

    #[test]
    fn income_in_cents() {
        let p = p();
        // 2 MW × 1.5 h × 500 TWD × 1.0 = 1500 TWD
        assert_eq!(p.income_cents(2.0, 5400, 500.0, 1.0), 150_000);
        // 1.25 MW × 1 h × 333.33 × 0.7 = 291.66375 → 291.66
        assert_eq!(p.income_cents(1.25, 3600, 333.33, 0.7), 29_166);
        // half a cent rounds up: 0.001 MW × 1 h × 5.00 × 1.0 = 0.005 TWD
        assert_eq!(income_cents_exact(1, 3600, 500, 1000), 1);
        assert_eq!(income_cents_exact(1, 3600, 400, 1000), 0);
        assert_eq!(p.income_cents(2.5, 3600, 700.0, 0.0), 0);
    }

    #[test]
    fn monthly_equals_sum_of_dailies_to_the_cent() {
        let p = p();
        // 30 days × 3 awkward events; monthly total is the sum of the rounded event incomes.
        let mut monthly = 0i64;
        let mut daily_sum = 0i64;
        let mut float_total = 0.0f64;
        for day in 0..30 {
            let mut daily = 0i64;
            for k in 0..3 {
                let cap = 1.0 + f64::from((day * 7 + k * 3) % 16) * 0.1;
                let price = 300.0 + f64::from((day * 37 + k * 11) % 400) + 0.37;
                let secs = 3600 + i64::from((day + k) % 4) * 1234;
                let factor = [1.0, 0.7, 0.5, 0.0][((day + k) % 4) as usize];
                let c = p.income_cents(cap, secs, price, factor);
                daily += c;
                monthly += c;
                float_total += cap * secs as f64 / 3600.0 * price * factor;
            }
            daily_sum += daily;
        }
        assert_eq!(monthly, daily_sum);
        // rounding each event costs at most half a cent per event
        assert!((monthly as f64 / 100.0 - float_total).abs() <= 90.0 * 0.005 + 1e-6);
    }

    #[test]
    fn decimals_and_money() {
        assert_eq!(parse_decimal_scaled("1.250", 3), Some(1250));
        assert_eq!(parse_decimal_scaled("2", 3), Some(2000));
        assert_eq!(parse_decimal_scaled("-0.5", 2), Some(-50));
        assert_eq!(parse_decimal_scaled(".5", 2), Some(50));
        assert_eq!(parse_decimal_scaled("1.2345", 3), None);
        assert_eq!(parse_decimal_scaled("1e3", 3), None);
        assert_eq!(parse_decimal_scaled("", 3), None);
        assert_eq!(parse_decimal_scaled(".", 3), None);
        assert_eq!(format_cents(123_456), "1234.56");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(-105), "-1.05");
        assert_eq!(Mode::parse("E-dReg"), Some(Mode::Edreg));
        assert_eq!(Mode::parse("dreg"), Some(Mode::Dreg));
        assert_eq!(Mode::parse("x"), None);
    }
}
