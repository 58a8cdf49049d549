//! The site-wide alert routes end to end, on both runtimes, against a throw-away site: alerts
//! written to MySQL by the test, listed with every filter, acknowledged by users of each role, the
//! recorded acknowledgement read back from MySQL. Expected answers come from what the test wrote.

#[macro_use]
mod common;

use common::api::{assert_401, assert_403, assert_422, call, get, iso_of, now, sql, token};
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use solarhub_host::client::Reply;
use solarhub_shared::schema::Database;

struct Users {
    operator: u64,
    admin: u64,
}

async fn start(rt: Runtime, site: &Site, overrides: &[(&str, &str)]) -> TestApp {
    common::start_app(rt, site.variables(), overrides).await
}

async fn site(tag: &str) -> (Site, Users) {
    let site = Site::new(tag, &[Database::Ess]).await;
    site.add_user("vera", &["viewer"]).await;
    let operator = site.add_user("otto", &["operator"]).await;
    let admin = site.add_user("ada", &["admin"]).await;
    site.add_user("nora", &[]).await;
    (site, Users { operator, admin })
}

/// Seven alerts over both kinds of device, in no particular order; codes are unique.
async fn write_alerts(site: &Site) {
    let ess = site.db_name(Database::Ess);
    sql(
        site,
        &format!(
            "INSERT INTO `{ess}`.alerts (device_kind, device_no, code, level, message, started_at, cleared_at, acknowledged) VALUES \
             ('bess', 3, 'CELL_OV', 'critical', 'Cell over-voltage', '2026-11-20 01:00:00', NULL, 0), \
             ('pcs', 0, 'IGBT_OT', 'critical', 'IGBT over-temperature', '2026-11-22 06:00:00', NULL, 0), \
             ('bess', 3, 'TEMP_HI', 'warning', 'High temperature', '2026-11-21 02:00:00', '2026-11-21 03:00:00', 1), \
             ('pcs', 1, 'GRID_UV', 'warning', 'Grid under-voltage', '2026-11-21 08:00:00', NULL, 0), \
             ('bess', 12, 'COMM', 'info', 'Link restored', '2026-11-22 04:30:00', NULL, 0), \
             ('bess', 1, 'SOC_LOW', 'warning', 'Low state of charge', '2026-11-19 23:00:00', '2026-11-20 00:00:00', 0), \
             ('pcs', 0, 'FAN', 'info', 'Fan restarted', '2026-11-22 07:15:00', '2026-11-22 07:16:00', 0)"
        ),
    )
    .await;
}

/// The codes of a listing, checking its page count and total on the way.
fn page(reply: &Reply, total: u64) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json().unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(body["count"], items.len(), "{body}");
    assert_eq!(body["total"], total, "{body}");
    items
        .iter()
        .map(|a| a["code"].as_str().unwrap().to_owned())
        .collect()
}

/// The id of the alert with `code`.
async fn alert_id(site: &Site, code: &str) -> u64 {
    let mut conn = site.mysql().await;
    let id: Option<u64> = conn
        .exec_first("SELECT id FROM alerts WHERE code = ?", (code,))
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    id.unwrap()
}

/// `(acknowledged, acknowledged_by, acknowledged_at as Unix seconds)` as stored.
async fn stored_ack(site: &Site, id: u64) -> (bool, Option<u64>, Option<i64>) {
    let mut conn = site.mysql().await;
    // UTC in the table; TIMESTAMPDIFF keeps the session time zone out of it.
    let row: Option<(bool, Option<u64>, Option<i64>)> = conn
        .exec_first(
            "SELECT acknowledged = 1, acknowledged_by, \
             TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', acknowledged_at) \
             FROM alerts WHERE id = ?",
            (id,),
        )
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    row.unwrap()
}

fn ack_path(id: impl std::fmt::Display) -> String {
    format!("/api/v1/alerts/{id}/ack")
}

async fn who_may_list_and_acknowledge(rt: Runtime) {
    let (site, _) = site("alerts_auth").await;
    write_alerts(&site).await;
    let id = alert_id(&site, "CELL_OV").await;
    let app = start(rt, &site, &[]).await;
    let nobody = token(&app, "nora").await;
    let viewer = token(&app, "vera").await;
    let operator = token(&app, "otto").await;
    let admin = token(&app, "ada").await;

    assert_401(&get(&app, "/api/v1/alerts", None).await);
    assert_403(
        &get(&app, "/api/v1/alerts", Some(&nobody)).await,
        "telemetry:read",
    );
    for reader in [&viewer, &operator, &admin] {
        assert_eq!(
            page(&get(&app, "/api/v1/alerts", Some(reader)).await, 7).len(),
            7
        );
    }

    let ack = ack_path(id);
    assert_401(&call(&app, "POST", &ack, None).await);
    for lacking in [&nobody, &viewer] {
        assert_403(&call(&app, "POST", &ack, Some(lacking)).await, "alerts:ack");
    }
    assert_eq!(
        stored_ack(&site, id).await,
        (false, None, None),
        "a 403 records nothing"
    );
    for acker in [&operator, &admin] {
        let reply = call(&app, "POST", &ack, Some(acker)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }

    // Wrong methods name the right one; other paths under /alerts are unknown.
    let post = call(&app, "POST", "/api/v1/alerts", Some(&admin)).await;
    assert_eq!((post.status, post.header("allow")), (405, Some("GET")));
    let get_ack = get(&app, &ack, Some(&admin)).await;
    assert_eq!(
        (get_ack.status, get_ack.header("allow")),
        (405, Some("POST"))
    );
    for path in ["/api/v1/alerts/1", "/api/v1/alerts/1/ack/again"] {
        let reply = call(&app, "POST", path, Some(&admin)).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text());
        assert_eq!(reply.json().unwrap()["detail"], "Not Found");
    }
    app.stop().await.unwrap();
}

