//! `power-loss`: what went into the batteries, what came out, what is still in them, and what was
//! lost on the way.
//!
//! - charge / discharge: the PCS energy (both PCS, each integrated on its own, negative power =
//!   charge), kWh
//! - aux: the auxiliary load (MAUX), kWh, shown beside the loss (it is fed from the grid side)
//! - stored change: for every rack, (SOC at its last row in the window − SOC at its first row) /
//!   100 × its capacity, summed
//! - loss = charge − discharge − stored change
//! - round-trip efficiency = (discharge + stored change) / charge
//!
//! Nothing is guessed: a figure whose inputs are missing is `null` and a note says what is missing.

use serde::Serialize;

use super::Window;
use crate::energy::Energy;
use crate::time::{format_iso, UtcOffset};

/// Below this much charging the efficiency is not a meaningful ratio (a stray -0.1 kW for a few
/// seconds would make it thousands), so it is not given.
pub const MIN_CHARGE_KWH_FOR_EFFICIENCY: f64 = 1.0;

/// One PCS's energy over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PcsEnergy {
    /// `pcs0`, `pcs1`.
    pub name: String,
    pub charge_kwh: f64,
    pub discharge_kwh: f64,
    pub samples: usize,
    pub gaps: u32,
}

impl PcsEnergy {
    pub fn new(name: &str, energy: &Energy) -> PcsEnergy {
        PcsEnergy {
            name: name.to_owned(),
            charge_kwh: energy.negative_kwh,
            discharge_kwh: energy.positive_kwh,
            samples: energy.samples,
            gaps: energy.gaps,
        }
    }
}

/// The aux meter over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuxEnergy {
    /// Net consumption, kWh (MAUX's `KW_tot` is the load, positive).
    pub kwh: f64,
    pub samples: usize,
    pub gaps: u32,
}

/// What the rack history says about one rack over the window, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct RackRows {
    /// 1..=12.
    pub rack: u8,
    pub samples: u64,
    /// Intervals between its rows longer than 5 × the nominal 60 s.
    pub gaps: u64,
    /// `(ts, soc %)` of the first and the last row in the window.
    pub first: Option<(i64, f64)>,
    pub last: Option<(i64, f64)>,
}

/// One rack's part of the stored-energy change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RackChange {
    pub rack: u8,
    pub samples: u64,
    pub gaps: u64,
    pub soc_start: Option<f64>,
    pub soc_end: Option<f64>,
    pub start_at: Option<String>,
    pub end_at: Option<String>,
    /// (soc_end − soc_start) / 100 × capacity; null without rows.
    pub change_kwh: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sources {
    pub pcs: Vec<PcsEnergy>,
    pub aux: AuxEnergy,
    pub racks: Vec<RackChange>,
}

/// The `power-loss` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerLoss {
    pub from: String,
    pub to: String,
    pub charge_kwh: Option<f64>,
    pub discharge_kwh: Option<f64>,
    pub aux_kwh: Option<f64>,
    pub stored_change_kwh: Option<f64>,
    pub loss_kwh: Option<f64>,
    pub round_trip_efficiency: Option<f64>,
    pub rack_capacity_kwh: f64,
    /// Unbridged intervals over every source (PCS, aux, racks).
    pub gaps: u64,
    pub sources: Sources,
    /// What is missing, in words; empty when every figure could be computed.
    pub notes: Vec<String>,
}

impl PowerLoss {
    pub fn new(
        window: Window,
        offset: UtcOffset,
        pcs: Vec<PcsEnergy>,
        aux: AuxEnergy,
        racks: &[RackRows],
        rack_capacity_kwh: f64,
    ) -> PowerLoss {
        let mut notes = Vec::new();
        let silent: Vec<&str> = pcs
            .iter()
            .filter(|p| p.samples == 0)
            .map(|p| p.name.as_str())
            .collect();
        let (charge, discharge) = if silent.is_empty() {
            (
                Some(pcs.iter().map(|p| p.charge_kwh).sum::<f64>()),
                Some(pcs.iter().map(|p| p.discharge_kwh).sum::<f64>()),
            )
        } else {
            notes.push(format!(
                "no PCS history in the window for {}: charge and discharge unknown",
                silent.join(", ")
            ));
            (None, None)
        };
        let aux_kwh = if aux.samples > 0 {
            Some(aux.kwh)
        } else {
            notes.push("no MAUX history in the window: aux energy unknown".to_owned());
            None
        };
        let changes: Vec<RackChange> = racks
            .iter()
            .map(|r| rack_change(r, rack_capacity_kwh, offset))
            .collect();
        let missing: Vec<String> = changes
            .iter()
            .filter(|c| c.change_kwh.is_none())
            .map(|c| format!("BESS{}", c.rack))
            .collect();
        let stored = if missing.is_empty() {
            Some(changes.iter().filter_map(|c| c.change_kwh).sum::<f64>())
        } else {
            notes.push(format!(
                "no rack history in the window for {}: stored-energy change unknown",
                missing.join(", ")
            ));
            None
        };
        let loss = charge
            .zip(discharge)
            .zip(stored)
            .map(|((c, d), s)| c - d - s);
        let efficiency = match (charge, discharge, stored) {
            (Some(c), Some(d), Some(s)) if c >= MIN_CHARGE_KWH_FOR_EFFICIENCY => Some((d + s) / c),
            (Some(c), Some(_), Some(_)) => {
                notes.push(format!(
                    "charging in the window ({c:.3} kWh) is under \
                     {MIN_CHARGE_KWH_FOR_EFFICIENCY} kWh: no round-trip efficiency"
                ));
                None
            }
            _ => None,
        };
        let gaps = pcs.iter().map(|p| u64::from(p.gaps)).sum::<u64>()
            + u64::from(aux.gaps)
            + changes.iter().map(|c| c.gaps).sum::<u64>();
        PowerLoss {
            from: format_iso(window.from, offset),
            to: format_iso(window.to, offset),
            charge_kwh: charge,
            discharge_kwh: discharge,
            aux_kwh,
            stored_change_kwh: stored,
            loss_kwh: loss,
            round_trip_efficiency: efficiency,
            rack_capacity_kwh,
            gaps,
            sources: Sources {
                pcs,
                aux,
                racks: changes,
            },
            notes,
        }
    }
}

