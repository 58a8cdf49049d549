//! The SQL of user administration, all parameterised, on the request's one `ess` connection.
//!
//! Every change runs in a transaction that first locks the rows of `roles` ([`lock_roles`]): user
//! changes are thereby serialised, so "is this the last active admin?" cannot be answered
//! differently by two concurrent requests, and the role rows cannot change underneath.

use serde_json::Value;
use solarhub_shared::error::{ApiError, FieldError};
use solarhub_shared::guest::bindings::mysql::ParameterValue;
use solarhub_shared::guest::bindings::rdbms_types::Error as MysqlError;
use solarhub_shared::guest::rows::Rows;
use solarhub_shared::guest::stores::Db;
use solarhub_shared::guest::users::UserView;
use solarhub_shared::schema::ess as tables;
use solarhub_shared::time::{format_iso, parse_mysql_datetime, UtcOffset};

use crate::query::{like_pattern, role_error, ListParams};

fn str(s: &str) -> ParameterValue {
    ParameterValue::Str(s.to_owned())
}

fn id(v: u64) -> ParameterValue {
    ParameterValue::Uint64(v)
}

/// `?, ?, ?` for `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

// ---- roles -----------------------------------------------------------------------------------

pub struct Role {
    pub id: u64,
    pub name: String,
    /// The role carries `users:admin`: its active holders count as admins.
    pub admin: bool,
}

pub struct Roles(pub Vec<Role>);

impl Roles {
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|r| r.name.clone()).collect()
    }

    pub fn is_admin_set(&self, role_ids: &[u64]) -> bool {
        self.0.iter().any(|r| r.admin && role_ids.contains(&r.id))
    }

    pub fn admin_ids(&self) -> Vec<u64> {
        self.0.iter().filter(|r| r.admin).map(|r| r.id).collect()
    }

    /// The ids of `names` (duplicates dropped), or a 422 item per unknown name at
    /// `["body", "roles", index]`.
    pub fn ids(&self, names: &[String]) -> Result<Vec<u64>, Vec<FieldError>> {
        let mut ids = Vec::new();
        let mut errors = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match self.0.iter().find(|r| r.name == *name) {
                Some(r) if !ids.contains(&r.id) => ids.push(r.id),
                Some(_) => {}
                None => errors.push(role_error(
                    vec![Value::from("body"), Value::from("roles"), Value::from(i)],
                    name,
                    &self.names(),
                )),
            }
        }
        if errors.is_empty() {
            Ok(ids)
        } else {
            Err(errors)
        }
    }
}

/// The roles, for reading.
pub fn roles(db: &Db) -> Result<Roles, ApiError> {
    let sql = format!(
        "SELECT r.id, r.name, EXISTS (SELECT 1 FROM {rp} rp JOIN {p} p ON p.id = rp.permission_id \
                                      WHERE rp.role_id = r.id AND p.name = ?) AS admin \
         FROM {roles} r ORDER BY r.name",
        rp = db.table(tables::ROLE_PERMISSIONS),
        p = db.table(tables::PERMISSIONS),
        roles = db.table(tables::ROLES),
    );
    let set = db.query(&sql, &[str(tables::PERM_USERS_ADMIN)])?;
    let rows = Rows::new(&set);
    Ok(Roles(
        rows.iter()
            .filter_map(|row| {
                Some(Role {
                    id: row.i64("id")? as u64,
                    name: row.string("name")?,
                    admin: row.bool("admin").unwrap_or(false),
                })
            })
            .collect(),
    ))
}

/// The roles, locked until the transaction ends (see the module documentation). The rows are
/// locked by one plain scan of the primary key, in id order, so every change takes them in the
/// same order and concurrent ones queue. (Locking them through the query that reads them,
/// sorted by name with a subquery, let two changes each hold part of the rows and deadlock.)
pub fn lock_roles(db: &Db) -> Result<Roles, ApiError> {
    db.query(
        &format!(
            "SELECT id FROM {} ORDER BY id FOR UPDATE",
            db.table(tables::ROLES)
        ),
        &[],
    )?;
    roles(db)
}

