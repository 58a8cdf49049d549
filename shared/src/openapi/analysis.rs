//! The analysis operations (power loss, power in/out, frequency against power) and their schemas.

use serde_json::{json, Map, Value};

use super::telemetry::{get, read_responses};
use super::{json_content, map, query_param, schema_ref, with_common};
use crate::analysis::freq::BASELINE_MAX_AGE_SECS;
use crate::analysis::loss::MIN_CHARGE_KWH_FOR_EFFICIENCY;
use crate::analysis::{
    MAX_ENERGY_WINDOW_SECS, MAX_FREQ_WINDOW_SECS, PCS_INTERVAL_SECS, RACK_INTERVAL_SECS,
};
use crate::meters::{INVERTER_INTERVAL_SECS, METER_INTERVAL_SECS};

const LOSS: &str = "/api/v1/analysis/power-loss";
const IO: &str = "/api/v1/analysis/power-io";
const FREQ: &str = "/api/v1/analysis/freq-power";

/// `(path, item)` of every analysis route, legacy paths included.
pub fn paths() -> Vec<(&'static str, Value)> {
    vec![
        (LOSS, power_loss(None)),
        ("/api/power_loss", power_loss(Some(LOSS))),
        (IO, power_io(None)),
        ("/api/power_io", power_io(Some(IO))),
        (FREQ, freq_power(None)),
        ("/api/freq_power", freq_power(Some(FREQ))),
    ]
}

fn days(secs: i64) -> i64 {
    secs / 86_400
}

/// `from` and `to`, with the limit of the route.
fn window_params(limit: &str) -> Vec<Value> {
    let instant = json!({
        "anyOf": [
            {"type": "string", "format": "date"},
            {"type": "string", "format": "date-time"},
        ],
    });
    vec![
        query_param(
            "from",
            &format!(
                "Start of the window (inclusive): a site-local date (its local midnight) or an ISO \
                 8601 datetime (site-local without an offset). Default: 24 hours before `to`. The \
                 window may be at most {limit}."
            ),
            instant.clone(),
        ),
        query_param(
            "to",
            "End of the window (exclusive), same forms as `from`; must be later. Default: now. \
             `from=2026-11-21&to=2026-11-22` is the local day of the 21st.",
            instant,
        ),
    ]
}

fn power_loss(successor: Option<&str>) -> Value {
    let responses = read_responses(json!({
        "description": "The window's energy balance",
        "content": json_content(schema_ref("PowerLoss")),
    }));
    get(
        json!({
            "tags": ["analysis"],
            "summary": "Power loss and round-trip efficiency",
            "description": format!(
                "Over `[from, to)`: charge and discharge through both PCS (each PCS's `p_kw` \
                integrated on its own, trapezoid rule, {pcs} s nominal interval, negative = \
                charge), the aux load (`MAUX.KW_tot`, {meter} s), and the stored-energy change: for \
                each of the 12 racks (SOC at its last row in the window − SOC at its first) / 100 × \
                `rack_capacity_kwh`. loss = charge − discharge − stored change; round-trip \
                efficiency = (discharge + stored change) / charge. The window's edges are \
                interpolated from the samples just outside it; intervals longer than 5 nominal \
                intervals are not bridged and are counted in `gaps` (racks: between rows, {rack} s \
                nominal). A figure whose inputs are missing (a PCS, MAUX or a rack without rows \
                in the window) is null and `notes` says what is missing; the efficiency is null \
                when less than {MIN_CHARGE_KWH_FOR_EFFICIENCY} kWh was charged. Window at most {} \
                days.",
                days(MAX_ENERGY_WINDOW_SECS),
                pcs = PCS_INTERVAL_SECS,
                meter = METER_INTERVAL_SECS,
                rack = RACK_INTERVAL_SECS,
            ),
            "operationId": "power_loss",
            "parameters": window_params(&format!("{} days", days(MAX_ENERGY_WINDOW_SECS))),
            "responses": with_common(responses, true),
        }),
        successor,
    )
}

