//! The live-site (telemetry) operations and their schemas: battery racks and PCS.

use serde_json::{json, Map, Value};

use super::{json_content, map, protected, query_param, response_ref, schema_ref, with_common};
use crate::alerts::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::schema::ess::PERM_TELEMETRY_READ;
use crate::schema::{PCS_COUNT, RACK_COUNT};

/// `(path, item)` of every telemetry route, legacy paths included.
pub fn paths() -> Vec<(&'static str, Value)> {
    vec![
        ("/api/v1/system/overview", overview(None)),
        (
            "/api/system_overview",
            overview(Some("/api/v1/system/overview")),
        ),
        ("/api/v1/system/topology", topology(None)),
        ("/api/topology", topology(Some("/api/v1/system/topology"))),
        ("/api/v1/bess/{bess_number}", rack(None)),
        (
            "/api/bams_info/{bess_number}",
            rack(Some("/api/v1/bess/{bess_number}")),
        ),
        ("/api/v1/bess/alert/rack/{rack_number}", rack_alerts(None)),
        (
            "/api/alert/rack/{rack_number}",
            rack_alerts(Some("/api/v1/bess/alert/rack/{rack_number}")),
        ),
        ("/api/v1/pcs/{pcs_number}", pcs(None)),
        (
            "/api/pcs_info/{pcs_number}",
            pcs(Some("/api/v1/pcs/{pcs_number}")),
        ),
        ("/api/v1/pcs/alert", pcs_alerts(None)),
        ("/api/alert/pcs", pcs_alerts(Some("/api/v1/pcs/alert"))),
    ]
}

fn number_param(name: &str, title: &str, min: u8, max: u8) -> Value {
    json!({
        "name": name,
        "in": "path",
        "required": true,
        "schema": {"type": "integer", "minimum": min, "maximum": max, "title": title},
    })
}

pub(super) fn read_responses(ok: Value) -> Map<String, Value> {
    map(json!({
        "200": ok,
        "401": response_ref("Unauthorized"),
        "403": response_ref("Forbidden"),
        "422": response_ref("ValidationError"),
    }))
}

/// A legacy Flask path: same operation, deprecated, its 200 carrying `Deprecation` and `Link`.
pub(super) fn legacy(mut op: Map<String, Value>, successor: &str) -> Map<String, Value> {
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    op.insert("operationId".into(), Value::from(format!("legacy_{id}")));
    op.insert("deprecated".into(), Value::Bool(true));
    op.insert(
        "description".into(),
        Value::from(format!(
            "The legacy Flask path of `GET {successor}`; same answers."
        )),
    );
    if let Some(ok) = op
        .get_mut("responses")
        .and_then(|r| r.get_mut("200"))
        .and_then(Value::as_object_mut)
    {
        ok.insert(
            "headers".into(),
            json!({
                "Deprecation": {"$ref": "#/components/headers/Deprecation"},
                "Link": {"$ref": "#/components/headers/Link"},
            }),
        );
    }
    op
}

/// The path item of a `telemetry:read` GET operation (a legacy one when `successor` is given).
pub(super) fn get(op: Value, successor: Option<&str>) -> Value {
    json!({ "get": operation(map(op), successor) })
}

pub(super) fn operation(op: Map<String, Value>, successor: Option<&str>) -> Value {
    let op = match successor {
        Some(s) => legacy(op, s),
        None => op,
    };
    protected(op, Some(PERM_TELEMETRY_READ))
}

fn overview(successor: Option<&str>) -> Value {
    let mut responses = read_responses(json!({
        "description": "The site now",
        "content": json_content(schema_ref("Overview")),
    }));
    responses.remove("422");
    let op = map(json!({
        "tags": ["system"],
        "summary": "Site overview",
        "description": "Ratings; racks online (fresh live value, not offline), their mean SOC and \
            power; PCS running and faulted; the grid connection point; today's charge and \
            discharge through the PCS (trapezoid over today's history, recomputed at most once a \
            minute); today's final dReg/E-dReg income so far (the total of `GET /income/daily`, \
            reused for a minute); active and critical alerts; the schedule mode running now.",
        "operationId": "system_overview",
        "responses": with_common(responses, true),
    }));
    json!({ "get": operation(op, successor) })
}

fn topology(successor: Option<&str>) -> Value {
    let mut responses = read_responses(json!({
        "description": "The site's device tree",
        "content": json_content(schema_ref("TopologyNode")),
    }));
    responses.remove("422");
    let op = map(json!({
        "tags": ["system"],
        "summary": "Site topology",
        "description": "site → meters, PV inverter, PCS → their racks; each node with its status \
            (`stale` when its live value is old, `unknown` without one) and key metrics.",
        "operationId": "system_topology",
        "responses": with_common(responses, true),
    }));
    json!({ "get": operation(op, successor) })
}

