//! The health report: one entry per store the site depends on, and the verdict operators alert on.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Mysql,
    Redis,
}

/// Why a check failed, in words safe to show anybody (never the connector's own message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckFailure {
    /// The server could not be reached or refused us.
    Unreachable,
    /// The server answered but the database does not exist (not migrated?).
    DatabaseMissing,
    /// The server answered the connection but the check query failed.
    QueryFailed,
    /// The configured URL is not a valid store URL.
    Misconfigured,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependencyCheck {
    /// `mysql:<database>`, `redis:main`, `redis:gtr`.
    pub name: String,
    pub kind: StoreKind,
    pub ok: bool,
    /// Round trip of the check (including the connection it needed), in milliseconds.
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CheckFailure>,
}

impl DependencyCheck {
    pub fn passed(name: String, kind: StoreKind, latency_ms: f64) -> Self {
        DependencyCheck {
            name,
            kind,
            ok: true,
            latency_ms: round_ms(latency_ms),
            error: None,
        }
    }

    pub fn failed(name: String, kind: StoreKind, latency_ms: f64, why: CheckFailure) -> Self {
        DependencyCheck {
            name,
            kind,
            ok: false,
            latency_ms: round_ms(latency_ms),
            error: Some(why),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Degraded,
    Down,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub status: Status,
    pub version: &'static str,
    pub checked_at: String,
    /// Present when something failed: the names of the failed stores, for humans and alerting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub dependencies: Vec<DependencyCheck>,
}

impl HealthReport {
    pub fn new(
        version: &'static str,
        checked_at: String,
        dependencies: Vec<DependencyCheck>,
    ) -> Self {
        let failed: Vec<&str> = dependencies
            .iter()
            .filter(|d| !d.ok)
            .map(|d| d.name.as_str())
            .collect();
        let status = if failed.is_empty() {
            Status::Ok
        } else if failed.len() == dependencies.len() {
            Status::Down
        } else {
            Status::Degraded
        };
        let detail = (!failed.is_empty()).then(|| format!("unavailable: {}", failed.join(", ")));
        HealthReport {
            status,
            version,
            checked_at,
            detail,
            dependencies,
        }
    }

    /// 200 only when every dependency is ok, so load balancers and uptime checks need no body parsing.
    pub fn http_status(&self) -> u16 {
        match self.status {
            Status::Ok => 200,
            Status::Degraded | Status::Down => 503,
        }
    }
}

fn round_ms(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str) -> DependencyCheck {
        DependencyCheck::passed(name.into(), StoreKind::Mysql, 1.234_56)
    }

    fn bad(name: &str) -> DependencyCheck {
        DependencyCheck::failed(
            name.into(),
            StoreKind::Redis,
            2.0,
            CheckFailure::Unreachable,
        )
    }

    #[test]
    fn all_ok_is_200() {
        let r = HealthReport::new("1", "t".into(), vec![ok("mysql:ess"), ok("mysql:PCS")]);
        assert_eq!(r.status, Status::Ok);
        assert_eq!(r.http_status(), 200);
        assert_eq!(r.detail, None);
        assert_eq!(r.dependencies[0].latency_ms, 1.23);
    }

    #[test]
    fn one_failure_is_degraded_503_naming_it() {
        let r = HealthReport::new("1", "t".into(), vec![ok("mysql:ess"), bad("redis:gtr")]);
        assert_eq!(r.status, Status::Degraded);
        assert_eq!(r.http_status(), 503);
        assert_eq!(r.detail.as_deref(), Some("unavailable: redis:gtr"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["dependencies"][1]["error"], "unreachable");
        assert!(json["dependencies"][0].get("error").is_none());
    }

    #[test]
    fn everything_failed_is_down() {
        let r = HealthReport::new("1", "t".into(), vec![bad("redis:main"), bad("redis:gtr")]);
        assert_eq!(r.status, Status::Down);
        assert_eq!(r.http_status(), 503);
    }
}
