//! `freq-power`: every grid-frequency sample of the window with the PCS power at that instant,
//! the power the running dReg/E-dReg event expected, and the base line — the scatter the
//! operators check the response curve against.
//!
//! The answer is one JSON object written in pieces ([`Document`]): its head (window, curves,
//! events), then the samples page by page as the rows are read, then a tail with the counts and
//! the window's mean base line, which are known only at the end. Each piece is produced here from
//! rows; the component decides when to read them.

use serde::Serialize;

use super::{Window, BASELINE_INTERVAL_SECS};
use crate::dreg::{Curve, DregParams, Mode};
use crate::energy::MAX_GAP_FACTOR;
use crate::time::{format_iso, UtcOffset};

/// A base-line row older than this at a sample's time is too old to stand for it.
pub const BASELINE_MAX_AGE_SECS: i64 = BASELINE_INTERVAL_SECS * MAX_GAP_FACTOR;

/// One point of a response curve: at `hz`, the expected power is `fraction` of the awarded
/// capacity (+ = discharge).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub hz: f64,
    pub fraction: f64,
}

/// A response curve as the chart draws it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurveView {
    pub dead_band_hz: f64,
    pub full_response_hz: f64,
    /// The breakpoints in rising frequency; the curve is flat beyond the outer two and linear
    /// between neighbours.
    pub points: [Point; 4],
}

impl CurveView {
    pub fn new(curve: Curve, nominal_hz: f64) -> CurveView {
        let point = |hz, fraction| Point { hz, fraction };
        CurveView {
            dead_band_hz: curve.dead_band_hz,
            full_response_hz: curve.full_response_hz,
            points: [
                point(nominal_hz - curve.full_response_hz, 1.0),
                point(nominal_hz - curve.dead_band_hz, 0.0),
                point(nominal_hz + curve.dead_band_hz, 0.0),
                point(nominal_hz + curve.full_response_hz, -1.0),
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curves {
    pub dreg: CurveView,
    pub edreg: CurveView,
}

/// A schedule event overlapping the window (cancelled ones are not read).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: u64,
    pub mode: Mode,
    pub capacity_mw: f64,
    /// `[start, end)`, Unix seconds.
    pub start: i64,
    pub end: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct EventView {
    id: u64,
    mode: &'static str,
    capacity_mw: f64,
    start: String,
    end: String,
}

/// The head of the document: everything known before the first sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Head {
    from: String,
    to: String,
    nominal_hz: f64,
    curves: Curves,
    events: Vec<EventView>,
}

/// One sample of the scatter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FreqSample {
    /// ISO 8601 with the site's offset.
    pub t: String,
    /// MMAIN's frequency.
    pub hz: f64,
    /// pcs0 + pcs1 at the same instant; null unless both PCS have a row with that timestamp.
    pub kw: Option<f64>,
    /// What the event running at `t` expected at `hz`; null outside events.
    pub expected_kw: Option<f64>,
    /// The base line in force at `t` (its newest row at or before `t`, at most
    /// [`BASELINE_MAX_AGE_SECS`] old); null without one.
    pub baseline_hz: Option<f64>,
}

/// The rows of one page, each list in time order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PageRows {
    /// `(ts, freq)` of MMAIN.
    pub grid: Vec<(i64, f64)>,
    /// `(ts, summed p_kw, PCS rows at ts)`.
    pub pcs: Vec<(i64, f64, u32)>,
    /// `(ts, freq)` of the base line, from [`BASELINE_MAX_AGE_SECS`] before the page on.
    pub baseline: Vec<(i64, f64)>,
}

/// Builds the document piece by piece and keeps the running counts the tail reports.
pub struct Document {
    offset: UtcOffset,
    params: DregParams,
    events: Vec<Event>,
    pcs_count: u32,
    window: Window,
    samples: u64,
    without_power: u64,
    baseline_sum: f64,
    baseline_rows: u64,
}

impl Document {
    /// `events` in any order; `pcs_count` PCS rows at an instant make a full power reading.
    pub fn new(
        window: Window,
        offset: UtcOffset,
        params: DregParams,
        mut events: Vec<Event>,
        pcs_count: u32,
    ) -> Document {
        events.sort_by_key(|e| e.start);
        Document {
            offset,
            params,
            events,
            pcs_count,
            window,
            samples: 0,
            without_power: 0,
            baseline_sum: 0.0,
            baseline_rows: 0,
        }
    }

