//! The trading routes end to end, on both runtimes, against a throw-away site: schedule events,
//! PCS and grid-meter rows written by the test. Every expected figure (expected power, compliance,
//! factor, income in cents) is worked out here from the rows the test wrote, with the DOMAIN.md
//! rules written out again, not by calling the code under test.

#[macro_use]
mod common;

use common::api::{assert_401, assert_403, assert_422, get, iso_of, mysql_utc, now, sql, token};
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use serde_json::{json, Value};
use solarhub_shared::schema::Database;
use solarhub_shared::time::{Date, UtcOffset};

const SITE: UtcOffset = UtcOffset::SITE_DEFAULT;

/// A settled day in a past month (the test's day D), and the month it is in.
const DAY: &str = "2026-10-14";
const MONTH: &str = "2026-10";

const ROUTES: [(&str, &str); 4] = [
    ("/api/v1/schedule", "/api/schedule"),
    ("/api/v1/income/daily", "/api/income/day"),
    ("/api/v1/income/monthly", "/api/income/month"),
    ("/api/v1/execution-rate", "/api/exec_rate"),
];

async fn site(tag: &str) -> Site {
    let site = Site::new(
        tag,
        &[
            Database::Ess,
            Database::Schedule,
            Database::Pcs,
            Database::Meter,
        ],
    )
    .await;
    site.add_user("vera", &["viewer"]).await;
    site.add_user("nora", &[]).await;
    site
}

async fn start(rt: Runtime, site: &Site, overrides: &[(&str, &str)]) -> TestApp {
    common::start_app(rt, site.variables(), overrides).await
}

async fn body(app: &TestApp, path: &str, token: &str) -> Value {
    let reply = get(app, path, Some(token)).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json().unwrap()
}

fn local_midnight(date: &str) -> i64 {
    Date::parse(date).unwrap().start_utc(SITE)
}

/// Inserts an event; returns its id.
async fn add_event(
    site: &Site,
    start: i64,
    end: i64,
    mode: &str,
    capacity: &str,
    price: &str,
    status: &str,
) -> u64 {
    let mut conn = site.mysql().await;
    use mysql_async::prelude::Queryable;
    conn.query_drop(format!(
        "INSERT INTO `{}`.events (start_at, end_at, mode, capacity_mw, capacity_price, status) \
         VALUES ('{}', '{}', '{mode}', {capacity}, {price}, '{status}')",
        site.db_name(Database::Schedule),
        mysql_utc(start),
        mysql_utc(end)
    ))
    .await
    .unwrap();
    let id: u64 = conn
        .query_first("SELECT LAST_INSERT_ID()")
        .await
        .unwrap()
        .unwrap();
    conn.disconnect().await.unwrap();
    id
}

/// One sample as the collectors store it: both PCS rows and the MMAIN row at `ts`.
struct Row {
    ts: i64,
    freq: f64,
    pcs_total_kw: f64,
}

