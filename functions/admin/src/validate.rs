//! The JSON bodies of `POST /admin/users` and `PUT /admin/users/{id}`, checked the way a pydantic
//! model with `extra = "forbid"` would check them: every problem is one 422 item located in the
//! body. Role names are only checked for shape here; whether they exist is the database's to say
//! ([`crate::store`]).

use serde_json::{Map, Value};
use solarhub_shared::error::FieldError;
use solarhub_shared::password::{check_strength, WeakPassword};

pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9_.-]{3,64}$";
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_FULL_NAME_CHARS: usize = 255;
/// More roles than exist is certainly a mistake; bounds the work on hostile input.
pub const MAX_ROLES: usize = 32;

const CREATE_FIELDS: [&str; 6] = [
    "username",
    "email",
    "full_name",
    "password",
    "roles",
    "active",
];
const UPDATE_FIELDS: [&str; 5] = ["email", "full_name", "password", "roles", "active"];

/// A valid `POST /admin/users` body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub full_name: Option<String>,
    pub password: String,
    pub roles: Vec<String>,
    pub active: bool,
}

/// A valid `PUT /admin/users/{id}` body: `None` leaves a field as it is. `full_name:
/// Some(None)` clears the name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserChanges {
    pub email: Option<String>,
    pub full_name: Option<Option<String>>,
    pub password: Option<String>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
}

pub fn new_user(body: &Map<String, Value>) -> Result<NewUser, Vec<FieldError>> {
    let mut errors = Vec::new();
    extra_fields(body, &CREATE_FIELDS, &mut errors);
    let username = required(body, "username", &mut errors).and_then(|v| username(v, &mut errors));
    let email = required(body, "email", &mut errors).and_then(|v| email(v, &mut errors));
    let full_name = match body.get("full_name") {
        None => Some(None),
        Some(v) => full_name(v, &mut errors),
    };
    let password =
        required(body, "password", &mut errors).and_then(|v| string(v, "password", &mut errors));
    if let Some(password) = &password {
        strength(password, username.as_deref(), email.as_deref(), &mut errors);
    }
    let roles = required(body, "roles", &mut errors).and_then(|v| roles(v, &mut errors));
    let active = match body.get("active") {
        None => Some(true),
        Some(v) => boolean(v, "active", &mut errors),
    };
    match (username, email, full_name, password, roles, active) {
        (
            Some(username),
            Some(email),
            Some(full_name),
            Some(password),
            Some(roles),
            Some(active),
        ) if errors.is_empty() => Ok(NewUser {
            username,
            email,
            full_name,
            password,
            roles,
            active,
        }),
        _ => Err(errors),
    }
}

/// Checks the shape of an update. The password's strength against the user's own username and
/// email is checked by [`password_for`] once the user is known.
pub fn changes(body: &Map<String, Value>) -> Result<UserChanges, Vec<FieldError>> {
    let mut errors = Vec::new();
    extra_fields(body, &UPDATE_FIELDS, &mut errors);
    let present = |name: &str| body.get(name);
    let email = present("email").and_then(|v| email(v, &mut errors));
    let full_name = present("full_name").and_then(|v| full_name(v, &mut errors));
    let password = present("password").and_then(|v| string(v, "password", &mut errors));
    if let Some(password) = &password {
        strength(password, None, email.as_deref(), &mut errors);
    }
    let changes = UserChanges {
        email,
        full_name,
        password,
        roles: present("roles").and_then(|v| roles(v, &mut errors)),
        active: present("active").and_then(|v| boolean(v, "active", &mut errors)),
    };
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

/// The new password's full policy check, with the user's username and (new or current) email.
pub fn password_for(password: &str, username: &str, email: &str) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    strength(password, Some(username), Some(email), &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn loc(field: &str) -> Vec<Value> {
    vec![Value::from("body"), Value::from(field)]
}

fn error(field: &str, kind: &'static str, msg: impl Into<String>, input: &Value) -> FieldError {
    FieldError::new("body", field, kind, msg, input.clone())
}

fn extra_fields(body: &Map<String, Value>, allowed: &[&str], errors: &mut Vec<FieldError>) {
    for (name, value) in body {
        if !allowed.contains(&name.as_str()) {
            errors.push(error(
                name,
                "extra_forbidden",
                "Extra inputs are not permitted",
                value,
            ));
        }
    }
}

fn required<'a>(
    body: &'a Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a Value> {
    let value = body.get(field).filter(|v| !v.is_null());
    if value.is_none() {
        errors.push(FieldError::missing("body", field));
    }
    value
}

fn string(value: &Value, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        other => {
            errors.push(error(
                field,
                "string_type",
                "Input should be a valid string",
                other,
            ));
            None
        }
    }
}

