//! Concurrent load for the store-fault tests: a list of calls sent by a few workers at once, each
//! answer kept with its latency, and the per-scenario report the issue asks for (requests sent,
//! answers by status, maximum latency).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use solarhub_host::client::request;

/// One request: method, path, bearer token and JSON body (both optional).
#[derive(Debug, Clone)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub token: Option<String>,
    pub body: Option<String>,
}

impl Call {
    pub fn get(path: impl Into<String>, token: Option<&str>) -> Call {
        Call {
            method: "GET",
            path: path.into(),
            token: token.map(str::to_owned),
            body: None,
        }
    }

    pub fn with_body(
        method: &'static str,
        path: impl Into<String>,
        token: Option<&str>,
        body: Value,
    ) -> Call {
        Call {
            method,
            path: path.into(),
            token: token.map(str::to_owned),
            body: Some(body.to_string()),
        }
    }
}

/// What came back: `status` 0 when nothing did (the client's 30 s limit or a broken connection).
#[derive(Debug, Clone)]
pub struct Answer {
    pub call: Call,
    pub status: u16,
    pub body: String,
    pub latency: Duration,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The store a 503 names (`mysql:ess`, `redis:main`, ...).
    pub fn store(&self) -> Option<String> {
        self.json()["store"].as_str().map(str::to_owned)
    }
}

/// Sends every call, `workers` at a time, and returns the answers in the order of `calls`.
pub async fn send(addr: SocketAddr, calls: Vec<Call>, workers: usize) -> Vec<Answer> {
    let calls = Arc::new(calls);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (calls, next) = (calls.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(call) = calls.get(i) else {
                    return done;
                };
                done.push((i, one(addr, call).await));
            }
        }));
    }
    let mut answers: Vec<(usize, Answer)> = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap());
    }
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().map(|(_, a)| a).collect()
}

async fn one(addr: SocketAddr, call: &Call) -> Answer {
    let auth = call.token.as_ref().map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    if call.body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let body = call.body.as_deref().unwrap_or("").as_bytes();
    let started = Instant::now();
    let reply = request(addr, call.method, &call.path, &headers, body).await;
    let latency = started.elapsed();
    match reply {
        Ok(reply) => Answer {
            call: call.clone(),
            status: reply.status,
            body: reply.text(),
            latency,
        },
        Err(e) => Answer {
            call: call.clone(),
            status: 0,
            body: e.to_string(),
            latency,
        },
    }
}

/// `rounds` copies of `calls`, interleaved (each round is the whole list once).
pub fn repeat(calls: &[Call], rounds: usize) -> Vec<Call> {
    (0..rounds).flat_map(|_| calls.iter().cloned()).collect()
}

/// Prints one scenario's counts: requests sent, answers by status, the slowest answer.
pub fn report(scenario: &str, answers: &[Answer]) -> Duration {
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for a in answers {
        *by_status.entry(a.status).or_default() += 1;
    }
    let max = answers.iter().map(|a| a.latency).max().unwrap_or_default();
    let statuses: Vec<String> = by_status
        .iter()
        .map(|(status, n)| match status {
            0 => format!("no answer: {n}"),
            s => format!("{s}: {n}"),
        })
        .collect();
    // Straight to the process's stderr, not through eprintln!, which the test harness captures
    // (and shows only for a failing test): the figures belong in every run's output.
    let _ = writeln!(
        std::io::stderr().lock(),
        "scenario {scenario}: {} requests sent; answers {}; max latency {} ms",
        answers.len(),
        statuses.join(", "),
        max.as_millis()
    );
    max
}

/// Fails on any answer that is no answer at all or a 500, quoting the first few.
pub fn assert_no_hang_no_500(scenario: &str, answers: &[Answer]) {
    let bad: Vec<String> = answers
        .iter()
        .filter(|a| a.status == 0 || a.status >= 500 && a.status != 503)
        .take(5)
        .map(|a| {
            format!(
                "{} {} -> {} {}",
                a.call.method, a.call.path, a.status, a.body
            )
        })
        .collect();
    assert!(bad.is_empty(), "{scenario}: {}", bad.join("\n"));
}