    /// `{"from": ..., "events": [...], "samples": [` — the object stays open.
    pub fn head(&self) -> Vec<u8> {
        let head = Head {
            from: format_iso(self.window.from, self.offset),
            to: format_iso(self.window.to, self.offset),
            nominal_hz: self.params.nominal_hz,
            curves: Curves {
                dreg: CurveView::new(self.params.dreg, self.params.nominal_hz),
                edreg: CurveView::new(self.params.edreg, self.params.nominal_hz),
            },
            events: self
                .events
                .iter()
                .map(|e| EventView {
                    id: e.id,
                    mode: e.mode.as_str(),
                    capacity_mw: e.capacity_mw,
                    start: format_iso(e.start, self.offset),
                    end: format_iso(e.end, self.offset),
                })
                .collect(),
        };
        // A struct of strings and numbers always serializes; its closing brace is replaced so
        // the samples follow inside the same object.
        let mut text = serde_json::to_vec(&head).unwrap_or_default();
        text.pop();
        text.extend_from_slice(b",\"samples\":[");
        text
    }

    /// The samples of one page `[from, to)` as JSON array items (with the separating commas).
    pub fn page(&mut self, from: i64, rows: &PageRows) -> Vec<u8> {
        let mut text = Vec::with_capacity(rows.grid.len() * 120);
        for r in rows.baseline.iter().filter(|(ts, _)| *ts >= from) {
            self.baseline_sum += r.1;
            self.baseline_rows += 1;
        }
        let (mut pcs, mut baseline) = (0, 0);
        for &(t, hz) in &rows.grid {
            while pcs < rows.pcs.len() && rows.pcs[pcs].0 < t {
                pcs += 1;
            }
            let kw = rows
                .pcs
                .get(pcs)
                .filter(|(ts, _, n)| *ts == t && *n >= self.pcs_count)
                .map(|(_, kw, _)| *kw);
            while baseline + 1 < rows.baseline.len() && rows.baseline[baseline + 1].0 <= t {
                baseline += 1;
            }
            let baseline_hz = rows
                .baseline
                .get(baseline)
                .filter(|(ts, _)| *ts <= t && t - *ts <= BASELINE_MAX_AGE_SECS)
                .map(|(_, hz)| *hz);
            let expected_kw = self
                .event_at(t)
                .map(|e| self.params.expected_kw(e.mode, e.capacity_mw, hz));
            let sample = FreqSample {
                t: format_iso(t, self.offset),
                hz,
                kw,
                expected_kw,
                baseline_hz,
            };
            if self.samples > 0 {
                text.push(b',');
            }
            // Strings and finite or null numbers: serializing cannot fail.
            let _ = serde_json::to_writer(&mut text, &sample);
            self.samples += 1;
            if kw.is_none() {
                self.without_power += 1;
            }
        }
        text
    }

    /// `], "sample_count": ..., "baseline_hz": ...}` — closes the document.
    pub fn tail(&self) -> Vec<u8> {
        let mean = (self.baseline_rows > 0).then(|| self.baseline_sum / self.baseline_rows as f64);
        let tail = serde_json::json!({
            "sample_count": self.samples,
            "samples_without_power": self.without_power,
            "baseline_hz": mean,
        });
        // `{"a":1}` → `],"a":1}`.
        let text = tail.to_string();
        format!("],{}", &text[1..]).into_bytes()
    }

