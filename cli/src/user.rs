//! `solarhub user create --username U --email E [--full-name N] --role admin|operator|viewer`.
//! The password comes from `SOLARHUB_USER_PASSWORD` or a no-echo prompt on a terminal.

use crate::config::{redact, Config};
use anyhow::{anyhow, bail, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, TxOpts};
use solarhub_shared::password::{hash_password, validate_password};
use solarhub_shared::schema::{ess, Database};
use std::io::IsTerminal;

pub struct NewUser {
    pub username: String,
    pub email: String,
    pub full_name: Option<String>,
    pub role: String,
}

pub fn validate_username(u: &str) -> Result<()> {
    if !(3..=64).contains(&u.len())
        || !u
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        bail!("username must be 3..64 characters of letters, digits, '.', '_' or '-'");
    }
    Ok(())
}

pub fn validate_email(e: &str) -> Result<()> {
    let ok = e.len() <= 255
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && match e.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if !ok {
        bail!("invalid email address");
    }
    Ok(())
}

/// The password from the environment, or prompted twice without echo on a terminal.
pub fn read_password() -> Result<String> {
    if let Ok(p) = std::env::var("SOLARHUB_USER_PASSWORD") {
        if !p.is_empty() {
            return Ok(p);
        }
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: set SOLARHUB_USER_PASSWORD or run on a terminal to be prompted");
    }
    let p1 = rpassword::prompt_password("Password: ")?;
    validate_password(&p1).map_err(|e| anyhow!("{e}"))?;
    let p2 = rpassword::prompt_password("Repeat password: ")?;
    if p1 != p2 {
        bail!("the passwords do not match");
    }
    Ok(p1)
}

pub async fn create(cfg: &Config, u: &NewUser) -> Result<u64> {
    validate_username(&u.username)?;
    validate_email(&u.email)?;
    if !ess::ROLES_ALL.contains(&u.role.as_str()) {
        bail!("--role must be one of {}", ess::ROLES_ALL.join(", "));
    }
    if let Some(n) = &u.full_name {
        if n.chars().count() > 255 {
            bail!("--full-name is longer than 255 characters");
        }
    }
    let password = read_password()?;
    validate_password(&password).map_err(|e| anyhow!("{e}"))?;
    let hash = hash_password(&password).map_err(|e| anyhow!("{e}"))?;
    drop(password);

    let target = cfg.target(Database::Ess);
    let server = &cfg.servers[target.server];
    let mut conn = Conn::new(server.opts.clone()).await.map_err(|e| {
        anyhow!(
            "cannot connect to MySQL at {}: {}",
            server.label,
            redact(&e.to_string())
        )
    })?;
    conn.query_drop("SET time_zone = '+00:00'").await?;
    if crate::db::schema_version(&mut conn, &target.name)
        .await?
        .is_none()
    {
        bail!(
            "database {} is not migrated: run `solarhub migrate` first",
            target.name
        );
    }
    let users = cfg.qualified(Database::Ess, ess::USERS);
    let roles = cfg.qualified(Database::Ess, ess::ROLES);
    let user_roles = cfg.qualified(Database::Ess, ess::USER_ROLES);
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    let role_id: Option<u32> = tx
        .exec_first(format!("SELECT id FROM {roles} WHERE name = ?"), (&u.role,))
        .await?;
    let role_id =
        role_id.ok_or_else(|| anyhow!("role {} is missing from {}", u.role, target.name))?;
    let inserted = tx
        .exec_drop(
            format!(
                "INSERT INTO {users} (username, email, full_name, password_hash, active, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, 1, UTC_TIMESTAMP(), UTC_TIMESTAMP())"
            ),
            (&u.username, &u.email, &u.full_name, &hash),
        )
        .await;
    match inserted {
        Ok(()) => {}
        Err(mysql_async::Error::Server(e)) if e.code == 1062 => {
            bail!("a user with this username or email already exists")
        }
        Err(e) => return Err(e.into()),
    }
    let id = tx
        .last_insert_id()
        .ok_or_else(|| anyhow!("no user id returned"))?;
    tx.exec_drop(
        format!("INSERT INTO {user_roles} (user_id, role_id) VALUES (?, ?)"),
        (id, role_id),
    )
    .await?;
    tx.commit().await?;
    conn.disconnect().await.ok();
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_emails() {
        assert!(validate_username("admin").is_ok());
        assert!(validate_username("ops.team-1").is_ok());
        assert!(validate_username("ab").is_err());
        assert!(validate_username("has space").is_err());
        assert!(validate_username("ünï").is_err());
        assert!(validate_email("a@b.tw").is_ok());
        assert!(validate_email("a@b").is_err());
        assert!(validate_email("@b.tw").is_err());
        assert!(validate_email("a b@c.tw").is_err());
        assert!(validate_email("a@@b.tw").is_err());
    }
}
