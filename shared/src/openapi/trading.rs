//! The trading operations (schedule, income, execution rate) and their schemas.

use serde_json::{json, Map, Value};

use super::telemetry::{legacy, read_responses};
use super::{json_content, map, protected, query_param, response_ref, schema_ref, with_common};
use crate::schema::ess::PERM_TRADING_READ;
use crate::trading::{MAX_WEEKS, SCHEDULE_MODES};

/// `(path, item)` of every trading route, legacy paths included.
pub fn paths() -> Vec<(&'static str, Value)> {
    vec![
        ("/api/v1/schedule", schedule(None)),
        ("/api/schedule", schedule(Some("/api/v1/schedule"))),
        ("/api/v1/income/daily", daily(None)),
        ("/api/income/day", daily(Some("/api/v1/income/daily"))),
        ("/api/v1/income/monthly", monthly(None)),
        ("/api/income/month", monthly(Some("/api/v1/income/monthly"))),
        ("/api/v1/execution-rate", execution(None)),
        ("/api/exec_rate", execution(Some("/api/v1/execution-rate"))),
    ]
}

fn get(op: Value, params: Vec<Value>, successor: Option<&str>) -> Value {
    let op = map(op);
    let op = match successor {
        Some(s) => legacy(op, s),
        None => op,
    };
    json!({ "parameters": params, "get": protected(op, Some(PERM_TRADING_READ)) })
}

fn responses(description: &str, schema: &str, not_found: bool) -> Value {
    let mut r = read_responses(json!({
        "description": description,
        "content": json_content(schema_ref(schema)),
    }));
    if not_found {
        r.insert("404".into(), response_ref("NotFound"));
    }
    with_common(r, true)
}

fn date_param(what: &str) -> Value {
    query_param(
        "date",
        &format!("{what} (site-local date, YYYY-MM-DD); today by default"),
        json!({"type": "string", "format": "date"}),
    )
}

const SETTLEMENT: &str = "An event counts on the site-local day it starts on, even when it runs \
    past midnight. Its execution rate is compliant samples / expected samples (one per \
    `dreg_sample_interval_s` over the event window; a missing sample is non-compliant); a sample is \
    the PCS total (pcs0 + pcs1 rows at one time) against the expected power at the `MMAIN` \
    frequency of that time. Income = capacity × hours × price × factor, rounded to the cent per \
    event; totals are exact sums of cents. A running event shows its rate so far and no income; a \
    cancelled event earns 0. A day is settled `income_settled_after_days` after it ended and is \
    then served from a Redis cache keyed by the day and the dReg parameters.";

fn schedule(successor: Option<&str>) -> Value {
    get(
        json!({
            "tags": ["trading"],
            "summary": "The dReg/E-dReg schedule",
            "description": "Awarded events starting from local Monday 00:00 of the current week, \
                for `weeks` weeks, in start order, with totals over the events not cancelled.",
            "operationId": "schedule",
            "responses": responses("The schedule", "Schedule", false),
        }),
        vec![
            query_param(
                "mode",
                "Only events of this service",
                json!({"type": "string", "enum": SCHEDULE_MODES, "default": "all"}),
            ),
            query_param(
                "weeks",
                "How many weeks to show",
                json!({"type": "integer", "minimum": 1, "maximum": MAX_WEEKS, "default": 1}),
            ),
        ],
        successor,
    )
}

fn daily(successor: Option<&str>) -> Value {
    get(
        json!({
            "tags": ["trading"],
            "summary": "A day's income",
            "description": format!("Every event starting on the day with its execution rate, \
                performance factor and income, and the day's total. {SETTLEMENT}"),
            "operationId": "income_daily",
            "responses": responses("The day's settlement", "DayIncome", false),
        }),
        vec![date_param("The day")],
        successor,
    )
}

