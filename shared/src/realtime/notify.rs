//! What the notifier sends where: the delivery channels configured by variables, the request each
//! kind of channel takes (a generic signed JSON webhook, LINE Messaging API push, a Slack-style
//! incoming webhook), and the retry policy with what counts as a retryable outcome.

use serde_json::json;

use super::destinations::Destinations;
use super::events::{at_least, level_rank, AlertEvent};
use super::prefs::Preferences;
use super::sign;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The event JSON as is, signed (see `sign`).
    Webhook,
    /// `POST {api}/v2/bot/message/push` with a channel access token.
    Line,
    /// `POST {url}` with `{"text": ...}` (Slack incoming webhooks and the many chat tools that
    /// accept the same body).
    Slack,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Line => "line",
            Kind::Slack => "slack",
        }
    }
}

/// One place events go to.
#[derive(Clone, PartialEq, Eq)]
pub struct Channel {
    /// How outcomes are counted and logged: `webhook`, `line`, `slack`.
    pub name: String,
    pub kind: Kind,
    /// The full URL requests go to.
    pub url: String,
    /// Events of a lower level are not sent.
    pub min_level: String,
    /// The webhook's HMAC key, or LINE's channel access token.
    pub secret: String,
    /// LINE: the user, group or room id pushed to.
    pub to: String,
    /// Whose channel this is (from their `/me/notifications`); `None`: a site-wide channel.
    pub user_id: Option<u64>,
}

// Never print secrets, not even in a debug dump.
impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("min_level", &self.min_level)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl Channel {
    pub fn wants(&self, event: &AlertEvent) -> bool {
        at_least(&event.alert.level, &self.min_level)
    }
}

/// The channels the `notify_*` variables configure (a channel whose URL or token is empty is
/// off), and the problems that kept a configured channel out: each is logged by the caller,
/// and the other channels still get the event.
pub fn channels_from(lookup: impl Fn(&str) -> Option<String>) -> (Vec<Channel>, Vec<String>) {
    let get = |name: &str| lookup(name).unwrap_or_default().trim().to_owned();
    let mut channels = Vec::new();
    let mut problems = Vec::new();
    let mut level = |channel: &str| {
        let raw = get(&format!("notify_{channel}_min_level"));
        let level = if raw.is_empty() {
            "warning".to_owned()
        } else {
            raw
        };
        match level_rank(&level) {
            Some(_) => Some(level),
            None => {
                problems.push(format!(
                    "notify_{channel}_min_level = {level:?} is not one of info, warning, critical"
                ));
                None
            }
        }
    };
    let webhook_url = get("notify_webhook_url");
    let line_token = get("notify_line_token");
    let slack_url = get("notify_slack_url");
    let webhook_level = (!webhook_url.is_empty())
        .then(|| level("webhook"))
        .flatten();
    let line_level = (!line_token.is_empty()).then(|| level("line")).flatten();
    let slack_level = (!slack_url.is_empty()).then(|| level("slack")).flatten();

    if let Some(min_level) = webhook_level {
        let secret = get("notify_webhook_secret");
        if secret.is_empty() {
            // An unsigned delivery could be forged by anyone who learns the URL: never send one.
            problems.push("notify_webhook_url is set but notify_webhook_secret is empty".into());
        } else {
            channels.push(Channel {
                name: "webhook".into(),
                kind: Kind::Webhook,
                url: webhook_url,
                min_level,
                secret,
                to: String::new(),
                user_id: None,
            });
        }
    }
    if let Some(min_level) = line_level {
        let to = get("notify_line_to");
        // A token without a site-wide recipient serves users' own LINE channels only.
        if !to.is_empty() {
            channels.push(Channel {
                name: "line".into(),
                kind: Kind::Line,
                url: line_push_url(&get("notify_line_api")),
                min_level,
                secret: line_token,
                to,
                user_id: None,
            });
        }
    }
    if let Some(min_level) = slack_level {
        channels.push(Channel {
            name: "slack".into(),
            kind: Kind::Slack,
            url: slack_url,
            min_level,
            secret: String::new(),
            to: String::new(),
            user_id: None,
        });
    }
    (channels, problems)
}

fn line_push_url(api: &str) -> String {
    let api = if api.is_empty() {
        "https://api.line.me"
    } else {
        api
    };
    format!("{}/v2/bot/message/push", api.trim_end_matches('/'))
}

/// A user who may be sent alerts (active, and allowed to read them) and what they asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub user_id: u64,
    pub prefs: Preferences,
}

