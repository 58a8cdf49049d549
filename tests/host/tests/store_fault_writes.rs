//! Writes interrupted mid-way (issue 12), on both runtimes: user administration, alert
//! acknowledgements and login sessions run concurrently while the fault proxies reset MySQL and
//! Redis connections in the middle of replies and take either store down for moments. Whatever
//! the clients were told, afterwards every invariant holds:
//!
//! - every user has at least one role, and only a set of roles the test asked for (a user is
//!   never created, nor its roles replaced, half-way); an active admin remains;
//! - an alert is acknowledged exactly when it records who acknowledged it and when;
//! - every session key expires; a refresh token is whole (user, session, uses), its session is
//!   recorded under its user (so ending the user's sessions reaches it), and a session has at
//!   most one unused refresh token; after the user's access changes, none of the sessions
//!   started during the faults can be refreshed or used;
//! - the app answers every route again once the stores are back.

#[macro_use]
mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::load::{assert_no_hang_no_500, report, send, Answer, Call};
use common::proxy::{Fault, Proxy};
use common::rig::{Rig, WORKERS};
use common::runtime::Runtime;
use common::site::REDIS;
use mysql_async::prelude::Queryable;
use serde_json::json;

/// The role sets the test ever asks for; any user's roles must be one of them.
const ROLE_SETS: [&[&str]; 4] = [
    &["viewer"],
    &["operator"],
    &["operator", "viewer"],
    &["admin"],
];

fn roles(i: usize) -> &'static [&'static str] {
    ROLE_SETS[i % ROLE_SETS.len()]
}

fn password(i: usize) -> String {
    format!("Quartz meadow lantern {i} river")
}

/// Takes `proxy` down for `down` after every `up` (when it is `between`) until stopped: the store
/// vanishes and comes back while requests are in flight.
fn flap(
    proxy: &Proxy,
    up: Duration,
    down: Duration,
    between: Fault,
) -> tokio::task::JoinHandle<()> {
    let fault = proxy.control();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(up).await;
            fault(Fault::Down);
            tokio::time::sleep(down).await;
            fault(between);
        }
    })
}

async fn run(rig: &Rig, scenario: &str, calls: Vec<Call>) -> Vec<Answer> {
    let answers = send(rig.app.addr, calls, WORKERS).await;
    let name = format!("{:?} {scenario}", rig.app.runtime);
    report(&name, &answers);
    assert_no_hang_no_500(&name, &answers);
    answers
}

fn refresh_call(token: &str) -> Call {
    Call::with_body(
        "POST",
        "/api/v1/auth/refresh",
        None,
        json!({ "refresh_token": token }),
    )
}

/// The writes: users created, changed and deleted by the admin, alerts acknowledged by the
/// operator, `sam`'s sessions refreshed (some twice: reuse revokes the family), logged out, and
/// new ones started.
fn writes(
    rig: &Rig,
    sam: u64,
    bob: u64,
    refresh_tokens: &[String],
    sam_access: &[String],
) -> Vec<Call> {
    let admin = Some(rig.admin.as_str());
    let operator = Some(rig.operator.as_str());
    let mut calls = Vec::new();
    for i in 0..24 {
        calls.push(Call::with_body(
            "POST",
            "/api/v1/admin/users",
            admin,
            json!({
                "username": format!("writer{i}"),
                "email": format!("writer{i}@example.test"),
                "password": password(i),
                "roles": roles(i),
            }),
        ));
        calls.push(Call::with_body(
            "POST",
            format!("/api/v1/alerts/{}/ack", i + 1),
            operator,
            json!({}),
        ));
        // The other admin loses and regains the role: the last-admin rule is checked each time.
        let bob_roles = if i % 2 == 0 {
            &["viewer"][..]
        } else {
            &["admin"][..]
        };
        calls.push(Call::with_body(
            "PUT",
            format!("/api/v1/admin/users/{bob}"),
            admin,
            json!({ "roles": bob_roles, "active": i % 4 != 1 }),
        ));
        // Sam's access changes: every session of sam must end with it.
        if i % 6 == 0 {
            calls.push(Call::with_body(
                "PUT",
                format!("/api/v1/admin/users/{sam}"),
                admin,
                json!({ "roles": roles(i / 6 % 3) }),
            ));
        }
        if let Some(token) = refresh_tokens.get(i) {
            calls.push(refresh_call(token));
            if i % 5 == 0 {
                calls.push(refresh_call(token));
            }
        }
        if let Some(access) = sam_access.get(i) {
            calls.push(Call {
                method: "POST",
                path: "/api/v1/auth/logout".into(),
                token: Some(access.clone()),
                body: None,
            });
        }
        calls.push(Call::with_body(
            "POST",
            "/api/v1/auth/login",
            None,
            json!({"username": "sam", "password": common::site::PASSWORD}),
        ));
    }
    calls
}

