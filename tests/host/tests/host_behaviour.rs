//! The host behaves like Spin for what SolarHub uses: routing and its headers, variables, outbound
//! rules, traps and timeouts, instance reuse and connection lifetimes, dependency composition, the
//! compile cache. Runs the fixture app under tests/fixtures (a compiled probe component) against
//! the real MariaDB and Redis.

mod common;

use std::time::{Duration, Instant};

use serde_json::Value;
use solarhub_host::client::{get, request};
use solarhub_host::{App, HostOptions, RunningHost};

fn fixture_manifest() -> std::path::PathBuf {
    common::repo_root().join("tests/fixtures/spin.toml")
}

fn fixture_options(extra: &[(&str, String)]) -> HostOptions {
    let mut vars = vec![("token", "t0ken".to_owned())];
    vars.extend(extra.iter().cloned());
    let mut options = common::options(fixture_manifest(), &vars);
    options.request_timeout = Duration::from_secs(2);
    options
}

async fn fixture_host(extra: &[(&str, String)]) -> RunningHost {
    common::start(fixture_options(extra)).await
}

async fn probe(host: &RunningHost, path: &str) -> Value {
    let reply = get(host.addr, path).await.unwrap();
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json().unwrap()
}

fn header<'a>(probe: &'a Value, name: &str) -> &'a str {
    probe["headers"][name].as_str().unwrap_or("<absent>")
}

#[tokio::test]
async fn routing_headers_match_spin() {
    let host = fixture_host(&[]).await;
    let addr = host.addr;

    let named = probe(&host, "/probe/headers/named/42?x=1").await;
    assert_eq!(named["path_with_query"], "/probe/headers/named/42?x=1");
    assert_eq!(
        header(&named, "spin-full-url"),
        format!("http://{addr}/probe/headers/named/42?x=1")
    );
    assert_eq!(header(&named, "spin-path-info"), "");
    assert_eq!(
        header(&named, "spin-matched-route"),
        "/probe/headers/named/:item_id"
    );
    assert_eq!(
        header(&named, "spin-component-route"),
        "/probe/headers/named/:item_id"
    );
    assert_eq!(
        header(&named, "spin-raw-component-route"),
        "/probe/headers/named/:item_id"
    );
    assert_eq!(header(&named, "spin-base-path"), "/");
    assert_eq!(header(&named, "spin-path-match-item-id"), "42");
    assert!(header(&named, "spin-client-addr").starts_with("127.0.0.1:"));

    let wildcard = probe(&host, "/probe/headers/a/b/").await;
    assert_eq!(header(&wildcard, "spin-path-info"), "/headers/a/b/");
    assert_eq!(header(&wildcard, "spin-matched-route"), "/probe/...");
    assert_eq!(header(&wildcard, "spin-component-route"), "/probe");
    assert_eq!(header(&wildcard, "spin-raw-component-route"), "/probe/...");

    let exact = probe(&host, "/probe/headers/exact").await;
    assert_eq!(
        header(&exact, "spin-matched-route"),
        "/probe/headers/exact",
        "exact beats wildcard"
    );
    assert_eq!(header(&exact, "spin-path-info"), "");
    host.stop().await.unwrap();
}

#[tokio::test]
async fn clients_cannot_spoof_spin_headers() {
    let host = fixture_host(&[]).await;
    let reply = request(
        host.addr,
        "GET",
        "/probe/headers/exact",
        &[("spin-path-info", "/evil"), ("spin-path-match-admin", "1")],
        b"",
    )
    .await
    .unwrap();
    let seen = reply.json().unwrap();
    assert_eq!(header(&seen, "spin-path-info"), "");
    assert_eq!(header(&seen, "spin-path-match-admin"), "<absent>");
    host.stop().await.unwrap();
}

#[tokio::test]
async fn unrouted_paths_get_spins_empty_404_and_well_known_answers() {
    let host = fixture_host(&[]).await;
    let missing = get(host.addr, "/nowhere").await.unwrap();
    assert_eq!(missing.status, 404);
    assert!(missing.body.is_empty());
    let health = get(host.addr, "/.well-known/spin/health").await.unwrap();
    assert_eq!((health.status, health.text().as_str()), (200, "OK"));
    assert_eq!(
        get(host.addr, "/.well-known/spin/other")
            .await
            .unwrap()
            .status,
        404
    );
    host.stop().await.unwrap();
}

