//! `GET /api/v1/health` of the compiled system component, in the local host, against the real
//! MariaDB and Redis: every store checked, 200 only when all are ok, 503 naming what failed,
//! quickly, without leaking a URL or a password.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::runtime::{Runtime, TestApp};
use mysql_async::prelude::Queryable;
use serde_json::Value;
use solarhub_host::client::{get, request};
use solarhub_shared::schema::Database;

const MYSQL: &str = "mysql://root@127.0.0.1:3306";

/// Databases named `<prefix><default name>`, created for one test and dropped after it.
struct TestDatabases {
    prefix: String,
}

impl TestDatabases {
    async fn create(tag: &str) -> TestDatabases {
        let prefix = common::unique_prefix(tag);
        let mut conn = mysql_async::Conn::from_url(MYSQL).await.unwrap();
        for db in Database::ALL {
            conn.query_drop(format!("CREATE DATABASE `{prefix}{}`", db.default_name()))
                .await
                .unwrap();
        }
        conn.disconnect().await.unwrap();
        TestDatabases { prefix }
    }

    fn name(&self, db: Database) -> String {
        format!("{}{}", self.prefix, db.default_name())
    }

    fn variables(&self) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = Database::ALL
            .iter()
            .map(|db| (db.variable(), format!("{MYSQL}/{}", self.name(*db))))
            .collect();
        vars.push((
            "jwt_secret".into(),
            "health-tests-sign-nothing-0123456789abcdef".into(),
        ));
        vars
    }

    async fn drop_one(&self, db: Database) {
        let mut conn = mysql_async::Conn::from_url(MYSQL).await.unwrap();
        conn.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name(db)))
            .await
            .unwrap();
        conn.disconnect().await.unwrap();
    }

    async fn drop_all(self) {
        drop(self);
    }
}

impl Drop for TestDatabases {
    fn drop(&mut self) {
        let names = Database::ALL.iter().map(|db| self.name(*db)).collect();
        common::remove_test_stores(names, String::new());
    }
}

async fn start(rt: Runtime, dbs: &TestDatabases, overrides: &[(&str, &str)]) -> TestApp {
    common::start_app(rt, dbs.variables(), overrides).await
}

/// `GET /api/v1/health`, which must answer within 2 s even with a store down (no hang).
async fn health_quickly(host: &TestApp) -> (solarhub_host::client::Reply, Value) {
    let started = Instant::now();
    let reply = get(host.addr, "/api/v1/health").await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    let report = reply.json().unwrap();
    (reply, report)
}

fn dependency<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing from {report}"))
}

