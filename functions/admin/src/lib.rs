//! The `admin` endpoint group: user management under `/api/v1/admin/users`, every route
//! requiring the `users:admin` permission (verified by the auth-guard composed into this
//! component).
//!
//! - `GET    /api/v1/admin/users`       paged, filtered, sorted list
//! - `POST   /api/v1/admin/users`       create (201)
//! - `PUT    /api/v1/admin/users/{id}`  partial update
//! - `DELETE /api/v1/admin/users/{id}`  delete (204)

mod handlers;
mod query;
mod settings;
mod store;
mod validate;

use solarhub_shared::error::ApiError;
use solarhub_shared::http::{answer, Method, Request, Response};

const USERS: &str = "/api/v1/admin/users";

solarhub_shared::http_component!(handle);

fn handle(req: &Request) -> Response {
    answer(route(req))
}

fn route(req: &Request) -> Result<Response, ApiError> {
    let path = req.path();
    if path == USERS {
        return match req.method() {
            Method::Get => handlers::list(req),
            Method::Post => handlers::create(req),
            _ => Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
        };
    }
    // `/users/{id}`: one non-empty segment; the handlers validate it after authorizing.
    match path
        .strip_prefix(USERS)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(id) if !id.is_empty() && !id.contains('/') => match req.method() {
            Method::Put => handlers::update(req, id),
            Method::Delete => handlers::delete(req, id),
            _ => Err(ApiError::MethodNotAllowed {
                allow: "PUT, DELETE",
            }),
        },
        _ => Err(ApiError::not_found_route()),
    }
}
