//! Reading and saving a user's notification preferences (`ess.notification_prefs`).

use super::bindings::mysql::ParameterValue;
use super::rows::Rows;
use super::stores::Db;
use crate::error::ApiError;
use crate::realtime::prefs::{Preferences, QuietHours};
use crate::schema::ess::NOTIFICATION_PREFS;
use crate::time::{format_iso, parse_mysql_datetime, UtcOffset};

/// The preferences of `user` and when they were last saved (`None`: never, the defaults).
pub fn read(
    db: &Db,
    user: u64,
    offset: UtcOffset,
) -> Result<(Preferences, Option<String>), ApiError> {
    let sql = format!(
        "SELECT channels, quiet_start, quiet_end, CAST(updated_at AS CHAR) AS updated_at \
         FROM {} WHERE user_id = ?",
        db.table(NOTIFICATION_PREFS)
    );
    let set = db.query(&sql, &[ParameterValue::Uint64(user)])?;
    let rows = Rows::new(&set);
    let Some(row) = rows.first() else {
        return Ok((Preferences::default(), None));
    };
    let channels = row
        .str("channels")
        .and_then(|json| serde_json::from_str(json).ok())
        .ok_or_else(|| super::internal("notification prefs", &"stored channels do not decode"))?;
    let quiet_hours = match (row.string("quiet_start"), row.string("quiet_end")) {
        (Some(start), Some(end)) => Some(QuietHours { start, end }),
        _ => None,
    };
    let updated = row
        .str("updated_at")
        .and_then(parse_mysql_datetime)
        .map(|t| format_iso(t, offset));
    Ok((
        Preferences {
            channels,
            quiet_hours,
        },
        updated,
    ))
}

/// Replaces the preferences of `user` (one statement: insert or overwrite).
pub fn save(db: &Db, user: u64, prefs: &Preferences) -> Result<(), ApiError> {
    let sql = format!(
        "INSERT INTO {} (user_id, channels, quiet_start, quiet_end, updated_at) \
         VALUES (?, ?, ?, ?, UTC_TIMESTAMP()) \
         ON DUPLICATE KEY UPDATE channels = VALUES(channels), quiet_start = VALUES(quiet_start), \
         quiet_end = VALUES(quiet_end), updated_at = VALUES(updated_at)",
        db.table(NOTIFICATION_PREFS)
    );
    let text = |s: Option<&str>| match s {
        Some(s) => ParameterValue::Str(s.to_owned()),
        None => ParameterValue::DbNull,
    };
    let channels = serde_json::to_string(&prefs.channels)
        .map_err(|e| super::internal("notification prefs", &e))?;
    db.execute(
        &sql,
        &[
            ParameterValue::Uint64(user),
            ParameterValue::Str(channels),
            text(prefs.quiet_hours.as_ref().map(|q| q.start.as_str())),
            text(prefs.quiet_hours.as_ref().map(|q| q.end.as_str())),
        ],
    )
}
