//! The OpenAPI 3.1 document of every route the app serves, and the Swagger UI / ReDoc pages that
//! render it (served by the `docs` component). Pure data: no store, no Spin.
//!
//! Errors are documented the way FastAPI documents them (`HTTPValidationError` /
//! `ValidationError` for 422) plus the `{"detail": "..."}` body of every other error
//! ([`crate::error::ApiError`]). Protected operations carry the OAuth2 password flow (so Swagger
//! UI's Authorize button logs in through `/api/v1/auth/login`) or a plain bearer token, and name the
//! permission they need. The `tests/host/tests/docs.rs` test fails when a route in `spin.toml` is
//! not documented here, or a documented path is not routed.

use serde_json::{json, Map, Value};

mod alerts;
mod analysis;
mod frame;
mod meters;
mod realtime;
mod telemetry;
mod trading;

use crate::password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::schema::ess::{PERM_USERS_ADMIN, ROLES_ALL};

pub const OPENAPI_URL: &str = "/api/v1/openapi.json";
pub const DOCS_URL: &str = "/api/v1/docs";
pub const REDOC_URL: &str = "/api/v1/redoc";
pub const LOGIN_URL: &str = "/api/v1/auth/login";
pub const TITLE: &str = "SolarHub API";

/// Where the docs component serves the pages' JavaScript and CSS: `<package>@<version>/<file>`,
/// vendored in `functions/docs/vendor/` (no CDN, so the pages work without internet).
pub const DOCS_ASSETS_URL: &str = "/api/v1/docs/assets/";
/// The vendored npm packages the pages run; `scripts/vendor-docs-assets.sh` pins the same.
pub const SWAGGER_UI_DIST: &str = "swagger-ui-dist@5.35.0";
pub const REDOC: &str = "redoc@2.5.4";

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (path, item) in [
        ("/api/v1/health", health(false)),
        ("/api/health", health(true)),
        ("/api/v1/auth/login", login()),
        ("/api/v1/auth/refresh", refresh()),
        ("/api/v1/auth/logout", logout()),
        ("/api/v1/auth/me", me()),
        ("/api/v1/admin/users", users()),
        ("/api/v1/admin/users/{user_id}", user()),
        (
            OPENAPI_URL,
            docs_page("openapi", "The OpenAPI document", "application/json"),
        ),
        (DOCS_URL, docs_page("swagger_ui", "Swagger UI", "text/html")),
        (REDOC_URL, docs_page("redoc", "ReDoc", "text/html")),
        ("/api/v1/docs/assets/{file}", docs_asset()),
    ]
    .into_iter()
    .chain(telemetry::paths())
    .chain(frame::paths())
    .chain(meters::paths())
    .chain(alerts::paths())
    .chain(trading::paths())
    .chain(analysis::paths())
    .chain(realtime::paths())
    {
        paths.insert(path.to_owned(), item);
    }
    with_request_limits(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Back end of the SolarHub dashboard of a solar + battery storage site. \
                Every error body is JSON `{\"detail\": ...}`; a wrong method is a 405 with an `Allow` \
                header, an unknown route a 404. Protected routes take `Authorization: Bearer <access \
                token>` from `POST /api/v1/auth/login`; their descriptions name the permission they need.",
        },
        "tags": [
            {"name": "system", "description": "Health of the site's stores"},
            {"name": "auth", "description": "Tokens: login, refresh, logout, the caller"},
            {"name": "admin", "description": "User administration (users:admin)"},
            {"name": "bess", "description": "Battery racks: live status and alerts (telemetry:read)"},
            {"name": "config", "description": "The dashboard's frame: sidebar and header (any valid token)"},
            {"name": "meters", "description": "Meters and the PV inverter: live values and today's energy (telemetry:read)"},
            {"name": "pcs", "description": "Power conversion systems: live status and alerts (telemetry:read)"},
            {"name": "alerts", "description": "The site's alert log (telemetry:read) and acknowledgement (alerts:ack)"},
            {"name": "trading", "description": "dReg/E-dReg schedule, income and execution rates (trading:read)"},
            {"name": "analysis", "description": "Energy balance, power in/out and frequency response over a window (telemetry:read)"},
            {"name": "docs", "description": "This document, Swagger UI and ReDoc"},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas_with([
                telemetry::schemas(),
                frame::schemas(),
                meters::schemas(),
                alerts::schemas(),
                trading::schemas(),
                analysis::schemas(),
                realtime::schemas(),
            ]),
            "responses": responses(),
            "headers": headers(),
            "securitySchemes": {
                "OAuth2PasswordBearer": {
                    "type": "oauth2",
                    "description": "Log in with a username and password (OAuth2 password flow).",
                    "flows": {"password": {"tokenUrl": LOGIN_URL, "scopes": {}}},
                },
                "HTTPBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The access token of a login or refresh.",
                },
            },
        },
    })
}

