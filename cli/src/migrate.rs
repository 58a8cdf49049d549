//! `solarhub migrate`: creates every database if missing and applies its pending migrations,
//! recorded in `schema_migrations`, under a per-database `GET_LOCK` so concurrent runs are safe.

use crate::config::{Config, DbTarget};
use crate::db::connect_all;
use anyhow::{anyhow, bail, Context, Result};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use solarhub_shared::schema::{checksum, Migration, MIGRATIONS_TABLE};
use std::time::Instant;

/// Seconds to wait for another migrator holding a database's lock.
const LOCK_TIMEOUT_S: u32 = 300;

pub struct Outcome {
    pub database: String,
    pub created: bool,
    pub applied: Vec<&'static Migration>,
    pub version: u32,
}

pub async fn run(cfg: &Config, quiet: bool) -> Result<Vec<Outcome>> {
    let started = Instant::now();
    let mut conns = connect_all(cfg).await?;
    let mut outcomes = Vec::new();
    for t in &cfg.dbs {
        let conn = &mut conns[t.server];
        let o = migrate_one(conn, t)
            .await
            .with_context(|| format!("migrating database {}", t.name))?;
        if !quiet {
            if o.applied.is_empty() {
                println!(
                    "{:<24} {}up to date (version {})",
                    o.database,
                    if o.created { "created, " } else { "" },
                    o.version
                );
            } else {
                let names: Vec<String> = o
                    .applied
                    .iter()
                    .map(|m| format!("{:04}_{}", m.version, m.name))
                    .collect();
                println!(
                    "{:<24} {}applied {}: {}",
                    o.database,
                    if o.created { "created, " } else { "" },
                    names.len(),
                    names.join(", ")
                );
            }
        }
        outcomes.push(o);
    }
    for c in conns {
        c.disconnect().await.ok();
    }
    let changed = outcomes
        .iter()
        .filter(|o| o.created || !o.applied.is_empty())
        .count();
    let applied: usize = outcomes.iter().map(|o| o.applied.len()).sum();
    if changed == 0 {
        println!(
            "nothing changed: all {} databases are up to date ({:.2} s)",
            outcomes.len(),
            started.elapsed().as_secs_f64()
        );
    } else {
        println!(
            "{changed} database(s) changed, {applied} migration(s) applied ({:.2} s)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(outcomes)
}

fn lock_name(db: &str) -> String {
    let name = format!("solarhub_migrate:{db}");
    if name.len() <= 64 {
        name
    } else {
        format!("solarhub_migrate:{}", checksum(db))
    }
}

async fn migrate_one(conn: &mut Conn, t: &DbTarget) -> Result<Outcome> {
    let name = &t.name;
    // IF NOT EXISTS raises a warning (1007) instead of creating when the database exists,
    // which tells two concurrent runs apart without a race.
    conn.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .await?;
    let existed = conn.get_warnings() > 0;
    let lock = lock_name(name);
    let got: Option<Option<i64>> = conn
        .exec_first("SELECT GET_LOCK(?, ?)", (&lock, LOCK_TIMEOUT_S))
        .await?;
    if got.flatten() != Some(1) {
        bail!("could not take the migration lock {lock} within {LOCK_TIMEOUT_S} s");
    }
    let result = apply_pending(conn, t).await;
    let released: Result<Option<Option<i64>>, _> =
        conn.exec_first("SELECT RELEASE_LOCK(?)", (&lock,)).await;
    let (applied, version) = result?;
    released?;
    Ok(Outcome {
        database: name.clone(),
        created: !existed,
        applied,
        version,
    })
}

async fn apply_pending(conn: &mut Conn, t: &DbTarget) -> Result<(Vec<&'static Migration>, u32)> {
    let name = &t.name;
    conn.query_drop(format!("USE `{name}`")).await?;
    // Bookkeeping statements name the database explicitly: prepared statements are cached per
    // connection and keep the database they were prepared in, whatever `USE` says later.
    let table = format!("`{name}`.`{MIGRATIONS_TABLE}`");
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            version      INT UNSIGNED NOT NULL,
            name         VARCHAR(128) NOT NULL,
            checksum     CHAR(16)     NOT NULL,
            applied_at   DATETIME     NOT NULL DEFAULT (UTC_TIMESTAMP()),
            execution_ms INT UNSIGNED NOT NULL DEFAULT 0,
            PRIMARY KEY (version)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
    ))
    .await?;
    let recorded: Vec<(u32, String, String)> = conn
        .query(format!(
            "SELECT version, name, checksum FROM {table} ORDER BY version"
        ))
        .await?;
    let known = t.db.migrations();
    for (version, mname, sum) in &recorded {
        let m = known
            .iter()
            .find(|m| m.version == *version)
            .ok_or_else(|| {
                anyhow!(
                    "{name} has migration {version} ({mname}) that this binary does not know: \
                 the database is newer than this build"
                )
            })?;
        if m.checksum() != *sum {
            bail!(
                "{name}: applied migration {} was edited after it was applied \
                 (checksum {sum} in the database, {} in {}); add a new migration instead",
                m.version,
                m.checksum(),
                m.file
            );
        }
    }
    let mut applied = Vec::new();
    for m in known {
        if recorded.iter().any(|(v, _, _)| *v == m.version) {
            continue;
        }
        let started = Instant::now();
        for (i, stmt) in m.statements().iter().enumerate() {
            conn.query_drop(*stmt).await.with_context(|| {
                format!(
                    "{} statement {} failed: {}",
                    m.file,
                    i + 1,
                    stmt.lines().next().unwrap_or("")
                )
            })?;
        }
        conn.exec_drop(
            format!(
                "INSERT INTO {table} (version, name, checksum, applied_at, execution_ms) \
                 VALUES (?, ?, ?, UTC_TIMESTAMP(), ?)"
            ),
            (
                m.version,
                m.name,
                m.checksum(),
                started.elapsed().as_millis() as u64,
            ),
        )
        .await?;
        applied.push(m);
    }
    let version = known.last().map_or(0, |m| m.version);
    Ok((applied, version))
}

/// Fails unless every database exists and is at its latest migration.
pub async fn require_current(cfg: &Config, conns: &mut [Conn]) -> Result<()> {
    for t in &cfg.dbs {
        let want = t.db.migrations().last().map_or(0, |m| m.version);
        let have = crate::db::schema_version(&mut conns[t.server], &t.name).await?;
        match have {
            Some(v) if v >= want => {}
            Some(v) => bail!(
                "database {} is at migration {v}, this build needs {want}: run `solarhub migrate`",
                t.name
            ),
            None => bail!(
                "database {} is missing or not migrated: run `solarhub migrate`",
                t.name
            ),
        }
    }
    Ok(())
}
