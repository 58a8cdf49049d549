//! The `system` endpoint group: health (public), and under `telemetry:read` the site overview
//! and topology, with their legacy Flask paths.

use solarhub_shared::error::ApiError;
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::stores::Stores;
use solarhub_shared::guest::{config, health, site};
use solarhub_shared::health::HealthReport;
use solarhub_shared::http::{answer, Method, Request, Response};
use solarhub_shared::schema::{ess, Database};
use solarhub_shared::site::{
    bess_summary, grid_summary, pcs_summary, topology, Overview, Ratings, TodayEnergy,
};
use solarhub_shared::time::{format_iso, now_unix};

const HEALTH: &str = "/api/v1/health";
const OVERVIEW: &str = "/api/v1/system/overview";
const TOPOLOGY: &str = "/api/v1/system/topology";

solarhub_shared::http_component!(route);

fn route(req: &Request) -> Response {
    // (handler, the v1 path, whether the path is the legacy Flask one)
    let (handler, successor, legacy): (fn(&Request) -> Response, &str, bool) = match req.path() {
        HEALTH => (health_route, HEALTH, false),
        "/api/health" => (health_route, HEALTH, true),
        OVERVIEW => (overview_route, OVERVIEW, false),
        "/api/system_overview" => (overview_route, OVERVIEW, true),
        TOPOLOGY => (topology_route, TOPOLOGY, false),
        "/api/topology" => (topology_route, TOPOLOGY, true),
        _ => return Response::error(&ApiError::not_found_route()),
    };
    if *req.method() != Method::Get {
        return Response::error(&ApiError::MethodNotAllowed { allow: "GET" });
    }
    let response = handler(req);
    if legacy {
        response.deprecated(successor)
    } else {
        response
    }
}

fn health_route(_req: &Request) -> Response {
    match health_report() {
        Ok(report) => Response::json(report.http_status(), &report),
        Err(err) => Response::error(&err),
    }
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

fn overview_route(req: &Request) -> Response {
    answer(overview(req))
}

fn overview(req: &Request) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
    let offset = config::site_offset()?;
    let now = now_unix();
    let (live, _failed) = site::live_site(&mut stores, config::number("live_stale_after_secs")?)?;
    let today = site::today_pcs_energy(&mut stores, now, offset)?;
    let alerts = site::alert_counts(&stores.db(Database::Ess)?)?;
    let mode = site::current_mode(&stores.db(Database::Schedule)?, now)?;
    let overview = Overview {
        site: ratings()?,
        bess: bess_summary(&live),
        pcs: pcs_summary(&live),
        grid: grid_summary(&live),
        today: TodayEnergy::from(today),
        alerts,
        mode,
        updated_at: format_iso(now, offset),
    };
    Ok(Response::json(200, &overview))
}

fn topology_route(req: &Request) -> Response {
    answer((|| {
        let mut stores = Stores::new();
        authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
        let offset = config::site_offset()?;
        let (live, _failed) =
            site::live_site(&mut stores, config::number("live_stale_after_secs")?)?;
        Ok(Response::json(200, &topology(&ratings()?, &live, offset)))
    })())
}
