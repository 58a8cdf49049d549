//! Path and query parameters, validated the way FastAPI (pydantic v2) validates them, so every
//! component answers bad input with the same 422 items.

use serde_json::Value;

use crate::error::FieldError;
use crate::forms::parse_urlencoded;
use crate::time::{Date, UtcOffset};

/// A query string's parameters. A repeated name takes its last value, as FastAPI does for scalar
/// parameters; an empty value counts as absent.
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        Query {
            pairs: parse_urlencoded(raw),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// An integer parameter within `min..=max` (`source` is "path" or "query"), or the FastAPI error
/// for it. Values beyond `u64` saturate.
pub fn integer(
    source: &str,
    name: &str,
    raw: &str,
    min: u64,
    max: Option<u64>,
) -> Result<u64, FieldError> {
    let error = |kind, msg: String| FieldError::new(source, name, kind, msg, Value::from(raw));
    // pydantic accepts surrounding whitespace and a sign; anything else is not an integer.
    let Ok(n) = raw.trim().parse::<i128>() else {
        return Err(error(
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer".to_owned(),
        ));
    };
    if n < i128::from(min) {
        return Err(error(
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
        ));
    }
    if let Some(max) = max.filter(|&max| n > i128::from(max)) {
        return Err(error(
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        ));
    }
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

/// A boolean as pydantic reads one from a string.
pub fn boolean(source: &str, name: &str, raw: &str) -> Result<bool, FieldError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "on" | "t" => Ok(true),
        "false" | "0" | "no" | "n" | "off" | "f" => Ok(false),
        _ => Err(FieldError::new(
            source,
            name,
            "bool_parsing",
            "Input should be a valid boolean, unable to interpret input",
            Value::from(raw),
        )),
    }
}

/// A point in time given as a site-local date (`2026-11-22`: its local midnight) or an ISO 8601
/// datetime (with an offset, or site-local without one); Unix seconds.
pub fn instant(source: &str, name: &str, raw: &str, offset: UtcOffset) -> Result<i64, FieldError> {
    let raw_trimmed = raw.trim();
    let parsed = if raw_trimmed.len() == 10 {
        Date::parse(raw_trimmed).map(|d| d.start_utc(offset))
    } else {
        crate::time::parse_iso_datetime(raw_trimmed, offset)
    };
    parsed.ok_or_else(|| {
        FieldError::new(
            source,
            name,
            "datetime_from_date_parsing",
            "Input should be a valid datetime or date, as YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[±HH:MM]",
            Value::from(raw),
        )
    })
}

/// Years a date parameter may name: wide enough for any real query, narrow enough that every
/// bound derived from it is a valid MySQL DATETIME.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9998;

/// A site-local calendar date, `YYYY-MM-DD`.
pub fn date(source: &str, name: &str, raw: &str) -> Result<Date, FieldError> {
    let error = |kind, msg: &str| FieldError::new(source, name, kind, msg, Value::from(raw));
    let date = Date::parse(raw.trim()).ok_or_else(|| {
        error(
            "date_parsing",
            "Input should be a valid date in the format YYYY-MM-DD",
        )
    })?;
    if !YEARS.contains(&date.year) {
        return Err(error(
            "value_error",
            "Value error, the year must be within 1970..9998",
        ));
    }
    Ok(date)
}

/// A calendar month, `YYYY-MM`.
pub fn month(source: &str, name: &str, raw: &str) -> Result<crate::trading::Month, FieldError> {
    let error = |kind, msg: &str| FieldError::new(source, name, kind, msg, Value::from(raw));
    let month = crate::trading::Month::parse(raw.trim()).ok_or_else(|| {
        error(
            "string_pattern_mismatch",
            "String should match pattern '^[0-9]{4}-(0[1-9]|1[0-2])$'",
        )
    })?;
    if !YEARS.contains(&month.year) {
        return Err(error(
            "value_error",
            "Value error, the year must be within 1970..9998",
        ));
    }
    Ok(month)
}

/// pydantic's enum wording: `'a', 'b' or 'c'`.
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// One of `names`, or the FastAPI enum error.
pub fn choice<'a>(
    source: &str,
    name: &str,
    raw: &str,
    names: &[&'a str],
) -> Result<&'a str, FieldError> {
    names.iter().copied().find(|n| *n == raw).ok_or_else(|| {
        FieldError::new(
            source,
            name,
            "enum",
            format!("Input should be {}", one_of(names)),
            Value::from(raw),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_range_or_pydantic_errors() {
        assert_eq!(integer("path", "n", " 7 ", 1, Some(12)), Ok(7));
        let e = integer("path", "n", "13", 1, Some(12)).unwrap_err();
        assert_eq!(
            (e.kind, e.msg.as_str()),
            (
                "less_than_equal",
                "Input should be less than or equal to 12"
            )
        );
        assert_eq!(e.loc, vec![Value::from("path"), Value::from("n")]);
        assert_eq!(
            integer("path", "n", "0", 1, Some(12)).unwrap_err().kind,
            "greater_than_equal"
        );
        assert_eq!(
            integer("path", "n", "x1", 1, None).unwrap_err().kind,
            "int_parsing"
        );
        assert_eq!(
            integer("query", "page", "99999999999999999999999", 1, None),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn booleans_choices_and_repeats() {
        assert_eq!(boolean("query", "a", "Yes"), Ok(true));
        assert_eq!(boolean("query", "a", "off"), Ok(false));
        assert_eq!(
            boolean("query", "a", "maybe").unwrap_err().kind,
            "bool_parsing"
        );
        assert_eq!(
            choice("query", "mode", "dreg", &["all", "dreg"]),
            Ok("dreg")
        );
        let e = choice("query", "mode", "x", &["all", "dreg", "edreg"]).unwrap_err();
        assert_eq!(e.msg, "Input should be 'all', 'dreg' or 'edreg'");
        let q = Query::parse("limit=5&limit=7&empty=");
        assert_eq!(q.get("limit"), Some("7"));
        assert_eq!(q.get("empty"), None);
    }

    #[test]
    fn instants_from_local_dates_or_iso_datetimes() {
        let taipei = UtcOffset::parse("+08:00").unwrap();
        // 2026-11-22T00:00:00+08:00 = 2026-11-21T16:00:00Z
        assert_eq!(
            instant("query", "since", "2026-11-22", taipei),
            Ok(1_795_276_800)
        );
        assert_eq!(
            instant("query", "since", "2026-11-22T00:00:00+08:00", taipei),
            Ok(1_795_276_800)
        );
        assert_eq!(
            instant("query", "since", "2026-11-21T16:00:00Z", taipei),
            Ok(1_795_276_800)
        );
        assert_eq!(
            instant("query", "since", "2026-11-22T00:00:00", taipei),
            Ok(1_795_276_800)
        );
        assert!(instant("query", "since", "yesterday", taipei).is_err());
        assert!(instant("query", "since", "2026-13-01", taipei).is_err());
    }
}