/// What users' own channels are served with: where their URLs may point, the secret their
/// webhook keys derive from, and the site's LINE channel their LINE ids are pushed through.
#[derive(Debug, Clone)]
pub struct UserDelivery {
    pub destinations: Destinations,
    webhook_secret: String,
    /// The push URL and channel access token (`notify_line_api`, `notify_line_token`).
    line: Option<(String, String)>,
}

impl UserDelivery {
    pub fn from(lookup: impl Fn(&str) -> Option<String>) -> (UserDelivery, Vec<String>) {
        let get = |name: &str| lookup(name).unwrap_or_default().trim().to_owned();
        let (destinations, problems) = Destinations::from(&lookup);
        let token = get("notify_line_token");
        let line = (!token.is_empty()).then(|| (line_push_url(&get("notify_line_api")), token));
        let delivery = UserDelivery {
            destinations,
            webhook_secret: get(super::destinations::WEBHOOK_SECRET_VAR),
            line,
        };
        (delivery, problems)
    }

    /// The channels of `recipients` that want `event` at `minute` of the site's day: each at its
    /// own minimum level, and in the user's quiet hours only if the alert is critical. Channels
    /// this site cannot serve are left out, each with the reason (to log: the user saved them
    /// when they could be served, or the operator has since changed the variables).
    pub fn channels(
        &self,
        recipients: &[Recipient],
        event: &AlertEvent,
        minute: u32,
    ) -> (Vec<Channel>, Vec<String>) {
        let mut channels = Vec::new();
        let mut problems = Vec::new();
        for Recipient { user_id, prefs } in recipients {
            let quiet = prefs
                .quiet_hours
                .as_ref()
                .is_some_and(|q| q.contains(minute));
            if quiet && event.alert.level != "critical" {
                continue;
            }
            for (i, wanted) in prefs.channels.iter().enumerate() {
                if !at_least(&event.alert.level, &wanted.min_level) {
                    continue;
                }
                let name = format!("user:{user_id}:{}:{i}", wanted.kind);
                let mut channel = Channel {
                    name,
                    kind: Kind::Webhook,
                    url: wanted.target.clone(),
                    min_level: wanted.min_level.clone(),
                    secret: String::new(),
                    to: String::new(),
                    user_id: Some(*user_id),
                };
                let refusal = match wanted.kind.as_str() {
                    "line" => match &self.line {
                        Some((url, token)) => {
                            channel.kind = Kind::Line;
                            channel.url = url.clone();
                            channel.secret = token.clone();
                            channel.to = wanted.target.clone();
                            None
                        }
                        None => Some("this site has no LINE channel (notify_line_token)".into()),
                    },
                    kind => {
                        channel.kind = if kind == "slack" {
                            Kind::Slack
                        } else {
                            channel.secret =
                                sign::user_key(self.webhook_secret.as_bytes(), *user_id);
                            Kind::Webhook
                        };
                        self.destinations.refusal(kind, &wanted.target)
                    }
                };
                match refusal {
                    None => channels.push(channel),
                    Some(why) => problems.push(format!("{} not served: {why}", channel.name)),
                }
            }
        }
        (channels, problems)
    }
}

/// Minute of the day in site time at Unix time `now`.
pub fn site_minute(now: i64, offset: crate::time::UtcOffset) -> u32 {
    ((now + i64::from(offset.0)).rem_euclid(86_400) / 60) as u32
}