fn rack(successor: Option<&str>) -> Value {
    let mut responses = read_responses(json!({
        "description": "The rack's newest reading",
        "content": json_content(schema_ref("RackStatus")),
    }));
    responses.insert("404".into(), response_ref("NotFound"));
    let op = map(json!({
        "tags": ["bess"],
        "summary": "A battery rack's status",
        "description": "Live from Redis while fresh (`live_stale_after_secs`); otherwise the rack's \
            newest history row, with `source: history` and `stale: true`. 404 when the rack has no \
            data at all; 503 only when neither store can answer.",
        "operationId": "rack_status",
        "responses": with_common(responses, true),
    }));
    json!({
        "parameters": [number_param("bess_number", "Bess Number", 1, RACK_COUNT)],
        "get": operation(op, successor),
    })
}

pub(super) fn alert_params() -> Vec<Value> {
    vec![
        query_param("active_only", "Only alerts not yet cleared", json!({"type": "boolean", "default": false})),
        query_param(
            "since",
            "Alerts that started at or after this site-local date (YYYY-MM-DD) or ISO 8601 datetime",
            json!({"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}),
        ),
        query_param("limit", "At most this many, newest first", json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT})),
    ]
}

fn rack_alerts(successor: Option<&str>) -> Value {
    let responses = read_responses(json!({
        "description": "The rack's alerts, newest first",
        "content": json_content(schema_ref("AlertList")),
    }));
    let op = map(json!({
        "tags": ["bess"],
        "summary": "A battery rack's alerts",
        "operationId": "rack_alerts",
        "parameters": alert_params(),
        "responses": with_common(responses, true),
    }));
    json!({
        "parameters": [number_param("rack_number", "Rack Number", 1, RACK_COUNT)],
        "get": operation(op, successor),
    })
}

fn pcs(successor: Option<&str>) -> Value {
    let mut responses = read_responses(json!({
        "description": "The PCS's newest reading",
        "content": json_content(schema_ref("PcsStatus")),
    }));
    responses.insert("404".into(), response_ref("NotFound"));
    let op = map(json!({
        "tags": ["pcs"],
        "summary": "A PCS's status",
        "description": "Live from Redis while fresh (`live_stale_after_secs`); otherwise the PCS's \
            newest history row, with `source: history` and `stale: true`. 404 when the PCS has no \
            data at all; 503 only when neither store can answer.",
        "operationId": "pcs_status",
        "responses": with_common(responses, true),
    }));
    json!({
        "parameters": [number_param("pcs_number", "Pcs Number", 0, PCS_COUNT - 1)],
        "get": operation(op, successor),
    })
}

fn pcs_alerts(successor: Option<&str>) -> Value {
    let responses = read_responses(json!({
        "description": "The alerts of both PCS, newest first",
        "content": json_content(schema_ref("AlertList")),
    }));
    let op = map(json!({
        "tags": ["pcs"],
        "summary": "The PCS alerts",
        "operationId": "pcs_alerts",
        "parameters": alert_params(),
        "responses": with_common(responses, true),
    }));
    json!({ "get": operation(op, successor) })
}