/// Swagger UI, as FastAPI's `get_swagger_ui_html` serves it, pointing at [`OPENAPI_URL`], with its
/// files from [`DOCS_ASSETS_URL`] and no online validator (nothing leaves the site).
pub fn swagger_ui_html() -> String {
    format!(
        r#"<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link type="text/css" rel="stylesheet" href="{DOCS_ASSETS_URL}{SWAGGER_UI_DIST}/swagger-ui.css">
<title>{TITLE} - Swagger UI</title>
</head>
<body>
<div id="swagger-ui"></div>
<script src="{DOCS_ASSETS_URL}{SWAGGER_UI_DIST}/swagger-ui-bundle.js"></script>
<script>
const ui = SwaggerUIBundle({{
    url: '{OPENAPI_URL}',
    dom_id: '#swagger-ui',
    layout: 'BaseLayout',
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    persistAuthorization: true,
    validatorUrl: null,
    presets: [
        SwaggerUIBundle.presets.apis,
        SwaggerUIBundle.SwaggerUIStandalonePreset
    ],
}})
</script>
</body>
</html>
"#
    )
}

/// ReDoc, as FastAPI's `get_redoc_html` serves it, pointing at [`OPENAPI_URL`], with its file from
/// [`DOCS_ASSETS_URL`] and without FastAPI's Google Fonts link (the system's fonts are used).
pub fn redoc_html() -> String {
    format!(
        r#"<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{TITLE} - ReDoc</title>
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<noscript>ReDoc requires Javascript to function. Please enable it to browse the documentation.</noscript>
<redoc spec-url="{OPENAPI_URL}"></redoc>
<script src="{DOCS_ASSETS_URL}{REDOC}/redoc.standalone.js"></script>
</body>
</html>
"#
    )
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Every route refuses a request target over its limit (414) and a body over its limit (413)
/// before the handler runs (`guest::entry`): every operation says so, those with a body both.
fn with_request_limits(paths: &mut Map<String, Value>) {
    const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for (method, op) in item.iter_mut() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let has_body = op.get("requestBody").is_some();
            if let Some(Value::Object(responses)) = op.get_mut("responses") {
                responses.insert("414".into(), response_ref("UriTooLong"));
                if has_body {
                    responses.insert("413".into(), response_ref("PayloadTooLarge"));
                }
            }
        }
    }
}

fn response_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// The responses every operation may give besides its own: 500, and 503 when it uses a store.
fn with_common(mut responses: Map<String, Value>, uses_stores: bool) -> Value {
    if uses_stores {
        responses.insert("503".into(), response_ref("StoreUnavailable"));
    }
    responses.insert("500".into(), response_ref("InternalError"));
    Value::Object(responses)
}

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// An operation behind the guard; `permission` is `None` for "any valid token".
fn protected(mut op: Map<String, Value>, permission: Option<&str>) -> Value {
    let needs = match permission {
        Some(p) => format!("Requires the `{p}` permission."),
        None => "Requires a valid access token (any permission).".to_owned(),
    };
    let description = match op.get("description").and_then(Value::as_str) {
        Some(d) => format!("{d}\n\n{needs}"),
        None => needs,
    };
    op.insert("description".into(), Value::from(description));
    op.insert(
        "security".into(),
        json!([{"OAuth2PasswordBearer": []}, {"HTTPBearer": []}]),
    );
    if let Some(p) = permission {
        op.insert("x-permission".into(), Value::from(p));
    }
    // Every guarded route counts against its group's request budget (crate::ratelimit).
    if let Some(Value::Object(responses)) = op.get_mut("responses") {
        responses.insert("429".into(), response_ref("RateLimited"));
    }
    Value::Object(op)
}

fn health(legacy: bool) -> Value {
    let mut ok = map(json!({
        "description": "Every store is reachable",
        "content": json_content(schema_ref("HealthReport")),
    }));
    let mut down = map(json!({
        "description": "At least one store failed (`status` degraded or down); the report names it",
        "content": json_content(schema_ref("HealthReport")),
    }));
    let mut op = map(json!({
        "tags": ["system"],
        "summary": "Health of every store",
        "description": "Checks each MySQL database and both Redis instances. 200 only when all are ok, \
            503 otherwise, so uptime checks need not parse the body.",
        "operationId": "health",
    }));
    if legacy {
        let deprecation = json!({
            "Deprecation": {"$ref": "#/components/headers/Deprecation"},
            "Link": {"$ref": "#/components/headers/Link"},
        });
        ok.insert("headers".into(), deprecation.clone());
        down.insert("headers".into(), deprecation);
        op.insert("operationId".into(), Value::from("legacy_health"));
        op.insert("summary".into(), Value::from("Health (legacy Flask path)"));
        op.insert("deprecated".into(), Value::Bool(true));
        op.insert(
            "description".into(),
            Value::from("The legacy Flask path of `GET /api/v1/health`; same answers."),
        );
    }
    let responses = map(json!({"200": ok, "503": down}));
    op.insert("responses".into(), with_common(responses, false));
    json!({ "get": op })
}

