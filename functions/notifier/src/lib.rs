//! The `notifier` component: Spin's Redis trigger hands it every alert event published on
//! `<redis_key_prefix><alerts_channel>` (see `realtime::events`), and it delivers the event to
//! each channel whose minimum level the alert reaches (`realtime::notify`): a signed JSON webhook,
//! LINE Messaging API push, a Slack-style incoming webhook. The channels are the site-wide ones
//! its variables configure and those users saved through `/me/notifications` (read from `ess`
//! for each event, so a change applies to the next alert), minus users in their quiet hours
//! unless the alert is critical.
//!
//! Every attempt's outcome is logged and counted in Redis (`<prefix>notify:stats`); a failed
//! delivery is retried with backoff up to `notify_max_attempts`, and one that never succeeded is
//! recorded in `<prefix>notify:failed` (newest first), never dropped silently. The channels of
//! one event are served concurrently, so a slow one does not hold back the others.

mod record;
mod send;
mod settings;

mod users;

use solarhub_shared::realtime::events::AlertEvent;
use solarhub_shared::realtime::notify::{delivery, Channel, Outcome, RetryPolicy};

#[spin_sdk::redis_subscriber]
async fn on_message(message: Vec<u8>) -> anyhow::Result<()> {
    // Not an alert event: nothing to deliver; the error is logged by Spin and by spin-sdk.
    let event = AlertEvent::parse(&message).map_err(anyhow::Error::msg)?;
    let settings = settings::read();
    let mut wanted: Vec<Channel> = settings
        .channels
        .iter()
        .filter(|c| c.wants(&event))
        .cloned()
        .collect();
    wanted.extend(users::channels(&settings, &event));
    let results =
        futures::future::join_all(wanted.iter().map(|c| deliver(c, &event, settings.retry))).await;
    record::outcomes(&event, &results);
    Ok(())
}

/// One channel's delivery: every attempt's outcome, the last one deciding.
pub struct Attempts<'a> {
    pub channel: &'a Channel,
    pub outcomes: Vec<Outcome>,
}

async fn deliver<'a>(channel: &'a Channel, event: &AlertEvent, retry: RetryPolicy) -> Attempts<'a> {
    let mut outcomes = Vec::new();
    for attempt in 1..=retry.max_attempts {
        if attempt > 1 {
            send::pause(retry.wait_before(attempt)).await;
        }
        // Signed anew for each attempt: the timestamp says when it was sent.
        let request = delivery(channel, event, solarhub_shared::time::now_unix());
        let started = send::now_ms();
        let outcome = send::attempt(&request, retry.timeout_ms).await;
        eprintln!(
            "notify: event={} channel={} attempt={attempt}/{} outcome={} ms={}{}",
            event.event_id,
            channel.name,
            retry.max_attempts,
            outcome.label(),
            send::now_ms().saturating_sub(started),
            match &outcome {
                Outcome::Failed(why) => format!(" error={why:?}"),
                _ => String::new(),
            }
        );
        let again = outcome.retryable();
        outcomes.push(outcome);
        if !again {
            break;
        }
    }
    Attempts { channel, outcomes }
}
