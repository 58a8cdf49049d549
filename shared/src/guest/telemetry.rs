//! History rows the telemetry endpoints fall back to when a live value is stale.

use super::rows::Rows;
use super::stores::Db;
use crate::error::ApiError;
use crate::schema::bess::RACK_DATA;
use crate::schema::pcs;
use crate::telemetry::{PcsReading, RackReading};
use crate::time::parse_mysql_datetime;

/// The newest row of a rack database (an index lookup on the `ts` primary key).
pub fn latest_rack_row(db: &Db) -> Result<Option<RackReading>, ApiError> {
    let sql = format!(
        "SELECT CAST(ts AS CHAR) AS ts, status, soc, soh, voltage, current, power_kw, cell_v_max_mv, \
                cell_v_min_mv, temp_max, temp_min, temp_avg, alarm_count \
         FROM {} ORDER BY ts DESC LIMIT 1",
        db.table(RACK_DATA)
    );
    let set = db.query(&sql, &[])?;
    let rows = Rows::new(&set);
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let ts = row.str("ts").and_then(parse_mysql_datetime);
    let decoded = (|| {
        Some(RackReading {
            ts: ts?,
            status: row.string("status")?,
            soc: row.f64("soc")?,
            soh: row.f64("soh")?,
            voltage: row.f64("voltage")?,
            current: row.f64("current")?,
            power_kw: row.f64("power_kw")?,
            cell_v_max_mv: row.i64("cell_v_max_mv")?,
            cell_v_min_mv: row.i64("cell_v_min_mv")?,
            temp_max: row.f64("temp_max")?,
            temp_min: row.f64("temp_min")?,
            temp_avg: row.f64("temp_avg")?,
            alarm_count: row.i64("alarm_count")?,
        })
    })();
    decoded
        .map(Some)
        .ok_or_else(|| super::internal("rack_data", &"a row did not decode"))
}

/// The newest row of PCS `n` (0 or 1) in the `PCS` database; `None` for an unknown PCS, like an
/// empty table.
pub fn latest_pcs_row(db: &Db, n: u8) -> Result<Option<PcsReading>, ApiError> {
    let Some(table) = pcs::table(n) else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT CAST(ts AS CHAR) AS ts, status, p_kw, q_kvar, dc_v, dc_a, v_a, v_b, v_c, \
                i_a, i_b, i_c, freq, fault_code \
         FROM {} ORDER BY ts DESC LIMIT 1",
        db.table(table)
    );
    let set = db.query(&sql, &[])?;
    let rows = Rows::new(&set);
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let ts = row.str("ts").and_then(parse_mysql_datetime);
    let decoded = (|| {
        Some(PcsReading {
            ts: ts?,
            status: row.string("status")?,
            p_kw: row.f64("p_kw")?,
            q_kvar: row.f64("q_kvar")?,
            dc_v: row.f64("dc_v")?,
            dc_a: row.f64("dc_a")?,
            v_a: row.f64("v_a")?,
            v_b: row.f64("v_b")?,
            v_c: row.f64("v_c")?,
            i_a: row.f64("i_a")?,
            i_b: row.f64("i_b")?,
            i_c: row.f64("i_c")?,
            freq: row.f64("freq")?,
            fault_code: u16::try_from(row.i64("fault_code")?).ok()?,
        })
    })();
    decoded
        .map(Some)
        .ok_or_else(|| super::internal(table, &"a row did not decode"))
}
