//! A physically consistent model of the demo site, stepped in time by the seeder (10 s steps)
//! and the live simulator (1 s steps).
//!
//! - Grid frequency: mean-reverting random walk around 60 Hz (σ ≈ 0.02 Hz) plus rare
//!   excursions of 0.2..0.4 Hz that decay in about a minute.
//! - During a schedule event the PCS pair follows `shared::dreg`'s expected power with noise
//!   inside the tolerance and, with the event's own probability, non-compliant samples.
//!   Outside events: light arbitrage (charge at night, discharge in the evening) and SOC
//!   restoration towards 50 %.
//! - Racks integrate their share of their PCS's power with a round-trip efficiency of 0.92
//!   (√0.92 each way) and never leave 5..95 % SOC (the PCS stops instead).
//! - PV: daytime bell (peak about 1 MW AC) times a per-day clarity and a cloud random walk.
//! - MAUX: the aux load (30..80 kW); MMAIN = PCS total + PV − aux.

use crate::rng::Rng;
use solarhub_shared::dreg::{DregParams, Mode};
use solarhub_shared::schema::{PCS_COUNT, RACKS_PER_PCS, RACK_COUNT};
use solarhub_shared::time::UtcOffset;

pub const RACK_KWH: f64 = 250.0;
pub const PCS_RATED_KW: f64 = 1250.0;
pub const ROUND_TRIP_EFFICIENCY: f64 = 0.92;
pub const SOC_MIN: f64 = 5.0;
pub const SOC_MAX: f64 = 95.0;
/// SOC margin at which a PCS stops pushing a rack further towards a limit.
const SOC_GUARD: f64 = 0.75;
pub const PV_AC_LIMIT_KW: f64 = 1000.0;
const CELLS: f64 = 240.0;
const CELL_R_OHM: f64 = 0.000_25;

/// The event a step belongs to, if any.
#[derive(Debug, Clone, Copy)]
pub struct ActiveEvent {
    pub mode: Mode,
    pub capacity_mw: f64,
    /// Probability that a sample is deliberately off the expected curve.
    pub p_noncompliant: f64,
}

/// Per-step external conditions.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepInput {
    pub event: Option<ActiveEvent>,
    /// Fault code per PCS while it is tripped (status `fault`, no power).
    pub pcs_fault: [Option<u16>; PCS_COUNT as usize],
    /// Active alerts per rack.
    pub rack_alarms: [u16; RACK_COUNT as usize],
}

/// A value of a row: the same list feeds SQL inserts and Redis hashes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    Num(f64),
    Int(i64),
    Str(&'static str),
}

impl Val {
    /// Plain text (Redis field value).
    pub fn text(&self) -> String {
        match self {
            Val::Num(x) => format!("{}", x + 0.0),
            Val::Int(i) => i.to_string(),
            Val::Str(s) => (*s).to_string(),
        }
    }