fn login() -> Value {
    let responses = map(json!({
        "200": {"description": "A new session", "content": json_content(schema_ref("TokenPair"))},
        "401": response_ref("Unauthorized"),
        "403": {
            "description": "The account is deactivated",
            "content": json_content(schema_ref("HTTPError")),
        },
        "422": response_ref("ValidationError"),
        "429": response_ref("TooManyRequests"),
    }));
    json!({ "post": {
        "tags": ["auth"],
        "summary": "Log in",
        "description": "A JSON body `{username, password}` or the OAuth2 password form. Failed attempts \
            are throttled per username and per client address (429 with `Retry-After`).",
        "operationId": "login",
        "requestBody": {
            "required": true,
            "content": {
                "application/json": {"schema": schema_ref("LoginRequest")},
                "application/x-www-form-urlencoded": {"schema": schema_ref("Body_login")},
            },
        },
        "responses": with_common(responses, true),
    }})
}

fn refresh() -> Value {
    let responses = map(json!({
        "200": {
            "description": "A new pair; the refresh token given is now dead",
            "content": json_content(schema_ref("TokenPair")),
        },
        "401": response_ref("Unauthorized"),
        "422": response_ref("ValidationError"),
    }));
    json!({ "post": {
        "tags": ["auth"],
        "summary": "Rotate a refresh token",
        "description": "Public: the refresh token is the credential. Reusing a dead refresh token \
            revokes its whole session.",
        "operationId": "refresh",
        "requestBody": {
            "required": true,
            "content": {
                "application/json": {"schema": schema_ref("RefreshRequest")},
                "application/x-www-form-urlencoded": {"schema": schema_ref("RefreshRequest")},
            },
        },
        "responses": with_common(responses, true),
    }})
}

fn logout() -> Value {
    let responses = map(json!({
        "204": {"description": "The session and this access token are revoked"},
        "401": response_ref("Unauthorized"),
    }));
    json!({ "post": protected(map(json!({
        "tags": ["auth"],
        "summary": "Log out",
        "description": "Revokes the session's refresh tokens and the access token used.",
        "operationId": "logout",
        "responses": with_common(responses, true),
    })), None)})
}

fn me() -> Value {
    let responses = map(json!({
        "200": {"description": "The caller", "content": json_content(schema_ref("UserView"))},
        "401": response_ref("Unauthorized"),
    }));
    json!({ "get": protected(map(json!({
        "tags": ["auth"],
        "summary": "The caller's account",
        "operationId": "me",
        "responses": with_common(responses, true),
    })), None)})
}

/// An optional query parameter. Every route reads a blank value (`?since=`) as not given
/// (`params::Query`), which `allowEmptyValue` says.
fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({
        "name": name,
        "in": "query",
        "required": false,
        "allowEmptyValue": true,
        "description": description,
        "schema": schema,
    })
}

fn admin_responses(extra: Value) -> Map<String, Value> {
    let mut responses = map(json!({
        "401": response_ref("Unauthorized"),
        "403": response_ref("Forbidden"),
        "422": response_ref("ValidationError"),
    }));
    responses.extend(map(extra));
    responses
}

fn users() -> Value {
    let list = protected(
        map(json!({
            "tags": ["admin"],
            "summary": "List users",
            "description": "Paged, filtered and sorted. Blank parameters count as not given.",
            "operationId": "list_users",
            "parameters": [
                query_param("page", "Page number, from 1", json!({"type": "integer", "minimum": 1, "default": 1})),
                query_param("page_size", "Users per page", json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 20})),
                query_param("q", "Substring of username, email or full name", json!({"type": "string", "maxLength": 255})),
                query_param("role", "Only users with this role", json!({"type": "string", "enum": ROLES_ALL})),
                query_param("active", "Only active (true) or deactivated (false) users", json!({"type": "boolean"})),
                query_param("sort", "Order; `-` for descending", json!({
                    "type": "string",
                    "enum": ["id", "username", "-username", "created_at", "-created_at", "last_login_at", "-last_login_at"],
                    "default": "id",
                })),
            ],
            "responses": with_common(admin_responses(json!({
                "200": {"description": "One page of users", "content": json_content(schema_ref("UserPage"))},
            })), true),
        })),
        Some(PERM_USERS_ADMIN),
    );
    let create = protected(
        map(json!({
            "tags": ["admin"],
            "summary": "Create a user",
            "description": "409 when the username or email is taken; 422 for a weak password or an \
                unknown role.",
            "operationId": "create_user",
            "requestBody": {"required": true, "content": json_content(schema_ref("UserCreate"))},
            "responses": with_common(admin_responses(json!({
                "201": {
                    "description": "The user created",
                    "headers": {"Location": {
                        "description": "The new user's URL",
                        "schema": {"type": "string"},
                    }},
                    "content": json_content(schema_ref("UserView")),
                    "links": user_links(&["update_user", "delete_user"]),
                },
                "409": response_ref("Conflict"),
            })), true),
        })),
        Some(PERM_USERS_ADMIN),
    );
    json!({ "get": list, "post": create })
}

