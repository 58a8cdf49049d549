//! The notifier's configuration, read from its variables for each event (a fresh instance
//! handles each message, so there is nothing to keep between them).

use solarhub_shared::guest::bindings::variables;
use solarhub_shared::realtime::notify::{channels_from, Channel, RetryPolicy, UserDelivery};
use solarhub_shared::time::UtcOffset;

pub struct Settings {
    /// The site-wide channels.
    pub channels: Vec<Channel>,
    /// How users' own channels are served.
    pub users: UserDelivery,
    /// The site's time, which users' quiet hours are in.
    pub offset: UtcOffset,
    pub retry: RetryPolicy,
}

/// Problems (a channel half configured, a bad number) are logged and leave that setting out:
/// the other channels still get the event.
pub fn read() -> Settings {
    let lookup = |name: &str| variables::get(name).ok();
    let (channels, mut problems) = channels_from(lookup);
    let (retry, more) = RetryPolicy::from(lookup);
    problems.extend(more);
    let (users, more) = UserDelivery::from(lookup);
    problems.extend(more);
    let raw_offset = lookup("site_utc_offset").unwrap_or_default();
    let offset = UtcOffset::parse(raw_offset.trim()).unwrap_or_else(|| {
        problems.push(format!(
            "site_utc_offset = {raw_offset:?} is not an offset; quiet hours are read in +08:00"
        ));
        UtcOffset::SITE_DEFAULT
    });
    for problem in problems {
        eprintln!("notify: configuration: {problem}");
    }
    Settings {
        channels,
        users,
        offset,
        retry,
    }
}