    /// SQL literal.
    pub fn sql(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Val::Num(x) => write!(out, "{}", x + 0.0).unwrap(),
            Val::Int(i) => write!(out, "{i}").unwrap(),
            Val::Str(s) => {
                out.push('\'');
                out.push_str(s);
                out.push('\'');
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PcsRow {
    pub status: &'static str,
    pub p_kw: f64,
    pub q_kvar: f64,
    pub dc_v: f64,
    pub dc_a: f64,
    pub v: [f64; 3],
    pub i: [f64; 3],
    pub freq: f64,
    pub fault_code: u16,
}

impl PcsRow {
    /// Values in the order of `schema::PCS_FIELDS` (without `ts`).
    pub fn values(&self) -> Vec<Val> {
        use Val::*;
        vec![
            Str(self.status),
            Num(self.p_kw),
            Num(self.q_kvar),
            Num(self.dc_v),
            Num(self.dc_a),
            Num(self.v[0]),
            Num(self.v[1]),
            Num(self.v[2]),
            Num(self.i[0]),
            Num(self.i[1]),
            Num(self.i[2]),
            Num(self.freq),
            Int(i64::from(self.fault_code)),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RackRow {
    pub status: &'static str,
    pub soc: f64,
    pub soh: f64,
    pub voltage: f64,
    pub current: f64,
    pub power_kw: f64,
    pub cell_v_max_mv: u16,
    pub cell_v_min_mv: u16,
    pub temp_max: f64,
    pub temp_min: f64,
    pub temp_avg: f64,
    pub alarm_count: u16,
}

impl RackRow {
    /// Values in the order of `schema::RACK_FIELDS` (without `ts`).
    pub fn values(&self) -> Vec<Val> {
        use Val::*;
        vec![
            Str(self.status),
            Num(self.soc),
            Num(self.soh),
            Num(self.voltage),
            Num(self.current),
            Num(self.power_kw),
            Int(i64::from(self.cell_v_max_mv)),
            Int(i64::from(self.cell_v_min_mv)),
            Num(self.temp_max),
            Num(self.temp_min),
            Num(self.temp_avg),
            Int(i64::from(self.alarm_count)),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MeterRow {
    pub i: [f64; 3],
    pub vll: [f64; 3],
    pub kw_tot: f64,
    pub kvar_tot: f64,
    pub pf: f64,
    pub freq: f64,
    pub kwh_import: f64,
    pub kwh_export: f64,
}

impl MeterRow {
    /// Values in the order of `schema::METER_FIELDS` (without `ts`).
    pub fn live_values(&self) -> Vec<Val> {
        use Val::*;
        vec![
            Num(self.i[0]),
            Num(self.i[1]),
            Num(self.i[2]),
            Num(self.vll[0]),
            Num(self.vll[1]),
            Num(self.vll[2]),
            Num(self.kw_tot),
            Num(self.kvar_tot),
            Num(self.pf),
            Num(self.freq),
        ]
    }

    /// Live values plus the energy registers (the history columns).
    pub fn values(&self) -> Vec<Val> {
        let mut v = self.live_values();
        v.push(Val::Num(self.kwh_import));
        v.push(Val::Num(self.kwh_export));
        v
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InverterRow {
    pub status: &'static str,
    pub ac_kw: f64,
    pub dc_kw: f64,
    pub today_kwh: f64,
    pub lifetime_kwh: f64,
}

impl InverterRow {
    /// Values in the order of `schema::INVERTER_FIELDS` (without `ts`).
    pub fn values(&self) -> Vec<Val> {
        use Val::*;
        vec![
            Str(self.status),
            Num(self.ac_kw),
            Num(self.dc_kw),
            Num(self.today_kwh),
            Num(self.lifetime_kwh),
        ]
    }
}

/// The whole site at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub ts: i64,
    pub freq: f64,
    pub pcs: [PcsRow; PCS_COUNT as usize],
    pub racks: Vec<RackRow>,
    pub inverter: InverterRow,
    pub mmain: MeterRow,
    pub maux: MeterRow,
}

#[derive(Debug, Clone)]
struct Rack {
    soc: f64,
    soh: f64,
    /// Share of its PCS's power (the six weights of a PCS sum to 1).
    weight: f64,
    temp_offset: f64,
    spread_hi_mv: f64,
    spread_lo_mv: f64,
}

pub struct SiteModel {
    seed: u64,
    rng: Rng,
    offset: UtcOffset,
    params: DregParams,
    freq_walk: f64,
    excursion: f64,
    cloud: f64,
    clarity: (i64, f64),
    aux_walk: f64,
    racks: Vec<Rack>,
    pv_day: i64,
    pv_today_kwh: f64,
    pv_lifetime_kwh: f64,
    mmain_import: f64,
    mmain_export: f64,
    maux_import: f64,
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0 + 0.0
}
fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0 + 0.0
}
fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0 + 0.0
}

/// One-way efficiency (charge and discharge alike).
pub fn one_way_efficiency() -> f64 {
    ROUND_TRIP_EFFICIENCY.sqrt()
}

impl SiteModel {
    /// A fresh site. `initial_soc` overrides the racks' starting SOC (e.g. from the newest rows).
    pub fn new(seed: u64, offset: UtcOffset, initial_soc: Option<[f64; 12]>) -> SiteModel {
        let mut setup = Rng::derive(seed, 0x5E7_0001);
        let mut racks: Vec<Rack> = (0..RACK_COUNT)
            .map(|i| Rack {
                soc: initial_soc.map_or_else(
                    || setup.range(44.0, 56.0),
                    |s| s[usize::from(i)].clamp(SOC_MIN + SOC_GUARD, SOC_MAX - SOC_GUARD),
                ),
                soh: r1(setup.range(96.0, 99.5)),
                weight: setup.range(0.97, 1.03),
                temp_offset: setup.range(-1.0, 1.0),
                spread_hi_mv: setup.range(6.0, 18.0),
                spread_lo_mv: setup.range(6.0, 18.0),
            })
            .collect();
        for chunk in racks.chunks_mut(usize::from(RACKS_PER_PCS)) {
            let sum: f64 = chunk.iter().map(|r| r.weight).sum();
            for r in chunk {
                r.weight /= sum;
            }
        }
        SiteModel {
            seed,
            rng: Rng::derive(seed, 0x5E7_0002),
            offset,
            params: DregParams::default(),
            freq_walk: setup.normal() * 0.01,
            excursion: 0.0,
            cloud: 0.8,
            clarity: (i64::MIN, 1.0),
            aux_walk: 0.0,
            racks,
            pv_day: i64::MIN,
            pv_today_kwh: 0.0,
            pv_lifetime_kwh: r3(1_250_000.0 + setup.range(0.0, 50_000.0)),
            mmain_import: r3(480_000.0 + setup.range(0.0, 10_000.0)),
            mmain_export: r3(910_000.0 + setup.range(0.0, 10_000.0)),
            maux_import: r3(160_000.0 + setup.range(0.0, 5_000.0)),
        }
    }

    /// Sets the inverter's energy registers (e.g. continuing the newest history row).
    pub fn set_pv_registers(&mut self, ts: i64, today_kwh: f64, lifetime_kwh: f64) {
        self.pv_day = self.local_day(ts);
        self.pv_today_kwh = today_kwh;
        self.pv_lifetime_kwh = lifetime_kwh;
    }

    fn local_day(&self, ts: i64) -> i64 {
        (ts + i64::from(self.offset.0)).div_euclid(86_400)
    }

    fn local_hour(&self, ts: i64) -> f64 {
        (ts + i64::from(self.offset.0)).rem_euclid(86_400) as f64 / 3600.0
    }

    /// Advances the site by `dt` seconds to instant `ts` and returns its state there.
    pub fn step(&mut self, ts: i64, dt: f64, input: &StepInput) -> Snapshot {
        let hour = self.local_hour(ts);
        let day = self.local_day(ts);

        // Grid frequency.
        let rng = &mut self.rng;
        self.freq_walk += -self.freq_walk * 0.005 * dt + 0.0019 * dt.sqrt() * rng.normal();
        self.freq_walk = self.freq_walk.clamp(-0.15, 0.15);
        if rng.chance(dt / 28_800.0) {
            let sign = if rng.chance(0.7) { -1.0 } else { 1.0 };
            self.excursion = sign * rng.range(0.2, 0.4);
        }
        self.excursion *= (-dt / 60.0).exp();
        let freq = r3(60.0 + self.freq_walk + self.excursion);

        // Total PCS power wanted.
        let soc_avg = self.racks.iter().map(|r| r.soc).sum::<f64>() / self.racks.len() as f64;
        let in_event = input.event.is_some();
        let target = match input.event {
            Some(ev) => {
                let expected = self.params.expected_kw(ev.mode, ev.capacity_mw, freq);
                let tol = self.params.tolerance_kw(ev.capacity_mw);
                let off = if rng.chance(ev.p_noncompliant) {
                    rng.sign() * rng.range(1.3, 4.0) * tol
                } else {
                    (rng.normal() * 0.25 * tol).clamp(-0.8 * tol, 0.8 * tol)
                };
                expected + off
            }
            None => {
                let base = if (1.0..5.0).contains(&hour) {
                    -150.0
                } else if (17.0..20.0).contains(&hour) {
                    200.0
                } else {
                    0.0
                };
                let p = base + (soc_avg - 50.0) * 20.0;
                if p.abs() < 30.0 {
                    0.0
                } else {
                    (p / 10.0).round() * 10.0 + rng.normal() * 1.5
                }
                .clamp(-800.0, 800.0)
            }
        };
        // The two PCS share the target with a small imbalance (none when idle).
        let half = if target == 0.0 {
            0.0
        } else {
            r1(target / 2.0 + rng.normal() * 2.0)
        };
        let mut p = [half, r1(target - half)];

        // PCS limits: rating, faults, SOC guard.
        let n = usize::from(RACKS_PER_PCS);
        for (k, pk) in p.iter_mut().enumerate() {
            let racks = &self.racks[k * n..(k + 1) * n];
            let min_soc = racks.iter().map(|r| r.soc).fold(f64::MAX, f64::min);
            let max_soc = racks.iter().map(|r| r.soc).fold(f64::MIN, f64::max);
            *pk = pk.clamp(-PCS_RATED_KW, PCS_RATED_KW);
            if input.pcs_fault[k].is_some()
                || (*pk > 0.0 && min_soc <= SOC_MIN + SOC_GUARD)
                || (*pk < 0.0 && max_soc >= SOC_MAX - SOC_GUARD)
            {
                *pk = 0.0;
            }
        }

        // Racks.
        let eta = one_way_efficiency();
        let ambient = 24.0 + 3.0 * (2.0 * std::f64::consts::PI * (hour - 9.0) / 24.0).sin();
        let mut racks_out = Vec::with_capacity(self.racks.len());
        let mut dc = [(0.0f64, 0.0f64); 2]; // (sum p_dc, sum voltage)
        for (i, r) in self.racks.iter_mut().enumerate() {
            let k = i / n;
            let p_ac = p[k] * r.weight;
            let p_dc = if p_ac > 0.0 { p_ac / eta } else { p_ac * eta };
            r.soc = (r.soc - p_dc * dt / 3600.0 / RACK_KWH * 100.0).clamp(0.0, 100.0);
            let ocv_cell = 3.05 + 0.0033 * r.soc + 0.04 * ((r.soc - 100.0) / 6.0).exp()
                - 0.05 * (-r.soc / 5.0).exp();
            let ocv = CELLS * ocv_cell;
            let current = p_dc * 1000.0 / ocv;
            let voltage = ocv - current * CELLS * CELL_R_OHM;
            let cell_mv = voltage / CELLS * 1000.0;
            let heat = 0.012 * current.abs();
            let temp_avg = ambient + r.temp_offset + heat + rng.normal() * 0.1;
            dc[k].0 += p_dc;
            dc[k].1 += voltage;
            let status = if p_dc > 0.5 {
                "discharging"
            } else if p_dc < -0.5 {
                "charging"
            } else {
                "idle"
            };
            racks_out.push(RackRow {
                status,
                soc: r2(r.soc),
                soh: r.soh,
                voltage: r1(voltage),
                current: r1(current),
                power_kw: r1(p_dc),
                cell_v_max_mv: (cell_mv + r.spread_hi_mv + current.abs() * 0.02).round() as u16,
                cell_v_min_mv: (cell_mv - r.spread_lo_mv - current.abs() * 0.02).round() as u16,
                temp_max: r1(temp_avg + 2.5 + 0.005 * current.abs()),
                temp_min: r1(temp_avg - 2.0),
                temp_avg: r1(temp_avg),
                alarm_count: input.rack_alarms[i],
            });
        }

        // PCS rows.
        let mut q = [0.0f64; 2];
        let pcs: [PcsRow; 2] = std::array::from_fn(|k| {
            let fault = input.pcs_fault[k];
            let running = fault.is_none() && (p[k] != 0.0 || in_event);
            q[k] = if running {
                r1(rng.normal() * 12.0)
            } else {
                0.0
            };
            let dc_v = r1(dc[k].1 / n as f64);
            let v: [f64; 3] = std::array::from_fn(|_| r1(230.9 * (1.0 + rng.normal() * 0.002)));
            let s_kva = (p[k] * p[k] + q[k] * q[k]).sqrt();
            let i: [f64; 3] = std::array::from_fn(|ph| {
                r1(s_kva * 1000.0 / (3.0 * v[ph]) * (1.0 + rng.normal() * 0.004)).max(0.0)
            });
            PcsRow {
                status: match (fault, running) {
                    (Some(_), _) => "fault",
                    (None, true) => "run",
                    (None, false) => "stop",
                },
                p_kw: p[k],
                q_kvar: q[k],
                dc_v,
                dc_a: r1(dc[k].0 * 1000.0 / dc_v),
                v,
                i,
                freq,
                fault_code: fault.unwrap_or(0),
            }
        });

        // PV inverter.
        if self.clarity.0 != day {
            self.clarity = (
                day,
                Rng::derive(self.seed, 0xC1EA_0000 ^ day as u64).range(0.45, 1.0),
            );
        }
        let sun = if (6.0..18.0).contains(&hour) {
            (std::f64::consts::PI * (hour - 6.0) / 12.0).sin().max(0.0)
        } else {
            0.0
        };
        let k10 = dt / 10.0;
        self.cloud += (self.clarity.1 - self.cloud) * 0.02 * k10 + rng.normal() * 0.02 * k10.sqrt();
        self.cloud = self.cloud.clamp(0.15, 1.0);
        // sin^2.5 over 06:00-18:00 local: about 5.5 kWh per kW of peak on a clear day.
        let mut pv_dc = r1(1080.0 * sun.powf(2.5) * self.cloud);
        let mut pv_ac = r1((pv_dc * 0.975).min(PV_AC_LIMIT_KW));
        if pv_ac < 0.5 {
            pv_dc = 0.0;
            pv_ac = 0.0;
        }
        if self.pv_day != day {
            self.pv_day = day;
            self.pv_today_kwh = 0.0;
        }
        self.pv_today_kwh += pv_ac * dt / 3600.0;
        self.pv_lifetime_kwh += pv_ac * dt / 3600.0;
        let inverter = InverterRow {
            status: if pv_ac > 0.0 { "run" } else { "standby" },
            ac_kw: pv_ac,
            dc_kw: pv_dc,
            today_kwh: r3(self.pv_today_kwh),
            lifetime_kwh: r3(self.pv_lifetime_kwh),
        };

        // Aux load.
        self.aux_walk += -self.aux_walk * 0.05 * k10 + rng.normal() * k10.sqrt();
        let hvac = 15.0 * (std::f64::consts::PI * (hour - 7.0) / 14.0).sin().max(0.0);
        let p_total = p[0] + p[1];
        let aux = r1((36.0 + hvac + 0.006 * p_total.abs() + self.aux_walk).clamp(30.0, 80.0));
        let aux_q = r1(aux * 0.4843);
        self.maux_import += aux * dt / 3600.0;
        let maux = meter_row(rng, 380.0, aux, aux_q, freq, self.maux_import, 0.0);

        // Grid connection point.
        let kw = r1(p_total + pv_ac - aux);
        let kvar = r1(q[0] + q[1] - aux_q);
        if kw >= 0.0 {
            self.mmain_export += kw * dt / 3600.0;
        } else {
            self.mmain_import += -kw * dt / 3600.0;
        }
        let mmain = meter_row(
            rng,
            22_800.0,
            kw,
            kvar,
            freq,
            self.mmain_import,
            self.mmain_export,
        );

        Snapshot {
            ts,
            freq,
            pcs,
            racks: racks_out,
            inverter,
            mmain,
            maux,
        }
    }
}

fn meter_row(
    rng: &mut Rng,
    v_nominal: f64,
    kw: f64,
    kvar: f64,
    freq: f64,
    kwh_import: f64,
    kwh_export: f64,
) -> MeterRow {
    let vll: [f64; 3] = std::array::from_fn(|_| r1(v_nominal * (1.0 + rng.normal() * 0.002)));
    let v_avg = (vll[0] + vll[1] + vll[2]) / 3.0;
    let s = (kw * kw + kvar * kvar).sqrt();
    let i_avg = s * 1000.0 / (3f64.sqrt() * v_avg);
    let i: [f64; 3] = std::array::from_fn(|_| r2((i_avg * (1.0 + rng.normal() * 0.004)).max(0.0)));
    MeterRow {
        i,
        vll,
        kw_tot: kw,
        kvar_tot: kvar,
        pf: if s < 0.1 { 1.0 } else { r3(kw.abs() / s) },
        freq,
        kwh_import: r3(kwh_import),
        kwh_export: r3(kwh_export),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use solarhub_shared::schema::{INVERTER_FIELDS, METER_FIELDS, PCS_FIELDS, RACK_FIELDS};

    #[test]
    fn rows_match_schema_fields() {
        let mut m = SiteModel::new(1, UtcOffset::SITE_DEFAULT, None);
        let s = m.step(1_800_000_000, 10.0, &StepInput::default());
        assert_eq!(s.pcs[0].values().len(), PCS_FIELDS.len() - 1);
        assert_eq!(s.racks[0].values().len(), RACK_FIELDS.len() - 1);
        assert_eq!(s.inverter.values().len(), INVERTER_FIELDS.len() - 1);
        assert_eq!(s.mmain.live_values().len(), METER_FIELDS.len() - 1);
        assert_eq!(s.racks.len(), 12);
    }

    #[test]
    fn soc_stays_in_limits_near_both_ends() {
        // pcs0's racks start almost empty, pcs1's almost full; every sample of the "event"
        // asks for ±100..300 kW at random, so both limits are pushed against all the time.
        let mut socs = [6.0; 12];
        socs[6..].fill(94.0);
        let mut m = SiteModel::new(3, UtcOffset::SITE_DEFAULT, Some(socs));
        let input = StepInput {
            event: Some(ActiveEvent {
                mode: Mode::Dreg,
                capacity_mw: 2.5,
                p_noncompliant: 1.0,
            }),
            ..Default::default()
        };
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        for i in 0..20_000 {
            let s = m.step(1_800_000_000 + i * 10, 10.0, &input);
            for r in &s.racks {
                assert!(r.soc >= SOC_MIN && r.soc <= SOC_MAX, "{}", r.soc);
                lo = lo.min(r.soc);
                hi = hi.max(r.soc);
            }
        }
        assert!(lo < SOC_MIN + 1.5 && hi > SOC_MAX - 1.5, "{lo} {hi}");
    }

    #[test]
    fn mmain_is_pcs_plus_pv_minus_aux() {
        let mut m = SiteModel::new(5, UtcOffset::SITE_DEFAULT, None);
        let mut t = 1_800_000_000;
        for _ in 0..2000 {
            t += 10;
            let s = m.step(t, 10.0, &StepInput::default());
            let sum = s.pcs[0].p_kw + s.pcs[1].p_kw + s.inverter.ac_kw - s.maux.kw_tot;
            assert!(
                (s.mmain.kw_tot - sum).abs() < 0.051,
                "{} vs {sum}",
                s.mmain.kw_tot
            );
            assert!((30.0..=80.0).contains(&s.maux.kw_tot));
            assert!(s.inverter.ac_kw <= PV_AC_LIMIT_KW);
        }
    }

    #[test]
    fn deterministic() {
        let run = |seed| {
            let mut m = SiteModel::new(seed, UtcOffset::SITE_DEFAULT, None);
            (0..500)
                .map(|i| m.step(1_800_000_000 + i * 10, 10.0, &StepInput::default()))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }
}