// ---- listing ---------------------------------------------------------------------------------

pub struct Page {
    pub total: u64,
    pub items: Vec<UserView>,
}

pub fn list(db: &Db, params: &ListParams, offset: UtcOffset) -> Result<Page, ApiError> {
    let users = db.table(tables::USERS);
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<ParameterValue> = Vec::new();
    if let Some(q) = &params.q {
        conditions.push(
            "(u.username LIKE ? ESCAPE '!' OR u.email LIKE ? ESCAPE '!' OR u.full_name LIKE ? ESCAPE '!')"
                .to_owned(),
        );
        let pattern = like_pattern(q);
        values.extend([str(&pattern), str(&pattern), str(&pattern)]);
    }
    if let Some(role) = &params.role {
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM {ur} ur JOIN {roles} r ON r.id = ur.role_id \
                     WHERE ur.user_id = u.id AND r.name = ?)",
            ur = db.table(tables::USER_ROLES),
            roles = db.table(tables::ROLES),
        ));
        values.push(str(role));
    }
    if let Some(active) = params.active {
        conditions.push("u.active = ?".to_owned());
        values.push(ParameterValue::Int8(i8::from(active)));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };

    let counted = db.query(
        &format!("SELECT COUNT(*) AS total FROM {users} u{filter}"),
        &values,
    )?;
    let total = Rows::new(&counted)
        .first()
        .and_then(|r| r.i64("total"))
        .unwrap_or(0) as u64;

    let mut page_values = values;
    page_values.extend([id(params.page_size), id(params.offset())]);
    let set = db.query(
        &format!(
            "SELECT u.id, u.username, u.email, u.full_name, u.active, \
                    CAST(u.created_at AS CHAR) AS created_at, \
                    CAST(u.last_login_at AS CHAR) AS last_login_at \
             FROM {users} u{filter} ORDER BY {order} LIMIT ? OFFSET ?",
            order = params.sort.order_by(),
        ),
        &page_values,
    )?;
    let rows = Rows::new(&set);
    let mut items: Vec<UserView> = rows
        .iter()
        .filter_map(|row| {
            Some(UserView {
                id: row.i64("id")? as u64,
                username: row.string("username")?,
                email: row.string("email").unwrap_or_default(),
                full_name: row.string("full_name"),
                roles: Vec::new(),
                permissions: Vec::new(),
                active: row.bool("active").unwrap_or(false),
                created_at: row
                    .str("created_at")
                    .and_then(parse_mysql_datetime)
                    .map(|t| format_iso(t, offset)),
                last_login_at: row
                    .str("last_login_at")
                    .and_then(parse_mysql_datetime)
                    .map(|t| format_iso(t, offset)),
            })
        })
        .collect();
    add_roles(db, &mut items)?;
    Ok(Page { total, items })
}

/// Fills in the roles and permissions of `items` with one query.
fn add_roles(db: &Db, items: &mut [UserView]) -> Result<(), ApiError> {
    if items.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT ur.user_id, r.name AS role, p.name AS permission \
         FROM {ur} ur JOIN {roles} r ON r.id = ur.role_id \
         LEFT JOIN {rp} rp ON rp.role_id = r.id \
         LEFT JOIN {p} p ON p.id = rp.permission_id \
         WHERE ur.user_id IN ({ids}) ORDER BY r.name, p.name",
        ur = db.table(tables::USER_ROLES),
        roles = db.table(tables::ROLES),
        rp = db.table(tables::ROLE_PERMISSIONS),
        p = db.table(tables::PERMISSIONS),
        ids = placeholders(items.len()),
    );
    let params: Vec<ParameterValue> = items.iter().map(|u| id(u.id)).collect();
    let set = db.query(&sql, &params)?;
    for row in Rows::new(&set).iter() {
        let Some(user_id) = row.i64("user_id") else {
            continue;
        };
        let Some(user) = items.iter_mut().find(|u| u.id == user_id as u64) else {
            continue;
        };
        solarhub_shared::guest::users::add_grant(
            &mut user.roles,
            &mut user.permissions,
            row.str("role"),
            row.str("permission"),
        );
    }
    for user in items {
        user.permissions.sort();
    }
    Ok(())
}

