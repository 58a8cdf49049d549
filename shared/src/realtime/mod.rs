//! Real-time alerting: the alert events publishers put on Redis, and what the notifier and the
//! live stream make of them. Pure, natively unit-tested; the Spin glue is in `guest::realtime`.

pub mod destinations;
pub mod events;
pub mod notify;
pub mod prefs;
pub mod sign;
pub mod stream;
