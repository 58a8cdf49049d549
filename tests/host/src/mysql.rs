//! fermyon:spin/mysql@2.0.0 on mysql_async, with Spin's semantics: the allow-list is checked on
//! `open`, statements run as prepared statements (binary protocol), and column types map to
//! `db-value`s exactly as Spin maps them — DECIMAL, DATE, DATETIME, JSON and friends are `other`,
//! and a non-NULL value in such a column fails the query, so a component that works here works on
//! Spin too.
//!
//! Like Spin, every `open` makes a new server connection, owned by the guest's resource: it closes
//! when the guest drops the handle or its instance goes away (the `Store`'s table drops it), and
//! never returns to a pool. `StoreCounters::mysql` counts them.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Value};
use wasmtime::component::Resource;

use crate::bindings::mysql::{Host, HostConnection};
use crate::bindings::rdbms_types::{self, Column, DbDataType, DbValue, ParameterValue, RowSet};
use crate::state::{ConnectionCounter, InstanceState};

type Error = rdbms_types::Error;

/// A guest's MySQL connection. Dropping it closes the server connection (mysql_async sends
/// COM_QUIT from a background task).
pub struct MysqlConnection {
    conn: Conn,
    counter: Arc<ConnectionCounter>,
}

impl Drop for MysqlConnection {
    fn drop(&mut self) {
        self.counter.closes.fetch_add(1, Ordering::Relaxed);
    }
}

