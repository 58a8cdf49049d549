//! Talking to a running app the way the dashboard does: log in, call a route with a bearer token,
//! read FastAPI-shaped errors. Shared by the end-to-end tests of the telemetry and alert routes.

use std::net::SocketAddr;

use mysql_async::prelude::Queryable;
use serde_json::Value;
use solarhub_host::client::{request, Reply};

use super::runtime::TestApp;
use super::site::{Site, PASSWORD};

/// An access token of `username` (password [`PASSWORD`]).
pub async fn token(app: &TestApp, username: &str) -> String {
    token_at(app.addr, username).await
}

/// The same from an app at `addr`, however it was started.
pub async fn token_at(addr: SocketAddr, username: &str) -> String {
    token_with(addr, username, PASSWORD).await
}

/// An access token of `username` with `password`, from the app at `addr`.
pub async fn token_with(addr: SocketAddr, username: &str, password: &str) -> String {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let reply = request(
        addr,
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The login throttle's per-address attempt counter of `address`, if any.
pub async fn login_attempts(site: &Site, address: &str) -> Option<i64> {
    let client = redis::Client::open(super::site::REDIS).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("GET")
        .arg(solarhub_shared::schema::auth_keys::attempts_by_address(
            &site.prefix,
            address,
        ))
        .query_async(&mut redis)
        .await
        .unwrap()
}

/// `method path` with the token, if any, and no body.
pub async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    request(app.addr, method, path, &headers, b"")
        .await
        .unwrap()
}

pub async fn get(app: &TestApp, path: &str, token: Option<&str>) -> Reply {
    call(app, "GET", path, token).await
}

/// `PUT path` with a JSON body and the token, if any.
pub async fn put_json(app: &TestApp, path: &str, token: Option<&str>, body: &Value) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    request(app.addr, "PUT", path, &headers, body.to_string().as_bytes())
        .await
        .unwrap()
}

/// A 422 with an item at `loc` of type `kind`.
pub fn assert_422(reply: &Reply, loc: Value, kind: &str) {
    assert_eq!(reply.status, 422, "{}", reply.text());
    let detail = reply.json().unwrap()["detail"].clone();
    let item = detail
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["loc"] == loc)
        .unwrap_or_else(|| panic!("no error at {loc}: {detail}"))
        .clone();
    assert_eq!(item["type"], kind, "{detail}");
}

/// A 403 naming the missing permission.
pub fn assert_403(reply: &Reply, permission: &str) {
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert_eq!(
        reply.json().unwrap()["detail"],
        format!("Missing permission: {permission}")
    );
}

/// A 401 with the Bearer challenge.
pub fn assert_401(reply: &Reply) {
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
}

pub fn now() -> i64 {
    solarhub_shared::time::now_unix()
}

/// `ts` as the app formats times (ISO 8601 with the site's default offset).
pub fn iso_of(ts: i64) -> String {
    solarhub_shared::time::format_iso(ts, solarhub_shared::time::UtcOffset::SITE_DEFAULT)
}

/// `ts` as a MySQL DATETIME literal in UTC (independent of the session time zone).
pub fn mysql_utc(ts: i64) -> String {
    solarhub_shared::time::format_mysql_datetime(ts)
}

/// Runs `statement` on the site's server (qualify tables with their database names).
pub async fn sql(site: &Site, statement: &str) {
    let mut conn = site.mysql().await;
    conn.query_drop(statement).await.unwrap();
    conn.disconnect().await.unwrap();
}

/// Writes a live hash `key` (prefix added) with `fields`, as a collector does.
pub async fn write_hash(site: &Site, key: &str, fields: &[(&str, String)]) {
    let client = redis::Client::open(super::site::REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("HSET")
        .arg(format!("{}{key}", site.prefix))
        .arg(fields)
        .query_async(&mut conn)
        .await
        .unwrap();
}
