//! Users, with their roles and permissions, as the auth and admin components read them.

use super::bindings::mysql::ParameterValue;
use serde::Serialize;

use super::rows::Rows;
use super::stores::Db;
use crate::error::ApiError;
use crate::schema::ess as tables;
use crate::time::{format_iso, parse_mysql_datetime, UtcOffset};

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub full_name: Option<String>,
    pub password_hash: String,
    pub active: bool,
    /// Unix seconds.
    pub created_at: Option<i64>,
    pub last_login_at: Option<i64>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

/// What a user looks like to clients (`/auth/me`, `/admin/users`): never the hash.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub full_name: Option<String>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub active: bool,
    pub created_at: Option<String>,
    pub last_login_at: Option<String>,
}

impl UserRecord {
    pub fn view(&self, offset: UtcOffset) -> UserView {
        UserView {
            id: self.id,
            username: self.username.clone(),
            email: self.email.clone(),
            full_name: self.full_name.clone(),
            roles: self.roles.clone(),
            permissions: self.permissions.clone(),
            active: self.active,
            created_at: self.created_at.map(|t| format_iso(t, offset)),
            last_login_at: self.last_login_at.map(|t| format_iso(t, offset)),
        }
    }
}

pub enum UserKey<'a> {
    Id(u64),
    Username(&'a str),
}

/// One user with roles and permissions, in one round trip.
pub fn find(db: &Db, key: UserKey<'_>) -> Result<Option<UserRecord>, ApiError> {
    let (condition, param) = match key {
        UserKey::Id(id) => ("u.id = ?", ParameterValue::Uint64(id)),
        UserKey::Username(name) => ("u.username = ?", ParameterValue::Str(name.to_owned())),
    };
    let sql = format!(
        "SELECT u.id, u.username, u.email, u.full_name, u.password_hash, u.active, \
                CAST(u.created_at AS CHAR) AS created_at, CAST(u.last_login_at AS CHAR) AS last_login_at, \
                r.name AS role, p.name AS permission \
         FROM {users} u \
         LEFT JOIN {user_roles} ur ON ur.user_id = u.id \
         LEFT JOIN {roles} r ON r.id = ur.role_id \
         LEFT JOIN {role_permissions} rp ON rp.role_id = r.id \
         LEFT JOIN {permissions} p ON p.id = rp.permission_id \
         WHERE {condition} ORDER BY r.name, p.name",
        users = db.table(tables::USERS),
        user_roles = db.table(tables::USER_ROLES),
        roles = db.table(tables::ROLES),
        role_permissions = db.table(tables::ROLE_PERMISSIONS),
        permissions = db.table(tables::PERMISSIONS),
    );
    let set = db.query(&sql, &[param])?;
    let rows = Rows::new(&set);
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut user = UserRecord {
        id: first.i64("id").unwrap_or_default() as u64,
        username: first.string("username").unwrap_or_default(),
        email: first.string("email").unwrap_or_default(),
        full_name: first.string("full_name"),
        password_hash: first.string("password_hash").unwrap_or_default(),
        active: first.bool("active").unwrap_or(false),
        created_at: first.str("created_at").and_then(parse_mysql_datetime),
        last_login_at: first.str("last_login_at").and_then(parse_mysql_datetime),
        roles: Vec::new(),
        permissions: Vec::new(),
    };
    for row in rows.iter() {
        add_grant(
            &mut user.roles,
            &mut user.permissions,
            row.str("role"),
            row.str("permission"),
        );
    }
    user.permissions.sort();
    Ok(Some(user))
}

/// Adds the role and permission of one `user_roles ⋈ roles ⋈ permissions` row, each name once.
pub fn add_grant(
    roles: &mut Vec<String>,
    permissions: &mut Vec<String>,
    role: Option<&str>,
    permission: Option<&str>,
) {
    if let Some(role) = role.filter(|r| !roles.iter().any(|held| held == r)) {
        roles.push(role.to_owned());
    }
    if let Some(p) = permission.filter(|p| !permissions.iter().any(|held| held == p)) {
        permissions.push(p.to_owned());
    }
}
