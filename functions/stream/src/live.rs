//! The stream's body: a producer the runtime polls after the head has gone out. It sleeps until
//! something is due (`realtime::stream::Schedule`), then reads Redis through the instance's kept
//! connections: new entries of the alert log since its cursor, and the live hashes of the topics
//! asked for. A store that fails mid-stream ends the body with an error (the client sees the
//! transfer aborted and reconnects with `Last-Event-ID`).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use serde_json::{json, Map, Value};
use solarhub_shared::error::ApiError;
use solarhub_shared::guest::config;
use solarhub_shared::guest::redis::{arg, text, Redis};
use solarhub_shared::guest::stores::{live_values, scan_hash_keys, Stores};
use solarhub_shared::http::{BodyError, Chunks};
use solarhub_shared::realtime::events::{log_key, AlertEvent};
use solarhub_shared::realtime::stream::{
    device, event, heartbeat, Schedule, StreamQuery, ALERT_BATCH, PREAMBLE,
};
use solarhub_shared::schema::{
    bess_key, meter_scan_pattern, pcs_key, RedisStore, PCS_COUNT, RACK_COUNT,
};
use solarhub_shared::time::{format_iso, now_unix, UtcOffset};
use spin_sdk::wasip3::clocks::monotonic_clock;

pub struct Live {
    query: StreamQuery,
    schedule: Schedule,
    /// The id of the last alert event sent (or seen at the start).
    cursor: String,
    prefix: String,
    main: Redis,
    gtr: Option<Redis>,
    /// `(name, key)` of every meter hash, found once at the start.
    meters: Vec<(String, String)>,
    stale_after: i64,
    offset: UtcOffset,
    started: bool,
    ended: bool,
    sleeping: Option<Pin<Box<dyn Future<Output = ()>>>>,
}

fn now_ms() -> u64 {
    monotonic_clock::now() / 1_000_000
}

impl Live {
    pub fn open(
        stores: &mut Stores,
        query: StreamQuery,
        resume: Option<String>,
        heartbeat_secs: u64,
    ) -> Result<Live, ApiError> {
        let prefix = stores.redis_prefix()?.to_owned();
        let main = stores.redis(RedisStore::Main)?;
        let gtr = if query.wants("bess") || query.wants("pcs") {
            Some(stores.redis(RedisStore::Gtr)?)
        } else {
            None
        };
        let cursor = match resume {
            Some(id) => id,
            None => newest_event(&main, &prefix)?,
        };
        let meters = if query.wants("meters") {
            let head = format!("{prefix}meter:");
            let mut keys = scan_hash_keys(&main, &meter_scan_pattern(&prefix))?;
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter_map(|key| Some((key.strip_prefix(&head)?.to_owned(), key.clone())))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Live {
            schedule: Schedule::new(now_ms(), query.seconds, heartbeat_secs),
            query,
            cursor,
            prefix,
            main,
            gtr,
            meters,
            stale_after: config::number("live_stale_after_secs")?,
            offset: config::site_offset()?,
            started: false,
            ended: false,
            sleeping: None,
        })
    }

    fn snapshots(&self) -> bool {
        ["meters", "bess", "pcs"]
            .iter()
            .any(|t| self.query.wants(t))
    }

    /// New alert events since the cursor, as SSE events.
    fn alerts(&mut self) -> Result<String, ApiError> {
        let reply = self.main.run(
            "XRANGE",
            &[
                arg(&log_key(&self.prefix)),
                arg(&format!("({}", self.cursor)),
                arg("+"),
                arg("COUNT"),
                arg(&ALERT_BATCH.to_string()),
            ],
        )?;
        // Spin flattens `[[id, [field, value]], ...]`; our entries hold one field: `event`.
        let mut out = String::new();
        let mut items = reply.into_iter().map(text);
        while let (Some(Some(id)), Some(field), Some(value)) =
            (items.next(), items.next(), items.next())
        {
            if field.as_deref() == Some("event") {
                if let Some(e) = value.and_then(|v| AlertEvent::parse(v.as_bytes()).ok()) {
                    out.push_str(&event(Some(&id), "alert", &e.with_id(id.clone()).to_json()));
                }
            }
            self.cursor = id;
        }
        Ok(out)
    }

    fn snapshot(&self) -> Result<String, ApiError> {
        let mut body = Map::new();
        body.insert(
            "at".into(),
            Value::from(format_iso(now_unix(), self.offset)),
        );
        let shown = |redis: &Redis, key: &str| -> Result<Value, ApiError> {
            Ok(live_values(redis, key, self.stale_after)?
                .map_or(Value::Null, |live| device(&live, self.offset)))
        };
        if self.query.wants("meters") {
            let mut meters = Map::new();
            for (name, key) in &self.meters {
                meters.insert(name.clone(), shown(&self.main, key)?);
            }
            body.insert("meters".into(), Value::Object(meters));
        }
        if let Some(gtr) = &self.gtr {
            if self.query.wants("bess") {
                let mut racks = Map::new();
                for n in 1..=RACK_COUNT {
                    racks.insert(n.to_string(), shown(gtr, &bess_key(&self.prefix, n))?);
                }
                body.insert("bess".into(), Value::Object(racks));
            }
            if self.query.wants("pcs") {
                let mut units = Map::new();
                for n in 0..PCS_COUNT {
                    units.insert(n.to_string(), shown(gtr, &pcs_key(&self.prefix, n))?);
                }
                body.insert("pcs".into(), Value::Object(units));
            }
        }
        Ok(event(None, "snapshot", &Value::Object(body).to_string()))
    }

    /// Everything due now, as one piece.
    fn due(&mut self, now: u64) -> Result<String, ApiError> {
        let due = self.schedule.take_due(now);
        let mut out = String::new();
        if due.alerts && self.query.wants("alerts") {
            out.push_str(&self.alerts()?);
        }
        if due.snapshot && self.snapshots() {
            out.push_str(&self.snapshot()?);
        }
        if due.heartbeat {
            out.push_str(&heartbeat(now_unix()));
        }
        if due.end {
            out.push_str(&event(None, "end", &json!({"reason": "limit"}).to_string()));
            self.ended = true;
        }
        Ok(out)
    }
}

impl Chunks for Live {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Vec<u8>, BodyError>>> {
        if !self.started {
            self.started = true;
            return Poll::Ready(Some(Ok(PREAMBLE.as_bytes().to_vec())));
        }
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            if let Some(sleeping) = self.sleeping.as_mut() {
                ready!(sleeping.as_mut().poll(cx));
                self.sleeping = None;
            }
            let now = now_ms();
            let wait = self.schedule.wait_ms(now, self.snapshots());
            if wait > 0 {
                self.sleeping = Some(Box::pin(spin_sdk::time::sleep(Duration::from_millis(wait))));
                continue;
            }
            match self.due(now) {
                Ok(piece) if piece.is_empty() => continue,
                Ok(piece) => return Poll::Ready(Some(Ok(piece.into_bytes()))),
                Err(e) => {
                    self.ended = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }
}

/// The id of the newest alert event, where a stream without `Last-Event-ID` starts from.
fn newest_event(redis: &Redis, prefix: &str) -> Result<String, ApiError> {
    let reply = redis.run(
        "XREVRANGE",
        &[
            arg(&log_key(prefix)),
            arg("+"),
            arg("-"),
            arg("COUNT"),
            arg("1"),
        ],
    )?;
    Ok(reply
        .into_iter()
        .next()
        .and_then(text)
        .unwrap_or_else(|| "0-0".to_owned()))
}
