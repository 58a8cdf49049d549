//! The site overview and topology on both runtimes, against a throw-away site whose live values,
//! PCS history, alerts and schedule the test writes itself; the expected numbers are computed here
//! from what was written.

#[macro_use]
mod common;

use common::api::{get, token, write_hash};
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use solarhub_host::client::request;
use solarhub_shared::schema::Database;
use solarhub_shared::time::{format_mysql_datetime, local_date, now_unix, UtcOffset};

const OFFSET: UtcOffset = UtcOffset::SITE_DEFAULT;

async fn sql(site: &Site, db: Database, statement: &str) {
    let mut conn =
        mysql_async::Conn::from_url(format!("{}/{}", common::site::MYSQL, site.db_name(db)))
            .await
            .unwrap();
    conn.query_drop(statement).await.unwrap();
    conn.disconnect().await.unwrap();
}

/// The site: live values (racks 1 and 2 fresh, rack 3 stale, an offline rack 4), two PCS, the
/// grid meter; PCS history since `from`; four alerts; a dReg event running now. Returns the
/// expected charge and discharge kWh of today.
async fn write_site(site: &Site, now: i64) -> (f64, f64) {
    let rack = |status: &str, soc: f64, kw: f64, ts: i64| {
        vec![
            ("status", status.to_owned()),
            ("soc", soc.to_string()),
            ("power_kw", kw.to_string()),
            ("ts", ts.to_string()),
        ]
    };
    write_hash(site, "bess:1", &rack("charging", 50.0, -100.0, now)).await;
    write_hash(site, "bess:2", &rack("discharging", 60.0, 40.5, now)).await;
    write_hash(site, "bess:3", &rack("idle", 99.0, 0.0, now - 3600)).await;
    write_hash(site, "bess:4", &rack("offline", 10.0, 0.0, now)).await;
    write_hash(
        site,
        "pcs:0",
        &[
            ("status", "run".into()),
            ("p_kw", "-59.5".into()),
            ("q_kvar", "1".into()),
            ("ts", now.to_string()),
        ],
    )
    .await;
    write_hash(
        site,
        "pcs:1",
        &[
            ("status", "fault".into()),
            ("p_kw", "0".into()),
            ("ts", now.to_string()),
        ],
    )
    .await;
    write_hash(
        site,
        "meter:MMAIN",
        &[
            ("KW_tot", "-12.5".into()),
            ("freq", "59.98".into()),
            ("ts", now.to_string()),
        ],
    )
    .await;

    // PCS history: pcs0 charging at 36 kW, pcs1 discharging at 18 kW, every 10 s over the last
    // ten minutes (or since local midnight, if that is nearer).
    let midnight = local_date(now, OFFSET).start_utc(OFFSET);
    let from = (now - 600).max(midnight);
    let stamps: Vec<i64> = (0..)
        .map(|i| from + i * 10)
        .take_while(|t| *t < now)
        .collect();
    for (table, kw) in [("pcs0_data", -36.0), ("pcs1_data", 18.0)] {
        let rows: Vec<String> = stamps
            .iter()
            .map(|t| {
                format!(
                    "('{}', 'run', {kw}, 0, 800, 1, 230, 230, 230, 1, 1, 1, 60, 0)",
                    format_mysql_datetime(*t)
                )
            })
            .collect();
        sql(
            site,
            Database::Pcs,
            &format!("INSERT INTO {table} VALUES {}", rows.join(",")),
        )
        .await;
    }
    // One row before local midnight: yesterday's, not counted.
    sql(site, Database::Pcs, &format!(
        "INSERT INTO pcs0_data VALUES ('{}', 'run', -500, 0, 800, 1, 230, 230, 230, 1, 1, 1, 60, 0)",
        format_mysql_datetime(midnight - 5)
    )).await;
    let hours = (stamps.len().saturating_sub(1) as f64) * 10.0 / 3600.0;

    sql(site, Database::Ess, "INSERT INTO alerts (device_kind, device_no, code, level, message, started_at, cleared_at) VALUES \
        ('bess', 1, 'A', 'critical', 'a', UTC_TIMESTAMP(), NULL), \
        ('bess', 2, 'B', 'warning', 'b', UTC_TIMESTAMP(), NULL), \
        ('pcs', 1, 'C', 'info', 'c', UTC_TIMESTAMP(), NULL), \
        ('bess', 3, 'D', 'critical', 'd', UTC_TIMESTAMP(), UTC_TIMESTAMP())").await;
    sql(
        site,
        Database::Schedule,
        &format!(
            "INSERT INTO events (start_at, end_at, mode, capacity_mw, capacity_price) VALUES \
         ('{}', '{}', 'dreg', 1.5, 500), ('{}', '{}', 'edreg', 1.0, 400)",
            format_mysql_datetime(now - 1800),
            format_mysql_datetime(now + 1800),
            format_mysql_datetime(now + 3600),
            format_mysql_datetime(now + 7200),
        ),
    )
    .await;
    (36.0 * hours, 18.0 * hours)
}

async fn start(rt: Runtime, tag: &str) -> (Site, TestApp, (f64, f64)) {
    let site = Site::new(tag, &[Database::Ess, Database::Schedule, Database::Pcs]).await;
    site.add_user("vera", &["viewer"]).await;
    site.add_user("nora", &[]).await;
    let expected = write_site(&site, now_unix()).await;
    let app = common::start_app(rt, site.variables(), &[("site_name", "Test site")]).await;
    (site, app, expected)
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-6
}

