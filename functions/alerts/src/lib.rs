//! The `alerts` endpoint group: the site's alert log across every device.
//!
//! - `GET  /api/v1/alerts` (`telemetry:read`): filtered by `device_kind`, `device_no`, `level`,
//!   `active_only`, `since`; newest first, at most `limit`, with the `total` that match
//! - `POST /api/v1/alerts/{alert_id}/ack` (`alerts:ack`): records who acknowledged it and when;
//!   acknowledging again changes nothing and answers the alert as it is; the first one publishes
//!   an `acknowledged` alert event (`realtime::events`)
//! - `GET/PUT /api/v1/me/notifications` (`telemetry:read`): the caller's notification
//!   preferences (`prefs.rs`)

use solarhub_shared::alerts::{AlertPage, AlertView, SiteAlertQuery};
use solarhub_shared::error::ApiError;
use solarhub_shared::guest::alerts::{self, Devices};
use solarhub_shared::guest::config;
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::realtime;
use solarhub_shared::guest::stores::Stores;
use solarhub_shared::http::{answer, Method, Request, Response};
use solarhub_shared::params::{integer, Query};
use solarhub_shared::realtime::events::{AlertEvent, EventKind};
use solarhub_shared::schema::{ess, Database, RedisStore};

mod prefs;

solarhub_shared::http_component!(handle);

const ALERTS: &str = "/api/v1/alerts";

fn handle(req: &Request) -> Response {
    answer(route(req))
}

fn route(req: &Request) -> Result<Response, ApiError> {
    let path = req.path();
    if path == prefs::PATH {
        return prefs::route(req);
    }
    if path == ALERTS {
        return match req.method() {
            Method::Get => list(req),
            _ => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        };
    }
    // `/{alert_id}/ack`: one non-empty segment, validated after authorizing.
    let id = path
        .strip_prefix(ALERTS)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_suffix("/ack"))
        .filter(|id| !id.is_empty() && !id.contains('/'));
    match id {
        Some(id) => match req.method() {
            Method::Post => acknowledge(req, id),
            _ => Err(ApiError::MethodNotAllowed { allow: "POST" }),
        },
        None => Err(ApiError::not_found_route()),
    }
}

fn list(req: &Request) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
    let offset = config::site_offset()?;
    let query =
        SiteAlertQuery::parse(&Query::parse(req.query()), offset).map_err(ApiError::Validation)?;
    let db = stores.db(Database::Ess)?;
    let devices = Devices {
        kind: query.kind,
        number: query.number,
    };
    let items = alerts::list(&db, &devices, &query.filter, offset)?;
    // A page shorter than the limit is everything there is: no COUNT needed.
    let total = if (items.len() as u64) < query.filter.limit {
        items.len() as u64
    } else {
        alerts::count(&db, &devices, &query.filter)?
    };
    Ok(Response::json(200, &AlertPage::new(items, total)))
}

fn acknowledge(req: &Request, raw_id: &str) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    let caller = authorize(req, Some(ess::PERM_ALERTS_ACK), &mut stores)?;
    let id = integer("path", "alert_id", raw_id, 1, None).map_err(ApiError::validation)?;
    let offset = config::site_offset()?;
    let db = stores.db(Database::Ess)?;
    match alerts::acknowledge(&db, id, caller.user_id, offset)? {
        Some((alert, acknowledged_now)) => {
            if acknowledged_now {
                announce(&mut stores, &alert);
            }
            Ok(Response::json(200, &alert))
        }
        None => Err(ApiError::NotFound(format!("Alert {id} not found"))),
    }
}

/// Publishes the acknowledgement (see `realtime::events`). The acknowledgement is recorded in
/// MySQL already, the source of truth: a failure to publish is logged, not the caller's error.
fn announce(stores: &mut Stores, alert: &AlertView) {
    let at = alert.acknowledged_at.clone().unwrap_or_default();
    let event = AlertEvent::new(EventKind::Acknowledged, at, alert.clone());
    let published = stores.redis_prefix().map(str::to_owned).and_then(|prefix| {
        let redis = stores.redis(RedisStore::Main)?;
        realtime::publish(&redis, &prefix, event)
    });
    if let Err(e) = published {
        eprintln!(
            "alert {} acknowledged, but its event was not published: {}",
            alert.id,
            e.body()["detail"]
        );
    }
}
