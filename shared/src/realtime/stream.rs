//! The live event stream (`GET /api/v1/stream`): its query, the server-sent-events framing, the
//! shape of a live snapshot, and when each kind of line is due.

use serde_json::{json, Map, Value};

use crate::error::FieldError;
use crate::live::LiveValues;
use crate::params::{integer, one_of, Query};
use crate::time::{format_iso, UtcOffset};

pub const TOPICS: [&str; 4] = ["alerts", "meters", "bess", "pcs"];
pub const DEFAULT_TOPICS: [&str; 3] = ["alerts", "meters", "bess"];
/// Live snapshots go out this often.
pub const SNAPSHOT_EVERY_MS: u64 = 1_000;
/// New alert events are looked for this often (a cheap XRANGE), so they reach the client within
/// a quarter of a second of being published.
pub const ALERT_POLL_MS: u64 = 250;
/// Alert events sent at most per look (a client far behind catches up over several).
pub const ALERT_BATCH: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamQuery {
    pub topics: Vec<&'static str>,
    /// How long the stream lasts, seconds (at most the server's limit).
    pub seconds: u64,
    /// The token given as `access_token`, if any.
    pub access_token: Option<String>,
}

impl StreamQuery {
    pub fn wants(&self, topic: &str) -> bool {
        self.topics.contains(&topic)
    }

    /// `limit` is the server's `stream_max_seconds`, also the default.
    pub fn parse(query: &Query, limit: u64) -> Result<StreamQuery, Vec<FieldError>> {
        let mut errors = Vec::new();
        let topics = match query.get("topics") {
            None => DEFAULT_TOPICS.to_vec(),
            Some(raw) => {
                let mut topics = Vec::new();
                for name in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    match TOPICS.iter().find(|t| **t == name) {
                        Some(t) if !topics.contains(t) => topics.push(*t),
                        Some(_) => {}
                        None => errors.push(FieldError::new(
                            "query",
                            "topics",
                            "enum",
                            format!("Input should be {}", one_of(&TOPICS)),
                            Value::from(name),
                        )),
                    }
                }
                if topics.is_empty() && errors.is_empty() {
                    errors.push(FieldError::new(
                        "query",
                        "topics",
                        "too_short",
                        "At least one topic is needed",
                        Value::from(raw),
                    ));
                }
                topics
            }
        };
        let seconds = match query.get("max_seconds") {
            None => Some(limit),
            Some(raw) => integer("query", "max_seconds", raw, 1, Some(limit))
                .map_err(|e| errors.push(e))
                .ok(),
        };
        let access_token = query
            .get("access_token")
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        match seconds {
            Some(seconds) if errors.is_empty() => Ok(StreamQuery {
                topics,
                seconds,
                access_token,
            }),
            _ => Err(errors),
        }
    }
}

/// Checks a `Last-Event-ID` (a Redis stream id, `<ms>-<seq>`).
pub fn last_event_id(raw: &str) -> Result<String, FieldError> {
    let raw = raw.trim();
    let valid = raw.split_once('-').is_some_and(|(ms, seq)| {
        !ms.is_empty()
            && !seq.is_empty()
            && ms.len() <= 20
            && seq.len() <= 20
            && ms.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit())
    });
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            "header",
            "last-event-id",
            "string_pattern_mismatch",
            "String should match pattern '^[0-9]+-[0-9]+$' (the id of an alert event)",
            Value::from(raw),
        ))
    }
}

/// One server-sent event; `data` may span lines (each gets its own `data:` line).
pub fn event(id: Option<&str>, name: &str, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(id);
        out.push('\n');
    }
    out.push_str("event: ");
    out.push_str(name);
    out.push('\n');
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// A comment line: ignored by clients, keeps proxies and load balancers from timing out.
pub fn heartbeat(now: i64) -> String {
    format!(": heartbeat {now}\n\n")
}

/// What a client is told first: reconnect after a second.
pub const PREAMBLE: &str = "retry: 1000\n\n";

/// One device's live values as the snapshot shows them: numbers as numbers.
pub fn device(live: &LiveValues, offset: UtcOffset) -> Value {
    let mut values = Map::new();
    for (name, raw) in live.fields() {
        if name == "ts" {
            continue;
        }
        let value = raw
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map_or_else(|| Value::from(raw.as_str()), Value::from);
        values.insert(name.clone(), value);
    }
    json!({
        "ts": live.ts.map(|t| format_iso(t, offset)),
        "stale": live.stale,
        "values": values,
    })
}

/// When the next heartbeat, snapshot and look for alerts are due, and the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub end_ms: u64,
    pub next_snapshot_ms: u64,
    pub next_alerts_ms: u64,
    pub next_heartbeat_ms: u64,
    pub heartbeat_ms: u64,
}

/// What is due at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Due {
    pub end: bool,
    pub snapshot: bool,
    pub alerts: bool,
    pub heartbeat: bool,
}

