//! Whose address login throttling counts, end to end on both runtimes: the TCP peer, unless the
//! peer is listed in `trusted_proxies`; then the client its `X-Forwarded-For` names. A client that
//! is not a listed proxy cannot move its counter by sending `X-Forwarded-For` or a
//! `spin-client-addr` of its own (real Spin appends its value after the client's).

#[macro_use]
mod common;

use common::runtime::{Runtime, TestApp};
use common::site::Site;
use solarhub_host::client::{request, Reply};
use solarhub_shared::schema::Database;

/// Three admitted attempts per address; unknown usernames, so only the address counter moves.
const PER_ADDRESS: &str = "3";

async fn start(rt: Runtime, site: &Site, trusted: &str) -> TestApp {
    common::start_app(
        rt,
        site.variables(),
        &[
            ("login_max_attempts_per_address", PER_ADDRESS),
            ("trusted_proxies", trusted),
        ],
    )
    .await
}

async fn login_from(app: &TestApp, n: usize, headers: &[(&str, &str)]) -> Reply {
    let body =
        serde_json::json!({"username": format!("nobody{n}"), "password": "wrong wrong wrong"})
            .to_string();
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    request(
        app.addr,
        "POST",
        "/api/v1/auth/login",
        &all,
        body.as_bytes(),
    )
    .await
    .unwrap()
}

async fn spoofed_addresses_from_an_untrusted_peer_are_ignored(rt: Runtime) {
    let site = Site::new("proxy_untrusted", &[Database::Ess]).await;
    let app = start(rt, &site, "").await;
    for n in 0..3 {
        let fake = format!("198.51.100.{n}");
        let fake_peer = format!("{fake}:4242");
        let reply = login_from(
            &app,
            n,
            &[
                ("x-forwarded-for", &fake),
                ("spin-client-addr", &fake_peer),
                ("x-real-ip", &fake),
            ],
        )
        .await;
        assert_eq!(reply.status, 401, "{}", reply.text());
    }
    // Every attempt counted against the real peer, whatever the headers claimed.
    let refused = login_from(&app, 9, &[("x-forwarded-for", "198.51.100.99")]).await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert_eq!(
        common::api::login_attempts(&site, "127.0.0.1").await,
        Some(3)
    );
    for n in 0..3 {
        assert_eq!(
            common::api::login_attempts(&site, &format!("198.51.100.{n}")).await,
            None
        );
    }
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn a_trusted_proxy_names_the_client(rt: Runtime) {
    let site = Site::new("proxy_trusted", &[Database::Ess]).await;
    // The tests connect from loopback: loopback is the proxy here.
    let app = start(rt, &site, "127.0.0.0/8, ::1").await;
    for n in 0..3 {
        let reply = login_from(&app, n, &[("x-forwarded-for", "203.0.113.7")]).await;
        assert_eq!(reply.status, 401, "{}", reply.text());
    }
    let refused = login_from(&app, 3, &[("x-forwarded-for", "203.0.113.7")]).await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    // Another client behind the same proxy is counted on its own; the entry the client wrote
    // itself (left of the one the proxy appended) is not believed.
    let other = login_from(&app, 4, &[("x-forwarded-for", "203.0.113.7, 203.0.113.8")]).await;
    assert_eq!(other.status, 401, "{}", other.text());
    assert_eq!(
        common::api::login_attempts(&site, "203.0.113.7").await,
        Some(3)
    );
    assert_eq!(
        common::api::login_attempts(&site, "203.0.113.8").await,
        Some(1)
    );
    assert_eq!(common::api::login_attempts(&site, "127.0.0.1").await, None);
    // Without the header the proxy itself is the client.
    let direct = login_from(&app, 5, &[]).await;
    assert_eq!(direct.status, 401, "{}", direct.text());
    assert_eq!(
        common::api::login_attempts(&site, "127.0.0.1").await,
        Some(1)
    );
    app.stop().await.unwrap();
    site.cleanup().await;
}

async fn a_trusted_proxies_typo_is_an_error_not_silence(rt: Runtime) {
    let site = Site::new("proxy_typo", &[Database::Ess]).await;
    let app = start(rt, &site, "10.0.0.0/8, proxy.internal").await;
    let reply = login_from(&app, 0, &[("x-forwarded-for", "203.0.113.7")]).await;
    assert_eq!(reply.status, 500, "{}", reply.text());
    let body = reply.json().unwrap();
    assert_eq!(body["detail"], "Internal Server Error");
    assert!(!reply.text().contains("proxy.internal"), "{}", reply.text());
    app.stop().await.unwrap();
    site.cleanup().await;
}

on_both_runtimes!(
    spoofed_addresses_from_an_untrusted_peer_are_ignored,
    a_trusted_proxy_names_the_client,
    a_trusted_proxies_typo_is_an_error_not_silence,
);