fn rack_change(rows: &RackRows, capacity_kwh: f64, offset: UtcOffset) -> RackChange {
    let change = rows
        .first
        .zip(rows.last)
        .map(|((_, start), (_, end))| (end - start) / 100.0 * capacity_kwh);
    RackChange {
        rack: rows.rack,
        samples: rows.samples,
        gaps: rows.gaps,
        soc_start: rows.first.map(|(_, soc)| soc),
        soc_end: rows.last.map(|(_, soc)| soc),
        start_at: rows.first.map(|(ts, _)| format_iso(ts, offset)),
        end_at: rows.last.map(|(ts, _)| format_iso(ts, offset)),
        change_kwh: change,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_795_276_800; // 2026-11-22T00:00:00+08:00

    fn window() -> Window {
        Window {
            from: T0,
            to: T0 + 3600,
        }
    }

    fn pcs(name: &str, charge: f64, discharge: f64, samples: usize) -> PcsEnergy {
        PcsEnergy {
            name: name.into(),
            charge_kwh: charge,
            discharge_kwh: discharge,
            samples,
            gaps: 1,
        }
    }

    fn aux(kwh: f64, samples: usize) -> AuxEnergy {
        AuxEnergy {
            kwh,
            samples,
            gaps: 0,
        }
    }

    fn racks(start: f64, end: f64) -> Vec<RackRows> {
        (1..=12)
            .map(|rack| RackRows {
                rack,
                samples: 60,
                gaps: 0,
                first: Some((T0, start)),
                last: Some((T0 + 3540, end)),
            })
            .collect()
    }

    fn compute(pcs: Vec<PcsEnergy>, aux: AuxEnergy, racks: &[RackRows]) -> PowerLoss {
        PowerLoss::new(window(), UtcOffset::SITE_DEFAULT, pcs, aux, racks, 250.0)
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn loss_and_efficiency_from_the_energies() {
        // 1000 kWh in, 400 out, each rack +10 % of 250 kWh = 300 kWh still stored.
        let pl = compute(
            vec![
                pcs("pcs0", 600.0, 150.0, 360),
                pcs("pcs1", 400.0, 250.0, 360),
            ],
            aux(12.5, 360),
            &racks(50.0, 60.0),
        );
        assert!(close(pl.charge_kwh, 1000.0) && close(pl.discharge_kwh, 400.0));
        assert!(close(pl.stored_change_kwh, 300.0));
        assert!(close(pl.loss_kwh, 300.0));
        assert!(close(pl.round_trip_efficiency, 0.7));
        assert!(close(pl.aux_kwh, 12.5));
        assert_eq!(pl.gaps, 2);
        assert!(pl.notes.is_empty(), "{:?}", pl.notes);
        let r = &pl.sources.racks[0];
        assert_eq!(r.start_at.as_deref(), Some("2026-11-22T00:00:00+08:00"));
        assert!(close(r.change_kwh, 25.0));
    }

    #[test]
    fn no_charging_means_no_efficiency() {
        let pl = compute(
            vec![pcs("pcs0", 0.0, 50.0, 360), pcs("pcs1", 0.0, 50.0, 360)],
            aux(1.0, 360),
            &racks(60.0, 56.0),
        );
        assert!(close(pl.loss_kwh, 0.0 - 100.0 + 120.0));
        assert_eq!(pl.round_trip_efficiency, None);
        assert_eq!(pl.notes.len(), 1);
        assert!(
            pl.notes[0].contains("no round-trip efficiency"),
            "{:?}",
            pl.notes
        );
    }

    #[test]
    fn missing_sources_are_named_not_guessed() {
        let mut rows = racks(50.0, 51.0);
        rows[2].first = None;
        rows[2].last = None;
        rows[2].samples = 0;
        rows[6] = RackRows {
            first: None,
            last: None,
            samples: 0,
            ..rows[6].clone()
        };
        let pl = compute(
            vec![pcs("pcs0", 10.0, 0.0, 360), pcs("pcs1", 0.0, 0.0, 0)],
            aux(0.0, 0),
            &rows,
        );
        assert_eq!(
            (pl.charge_kwh, pl.discharge_kwh, pl.aux_kwh),
            (None, None, None)
        );
        assert_eq!(
            (pl.stored_change_kwh, pl.loss_kwh, pl.round_trip_efficiency),
            (None, None, None)
        );
        let notes = pl.notes.join(" | ");
        assert!(notes.contains("for pcs1:"), "{notes}");
        assert!(notes.contains("MAUX"), "{notes}");
        assert!(notes.contains("for BESS3, BESS7:"), "{notes}");
        // The per-source figures are still shown.
        assert_eq!(pl.sources.pcs[0].charge_kwh, 10.0);
        assert_eq!(pl.sources.racks[2].change_kwh, None);
        assert!(close(pl.sources.racks[0].change_kwh, 2.5));
    }
}
