//! `GET /api/v1/stream` on both runtimes: alert events arrive as they are published, live
//! snapshots every second, heartbeats, the stream ends at its limit, `Last-Event-ID` resumes
//! after the last event seen; the token may come as `access_token`; 401, 403 and 422.

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::api::{assert_401, assert_403, assert_422, get, token, write_hash};
use common::events::{event, publish};
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use serde_json::{json, Value};
use solarhub_shared::realtime::events::{AlertEvent, EventKind};
use solarhub_shared::schema::Database;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One server-sent event as received, and when its bytes arrived.
#[derive(Debug, Clone)]
struct Sse {
    at: Instant,
    id: Option<String>,
    name: String,
    data: String,
}

/// The whole answer of a stream request: status, headers, events (comments as `name` ":").
struct Streamed {
    status: u16,
    head: String,
    events: Vec<Sse>,
    took: Duration,
}

impl Streamed {
    fn named(&self, name: &str) -> Vec<&Sse> {
        self.events.iter().filter(|e| e.name == name).collect()
    }
}

/// Reads a stream as it comes, timing each event (the framing is chunked; chunk sizes are
/// skipped by looking for event boundaries in the de-chunked text).
async fn stream(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Streamed {
    let started = Instant::now();
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!("GET {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut raw: Vec<u8> = Vec::new();
    let mut arrivals: Vec<(usize, Instant)> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(30), socket.read(&mut buf))
            .await
            .expect("the stream ends within 30 s")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        arrivals.push((raw.len(), Instant::now()));
    }
    let took = started.elapsed();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    // De-chunk, remembering for each body byte the raw offset it came from.
    let mut body = Vec::new();
    let mut origin = Vec::new();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let mut at = split + 4;
    if chunked {
        while let Some(end) = raw[at..].windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(std::str::from_utf8(&raw[at..at + end]).unwrap().trim(), 16)
                    .unwrap();
            at += end + 2;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&raw[at..at + size]);
            origin.extend(at..at + size);
            at += size + 2;
        }
    } else {
        body.extend_from_slice(&raw[at..]);
        origin.extend(at..raw.len());
    }
    let arrived = |offset: usize| {
        arrivals
            .iter()
            .find(|(upto, _)| *upto > offset)
            .map(|(_, t)| *t)
            .unwrap()
    };
    let text = String::from_utf8(body).unwrap();
    let mut events = Vec::new();
    let mut pos = 0;
    for block in text.split("\n\n") {
        let start = pos;
        pos += block.len() + 2;
        if block.is_empty() {
            continue;
        }
        let mut e = Sse {
            at: arrived(origin[start]),
            id: None,
            name: String::new(),
            data: String::new(),
        };
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id: ") {
                e.id = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("event: ") {
                e.name = v.to_owned();
            } else if let Some(v) = line.strip_prefix("data: ") {
                e.data.push_str(v);
            } else if line.starts_with(':') {
                e.name = ":".to_owned();
            } else if line.starts_with("retry:") {
                e.name = "retry".to_owned();
            }
        }
        events.push(e);
    }
    Streamed {
        status,
        head,
        events,
        took,
    }
}

async fn start(rt: Runtime, site: &Site, overrides: &[(&str, &str)]) -> TestApp {
    common::start_app(rt, site.variables(), overrides).await
}

async fn site(tag: &str) -> Site {
    let site = Site::new(tag, &[Database::Ess]).await;
    site.add_user("vera", &["viewer"]).await;
    site.add_user("nora", &[]).await;
    site
}

