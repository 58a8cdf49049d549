//! The `config` endpoint group: the dashboard's frame, for any valid token.
//!
//! - `GET /api/v1/config/sidebar`: menu entries the caller's permissions allow, device lists and
//!   active-alert badges (the last two only for callers who may read telemetry)
//! - `GET /api/v1/config/header`: site name, local now, the caller, the schedule mode, whether
//!   each store answered, active alerts; it answers 200 even with a store down (that is what
//!   the connectivity part is for)
//! - the legacy Flask paths `/api/sidebar_info` and `/api/header_info`

use solarhub_shared::error::ApiError;
use solarhub_shared::frame::{sidebar, CallerView, Connectivity, Header};
use solarhub_shared::guest::bindings::mysql::ParameterValue;
use solarhub_shared::guest::guard::{authorize, Caller};
use solarhub_shared::guest::rows::Rows;
use solarhub_shared::guest::stores::{scan_hash_keys, Db, Stores};
use solarhub_shared::guest::{config, site};
use solarhub_shared::http::{dispatch_get, GetRoute, Request, Response};
use solarhub_shared::schema::{ess, meter_key, meter_scan_pattern, Database, RedisStore};
use solarhub_shared::time::{format_iso, now_unix};

const SIDEBAR: &str = "/api/v1/config/sidebar";
const HEADER: &str = "/api/v1/config/header";

solarhub_shared::http_component!(route);

const ROUTES: [GetRoute; 2] = [
    GetRoute {
        path: SIDEBAR,
        legacy: Some("/api/sidebar_info"),
        handler: sidebar_route,
    },
    GetRoute {
        path: HEADER,
        legacy: Some("/api/header_info"),
        handler: header_route,
    },
];

fn route(req: &Request) -> Response {
    dispatch_get(req, &ROUTES)
}

fn sidebar_route(req: &Request) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    let caller = authorize(req, None, &mut stores)?;
    if !caller
        .permissions
        .iter()
        .any(|p| p == ess::PERM_TELEMETRY_READ)
    {
        return Ok(Response::json(
            200,
            &sidebar(&caller.permissions, Vec::new(), &[]),
        ));
    }
    let prefix = stores.redis_prefix()?.to_owned();
    let pattern = meter_scan_pattern(&prefix);
    let name_at = meter_key(&prefix, "").len();
    let mut keys = scan_hash_keys(&stores.redis(RedisStore::Main)?, &pattern)?;
    keys.sort();
    let meters = keys
        .into_iter()
        .filter_map(|key| key.get(name_at..).map(str::to_owned))
        .collect();
    let active = active_by_kind(&stores.db(Database::Ess)?)?;
    Ok(Response::json(
        200,
        &sidebar(&caller.permissions, meters, &active),
    ))
}

/// Active alerts per device kind.
fn active_by_kind(db: &Db) -> Result<Vec<(String, u64)>, ApiError> {
    let sql = format!(
        "SELECT device_kind, COUNT(*) AS n FROM {} WHERE cleared_at IS NULL GROUP BY device_kind",
        db.table(ess::ALERTS)
    );
    let set = db.query(&sql, &[] as &[ParameterValue])?;
    Ok(Rows::new(&set)
        .iter()
        .filter_map(|row| Some((row.string("device_kind")?, row.i64("n")?.max(0) as u64)))
        .collect())
}

fn header_route(req: &Request) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    // The guard read the main Redis: reaching here means it answered.
    let caller: Caller = authorize(req, None, &mut stores)?;
    let offset = config::site_offset()?;
    let now = now_unix();
    let redis_gtr = stores
        .redis(RedisStore::Gtr)
        .and_then(|gtr| gtr.run("PING", &[]))
        .is_ok();
    // A store that fails here is reported, not fatal: the header shows connectivity.
    let from_mysql = (|| {
        let alerts = site::alert_counts(&stores.db(Database::Ess)?)?;
        let mode = site::current_mode(&stores.db(Database::Schedule)?, now)?;
        Ok::<_, ApiError>((alerts.active, mode))
    })();
    let header = Header {
        site_name: config::var("site_name")?,
        now: format_iso(now, offset),
        caller: CallerView {
            username: caller.username,
            roles: caller.roles,
        },
        mode: from_mysql.as_ref().ok().map(|(_, mode)| mode.clone()),
        connectivity: Connectivity {
            mysql: from_mysql.is_ok(),
            redis_main: true,
            redis_gtr,
        },
        active_alerts: from_mysql.as_ref().ok().map(|(active, _)| *active),
    };
    Ok(Response::json(200, &header))
}
