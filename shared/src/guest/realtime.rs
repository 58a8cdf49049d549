//! Publishing alert events (see `realtime::events`): appended to the capped stream, then
//! published on the alerts channel, through the instance's kept main-Redis connection.

use super::redis::{arg, text, Redis};
use crate::error::ApiError;
use crate::realtime::events::{channel, log_key, AlertEvent, LOG_MAX_LEN};

/// Appends `event` to `<prefix>alerts:log` and publishes it, with the entry id it got, on
/// `<prefix><alerts_channel>`. Returns the event as published.
pub fn publish(redis: &Redis, prefix: &str, event: AlertEvent) -> Result<AlertEvent, ApiError> {
    let channel_name = super::config::var("alerts_channel")?;
    let reply = redis.run(
        "XADD",
        &[
            arg(&log_key(prefix)),
            arg("MAXLEN"),
            arg("~"),
            arg(&LOG_MAX_LEN.to_string()),
            arg("*"),
            arg("event"),
            arg(&event.to_json()),
        ],
    )?;
    let id = reply
        .into_iter()
        .next()
        .and_then(text)
        .ok_or_else(|| super::internal("alert events", &"XADD returned no id"))?;
    let event = event.with_id(id);
    redis.run(
        "PUBLISH",
        &[arg(&channel(prefix, &channel_name)), arg(&event.to_json())],
    )?;
    Ok(event)
}
