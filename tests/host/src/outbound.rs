//! `allowed_outbound_hosts`: which addresses a component may connect to, with Spin's grammar
//! (`scheme://host[:port]`, `*` wildcards, `*.suffix` hosts, `a..b` port ranges, default ports per
//! scheme, `{{ app_variable }}` templates) and Spin's answers when an address is denied.

use anyhow::{anyhow, bail, Result};

use crate::variables::{expand, AppVariables};

#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemeRule {
    Any,
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    Any,
    /// `*.example.com`: any name ending in `.example.com`.
    Suffix(String),
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortRule {
    Any,
    /// End-exclusive, as Spin's `a..b`.
    Range(u16, u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    scheme: SchemeRule,
    host: HostRule,
    port: PortRule,
}

/// A component's allow-list, with templates already expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    rules: Vec<Rule>,
}

pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHosts {
    pub fn parse(entries: &[String], app: &AppVariables) -> Result<Self> {
        let mut rules = Vec::with_capacity(entries.len());
        for entry in entries {
            let expanded = expand(entry, app)?;
            rules.push(
                parse_rule(expanded.trim()).map_err(|e| anyhow!("allowed_outbound_hosts: {e}"))?,
            );
        }
        Ok(AllowedHosts { rules })
    }

    /// Whether the guest may connect to `address` (a store URL such as `mysql://u:p@h:3306/db`).
    pub fn allows(&self, address: &str) -> bool {
        let Some(target) = Target::parse(address) else {
            return false;
        };
        self.rules.iter().any(|rule| rule.matches(&target))
    }
}

fn parse_rule(entry: &str) -> Result<Rule> {
    if matches!(entry, "*" | ":" | "" | "?") {
        bail!(
            "{entry:?} is not an allowed outbound host format; use '*://*:*' to allow everything"
        );
    }
    let (scheme, rest) = entry.split_once("://").ok_or_else(|| {
        anyhow!("{entry:?} does not contain a scheme (e.g., 'http://' or '*://')")
    })?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        bail!("{entry:?} has a path but is not allowed to");
    }
    let scheme = match scheme {
        "*" => SchemeRule::Any,
        s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) => {
            SchemeRule::Exact(s.to_ascii_lowercase())
        }
        _ => bail!("{entry:?} has an invalid scheme"),
    };
    let (host, port) = split_authority(rest);
    let host = match host {
        "*" => HostRule::Any,
        h if h.starts_with("*.") && !h[2..].contains('*') => {
            HostRule::Suffix(h[1..].to_ascii_lowercase())
        }
        h if h.contains('*') || h.is_empty() => bail!("{entry:?} has an invalid host"),
        h => HostRule::Exact(h.to_ascii_lowercase()),
    };
    let port = match port {
        Some("*") => PortRule::Any,
        Some(p) => match p.split_once("..") {
            Some((a, b)) => PortRule::Range(parse_port(entry, a)?, parse_port(entry, b)?),
            None => {
                let p = parse_port(entry, p)?;
                PortRule::Range(p, p.saturating_add(1))
            }
        },
        None => {
            let scheme_name = match &scheme {
                SchemeRule::Exact(s) => s.as_str(),
                SchemeRule::Any => "*",
            };
            let p = default_port(scheme_name).ok_or_else(|| {
                anyhow!("no port was provided and the scheme {scheme_name:?} does not have a known default port number")
            })?;
            PortRule::Range(p, p + 1)
        }
    };
    Ok(Rule { scheme, host, port })
}

fn parse_port(entry: &str, p: &str) -> Result<u16> {
    p.parse()
        .map_err(|_| anyhow!("{entry:?} has an invalid port"))
}

/// Splits `host[:port]`, keeping bracketed IPv6 hosts whole.
fn split_authority(s: &str) -> (&str, Option<&str>) {
    if s.starts_with('[') {
        if let Some(end) = s.find(']') {
            let port = s[end + 1..].strip_prefix(':');
            return (&s[1..end], port);
        }
    }
    match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    }
}

