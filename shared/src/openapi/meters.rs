//! The meter and PV inverter operations and their schemas.

use serde_json::{json, Map, Value};

use super::telemetry::{get, read_responses};
use super::{json_content, map, response_ref, schema_ref, with_common};
use crate::meters::{INVERTER_INTERVAL_SECS, METER_INTERVAL_SECS, MIN_DC_KW_FOR_EFFICIENCY};

/// `(path, item)` of every meters route, legacy paths included.
pub fn paths() -> Vec<(&'static str, Value)> {
    vec![
        ("/api/v1/meters", meters(None)),
        ("/api/meter_info", meters(Some("/api/v1/meters"))),
        ("/api/v1/meters/aux", aux(None)),
        ("/api/aux_meter", aux(Some("/api/v1/meters/aux"))),
        ("/api/v1/inverter", inverter(None)),
        ("/api/converter", inverter(Some("/api/v1/inverter"))),
    ]
}

fn meters(successor: Option<&str>) -> Value {
    let responses = read_responses(json!({
        "description": "Every meter, with the fresh meters' total power",
        "content": json_content(schema_ref("MeterList")),
    }));
    get(
        json!({
            "tags": ["meters"],
            "summary": "Every live meter",
            "description": "Every `meter:<name>` hash in the main Redis (found by SCAN, so a meter \
                added at run time appears), plus MMAIN and MAUX, which fall back to their newest \
                `Meter` history row (`source: history`, `stale: true`) when their live value is \
                stale or missing. A meter with no data anywhere is left out. `total_power` sums \
                `KW_tot` of the fresh meters only. 503 only when no meter could be read from \
                either store.",
            "operationId": "meters",
            "responses": with_common(responses, true),
        }),
        successor,
    )
}

fn aux(successor: Option<&str>) -> Value {
    let mut responses = read_responses(json!({
        "description": "MAUX now and today's aux energy",
        "content": json_content(schema_ref("AuxMeter")),
    }));
    responses.insert("404".into(), response_ref("NotFound"));
    get(
        json!({
            "tags": ["meters"],
            "summary": "The aux meter and today's aux energy",
            "description": format!(
                "MAUX live from Redis while fresh, else its newest `Meter.MAUX` row (`stale: true`). \
                `today` is the trapezoid integral of today's (site-local day) `MAUX.KW_tot` rows, \
                {METER_INTERVAL_SECS} s nominal interval, gaps longer than 5 intervals not bridged \
                and counted; null when the `Meter` database cannot be reached. 404 when MAUX has \
                no data at all; 503 only when neither store can answer."
            ),
            "operationId": "aux_meter",
            "responses": with_common(responses, true),
        }),
        successor,
    )
}

fn inverter(successor: Option<&str>) -> Value {
    let mut responses = read_responses(json!({
        "description": "The PV inverter now and today's generation",
        "content": json_content(schema_ref("Inverter")),
    }));
    responses.insert("404".into(), response_ref("NotFound"));
    get(
        json!({
            "tags": ["meters"],
            "summary": "The PV inverter",
            "description": format!(
                "`inverter:1` live from Redis while fresh, else the newest `Inverter.INVERTER_1` row \
                (`stale: true`). `today_kwh` is the trapezoid integral of today's (site-local day) \
                `ac_kw` rows, {INVERTER_INTERVAL_SECS} s nominal interval (null when the \
                `Inverter` database cannot be reached); `today_kwh_register` is the inverter's own \
                register. `efficiency` is AC/DC, null below {MIN_DC_KW_FOR_EFFICIENCY} kW DC. 404 \
                when the inverter has no data at all; 503 only when neither store can answer."
            ),
            "operationId": "inverter",
            "responses": with_common(responses, true),
        }),
        successor,
    )
}

