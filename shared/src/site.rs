//! The whole site at a glance: the overview's summary and the topology tree, built from the live
//! values of every device (pure: the guest layer reads them, this summarises).
//!
//! A device counts as online only while its live value is fresh: the overview is a live screen,
//! and a rack whose collector went quiet a minute ago is exactly what an operator must see.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::energy::Energy;
use crate::live::LiveValues;
use crate::schema::{pcs_of_rack, PCS_COUNT, RACK_COUNT};
use crate::time::{format_iso, UtcOffset};

/// The site's name and ratings (Spin variables, with DOMAIN.md's defaults).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ratings {
    pub name: String,
    pub rack_count: u8,
    pub rack_capacity_kwh: f64,
    pub storage_capacity_kwh: f64,
    pub pcs_count: u8,
    pub pcs_rated_kw: f64,
    pub power_rating_kw: f64,
}

impl Ratings {
    pub fn new(name: String, rack_capacity_kwh: f64, pcs_rated_kw: f64) -> Ratings {
        Ratings {
            name,
            rack_count: RACK_COUNT,
            rack_capacity_kwh,
            storage_capacity_kwh: rack_capacity_kwh * f64::from(RACK_COUNT),
            pcs_count: PCS_COUNT,
            pcs_rated_kw,
            power_rating_kw: pcs_rated_kw * f64::from(PCS_COUNT),
        }
    }
}

/// Every device's live hash (`None`: absent or Redis unreachable).
#[derive(Debug, Clone, Default)]
pub struct LiveSite {
    /// Index 0 is BESS1.
    pub racks: Vec<Option<LiveValues>>,
    /// Index 0 is pcs0.
    pub pcs: Vec<Option<LiveValues>>,
    pub grid: Option<LiveValues>,
    pub aux: Option<LiveValues>,
    pub inverter: Option<LiveValues>,
}

