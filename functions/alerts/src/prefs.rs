//! `GET/PUT /api/v1/me/notifications` (`telemetry:read`: whoever may see alerts may have them
//! sent): the caller's own notification preferences, validated by `realtime::prefs`, with the
//! targets checked against what the notifier may reach (`realtime::destinations`), and the key
//! the caller's webhook deliveries are signed with.

use serde_json::json;
use solarhub_shared::error::ApiError;
use solarhub_shared::forms::{body_fields, Accepts};
use solarhub_shared::guest::config;
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::prefs;
use solarhub_shared::guest::stores::Stores;
use solarhub_shared::http::{Method, Request, Response};
use solarhub_shared::realtime::destinations::{Destinations, WEBHOOK_SECRET_VAR};
use solarhub_shared::realtime::prefs::Preferences;
use solarhub_shared::realtime::sign;
use solarhub_shared::schema::{ess, Database};

pub const PATH: &str = "/api/v1/me/notifications";

fn lookup(name: &str) -> Option<String> {
    config::var(name).ok()
}

pub fn route(req: &Request) -> Result<Response, ApiError> {
    match req.method() {
        Method::Get | Method::Put => {}
        _ => return Err(ApiError::MethodNotAllowed { allow: "GET, PUT" }),
    }
    let mut stores = Stores::new();
    let caller = authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
    let offset = config::site_offset()?;
    if *req.method() == Method::Put {
        let body = body_fields(req.header("content-type"), req.body(), Accepts::Json)?;
        let wanted = Preferences::from_body(&body).map_err(ApiError::Validation)?;
        let (site, problems) = Destinations::from(lookup);
        for problem in problems {
            eprintln!("notification preferences: configuration: {problem}");
        }
        wanted
            .check_destinations(&site)
            .map_err(ApiError::Validation)?;
        prefs::save(&stores.db(Database::Ess)?, caller.user_id, &wanted)?;
    }
    let (saved, updated_at) = prefs::read(&stores.db(Database::Ess)?, caller.user_id, offset)?;
    let signing_key = lookup(WEBHOOK_SECRET_VAR)
        .filter(|s| !s.trim().is_empty())
        .map(|secret| sign::user_key(secret.trim().as_bytes(), caller.user_id));
    Ok(Response::json(
        200,
        &json!({
            "channels": saved.channels,
            "quiet_hours": saved.quiet_hours,
            "timezone": config::var("site_utc_offset")?,
            "updated_at": updated_at,
            "webhook_signing_key": signing_key,
        }),
    ))
}
