//! Reading and acknowledging the alert log (`ess.alerts`). Every listing (one rack, the PCS, the
//! whole site) goes through the same filter, so the routes cannot disagree about what matches.

use super::bindings::mysql::ParameterValue;
use super::rows::{Row, Rows};
use super::stores::Db;
use crate::alerts::{AlertFilter, AlertView};
use crate::error::ApiError;
use crate::schema::ess::ALERTS;
use crate::time::{format_iso, format_mysql_datetime, parse_mysql_datetime, UtcOffset};

/// Which device(s) a listing is about.
pub struct Devices<'a> {
    /// One kind (`bess`, `pcs`), or every kind.
    pub kind: Option<&'a str>,
    /// One device number (of that kind, or of any kind), or all of them.
    pub number: Option<u8>,
}

/// The columns of an [`AlertView`]; DATETIMEs as text, which Spin's MySQL connector can carry.
const COLUMNS: &str = "id, device_kind, device_no, code, level, message, \
    CAST(started_at AS CHAR) AS started_at, CAST(cleared_at AS CHAR) AS cleared_at, \
    acknowledged, acknowledged_by, CAST(acknowledged_at AS CHAR) AS acknowledged_at";

/// `WHERE ...` (possibly empty) for `devices` and `filter`, and its parameters. Its columns lead
/// the alert indexes (device, kind + time, active + level).
fn conditions(devices: &Devices<'_>, filter: &AlertFilter) -> (String, Vec<ParameterValue>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    if let Some(kind) = devices.kind {
        clauses.push("device_kind = ?");
        params.push(ParameterValue::Str(kind.to_owned()));
    }
    if let Some(n) = devices.number {
        clauses.push("device_no = ?");
        params.push(ParameterValue::Uint8(n));
    }
    if filter.active_only {
        clauses.push("cleared_at IS NULL");
    }
    if let Some(level) = filter.level {
        clauses.push("level = ?");
        params.push(ParameterValue::Str(level.to_owned()));
    }
    if let Some(since) = filter.since {
        clauses.push("started_at >= ?");
        params.push(ParameterValue::Str(format_mysql_datetime(since)));
    }
    if clauses.is_empty() {
        (String::new(), params)
    } else {
        (format!(" WHERE {}", clauses.join(" AND ")), params)
    }
}

/// Alerts of `devices` matching `filter`, newest first, at most `filter.limit`.
pub fn list(
    db: &Db,
    devices: &Devices<'_>,
    filter: &AlertFilter,
    offset: UtcOffset,
) -> Result<Vec<AlertView>, ApiError> {
    let (conditions, mut params) = conditions(devices, filter);
    let sql = format!(
        "SELECT {COLUMNS} FROM {}{conditions} ORDER BY started_at DESC, id DESC LIMIT ?",
        db.table(ALERTS)
    );
    params.push(ParameterValue::Uint64(filter.limit));
    let set = db.query(&sql, &params)?;
    Rows::new(&set)
        .iter()
        .map(|row| decode(&row, offset))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| super::internal("alerts", &"a row did not decode"))
}

/// How many alerts of `devices` match `filter`, ignoring its limit.
pub fn count(db: &Db, devices: &Devices<'_>, filter: &AlertFilter) -> Result<u64, ApiError> {
    let (conditions, params) = conditions(devices, filter);
    let sql = format!("SELECT COUNT(*) AS n FROM {}{conditions}", db.table(ALERTS));
    let set = db.query(&sql, &params)?;
    Rows::new(&set)
        .first()
        .and_then(|row| u64::try_from(row.i64("n")?).ok())
        .ok_or_else(|| super::internal("alerts", &"COUNT(*) did not decode"))
}

/// The alert with this id, if any.
pub fn find(db: &Db, id: u64, offset: UtcOffset) -> Result<Option<AlertView>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM {} WHERE id = ?", db.table(ALERTS));
    let set = db.query(&sql, &[ParameterValue::Uint64(id)])?;
    let rows = Rows::new(&set);
    match rows.first() {
        None => Ok(None),
        Some(row) => decode(&row, offset)
            .map(Some)
            .ok_or_else(|| super::internal("alerts", &"a row did not decode")),
    }
}

/// Acknowledges alert `id` as user `by`, now, unless it is acknowledged already: the condition in
/// the one UPDATE keeps the first acknowledgement's who and when, even against a concurrent one.
/// Then the alert as it now is, and whether this call acknowledged it (so only the first
/// acknowledgement publishes an event); `None` when no alert has this id.
pub fn acknowledge(
    db: &Db,
    id: u64,
    by: u64,
    offset: UtcOffset,
) -> Result<Option<(AlertView, bool)>, ApiError> {
    match find(db, id, offset)? {
        None => return Ok(None),
        Some(alert) if alert.acknowledged => return Ok(Some((alert, false))),
        Some(_) => {}
    }
    let sql = format!(
        "UPDATE {} SET acknowledged = 1, acknowledged_by = ?, acknowledged_at = UTC_TIMESTAMP() \
         WHERE id = ? AND acknowledged = 0",
        db.table(ALERTS)
    );
    // Applied twice it changes nothing more (the condition), so a lost connection is retried.
    db.execute_repeatable(
        &sql,
        &[ParameterValue::Uint64(by), ParameterValue::Uint64(id)],
    )?;
    // Unacknowledged a moment ago and now acknowledged by `by`: this call did it (a concurrent
    // acknowledgement by someone else shows their id; by the same user, it may count twice).
    Ok(find(db, id, offset)?.map(|alert| {
        let ours = alert.acknowledged_by == Some(by);
        (alert, ours)
    }))
}

fn decode(row: &Row<'_>, offset: UtcOffset) -> Option<AlertView> {
    let time = |column: &str| row.str(column).and_then(parse_mysql_datetime);
    let cleared = time("cleared_at");
    Some(AlertView {
        id: u64::try_from(row.i64("id")?).ok()?,
        device_kind: row.string("device_kind")?,
        device_no: u8::try_from(row.i64("device_no")?).ok()?,
        code: row.string("code")?,
        level: row.string("level")?,
        message: row.string("message")?,
        started_at: format_iso(time("started_at")?, offset),
        cleared_at: cleared.map(|t| format_iso(t, offset)),
        active: cleared.is_none(),
        acknowledged: row.bool("acknowledged")?,
        acknowledged_by: row
            .i64("acknowledged_by")
            .and_then(|v| u64::try_from(v).ok()),
        acknowledged_at: time("acknowledged_at").map(|t| format_iso(t, offset)),
    })
}