/// One HTTP request to make.
#[derive(Clone, PartialEq, Eq)]
pub struct Delivery {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("url", &self.url)
            .field("bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The request delivering `event` to `channel`, signed (webhook) at `now` (Unix seconds).
pub fn delivery(channel: &Channel, event: &AlertEvent, now: i64) -> Delivery {
    let json = |value: serde_json::Value| value.to_string().into_bytes();
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    let body = match channel.kind {
        Kind::Webhook => {
            let body = event.to_json().into_bytes();
            headers.push((sign::TIMESTAMP_HEADER.into(), now.to_string()));
            headers.push((
                sign::SIGNATURE_HEADER.into(),
                sign::signature(channel.secret.as_bytes(), now, &body),
            ));
            headers.push(("x-solarhub-event-id".into(), event.event_id.clone()));
            body
        }
        Kind::Line => {
            headers.push(("authorization".into(), format!("Bearer {}", channel.secret)));
            // LINE accepts a retried push with the same key once only (409 for the repeat), so
            // a retry after a lost answer cannot notify twice.
            // One key per event and recipient: pushes of one event to several users are
            // different requests.
            headers.push((
                "x-line-retry-key".into(),
                retry_key(&format!("{}/{}", event.event_id, channel.to)),
            ));
            json(json!({
                "to": channel.to,
                "messages": [{ "type": "text", "text": event.summary() }],
            }))
        }
        Kind::Slack => json(json!({ "text": event.summary() })),
    };
    Delivery {
        url: channel.url.clone(),
        headers,
        body,
    }
}

/// A UUID-shaped key derived from the event id (LINE wants a UUID): the same event always gets the
/// same key, different events different ones.
pub fn retry_key(event_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(event_id.as_bytes());
    let hex = sign::hex(&h[..16]);
    // Version 4 / variant bits set so strict parsers accept it.
    format!(
        "{}-{}-4{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        ["8", "9", "a", "b"][usize::from(h[8] & 3)],
        &hex[17..20],
        &hex[20..32]
    )
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered(u16),
    /// Any other status.
    Status(u16),
    /// No answer within the attempt's time.
    Timeout,
    /// The runtime refused the destination (not in `allowed_outbound_hosts`).
    Denied,
    /// Connection refused, DNS, TLS, a broken answer...
    Failed(String),
}

impl Outcome {
    /// The label outcomes are counted under: `ok`, `http_500`, `timeout`, `denied`, `error`.
    pub fn label(&self) -> String {
        match self {
            Outcome::Delivered(_) => "ok".into(),
            Outcome::Status(code) => format!("http_{code}"),
            Outcome::Timeout => "timeout".into(),
            Outcome::Denied => "denied".into(),
            Outcome::Failed(_) => "error".into(),
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Delivered(_))
    }

    /// Whether another attempt may do better: a server error, throttling, a timeout or a
    /// transport failure may pass; a refused destination or a 4xx (bad token, bad body) will not.
    pub fn retryable(&self) -> bool {
        match self {
            Outcome::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            Outcome::Timeout | Outcome::Failed(_) => true,
            Outcome::Delivered(_) | Outcome::Denied => false,
        }
    }

    pub fn from_status(code: u16) -> Outcome {
        if (200..300).contains(&code) {
            Outcome::Delivered(code)
        } else {
            Outcome::Status(code)
        }
    }
}

/// Attempts, the wait between them and the time one attempt may take (`notify_max_attempts`,
/// `notify_backoff_ms`, `notify_timeout_ms`).
///
/// Spin's Redis trigger hands a subscriber's messages to the component one at a time, so the
/// time retries take delays the next event: the defaults keep a failing channel's worst case
/// near 4 x 5 s + 0.25 + 0.5 + 1 s, and the other channels of the same event are served at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub backoff_ms: u64,
    pub timeout_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            backoff_ms: 250,
            timeout_ms: 5_000,
        }
    }
}

/// Caps so a bad setting cannot stall the notifier for minutes.
const MAX_ATTEMPTS: u32 = 10;
const MAX_BACKOFF_MS: u64 = 10_000;
const MAX_TIMEOUT_MS: u64 = 30_000;