fn fresh(v: &Option<LiveValues>) -> Option<&LiveValues> {
    v.as_ref().filter(|v| !v.stale)
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BessSummary {
    pub online: u8,
    pub total: u8,
    /// Mean SOC of the online racks, %; null when none is online.
    pub average_soc: Option<f64>,
    /// Sum over the online racks, kW (positive = discharge).
    pub total_power_kw: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PcsSummary {
    pub running: u8,
    pub faulted: u8,
    pub total: u8,
    pub total_p_kw: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridSummary {
    /// At the grid connection point, kW (positive = export); null without a live value.
    pub kw: Option<f64>,
    pub frequency_hz: Option<f64>,
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TodayEnergy {
    /// From the PCS history since local midnight (trapezoid, gaps not bridged).
    pub charge_kwh: f64,
    pub discharge_kwh: f64,
    pub gaps: u32,
    /// Today's final dReg/E-dReg income so far (events over), exact, and in cents: the total of
    /// `GET /api/v1/income/daily` for today. Null when a store it needs cannot be reached (the
    /// rest of the overview still answers).
    pub income: Option<String>,
    pub income_cents: Option<i64>,
}

impl TodayEnergy {
    pub fn new(energy: Energy, income_cents: Option<i64>) -> TodayEnergy {
        TodayEnergy {
            charge_kwh: round(energy.negative_kwh, 3),
            discharge_kwh: round(energy.positive_kwh, 3),
            gaps: energy.gaps,
            income: income_cents.map(crate::dreg::format_cents),
            income_cents,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertCounts {
    pub active: u64,
    pub critical: u64,
}

/// `GET /api/v1/system/overview`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub site: Ratings,
    pub bess: BessSummary,
    pub pcs: PcsSummary,
    pub grid: GridSummary,
    pub today: TodayEnergy,
    pub alerts: AlertCounts,
    /// The mode of the schedule event running now: `dreg`, `edreg`, or `idle`.
    pub mode: String,
    pub updated_at: String,
}

pub fn bess_summary(live: &LiveSite) -> BessSummary {
    let online: Vec<&LiveValues> = live
        .racks
        .iter()
        .filter_map(fresh)
        .filter(|v| v.str("status").is_some_and(|s| s != "offline"))
        .collect();
    let socs: Vec<f64> = online.iter().filter_map(|v| v.f64("soc")).collect();
    BessSummary {
        online: online.len() as u8,
        total: RACK_COUNT,
        average_soc: (!socs.is_empty())
            .then(|| round(socs.iter().sum::<f64>() / socs.len() as f64, 2)),
        total_power_kw: round(online.iter().filter_map(|v| v.f64("power_kw")).sum(), 3),
    }
}

pub fn pcs_summary(live: &LiveSite) -> PcsSummary {
    let fresh_pcs: Vec<&LiveValues> = live.pcs.iter().filter_map(fresh).collect();
    let with_status = |s: &str| {
        fresh_pcs
            .iter()
            .filter(|v| v.str("status") == Some(s))
            .count() as u8
    };
    PcsSummary {
        running: with_status("run"),
        faulted: with_status("fault"),
        total: PCS_COUNT,
        total_p_kw: round(fresh_pcs.iter().filter_map(|v| v.f64("p_kw")).sum(), 3),
    }
}

pub fn grid_summary(live: &LiveSite) -> GridSummary {
    GridSummary {
        kw: live.grid.as_ref().and_then(|v| v.f64("KW_tot")),
        frequency_hz: live.grid.as_ref().and_then(|v| v.f64("freq")),
        stale: live.grid.as_ref().is_none_or(|v| v.stale),
    }
}

/// One node of the topology tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    /// The device's own status word, `stale` when its live value is old, `unknown` without one.
    pub status: String,
    pub metrics: Map<String, Value>,
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
}

fn node(
    id: String,
    kind: &'static str,
    name: String,
    live: &Option<LiveValues>,
    metrics: &[(&str, &str)],
    offset: UtcOffset,
) -> Node {
    let status = match live {
        None => "unknown".to_owned(),
        Some(v) if v.stale => "stale".to_owned(),
        Some(v) => v.str("status").unwrap_or("ok").to_owned(),
    };
    let mut values = Map::new();
    for (label, field) in metrics {
        let value = live.as_ref().and_then(|v| v.f64(field));
        values.insert((*label).to_owned(), json!(value));
    }
    Node {
        id,
        kind,
        name,
        status,
        metrics: values,
        updated_at: live
            .as_ref()
            .and_then(|v| v.ts)
            .map(|t| format_iso(t, offset)),
        children: Vec::new(),
    }
}

/// `GET /api/v1/system/topology`: site → meters, PV inverter, PCS → racks.
pub fn topology(ratings: &Ratings, live: &LiveSite, offset: UtcOffset) -> Node {
    let none = None;
    let meter_metrics = [("kw", "KW_tot"), ("frequency_hz", "freq")];
    let mut children = vec![
        node(
            "meter:MMAIN".into(),
            "meter",
            "MMAIN (grid)".into(),
            &live.grid,
            &meter_metrics,
            offset,
        ),
        node(
            "meter:MAUX".into(),
            "meter",
            "MAUX (auxiliary)".into(),
            &live.aux,
            &meter_metrics,
            offset,
        ),
        node(
            "inverter:1".into(),
            "inverter",
            "INVERTER_1 (PV)".into(),
            &live.inverter,
            &[("ac_kw", "ac_kw"), ("today_kwh", "today_kwh")],
            offset,
        ),
    ];
    for p in 0..PCS_COUNT {
        let mut pcs = node(
            format!("pcs:{p}"),
            "pcs",
            format!("pcs{p}"),
            live.pcs.get(usize::from(p)).unwrap_or(&none),
            &[("p_kw", "p_kw"), ("q_kvar", "q_kvar")],
            offset,
        );
        for n in (1..=RACK_COUNT).filter(|&n| pcs_of_rack(n) == Some(p)) {
            pcs.children.push(node(
                format!("bess:{n}"),
                "bess",
                format!("BESS{n}"),
                live.racks.get(usize::from(n - 1)).unwrap_or(&none),
                &[("soc", "soc"), ("power_kw", "power_kw")],
                offset,
            ));
        }
        children.push(pcs);
    }
    Node {
        id: "site".into(),
        kind: "site",
        name: ratings.name.clone(),
        status: "ok".into(),
        metrics: Map::new(),
        updated_at: None,
        children,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(pairs: &[(&str, &str)], stale: bool) -> Option<LiveValues> {
        let now = 1_795_305_600;
        let ts = if stale { now - 3600 } else { now };
        let mut fields: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        fields.push(("ts".into(), ts.to_string()));
        LiveValues::from_fields(fields, now, 60)
    }

    fn site() -> LiveSite {
        let mut racks = vec![None; 12];
        racks[0] = live(
            &[("status", "charging"), ("soc", "50"), ("power_kw", "-100")],
            false,
        );
        racks[1] = live(
            &[
                ("status", "discharging"),
                ("soc", "61"),
                ("power_kw", "50.5"),
            ],
            false,
        );
        racks[2] = live(
            &[("status", "offline"), ("soc", "10"), ("power_kw", "0")],
            false,
        );
        racks[3] = live(
            &[("status", "idle"), ("soc", "99"), ("power_kw", "7")],
            true,
        );
        LiveSite {
            racks,
            pcs: vec![
                live(&[("status", "run"), ("p_kw", "-49.5")], false),
                live(&[("status", "fault"), ("p_kw", "0")], false),
            ],
            grid: live(&[("KW_tot", "-12.5"), ("freq", "59.98")], false),
            aux: None,
            inverter: live(&[("status", "run"), ("ac_kw", "300")], true),
        }
    }

    #[test]
    fn only_fresh_online_devices_count() {
        let s = site();
        assert_eq!(
            bess_summary(&s),
            BessSummary {
                online: 2,
                total: 12,
                average_soc: Some(55.5),
                total_power_kw: -49.5
            }
        );
        assert_eq!(
            pcs_summary(&s),
            PcsSummary {
                running: 1,
                faulted: 1,
                total: 2,
                total_p_kw: -49.5
            }
        );
        assert_eq!(
            grid_summary(&s),
            GridSummary {
                kw: Some(-12.5),
                frequency_hz: Some(59.98),
                stale: false
            }
        );
        let empty = LiveSite {
            racks: vec![None; 12],
            pcs: vec![None; 2],
            ..LiveSite::default()
        };
        assert_eq!(bess_summary(&empty).average_soc, None);
        assert!(grid_summary(&empty).stale);
    }

    #[test]
    fn the_topology_hangs_racks_under_their_pcs() {
        let ratings = Ratings::new("Demo".into(), 250.0, 1250.0);
        assert_eq!(
            (ratings.storage_capacity_kwh, ratings.power_rating_kw),
            (3000.0, 2500.0)
        );
        let tree = topology(&ratings, &site(), UtcOffset::SITE_DEFAULT);
        let ids: Vec<&str> = tree.children.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            ["meter:MMAIN", "meter:MAUX", "inverter:1", "pcs:0", "pcs:1"]
        );
        let pcs0 = &tree.children[3];
        let racks: Vec<&str> = pcs0.children.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            racks,
            ["bess:1", "bess:2", "bess:3", "bess:4", "bess:5", "bess:6"]
        );
        assert_eq!(tree.children[4].children[0].id, "bess:7");
        assert_eq!(pcs0.children[0].status, "charging");
        assert_eq!(pcs0.children[3].status, "stale");
        assert_eq!(pcs0.children[5].status, "unknown");
        assert_eq!(pcs0.children[1].metrics["soc"], json!(61.0));
        assert_eq!(tree.children[1].status, "unknown");
        assert_eq!(tree.children[1].metrics["kw"], Value::Null);
    }
}
