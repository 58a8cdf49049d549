//! The four user-administration routes. Each one authorizes first (`users:admin`), so nothing
//! about the request is validated or revealed to a caller who may not use it.

use serde::Serialize;
use serde_json::{Map, Value};
use solarhub_shared::error::ApiError;
use solarhub_shared::forms::{body_fields, Accepts};
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::internal;
use solarhub_shared::guest::stores::{Db, Stores};
use solarhub_shared::guest::users::{self, UserKey, UserView};
use solarhub_shared::http::{Request, Response};
use solarhub_shared::password;
use solarhub_shared::schema::{ess, Database, RedisStore};
use solarhub_shared::time::UtcOffset;

use crate::query::{self, role_error};
use crate::settings;
use crate::store::{self, NewRow, RowChanges};
use crate::validate::{self, NewUser, UserChanges};

#[derive(Serialize)]
struct UserPage {
    items: Vec<UserView>,
    total: u64,
    page: u64,
    page_size: u64,
}

fn body(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let content_type = req.header("content-type");
    body_fields(content_type, req.body(), Accepts::Json)
}

fn user_id(raw: &str) -> Result<u64, ApiError> {
    query::integer("path", "user_id", raw, 1, None).map_err(ApiError::validation)
}

fn not_found() -> ApiError {
    ApiError::NotFound("User not found".to_owned())
}

fn hash(password: &str) -> Result<String, ApiError> {
    // The policy was checked with the user's identity already; this only hashes.
    password::hash_password(password).map_err(|e| internal("admin: hashing a password", &e))
}

/// The user as clients see it, read after the change committed.
fn view(db: &Db, user_id: u64, offset: UtcOffset) -> Result<UserView, ApiError> {
    users::find(db, UserKey::Id(user_id))?
        .map(|u| u.view(offset))
        .ok_or_else(not_found)
}

/// Runs `work` in a transaction on the `ess` connection, rolling back when it fails. The
/// transaction is left open for the caller to [`commit`] (after revoking sessions, so a change
/// never takes effect while the user's old tokens still work).
fn in_transaction<T>(
    stores: &mut Stores,
    work: impl FnOnce(&Db) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let db = stores.db(Database::Ess)?;
    db.begin(stores)?;
    work(&db).inspect_err(|_| db.rollback())
}

fn commit(stores: &mut Stores) -> Result<(), ApiError> {
    let db = stores.db(Database::Ess)?;
    db.commit().inspect_err(|_| db.rollback())
}

/// Ends the user's sessions inside the open transaction: on failure it is rolled back.
fn end_sessions(stores: &mut Stores, user_id: u64) -> Result<(), ApiError> {
    let revoked = (|| {
        let ttl = settings::refresh_ttl_secs()?;
        let prefix = stores.redis_prefix()?.to_owned();
        let redis = stores.redis(RedisStore::Main)?;
        solarhub_shared::guest::sessions::end_all_sessions(&redis, &prefix, user_id, ttl)
    })();
    match revoked {
        Ok(_) => Ok(()),
        Err(e) => {
            if let Ok(db) = stores.db(Database::Ess) {
                db.rollback();
            }
            Err(e)
        }
    }
}

pub fn list(req: &Request) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_USERS_ADMIN), &mut stores)?;
    let params = query::parse(req.query()).map_err(ApiError::Validation)?;
    let offset = settings::site_offset()?;
    let db = stores.db(Database::Ess)?;
    if let Some(role) = &params.role {
        let roles = store::roles(&db)?;
        if !roles.0.iter().any(|r| r.name == *role) {
            let loc = vec![Value::from("query"), Value::from("role")];
            return Err(ApiError::validation(role_error(loc, role, &roles.names())));
        }
    }
    let page = store::list(&db, &params, offset)?;
    Ok(Response::json(
        200,
        &UserPage {
            items: page.items,
            total: page.total,
            page: params.page,
            page_size: params.page_size,
        },
    ))
}

