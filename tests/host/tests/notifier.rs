//! The notifier on both runtimes: alert events published on the site's channel reach a webhook
//! receiver started by the test on a loopback port, signed, within a second; events below a
//! channel's minimum level are not sent; a receiver answering 500 gets the bounded retries and a
//! failure record; a host outside the allow-list is refused, recorded and logged; the ack route
//! publishes its event.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::api::{call, now, sql, token};
use common::events::{event, eventually, failures, publish, stat};
use common::receiver::Receiver;
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use solarhub_shared::realtime::events::{AlertEvent, EventKind};
use solarhub_shared::realtime::sign;
use solarhub_shared::schema::Database;

const SECRET: &str = "webhook secret for the tests";

/// The API (for the ack route) and the notifier, an app of its own (`spin-notifier.toml`).
struct Apps {
    api: TestApp,
    notifier: TestApp,
}

impl Apps {
    async fn stop(self) {
        self.notifier.stop().await.unwrap();
        self.api.stop().await.unwrap();
    }
}

async fn start(rt: Runtime, site: &Site, overrides: &[(&str, &str)]) -> Apps {
    let api = common::start_app(rt, site.variables(), overrides).await;
    let notifier = common::start_notifier(rt, site, overrides).await;
    Apps { api, notifier }
}

/// A delivery's signature is valid and made within a few seconds of now.
fn assert_signed(received: &common::receiver::Received) {
    let ts: i64 = received
        .header(sign::TIMESTAMP_HEADER)
        .expect("timestamp header")
        .parse()
        .unwrap();
    assert!((now() - ts).abs() <= 5, "timestamp {ts} is not now");
    let signature = received.header(sign::SIGNATURE_HEADER).expect("signature");
    assert!(
        sign::verify(SECRET.as_bytes(), ts, &received.body, signature),
        "bad signature {signature}"
    );
}

async fn alerts_reach_the_webhook_signed_and_filtered(rt: Runtime) {
    let site = Site::new("notify_ok", &[Database::Ess]).await;
    site.add_user("otto", &["operator"]).await;
    let hook = Receiver::start(|_| 204).await;
    let url = format!("{}/hook", hook.origin());
    let apps = start(
        rt,
        &site,
        &[
            ("notify_webhook_url", &url),
            ("notify_webhook_secret", SECRET),
            ("notify_webhook_host", &hook.origin()),
            ("notify_webhook_min_level", "warning"),
        ],
    )
    .await;

    // Raised, critical: delivered, signed, within a second of publishing.
    let (raised, published) =
        publish(&site, event(EventKind::Raised, "critical", "CELL_OV", 3)).await;
    let got = hook
        .next(Duration::from_secs(5))
        .await
        .expect("the webhook got the event");
    let latency = got.at.duration_since(published);
    assert!(latency < Duration::from_secs(1), "took {latency:?}");
    assert_eq!(got.path, "/hook");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        got.header("x-solarhub-event-id"),
        Some(raised.event_id.as_str())
    );
    assert_signed(&got);
    assert_eq!(AlertEvent::parse(&got.body).unwrap(), raised);

    // Below the minimum: not sent. Events are handled in order, so once the warning after it has
    // arrived, the info event would have arrived before it.
    publish(&site, event(EventKind::Raised, "info", "COMM", 4)).await;
    let (warning, _) = publish(&site, event(EventKind::Cleared, "warning", "TEMP_HI", 5)).await;
    let got = hook
        .next(Duration::from_secs(5))
        .await
        .expect("the warning");
    assert_eq!(AlertEvent::parse(&got.body).unwrap(), warning);
    assert!(hook.next(Duration::from_millis(300)).await.is_none());

    // The ack route publishes its event, which arrives like any other.
    let ess = site.db_name(Database::Ess);
    sql(
        &site,
        &format!(
            "INSERT INTO `{ess}`.alerts (device_kind, device_no, code, level, message, started_at) \
             VALUES ('pcs', 1, 'IGBT_OT', 'critical', 'IGBT over-temperature', UTC_TIMESTAMP())"
        ),
    )
    .await;
    let operator = token(&apps.api, "otto").await;
    let acked = call(&apps.api, "POST", "/api/v1/alerts/1/ack", Some(&operator)).await;
    assert_eq!(acked.status, 200, "{}", acked.text());
    let got = hook.next(Duration::from_secs(5)).await.expect("the ack");
    assert_signed(&got);
    let ack = AlertEvent::parse(&got.body).unwrap();
    assert_eq!(ack.kind, EventKind::Acknowledged);
    assert_eq!(ack.alert.code, "IGBT_OT");
    assert!(ack.alert.acknowledged);
    assert_eq!(
        serde_json::to_value(&ack.alert).unwrap(),
        acked.json().unwrap()
    );
    assert!(!ack.event_id.is_empty());
    // Acknowledging again changes nothing and publishes nothing.
    let again = call(&apps.api, "POST", "/api/v1/alerts/1/ack", Some(&operator)).await;
    assert_eq!(again.status, 200);
    assert!(hook.next(Duration::from_millis(500)).await.is_none());

    assert!(
        eventually(Duration::from_secs(5), || async {
            stat(&site, "webhook:delivered").await == 3
        })
        .await
    );
    assert_eq!(stat(&site, "webhook:ok").await, 3);
    assert!(failures(&site).await.is_empty());
    apps.stop().await;
}