fn monthly(successor: Option<&str>) -> Value {
    get(
        json!({
            "tags": ["trading"],
            "summary": "A month's income",
            "description": format!("Every day of the month (days without events are 0) and the \
                month's total, which is exactly the sum of the days' totals as `GET \
                /income/daily` gives them. {SETTLEMENT}"),
            "operationId": "income_monthly",
            "responses": responses("The month's settlement", "MonthIncome", false),
        }),
        vec![query_param(
            "month",
            "The month (YYYY-MM, site time); this month by default",
            json!({"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}),
        )],
        successor,
    )
}

fn execution(successor: Option<&str>) -> Value {
    get(
        json!({
            "tags": ["trading"],
            "summary": "Execution rates",
            "description": format!("One event (`event_id`; 404 when unknown) or the events \
                starting on a day (`date`, today by default; not both), with the sample counts \
                behind each rate and their sum over the finished events. {SETTLEMENT}"),
            "operationId": "execution_rate",
            "responses": responses("The events' execution", "ExecutionReport", true),
        }),
        vec![
            query_param(
                "event_id",
                "One schedule event",
                json!({"type": "integer", "minimum": 1}),
            ),
            date_param("The events starting on this day"),
        ],
        successor,
    )
}

pub fn schemas() -> Map<String, Value> {
    let time = json!({"type": "string", "format": "date-time", "description": "ISO 8601 with the site's offset"});
    let money = json!({"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$", "description": "TWD, exact, two decimals"});
    let cents = json!({"type": "integer", "description": "The same amount in TWD cents"});
    let integer = json!({"type": "integer", "minimum": 0});
    let number = json!({"type": "number"});
    let mode = json!({"type": "string", "enum": ["dreg", "edreg"]});
    let status = json!({"type": "string", "enum": ["scheduled", "active", "completed", "cancelled"], "description": "As the trading server keeps it"});
    let nullable = |schema: &Value| json!({"anyOf": [schema, {"type": "null"}]});
    let day_fields = [
        "date",
        "events",
        "pending_events",
        "total",
        "total_cents",
        "settled",
    ];
    map(json!({
        "ScheduledEvent": {
            "type": "object",
            "properties": {
                "id": integer, "start": time, "end": time, "mode": mode, "status": status,
                "capacity_mw": {"type": "number", "description": "Awarded capacity, MW"},
                "hours": number,
                "price": {"type": "string", "description": "Capacity price, TWD per MW·h, exact"},
                "price_cents": cents,
            },
            "required": ["id", "start", "end", "mode", "status", "capacity_mw", "hours", "price", "price_cents"],
        },
        "Schedule": {
            "type": "object",
            "properties": {
                "from": time, "to": time,
                "mode": {"type": "string", "enum": SCHEDULE_MODES},
                "weeks": integer,
                "events": {"type": "array", "items": schema_ref("ScheduledEvent")},
                "totals": {
                    "type": "object",
                    "properties": {
                        "events": integer, "dreg_events": integer, "edreg_events": integer,
                        "cancelled_events": integer, "hours": number,
                        "awarded_mwh": {"type": "number", "description": "Σ capacity × hours"},
                    },
                    "required": ["events", "dreg_events", "edreg_events", "cancelled_events", "hours", "awarded_mwh"],
                },
            },
            "required": ["from", "to", "mode", "weeks", "events", "totals"],
        },
        "EventIncome": {
            "type": "object",
            "properties": {
                "id": integer, "start": time, "end": time, "mode": mode, "status": status,
                "phase": {"type": "string", "enum": ["final", "in_progress", "upcoming", "cancelled"], "description": "final: over, its income counts; in_progress: rate so far, no income yet"},
                "capacity_mw": number, "hours": number,
                "price": {"type": "string", "description": "TWD per MW·h, exact"},
                "price_cents": cents,
                "expected_samples": integer, "present_samples": integer, "compliant_samples": integer,
                "execution_rate": nullable(&json!({"type": "number", "minimum": 0, "maximum": 1})),
                "factor": nullable(&json!({"type": "number", "minimum": 0, "maximum": 1})),
                "income": nullable(&money),
                "income_cents": nullable(&json!({"type": "integer"})),
            },
            "required": ["id", "start", "end", "mode", "status", "phase", "capacity_mw", "hours", "price",
                "price_cents", "expected_samples", "present_samples", "compliant_samples",
                "execution_rate", "factor", "income", "income_cents"],
        },
        "DayIncome": {
            "type": "object",
            "properties": {
                "date": {"type": "string", "format": "date"},
                "events": {"type": "array", "items": schema_ref("EventIncome")},
                "total": money, "total_cents": cents,
                "pending_events": integer,
                "settled": {"type": "boolean", "description": "Final for good (and cached)"},
                "currency": {"type": "string", "const": "TWD"},
            },
            "required": ["date", "events", "total", "total_cents", "pending_events", "settled", "currency"],
        },
        "MonthIncome": {
            "type": "object",
            "properties": {
                "month": {"type": "string"},
                "days": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "date": {"type": "string", "format": "date"},
                        "events": integer, "pending_events": integer,
                        "total": money, "total_cents": cents, "settled": {"type": "boolean"},
                    },
                    "required": day_fields,
                }},
                "events": integer, "pending_events": integer,
                "total": money, "total_cents": cents,
                "currency": {"type": "string", "const": "TWD"},
            },
            "required": ["month", "days", "events", "pending_events", "total", "total_cents", "currency"],
        },
        "ExecutionReport": {
            "type": "object",
            "properties": {
                "date": nullable(&json!({"type": "string", "format": "date"})),
                "event_id": nullable(&json!({"type": "integer"})),
                "events": {"type": "array", "items": schema_ref("EventIncome")},
                "expected_samples": integer, "compliant_samples": integer,
                "execution_rate": nullable(&json!({"type": "number", "minimum": 0, "maximum": 1})),
            },
            "required": ["date", "event_id", "events", "expected_samples", "compliant_samples", "execution_rate"],
        },
    }))
}
