//! The meter and PV inverter routes end to end, on both runtimes, against a throw-away site: live
//! values written to the main Redis the way the collectors write them, history rows written to
//! `Meter` and `Inverter` by the test. Expected answers (today's kWh included) are computed here
//! from what the test wrote, not by the code under test.

#[macro_use]
mod common;

use std::time::Duration;

use common::api::{get, iso_of, now, token};
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use solarhub_host::client::request;
use solarhub_shared::schema::Database;
use solarhub_shared::time::{format_mysql_datetime, UtcOffset};

const SITE: UtcOffset = UtcOffset::SITE_DEFAULT;

/// Every route with its legacy twin.
const ROUTES: [(&str, &str); 3] = [
    ("/api/v1/meters", "/api/meter_info"),
    ("/api/v1/meters/aux", "/api/aux_meter"),
    ("/api/v1/inverter", "/api/converter"),
];

async fn start(rt: Runtime, site: &Site, overrides: &[(&str, &str)]) -> TestApp {
    common::start_app(rt, site.variables(), overrides).await
}

async fn site(tag: &str) -> Site {
    let site = Site::new(tag, &[Database::Ess, Database::Meter, Database::Inverter]).await;
    site.add_user("vera", &["viewer"]).await;
    site.add_user("nora", &[]).await;
    site
}

/// A 200's JSON body.
async fn body(app: &TestApp, path: &str, token: &str) -> Value {
    let reply = get(app, path, Some(token)).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json().unwrap()
}

async fn redis() -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(common::site::REDIS).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// Replaces the hash at `key` (whatever was there, a broken key included) by `fields`.
async fn write_hash(key: &str, fields: Vec<(&str, String)>) {
    let _: () = redis::pipe()
        .atomic()
        .cmd("DEL")
        .arg(key)
        .ignore()
        .cmd("HSET")
        .arg(key)
        .arg(fields)
        .ignore()
        .query_async(&mut redis().await)
        .await
        .unwrap();
}

/// The fields of a meter reading with total power `kw`, the rest derived from it so every
/// meter's values are told apart.
fn meter_fields(kw: f64) -> Vec<(&'static str, f64)> {
    vec![
        ("I_a", kw / 10.0 + 0.5),
        ("I_b", kw / 10.0 + 1.5),
        ("I_c", kw / 10.0 + 2.5),
        ("Vll_ab", 22_800.0),
        ("Vll_bc", 22_810.0),
        ("Vll_ca", 22_790.0),
        ("KW_tot", kw),
        ("KVAR_tot", kw / 4.0),
        ("PF", 0.97),
        ("freq", 59.99),
    ]
}

/// The `meter:<name>` hash as a collector writes it.
async fn write_meter_live(site: &Site, name: &str, ts: i64, kw: f64) {
    let mut fields: Vec<(&str, String)> = meter_fields(kw)
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    fields.push(("ts", ts.to_string()));
    write_hash(&format!("{}meter:{name}", site.prefix), fields).await;
}

/// The `inverter:1` hash.
async fn write_inverter_live(site: &Site, ts: i64, ac: f64, dc: f64) {
    let fields: Vec<(&str, String)> = vec![
        ("status", "run".into()),
        ("ac_kw", ac.to_string()),
        ("dc_kw", dc.to_string()),
        ("today_kwh", "321.5".into()),
        ("lifetime_kwh", "1250000.25".into()),
        ("ts", ts.to_string()),
    ];
    write_hash(&format!("{}inverter:1", site.prefix), fields).await;
}

/// Replaces `key` (under the site's prefix) by a plain string, so reading it as a hash fails.
async fn break_live_key(site: &Site, key: &str) {
    let _: () = redis::cmd("SET")
        .arg(format!("{}{key}", site.prefix))
        .arg("not a hash")
        .query_async(&mut redis().await)
        .await
        .unwrap();
}

async fn sql(site: &Site, db: Database, statement: &str) {
    let mut conn =
        mysql_async::Conn::from_url(format!("{}/{}", common::site::MYSQL, site.db_name(db)))
            .await
            .unwrap();
    conn.query_drop(statement).await.unwrap();
    conn.disconnect().await.unwrap();
}

