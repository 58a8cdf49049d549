//! The query parameters of `GET /admin/users`, checked the way FastAPI would check them: every
//! problem is one 422 item located at `["query", <name>]`. An empty value (`?q=&role=`) counts as
//! not given, so a form that submits blank filters lists everyone. Unknown parameters are ignored;
//! of a repeated parameter the last one counts (as Starlette reads them).

use serde_json::Value;
use solarhub_shared::error::FieldError;
use solarhub_shared::params::{boolean, Query};
pub use solarhub_shared::params::{integer, one_of};

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 100;
/// Longest search text accepted (the longest searchable column is 255 characters).
pub const MAX_Q_CHARS: usize = 255;

/// How the list is ordered; the SQL for each is fixed here, never taken from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Id,
    Username,
    UsernameDesc,
    CreatedAt,
    CreatedAtDesc,
    LastLoginAt,
    LastLoginAtDesc,
}

impl Sort {
    const ALL: [(&'static str, Sort); 7] = [
        ("username", Sort::Username),
        ("-username", Sort::UsernameDesc),
        ("created_at", Sort::CreatedAt),
        ("-created_at", Sort::CreatedAtDesc),
        ("last_login_at", Sort::LastLoginAt),
        ("-last_login_at", Sort::LastLoginAtDesc),
        ("id", Sort::Id),
    ];

    fn parse(s: &str) -> Option<Sort> {
        Sort::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, v)| *v)
    }

    /// The ORDER BY clause over the alias `u`, with `u.id` as the tie-breaker so pages are stable.
    pub fn order_by(self) -> &'static str {
        match self {
            Sort::Id => "u.id ASC",
            Sort::Username => "u.username ASC, u.id ASC",
            Sort::UsernameDesc => "u.username DESC, u.id DESC",
            Sort::CreatedAt => "u.created_at ASC, u.id ASC",
            Sort::CreatedAtDesc => "u.created_at DESC, u.id DESC",
            // Never logged in (NULL) sorts first ascending and last descending.
            Sort::LastLoginAt => "u.last_login_at ASC, u.id ASC",
            Sort::LastLoginAtDesc => "u.last_login_at DESC, u.id DESC",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub page: u64,
    pub page_size: u64,
    /// Search text, matched as a substring of username, email or full name.
    pub q: Option<String>,
    /// A role name; checked against the roles table by the caller ([`role_error`]).
    pub role: Option<String>,
    pub active: Option<bool>,
    pub sort: Sort,
}

impl ListParams {
    /// Rows to skip; saturates instead of overflowing on absurd pages (which are simply empty).
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.page_size)
    }
}

/// Parses the raw query string (`page=2&q=ada`).
pub fn parse(query: &str) -> Result<ListParams, Vec<FieldError>> {
    let query = Query::parse(query);
    let get = |name: &str| query.get(name);
    let mut errors = Vec::new();
    let page = get("page").map_or(Some(1), |raw| {
        integer("query", "page", raw, 1, None)
            .map_err(|e| errors.push(e))
            .ok()
    });
    let page_size = get("page_size").map_or(Some(DEFAULT_PAGE_SIZE), |raw| {
        integer("query", "page_size", raw, 1, Some(MAX_PAGE_SIZE))
            .map_err(|e| errors.push(e))
            .ok()
    });
    let q = get("q").map(str::to_owned);
    if let Some(q) = &q {
        if q.chars().count() > MAX_Q_CHARS {
            errors.push(FieldError::new(
                "query",
                "q",
                "string_too_long",
                format!("String should have at most {MAX_Q_CHARS} characters"),
                Value::from(q.as_str()),
            ));
        }
    }
    let active = get("active").and_then(|raw| {
        boolean("query", "active", raw)
            .map_err(|e| errors.push(e))
            .ok()
    });
    let sort = match get("sort") {
        None => Some(Sort::Id),
        Some(raw) => {
            let parsed = Sort::parse(raw);
            if parsed.is_none() {
                let names: Vec<&str> = Sort::ALL.iter().map(|(n, _)| *n).collect();
                errors.push(FieldError::new(
                    "query",
                    "sort",
                    "enum",
                    format!("Input should be {}", one_of(&names)),
                    Value::from(raw),
                ));
            }
            parsed
        }
    };
    match (page, page_size, sort) {
        (Some(page), Some(page_size), Some(sort)) if errors.is_empty() => Ok(ListParams {
            page,
            page_size,
            q,
            role: get("role").map(str::to_owned),
            active,
            sort,
        }),
        _ => Err(errors),
    }
}