/// Changes and deletions of the users the first phase created (as far as they exist).
fn changes(rig: &Rig, created: &[(u64, String)]) -> Vec<Call> {
    let admin = Some(rig.admin.as_str());
    let mut calls = Vec::new();
    for (n, (id, _)) in created.iter().enumerate() {
        let path = format!("/api/v1/admin/users/{id}");
        calls.push(Call::with_body(
            "PUT",
            path.clone(),
            admin,
            json!({ "roles": roles(n + 1), "password": password(100 + n) }),
        ));
        if n % 3 == 0 {
            calls.push(Call {
                method: "DELETE",
                path,
                token: admin.map(str::to_owned),
                body: None,
            });
        }
    }
    calls
}

/// Statuses a write may answer under faults: its outcomes, 401 for a token a concurrent change
/// revoked, 503 naming a store; never a 500 (checked apart).
fn assert_write_statuses(answers: &[Answer]) {
    for a in answers {
        let ok = match (a.call.method, a.call.path.as_str()) {
            ("POST", "/api/v1/admin/users") => [201, 409, 503].contains(&a.status),
            ("PUT" | "DELETE", _) => [200, 204, 404, 409, 503].contains(&a.status),
            ("POST", p) if p.ends_with("/ack") => [200, 503].contains(&a.status),
            ("POST", "/api/v1/auth/refresh") => [200, 401, 503].contains(&a.status),
            ("POST", "/api/v1/auth/logout") => [204, 401, 503].contains(&a.status),
            ("POST", "/api/v1/auth/login") => [200, 503].contains(&a.status),
            _ => false,
        };
        assert!(
            ok,
            "{} {} -> {} {}",
            a.call.method, a.call.path, a.status, a.body
        );
        if a.status == 503 {
            let store = a.store().unwrap_or_default();
            assert!(
                store.starts_with("mysql:") || store.starts_with("redis:"),
                "{}",
                a.body
            );
        }
    }
}

async fn mysql(rig: &Rig) -> mysql_async::Conn {
    rig.site.mysql().await
}

/// Users and their role names, read from MySQL directly.
async fn user_roles(rig: &Rig) -> HashMap<String, (u64, bool, BTreeSet<String>)> {
    let mut conn = mysql(rig).await;
    let rows: Vec<(u64, String, bool, Option<String>)> = conn
        .query(
            "SELECT u.id, u.username, u.active, r.name FROM users u \
             LEFT JOIN user_roles ur ON ur.user_id = u.id LEFT JOIN roles r ON r.id = ur.role_id",
        )
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    let mut users: HashMap<String, (u64, bool, BTreeSet<String>)> = HashMap::new();
    for (id, username, active, role) in rows {
        let entry = users
            .entry(username)
            .or_insert_with(|| (id, active, BTreeSet::new()));
        entry.2.extend(role);
    }
    users
}

async fn assert_users_whole(rig: &Rig) {
    let allowed: Vec<BTreeSet<String>> = ROLE_SETS
        .iter()
        .map(|set| set.iter().map(|r| (*r).to_owned()).collect())
        .collect();
    let users = user_roles(rig).await;
    for (username, (_, _, roles)) in &users {
        assert!(!roles.is_empty(), "{username} has no role left");
        assert!(allowed.contains(roles), "{username}: {roles:?}");
    }
    let admins = users
        .values()
        .filter(|(_, active, roles)| *active && roles.contains("admin"))
        .count();
    assert!(admins >= 1, "no active admin left: {users:?}");
}

async fn assert_acknowledgements_whole(rig: &Rig, operator: u64) {
    let mut conn = mysql(rig).await;
    let rows: Vec<(u64, u8, Option<u64>, Option<String>)> = conn
        .query(
            "SELECT id, acknowledged, acknowledged_by, CAST(acknowledged_at AS CHAR) FROM alerts",
        )
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    for (id, acknowledged, by, at) in rows {
        match acknowledged {
            1 => assert!(
                by == Some(operator) && at.is_some(),
                "alert {id}: {by:?} {at:?}"
            ),
            _ => assert!(by.is_none() && at.is_none(), "alert {id}: {by:?} {at:?}"),
        }
    }
}

/// The session keys in Redis, read directly.
async fn assert_sessions_whole(rig: &Rig) {
    let client = redis::Client::open(REDIS).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let prefix = &rig.site.prefix;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let mut unused_by_session: HashMap<String, usize> = HashMap::new();
    for key in &keys {
        let name = &key[prefix.len()..];
        if !(name.starts_with("auth:") || name.starts_with("ratelimit:")) {
            continue;
        }
        let ttl: i64 = redis::cmd("TTL")
            .arg(key)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(ttl > 0, "{name} never expires (ttl {ttl})");
        let Some(_) = name.strip_prefix("auth:refresh:") else {
            continue;
        };
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(key)
            .query_async(&mut redis)
            .await
            .unwrap();
        let (Some(uid), Some(sid), Some(uses)) =
            (fields.get("uid"), fields.get("sid"), fields.get("uses"))
        else {
            panic!("{name} is not a whole refresh token: {fields:?}");
        };
        let revoked: bool = redis::cmd("EXISTS")
            .arg(format!("{prefix}auth:revoked:sid:{sid}"))
            .query_async(&mut redis)
            .await
            .unwrap();
        if uses == "0" && !revoked {
            *unused_by_session.entry(sid.clone()).or_default() += 1;
            let recorded: bool = redis::cmd("SISMEMBER")
                .arg(format!("{prefix}auth:sessions:{uid}"))
                .arg(sid)
                .query_async(&mut redis)
                .await
                .unwrap();
            assert!(
                recorded,
                "session {sid} of user {uid} is not recorded under the user"
            );
        }
    }
    for (sid, unused) in unused_by_session {
        assert!(
            unused <= 1,
            "session {sid} has {unused} unused refresh tokens"
        );
    }
}

