//! User administration end to end through the local host: the compiled admin component with the
//! auth-guard composed into it, tokens from the compiled auth component, against a migrated `ess`
//! database and Redis. Covers who may call what, listing (paging, filters, sorting), creating,
//! updating and deleting users, every error path (and that a refused request changed nothing),
//! the last-admin rules, and that an admin's change ends the user's sessions.

#[macro_use]
mod common;

use common::runtime::{Runtime, TestApp};
use common::site::{Site, PASSWORD};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use solarhub_host::client::{request, Reply};
use solarhub_shared::schema::Database;

const USERS: &str = "/api/v1/admin/users";
/// Passes the password policy: long, not common, not anyone's name.
const NEW_PASSWORD: &str = "quartz-lantern-meadow-42";

async fn start(rt: Runtime, site: &Site) -> TestApp {
    start_with(rt, site, &[]).await
}

async fn start_with(rt: Runtime, site: &Site, overrides: &[(&str, &str)]) -> TestApp {
    // These tests log in far more often than the default per-address limit allows.
    let mut all = vec![("login_max_attempts_per_address", "100000")];
    all.extend_from_slice(overrides);
    common::start_app(rt, site.variables(), &all).await
}

async fn call(
    host: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    if !body.is_empty() {
        headers.push(("content-type", "application/json"));
    }
    request(host.addr, method, path, &headers, body.as_bytes())
        .await
        .unwrap()
}

async fn login(host: &TestApp, username: &str, password: &str) -> Reply {
    let body = json!({ "username": username, "password": password });
    call(host, "POST", "/api/v1/auth/login", None, Some(&body)).await
}

/// An access token of `username` (password [`PASSWORD`]).
async fn token(host: &TestApp, username: &str) -> String {
    token_with(host, username, PASSWORD).await
}

async fn token_with(host: &TestApp, username: &str, password: &str) -> String {
    let reply = login(host, username, password).await;
    assert_eq!(reply.status, 200, "login {username}: {}", reply.text());
    reply.json().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn me(host: &TestApp, token: &str) -> Reply {
    call(host, "GET", "/api/v1/auth/me", Some(token), None).await
}

fn user_path(id: impl std::fmt::Display) -> String {
    format!("{USERS}/{id}")
}

#[track_caller]
fn assert_status(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.text());
}

/// A 422 whose first item is at `loc` with `kind`.
#[track_caller]
fn assert_422(reply: &Reply, loc: Value, kind: &str) {
    assert_status(reply, 422);
    let body = reply.json().unwrap();
    let items = body["detail"].as_array().unwrap();
    assert!(
        items.iter().any(|e| e["loc"] == loc && e["type"] == kind),
        "no {kind} at {loc}: {body}"
    );
}

#[track_caller]
fn assert_409(reply: &Reply, detail_part: &str) {
    assert_status(reply, 409);
    let detail = reply.json().unwrap()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains(detail_part), "{detail}");
}

// ---- direct database reads: what the API did, independent of the API ---------------------------

#[derive(Debug, Clone, PartialEq)]
struct Row {
    username: String,
    email: String,
    full_name: Option<String>,
    password_hash: String,
    active: bool,
    roles: Vec<String>,
}

async fn row(site: &Site, id: u64) -> Option<Row> {
    let mut conn = site.mysql().await;
    let user: Option<(String, String, Option<String>, String, bool)> = conn
        .exec_first(
            "SELECT username, email, full_name, password_hash, active FROM users WHERE id = ?",
            (id,),
        )
        .await
        .unwrap();
    let roles: Vec<String> = conn
        .exec(
            "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
             WHERE ur.user_id = ? ORDER BY r.name",
            (id,),
        )
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    user.map(|(username, email, full_name, password_hash, active)| Row {
        username,
        email,
        full_name,
        password_hash,
        active,
        roles,
    })
}

/// Every user row and role assignment, to show that a refused request changed nothing.
async fn snapshot(site: &Site) -> Vec<(u64, String, String, Option<String>, String, bool, String)> {
    let mut conn = site.mysql().await;
    let rows = conn
        .query_map(
            "SELECT u.id, u.username, u.email, u.full_name, u.password_hash, u.active, \
                    COALESCE(GROUP_CONCAT(r.name ORDER BY r.name), '') \
             FROM users u LEFT JOIN user_roles ur ON ur.user_id = u.id \
             LEFT JOIN roles r ON r.id = ur.role_id GROUP BY u.id ORDER BY u.id",
            |(id, username, email, full_name, hash, active, roles)| {
                (id, username, email, full_name, hash, active, roles)
            },
        )
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    rows
}

async fn sql(site: &Site, statement: &str) {
    let mut conn = site.mysql().await;
    conn.query_drop(statement).await.unwrap();
    conn.disconnect().await.unwrap();
}

/// The session id (`sid` claim) of an access token.
fn session_id(token: &str) -> String {
    use jwt_simple::reexports::ct_codecs::{Base64UrlSafeNoPadding, Decoder};
    let part = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&Base64UrlSafeNoPadding::decode_to_vec(part, None).unwrap())
            .unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

