//! A user's notification preferences (`GET/PUT /api/v1/me/notifications`): where alerts are sent
//! for them (a signed webhook, a LINE user, a Slack-style webhook), from which level, and quiet
//! hours in site time (during which only critical alerts are sent). Validated the FastAPI way:
//! every bad field is a 422 item located in the body (`["body", "channels", 0, "target"]`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::destinations::Destinations;
use crate::alerts::LEVELS;
use crate::error::FieldError;
use crate::params::one_of;

pub const KINDS: [&str; 3] = ["webhook", "line", "slack"];
/// Channels one user may have.
pub const MAX_CHANNELS: usize = 10;
pub const MAX_TARGET_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserChannel {
    pub kind: String,
    /// An `https://` URL (webhook, slack) or a LINE user id (`U` and 32 hex digits).
    pub target: String,
    pub min_level: String,
}

/// `HH:MM`–`HH:MM` in site time; `start > end` spans midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

impl QuietHours {
    /// Whether minute-of-day `minute` (site time) falls in the quiet hours.
    pub fn contains(&self, minute: u32) -> bool {
        let (Some(start), Some(end)) = (minutes(&self.start), minutes(&self.end)) else {
            return false;
        };
        if start <= end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    pub channels: Vec<UserChannel>,
    pub quiet_hours: Option<QuietHours>,
}

/// `HH:MM` as minutes after midnight.
fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn error(loc: Vec<Value>, kind: &'static str, msg: impl Into<String>, input: &Value) -> FieldError {
    FieldError {
        kind,
        loc,
        msg: msg.into(),
        input: input.clone(),
    }
}

fn loc(path: &[Value]) -> Vec<Value> {
    let mut all = vec![Value::from("body")];
    all.extend_from_slice(path);
    all
}

impl Preferences {
    /// Validates a PUT body (already a JSON object); every problem is reported.
    pub fn from_body(body: &Map<String, Value>) -> Result<Preferences, Vec<FieldError>> {
        let mut errors = Vec::new();
        let channels = match body.get("channels") {
            None => {
                errors.push(error(
                    loc(&["channels".into()]),
                    "missing",
                    "Field required",
                    &Value::Null,
                ));
                Vec::new()
            }
            Some(Value::Array(items)) => {
                if items.len() > MAX_CHANNELS {
                    errors.push(error(
                        loc(&["channels".into()]),
                        "too_long",
                        format!(
                            "List should have at most {MAX_CHANNELS} items after validation, not {}",
                            items.len()
                        ),
                        &Value::Array(items.clone()),
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| channel(i, item, &mut errors))
                    .collect()
            }
            Some(other) => {
                errors.push(error(
                    loc(&["channels".into()]),
                    "list_type",
                    "Input should be a valid list",
                    other,
                ));
                Vec::new()
            }
        };
        let quiet_hours = match body.get("quiet_hours") {
            None | Some(Value::Null) => None,
            Some(value) => quiet_hours(value, &mut errors),
        };
        if errors.is_empty() {
            Ok(Preferences {
                channels,
                quiet_hours,
            })
        } else {
            Err(errors)
        }
    }
}

impl Preferences {
    /// Each channel this site cannot serve (a URL on a host outside what the operator allows,
    /// see `destinations`), as a 422 item on its target. Checked after `from_body`, like a model
    /// validator: the shape must be right before the site's rules apply.
    pub fn check_destinations(&self, site: &Destinations) -> Result<(), Vec<FieldError>> {
        let errors: Vec<FieldError> = self
            .channels
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let why = site.refusal(&c.kind, &c.target)?;
                Some(error(
                    loc(&["channels".into(), Value::from(i), "target".into()]),
                    "value_error",
                    format!("Value error, {why}"),
                    &Value::from(c.target.as_str()),
                ))
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn string_field<'a>(
    item: &'a Map<String, Value>,
    at: &[Value],
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    let mut path = at.to_vec();
    path.push(name.into());
    match item.get(name) {
        None => {
            errors.push(error(loc(&path), "missing", "Field required", &Value::Null));
            None
        }
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            errors.push(error(
                loc(&path),
                "string_type",
                "Input should be a valid string",
                other,
            ));
            None
        }
    }
}

fn channel(i: usize, item: &Value, errors: &mut Vec<FieldError>) -> Option<UserChannel> {
    let at = ["channels".into(), Value::from(i)];
    let Value::Object(item) = item else {
        errors.push(error(
            loc(&at),
            "model_type",
            "Input should be a valid dictionary or object to extract fields from",
            item,
        ));
        return None;
    };
    let before = errors.len();
    let path = |name: &str| {
        let mut p = at.to_vec();
        p.push(name.into());
        loc(&p)
    };
    let kind = string_field(item, &at, "kind", errors).and_then(|kind| {
        if KINDS.contains(&kind) {
            Some(kind)
        } else {
            errors.push(error(
                path("kind"),
                "enum",
                format!("Input should be {}", one_of(&KINDS)),
                &Value::from(kind),
            ));
            None
        }
    });
    let target = string_field(item, &at, "target", errors);
    let min_level = match item.get("min_level") {
        None | Some(Value::Null) => Some("warning"),
        Some(Value::String(level)) if LEVELS.contains(&level.as_str()) => Some(level.as_str()),
        Some(other) => {
            errors.push(error(
                path("min_level"),
                "enum",
                format!("Input should be {}", one_of(&LEVELS)),
                other,
            ));
            None
        }
    };
    if let (Some(kind), Some(target)) = (kind, target) {
        if let Err((kind_of_error, msg)) = check_target(kind, target) {
            errors.push(error(
                path("target"),
                kind_of_error,
                msg,
                &Value::from(target),
            ));
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(UserChannel {
        kind: kind?.to_owned(),
        target: target?.to_owned(),
        min_level: min_level?.to_owned(),
    })
}

/// Webhook and Slack targets are `https://` URLs with a host (a plain-HTTP URL would send alert
/// details, and the webhook's signature, in the clear); LINE targets are user ids.
fn check_target(kind: &str, target: &str) -> Result<(), (&'static str, String)> {
    if target.len() > MAX_TARGET_LEN {
        return Err((
            "string_too_long",
            format!("String should have at most {MAX_TARGET_LEN} characters"),
        ));
    }
    if kind == "line" {
        let ok = target.len() == 33
            && target.starts_with('U')
            && target[1..].bytes().all(|b| b.is_ascii_hexdigit());
        return if ok {
            Ok(())
        } else {
            Err((
                "string_pattern_mismatch",
                "String should match pattern '^U[0-9a-f]{32}$'".into(),
            ))
        };
    }
    let Some((scheme, rest)) = target.split_once("://") else {
        return Err(("url_parsing", "Input should be a valid URL".into()));
    };
    if !scheme.eq_ignore_ascii_case("https") {
        return Err(("url_scheme", "URL scheme should be 'https'".into()));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let usable = !host.is_empty()
        && !host.starts_with(':')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        && !target
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
    if usable {
        Ok(())
    } else {
        Err(("url_parsing", "Input should be a valid URL".into()))
    }
}

fn quiet_hours(value: &Value, errors: &mut Vec<FieldError>) -> Option<QuietHours> {
    let at = ["quiet_hours".into()];
    let Value::Object(map) = value else {
        errors.push(error(
            loc(&at),
            "model_type",
            "Input should be a valid dictionary or object to extract fields from",
            value,
        ));
        return None;
    };
    let before = errors.len();
    let mut time = |name: &str| {
        let raw = string_field(map, &at, name, errors)?;
        if minutes(raw).is_some() {
            Some(raw.to_owned())
        } else {
            errors.push(error(
                loc(&["quiet_hours".into(), name.into()]),
                "string_pattern_mismatch",
                "String should match pattern '^([01][0-9]|2[0-3]):[0-5][0-9]$'",
                &Value::from(raw),
            ));
            None
        }
    };
    let start = time("start");
    let end = time("end");
    if let (Some(s), Some(e)) = (&start, &end) {
        if s == e {
            errors.push(error(
                loc(&at),
                "value_error",
                "Value error, quiet hours must not start and end at the same time",
                value,
            ));
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(QuietHours {
        start: start?,
        end: end?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<Preferences, Vec<(String, &'static str)>> {
        let Value::Object(map) = body else { panic!() };
        Preferences::from_body(&map).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| (Value::Array(e.loc).to_string(), e.kind))
                .collect()
        })
    }

    #[test]
    fn accepts_every_kind_and_defaults_the_level() {
        let prefs = parse(json!({
            "channels": [
                {"kind": "webhook", "target": "https://ops.example.com/hook", "min_level": "info"},
                {"kind": "line", "target": "U0123456789abcdef0123456789abcdef"},
                {"kind": "slack", "target": "https://hooks.slack.com/services/T/B/x", "min_level": "critical"}
            ],
            "quiet_hours": {"start": "22:30", "end": "07:00"}
        }))
        .unwrap();
        assert_eq!(prefs.channels.len(), 3);
        assert_eq!(prefs.channels[1].min_level, "warning");
        let quiet = prefs.quiet_hours.unwrap();
        assert!(quiet.contains(23 * 60));
        assert!(quiet.contains(6 * 60 + 59));
        assert!(!quiet.contains(7 * 60));
        assert!(!quiet.contains(12 * 60));
        assert_eq!(
            parse(json!({"channels": []})).unwrap(),
            Preferences::default()
        );
    }

    #[test]
    fn every_bad_field_is_located() {
        let errors = parse(json!({
            "channels": [
                {"kind": "webhook", "target": "http://ops.example.com/hook"},
                {"kind": "pager", "target": "x", "min_level": "loud"},
                {"kind": "line", "target": "bob"},
                {"kind": "slack"},
                "nope"
            ],
            "quiet_hours": {"start": "25:00", "end": "7"}
        }))
        .unwrap_err();
        assert_eq!(
            errors,
            vec![
                (r#"["body","channels",0,"target"]"#.into(), "url_scheme"),
                (r#"["body","channels",1,"kind"]"#.into(), "enum"),
                (r#"["body","channels",1,"min_level"]"#.into(), "enum"),
                (
                    r#"["body","channels",2,"target"]"#.into(),
                    "string_pattern_mismatch"
                ),
                (r#"["body","channels",3,"target"]"#.into(), "missing"),
                (r#"["body","channels",4]"#.into(), "model_type"),
                (
                    r#"["body","quiet_hours","start"]"#.into(),
                    "string_pattern_mismatch"
                ),
                (
                    r#"["body","quiet_hours","end"]"#.into(),
                    "string_pattern_mismatch"
                ),
            ]
        );
        assert_eq!(
            parse(json!({})).unwrap_err(),
            vec![(r#"["body","channels"]"#.into(), "missing")]
        );
        assert_eq!(
            parse(json!({"channels": {}})).unwrap_err()[0].1,
            "list_type"
        );
        let same =
            parse(json!({"channels": [], "quiet_hours": {"start": "01:00", "end": "01:00"}}));
        assert_eq!(same.unwrap_err()[0].1, "value_error");
        let many: Vec<Value> = (0..11)
            .map(|_| json!({"kind": "slack", "target": "https://h.example/x"}))
            .collect();
        assert_eq!(
            parse(json!({ "channels": many })).unwrap_err()[0].1,
            "too_long"
        );
        for bad in [
            "https://",
            "https:///x",
            "https://a b/x",
            "ftp://h/x",
            "h/x",
        ] {
            assert!(
                parse(json!({"channels": [{"kind": "webhook", "target": bad}]})).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn targets_the_site_cannot_serve_are_located() {
        let prefs = parse(json!({"channels": [
            {"kind": "line", "target": "U0123456789abcdef0123456789abcdef"},
            {"kind": "slack", "target": "https://hooks.slack.com/services/T/B/x"},
            {"kind": "webhook", "target": "https://ops.example.com/hook"},
            {"kind": "slack", "target": "https://chat.example.com/hook"},
        ]}))
        .unwrap();
        let site = |webhook: &str| {
            Destinations::from(|name: &str| match name {
                "notify_user_webhook_host" => Some(webhook.to_owned()),
                "notify_user_slack_host" => Some("https://hooks.slack.com".to_owned()),
                "notify_webhook_secret" => Some("s".to_owned()),
                _ => None,
            })
            .0
        };
        assert!(prefs
            .check_destinations(&site("https://*.example.com"))
            .is_err());
        let errors = prefs
            .check_destinations(&site("https://webhook.invalid"))
            .unwrap_err();
        let located: Vec<(String, &str)> = errors
            .iter()
            .map(|e| (Value::Array(e.loc.clone()).to_string(), e.kind))
            .collect();
        assert_eq!(
            located,
            [
                (
                    r#"["body","channels",2,"target"]"#.to_owned(),
                    "value_error"
                ),
                (
                    r#"["body","channels",3,"target"]"#.to_owned(),
                    "value_error"
                ),
            ]
        );
        assert!(errors[1]
            .msg
            .ends_with("only to URLs on https://hooks.slack.com"));
        let only_allowed = parse(json!({"channels": [
            {"kind": "webhook", "target": "https://ops.example.com/hook"},
        ]}))
        .unwrap();
        assert!(only_allowed
            .check_destinations(&site("https://*.example.com"))
            .is_ok());
    }
}