async fn site_alerts_are_filtered_counted_and_newest_first(rt: Runtime) {
    let (site, _) = site("alerts_list").await;
    write_alerts(&site).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let list = |query: &str| {
        let path = format!("/api/v1/alerts{query}");
        let app = &app;
        let viewer = &viewer;
        async move { get(app, &path, Some(viewer)).await }
    };

    let all = list("").await;
    assert_eq!(
        page(&all, 7),
        ["FAN", "IGBT_OT", "COMM", "GRID_UV", "TEMP_HI", "CELL_OV", "SOC_LOW"]
    );
    let body: Value = all.json().unwrap();
    assert_eq!(
        body["items"][0],
        json!({
            "id": body["items"][0]["id"], "device_kind": "pcs", "device_no": 0, "code": "FAN",
            "level": "info", "message": "Fan restarted",
            "started_at": "2026-11-22T15:15:00+08:00", "cleared_at": "2026-11-22T15:16:00+08:00",
            "active": false, "acknowledged": false, "acknowledged_by": null, "acknowledged_at": null,
        })
    );
    // A page shorter than what matches: `total` still counts every match.
    assert_eq!(page(&list("?limit=2").await, 7), ["FAN", "IGBT_OT"]);
    assert_eq!(
        page(&list("?device_kind=pcs").await, 3),
        ["FAN", "IGBT_OT", "GRID_UV"]
    );
    assert_eq!(page(&list("?device_kind=bess&limit=1").await, 4), ["COMM"]);
    assert_eq!(
        page(&list("?device_kind=pcs&device_no=0").await, 2),
        ["FAN", "IGBT_OT"]
    );
    // A number alone: that number on any kind (rack 3 only here; no PCS 3 exists).
    assert_eq!(page(&list("?device_no=3").await, 2), ["TEMP_HI", "CELL_OV"]);
    assert_eq!(
        page(&list("?level=warning").await, 3),
        ["GRID_UV", "TEMP_HI", "SOC_LOW"]
    );
    assert_eq!(
        page(&list("?level=critical&active_only=true").await, 2),
        ["IGBT_OT", "CELL_OV"]
    );
    assert_eq!(
        page(&list("?active_only=true&limit=3").await, 4),
        ["IGBT_OT", "COMM", "GRID_UV"]
    );
    // `since` is a site-local date or an ISO datetime: 2026-11-21 starts at 2026-11-20T16:00Z.
    assert_eq!(
        page(&list("?since=2026-11-21").await, 5),
        ["FAN", "IGBT_OT", "COMM", "GRID_UV", "TEMP_HI"]
    );
    assert_eq!(
        page(
            &list("?since=2026-11-22T12:30:00%2B08:00&device_kind=bess").await,
            1
        ),
        ["COMM"]
    );
    assert_eq!(
        page(
            &list("?device_kind=pcs&level=critical&device_no=1").await,
            0
        ),
        Vec::<String>::new()
    );
    app.stop().await.unwrap();
}

async fn bad_filters_and_ids_are_422(rt: Runtime) {
    let (site, _) = site("alerts_422").await;
    let app = start(rt, &site, &[]).await;
    let operator = token(&app, "otto").await;
    let many = get(
        &app,
        "/api/v1/alerts?device_kind=inverter&device_no=x&level=fatal&active_only=perhaps&since=soon&limit=501",
        Some(&operator),
    )
    .await;
    assert_422(&many, json!(["query", "device_kind"]), "enum");
    assert_422(&many, json!(["query", "device_no"]), "int_parsing");
    assert_422(&many, json!(["query", "level"]), "enum");
    assert_422(&many, json!(["query", "active_only"]), "bool_parsing");
    assert_422(
        &many,
        json!(["query", "since"]),
        "datetime_from_date_parsing",
    );
    assert_422(&many, json!(["query", "limit"]), "less_than_equal");
    for (query, kind) in [
        ("?limit=0", "greater_than_equal"),
        ("?device_kind=pcs&device_no=2", "less_than_equal"),
        ("?device_kind=bess&device_no=0", "greater_than_equal"),
        ("?device_no=13", "less_than_equal"),
    ] {
        let reply = get(&app, &format!("/api/v1/alerts{query}"), Some(&operator)).await;
        let loc = if query.contains("limit") {
            "limit"
        } else {
            "device_no"
        };
        assert_422(&reply, json!(["query", loc]), kind);
    }
    let enum_msg = get(&app, "/api/v1/alerts?level=fatal", Some(&operator)).await;
    assert_eq!(
        enum_msg.json().unwrap()["detail"][0]["msg"],
        "Input should be 'info', 'warning' or 'critical'"
    );
    for (id, kind) in [
        ("abc", "int_parsing"),
        ("0", "greater_than_equal"),
        ("-4", "greater_than_equal"),
    ] {
        assert_422(
            &call(&app, "POST", &ack_path(id), Some(&operator)).await,
            json!(["path", "alert_id"]),
            kind,
        );
    }
    app.stop().await.unwrap();
}