#[tokio::test]
async fn variables_resolve_like_spin() {
    let host = fixture_host(&[("greeting", "Howdy".to_owned())]).await;
    assert_eq!(probe(&host, "/probe/var/greeting").await["ok"], "Howdy");
    assert_eq!(
        probe(&host, "/probe/var/composite").await["ok"],
        "pre-Howdy-post"
    );
    assert_eq!(probe(&host, "/probe/var/token").await["ok"], "t0ken");
    let undefined = probe(&host, "/probe/var/redis_host").await;
    let err = undefined["err"].as_str().unwrap();
    assert!(
        err.contains("Undefined(\"no variable for \\\"probe\\\".\\\"redis_host\\\"\")"),
        "app variables are not visible to guests: {err}"
    );
    let invalid = probe(&host, "/probe/var/Not-Valid").await;
    assert!(
        invalid["err"].as_str().unwrap().contains("InvalidName("),
        "{invalid}"
    );
    host.stop().await.unwrap();

    let defaults = fixture_host(&[]).await;
    assert_eq!(probe(&defaults, "/probe/var/greeting").await["ok"], "Hello");
    defaults.stop().await.unwrap();
}

#[tokio::test]
async fn a_required_variable_without_value_stops_the_load() {
    let options = HostOptions::new(fixture_manifest());
    let err = match App::load(options) {
        Ok(_) => panic!("loaded without the required `token`"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("token") && err.contains("SPIN_VARIABLE_TOKEN"),
        "{err}"
    );
}

#[tokio::test]
async fn outbound_connections_follow_allowed_hosts() {
    let host = fixture_host(&[]).await;
    let mysql_ok = probe(&host, "/probe/mysql?url=mysql://root@127.0.0.1:3306/").await;
    assert_eq!(mysql_ok["ok"], "[[DbValue::Int64(42)]]", "{mysql_ok}");

    let denied = probe(&host, "/probe/mysql?url=mysql://root:pw@127.0.0.1:3307/db").await;
    assert_eq!(
        denied["err"],
        "Error::ConnectionFailed(\"address mysql://root:pw@127.0.0.1:3307/db is not permitted\")",
        "Spin's exact error"
    );

    let redis_ok = probe(&host, "/probe/redis?url=redis://127.0.0.1:6379").await;
    assert_eq!(redis_ok["ok"], "[RedisResult::Status(\"PONG\")]");
    let redis_denied = probe(&host, "/probe/redis?url=redis://127.0.0.1:6380").await;
    assert_eq!(redis_denied["err"], "Error::InvalidAddress");
    host.stop().await.unwrap();

    // The allow-list template follows the application variable.
    let moved = fixture_host(&[("redis_host", "127.0.0.1:6380".to_owned())]).await;
    let now_denied = probe(&moved, "/probe/redis?url=redis://127.0.0.1:6379").await;
    assert_eq!(now_denied["err"], "Error::InvalidAddress");
    moved.stop().await.unwrap();
}

fn assert_internal_error(reply: &solarhub_host::client::Reply) {
    assert_eq!(reply.status, 500, "{}", reply.text());
    let body = reply.json().unwrap();
    assert_eq!(body["detail"], "Internal Server Error");
    let id = body["request_id"].as_str().unwrap();
    assert!(!id.is_empty());
    assert_eq!(reply.header("x-request-id"), Some(id));
    assert!(
        !reply.text().contains("panicked"),
        "no guest detail leaks: {}",
        reply.text()
    );
}

#[tokio::test]
async fn guest_failures_become_500_json_and_the_host_keeps_serving() {
    let host = fixture_host(&[]).await;
    assert_internal_error(&get(host.addr, "/probe/trap").await.unwrap());
    assert_internal_error(&get(host.addr, "/probe/silent").await.unwrap());

    // A guest that never yields is interrupted at the request deadline (2 s here).
    let started = Instant::now();
    assert_internal_error(&get(host.addr, "/probe/spin").await.unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the busy guest was not stopped"
    );

    assert_eq!(probe(&host, "/probe/var/greeting").await["ok"], "Hello");
    host.stop().await.unwrap();
}

#[tokio::test]
async fn dependencies_are_composed_and_inherit_configuration() {
    let host = fixture_host(&[("greeting", "Howdy".to_owned())]).await;
    assert_eq!(probe(&host, "/probe/greet/Ada").await["ok"], "Howdy, Ada");
    host.stop().await.unwrap();
}

fn write_variant(name: &str, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture_manifest()).unwrap();
    let path = common::repo_root().join(format!(
        "tests/fixtures/{}{name}.toml",
        common::unique_prefix("manifest")
    ));
    std::fs::write(&path, edit(text)).unwrap();
    path
}

