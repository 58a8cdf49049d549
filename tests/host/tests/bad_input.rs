//! What hostile or broken clients send, end to end on both runtimes: each kind of bad input is a
//! clear 4xx in the FastAPI shape, stores nothing, and leaks nothing (no SQL, no store address).

#[macro_use]
mod common;

use common::api::{get, token};
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use solarhub_host::client::{request, Reply};
use solarhub_shared::schema::Database;

const NEW_PASSWORD: &str = "a sound new passphrase 42";

async fn site(tag: &str) -> Site {
    let site = Site::new(tag, &[Database::Ess]).await;
    site.add_user("ada", &["admin"]).await;
    site.add_user("vera", &["viewer"]).await;
    site
}

async fn start(rt: Runtime, site: &Site) -> TestApp {
    common::start_app(rt, site.variables(), &[]).await
}

/// Every user row, to compare before and after.
async fn users(site: &Site) -> Vec<(u64, String, String)> {
    let mut conn = site.mysql().await;
    let rows = conn
        .query(format!(
            "SELECT id, username, email FROM `{}`.users ORDER BY id",
            site.db_name(Database::Ess)
        ))
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    rows
}

async fn post(app: &TestApp, path: &str, token: &str, content_type: &str, body: &[u8]) -> Reply {
    let auth = format!("Bearer {token}");
    request(
        app.addr,
        "POST",
        path,
        &[("authorization", &auth), ("content-type", content_type)],
        body,
    )
    .await
    .unwrap()
}

/// A 4xx with a FastAPI body, and nothing in it a client should not see.
fn assert_clean(reply: &Reply, status: u16) -> Value {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let text = reply.text().to_lowercase();
    for leak in [
        "select ",
        "insert ",
        "mysql://",
        "redis://",
        "3306",
        "panicked",
        "backtrace",
    ] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
    let body = reply.json().unwrap();
    assert!(body.get("detail").is_some(), "{body}");
    body
}

