//! The `system` endpoint group: health (and, later, the site overview and topology).

use solarhub_shared::error::ApiError;
use solarhub_shared::guest::{config, health};
use solarhub_shared::health::HealthReport;
use solarhub_shared::http::{Method, Request, Response};
use solarhub_shared::schema::Database;
use solarhub_shared::time::{format_iso, now_unix};

const HEALTH: &str = "/api/v1/health";
const LEGACY_HEALTH: &str = "/api/health";

solarhub_shared::http_component!(route);

fn route(req: &Request) -> Response {
    let path = req.path();
    let legacy = path == LEGACY_HEALTH;
    if path != HEALTH && !legacy {
        return Response::error(&ApiError::not_found_route());
    }
    if *req.method() != Method::Get {
        return Response::error(&ApiError::MethodNotAllowed { allow: "GET" });
    }
    let response = match health_report() {
        Ok(report) => Response::json(report.http_status(), &report),
        Err(err) => Response::error(&err),
    };
    if legacy {
        response.deprecated(HEALTH)
    } else {
        response
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
