//! Spin variables, read once each per request.

use crate::error::ApiError;
use crate::store_url::StoreUrl;
use crate::time::UtcOffset;

/// A variable the manifest must define; a missing one is an operator error, reported as a 500.
pub fn var(name: &str) -> Result<String, ApiError> {
    super::bindings::variables::get(name)
        .map_err(|e| super::internal(&format!("variable {name}"), &format!("{e:?}")))
}

/// A store URL variable, parsed. `None` when it is not a valid URL (logged, never echoed).
pub fn store_url(name: &str) -> Result<Option<StoreUrl>, ApiError> {
    let raw = var(name)?;
    match StoreUrl::parse(&raw) {
        Ok(url) => Ok(Some(url)),
        Err(why) => {
            eprintln!("config: variable {name} is not a valid store URL: {why}");
            Ok(None)
        }
    }
}

/// A numeric variable; a value that does not parse is an operator error, reported as a 500.
pub fn number<T: std::str::FromStr>(name: &str) -> Result<T, ApiError> {
    let raw = var(name)?;
    raw.trim()
        .parse()
        .map_err(|_| super::internal("config", &format!("{name} = {raw:?} is not a number")))
}

/// The site's offset from UTC (`site_utc_offset`), for the timestamps in responses.
pub fn site_offset() -> Result<UtcOffset, ApiError> {
    let raw = var("site_utc_offset")?;
    UtcOffset::parse(&raw)
        .ok_or_else(|| super::internal("config", &format!("site_utc_offset {raw:?} is invalid")))
}

/// The dReg parameters: DOMAIN's defaults overridden by the `dreg::variables` the component
/// declares; a value that does not parse or make sense is an operator error (500, logged).
pub fn dreg_params() -> Result<crate::dreg::DregParams, ApiError> {
    crate::dreg::DregParams::from_lookup(|name| super::bindings::variables::get(name).ok())
        .map_err(|why| super::internal("config", &format!("dReg parameters: {why}")))
}

/// The proxies whose `X-Forwarded-For` is believed (`trusted_proxies`). A component that does not
/// declare the variable trusts none; a list that does not parse is an operator error (500, logged)
/// rather than a silent "trust nobody" that would throttle every client as the proxy.
pub fn trusted_proxies() -> Result<crate::proxies::TrustedProxies, ApiError> {
    let Ok(raw) = super::bindings::variables::get("trusted_proxies") else {
        return Ok(crate::proxies::TrustedProxies::none());
    };
    crate::proxies::TrustedProxies::parse(&raw)
        .map_err(|why| super::internal("config", &format!("trusted_proxies: {why}")))
}

/// The address the request came from, as login throttling and rate limits count it: the peer,
/// or behind a trusted proxy the client it forwarded.
pub fn client_ip(req: &crate::http::Request) -> Result<String, ApiError> {
    Ok(req.client_ip(&trusted_proxies()?))
}
