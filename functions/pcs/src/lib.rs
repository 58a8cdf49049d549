//! The `pcs` endpoint group: the two power conversion systems (pcs0, pcs1), under
//! `telemetry:read`.
//!
//! - `GET /api/v1/pcs/{pcs_number}`: status, active/reactive power, DC and AC phase readings,
//!   frequency, fault codes, live from the GTR Redis while fresh, else from the PCS's newest
//!   history row
//! - `GET /api/v1/pcs/alert`: the PCS alerts (`active_only`, `since`, `limit`)
//! - the legacy Flask paths `/api/pcs_info/<n>` and `/api/alert/pcs`, same answers, marked
//!   deprecated

use solarhub_shared::alerts::{AlertFilter, AlertList};
use solarhub_shared::error::ApiError;
use solarhub_shared::guest::alerts::{self, Devices};
use solarhub_shared::guest::config;
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::stores::{live_values, Stores};
use solarhub_shared::guest::telemetry::latest_pcs_row;
use solarhub_shared::http::{serve_get, Request, Response};
use solarhub_shared::params::{integer, Query};
use solarhub_shared::schema::{ess, pcs_key, Database, RedisStore, PCS_COUNT};
use solarhub_shared::telemetry::{choose, PcsReading, PcsView};

solarhub_shared::http_component!(handle);

const ALERTS: &str = "/api/v1/pcs/alert";
const LEGACY_ALERTS: &str = "/api/alert/pcs";

enum Route {
    Pcs(String),
    Alerts,
}

fn handle(req: &Request) -> Response {
    serve_get(req, route(req.path()), |route| match route {
        Route::Pcs(n) => pcs(req, &n),
        Route::Alerts => pcs_alerts(req),
    })
}

/// The route of `path`, and for a legacy path the v1 path that replaces it.
fn route(path: &str) -> Option<(Route, Option<String>)> {
    let one_segment =
        |rest: &str| (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_owned());
    // `alert` is a route of its own, not a PCS number that fails validation.
    if path == ALERTS {
        return Some((Route::Alerts, None));
    }
    if path == LEGACY_ALERTS {
        return Some((Route::Alerts, Some(ALERTS.to_owned())));
    }
    if let Some(n) = path.strip_prefix("/api/v1/pcs/").and_then(one_segment) {
        return Some((Route::Pcs(n), None));
    }
    if let Some(n) = path.strip_prefix("/api/pcs_info/").and_then(one_segment) {
        let successor = format!("/api/v1/pcs/{n}");
        return Some((Route::Pcs(n), Some(successor)));
    }
    None
}

fn pcs(req: &Request, raw: &str) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
    let n = integer("path", "pcs_number", raw, 0, Some(u64::from(PCS_COUNT - 1)))
        .map(|n| n as u8)
        .map_err(ApiError::validation)?;
    let offset = config::site_offset()?;
    let stale_after: i64 = config::number("live_stale_after_secs")?;
    let key = pcs_key(stores.redis_prefix()?, n);
    // Redis down is not the end: the PCS history may still answer.
    let live = stores.redis(RedisStore::Gtr).and_then(|redis| {
        Ok(live_values(&redis, &key, stale_after)?
            .and_then(|v| Some((PcsReading::from_live(&v)?, v.stale))))
    });
    let shown = choose(live, || {
        let db = stores.db(Database::Pcs)?;
        latest_pcs_row(&db, n)
    })?;
    match shown {
        Some(shown) => Ok(Response::json(200, &PcsView::new(n, shown, offset))),
        None => Err(ApiError::NotFound(format!("No data for pcs{n}"))),
    }
}

fn pcs_alerts(req: &Request) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
    let offset = config::site_offset()?;
    let filter =
        AlertFilter::parse(&Query::parse(req.query()), offset).map_err(ApiError::Validation)?;
    let db = stores.db(Database::Ess)?;
    let devices = Devices {
        kind: Some(ess::DEVICE_PCS),
        number: None,
    };
    let items = alerts::list(&db, &devices, &filter, offset)?;
    Ok(Response::json(200, &AlertList::new(items)))
}
