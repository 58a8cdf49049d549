//! The dashboard frame (sidebar, header) on both runtimes: what each role sees, the meters SCAN
//! finds (one added at run time included), badge counts from the alerts the test wrote, and a
//! header that reports a store outage instead of failing.

#[macro_use]
mod common;

use common::api::{get, token, write_hash};
use common::runtime::Runtime;
use common::site::Site;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use solarhub_host::client::request;
use solarhub_shared::schema::Database;

async fn add_meter(site: &Site, name: &str) {
    let fields = [("KW_tot", "1.0".to_owned()), ("ts", "1".to_owned())];
    write_hash(site, &format!("meter:{name}"), &fields).await;
}

async fn site(tag: &str) -> Site {
    let site = Site::new(tag, &[Database::Ess, Database::Schedule]).await;
    site.add_user("vera", &["viewer"]).await;
    site.add_user("adam", &["admin"]).await;
    site.add_user("nora", &[]).await;
    let mut conn = site.mysql().await;
    conn.query_drop(
        "INSERT INTO alerts (device_kind, device_no, code, level, message, started_at, cleared_at) VALUES \
         ('bess', 1, 'A', 'critical', 'a', UTC_TIMESTAMP(), NULL), \
         ('bess', 2, 'B', 'warning', 'b', UTC_TIMESTAMP(), NULL), \
         ('pcs', 0, 'C', 'info', 'c', UTC_TIMESTAMP(), NULL), \
         ('pcs', 1, 'D', 'critical', 'd', UTC_TIMESTAMP(), UTC_TIMESTAMP())",
    )
    .await
    .unwrap();
    conn.disconnect().await.unwrap();
    add_meter(&site, "MMAIN").await;
    site
}

fn menu(body: &Value) -> Vec<String> {
    body["menu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_sidebar_follows_the_callers_permissions(rt: Runtime) {
    let site = site("cfg_sidebar").await;
    let app = common::start_app(rt, site.variables(), &[]).await;
    let viewer = token(&app, "vera").await;
    let body = get(&app, "/api/v1/config/sidebar", Some(&viewer))
        .await
        .json()
        .unwrap();
    assert!(
        menu(&body).contains(&"overview".to_owned()) && !menu(&body).contains(&"users".to_owned())
    );
    assert_eq!(
        body["badges"],
        json!({"alerts_bess": 2, "alerts_pcs": 1, "alerts_total": 3})
    );
    assert_eq!(body["devices"]["meters"], json!(["MMAIN"]));
    assert_eq!(body["devices"]["racks"].as_array().unwrap().len(), 12);
    // A meter whose collector starts now shows up on the next call (SCAN, not a fixed list).
    add_meter(&site, "MNEW").await;
    let body = get(&app, "/api/sidebar_info", Some(&viewer)).await;
    assert_eq!(
        body.header("link"),
        Some("</api/v1/config/sidebar>; rel=\"successor-version\"")
    );
    assert_eq!(
        body.json().unwrap()["devices"]["meters"],
        json!(["MMAIN", "MNEW"])
    );

    let admin = token(&app, "adam").await;
    let body = get(&app, "/api/v1/config/sidebar", Some(&admin))
        .await
        .json()
        .unwrap();
    assert!(menu(&body).contains(&"users".to_owned()));
    // Any valid token may ask; one without permissions gets an empty menu and no devices.
    let nobody = token(&app, "nora").await;
    let body = get(&app, "/api/v1/config/sidebar", Some(&nobody)).await;
    assert_eq!(body.status, 200, "{}", body.text());
    assert_eq!(
        body.json().unwrap(),
        json!({"menu": [], "devices": null, "badges": null})
    );
    assert_eq!(get(&app, "/api/v1/config/sidebar", None).await.status, 401);
    app.stop().await.unwrap();
}

async fn the_header_names_the_caller_and_the_stores(rt: Runtime) {
    let site = site("cfg_header").await;
    let app = common::start_app(rt, site.variables(), &[("site_name", "Test site")]).await;
    let admin = token(&app, "adam").await;
    let reply = get(&app, "/api/v1/config/header", Some(&admin)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json().unwrap();
    assert_eq!(body["site_name"], "Test site");
    assert!(body["now"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(
        body["caller"],
        json!({"username": "adam", "roles": ["admin"]})
    );
    assert_eq!(body["mode"], "idle");
    assert_eq!(
        body["connectivity"],
        json!({"mysql": true, "redis_main": true, "redis_gtr": true})
    );
    assert_eq!(body["active_alerts"], 3);
    assert_eq!(get(&app, "/api/v1/config/header", None).await.status, 401);
    let post = request(app.addr, "POST", "/api/v1/config/header", &[], b"")
        .await
        .unwrap();
    assert_eq!((post.status, post.header("allow")), (405, Some("GET")));
    app.stop().await.unwrap();

    // The schedule database and the GTR Redis are down: still 200, with the outage shown.
    let down = [
        ("db_schedule_url", "mysql://root@127.0.0.1:3399/schedule"),
        ("redis_gtr_host", "127.0.0.1:6399"),
        ("redis_gtr_url", "redis://127.0.0.1:6399"),
    ];
    let app = common::start_app(rt, site.variables(), &down).await;
    let admin = token(&app, "adam").await;
    let body = get(&app, "/api/header_info", Some(&admin))
        .await
        .json()
        .unwrap();
    assert_eq!(
        body["connectivity"],
        json!({"mysql": false, "redis_main": true, "redis_gtr": false})
    );
    assert_eq!(
        (body["mode"].clone(), body["active_alerts"].clone()),
        (Value::Null, Value::Null)
    );
    app.stop().await.unwrap();
}

on_both_runtimes!(
    the_sidebar_follows_the_callers_permissions,
    the_header_names_the_caller_and_the_stores,
);
