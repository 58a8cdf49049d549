//! The battery-rack routes end to end, on both runtimes, against a throw-away site: live values
//! written to Redis the way the collectors write them, history rows and alerts written to MySQL by
//! the test. Expected answers come from what the test wrote, not from the code under test.

#[macro_use]
mod common;

use common::api::{assert_422, get, iso_of, now, token};
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use mysql_async::prelude::Queryable;
use serde_json::json;
use solarhub_host::client::{request, Reply};
use solarhub_shared::schema::Database;

async fn start(rt: Runtime, site: &Site, overrides: &[(&str, &str)]) -> TestApp {
    common::start_app(rt, site.variables(), overrides).await
}

async fn site(tag: &str) -> Site {
    let site = Site::new(
        tag,
        &[
            Database::Ess,
            Database::Bess(3),
            Database::Bess(4),
            Database::Bess(5),
        ],
    )
    .await;
    site.add_user("vera", &["viewer"]).await;
    site.add_user("nora", &[]).await;
    site
}

/// The live hash of rack `n` as a collector writes it.
async fn write_live(site: &Site, n: u8, ts: i64, soc: f64) {
    let client = redis::Client::open(common::site::REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}bess:{n}", site.prefix);
    let fields: Vec<(&str, String)> = vec![
        ("status", "discharging".into()),
        ("soc", soc.to_string()),
        ("soh", "97.5".into()),
        ("voltage", "801.25".into()),
        ("current", "120.5".into()),
        ("power_kw", "96.6".into()),
        ("cell_v_max_mv", "3402".into()),
        ("cell_v_min_mv", "3371".into()),
        ("temp_max", "33.5".into()),
        ("temp_min", "24.0".into()),
        ("temp_avg", "28.25".into()),
        ("alarm_count", "2".into()),
        ("ts", ts.to_string()),
    ];
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg(fields)
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// One `rack_data` row of rack `n` at `ts` (UTC seconds).
async fn write_history(site: &Site, n: u8, ts: i64, soc: f64) {
    let mut conn = mysql_async::Conn::from_url(format!(
        "{}/{}",
        common::site::MYSQL,
        site.db_name(Database::Bess(n))
    ))
    .await
    .unwrap();
    conn.exec_drop(
        "INSERT INTO rack_data (ts, status, soc, soh, voltage, current, power_kw, cell_v_max_mv, \
         cell_v_min_mv, temp_max, temp_min, temp_avg, alarm_count) \
         VALUES (FROM_UNIXTIME(?), 'charging', ?, 96.0, 790.5, -80.0, -63.2, 3390, 3380, 30.0, 22.0, 26.0, 0)",
        (ts, soc),
    )
    .await
    .unwrap();
    conn.disconnect().await.unwrap();
}

async fn sql(site: &Site, statement: &str) {
    let mut conn = site.mysql().await;
    conn.query_drop(statement).await.unwrap();
    conn.disconnect().await.unwrap();
}

async fn who_may_read_racks(rt: Runtime) {
    let site = site("bess_auth").await;
    write_live(&site, 3, now(), 50.0).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let nobody = token(&app, "nora").await;
    for path in [
        "/api/v1/bess/3",
        "/api/v1/bess/alert/rack/3",
        "/api/bams_info/3",
        "/api/alert/rack/3",
    ] {
        let anonymous = get(&app, path, None).await;
        assert_eq!(anonymous.status, 401, "{path}");
        assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
        let forbidden = get(&app, path, Some(&nobody)).await;
        assert_eq!(forbidden.status, 403, "{path}: {}", forbidden.text());
        assert_eq!(
            forbidden.json().unwrap()["detail"],
            "Missing permission: telemetry:read"
        );
        assert_eq!(get(&app, path, Some(&viewer)).await.status, 200, "{path}");
    }
    let post = request(app.addr, "POST", "/api/v1/bess/3", &[], b"")
        .await
        .unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET"));
    app.stop().await.unwrap();
}

async fn fresh_live_values_are_shown_as_written(rt: Runtime) {
    let site = site("bess_live").await;
    let ts = now();
    write_live(&site, 3, ts, 55.5).await;
    // An older history row must not win over a fresh live value.
    write_history(&site, 3, ts - 30, 12.0).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let reply = get(&app, "/api/v1/bess/3", Some(&viewer)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json().unwrap();
    assert_eq!(
        body,
        json!({
            "bess_number": 3, "status": "discharging", "soc": 55.5, "soh": 97.5,
            "voltage_v": 801.25, "current_a": 120.5, "power_kw": 96.6,
            "cell_voltage_max_mv": 3402, "cell_voltage_min_mv": 3371, "cell_voltage_delta_mv": 31,
            "temperature_max_c": 33.5, "temperature_min_c": 24.0, "temperature_avg_c": 28.25,
            "alarm_count": 2, "source": "realtime", "stale": false, "updated_at": iso_of(ts),
        })
    );
    // A percent-escaped path is the same path (as FastAPI decodes it before routing).
    let escaped = get(&app, "/api/v1/bess/%33", Some(&viewer)).await;
    assert_eq!(escaped.json().unwrap(), body);
    // The legacy path answers the same body, marked deprecated.
    let legacy = get(&app, "/api/bams_info/3", Some(&viewer)).await;
    assert_eq!(legacy.json().unwrap(), body);
    assert_eq!(legacy.header("deprecation"), Some("@1795305600"));
    assert_eq!(
        legacy.header("link"),
        Some("</api/v1/bess/3>; rel=\"successor-version\"")
    );
    app.stop().await.unwrap();
}

async fn stale_or_missing_live_values_fall_back_to_history(rt: Runtime) {
    let site = site("bess_stale").await;
    let row_ts = now() - 600;
    write_live(&site, 3, now() - 3600, 40.0).await; // an hour old: stale
    write_history(&site, 3, row_ts, 41.5).await;
    write_history(&site, 4, row_ts - 60, 70.0).await; // rack 4: history only, no live hash
    write_history(&site, 4, row_ts, 71.0).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    for (n, soc) in [(3, 41.5), (4, 71.0)] {
        let body = get(&app, &format!("/api/v1/bess/{n}"), Some(&viewer))
            .await
            .json()
            .unwrap();
        assert_eq!(body["source"], "history", "{body}");
        assert_eq!(body["stale"], true);
        assert_eq!(body["soc"], soc, "the newest row");
        assert_eq!(body["status"], "charging");
        assert_eq!(body["cell_voltage_delta_mv"], 10);
        assert_eq!(body["updated_at"], iso_of(row_ts));
    }
    // A stale live value with no history to fall back to is still shown, as stale.
    sql(
        &site,
        &format!(
            "DELETE FROM `{}`.rack_data",
            site.db_name(Database::Bess(3))
        ),
    )
    .await;
    let body = get(&app, "/api/v1/bess/3", Some(&viewer))
        .await
        .json()
        .unwrap();
    assert_eq!(
        (
            body["source"].clone(),
            body["stale"].clone(),
            body["soc"].clone()
        ),
        (json!("realtime"), json!(true), json!(40.0))
    );
    // Neither store has anything for rack 5 (no live hash, an empty history table): 404.
    let none = get(&app, "/api/v1/bess/5", Some(&viewer)).await;
    assert_eq!(none.status, 404, "{}", none.text());
    assert_eq!(none.json().unwrap()["detail"], "No data for BESS5");
    app.stop().await.unwrap();
}

async fn store_failures_fall_back_then_name_the_store(rt: Runtime) {
    let site = site("bess_down").await;
    let row_ts = now() - 120;
    write_live(&site, 3, now(), 50.0).await;
    write_history(&site, 3, row_ts, 33.0).await;
    let redis_down = [
        ("redis_gtr_host", "127.0.0.1:6399"),
        ("redis_gtr_url", "redis://127.0.0.1:6399"),
    ];
    let app = start(rt, &site, &redis_down).await;
    let viewer = token(&app, "vera").await;
    let started = std::time::Instant::now();
    let body = get(&app, "/api/v1/bess/3", Some(&viewer))
        .await
        .json()
        .unwrap();
    assert_eq!(
        (body["source"].clone(), body["soc"].clone()),
        (json!("history"), json!(33.0)),
        "{body}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "no hang"
    );
    app.stop().await.unwrap();

    // Redis down and the rack's database unreachable too: 503 naming the database.
    let mut both = redis_down.to_vec();
    both.push(("db_bess3_url", "mysql://root@127.0.0.1:3399/BESS3"));
    let app = start(rt, &site, &both).await;
    let viewer = token(&app, "vera").await;
    let reply = get(&app, "/api/v1/bess/3", Some(&viewer)).await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.json().unwrap()["store"], "mysql:BESS3");
    assert!(!reply.text().contains("3399"), "no address in the body");
    app.stop().await.unwrap();
}

async fn bad_rack_numbers_and_filters_are_422(rt: Runtime) {
    let site = site("bess_422").await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    for (path, kind) in [
        ("/api/v1/bess/13", "less_than_equal"),
        ("/api/v1/bess/0", "greater_than_equal"),
        ("/api/v1/bess/abc", "int_parsing"),
        ("/api/bams_info/99", "less_than_equal"),
    ] {
        assert_422(
            &get(&app, path, Some(&viewer)).await,
            json!(["path", "bess_number"]),
            kind,
        );
    }
    assert_422(
        &get(&app, "/api/v1/bess/alert/rack/x", Some(&viewer)).await,
        json!(["path", "rack_number"]),
        "int_parsing",
    );
    let many = get(
        &app,
        "/api/v1/bess/alert/rack/3?limit=501&active_only=perhaps&since=soon",
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
        &get(&app, "/api/v1/bess/alert/rack/3?limit=0", Some(&viewer)).await,
        json!(["query", "limit"]),
        "greater_than_equal",
    );
    app.stop().await.unwrap();
}

async fn rack_alerts_are_filtered_and_newest_first(rt: Runtime) {
    let site = site("bess_alerts").await;
    let ess = site.db_name(Database::Ess);
    sql(
        &site,
        &format!(
            "INSERT INTO `{ess}`.alerts (device_kind, device_no, code, level, message, started_at, cleared_at, acknowledged) VALUES \
             ('bess', 3, 'CELL_OV', 'critical', 'Cell over-voltage', '2026-11-20 01:00:00', NULL, 0), \
             ('bess', 3, 'TEMP_HI', 'warning', 'High temperature', '2026-11-21 02:00:00', '2026-11-21 03:00:00', 1), \
             ('bess', 3, 'COMM', 'info', 'Link restored', '2026-11-22 04:30:00', NULL, 0), \
             ('bess', 4, 'CELL_UV', 'critical', 'Other rack', '2026-11-22 05:00:00', NULL, 0), \
             ('pcs', 3, 'PCS_X', 'critical', 'Not a rack', '2026-11-22 06:00:00', NULL, 0)"
        ),
    )
    .await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let codes = |reply: Reply| -> Vec<String> {
        let body = reply.json().unwrap();
        let items = body["items"].as_array().unwrap();
        assert_eq!(body["count"], items.len());
        items
            .iter()
            .map(|a| a["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = get(&app, "/api/v1/bess/alert/rack/3", Some(&viewer)).await;
    assert_eq!(all.status, 200, "{}", all.text());
    let body = all.json().unwrap();
    assert_eq!(
        body["items"][1],
        json!({
            "id": body["items"][1]["id"], "device_kind": "bess", "device_no": 3, "code": "TEMP_HI",
            "level": "warning", "message": "High temperature",
            "started_at": "2026-11-21T10:00:00+08:00", "cleared_at": "2026-11-21T11:00:00+08:00",
            "active": false, "acknowledged": true, "acknowledged_by": null, "acknowledged_at": null,
        })
    );
    assert_eq!(codes(all), ["COMM", "TEMP_HI", "CELL_OV"]);
    let active = get(
        &app,
        "/api/v1/bess/alert/rack/3?active_only=true",
        Some(&viewer),
    )
    .await;
    assert_eq!(codes(active), ["COMM", "CELL_OV"]);
    // `since` is a site-local date: 2026-11-21 starts at 2026-11-20T16:00Z.
    let since = get(
        &app,
        "/api/v1/bess/alert/rack/3?since=2026-11-21",
        Some(&viewer),
    )
    .await;
    assert_eq!(codes(since), ["COMM", "TEMP_HI"]);
    let since = get(
        &app,
        "/api/v1/bess/alert/rack/3?since=2026-11-22T12:30:00%2B08:00",
        Some(&viewer),
    )
    .await;
    assert_eq!(codes(since), ["COMM"]);
    let limited = get(&app, "/api/v1/bess/alert/rack/3?limit=1", Some(&viewer)).await;
    assert_eq!(codes(limited), ["COMM"]);
    let legacy = get(&app, "/api/alert/rack/3?limit=2", Some(&viewer)).await;
    assert_eq!(
        legacy.header("link"),
        Some("</api/v1/bess/alert/rack/3>; rel=\"successor-version\"")
    );
    assert_eq!(codes(legacy), ["COMM", "TEMP_HI"]);
    let quiet = get(&app, "/api/v1/bess/alert/rack/12", Some(&viewer)).await;
    assert_eq!(codes(quiet), Vec::<String>::new());
    app.stop().await.unwrap();
}

on_both_runtimes!(
    who_may_read_racks,
    fresh_live_values_are_shown_as_written,
    stale_or_missing_live_values_fall_back_to_history,
    store_failures_fall_back_then_name_the_store,
    bad_rack_numbers_and_filters_are_422,
    rack_alerts_are_filtered_and_newest_first,
);