/// The schemas these operations use.
pub fn schemas() -> Map<String, Value> {
    let number = json!({"type": "number"});
    let integer = json!({"type": "integer"});
    let time = json!({"type": "string", "format": "date-time", "description": "ISO 8601 with the site's offset"});
    let source = json!({
        "type": "string",
        "enum": ["realtime", "history"],
        "description": "realtime: the Redis live value; history: the newest MySQL row",
    });
    let nullable_number = json!({"type": ["number", "null"]});
    map(json!({
        "Overview": {
            "title": "Overview",
            "type": "object",
            "properties": {
                "site": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "rack_count": integer, "rack_capacity_kwh": number,
                        "storage_capacity_kwh": number, "pcs_count": integer,
                        "pcs_rated_kw": number, "power_rating_kw": number,
                    },
                },
                "bess": {
                    "type": "object",
                    "properties": {
                        "online": integer, "total": integer,
                        "average_soc": nullable_number, "total_power_kw": number,
                    },
                },
                "pcs": {
                    "type": "object",
                    "properties": {
                        "running": integer, "faulted": integer, "total": integer, "total_p_kw": number,
                    },
                },
                "grid": {
                    "type": "object",
                    "properties": {
                        "kw": nullable_number, "frequency_hz": nullable_number, "stale": {"type": "boolean"},
                    },
                },
                "today": {
                    "type": "object",
                    "properties": {
                        "charge_kwh": number, "discharge_kwh": number, "gaps": integer,
                        "income": {"anyOf": [{"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$"}, {"type": "null"}], "description": "Today's final dReg/E-dReg income so far (TWD), as GET /income/daily totals it; null when a store it needs is unreachable"},
                        "income_cents": {"anyOf": [integer, {"type": "null"}]}
                    },
                },
                "alerts": {
                    "type": "object",
                    "properties": {"active": integer, "critical": integer},
                },
                "mode": {"type": "string", "enum": ["dreg", "edreg", "idle"]},
                "updated_at": time,
            },
            "required": ["site", "bess", "pcs", "grid", "today", "alerts", "mode", "updated_at"],
        },
        "TopologyNode": {
            "title": "TopologyNode",
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "kind": {"type": "string", "enum": ["site", "meter", "inverter", "pcs", "bess"]},
                "name": {"type": "string"},
                "status": {"type": "string"},
                "metrics": {"type": "object", "additionalProperties": nullable_number},
                "updated_at": {"anyOf": [time, {"type": "null"}]},
                "children": {"type": "array", "items": schema_ref("TopologyNode")},
            },
            "required": ["id", "kind", "name", "status", "metrics", "updated_at"],
        },
        "RackStatus": {
            "title": "RackStatus",
            "type": "object",
            "properties": {
                "bess_number": {"type": "integer", "minimum": 1, "maximum": RACK_COUNT},
                "status": {"type": "string", "enum": ["idle", "charging", "discharging", "fault", "offline"]},
                "soc": {"type": "number", "description": "State of charge, %"},
                "soh": {"type": "number", "description": "State of health, %"},
                "voltage_v": number,
                "current_a": number,
                "power_kw": {"type": "number", "description": "Positive = discharge"},
                "cell_voltage_max_mv": integer,
                "cell_voltage_min_mv": integer,
                "cell_voltage_delta_mv": integer,
                "temperature_max_c": number,
                "temperature_min_c": number,
                "temperature_avg_c": number,
                "alarm_count": integer,
                "source": source,
                "stale": {"type": "boolean"},
                "updated_at": time,
            },
            "required": [
                "bess_number", "status", "soc", "soh", "voltage_v", "current_a", "power_kw",
                "cell_voltage_max_mv", "cell_voltage_min_mv", "cell_voltage_delta_mv",
                "temperature_max_c", "temperature_min_c", "temperature_avg_c", "alarm_count",
                "source", "stale", "updated_at",
            ],
        },
        "PcsStatus": {
            "title": "PcsStatus",
            "type": "object",
            "properties": {
                "pcs_number": {"type": "integer", "minimum": 0, "maximum": PCS_COUNT - 1},
                "status": {"type": "string", "enum": ["run", "stop", "fault"]},
                "p_kw": {"type": "number", "description": "Active power, kW; positive = discharge"},
                "q_kvar": {"type": "number", "description": "Reactive power, kVAr"},
                "dc_voltage_v": number,
                "dc_current_a": number,
                "ac_voltage_v": schema_ref("Phases"),
                "ac_current_a": schema_ref("Phases"),
                "frequency_hz": number,
                "fault_codes": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "description": "The active fault codes; empty when there is no fault",
                },
                "source": source,
                "stale": {"type": "boolean"},
                "updated_at": time,
            },
            "required": [
                "pcs_number", "status", "p_kw", "q_kvar", "dc_voltage_v", "dc_current_a",
                "ac_voltage_v", "ac_current_a", "frequency_hz", "fault_codes", "source", "stale",
                "updated_at",
            ],
        },
        "Phases": {
            "title": "Phases",
            "type": "object",
            "description": "One AC quantity on each phase",
            "properties": {"a": number, "b": number, "c": number},
            "required": ["a", "b", "c"],
        },
        "Alert": {
            "title": "Alert",
            "type": "object",
            "properties": {
                "id": integer,
                "device_kind": {"type": "string", "enum": ["bess", "pcs"]},
                "device_no": integer,
                "code": {"type": "string"},
                "level": {"type": "string", "enum": ["info", "warning", "critical"]},
                "message": {"type": "string"},
                "started_at": time,
                "cleared_at": {"anyOf": [time, {"type": "null"}]},
                "active": {"type": "boolean", "description": "Not yet cleared"},
                "acknowledged": {"type": "boolean"},
                "acknowledged_by": {"anyOf": [integer, {"type": "null"}], "description": "User id of who acknowledged it"},
                "acknowledged_at": {"anyOf": [time, {"type": "null"}]},
            },
            "required": [
                "id", "device_kind", "device_no", "code", "level", "message", "started_at",
                "cleared_at", "active", "acknowledged", "acknowledged_by", "acknowledged_at",
            ],
        },
        "AlertList": {
            "title": "AlertList",
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": schema_ref("Alert")},
                "count": integer,
            },
            "required": ["items", "count"],
        },
    }))
}
