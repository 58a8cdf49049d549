//! Outcomes in Redis: a counter per channel and outcome in the hash `<prefix>notify:stats`
//! (`webhook:ok`, `webhook:http_500`, ..., and per delivery `webhook:delivered` or
//! `webhook:failed`), and for each delivery that never succeeded a record at the head of the
//! list `<prefix>notify:failed`, capped at the newest [`FAILED_KEPT`].

use serde_json::json;
use solarhub_shared::error::ApiError;
use solarhub_shared::guest::redis::{arg, Redis};
use solarhub_shared::guest::stores::Stores;
use solarhub_shared::realtime::events::AlertEvent;
use solarhub_shared::schema::RedisStore;

use crate::Attempts;

pub const FAILED_KEPT: usize = 10_000;

pub fn outcomes(event: &AlertEvent, results: &[Attempts<'_>]) {
    if results.is_empty() {
        return;
    }
    if let Err(e) = write(event, results) {
        // Redis is where the records go: when it is down, the log lines are what is left.
        eprintln!(
            "notify: event={} outcomes not recorded in Redis: {}",
            event.event_id,
            e.body()["detail"]
        );
        for r in results.iter().filter(|r| !delivered(r)) {
            eprintln!(
                "notify: FAILED event={} channel={} attempts={}",
                event.event_id,
                r.channel.name,
                r.outcomes.len()
            );
        }
    }
}

fn delivered(r: &Attempts<'_>) -> bool {
    r.outcomes.last().is_some_and(|o| o.is_ok())
}

fn write(event: &AlertEvent, results: &[Attempts<'_>]) -> Result<(), ApiError> {
    let mut stores = Stores::new();
    let prefix = stores.redis_prefix()?.to_owned();
    let redis = stores.redis(RedisStore::Main)?;
    let stats = format!("{prefix}notify:stats");
    let failed = format!("{prefix}notify:failed");
    for r in results {
        let name = &r.channel.name;
        for outcome in &r.outcomes {
            count(&redis, &stats, &format!("{name}:{}", outcome.label()))?;
        }
        if delivered(r) {
            count(&redis, &stats, &format!("{name}:delivered"))?;
            continue;
        }
        count(&redis, &stats, &format!("{name}:failed"))?;
        let last = r.outcomes.last().map(|o| o.label()).unwrap_or_default();
        let record = json!({
            "event_id": event.event_id,
            "channel": name,
            "kind": r.channel.kind.as_str(),
            "user_id": r.channel.user_id,
            "attempts": r.outcomes.len(),
            "outcomes": r.outcomes.iter().map(|o| o.label()).collect::<Vec<_>>(),
            "last_outcome": last,
            "failed_at": solarhub_shared::time::now_unix(),
            "event": event,
        });
        eprintln!(
            "notify: FAILED event={} channel={name} attempts={} last={last}",
            event.event_id,
            r.outcomes.len()
        );
        redis.run("LPUSH", &[arg(&failed), arg(&record.to_string())])?;
        redis.run(
            "LTRIM",
            &[arg(&failed), arg("0"), arg(&(FAILED_KEPT - 1).to_string())],
        )?;
    }
    Ok(())
}

/// Users' channels could not be read for `event` (MySQL down): counted, for operators to see.
pub fn users_unread(event: &AlertEvent) {
    let mut stores = Stores::new();
    let result = stores.redis_prefix().map(str::to_owned).and_then(|prefix| {
        let redis = stores.redis(RedisStore::Main)?;
        count(&redis, &format!("{prefix}notify:stats"), "users:unread")
    });
    if let Err(e) = result {
        eprintln!(
            "notify: event={} users:unread not recorded in Redis: {}",
            event.event_id,
            e.body()["detail"]
        );
    }
}

fn count(redis: &Redis, key: &str, field: &str) -> Result<(), ApiError> {
    redis
        .run("HINCRBY", &[arg(key), arg(field), arg("1")])
        .map(|_| ())
}