fn first_error_type(body: &Value) -> String {
    body["detail"][0]["type"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn new_user(username: &str) -> Value {
    json!({
        "username": username,
        "email": format!("{}@site.example", username.len()),
        "full_name": "New Comer",
        "password": NEW_PASSWORD,
        "roles": ["viewer"],
    })
}

const USERS: &str = "/api/v1/admin/users";

async fn oversized_bodies_are_413(rt: Runtime) {
    let site = site("bad_big").await;
    let before = users(&site).await;
    let app = start(rt, &site).await;
    let ada = token(&app, "ada").await;
    let mut big = new_user("bigbody").to_string().into_bytes();
    big.truncate(big.len() - 1);
    big.extend(format!(", \"padding\": \"{}\"}}", "x".repeat(70_000)).bytes());
    let reply = post(&app, USERS, &ada, "application/json", &big).await;
    let body = assert_clean(&reply, 413);
    assert_eq!(body["detail"], "Request body is larger than 65536 bytes");
    let login = request(app.addr, "POST", "/api/v1/auth/login", &[], &big)
        .await
        .unwrap();
    assert_clean(&login, 413);
    assert_eq!(users(&site).await, before);
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn malformed_and_deeply_nested_json_is_422(rt: Runtime) {
    let site = site("bad_json").await;
    let before = users(&site).await;
    let app = start(rt, &site).await;
    let ada = token(&app, "ada").await;
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let deep_object = format!(
        "{{\"username\": {}1{}}}",
        "{\"a\":".repeat(3_000),
        "}".repeat(3_000)
    );
    for body in [
        "{\"username\": \"x\",".to_owned(),
        "not json at all".to_owned(),
        String::new(),
        deep,
        deep_object,
    ] {
        let reply = post(&app, USERS, &ada, "application/json", body.as_bytes()).await;
        let err = assert_clean(&reply, 422);
        assert_eq!(err["detail"][0]["loc"][0], "body", "{err}");
    }
    // Valid JSON that is not an object.
    let list = post(&app, USERS, &ada, "application/json", b"[1, 2]").await;
    assert_eq!(
        first_error_type(&assert_clean(&list, 422)),
        "model_attributes_type"
    );
    let login = request(
        app.addr,
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "application/json")],
        b"{\"username\":",
    )
    .await
    .unwrap();
    assert_eq!(first_error_type(&assert_clean(&login, 422)), "json_invalid");
    assert_eq!(users(&site).await, before);
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn wrong_content_types_are_not_read(rt: Runtime) {
    let site = site("bad_type").await;
    let before = users(&site).await;
    let app = start(rt, &site).await;
    let ada = token(&app, "ada").await;
    let valid = new_user("typed").to_string();
    for content_type in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
    ] {
        let reply = post(&app, USERS, &ada, content_type, valid.as_bytes()).await;
        let body = assert_clean(&reply, 422);
        assert_eq!(
            first_error_type(&body),
            "model_attributes_type",
            "{content_type}"
        );
    }
    // The OAuth2 form is the login's; the admin routes read JSON only.
    let form = post(
        &app,
        USERS,
        &ada,
        "application/x-www-form-urlencoded",
        b"username=formed&password=a+sound+new+passphrase+42",
    )
    .await;
    assert_eq!(
        first_error_type(&assert_clean(&form, 422)),
        "model_attributes_type"
    );
    assert_eq!(users(&site).await, before);
    // The same body as JSON is created: the refusals above were about the type alone.
    let ok = post(
        &app,
        USERS,
        &ada,
        "application/json; charset=utf-8",
        valid.as_bytes(),
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.text());
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn bytes_that_are_not_utf8_are_refused_or_replaced(rt: Runtime) {
    let site = site("bad_utf8").await;
    let before = users(&site).await;
    let app = start(rt, &site).await;
    let ada = token(&app, "ada").await;
    let body = b"{\"username\": \"caf\xe9\", \"password\": \"x\"}";
    let reply = post(&app, USERS, &ada, "application/json", body).await;
    assert_eq!(first_error_type(&assert_clean(&reply, 422)), "json_invalid");
    let login = request(
        app.addr,
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"username=\xff&password=\xfe",
    )
    .await
    .unwrap();
    assert_eq!(first_error_type(&assert_clean(&login, 422)), "json_invalid");
    // Escaped bytes that do not decode are replaced, as Starlette does: a search for them finds
    // nothing; in a number they are a 422.
    let search = get(&app, &format!("{USERS}?q=%FF%FE"), Some(&ada)).await;
    assert_eq!(search.status, 200, "{}", search.text());
    assert_eq!(search.json().unwrap()["total"], 0);
    let path = common::api::call(&app, "DELETE", "/api/v1/admin/users/%FF", Some(&ada)).await;
    assert_clean(&path, 422);
    assert_eq!(users(&site).await, before);
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn huge_query_strings_are_414_and_long_values_422(rt: Runtime) {
    let site = site("bad_long").await;
    let app = start(rt, &site).await;
    let vera = token(&app, "vera").await;
    let huge = format!("/api/v1/alerts?since={}", "9".repeat(9_000));
    let body = assert_clean(&get(&app, &huge, Some(&vera)).await, 414);
    assert_eq!(
        body["detail"],
        "Request path and query are longer than 8192 bytes"
    );
    // Public routes too, before any store is touched.
    assert_clean(
        &get(
            &app,
            &format!("/api/v1/health?x={}", "a".repeat(9_000)),
            None,
        )
        .await,
        414,
    );
    let long = format!("/api/v1/alerts?since={}", "9".repeat(6_000));
    let reply = get(&app, &long, Some(&vera)).await;
    assert_eq!(
        first_error_type(&assert_clean(&reply, 422)),
        "datetime_from_date_parsing"
    );
    let many = format!("/api/v1/alerts?{}", "limit=5&".repeat(900));
    assert_eq!(get(&app, &many, Some(&vera)).await.status, 200);
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn sql_and_header_injection_attempts_are_plain_data(rt: Runtime) {
    let site = site("bad_inject").await;
    let before = users(&site).await;
    let app = start(rt, &site).await;
    let ada = token(&app, "ada").await;
    // Searches and filters are bound parameters: these match nothing and change nothing.
    for q in [
        "%27%20OR%20%271%27%3D%271",
        "%27%3B%20DROP%20TABLE%20users%3B%20--",
        "%25",
        "_",
    ] {
        let reply = get(&app, &format!("{USERS}?q={q}"), Some(&ada)).await;
        assert_eq!(reply.status, 200, "{q}: {}", reply.text());
        assert_eq!(reply.json().unwrap()["total"], 0, "{q}");
    }
    let role = get(&app, &format!("{USERS}?role=admin%27%20--"), Some(&ada)).await;
    assert_clean(&role, 422);
    let login = request(
        app.addr,
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "application/json")],
        json!({"username": "ada' -- ", "password": "' OR '1'='1"})
            .to_string()
            .as_bytes(),
    )
    .await
    .unwrap();
    assert_clean(&login, 401);
    // A username made to break out of SQL or into headers is refused by validation.
    for username in ["x'); DROP TABLE users; --", "evil\r\nSet-Cookie: a=b"] {
        let reply = post(
            &app,
            USERS,
            &ada,
            "application/json",
            new_user(username).to_string().as_bytes(),
        )
        .await;
        assert_clean(&reply, 422);
        assert!(reply.header("set-cookie").is_none());
    }
    // Escaped CR LF in a path or query never becomes a response header.
    for path in [
        "/api/v1/admin/users/1%0D%0ASet-Cookie:%20a=b",
        "/api/v1/alerts?since=x%0D%0ASet-Cookie:%20a=b",
        "/api/bams_info/1%0D%0ASet-Cookie:%20a=b",
    ] {
        let reply = get(&app, path, Some(&ada)).await;
        assert!(
            (400..500).contains(&reply.status),
            "{path}: {}",
            reply.status
        );
        assert!(reply.header("set-cookie").is_none(), "{path}");
    }
    assert_eq!(users(&site).await, before);
    app.stop().await.unwrap();
    site.cleanup().await;
}

on_both_runtimes!(
    oversized_bodies_are_413,
    malformed_and_deeply_nested_json_is_422,
    wrong_content_types_are_not_read,
    bytes_that_are_not_utf8_are_refused_or_replaced,
    huge_query_strings_are_414_and_long_values_422,
    sql_and_header_injection_attempts_are_plain_data,
);
