//! Request bodies the way FastAPI reads them: `application/x-www-form-urlencoded` (the OAuth2
//! password form) or JSON, with 422 errors located in the body.

use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// Decodes `a=1&b=x+y%21` into pairs ('+' is a space, `%XX` a byte; bad escapes are kept as text).
pub fn parse_urlencoded(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    decode_escapes(s, true)
}

/// Decodes the `%XX` escapes of a URL path (`+` stays `+`), as Starlette does before routing.
pub fn decode_path(s: &str) -> String {
    if s.contains('%') {
        decode_escapes(s, false)
    } else {
        s.to_owned()
    }
}

fn decode_escapes(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The body as a JSON object or a form, by content type. Anything else is a 422 like FastAPI's.
pub fn body_fields(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/x-www-form-urlencoded" {
        let text =
            std::str::from_utf8(body).map_err(|_| invalid_body("Body is not valid UTF-8"))?;
        return Ok(parse_urlencoded(text)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::validation(FieldError::new(
            "body",
            "",
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
            other,
        ))
        .with_body_loc()),
        Err(_) => Err(invalid_body("JSON decode error")),
    }
}

fn invalid_body(msg: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        kind: "json_invalid",
        loc: vec![Value::from("body")],
        msg: msg.to_owned(),
        input: Value::Null,
    }])
}

/// A required non-empty string field of a body.
pub fn required_str(
    fields: &Map<String, Value>,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match fields.get(name) {
        None | Some(Value::Null) => {
            errors.push(FieldError::missing("body", name));
            None
        }
        Some(Value::String(s)) if s.is_empty() => {
            errors.push(FieldError::new(
                "body",
                name,
                "string_too_short",
                "String should have at least 1 character",
                Value::from(s.as_str()),
            ));
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            errors.push(FieldError::new(
                "body",
                name,
                "string_type",
                "Input should be a valid string",
                other.clone(),
            ));
            None
        }
    }
}

impl ApiError {
    /// Turns `["body", ""]` locations into `["body"]` (a whole-body error).
    fn with_body_loc(self) -> ApiError {
        match self {
            ApiError::Validation(mut errors) => {
                for e in &mut errors {
                    e.loc.retain(|l| l != "");
                }
                ApiError::Validation(errors)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_paths_like_starlette() {
        assert_eq!(decode_path("/api/v1/bess/%31"), "/api/v1/bess/1");
        assert_eq!(decode_path("/api/v1/a+b/%2Fx"), "/api/v1/a+b//x");
        assert_eq!(decode_path("/api/v1/%zz"), "/api/v1/%zz");
        assert_eq!(decode_path("/plain"), "/plain");
    }

    #[test]
    fn decodes_forms() {
        assert_eq!(
            parse_urlencoded("username=ada+l&password=p%40ss%21&grant_type=password&x"),
            vec![
                ("username".into(), "ada l".into()),
                ("password".into(), "p@ss!".into()),
                ("grant_type".into(), "password".into()),
                ("x".into(), "".into()),
            ]
        );
        assert_eq!(
            parse_urlencoded("a=%zz&b=%4"),
            vec![("a".into(), "%zz".into()), ("b".into(), "%4".into())]
        );
    }

    #[test]
    fn reads_json_or_form_by_content_type() {
        let json = body_fields(Some("application/json"), br#"{"username":"a"}"#).unwrap();
        assert_eq!(json["username"], "a");
        let form = body_fields(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"username=a",
        )
        .unwrap();
        assert_eq!(form["username"], "a");
        let bad = body_fields(Some("application/json"), b"{nope").unwrap_err();
        assert_eq!(bad.status(), 422);
        assert_eq!(bad.body()["detail"][0]["type"], "json_invalid");
        let list = body_fields(None, b"[1]").unwrap_err();
        assert_eq!(list.body()["detail"][0]["loc"], serde_json::json!(["body"]));
    }

    #[test]
    fn required_strings_report_fastapi_errors() {
        let fields = body_fields(None, br#"{"a":"x","b":"","c":3}"#).unwrap();
        let mut errors = Vec::new();
        assert_eq!(
            required_str(&fields, "a", &mut errors).as_deref(),
            Some("x")
        );
        assert_eq!(required_str(&fields, "b", &mut errors), None);
        assert_eq!(required_str(&fields, "c", &mut errors), None);
        assert_eq!(required_str(&fields, "d", &mut errors), None);
        let kinds: Vec<_> = errors.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["string_too_short", "string_type", "missing"]);
        assert_eq!(errors[2].loc, vec![Value::from("body"), Value::from("d")]);
    }
}