#[tokio::test]
async fn a_dependency_that_cannot_be_sandboxed_is_refused() {
    // Without inheritance Spin would plug the greeter's variables import with a deny-all adapter;
    // this host has none, so it must refuse rather than silently grant access.
    let path = write_variant("no-inherit", |t| {
        t.replace(
            "dependencies_inherit_configuration = true",
            "dependencies_inherit_configuration = false",
        )
    });
    let mut options = HostOptions::new(&path);
    options.variables = vec![("token".into(), "x".into())];
    let result = App::load(options);
    std::fs::remove_file(&path).unwrap();
    let err = format!("{:#}", result.err().expect("load must fail"));
    assert!(err.contains("dependencies_inherit_configuration"), "{err}");

    let path = write_variant("bad-dep", |t| {
        t.replace(
            "\"solarhub:fixture/greeter\" =",
            "\"solarhub:fixture/nothing\" =",
        )
    });
    let mut options = HostOptions::new(&path);
    options.variables = vec![("token".into(), "x".into())];
    let result = App::load(options);
    std::fs::remove_file(&path).unwrap();
    let err = format!("{:#}", result.err().expect("load must fail"));
    assert!(err.contains("doesn't match any imports"), "{err}");
}

#[tokio::test]
async fn compiled_components_are_cached_between_loads() {
    let dir = std::env::temp_dir().join(common::unique_prefix("cache"));
    let mut options = HostOptions::new(fixture_manifest());
    options.variables = vec![("token".into(), "x".into())];
    options.cache_dir = Some(dir.clone());
    drop(App::load(options.clone()).unwrap());
    let cached: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(
        cached.len(),
        1,
        "one composed component compiled and cached"
    );
    let app = App::load(options).unwrap();
    assert!(app.components.contains_key("probe"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The shared store-access layer, compiled into the probe, reads back exactly what was written to
/// a real rack database and a real Redis hash, and judges staleness.
#[tokio::test]
async fn store_access_reads_what_was_written() {
    use mysql_async::prelude::Queryable;
    let site = common::site::Site::new(
        "store_access",
        &[solarhub_shared::schema::Database::Bess(3)],
    )
    .await;
    let bess3 = site.db_name(solarhub_shared::schema::Database::Bess(3));
    let mut conn = mysql_async::Conn::from_url(format!("{}/{bess3}", common::site::MYSQL))
        .await
        .unwrap();
    conn.query_drop(
        "INSERT INTO rack_data (ts, status, soc, soh, voltage, current, power_kw, cell_v_max_mv, \
         cell_v_min_mv, temp_max, temp_min, temp_avg, alarm_count) VALUES \
         ('2026-11-22 01:00:00', 'charging', 40.5, 98.0, 800.0, -50.0, -40.0, 3350, 3310, 31.0, 24.0, 27.5, 0), \
         ('2026-11-22 01:01:00', 'discharging', 41.25, 97.5, 801.5, 60.5, 48.5, 3361, 3302, 32.5, 24.5, 28.0, 2)",
    )
    .await
    .unwrap();
    conn.disconnect().await.unwrap();

    let client = redis::Client::open(common::site::REDIS).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fresh_key = format!("{}bess:3", site.prefix);
    let old_key = format!("{}bess:4", site.prefix);
    let _: () = redis::cmd("HSET")
        .arg(&fresh_key)
        .arg("soc")
        .arg("41.25")
        .arg("status")
        .arg("discharging")
        .arg("ts")
        .arg(now)
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(&old_key)
        .arg("soc")
        .arg("10")
        .arg("ts")
        .arg(now - 3600)
        .query_async(&mut redis)
        .await
        .unwrap();

    let db_url = format!("{}/{bess3}", common::site::MYSQL);
    let host = fixture_host(&[
        ("db_bess3_url", db_url),
        ("redis_key_prefix", site.prefix.clone()),
    ])
    .await;
    let rack = probe(&host, "/probe/rack/3").await;
    let row = &rack["row"];
    assert_eq!(
        row["ts"], 1_795_309_260i64,
        "2026-11-22 01:01:00 UTC, the newest row: {rack}"
    );
    assert_eq!(row["status"], "discharging");
    assert_eq!(row["soc"], 41.25);
    assert_eq!(row["cell_v_max_mv"], 3361);
    assert_eq!(row["alarm_count"], 2);
    assert_eq!(row["power_kw"], 48.5);

    let fresh = probe(&host, "/probe/live/gtr/bess:3").await;
    assert_eq!(fresh["present"], true, "{fresh}");
    assert_eq!(fresh["stale"], false);
    assert_eq!(fresh["soc"], 41.25);
    assert_eq!(fresh["ts"], now);
    let old = probe(&host, "/probe/live/gtr/bess:4").await;
    assert_eq!(old["stale"], true, "an hour old: {old}");
    let absent = probe(&host, "/probe/live/gtr/bess:5").await;
    assert_eq!(absent["present"], false);
    host.stop().await.unwrap();

    // A database that does not exist (not migrated): the store is unavailable, named, no SQL shown.
    let missing = fixture_host(&[(
        "db_bess3_url",
        format!("{}/{}nope", common::site::MYSQL, site.prefix),
    )])
    .await;
    let failed = probe(&missing, "/probe/rack/3").await;
    assert_eq!(failed["error_status"], 503, "{failed}");
    assert_eq!(failed["error"]["store"], "mysql:BESS3");
    assert!(!failed.to_string().contains("SELECT"));
    missing.stop().await.unwrap();
    site.cleanup().await;
}

/// Waits up to 2 s for `done`.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(2);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Requests served by the instance that answered, this one included.
async fn served(host: &RunningHost) -> u64 {
    probe(host, "/probe/instance").await["served"]
        .as_u64()
        .expect("served")
}

fn probe_component(host: &RunningHost) -> &solarhub_host::app::LoadedComponent {
    &host.server.app().components["probe"]
}

#[tokio::test]
async fn an_instance_serves_requests_up_to_the_reuse_limit() {
    let mut options = fixture_options(&[]);
    options.max_instance_reuse_count = 3;
    let host = common::start(options).await;
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.push(served(&host).await);
    }
    assert_eq!(
        seen,
        [1, 2, 3, 1, 2, 3, 1],
        "guest state lives as long as its instance"
    );
    assert_eq!(probe_component(&host).instances_started(), 3);
    host.stop().await.unwrap();

    // Spin's default (128): one instance serves a whole sequence.
    let host = fixture_host(&[]).await;
    for expected in 1..=20 {
        assert_eq!(served(&host).await, expected);
    }
    assert_eq!(probe_component(&host).instances_started(), 1);
    host.stop().await.unwrap();
}

#[tokio::test]
async fn an_idle_instance_ends_and_closes_its_connections() {
    let mut options = fixture_options(&[]);
    options.idle_instance_timeout = Duration::from_millis(200);
    let host = common::start(options).await;
    let redis = &host.server.app().stores.redis;
    let opened = redis.opened();
    let live = probe(&host, "/probe/live/gtr/idle-test").await;
    assert_eq!(live["present"], false, "{live}");
    assert_eq!(redis.opened(), opened + 1);
    eventually(
        "the idle instance went away with its kept connection",
        || redis.live() == 0,
    )
    .await;
    assert_eq!(served(&host).await, 1, "a fresh instance");
    assert_eq!(probe_component(&host).instances_started(), 2);
    host.stop().await.unwrap();
}

/// Every `open` is a new server connection (as on Spin); one the guest keeps serves all the
/// requests of its instance, one it drops is closed at once.
#[tokio::test]
async fn connections_live_as_long_as_the_guest_holds_them() {
    let host = fixture_host(&[]).await;
    let stores = &host.server.app().stores;
    for _ in 0..10 {
        let live = probe(&host, "/probe/live/gtr/kept-test").await;
        assert_eq!(live["present"], false, "{live}");
    }
    assert_eq!(
        stores.redis.opened(),
        1,
        "one kept connection for ten requests"
    );
    assert_eq!(stores.redis.live(), 1);
    let instance = probe(&host, "/probe/instance").await;
    assert_eq!(instance["kept_redis"], 1, "{instance}");

    for round in 1..=3 {
        let opened = probe(&host, "/probe/mysql?url=mysql://root@127.0.0.1:3306/").await;
        assert_eq!(opened["ok"], "[[DbValue::Int64(42)]]", "{opened}");
        assert_eq!(stores.mysql.opened(), round, "a new connection per open");
        assert_eq!(stores.mysql.live(), 0, "closed when the guest dropped it");
    }
    assert_eq!(probe_component(&host).instances_started(), 1);
    host.stop().await.unwrap();
}

#[tokio::test]
async fn a_trap_ends_its_instance_and_the_next_request_gets_a_fresh_one() {
    let host = fixture_host(&[]).await;
    let redis = &host.server.app().stores.redis;
    probe(&host, "/probe/live/gtr/trap-test").await;
    assert_eq!(served(&host).await, 2);
    assert_internal_error(&get(host.addr, "/probe/trap").await.unwrap());
    assert_eq!(redis.live(), 0, "the dead instance's connection is closed");
    assert_eq!(served(&host).await, 1, "a fresh instance");
    let component = probe_component(&host);
    assert_eq!(component.instances_started(), 2);
    assert_eq!(component.instances_failed(), 1);

    // A guest error (no trap) is a 500 too, but the instance lives on (`silent` is not counted).
    assert_internal_error(&get(host.addr, "/probe/silent").await.unwrap());
    assert_eq!(served(&host).await, 2);
    assert_eq!(probe_component(&host).instances_failed(), 1);
    host.stop().await.unwrap();
}

#[tokio::test]
async fn a_busy_guest_is_stopped_at_the_deadline_and_its_instance_replaced() {
    let mut options = fixture_options(&[]);
    options.request_timeout = Duration::from_millis(500);
    let host = common::start(options).await;
    assert_eq!(served(&host).await, 1);
    let started = Instant::now();
    assert_internal_error(&get(host.addr, "/probe/spin").await.unwrap());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "answered after {took:?}"
    );
    assert_eq!(served(&host).await, 1, "the looping instance was dropped");
    eventually("the looping instance failed", || {
        probe_component(&host).instances_failed() == 1
    })
    .await;
    host.stop().await.unwrap();
}

fn write_manifest(name: &str, text: &str) -> std::path::PathBuf {
    let path = common::repo_root().join(format!(
        "tests/fixtures/{}{name}.toml",
        common::unique_prefix("manifest")
    ));
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn only_wasip3_http_components_are_served() {
    // A core module (a wasip1 build) is refused, not adapted.
    let module = std::env::temp_dir().join(format!("{}.wasm", common::unique_prefix("module")));
    std::fs::write(&module, b"\0asm\x01\0\0\0").unwrap();
    let path = write_manifest(
        "core-module",
        &format!(
            "spin_manifest_version = 2\n[application]\nname = \"m\"\n\
             [[trigger.http]]\nroute = \"/...\"\ncomponent = \"m\"\n\
             [component.m]\nsource = {:?}\n",
            module.display().to_string()
        ),
    );
    let result = App::load(HostOptions::new(&path));
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&module).unwrap();
    let err = format!("{:#}", result.err().expect("a core module must be refused"));
    assert!(err.contains("core WebAssembly module"), "{err}");

    // A component that exports no wasi:http/handler@0.3.0-rc (the greeter library) either.
    let greeter =
        common::repo_root().join("target/wasm32-wasip2/wasm/solarhub_fixture_greeter.wasm");
    let path = write_manifest(
        "no-handler",
        &format!(
            "spin_manifest_version = 2\n[application]\nname = \"g\"\n\
             [[trigger.http]]\nroute = \"/...\"\ncomponent = \"g\"\n\
             [component.g]\nsource = {:?}\n",
            greeter.display().to_string()
        ),
    );
    let result = App::load(HostOptions::new(&path));
    std::fs::remove_file(&path).unwrap();
    let err = format!(
        "{:#}",
        result.err().expect("a library component must be refused")
    );
    assert!(
        err.contains("exports no HTTP handler")
            && err.contains("wasi:http/handler@0.3.0-rc-2026-03-15"),
        "{err}"
    );
}
