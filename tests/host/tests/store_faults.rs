//! Store faults under load (issue 12), on both runtimes. A fault-injecting TCP proxy
//! (`common::proxy`) stands between the app and MariaDB and another between the app and Redis;
//! while hundreds of requests across the routes are in flight, the test cuts a store, slows it, or
//! resets connections in the middle of replies, then restores it:
//!
//! - MySQL down: routes that need it answer 503 naming the database, the live routes keep
//!   answering 200 from Redis; nothing hangs, nothing is a 500; restored, every route answers
//!   again without a restart;
//! - Redis down: every guarded route is a 503 naming the main Redis (the guard cannot check
//!   revocations), never a 401; restored, the same;
//! - slow stores and connections reset mid-reply: bounded answer times, only 200s and 503s.
//!
//! Each scenario prints the requests sent, the answers by status and the slowest answer. The
//! writes interrupted mid-way are in `store_fault_writes.rs`.

#[macro_use]
mod common;

use std::time::Duration;

use common::load::{assert_no_hang_no_500, report, send, Answer, Call};
use common::proxy::Fault;
use common::rig::{Rig, WORKERS};
use common::runtime::Runtime;
use serde_json::json;

/// Generous: far above any answer seen, below the client's own 30 s limit, so a hang fails here
/// with the scenario's numbers rather than as a bare timeout.
const NO_HANG: Duration = Duration::from_secs(25);

/// What a route needs, which says how it may answer while a store is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// A fresh live hash in Redis is enough (racks, PCS, meters).
    Live,
    /// MySQL as well (alert log, users, history, schedule).
    Mysql,
    /// Nothing (the OpenAPI document).
    Nothing,
    /// `/health`: 503 whenever any store fails.
    Health,
}

/// One round over the routes: every rack and PCS live, the meters, and a route of each group
/// that reads MySQL.
fn round(rig: &Rig) -> Vec<(Call, Needs)> {
    let (viewer, admin) = (Some(rig.viewer.as_str()), Some(rig.admin.as_str()));
    let today = rig.today();
    let mut calls: Vec<(Call, Needs)> = (1..=12)
        .map(|n| (Call::get(format!("/api/v1/bess/{n}"), viewer), Needs::Live))
        .collect();
    calls.extend([
        (Call::get("/api/v1/pcs/0", viewer), Needs::Live),
        (Call::get("/api/v1/pcs/1", viewer), Needs::Live),
        (Call::get("/api/v1/meters", viewer), Needs::Live),
        (Call::get("/api/v1/alerts?limit=5", viewer), Needs::Mysql),
        (Call::get("/api/v1/pcs/alert", viewer), Needs::Mysql),
        (Call::get("/api/v1/bess/alert/rack/3", viewer), Needs::Mysql),
        (Call::get("/api/v1/meters/aux", viewer), Needs::Mysql),
        (Call::get("/api/v1/system/overview", viewer), Needs::Mysql),
        (Call::get("/api/v1/config/sidebar", viewer), Needs::Mysql),
        (Call::get("/api/v1/auth/me", viewer), Needs::Mysql),
        (Call::get("/api/v1/admin/users", admin), Needs::Mysql),
        (Call::get("/api/v1/schedule?weeks=1", viewer), Needs::Mysql),
        (
            Call::get(format!("/api/v1/income/daily?date={today}"), viewer),
            Needs::Mysql,
        ),
        (Call::get("/api/v1/openapi.json", None), Needs::Nothing),
        (Call::get("/api/v1/health", None), Needs::Health),
    ]);
    calls
}

/// Writes of each kind: alert acknowledgements, a user change, logins. After an outage the first
/// write on an instance meets a kept connection the outage killed.
fn writes(rig: &Rig) -> Vec<Call> {
    let mut calls: Vec<Call> = (1..=12)
        .map(|n| {
            let path = format!("/api/v1/alerts/{n}/ack");
            Call::with_body("POST", path, Some(&rig.operator), json!({}))
        })
        .collect();
    let bob = format!("/api/v1/admin/users/{}", rig.bob);
    calls.push(Call::with_body(
        "PUT",
        bob,
        Some(&rig.admin),
        json!({"full_name": "Bob"}),
    ));
    let login = json!({"username": "vera", "password": common::site::PASSWORD});
    calls
        .extend((0..4).map(|_| Call::with_body("POST", "/api/v1/auth/login", None, login.clone())));
    calls
}

/// After a store came back: every read route, and writes of each kind, answer as before.
async fn assert_recovered(rig: &Rig, scenario: &str) {
    assert_all_ok(scenario, &run(rig, scenario, 6).await);
    assert_writes_ok(rig, &format!("{scenario}: writes")).await;
}

async fn assert_writes_ok(rig: &Rig, scenario: &str) {
    let name = format!("{:?} {scenario}", rig.app.runtime);
    let answers = send(rig.app.addr, writes(rig), WORKERS).await;
    report(&name, &answers);
    for a in &answers {
        assert_eq!(a.status, 200, "{name}: {}", describe(a));
    }
}

/// The store restarts between requests: every kept connection dies while nobody uses it, and
/// the next request on each instance meets a dead one. Writes first: they must not fail for it.
async fn blip(rig: &Rig, proxy: &common::proxy::Proxy, scenario: &str) {
    proxy.set(Fault::Down);
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.set(Fault::Pass);
    assert_writes_ok(rig, scenario).await;
}

/// `rounds` rounds, and what each call needs, in the same order.
fn load(rig: &Rig, rounds: usize) -> (Vec<Call>, Vec<Needs>) {
    (0..rounds).flat_map(|_| round(rig)).unzip()
}

