//! The one mapping from what can go wrong to what a client sees.
//!
//! Bodies follow FastAPI (the frontend was written against it): `{"detail": "..."}` for every error,
//! and `{"detail": [{"type", "loc", "msg", "input"}]}` for 422 validation errors. Nothing here ever
//! carries a store URL, SQL text, a backtrace or a secret: callers pass only what a client may read.

use serde::Serialize;
use serde_json::{json, Value};

/// One failed field, shaped like a pydantic v2 error item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
}

impl FieldError {
    /// `source` is where the field came from: "path", "query", "body" or "header".
    pub fn new(
        source: &str,
        field: &str,
        kind: &'static str,
        msg: impl Into<String>,
        input: Value,
    ) -> Self {
        FieldError {
            kind,
            loc: vec![Value::from(source), Value::from(field)],
            msg: msg.into(),
            input,
        }
    }

    pub fn missing(source: &str, field: &str) -> Self {
        FieldError::new(source, field, "missing", "Field required", Value::Null)
    }
}

/// Why a bearer token was refused (every variant is a 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Invalid,
    Expired,
    Revoked,
    /// Login with an unknown user or a wrong password: one message for both.
    BadCredentials,
}

impl AuthFailure {
    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::Missing => "Not authenticated",
            AuthFailure::Invalid => "Could not validate credentials",
            AuthFailure::Expired => "Token has expired",
            AuthFailure::Revoked => "Token has been revoked",
            AuthFailure::BadCredentials => "Incorrect username or password",
        }
    }
}

/// The stores a request may depend on, named the way operators name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// A MySQL database, by its configured name.
    Mysql(String),
    RedisMain,
    RedisGtr,
}

impl Store {
    pub fn label(&self) -> String {
        match self {
            Store::Mysql(db) => format!("mysql:{db}"),
            Store::RedisMain => "redis:main".to_owned(),
            Store::RedisGtr => "redis:gtr".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    Validation(Vec<FieldError>),
    Unauthorized(AuthFailure),
    Forbidden {
        permission: String,
    },
    NotFound(String),
    MethodNotAllowed {
        allow: &'static str,
    },
    Conflict(String),
    /// A request body over the limit a component accepts (bytes).
    PayloadTooLarge {
        limit: usize,
    },
    /// A request target (path and query) over the limit a component reads (bytes).
    UriTooLong {
        limit: usize,
    },
    Throttled {
        retry_after_secs: u64,
    },
    /// A request budget of the API (per token or per address) is spent for this window.
    RateLimited(crate::ratelimit::Budget),
    StoreUnavailable(Store),
    /// A server-side fault: the client gets only the request id; the cause goes to the log.
    Internal {
        request_id: String,
    },
}

impl ApiError {
    pub fn validation(error: FieldError) -> Self {
        ApiError::Validation(vec![error])
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Validation(_) => 422,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::UriTooLong { .. } => 414,
            ApiError::Throttled { .. } | ApiError::RateLimited(_) => 429,
            ApiError::StoreUnavailable(_) => 503,
            ApiError::Internal { .. } => 500,
        }
    }

    /// Headers the error requires besides `content-type`.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::Unauthorized(_) => vec![("www-authenticate", "Bearer".to_owned())],
            ApiError::MethodNotAllowed { allow } => vec![("allow", (*allow).to_owned())],
            ApiError::Throttled { retry_after_secs } => {
                vec![("retry-after", retry_after_secs.to_string())]
            }
            ApiError::RateLimited(budget) => {
                let mut headers = vec![("retry-after", budget.reset_secs.to_string())];
                headers.extend(budget.headers());
                headers
            }
            _ => Vec::new(),
        }
    }

    pub fn body(&self) -> Value {
        match self {
            ApiError::Validation(errors) => json!({ "detail": errors }),
            ApiError::Unauthorized(why) => json!({ "detail": why.message() }),
            ApiError::Forbidden { permission } => {
                json!({ "detail": format!("Missing permission: {permission}") })
            }
            ApiError::NotFound(what) => json!({ "detail": what }),
            ApiError::MethodNotAllowed { .. } => json!({ "detail": "Method Not Allowed" }),
            ApiError::Conflict(what) => json!({ "detail": what }),
            ApiError::PayloadTooLarge { limit } => {
                json!({ "detail": format!("Request body is larger than {limit} bytes") })
            }
            ApiError::UriTooLong { limit } => {
                json!({ "detail": format!("Request path and query are longer than {limit} bytes") })
            }
            ApiError::Throttled { .. } => json!({ "detail": "Too many attempts; try again later" }),
            ApiError::RateLimited(budget) => json!({
                "detail": format!(
                    "Rate limit exceeded: {} requests per window; try again in {} s",
                    budget.limit, budget.reset_secs
                ),
            }),
            ApiError::StoreUnavailable(store) => json!({
                "detail": format!("{} is unavailable", store.label()),
                "store": store.label(),
            }),
            ApiError::Internal { request_id } => json!({
                "detail": "Internal Server Error",
                "request_id": request_id,
            }),
        }
    }

    pub fn not_found_route() -> Self {
        ApiError::NotFound("Not Found".to_owned())
    }
}

/// A short random id tying a client-visible 500 to its log line.
pub fn request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the host's random source (wasi random_get).
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(crate::time::now_unix());
    format!("{:016x}", h.finish())
}

/// Logs a server-side fault and returns the error a client may see.
pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> ApiError {
    let request_id = request_id();
    let cause = crate::store_url::redact_credentials(&cause.to_string());
    eprintln!("error request_id={request_id} {context}: {cause}");
    ApiError::Internal { request_id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_error_has_fastapi_shape() {
        let err = ApiError::validation(FieldError::new(
            "path",
            "bess_number",
            "less_than_equal",
            "Input should be less than or equal to 12",
            Value::from("13"),
        ));
        assert_eq!(err.status(), 422);
        assert_eq!(
            err.body(),
            json!({"detail": [{
                "type": "less_than_equal",
                "loc": ["path", "bess_number"],
                "msg": "Input should be less than or equal to 12",
                "input": "13"
            }]})
        );
    }

    #[test]
    fn unauthorized_carries_bearer_challenge() {
        let err = ApiError::Unauthorized(AuthFailure::Expired);
        assert_eq!(err.status(), 401);
        assert_eq!(
            err.headers(),
            vec![("www-authenticate", "Bearer".to_owned())]
        );
        assert_eq!(err.body()["detail"], "Token has expired");
    }

    #[test]
    fn throttled_says_when_to_retry() {
        let err = ApiError::Throttled {
            retry_after_secs: 42,
        };
        assert_eq!(err.status(), 429);
        assert_eq!(err.headers(), vec![("retry-after", "42".to_owned())]);
    }

    #[test]
    fn store_unavailable_names_the_store_only() {
        let err = ApiError::StoreUnavailable(Store::Mysql("BESS3".into()));
        assert_eq!(err.status(), 503);
        assert_eq!(err.body()["detail"], "mysql:BESS3 is unavailable");
        assert_eq!(err.body()["store"], "mysql:BESS3");
    }

    #[test]
    fn internal_error_shows_request_id_not_cause() {
        let err = ApiError::Internal {
            request_id: "r-1".into(),
        };
        assert_eq!(err.status(), 500);
        assert_eq!(
            err.body(),
            json!({"detail": "Internal Server Error", "request_id": "r-1"})
        );
    }
}
