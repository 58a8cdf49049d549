//! The alert log as the dashboard reads it: filters from the query string (validated the FastAPI
//! way) and the shape of one alert.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::params::{boolean, choice, instant, integer, Query};
use crate::schema::ess::{DEVICE_BESS, DEVICE_PCS};
use crate::schema::{PCS_COUNT, RACK_COUNT};
use crate::time::UtcOffset;

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 500;

/// `alerts.level` values, least severe first.
pub const LEVELS: [&str; 3] = ["info", "warning", "critical"];
/// `alerts.device_kind` values.
pub const DEVICE_KINDS: [&str; 2] = [DEVICE_BESS, DEVICE_PCS];

/// The device numbers of a kind: racks 1..=12, PCS 0..=1.
pub fn device_numbers(kind: &str) -> (u8, u8) {
    if kind == DEVICE_PCS {
        (0, PCS_COUNT - 1)
    } else {
        (1, RACK_COUNT)
    }
}

/// `active_only`, `since`, `limit` of the alert routes, and the site-wide listing's `level`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFilter {
    pub active_only: bool,
    /// Unix seconds: alerts that started at or after it.
    pub since: Option<i64>,
    pub limit: u64,
    /// One level only (`info`, `warning`, `critical`), or every level.
    pub level: Option<&'static str>,
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
                level: None,
            })
        } else {
            Err(errors)
        }
    }
}

/// The query of the site-wide listing (`GET /api/v1/alerts`): which devices, which level, and the
/// common filters.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteAlertQuery {
    /// `bess` or `pcs`, or every kind.
    pub kind: Option<&'static str>,
    /// One device number (of `kind` when given), or every device.
    pub number: Option<u8>,
    pub filter: AlertFilter,
}

impl SiteAlertQuery {
    /// Every bad parameter is reported, in the order the operation declares them.
    pub fn parse(query: &Query, offset: UtcOffset) -> Result<SiteAlertQuery, Vec<FieldError>> {
        let mut errors = Vec::new();
        let kind = query
            .get("device_kind")
            .map(|raw| choice("query", "device_kind", raw, &DEVICE_KINDS))
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        // Without a kind any number a device has (0..=12); with one, that kind's numbers, so a
        // rack 0 or a PCS 5 is a 422 rather than an empty list.
        let (min, max) = kind.map_or((0, RACK_COUNT), device_numbers);
        let number = query
            .get("device_no")
            .map(|raw| integer("query", "device_no", raw, min.into(), Some(max.into())))
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten()
            .map(|n| n as u8);
        let level = query
            .get("level")
            .map(|raw| choice("query", "level", raw, &LEVELS))
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let filter = AlertFilter::parse(query, offset).map_err(|e| errors.extend(e));
        match filter {
            Ok(filter) if errors.is_empty() => Ok(SiteAlertQuery {
                kind,
                number,
                filter: AlertFilter { level, ..filter },
            }),
            _ => Err(errors),
        }
    }
}

/// One alert as clients see it; times carry the site's offset. (Deserialized by the notifier,
/// which receives it inside alert events.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The user id of who acknowledged it (null when not acknowledged, or that user is gone).
    pub acknowledged_by: Option<u64>,
    pub acknowledged_at: Option<String>,
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

/// A page of the site-wide listing: the alerts shown and how many match in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertPage {
    pub items: Vec<AlertView>,
    /// Alerts on this page (at most `limit`).
    pub count: usize,
    /// Alerts matching the filters, beyond the page too.
    pub total: u64,
}

impl AlertPage {
    pub fn new(items: Vec<AlertView>, total: u64) -> AlertPage {
        AlertPage {
            count: items.len(),
            items,
            total,
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
                limit: 100,
                level: None,
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

    fn site(q: &str) -> Result<SiteAlertQuery, Vec<(&'static str, String)>> {
        SiteAlertQuery::parse(&Query::parse(q), UtcOffset::SITE_DEFAULT).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| (e.kind, e.loc[1].as_str().unwrap().to_owned()))
                .collect()
        })
    }

    #[test]
    fn site_wide_query_defaults_and_values() {
        let all = site("").unwrap();
        assert_eq!((all.kind, all.number, all.filter.level), (None, None, None));
        assert_eq!(all.filter.limit, DEFAULT_LIMIT);
        let q = site("device_kind=pcs&device_no=1&level=critical&active_only=1&limit=5").unwrap();
        assert_eq!(q.kind, Some("pcs"));
        assert_eq!(q.number, Some(1));
        assert_eq!(q.filter.level, Some("critical"));
        assert!(q.filter.active_only);
        assert_eq!(q.filter.limit, 5);
        // A number without a kind: any device that has it.
        assert_eq!(site("device_no=0").unwrap().number, Some(0));
        assert_eq!(site("device_no=12").unwrap().number, Some(12));
        assert_eq!(
            site("device_kind=bess&device_no=12").unwrap().number,
            Some(12)
        );
    }

    #[test]
    fn site_wide_query_reports_every_bad_parameter_in_order() {
        let errors =
            site("limit=0&level=fatal&device_no=x&device_kind=inverter&since=soon").unwrap_err();
        assert_eq!(
            errors,
            vec![
                ("enum", "device_kind".to_owned()),
                ("int_parsing", "device_no".to_owned()),
                ("enum", "level".to_owned()),
                ("datetime_from_date_parsing", "since".to_owned()),
                ("greater_than_equal", "limit".to_owned()),
            ]
        );
        // The kind bounds the number.
        assert_eq!(
            site("device_kind=pcs&device_no=2").unwrap_err(),
            vec![("less_than_equal", "device_no".to_owned())]
        );
        assert_eq!(
            site("device_kind=bess&device_no=0").unwrap_err(),
            vec![("greater_than_equal", "device_no".to_owned())]
        );
        assert_eq!(
            site("device_no=13").unwrap_err(),
            vec![("less_than_equal", "device_no".to_owned())]
        );
        assert_eq!(site("limit=501").unwrap_err()[0].0, "less_than_equal");
    }
}