fn power_io(successor: Option<&str>) -> Value {
    let responses = read_responses(json!({
        "description": "Energy per bucket and over the window",
        "content": json_content(schema_ref("PowerIo")),
    }));
    let mut params = window_params(&format!("{} days", days(MAX_ENERGY_WINDOW_SECS)));
    params.push(query_param(
        "interval",
        "Bucket size: site-local hours or days",
        json!({"type": "string", "enum": ["hour", "day"], "default": "hour"}),
    ));
    get(
        json!({
            "tags": ["analysis"],
            "summary": "Power in and out per hour or day",
            "description": format!(
                "Import and export at the grid connection (`MMAIN.KW_tot`, + = export, {meter} s), \
                charge and discharge through both PCS ({pcs} s), PV generation \
                (`INVERTER_1.ac_kw`, {pv} s), per site-local hour or day of `[from, to)` (the \
                first and last buckets are partial when the window does not start or end on a \
                bucket edge), with the window's totals. Trapezoid integrals split at bucket edges \
                (the power at an edge interpolated), so a day's figures equal the sum of its \
                hours'; intervals longer than 5 nominal intervals are not bridged and are counted \
                per source in `gaps` (a gap counts in every bucket it touches, once in the \
                totals). Window at most {} days.",
                days(MAX_ENERGY_WINDOW_SECS),
                meter = METER_INTERVAL_SECS,
                pcs = PCS_INTERVAL_SECS,
                pv = INVERTER_INTERVAL_SECS,
            ),
            "operationId": "power_io",
            "parameters": params,
            "responses": with_common(responses, true),
        }),
        successor,
    )
}

fn freq_power(successor: Option<&str>) -> Value {
    let responses = read_responses(json!({
        "description": "The samples of the window (streamed: chunked transfer, no content-length)",
        "content": json_content(schema_ref("FreqPower")),
    }));
    get(
        json!({
            "tags": ["analysis"],
            "summary": "Frequency against power",
            "description": format!(
                "Every `MMAIN` row of `[from, to)` (window at most {} hours): its frequency, the \
                PCS total at the same instant (pcs0 + pcs1 rows with that timestamp; null unless \
                both exist), the power the schedule event running then expected at that frequency \
                (its mode's curve × its capacity; null outside events), and the base line in force \
                (its newest row at most {BASELINE_MAX_AGE_SECS} s old). Also the curves' \
                breakpoints, the nominal frequency, the events overlapping the window and the \
                window's mean base line. The body is streamed as it is read, page by page; a store \
                failure after the first page aborts the transfer (the document is then \
                incomplete, never cut short to look whole).",
                MAX_FREQ_WINDOW_SECS / 3600,
            ),
            "operationId": "freq_power",
            "parameters": window_params(&format!("{} hours", MAX_FREQ_WINDOW_SECS / 3600)),
            "responses": with_common(responses, true),
        }),
        successor,
    )
}

