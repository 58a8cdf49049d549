//! Counting a guarded request against its route group's budget (`crate::ratelimit`), in the main
//! Redis, in one round trip. Fails open: when the counters cannot be written (Redis refusing the
//! script, out of memory, a lost connection), the request goes on and the failure is logged — a
//! rate limiter must not turn a Redis hiccup into an outage of every read.

use std::cell::Cell;

use super::redis::{arg, Redis};
use crate::error::ApiError;
use crate::ratelimit::{group_of, judge, variable, Budget, Policy};

thread_local! {
    /// The budget of the request being handled, for its response's `RateLimit-*` headers. Set and
    /// taken within one synchronous handler call, so concurrent requests never see each other's.
    static BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
    /// Whether a missing or broken policy variable was already logged by this instance.
    static WARNED: Cell<bool> = const { Cell::new(false) };
}

/// INCR each counter, giving a new one its window as expiry; the counts after this request.
const COUNT_SCRIPT: &str = "local counts = {} \
    for i, key in ipairs(KEYS) do \
      local n = redis.call('INCR', key) \
      if n == 1 then redis.call('EXPIRE', key, ARGV[1]) end \
      counts[i] = n \
    end \
    return counts";

/// The budget left to the request just handled, if one applied (cleared by reading it).
pub fn take_budget() -> Option<Budget> {
    BUDGET.take()
}

/// Counts one request of `address` (and of the verified token `token_id`, if any) against the
/// budget of the routes needing `permission`. `Err(RateLimited)` when a budget is spent.
pub fn count(
    redis: &Redis,
    prefix: &str,
    permission: Option<&str>,
    token_id: Option<&str>,
    address: &str,
    now: i64,
) -> Result<(), ApiError> {
    let group = group_of(permission);
    let Some(policy) = policy(group) else {
        return Ok(());
    };
    let counters = policy.counters(prefix, group, token_id, address, now);
    if counters.is_empty() {
        return Ok(());
    }
    let mut args = vec![arg(COUNT_SCRIPT), arg(&counters.len().to_string())];
    args.extend(counters.iter().map(|(key, _)| arg(key)));
    args.push(arg(&policy.window_secs.to_string()));
    let counts: Vec<u64> = match redis.run("EVAL", &args) {
        Ok(reply) => reply
            .into_iter()
            .filter_map(|r| super::redis::int_reply(&[r]))
            .map(|n| n.max(0) as u64)
            .collect(),
        Err(e) => {
            eprintln!("ratelimit: counting failed, request let through: {e:?}");
            return Ok(());
        }
    };
    if counts.len() != counters.len() {
        eprintln!("ratelimit: unexpected reply to the count script, request let through");
        return Ok(());
    }
    let limits: Vec<u32> = counters.iter().map(|(_, limit)| *limit).collect();
    match judge(&limits, &counts, policy.reset_secs(now)) {
        Ok(budget) => {
            BUDGET.set(budget);
            Ok(())
        }
        Err(spent) => Err(ApiError::RateLimited(spent)),
    }
}

/// The group's policy from its variable; a component that does not declare it, or a value that
/// does not parse, has no limit (logged once per instance).
fn policy(group: &str) -> Option<Policy> {
    let name = variable(group);
    let parsed = super::bindings::variables::get(&name)
        .map_err(|e| format!("{e:?}"))
        .and_then(|raw| Policy::parse(&raw));
    match parsed {
        Ok(policy) => policy,
        Err(why) => {
            if !WARNED.replace(true) {
                eprintln!("ratelimit: {name} unusable, no limit applied: {why}");
            }
            None
        }
    }
}