fn boolean(value: &Value, field: &str, errors: &mut Vec<FieldError>) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        other => {
            errors.push(error(
                field,
                "bool_type",
                "Input should be a valid boolean",
                other,
            ));
            None
        }
    }
}

fn username(value: &Value, errors: &mut Vec<FieldError>) -> Option<String> {
    let s = string(value, "username", errors)?;
    let ok = (3..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !ok {
        errors.push(error(
            "username",
            "string_pattern_mismatch",
            format!("String should match pattern '{USERNAME_PATTERN}'"),
            value,
        ));
        return None;
    }
    Some(s)
}

fn email(value: &Value, errors: &mut Vec<FieldError>) -> Option<String> {
    let s = string(value, "email", errors)?;
    match email_problem(&s) {
        None => Some(s),
        Some(why) => {
            errors.push(error(
                "email",
                "value_error",
                format!("value is not a valid email address: {why}"),
                value,
            ));
            None
        }
    }
}

/// A sanity check, not RFC 5322: `local@domain.tld`, printable ASCII or any non-ASCII letters,
/// no spaces, a dotted domain of letters, digits and hyphens.
fn email_problem(s: &str) -> Option<&'static str> {
    if s.chars().count() > MAX_EMAIL_CHARS {
        return Some("it is too long");
    }
    let Some((local, domain)) = s.split_once('@') else {
        return Some("an email address must have an @-sign");
    };
    if local.is_empty() || local.chars().count() > 64 {
        return Some("the part before the @-sign must have 1 to 64 characters");
    }
    if local
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '@')
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Some("the part before the @-sign is not valid");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Some("the part after the @-sign is not a valid domain name");
    }
    None
}

fn full_name(value: &Value, errors: &mut Vec<FieldError>) -> Option<Option<String>> {
    if value.is_null() {
        return Some(None);
    }
    let s = string(value, "full_name", errors)?;
    let trimmed = s.trim();
    if trimmed.chars().count() > MAX_FULL_NAME_CHARS {
        errors.push(error(
            "full_name",
            "string_too_long",
            format!("String should have at most {MAX_FULL_NAME_CHARS} characters"),
            value,
        ));
        return None;
    }
    if trimmed.chars().any(char::is_control) {
        errors.push(error(
            "full_name",
            "value_error",
            "Value error, control characters are not allowed",
            value,
        ));
        return None;
    }
    Some((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

/// A list of role names, as given (duplicates are harmless: [`crate::store::role_ids`]).
fn roles(value: &Value, errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let Value::Array(items) = value else {
        errors.push(error(
            "roles",
            "list_type",
            "Input should be a valid list",
            value,
        ));
        return None;
    };
    if items.len() > MAX_ROLES {
        errors.push(error(
            "roles",
            "too_long",
            format!("List should have at most {MAX_ROLES} items"),
            value,
        ));
        return None;
    }
    let before = errors.len();
    let mut names: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) => names.push(s.clone()),
            other => errors.push(FieldError {
                kind: "string_type",
                loc: vec![Value::from("body"), Value::from("roles"), Value::from(i)],
                msg: "Input should be a valid string".to_owned(),
                input: other.clone(),
            }),
        }
    }
    (errors.len() == before).then_some(names)
}

