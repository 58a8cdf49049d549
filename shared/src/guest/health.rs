//! Probing every store for `/health` through the instance's kept connections: one per MySQL
//! server (one query lists which of its databases exist) and one per Redis URL. A kept connection
//! that was lost is replaced once, so health reports the store, not a stale socket.

use std::time::Instant;

use super::bindings::mysql::ParameterValue;
use super::bindings::rdbms_types::DbValue;
use super::bindings::redis::RedisResult;
use super::mysql;
use super::redis::Redis;
use crate::error::Store;
use crate::health::{CheckFailure, DependencyCheck, StoreKind};
use crate::store_url::StoreUrl;

/// A store to check: its client-facing name and its configured URL (`None`: not a valid URL).
pub struct Target {
    pub name: String,
    pub url: Option<StoreUrl>,
}

pub fn check_mysql(targets: &[Target]) -> Vec<DependencyCheck> {
    let mut results: Vec<Option<DependencyCheck>> = vec![None; targets.len()];
    for (i, target) in targets.iter().enumerate() {
        let Some(url) = target.url.as_ref() else {
            results[i] = Some(fail(
                target,
                StoreKind::Mysql,
                0.0,
                CheckFailure::Misconfigured,
            ));
            continue;
        };
        if results[i].is_some() {
            continue;
        }
        // Every unchecked target on the same server is answered by this one round trip.
        let group: Vec<usize> = (i..targets.len())
            .filter(|&j| {
                results[j].is_none()
                    && targets[j]
                        .url
                        .as_ref()
                        .is_some_and(|u| u.server_url() == url.server_url())
            })
            .collect();
        let started = Instant::now();
        let outcome = probe_server(url, group.iter().map(|&j| &targets[j]));
        let elapsed = ms_since(started);
        for (&j, state) in group.iter().zip(outcome) {
            let target = &targets[j];
            results[j] = Some(match state {
                Ok(()) => DependencyCheck::passed(target.name.clone(), StoreKind::Mysql, elapsed),
                Err(why) => fail(target, StoreKind::Mysql, elapsed, why),
            });
        }
    }
    results.into_iter().flatten().collect()
}

fn probe_server<'a>(
    url: &StoreUrl,
    targets: impl Iterator<Item = &'a Target> + Clone,
) -> Vec<Result<(), CheckFailure>> {
    let names: Vec<&str> = targets
        .clone()
        .map(|t| t.url.as_ref().map_or("", |u| u.path()))
        .collect();
    let mut server = match mysql::server(url) {
        Ok(server) => server,
        Err(e) => {
            eprintln!(
                "health: mysql {} unreachable: {}",
                url.redacted(),
                mysql::describe(&e)
            );
            return vec![Err(CheckFailure::Unreachable); names.len()];
        }
    };
    let placeholders = vec!["?"; names.len()].join(",");
    let sql = format!(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ({placeholders})"
    );
    let params: Vec<ParameterValue> = names
        .iter()
        .map(|n| ParameterValue::Str((*n).to_owned()))
        .collect();
    match mysql::query(&mut server, &sql, &params) {
        Ok(rows) => {
            let present: Vec<String> = rows
                .rows
                .iter()
                .filter_map(|row| match row.first() {
                    Some(DbValue::Str(name)) => Some(name.clone()),
                    _ => None,
                })
                .collect();
            names
                .iter()
                .map(|n| {
                    if present.iter().any(|p| p == n) {
                        Ok(())
                    } else {
                        Err(CheckFailure::DatabaseMissing)
                    }
                })
                .collect()
        }
        Err(e) => {
            eprintln!(
                "health: mysql {} check failed: {}",
                url.redacted(),
                mysql::describe(&e)
            );
            vec![Err(CheckFailure::QueryFailed); names.len()]
        }
    }
}

pub fn check_redis(targets: &[Target]) -> Vec<DependencyCheck> {
    targets
        .iter()
        .map(|target| {
            let Some(url) = target.url.as_ref() else {
                return fail(target, StoreKind::Redis, 0.0, CheckFailure::Misconfigured);
            };
            let started = Instant::now();
            let store = if target.name == Store::RedisGtr.label() {
                Store::RedisGtr
            } else {
                Store::RedisMain
            };
            let outcome = match Redis::open(url, store) {
                Err(_) => Err(CheckFailure::Unreachable),
                Ok(redis) => match redis.run("PING", &[]) {
                    Ok(reply) if is_pong(&reply) => Ok(()),
                    Ok(_) => Err(CheckFailure::QueryFailed),
                    Err(_) => Err(CheckFailure::Unreachable),
                },
            };
            let elapsed = ms_since(started);
            match outcome {
                Ok(()) => DependencyCheck::passed(target.name.clone(), StoreKind::Redis, elapsed),
                Err(why) => fail(target, StoreKind::Redis, elapsed, why),
            }
        })
        .collect()
}

fn is_pong(reply: &[RedisResult]) -> bool {
    match reply.first() {
        Some(RedisResult::Status(s)) => s == "PONG",
        Some(RedisResult::Binary(b)) => b == b"PONG",
        _ => false,
    }
}

fn fail(target: &Target, kind: StoreKind, ms: f64, why: CheckFailure) -> DependencyCheck {
    DependencyCheck::failed(target.name.clone(), kind, ms, why)
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