impl Schedule {
    /// A stream starting at `now_ms` (monotonic) for `seconds`.
    pub fn new(now_ms: u64, seconds: u64, heartbeat_secs: u64) -> Schedule {
        let heartbeat_ms = heartbeat_secs.max(1) * 1000;
        Schedule {
            end_ms: now_ms + seconds * 1000,
            next_snapshot_ms: now_ms,
            next_alerts_ms: now_ms,
            next_heartbeat_ms: now_ms + heartbeat_ms,
            heartbeat_ms,
        }
    }

    /// How long until something is due (0: now).
    pub fn wait_ms(&self, now_ms: u64, snapshots: bool) -> u64 {
        let mut next = self
            .end_ms
            .min(self.next_alerts_ms)
            .min(self.next_heartbeat_ms);
        if snapshots {
            next = next.min(self.next_snapshot_ms);
        }
        next.saturating_sub(now_ms)
    }

    /// What is due at `now_ms`, moving each due item to its next time (without drifting: the next
    /// snapshot is a whole period after the one due, unless the stream fell behind).
    pub fn take_due(&mut self, now_ms: u64) -> Due {
        let mut due = Due {
            end: now_ms >= self.end_ms,
            ..Due::default()
        };
        let step = |next: &mut u64, period: u64| {
            if now_ms >= *next {
                *next = (*next + period).max(now_ms + period / 2);
                true
            } else {
                false
            }
        };
        due.snapshot = step(&mut self.next_snapshot_ms, SNAPSHOT_EVERY_MS);
        due.alerts = step(&mut self.next_alerts_ms, ALERT_POLL_MS);
        due.heartbeat = step(&mut self.next_heartbeat_ms, self.heartbeat_ms);
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<StreamQuery, Vec<(&'static str, String)>> {
        StreamQuery::parse(&Query::parse(q), 60).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| (e.kind, e.loc[1].as_str().unwrap().to_owned()))
                .collect()
        })
    }

    #[test]
    fn topics_and_duration() {
        let q = parse("").unwrap();
        assert_eq!(q.topics, DEFAULT_TOPICS);
        assert_eq!(q.seconds, 60);
        let q = parse("topics=pcs,alerts,pcs&max_seconds=5&access_token=abc").unwrap();
        assert_eq!(q.topics, ["pcs", "alerts"]);
        assert_eq!(q.seconds, 5);
        assert_eq!(q.access_token.as_deref(), Some("abc"));
        assert!(q.wants("pcs") && !q.wants("bess"));
        assert_eq!(
            parse("topics=alerts,weather&max_seconds=61").unwrap_err(),
            vec![
                ("enum", "topics".to_owned()),
                ("less_than_equal", "max_seconds".to_owned())
            ]
        );
        assert_eq!(parse("topics=,").unwrap_err()[0].0, "too_short");
        assert_eq!(
            parse("max_seconds=0").unwrap_err()[0].0,
            "greater_than_equal"
        );
    }

    #[test]
    fn last_event_ids_are_stream_ids() {
        assert_eq!(
            last_event_id(" 1700000000000-3 ").unwrap(),
            "1700000000000-3"
        );
        for bad in ["", "17", "a-1", "1-", "-1", "1-2-3", "1-2 3"] {
            assert!(last_event_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn events_are_framed() {
        assert_eq!(
            event(Some("1-0"), "alert", "{\"a\":1}"),
            "id: 1-0\nevent: alert\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(event(None, "x", "a\nb"), "event: x\ndata: a\ndata: b\n\n");
        assert_eq!(heartbeat(5), ": heartbeat 5\n\n");
    }

    #[test]
    fn devices_show_numbers_and_staleness() {
        let live = LiveValues::from_fields(
            vec![
                ("soc".into(), "55.5".into()),
                ("status".into(), "run".into()),
                ("ts".into(), "1700000000".into()),
            ],
            1_700_000_010,
            60,
        )
        .unwrap();
        let shown = device(&live, UtcOffset(0));
        assert_eq!(shown["values"]["soc"], 55.5);
        assert_eq!(shown["values"]["status"], "run");
        assert_eq!(shown["stale"], false);
        assert!(shown["ts"]
            .as_str()
            .unwrap()
            .starts_with("2023-11-14T22:13:20"));
        assert!(shown["values"].get("ts").is_none());
    }

    #[test]
    fn the_schedule_keeps_time() {
        let mut s = Schedule::new(0, 3, 2);
        assert_eq!(s.wait_ms(0, true), 0);
        let due = s.take_due(0);
        assert!(due.snapshot && due.alerts && !due.heartbeat && !due.end);
        assert_eq!(s.wait_ms(0, true), ALERT_POLL_MS);
        assert_eq!(s.wait_ms(0, false), ALERT_POLL_MS);
        let due = s.take_due(1000);
        assert!(due.snapshot && due.alerts && !due.heartbeat);
        assert_eq!(s.next_snapshot_ms, 2000);
        let due = s.take_due(2000);
        assert!(due.snapshot && due.heartbeat);
        assert!(s.take_due(3000).end);
        // Far behind: the next one is not a burst of catch-up snapshots.
        let mut late = Schedule::new(0, 60, 15);
        late.take_due(0);
        late.take_due(10_000);
        assert!(late.next_snapshot_ms >= 10_500);
    }
}
