//! The `bess` endpoint group: the battery racks (BESS1..BESS12), under `telemetry:read`.
//!
//! - `GET /api/v1/bess/{bess_number}`: status, SOC, SOH, electrical and thermal readings, live
//!   from the GTR Redis while fresh, else from the rack's newest history row
//! - `GET /api/v1/bess/alert/rack/{rack_number}`: the rack's alerts (`active_only`, `since`,
//!   `limit`)
//! - the legacy Flask paths `/api/bams_info/<n>` and `/api/alert/rack/<n>`, same answers,
//!   marked deprecated

use solarhub_shared::alerts::{AlertFilter, AlertList};
use solarhub_shared::error::ApiError;
use solarhub_shared::guest::alerts::{self, Devices};
use solarhub_shared::guest::config;
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::stores::{live_values, Stores};
use solarhub_shared::guest::telemetry::latest_rack_row;
use solarhub_shared::http::{serve_get, Request, Response};
use solarhub_shared::params::{integer, Query};
use solarhub_shared::schema::{bess_key, ess, Database, RedisStore, RACK_COUNT};
use solarhub_shared::telemetry::{choose, RackReading, RackView};

solarhub_shared::http_component!(handle);

enum Route {
    Rack(String),
    Alerts(String),
}

fn handle(req: &Request) -> Response {
    serve_get(req, route(req.path()), |route| match route {
        Route::Rack(n) => rack(req, &n, "bess_number"),
        Route::Alerts(n) => rack_alerts(req, &n),
    })
}

/// The route of `path`, and for a legacy path the v1 path that replaces it.
fn route(path: &str) -> Option<(Route, Option<String>)> {
    let one_segment =
        |rest: &str| (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_owned());
    if let Some(n) = path
        .strip_prefix("/api/v1/bess/alert/rack/")
        .and_then(one_segment)
    {
        return Some((Route::Alerts(n), None));
    }
    if let Some(n) = path.strip_prefix("/api/v1/bess/").and_then(one_segment) {
        return Some((Route::Rack(n), None));
    }
    if let Some(n) = path.strip_prefix("/api/bams_info/").and_then(one_segment) {
        let successor = format!("/api/v1/bess/{n}");
        return Some((Route::Rack(n), Some(successor)));
    }
    if let Some(n) = path.strip_prefix("/api/alert/rack/").and_then(one_segment) {
        let successor = format!("/api/v1/bess/alert/rack/{n}");
        return Some((Route::Alerts(n), Some(successor)));
    }
    None
}

fn rack_number(raw: &str, name: &str) -> Result<u8, ApiError> {
    integer("path", name, raw, 1, Some(u64::from(RACK_COUNT)))
        .map(|n| n as u8)
        .map_err(ApiError::validation)
}

fn rack(req: &Request, raw: &str, name: &str) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
    let n = rack_number(raw, name)?;
    let offset = config::site_offset()?;
    let stale_after: i64 = config::number("live_stale_after_secs")?;
    let key = bess_key(stores.redis_prefix()?, n);
    // Redis down is not the end: the rack's history may still answer.
    let live = stores.redis(RedisStore::Gtr).and_then(|redis| {
        Ok(live_values(&redis, &key, stale_after)?
            .and_then(|v| Some((RackReading::from_live(&v)?, v.stale))))
    });
    let shown = choose(live, || {
        let db = stores.db(Database::Bess(n))?;
        latest_rack_row(&db)
    })?;
    match shown {
        Some(shown) => Ok(Response::json(200, &RackView::new(n, shown, offset))),
        None => Err(ApiError::NotFound(format!("No data for BESS{n}"))),
    }
}

fn rack_alerts(req: &Request, raw: &str) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
    let offset = config::site_offset()?;
    let n = rack_number(raw, "rack_number");
    let filter = AlertFilter::parse(&Query::parse(req.query()), offset);
    // Report every bad parameter at once, the path's first.
    let (n, filter) = match (n, filter) {
        (Ok(n), Ok(filter)) => (n, filter),
        (n, filter) => {
            let mut errors = Vec::new();
            if let Err(ApiError::Validation(e)) = n {
                errors.extend(e);
            }
            if let Err(e) = filter {
                errors.extend(e);
            }
            return Err(ApiError::Validation(errors));
        }
    };
    let db = stores.db(Database::Ess)?;
    let devices = Devices {
        kind: Some(ess::DEVICE_BESS),
        number: Some(n),
    };
    let items = alerts::list(&db, &devices, &filter, offset)?;
    Ok(Response::json(200, &AlertList::new(items)))
}
