//! Where users' own notification URLs may point. Spin's `allowed_outbound_hosts` is fixed when the
//! app starts and one entry is one host pattern, so the notifier can only reach users' webhook and
//! Slack URLs on hosts the operator listed in advance: `notify_user_webhook_host` and
//! `notify_user_slack_host`, each one entry of the notifier's allow-list in Spin's syntax
//! (`https://hooks.slack.com`, `https://*.example.com`, `https://*:8443`). The API checks a saved
//! target against the same pattern, so a user learns at once that a URL cannot be served, rather
//! than from a denied delivery later.

/// One `allowed_outbound_hosts` entry as Spin reads it: `scheme://host[:port]`, where the host
/// may be `*` (any) or `*.domain` (any subdomain of it) and the port `*` (any) or a number; with
/// no port, the scheme's default port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    scheme: String,
    host: HostMatch,
    port: PortMatch,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    /// `*.example.com` is stored as `.example.com`.
    Subdomain(String),
    Exact(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortMatch {
    Any,
    Exact(u16),
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let text = text.trim();
        let bad = || format!("{text:?} is not scheme://host[:port]");
        let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if scheme.is_empty() || authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(bad());
        }
        let (host, port) = split_port(authority);
        let port = match port {
            None => PortMatch::Exact(default_port(&scheme).ok_or_else(bad)?),
            Some("*") => PortMatch::Any,
            Some(n) => PortMatch::Exact(n.parse().map_err(|_| bad())?),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            HostMatch::Subdomain(format!(".{domain}"))
        } else if host.is_empty() || host.contains('*') {
            return Err(bad());
        } else {
            HostMatch::Exact(host)
        };
        Ok(HostPattern {
            scheme,
            host,
            port,
            text: text.to_owned(),
        })
    }

    /// Whether the pattern names no host that can exist: `.invalid` is reserved for that
    /// (RFC 6761), and is how the defaults say "none".
    pub fn is_none(&self) -> bool {
        match &self.host {
            HostMatch::Exact(h) | HostMatch::Subdomain(h) => {
                h == "invalid" || h.ends_with(".invalid")
            }
            HostMatch::Any => false,
        }
    }

    /// Whether `url` (`scheme://[user@]host[:port][/...]`) is on a host the pattern allows.
    pub fn allows(&self, url: &str) -> bool {
        let Some((scheme, rest)) = url.split_once("://") else {
            return false;
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != self.scheme {
            return false;
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = split_port(authority);
        let port = match port {
            None => default_port(&scheme),
            Some(p) => p.parse().ok(),
        };
        let Some(port) = port else { return false };
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostMatch::Any => !host.is_empty(),
            HostMatch::Subdomain(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
            HostMatch::Exact(h) => *h == host,
        };
        let port_ok = match self.port {
            PortMatch::Any => true,
            PortMatch::Exact(p) => p == port,
        };
        host_ok && port_ok
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// `host:port` into host and port; an IPv6 literal keeps its brackets.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(end) = authority.rfind(']') {
        let (host, tail) = authority.split_at(end + 1);
        return (host, tail.strip_prefix(':'));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

/// What the site allows users' own channels to reach, from the variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destinations {
    /// `notify_user_webhook_host`; `None`: users may not have webhooks.
    pub webhook: Option<HostPattern>,
    /// `notify_user_slack_host`.
    pub slack: Option<HostPattern>,
    /// Users' webhooks are signed with a key derived from `notify_webhook_secret`: without one,
    /// none is sent (an unsigned delivery could be forged by anyone who learns the URL).
    pub can_sign: bool,
}

pub const WEBHOOK_HOST_VAR: &str = "notify_user_webhook_host";
pub const SLACK_HOST_VAR: &str = "notify_user_slack_host";
pub const WEBHOOK_SECRET_VAR: &str = "notify_webhook_secret";

impl Destinations {
    /// From the variables; a pattern that does not parse allows nothing, and is a problem to log.
    pub fn from(lookup: impl Fn(&str) -> Option<String>) -> (Destinations, Vec<String>) {
        let mut problems = Vec::new();
        let mut pattern = |name: &str| {
            let raw = lookup(name).unwrap_or_default();
            if raw.trim().is_empty() {
                return None;
            }
            match HostPattern::parse(&raw) {
                Ok(p) if p.is_none() => None,
                Ok(p) => Some(p),
                Err(e) => {
                    problems.push(format!("{name}: {e}"));
                    None
                }
            }
        };
        let webhook = pattern(WEBHOOK_HOST_VAR);
        let slack = pattern(SLACK_HOST_VAR);
        let can_sign = lookup(WEBHOOK_SECRET_VAR).is_some_and(|s| !s.trim().is_empty());
        (
            Destinations {
                webhook,
                slack,
                can_sign,
            },
            problems,
        )
    }

    /// Why this site cannot deliver to `target` for a channel of `kind`, if it cannot. LINE
    /// targets are user ids pushed to through the site's own LINE channel: always allowed here.
    pub fn refusal(&self, kind: &str, target: &str) -> Option<String> {
        let (pattern, name) = match kind {
            "webhook" => (&self.webhook, "webhook"),
            "slack" => (&self.slack, "Slack"),
            _ => return None,
        };
        let Some(pattern) = pattern else {
            return Some(format!(
                "this site does not send {name} notifications to users' own URLs"
            ));
        };
        if kind == "webhook" && !self.can_sign {
            return Some(
                "this site has no webhook signing secret, so it sends no webhook notifications"
                    .into(),
            );
        }
        (!pattern.allows(target))
            .then(|| format!("this site sends {name} notifications only to URLs on {pattern}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(pattern: &str, url: &str) -> bool {
        HostPattern::parse(pattern).unwrap().allows(url)
    }

    #[test]
    fn patterns_match_as_spin_reads_them() {
        assert!(allows(
            "https://hooks.slack.com",
            "https://hooks.slack.com/services/x"
        ));
        assert!(allows(
            "https://hooks.slack.com",
            "https://HOOKS.slack.com:443/x"
        ));
        assert!(!allows(
            "https://hooks.slack.com",
            "https://hooks.slack.com:8443/x"
        ));
        assert!(!allows(
            "https://hooks.slack.com",
            "http://hooks.slack.com/x"
        ));
        assert!(!allows(
            "https://hooks.slack.com",
            "https://evil.com/hooks.slack.com"
        ));
        assert!(!allows(
            "https://hooks.slack.com",
            "https://hooks.slack.com.evil.com/"
        ));
        assert!(allows(
            "https://hooks.slack.com",
            "https://u:p@hooks.slack.com/x"
        ));
        assert!(allows(
            "https://*.example.com",
            "https://ops.example.com/hook"
        ));
        assert!(!allows("https://*.example.com", "https://example.com/hook"));
        assert!(!allows(
            "https://*.example.com",
            "https://ops.example.com.evil/x"
        ));
        assert!(allows("https://*", "https://anything.net/x"));
        assert!(!allows("https://*", "https://anything.net:8443/x"));
        assert!(allows("https://*:*", "https://anything.net:8443/x"));
        assert!(allows("http://127.0.0.1:9000", "http://127.0.0.1:9000/x"));
        assert!(allows("https://[::1]:8443", "https://[::1]:8443/x"));
        assert!(!allows("https://[::1]:8443", "https://[::1]/x"));
        for bad in [
            "hooks.slack.com",
            "https://",
            "https://a/b",
            "https://a:x",
            "ftp://a",
            "https://a*b",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn destinations_say_why_a_target_cannot_be_served() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let (open, problems) = Destinations::from(vars(&[
            (WEBHOOK_HOST_VAR, "https://*.example.com"),
            (SLACK_HOST_VAR, "https://hooks.slack.com"),
            (WEBHOOK_SECRET_VAR, "s"),
        ]));
        assert!(problems.is_empty());
        assert_eq!(open.refusal("webhook", "https://ops.example.com/h"), None);
        assert_eq!(open.refusal("line", "U0"), None);
        assert_eq!(
            open.refusal("slack", "https://chat.example.com/h").unwrap(),
            "this site sends Slack notifications only to URLs on https://hooks.slack.com"
        );
        let (closed, problems) = Destinations::from(vars(&[
            (WEBHOOK_HOST_VAR, "https://webhook.invalid"),
            (SLACK_HOST_VAR, "hooks.slack.com"),
            (WEBHOOK_SECRET_VAR, "s"),
        ]));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(closed.webhook.is_none() && closed.slack.is_none());
        assert!(closed
            .refusal("webhook", "https://ops.example.com/h")
            .unwrap()
            .contains("does not send webhook"));
        let (unsigned, _) = Destinations::from(vars(&[(WEBHOOK_HOST_VAR, "https://*")]));
        assert!(unsigned
            .refusal("webhook", "https://ops.example.com/h")
            .unwrap()
            .contains("no webhook signing secret"));
    }
}