async fn redis_exists(key: &str) -> i64 {
    let client = redis::Client::open(common::site::REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("EXISTS")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

fn new_user(username: &str, roles: &[&str]) -> Value {
    json!({
        "username": username,
        "email": format!("{username}@site.example"),
        "full_name": format!("{username} Newcomer"),
        "password": NEW_PASSWORD,
        "roles": roles,
    })
}

// ---- who may call what -----------------------------------------------------------------------

async fn every_route_needs_users_admin(rt: Runtime) {
    let site = Site::new("admin_matrix", &[Database::Ess]).await;
    site.add_user("vera", &["viewer"]).await;
    site.add_user("otto", &["operator"]).await;
    let admin_id = site.add_user("ada", &["admin"]).await;
    let target = site.add_user("tim", &["viewer"]).await;
    let host = start(rt, &site).await;
    let viewer = token(&host, "vera").await;
    let operator = token(&host, "otto").await;
    let admin = token(&host, "ada").await;

    for (name, t) in [("vera", &viewer), ("otto", &operator), ("ada", &admin)] {
        let reply = me(&host, t).await;
        assert_status(&reply, 200);
        assert_eq!(reply.json().unwrap()["username"], name);
    }

    let create = new_user("newbie", &["viewer"]);
    let update = json!({ "full_name": "Tim Updated" });
    let routes: [(&str, String, Option<&Value>); 4] = [
        ("GET", USERS.to_owned(), None),
        ("POST", USERS.to_owned(), Some(&create)),
        ("PUT", user_path(target), Some(&update)),
        ("DELETE", user_path(target), None),
    ];
    let before = snapshot(&site).await;
    for (method, path, body) in &routes {
        let anonymous = call(&host, method, path, None, *body).await;
        assert_status(&anonymous, 401);
        assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
        assert_eq!(anonymous.json().unwrap()["detail"], "Not authenticated");
        let garbage = call(&host, method, path, Some("not-a-token"), *body).await;
        assert_status(&garbage, 401);
        for t in [&viewer, &operator] {
            let refused = call(&host, method, path, Some(t), *body).await;
            assert_status(&refused, 403);
            assert_eq!(
                refused.json().unwrap()["detail"],
                "Missing permission: users:admin"
            );
        }
    }
    // Authorization comes before validation: nothing about the input is revealed.
    let bad_id = call(
        &host,
        "PUT",
        &user_path("abc"),
        Some(&viewer),
        Some(&update),
    )
    .await;
    assert_status(&bad_id, 403);
    let bad_id = call(&host, "DELETE", &user_path("abc"), None, None).await;
    assert_status(&bad_id, 401);
    let bad_query = call(
        &host,
        "GET",
        &format!("{USERS}?page=0"),
        Some(&operator),
        None,
    )
    .await;
    assert_status(&bad_query, 403);
    assert_eq!(
        snapshot(&site).await,
        before,
        "refused calls changed nothing"
    );

    let expected = [200, 201, 200, 204];
    for ((method, path, body), status) in routes.iter().zip(expected) {
        let reply = call(&host, method, path, Some(&admin), *body).await;
        assert_status(&reply, status);
    }
    assert!(row(&site, target).await.is_none(), "tim was deleted");
    assert!(row(&site, admin_id).await.is_some());
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn methods_and_paths(rt: Runtime) {
    let site = Site::new("admin_routes", &[Database::Ess]).await;
    site.add_user("ada", &["admin"]).await;
    let host = start(rt, &site).await;
    let admin = token(&host, "ada").await;

    for method in ["PUT", "DELETE", "PATCH"] {
        let reply = call(&host, method, USERS, Some(&admin), None).await;
        assert_status(&reply, 405);
        assert_eq!(reply.header("allow"), Some("GET, POST"));
        assert_eq!(reply.json().unwrap()["detail"], "Method Not Allowed");
    }
    for method in ["GET", "POST", "PATCH"] {
        let reply = call(&host, method, &user_path(1), Some(&admin), None).await;
        assert_status(&reply, 405);
        assert_eq!(reply.header("allow"), Some("PUT, DELETE"));
    }
    for path in [
        "/api/v1/admin",
        "/api/v1/admin/",
        "/api/v1/admin/roles",
        "/api/v1/admin/users/",
        "/api/v1/admin/users/1/roles",
        "/api/v1/admin/usersx",
    ] {
        let reply = call(&host, "GET", path, Some(&admin), None).await;
        assert_status(&reply, 404);
        if path.starts_with("/api/v1/admin/") {
            assert_eq!(reply.json().unwrap()["detail"], "Not Found", "{path}");
        }
    }
    for bad in ["abc", "0", "-1", "1.5", "1e3"] {
        let put = call(
            &host,
            "PUT",
            &user_path(bad),
            Some(&admin),
            Some(&json!({})),
        )
        .await;
        assert_422(
            &put,
            json!(["path", "user_id"]),
            if bad == "0" || bad == "-1" {
                "greater_than_equal"
            } else {
                "int_parsing"
            },
        );
        let delete = call(&host, "DELETE", &user_path(bad), Some(&admin), None).await;
        assert_status(&delete, 422);
        assert_eq!(
            delete.json().unwrap()["detail"][0]["loc"],
            json!(["path", "user_id"])
        );
    }
    host.stop().await.unwrap();
    site.cleanup().await;
}

// ---- listing ---------------------------------------------------------------------------------

fn usernames(reply: &Reply) -> Vec<String> {
    reply.json().unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

async fn list_pages_filters_and_sorts(rt: Runtime) {
    let site = Site::new("admin_list", &[Database::Ess]).await;
    let hash = solarhub_shared::password::hash_password(PASSWORD).unwrap();
    let admin_id = site
        .add_user_with_hash("ada", &hash, &["admin"], true)
        .await;
    // u00..u23: every third an operator, every fourth inactive, created an hour apart (u23 newest).
    for i in 0..24u32 {
        let roles: &[&str] = if i % 3 == 0 {
            &["operator"]
        } else {
            &["viewer"]
        };
        site.add_user_with_hash(&format!("u{i:02}"), &hash, roles, i % 4 != 0)
            .await;
    }
    sql(&site, "UPDATE users SET created_at = '2026-01-01 00:00:00' + INTERVAL CAST(SUBSTRING(username, 2) AS UNSIGNED) HOUR WHERE username LIKE 'u__'").await;
    sql(
        &site,
        "UPDATE users SET created_at = '2025-06-01 00:00:00' WHERE username = 'ada'",
    )
    .await;
    // Wildcards in the data and in searches are literal.
    sql(
        &site,
        "UPDATE users SET full_name = 'Percent 100% Sure' WHERE username = 'u05'",
    )
    .await;
    sql(&site, "UPDATE users SET full_name = 'Under_score', email = 'MiXeD@Example.TEST' WHERE username = 'u06'").await;
    sql(
        &site,
        "UPDATE users SET last_login_at = '2021-03-01 10:00:00' WHERE username = 'u07'",
    )
    .await;
    sql(
        &site,
        "UPDATE users SET last_login_at = '2021-02-01 10:00:00' WHERE username = 'u08'",
    )
    .await;
    let host = start(rt, &site).await;
    let admin = token(&host, "ada").await; // records ada's last login: now, the newest
    let get = |query: &str| {
        let (host, admin) = (&host, &admin);
        let path = format!("{USERS}{query}");
        async move { call(host, "GET", &path, Some(admin), None).await }
    };

    let first = get("").await;
    assert_status(&first, 200);
    let body = first.json().unwrap();
    assert_eq!(body["total"], 25);
    assert_eq!(body["page"], 1);
    assert_eq!(body["page_size"], 20);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    let ids: Vec<u64> = items.iter().map(|u| u["id"].as_u64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "default order is id: {ids:?}"
    );
    assert_eq!(ids[0], admin_id);
    let ada = &items[0];
    assert_eq!(ada["email"], "ada@example.test");
    assert_eq!(ada["full_name"], "ada Example");
    assert_eq!(ada["roles"], json!(["admin"]));
    assert_eq!(
        ada["permissions"],
        json!([
            "alerts:ack",
            "telemetry:read",
            "trading:read",
            "users:admin"
        ])
    );
    assert_eq!(ada["active"], true);
    assert_eq!(ada["created_at"], "2025-06-01T08:00:00+08:00");
    assert!(ada["last_login_at"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(items[1]["username"], "u00");
    assert_eq!(items[1]["roles"], json!(["operator"]));
    assert_eq!(items[1]["active"], false);
    assert_eq!(items[1]["last_login_at"], Value::Null);
    assert!(!first.text().contains("password"), "never a hash");

    let second = get("?page=2").await;
    assert_eq!(usernames(&second), ["u19", "u20", "u21", "u22", "u23"]);
    assert_eq!(second.json().unwrap()["total"], 25);
    assert_eq!(
        usernames(&get("?page=3&page_size=5").await),
        ["u09", "u10", "u11", "u12", "u13"]
    );
    let beyond = get("?page=9&page_size=100").await;
    assert_status(&beyond, 200);
    assert_eq!(beyond.json().unwrap()["items"], json!([]));
    assert_eq!(beyond.json().unwrap()["total"], 25);
    assert_eq!(
        get("?page_size=100").await.json().unwrap()["items"]
            .as_array()
            .unwrap()
            .len(),
        25
    );

    assert_eq!(
        usernames(&get("?sort=-username&page_size=3").await),
        ["u23", "u22", "u21"]
    );
    assert_eq!(
        usernames(&get("?sort=username&page_size=3").await),
        ["ada", "u00", "u01"]
    );
    assert_eq!(
        usernames(&get("?sort=-created_at&page_size=2").await),
        ["u23", "u22"]
    );
    assert_eq!(
        usernames(&get("?sort=created_at&page_size=2").await),
        ["ada", "u00"]
    );
    assert_eq!(
        usernames(&get("?sort=-last_login_at&page_size=3").await),
        ["ada", "u07", "u08"]
    );
    let never_first = usernames(&get("?sort=last_login_at&page_size=25").await);
    assert_eq!(&never_first[22..], ["u08", "u07", "ada"]);

    let operators = get("?role=operator&page_size=100").await;
    assert_eq!(operators.json().unwrap()["total"], 8);
    assert_eq!(
        usernames(&operators),
        ["u00", "u03", "u06", "u09", "u12", "u15", "u18", "u21"]
    );
    let inactive = get("?active=false").await;
    assert_eq!(
        usernames(&inactive),
        ["u00", "u04", "u08", "u12", "u16", "u20"]
    );
    let inactive_operators = get("?active=false&role=operator").await;
    assert_eq!(usernames(&inactive_operators), ["u00", "u12"]);
    assert_eq!(get("?active=true").await.json().unwrap()["total"], 19);
    assert_eq!(usernames(&get("?role=admin").await), ["ada"]);

    assert_eq!(usernames(&get("?q=U1&page_size=100").await).len(), 10);
    assert_eq!(usernames(&get("?q=mixed%40example").await), ["u06"]);
    assert_eq!(usernames(&get("?q=100%25").await), ["u05"]);
    assert_eq!(
        usernames(&get("?q=%25").await),
        ["u05"],
        "a % searches for itself"
    );
    assert_eq!(
        usernames(&get("?q=_").await),
        ["u06"],
        "an _ searches for itself"
    );
    assert_eq!(usernames(&get("?q=0%25+S").await), ["u05"]);
    assert_eq!(usernames(&get("?q=nobody").await), Vec::<String>::new());
    assert_eq!(
        usernames(&get("?q=u2&active=true&role=viewer&sort=-username").await),
        ["u23", "u22"]
    );
    // Blank parameters mean "not given".
    assert_eq!(
        get("?page=&page_size=&q=&role=&active=&sort=")
            .await
            .json()
            .unwrap()["total"],
        25
    );

    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn bad_list_parameters_are_422(rt: Runtime) {
    let site = Site::new("admin_list422", &[Database::Ess]).await;
    site.add_user("ada", &["admin"]).await;
    let host = start(rt, &site).await;
    let admin = token(&host, "ada").await;
    for (query, field, kind) in [
        ("page=0", "page", "greater_than_equal"),
        ("page=-2", "page", "greater_than_equal"),
        ("page=one", "page", "int_parsing"),
        ("page_size=0", "page_size", "greater_than_equal"),
        ("page_size=101", "page_size", "less_than_equal"),
        ("page_size=2.5", "page_size", "int_parsing"),
        ("active=maybe", "active", "bool_parsing"),
        ("sort=password_hash", "sort", "enum"),
        ("sort=username;DROP", "sort", "enum"),
        ("role=superuser", "role", "enum"),
        ("role=admin%27+OR+1%3D1", "role", "enum"),
    ] {
        let reply = call(
            &host,
            "GET",
            &format!("{USERS}?{query}"),
            Some(&admin),
            None,
        )
        .await;
        assert_422(&reply, json!(["query", field]), kind);
    }
    let reply = call(
        &host,
        "GET",
        &format!("{USERS}?page_size=500"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        reply.json().unwrap()["detail"],
        json!([{
            "type": "less_than_equal",
            "loc": ["query", "page_size"],
            "msg": "Input should be less than or equal to 100",
            "input": "500"
        }])
    );
    let role = call(
        &host,
        "GET",
        &format!("{USERS}?role=root"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        role.json().unwrap()["detail"][0]["msg"],
        "Input should be 'admin', 'operator' or 'viewer'"
    );
    let several = call(
        &host,
        "GET",
        &format!("{USERS}?page=0&page_size=x&active=2"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        several.json().unwrap()["detail"].as_array().unwrap().len(),
        3
    );
    host.stop().await.unwrap();
    site.cleanup().await;
}

// ---- creating --------------------------------------------------------------------------------

async fn create_user_then_it_can_log_in(rt: Runtime) {
    let site = Site::new("admin_create", &[Database::Ess]).await;
    site.add_user("ada", &["admin"]).await;
    let host = start(rt, &site).await;
    let admin = token(&host, "ada").await;

    let reply = call(
        &host,
        "POST",
        USERS,
        Some(&admin),
        Some(&new_user(
            "carol.o-k_1",
            &["operator", "viewer", "operator"],
        )),
    )
    .await;
    assert_status(&reply, 201);
    let user = reply.json().unwrap();
    let id = user["id"].as_u64().unwrap();
    assert_eq!(reply.header("location"), Some(user_path(id).as_str()));
    assert_eq!(user["username"], "carol.o-k_1");
    assert_eq!(user["email"], "carol.o-k_1@site.example");
    assert_eq!(user["full_name"], "carol.o-k_1 Newcomer");
    assert_eq!(user["roles"], json!(["operator", "viewer"]));
    assert_eq!(
        user["permissions"],
        json!(["alerts:ack", "telemetry:read", "trading:read"])
    );
    assert_eq!(user["active"], true);
    assert!(user["created_at"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(user["last_login_at"], Value::Null);
    assert!(!reply.text().contains("argon2") && !reply.text().contains(NEW_PASSWORD));

    let stored = row(&site, id).await.unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"));
    assert_eq!(stored.roles, ["operator", "viewer"]);
    let carol = token_with(&host, "carol.o-k_1", NEW_PASSWORD).await;
    assert_eq!(me(&host, &carol).await.json().unwrap()["id"], id);

    // Optional fields: no name, inactive, no roles.
    let minimal = json!({
        "username": "dormant", "email": "dormant@site.example", "password": NEW_PASSWORD,
        "roles": [], "active": false
    });
    let reply = call(&host, "POST", USERS, Some(&admin), Some(&minimal)).await;
    assert_status(&reply, 201);
    let dormant = reply.json().unwrap();
    assert_eq!(dormant["full_name"], Value::Null);
    assert_eq!(dormant["active"], false);
    assert_eq!(dormant["roles"], json!([]));
    assert_status(&login(&host, "dormant", NEW_PASSWORD).await, 403);
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn create_refuses_conflicts_and_bad_input_without_writing(rt: Runtime) {
    let site = Site::new("admin_create_bad", &[Database::Ess]).await;
    site.add_user("ada", &["admin"]).await;
    site.add_user("bob", &["viewer"]).await;
    let host = start(rt, &site).await;
    let admin = token(&host, "ada").await;
    let before = snapshot(&site).await;
    let post = |body: Value| {
        let (host, admin) = (&host, &admin);
        async move { call(host, "POST", USERS, Some(admin), Some(&body)).await }
    };

    let mut same_name = new_user("BOB", &["viewer"]);
    same_name["email"] = json!("another@site.example");
    assert_409(&post(same_name).await, "username");
    let mut same_email = new_user("robert", &["viewer"]);
    same_email["email"] = json!("Bob@Example.test");
    assert_409(&post(same_email).await, "email");

    let with = |field: &str, value: Value| {
        let mut body = new_user("newbie", &["viewer"]);
        body[field] = value;
        body
    };
    let cases: Vec<(Value, Value, &str)> = vec![
        (
            with("password", json!("short-pw")),
            json!(["body", "password"]),
            "string_too_short",
        ),
        (
            with("password", json!("password1234")),
            json!(["body", "password"]),
            "value_error",
        ),
        (
            with("password", json!("Solarhub2024!")),
            json!(["body", "password"]),
            "value_error",
        ),
        (
            with("password", json!("aaaaaaaaaaaaaaaa")),
            json!(["body", "password"]),
            "value_error",
        ),
        (
            with("password", json!("newbie@site.example")),
            json!(["body", "password"]),
            "value_error",
        ),
        (
            with("password", json!(123456789012345u64)),
            json!(["body", "password"]),
            "string_type",
        ),
        (
            with("email", json!("not-an-email")),
            json!(["body", "email"]),
            "value_error",
        ),
        (
            with("email", json!("a@b")),
            json!(["body", "email"]),
            "value_error",
        ),
        (
            with("username", json!("no spaces")),
            json!(["body", "username"]),
            "string_pattern_mismatch",
        ),
        (
            with("username", json!("ab")),
            json!(["body", "username"]),
            "string_pattern_mismatch",
        ),
        (
            with("username", json!("x".repeat(65))),
            json!(["body", "username"]),
            "string_pattern_mismatch",
        ),
        (
            with("username", json!("robert'; DROP TABLE users; --")),
            json!(["body", "username"]),
            "string_pattern_mismatch",
        ),
        (
            with("roles", json!(["viewer", "root"])),
            json!(["body", "roles", 1]),
            "enum",
        ),
        (
            with("roles", json!("admin")),
            json!(["body", "roles"]),
            "list_type",
        ),
        (
            with("active", json!("yes")),
            json!(["body", "active"]),
            "bool_type",
        ),
        (
            with("is_superuser", json!(true)),
            json!(["body", "is_superuser"]),
            "extra_forbidden",
        ),
        (
            json!({ "username": "newbie" }),
            json!(["body", "email"]),
            "missing",
        ),
        (
            json!({ "username": "newbie" }),
            json!(["body", "password"]),
            "missing",
        ),
        (
            json!({ "username": "newbie" }),
            json!(["body", "roles"]),
            "missing",
        ),
        (json!(["newbie"]), json!(["body"]), "model_attributes_type"),
    ];
    for (body, loc, kind) in cases {
        let reply = post(body.clone()).await;
        assert_422(&reply, loc, kind);
        assert!(
            !reply.text().contains("short-pw"),
            "passwords are not echoed"
        );
    }
    let weak = post(with("password", json!("password1234"))).await;
    let msg = weak.json().unwrap()["detail"][0]["msg"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.contains("common"), "{msg}");
    let not_json = request(
        host.addr,
        "POST",
        USERS,
        &[
            ("authorization", &format!("Bearer {admin}")),
            ("content-type", "application/json"),
        ],
        b"{\"username\":",
    )
    .await
    .unwrap();
    assert_422(&not_json, json!(["body"]), "json_invalid");

    assert_eq!(snapshot(&site).await, before, "nothing was written");
    assert_status(&login(&host, "newbie", NEW_PASSWORD).await, 401);
    host.stop().await.unwrap();
    site.cleanup().await;
}

// ---- updating --------------------------------------------------------------------------------

async fn update_changes_what_is_given(rt: Runtime) {
    let site = Site::new("admin_update", &[Database::Ess]).await;
    site.add_user("ada", &["admin"]).await;
    let bob = site.add_user("bob", &["viewer"]).await;
    let host = start(rt, &site).await;
    let admin = token(&host, "ada").await;
    let bob_token = token(&host, "bob").await;

    // Name and email only: bob's session is untouched.
    let body = json!({ "email": "robert@site.example", "full_name": "  Robert B.  " });
    let reply = call(&host, "PUT", &user_path(bob), Some(&admin), Some(&body)).await;
    assert_status(&reply, 200);
    let user = reply.json().unwrap();
    assert_eq!(user["id"], bob);
    assert_eq!(user["email"], "robert@site.example");
    assert_eq!(user["full_name"], "Robert B.");
    assert_eq!(user["roles"], json!(["viewer"]));
    let stored = row(&site, bob).await.unwrap();
    assert_eq!(stored.email, "robert@site.example");
    assert_eq!(stored.full_name.as_deref(), Some("Robert B."));
    assert_status(&me(&host, &bob_token).await, 200);

    // An empty body changes nothing.
    let before = row(&site, bob).await;
    let reply = call(
        &host,
        "PUT",
        &user_path(bob),
        Some(&admin),
        Some(&json!({})),
    )
    .await;
    assert_status(&reply, 200);
    assert_eq!(row(&site, bob).await, before);
    assert_status(&me(&host, &bob_token).await, 200);

    // Clearing the name.
    let reply = call(
        &host,
        "PUT",
        &user_path(bob),
        Some(&admin),
        Some(&json!({ "full_name": null })),
    )
    .await;
    assert_eq!(reply.json().unwrap()["full_name"], Value::Null);

    // Roles: the new set is stored, bob's old token (with the old permissions) stops working.
    let body = json!({ "roles": ["operator"] });
    let reply = call(&host, "PUT", &user_path(bob), Some(&admin), Some(&body)).await;
    assert_status(&reply, 200);
    assert_eq!(reply.json().unwrap()["roles"], json!(["operator"]));
    assert!(reply.json().unwrap()["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("alerts:ack")));
    assert_eq!(row(&site, bob).await.unwrap().roles, ["operator"]);
    let revoked = me(&host, &bob_token).await;
    assert_status(&revoked, 401);
    assert_eq!(revoked.json().unwrap()["detail"], "Token has been revoked");
    let bob_token = token(&host, "bob").await;
    assert_eq!(
        me(&host, &bob_token).await.json().unwrap()["roles"],
        json!(["operator"])
    );

    // Password: old sessions end, the old password stops working, the new one works.
    let body = json!({ "password": NEW_PASSWORD });
    let reply = call(&host, "PUT", &user_path(bob), Some(&admin), Some(&body)).await;
    assert_status(&reply, 200);
    assert_status(&me(&host, &bob_token).await, 401);
    assert_status(&login(&host, "bob", PASSWORD).await, 401);
    token_with(&host, "bob", NEW_PASSWORD).await;
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn update_refuses_bad_input_and_conflicts_without_writing(rt: Runtime) {
    let site = Site::new("admin_update_bad", &[Database::Ess]).await;
    site.add_user("ada", &["admin"]).await;
    let bob = site.add_user("bob", &["viewer"]).await;
    site.add_user("carol", &["viewer"]).await;
    let host = start(rt, &site).await;
    let admin = token(&host, "ada").await;
    let bob_token = token(&host, "bob").await;
    let before = snapshot(&site).await;
    let put = |id: u64, body: Value| {
        let (host, admin) = (&host, &admin);
        async move { call(host, "PUT", &user_path(id), Some(admin), Some(&body)).await }
    };

    assert_409(
        &put(bob, json!({ "email": "CAROL@example.test" })).await,
        "email",
    );
    let missing = put(bob + 100, json!({ "full_name": "Ghost" })).await;
    assert_status(&missing, 404);
    assert_eq!(missing.json().unwrap()["detail"], "User not found");
    for (body, loc, kind) in [
        (
            json!({ "password": "tooshort" }),
            json!(["body", "password"]),
            "string_too_short",
        ),
        (
            json!({ "password": "qwertyuiop123" }),
            json!(["body", "password"]),
            "value_error",
        ),
        (
            json!({ "email": "bob at example" }),
            json!(["body", "email"]),
            "value_error",
        ),
        (
            json!({ "email": null }),
            json!(["body", "email"]),
            "string_type",
        ),
        (
            json!({ "roles": ["viewer", "god"] }),
            json!(["body", "roles", 1]),
            "enum",
        ),
        (
            json!({ "roles": [1] }),
            json!(["body", "roles", 0]),
            "string_type",
        ),
        (
            json!({ "active": "false" }),
            json!(["body", "active"]),
            "bool_type",
        ),
        (
            json!({ "username": "renamed" }),
            json!(["body", "username"]),
            "extra_forbidden",
        ),
        (
            json!({ "full_name": 7 }),
            json!(["body", "full_name"]),
            "string_type",
        ),
        (
            json!({ "full_name": "x".repeat(256) }),
            json!(["body", "full_name"]),
            "string_too_long",
        ),
    ] {
        assert_422(&put(bob, body).await, loc, kind);
    }
    // A password equal to the user's own email local part (which only the server knows).
    sql(
        &site,
        "UPDATE users SET email = 'bobby-tables-1987@example.test' WHERE username = 'bob'",
    )
    .await;
    let before_own = snapshot(&site).await;
    let own = put(bob, json!({ "password": "Bobby-Tables-1987" })).await;
    assert_422(&own, json!(["body", "password"]), "value_error");
    let msg = own.json().unwrap()["detail"][0]["msg"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.contains("email"), "{msg}");
    assert_eq!(snapshot(&site).await, before_own);
    sql(
        &site,
        "UPDATE users SET email = 'bob@example.test' WHERE username = 'bob'",
    )
    .await;

    assert_eq!(snapshot(&site).await, before, "nothing was written");
    assert_status(&me(&host, &bob_token).await, 200);
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn deactivation_ends_sessions_and_blocks_login(rt: Runtime) {
    let site = Site::new("admin_deactivate", &[Database::Ess]).await;
    site.add_user("ada", &["admin"]).await;
    let bob = site.add_user("bob", &["operator"]).await;
    let host = start(rt, &site).await;
    let admin = token(&host, "ada").await;
    // Two sessions of bob, e.g. two browsers.
    let first = login(&host, "bob", PASSWORD).await.json().unwrap();
    let second = token(&host, "bob").await;
    let first_access = first["access_token"].as_str().unwrap().to_owned();
    let first_refresh = first["refresh_token"].as_str().unwrap().to_owned();
    assert_status(&me(&host, &first_access).await, 200);

    let reply = call(
        &host,
        "PUT",
        &user_path(bob),
        Some(&admin),
        Some(&json!({ "active": false })),
    )
    .await;
    assert_status(&reply, 200);
    assert_eq!(reply.json().unwrap()["active"], false);
    assert!(!row(&site, bob).await.unwrap().active);
    for t in [&first_access, &second] {
        let reply = me(&host, t).await;
        assert_status(&reply, 401);
        assert_eq!(reply.json().unwrap()["detail"], "Token has been revoked");
    }
    let refresh = call(
        &host,
        "POST",
        "/api/v1/auth/refresh",
        None,
        Some(&json!({ "refresh_token": first_refresh })),
    )
    .await;
    assert_status(&refresh, 401);
    assert_status(&login(&host, "bob", PASSWORD).await, 403);
    // The admin's own session is not affected.
    assert_status(&call(&host, "GET", USERS, Some(&admin), None).await, 200);

    // Reactivated, bob logs in again (the old tokens stay dead).
    let reply = call(
        &host,
        "PUT",
        &user_path(bob),
        Some(&admin),
        Some(&json!({ "active": true })),
    )
    .await;
    assert_status(&reply, 200);
    let fresh = token(&host, "bob").await;
    assert_status(&me(&host, &fresh).await, 200);
    assert_status(&me(&host, &second).await, 401);
    host.stop().await.unwrap();
    site.cleanup().await;
}

// ---- deleting --------------------------------------------------------------------------------

async fn delete_removes_the_user_and_its_sessions(rt: Runtime) {
    let site = Site::new("admin_delete", &[Database::Ess]).await;
    let ada = site.add_user("ada", &["admin"]).await;
    let bob = site.add_user("bob", &["viewer", "operator"]).await;
    let host = start(rt, &site).await;
    let admin = token(&host, "ada").await;
    let bob_token = token(&host, "bob").await;

    let reply = call(&host, "DELETE", &user_path(bob), Some(&admin), None).await;
    assert_status(&reply, 204);
    assert!(reply.body.is_empty());
    assert!(row(&site, bob).await.is_none());
    let mut conn = site.mysql().await;
    let orphans: Option<i64> = conn
        .exec_first("SELECT COUNT(*) FROM user_roles WHERE user_id = ?", (bob,))
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    assert_eq!(orphans, Some(0));
    // The session is on the revocation list (the guard refuses the token even where no
    // endpoint looks the user up) and no longer recorded under the deleted user.
    let sid = session_id(&bob_token);
    assert_eq!(
        redis_exists(&format!("{}auth:revoked:sid:{sid}", site.prefix)).await,
        1
    );
    assert_eq!(
        redis_exists(&format!("{}auth:sessions:{bob}", site.prefix)).await,
        0
    );
    assert_status(&me(&host, &bob_token).await, 401);
    assert_status(&login(&host, "bob", PASSWORD).await, 401);

    let again = call(&host, "DELETE", &user_path(bob), Some(&admin), None).await;
    assert_status(&again, 404);
    assert_status(
        &call(&host, "DELETE", &user_path(999_999), Some(&admin), None).await,
        404,
    );

    let before = snapshot(&site).await;
    assert_409(
        &call(&host, "DELETE", &user_path(ada), Some(&admin), None).await,
        "your own account",
    );
    assert_eq!(snapshot(&site).await, before);
    assert_status(&me(&host, &admin).await, 200);
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn the_last_active_admin_stays(rt: Runtime) {
    let site = Site::new("admin_last", &[Database::Ess]).await;
    let ada = site.add_user("ada", &["admin"]).await;
    let hash = solarhub_shared::password::hash_password(PASSWORD).unwrap();
    // An inactive admin does not count.
    let idle = site
        .add_user_with_hash("idle", &hash, &["admin"], false)
        .await;
    let bea = site.add_user("bea", &["admin", "viewer"]).await;
    let host = start(rt, &site).await;
    let ada_token = token(&host, "ada").await;
    let bea_token = token(&host, "bea").await;

    // Two active admins: ada may demote bea (bea keeps viewer).
    let reply = call(
        &host,
        "PUT",
        &user_path(bea),
        Some(&ada_token),
        Some(&json!({ "roles": ["viewer"] })),
    )
    .await;
    assert_status(&reply, 200);
    assert_status(&me(&host, &bea_token).await, 401);

    // Now ada is the last active admin: she can neither demote nor deactivate herself.
    let before = snapshot(&site).await;
    for body in [
        json!({ "roles": ["operator"] }),
        json!({ "roles": [] }),
        json!({ "active": false }),
        json!({ "active": false, "roles": ["admin"] }),
    ] {
        let reply = call(&host, "PUT", &user_path(ada), Some(&ada_token), Some(&body)).await;
        assert_409(&reply, "last active admin");
    }
    assert_eq!(snapshot(&site).await, before);
    assert_status(&me(&host, &ada_token).await, 200);
    // Keeping admin while changing other things is fine.
    let reply = call(
        &host,
        "PUT",
        &user_path(ada),
        Some(&ada_token),
        Some(&json!({ "roles": ["admin", "viewer"], "full_name": "Ada A." })),
    )
    .await;
    assert_status(&reply, 200);

    // A caller whose token still says admin although the account no longer is one (changed
    // behind the API's back) cannot remove the last active admin either.
    let ada_token = token(&host, "ada").await;
    let eve = site.add_user("eve", &["admin"]).await;
    let eve_token = token(&host, "eve").await;
    sql(
        &site,
        &format!("UPDATE users SET active = 0 WHERE id = {eve}"),
    )
    .await;
    let before = snapshot(&site).await;
    assert_409(
        &call(&host, "DELETE", &user_path(ada), Some(&eve_token), None).await,
        "last active admin",
    );
    assert_409(
        &call(
            &host,
            "PUT",
            &user_path(ada),
            Some(&eve_token),
            Some(&json!({ "active": false })),
        )
        .await,
        "last active admin",
    );
    assert_409(
        &call(
            &host,
            "PUT",
            &user_path(ada),
            Some(&eve_token),
            Some(&json!({ "roles": ["viewer"] })),
        )
        .await,
        "last active admin",
    );
    assert_eq!(snapshot(&site).await, before);
    assert_status(&me(&host, &ada_token).await, 200);

    // Inactive admins may go.
    assert_status(
        &call(&host, "DELETE", &user_path(idle), Some(&ada_token), None).await,
        204,
    );
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn two_admins_demoting_each_other_at_once_leave_one(rt: Runtime) {
    let site = Site::new("admin_race", &[Database::Ess]).await;
    let ada = site.add_user("ada", &["admin"]).await;
    let bea = site.add_user("bea", &["admin"]).await;
    let host = start(rt, &site).await;
    let ada_token = token(&host, "ada").await;
    let bea_token = token(&host, "bea").await;
    let body = json!({ "active": false });
    let (bea_path, ada_path) = (user_path(bea), user_path(ada));
    let (a, b) = tokio::join!(
        call(&host, "PUT", &bea_path, Some(&ada_token), Some(&body)),
        call(&host, "PUT", &ada_path, Some(&bea_token), Some(&body)),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    // Either one wins and the other finds itself the last admin (409), or the loser's token was
    // already revoked by the winner (401) — never both deactivated.
    assert!(
        statuses == [200, 409] || statuses == [200, 401],
        "{statuses:?}: {} / {}",
        a.text(),
        b.text()
    );
    let active = [
        row(&site, ada).await.unwrap().active,
        row(&site, bea).await.unwrap().active,
    ];
    assert_eq!(active.iter().filter(|a| **a).count(), 1, "{active:?}");
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn an_unreachable_database_is_503(rt: Runtime) {
    let site = Site::new("admin_down", &[Database::Ess]).await;
    site.add_user("ada", &["admin"]).await;
    let host = start(rt, &site).await;
    let admin = token(&host, "ada").await;
    host.stop().await.unwrap();
    let host = start_with(
        rt,
        &site,
        &[
            ("mysql_host", "127.0.0.1:3399"),
            ("db_ess_url", "mysql://root:pw@127.0.0.1:3399/ess"),
        ],
    )
    .await;
    let reply = call(&host, "GET", USERS, Some(&admin), None).await;
    assert_status(&reply, 503);
    assert_eq!(reply.json().unwrap()["detail"], "mysql:ess is unavailable");
    assert!(!reply.text().contains("pw@"));
    host.stop().await.unwrap();
    site.cleanup().await;
}

on_both_runtimes!(
    every_route_needs_users_admin,
    methods_and_paths,
    list_pages_filters_and_sorts,
    bad_list_parameters_are_422,
    create_user_then_it_can_log_in,
    create_refuses_conflicts_and_bad_input_without_writing,
    update_changes_what_is_given,
    update_refuses_bad_input_and_conflicts_without_writing,
    deactivation_ends_sessions_and_blocks_login,
    delete_removes_the_user_and_its_sessions,
    the_last_active_admin_stays,
    two_admins_demoting_each_other_at_once_leave_one,
    an_unreachable_database_is_503,
);
