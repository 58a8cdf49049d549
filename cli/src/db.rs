//! MySQL connections: one per server, session in UTC.

use crate::config::{redact, Config};
use anyhow::{anyhow, Result};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// Opens one connection per server of `cfg`, each with `time_zone = '+00:00'`.
pub async fn connect_all(cfg: &Config) -> Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(cfg.servers.len());
    for s in &cfg.servers {
        let mut conn = Conn::new(s.opts.clone()).await.map_err(|e| {
            anyhow!(
                "cannot connect to MySQL at {}: {}",
                s.label,
                redact(&e.to_string())
            )
        })?;
        conn.query_drop("SET time_zone = '+00:00'").await?;
        conns.push(conn);
    }
    Ok(conns)
}

/// Quotes a string literal for MySQL text protocol (backslash and quote escaped).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The highest applied migration version of `name`, or `None` without a migrations table.
pub async fn schema_version(conn: &mut Conn, name: &str) -> Result<Option<u32>> {
    let has: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (name, solarhub_shared::schema::MIGRATIONS_TABLE),
        )
        .await?;
    if has.unwrap_or(0) == 0 {
        return Ok(None);
    }
    let v: Option<Option<u32>> = conn
        .query_first(format!(
            "SELECT MAX(version) FROM `{name}`.`{}`",
            solarhub_shared::schema::MIGRATIONS_TABLE
        ))
        .await?;
    Ok(Some(v.flatten().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes() {
        assert_eq!(quote("a'b\\c"), "'a''b\\\\c'");
        assert_eq!(quote("x\ny"), "'x\\ny'");
    }
}
