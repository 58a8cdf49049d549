//! API request budgets: per access token and per client address, in fixed windows counted in
//! Redis, one policy per route group (a Spin variable each). Pure: the policy, the counter keys,
//! and the verdict from the counts; `guest::ratelimit` does the counting.
//!
//! Fixed windows (not sliding) keep the count to one Redis round trip per request (INCR of each
//! counter, expiring with its window); a client can at most double its budget across a window
//! edge, which is acceptable for a budget meant to stop runaway clients, not to meter them.

use crate::schema::ess;

/// The route groups that have their own budget, by the permission their routes require.
pub fn group_of(permission: Option<&str>) -> &'static str {
    match permission {
        Some(ess::PERM_TELEMETRY_READ) => "telemetry",
        Some(ess::PERM_TRADING_READ) => "trading",
        Some(ess::PERM_ALERTS_ACK) => "alerts",
        Some(ess::PERM_USERS_ADMIN) => "admin",
        Some(_) => "other",
        // Any valid token: the caller's own session routes and the dashboard frame.
        None => "session",
    }
}

/// The Spin variable holding a group's policy.
pub fn variable(group: &str) -> String {
    format!("rate_limit_{group}")
}

/// A group's budget: requests per window for one token and for one client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub per_token: Option<u32>,
    pub per_address: Option<u32>,
    pub window_secs: u32,
}

impl Policy {
    /// `token=600,address=1200,window=60`; either budget may be left out (unlimited); `off` (or
    /// an empty value) is no limit at all.
    pub fn parse(s: &str) -> Result<Option<Policy>, String> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let mut policy = Policy {
            per_token: None,
            per_address: None,
            window_secs: 60,
        };
        for part in s.split(',') {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("expected name=value in {part:?}"))?;
            let n: u32 = value
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name}: not a positive whole number: {value:?}"))?;
            match name.trim() {
                "token" => policy.per_token = Some(n),
                "address" => policy.per_address = Some(n),
                "window" => policy.window_secs = n,
                other => return Err(format!("unknown budget {other:?}")),
            }
        }
        Ok((policy.per_token.is_some() || policy.per_address.is_some()).then_some(policy))
    }

    /// The counters one request adds to, with their limits: the address always, the token when
    /// the request carried a verified one.
    pub fn counters(
        &self,
        prefix: &str,
        group: &str,
        token_id: Option<&str>,
        address: &str,
        now: i64,
    ) -> Vec<(String, u32)> {
        let window = now.div_euclid(i64::from(self.window_secs));
        let mut out = Vec::with_capacity(2);
        if let Some(limit) = self.per_address {
            out.push((
                format!("{prefix}ratelimit:{group}:addr:{address}:{window}"),
                limit,
            ));
        }
        if let (Some(limit), Some(id)) = (self.per_token, token_id) {
            out.push((
                format!("{prefix}ratelimit:{group}:token:{id}:{window}"),
                limit,
            ));
        }
        out
    }

    /// Seconds until the current window ends.
    pub fn reset_secs(&self, now: i64) -> u32 {
        let w = i64::from(self.window_secs);
        (w - now.rem_euclid(w)) as u32
    }
}

/// The tightest of a request's budgets after counting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u32,
}

impl Budget {
    /// `RateLimit-*` headers (IETF draft names, as most proxies and clients read them).
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.remaining.to_string()),
            ("ratelimit-reset", self.reset_secs.to_string()),
        ]
    }
}

/// The verdict on counts (after this request) of `counters`: `Ok` with the tightest budget while
/// every count is within its limit, `Err` with the exhausted one otherwise.
pub fn judge(limits: &[u32], counts: &[u64], reset_secs: u32) -> Result<Option<Budget>, Budget> {
    let mut tightest: Option<Budget> = None;
    for (&limit, &count) in limits.iter().zip(counts) {
        let budget = Budget {
            limit,
            remaining: u64::from(limit).saturating_sub(count) as u32,
            reset_secs,
        };
        if count > u64::from(limit) {
            return Err(budget);
        }
        if tightest.is_none_or(|t| budget.remaining < t.remaining) {
            tightest = Some(budget);
        }
    }
    Ok(tightest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_or_say_why_not() {
        assert_eq!(Policy::parse("off"), Ok(None));
        assert_eq!(Policy::parse(" "), Ok(None));
        assert_eq!(
            Policy::parse("token=600, address=1200, window=30"),
            Ok(Some(Policy {
                per_token: Some(600),
                per_address: Some(1200),
                window_secs: 30
            }))
        );
        assert_eq!(Policy::parse("address=5").unwrap().unwrap().per_token, None);
        assert_eq!(Policy::parse("window=10"), Ok(None));
        for bad in ["token=0", "token=-1", "tokens=5", "token", "token=1.5"] {
            assert!(Policy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counters_are_per_group_subject_and_window() {
        let p = Policy::parse("token=10,address=20,window=60")
            .unwrap()
            .unwrap();
        let c = p.counters("t_", "telemetry", Some("jti1"), "10.0.0.1", 120);
        assert_eq!(
            c,
            vec![
                ("t_ratelimit:telemetry:addr:10.0.0.1:2".to_owned(), 20),
                ("t_ratelimit:telemetry:token:jti1:2".to_owned(), 10),
            ]
        );
        assert_eq!(p.counters("", "admin", None, "x", 179).len(), 1);
        assert_eq!(p.reset_secs(120), 60);
        assert_eq!(p.reset_secs(179), 1);
        assert_eq!(group_of(Some("telemetry:read")), "telemetry");
        assert_eq!(group_of(None), "session");
    }

    #[test]
    fn the_tightest_budget_answers() {
        assert_eq!(
            judge(&[20, 10], &[5, 9], 7),
            Ok(Some(Budget {
                limit: 10,
                remaining: 1,
                reset_secs: 7
            }))
        );
        assert_eq!(
            judge(&[20, 10], &[5, 11], 7),
            Err(Budget {
                limit: 10,
                remaining: 0,
                reset_secs: 7
            })
        );
        assert_eq!(judge(&[], &[], 7), Ok(None));
        // The request that reaches the limit exactly is still allowed.
        assert!(judge(&[3], &[3], 1).is_ok());
    }
}
