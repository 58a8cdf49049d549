//! API request budgets end to end, on both runtimes: per token, per client address, per route
//! group, the headers a client reads, and failing open when Redis refuses the counters.

#[macro_use]
mod common;

use common::api::{call, get, token};
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use solarhub_host::client::Reply;
use solarhub_shared::schema::Database;

async fn site(tag: &str) -> Site {
    let site = Site::new(tag, &[Database::Ess]).await;
    site.add_user("vera", &["viewer"]).await;
    site.add_user("olga", &["operator"]).await;
    site.add_user("ada", &["admin"]).await;
    site
}

async fn start(rt: Runtime, site: &Site, overrides: &[(&str, &str)]) -> TestApp {
    common::start_app(rt, site.variables(), overrides).await
}

fn header_number(reply: &Reply, name: &str) -> u64 {
    reply
        .header(name)
        .unwrap_or_else(|| panic!("no {name}: {}", reply.text()))
        .parse()
        .unwrap()
}

fn assert_limited(reply: &Reply, limit: u64) {
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert_eq!(header_number(reply, "ratelimit-limit"), limit);
    assert_eq!(header_number(reply, "ratelimit-remaining"), 0);
    let reset = header_number(reply, "ratelimit-reset");
    assert_eq!(header_number(reply, "retry-after"), reset);
    assert!((1..=86_400).contains(&reset));
    let detail = reply.json().unwrap()["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("Rate limit exceeded"), "{detail}");
}

/// A day-long window: the test never straddles one.
const TELEMETRY_5_PER_TOKEN: (&str, &str) =
    ("rate_limit_telemetry", "token=5,address=1000,window=86400");

async fn each_token_has_its_own_budget(rt: Runtime) {
    let site = site("rl_token").await;
    let app = start(rt, &site, &[TELEMETRY_5_PER_TOKEN]).await;
    let first = token(&app, "vera").await;
    let second = token(&app, "vera").await;
    for n in 1..=5u64 {
        let reply = get(&app, "/api/v1/alerts?limit=1", Some(&first)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(header_number(&reply, "ratelimit-limit"), 5);
        assert_eq!(header_number(&reply, "ratelimit-remaining"), 5 - n);
    }
    assert_limited(&get(&app, "/api/v1/alerts?limit=1", Some(&first)).await, 5);
    // The legacy path is the same group.
    assert_limited(&get(&app, "/api/alert/pcs", Some(&first)).await, 5);
    // Another token of the same user, and another group for the spent token, still answer.
    assert_eq!(
        get(&app, "/api/v1/alerts?limit=1", Some(&second))
            .await
            .status,
        200
    );
    let me = get(&app, "/api/v1/auth/me", Some(&first)).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert!(
        me.header("ratelimit-limit").is_some(),
        "session group budget"
    );
    // Bad input of a spent token is still a 429 (counted before the handler runs).
    assert_limited(&get(&app, "/api/v1/alerts?limit=0", Some(&first)).await, 5);
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn each_address_has_its_own_budget(rt: Runtime) {
    let site = site("rl_address").await;
    let app = start(rt, &site, &[("rate_limit_admin", "address=3,window=86400")]).await;
    let ada = token(&app, "ada").await;
    let again = token(&app, "ada").await;
    for t in [&ada, &again, &ada] {
        let reply = get(&app, "/api/v1/admin/users", Some(t)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    // A fresh token from the same address: the address's budget is spent.
    assert_limited(&get(&app, "/api/v1/admin/users", Some(&again)).await, 3);
    // Bad tokens from that address count too, and are refused the same way.
    assert_limited(
        &get(&app, "/api/v1/admin/users", Some("not.a.token")).await,
        3,
    );
    // A viewer's 403 on an admin route counts against the admin group as well.
    let vera = token(&app, "vera").await;
    assert_limited(&get(&app, "/api/v1/admin/users", Some(&vera)).await, 3);
    // Unlimited groups are untouched; without a token nothing is counted (401 as always).
    assert_eq!(
        get(&app, "/api/v1/alerts?limit=1", Some(&vera))
            .await
            .status,
        200
    );
    assert_eq!(get(&app, "/api/v1/admin/users", None).await.status, 401);
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn writes_have_their_own_budget_and_off_means_off(rt: Runtime) {
    let site = site("rl_groups").await;
    let overrides = [
        ("rate_limit_alerts", "token=2,window=86400"),
        ("rate_limit_telemetry", "off"),
    ];
    let app = start(rt, &site, &overrides).await;
    let olga = token(&app, "olga").await;
    for _ in 0..2 {
        let reply = call(&app, "POST", "/api/v1/alerts/999999/ack", Some(&olga)).await;
        assert_eq!(reply.status, 404, "{}", reply.text());
    }
    assert_limited(
        &call(&app, "POST", "/api/v1/alerts/999999/ack", Some(&olga)).await,
        2,
    );
    for _ in 0..20 {
        let reply = get(&app, "/api/v1/alerts?limit=1", Some(&olga)).await;
        assert_eq!(reply.status, 200);
        assert!(
            reply.header("ratelimit-limit").is_none(),
            "telemetry is off"
        );
    }
    app.stop().await.unwrap();
    site.cleanup().await;
}

/// A Redis user that may not run scripts: the budgets cannot be counted, and reads go on.
async fn a_redis_refusing_the_counters_lets_requests_through(rt: Runtime) {
    let site = site("rl_open").await;
    let user = format!("{}rl", site.prefix);
    let client = redis::Client::open(common::site::REDIS).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("ACL")
        .arg(
            &[
                "SETUSER",
                &user,
                "on",
                ">rl-test-password",
                "~*",
                "&*",
                "+@all",
                "-@scripting",
            ][..],
        )
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = format!("redis://{user}:rl-test-password@127.0.0.1:6379");
    let overrides = [
        ("redis_main_url", url.as_str()),
        ("rate_limit_telemetry", "token=1,address=1,window=86400"),
    ];
    let app = start(rt, &site, &overrides).await;
    let vera = token(&app, "vera").await;
    for _ in 0..5 {
        let reply = get(&app, "/api/v1/alerts?limit=1", Some(&vera)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(reply.header("ratelimit-limit").is_none());
    }
    // Real Spin's component log says why (the local host logs to the test's own stderr).
    if app.host().is_none() {
        let logs = app.component_logs();
        assert!(logs.contains("ratelimit: counting failed"), "{logs}");
    }
    app.stop().await.unwrap();
    let _: () = redis::cmd("ACL")
        .arg(&["DELUSER", &user][..])
        .query_async(&mut admin)
        .await
        .unwrap();
    site.cleanup().await;
}

on_both_runtimes!(
    each_token_has_its_own_budget,
    each_address_has_its_own_budget,
    writes_have_their_own_budget_and_off_means_off,
    a_redis_refusing_the_counters_lets_requests_through,
);
