//! A PCS (power conversion system) as the live-site screens show it: the `pcs:<n>` live hash or the
//! newest `pcs<n>_data` row (same fields), shaped for `GET /api/v1/pcs/{pcs_number}`.

use serde::Serialize;

use super::{Shown, Source, Timed};
use crate::live::LiveValues;
use crate::time::{format_iso, UtcOffset};

/// One PCS reading: a `pcs<n>_data` row or the `pcs:<n>` live hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PcsReading {
    /// Unix seconds (UTC).
    pub ts: i64,
    pub status: String,
    pub p_kw: f64,
    pub q_kvar: f64,
    pub dc_v: f64,
    pub dc_a: f64,
    pub v_a: f64,
    pub v_b: f64,
    pub v_c: f64,
    pub i_a: f64,
    pub i_b: f64,
    pub i_c: f64,
    pub freq: f64,
    /// 0 = no fault.
    pub fault_code: u16,
}

impl Timed for PcsReading {
    fn ts(&self) -> i64 {
        self.ts
    }
}

impl PcsReading {
    /// The live hash as a reading; `None` when a field is missing or unreadable (half a hash is
    /// treated like no live value, as for racks).
    pub fn from_live(live: &LiveValues) -> Option<PcsReading> {
        let fault_code = live.f64("fault_code")?;
        Some(PcsReading {
            ts: live.ts?,
            status: live.str("status")?.to_owned(),
            p_kw: live.f64("p_kw")?,
            q_kvar: live.f64("q_kvar")?,
            dc_v: live.f64("dc_v")?,
            dc_a: live.f64("dc_a")?,
            v_a: live.f64("v_a")?,
            v_b: live.f64("v_b")?,
            v_c: live.f64("v_c")?,
            i_a: live.f64("i_a")?,
            i_b: live.f64("i_b")?,
            i_c: live.f64("i_c")?,
            freq: live.f64("freq")?,
            // The column is SMALLINT UNSIGNED: anything else is not a code we can show.
            fault_code: (fault_code.fract() == 0.0 && (0.0..=65535.0).contains(&fault_code))
                .then_some(fault_code as u16)?,
        })
    }
}

/// The three AC phases of one quantity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Phases {
    pub a: f64,
    pub b: f64,
    pub c: f64,
}

/// `GET /api/v1/pcs/{pcs_number}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PcsView {
    pub pcs_number: u8,
    /// `run`, `stop` or `fault`.
    pub status: String,
    /// Active power; positive = discharge.
    pub p_kw: f64,
    pub q_kvar: f64,
    pub dc_voltage_v: f64,
    pub dc_current_a: f64,
    pub ac_voltage_v: Phases,
    pub ac_current_a: Phases,
    pub frequency_hz: f64,
    /// The active fault codes; empty when the PCS reports none (`fault_code` 0).
    pub fault_codes: Vec<u16>,
    pub source: Source,
    pub stale: bool,
    /// When the shown reading was taken, with the site's offset.
    pub updated_at: String,
}

impl PcsView {
    pub fn new(pcs_number: u8, shown: Shown<PcsReading>, offset: UtcOffset) -> PcsView {
        let r = shown.reading;
        PcsView {
            pcs_number,
            status: r.status,
            p_kw: r.p_kw,
            q_kvar: r.q_kvar,
            dc_voltage_v: r.dc_v,
            dc_current_a: r.dc_a,
            ac_voltage_v: Phases {
                a: r.v_a,
                b: r.v_b,
                c: r.v_c,
            },
            ac_current_a: Phases {
                a: r.i_a,
                b: r.i_b,
                c: r.i_c,
            },
            frequency_hz: r.freq,
            fault_codes: if r.fault_code == 0 {
                Vec::new()
            } else {
                vec![r.fault_code]
            },
            source: shown.source,
            stale: shown.stale,
            updated_at: format_iso(r.ts, offset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::PCS_FIELDS;

    fn live(fault_code: &str) -> LiveValues {
        let fields = [
            ("status", "fault"),
            ("p_kw", "-512.5"),
            ("q_kvar", "12.25"),
            ("dc_v", "820"),
            ("dc_a", "-640.5"),
            ("v_a", "380.1"),
            ("v_b", "380.2"),
            ("v_c", "380.3"),
            ("i_a", "770.1"),
            ("i_b", "770.2"),
            ("i_c", "770.3"),
            ("freq", "59.98"),
            ("fault_code", fault_code),
            ("ts", "1795305600"),
        ];
        // The test hash is exactly the documented live fields.
        assert_eq!(fields.map(|(k, _)| k), PCS_FIELDS);
        let fields = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LiveValues::from_fields(fields, 1_795_305_610, 60).unwrap()
    }

    fn view(reading: PcsReading) -> PcsView {
        let shown = Shown {
            reading,
            source: Source::Realtime,
            stale: false,
        };
        PcsView::new(1, shown, UtcOffset::SITE_DEFAULT)
    }

    #[test]
    fn a_pcs_view_groups_phases_and_lists_faults() {
        let v = view(PcsReading::from_live(&live("17")).unwrap());
        assert_eq!(v.status, "fault");
        assert_eq!((v.p_kw, v.q_kvar), (-512.5, 12.25));
        assert_eq!((v.dc_voltage_v, v.dc_current_a), (820.0, -640.5));
        assert_eq!(
            v.ac_voltage_v,
            Phases {
                a: 380.1,
                b: 380.2,
                c: 380.3
            }
        );
        assert_eq!(v.ac_current_a.c, 770.3);
        assert_eq!(v.frequency_hz, 59.98);
        assert_eq!(v.fault_codes, vec![17]);
        assert_eq!(v.updated_at, "2026-11-22T08:00:00+08:00");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["ac_voltage_v"]["b"], 380.2);
        assert_eq!(json["source"], "realtime");
        assert_eq!(
            view(PcsReading::from_live(&live("0")).unwrap()).fault_codes,
            Vec::<u16>::new()
        );
    }

    #[test]
    fn unreadable_live_hashes_are_no_reading() {
        for bad in ["-1", "1.5", "70000", "x"] {
            assert_eq!(PcsReading::from_live(&live(bad)), None, "{bad}");
        }
        let half = LiveValues::from_fields(vec![("ts".into(), "1".into())], 1, 60).unwrap();
        assert_eq!(PcsReading::from_live(&half), None);
    }
}
