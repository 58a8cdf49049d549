//! Spin 4 reuses a WASIp3 instance for many requests, and the app keeps one store connection per
//! server in it. Checked on both runtimes with the fixture probe: the instance is reused, it
//! holds one MySQL and one Redis connection however many requests it serves, and a kept connection
//! the server killed is replaced — a read is retried on the new one, a write answers 503 once and
//! the next request reconnects.

#[macro_use]
mod common;

use common::runtime::{Runtime, TestApp};
use mysql_async::prelude::Queryable;
use serde_json::Value;
use solarhub_host::client::get;

async fn start(rt: Runtime) -> TestApp {
    let vars = vec![
        ("token".to_owned(), "t0ken".to_owned()),
        // The probe only asks the server for its connection id: no database needed.
        (
            "db_bess3_url".to_owned(),
            format!("{}/instances_test_none", common::site::MYSQL),
        ),
    ];
    common::runtime::start(
        rt,
        common::repo_root().join("tests/fixtures/spin.toml"),
        vars,
    )
    .await
}

async fn probe(app: &TestApp, path: &str) -> Value {
    let reply = get(app.addr, path).await.unwrap();
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json().unwrap()
}

async fn kill_mysql(id: i64) {
    let mut conn = mysql_async::Conn::from_url(common::site::MYSQL)
        .await
        .unwrap();
    conn.query_drop(format!("KILL {id}")).await.unwrap();
    conn.disconnect().await.unwrap();
}

async fn kill_redis(id: i64) {
    let client = redis::Client::open(common::site::REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(killed, 1, "redis client {id} was not there to kill");
}

/// Asks `path` until instance `instance` answers (Spin may hand a request to another instance
/// while the first is still finishing its last response); answers from others are ignored.
async fn probe_on(app: &TestApp, instance: &Value, path: &str) -> Value {
    for _ in 0..50 {
        let answer = probe(app, path).await;
        if answer["instance"] == *instance {
            return answer;
        }
    }
    panic!("instance {instance} never answered {path}");
}

async fn instances_are_reused_with_one_connection_per_server(rt: Runtime) {
    let app = start(rt).await;
    let mut answers = Vec::new();
    for _ in 0..20 {
        answers.push(probe(&app, "/probe/mysql-id").await);
        answers.push(probe(&app, "/probe/redis-id").await);
    }
    let mut instances: Vec<&Value> = answers.iter().map(|a| &a["instance"]).collect();
    instances.sort_by_key(|v| v.to_string());
    instances.dedup();
    let most_served = answers
        .iter()
        .filter_map(|a| a["served"].as_u64())
        .max()
        .unwrap();
    assert!(
        most_served >= 10 && instances.len() <= 4,
        "40 sequential requests: {} instances, the busiest served {most_served}",
        instances.len()
    );
    // Per instance: one connection per server, whatever it served.
    for instance in instances {
        let mysql: std::collections::BTreeSet<i64> = answers
            .iter()
            .step_by(2)
            .filter(|a| a["instance"] == *instance)
            .filter_map(|a| a["id"].as_i64())
            .collect();
        let redis: std::collections::BTreeSet<i64> = answers
            .iter()
            .skip(1)
            .step_by(2)
            .filter(|a| a["instance"] == *instance)
            .filter_map(|a| a["id"].as_i64())
            .collect();
        assert!(
            mysql.len() <= 1 && redis.len() <= 1,
            "instance {instance}: {mysql:?} {redis:?}"
        );
    }
    app.stop().await.unwrap();
}

async fn a_killed_mysql_connection_is_replaced(rt: Runtime) {
    let app = start(rt).await;
    let first = probe(&app, "/probe/mysql-id").await;
    let instance = &first["instance"];
    let old = first["id"].as_i64().unwrap();
    kill_mysql(old).await;
    // A read on the dead connection is retried once on a new one, in the same request.
    let read = probe_on(&app, instance, "/probe/mysql-id").await;
    let new = read["id"].as_i64().unwrap_or_else(|| panic!("{read}"));
    assert_ne!(new, old);

    // A statement is never sent twice: 503 naming the store, then the next request reconnects.
    kill_mysql(new).await;
    let write = probe_on(&app, instance, "/probe/mysql-exec").await;
    assert_eq!(write["error_status"], 503, "{write}");
    assert_eq!(write["error"]["store"], "mysql:BESS3");
    let again = probe_on(&app, instance, "/probe/mysql-exec").await;
    assert_eq!(again["ok"], true, "{again}");
    let text = app.component_logs();
    assert!(
        !text.contains("root@"),
        "no credentials in the logs: {text}"
    );
    app.stop().await.unwrap();
}

async fn a_killed_redis_connection_is_replaced(rt: Runtime) {
    let app = start(rt).await;
    let first = probe(&app, "/probe/redis-id").await;
    let instance = &first["instance"];
    kill_redis(first["id"].as_i64().unwrap()).await;
    // HGETALL is a read: retried on a new connection.
    let live = probe_on(&app, instance, "/probe/live/main/instances-test-absent").await;
    assert_eq!(live["present"], false, "{live}");
    let second = probe_on(&app, instance, "/probe/redis-id").await;
    assert_ne!(second["id"], first["id"]);

    // CLIENT ID is not on the read list: the dead connection answers 503 once, then reconnects.
    kill_redis(second["id"].as_i64().unwrap()).await;
    let failed = probe_on(&app, instance, "/probe/redis-id").await;
    assert_eq!(failed["error_status"], 503, "{failed}");
    assert_eq!(failed["error"]["store"], "redis:main");
    let third = probe_on(&app, instance, "/probe/redis-id").await;
    assert!(third["id"].as_i64().is_some(), "{third}");
    assert_ne!(third["id"], second["id"]);
    app.stop().await.unwrap();
}

on_both_runtimes!(
    instances_are_reused_with_one_connection_per_server,
    a_killed_mysql_connection_is_replaced,
    a_killed_redis_connection_is_replaced,
);
