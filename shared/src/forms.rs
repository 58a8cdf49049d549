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

/// Which bodies a route reads besides JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    Json,
    /// JSON or `application/x-www-form-urlencoded` (the OAuth2 password form of the login).
    JsonOrForm,
}

/// The body as a JSON object (or a form, where accepted), by content type, as FastAPI reads it:
/// no content type or `application/json` / `application/*+json` is JSON; any other media type is
/// not read at all and is the 422 a body that is not an object gets.
pub fn body_fields(
    content_type: Option<&str>,
    body: &[u8],
    accepts: Accepts,
) -> Result<Map<String, Value>, ApiError> {
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/x-www-form-urlencoded" && accepts == Accepts::JsonOrForm {
        let text =
            std::str::from_utf8(body).map_err(|_| invalid_body("Body is not valid UTF-8"))?;
        return Ok(parse_urlencoded(text)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect());
    }
    let is_json = media.is_empty()
        || media == "application/json"
        || media
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"));
    if !is_json {
        // FastAPI shows the raw body as the input; a prefix is enough to recognise it.
        let text = String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned();
        return Err(not_an_object(Value::from(text)));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(not_an_object(other)),
        Err(_) => Err(invalid_body("JSON decode error")),
    }
}

fn not_an_object(input: Value) -> ApiError {
    ApiError::validation(FieldError::new(
        "body",
        "",
        "model_attributes_type",
        "Input should be a valid dictionary or object to extract fields from",
        input,
    ))
    .with_body_loc()
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
        use Accepts::*;
        let json = body_fields(Some("application/json"), br#"{"username":"a"}"#, Json).unwrap();
        assert_eq!(json["username"], "a");
        let vendor = body_fields(Some("application/vnd.x+json"), br#"{"a":1}"#, Json).unwrap();
        assert_eq!(vendor["a"], 1);
        let form_type = Some("application/x-www-form-urlencoded; charset=utf-8");
        let form = body_fields(form_type, b"username=a", JsonOrForm).unwrap();
        assert_eq!(form["username"], "a");
        // A form where only JSON is read, or any other media type: not read, a 422.
        for (ct, accepts) in [(form_type, Json), (Some("text/plain"), JsonOrForm)] {
            let err = body_fields(ct, br#"{"username":"a"}"#, accepts).unwrap_err();
            assert_eq!(
                err.body()["detail"][0]["type"],
                "model_attributes_type",
                "{ct:?}"
            );
        }
        let bad = body_fields(Some("application/json"), b"{nope", Json).unwrap_err();
        assert_eq!(bad.status(), 422);
        assert_eq!(bad.body()["detail"][0]["type"], "json_invalid");
        let list = body_fields(None, b"[1]", Json).unwrap_err();
        assert_eq!(list.body()["detail"][0]["loc"], serde_json::json!(["body"]));
        let not_utf8 = body_fields(None, b"{\"a\": \"\xff\"}", Json).unwrap_err();
        assert_eq!(not_utf8.body()["detail"][0]["type"], "json_invalid");
        let deep = "[".repeat(10_000);
        let nested = body_fields(None, deep.as_bytes(), Json).unwrap_err();
        assert_eq!(nested.body()["detail"][0]["type"], "json_invalid");
    }

    #[test]
    fn required_strings_report_fastapi_errors() {
        let fields = body_fields(None, br#"{"a":"x","b":"","c":3}"#, Accepts::Json).unwrap();
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