/// OpenAPI links from an answer carrying a user (`UserView`) to the operations on that user, so
/// clients and tools (schemathesis' stateful tests) can follow create → update → delete.
fn user_links(operation_ids: &[&str]) -> Value {
    let links: Map<String, Value> = operation_ids
        .iter()
        .map(|id| {
            let link = json!({
                "operationId": id,
                "parameters": {"user_id": "$response.body#/id"},
                "description": format!("`{id}` on the user in this answer"),
            });
            ((*id).to_owned(), link)
        })
        .collect();
    Value::Object(links)
}

fn user() -> Value {
    let user_id = json!({
        "name": "user_id",
        "in": "path",
        "required": true,
        "schema": {"type": "integer", "minimum": 1, "title": "User Id"},
    });
    let update = protected(
        map(json!({
            "tags": ["admin"],
            "summary": "Update a user",
            "description": "Only the fields given change. Changing roles, `active` or the password ends \
                the user's sessions. 409 when the email is taken or the change would leave no \
                active admin.",
            "operationId": "update_user",
            "requestBody": {"required": true, "content": json_content(schema_ref("UserUpdate"))},
            "responses": with_common(admin_responses(json!({
                "200": {
                    "description": "The user after the change",
                    "content": json_content(schema_ref("UserView")),
                    "links": user_links(&["update_user", "delete_user"]),
                },
                "404": response_ref("NotFound"),
                "409": response_ref("Conflict"),
            })), true),
        })),
        Some(PERM_USERS_ADMIN),
    );
    let delete = protected(
        map(json!({
            "tags": ["admin"],
            "summary": "Delete a user",
            "description": "Ends the user's sessions. 409 when deleting yourself or the last active admin.",
            "operationId": "delete_user",
            "responses": with_common(admin_responses(json!({
                "204": {"description": "Deleted"},
                "404": response_ref("NotFound"),
                "409": response_ref("Conflict"),
            })), true),
        })),
        Some(PERM_USERS_ADMIN),
    );
    json!({ "parameters": [user_id], "put": update, "delete": delete })
}

fn docs_page(operation_id: &str, summary: &str, media: &str) -> Value {
    let schema = if media == "application/json" {
        json!({"type": "object"})
    } else {
        json!({"type": "string"})
    };
    json!({ "get": {
        "tags": ["docs"],
        "summary": summary,
        "operationId": operation_id,
        "responses": with_common(map(json!({
            "200": {"description": summary, "content": {media: {"schema": schema}}},
        })), false),
    }})
}

fn docs_asset() -> Value {
    json!({
        "parameters": [{
            "name": "file", "in": "path", "required": true,
            "description": "`<package>@<version>/<file>`", "schema": {"type": "string"}
        }],
        "get": {
            "tags": ["docs"],
            "summary": "A file of the Swagger UI or ReDoc page",
            "description": "The JavaScript and CSS the documentation pages run, served by this app \
                so they work without internet: `<package>@<version>/<file>`, e.g. \
                `swagger-ui-dist@5.35.0/swagger-ui-bundle.js`. gzip-encoded when the client \
                accepts it; cacheable for a year (the version is in the path).",
            "operationId": "docs_asset",
            "responses": with_common(map(json!({
                "200": {"description": "The file", "content": {
                    "text/javascript": {"schema": {"type": "string"}},
                    "text/css": {"schema": {"type": "string"}},
                }},
                "404": {"description": "No such file", "content": json_content(schema_ref("HTTPError"))},
            })), false),
        }
    })
}

fn error_response(description: &str, schema: &str, headers: &[&str]) -> Value {
    let mut response = map(json!({
        "description": description,
        "content": json_content(schema_ref(schema)),
    }));
    if !headers.is_empty() {
        let headers: Map<String, Value> = headers
            .iter()
            .map(|h| {
                let r = json!({ "$ref": format!("#/components/headers/{h}") });
                ((*h).to_owned(), r)
            })
            .collect();
        response.insert("headers".into(), Value::Object(headers));
    }
    Value::Object(response)
}