async fn failed_and_refused_deliveries_are_retried_then_recorded(rt: Runtime) {
    let site = Site::new("notify_fail", &[]).await;
    // Slack's receiver always fails; LINE's, on another port, must never be called: its host is
    // outside the notifier's allow-list (which names hosts, not channels).
    let receiver = Receiver::start(|_| 500).await;
    let outsider = Receiver::start(|_| 200).await;
    let slack = format!("{}/slack", receiver.origin());
    let apps = start(
        rt,
        &site,
        &[
            ("notify_slack_url", &slack),
            ("notify_slack_host", &receiver.origin()),
            ("notify_slack_min_level", "info"),
            ("notify_line_token", "line-token"),
            ("notify_line_to", "U0123"),
            // notify_line_host still allows only https://api.line.me: the runtime must refuse.
            ("notify_line_api", &outsider.origin()),
            ("notify_max_attempts", "3"),
            ("notify_backoff_ms", "100"),
        ],
    )
    .await;
    let started = Instant::now();
    let (failing, _) = publish(&site, event(EventKind::Raised, "critical", "IGBT_OT", 1)).await;

    // Slack: three attempts, 100 ms then 200 ms apart, then a failure record.
    let attempts = receiver.all(Duration::from_secs(3)).await;
    let paths: Vec<&str> = attempts.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/slack", "/slack", "/slack"], "{attempts:?}");
    let gaps: Vec<Duration> = attempts
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at))
        .collect();
    assert!(gaps[0] >= Duration::from_millis(100), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(200), "{gaps:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        attempts[0].json()["text"],
        format!(
            "[CRITICAL] BESS 1 IGBT_OT raised: IGBT_OT on rack 1 ({})",
            failing.at
        )
    );

    let recorded = eventually(Duration::from_secs(5), || async {
        failures(&site).await.len() == 2
    })
    .await;
    let records = failures(&site).await;
    assert!(recorded, "{records:?}");
    let record = |channel: &str| {
        records
            .iter()
            .find(|r| r["channel"] == channel)
            .unwrap_or_else(|| panic!("no record for {channel}: {records:?}"))
            .clone()
    };
    let slack = record("slack");
    assert_eq!(slack["attempts"], 3);
    assert_eq!(
        slack["outcomes"],
        serde_json::json!(["http_500", "http_500", "http_500"])
    );
    assert_eq!(slack["event_id"], failing.event_id.as_str());
    assert_eq!(slack["event"]["alert"]["code"], "IGBT_OT");
    // Refused by the allow-list: not retried (it cannot succeed), recorded, never sent.
    let line = record("line");
    assert_eq!(line["attempts"], 1);
    assert_eq!(line["last_outcome"], "denied");
    assert_eq!(stat(&site, "slack:http_500").await, 3);
    assert_eq!(stat(&site, "slack:failed").await, 1);
    assert_eq!(stat(&site, "line:denied").await, 1);
    assert_eq!(stat(&site, "line:failed").await, 1);
    assert!(receiver.next(Duration::from_millis(300)).await.is_none());
    assert!(outsider.next(Duration::from_millis(10)).await.is_none());
    if rt == Runtime::Spin {
        // Spin writes the component's stderr to its log files (the host's goes to the test's).
        let logs = apps.notifier.component_logs();
        assert!(
            logs.contains("channel=line attempt=1/3 outcome=denied"),
            "{logs}"
        );
        assert!(logs.contains("notify: FAILED"), "{logs}");
    }
    apps.stop().await;
}

on_both_runtimes!(
    alerts_reach_the_webhook_signed_and_filtered,
    failed_and_refused_deliveries_are_retried_then_recorded,
);