async fn write_rows(site: &Site, rows: &[Row]) {
    for chunk in rows.chunks(500) {
        let pcs = |share: f64| {
            chunk
                .iter()
                .map(|r| {
                    format!(
                        "('{}','run',{},0,800,0,230,230,230,0,0,0,{},0)",
                        mysql_utc(r.ts),
                        r.pcs_total_kw * share,
                        r.freq
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let pcs_db = site.db_name(Database::Pcs);
        let cols = "(ts,status,p_kw,q_kvar,dc_v,dc_a,v_a,v_b,v_c,i_a,i_b,i_c,freq,fault_code)";
        sql(
            site,
            &format!(
                "INSERT INTO `{pcs_db}`.pcs0_data {cols} VALUES {}",
                pcs(0.6)
            ),
        )
        .await;
        sql(
            site,
            &format!(
                "INSERT INTO `{pcs_db}`.pcs1_data {cols} VALUES {}",
                pcs(0.4)
            ),
        )
        .await;
        let meter = chunk
            .iter()
            .map(|r| format!("('{}',0,0,0,0,0,0,0,0,1,{},0,0)", mysql_utc(r.ts), r.freq))
            .collect::<Vec<_>>()
            .join(",");
        sql(
            site,
            &format!(
                "INSERT INTO `{}`.MMAIN (ts,I_a,I_b,I_c,Vll_ab,Vll_bc,Vll_ca,KW_tot,KVAR_tot,PF,freq,kwh_import,kwh_export) VALUES {meter}",
                site.db_name(Database::Meter)
            ),
        )
        .await;
    }
}

/// DOMAIN.md's expected power in kW (+ discharge) for an awarded `capacity_mw`, written out here.
fn expected_kw(mode: &str, capacity_mw: f64, freq: f64) -> f64 {
    let (dead, full) = if mode == "dreg" {
        (0.02, 0.25)
    } else {
        (0.01, 0.15)
    };
    let d = freq - 60.0;
    let fraction = if d.abs() <= dead {
        0.0
    } else if d.abs() >= full {
        1.0
    } else {
        (d.abs() - dead) / (full - dead)
    };
    let signed = if d < 0.0 { fraction } else { -fraction };
    signed * capacity_mw * 1000.0
}

fn factor_of(rate: f64) -> f64 {
    if rate >= 0.95 {
        1.0
    } else if rate >= 0.85 {
        0.7
    } else if rate >= 0.70 {
        0.5
    } else {
        0.0
    }
}

/// Income in cents of C (kW) × seconds × price (cents per MW·h) × factor (per-mille), half up.
fn cents(capacity_kw: i128, secs: i128, price_cents: i128, factor_permille: i128) -> i64 {
    let num = capacity_kw * secs * price_cents * factor_permille;
    let den = 1000 * 3600 * 1000;
    ((num + den / 2) / den) as i64
}

const FREQS: [f64; 6] = [60.0, 59.9, 60.1, 59.7, 60.3, 59.985];

/// Rows for an event of `slots` 10 s samples starting at `start`: the PCS total follows the
/// expected power (off by 10 kW, within the 3 % tolerance) except in the slots `off` picks (off by
/// 100 kW, outside it); the slots `missing` picks have no rows at all.
fn event_rows(
    start: i64,
    slots: i64,
    mode: &str,
    capacity_mw: f64,
    off: impl Fn(i64) -> bool,
    missing: impl Fn(i64) -> bool,
) -> Vec<Row> {
    (0..slots)
        .filter(|i| !missing(*i))
        .map(|i| {
            let freq = FREQS[(i % 6) as usize];
            let deviation = if off(i) { 100.0 } else { 10.0 };
            Row {
                ts: start + i * 10,
                freq,
                pcs_total_kw: expected_kw(mode, capacity_mw, freq) + deviation,
            }
        })
        .collect()
}

/// The day D of the tests: event A (a gap and a known share of bad samples), event B (runs past
/// midnight, all good), event C (cancelled), and event N on the next day. Returns their ids and the
/// incomes expected in cents.
struct DayD {
    a: u64,
    b: u64,
    c: u64,
    a_cents: i64,
    b_cents: i64,
    n_cents: i64,
}

async fn seed_day_d(site: &Site) -> DayD {
    let d0 = local_midnight(DAY);
    // A: dReg 1.250 MW at 523.45, 10:00-11:00 local; slots 100..130 missing (a 5-minute gap),
    // every slot ending in 3 that has a sample is 100 kW off.
    let a_start = d0 + 10 * 3600;
    let a = add_event(
        site,
        a_start,
        a_start + 3600,
        "dreg",
        "1.250",
        "523.45",
        "completed",
    )
    .await;
    write_rows(
        site,
        &event_rows(
            a_start,
            360,
            "dreg",
            1.25,
            |i| i % 10 == 3,
            |i| (100..130).contains(&i),
        ),
    )
    .await;
    // 360 expected; 330 present; bad: 36 slots ending in 3, 3 of them in the gap → 33.
    let a_compliant = 330 - 33;
    let a_rate = a_compliant as f64 / 360.0;
    assert_eq!(factor_of(a_rate), 0.5, "the test's own arithmetic");
    let a_cents = cents(1250, 3600, 52_345, 500);
    assert_eq!(a_cents, 32_716); // 327.15625 TWD
                                 // B: E-dReg 2.000 MW at 400.00, 23:00 D → 01:00 D+1: counts on D.
    let b_start = d0 + 23 * 3600;
    let b = add_event(
        site,
        b_start,
        b_start + 7200,
        "edreg",
        "2.000",
        "400.00",
        "completed",
    )
    .await;
    write_rows(
        site,
        &event_rows(b_start, 720, "edreg", 2.0, |_| false, |_| false),
    )
    .await;
    let b_cents = cents(2000, 7200, 40_000, 1000);
    // C: cancelled, no rows: earns 0.
    let c = add_event(
        site,
        d0 + 14 * 3600,
        d0 + 15 * 3600,
        "dreg",
        "1.000",
        "999.99",
        "cancelled",
    )
    .await;
    // N: the next day, 1.1 MW × 0.5 h × 333.33, every 9th slot missing: 160/180 → factor 0.7.
    let n_start = d0 + 86_400 + 3 * 3600;
    add_event(
        site,
        n_start,
        n_start + 1800,
        "dreg",
        "1.100",
        "333.33",
        "completed",
    )
    .await;
    write_rows(
        site,
        &event_rows(n_start, 180, "dreg", 1.1, |_| false, |i| i % 9 == 0),
    )
    .await;
    assert_eq!(factor_of(160.0 / 180.0), 0.7);
    let n_cents = cents(1100, 1800, 33_333, 700);
    DayD {
        a,
        b,
        c,
        a_cents,
        b_cents,
        n_cents,
    }
}

async fn who_may_read_trading(rt: Runtime) {
    let site = site("trading_auth").await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let nobody = token(&app, "nora").await;
    for path in ROUTES.iter().flat_map(|(new, old)| [*new, *old]) {
        assert_401(&get(&app, path, None).await);
        assert_403(&get(&app, path, Some(&nobody)).await, "trading:read");
        assert_eq!(get(&app, path, Some(&viewer)).await.status, 200, "{path}");
    }
    // A 403 wins over a bad query.
    assert_403(
        &get(&app, "/api/v1/schedule?weeks=99", Some(&nobody)).await,
        "trading:read",
    );
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn bad_input_is_a_422_with_its_location(rt: Runtime) {
    let site = site("trading_422").await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let q = |loc: &str| json!(["query", loc]);
    for (path, loc, kind) in [
        ("/api/v1/schedule?mode=both", "mode", "enum"),
        ("/api/v1/schedule?weeks=0", "weeks", "greater_than_equal"),
        ("/api/v1/schedule?weeks=53", "weeks", "less_than_equal"),
        ("/api/v1/schedule?weeks=two", "weeks", "int_parsing"),
        (
            "/api/v1/income/daily?date=2026-02-30",
            "date",
            "date_parsing",
        ),
        (
            "/api/v1/income/daily?date=yesterday",
            "date",
            "date_parsing",
        ),
        (
            "/api/v1/income/daily?date=0001-01-01",
            "date",
            "value_error",
        ),
        (
            "/api/v1/income/monthly?month=2026-13",
            "month",
            "string_pattern_mismatch",
        ),
        (
            "/api/v1/income/monthly?month=2026-1",
            "month",
            "string_pattern_mismatch",
        ),
        (
            "/api/v1/execution-rate?event_id=abc",
            "event_id",
            "int_parsing",
        ),
        (
            "/api/v1/execution-rate?event_id=0",
            "event_id",
            "greater_than_equal",
        ),
        (
            "/api/v1/execution-rate?event_id=1&date=2026-10-14",
            "event_id",
            "value_error",
        ),
        (
            "/api/v1/execution-rate?date=2026-10-32",
            "date",
            "date_parsing",
        ),
        (
            "/api/exec_rate?event_id=-1",
            "event_id",
            "greater_than_equal",
        ),
    ] {
        assert_422(&get(&app, path, Some(&viewer)).await, q(loc), kind);
    }
    // Two bad parameters: both reported.
    let both = get(&app, "/api/v1/schedule?mode=x&weeks=x", Some(&viewer)).await;
    assert_422(&both, q("mode"), "enum");
    assert_422(&both, q("weeks"), "int_parsing");
    let unknown = get(
        &app,
        "/api/v1/execution-rate?event_id=999999",
        Some(&viewer),
    )
    .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    assert_eq!(unknown.json().unwrap()["detail"], "Event 999999 not found");
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn a_days_income_is_the_sum_of_its_events(rt: Runtime) {
    let site = site("trading_daily").await;
    let d = seed_day_d(&site).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let day = body(&app, &format!("/api/v1/income/daily?date={DAY}"), &viewer).await;
    assert_eq!(day["date"], DAY);
    assert_eq!(day["settled"], true);
    assert_eq!(day["currency"], "TWD");
    let events = day["events"].as_array().unwrap();
    let ids: Vec<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(
        ids,
        vec![d.a, d.c, d.b],
        "start order; B counts on D though it ends on D+1"
    );
    let a = &events[0];
    assert_eq!(
        (
            a["expected_samples"].clone(),
            a["present_samples"].clone(),
            a["compliant_samples"].clone()
        ),
        (json!(360), json!(330), json!(297)),
        "{a}"
    );
    assert_eq!(a["execution_rate"], json!(0.825));
    assert_eq!(a["factor"], json!(0.5));
    assert_eq!(a["income_cents"], json!(d.a_cents));
    assert_eq!(a["income"], "327.16");
    assert_eq!(a["price"], "523.45");
    assert_eq!(a["capacity_mw"], json!(1.25));
    assert_eq!(a["start"], iso_of(local_midnight(DAY) + 36_000));
    assert_eq!(a["phase"], "final");
    let c = &events[1];
    assert_eq!(
        (
            c["phase"].clone(),
            c["income_cents"].clone(),
            c["factor"].clone()
        ),
        (json!("cancelled"), json!(0), json!(0.0))
    );
    let b = &events[2];
    assert_eq!(
        (
            b["compliant_samples"].clone(),
            b["execution_rate"].clone(),
            b["factor"].clone()
        ),
        (json!(720), json!(1.0), json!(1.0))
    );
    assert_eq!(b["income"], "1600.00");
    for e in events {
        let rate = e["execution_rate"].as_f64().unwrap_or(0.0);
        assert!((0.0..=1.0).contains(&rate));
        assert!(
            [0.0, 0.5, 0.7, 1.0].contains(&e["factor"].as_f64().unwrap()),
            "{e}"
        );
    }
    let total = d.a_cents + d.b_cents;
    assert_eq!(day["total_cents"], json!(total));
    assert_eq!(day["total"], format!("{}.{:02}", total / 100, total % 100));
    assert_eq!(day["pending_events"], 0);

    // The execution-rate views agree with the income view.
    let one = body(
        &app,
        &format!("/api/v1/execution-rate?event_id={}", d.a),
        &viewer,
    )
    .await;
    assert_eq!(one["events"][0], *a);
    assert_eq!(
        (
            one["expected_samples"].clone(),
            one["compliant_samples"].clone()
        ),
        (json!(360), json!(297))
    );
    let by_day = body(&app, &format!("/api/v1/execution-rate?date={DAY}"), &viewer).await;
    assert_eq!(by_day["events"], day["events"]);
    assert_eq!(by_day["expected_samples"], json!(360 + 720));
    assert_eq!(by_day["compliant_samples"], json!(297 + 720));

    // A day and a month without events are 0, not an error; so is today.
    let empty = body(&app, "/api/v1/income/daily?date=2026-01-05", &viewer).await;
    assert_eq!(
        (empty["total"].clone(), empty["events"].clone()),
        (json!("0.00"), json!([]))
    );
    let today = body(&app, "/api/v1/income/daily", &viewer).await;
    let today_date = solarhub_shared::time::local_date(now(), SITE).to_string();
    assert_eq!(today["date"], today_date);
    assert_eq!(today["settled"], false);
    let january = body(&app, "/api/v1/income/monthly?month=2026-01", &viewer).await;
    assert_eq!(january["days"].as_array().unwrap().len(), 31);
    assert_eq!(january["total_cents"], 0);
    assert_eq!(d.c, by_day["events"][1]["id"].as_u64().unwrap());
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn a_month_is_the_sum_of_its_days_to_the_cent(rt: Runtime) {
    let site = site("trading_monthly").await;
    let d = seed_day_d(&site).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let month = body(
        &app,
        &format!("/api/v1/income/monthly?month={MONTH}"),
        &viewer,
    )
    .await;
    let days = month["days"].as_array().unwrap();
    assert_eq!(days.len(), 31);
    let expected = d.a_cents + d.b_cents + d.n_cents;
    assert_eq!(month["total_cents"], json!(expected), "{month}");
    assert_eq!(month["events"], 4);
    let mut sum = 0;
    for line in days {
        let date = line["date"].as_str().unwrap();
        let daily = body(&app, &format!("/api/v1/income/daily?date={date}"), &viewer).await;
        assert_eq!(line["total_cents"], daily["total_cents"], "{date}");
        assert_eq!(line["total"], daily["total"], "{date}");
        sum += daily["total_cents"].as_i64().unwrap();
    }
    assert_eq!(sum, expected);
    assert_eq!(days[13]["total_cents"], json!(d.a_cents + d.b_cents));
    assert_eq!(days[14]["total_cents"], json!(d.n_cents));
    // Legacy paths: the same bodies, deprecated, pointing at their successors.
    for (new, old) in [
        (
            format!("/api/v1/income/monthly?month={MONTH}"),
            format!("/api/income/month?month={MONTH}"),
        ),
        (
            format!("/api/v1/income/daily?date={DAY}"),
            format!("/api/income/day?date={DAY}"),
        ),
        (
            format!("/api/v1/execution-rate?date={DAY}"),
            format!("/api/exec_rate?date={DAY}"),
        ),
        (
            "/api/v1/schedule?weeks=2".to_owned(),
            "/api/schedule?weeks=2".to_owned(),
        ),
    ] {
        let current = get(&app, &new, Some(&viewer)).await;
        let legacy = get(&app, &old, Some(&viewer)).await;
        assert_eq!(legacy.status, 200, "{old}");
        assert_eq!(legacy.json().unwrap(), current.json().unwrap(), "{old}");
        assert!(legacy.header("deprecation").is_some(), "{old}");
        let path = new.split('?').next().unwrap();
        assert_eq!(
            legacy.header("link"),
            Some(format!("<{path}>; rel=\"successor-version\"").as_str()),
            "{old}"
        );
    }
    app.stop().await.unwrap();
    site.cleanup().await;
}

/// A settled day is computed once and then served from Redis: rows deleted afterwards do not
/// change it. A day not yet settled is recomputed every time.
async fn settled_days_come_from_the_cache(rt: Runtime) {
    let site = site("trading_cache").await;
    let d = seed_day_d(&site).await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let path = format!("/api/v1/income/daily?date={DAY}");
    let first = body(&app, &path, &viewer).await;
    let client = redis::Client::open(common::site::REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}cache:income:*:{DAY}", site.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "one cached settlement of D: {keys:?}");
    // Every PCS row of D's events goes (B runs to 01:00 on D+1; N starts at 03:00).
    let before_n = mysql_utc(local_midnight(DAY) + 86_400 + 3 * 3600);
    sql(
        &site,
        &format!(
            "DELETE FROM `{}`.pcs0_data WHERE ts < '{before_n}'",
            site.db_name(Database::Pcs)
        ),
    )
    .await;
    let again = body(&app, &path, &viewer).await;
    assert_eq!(again, first, "served from the cache");
    assert_eq!(again["total_cents"], json!(d.a_cents + d.b_cents));
    // The cache belongs to the parameters: another tolerance is another settlement.
    app.stop().await.unwrap();
    let app = start(rt, &site, &[("dreg_tolerance_fraction", "0.05")]).await;
    let other = body(&app, &path, &viewer).await;
    assert_eq!(
        other["total_cents"],
        json!(0),
        "no PCS rows left: nothing earned"
    );
    // Not settled yet (settling after 400 days): computed from the rows each time, not cached.
    app.stop().await.unwrap();
    let app = start(rt, &site, &[("income_settled_after_days", "400")]).await;
    let unsettled = body(&app, "/api/v1/income/daily?date=2026-10-15", &viewer).await;
    assert_eq!(unsettled["settled"], false);
    assert_eq!(unsettled["total_cents"], json!(d.n_cents));
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}cache:income:*:2026-10-15", site.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn the_schedule_starts_on_local_monday(rt: Runtime) {
    let site = site("trading_schedule").await;
    let today = solarhub_shared::time::local_date(now(), SITE);
    let monday_days = today.days_since_epoch() - i64::from(today.weekday_from_monday());
    let monday = Date::from_days_since_epoch(monday_days).start_utc(SITE);
    let this_week = add_event(
        &site,
        monday + 3600,
        monday + 3 * 3600,
        "dreg",
        "1.500",
        "500.00",
        "scheduled",
    )
    .await;
    let cancelled = add_event(
        &site,
        monday + 86_400,
        monday + 86_400 + 3600,
        "edreg",
        "2.000",
        "450.50",
        "cancelled",
    )
    .await;
    let next_week = add_event(
        &site,
        monday + 8 * 86_400,
        monday + 8 * 86_400 + 1800,
        "edreg",
        "1.000",
        "610.25",
        "scheduled",
    )
    .await;
    let _last_week = add_event(
        &site,
        monday - 3600,
        monday,
        "dreg",
        "1.000",
        "400.00",
        "completed",
    )
    .await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let one = body(&app, "/api/v1/schedule", &viewer).await;
    assert_eq!(one["from"], iso_of(monday));
    assert_eq!(one["to"], iso_of(monday + 7 * 86_400));
    let ids = |v: &Value| -> Vec<u64> {
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(&one), vec![this_week, cancelled]);
    assert_eq!(
        one["totals"],
        json!({"events": 1, "dreg_events": 1, "edreg_events": 0, "cancelled_events": 1,
               "hours": 2.0, "awarded_mwh": 3.0})
    );
    let e = &one["events"][0];
    assert_eq!(
        (
            e["mode"].clone(),
            e["capacity_mw"].clone(),
            e["price"].clone(),
            e["status"].clone()
        ),
        (
            json!("dreg"),
            json!(1.5),
            json!("500.00"),
            json!("scheduled")
        )
    );
    let two = body(&app, "/api/v1/schedule?weeks=2", &viewer).await;
    assert_eq!(ids(&two), vec![this_week, cancelled, next_week]);
    let edreg = body(&app, "/api/v1/schedule?weeks=2&mode=edreg", &viewer).await;
    assert_eq!(ids(&edreg), vec![cancelled, next_week]);
    assert_eq!(edreg["totals"]["awarded_mwh"], json!(0.5));
    assert_eq!(edreg["mode"], "edreg");
    app.stop().await.unwrap();
    site.cleanup().await;
}

/// Drops the overview's one-minute reuse of today's income.
async fn forget_todays_income(site: &Site) {
    let client = redis::Client::open(common::site::REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}cache:income_today:*", site.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    for key in keys {
        let _: () = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

/// The overview's "today's income" is today's daily total; a store that is down is named.
async fn the_overview_shows_todays_income_and_stores_are_named(rt: Runtime) {
    let site = site("trading_today").await;
    let day_start = local_midnight(&solarhub_shared::time::local_date(now(), SITE).to_string());
    // A one-minute event just after local midnight, all samples good: C × 1/60 h × price.
    let expected = if now() >= day_start + 180 {
        add_event(
            &site,
            day_start,
            day_start + 60,
            "dreg",
            "1.200",
            "500.00",
            "completed",
        )
        .await;
        write_rows(
            &site,
            &event_rows(day_start, 6, "dreg", 1.2, |_| false, |_| false),
        )
        .await;
        cents(1200, 60, 50_000, 1000)
    } else {
        0
    };
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let daily = body(&app, "/api/v1/income/daily", &viewer).await;
    assert_eq!(daily["total_cents"], json!(expected), "{daily}");
    let overview = body(&app, "/api/v1/system/overview", &viewer).await;
    assert_eq!(
        overview["today"]["income_cents"],
        json!(expected),
        "{overview}"
    );
    assert_eq!(overview["today"]["income"], daily["total"]);
    app.stop().await.unwrap();

    // PCS history unreachable: the routes that need it name it; the schedule still answers.
    let down = [("db_pcs_url", "mysql://root@127.0.0.1:3399/PCS")];
    let app = start(rt, &site, &down).await;
    let reply = get(
        &app,
        &format!("/api/v1/income/daily?date={DAY}"),
        Some(&viewer),
    )
    .await;
    // No event on that day: nothing to judge, so no PCS connection needed.
    assert_eq!(reply.status, 200, "{}", reply.text());
    if expected > 0 {
        let reply = get(&app, "/api/v1/income/daily", Some(&viewer)).await;
        assert_eq!(reply.status, 503, "{}", reply.text());
        assert_eq!(reply.json().unwrap()["store"], "mysql:PCS");
        assert!(!reply.text().contains("3399"));
    }
    assert_eq!(
        get(&app, "/api/v1/schedule", Some(&viewer)).await.status,
        200
    );
    app.stop().await.unwrap();
    // Grid-meter history unreachable: the overview still answers, its income unknown.
    let down = [("db_meter_url", "mysql://root@127.0.0.1:3399/Meter")];
    let app = start(rt, &site, &down).await;
    forget_todays_income(&site).await;
    let overview = body(&app, "/api/v1/system/overview", &viewer).await;
    if expected > 0 {
        assert!(overview["today"]["income"].is_null(), "{overview}");
    }
    app.stop().await.unwrap();
    let down = [("db_schedule_url", "mysql://root@127.0.0.1:3399/schedule")];
    let app = start(rt, &site, &down).await;
    for path in [
        "/api/v1/schedule",
        "/api/v1/income/monthly",
        "/api/v1/execution-rate?event_id=1",
    ] {
        let reply = get(&app, path, Some(&viewer)).await;
        assert_eq!(reply.status, 503, "{path}: {}", reply.text());
        assert_eq!(reply.json().unwrap()["store"], "mysql:schedule", "{path}");
    }
    app.stop().await.unwrap();
    site.cleanup().await;
}

on_both_runtimes!(
    who_may_read_trading,
    bad_input_is_a_422_with_its_location,
    a_days_income_is_the_sum_of_its_events,
    a_month_is_the_sum_of_its_days_to_the_cent,
    settled_days_come_from_the_cache,
    the_schedule_starts_on_local_monday,
    the_overview_shows_todays_income_and_stores_are_named,
);