/// Meter rows `(ts, KW_tot)` in `table` (`MMAIN` or `MAUX`), timestamps as UTC text so nothing
/// depends on the session time zone.
async fn write_meter_rows(site: &Site, table: &str, rows: &[(i64, f64)]) {
    let values: Vec<String> = rows
        .iter()
        .map(|(ts, kw)| {
            let f = meter_fields(*kw);
            let cols: Vec<String> = f.iter().map(|(_, v)| v.to_string()).collect();
            format!(
                "('{}', {}, 100.0, 200.0)",
                format_mysql_datetime(*ts),
                cols.join(", ")
            )
        })
        .collect();
    sql(
        site,
        Database::Meter,
        &format!(
            "INSERT INTO {table} (ts, I_a, I_b, I_c, Vll_ab, Vll_bc, Vll_ca, KW_tot, KVAR_tot, PF, \
             freq, kwh_import, kwh_export) VALUES {}",
            values.join(", ")
        ),
    )
    .await;
}

/// Inverter rows `(ts, ac_kw, dc_kw)`.
async fn write_inverter_rows(site: &Site, rows: &[(i64, f64, f64)]) {
    let values: Vec<String> = rows
        .iter()
        .map(|(ts, ac, dc)| {
            format!(
                "('{}', 'run', {ac}, {dc}, 77.25, 1249999.0)",
                format_mysql_datetime(*ts)
            )
        })
        .collect();
    sql(
        site,
        Database::Inverter,
        &format!(
            "INSERT INTO INVERTER_1 (ts, status, ac_kw, dc_kw, today_kwh, lifetime_kwh) VALUES {}",
            values.join(", ")
        ),
    )
    .await;
}

/// The meter as the API shows it, from what the test wrote.
fn meter_view(name: &str, kw: f64, ts: i64, source: &str, stale: bool) -> Value {
    let mut view = json!({
        "name": name, "source": source, "stale": stale, "updated_at": iso_of(ts),
    });
    for (k, v) in meter_fields(kw) {
        view[k] = json!(v);
    }
    view
}

/// The UTC bounds `[start, end)` of the site-local day containing `t`, computed here.
fn local_day(t: i64) -> (i64, i64) {
    let offset = i64::from(SITE.0);
    let start = (t + offset).div_euclid(86_400) * 86_400 - offset;
    (start, start + 86_400)
}

/// A base time for `span` seconds of samples inside today, ending no later than now where the
/// day allows: now − span, or the day's start when local midnight was less than `span` ago (the
/// samples then run a little into the future, still today). Close before midnight it waits for
/// the new day, so the route cannot integrate a different day than the test wrote.
async fn base_in_today(span: i64) -> (i64, (i64, i64)) {
    let mut t = now();
    if local_day(t).1 - t < 120 {
        tokio::time::sleep(Duration::from_secs((local_day(t).1 - t + 1) as u64)).await;
        t = now();
    }
    let day = local_day(t);
    ((t - span).max(day.0), day)
}

