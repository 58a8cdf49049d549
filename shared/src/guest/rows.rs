//! Reading values out of spin-sdk MySQL rows by column name, tolerant of the integer widths MariaDB
//! picks (`COUNT(*)` is BIGINT, `TINYINT(1)` is int8) but never of a type Spin cannot carry:
//! DECIMAL and DATETIME columns must be selected as `CAST(... AS CHAR)` or `UNIX_TIMESTAMP(...)`.

use super::bindings::mysql::RowSet;
use super::bindings::rdbms_types::DbValue;

pub struct Rows<'a> {
    set: &'a RowSet,
}

pub struct Row<'a> {
    rows: &'a Rows<'a>,
    values: &'a [DbValue],
}

impl<'a> Rows<'a> {
    pub fn new(set: &'a RowSet) -> Self {
        Rows { set }
    }

    pub fn len(&self) -> usize {
        self.set.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.rows.is_empty()
    }

    pub fn iter(&'a self) -> impl Iterator<Item = Row<'a>> + 'a {
        self.set
            .rows
            .iter()
            .map(move |values| Row { rows: self, values })
    }

    pub fn first(&'a self) -> Option<Row<'a>> {
        self.iter().next()
    }

    fn index(&self, column: &str) -> Option<usize> {
        self.set.columns.iter().position(|c| c.name == column)
    }
}

impl Row<'_> {
    fn value(&self, column: &str) -> Option<&DbValue> {
        self.rows.index(column).and_then(|i| self.values.get(i))
    }

    pub fn i64(&self, column: &str) -> Option<i64> {
        match self.value(column)? {
            DbValue::Int8(v) => Some((*v).into()),
            DbValue::Int16(v) => Some((*v).into()),
            DbValue::Int32(v) => Some((*v).into()),
            DbValue::Int64(v) => Some(*v),
            DbValue::Uint8(v) => Some((*v).into()),
            DbValue::Uint16(v) => Some((*v).into()),
            DbValue::Uint32(v) => Some((*v).into()),
            DbValue::Uint64(v) => i64::try_from(*v).ok(),
            DbValue::Str(s) => s.parse().ok(),
            _ => None,
        }
    }

    pub fn f64(&self, column: &str) -> Option<f64> {
        match self.value(column)? {
            DbValue::Floating32(v) => Some((*v).into()),
            DbValue::Floating64(v) => Some(*v),
            DbValue::Str(s) => s.parse().ok(),
            _ => self.i64(column).map(|v| v as f64),
        }
    }

    pub fn bool(&self, column: &str) -> Option<bool> {
        self.i64(column).map(|v| v != 0)
    }

    pub fn str(&self, column: &str) -> Option<&str> {
        match self.value(column)? {
            DbValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn string(&self, column: &str) -> Option<String> {
        self.str(column).map(str::to_owned)
    }
}
