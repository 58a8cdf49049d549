//! One HTTP attempt through Spin's outbound HTTP (`wasi:http/client`, WASIp3), bounded by a
//! timer on the monotonic clock, and the waits between attempts.

use futures::future::{select, Either};
use solarhub_shared::realtime::notify::{Delivery, Outcome};
use spin_sdk::wasip3::clocks::monotonic_clock;
use spin_sdk::wasip3::http::types::ErrorCode;

pub async fn pause(ms: u64) {
    monotonic_clock::wait_for(ms.saturating_mul(1_000_000)).await;
}

/// Milliseconds on the monotonic clock (for timing attempts in the log).
pub fn now_ms() -> u64 {
    monotonic_clock::now() / 1_000_000
}

pub async fn attempt(delivery: &Delivery, timeout_ms: u64) -> Outcome {
    let mut builder = http::Request::post(delivery.url.as_str());
    for (name, value) in &delivery.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request = match builder.body(String::from_utf8_lossy(&delivery.body).into_owned()) {
        Ok(request) => request,
        Err(e) => return Outcome::Failed(format!("bad request: {e}")),
    };
    let send = std::pin::pin!(spin_sdk::http::send(request));
    let timer = std::pin::pin!(pause(timeout_ms));
    match select(send, timer).await {
        Either::Left((Ok(response), _)) => Outcome::from_status(response.status().as_u16()),
        // What Spin answers for a destination outside `allowed_outbound_hosts`.
        Either::Left((Err(ErrorCode::HttpRequestDenied), _)) => Outcome::Denied,
        Either::Left((Err(ErrorCode::ConnectionReadTimeout), _)) => Outcome::Timeout,
        Either::Left((Err(e), _)) => Outcome::Failed(format!("{e:?}")),
        Either::Right(((), _)) => Outcome::Timeout,
    }
}
