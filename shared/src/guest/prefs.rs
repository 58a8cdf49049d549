//! Reading and saving a user's notification preferences (`ess.notification_prefs`).

use super::bindings::mysql::ParameterValue;
use super::rows::Rows;
use super::stores::Db;
use crate::error::ApiError;
use crate::realtime::notify::Recipient;
use crate::realtime::prefs::{Preferences, QuietHours};
use crate::schema::ess::{
    NOTIFICATION_PREFS, PERMISSIONS, PERM_TELEMETRY_READ, ROLE_PERMISSIONS, USERS, USER_ROLES,
};
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
    let prefs = decode(&row)
        .ok_or_else(|| super::internal("notification prefs", &"stored channels do not decode"))?;
    let updated = row
        .str("updated_at")
        .and_then(parse_mysql_datetime)
        .map(|t| format_iso(t, offset));
    Ok((prefs, updated))
}

fn decode(row: &super::rows::Row<'_>) -> Option<Preferences> {
    let channels = serde_json::from_str(row.str("channels")?).ok()?;
    let quiet_hours = match (row.string("quiet_start"), row.string("quiet_end")) {
        (Some(start), Some(end)) => Some(QuietHours { start, end }),
        _ => None,
    };
    Some(Preferences {
        channels,
        quiet_hours,
    })
}

/// Everyone alerts may be sent to now: users with saved channels who are active and may read
/// alerts (`telemetry:read`, the permission `/me/notifications` asks for). A deactivated user, or
/// one whose roles no longer allow it, gets nothing, whatever they saved.
pub fn recipients(db: &Db) -> Result<Vec<Recipient>, ApiError> {
    let sql = format!(
        "SELECT p.user_id, p.channels, p.quiet_start, p.quiet_end FROM {prefs} p \
         JOIN {users} u ON u.id = p.user_id \
         WHERE u.active = 1 AND p.channels <> '[]' AND EXISTS ( \
           SELECT 1 FROM {user_roles} ur \
           JOIN {role_permissions} rp ON rp.role_id = ur.role_id \
           JOIN {permissions} pm ON pm.id = rp.permission_id \
           WHERE ur.user_id = p.user_id AND pm.name = ?) \
         ORDER BY p.user_id",
        prefs = db.table(NOTIFICATION_PREFS),
        users = db.table(USERS),
        user_roles = db.table(USER_ROLES),
        role_permissions = db.table(ROLE_PERMISSIONS),
        permissions = db.table(PERMISSIONS),
    );
    let set = db.query(&sql, &[ParameterValue::Str(PERM_TELEMETRY_READ.into())])?;
    let rows = Rows::new(&set);
    let mut recipients = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        let Some(user_id) = row.i64("user_id").and_then(|id| u64::try_from(id).ok()) else {
            continue;
        };
        match decode(&row) {
            Some(prefs) => recipients.push(Recipient { user_id, prefs }),
            // Written by the API after validation: only a hand edit gets here. Skip that user
            // rather than everyone.
            None => eprintln!("notify: user {user_id}'s stored preferences do not decode"),
        }
    }
    Ok(recipients)
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
