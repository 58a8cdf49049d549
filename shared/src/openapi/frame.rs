//! The dashboard frame's operations (sidebar, header) and their schemas.

use serde_json::{json, Map, Value};

use super::telemetry::legacy;
use super::{json_content, map, protected, response_ref, schema_ref, with_common};

pub fn paths() -> Vec<(&'static str, Value)> {
    vec![
        ("/api/v1/config/sidebar", sidebar(None)),
        ("/api/sidebar_info", sidebar(Some("/api/v1/config/sidebar"))),
        ("/api/v1/config/header", header(None)),
        ("/api/header_info", header(Some("/api/v1/config/header"))),
    ]
}

fn operation(op: Map<String, Value>, successor: Option<&str>) -> Value {
    let op = match successor {
        Some(successor) => legacy(op, successor),
        None => op,
    };
    json!({ "get": protected(op, None) })
}

fn sidebar(successor: Option<&str>) -> Value {
    let responses = map(json!({
        "200": {"description": "The caller's sidebar", "content": json_content(schema_ref("Sidebar"))},
        "401": response_ref("Unauthorized"),
    }));
    let op = map(json!({
        "tags": ["config"],
        "summary": "Dashboard sidebar",
        "description": "Menu entries the caller's permissions allow; device lists and active-alert \
            badges for callers holding `telemetry:read` (null otherwise).",
        "operationId": "sidebar",
        "responses": with_common(responses, true),
    }));
    operation(op, successor)
}

fn header(successor: Option<&str>) -> Value {
    let responses = map(json!({
        "200": {"description": "The header", "content": json_content(schema_ref("Header"))},
        "401": response_ref("Unauthorized"),
    }));
    let op = map(json!({
        "tags": ["config"],
        "summary": "Dashboard header",
        "description": "Site name, site-local now, the caller, the schedule mode running now, whether \
            each store answered, active alerts. A MySQL or GTR Redis outage is reported in \
            `connectivity` (mode and active alerts null) rather than failing the request.",
        "operationId": "header",
        "responses": with_common(responses, true),
    }));
    operation(op, successor)
}

pub fn schemas() -> Map<String, Value> {
    let count = json!({"type": "integer", "minimum": 0});
    map(json!({
        "MenuEntry": {
            "title": "MenuEntry",
            "type": "object",
            "properties": {
                "id": {"type": "string"}, "label": {"type": "string"},
                "path": {"type": "string"}, "permission": {"type": "string"},
            },
            "required": ["id", "label", "path", "permission"],
        },
        "Sidebar": {
            "title": "Sidebar",
            "type": "object",
            "properties": {
                "menu": {"type": "array", "items": schema_ref("MenuEntry")},
                "devices": {"anyOf": [{
                    "type": "object",
                    "properties": {
                        "racks": {"type": "array", "items": {"type": "integer"}},
                        "pcs": {"type": "array", "items": {"type": "integer"}},
                        "meters": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["racks", "pcs", "meters"],
                }, {"type": "null"}]},
                "badges": {"anyOf": [{
                    "type": "object",
                    "properties": {"alerts_bess": count, "alerts_pcs": count, "alerts_total": count},
                    "required": ["alerts_bess", "alerts_pcs", "alerts_total"],
                }, {"type": "null"}]},
            },
            "required": ["menu", "devices", "badges"],
        },
        "Header": {
            "title": "Header",
            "type": "object",
            "properties": {
                "site_name": {"type": "string"},
                "now": {"type": "string", "format": "date-time"},
                "caller": {
                    "type": "object",
                    "properties": {
                        "username": {"type": "string"},
                        "roles": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["username", "roles"],
                },
                "mode": {"anyOf": [{"type": "string", "enum": ["dreg", "edreg", "idle"]}, {"type": "null"}]},
                "connectivity": {
                    "type": "object",
                    "properties": {
                        "mysql": {"type": "boolean"}, "redis_main": {"type": "boolean"},
                        "redis_gtr": {"type": "boolean"},
                    },
                    "required": ["mysql", "redis_main", "redis_gtr"],
                },
                "active_alerts": {"anyOf": [count, {"type": "null"}]},
            },
            "required": ["site_name", "now", "caller", "mode", "connectivity", "active_alerts"],
        },
    }))
}
