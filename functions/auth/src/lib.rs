//! The `auth` endpoint group: `POST /auth/login`, `POST /auth/refresh`, `POST /auth/logout`,
//! `GET /auth/me`. The only component that signs tokens; verification is the auth-guard's.

mod handlers;
mod sessions;
mod settings;
mod throttle;
mod tokens;

use solarhub_shared::error::ApiError;
use solarhub_shared::http::{answer, Method, Request, Response};

solarhub_shared::http_component!(handle);

fn handle(req: &Request) -> Response {
    let result = match (req.path(), req.method()) {
        ("/api/v1/auth/login", Method::Post) => handlers::login(req),
        ("/api/v1/auth/refresh", Method::Post) => handlers::refresh(req),
        ("/api/v1/auth/logout", Method::Post) => handlers::logout(req),
        ("/api/v1/auth/me", Method::Get) => handlers::me(req),
        ("/api/v1/auth/login" | "/api/v1/auth/refresh" | "/api/v1/auth/logout", _) => {
            Err(ApiError::MethodNotAllowed { allow: "POST" })
        }
        ("/api/v1/auth/me", _) => Err(ApiError::MethodNotAllowed { allow: "GET" }),
        _ => Err(ApiError::not_found_route()),
    };
    answer(result)
}
