//! The PCS routes end to end, on both runtimes, against a throw-away site: live values written to
//! Redis the way the collectors write them, history rows and alerts written to MySQL by the test.
//! Expected answers come from what the test wrote, not from the code under test.

#[macro_use]
mod common;

use common::api::{
    assert_401, assert_403, assert_422, call, get, iso_of, mysql_utc, now, sql, token, write_hash,
};
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use serde_json::{json, Value};
use solarhub_host::client::Reply;
use solarhub_shared::schema::Database;

async fn start(rt: Runtime, site: &Site, overrides: &[(&str, &str)]) -> TestApp {
    common::start_app(rt, site.variables(), overrides).await
}

async fn site(tag: &str) -> Site {
    let site = Site::new(tag, &[Database::Ess, Database::Pcs]).await;
    site.add_user("vera", &["viewer"]).await;
    site.add_user("otto", &["operator"]).await;
    site.add_user("ada", &["admin"]).await;
    site.add_user("nora", &[]).await;
    site
}

/// The live hash of PCS `n` as a collector writes it; `p_kw` tells readings apart.
async fn write_live(site: &Site, n: u8, ts: i64, p_kw: f64, fault_code: u16) {
    let fields: Vec<(&str, String)> = vec![
        (
            "status",
            if fault_code == 0 { "run" } else { "fault" }.into(),
        ),
        ("p_kw", p_kw.to_string()),
        ("q_kvar", "-35.5".into()),
        ("dc_v", "812.5".into()),
        ("dc_a", "1204.25".into()),
        ("v_a", "380.5".into()),
        ("v_b", "381.25".into()),
        ("v_c", "379.75".into()),
        ("i_a", "1480.5".into()),
        ("i_b", "1479.25".into()),
        ("i_c", "1481.75".into()),
        ("freq", "59.97".into()),
        ("fault_code", fault_code.to_string()),
        ("ts", ts.to_string()),
    ];
    write_hash(site, &format!("pcs:{n}"), &fields).await;
}

/// One `pcs<n>_data` row at `ts` (UTC seconds).
async fn write_history(site: &Site, n: u8, ts: i64, p_kw: f64) {
    let db = site.db_name(Database::Pcs);
    sql(
        site,
        &format!(
            "INSERT INTO `{db}`.pcs{n}_data (ts, status, p_kw, q_kvar, dc_v, dc_a, v_a, v_b, v_c, \
             i_a, i_b, i_c, freq, fault_code) VALUES ('{}', 'stop', {p_kw}, 0.5, 790.0, -2.5, \
             377.0, 378.0, 379.0, 1.5, 2.5, 3.5, 60.01, 0)",
            mysql_utc(ts)
        ),
    )
    .await;
}

async fn who_may_read_pcs(rt: Runtime) {
    let site = site("pcs_auth").await;
    write_live(&site, 0, now(), 500.0, 0).await;
    let app = start(rt, &site, &[]).await;
    let nobody = token(&app, "nora").await;
    let readers = [
        token(&app, "vera").await,
        token(&app, "otto").await,
        token(&app, "ada").await,
    ];
    for path in [
        "/api/v1/pcs/0",
        "/api/v1/pcs/alert",
        "/api/pcs_info/0",
        "/api/alert/pcs",
    ] {
        assert_401(&get(&app, path, None).await);
        assert_403(&get(&app, path, Some(&nobody)).await, "telemetry:read");
        for reader in &readers {
            let reply = get(&app, path, Some(reader)).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        }
    }
    for path in ["/api/v1/pcs/0", "/api/v1/pcs/alert", "/api/alert/pcs"] {
        let post = call(&app, "POST", path, Some(&readers[0])).await;
        assert_eq!(post.status, 405, "{path}");
        assert_eq!(post.header("allow"), Some("GET"));
    }
    let deeper = get(&app, "/api/v1/pcs/0/extra", Some(&readers[0])).await;
    assert_eq!(deeper.status, 404, "{}", deeper.text());
    app.stop().await.unwrap();
}

