//! Alert events on a test site's Redis, the way their publishers put them there
//! (`realtime::events`), and the notifier's records read back.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use solarhub_shared::alerts::AlertView;
use solarhub_shared::realtime::events::{channel, log_key, AlertEvent, EventKind};

use super::site::{Site, REDIS};

pub async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(REDIS)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// An alert event of `level` on rack `rack`.
pub fn event(kind: EventKind, level: &str, code: &str, rack: u8) -> AlertEvent {
    let at = super::api::iso_of(super::api::now());
    AlertEvent::new(
        kind,
        at.clone(),
        AlertView {
            id: 1000 + u64::from(rack),
            device_kind: "bess".into(),
            device_no: rack,
            code: code.into(),
            level: level.into(),
            message: format!("{code} on rack {rack}"),
            started_at: at,
            cleared_at: None,
            active: true,
            acknowledged: false,
            acknowledged_by: None,
            acknowledged_at: None,
        },
    )
}

/// Appends `event` to the site's alert log and publishes it on `<prefix>alerts`; returns it with
/// its id and the moment it was published.
pub async fn publish(site: &Site, event: AlertEvent) -> (AlertEvent, Instant) {
    let mut conn = redis().await;
    let id: String = redis::cmd("XADD")
        .arg(log_key(&site.prefix))
        .arg("*")
        .arg("event")
        .arg(event.to_json())
        .query_async(&mut conn)
        .await
        .unwrap();
    let event = event.with_id(id);
    let published = Instant::now();
    let _: i64 = redis::cmd("PUBLISH")
        .arg(channel(&site.prefix, "alerts"))
        .arg(event.to_json())
        .query_async(&mut conn)
        .await
        .unwrap();
    (event, published)
}

/// Waits until something (the runtime's Redis trigger) is subscribed to the site's channel.
pub async fn wait_for_subscriber(site: &Site) {
    let mut conn = redis().await;
    let name = channel(&site.prefix, "alerts");
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let reply: (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&name)
            .query_async(&mut conn)
            .await
            .unwrap();
        if reply.1 > 0 {
            return;
        }
        assert!(Instant::now() < until, "nobody subscribed to {name}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The notifier's counter `field` (e.g. `webhook:ok`), 0 when absent.
pub async fn stat(site: &Site, field: &str) -> i64 {
    let mut conn = redis().await;
    let n: Option<i64> = redis::cmd("HGET")
        .arg(format!("{}notify:stats", site.prefix))
        .arg(field)
        .query_async(&mut conn)
        .await
        .unwrap();
    n.unwrap_or(0)
}

/// The notifier's failure records, newest first.
pub async fn failures(site: &Site) -> Vec<serde_json::Value> {
    let mut conn = redis().await;
    let items: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{}notify:failed", site.prefix))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    items
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect()
}

/// Waits (at most `patience`) until `check` holds.
pub async fn eventually<F, Fut>(patience: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + patience;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
