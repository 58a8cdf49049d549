//! `GET/PUT /api/v1/me/notifications` on both runtimes: defaults, a round trip stored in `ess`,
//! each caller sees only their own, and 401, 403, 405 and 422 (every bad field located).

#[macro_use]
mod common;

use common::api::{assert_401, assert_403, assert_422, get, put_json, token};
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use solarhub_host::client::Reply;
use solarhub_shared::realtime::sign;
use solarhub_shared::schema::Database;

const PATH: &str = "/api/v1/me/notifications";

async fn put(app: &TestApp, token: Option<&str>, body: &Value) -> Reply {
    put_json(app, PATH, token, body).await
}

const SECRET: &str = "webhook secret for the tests";

/// The site lets users' webhooks reach example.com's subdomains, and signs them.
const OPEN: [(&str, &str); 2] = [
    ("notify_user_webhook_host", "https://*.example.com"),
    ("notify_webhook_secret", SECRET),
];

async fn preferences_round_trip_per_user(rt: Runtime) {
    let site = Site::new("prefs_ok", &[Database::Ess]).await;
    let vera = site.add_user("vera", &["viewer"]).await;
    site.add_user("otto", &["operator"]).await;
    let app = common::start_app(rt, site.variables(), &OPEN).await;
    let viewer = token(&app, "vera").await;
    let operator = token(&app, "otto").await;

    let empty = get(&app, PATH, Some(&viewer)).await;
    assert_eq!(empty.status, 200, "{}", empty.text());
    // The key vera's webhook deliveries are signed with: hers alone.
    let key = sign::user_key(SECRET.as_bytes(), vera);
    assert_eq!(
        empty.json().unwrap(),
        json!({"channels": [], "quiet_hours": null, "timezone": "+08:00", "updated_at": null,
               "webhook_signing_key": key})
    );

    let wanted = json!({
        "channels": [
            {"kind": "webhook", "target": "https://ops.example.com/hooks/solar", "min_level": "info"},
            {"kind": "line", "target": "U0123456789abcdef0123456789abcdef"},
        ],
        "quiet_hours": {"start": "22:00", "end": "06:30"},
    });
    let saved = put(&app, Some(&viewer), &wanted).await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    let body = saved.json().unwrap();
    assert_eq!(body["channels"][0], wanted["channels"][0]);
    // The level defaults to warning.
    assert_eq!(
        body["channels"][1],
        json!({"kind": "line", "target": "U0123456789abcdef0123456789abcdef", "min_level": "warning"})
    );
    assert_eq!(body["quiet_hours"], wanted["quiet_hours"]);
    assert!(body["updated_at"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(get(&app, PATH, Some(&viewer)).await.json().unwrap(), body);

    // Stored in ess, for the notifier to read.
    let mut conn = site.mysql().await;
    let row: Option<(String, Option<String>, Option<String>)> = conn
        .exec_first(
            "SELECT channels, quiet_start, quiet_end FROM notification_prefs WHERE user_id = ?",
            (vera,),
        )
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    let (channels, start, end) = row.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&channels).unwrap(),
        body["channels"]
    );
    assert_eq!(
        (start.as_deref(), end.as_deref()),
        (Some("22:00"), Some("06:30"))
    );

    // Someone else's are their own, and so is their key; replacing clears quiet hours when left
    // out.
    let others = get(&app, PATH, Some(&operator)).await.json().unwrap();
    assert_eq!(others["channels"], json!([]));
    assert_ne!(others["webhook_signing_key"], json!(key));
    let cleared = put(&app, Some(&viewer), &json!({"channels": []})).await;
    assert_eq!(cleared.status, 200);
    assert_eq!(cleared.json().unwrap()["quiet_hours"], Value::Null);
    app.stop().await.unwrap();
}

async fn refused_callers_and_bad_preferences(rt: Runtime) {
    let site = Site::new("prefs_bad", &[Database::Ess]).await;
    site.add_user("vera", &["viewer"]).await;
    site.add_user("nora", &[]).await;
    let app = common::start_app(rt, site.variables(), &[]).await;
    let viewer = token(&app, "vera").await;
    let nobody = token(&app, "nora").await;

    assert_401(&get(&app, PATH, None).await);
    assert_401(&put(&app, None, &json!({"channels": []})).await);
    assert_403(&get(&app, PATH, Some(&nobody)).await, "telemetry:read");
    assert_403(
        &put(&app, Some(&nobody), &json!({"channels": []})).await,
        "telemetry:read",
    );
    let delete = common::api::call(&app, "DELETE", PATH, Some(&viewer)).await;
    assert_eq!(delete.status, 405);
    assert_eq!(delete.header("allow"), Some("GET, PUT"));

    let bad = put(
        &app,
        Some(&viewer),
        &json!({
            "channels": [
                {"kind": "webhook", "target": "http://ops.example.com/hook"},
                {"kind": "slack", "target": "https://hooks.slack.com/x", "min_level": "urgent"},
                {"kind": "sms", "target": "+886900000000"},
                {"kind": "line", "target": "@bob"},
            ],
            "quiet_hours": {"start": "23:00", "end": "24:00"},
        }),
    )
    .await;
    assert_422(&bad, json!(["body", "channels", 0, "target"]), "url_scheme");
    assert_422(&bad, json!(["body", "channels", 1, "min_level"]), "enum");
    assert_422(&bad, json!(["body", "channels", 2, "kind"]), "enum");
    assert_422(
        &bad,
        json!(["body", "channels", 3, "target"]),
        "string_pattern_mismatch",
    );
    assert_422(
        &bad,
        json!(["body", "quiet_hours", "end"]),
        "string_pattern_mismatch",
    );
    assert_eq!(bad.json().unwrap()["detail"].as_array().unwrap().len(), 5);
    // Well-formed, but where this site's notifier may not go: by default no user webhooks (and
    // no signing secret), and Slack only on hooks.slack.com.
    let elsewhere = put(
        &app,
        Some(&viewer),
        &json!({"channels": [
            {"kind": "slack", "target": "https://hooks.slack.com/services/T/B/x"},
            {"kind": "webhook", "target": "https://ops.example.com/hook"},
            {"kind": "slack", "target": "https://chat.example.com/hook"},
        ]}),
    )
    .await;
    assert_422(
        &elsewhere,
        json!(["body", "channels", 1, "target"]),
        "value_error",
    );
    assert_422(
        &elsewhere,
        json!(["body", "channels", 2, "target"]),
        "value_error",
    );
    let detail = elsewhere.json().unwrap()["detail"].clone();
    assert_eq!(detail.as_array().unwrap().len(), 2, "{detail}");
    assert_eq!(
        detail[1]["msg"],
        "Value error, this site sends Slack notifications only to URLs on https://hooks.slack.com"
    );
    assert_422(
        &put(&app, Some(&viewer), &json!({})).await,
        json!(["body", "channels"]),
        "missing",
    );
    assert_422(
        &put(&app, Some(&viewer), &json!([1, 2])).await,
        json!(["body"]),
        "model_attributes_type",
    );
    // Nothing was stored by the refused requests; no key where nothing is signed.
    let unchanged = get(&app, PATH, Some(&viewer)).await.json().unwrap();
    assert_eq!(unchanged["updated_at"], Value::Null);
    assert_eq!(unchanged["webhook_signing_key"], Value::Null);
    app.stop().await.unwrap();
}

on_both_runtimes!(
    preferences_round_trip_per_user,
    refused_callers_and_bad_preferences
);