async fn run(rig: &Rig, scenario: &str, rounds: usize) -> Vec<(Answer, Needs)> {
    let (calls, needs) = load(rig, rounds);
    let answers = send(rig.app.addr, calls, WORKERS).await;
    let name = format!("{:?} {scenario}", rig.app.runtime);
    let slowest = report(&name, &answers);
    assert_no_hang_no_500(&name, &answers);
    assert!(slowest < NO_HANG, "{name}: an answer took {slowest:?}");
    answers.into_iter().zip(needs).collect()
}

fn describe(a: &Answer) -> String {
    format!(
        "{} {} -> {} {}",
        a.call.method, a.call.path, a.status, a.body
    )
}

/// Every answer is the healthy one: 200.
fn assert_all_ok(scenario: &str, answers: &[(Answer, Needs)]) {
    for (a, _) in answers {
        assert_eq!(a.status, 200, "{scenario}: {}", describe(a));
    }
}

/// A 503 naming a store of `kind` (`mysql`, `redis`) in the documented shape.
fn assert_store_503(scenario: &str, a: &Answer, kind: &str) {
    assert_eq!(a.status, 503, "{scenario}: {}", describe(a));
    let store = a.store().unwrap_or_default();
    assert!(
        store.starts_with(&format!("{kind}:")),
        "{scenario}: {}",
        describe(a)
    );
    assert_eq!(
        a.json()["detail"],
        format!("{store} is unavailable"),
        "{scenario}"
    );
}

async fn mysql_cut_under_load(rt: Runtime) {
    let rig = Rig::start(rt, "fault_mysql").await;
    assert_all_ok("before", &run(&rig, "mysql: before", 6).await);

    rig.mysql.set(Fault::Down);
    let answers = run(&rig, "mysql: down", 10).await;
    let mut unavailable = 0;
    for (a, needs) in &answers {
        match needs {
            Needs::Live | Needs::Nothing => assert_eq!(a.status, 200, "{}", describe(a)),
            Needs::Health => assert_eq!(a.status, 503, "{}", describe(a)),
            // Some routes can still say something without MySQL; the rest say which store failed.
            Needs::Mysql if a.status == 200 => {}
            Needs::Mysql => {
                assert_store_503("mysql down", a, "mysql");
                unavailable += 1;
            }
        }
    }
    assert!(unavailable > 0, "the cut reached no route");

    rig.mysql.set(Fault::Pass);
    assert_recovered(&rig, "mysql: restored").await;
    blip(&rig, &rig.mysql, "mysql: restarted between requests").await;
    eprintln!("mysql proxy: {}", rig.mysql.stats.summary());
    rig.stop().await;
}

async fn redis_cut_under_load(rt: Runtime) {
    let rig = Rig::start(rt, "fault_redis").await;
    assert_all_ok("before", &run(&rig, "redis: before", 6).await);

    rig.redis.set(Fault::Down);
    let answers = run(&rig, "redis: down", 10).await;
    for (a, needs) in &answers {
        match needs {
            Needs::Nothing => assert_eq!(a.status, 200, "{}", describe(a)),
            Needs::Health => assert_eq!(a.status, 503, "{}", describe(a)),
            // Guarded: the guard cannot read the revocation list. Not a 401: the token is fine.
            Needs::Live | Needs::Mysql => {
                assert_store_503("redis down", a, "redis");
                assert_eq!(a.store().as_deref(), Some("redis:main"), "{}", describe(a));
            }
        }
    }
    // A new session needs Redis too.
    let login = rig.login("vera").await;
    assert_store_503("redis down: login", &login, "redis");

    rig.redis.set(Fault::Pass);
    assert_recovered(&rig, "redis: restored").await;
    blip(&rig, &rig.redis, "redis: restarted between requests").await;
    assert_eq!(rig.login("vera").await.status, 200);
    eprintln!("redis proxy: {}", rig.redis.stats.summary());
    rig.stop().await;
}

async fn slow_and_failing_stores_answer_in_bounded_time(rt: Runtime) {
    let rig = Rig::start(rt, "fault_slow").await;
    let latency = Fault::Latency(Duration::from_millis(20));
    rig.mysql.set(latency);
    rig.redis.set(latency);
    assert_all_ok(
        "slow stores",
        &run(&rig, "both stores +20 ms per piece", 4).await,
    );

    rig.mysql.set(Fault::Pass);
    rig.redis.set(Fault::Pass);
    rig.mysql.set(Fault::CutReplies(5));
    let answers = run(&rig, "mysql: every 5th reply piece cut", 6).await;
    for (a, needs) in &answers {
        match (needs, a.status) {
            (_, 200) => {}
            (Needs::Mysql, _) => assert_store_503("mysql cut mid-reply", a, "mysql"),
            (Needs::Health, 503) => {}
            _ => panic!("mysql cut mid-reply: {}", describe(a)),
        }
    }

    rig.mysql.set(Fault::Pass);
    rig.redis.set(Fault::CutReplies(7));
    let answers = run(&rig, "redis: every 7th reply piece cut", 6).await;
    for (a, needs) in &answers {
        match (needs, a.status) {
            (_, 200) => {}
            (Needs::Health, 503) => {}
            (Needs::Live | Needs::Mysql, _) => assert_store_503("redis cut mid-reply", a, "redis"),
            _ => panic!("redis cut mid-reply: {}", describe(a)),
        }
    }

    rig.redis.set(Fault::Pass);
    assert_all_ok("recovered", &run(&rig, "both restored", 4).await);
    eprintln!(
        "mysql proxy: {}; redis proxy: {}",
        rig.mysql.stats.summary(),
        rig.redis.stats.summary()
    );
    rig.stop().await;
}

on_both_runtimes!(
    mysql_cut_under_load,
    redis_cut_under_load,
    slow_and_failing_stores_answer_in_bounded_time,
);