fn responses() -> Value {
    json!({
        "ValidationError": error_response("Validation Error", "HTTPValidationError", &[]),
        "Unauthorized": error_response(
            "Missing, invalid, expired or revoked token (or, at login, wrong credentials)",
            "HTTPError",
            &["WWW-Authenticate"],
        ),
        "Forbidden": error_response("The token lacks the permission needed", "HTTPError", &[]),
        "NotFound": error_response("Unknown resource", "HTTPError", &[]),
        "MethodNotAllowed": error_response("Wrong method for the route", "HTTPError", &["Allow"]),
        "Conflict": error_response("Conflicts with the current state", "HTTPError", &[]),
        "TooManyRequests": error_response("Throttled", "HTTPError", &["Retry-After"]),
        "RateLimited": error_response(
            "The request budget of this route group (per access token or per client address, \
             variable `rate_limit_<group>`) is spent until the window resets",
            "HTTPError",
            &["Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"],
        ),
        "PayloadTooLarge": error_response(
            "The request body is over the limit every route has",
            "HTTPError",
            &[],
        ),
        "UriTooLong": error_response(
            "The request target (path and query) is over the limit every route has",
            "HTTPError",
            &[],
        ),
        "StoreUnavailable": error_response("A store is unreachable; the body names it", "StoreUnavailableError", &[]),
        "InternalError": error_response("A server fault; quote the request id", "InternalError", &[]),
    })
}

fn headers() -> Value {
    json!({
        "WWW-Authenticate": {"description": "The challenge: `Bearer`", "schema": {"type": "string", "const": "Bearer"}},
        "Retry-After": {"description": "Seconds until another attempt may succeed", "schema": {"type": "integer", "minimum": 0}},
        "Allow": {"description": "The methods the route accepts", "schema": {"type": "string"}},
        "RateLimit-Limit": {"description": "Requests per window of the tightest budget that applies", "schema": {"type": "integer", "minimum": 1}},
        "RateLimit-Remaining": {"description": "Requests left in the window", "schema": {"type": "integer", "minimum": 0}},
        "RateLimit-Reset": {"description": "Seconds until the window resets", "schema": {"type": "integer", "minimum": 0}},
        "Deprecation": {"description": "RFC 9745: this path is deprecated (since `@<unix time>`)", "schema": {"type": "string"}},
        "Link": {"description": "The successor route (`rel=\"successor-version\"`)", "schema": {"type": "string"}},
    })
}

fn nullable(schema: Value, title: &str) -> Value {
    json!({"anyOf": [schema, {"type": "null"}], "title": title})
}

fn schemas_with(groups: impl IntoIterator<Item = Map<String, Value>>) -> Value {
    let mut all = map(schemas());
    for group in groups {
        all.extend(group);
    }
    Value::Object(all)
}