async fn acknowledging_records_who_and_when_once(rt: Runtime) {
    let (site, users) = site("alerts_ack").await;
    write_alerts(&site).await;
    let id = alert_id(&site, "IGBT_OT").await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let operator = token(&app, "otto").await;
    let admin = token(&app, "ada").await;

    assert_403(
        &call(&app, "POST", &ack_path(id), Some(&viewer)).await,
        "alerts:ack",
    );
    assert_eq!(stored_ack(&site, id).await, (false, None, None));

    let before = now();
    let first = call(&app, "POST", &ack_path(id), Some(&operator)).await;
    let after = now();
    assert_eq!(first.status, 200, "{}", first.text());
    let (acknowledged, by, at) = stored_ack(&site, id).await;
    assert!(acknowledged);
    assert_eq!(by, Some(users.operator), "the caller is recorded");
    let at = at.expect("acknowledged_at is recorded");
    // The server's clock and ours are one machine's: the time recorded is the request's.
    assert!(
        (before - 2..=after + 2).contains(&at),
        "{before} <= {at} <= {after}"
    );
    let body = first.json().unwrap();
    assert_eq!(
        body,
        json!({
            "id": id, "device_kind": "pcs", "device_no": 0, "code": "IGBT_OT",
            "level": "critical", "message": "IGBT over-temperature",
            "started_at": "2026-11-22T14:00:00+08:00", "cleared_at": null,
            "active": true, "acknowledged": true,
            "acknowledged_by": users.operator, "acknowledged_at": iso_of(at),
        })
    );

    // Again, by someone else: 200, nothing changes, the first who and when are kept.
    let second = call(&app, "POST", &ack_path(id), Some(&admin)).await;
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(second.json().unwrap(), body);
    assert_eq!(
        stored_ack(&site, id).await,
        (true, Some(users.operator), Some(at))
    );
    assert_ne!(users.admin, users.operator);

    // The listing shows the acknowledgement too.
    let listed = get(
        &app,
        "/api/v1/alerts?device_kind=pcs&device_no=0&level=critical",
        Some(&viewer),
    )
    .await;
    assert_eq!(listed.json().unwrap()["items"][0], body);

    // An alert acknowledged before this system (no who, no when) stays as it was.
    let legacy = alert_id(&site, "TEMP_HI").await;
    let reply = call(&app, "POST", &ack_path(legacy), Some(&operator)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let legacy_body = reply.json().unwrap();
    assert_eq!(
        (
            &legacy_body["acknowledged"],
            &legacy_body["acknowledged_by"],
            &legacy_body["acknowledged_at"]
        ),
        (&json!(true), &Value::Null, &Value::Null)
    );
    assert_eq!(stored_ack(&site, legacy).await, (true, None, None));

    // An id no alert has.
    let unknown = call(&app, "POST", &ack_path(id + 1000), Some(&operator)).await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    assert_eq!(
        unknown.json().unwrap()["detail"],
        format!("Alert {} not found", id + 1000)
    );
    app.stop().await.unwrap();
}

async fn an_unreachable_alert_log_is_named(rt: Runtime) {
    let (site, _) = site("alerts_down").await;
    write_alerts(&site).await;
    let id = alert_id(&site, "COMM").await;
    // Tokens from the working app: they stay valid for the app whose `ess` is unreachable
    // (same secret, same revocation store).
    let app = start(rt, &site, &[]).await;
    let operator = token(&app, "otto").await;
    app.stop().await.unwrap();
    let unreachable = format!(
        "mysql://root@127.0.0.1:3399/{}",
        site.db_name(Database::Ess)
    );
    let app = start(rt, &site, &[("db_ess_url", &unreachable)]).await;
    for reply in [
        get(&app, "/api/v1/alerts", Some(&operator)).await,
        call(&app, "POST", &ack_path(id), Some(&operator)).await,
    ] {
        assert_eq!(reply.status, 503, "{}", reply.text());
        assert_eq!(reply.json().unwrap()["store"], "mysql:ess");
        assert!(!reply.text().contains("3399"), "no address in the body");
    }
    app.stop().await.unwrap();
    assert_eq!(stored_ack(&site, id).await, (false, None, None));
}

on_both_runtimes!(
    who_may_list_and_acknowledge,
    site_alerts_are_filtered_counted_and_newest_first,
    bad_filters_and_ids_are_422,
    acknowledging_records_who_and_when_once,
    an_unreachable_alert_log_is_named,
);