/// Parses a guest address like Spin does: `ssl-mode`/`sslmode` query keys are Spin's own, not
/// mysql_async's. This host speaks plain TCP only, so any mode but DISABLED is refused.
fn build_opts(address: &str) -> Result<Opts, String> {
    let (base, query) = match address.split_once('?') {
        Some((b, q)) => (b, q),
        None => (address, ""),
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key.eq_ignore_ascii_case("ssl-mode") || key.eq_ignore_ascii_case("sslmode") {
            if !value.eq_ignore_ascii_case("disabled") {
                return Err("TLS (ssl-mode) is not supported by this host".to_owned());
            }
        } else {
            kept.push(pair);
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Opts::from_url(&url).map_err(|e| format!("{e:?}"))
}

/// Spin sets none; a test host should not hang on a server that never answers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl Host for InstanceState {}

impl HostConnection for InstanceState {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<MysqlConnection>, Error>> {
        if !self.ctx.allowed.allows(&address) {
            crate::outbound::log_denied(&self.ctx.id, &address);
            return Ok(Err(Error::ConnectionFailed(format!(
                "address {address} is not permitted"
            ))));
        }
        let opts = match build_opts(&address) {
            Ok(opts) => opts,
            Err(e) => return Ok(Err(Error::ConnectionFailed(e))),
        };
        let conn = match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Ok(Err(Error::ConnectionFailed(format!("{e:?}")))),
            Err(_) => {
                return Ok(Err(Error::ConnectionFailed(
                    "connection timed out".to_owned(),
                )))
            }
        };
        let counter = self.ctx.stores.mysql.clone();
        counter.opens.fetch_add(1, Ordering::Relaxed);
        Ok(Ok(self.table.push(MysqlConnection { conn, counter })?))
    }

    async fn query(
        &mut self,
        this: Resource<MysqlConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        let conn = &mut self.table.get_mut(&this)?.conn;
        let params = to_params(params);
        let mut result = match conn.exec_iter(statement, params).await {
            Ok(r) => r,
            Err(e) => return Ok(Err(Error::QueryFailed(format!("{e:?}")))),
        };
        let Some(columns) = result.columns() else {
            return Ok(Err(Error::Other(
                "unable to stream query result".to_owned(),
            )));
        };
        let columns: Vec<Column> = columns
            .iter()
            .map(|c| Column {
                name: c.name_str().into_owned(),
                data_type: data_type(c),
            })
            .collect();
        let raw_rows: Vec<mysql_async::Row> = match result.collect().await {
            Ok(rows) => rows,
            Err(e) => return Ok(Err(Error::Other(e.to_string()))),
        };
        let mut rows = Vec::with_capacity(raw_rows.len());
        for row in raw_rows {
            let values = row.unwrap();
            let mut out = Vec::with_capacity(values.len());
            for (value, column) in values.into_iter().zip(&columns) {
                match convert(value, column) {
                    Ok(v) => out.push(v),
                    Err(e) => return Ok(Err(e)),
                }
            }
            rows.push(out);
        }
        Ok(Ok(RowSet { columns, rows }))
    }

    async fn execute(
        &mut self,
        this: Resource<MysqlConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let conn = &mut self.table.get_mut(&this)?.conn;
        Ok(conn
            .exec_drop(statement, to_params(params))
            .await
            .map_err(|e| Error::QueryFailed(format!("{e:?}"))))
    }

    async fn drop(&mut self, this: Resource<MysqlConnection>) -> wasmtime::Result<()> {
        // The connection closes with it.
        self.table.delete(this)?;
        Ok(())
    }
}

impl rdbms_types::Host for InstanceState {}

fn to_params(params: Vec<ParameterValue>) -> mysql_async::Params {
    if params.is_empty() {
        return mysql_async::Params::Empty;
    }
    mysql_async::Params::Positional(
        params
            .into_iter()
            .map(|p| match p {
                ParameterValue::Boolean(b) => Value::Int(i64::from(b)),
                ParameterValue::Int8(v) => Value::Int(v.into()),
                ParameterValue::Int16(v) => Value::Int(v.into()),
                ParameterValue::Int32(v) => Value::Int(v.into()),
                ParameterValue::Int64(v) => Value::Int(v),
                ParameterValue::Uint8(v) => Value::UInt(v.into()),
                ParameterValue::Uint16(v) => Value::UInt(v.into()),
                ParameterValue::Uint32(v) => Value::UInt(v.into()),
                ParameterValue::Uint64(v) => Value::UInt(v),
                ParameterValue::Floating32(v) => Value::Float(v),
                ParameterValue::Floating64(v) => Value::Double(v),
                ParameterValue::Str(s) => Value::Bytes(s.into_bytes()),
                ParameterValue::Binary(b) => Value::Bytes(b),
                ParameterValue::DbNull => Value::NULL,
            })
            .collect(),
    )
}

fn data_type(column: &mysql_async::Column) -> DbDataType {
    let unsigned = column.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = column.flags().contains(ColumnFlags::BINARY_FLAG);
    match column.column_type() {
        ColumnType::MYSQL_TYPE_TINY if unsigned => DbDataType::Uint8,
        ColumnType::MYSQL_TYPE_TINY => DbDataType::Int8,
        ColumnType::MYSQL_TYPE_SHORT if unsigned => DbDataType::Uint16,
        ColumnType::MYSQL_TYPE_SHORT => DbDataType::Int16,
        ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG if unsigned => {
            DbDataType::Uint32
        }
        ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG => DbDataType::Int32,
        ColumnType::MYSQL_TYPE_LONGLONG if unsigned => DbDataType::Uint64,
        ColumnType::MYSQL_TYPE_LONGLONG => DbDataType::Int64,
        ColumnType::MYSQL_TYPE_FLOAT => DbDataType::Floating32,
        ColumnType::MYSQL_TYPE_DOUBLE => DbDataType::Floating64,
        ColumnType::MYSQL_TYPE_VARCHAR
        | ColumnType::MYSQL_TYPE_VAR_STRING
        | ColumnType::MYSQL_TYPE_STRING
            if binary =>
        {
            DbDataType::Binary
        }
        ColumnType::MYSQL_TYPE_VARCHAR
        | ColumnType::MYSQL_TYPE_VAR_STRING
        | ColumnType::MYSQL_TYPE_STRING => DbDataType::Str,
        ColumnType::MYSQL_TYPE_TINY_BLOB
        | ColumnType::MYSQL_TYPE_BLOB
        | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
        | ColumnType::MYSQL_TYPE_LONG_BLOB
            if binary =>
        {
            DbDataType::Binary
        }
        ColumnType::MYSQL_TYPE_TINY_BLOB
        | ColumnType::MYSQL_TYPE_BLOB
        | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
        | ColumnType::MYSQL_TYPE_LONG_BLOB => DbDataType::Str,
        _ => DbDataType::Other,
    }
}

fn convert(value: Value, column: &Column) -> Result<DbValue, Error> {
    if value == Value::NULL {
        return Ok(DbValue::DbNull);
    }
    fn get<T: mysql_async::prelude::FromValue>(value: Value) -> Result<T, Error> {
        mysql_async::from_value_opt::<T>(value)
            .map_err(|e| Error::ValueConversionFailed(e.to_string()))
    }
    Ok(match column.data_type {
        DbDataType::Boolean => DbValue::Boolean(get(value)?),
        DbDataType::Int8 => DbValue::Int8(get(value)?),
        DbDataType::Int16 => DbValue::Int16(get(value)?),
        DbDataType::Int32 => DbValue::Int32(get(value)?),
        DbDataType::Int64 => DbValue::Int64(get(value)?),
        DbDataType::Uint8 => DbValue::Uint8(get(value)?),
        DbDataType::Uint16 => DbValue::Uint16(get(value)?),
        DbDataType::Uint32 => DbValue::Uint32(get(value)?),
        DbDataType::Uint64 => DbValue::Uint64(get(value)?),
        DbDataType::Floating32 => DbValue::Floating32(get(value)?),
        DbDataType::Floating64 => DbValue::Floating64(get(value)?),
        DbDataType::Str => DbValue::Str(get(value)?),
        DbDataType::Binary => DbValue::Binary(get(value)?),
        DbDataType::Other => {
            return Err(Error::ValueConversionFailed(format!(
                "Cannot convert value {value:?} in column {} data type {:?}",
                column.name, column.data_type
            )))
        }
    })
}