pub fn create(req: &Request) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_USERS_ADMIN), &mut stores)?;
    let new: NewUser = validate::new_user(&body(req)?).map_err(ApiError::Validation)?;
    let offset = settings::site_offset()?;
    let password_hash = hash(&new.password)?;
    let id = in_transaction(&mut stores, |db| {
        let roles = store::lock_roles(db)?;
        let role_ids = roles.ids(&new.roles).map_err(ApiError::Validation)?;
        if let Some(conflict) = store::taken(db, Some(&new.username), Some(&new.email), None)? {
            return Err(ApiError::Conflict(conflict.to_owned()));
        }
        let id = store::insert_user(
            db,
            &NewRow {
                username: &new.username,
                email: &new.email,
                full_name: new.full_name.as_deref(),
                password_hash: &password_hash,
                active: new.active,
            },
        )?;
        store::set_roles(db, id, &role_ids)?;
        Ok(id)
    })?;
    commit(&mut stores)?;
    let user = view(&stores.db(Database::Ess)?, id, offset)?;
    let mut response = Response::json(201, &user);
    response.set_header("location", format!("/api/v1/admin/users/{id}"));
    Ok(response)
}

pub fn update(req: &Request, raw_id: &str) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_USERS_ADMIN), &mut stores)?;
    let id = user_id(raw_id)?;
    let changes: UserChanges = validate::changes(&body(req)?).map_err(ApiError::Validation)?;
    let offset = settings::site_offset()?;
    let password_hash = changes.password.as_deref().map(hash).transpose()?;
    let access_changed = in_transaction(&mut stores, |db| {
        let roles = store::lock_roles(db)?;
        let role_ids = match &changes.roles {
            Some(names) => Some(roles.ids(names).map_err(ApiError::Validation)?),
            None => None,
        };
        let target = store::lock_user(db, id)?.ok_or_else(not_found)?;
        let email = changes.email.as_deref().unwrap_or(&target.email);
        if let Some(password) = &changes.password {
            validate::password_for(password, &target.username, email)
                .map_err(ApiError::Validation)?;
        }
        if changes.email.is_some() {
            if let Some(conflict) = store::taken(db, None, Some(email), Some(id))? {
                return Err(ApiError::Conflict(conflict.to_owned()));
            }
        }
        let roles_changed = role_ids
            .as_ref()
            .is_some_and(|ids| !same_set(ids, &target.role_ids));
        let active = changes.active.unwrap_or(target.active);
        let was_admin = target.active && roles.is_admin_set(&target.role_ids);
        let will_be_admin =
            active && roles.is_admin_set(role_ids.as_ref().unwrap_or(&target.role_ids));
        if was_admin && !will_be_admin && store::other_active_admins(db, id, &roles)? == 0 {
            return Err(ApiError::Conflict(
                "This is the last active admin: another active admin is needed first".to_owned(),
            ));
        }
        store::update_user(
            db,
            id,
            &RowChanges {
                email: changes.email.as_deref(),
                full_name: changes.full_name.as_ref().map(Option::as_deref),
                password_hash: password_hash.as_deref(),
                active: changes.active,
            },
        )?;
        if let (Some(ids), true) = (&role_ids, roles_changed) {
            store::set_roles(db, id, ids)?;
        }
        Ok(roles_changed || active != target.active || password_hash.is_some())
    })?;
    if access_changed {
        end_sessions(&mut stores, id)?;
    }
    commit(&mut stores)?;
    let user = view(&stores.db(Database::Ess)?, id, offset)?;
    Ok(Response::json(200, &user))
}

pub fn delete(req: &Request, raw_id: &str) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    let caller = authorize(req, Some(ess::PERM_USERS_ADMIN), &mut stores)?;
    let id = user_id(raw_id)?;
    if caller.user_id == id {
        return Err(ApiError::Conflict(
            "You cannot delete your own account".to_owned(),
        ));
    }
    in_transaction(&mut stores, |db| {
        let roles = store::lock_roles(db)?;
        let target = store::lock_user(db, id)?.ok_or_else(not_found)?;
        let is_admin = target.active && roles.is_admin_set(&target.role_ids);
        if is_admin && store::other_active_admins(db, id, &roles)? == 0 {
            return Err(ApiError::Conflict(
                "This is the last active admin and cannot be deleted".to_owned(),
            ));
        }
        store::delete_user(db, id)
    })?;
    end_sessions(&mut stores, id)?;
    commit(&mut stores)?;
    Ok(Response::empty(204))
}

fn same_set(a: &[u64], b: &[u64]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}
