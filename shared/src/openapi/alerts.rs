//! The site-wide alert operations (`alerts` component) and their schemas.

use serde_json::{json, Map, Value};

use super::telemetry::{alert_params, read_responses};
use super::{json_content, map, protected, query_param, response_ref, schema_ref, with_common};
use crate::alerts::{DEVICE_KINDS, LEVELS};
use crate::schema::ess::{PERM_ALERTS_ACK, PERM_TELEMETRY_READ};
use crate::schema::RACK_COUNT;

/// `(path, item)` of every alert route.
pub fn paths() -> Vec<(&'static str, Value)> {
    vec![
        ("/api/v1/alerts", list()),
        ("/api/v1/alerts/{alert_id}/ack", acknowledge()),
    ]
}

fn list() -> Value {
    let responses = read_responses(json!({
        "description": "A page of the matching alerts, newest first, and how many match in all",
        "content": json_content(schema_ref("AlertPage")),
    }));
    let mut parameters = vec![
        query_param(
            "device_kind",
            "Only alerts of this kind of device",
            json!({"type": "string", "enum": DEVICE_KINDS}),
        ),
        query_param(
            "device_no",
            "Only alerts of the device with this number (racks 1..12, PCS 0..1; with \
             `device_kind`, a number that kind does not have is a 422)",
            json!({"type": "integer", "minimum": 0, "maximum": RACK_COUNT}),
        ),
        query_param(
            "level",
            "Only alerts of this level",
            json!({"type": "string", "enum": LEVELS}),
        ),
    ];
    parameters.extend(alert_params());
    let op = map(json!({
        "tags": ["alerts"],
        "summary": "The site's alerts",
        "operationId": "list_alerts",
        "parameters": parameters,
        "responses": with_common(responses, true),
    }));
    json!({ "get": protected(op, Some(PERM_TELEMETRY_READ)) })
}

fn acknowledge() -> Value {
    let responses = map(json!({
        "200": {
            "description": "The alert, acknowledged (by the first caller who did, when it already was)",
            "content": json_content(schema_ref("Alert")),
        },
        "401": response_ref("Unauthorized"),
        "403": response_ref("Forbidden"),
        "404": response_ref("NotFound"),
        "422": response_ref("ValidationError"),
    }));
    let op = map(json!({
        "tags": ["alerts"],
        "summary": "Acknowledge an alert",
        "description": "Records the caller's user id and the time (UTC) as `acknowledged_by` and \
            `acknowledged_at`. Acknowledging an acknowledged alert changes nothing: the first \
            acknowledgement is kept and the alert is answered as it is.",
        "operationId": "acknowledge_alert",
        "responses": with_common(responses, true),
    }));
    json!({
        "parameters": [{
            "name": "alert_id",
            "in": "path",
            "required": true,
            "schema": {"type": "integer", "minimum": 1, "title": "Alert Id"},
        }],
        "post": protected(op, Some(PERM_ALERTS_ACK)),
    })
}

/// The schemas these operations use (`Alert` is the telemetry module's).
pub fn schemas() -> Map<String, Value> {
    map(json!({
        "AlertPage": {
            "title": "AlertPage",
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": schema_ref("Alert")},
                "count": {"type": "integer", "description": "Alerts on this page (at most `limit`)"},
                "total": {"type": "integer", "description": "Alerts matching the filters in all"},
            },
            "required": ["items", "count", "total"],
        },
    }))
}