async fn all_stores_ok_is_200_with_every_dependency(rt: Runtime) {
    let dbs = TestDatabases::create("health_ok").await;
    let host = start(rt, &dbs, &[]).await;
    let reply = get(host.addr, "/api/v1/health").await.unwrap();
    let report = reply.json().unwrap();
    assert_eq!(reply.status, 200, "{report}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(report["status"], "ok");
    assert_eq!(report["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        report["checked_at"].as_str().unwrap().ends_with("+08:00"),
        "{report}"
    );
    let deps = report["dependencies"].as_array().unwrap();
    assert_eq!(deps.len(), 21, "19 databases and two Redis instances");
    for db in Database::ALL {
        let d = dependency(&report, &format!("mysql:{}", db.default_name()));
        assert_eq!(d["ok"], true, "{d}");
        assert_eq!(d["kind"], "mysql");
        assert!(d["latency_ms"].as_f64().unwrap() >= 0.0);
    }
    for name in ["redis:main", "redis:gtr"] {
        assert_eq!(dependency(&report, name)["ok"], true);
    }
    // One connection per server: all 19 databases live on one MariaDB, both Redis on one server.
    // Only the local host counts opens; on real Spin the benchmark counts them at the servers.
    if let Some(local) = host.host() {
        let stores = &local.server.app().stores;
        assert_eq!(
            stores
                .mysql
                .opens
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(
            stores
                .redis
                .opens
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }
    host.stop().await.unwrap();
    dbs.drop_all().await;
}

async fn a_missing_database_is_503_naming_it(rt: Runtime) {
    let dbs = TestDatabases::create("health_missing").await;
    dbs.drop_one(Database::Bess(7)).await;
    let host = start(rt, &dbs, &[]).await;
    let reply = get(host.addr, "/api/v1/health").await.unwrap();
    let report = reply.json().unwrap();
    assert_eq!(reply.status, 503, "{report}");
    assert_eq!(report["status"], "degraded");
    assert_eq!(report["detail"], "unavailable: mysql:BESS7");
    assert_eq!(
        dependency(&report, "mysql:BESS7")["error"],
        "database_missing"
    );
    assert_eq!(dependency(&report, "mysql:BESS6")["ok"], true);
    host.stop().await.unwrap();
    dbs.drop_all().await;
}

async fn an_unreachable_mysql_server_is_503_naming_its_databases_quickly(rt: Runtime) {
    let dbs = TestDatabases::create("health_down").await;
    // GTR lives on "another server": a closed port the manifest allows.
    let host = start(
        rt,
        &dbs,
        &[
            ("gtr_mysql_host", "127.0.0.1:3399"),
            ("db_gtr_url", "mysql://root:s3cr3t-pw@127.0.0.1:3399/GTR"),
        ],
    )
    .await;
    let (reply, report) = health_quickly(&host).await;
    assert_eq!(reply.status, 503, "{report}");
    assert_eq!(report["detail"], "unavailable: mysql:GTR");
    assert_eq!(dependency(&report, "mysql:GTR")["error"], "unreachable");
    assert_eq!(dependency(&report, "mysql:ess")["ok"], true);
    assert!(!reply.text().contains("s3cr3t"), "no secret in the body");
    assert!(!reply.text().contains("3399"), "no address in the body");
    host.stop().await.unwrap();
    dbs.drop_all().await;
}

async fn an_address_outside_allowed_hosts_is_reported_unreachable(rt: Runtime) {
    let dbs = TestDatabases::create("health_denied").await;
    let host = start(
        rt,
        &dbs,
        &[("db_bess3_url", "mysql://root@127.0.0.1:3307/BESS3")],
    )
    .await;
    let reply = get(host.addr, "/api/v1/health").await.unwrap();
    let report = reply.json().unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(dependency(&report, "mysql:BESS3")["error"], "unreachable");
    host.stop().await.unwrap();
    dbs.drop_all().await;
}

async fn an_unreachable_redis_is_503_naming_it(rt: Runtime) {
    let dbs = TestDatabases::create("health_redis").await;
    let host = start(
        rt,
        &dbs,
        &[
            ("redis_gtr_host", "127.0.0.1:6399"),
            ("redis_gtr_url", "redis://127.0.0.1:6399"),
        ],
    )
    .await;
    let (reply, report) = health_quickly(&host).await;
    assert_eq!(reply.status, 503, "{report}");
    assert_eq!(report["detail"], "unavailable: redis:gtr");
    assert_eq!(dependency(&report, "redis:main")["ok"], true);
    host.stop().await.unwrap();
    dbs.drop_all().await;
}

async fn a_malformed_store_url_is_misconfigured_not_a_crash(rt: Runtime) {
    let dbs = TestDatabases::create("health_bad_url").await;
    let host = start(rt, &dbs, &[("db_pcs_url", "not a url")]).await;
    let reply = get(host.addr, "/api/v1/health").await.unwrap();
    let report = reply.json().unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(dependency(&report, "mysql:PCS")["error"], "misconfigured");
    host.stop().await.unwrap();
    dbs.drop_all().await;
}

async fn legacy_path_is_deprecated_and_methods_are_checked(rt: Runtime) {
    let dbs = TestDatabases::create("health_legacy").await;
    let host = start(rt, &dbs, &[]).await;
    let legacy = get(host.addr, "/api/health").await.unwrap();
    assert_eq!(legacy.status, 200, "{}", legacy.text());
    assert_eq!(legacy.header("deprecation"), Some("@1795305600"));
    assert_eq!(
        legacy.header("link"),
        Some("</api/v1/health>; rel=\"successor-version\"")
    );

    let post = request(host.addr, "POST", "/api/v1/health", &[], b"{}")
        .await
        .unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET"));
    assert_eq!(post.json().unwrap()["detail"], "Method Not Allowed");
    host.stop().await.unwrap();
    dbs.drop_all().await;
}

on_both_runtimes!(
    all_stores_ok_is_200_with_every_dependency,
    a_missing_database_is_503_naming_it,
    an_unreachable_mysql_server_is_503_naming_its_databases_quickly,
    an_address_outside_allowed_hosts_is_reported_unreachable,
    an_unreachable_redis_is_503_naming_it,
    a_malformed_store_url_is_misconfigured_not_a_crash,
    legacy_path_is_deprecated_and_methods_are_checked,
);
