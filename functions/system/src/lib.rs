//! The `system` endpoint group: health (public), and under `telemetry:read` the site overview
//! and topology, with their legacy Flask paths.

use solarhub_shared::error::ApiError;
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::stores::Stores;
use solarhub_shared::guest::trading::{today_income_cents, Settlement};
use solarhub_shared::guest::{config, health, site};
use solarhub_shared::health::HealthReport;
use solarhub_shared::http::{dispatch_get, GetRoute, Request, Response};
use solarhub_shared::schema::{ess, Database};
use solarhub_shared::site::{
    bess_summary, grid_summary, pcs_summary, topology, Overview, Ratings, TodayEnergy,
};
use solarhub_shared::time::{format_iso, now_unix};

const HEALTH: &str = "/api/v1/health";
const OVERVIEW: &str = "/api/v1/system/overview";
const TOPOLOGY: &str = "/api/v1/system/topology";

solarhub_shared::http_component!(route);

const ROUTES: [GetRoute; 3] = [
    GetRoute {
        path: HEALTH,
        legacy: Some("/api/health"),
        handler: health,
    },
    GetRoute {
        path: OVERVIEW,
        legacy: Some("/api/system_overview"),
        handler: overview,
    },
    GetRoute {
        path: TOPOLOGY,
        legacy: Some("/api/topology"),
        handler: topology_route,
    },
];

fn route(req: &Request) -> Response {
    dispatch_get(req, &ROUTES)
}

fn health(_req: &Request) -> Result<Response, ApiError> {
    let report = health_report()?;
    Ok(Response::json(report.http_status(), &report))
}

fn health_report() -> Result<HealthReport, ApiError> {
    let offset = config::site_offset()?;
    let mut mysql = Vec::with_capacity(Database::ALL.len());
    for db in Database::ALL {
        mysql.push(health::Target {
            name: format!("mysql:{}", db.default_name()),
            url: config::store_url(&db.variable())?,
        });
    }
    let redis = [
        health::Target {
            name: "redis:main".into(),
            url: config::store_url("redis_main_url")?,
        },
        health::Target {
            name: "redis:gtr".into(),
            url: config::store_url("redis_gtr_url")?,
        },
    ];
    let mut checks = health::check_mysql(&mysql);
    checks.extend(health::check_redis(&redis));
    Ok(HealthReport::new(
        env!("CARGO_PKG_VERSION"),
        format_iso(now_unix(), offset),
        checks,
    ))
}

fn ratings() -> Result<Ratings, ApiError> {
    Ok(Ratings::new(
        config::var("site_name")?,
        config::number("rack_capacity_kwh")?,
        config::number("pcs_rated_kw")?,
    ))
}

fn overview(req: &Request) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
    let offset = config::site_offset()?;
    let now = now_unix();
    let (live, _failed) = site::live_site(&mut stores, config::number("live_stale_after_secs")?)?;
    let today = site::today_pcs_energy(&mut stores, now, offset)?;
    // Income needs the schedule, PCS and grid-meter history; without one of them the overview
    // still answers, with the income unknown (the store layer logged why).
    let income = match today_income_cents(&mut stores, &Settlement::from_config(now)?) {
        Ok(cents) => Some(cents),
        Err(ApiError::StoreUnavailable(_)) => None,
        Err(e) => return Err(e),
    };
    let alerts = site::alert_counts(&stores.db(Database::Ess)?)?;
    let mode = site::current_mode(&stores.db(Database::Schedule)?, now)?;
    let overview = Overview {
        site: ratings()?,
        bess: bess_summary(&live),
        pcs: pcs_summary(&live),
        grid: grid_summary(&live),
        today: TodayEnergy::new(today, income),
        alerts,
        mode,
        updated_at: format_iso(now, offset),
    };
    Ok(Response::json(200, &overview))
}

fn topology_route(req: &Request) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
    let offset = config::site_offset()?;
    let (live, _failed) = site::live_site(&mut stores, config::number("live_stale_after_secs")?)?;
    Ok(Response::json(200, &topology(&ratings()?, &live, offset)))
}
