//! The alert log as the dashboard reads it: filters from the query string (validated the FastAPI
//! way) and the shape of one alert.

use serde::Serialize;

use crate::error::FieldError;
use crate::params::{boolean, instant, integer, Query};
use crate::time::UtcOffset;

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 500;

/// `active_only`, `since`, `limit` of the alert routes.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFilter {
    pub active_only: bool,
    /// Unix seconds: alerts that started at or after it.
    pub since: Option<i64>,
    pub limit: u64,
}

impl AlertFilter {
    pub fn parse(query: &Query, offset: UtcOffset) -> Result<AlertFilter, Vec<FieldError>> {
        let mut errors = Vec::new();
        let active_only = query
            .get("active_only")
            .map(|raw| boolean("query", "active_only", raw))
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten()
            .unwrap_or(false);
        let since = query
            .get("since")
            .map(|raw| instant("query", "since", raw, offset))
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let limit = query
            .get("limit")
            .map(|raw| integer("query", "limit", raw, 1, Some(MAX_LIMIT)))
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_LIMIT);
        if errors.is_empty() {
            Ok(AlertFilter {
                active_only,
                since,
                limit,
            })
        } else {
            Err(errors)
        }
    }
}

/// One alert as clients see it; times carry the site's offset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    pub id: u64,
    pub device_kind: String,
    pub device_no: u8,
    pub code: String,
    pub level: String,
    pub message: String,
    pub started_at: String,
    pub cleared_at: Option<String>,
    pub active: bool,
    pub acknowledged: bool,
}

/// A list of alerts, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertList {
    pub items: Vec<AlertView>,
    pub count: usize,
}

impl AlertList {
    pub fn new(items: Vec<AlertView>) -> AlertList {
        AlertList {
            count: items.len(),
            items,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<AlertFilter, Vec<(&'static str, String)>> {
        AlertFilter::parse(&Query::parse(q), UtcOffset::SITE_DEFAULT).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| (e.kind, e.loc[1].as_str().unwrap().to_owned()))
                .collect()
        })
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(
            parse(""),
            Ok(AlertFilter {
                active_only: false,
                since: None,
                limit: 100
            })
        );
        let f = parse("active_only=true&since=2026-11-22&limit=500").unwrap();
        assert!(f.active_only);
        assert_eq!(f.since, Some(1_795_276_800));
        assert_eq!(f.limit, 500);
    }

    #[test]
    fn every_bad_value_is_reported_at_its_location() {
        let errors = parse("active_only=maybe&since=yesterday&limit=0").unwrap_err();
        assert_eq!(
            errors,
            vec![
                ("bool_parsing", "active_only".to_owned()),
                ("datetime_from_date_parsing", "since".to_owned()),
                ("greater_than_equal", "limit".to_owned()),
            ]
        );
        assert_eq!(parse("limit=501").unwrap_err()[0].0, "less_than_equal");
        assert_eq!(parse("limit=ten").unwrap_err()[0].0, "int_parsing");
    }
}
