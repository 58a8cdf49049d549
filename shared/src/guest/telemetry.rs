//! History rows the telemetry endpoints fall back to when a live value is stale.

use super::rows::Rows;
use super::stores::Db;
use crate::error::ApiError;
use crate::schema::bess::RACK_DATA;
use crate::telemetry::RackReading;
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