async fn events_snapshots_and_the_end_arrive_in_time(rt: Runtime) {
    let site = site("stream_live").await;
    write_hash(
        &site,
        "bess:3",
        &[
            ("soc", "61.5".into()),
            ("ts", common::api::now().to_string()),
        ],
    )
    .await;
    write_hash(
        &site,
        "meter:MMAIN",
        &[
            ("KW_tot", "-120.5".into()),
            ("ts", common::api::now().to_string()),
        ],
    )
    .await;
    let app = start(rt, &site, &[("stream_heartbeat_seconds", "1")]).await;
    let viewer = token(&app, "vera").await;
    let auth = format!("Bearer {viewer}");

    // An event published before the stream starts is not sent (no Last-Event-ID): only new ones.
    publish(&site, event(EventKind::Raised, "warning", "OLD", 2)).await;
    let addr = app.addr;
    let reader = tokio::spawn(async move {
        stream(
            addr,
            "/api/v1/stream?topics=alerts,bess,meters&max_seconds=3",
            &[("authorization", auth.as_str())],
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (published, sent_at) =
        publish(&site, event(EventKind::Raised, "critical", "CELL_OV", 3)).await;
    let got = reader.await.unwrap();

    assert_eq!(got.status, 200, "{}", got.head);
    assert!(got
        .head
        .to_ascii_lowercase()
        .contains("content-type: text/event-stream"));
    assert!(got
        .head
        .to_ascii_lowercase()
        .contains("cache-control: no-cache"));
    assert_eq!(got.events[0].name, "retry");
    // The alert event, as it happened (alert events are looked for 4 times a second).
    let alerts = got.named("alert");
    assert_eq!(alerts.len(), 1, "{:?}", got.events);
    let alert = alerts[0];
    assert_eq!(alert.id.as_deref(), Some(published.event_id.as_str()));
    assert_eq!(AlertEvent::parse(alert.data.as_bytes()).unwrap(), published);
    let latency = alert.at.duration_since(sent_at);
    assert!(latency < Duration::from_millis(900), "took {latency:?}");
    // Live snapshots every second: at 0, 1, 2 s (and maybe at 3 s, as it ends).
    let snapshots = got.named("snapshot");
    assert!((3..=4).contains(&snapshots.len()), "{:?}", got.events);
    let first: Value = serde_json::from_str(&snapshots[0].data).unwrap();
    assert_eq!(first["bess"]["3"]["values"]["soc"], 61.5);
    assert_eq!(first["bess"]["3"]["stale"], false);
    assert_eq!(first["bess"]["1"], Value::Null);
    assert_eq!(first["meters"]["MMAIN"]["values"]["KW_tot"], -120.5);
    let gap = snapshots[1].at.duration_since(snapshots[0].at);
    assert!(
        gap >= Duration::from_millis(800) && gap <= Duration::from_millis(1300),
        "{gap:?}"
    );
    // Heartbeats (every second here), then the end, at the limit.
    assert!(got.named(":").len() >= 2, "{:?}", got.events);
    let end = got.events.last().unwrap();
    assert_eq!(end.name, "end");
    assert_eq!(
        serde_json::from_str::<Value>(&end.data).unwrap(),
        json!({"reason": "limit"})
    );
    assert!(got.took >= Duration::from_millis(2900), "{:?}", got.took);
    assert!(got.took < Duration::from_secs(6), "{:?}", got.took);
    app.stop().await.unwrap();
}

async fn last_event_id_resumes_and_query_tokens_work(rt: Runtime) {
    let site = site("stream_resume").await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let (first, _) = publish(&site, event(EventKind::Raised, "warning", "TEMP_HI", 1)).await;
    let (second, _) = publish(&site, event(EventKind::Cleared, "warning", "TEMP_HI", 1)).await;
    let (third, _) = publish(&site, event(EventKind::Raised, "info", "BMS_COMM", 2)).await;
    // The browser way: the token in the query; resuming after the first event.
    let target = format!("/api/v1/stream?topics=alerts&max_seconds=1&access_token={viewer}");
    let got = stream(app.addr, &target, &[("last-event-id", &first.event_id)]).await;
    assert_eq!(got.status, 200, "{}", got.head);
    let ids: Vec<&str> = got
        .named("alert")
        .iter()
        .map(|e| e.id.as_deref().unwrap())
        .collect();
    assert_eq!(ids, [second.event_id.as_str(), third.event_id.as_str()]);
    // Only alerts were asked for: no snapshots.
    assert!(got.named("snapshot").is_empty());
    assert_eq!(got.events.last().unwrap().name, "end");
    app.stop().await.unwrap();
}

async fn who_may_stream_and_what_is_refused(rt: Runtime) {
    let site = site("stream_auth").await;
    let app = start(rt, &site, &[]).await;
    let viewer = token(&app, "vera").await;
    let nobody = token(&app, "nora").await;
    assert_401(&get(&app, "/api/v1/stream", None).await);
    assert_401(&get(&app, "/api/v1/stream?access_token=not.a.token", None).await);
    assert_403(
        &get(&app, "/api/v1/stream?max_seconds=1", Some(&nobody)).await,
        "telemetry:read",
    );
    assert_403(
        &get(&app, &format!("/api/v1/stream?access_token={nobody}"), None).await,
        "telemetry:read",
    );
    assert_422(
        &get(&app, "/api/v1/stream?topics=alerts,weather", Some(&viewer)).await,
        json!(["query", "topics"]),
        "enum",
    );
    assert_422(
        &get(&app, "/api/v1/stream?max_seconds=61", Some(&viewer)).await,
        json!(["query", "max_seconds"]),
        "less_than_equal",
    );
    let bad_resume = solarhub_host::client::request(
        app.addr,
        "GET",
        "/api/v1/stream",
        &[
            ("authorization", &format!("Bearer {viewer}")),
            ("last-event-id", "yesterday"),
        ],
        b"",
    )
    .await
    .unwrap();
    assert_422(
        &bad_resume,
        json!(["header", "last-event-id"]),
        "string_pattern_mismatch",
    );
    let post = common::api::call(&app, "POST", "/api/v1/stream", Some(&viewer)).await;
    assert_eq!(post.status, 405);
    app.stop().await.unwrap();
}

on_both_runtimes!(
    events_snapshots_and_the_end_arrive_in_time,
    last_event_id_resumes_and_query_tokens_work,
    who_may_stream_and_what_is_refused,
);