/// Every refresh token and access token sam was ever given, after a change of sam's access
/// with the stores healthy: none works any more.
async fn assert_sam_locked_out(rig: &Rig, sam: u64, refresh: &[String], access: &[String]) {
    let change = Call::with_body(
        "PUT",
        format!("/api/v1/admin/users/{sam}"),
        Some(&rig.admin),
        json!({ "roles": ["viewer"], "password": password(999) }),
    );
    let done = send(rig.app.addr, vec![change], 1).await;
    assert_eq!(done[0].status, 200, "{}", done[0].body);
    let mut calls: Vec<Call> = refresh
        .iter()
        .map(String::as_str)
        .map(refresh_call)
        .collect();
    calls.extend(access.iter().map(|t| Call::get("/api/v1/auth/me", Some(t))));
    for a in send(rig.app.addr, calls, WORKERS).await {
        assert_eq!(a.status, 401, "{} still works: {}", a.call.path, a.body);
    }
}

fn tokens_of(answers: &[Answer], field: &str) -> Vec<String> {
    answers
        .iter()
        .filter(|a| a.status == 200)
        .filter_map(|a| a.json()[field].as_str().map(str::to_owned))
        .collect()
}

async fn writes_cut_mid_way_leave_no_half_written_state(rt: Runtime) {
    let rig = Rig::start(rt, "fault_writes").await;
    let sam = rig.site.add_user("sam", &["viewer"]).await;
    let bob = user_roles(&rig).await["bob"].0;
    let operator = user_roles(&rig).await["otto"].0;
    let before: Vec<Answer> = {
        let mut tokens = Vec::new();
        for _ in 0..24 {
            tokens.push(rig.login("sam").await);
        }
        tokens
    };
    let refresh = tokens_of(&before, "refresh_token");
    let access = tokens_of(&before, "access_token");
    assert_eq!(refresh.len(), 24);

    // Phase 1: every kind of write while both stores fail now and then.
    let (mysql_cuts, redis_cuts) = (Fault::CutReplies(97), Fault::CutReplies(89));
    rig.mysql.set(mysql_cuts);
    rig.redis.set(redis_cuts);
    let ms = Duration::from_millis;
    let mysql_flaps = flap(&rig.mysql, ms(2500), ms(150), mysql_cuts);
    let redis_flaps = flap(&rig.redis, ms(3300), ms(150), redis_cuts);
    let answers = run(
        &rig,
        "writes under faults",
        writes(&rig, sam, bob, &refresh, &access),
    )
    .await;
    assert_write_statuses(&answers);

    // Phase 2: the users that phase 1 created are changed and deleted, still under faults.
    let created: Vec<(u64, String)> = user_roles(&rig)
        .await
        .into_iter()
        .filter(|(name, _)| name.starts_with("writer"))
        .map(|(name, (id, _, _))| (id, name))
        .collect();
    let more = run(&rig, "user changes under faults", changes(&rig, &created)).await;
    assert_write_statuses(&more);
    mysql_flaps.abort();
    redis_flaps.abort();
    rig.mysql.set(Fault::Pass);
    rig.redis.set(Fault::Pass);

    assert_users_whole(&rig).await;
    assert_acknowledgements_whole(&rig, operator).await;
    assert_sessions_whole(&rig).await;
    let mut all_refresh = refresh.clone();
    all_refresh.extend(tokens_of(&answers, "refresh_token"));
    let mut all_access = access.clone();
    all_access.extend(tokens_of(&answers, "access_token"));
    assert_sam_locked_out(&rig, sam, &all_refresh, &all_access).await;
    assert_sessions_whole(&rig).await;

    // The app serves every kind of route again, without a restart.
    let after = vec![
        Call::get("/api/v1/admin/users", Some(&rig.admin)),
        Call::get("/api/v1/alerts?limit=5", Some(&rig.viewer)),
        Call::get("/api/v1/bess/1", Some(&rig.viewer)),
        Call::with_body(
            "POST",
            "/api/v1/alerts/40/ack",
            Some(&rig.operator),
            json!({}),
        ),
    ];
    for a in run(&rig, "after the faults", after).await {
        assert_eq!(
            a.status, 200,
            "{} {}: {}",
            a.call.method, a.call.path, a.body
        );
    }
    assert_eq!(rig.login("vera").await.status, 200);
    eprintln!(
        "mysql proxy: {}; redis proxy: {}",
        rig.mysql.stats.summary(),
        rig.redis.stats.summary()
    );
    rig.stop().await;
}

on_both_runtimes!(writes_cut_mid_way_leave_no_half_written_state);
