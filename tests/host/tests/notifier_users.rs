//! The notifier serving users' own preferences (`/me/notifications`), on both runtimes: each
//! user's channels get the alerts at or above their own minimum level; during a user's quiet
//! hours (site time) only critical alerts; nothing for a deactivated user or one whose roles do
//! not allow reading alerts; a user's webhook is attempted on the host the site allows and its
//! failure recorded under that user; and when MySQL cannot be read, the site-wide channels still
//! get the event and the miss is counted.
//!
//! On real Spin, a user's webhook also arrives over TLS (nginx with a test CA in front of the
//! receiver, the CA given to the notifier by the runtime config's `[[client_tls]]`), signed with
//! the key `/me/notifications` shows that user. The local host has no TLS client.

#[macro_use]
mod common;

use std::time::Duration;

use common::api::{now, put_json, sql, token};
use common::events::{event, eventually, failures, publish, stat};
use common::receiver::{Received, Receiver};
use common::runtime::Runtime;
use common::site::Site;
use serde_json::{json, Value};
use solarhub_shared::realtime::events::{AlertEvent, EventKind};
use solarhub_shared::realtime::sign;
use solarhub_shared::schema::Database;

const PATH: &str = "/api/v1/me/notifications";
const VERA_LINE: &str = "U0000000000000000000000000000000a";
const OTTO_LINE: &str = "U0000000000000000000000000000000b";
const NORA_LINE: &str = "U0000000000000000000000000000000c";
const IVAN_LINE: &str = "U0000000000000000000000000000000d";

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `HH:MM` of site time (+08:00) `minutes` from now.
fn site_clock(minutes: i64) -> String {
    let minute = ((now() + 8 * 3600) / 60 + minutes).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn pushed_to(r: &Received) -> String {
    r.json()["to"].as_str().unwrap_or_default().to_owned()
}

async fn users_get_alerts_as_they_asked(rt: Runtime) {
    let site = Site::new("notify_users", &[Database::Ess]).await;
    let vera = site.add_user("vera", &["viewer"]).await;
    let otto = site.add_user("otto", &["operator"]).await;
    let nora = site.add_user("nora", &["viewer"]).await;
    let ivan = site.add_user("ivan", &[]).await;
    let line = Receiver::start(|_| 200).await;
    let unreachable = format!("https://127.0.0.1:{}", closed_port());
    let vera_hook = format!("{unreachable}/hook");
    let line_origin = line.origin();
    let overrides = [
        // LINE for users only: a token, no site-wide recipient.
        ("notify_line_token", "line-token"),
        ("notify_line_api", line_origin.as_str()),
        ("notify_line_host", line_origin.as_str()),
        ("notify_user_webhook_host", unreachable.as_str()),
        ("notify_webhook_secret", "webhook secret for the tests"),
        ("notify_max_attempts", "1"),
    ];
    let api = common::start_app(rt, site.variables(), &overrides).await;
    let notifier = common::start_notifier(rt, &site, &overrides).await;

    let save = |user: &'static str, prefs: Value| {
        let api = &api;
        async move {
            let token = token(api, user).await;
            let reply = put_json(api, PATH, Some(&token), &prefs).await;
            assert_eq!(reply.status, 200, "{user}: {}", reply.text());
        }
    };
    save(
        "vera",
        json!({"channels": [
            {"kind": "line", "target": VERA_LINE},
            {"kind": "webhook", "target": vera_hook, "min_level": "critical"},
        ]}),
    )
    .await;
    // Otto wants everything, but is in his quiet hours now.
    save(
        "otto",
        json!({
            "channels": [{"kind": "line", "target": OTTO_LINE, "min_level": "info"}],
            "quiet_hours": {"start": site_clock(-60), "end": site_clock(60)},
        }),
    )
    .await;
    // Nora saved hers, then was deactivated; Ivan's (written behind the API's back) cannot count:
    // he has no role that may read alerts.
    save(
        "nora",
        json!({"channels": [{"kind": "line", "target": NORA_LINE, "min_level": "info"}]}),
    )
    .await;
    let ess = site.db_name(Database::Ess);
    sql(
        &site,
        &format!("UPDATE `{ess}`.users SET active = 0 WHERE id = {nora}"),
    )
    .await;
    sql(
        &site,
        &format!(
            "INSERT INTO `{ess}`.notification_prefs (user_id, channels, updated_at) VALUES \
             ({ivan}, '[{{\"kind\":\"line\",\"target\":\"{IVAN_LINE}\",\"min_level\":\"info\"}}]', \
             UTC_TIMESTAMP())"
        ),
    )
    .await;

    // Info: below Vera's minimum, Otto is quiet, Nora and Ivan get nothing. Warning: Vera's LINE.
    // Events are handled in order, so whatever the info event caused would arrive first.
    publish(&site, event(EventKind::Raised, "info", "COMM", 1)).await;
    let (warning, _) = publish(&site, event(EventKind::Raised, "warning", "TEMP_HI", 2)).await;
    let first = line
        .next(Duration::from_secs(5))
        .await
        .expect("Vera's push");
    assert_eq!(pushed_to(&first), VERA_LINE);
    assert_eq!(first.path, "/v2/bot/message/push");
    assert_eq!(first.header("authorization"), Some("Bearer line-token"));
    assert!(first.json()["messages"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("[WARNING] BESS 2 TEMP_HI raised"));

    // Critical: Vera's LINE and webhook, and Otto's LINE despite his quiet hours.
    let (critical, _) = publish(&site, event(EventKind::Raised, "critical", "CELL_OV", 3)).await;
    let mut pushes = vec![
        line.next(Duration::from_secs(5)).await.expect("a push"),
        line.next(Duration::from_secs(5))
            .await
            .expect("another push"),
    ];
    pushes.sort_by_key(pushed_to);
    let to: Vec<String> = pushes.iter().map(pushed_to).collect();
    assert_eq!(to, [VERA_LINE, OTTO_LINE]);
    for push in &pushes {
        assert!(push.json()["messages"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL] BESS 3 CELL_OV raised"));
    }
    // One retry key per event and recipient.
    let keys: Vec<&str> = [&first, &pushes[0], &pushes[1]]
        .iter()
        .map(|r| r.header("x-line-retry-key").unwrap())
        .collect();
    assert!(keys[0] != keys[1] && keys[1] != keys[2], "{keys:?}");
    assert!(line.next(Duration::from_millis(500)).await.is_none());

    // Vera's webhook: tried on the host the site allows, nothing listens there; recorded as hers.
    let recorded = eventually(Duration::from_secs(5), || async {
        !failures(&site).await.is_empty()
    })
    .await;
    let records = failures(&site).await;
    assert!(recorded && records.len() == 1, "{records:?}");
    let record = &records[0];
    assert_eq!(record["channel"], format!("user:{vera}:webhook:1"));
    assert_eq!(record["user_id"], vera);
    assert_eq!(record["kind"], "webhook");
    assert_eq!(record["last_outcome"], "error");
    assert_eq!(record["event_id"], critical.event_id.as_str());
    assert!(
        eventually(Duration::from_secs(5), || async {
            stat(&site, &format!("user:{vera}:line:0:ok")).await == 2
        })
        .await
    );
    assert_eq!(stat(&site, &format!("user:{otto}:line:0:ok")).await, 1);
    assert_eq!(
        stat(&site, &format!("user:{vera}:webhook:1:failed")).await,
        1
    );
    assert_ne!(warning.event_id, critical.event_id);
    notifier.stop().await.unwrap();
    api.stop().await.unwrap();
}

async fn site_channels_go_on_when_users_cannot_be_read(rt: Runtime) {
    let site = Site::new("notify_users_down", &[Database::Ess]).await;
    let slack = Receiver::start(|_| 200).await;
    let url = format!("{}/slack", slack.origin());
    let dead_mysql = format!("127.0.0.1:{}", closed_port());
    let dead_url = format!("mysql://root@{dead_mysql}/ess");
    let notifier = common::start_notifier(
        rt,
        &site,
        &[
            ("notify_slack_url", &url),
            ("notify_slack_host", &slack.origin()),
            ("mysql_host", &dead_mysql),
            ("db_ess_url", &dead_url),
        ],
    )
    .await;
    let (sent, _) = publish(&site, event(EventKind::Raised, "critical", "IGBT_OT", 1)).await;
    let got = slack
        .next(Duration::from_secs(5))
        .await
        .expect("the site's Slack channel got the event");
    assert!(got.json()["text"]
        .as_str()
        .unwrap()
        .contains(&sent.alert.code));
    assert!(
        eventually(Duration::from_secs(5), || async {
            stat(&site, "users:unread").await == 1
        })
        .await
    );
    if rt == Runtime::Spin {
        let logs = notifier.component_logs();
        assert!(logs.contains("users' channels not read"), "{logs}");
        // The store's URL, with its credentials, stays out of the log.
        assert!(!logs.contains(&dead_url), "{logs}");
    }
    notifier.stop().await.unwrap();
}

#[tokio::test]
async fn users_webhooks_arrive_signed_with_their_own_key_on_spin() {
    if !common::runtime::spin_available("notifier_users::users_webhooks_arrive_signed") {
        return;
    }
    let Some(nginx) = common::nginx::binary("the TLS webhook of a user") else {
        return;
    };
    let site = Site::new("notify_user_tls", &[Database::Ess]).await;
    let vera = site.add_user("vera", &["viewer"]).await;
    let hook = Receiver::start(|_| 204).await;
    let dir = std::env::temp_dir().join(common::unique_prefix("tls_hook"));
    std::fs::create_dir_all(&dir).unwrap();
    let (front, port, ca) = common::nginx::Nginx::tls_front(&nginx, &dir, hook.addr);
    let origin = format!("https://127.0.0.1:{port}");
    let site_secret = "webhook secret for the tests";
    let overrides = [
        ("notify_user_webhook_host", origin.as_str()),
        ("notify_webhook_secret", site_secret),
    ];
    let api = common::start_app(Runtime::Spin, site.variables(), &overrides).await;
    let vera_token = token(&api, "vera").await;
    let url = format!("{origin}/vera");
    let saved = put_json(
        &api,
        PATH,
        Some(&vera_token),
        &json!({"channels": [{"kind": "webhook", "target": url}]}),
    )
    .await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    let key = saved.json().unwrap()["webhook_signing_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // The env provider as in the repository's runtime config, and the test CA for the receiver
    // (Spin 4.0.2 takes hosts without ports in `[[client_tls]]`).
    let config = dir.join("runtime-config.toml");
    std::fs::write(
        &config,
        format!(
            "[[variables_provider]]\ntype = \"env\"\nprefix = \"SPIN_VARIABLE\"\n\n\
             [[client_tls]]\ncomponent_ids = [\"notifier\"]\nhosts = [\"127.0.0.1\"]\n\
             ca_use_webpki_roots = false\nca_roots_file = \"{}\"\n",
            ca.display()
        ),
    )
    .unwrap();
    let notifier =
        common::start_notifier_configured(Runtime::Spin, &site, &overrides, Some(&config)).await;

    let (sent, _) = publish(&site, event(EventKind::Raised, "warning", "TEMP_HI", 4)).await;
    let got = hook
        .next(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no delivery: {}", notifier.component_logs()));
    assert_eq!(got.path, "/vera");
    assert_eq!(AlertEvent::parse(&got.body).unwrap(), sent);
    let ts: i64 = got.header(sign::TIMESTAMP_HEADER).unwrap().parse().unwrap();
    let signature = got.header(sign::SIGNATURE_HEADER).unwrap();
    assert!(sign::verify(key.as_bytes(), ts, &got.body, signature));
    // Hers alone: the site's own secret does not verify it.
    assert!(!sign::verify(
        site_secret.as_bytes(),
        ts,
        &got.body,
        signature
    ));
    assert!(
        eventually(Duration::from_secs(5), || async {
            stat(&site, &format!("user:{vera}:webhook:0:delivered")).await == 1
        })
        .await
    );
    notifier.stop().await.unwrap();
    api.stop().await.unwrap();
    drop(front);
    let _ = std::fs::remove_dir_all(&dir);
}

on_both_runtimes!(
    users_get_alerts_as_they_asked,
    site_channels_go_on_when_users_cannot_be_read,
);