/// The schemas these operations use.
pub fn schemas() -> Map<String, Value> {
    let number = json!({"type": "number"});
    let time = json!({"type": "string", "format": "date-time", "description": "ISO 8601 with the site's offset"});
    let source = json!({
        "type": "string",
        "enum": ["realtime", "history"],
        "description": "realtime: the Redis live value; history: the newest MySQL row",
    });
    let stale = json!({"type": "boolean", "description": "The shown value is older than `live_stale_after_secs`"});
    let meter_fields = [
        "name",
        "I_a",
        "I_b",
        "I_c",
        "Vll_ab",
        "Vll_bc",
        "Vll_ca",
        "KW_tot",
        "KVAR_tot",
        "PF",
        "freq",
        "source",
        "stale",
        "updated_at",
    ];
    let meter_properties = json!({
        "name": {"type": "string", "description": "The meter's name: the `meter:<name>` key"},
        "I_a": {"type": "number", "description": "Phase A current, A"},
        "I_b": {"type": "number", "description": "Phase B current, A"},
        "I_c": {"type": "number", "description": "Phase C current, A"},
        "Vll_ab": {"type": "number", "description": "Line-to-line voltage A-B, V"},
        "Vll_bc": {"type": "number", "description": "Line-to-line voltage B-C, V"},
        "Vll_ca": {"type": "number", "description": "Line-to-line voltage C-A, V"},
        "KW_tot": {"type": "number", "description": "Total active power, kW (MMAIN: positive = export; MAUX: the aux load)"},
        "KVAR_tot": {"type": "number", "description": "Total reactive power, kVAr"},
        "PF": {"type": "number", "description": "Power factor"},
        "freq": {"type": "number", "description": "Frequency, Hz"},
        "source": source,
        "stale": stale,
        "updated_at": time,
    });
    let mut aux_properties = meter_properties.clone();
    aux_properties["today"] = json!({"anyOf": [schema_ref("EnergyToday"), {"type": "null"}]});
    let mut aux_required: Vec<&str> = meter_fields.to_vec();
    aux_required.push("today");
    map(json!({
        "Meter": {
            "title": "Meter",
            "type": "object",
            "properties": meter_properties,
            "required": meter_fields,
        },
        "MeterList": {
            "title": "MeterList",
            "type": "object",
            "properties": {
                "meters": {"type": "array", "items": schema_ref("Meter"), "description": "Sorted by name"},
                "meter_count": {"type": "integer"},
                "total_power": {"type": "number", "description": "Sum of `KW_tot` of the fresh (not stale) meters, kW"},
                "status": {
                    "type": "string",
                    "enum": ["ok", "stale", "no_data"],
                    "description": "ok: every meter fresh; stale: at least one is not; no_data: no meter",
                },
            },
            "required": ["meters", "meter_count", "total_power", "status"],
        },
        "EnergyToday": {
            "title": "EnergyToday",
            "type": "object",
            "properties": {
                "date": {"type": "string", "format": "date", "description": "The site-local day"},
                "kwh": {"type": "number", "description": "Trapezoid integral of the day's rows, kWh"},
                "gaps": {"type": "integer", "description": "Intervals longer than 5 nominal intervals, not bridged"},
                "samples": {"type": "integer"},
                "nominal_interval_secs": {"type": "integer"},
            },
            "required": ["date", "kwh", "gaps", "samples", "nominal_interval_secs"],
        },
        "AuxMeter": {
            "title": "AuxMeter",
            "type": "object",
            "properties": aux_properties,
            "required": aux_required,
        },
        "Inverter": {
            "title": "Inverter",
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": ["INVERTER_1"]},
                "status": {"type": "string", "enum": ["run", "standby", "fault"]},
                "ac_kw": {"type": "number", "description": "AC output, kW"},
                "dc_kw": {"type": "number", "description": "DC input, kW"},
                "efficiency": {"anyOf": [number, {"type": "null"}], "description": "AC/DC (fraction)"},
                "today_kwh": {"anyOf": [number, {"type": "null"}], "description": "Today's generation from the history rows, kWh"},
                "today_kwh_register": {"type": "number", "description": "The inverter's own today register, kWh"},
                "lifetime_kwh": number,
                "today": {"anyOf": [schema_ref("EnergyToday"), {"type": "null"}]},
                "source": source,
                "stale": stale,
                "updated_at": time,
            },
            "required": [
                "name", "status", "ac_kw", "dc_kw", "efficiency", "today_kwh", "today_kwh_register",
                "lifetime_kwh", "today", "source", "stale", "updated_at",
            ],
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_legacy_ones_are_deprecated() {
        let doc = crate::openapi::document();
        for (path, legacy) in [
            ("/api/v1/meters", false),
            ("/api/v1/meters/aux", false),
            ("/api/v1/inverter", false),
            ("/api/meter_info", true),
            ("/api/aux_meter", true),
            ("/api/converter", true),
        ] {
            let op = &doc["paths"][path]["get"];
            assert_eq!(op["x-permission"], "telemetry:read", "{path}");
            assert_eq!(
                op["deprecated"].as_bool().unwrap_or(false),
                legacy,
                "{path}"
            );
        }
        assert!(
            doc["components"]["schemas"]["MeterList"]["properties"]["total_power"]["description"]
                .as_str()
                .unwrap()
                .contains("fresh")
        );
    }

    #[test]
    fn schemas_list_every_serialized_field() {
        use crate::meters::*;
        use crate::telemetry::{Shown, Source};
        use crate::time::UtcOffset;
        let reading = InverterReading {
            ts: 0,
            status: "run".into(),
            ac_kw: 1.0,
            dc_kw: 2.0,
            today_kwh: 0.0,
            lifetime_kwh: 0.0,
        };
        let shown = Shown {
            reading,
            source: Source::Realtime,
            stale: false,
        };
        let view = InverterView::new(shown, None, UtcOffset::SITE_DEFAULT);
        let json = serde_json::to_value(&view).unwrap();
        let schemas = schemas();
        let required = schemas["Inverter"]["required"].as_array().unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), required.len());
        for k in keys {
            assert!(required.iter().any(|r| r == k), "{k}");
        }
        let list = serde_json::to_value(MeterList::new(Vec::new())).unwrap();
        assert_eq!(
            list.as_object().unwrap().len(),
            schemas["MeterList"]["required"].as_array().unwrap().len()
        );
    }
}
