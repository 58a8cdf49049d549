//! History rows the telemetry endpoints fall back to when a live value is stale.

use super::bindings::mysql::ParameterValue;
use super::rows::{Row, Rows};
use super::stores::Db;
use crate::energy::PowerSample;
use crate::error::ApiError;
use crate::meters::{InverterReading, MeterReading};
use crate::schema::bess::RACK_DATA;
use crate::schema::inverter::INVERTER_1;
use crate::schema::pcs;
use crate::telemetry::{PcsReading, RackReading};
use crate::time::{format_mysql_datetime, parse_mysql_datetime};

/// The newest row of `table` (an index lookup on the `ts` primary key), `ts` selected as text
/// and parsed as UTC, the other `columns` decoded by `decode`; a row that does not decode is a
/// 500 (the schema and the code disagree).
fn newest_row<T>(
    db: &Db,
    table: &str,
    columns: &str,
    decode: impl FnOnce(i64, &Row<'_>) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    let sql = format!(
        "SELECT CAST(ts AS CHAR) AS ts, {columns} FROM {} ORDER BY ts DESC LIMIT 1",
        db.table(table)
    );
    let set = db.query(&sql, &[])?;
    let rows = Rows::new(&set);
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    row.str("ts")
        .and_then(parse_mysql_datetime)
        .and_then(|ts| decode(ts, &row))
        .map(Some)
        .ok_or_else(|| super::internal(table, &"a row did not decode"))
}

/// The newest row of a rack database.
pub fn latest_rack_row(db: &Db) -> Result<Option<RackReading>, ApiError> {
    let columns = "status, soc, soh, voltage, current, power_kw, cell_v_max_mv, cell_v_min_mv, \
                   temp_max, temp_min, temp_avg, alarm_count";
    newest_row(db, RACK_DATA, columns, |ts, row| {
        Some(RackReading {
            ts,
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
    })
}

/// The newest row of a meter table (`MMAIN` or `MAUX`) of the `Meter` database.
pub fn latest_meter_row(db: &Db, table: &str) -> Result<Option<MeterReading>, ApiError> {
    let columns = "I_a, I_b, I_c, Vll_ab, Vll_bc, Vll_ca, KW_tot, KVAR_tot, PF, freq";
    newest_row(db, table, columns, |ts, row| {
        Some(MeterReading {
            ts,
            i_a: row.f64("I_a")?,
            i_b: row.f64("I_b")?,
            i_c: row.f64("I_c")?,
            vll_ab: row.f64("Vll_ab")?,
            vll_bc: row.f64("Vll_bc")?,
            vll_ca: row.f64("Vll_ca")?,
            kw_tot: row.f64("KW_tot")?,
            kvar_tot: row.f64("KVAR_tot")?,
            pf: row.f64("PF")?,
            freq: row.f64("freq")?,
        })
    })
}

/// The newest row of `Inverter.INVERTER_1`.
pub fn latest_inverter_row(db: &Db) -> Result<Option<InverterReading>, ApiError> {
    let columns = "CAST(status AS CHAR) AS status, ac_kw, dc_kw, today_kwh, lifetime_kwh";
    newest_row(db, INVERTER_1, columns, |ts, row| {
        Some(InverterReading {
            ts,
            status: row.string("status")?,
            ac_kw: row.f64("ac_kw")?,
            dc_kw: row.f64("dc_kw")?,
            today_kwh: row.f64("today_kwh")?,
            lifetime_kwh: row.f64("lifetime_kwh")?,
        })
    })
}

/// The `(ts, column)` samples of `table` in `[from, to)` (Unix seconds), in time order: an index
/// range scan on the `ts` primary key. `column` is one of our own column names, never input.
///
/// The time is selected as seconds since 1970-01-01 by date arithmetic rather than
/// `UNIX_TIMESTAMP(ts)`, and the bounds are bound as UTC datetime text rather than
/// `FROM_UNIXTIME(?)`: both of those convert through the session time zone, which a Spin MySQL
/// connection leaves at the server's default, while `ts` holds UTC.
pub fn power_samples(
    db: &Db,
    table: &str,
    column: &str,
    from: i64,
    to: i64,
) -> Result<Vec<PowerSample>, ApiError> {
    let sql = format!(
        "SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', ts) AS t, {column} AS kw \
         FROM {} WHERE ts >= ? AND ts < ? ORDER BY ts",
        db.table(table)
    );
    let params = [
        ParameterValue::Str(format_mysql_datetime(from)),
        ParameterValue::Str(format_mysql_datetime(to)),
    ];
    let set = db.query(&sql, &params)?;
    let rows = Rows::new(&set);
    let mut samples = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        match (row.i64("t"), row.f64("kw")) {
            (Some(ts), Some(kw)) => samples.push(PowerSample { ts, kw }),
            _ => return Err(super::internal(table, &"a sample did not decode")),
        }
    }
    Ok(samples)
}

/// The newest row of PCS `n` (0 or 1) in the `PCS` database; `None` for an unknown PCS, like an
/// empty table.
pub fn latest_pcs_row(db: &Db, n: u8) -> Result<Option<PcsReading>, ApiError> {
    let Some(table) = pcs::table(n) else {
        return Ok(None);
    };
    let columns =
        "status, p_kw, q_kvar, dc_v, dc_a, v_a, v_b, v_c, i_a, i_b, i_c, freq, fault_code";
    newest_row(db, table, columns, |ts, row| {
        Some(PcsReading {
            ts,
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
    })
}