fn local_date(day_start: i64) -> String {
    iso_of(day_start)[..10].to_owned()
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

async fn who_may_read_meters(rt: Runtime) {
    let site = site("meters_auth").await;
    write_meter_live(&site, "MAUX", now(), 40.0).await;
    write_inverter_live(&site, now(), 95.0, 100.0).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let nobody = token(&app, "nora").await;
    for path in ROUTES.iter().flat_map(|(new, old)| [*new, *old]) {
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
    let post = request(app.addr, "POST", "/api/v1/meters", &[], b"")
        .await
        .unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET"));
    let unknown = get(&app, "/api/v1/meters/nope", Some(&viewer)).await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    app.stop().await.unwrap();
}

async fn every_meter_hash_is_listed_and_legacy_paths_answer_the_same(rt: Runtime) {
    let site = site("meters_list").await;
    let ts = now();
    write_meter_live(&site, "MMAIN", ts, -350.5).await;
    write_meter_live(&site, "MAUX", ts, 42.0).await;
    // A stale meter without history: shown as it is, stale, and left out of the total.
    write_meter_live(&site, "MOLD", ts - 3600, 1000.0).await;
    // Not a meter hash: never listed (and never an error).
    break_live_key(&site, "meter:JUNK").await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let list = body(&app, "/api/v1/meters", &viewer).await;
    assert_eq!(
        list,
        json!({
            "meters": [
                meter_view("MAUX", 42.0, ts, "realtime", false),
                meter_view("MMAIN", -350.5, ts, "realtime", false),
                meter_view("MOLD", 1000.0, ts - 3600, "realtime", true),
            ],
            "meter_count": 3,
            "total_power": -308.5,
            "status": "stale",
        })
    );
    // A meter the collectors start writing while the app runs appears on the next request.
    let ts2 = now();
    write_meter_live(&site, "MTEST", ts2, 7.25).await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{}meter:MOLD", site.prefix))
        .query_async(&mut redis().await)
        .await
        .unwrap();
    let list = body(&app, "/api/v1/meters", &viewer).await;
    let names: Vec<&str> = list["meters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["MAUX", "MMAIN", "MTEST"]);
    assert_eq!(
        list["meters"][2],
        meter_view("MTEST", 7.25, ts2, "realtime", false)
    );
    assert_eq!(
        (list["meter_count"].clone(), list["status"].clone()),
        (json!(3), json!("ok"))
    );
    assert!(close(&list["total_power"], 42.0 - 350.5 + 7.25), "{list}");
    // Every legacy path answers what its successor answers, marked deprecated.
    write_inverter_live(&site, now(), 95.0, 100.0).await;
    for (new, old) in ROUTES {
        let current = body(&app, new, &viewer).await;
        let legacy = get(&app, old, Some(&viewer)).await;
        assert_eq!(legacy.status, 200, "{old}: {}", legacy.text());
        assert_eq!(legacy.json().unwrap(), current, "{old}");
        assert_eq!(legacy.header("deprecation"), Some("@1795305600"), "{old}");
        assert_eq!(
            legacy.header("link"),
            Some(format!("<{new}>; rel=\"successor-version\"").as_str())
        );
        let fresh = get(&app, new, Some(&viewer)).await;
        assert_eq!(fresh.header("deprecation"), None, "{new}");
    }
    app.stop().await.unwrap();
}

async fn stale_meters_fall_back_to_their_newest_rows(rt: Runtime) {
    let site = site("meters_stale").await;
    let row_ts = now() - 600;
    // MAUX: an hour-old live value and newer history; MMAIN: history only.
    write_meter_live(&site, "MAUX", now() - 3600, 99.0).await;
    write_meter_rows(&site, "MAUX", &[(row_ts - 10, 30.0), (row_ts, 31.5)]).await;
    write_meter_rows(&site, "MMAIN", &[(row_ts - 20, -500.0)]).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let aux = body(&app, "/api/v1/meters/aux", &viewer).await;
    let mut expected = meter_view("MAUX", 31.5, row_ts, "history", true);
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&aux[k], v, "{k}: {aux}");
    }
    let list = body(&app, "/api/v1/meters", &viewer).await;
    expected = json!({
        "meters": [
            meter_view("MAUX", 31.5, row_ts, "history", true),
            meter_view("MMAIN", -500.0, row_ts - 20, "history", true),
        ],
        "meter_count": 2,
        "total_power": 0.0,
        "status": "stale",
    });
    assert_eq!(list, expected);
    // The stale live value with no history behind it is still shown, as stale.
    sql(&site, Database::Meter, "DELETE FROM MAUX").await;
    let aux = body(&app, "/api/v1/meters/aux", &viewer).await;
    assert_eq!(
        (
            aux["source"].clone(),
            aux["stale"].clone(),
            aux["KW_tot"].clone()
        ),
        (json!("realtime"), json!(true), json!(99.0))
    );
    assert_eq!(aux["today"]["samples"], 0);
    // No data anywhere: 404 for MAUX and the inverter, an empty listing for the meters.
    let _: () = redis::cmd("DEL")
        .arg(format!("{}meter:MAUX", site.prefix))
        .query_async(&mut redis().await)
        .await
        .unwrap();
    sql(&site, Database::Meter, "DELETE FROM MMAIN").await;
    let none = get(&app, "/api/v1/meters/aux", Some(&viewer)).await;
    assert_eq!(none.status, 404, "{}", none.text());
    assert_eq!(none.json().unwrap()["detail"], "No data for MAUX");
    let none = get(&app, "/api/v1/inverter", Some(&viewer)).await;
    assert_eq!(none.status, 404, "{}", none.text());
    assert_eq!(none.json().unwrap()["detail"], "No data for INVERTER_1");
    let list = body(&app, "/api/v1/meters", &viewer).await;
    assert_eq!(
        list,
        json!({"meters": [], "meter_count": 0, "total_power": 0.0, "status": "no_data"})
    );
    app.stop().await.unwrap();
}

async fn store_failures_fall_back_then_name_the_store(rt: Runtime) {
    let site = site("meters_down").await;
    let row_ts = now() - 120;
    write_meter_rows(&site, "MAUX", &[(row_ts, 33.0)]).await;
    write_meter_rows(&site, "MMAIN", &[(row_ts, -120.0)]).await;
    write_inverter_rows(&site, &[(row_ts, 50.0, 0.0)]).await;
    // The live values cannot be read (Redis answers an error for them): history answers.
    break_live_key(&site, "meter:MAUX").await;
    break_live_key(&site, "inverter:1").await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let started = std::time::Instant::now();
    let aux = body(&app, "/api/v1/meters/aux", &viewer).await;
    assert_eq!(
        (
            aux["source"].clone(),
            aux["KW_tot"].clone(),
            aux["stale"].clone()
        ),
        (json!("history"), json!(33.0), json!(true)),
        "{aux}"
    );
    let inverter = body(&app, "/api/v1/inverter", &viewer).await;
    assert_eq!(
        (inverter["source"].clone(), inverter["ac_kw"].clone()),
        (json!("history"), json!(50.0)),
        "{inverter}"
    );
    assert!(
        inverter["efficiency"].is_null(),
        "no DC power: no efficiency"
    );
    let list = body(&app, "/api/v1/meters", &viewer).await;
    assert_eq!(list["meter_count"], 2, "{list}");
    assert!(started.elapsed() < Duration::from_secs(10), "no hang");
    app.stop().await.unwrap();

    // MySQL unreachable as well: nothing can answer for MAUX or the inverter, 503 naming the
    // database; no address in the body.
    let mysql_down = [
        ("db_meter_url", "mysql://root@127.0.0.1:3399/Meter"),
        ("db_inverter_url", "mysql://root@127.0.0.1:3399/Inverter"),
    ];
    let app = start(rt, &site, &mysql_down).await;
    for (path, store) in [
        ("/api/v1/meters/aux", "mysql:Meter"),
        ("/api/v1/inverter", "mysql:Inverter"),
        ("/api/v1/meters", "mysql:Meter"),
    ] {
        let reply = get(&app, path, Some(&viewer)).await;
        assert_eq!(reply.status, 503, "{path}: {}", reply.text());
        assert_eq!(reply.json().unwrap()["store"], store, "{path}");
        assert!(!reply.text().contains("3399"), "no address in the body");
    }
    // Fresh live values with MySQL unreachable: shown, today's energy unknown (null).
    write_meter_live(&site, "MAUX", now(), 44.0).await;
    write_inverter_live(&site, now(), 95.0, 100.0).await;
    let aux = body(&app, "/api/v1/meters/aux", &viewer).await;
    assert_eq!(
        (aux["KW_tot"].clone(), aux["source"].clone()),
        (json!(44.0), json!("realtime"))
    );
    assert!(aux["today"].is_null(), "{aux}");
    let inverter = body(&app, "/api/v1/inverter", &viewer).await;
    assert!(
        inverter["today_kwh"].is_null() && inverter["today"].is_null(),
        "{inverter}"
    );
    app.stop().await.unwrap();

    // The main Redis unreachable: the guard cannot check revocations, so nothing protected
    // answers; 503 naming it, not a 401 or a hang.
    let redis_down = [
        ("redis_main_host", "127.0.0.1:6399"),
        ("redis_main_url", "redis://127.0.0.1:6399"),
    ];
    let app = start(rt, &site, &redis_down).await;
    let started = std::time::Instant::now();
    for (path, _) in ROUTES {
        let reply = get(&app, path, Some(&viewer)).await;
        assert_eq!(reply.status, 503, "{path}: {}", reply.text());
        assert_eq!(reply.json().unwrap()["store"], "redis:main");
    }
    assert!(started.elapsed() < Duration::from_secs(10), "no hang");
    app.stop().await.unwrap();
}

/// Today's energy by the trapezoid rule over `(ts, kW)` samples in `[start, end)`, intervals over
/// 5 × `nominal` not bridged: the test's own arithmetic, to compare with the route's.
fn expected_energy(samples: &[(i64, f64)], (start, end): (i64, i64), nominal: i64) -> (f64, u32) {
    let today: Vec<_> = samples
        .iter()
        .filter(|(t, _)| *t >= start && *t < end)
        .collect();
    let (mut kwh, mut gaps) = (0.0, 0);
    for pair in today.windows(2) {
        let dt = pair[1].0 - pair[0].0;
        if dt > 5 * nominal {
            gaps += 1;
        } else {
            kwh += (pair[0].1 + pair[1].1) / 2.0 * dt as f64 / 3600.0;
        }
    }
    (kwh, gaps)
}

async fn todays_aux_energy_is_the_integral_of_todays_rows(rt: Runtime) {
    let site = site("meters_aux_kwh").await;
    // 36 kW for 10 minutes at 10 s: 6 kWh. Yesterday's rows must not count.
    let (base, day) = base_in_today(600).await;
    let mut rows: Vec<(i64, f64)> = (0..=60).map(|i| (base + i * 10, 36.0)).collect();
    let yesterday = [(day.0 - 20, 500.0), (day.0 - 10, 500.0)];
    write_meter_rows(&site, "MAUX", &yesterday).await;
    write_meter_rows(&site, "MAUX", &rows).await;
    write_meter_live(&site, "MAUX", now(), 36.0).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let aux = body(&app, "/api/v1/meters/aux", &viewer).await;
    assert_eq!(aux["source"], "realtime", "{aux}");
    let today = &aux["today"];
    assert!(close(&today["kwh"], 6.0), "{aux}");
    assert_eq!(
        (today["gaps"].clone(), today["samples"].clone()),
        (json!(0), json!(61))
    );
    assert_eq!(today["date"], local_date(day.0));
    assert_eq!(today["nominal_interval_secs"], 10);

    // A 2-minute hole (more than 5 × 10 s) is not bridged: one gap, its time adds nothing.
    sql(&site, Database::Meter, "DELETE FROM MAUX").await;
    let (base, day) = base_in_today(900).await;
    rows = (0..=30).map(|i| (base + i * 10, 36.0)).collect(); // 300 s: 3 kWh
    rows.extend((0..=48).map(|i| (base + 420 + i * 10, 36.0))); // 480 s: 4.8 kWh
    write_meter_rows(&site, "MAUX", &rows).await;
    let aux = body(&app, "/api/v1/meters/aux", &viewer).await;
    let (kwh, gaps) = expected_energy(&rows, day, 10);
    assert!((kwh - 7.8).abs() < 1e-9 && gaps == 1, "the test's own sum");
    assert!(close(&aux["today"]["kwh"], kwh), "{aux}");
    assert_eq!(
        (
            aux["today"]["gaps"].clone(),
            aux["today"]["samples"].clone()
        ),
        (json!(1), json!(80))
    );
    app.stop().await.unwrap();
}

async fn inverter_efficiency_and_todays_generation(rt: Runtime) {
    let site = site("meters_inverter").await;
    // 120 kW AC for 10 minutes at 60 s: 20 kWh; the register says otherwise, and both are shown.
    let (base, day) = base_in_today(600).await;
    let rows: Vec<(i64, f64, f64)> = (0..=10).map(|i| (base + i * 60, 120.0, 125.0)).collect();
    write_inverter_rows(&site, &[(day.0 - 60, 900.0, 950.0)]).await; // yesterday
    write_inverter_rows(&site, &rows).await;
    let ts = now();
    write_inverter_live(&site, ts, 95.0, 100.0).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let inverter = body(&app, "/api/v1/inverter", &viewer).await;
    assert_eq!(
        inverter,
        json!({
            "name": "INVERTER_1", "status": "run", "ac_kw": 95.0, "dc_kw": 100.0,
            "efficiency": 0.95, "today_kwh": inverter["today_kwh"], "today_kwh_register": 321.5,
            "lifetime_kwh": 1250000.25,
            "today": {
                "date": local_date(day.0), "kwh": inverter["today_kwh"], "gaps": 0, "samples": 11,
                "nominal_interval_secs": 60,
            },
            "source": "realtime", "stale": false, "updated_at": iso_of(ts),
        })
    );
    assert!(close(&inverter["today_kwh"], 20.0), "{inverter}");
    // A stale live value: the newest row answers, with its own efficiency.
    write_inverter_live(&site, ts - 3600, 95.0, 100.0).await;
    let inverter = body(&app, "/api/v1/inverter", &viewer).await;
    assert_eq!(inverter["source"], "history");
    assert_eq!(inverter["updated_at"], iso_of(base + 600));
    assert!(close(&inverter["efficiency"], 120.0 / 125.0), "{inverter}");
    assert_eq!(inverter["today_kwh_register"], 77.25);
    app.stop().await.unwrap();
}

on_both_runtimes!(
    who_may_read_meters,
    every_meter_hash_is_listed_and_legacy_paths_answer_the_same,
    stale_meters_fall_back_to_their_newest_rows,
    store_failures_fall_back_then_name_the_store,
    todays_aux_energy_is_the_integral_of_todays_rows,
    inverter_efficiency_and_todays_generation,
);