// ---- one user, inside a transaction ----------------------------------------------------------

/// What a change needs to know about the user it changes.
pub struct Target {
    pub username: String,
    pub email: String,
    pub active: bool,
    pub role_ids: Vec<u64>,
}

/// The user `user_id`, its row locked until the transaction ends; `None` when there is none.
pub fn lock_user(db: &Db, user_id: u64) -> Result<Option<Target>, ApiError> {
    let set = db.query(
        &format!(
            "SELECT username, email, active FROM {users} WHERE id = ? FOR UPDATE",
            users = db.table(tables::USERS)
        ),
        &[id(user_id)],
    )?;
    let rows = Rows::new(&set);
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let (username, email, active) = (
        row.string("username").unwrap_or_default(),
        row.string("email").unwrap_or_default(),
        row.bool("active").unwrap_or(false),
    );
    let set = db.query(
        &format!(
            "SELECT role_id FROM {ur} WHERE user_id = ?",
            ur = db.table(tables::USER_ROLES)
        ),
        &[id(user_id)],
    )?;
    let role_ids = Rows::new(&set)
        .iter()
        .filter_map(|r| r.i64("role_id").map(|v| v as u64))
        .collect();
    Ok(Some(Target {
        username,
        email,
        active,
        role_ids,
    }))
}

/// How many active users other than `except` hold an admin role. A locking read, so it sees
/// the latest committed state rather than the transaction's snapshot.
pub fn other_active_admins(db: &Db, except: u64, roles: &Roles) -> Result<u64, ApiError> {
    let admin_ids = roles.admin_ids();
    if admin_ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "SELECT COUNT(*) AS n FROM {users} u WHERE u.active = 1 AND u.id <> ? \
         AND EXISTS (SELECT 1 FROM {ur} ur WHERE ur.user_id = u.id AND ur.role_id IN ({ids})) \
         LOCK IN SHARE MODE",
        users = db.table(tables::USERS),
        ur = db.table(tables::USER_ROLES),
        ids = placeholders(admin_ids.len()),
    );
    let mut params = vec![id(except)];
    params.extend(admin_ids.into_iter().map(id));
    let set = db.query(&sql, &params)?;
    Ok(Rows::new(&set)
        .first()
        .and_then(|r| r.i64("n"))
        .unwrap_or(0) as u64)
}

/// Which of `username` / `email` another user (not `except`) already has, as a 409 message.
pub fn taken(
    db: &Db,
    username: Option<&str>,
    email: Option<&str>,
    except: Option<u64>,
) -> Result<Option<&'static str>, ApiError> {
    let users = db.table(tables::USERS);
    let except = ParameterValue::Uint64(except.unwrap_or(0));
    if let Some(username) = username {
        let set = db.query(
            &format!("SELECT id FROM {users} WHERE username = ? AND id <> ? LIMIT 1"),
            &[str(username), except.clone()],
        )?;
        if !set.rows.is_empty() {
            return Ok(Some("A user with this username already exists"));
        }
    }
    if let Some(email) = email {
        let set = db.query(
            &format!("SELECT id FROM {users} WHERE email = ? AND id <> ? LIMIT 1"),
            &[str(email), except],
        )?;
        if !set.rows.is_empty() {
            return Ok(Some("A user with this email address already exists"));
        }
    }
    Ok(None)
}