async fn the_overview_sums_up_the_site(rt: Runtime) {
    let (site, app, (charge, discharge)) = start(rt, "sys_overview").await;
    let viewer = token(&app, "vera").await;
    let reply = get(&app, "/api/v1/system/overview", Some(&viewer)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json().unwrap();
    assert_eq!(
        body["site"],
        json!({"name": "Test site", "rack_count": 12, "rack_capacity_kwh": 250.0,
               "storage_capacity_kwh": 3000.0, "pcs_count": 2, "pcs_rated_kw": 1250.0,
               "power_rating_kw": 2500.0})
    );
    // Racks 1 and 2 are online; 3 is stale, 4 offline, the rest silent.
    assert_eq!(
        body["bess"],
        json!({"online": 2, "total": 12, "average_soc": 55.0, "total_power_kw": -59.5})
    );
    assert_eq!(
        body["pcs"],
        json!({"running": 1, "faulted": 1, "total": 2, "total_p_kw": -59.5})
    );
    assert_eq!(
        body["grid"],
        json!({"kw": -12.5, "frequency_hz": 59.98, "stale": false})
    );
    assert!(
        close(&body["today"]["charge_kwh"], charge),
        "{} vs {charge}",
        body["today"]
    );
    assert!(
        close(&body["today"]["discharge_kwh"], discharge),
        "{} vs {discharge}",
        body["today"]
    );
    assert_eq!(body["today"]["gaps"], 0);
    assert_eq!(body["alerts"], json!({"active": 3, "critical": 1}));
    assert_eq!(body["mode"], "dreg");
    assert!(body["updated_at"].as_str().unwrap().ends_with("+08:00"));

    // Today's energy is reused for a minute: rows written now do not change it yet.
    sql(
        &site,
        Database::Pcs,
        &format!(
        "INSERT INTO pcs1_data VALUES ('{}', 'run', 900, 0, 800, 1, 230, 230, 230, 1, 1, 1, 60, 0)",
        format_mysql_datetime(now_unix())
    ),
    )
    .await;
    let again = get(&app, "/api/v1/system/overview", Some(&viewer))
        .await
        .json()
        .unwrap();
    assert_eq!(again["today"], body["today"]);

    let legacy = get(&app, "/api/system_overview", Some(&viewer)).await;
    assert_eq!(legacy.status, 200);
    assert_eq!(
        legacy.header("link"),
        Some("</api/v1/system/overview>; rel=\"successor-version\"")
    );
    app.stop().await.unwrap();
}

async fn the_topology_is_a_tree_of_live_devices(rt: Runtime) {
    let (_site, app, _) = start(rt, "sys_topology").await;
    let viewer = token(&app, "vera").await;
    let reply = get(&app, "/api/v1/system/topology", Some(&viewer)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let tree = reply.json().unwrap();
    assert_eq!(
        (tree["id"].clone(), tree["name"].clone()),
        (json!("site"), json!("Test site"))
    );
    let kids = tree["children"].as_array().unwrap();
    let ids: Vec<&str> = kids.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["meter:MMAIN", "meter:MAUX", "inverter:1", "pcs:0", "pcs:1"]
    );
    assert_eq!(
        kids[0]["metrics"],
        json!({"kw": -12.5, "frequency_hz": 59.98})
    );
    assert_eq!(kids[1]["status"], "unknown");
    assert_eq!(kids[3]["status"], "run");
    assert_eq!(kids[4]["status"], "fault");
    let racks0: Vec<(&str, &str)> = kids[3]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        racks0,
        [
            ("bess:1", "charging"),
            ("bess:2", "discharging"),
            ("bess:3", "stale"),
            ("bess:4", "offline"),
            ("bess:5", "unknown"),
            ("bess:6", "unknown")
        ]
    );
    assert_eq!(kids[4]["children"][0]["id"], "bess:7");
    let legacy = get(&app, "/api/topology", Some(&viewer)).await;
    assert_eq!(legacy.json().unwrap(), tree);
    assert_eq!(legacy.header("deprecation"), Some("@1795305600"));
    app.stop().await.unwrap();
}

async fn only_telemetry_readers_see_the_site(rt: Runtime) {
    let (_site, app, _) = start(rt, "sys_auth").await;
    let nobody = token(&app, "nora").await;
    for path in [
        "/api/v1/system/overview",
        "/api/v1/system/topology",
        "/api/system_overview",
        "/api/topology",
    ] {
        let anonymous = get(&app, path, None).await;
        assert_eq!(anonymous.status, 401, "{path}");
        assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
        assert_eq!(get(&app, path, Some(&nobody)).await.status, 403, "{path}");
    }
    let post = request(app.addr, "POST", "/api/v1/system/overview", &[], b"")
        .await
        .unwrap();
    assert_eq!((post.status, post.header("allow")), (405, Some("GET")));
    app.stop().await.unwrap();
}

on_both_runtimes!(
    the_overview_sums_up_the_site,
    the_topology_is_a_tree_of_live_devices,
    only_telemetry_readers_see_the_site,
);
