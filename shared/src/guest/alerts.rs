//! Reading the alert log (`ess.alerts`).

use super::bindings::mysql::ParameterValue;
use super::rows::Rows;
use super::stores::Db;
use crate::alerts::{AlertFilter, AlertView};
use crate::error::ApiError;
use crate::schema::ess::ALERTS;
use crate::time::{format_iso, format_mysql_datetime, parse_mysql_datetime, UtcOffset};

/// Which device(s) a listing is about.
pub struct Devices<'a> {
    pub kind: &'a str,
    /// One device of that kind, or all of them.
    pub number: Option<u8>,
}

/// Alerts of `devices` matching `filter`, newest first (the device/time indexes serve it).
pub fn list(
    db: &Db,
    devices: &Devices<'_>,
    filter: &AlertFilter,
    offset: UtcOffset,
) -> Result<Vec<AlertView>, ApiError> {
    let mut sql = format!(
        "SELECT id, device_kind, device_no, code, level, message, \
                CAST(started_at AS CHAR) AS started_at, CAST(cleared_at AS CHAR) AS cleared_at, \
                acknowledged \
         FROM {} WHERE device_kind = ?",
        db.table(ALERTS)
    );
    let mut params = vec![ParameterValue::Str(devices.kind.to_owned())];
    if let Some(n) = devices.number {
        sql.push_str(" AND device_no = ?");
        params.push(ParameterValue::Uint8(n));
    }
    if filter.active_only {
        sql.push_str(" AND cleared_at IS NULL");
    }
    if let Some(since) = filter.since {
        sql.push_str(" AND started_at >= ?");
        params.push(ParameterValue::Str(format_mysql_datetime(since)));
    }
    sql.push_str(" ORDER BY started_at DESC, id DESC LIMIT ?");
    params.push(ParameterValue::Uint64(filter.limit));
    let set = db.query(&sql, &params)?;
    Rows::new(&set)
        .iter()
        .map(|row| {
            let cleared = row.str("cleared_at").and_then(parse_mysql_datetime);
            Some(AlertView {
                id: u64::try_from(row.i64("id")?).ok()?,
                device_kind: row.string("device_kind")?,
                device_no: u8::try_from(row.i64("device_no")?).ok()?,
                code: row.string("code")?,
                level: row.string("level")?,
                message: row.string("message")?,
                started_at: format_iso(
                    row.str("started_at").and_then(parse_mysql_datetime)?,
                    offset,
                ),
                cleared_at: cleared.map(|t| format_iso(t, offset)),
                active: cleared.is_none(),
                acknowledged: row.bool("acknowledged")?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| super::internal("alerts", &"a row did not decode"))
}