async fn fresh_live_values_are_shown_as_written(rt: Runtime) {
    let site = site("pcs_live").await;
    let ts = now();
    write_live(&site, 1, ts, -612.5, 17).await;
    // An older history row must not win over a fresh live value.
    write_history(&site, 1, ts - 30, 99.0).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let reply = get(&app, "/api/v1/pcs/1", Some(&viewer)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json().unwrap();
    assert_eq!(
        body,
        json!({
            "pcs_number": 1, "status": "fault", "p_kw": -612.5, "q_kvar": -35.5,
            "dc_voltage_v": 812.5, "dc_current_a": 1204.25,
            "ac_voltage_v": {"a": 380.5, "b": 381.25, "c": 379.75},
            "ac_current_a": {"a": 1480.5, "b": 1479.25, "c": 1481.75},
            "frequency_hz": 59.97, "fault_codes": [17],
            "source": "realtime", "stale": false, "updated_at": iso_of(ts),
        })
    );
    // The legacy path answers the same body, marked deprecated.
    let legacy = get(&app, "/api/pcs_info/1", Some(&viewer)).await;
    assert_eq!(legacy.status, 200);
    assert_eq!(legacy.json().unwrap(), body);
    assert_eq!(legacy.header("deprecation"), Some("@1795305600"));
    assert_eq!(
        legacy.header("link"),
        Some("</api/v1/pcs/1>; rel=\"successor-version\"")
    );
    assert_eq!(reply.header("deprecation"), None, "the v1 path is current");
    app.stop().await.unwrap();
}

async fn stale_or_missing_live_values_fall_back_to_history(rt: Runtime) {
    let site = site("pcs_stale").await;
    let row_ts = now() - 600;
    write_live(&site, 0, now() - 3600, 400.0, 0).await; // an hour old: stale
    write_history(&site, 0, row_ts - 10, 120.0).await;
    write_history(&site, 0, row_ts, 125.5).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let body = get(&app, "/api/v1/pcs/0", Some(&viewer))
        .await
        .json()
        .unwrap();
    assert_eq!(
        body,
        json!({
            "pcs_number": 0, "status": "stop", "p_kw": 125.5, "q_kvar": 0.5,
            "dc_voltage_v": 790.0, "dc_current_a": -2.5,
            "ac_voltage_v": {"a": 377.0, "b": 378.0, "c": 379.0},
            "ac_current_a": {"a": 1.5, "b": 2.5, "c": 3.5},
            "frequency_hz": 60.01, "fault_codes": [],
            "source": "history", "stale": true, "updated_at": iso_of(row_ts),
        }),
        "the newest row"
    );
    // PCS 1: history only, no live hash.
    write_history(&site, 1, row_ts, -75.25).await;
    let body = get(&app, "/api/v1/pcs/1", Some(&viewer))
        .await
        .json()
        .unwrap();
    assert_eq!(
        (&body["source"], &body["stale"], &body["p_kw"]),
        (&json!("history"), &json!(true), &json!(-75.25))
    );
    // A stale live value with no history to fall back to is still shown, as stale.
    let db = site.db_name(Database::Pcs);
    sql(&site, &format!("DELETE FROM `{db}`.pcs0_data")).await;
    let body = get(&app, "/api/v1/pcs/0", Some(&viewer))
        .await
        .json()
        .unwrap();
    assert_eq!(
        (&body["source"], &body["stale"], &body["p_kw"]),
        (&json!("realtime"), &json!(true), &json!(400.0))
    );
    // Nothing anywhere for PCS 1 any more: 404.
    sql(&site, &format!("DELETE FROM `{db}`.pcs1_data")).await;
    let none = get(&app, "/api/v1/pcs/1", Some(&viewer)).await;
    assert_eq!(none.status, 404, "{}", none.text());
    assert_eq!(none.json().unwrap()["detail"], "No data for pcs1");
    app.stop().await.unwrap();
}

async fn store_failures_fall_back_then_name_the_store(rt: Runtime) {
    let site = site("pcs_down").await;
    let row_ts = now() - 120;
    write_live(&site, 0, now(), 500.0, 0).await;
    write_history(&site, 0, row_ts, 33.5).await;
    let redis_down = [
        ("redis_gtr_host", "127.0.0.1:6399"),
        ("redis_gtr_url", "redis://127.0.0.1:6399"),
    ];
    let app = start(rt, &site, &redis_down).await;
    let viewer = token(&app, "vera").await;
    let started = std::time::Instant::now();
    let reply = get(&app, "/api/v1/pcs/0", Some(&viewer)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json().unwrap();
    assert_eq!(
        (&body["source"], &body["stale"], &body["p_kw"]),
        (&json!("history"), &json!(true), &json!(33.5)),
    );
    assert_eq!(body["updated_at"], iso_of(row_ts));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "no hang"
    );
    app.stop().await.unwrap();

    // Redis down and the PCS database unreachable too: 503 naming the database.
    let mut both = redis_down.to_vec();
    let unreachable = format!(
        "mysql://root@127.0.0.1:3399/{}",
        site.db_name(Database::Pcs)
    );
    both.push(("db_pcs_url", &unreachable));
    let app = start(rt, &site, &both).await;
    let viewer = token(&app, "vera").await;
    for path in ["/api/v1/pcs/0", "/api/pcs_info/0"] {
        let reply = get(&app, path, Some(&viewer)).await;
        assert_eq!(reply.status, 503, "{path}: {}", reply.text());
        let body = reply.json().unwrap();
        assert_eq!(body["store"], "mysql:PCS");
        assert_eq!(body["detail"], "mysql:PCS is unavailable");
        assert!(!reply.text().contains("3399"), "no address in the body");
    }
    app.stop().await.unwrap();
}

async fn bad_pcs_numbers_and_filters_are_422(rt: Runtime) {
    let site = site("pcs_422").await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    for (path, kind) in [
        ("/api/v1/pcs/2", "less_than_equal"),
        ("/api/v1/pcs/-1", "greater_than_equal"),
        ("/api/v1/pcs/abc", "int_parsing"),
        ("/api/pcs_info/12", "less_than_equal"),
    ] {
        assert_422(
            &get(&app, path, Some(&viewer)).await,
            json!(["path", "pcs_number"]),
            kind,
        );
    }
    for base in ["/api/v1/pcs/alert", "/api/alert/pcs"] {
        let many = get(
            &app,
            &format!("{base}?limit=501&active_only=perhaps&since=soon"),
            Some(&viewer),
        )
        .await;
        assert_422(&many, json!(["query", "limit"]), "less_than_equal");
        assert_422(&many, json!(["query", "active_only"]), "bool_parsing");
        assert_422(
            &many,
            json!(["query", "since"]),
            "datetime_from_date_parsing",
        );
        assert_422(
            &get(&app, &format!("{base}?limit=0"), Some(&viewer)).await,
            json!(["query", "limit"]),
            "greater_than_equal",
        );
    }
    app.stop().await.unwrap();
}

fn codes(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json().unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(body["count"], items.len());
    items
        .iter()
        .map(|a| a["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn pcs_alerts_are_filtered_and_newest_first(rt: Runtime) {
    let site = site("pcs_alerts").await;
    let ess = site.db_name(Database::Ess);
    sql(
        &site,
        &format!(
            "INSERT INTO `{ess}`.alerts (device_kind, device_no, code, level, message, started_at, cleared_at, acknowledged) VALUES \
             ('pcs', 0, 'IGBT_OT', 'critical', 'IGBT over-temperature', '2026-11-20 01:00:00', NULL, 0), \
             ('pcs', 1, 'GRID_UV', 'warning', 'Grid under-voltage', '2026-11-21 02:00:00', '2026-11-21 03:00:00', 1), \
             ('pcs', 0, 'FAN', 'info', 'Fan restarted', '2026-11-22 04:30:00', NULL, 0), \
             ('bess', 1, 'CELL_OV', 'critical', 'Not a PCS', '2026-11-22 05:00:00', NULL, 0)"
        ),
    )
    .await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let all = get(&app, "/api/v1/pcs/alert", Some(&viewer)).await;
    let body: Value = all.json().unwrap();
    assert_eq!(
        body["items"][1],
        json!({
            "id": body["items"][1]["id"], "device_kind": "pcs", "device_no": 1, "code": "GRID_UV",
            "level": "warning", "message": "Grid under-voltage",
            "started_at": "2026-11-21T10:00:00+08:00", "cleared_at": "2026-11-21T11:00:00+08:00",
            "active": false, "acknowledged": true, "acknowledged_by": null, "acknowledged_at": null,
        })
    );
    assert_eq!(codes(&all), ["FAN", "GRID_UV", "IGBT_OT"]);
    let active = get(&app, "/api/v1/pcs/alert?active_only=true", Some(&viewer)).await;
    assert_eq!(codes(&active), ["FAN", "IGBT_OT"]);
    // `since` is a site-local date: 2026-11-21 starts at 2026-11-20T16:00Z.
    let since = get(&app, "/api/v1/pcs/alert?since=2026-11-21", Some(&viewer)).await;
    assert_eq!(codes(&since), ["FAN", "GRID_UV"]);
    let limited = get(&app, "/api/v1/pcs/alert?limit=1", Some(&viewer)).await;
    assert_eq!(codes(&limited), ["FAN"]);
    // The legacy path: the same answer, marked deprecated.
    let legacy = get(&app, "/api/alert/pcs?limit=2", Some(&viewer)).await;
    let current = get(&app, "/api/v1/pcs/alert?limit=2", Some(&viewer)).await;
    assert_eq!(legacy.json().unwrap(), current.json().unwrap());
    assert_eq!(legacy.header("deprecation"), Some("@1795305600"));
    assert_eq!(
        legacy.header("link"),
        Some("</api/v1/pcs/alert>; rel=\"successor-version\"")
    );
    assert_eq!(codes(&legacy), ["FAN", "GRID_UV"]);
    app.stop().await.unwrap();
}

on_both_runtimes!(
    who_may_read_pcs,
    fresh_live_values_are_shown_as_written,
    stale_or_missing_live_values_fall_back_to_history,
    store_failures_fall_back_then_name_the_store,
    bad_pcs_numbers_and_filters_are_422,
    pcs_alerts_are_filtered_and_newest_first,
);
