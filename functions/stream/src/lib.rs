//! The `stream` component: `GET /api/v1/stream?topics=alerts,meters,bess` (`telemetry:read`)
//! answers `text/event-stream` for a bounded time: alert events as they are published (read from
//! the alert log stream, so `Last-Event-ID` resumes where a client left off), a live snapshot of
//! the topics asked for every second, heartbeats, then `event: end`, after which the client
//! reconnects.
//!
//! The token comes from `Authorization: Bearer ...` or, for browsers' `EventSource` (which cannot
//! set headers), the `access_token` query parameter. The trade-off: a token in a URL can end up in
//! proxy and server logs and in browser history, so it should be a short-lived access token (they
//! are, 30 min by default), and clients that can set the header should.

mod live;

use solarhub_shared::error::ApiError;
use solarhub_shared::guest::config;
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::stores::Stores;
use solarhub_shared::http::{answer, Method, Request, Response};
use solarhub_shared::params::Query;
use solarhub_shared::realtime::stream::{last_event_id, StreamQuery};
use solarhub_shared::schema::ess;

solarhub_shared::http_component!(handle);

const STREAM: &str = "/api/v1/stream";

fn handle(req: &Request) -> Response {
    answer(route(req))
}

fn route(req: &Request) -> Result<Response, ApiError> {
    if req.path() != STREAM {
        return Err(ApiError::not_found_route());
    }
    if *req.method() != Method::Get {
        return Err(ApiError::MethodNotAllowed { allow: "GET" });
    }
    let query = Query::parse(req.query());
    let mut stores = Stores::new();
    authorize(
        &with_query_token(req, &query),
        Some(ess::PERM_TELEMETRY_READ),
        &mut stores,
    )?;
    let limit: u64 = config::number("stream_max_seconds")?;
    let heartbeat: u64 = config::number("stream_heartbeat_seconds")?;
    let wanted = StreamQuery::parse(&query, limit.max(1)).map_err(ApiError::Validation)?;
    let resume = req
        .header("last-event-id")
        .map(last_event_id)
        .transpose()
        .map_err(ApiError::validation)?;
    // Everything that can fail before the first byte: a store that is down is still a 503.
    let live = live::Live::open(&mut stores, wanted, resume, heartbeat)?;
    let mut response = Response::stream(200, "text/event-stream", Box::new(live));
    response.set_header("cache-control", "no-cache");
    // Proxies (nginx) would otherwise buffer the stream.
    response.set_header("x-accel-buffering", "no");
    Ok(response)
}

/// `req` with the `access_token` query parameter as its bearer token, unless it has an
/// `Authorization` header (which wins).
fn with_query_token(req: &Request, query: &Query) -> Request {
    let token = query.get("access_token").filter(|t| !t.is_empty());
    match (req.header("authorization"), token) {
        (None, Some(token)) => {
            let mut headers = req.headers().to_vec();
            headers.push(("authorization".to_owned(), format!("Bearer {token}")));
            let target = format!("{}?{}", req.path(), req.query());
            Request::new(*req.method(), &target, headers, req.body().to_vec())
        }
        _ => req.clone(),
    }
}
