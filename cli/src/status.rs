//! `solarhub status`: migration version, row counts per table and size of every database.

use crate::config::Config;
use crate::db::{connect_all, schema_version};
use anyhow::Result;
use mysql_async::prelude::Queryable;

pub async fn run(cfg: &Config) -> Result<()> {
    let mut conns = connect_all(cfg).await?;
    let (mut total_rows, mut total_bytes) = (0u64, 0u64);
    println!(
        "{:<24} {:>7} {:>12} {:>10}",
        "database", "version", "rows", "size MiB"
    );
    for t in &cfg.dbs {
        let conn = &mut conns[t.server];
        let Some(version) = schema_version(conn, &t.name).await? else {
            println!("{:<24} {:>7}", t.name, "missing");
            continue;
        };
        let bytes: Option<Option<u64>> = conn
            .exec_first(
                "SELECT CAST(SUM(DATA_LENGTH + INDEX_LENGTH) AS UNSIGNED) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
                (&t.name,),
            )
            .await?;
        let bytes = bytes.flatten().unwrap_or(0);
        let mut counts = Vec::new();
        let mut rows = 0u64;
        for table in t.db.tables() {
            let n: Option<u64> = conn
                .query_first(format!(
                    "SELECT COUNT(*) FROM {}",
                    cfg.qualified(t.db, table)
                ))
                .await
                .ok()
                .flatten();
            rows += n.unwrap_or(0);
            counts.push(format!(
                "{table}={}",
                n.map_or("?".to_string(), |n| n.to_string())
            ));
        }
        total_rows += rows;
        total_bytes += bytes;
        println!(
            "{:<24} {:>7} {:>12} {:>10.2}   {}",
            t.name,
            version,
            rows,
            bytes as f64 / 1_048_576.0,
            counts.join(" ")
        );
    }
    println!(
        "{:<24} {:>7} {:>12} {:>10.2}",
        "total",
        "",
        total_rows,
        total_bytes as f64 / 1_048_576.0
    );
    for c in conns {
        c.disconnect().await.ok();
    }
    Ok(())
}
