//! Real-time operations: the caller's notification preferences (`alerts` component) and the live
//! event stream (`stream` component), with their schemas.

use serde_json::{json, Map, Value};

use super::{json_content, map, protected, query_param, response_ref, schema_ref, with_common};
use crate::alerts::LEVELS;
use crate::realtime::prefs::{KINDS, MAX_CHANNELS, MAX_TARGET_LEN};
use crate::realtime::stream::{DEFAULT_TOPICS, TOPICS};
use crate::schema::ess::PERM_TELEMETRY_READ;

/// `(path, item)` of every real-time route.
pub fn paths() -> Vec<(&'static str, Value)> {
    vec![
        ("/api/v1/me/notifications", preferences()),
        ("/api/v1/stream", stream()),
    ]
}

fn guarded_responses(ok: Value, validates: bool) -> Map<String, Value> {
    let mut responses = map(json!({
        "200": ok,
        "401": response_ref("Unauthorized"),
        "403": response_ref("Forbidden"),
    }));
    if validates {
        responses.insert("422".into(), response_ref("ValidationError"));
    }
    responses
}

fn preferences() -> Value {
    let ok = json!({
        "description": "The caller's notification preferences (no channels and no quiet hours \
            until first saved)",
        "content": json_content(schema_ref("NotificationPreferences")),
    });
    let get = map(json!({
        "tags": ["alerts"],
        "summary": "My notification preferences",
        "operationId": "get_my_notifications",
        "responses": with_common(guarded_responses(ok.clone(), false), true),
    }));
    let put = map(json!({
        "tags": ["alerts"],
        "summary": "Replace my notification preferences",
        "description": "Replaces the caller's channels and quiet hours. Webhook and Slack targets \
            must be `https://` URLs on the hosts the site allows its notifier to reach \
            (`notify_user_webhook_host`, `notify_user_slack_host`): a target elsewhere is a 422 \
            naming the allowed pattern, as is any webhook when the site has no signing secret. \
            LINE targets are LINE user ids, pushed to through the site's LINE channel. Alerts are \
            sent from each channel's minimum level; during quiet hours only critical ones.",
        "operationId": "put_my_notifications",
        "requestBody": {
            "required": true,
            "content": json_content(schema_ref("NotificationPreferencesIn")),
        },
        "responses": with_common(guarded_responses(ok, true), true),
    }));
    json!({
        "get": protected(get, Some(PERM_TELEMETRY_READ)),
        "put": protected(put, Some(PERM_TELEMETRY_READ)),
    })
}

fn stream() -> Value {
    let ok = json!({
        "description": "`text/event-stream`: `event: alert` (an alert event; its `id:` is what \
            `Last-Event-ID` resumes from), `event: snapshot` (every second: the live values of \
            the topics asked for), `: heartbeat` comments, and at the end `event: end` with \
            the reason (`limit`). Reconnect with `Last-Event-ID` to get the alert events missed.",
        // One server-sent event, as a client's parser hands it over (comments are not events).
        "content": {"text/event-stream": {"schema": {
            "title": "ServerSentEvent",
            "type": "object",
            "properties": {
                "event": {"type": "string", "enum": ["alert", "snapshot", "end"]},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "description": "`alert`: the alert event; `snapshot`: `{at, <topic>: ...}`; \
                        `end`: `{reason}`",
                },
                "id": {"type": "string", "description": "An alert event's id (`event: alert` only)"},
                "retry": {"type": "integer", "minimum": 0},
            },
        }}},
    });
    let parameters = vec![
        query_param(
            "topics",
            "Comma-separated: `alerts`, `meters`, `bess`, `pcs` (default all but `pcs`)",
            json!({"type": "string", "default": DEFAULT_TOPICS.join(","), "x-enum": TOPICS}),
        ),
        query_param(
            "access_token",
            "The access token, for clients that cannot set headers (browsers' EventSource). \
             It then appears in URLs (server and proxy logs, browser history): prefer the \
             `Authorization` header where the client can set it",
            json!({"type": "string"}),
        ),
        query_param(
            "max_seconds",
            "How long the stream lasts before it ends (the client reconnects); at most the \
             server's `stream_max_seconds`",
            json!({"type": "integer", "minimum": 1}),
        ),
        json!({
            "name": "Last-Event-ID",
            "in": "header",
            "description": "Resume after this alert event (the `id:` of the last one received): \
                the alert events since then are sent first",
            "schema": {"type": "string"},
        }),
    ];
    let op = map(json!({
        "tags": ["alerts"],
        "summary": "Live stream of alert events and live values",
        "description": "Server-sent events for a bounded time (`stream_max_seconds`, 60 s by \
            default); heartbeats every `stream_heartbeat_seconds` keep proxies from closing it.",
        "operationId": "stream_events",
        "parameters": parameters,
        "responses": with_common(guarded_responses(ok, true), true),
    }));
    json!({ "get": protected(op, Some(PERM_TELEMETRY_READ)) })
}

pub fn schemas() -> Map<String, Value> {
    let channel = json!({
        "title": "NotificationChannel",
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": KINDS},
            "target": {
                "type": "string",
                "maxLength": MAX_TARGET_LEN,
                "description": "`https://` URL (webhook, slack) on a host the site allows \
                    (`notify_user_webhook_host`, `notify_user_slack_host`; 422 otherwise), or \
                    LINE user id (line), pushed to through the site's LINE channel",
            },
            "min_level": {"type": "string", "enum": LEVELS, "default": "warning"},
        },
        "required": ["kind", "target"],
    });
    let quiet = json!({
        "title": "QuietHours",
        "type": "object",
        "description": "Site time; a start after the end spans midnight. Only critical alerts \
            are sent during quiet hours.",
        "properties": {
            "start": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
            "end": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
        },
        "required": ["start", "end"],
    });
    map(json!({
        "NotificationChannel": channel,
        "QuietHours": quiet,
        "NotificationPreferencesIn": {
            "title": "NotificationPreferencesIn",
            "type": "object",
            "properties": {
                "channels": {
                    "type": "array",
                    "items": schema_ref("NotificationChannel"),
                    "maxItems": MAX_CHANNELS,
                },
                "quiet_hours": {"anyOf": [schema_ref("QuietHours"), {"type": "null"}]},
            },
            "required": ["channels"],
        },
        "NotificationPreferences": {
            "title": "NotificationPreferences",
            "type": "object",
            "properties": {
                "channels": {"type": "array", "items": schema_ref("NotificationChannel")},
                "quiet_hours": {"anyOf": [schema_ref("QuietHours"), {"type": "null"}]},
                "timezone": {"type": "string", "description": "The site's UTC offset"},
                "updated_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                "webhook_signing_key": {
                    "anyOf": [{"type": "string"}, {"type": "null"}],
                    "description": "The HMAC-SHA256 key (its text, as is) your webhook deliveries are signed with \
                        (`x-solarhub-signature: sha256=<hex of HMAC(key, timestamp + \".\" + \
                        body)>`, `x-solarhub-timestamp`); yours alone. Null when the site signs \
                        no webhooks, and then sends none to users' URLs.",
                },
            },
            "required": ["channels", "quiet_hours", "timezone", "updated_at", "webhook_signing_key"],
        },
    }))
}