/// A unique key refused the write: someone took the username or email between check and write.
fn write(db: &Db, sql: &str, params: &[ParameterValue]) -> Result<(), ApiError> {
    match db.execute_raw(sql, params) {
        Err(MysqlError::QueryFailed(msg)) if msg.contains("Duplicate entry") => Err(
            ApiError::Conflict("A user with this username or email address already exists".into()),
        ),
        Err(e) => Err(solarhub_shared::guest::mysql::failure(&db.store, &e)),
        Ok(()) => Ok(()),
    }
}

pub struct NewRow<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub full_name: Option<&'a str>,
    pub password_hash: &'a str,
    pub active: bool,
}

/// Inserts the user row; returns its id.
pub fn insert_user(db: &Db, user: &NewRow<'_>) -> Result<u64, ApiError> {
    write(
        db,
        &format!(
            "INSERT INTO {users} (username, email, full_name, password_hash, active) \
             VALUES (?, ?, ?, ?, ?)",
            users = db.table(tables::USERS)
        ),
        &[
            str(user.username),
            str(user.email),
            user.full_name.map_or(ParameterValue::DbNull, str),
            str(user.password_hash),
            ParameterValue::Int8(i8::from(user.active)),
        ],
    )?;
    let set = db.query("SELECT LAST_INSERT_ID() AS id", &[])?;
    Rows::new(&set)
        .first()
        .and_then(|r| r.i64("id"))
        .filter(|&v| v > 0)
        .map(|v| v as u64)
        .ok_or_else(|| solarhub_shared::guest::internal("admin", &"insert returned no id"))
}

/// The columns an update may set; `None` leaves a column alone.
#[derive(Default)]
pub struct RowChanges<'a> {
    pub email: Option<&'a str>,
    pub full_name: Option<Option<&'a str>>,
    pub password_hash: Option<&'a str>,
    pub active: Option<bool>,
}

pub fn update_user(db: &Db, user_id: u64, c: &RowChanges<'_>) -> Result<(), ApiError> {
    let mut sets: Vec<&str> = Vec::new();
    let mut params: Vec<ParameterValue> = Vec::new();
    if let Some(email) = c.email {
        sets.push("email = ?");
        params.push(str(email));
    }
    if let Some(full_name) = c.full_name {
        sets.push("full_name = ?");
        params.push(full_name.map_or(ParameterValue::DbNull, str));
    }
    if let Some(hash) = c.password_hash {
        sets.push("password_hash = ?");
        params.push(str(hash));
    }
    if let Some(active) = c.active {
        sets.push("active = ?");
        params.push(ParameterValue::Int8(i8::from(active)));
    }
    if sets.is_empty() {
        return Ok(());
    }
    sets.push("updated_at = UTC_TIMESTAMP()");
    params.push(id(user_id));
    write(
        db,
        &format!(
            "UPDATE {users} SET {sets} WHERE id = ?",
            users = db.table(tables::USERS),
            sets = sets.join(", ")
        ),
        &params,
    )
}

/// Replaces the user's roles with `role_ids`.
pub fn set_roles(db: &Db, user_id: u64, role_ids: &[u64]) -> Result<(), ApiError> {
    let ur = db.table(tables::USER_ROLES);
    db.execute(
        &format!("DELETE FROM {ur} WHERE user_id = ?"),
        &[id(user_id)],
    )?;
    if role_ids.is_empty() {
        return Ok(());
    }
    let rows = vec!["(?, ?)"; role_ids.len()].join(", ");
    let params: Vec<ParameterValue> = role_ids
        .iter()
        .flat_map(|&r| [id(user_id), id(r)])
        .collect();
    db.execute(
        &format!("INSERT INTO {ur} (user_id, role_id) VALUES {rows}"),
        &params,
    )
}

/// Deletes the user (its role rows go with it; alerts it acknowledged keep the acknowledgement).
pub fn delete_user(db: &Db, user_id: u64) -> Result<(), ApiError> {
    db.execute(
        &format!(
            "DELETE FROM {users} WHERE id = ?",
            users = db.table(tables::USERS)
        ),
        &[id(user_id)],
    )
}
