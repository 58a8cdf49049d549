//! The notifier's configuration, read from its variables for each event (a fresh instance
//! handles each message, so there is nothing to keep between them).

use solarhub_shared::guest::bindings::variables;
use solarhub_shared::realtime::notify::{channels_from, Channel, RetryPolicy};

pub struct Settings {
    pub channels: Vec<Channel>,
    pub retry: RetryPolicy,
}

/// Problems (a channel half configured, a bad number) are logged and leave that setting out:
/// the other channels still get the event.
pub fn read() -> Settings {
    let lookup = |name: &str| variables::get(name).ok();
    let (channels, mut problems) = channels_from(lookup);
    let (retry, more) = RetryPolicy::from(lookup);
    problems.extend(more);
    for problem in problems {
        eprintln!("notify: configuration: {problem}");
    }
    Settings { channels, retry }
}