fn strength(
    password: &str,
    username: Option<&str>,
    email: Option<&str>,
    errors: &mut Vec<FieldError>,
) {
    let Err(weak) = check_strength(password, username, email) else {
        return;
    };
    let (kind, msg) = match &weak {
        WeakPassword::TooShort { min } => (
            "string_too_short",
            format!("String should have at least {min} characters"),
        ),
        WeakPassword::TooLong { max } => (
            "string_too_long",
            format!("String should have at most {max} characters"),
        ),
        other => ("value_error", format!("Value error, {other}")),
    };
    // Never echo a password back, not even a rejected one.
    errors.push(FieldError {
        kind,
        loc: loc("password"),
        msg,
        input: Value::String("**********".to_owned()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn kinds(errors: &[FieldError]) -> Vec<(String, &'static str)> {
        errors
            .iter()
            .map(|e| (e.loc[1].as_str().unwrap().to_owned(), e.kind))
            .collect()
    }

    const GOOD: &str = "solar-flare-kettle";

    #[test]
    fn a_good_new_user() {
        let user = new_user(&map(json!({
            "username": "ada.l_1-x", "email": "ada@example.test", "full_name": "  Ada  ",
            "password": GOOD, "roles": ["viewer", "admin", "viewer"]
        })))
        .unwrap();
        assert_eq!(user.full_name.as_deref(), Some("Ada"));
        assert_eq!(user.roles, ["viewer", "admin", "viewer"]);
        assert!(user.active);
        let inactive = new_user(&map(json!({
            "username": "bob", "email": "b@x.io", "full_name": null, "password": GOOD,
            "roles": [], "active": false
        })))
        .unwrap();
        assert_eq!((inactive.full_name, inactive.active), (None, false));
    }

    #[test]
    fn new_user_errors() {
        let errors = new_user(&map(json!({}))).unwrap_err();
        assert_eq!(
            kinds(&errors),
            [
                ("username".into(), "missing"),
                ("email".into(), "missing"),
                ("password".into(), "missing"),
                ("roles".into(), "missing")
            ]
        );
        let errors = new_user(&map(json!({
            "username": "a b", "email": "nope", "password": 5, "roles": "admin",
            "active": "yes", "is_admin": true
        })))
        .unwrap_err();
        assert_eq!(
            kinds(&errors),
            [
                ("is_admin".into(), "extra_forbidden"),
                ("username".into(), "string_pattern_mismatch"),
                ("email".into(), "value_error"),
                ("password".into(), "string_type"),
                ("roles".into(), "list_type"),
                ("active".into(), "bool_type")
            ]
        );
        let errors = new_user(&map(json!({
            "username": "ab", "email": "a@b.c", "password": "short", "roles": ["x", 1]
        })))
        .unwrap_err();
        assert_eq!(
            kinds(&errors),
            [
                ("username".into(), "string_pattern_mismatch"),
                ("password".into(), "string_too_short"),
                ("roles".into(), "string_type")
            ]
        );
        assert_eq!(
            errors[2].loc,
            json!(["body", "roles", 1]).as_array().unwrap().clone()
        );
    }

    #[test]
    fn weak_passwords() {
        let body = |password: &str| {
            map(
                json!({"username": "maxi", "email": "maxi@example.test", "password": password, "roles": []}),
            )
        };
        let errors = new_user(&body("short")).unwrap_err();
        assert_eq!(kinds(&errors), [("password".into(), "string_too_short")]);
        assert_eq!(errors[0].input, "**********");
        let errors = new_user(&body("password1234")).unwrap_err();
        assert_eq!(kinds(&errors), [("password".into(), "value_error")]);
        assert!(errors[0].msg.contains("common"), "{}", errors[0].msg);
        let errors = new_user(&body("MAXI@example.test")).unwrap_err();
        assert_eq!(kinds(&errors), [("password".into(), "value_error")]);
        assert!(password_for("maxi-the-admin", "maxi-the-admin", "m@x.io").is_err());
        assert!(password_for(GOOD, "maxi", "m@x.io").is_ok());
    }

    #[test]
    fn emails() {
        for good in [
            "a@b.co",
            "first.last+tag@sub.example.test",
            "jörg@exämple.de",
        ] {
            assert_eq!(email_problem(good), None, "{good}");
        }
        for bad in [
            "", "plain", "@x.io", "a@", "a@b", "a b@x.io", "a@x..io", "a@-x.io", ".a@x.io",
            "a@b@c.io", "a@x_y.io",
        ] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
        let long = format!("{}@x.io", "a".repeat(65));
        assert!(email_problem(&long).is_some());
    }

    #[test]
    fn changes_are_partial() {
        assert_eq!(changes(&map(json!({}))).unwrap(), UserChanges::default());
        let c = changes(&map(
            json!({"full_name": null, "active": false, "roles": ["viewer"]}),
        ))
        .unwrap();
        assert_eq!(c.full_name, Some(None));
        assert_eq!(c.active, Some(false));
        assert_eq!(c.roles, Some(vec!["viewer".to_owned()]));
        assert_eq!(c.email, None);
        let errors = changes(&map(json!({
            "username": "renamed", "email": null, "password": "123", "active": null
        })))
        .unwrap_err();
        assert_eq!(
            kinds(&errors),
            [
                ("username".into(), "extra_forbidden"),
                ("email".into(), "string_type"),
                ("password".into(), "string_too_short"),
                ("active".into(), "bool_type")
            ]
        );
    }
}