fn schemas() -> Value {
    let password = json!({
        "type": "string",
        "format": "password",
        "minLength": MIN_PASSWORD_CHARS,
        "maxLength": MAX_PASSWORD_CHARS,
        "writeOnly": true,
        "title": "Password",
        "description": "Not a common password, nor the username or email",
    });
    let roles = json!({
        "type": "array",
        "items": {"type": "string", "enum": ROLES_ALL},
        "maxItems": 32,
        "title": "Roles",
        "description": "Role names (viewer, operator, admin)",
    });
    let email = json!({"type": "string", "format": "email", "maxLength": 254, "title": "Email"});
    let full_name = nullable(json!({"type": "string", "maxLength": 255}), "Full Name");
    json!({
        "HTTPValidationError": {
            "title": "HTTPValidationError",
            "type": "object",
            "properties": {
                "detail": {"title": "Detail", "type": "array", "items": schema_ref("ValidationError")},
            },
        },
        "ValidationError": {
            "title": "ValidationError",
            "type": "object",
            "properties": {
                "loc": {
                    "title": "Location",
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                },
                "msg": {"title": "Message", "type": "string"},
                "type": {"title": "Error Type", "type": "string"},
                "input": {"title": "Input"},
                "ctx": {"title": "Context", "type": "object"},
            },
            "required": ["loc", "msg", "type"],
        },
        "HTTPError": {
            "title": "HTTPError",
            "type": "object",
            "properties": {"detail": {"title": "Detail", "type": "string"}},
            "required": ["detail"],
        },
        "StoreUnavailableError": {
            "title": "StoreUnavailableError",
            "type": "object",
            "properties": {
                "detail": {"title": "Detail", "type": "string", "examples": ["mysql:ess is unavailable"]},
                "store": {"title": "Store", "type": "string", "examples": ["mysql:ess", "redis:main"]},
            },
            "required": ["detail"],
        },
        "InternalError": {
            "title": "InternalError",
            "type": "object",
            "properties": {
                "detail": {"title": "Detail", "type": "string", "const": "Internal Server Error"},
                "request_id": {"title": "Request Id", "type": "string"},
            },
            "required": ["detail", "request_id"],
        },
        "HealthReport": {
            "title": "HealthReport",
            "type": "object",
            "properties": {
                "status": {"title": "Status", "type": "string", "enum": ["ok", "degraded", "down"]},
                "version": {"title": "Version", "type": "string"},
                "checked_at": {"title": "Checked At", "type": "string", "format": "date-time"},
                "detail": {
                    "title": "Detail",
                    "type": "string",
                    "description": "Present when something failed: the failed stores",
                },
                "dependencies": {"title": "Dependencies", "type": "array", "items": schema_ref("DependencyCheck")},
            },
            "required": ["status", "version", "checked_at", "dependencies"],
        },
        "DependencyCheck": {
            "title": "DependencyCheck",
            "type": "object",
            "properties": {
                "name": {"title": "Name", "type": "string", "examples": ["mysql:BESS3", "redis:main"]},
                "kind": {"title": "Kind", "type": "string", "enum": ["mysql", "redis"]},
                "ok": {"title": "Ok", "type": "boolean"},
                "latency_ms": {"title": "Latency Ms", "type": "number", "minimum": 0},
                "error": {
                    "title": "Error",
                    "type": "string",
                    "enum": ["unreachable", "database_missing", "query_failed", "misconfigured"],
                },
            },
            "required": ["name", "kind", "ok", "latency_ms"],
        },
        "LoginRequest": {
            "title": "LoginRequest",
            "type": "object",
            "properties": {
                "username": {"title": "Username", "type": "string", "minLength": 1},
                "password": {"title": "Password", "type": "string", "format": "password", "minLength": 1, "writeOnly": true},
            },
            "required": ["username", "password"],
        },
        "Body_login": {
            "title": "Body_login",
            "type": "object",
            "properties": {
                "grant_type": {"title": "Grant Type", "type": "string", "pattern": "^password$"},
                "username": {"title": "Username", "type": "string", "minLength": 1},
                "password": {"title": "Password", "type": "string", "format": "password", "minLength": 1, "writeOnly": true},
                "scope": {"title": "Scope", "type": "string", "default": ""},
                "client_id": nullable(json!({"type": "string"}), "Client Id"),
                "client_secret": nullable(json!({"type": "string", "format": "password"}), "Client Secret"),
            },
            "required": ["username", "password"],
        },
        "RefreshRequest": {
            "title": "RefreshRequest",
            "type": "object",
            "properties": {"refresh_token": {"title": "Refresh Token", "type": "string", "minLength": 1}},
            "required": ["refresh_token"],
        },
        "TokenPair": {
            "title": "TokenPair",
            "type": "object",
            "properties": {
                "access_token": {"title": "Access Token", "type": "string"},
                "refresh_token": {"title": "Refresh Token", "type": "string"},
                "token_type": {"title": "Token Type", "type": "string", "const": "bearer"},
                "expires_in": {"title": "Expires In", "type": "integer", "description": "Seconds the access token lives"},
            },
            "required": ["access_token", "refresh_token", "token_type", "expires_in"],
        },
        "UserView": {
            "title": "UserView",
            "type": "object",
            "properties": {
                "id": {"title": "Id", "type": "integer"},
                "username": {"title": "Username", "type": "string"},
                "email": {"title": "Email", "type": "string"},
                "full_name": nullable(json!({"type": "string"}), "Full Name"),
                "roles": {"title": "Roles", "type": "array", "items": {"type": "string"}},
                "permissions": {"title": "Permissions", "type": "array", "items": {"type": "string"}},
                "active": {"title": "Active", "type": "boolean"},
                "created_at": nullable(json!({"type": "string", "format": "date-time"}), "Created At"),
                "last_login_at": nullable(json!({"type": "string", "format": "date-time"}), "Last Login At"),
            },
            "required": ["id", "username", "email", "full_name", "roles", "permissions", "active", "created_at", "last_login_at"],
        },
        "UserPage": {
            "title": "UserPage",
            "type": "object",
            "properties": {
                "items": {"title": "Items", "type": "array", "items": schema_ref("UserView")},
                "total": {"title": "Total", "type": "integer"},
                "page": {"title": "Page", "type": "integer"},
                "page_size": {"title": "Page Size", "type": "integer"},
            },
            "required": ["items", "total", "page", "page_size"],
        },
        "UserCreate": {
            "title": "UserCreate",
            "type": "object",
            "properties": {
                "username": {"title": "Username", "type": "string", "pattern": "^[A-Za-z0-9_.-]{3,64}$"},
                "email": email,
                "full_name": full_name,
                "password": password,
                "roles": roles,
                "active": {"title": "Active", "type": "boolean", "default": true},
            },
            "required": ["username", "email", "password", "roles"],
            "additionalProperties": false,
        },
        "UserUpdate": {
            "title": "UserUpdate",
            "type": "object",
            "description": "Only the fields given change; `full_name: null` clears the name.",
            "properties": {
                "email": email,
                "full_name": full_name,
                "password": password,
                "roles": roles,
                "active": {"title": "Active", "type": "boolean"},
            },
            "additionalProperties": false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if METHODS.contains(&method.as_str()) {
                    ops.push((path.clone(), method.clone(), op));
                }
            }
        }
        ops
    }

    #[test]
    fn is_openapi_3_1_with_version() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(doc["info"]["title"], TITLE);
        // Serializes and reads back unchanged.
        let text = serde_json::to_string(&doc).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
    }

    #[test]
    fn every_path_has_operations_with_responses() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 11);
        for (path, item) in paths {
            assert!(path.starts_with("/api/"), "{path}");
            let item = item.as_object().unwrap();
            assert!(item.keys().any(|k| METHODS.contains(&k.as_str())), "{path}");
            for key in item.keys() {
                assert!(
                    METHODS.contains(&key.as_str()) || key == "parameters",
                    "{path}: {key}"
                );
            }
        }
        let mut ids = Vec::new();
        for (path, method, op) in operations(&doc) {
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path}");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path} has no success response"
            );
            for (status, response) in responses {
                assert!(
                    status.len() == 3 && status.parse::<u16>().is_ok(),
                    "{status}"
                );
                assert!(
                    response.get("$ref").is_some() || response["description"].is_string(),
                    "{method} {path} {status}"
                );
            }
            ids.push(op["operationId"].as_str().unwrap().to_owned());
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "operationIds are unique");
    }

    #[test]
    fn every_operation_documents_the_request_limits() {
        let doc = document();
        for (path, method, op) in operations(&doc) {
            let responses = &op["responses"];
            assert_eq!(
                responses["414"]["$ref"], "#/components/responses/UriTooLong",
                "{method} {path}"
            );
            let has_body = op.get("requestBody").is_some();
            assert_eq!(responses.get("413").is_some(), has_body, "{method} {path}");
        }
        assert!(doc["components"]["responses"]["PayloadTooLarge"].is_object());
    }

    #[test]
    fn path_parameters_are_declared() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            let declared: Vec<&str> = item["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path"))
                .into_iter()
                .flatten()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            let in_path: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(declared, in_path, "{path}");
        }
    }

    #[test]
    fn links_lead_to_operations_that_exist() {
        let doc = document();
        let ops = operations(&doc);
        let ids: Vec<&str> = ops
            .iter()
            .map(|(_, _, op)| op["operationId"].as_str().unwrap())
            .collect();
        let mut links = 0;
        for (path, method, op) in &ops {
            for (status, response) in op["responses"].as_object().unwrap() {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    let target = link["operationId"].as_str().unwrap();
                    assert!(ids.contains(&target), "{method} {path} {status}: {name}");
                    links += 1;
                }
            }
        }
        assert!(links >= 4, "create and update link to update and delete");
        let created = &doc["paths"]["/api/v1/admin/users"]["post"]["responses"]["201"]["links"];
        assert_eq!(
            created["delete_user"]["parameters"]["user_id"],
            "$response.body#/id"
        );
    }

    #[test]
    fn query_parameters_are_optional_and_may_be_blank() {
        let doc = document();
        let mut seen = 0;
        for (path, method, op) in operations(&doc) {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "query" {
                    assert_eq!(p["required"], false, "{method} {path} {}", p["name"]);
                    assert_eq!(p["allowEmptyValue"], true, "{method} {path} {}", p["name"]);
                    seen += 1;
                }
            }
        }
        assert!(seen > 20);
    }

    #[test]
    fn every_ref_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 20);
        for r in found {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("external ref {r}"));
            assert!(pointer.starts_with("/components/"), "{r}");
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
        // Every response that is not a $ref has JSON schemas that resolve too (checked above), and
        // the schema refs go to component schemas.
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        assert!(schemas.contains_key("HTTPValidationError"));
        assert_eq!(
            doc["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"]["items"],
            json!({"$ref": "#/components/schemas/ValidationError"})
        );
    }

    #[test]
    fn protected_operations_name_their_permission_and_security() {
        let doc = document();
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        assert_eq!(
            schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"],
            LOGIN_URL
        );
        assert_eq!(schemes["HTTPBearer"]["scheme"], "bearer");
        // The public operations, by name; every other one must be behind the guard.
        let public_paths = [
            "/api/v1/health",
            "/api/health",
            "/api/v1/auth/login",
            "/api/v1/auth/refresh",
            OPENAPI_URL,
            DOCS_URL,
            REDOC_URL,
            "/api/v1/docs/assets/{file}",
        ];
        for (path, method, op) in operations(&doc) {
            let security = op.get("security");
            if public_paths.contains(&path.as_str()) {
                assert!(security.is_none(), "{method} {path} is public");
                continue;
            }
            let security = security.unwrap_or_else(|| panic!("{method} {path} has no security"));
            for requirement in security.as_array().unwrap() {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(scheme), "{scheme}");
                }
            }
            let responses = op["responses"].as_object().unwrap();
            assert_eq!(
                responses["401"],
                json!({"$ref": "#/components/responses/Unauthorized"})
            );
            let description = op["description"].as_str().unwrap();
            match op.get("x-permission").and_then(Value::as_str) {
                Some(permission) => {
                    assert!(
                        description.contains(&format!("`{permission}`")),
                        "{description}"
                    );
                    assert!(responses.contains_key("403"), "{method} {path}");
                }
                None => assert!(description.contains("valid access token"), "{description}"),
            }
            if path.contains("/admin/") {
                assert_eq!(op["x-permission"], PERM_USERS_ADMIN);
            }
        }
    }

    #[test]
    fn error_responses_and_headers() {
        let doc = document();
        let responses = &doc["components"]["responses"];
        let header = |response: &str, name: &str| {
            responses[response]["headers"][name]["$ref"]
                .as_str()
                .map(str::to_owned)
        };
        assert_eq!(
            header("Unauthorized", "WWW-Authenticate").as_deref(),
            Some("#/components/headers/WWW-Authenticate")
        );
        assert!(header("TooManyRequests", "Retry-After").is_some());
        assert!(header("MethodNotAllowed", "Allow").is_some());
        for name in [
            "Forbidden",
            "NotFound",
            "MethodNotAllowed",
            "Conflict",
            "TooManyRequests",
        ] {
            assert_eq!(
                responses[name]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/HTTPError",
                "{name}"
            );
        }
        let login = &doc["paths"]["/api/v1/auth/login"]["post"];
        assert_eq!(
            login["responses"]["429"]["$ref"],
            "#/components/responses/TooManyRequests"
        );
        let content = login["requestBody"]["content"].as_object().unwrap();
        assert!(content.contains_key("application/json"));
        assert!(content.contains_key("application/x-www-form-urlencoded"));
        // What ApiError emits fits the documented schemas' required fields.
        use crate::error::{ApiError, FieldError};
        let body = ApiError::validation(FieldError::missing("body", "username")).body();
        let item = &body["detail"][0];
        for field in doc["components"]["schemas"]["ValidationError"]["required"]
            .as_array()
            .unwrap()
        {
            assert!(item.get(field.as_str().unwrap()).is_some(), "{field}");
        }
        let conflict = ApiError::Conflict("x".into()).body();
        assert!(conflict["detail"].is_string());
    }

    #[test]
    fn legacy_health_is_deprecated() {
        let doc = document();
        let legacy = &doc["paths"]["/api/health"]["get"];
        assert_eq!(legacy["deprecated"], true);
        assert!(legacy["responses"]["200"]["headers"]["Deprecation"].is_object());
        assert!(doc["paths"]["/api/v1/health"]["get"]
            .get("deprecated")
            .is_none());
    }

    #[test]
    fn telemetry_and_alert_operations_name_their_permissions() {
        use crate::schema::ess::{PERM_ALERTS_ACK, PERM_TELEMETRY_READ};
        let doc = document();
        for (path, method, permission) in [
            ("/api/v1/bess/{bess_number}", "get", PERM_TELEMETRY_READ),
            ("/api/v1/pcs/{pcs_number}", "get", PERM_TELEMETRY_READ),
            ("/api/pcs_info/{pcs_number}", "get", PERM_TELEMETRY_READ),
            ("/api/v1/pcs/alert", "get", PERM_TELEMETRY_READ),
            ("/api/alert/pcs", "get", PERM_TELEMETRY_READ),
            ("/api/v1/alerts", "get", PERM_TELEMETRY_READ),
            ("/api/v1/alerts/{alert_id}/ack", "post", PERM_ALERTS_ACK),
        ] {
            let op = &doc["paths"][path][method];
            assert_eq!(op["x-permission"], permission, "{method} {path}");
            for status in ["401", "403", "422", "503"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{method} {path} {status}"
                );
            }
        }
        for legacy in ["/api/pcs_info/{pcs_number}", "/api/alert/pcs"] {
            let op = &doc["paths"][legacy]["get"];
            assert_eq!(op["deprecated"], true, "{legacy}");
            assert!(op["responses"]["200"]["headers"]["Link"].is_object());
        }
        let ack = &doc["paths"]["/api/v1/alerts/{alert_id}/ack"]["post"];
        assert!(ack["responses"].get("404").is_some());
        assert_eq!(
            ack["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Alert"
        );
        let alert = &doc["components"]["schemas"]["Alert"]["required"];
        for field in ["acknowledged_by", "acknowledged_at"] {
            assert!(alert.as_array().unwrap().contains(&json!(field)), "{field}");
        }
        let list = &doc["paths"]["/api/v1/alerts"]["get"]["parameters"];
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "device_kind",
                "device_no",
                "level",
                "active_only",
                "since",
                "limit"
            ]
        );
    }

    #[test]
    fn pages_load_the_document_and_their_files_from_this_app() {
        let swagger = swagger_ui_html();
        assert!(swagger.contains(&format!("url: '{OPENAPI_URL}'")));
        assert!(swagger
            .contains("src=\"/api/v1/docs/assets/swagger-ui-dist@5.35.0/swagger-ui-bundle.js\""));
        let redoc = redoc_html();
        assert!(redoc.contains(&format!("spec-url=\"{OPENAPI_URL}\"")));
        assert!(redoc.contains("src=\"/api/v1/docs/assets/redoc@2.5.4/redoc.standalone.js\""));
        for page in [swagger, redoc] {
            assert!(
                !page.contains("http://") && !page.contains("https://"),
                "{page}"
            );
        }
    }
}