/// The schemas these operations use.
pub fn schemas() -> Map<String, Value> {
    let kwh = |d: &str| json!({"type": "number", "description": format!("{d}, kWh")});
    let nullable_kwh = |d: &str| json!({"anyOf": [{"type": "number"}, {"type": "null"}], "description": format!("{d}, kWh; null when unknown")});
    let nullable = |t: &str| json!({"anyOf": [{"type": t}, {"type": "null"}]});
    let time = json!({"type": "string", "format": "date-time", "description": "ISO 8601 with the site's offset"});
    let count = json!({"type": "integer", "minimum": 0});
    let per_source = json!({
        "type": "object",
        "properties": {"grid": count, "pcs": count, "pv": count},
        "required": ["grid", "pcs", "pv"],
    });
    let curve = json!({
        "type": "object",
        "properties": {
            "dead_band_hz": {"type": "number"},
            "full_response_hz": {"type": "number"},
            "points": {
                "type": "array",
                "minItems": 4,
                "maxItems": 4,
                "description": "Breakpoints by rising frequency; flat beyond the outer two",
                "items": {
                    "type": "object",
                    "properties": {
                        "hz": {"type": "number"},
                        "fraction": {"type": "number", "description": "Expected power as a fraction of the awarded capacity, + = discharge"},
                    },
                    "required": ["hz", "fraction"],
                },
            },
        },
        "required": ["dead_band_hz", "full_response_hz", "points"],
    });
    map(json!({
        "PowerLoss": {
            "title": "PowerLoss",
            "type": "object",
            "properties": {
                "from": time,
                "to": time,
                "charge_kwh": nullable_kwh("Into the batteries through both PCS"),
                "discharge_kwh": nullable_kwh("Out of the batteries through both PCS"),
                "aux_kwh": nullable_kwh("Auxiliary load (MAUX)"),
                "stored_change_kwh": nullable_kwh("Change of the energy stored in the 12 racks"),
                "loss_kwh": nullable_kwh("charge − discharge − stored change"),
                "round_trip_efficiency": {"anyOf": [{"type": "number"}, {"type": "null"}], "description": "(discharge + stored change) / charge"},
                "rack_capacity_kwh": {"type": "number"},
                "gaps": {"type": "integer", "description": "Unbridged intervals over every source"},
                "sources": {
                    "type": "object",
                    "properties": {
                        "pcs": {"type": "array", "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string", "enum": ["pcs0", "pcs1"]},
                                "charge_kwh": kwh("Charge"),
                                "discharge_kwh": kwh("Discharge"),
                                "samples": count,
                                "gaps": count,
                            },
                            "required": ["name", "charge_kwh", "discharge_kwh", "samples", "gaps"],
                        }},
                        "aux": {
                            "type": "object",
                            "properties": {"kwh": kwh("Aux load"), "samples": count, "gaps": count},
                            "required": ["kwh", "samples", "gaps"],
                        },
                        "racks": {"type": "array", "items": {
                            "type": "object",
                            "properties": {
                                "rack": {"type": "integer", "minimum": 1, "maximum": 12},
                                "samples": count,
                                "gaps": count,
                                "soc_start": nullable("number"),
                                "soc_end": nullable("number"),
                                "start_at": {"anyOf": [time, {"type": "null"}]},
                                "end_at": {"anyOf": [time, {"type": "null"}]},
                                "change_kwh": nullable_kwh("(soc_end − soc_start) / 100 × capacity"),
                            },
                            "required": ["rack", "samples", "gaps", "soc_start", "soc_end", "start_at", "end_at", "change_kwh"],
                        }},
                    },
                    "required": ["pcs", "aux", "racks"],
                },
                "notes": {"type": "array", "items": {"type": "string"}, "description": "What is missing; empty when every figure is known"},
            },
            "required": [
                "from", "to", "charge_kwh", "discharge_kwh", "aux_kwh", "stored_change_kwh",
                "loss_kwh", "round_trip_efficiency", "rack_capacity_kwh", "gaps", "sources", "notes",
            ],
        },
        "IoEnergy": {
            "title": "IoEnergy",
            "type": "object",
            "properties": {
                "start": time,
                "end": time,
                "import_kwh": kwh("From the grid"),
                "export_kwh": kwh("To the grid"),
                "charge_kwh": kwh("Into the batteries"),
                "discharge_kwh": kwh("Out of the batteries"),
                "pv_kwh": kwh("PV generation"),
                "samples": per_source,
                "gaps": per_source,
            },
            "required": ["start", "end", "import_kwh", "export_kwh", "charge_kwh", "discharge_kwh", "pv_kwh", "samples", "gaps"],
        },
        "PowerIo": {
            "title": "PowerIo",
            "type": "object",
            "properties": {
                "from": time,
                "to": time,
                "interval": {"type": "string", "enum": ["hour", "day"]},
                "buckets": {"type": "array", "items": schema_ref("IoEnergy")},
                "totals": schema_ref("IoEnergy"),
                "notes": {"type": "array", "items": {"type": "string"}, "description": "Sources without a sample in the window"},
            },
            "required": ["from", "to", "interval", "buckets", "totals", "notes"],
        },
        "FreqPower": {
            "title": "FreqPower",
            "type": "object",
            "properties": {
                "from": time,
                "to": time,
                "nominal_hz": {"type": "number"},
                "curves": {
                    "type": "object",
                    "properties": {"dreg": curve, "edreg": curve},
                    "required": ["dreg", "edreg"],
                },
                "events": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "mode": {"type": "string", "enum": ["dreg", "edreg"]},
                        "capacity_mw": {"type": "number"},
                        "start": time,
                        "end": time,
                    },
                    "required": ["id", "mode", "capacity_mw", "start", "end"],
                }},
                "samples": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "t": time,
                        "hz": {"type": "number", "description": "MMAIN frequency"},
                        "kw": {"anyOf": [{"type": "number"}, {"type": "null"}], "description": "pcs0 + pcs1 at `t`, + = discharge"},
                        "expected_kw": {"anyOf": [{"type": "number"}, {"type": "null"}], "description": "Expected by the event running at `t`"},
                        "baseline_hz": nullable("number"),
                    },
                    "required": ["t", "hz", "kw", "expected_kw", "baseline_hz"],
                }},
                "sample_count": count,
                "samples_without_power": count,
                "baseline_hz": {"anyOf": [{"type": "number"}, {"type": "null"}], "description": "Mean of the base-line rows in the window"},
            },
            "required": [
                "from", "to", "nominal_hz", "curves", "events", "samples", "sample_count",
                "samples_without_power", "baseline_hz",
            ],
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::freq::Document;
    use crate::analysis::io::{Integrals, PowerIo};
    use crate::analysis::loss::{AuxEnergy, PowerLoss};
    use crate::analysis::{Interval, Window};
    use crate::energy::Integrator;
    use crate::time::UtcOffset;

    fn required(schema: &Value) -> Vec<String> {
        schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn every_route_is_documented_with_its_answers() {
        let doc = crate::openapi::document();
        for (path, legacy) in [
            (LOSS, false),
            (IO, false),
            (FREQ, false),
            ("/api/power_loss", true),
            ("/api/power_io", true),
            ("/api/freq_power", true),
        ] {
            let op = &doc["paths"][path]["get"];
            assert_eq!(op["x-permission"], "telemetry:read", "{path}");
            assert_eq!(
                op["deprecated"].as_bool().unwrap_or(false),
                legacy,
                "{path}"
            );
            for status in ["200", "401", "403", "422", "503"] {
                assert!(op["responses"].get(status).is_some(), "{path} {status}");
            }
        }
        let io = &doc["paths"][IO]["get"]["parameters"];
        let names: Vec<&str> = io
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["from", "to", "interval"]);
    }

    #[test]
    fn schemas_list_every_serialized_field() {
        let schemas = schemas();
        let window = Window { from: 0, to: 3600 };
        let offset = UtcOffset::SITE_DEFAULT;
        let loss = PowerLoss::new(
            window,
            offset,
            Vec::new(),
            AuxEnergy {
                kwh: 0.0,
                samples: 0,
                gaps: 0,
            },
            &[],
            250.0,
        );
        let loss = serde_json::to_value(&loss).unwrap();
        assert_eq!(keys(&loss), sorted(required(&schemas["PowerLoss"])));
        let none = || Integrator::new(10, vec![0, 3600]).finish();
        let io = PowerIo::new(
            window,
            Interval::Hour,
            offset,
            &[0, 3600],
            &Integrals {
                grid: none(),
                pcs: vec![none()],
                pv: none(),
            },
        );
        let io = serde_json::to_value(&io).unwrap();
        assert_eq!(keys(&io), sorted(required(&schemas["PowerIo"])));
        assert_eq!(keys(&io["totals"]), sorted(required(&schemas["IoEnergy"])));
        let doc = Document::new(window, offset, Default::default(), Vec::new(), 2);
        let mut text = doc.head();
        text.extend(doc.tail());
        let freq: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(keys(&freq), sorted(required(&schemas["FreqPower"])));
    }
}