struct Target {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Target {
    fn parse(address: &str) -> Option<Target> {
        let (scheme, rest) = address.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = split_authority(hostport);
        let port = match port {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        (!host.is_empty()).then(|| Target {
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl Rule {
    fn matches(&self, t: &Target) -> bool {
        let scheme_ok = match &self.scheme {
            SchemeRule::Any => true,
            SchemeRule::Exact(s) => *s == t.scheme,
        };
        let host_ok = match &self.host {
            HostRule::Any => true,
            HostRule::Suffix(suffix) => t.host.ends_with(suffix.as_str()),
            HostRule::Exact(h) => *h == t.host,
        };
        let port = t.port.or_else(|| default_port(&t.scheme));
        let port_ok = match (&self.port, port) {
            (PortRule::Any, _) => true,
            (PortRule::Range(a, b), Some(p)) => (*a..*b).contains(&p),
            (PortRule::Range(..), None) => false,
        };
        scheme_ok && host_ok && port_ok
    }
}

/// What Spin prints when a component is denied, without the credentials of the address.
pub fn log_denied(component: &str, address: &str) {
    let shown = Target::parse(address)
        .map(|t| match t.port {
            Some(p) => format!("{}://{}:{p}", t.scheme, t.host),
            None => format!("{}://{}", t.scheme, t.host),
        })
        .unwrap_or_else(|| "<unparseable address>".to_owned());
    eprintln!(
        "Warning: A component ({component}) tried to make an outbound network connection to disallowed destination '{shown}'.\n\
         To allow this request, add 'allowed_outbound_hosts = [\"{shown}\"]' to the manifest component section."
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::VariableDecl;
    use crate::variables::Provider;
    use std::collections::BTreeMap;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        let decls = BTreeMap::from([(
            "db_host".to_owned(),
            VariableDecl {
                default: Some("db.local:3307".into()),
                ..Default::default()
            },
        )]);
        let app = AppVariables::resolve(&decls, &Provider::default()).unwrap();
        let entries: Vec<String> = entries.iter().map(|s| (*s).to_owned()).collect();
        AllowedHosts::parse(&entries, &app).unwrap()
    }

    #[test]
    fn table_of_addresses() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["mysql://127.0.0.1"], "mysql://root@127.0.0.1/ess", true),
            (
                &["mysql://127.0.0.1"],
                "mysql://root@127.0.0.1:3306/ess",
                true,
            ),
            (
                &["mysql://127.0.0.1"],
                "mysql://root@127.0.0.1:3307/ess",
                false,
            ),
            (&["mysql://127.0.0.1:3306"], "redis://127.0.0.1:3306", false),
            (
                &["mysql://{{ db_host }}"],
                "mysql://u:p@db.local:3307/x",
                true,
            ),
            (
                &["mysql://{{ db_host }}"],
                "mysql://u:p@db.local:3306/x",
                false,
            ),
            (&["*://*:*"], "redis://anything:1", true),
            (
                &["redis://*.example.com"],
                "redis://cache.example.com",
                true,
            ),
            (&["redis://*.example.com"], "redis://example.com", false),
            (&["mysql://h:3300..3310"], "mysql://h:3309", true),
            (&["mysql://h:3300..3310"], "mysql://h:3310", false),
            (&["redis://[::1]:6379"], "redis://[::1]:6379/0", true),
            (&["mysql://h:*"], "mysql://u:p@ss@h:1/x", true),
            (&[], "mysql://h/x", false),
        ];
        for (entries, address, expected) in cases {
            assert_eq!(
                hosts(entries).allows(address),
                *expected,
                "{entries:?} {address}"
            );
        }
    }

    #[test]
    fn rejects_bad_entries() {
        let app = AppVariables::default();
        for bad in [
            "*",
            "127.0.0.1:3306",
            "mysql://h/path",
            "rediss://h",
            "mysql://h:x",
            "my-sql://h",
            "mysql://a*b",
        ] {
            assert!(
                AllowedHosts::parse(&[bad.to_owned()], &app).is_err(),
                "{bad}"
            );
        }
        assert!(AllowedHosts::parse(&["mysql://{{ nope }}".to_owned()], &app).is_err());
    }
}
