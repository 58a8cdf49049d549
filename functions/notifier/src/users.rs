//! Users' own channels for one event: who may be sent alerts and what they asked for, read from
//! `ess` (`guest::prefs::recipients`), turned into channels by `realtime::notify::UserDelivery`.

use solarhub_shared::guest::prefs;
use solarhub_shared::guest::stores::Stores;
use solarhub_shared::realtime::events::AlertEvent;
use solarhub_shared::realtime::notify::{site_minute, Channel};
use solarhub_shared::schema::Database;
use solarhub_shared::time::now_unix;

use crate::settings::Settings;

/// When MySQL cannot be read, the site-wide channels still get the event: the failure is logged
/// and counted (`users:unread` in `<prefix>notify:stats`), so an operator sees whose alerts went
/// missing, rather than losing every channel to one store.
pub fn channels(settings: &Settings, event: &AlertEvent) -> Vec<Channel> {
    let mut stores = Stores::new();
    let recipients = match stores
        .db(Database::Ess)
        .and_then(|db| prefs::recipients(&db))
    {
        Ok(recipients) => recipients,
        Err(e) => {
            eprintln!(
                "notify: event={} users' channels not read: {}",
                event.event_id,
                e.body()["detail"]
            );
            crate::record::users_unread(event);
            return Vec::new();
        }
    };
    let minute = site_minute(now_unix(), settings.offset);
    let (channels, problems) = settings.users.channels(&recipients, event, minute);
    for problem in problems {
        eprintln!("notify: event={} {problem}", event.event_id);
    }
    channels
}
