//! Alert events: when an alert is raised, cleared or acknowledged, its publisher (a collector,
//! `solarhub simulate`, the ack route) appends the event to a capped Redis stream and publishes it
//! on a pub/sub channel, both under the deployment's key prefix:
//!
//! - `XADD <prefix>alerts:log MAXLEN ~ 10000 * event <json>`: the recent history, so a client of
//!   the live stream can resume after a reconnect (`Last-Event-ID` is the stream entry's id);
//! - `PUBLISH <prefix><alerts_channel> <json with event_id>`: what the notifier's Redis trigger
//!   receives, at most once and only while it is subscribed.
//!
//! Appending first gives the published event the entry id, the one id an event has everywhere
//! (webhook bodies, the stream's `id:` lines, failure records).

use serde::{Deserialize, Serialize};

use crate::alerts::{AlertView, LEVELS};

/// The stream holding recent alert events.
pub fn log_key(prefix: &str) -> String {
    format!("{prefix}alerts:log")
}

/// The pub/sub channel the events are published on (`alerts_channel`, default `alerts`).
pub fn channel(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}

/// Entries the stream keeps (approximately: `MAXLEN ~` trims whole nodes, which is cheaper).
pub const LOG_MAX_LEN: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Raised,
    Cleared,
    Acknowledged,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Raised => "raised",
            EventKind::Cleared => "cleared",
            EventKind::Acknowledged => "acknowledged",
        }
    }
}

/// One alert event. `event_id` is empty until the event is in the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When it happened, ISO 8601 with the site's offset.
    pub at: String,
    /// The alert as it is after the event.
    pub alert: AlertView,
}

impl AlertEvent {
    pub fn new(kind: EventKind, at: String, alert: AlertView) -> AlertEvent {
        AlertEvent {
            event_id: String::new(),
            kind,
            at,
            alert,
        }
    }

    /// The event as its publisher stores and sends it.
    pub fn to_json(&self) -> String {
        // Strings, numbers and booleans only: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(payload: &[u8]) -> Result<AlertEvent, String> {
        serde_json::from_slice(payload).map_err(|e| format!("not an alert event: {e}"))
    }

    /// The event with the stream entry id it was stored under.
    pub fn with_id(mut self, id: impl Into<String>) -> AlertEvent {
        self.event_id = id.into();
        self
    }

    /// One line for chat messages: `[CRITICAL] BESS 3 CELL_OV raised: Cell over-voltage`.
    pub fn summary(&self) -> String {
        let a = &self.alert;
        let device = if a.device_kind == crate::schema::ess::DEVICE_PCS {
            format!("PCS {}", a.device_no)
        } else {
            format!("BESS {}", a.device_no)
        };
        format!(
            "[{}] {device} {} {}: {} ({})",
            a.level.to_ascii_uppercase(),
            a.code,
            self.kind.as_str(),
            a.message,
            self.at
        )
    }
}

/// An alert level's rank (info 0, warning 1, critical 2); `None` for a level that is not one.
pub fn level_rank(level: &str) -> Option<usize> {
    LEVELS.iter().position(|l| *l == level)
}

/// Whether an event of `level` reaches a subscriber whose minimum is `minimum`.
pub fn at_least(level: &str, minimum: &str) -> bool {
    match (level_rank(level), level_rank(minimum)) {
        (Some(l), Some(m)) => l >= m,
        // An unknown level on an event is delivered rather than lost.
        (None, _) => true,
        (Some(_), None) => false,
    }
}

#[cfg(test)]
pub(crate) fn sample(kind: EventKind, level: &str) -> AlertEvent {
    AlertEvent::new(
        kind,
        "2026-11-22T14:00:00+08:00".into(),
        AlertView {
            id: 7,
            device_kind: "bess".into(),
            device_no: 3,
            code: "CELL_OV".into(),
            level: level.into(),
            message: "Cell over-voltage".into(),
            started_at: "2026-11-22T14:00:00+08:00".into(),
            cleared_at: None,
            active: true,
            acknowledged: false,
            acknowledged_by: None,
            acknowledged_at: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_with_and_without_their_id() {
        let event = sample(EventKind::Raised, "critical");
        let json = event.to_json();
        assert!(!json.contains("event_id"), "{json}");
        assert!(json.contains("\"type\":\"raised\""), "{json}");
        assert_eq!(AlertEvent::parse(json.as_bytes()).unwrap(), event);
        let stored = event.with_id("1700000000000-0");
        let back = AlertEvent::parse(stored.to_json().as_bytes()).unwrap();
        assert_eq!(back.event_id, "1700000000000-0");
        assert!(AlertEvent::parse(b"{\"type\":\"exploded\"}").is_err());
    }

    #[test]
    fn levels_are_ordered() {
        assert!(at_least("critical", "warning"));
        assert!(at_least("warning", "warning"));
        assert!(!at_least("info", "warning"));
        assert!(at_least("fatal", "critical"));
        assert!(!at_least("info", "loud"));
    }

    #[test]
    fn summaries_name_the_device() {
        let mut e = sample(EventKind::Cleared, "warning");
        assert_eq!(
            e.summary(),
            "[WARNING] BESS 3 CELL_OV cleared: Cell over-voltage (2026-11-22T14:00:00+08:00)"
        );
        e.alert.device_kind = "pcs".into();
        e.alert.device_no = 0;
        assert!(e.summary().contains("PCS 0"));
        assert_eq!(channel("t1_", "alerts"), "t1_alerts");
        assert_eq!(log_key("t1_"), "t1_alerts:log");
    }
}
