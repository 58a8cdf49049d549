//! The `auth` endpoint group: `POST /auth/login`, `POST /auth/refresh`, `POST /auth/logout`,
//! `GET /auth/me`. The only component that signs tokens; verification is the auth-guard's.

mod handlers;
mod sessions;
mod settings;
mod throttle;
mod tokens;

use solarhub_shared::error::ApiError;
use solarhub_shared::guest::respond;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    let result = match (req.path(), req.method()) {
        ("/api/v1/auth/login", Method::Post) => handlers::login(&req),
        ("/api/v1/auth/refresh", Method::Post) => handlers::refresh(&req),
        ("/api/v1/auth/logout", Method::Post) => handlers::logout(&req),
        ("/api/v1/auth/me", Method::Get) => handlers::me(&req),
        ("/api/v1/auth/login" | "/api/v1/auth/refresh" | "/api/v1/auth/logout", _) => {
            Err(ApiError::MethodNotAllowed { allow: "POST" })
        }
        ("/api/v1/auth/me", _) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        _ => Err(ApiError::not_found_route()),
    };
    result.unwrap_or_else(|e| respond::error(&e))
}