/// The 422 item for a role name that is not one of `known` (`loc` is where it came from).
pub fn role_error(loc: Vec<Value>, given: &str, known: &[String]) -> FieldError {
    let names: Vec<&str> = known.iter().map(String::as_str).collect();
    FieldError {
        kind: "enum",
        loc,
        msg: format!("Input should be {}", one_of(&names)),
        input: Value::from(given),
    }
}

/// A LIKE pattern matching `text` as a substring, with `!` as the escape character (no backslash,
/// so it means the same under every `sql_mode`).
pub fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(query: &str) -> Vec<(String, &'static str)> {
        parse(query)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.loc[1].as_str().unwrap().to_owned(), e.kind))
            .collect()
    }

    #[test]
    fn defaults_and_blanks() {
        let p = parse("").unwrap();
        assert_eq!((p.page, p.page_size, p.sort), (1, 20, Sort::Id));
        assert_eq!((p.q, p.role, p.active), (None, None, None));
        let blank = parse("page=&page_size=&q=&role=&active=&sort=").unwrap();
        assert_eq!(blank, parse("").unwrap());
    }

    #[test]
    fn values_are_read_and_decoded() {
        let p = parse(
            "page=3&page_size=100&q=ada+l%25&role=admin&active=false&sort=-last_login_at&x=1",
        )
        .unwrap();
        assert_eq!((p.page, p.page_size), (3, 100));
        assert_eq!(p.q.as_deref(), Some("ada l%"));
        assert_eq!(p.role.as_deref(), Some("admin"));
        assert_eq!(p.active, Some(false));
        assert_eq!(p.sort, Sort::LastLoginAtDesc);
        assert_eq!(p.offset(), 200);
        assert_eq!(parse("page=2&page=5").unwrap().page, 5);
        assert_eq!(parse("active=1").unwrap().active, Some(true));
    }

    #[test]
    fn bad_values_are_fastapi_errors() {
        assert_eq!(
            kinds("page=0&page_size=101"),
            [
                ("page".into(), "greater_than_equal"),
                ("page_size".into(), "less_than_equal")
            ]
        );
        assert_eq!(
            kinds("page=x&page_size=0"),
            [
                ("page".into(), "int_parsing"),
                ("page_size".into(), "greater_than_equal")
            ]
        );
        assert_eq!(
            kinds("page=1.5&active=maybe&sort=email"),
            [
                ("page".into(), "int_parsing"),
                ("active".into(), "bool_parsing"),
                ("sort".into(), "enum")
            ]
        );
        let long = format!("q={}", "a".repeat(256));
        assert_eq!(kinds(&long), [("q".into(), "string_too_long")]);
        let err = &parse("sort=name").unwrap_err()[0];
        assert_eq!(err.msg, "Input should be 'username', '-username', 'created_at', '-created_at', 'last_login_at', '-last_login_at' or 'id'");
        assert_eq!(err.input, "name");
        assert_eq!(
            parse("page=99999999999999999999999").unwrap().offset(),
            u64::MAX
        );
    }

    #[test]
    fn path_ids() {
        assert_eq!(integer("path", "user_id", "42", 1, None), Ok(42));
        for (raw, kind) in [
            ("0", "greater_than_equal"),
            ("-3", "greater_than_equal"),
            ("abc", "int_parsing"),
            ("4.0", "int_parsing"),
            ("", "int_parsing"),
        ] {
            let e = integer("path", "user_id", raw, 1, None).unwrap_err();
            assert_eq!(
                (e.kind, e.loc.clone()),
                (kind, vec![Value::from("path"), Value::from("user_id")]),
                "{raw}"
            );
        }
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a_b%c!d"), "%a!_b!%c!!d%");
        assert_eq!(like_pattern("ada"), "%ada%");
    }

    #[test]
    fn enum_wording() {
        assert_eq!(one_of(&["a"]), "'a'");
        assert_eq!(one_of(&["a", "b", "c"]), "'a', 'b' or 'c'");
    }
}