    /// The event running at `t` (the latest-starting one, should two overlap).
    fn event_at(&self, t: i64) -> Option<&Event> {
        self.events.iter().rev().find(|e| e.start <= t && t < e.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const T0: i64 = 1_795_276_800; // 2026-11-22T00:00:00+08:00

    #[test]
    fn curve_breakpoints_follow_the_parameters() {
        let p = DregParams::default();
        let dreg = CurveView::new(p.dreg, p.nominal_hz);
        let hz: Vec<f64> = dreg.points.iter().map(|pt| pt.hz).collect();
        let fraction: Vec<f64> = dreg.points.iter().map(|pt| pt.fraction).collect();
        let expect = [59.75, 59.98, 60.02, 60.25];
        for (a, b) in hz.iter().zip(expect) {
            assert!((a - b).abs() < 1e-9, "{hz:?}");
        }
        assert_eq!(fraction, [1.0, 0.0, 0.0, -1.0]);
        // The breakpoints lie on the curve the execution rate is judged by.
        for pt in dreg.points {
            assert!((p.expected_fraction(Mode::Dreg, pt.hz) - pt.fraction).abs() < 1e-9);
        }
        let edreg = CurveView::new(p.edreg, 50.0);
        assert!((edreg.points[0].hz - 49.85).abs() < 1e-9);
        assert!((edreg.points[2].hz - 50.01).abs() < 1e-9);
    }

    fn document(events: Vec<Event>) -> Document {
        let window = Window {
            from: T0,
            to: T0 + 120,
        };
        Document::new(
            window,
            UtcOffset::SITE_DEFAULT,
            DregParams::default(),
            events,
            2,
        )
    }

    #[test]
    fn pieces_make_one_json_document() {
        let event = Event {
            id: 7,
            mode: Mode::Dreg,
            capacity_mw: 2.0,
            start: T0 + 20,
            end: T0 + 60,
        };
        let mut doc = document(vec![event]);
        let mut text = doc.head();
        let first = PageRows {
            grid: vec![
                (T0, 60.0),
                (T0 + 10, 59.9),
                (T0 + 20, 59.865),
                (T0 + 30, 60.3),
            ],
            pcs: vec![(T0, 5.0, 2), (T0 + 20, 990.0, 2), (T0 + 30, -1900.0, 1)],
            baseline: vec![(T0 - 10, 59.99), (T0 + 20, 60.01)],
        };
        text.extend(doc.page(T0, &first));
        text.extend(doc.page(T0 + 60, &PageRows::default()));
        let second = PageRows {
            grid: vec![(T0 + 60, 60.0)],
            pcs: vec![(T0 + 60, 1.0, 2)],
            baseline: vec![(T0 + 20, 60.01)],
        };
        text.extend(doc.page(T0 + 60, &second));
        text.extend(doc.tail());
        let v: Value = serde_json::from_slice(&text).expect("valid JSON");
        assert_eq!(v["from"], "2026-11-22T00:00:00+08:00");
        assert_eq!(v["nominal_hz"], 60.0);
        assert_eq!(v["events"][0]["id"], 7);
        assert_eq!(v["events"][0]["start"], "2026-11-22T00:00:20+08:00");
        assert_eq!(v["curves"]["edreg"]["dead_band_hz"], 0.01);
        let samples = v["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 5);
        assert_eq!(
            samples[0],
            json!({"t": "2026-11-22T00:00:00+08:00", "hz": 60.0, "kw": 5.0,
                   "expected_kw": null, "baseline_hz": 59.99})
        );
        // No PCS row at +10 s; inside the event from +20 s: 0.5 × 2 MW at 59.865 Hz.
        assert_eq!(samples[1]["kw"], Value::Null);
        assert_eq!(samples[1]["baseline_hz"], 59.99);
        assert!((samples[2]["expected_kw"].as_f64().unwrap() - 1000.0).abs() < 1e-6);
        assert_eq!(samples[2]["baseline_hz"], 60.01);
        // One PCS row of two is no total.
        assert_eq!(samples[3]["kw"], Value::Null);
        assert_eq!(samples[3]["expected_kw"], -2000.0);
        // The event ended at +60 s (exclusive); the base line from +20 s is 40 s old: in force.
        assert_eq!(samples[4]["expected_kw"], Value::Null);
        assert_eq!(samples[4]["baseline_hz"], 60.01);
        assert_eq!(v["sample_count"], 5);
        assert_eq!(v["samples_without_power"], 2);
        // Base-line rows inside the window: +20 s only (the -10 s row is before it, and the
        // second page's look-back repeats +20 s).
        assert_eq!(v["baseline_hz"], 60.01);
    }

    #[test]
    fn old_base_lines_and_empty_documents() {
        let mut doc = document(Vec::new());
        let mut text = doc.head();
        let rows = PageRows {
            grid: vec![(T0 + 100, 60.0)],
            pcs: Vec::new(),
            baseline: vec![(T0 + 40, 59.0)],
        };
        text.extend(doc.page(T0 + 100, &rows));
        text.extend(doc.tail());
        let v: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(v["samples"][0]["baseline_hz"], Value::Null, "60 s old");
        assert_eq!(
            v["baseline_hz"],
            Value::Null,
            "no base line inside the window's page"
        );
        let empty = document(Vec::new());
        let mut text = empty.head();
        text.extend(empty.tail());
        let v: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(v["samples"], json!([]));
        assert_eq!(v["sample_count"], 0);
        assert_eq!(v["events"], json!([]));
    }
}