impl RetryPolicy {
    /// The policy the variables set (any left out or unreadable keeps its default; values are
    /// capped), and the problems to log.
    pub fn from(lookup: impl Fn(&str) -> Option<String>) -> (RetryPolicy, Vec<String>) {
        let mut policy = RetryPolicy::default();
        let mut problems = Vec::new();
        let mut read = |name: &str, min: u64, max: u64| -> Option<u64> {
            let raw = lookup(name)?;
            match raw.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Some(n),
                _ => {
                    problems.push(format!("{name} = {raw:?} is not a number in {min}..={max}"));
                    None
                }
            }
        };
        if let Some(n) = read("notify_max_attempts", 1, u64::from(MAX_ATTEMPTS)) {
            policy.max_attempts = n as u32;
        }
        if let Some(n) = read("notify_backoff_ms", 0, MAX_BACKOFF_MS) {
            policy.backoff_ms = n;
        }
        if let Some(n) = read("notify_timeout_ms", 1, MAX_TIMEOUT_MS) {
            policy.timeout_ms = n;
        }
        (policy, problems)
    }

    /// The wait before attempt `next` (2, 3, ...): the backoff doubled each time.
    pub fn wait_before(&self, next: u32) -> u64 {
        let doublings = next.saturating_sub(2).min(16);
        self.backoff_ms
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::super::events::{sample, EventKind};
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn no_channel_unless_configured() {
        let (channels, problems) = channels_from(lookup(&[("notify_webhook_secret", "s")]));
        assert!(channels.is_empty() && problems.is_empty());
    }

    #[test]
    fn every_kind_from_variables() {
        let (channels, problems) = channels_from(lookup(&[
            ("notify_webhook_url", "https://hooks.example/x"),
            ("notify_webhook_secret", "s3cret"),
            ("notify_webhook_min_level", "info"),
            ("notify_line_token", "tok"),
            ("notify_line_to", "U123"),
            ("notify_line_api", "http://127.0.0.1:9/"),
            ("notify_slack_url", "https://hooks.slack.com/services/T/B/x"),
            ("notify_slack_min_level", "critical"),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
        let names: Vec<_> = channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["webhook", "line", "slack"]);
        assert_eq!(channels[0].min_level, "info");
        assert_eq!(channels[1].url, "http://127.0.0.1:9/v2/bot/message/push");
        assert_eq!(channels[1].min_level, "warning");
        assert!(!format!("{:?}", channels[1]).contains("tok"));
        let warning = sample(EventKind::Raised, "warning");
        let wants: Vec<bool> = channels.iter().map(|c| c.wants(&warning)).collect();
        assert_eq!(wants, [true, true, false]);
    }

    #[test]
    fn misconfigured_channels_are_left_out_and_said_why() {
        let (channels, problems) = channels_from(lookup(&[
            ("notify_webhook_url", "https://hooks.example/x"),
            ("notify_line_token", "tok"),
            ("notify_slack_url", "https://hooks.slack.com/x"),
            ("notify_slack_min_level", "loud"),
        ]));
        // LINE's token alone is no misconfiguration: it serves users' LINE ids.
        assert!(channels.is_empty(), "{channels:?}");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("notify_webhook_secret")));
        assert!(problems.iter().any(|p| p.contains("\"loud\"")));
    }

    #[test]
    fn each_kind_gets_its_body() {
        let (channels, _) = channels_from(lookup(&[
            ("notify_webhook_url", "https://hooks.example/x"),
            ("notify_webhook_secret", "s3cret"),
            ("notify_line_token", "tok"),
            ("notify_line_to", "U123"),
            ("notify_slack_url", "https://hooks.slack.com/x"),
        ]));
        let event = sample(EventKind::Raised, "critical").with_id("1-0");
        let webhook = delivery(&channels[0], &event, 1_700_000_000);
        assert_eq!(AlertEvent::parse(&webhook.body).unwrap(), event);
        let header = |d: &Delivery, name: &str| {
            d.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(header(&webhook, "x-solarhub-timestamp"), "1700000000");
        assert!(sign::verify(
            b"s3cret",
            1_700_000_000,
            &webhook.body,
            &header(&webhook, "x-solarhub-signature")
        ));
        let line = delivery(&channels[1], &event, 0);
        assert_eq!(line.url, "https://api.line.me/v2/bot/message/push");
        assert_eq!(header(&line, "authorization"), "Bearer tok");
        let body: serde_json::Value = serde_json::from_slice(&line.body).unwrap();
        assert_eq!(body["to"], "U123");
        assert_eq!(body["messages"][0]["type"], "text");
        assert!(body["messages"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL] BESS 3 CELL_OV raised"));
        let slack = delivery(&channels[2], &event, 0);
        let body: serde_json::Value = serde_json::from_slice(&slack.body).unwrap();
        assert_eq!(body["text"], event.summary());
    }

    #[test]
    fn retry_keys_are_stable_uuids() {
        let a = retry_key("1700000000000-0");
        assert_eq!(a, retry_key("1700000000000-0"));
        assert_ne!(a, retry_key("1700000000000-1"));
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn outcomes_and_retries() {
        assert_eq!(Outcome::from_status(204), Outcome::Delivered(204));
        assert_eq!(Outcome::from_status(500).label(), "http_500");
        assert!(Outcome::from_status(503).retryable());
        assert!(Outcome::from_status(429).retryable());
        assert!(!Outcome::from_status(401).retryable());
        assert!(!Outcome::Denied.retryable());
        assert!(Outcome::Timeout.retryable());
        let (policy, problems) = RetryPolicy::from(lookup(&[
            ("notify_max_attempts", "3"),
            ("notify_backoff_ms", "100"),
            ("notify_timeout_ms", "nope"),
        ]));
        assert_eq!(problems.len(), 1);
        assert_eq!(policy.max_attempts, 3);
        assert_eq!(policy.timeout_ms, 5_000);
        assert_eq!(
            (2..=5).map(|n| policy.wait_before(n)).collect::<Vec<_>>(),
            [100, 200, 400, 800]
        );
        let (big, problems) = RetryPolicy::from(lookup(&[("notify_max_attempts", "1000")]));
        assert_eq!((big.max_attempts, problems.len()), (4, 1));
    }

    fn recipient(user_id: u64, body: serde_json::Value) -> Recipient {
        let serde_json::Value::Object(map) = body else {
            panic!()
        };
        Recipient {
            user_id,
            prefs: Preferences::from_body(&map).unwrap(),
        }
    }

    #[test]
    fn users_channels_follow_their_levels_quiet_hours_and_the_site() {
        let (site, problems) = UserDelivery::from(lookup(&[
            ("notify_user_webhook_host", "https://*.example.com"),
            ("notify_user_slack_host", "https://hooks.slack.com"),
            ("notify_webhook_secret", "s3cret"),
            ("notify_line_token", "tok"),
            ("notify_line_api", "http://127.0.0.1:9"),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
        let recipients = [
            recipient(
                7,
                serde_json::json!({"channels": [
                    {"kind": "webhook", "target": "https://ops.example.com/h", "min_level": "info"},
                    {"kind": "line", "target": "U0123456789abcdef0123456789abcdef"},
                    {"kind": "slack", "target": "https://chat.other.net/h"},
                ]}),
            ),
            recipient(
                9,
                serde_json::json!({
                    "channels": [{"kind": "slack", "target": "https://hooks.slack.com/s/x", "min_level": "warning"}],
                    "quiet_hours": {"start": "22:00", "end": "06:00"},
                }),
            ),
        ];
        let names = |event: &AlertEvent, minute: u32| {
            let (channels, problems) = site.channels(&recipients, event, minute);
            let names: Vec<String> = channels.iter().map(|c| c.name.clone()).collect();
            (names, problems)
        };
        let noon = 12 * 60;
        let (info, problems) = names(&sample(EventKind::Raised, "info"), noon);
        assert_eq!(info, ["user:7:webhook:0"]);
        assert!(problems.is_empty());
        // Slack on a host the site does not allow: left out, said why.
        let (warning, problems) = names(&sample(EventKind::Raised, "warning"), noon);
        assert_eq!(
            warning,
            ["user:7:webhook:0", "user:7:line:1", "user:9:slack:0"]
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("user:7:slack:2 not served"));
        // User 9's quiet hours: only critical alerts.
        let (night, _) = names(&sample(EventKind::Raised, "warning"), 23 * 60);
        assert_eq!(night, ["user:7:webhook:0", "user:7:line:1"]);
        let (critical, _) = names(&sample(EventKind::Raised, "critical"), 23 * 60);
        assert_eq!(critical.last().unwrap(), "user:9:slack:0");

        let (channels, _) = site.channels(&recipients, &sample(EventKind::Raised, "warning"), noon);
        let webhook = &channels[0];
        assert_eq!((webhook.kind, webhook.user_id), (Kind::Webhook, Some(7)));
        assert_eq!(webhook.secret, sign::user_key(b"s3cret", 7));
        let line = &channels[1];
        assert_eq!(line.url, "http://127.0.0.1:9/v2/bot/message/push");
        assert_eq!(line.to, "U0123456789abcdef0123456789abcdef");
        assert_eq!(line.secret, "tok");

        // No LINE channel on the site: the user's LINE id cannot be pushed to.
        let (no_line, _) = UserDelivery::from(lookup(&[("notify_webhook_secret", "s")]));
        let (channels, problems) = no_line.channels(
            &recipients[..1],
            &sample(EventKind::Raised, "warning"),
            noon,
        );
        assert!(channels.is_empty(), "{channels:?}");
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn site_minutes_follow_the_offset() {
        use crate::time::UtcOffset;
        assert_eq!(site_minute(0, UtcOffset(8 * 3600)), 8 * 60);
        assert_eq!(site_minute(23 * 3600 + 59 * 60, UtcOffset(3600)), 59);
        assert_eq!(site_minute(30 * 60, UtcOffset(-3600)), 23 * 60 + 30);
    }

    #[test]
    fn line_retry_keys_differ_per_recipient() {
        let (site, _) = UserDelivery::from(lookup(&[("notify_line_token", "tok")]));
        let both = [
            recipient(
                1,
                serde_json::json!({"channels": [{"kind": "line", "target": "U0123456789abcdef0123456789abcdef"}]}),
            ),
            recipient(
                2,
                serde_json::json!({"channels": [{"kind": "line", "target": "Ufedcba9876543210fedcba9876543210"}]}),
            ),
        ];
        let event = sample(EventKind::Raised, "critical").with_id("1-0");
        let (channels, _) = site.channels(&both, &event, 0);
        let key = |c: &Channel| {
            delivery(c, &event, 0)
                .headers
                .into_iter()
                .find(|(n, _)| n == "x-line-retry-key")
                .unwrap()
                .1
        };
        assert_ne!(key(&channels[0]), key(&channels[1]));
        assert_eq!(key(&channels[0]), key(&channels[0].clone()));
    }
}
