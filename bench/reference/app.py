"""SolarHub API, FastAPI reference implementation (benchmark baseline only, not the product).

The same routes, queries, Redis commands, JWT checks and JSON bodies as the Rust/Spin components
(functions/{system,auth,admin,auth-guard,bess,config,meters,pcs,alerts}, shared/src/guest/*),
written the way a FastAPI team would ship them: aiomysql and redis.asyncio pools opened at
start-up, pydantic models, dependencies for the bearer token, argon2id through argon2-cffi in the
thread pool.

Configuration: the Spin variables of ../../spin.toml, each overridable by SPIN_VARIABLE_<NAME>
(e.g. SPIN_VARIABLE_JWT_SECRET, SPIN_VARIABLE_DB_ESS_URL), with spin.toml's defaults.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
import time
import tomllib
from bisect import bisect_left, bisect_right
import unicodedata
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import aiomysql
import argon2
import jwt
import pymysql
import redis.asyncio as aioredis
import redis.exceptions
from fastapi import Depends, FastAPI, HTTPException, Path as PathParam, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool

log = logging.getLogger("solarhub.reference")

# ---- configuration (spin.toml [variables], overridden by SPIN_VARIABLE_<NAME>) ---------------

SPIN_TOML = Path(os.environ.get("SOLARHUB_SPIN_TOML", Path(__file__).resolve().parents[2] / "spin.toml"))
VERSION = "0.1.0"  # Cargo workspace version, as /health reports it
ISSUER, AUDIENCE, CLOCK_SKEW_SECS, MAX_TOKEN_LEN = "solarhub", "solarhub-api", 30, 8192
DATABASES = ["ess", "schedule", "Meter", "PCS", "Inverter", "BaseLine", "GTR"] + [f"BESS{n}" for n in range(1, 13)]
PERM_USERS_ADMIN = "users:admin"


def _variables() -> dict[str, str]:
    with open(SPIN_TOML, "rb") as f:
        declared = tomllib.load(f)["variables"]
    out = {}
    for name, spec in declared.items():
        value = os.environ.get(f"SPIN_VARIABLE_{name.upper()}", spec.get("default"))
        if value is None:
            raise RuntimeError(f"variable {name} is required: set SPIN_VARIABLE_{name.upper()}")
        out[name] = value
    return out


def _utc_offset(s: str) -> timezone:
    if s in ("Z", "z"):
        return timezone.utc
    m = re.fullmatch(r"([+-])(\d+)(?::(\d+))?", s)
    if not m or not (0 <= int(m[2]) <= 14 and 0 <= int(m[3] or 0) < 60):
        raise RuntimeError(f"site_utc_offset {s!r} is invalid")
    secs = int(m[2]) * 3600 + int(m[3] or 0) * 60
    return timezone(timedelta(seconds=-secs if m[1] == "-" else secs))


class Settings:
    def __init__(self) -> None:
        v = _variables()
        self.jwt_secret = v["jwt_secret"]
        if len(self.jwt_secret.encode()) < 32:  # the Rust guard refuses to verify with less
            raise RuntimeError("jwt_secret must be at least 32 bytes")
        self.site_tz = _utc_offset(v["site_utc_offset"])
        self.prefix = v["redis_key_prefix"]
        self.access_ttl = int(v["access_token_ttl_secs"])
        self.refresh_ttl = int(v["refresh_token_ttl_secs"])
        self.max_failures_per_user = int(v["login_max_failures_per_user"])
        self.max_attempts_per_address = int(v["login_max_attempts_per_address"])
        self.throttle_window = int(v["login_throttle_window_secs"])
        self.legacy_salt = v["legacy_password_salt"] or None
        self.db_urls = {db: v[f"db_{db.lower()}_url"] for db in DATABASES}
        self.redis_urls = {"main": v["redis_main_url"], "gtr": v["redis_gtr_url"]}
        self.site_offset = int(self.site_tz.utcoffset(None).total_seconds())
        self.site_name = v["site_name"]
        self.rack_capacity_kwh = float(v["rack_capacity_kwh"].strip())
        self.pcs_rated_kw = float(v["pcs_rated_kw"].strip())
        self.live_stale_after = int(v["live_stale_after_secs"].strip())
        self.dreg = DregParams.from_variables(v)  # the trading section below
        settle_days = rust_int(v["income_settled_after_days"].strip(RUST_WS), U32)
        if settle_days is None:
            raise RuntimeError("income_settled_after_days is not a number")
        self.settle_days = settle_days
        self.settlement_tag = settlement_tag(self.dreg, self.site_offset)


def iso(mysql_utc: str | None, tz: timezone) -> str | None:
    """MySQL's UTC `YYYY-MM-DD HH:MM:SS[.ffffff]` as ISO 8601 in the site's offset, fraction dropped."""
    if mysql_utc is None:
        return None
    try:
        t = datetime.fromisoformat(mysql_utc[:19]).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return t.astimezone(tz).isoformat(timespec="seconds")


def now_iso(tz: timezone) -> str:
    return datetime.fromtimestamp(int(time.time()), tz).isoformat(timespec="seconds")


# ---- errors (FastAPI-shaped, as shared/src/error.rs) -------------------------------------------


class StoreUnavailable(Exception):
    def __init__(self, label: str) -> None:
        self.label = label


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


NOT_AUTHENTICATED, INVALID, EXPIRED, REVOKED = (
    "Not authenticated", "Could not validate credentials", "Token has expired", "Token has been revoked")


def body_error(type_: str, loc: list, msg: str, input_=None) -> RequestValidationError:
    return RequestValidationError([{"type": type_, "loc": loc, "msg": msg, "input": input_}])


# ---- stores: one aiomysql pool per MySQL server, one redis client per URL ----------------------

# Client-side errors (2xxx), lost connections, unknown database/table: the store is down or not
# migrated, a 503 naming it (shared/src/guest/mysql.rs). Anything else is our bug: a 500.
_STORE_SIDE_CODES = {1049, 1146}


@dataclass
class Db:
    label: str  # mysql:<legacy name>
    name: str  # `quoted` configured name, for qualified table names
    pool: aiomysql.Pool

    def table(self, t: str) -> str:
        return f"{self.name}.`{t}`"

    @asynccontextmanager
    async def cursor(self):
        try:
            async with self.pool.acquire() as conn, conn.cursor() as cur:
                yield cur
        except pymysql.err.MySQLError as e:
            code = e.args[0] if e.args and isinstance(e.args[0], int) else 0
            if isinstance(e, pymysql.err.InterfaceError) or code >= 2000 or code in _STORE_SIDE_CODES:
                log.warning("store %s unavailable: %s", self.label, e)
                raise StoreUnavailable(self.label) from e
            raise
        except (OSError, asyncio.TimeoutError) as e:
            log.warning("store %s unreachable: %s", self.label, e)
            raise StoreUnavailable(self.label) from e


@contextmanager
def redis_errors(label: str):
    try:
        yield
    except (redis.exceptions.RedisError, OSError, asyncio.TimeoutError) as e:
        log.warning("store %s failed: %s", label, e)
        raise StoreUnavailable(label) from e


def _mysql_server(url: str):
    """(server key, connect kwargs, database name) of a mysql:// URL, or None when it is not one."""
    try:
        u = urlsplit(url)
        if u.scheme != "mysql" or not u.hostname:
            return None
        kwargs = dict(host=u.hostname, port=u.port or 3306, user=unquote(u.username or "root"),
                      password=unquote(u.password or ""))
    except ValueError:
        return None
    return f"{u.netloc}?{u.query}", kwargs, u.path.lstrip("/")


class Stores:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.pools: dict[str, aiomysql.Pool] = {}
        self.dbs: dict[str, tuple[str, str] | None] = {}  # legacy name -> (server key, db name)
        self.redis_by_url: dict[str, aioredis.Redis] = {}
        self.redis: dict[str, aioredis.Redis] = {}

    async def open(self) -> None:
        size = int(os.environ.get("REF_MYSQL_POOL_SIZE", "10"))
        for db, url in self.s.db_urls.items():
            parsed = _mysql_server(url)
            if parsed is None:
                log.error("config: db_%s_url is not a valid store URL", db.lower())
                self.dbs[db] = None
                continue
            key, kwargs, name = parsed
            self.dbs[db] = (key, name)
            if key not in self.pools:
                common = dict(kwargs, autocommit=True, charset="utf8mb4", maxsize=size, connect_timeout=5)
                try:
                    self.pools[key] = await aiomysql.create_pool(minsize=1, **common)
                except (pymysql.err.MySQLError, OSError) as e:  # keep serving; /health reports it
                    log.warning("mysql %s unreachable at start-up: %s", kwargs["host"], e)
                    self.pools[key] = await aiomysql.create_pool(minsize=0, **common)
        for which, url in self.s.redis_urls.items():
            if url not in self.redis_by_url:
                self.redis_by_url[url] = aioredis.Redis.from_url(
                    url, decode_responses=True, socket_connect_timeout=5)
            self.redis[which] = self.redis_by_url[url]

    async def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
            await pool.wait_closed()
        for r in self.redis_by_url.values():
            await r.aclose()

    def db(self, legacy: str) -> Db:
        where = self.dbs.get(legacy)
        if where is None or not re.fullmatch(r"[A-Za-z0-9_$]{1,64}", where[1]):
            raise RuntimeError(f"db_{legacy.lower()}_url names no usable database")
        return Db(f"mysql:{legacy}", f"`{where[1]}`", self.pools[where[0]])


# ---- application -------------------------------------------------------------------------------


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.settings = settings = Settings()
    app.state.stores = stores = Stores(settings)
    await stores.open()
    if path := os.environ.get("SOLARHUB_REF_OPENAPI"):  # serve another document, e.g. the Rust one
        document = json.loads(Path(path).read_text())
        app.openapi = lambda: document  # FastAPI's documented override; still serialised per request
    yield
    await stores.close()


# No slash redirects: `/api/v1/bess/1/` is a 404 on the Rust side, not a 307 to `/api/v1/bess/1`.
app = FastAPI(title="SolarHub API (FastAPI reference)", version=VERSION, lifespan=lifespan,
              openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs", redoc_url="/api/v1/redoc",
              redirect_slashes=False)


def _cors_origins() -> list[str]:
    """`cors_allowed_origins` as shared/src/cors.rs reads it: comma-separated, a trailing `/` dropped."""
    with open(SPIN_TOML, "rb") as f:
        default = tomllib.load(f)["variables"]["cors_allowed_origins"].get("default", "")
    setting = os.environ.get("SPIN_VARIABLE_CORS_ALLOWED_ORIGINS", default)
    return [o for o in (part.strip().rstrip("/") for part in setting.split(",")) if o]


class CORS(CORSMiddleware):
    """Starlette's CORS middleware, only for requests naming an origin: like the Rust entry layer,
    a request without `Origin` costs nothing and gets no `Vary: Origin`."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not any(name == b"origin" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


# CORS as the entry layer answers it (shared/src/cors.rs), with Starlette's middleware.
app.add_middleware(CORS, allow_origins=_cors_origins(),
                   allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                   allow_headers=["Authorization", "Content-Type"],
                   expose_headers=["Deprecation", "Link", "Location", "Retry-After", "WWW-Authenticate"],
                   max_age=600)


@app.exception_handler(StoreUnavailable)
async def store_unavailable(_: Request, exc: StoreUnavailable):
    return JSONResponse({"detail": f"{exc.label} is unavailable", "store": exc.label}, status_code=503)


@app.exception_handler(RequestValidationError)
async def validation_failed(_: Request, exc: RequestValidationError):
    # pydantic's items as the Rust side writes them: no `ctx`, and a missing field's input is null.
    return JSONResponse({"detail": jsonable_encoder([
        {"type": e["type"], "loc": e["loc"], "msg": e["msg"], "input": None if e["type"] == "missing" else e.get("input")}
        for e in exc.errors()])}, status_code=422)


@app.exception_handler(Exception)
async def internal_error(_: Request, exc: Exception):
    request_id = secrets.token_hex(8)
    log.error("error request_id=%s: %r", request_id, exc)
    return JSONResponse({"detail": "Internal Server Error", "request_id": request_id}, status_code=500)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_stores(request: Request) -> Stores:
    return request.app.state.stores


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoresDep = Annotated[Stores, Depends(get_stores)]

# ---- the bearer guard (functions/auth-guard) ---------------------------------------------------

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)


class AccessClaims(BaseModel):
    name: str
    roles: list[str]
    perms: list[str]
    sid: str


@dataclass
class Caller:
    user_id: int
    username: str
    roles: list[str]
    permissions: list[str]
    token_id: str
    session_id: str
    expires_at: int


def verify_token(token: str, secret: str) -> Caller:
    if len(token) > MAX_TOKEN_LEN:
        raise unauthorized(INVALID)
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
                            leeway=CLOCK_SKEW_SECS, options={"require": ["exp", "nbf", "jti", "sub"]})
        custom = AccessClaims.model_validate(claims)
    except jwt.ExpiredSignatureError:
        raise unauthorized(EXPIRED) from None
    except (jwt.PyJWTError, ValidationError):
        raise unauthorized(INVALID) from None
    sub, jti = claims["sub"], claims["jti"]
    if not re.fullmatch(r"\+?[0-9]{1,20}", sub) or int(sub) >= 2**64 or not jti or not custom.sid:
        raise unauthorized(INVALID)
    return Caller(int(sub), custom.name, custom.roles, custom.perms, jti, custom.sid, int(claims["exp"]))


def require(permission: str | None = None):
    async def authorize(token: Annotated[str | None, Depends(oauth2)],
                        settings: SettingsDep, stores: StoresDep) -> Caller:
        token = (token or "").strip()
        if not token:  # nothing to check against Redis: answer before touching it
            raise unauthorized(NOT_AUTHENTICATED)
        caller = verify_token(token, settings.jwt_secret)
        p = settings.prefix
        with redis_errors("redis:main"):  # one round trip: the token or its whole session revoked?
            revoked = await stores.redis["main"].exists(
                f"{p}auth:revoked:jti:{caller.token_id}", f"{p}auth:revoked:sid:{caller.session_id}")
        if revoked > 0:
            raise unauthorized(REVOKED)
        if permission is not None and permission not in caller.permissions:
            raise HTTPException(403, f"Missing permission: {permission}")
        return caller

    return authorize


# ---- users (shared/src/guest/users.rs) ---------------------------------------------------------


class UserView(BaseModel):
    id: int
    username: str
    email: str
    full_name: str | None
    roles: list[str]
    permissions: list[str]
    active: bool
    created_at: str | None
    last_login_at: str | None


@dataclass
class UserRecord:
    view: UserView
    password_hash: str


def add_grant(user: UserView, role: str | None, permission: str | None) -> None:
    if role is not None and role not in user.roles:
        user.roles.append(role)
    if permission is not None and permission not in user.permissions:
        user.permissions.append(permission)


async def find_user(db: Db, cur, *, user_id: int | None = None, username: str | None = None,
                    tz: timezone) -> UserRecord | None:
    """One user with roles and permissions, in one round trip."""
    condition, param = ("u.id = %s", user_id) if user_id is not None else ("u.username = %s", username)
    await cur.execute(
        "SELECT u.id, u.username, u.email, u.full_name, u.password_hash, u.active, "
        "CAST(u.created_at AS CHAR) AS created_at, CAST(u.last_login_at AS CHAR) AS last_login_at, "
        "r.name AS role, p.name AS permission "
        f"FROM {db.table('users')} u "
        f"LEFT JOIN {db.table('user_roles')} ur ON ur.user_id = u.id "
        f"LEFT JOIN {db.table('roles')} r ON r.id = ur.role_id "
        f"LEFT JOIN {db.table('role_permissions')} rp ON rp.role_id = r.id "
        f"LEFT JOIN {db.table('permissions')} p ON p.id = rp.permission_id "
        f"WHERE {condition} ORDER BY r.name, p.name", (param,))
    rows = await cur.fetchall()
    if not rows:
        return None
    uid, uname, email, full_name, pw_hash, active, created, last_login = rows[0][:8]
    view = UserView(id=uid, username=uname, email=email, full_name=full_name, roles=[], permissions=[],
                    active=bool(active), created_at=iso(created, tz), last_login_at=iso(last_login, tz))
    for row in rows:
        add_grant(view, row[8], row[9])
    view.permissions.sort()
    return UserRecord(view, pw_hash)


# ---- passwords (shared/src/password.rs, argon2id only) -----------------------------------------

HASHER = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16,
                               type=argon2.Type.ID)  # argon2id v19 m=19456 t=2 p=1, as the Rust side


def _candidates(password: str, legacy_salt: str | None) -> list[str]:
    forms = [unicodedata.normalize("NFKD", password)]
    if forms[0] != password:
        forms.append(password)
    if legacy_salt:  # Flask-Security's pre-hashed form: base64(HMAC-SHA512(salt, password))
        forms += [base64.b64encode(hmac.new(legacy_salt.encode(), f.encode(), hashlib.sha512).digest()).decode()
                  for f in forms]
    return forms


def verify_password(password: str, stored: str, legacy_salt: str | None) -> bool:
    try:
        p = argon2.extract_parameters(stored)
    except argon2.exceptions.InvalidHashError:
        log.warning("login: stored hash unusable (only argon2id is supported here)")
        return False
    if (p.type is not argon2.Type.ID or p.memory_cost > 102_400 or p.memory_cost * p.time_cost > 409_600
            or p.parallelism > 16):
        log.warning("login: stored argon2 hash outside the accepted parameters")
        return False
    if len(password) > 1024:
        return False
    for candidate in _candidates(password, legacy_salt):
        try:
            if HASHER.verify(stored, candidate):
                return True
        except argon2.exceptions.VerifyMismatchError:
            continue
        except argon2.exceptions.VerificationError as e:
            log.warning("login: stored hash unusable: %s", e)
            return False
    return False


def rehash_password(password: str) -> str:
    return HASHER.hash(unicodedata.normalize("NFKD", password))


def needs_rehash(stored: str) -> bool:
    try:
        return HASHER.check_needs_rehash(stored)
    except argon2.exceptions.InvalidHashError:
        return True


# ---- auth routes (functions/auth) --------------------------------------------------------------


class LoginBody(BaseModel):
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)
    grant_type: str | None = Field(None, pattern="^password$")


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


MAX_BODY_BYTES = 64 * 1024  # as shared/src/guest/entry.rs


def too_large() -> HTTPException:
    return HTTPException(413, f"Request body is larger than {MAX_BODY_BYTES} bytes")


async def read_fields(request: Request) -> dict:
    """JSON object or OAuth2 password form, by content type (shared/src/forms.rs)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large()
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise too_large()
    if media == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(raw.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            raise body_error("json_invalid", ["body"], "Body is not valid UTF-8") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise body_error("json_invalid", ["body"], "JSON decode error") from None
    if not isinstance(data, dict):
        raise body_error("model_attributes_type", ["body"],
                         "Input should be a valid dictionary or object to extract fields from", data)
    return data


class Throttle:
    """Failed logins per username, attempts per address (functions/auth/src/throttle.rs)."""

    def __init__(self, r: aioredis.Redis, s: Settings, username: str, address: str) -> None:
        self.r, self.s = r, s
        self.user_key = f"{s.prefix}auth:throttle:user:{username.lower()}"
        self.address_key = f"{s.prefix}auth:throttle:addr:{address}"

    async def admit(self) -> None:
        with redis_errors("redis:main"):
            user_failures, attempts = (int(v or 0) for v in await self.r.mget(self.user_key, self.address_key))
            for key, n, limit in ((self.user_key, user_failures, self.s.max_failures_per_user),
                                  (self.address_key, attempts, self.s.max_attempts_per_address)):
                if n >= limit:
                    ttl = await self.r.ttl(key)
                    retry = ttl if ttl > 0 else self.s.throttle_window
                    raise HTTPException(429, "Too many attempts; try again later",
                                        headers={"Retry-After": str(retry)})
            await self.bump(self.address_key)

    async def bump(self, key: str) -> None:
        with redis_errors("redis:main"):
            if await self.r.incr(key) == 1:
                await self.r.expire(key, self.s.throttle_window)

    async def succeeded(self) -> None:
        with redis_errors("redis:main"):
            await self.r.delete(self.user_key)


LOGIN_SCHEMA = LoginBody.model_json_schema()


@app.post("/api/v1/auth/login", response_model=TokenPair, tags=["auth"], openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": LOGIN_SCHEMA},
                                  "application/x-www-form-urlencoded": {"schema": LOGIN_SCHEMA}}}})
async def login(request: Request, settings: SettingsDep, stores: StoresDep) -> TokenPair:
    fields = {k: v for k, v in (await read_fields(request)).items() if v is not None}
    try:
        body = LoginBody.model_validate(fields)
    except ValidationError as e:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]) from None
    r = stores.redis["main"]
    throttle = Throttle(r, settings, body.username, request.client.host if request.client else "unknown")
    await throttle.admit()

    ess = stores.db("ess")
    async with ess.cursor() as cur:
        user = await find_user(ess, cur, username=body.username, tz=settings.site_tz)
    if user is not None:
        verified = await run_in_threadpool(verify_password, body.password, user.password_hash, settings.legacy_salt)
    else:  # the same work as a real verification, so timing does not reveal unknown users
        await run_in_threadpool(rehash_password, body.password)
        verified = False
    if user is None or not verified:
        await throttle.bump(throttle.user_key)
        raise unauthorized("Incorrect username or password")
    await throttle.succeeded()
    if not user.view.active:
        raise HTTPException(403, "Missing permission: an active account")

    new_hash = await run_in_threadpool(rehash_password, body.password) if needs_rehash(user.password_hash) else None
    async with ess.cursor() as cur:
        users = ess.table("users")
        if new_hash is not None:
            await cur.execute(f"UPDATE {users} SET password_hash = %s, last_login_at = UTC_TIMESTAMP(), "
                              "updated_at = UTC_TIMESTAMP() WHERE id = %s", (new_hash, user.view.id))
        else:
            await cur.execute(f"UPDATE {users} SET last_login_at = UTC_TIMESTAMP() WHERE id = %s", (user.view.id,))
    return await issue(r, settings, user.view, secrets.token_hex(16))


async def issue(r: aioredis.Redis, s: Settings, user: UserView, session_id: str) -> TokenPair:
    now = int(time.time())
    access = jwt.encode({"iat": now, "exp": now + s.access_ttl, "nbf": now, "iss": ISSUER, "sub": str(user.id),
                         "aud": AUDIENCE, "jti": secrets.token_hex(16), "name": user.username,
                         "roles": user.roles, "perms": user.permissions, "sid": session_id},
                        s.jwt_secret, algorithm="HS256")
    refresh = secrets.token_urlsafe(32)
    key = f"{s.prefix}auth:refresh:{hashlib.sha256(refresh.encode()).hexdigest()}"
    sessions = f"{s.prefix}auth:sessions:{user.id}"
    with redis_errors("redis:main"):  # the same four commands as the Rust side, one at a time
        await r.hset(key, mapping={"uid": user.id, "sid": session_id, "uses": 0})
        await r.expire(key, s.refresh_ttl)
        await r.sadd(sessions, session_id)
        await r.expire(sessions, s.refresh_ttl)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=s.access_ttl)


@app.get("/api/v1/auth/me", response_model=UserView, tags=["auth"])
async def me(caller: Annotated[Caller, Depends(require())], settings: SettingsDep, stores: StoresDep) -> UserView:
    ess = stores.db("ess")
    async with ess.cursor() as cur:
        user = await find_user(ess, cur, user_id=caller.user_id, tz=settings.site_tz)
    if user is None or not user.view.active:  # a deleted or deactivated account's token must not work
        raise unauthorized(REVOKED)
    return user.view


# ---- admin: user list (functions/admin) ---------------------------------------------------------


class Sort(str, Enum):
    username = "username"
    username_desc = "-username"
    created_at = "created_at"
    created_at_desc = "-created_at"
    last_login_at = "last_login_at"
    last_login_at_desc = "-last_login_at"
    id = "id"


ORDER_BY = {
    Sort.id: "u.id ASC", Sort.username: "u.username ASC, u.id ASC", Sort.username_desc: "u.username DESC, u.id DESC",
    Sort.created_at: "u.created_at ASC, u.id ASC", Sort.created_at_desc: "u.created_at DESC, u.id DESC",
    Sort.last_login_at: "u.last_login_at ASC, u.id ASC", Sort.last_login_at_desc: "u.last_login_at DESC, u.id DESC",
}


class UserListQuery(BaseModel):
    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=100)
    q: str | None = Field(None, max_length=255, description="substring of username, email or full name")
    role: str | None = None
    active: bool | None = None
    sort: Sort = Sort.id

    @model_validator(mode="before")
    @classmethod
    def blank_is_absent(cls, data):  # `?q=&role=` lists everyone, as the Rust side does
        return {k: v for k, v in data.items() if v != ""} if isinstance(data, dict) else data


class UserPage(BaseModel):
    items: list[UserView]
    total: int
    page: int
    page_size: int


def like_pattern(text: str) -> str:
    return "%" + re.sub(r"([!%_])", r"!\1", text) + "%"


@app.get("/api/v1/admin/users", response_model=UserPage, tags=["admin"])
async def list_users(params: Annotated[UserListQuery, Query()],
                     _: Annotated[Caller, Depends(require(PERM_USERS_ADMIN))],
                     settings: SettingsDep, stores: StoresDep) -> UserPage:
    ess = stores.db("ess")
    async with ess.cursor() as cur:
        if params.role is not None:
            await cur.execute(
                "SELECT r.id, r.name, EXISTS (SELECT 1 FROM "
                f"{ess.table('role_permissions')} rp JOIN {ess.table('permissions')} p ON p.id = rp.permission_id "
                f"WHERE rp.role_id = r.id AND p.name = %s) AS admin FROM {ess.table('roles')} r ORDER BY r.name",
                (PERM_USERS_ADMIN,))
            names = [row[1] for row in await cur.fetchall()]
            if params.role not in names:
                quoted = [f"'{n}'" for n in names]
                one_of = quoted[-1] if len(quoted) < 2 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
                raise body_error("enum", ["query", "role"], f"Input should be {one_of}", params.role)
        conditions, values = [], []
        if params.q is not None:
            conditions.append("(u.username LIKE %s ESCAPE '!' OR u.email LIKE %s ESCAPE '!' "
                              "OR u.full_name LIKE %s ESCAPE '!')")
            values += [like_pattern(params.q)] * 3
        if params.role is not None:
            conditions.append(f"EXISTS (SELECT 1 FROM {ess.table('user_roles')} ur JOIN {ess.table('roles')} r "
                              "ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = %s)")
            values.append(params.role)
        if params.active is not None:
            conditions.append("u.active = %s")
            values.append(int(params.active))
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        users = ess.table("users")
        await cur.execute(f"SELECT COUNT(*) AS total FROM {users} u{where}", values)
        total = (await cur.fetchone())[0]
        offset = min((params.page - 1) * params.page_size, 2**64 - 1)
        await cur.execute(
            "SELECT u.id, u.username, u.email, u.full_name, u.active, CAST(u.created_at AS CHAR) AS created_at, "
            f"CAST(u.last_login_at AS CHAR) AS last_login_at FROM {users} u{where} "
            f"ORDER BY {ORDER_BY[params.sort]} LIMIT %s OFFSET %s", [*values, params.page_size, offset])
        tz = settings.site_tz
        items = [UserView(id=i, username=u, email=e or "", full_name=f, roles=[], permissions=[], active=bool(a),
                          created_at=iso(c, tz), last_login_at=iso(ll, tz))
                 for i, u, e, f, a, c, ll in await cur.fetchall()]
        if items:  # roles and permissions of the page's users, in one query
            by_id = {u.id: u for u in items}
            await cur.execute(
                f"SELECT ur.user_id, r.name AS role, p.name AS permission FROM {ess.table('user_roles')} ur "
                f"JOIN {ess.table('roles')} r ON r.id = ur.role_id "
                f"LEFT JOIN {ess.table('role_permissions')} rp ON rp.role_id = r.id "
                f"LEFT JOIN {ess.table('permissions')} p ON p.id = rp.permission_id "
                f"WHERE ur.user_id IN ({', '.join(['%s'] * len(items))}) ORDER BY r.name, p.name", list(by_id))
            for user_id, role, permission in await cur.fetchall():
                if user_id in by_id:
                    add_grant(by_id[user_id], role, permission)
            for u in items:
                u.permissions.sort()
    return UserPage(items=items, total=total, page=min(params.page, 2**64 - 1), page_size=params.page_size)


# ---- system: health (functions/system, shared/src/guest/health.rs) ------------------------------


class DependencyCheck(BaseModel):
    name: str
    kind: Literal["mysql", "redis"]
    ok: bool
    latency_ms: float
    error: Literal["unreachable", "database_missing", "query_failed", "misconfigured"] | None = None


class HealthReport(BaseModel):
    status: Literal["ok", "degraded", "down"]
    version: str
    checked_at: str
    detail: str | None = None
    dependencies: list[DependencyCheck]


def _check(name: str, kind: str, ms: float, error: str | None = None) -> DependencyCheck:
    return DependencyCheck(name=name, kind=kind, ok=error is None, latency_ms=round(ms, 2), error=error)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def _probe_server(pool: aiomysql.Pool, names: list[str]) -> tuple[list[str | None], float]:
    """One round trip answers every database on a server: which of them exist? (errors, ms)"""
    started = time.perf_counter()
    try:
        conn = await pool.acquire()
    except (pymysql.err.MySQLError, OSError, asyncio.TimeoutError) as e:
        log.warning("health: mysql unreachable: %s", e)
        return ["unreachable"] * len(names), _ms_since(started)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN "
                              f"({','.join(['%s'] * len(names))})", names)
            present = {row[0] for row in await cur.fetchall()}
    except (pymysql.err.MySQLError, OSError, asyncio.TimeoutError) as e:
        log.warning("health: mysql check failed: %s", e)
        return ["query_failed"] * len(names), _ms_since(started)
    finally:
        pool.release(conn)
    return [None if n in present else "database_missing" for n in names], _ms_since(started)


async def _ping(name: str, r: aioredis.Redis) -> DependencyCheck:
    started = time.perf_counter()
    try:
        pong = await r.ping()
    except (redis.exceptions.RedisError, OSError, asyncio.TimeoutError) as e:
        log.warning("health: %s unreachable: %s", name, e)
        return _check(name, "redis", _ms_since(started), "unreachable")
    return _check(name, "redis", _ms_since(started), None if pong is True else "query_failed")


@app.get("/api/v1/health", response_model=HealthReport, response_model_exclude_none=True, tags=["system"],
         responses={503: {"model": HealthReport, "description": "a dependency is down"}})
async def health(response: Response, settings: SettingsDep, stores: StoresDep) -> HealthReport:
    servers: dict[str, list[str]] = {}  # server key -> legacy names on it
    for db in DATABASES:
        if (where := stores.dbs[db]) is not None:
            servers.setdefault(where[0], []).append(db)
    groups = list(servers.items())
    # Every server and Redis store at once (the Rust side, synchronous, checks them one after another).
    probes = await asyncio.gather(
        *(_probe_server(stores.pools[key], [stores.dbs[db][1] for db in dbs]) for key, dbs in groups),
        *(_ping(f"redis:{which}", stores.redis[which]) for which in ("main", "gtr")))
    outcome: dict[str, DependencyCheck] = {}
    for (_, dbs), (errors, ms) in zip(groups, probes[:len(groups)]):
        for db, error in zip(dbs, errors):
            outcome[db] = _check(f"mysql:{db}", "mysql", ms, error)
    checks = [outcome.get(db) or _check(f"mysql:{db}", "mysql", 0.0, "misconfigured") for db in DATABASES]
    checks += probes[len(groups):]
    failed = [c.name for c in checks if not c.ok]
    status = "ok" if not failed else "down" if len(failed) == len(checks) else "degraded"
    response.status_code = 200 if status == "ok" else 503
    return HealthReport(status=status, version=VERSION, checked_at=now_iso(settings.site_tz),
                        detail=f"unavailable: {', '.join(failed)}" if failed else None, dependencies=checks)


# ---- Rust-exact parsing and formatting (shared/src/{live,time,params}.rs) ------------------------
# The Rust side parses numbers with `str::parse` and does civil time arithmetic itself; these do
# the same, so a 422's input, a live value's staleness and every timestamp come out identical.

# char::is_whitespace (Unicode White_Space): what Rust's `str::trim` strips.
RUST_WS = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
           "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
I32, I64, I128 = (-(2**31), 2**31 - 1), (-(2**63), 2**63 - 1), (-(2**127), 2**127 - 1)
U32, U64 = (0, 2**32 - 1), (0, 2**64 - 1)
_SIGNED, _UNSIGNED = re.compile(r"[+-]?[0-9]+"), re.compile(r"\+?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
                    re.ASCII | re.IGNORECASE)


def rust_int(s: str, bounds: tuple[int, int]) -> int | None:
    """`s.parse::<iN / uN>()`: a sign (only `+` when unsigned) and ASCII digits, within bounds."""
    if not (_SIGNED if bounds[0] < 0 else _UNSIGNED).fullmatch(s):
        return None
    n = int(s)
    return n if bounds[0] <= n <= bounds[1] else None


def rust_f64(s: str) -> float | None:
    """`s.parse::<f64>()`: no surrounding whitespace, no underscores; `inf`/`NaN` parse."""
    return float(s) if _FLOAT.fullmatch(s) else None


def as_i64(x: float) -> int:
    """`x as i64` of a finite f64: truncated toward zero, saturating."""
    return max(I64[0], min(I64[1], int(x)))


def rust_display(x: float) -> str:
    """`format!("{}", x)` of an f64: the shortest digits that read back, never an exponent."""
    text = format(Decimal(repr(x)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def rust_round(x: float, digits: int) -> float:
    """shared::site's `(x * 10^d).round() / 10^d`; f64::round takes halves away from zero."""
    scale = 10.0 ** digits
    v = x * scale
    t = float(math.trunc(v))
    if abs(v - t) >= 0.5:
        t += math.copysign(1.0, v)
    return math.copysign(t, v) / scale


def rust_sum(xs) -> float:
    """`Iterator::sum::<f64>()`: left to right from -0.0 (so an empty sum is -0.0)."""
    total = -0.0
    for x in xs:
        total += x
    return total


def days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468


def civil_from_days(days: int) -> tuple[int, int, int]:
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, doy - (153 * mp + 2) // 5 + 1


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31 if 1 <= m <= 12 else 0


def parse_date(b: bytes) -> tuple[int, int, int] | None:
    """`Date::parse`: `YYYY-MM-DD` (UTF-8 bytes), an impossible date is None."""
    if len(b) != 10 or b[4:5] != b"-" or b[7:8] != b"-":
        return None
    y, m, d = rust_int(b[:4].decode("latin-1"), I32), rust_int(b[5:7].decode("latin-1"), U32), \
        rust_int(b[8:].decode("latin-1"), U32)
    if y is None or m is None or d is None or not 1 <= m <= 12 or not 1 <= d <= _days_in_month(y, m):
        return None
    return y, m, d


def local_date(unix: int, offset: int) -> tuple[int, int, int]:
    return civil_from_days((unix + offset) // 86_400)


def format_date(date: tuple[int, int, int]) -> str:
    return f"{date[0]:04d}-{date[1]:02d}-{date[2]:02d}"


def format_iso(unix: int, offset: int) -> str:
    """`2026-11-22T09:30:00+08:00`"""
    local = unix + offset
    secs = local % 86_400
    sign, off = ("-", -offset) if offset < 0 else ("+", offset)
    return (f"{format_date(civil_from_days(local // 86_400))}T{secs // 3600:02d}:{secs // 60 % 60:02d}:"
            f"{secs % 60:02d}{sign}{off // 3600:02d}:{off // 60 % 60:02d}")


def format_mysql_datetime(unix: int) -> str:
    secs = unix % 86_400
    return (f"{format_date(civil_from_days(unix // 86_400))} "
            f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}")


def parse_mysql_datetime(s: str | None) -> int | None:
    """MySQL's UTC `YYYY-MM-DD HH:MM:SS[.ffffff]` as Unix seconds, fraction dropped."""
    if s is None:
        return None
    b = s.encode()
    date = parse_date(b[:10])
    if date is None or len(b) < 19 or b[10:11] != b" ":
        return None
    parts = [rust_int(p.decode("latin-1"), I64) for p in b[11:19].split(b":")[:3]]
    if len(parts) < 3 or None in parts or parts[0] > 23 or parts[1] > 59 or parts[2] > 60:
        return None
    return days_from_civil(*date) * 86_400 + parts[0] * 3600 + parts[1] * 60 + parts[2]


def parse_offset(z: str) -> int | None:
    """`UtcOffset::parse`: `+08:00`, `-05:30`, `+8`, `Z`; seconds east of UTC."""
    if z in ("Z", "z"):
        return 0
    if not z or z[0] not in "+-":
        return None
    h, _, m = z[1:].partition(":")
    h, m = rust_int(h, I32), rust_int(m, I32) if ":" in z[1:] else 0
    if h is None or m is None or not 0 <= h <= 14 or not 0 <= m < 60:
        return None
    return (h * 3600 + m * 60) * (1 if z[0] == "+" else -1)


def parse_iso_datetime(b: bytes, local: int) -> int | None:
    """`YYYY-MM-DDTHH:MM[:SS[.fraction]]` with an optional `Z` / `±HH:MM` (else site-local)."""
    date = parse_date(b[:10])
    if date is None or b[10:11] not in (b"T", b"t", b" "):
        return None
    rest = b[11:]
    zone_at = min((i for i in (rest.find(c) for c in b"Zz+-") if i >= 0), default=len(rest))
    clock, zone = rest[:zone_at], rest[zone_at:]
    offset = parse_offset(zone.decode("latin-1")) if zone else local
    parts = clock.split(b".")[0].split(b":")
    if offset is None or not 2 <= len(parts) <= 3:
        return None
    h, m, sec = (*parts, b"00")[:3]
    if any(len(p) != 2 for p in (h, m, sec)):
        return None
    h, m, sec = (rust_int(p.decode("latin-1"), I64) for p in (h, m, sec))
    if h is None or m is None or sec is None or h > 23 or m > 59 or sec > 59:
        return None
    return days_from_civil(*date) * 86_400 + h * 3600 + m * 60 + sec - offset


# ---- path and query parameters (shared/src/params.rs) --------------------------------------------
# FastAPI's own int/bool coercion differs at the edges (pydantic takes "7.0" and "1_0" as integers
# and refuses " yes "), so these parameters arrive as strings and are checked the way the Rust side
# checks them, with the same pydantic-shaped 422 items. A repeated query name takes its last value
# (FastAPI's rule too); an empty value counts as absent.


class FieldError(Exception):
    def __init__(self, source: str, name: str, type_: str, msg: str, raw: str) -> None:
        self.item = {"type": type_, "loc": [source, name], "msg": msg, "input": raw}


def integer(source: str, name: str, raw: str, lo: int, hi: int | None) -> int:
    n = rust_int(raw.strip(RUST_WS), I128)
    if n is None:
        raise FieldError(source, name, "int_parsing",
                         "Input should be a valid integer, unable to parse string as an integer", raw)
    if n < lo:
        raise FieldError(source, name, "greater_than_equal", f"Input should be greater than or equal to {lo}", raw)
    if hi is not None and n > hi:
        raise FieldError(source, name, "less_than_equal", f"Input should be less than or equal to {hi}", raw)
    return min(n, U64[1])


def boolean(source: str, name: str, raw: str) -> bool:
    word = raw.strip(RUST_WS)
    word = word.lower() if word.isascii() else word  # to_ascii_lowercase
    if word in ("true", "1", "yes", "y", "on", "t"):
        return True
    if word in ("false", "0", "no", "n", "off", "f"):
        return False
    raise FieldError(source, name, "bool_parsing", "Input should be a valid boolean, unable to interpret input", raw)


def instant(source: str, name: str, raw: str, offset: int) -> int:
    """A site-local date (its local midnight) or an ISO 8601 datetime, as Unix seconds."""
    b = raw.strip(RUST_WS).encode()
    if len(b) == 10:
        date = parse_date(b)
        parsed = None if date is None else days_from_civil(*date) * 86_400 - offset
    else:
        parsed = parse_iso_datetime(b, offset)
    if parsed is None:
        raise FieldError(source, name, "datetime_from_date_parsing",
                         "Input should be a valid datetime or date, as YYYY-MM-DD or "
                         "YYYY-MM-DDTHH:MM:SS[±HH:MM]", raw)
    return parsed


class Checks:
    """Runs several parameter checks and reports every failure at once, in order."""

    def __init__(self) -> None:
        self.errors: list[dict] = []

    def run(self, check, *args):
        try:
            return check(*args)
        except FieldError as e:
            self.errors.append(e.item)
            return None

    def raise_any(self) -> None:
        if self.errors:
            raise RequestValidationError(self.errors)


def present(value: str | None) -> str | None:
    return value if value else None


# ---- legacy Flask paths (shared/src/http.rs `deprecated`) ----------------------------------------

DEPRECATION = "@1795305600"  # 2026-11-22T00:00:00Z, the day the v1 routes replaced the Flask ones


async def error_response(request: Request, exc: Exception) -> Response:
    """The answer the app's exception handlers give `exc`."""
    if isinstance(exc, RequestValidationError):
        return await validation_failed(request, exc)
    if isinstance(exc, StoreUnavailable):
        return await store_unavailable(request, exc)
    if isinstance(exc, HTTPException):
        return await http_exception_handler(request, exc)
    return await internal_error(request, exc)


def legacy(successor: str) -> type[APIRoute]:
    """Route class of a legacy path: its successor's answer, errors included, marked deprecated
    (RFC 9745 `Deprecation`, and a `Link` to `successor`, a path template of the same parameters).
    A 405 comes from the router and is not marked, as on the Rust side."""

    class LegacyRoute(APIRoute):
        def get_route_handler(self):
            handler = super().get_route_handler()

            async def deprecated(request: Request) -> Response:
                try:
                    response = await handler(request)
                except Exception as exc:  # noqa: BLE001 - every answer is marked, errors too
                    response = await error_response(request, exc)
                response.headers["Deprecation"] = DEPRECATION
                response.headers["Link"] = f'<{successor.format(**request.path_params)}>; rel="successor-version"'
                return response

            return deprecated

    return LegacyRoute


def add_legacy(path: str, endpoint, successor: str, **kwargs) -> None:
    app.router.add_api_route(path, endpoint, methods=["GET"], deprecated=True,
                             route_class_override=legacy(successor), **kwargs)


# ---- live values (shared/src/live.rs, guest/stores.rs) -------------------------------------------

PERM_TELEMETRY_READ, PERM_TRADING_READ = "telemetry:read", "trading:read"
RACK_COUNT, PCS_COUNT = 12, 2
REDIS_ERRORS = (redis.exceptions.RedisError, OSError, asyncio.TimeoutError)


@dataclass
class LiveValues:
    """A collector's live hash; stale without a readable `ts` or when `ts` is further than
    `live_stale_after_secs` from now (either way)."""
    fields: dict[str, str]
    ts: int | None
    stale: bool

    @classmethod
    def from_fields(cls, fields: dict[str, str], now: int, stale_after: int) -> LiveValues | None:
        if not fields:
            return None
        t = rust_f64(fields["ts"]) if "ts" in fields else None
        ts = as_i64(t) if t is not None and math.isfinite(t) else None
        return cls(fields, ts, ts is None or abs(now - ts) > stale_after)

    def text(self, name: str) -> str | None:
        return self.fields.get(name)

    def f64(self, name: str) -> float | None:
        raw = self.fields.get(name)
        x = rust_f64(raw.strip(RUST_WS)) if raw is not None else None
        return x if x is not None and math.isfinite(x) else None


async def live_values(r: aioredis.Redis, key: str, stale_after: int) -> LiveValues | None:
    """HGETALL of a live hash (prefix included); None when absent."""
    return LiveValues.from_fields(await r.hgetall(key), int(time.time()), stale_after)


def meter_scan_pattern(prefix: str) -> str:
    """`<prefix>meter:*` with glob characters of the prefix escaped (matched literally)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "meter:*"


async def scan_hash_keys(r: aioredis.Redis, pattern: str) -> list[str]:
    """`SCAN cursor MATCH pattern COUNT 1000 TYPE hash` until the cursor is 0 again (never KEYS,
    which blocks the server), at most 10 000 rounds; a key may come back more than once."""
    keys, cursor = [], 0
    for _ in range(10_000):
        cursor, batch = await r.scan(cursor, match=pattern, count=1000, _type="hash")
        keys += batch
        if cursor == 0:
            break
    return keys


# ---- bess: one rack and its alerts (functions/bess, shared/src/{telemetry,alerts}.rs) ------------

RACK_NUMBERS = ("soc", "soh", "voltage", "current", "power_kw", "cell_v_max_mv", "cell_v_min_mv",
                "temp_max", "temp_min", "temp_avg", "alarm_count")


@dataclass
class RackReading:
    ts: int
    status: str
    soc: float
    soh: float
    voltage: float
    current: float
    power_kw: float
    cell_v_max_mv: int
    cell_v_min_mv: int
    temp_max: float
    temp_min: float
    temp_avg: float
    alarm_count: int

    @classmethod
    def from_live(cls, v: LiveValues) -> RackReading | None:
        """None when a field is missing or unreadable: half a hash counts as no live value."""
        numbers = [v.f64(name) for name in RACK_NUMBERS]
        status = v.text("status")
        if v.ts is None or status is None or None in numbers:
            return None
        soc, soh, voltage, current, power, v_max, v_min, t_max, t_min, t_avg, alarms = numbers
        return cls(v.ts, status, soc, soh, voltage, current, power, as_i64(v_max), as_i64(v_min),
                   t_max, t_min, t_avg, as_i64(alarms))


class RackView(BaseModel):
    bess_number: int
    status: str
    soc: float = Field(description="State of charge, %")
    soh: float = Field(description="State of health, %")
    voltage_v: float
    current_a: float
    power_kw: float = Field(description="Positive = discharge")
    cell_voltage_max_mv: int
    cell_voltage_min_mv: int
    cell_voltage_delta_mv: int
    temperature_max_c: float
    temperature_min_c: float
    temperature_avg_c: float
    alarm_count: int
    source: Literal["realtime", "history"]
    stale: bool
    updated_at: str

    @classmethod
    def of(cls, n: int, r: RackReading, source: str, stale: bool, offset: int) -> RackView:
        return cls(bess_number=n, status=r.status, soc=r.soc, soh=r.soh, voltage_v=r.voltage,
                   current_a=r.current, power_kw=r.power_kw, cell_voltage_max_mv=r.cell_v_max_mv,
                   cell_voltage_min_mv=r.cell_v_min_mv, cell_voltage_delta_mv=r.cell_v_max_mv - r.cell_v_min_mv,
                   temperature_max_c=r.temp_max, temperature_min_c=r.temp_min, temperature_avg_c=r.temp_avg,
                   alarm_count=r.alarm_count, source=source, stale=stale, updated_at=format_iso(r.ts, offset))


class InternalError(Exception):
    """A row that does not decode: our bug (a 500 with a request id)."""


async def latest_rack_row(db: Db) -> RackReading | None:
    """The newest `rack_data` row (an index lookup on the `ts` primary key)."""
    async with db.cursor() as cur:
        await cur.execute(
            "SELECT CAST(ts AS CHAR) AS ts, status, soc, soh, voltage, current, power_kw, cell_v_max_mv, "
            f"cell_v_min_mv, temp_max, temp_min, temp_avg, alarm_count FROM {db.table('rack_data')} "
            "ORDER BY ts DESC LIMIT 1")
        row = await cur.fetchone()
    if row is None:
        return None
    ts = parse_mysql_datetime(row[0])
    if ts is None or None in row:
        raise InternalError("rack_data: a row did not decode")
    _, status, soc, soh, voltage, current, power, v_max, v_min, t_max, t_min, t_avg, alarms = row
    return RackReading(ts, status, float(soc), float(soh), float(voltage), float(current), float(power),
                       int(v_max), int(v_min), float(t_max), float(t_min), float(t_avg), int(alarms))


RACK_NUMBER = Annotated[str, PathParam(description="1..12")]
TelemetryCaller = Annotated[Caller, Depends(require(PERM_TELEMETRY_READ))]
AnyCaller = Annotated[Caller, Depends(require())]


@app.get("/api/v1/bess/{bess_number}", response_model=RackView, tags=["bess"])
async def bess_rack(bess_number: RACK_NUMBER, _: TelemetryCaller, settings: SettingsDep,
                    stores: StoresDep) -> RackView:
    """Live from the GTR Redis while fresh, else the newest history row, else a stale live value."""
    checks = Checks()
    n = checks.run(integer, "path", "bess_number", bess_number, 1, RACK_COUNT)
    checks.raise_any()
    offset = settings.site_offset
    # The live hash; Redis down is not the end: the rack's history may still answer.
    stale_live, live_error = None, None
    try:
        live = await live_values(stores.redis["gtr"], f"{settings.prefix}bess:{n}", settings.live_stale_after)
    except REDIS_ERRORS as e:
        log.warning("store redis:gtr failed: %s", e)
        live_error = StoreUnavailable("redis:gtr")
    else:
        reading = RackReading.from_live(live) if live is not None else None
        if reading is not None and not live.stale:  # fresh: no MySQL query at all
            return RackView.of(n, reading, "realtime", False, offset)
        stale_live = reading
    try:
        row = await latest_rack_row(stores.db(f"BESS{n}"))
    except Exception:
        if stale_live is None:  # MySQL failed too: a stale live value is better than nothing
            raise
        row = None
    if row is not None:
        return RackView.of(n, row, "history", True, offset)
    if stale_live is not None:
        return RackView.of(n, stale_live, "realtime", True, offset)
    if live_error is not None:  # Redis failed and MySQL has nothing: we cannot say "no data"
        raise live_error
    raise HTTPException(404, f"No data for BESS{n}")


add_legacy("/api/bams_info/{bess_number}", bess_rack, "/api/v1/bess/{bess_number}",
           response_model=RackView, tags=["bess"])


class AlertView(BaseModel):
    id: int
    device_kind: str
    device_no: int
    code: str
    level: str
    message: str
    started_at: str
    cleared_at: str | None
    active: bool
    acknowledged: bool
    acknowledged_by: int | None = Field(description="who acknowledged it (null: nobody, or that user is gone)")
    acknowledged_at: str | None


class AlertList(BaseModel):
    items: list[AlertView]
    count: int


ALERT_COLUMNS = ("id, device_kind, device_no, code, level, message, CAST(started_at AS CHAR) AS started_at, "
                 "CAST(cleared_at AS CHAR) AS cleared_at, acknowledged, acknowledged_by, "
                 "CAST(acknowledged_at AS CHAR) AS acknowledged_at")


def alert_conditions(kind: str | None, number: int | None, active_only: bool, level: str | None,
                     since: int | None) -> tuple[str, list]:
    """` WHERE ...` (possibly empty) and its parameters, for a listing and its COUNT alike."""
    clauses, params = [], []
    if kind is not None:
        clauses.append("device_kind = %s")
        params.append(kind)
    if number is not None:
        clauses.append("device_no = %s")
        params.append(number)
    if active_only:
        clauses.append("cleared_at IS NULL")
    if level is not None:
        clauses.append("level = %s")
        params.append(level)
    if since is not None:
        clauses.append("started_at >= %s")
        params.append(format_mysql_datetime(since))
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


def alert_view(row, offset: int) -> AlertView:
    id_, device_kind, device_no, code, level_, message, started, cleared, ack, ack_by, ack_at = row
    started_at, cleared_at, acked_at = (parse_mysql_datetime(t) for t in (started, cleared, ack_at))
    if started_at is None or None in (id_, device_kind, device_no, code, level_, message, ack):
        raise InternalError("alerts: a row did not decode")
    return AlertView(id=id_, device_kind=device_kind, device_no=device_no, code=code, level=level_,
                     message=message, started_at=format_iso(started_at, offset),
                     cleared_at=None if cleared_at is None else format_iso(cleared_at, offset),
                     active=cleared_at is None, acknowledged=bool(ack), acknowledged_by=ack_by,
                     acknowledged_at=None if acked_at is None else format_iso(acked_at, offset))


async def list_alerts(db: Db, kind: str | None, number: int | None, active_only: bool, level: str | None,
                      since: int | None, limit: int, offset: int) -> list[AlertView]:
    """Alerts of some devices matching the filters, newest first (shared/src/guest/alerts.rs)."""
    where, params = alert_conditions(kind, number, active_only, level, since)
    async with db.cursor() as cur:
        await cur.execute(f"SELECT {ALERT_COLUMNS} FROM {db.table('alerts')}{where} "
                          "ORDER BY started_at DESC, id DESC LIMIT %s", [*params, limit])
        rows = await cur.fetchall()
    return [alert_view(row, offset) for row in rows]


@app.get("/api/v1/bess/alert/rack/{rack_number}", response_model=AlertList, tags=["bess"])
async def bess_rack_alerts(rack_number: RACK_NUMBER, _: TelemetryCaller, settings: SettingsDep,
                           stores: StoresDep,
                           active_only: Annotated[str | None, Query(description="boolean")] = None,
                           since: Annotated[str | None, Query(description="YYYY-MM-DD or ISO 8601")] = None,
                           limit: Annotated[str | None, Query(description="1..500, default 100")] = None,
                           ) -> AlertList:
    offset = settings.site_offset
    checks = Checks()  # every bad parameter at once, the path's first
    n = checks.run(integer, "path", "rack_number", rack_number, 1, RACK_COUNT)
    active = checks.run(boolean, "query", "active_only", active_only) if present(active_only) else False
    start = checks.run(instant, "query", "since", since, offset) if present(since) else None
    count = checks.run(integer, "query", "limit", limit, 1, 500) if present(limit) else 100
    checks.raise_any()
    items = await list_alerts(stores.db("ess"), "bess", n, active, None, start, count, offset)
    return AlertList(items=items, count=len(items))


add_legacy("/api/alert/rack/{rack_number}", bess_rack_alerts, "/api/v1/bess/alert/rack/{rack_number}",
           response_model=AlertList, tags=["bess"])


@app.exception_handler(InternalError)
async def internal_fault(request: Request, exc: InternalError):
    return await internal_error(request, exc)


# ---- the site: overview and topology (functions/system, shared/src/{site,energy}.rs) ------------


@dataclass
class LiveSite:
    racks: list  # LiveValues | None, index 0 = BESS1
    pcs: list  # index 0 = pcs0
    grid: LiveValues | None = None
    aux: LiveValues | None = None
    inverter: LiveValues | None = None


async def live_site(stores: Stores, settings: Settings) -> LiveSite:
    """Every device's live hash, one HGETALL at a time; a Redis store that fails leaves its
    devices None (the screen still shows the rest)."""
    p, stale_after = settings.prefix, settings.live_stale_after
    site = LiveSite(racks=[None] * RACK_COUNT, pcs=[None] * PCS_COUNT)
    gtr = stores.redis["gtr"]
    try:
        racks = [await live_values(gtr, f"{p}bess:{n}", stale_after) for n in range(1, RACK_COUNT + 1)]
        site.pcs = [await live_values(gtr, f"{p}pcs:{n}", stale_after) for n in range(PCS_COUNT)]
        site.racks = racks
    except REDIS_ERRORS as e:
        log.warning("store redis:gtr failed: %s", e)
        site.pcs = [None] * PCS_COUNT
    main = stores.redis["main"]
    try:
        grid = await live_values(main, f"{p}meter:MMAIN", stale_after)
        aux = await live_values(main, f"{p}meter:MAUX", stale_after)
        site.inverter = await live_values(main, f"{p}inverter:1", stale_after)
        site.grid, site.aux = grid, aux
    except REDIS_ERRORS as e:
        log.warning("store redis:main failed: %s", e)
        site.inverter = None
    return site


@dataclass
class Energy:
    positive_kwh: float = 0.0
    negative_kwh: float = 0.0
    gaps: int = 0
    samples: int = 0


PCS_INTERVAL_SECS, MAX_GAP_FACTOR, TODAY_CACHE_SECS = 10, 5, 60


def split_trapezoid(p0: float, p1: float, hours: float) -> tuple[float, float]:
    """The trapezoid from p0 to p1 as (energy above zero, energy below zero)."""
    if p0 >= 0.0 and p1 >= 0.0:
        return (p0 + p1) / 2.0 * hours, 0.0
    if p0 <= 0.0 and p1 <= 0.0:
        return 0.0, -(p0 + p1) / 2.0 * hours
    f = p0 / (p0 - p1)  # the line crosses zero here: two triangles
    first, second = p0 / 2.0 * f * hours, p1 / 2.0 * (1.0 - f) * hours
    return (first, -second) if p0 > 0.0 else (second, -first)


def integrate(samples: list[tuple[int, float]], nominal_secs: int) -> Energy:
    """Trapezoid integral; an interval over 5 nominal intervals is a gap, not bridged."""
    max_gap = max(nominal_secs, 1) * MAX_GAP_FACTOR
    e = Energy(samples=len(samples))
    for (ta, pa), (tb, pb) in zip(samples, samples[1:]):
        dt = tb - ta
        if dt <= 0:
            continue
        if dt > max_gap:
            e.gaps += 1
            continue
        pos, neg = split_trapezoid(pa, pb, dt / 3600.0)
        e.positive_kwh += pos
        e.negative_kwh += neg
    return e


def cached_energy(value: str | None) -> Energy | None:
    """`pos neg gaps samples`, as either side writes it."""
    parts = value.split(" ") if value is not None else []
    if len(parts) < 4:
        return None
    pos, neg = rust_f64(parts[0]), rust_f64(parts[1])
    gaps, samples = rust_int(parts[2], U32), rust_int(parts[3], U64)
    if pos is None or neg is None or gaps is None or samples is None:
        return None
    return Energy(pos, neg, gaps, samples)


async def today_pcs_energy(stores: Stores, settings: Settings, now: int) -> Energy:
    """Energy through both PCS since local midnight, from their history; reused from Redis for a
    minute (under the same key and in the same text as the Rust side)."""
    day = local_date(now, settings.site_offset)
    start = days_from_civil(*day) * 86_400 - settings.site_offset
    key = f"{settings.prefix}cache:pcs_energy:{format_date(day)}"
    r = stores.redis["main"]
    try:
        cached = cached_energy(await r.get(key))
    except REDIS_ERRORS:
        cached = None
    if cached is not None:
        return cached
    pcs = stores.db("PCS")
    total = Energy()
    async with pcs.cursor() as cur:
        for n in range(PCS_COUNT):
            await cur.execute(
                "SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', ts) AS t, p_kw "
                f"FROM {pcs.table(f'pcs{n}_data')} WHERE ts >= %s AND ts < %s ORDER BY ts",
                (format_mysql_datetime(start), format_mysql_datetime(now)))
            e = integrate([(t, kw) for t, kw in await cur.fetchall() if t is not None and kw is not None],
                          PCS_INTERVAL_SECS)
            total.positive_kwh += e.positive_kwh
            total.negative_kwh += e.negative_kwh
            total.gaps += e.gaps
            total.samples += e.samples
    value = f"{rust_display(total.positive_kwh)} {rust_display(total.negative_kwh)} {total.gaps} {total.samples}"
    try:  # a cache that cannot be written only costs the next request the same computation
        await r.set(key, value, ex=TODAY_CACHE_SECS)
    except REDIS_ERRORS:
        pass
    return total


class AlertCounts(BaseModel):
    active: int
    critical: int


async def alert_counts(ess: Db) -> AlertCounts:
    async with ess.cursor() as cur:
        await cur.execute("SELECT COUNT(*) AS active, COUNT(CASE WHEN level = 'critical' THEN 1 END) AS critical "
                          f"FROM {ess.table('alerts')} WHERE cleared_at IS NULL")
        row = await cur.fetchone()
    active, critical = row if row is not None else (0, 0)
    return AlertCounts(active=max(int(active or 0), 0), critical=max(int(critical or 0), 0))


async def current_mode(schedule: Db, now: int) -> str:
    """The mode of the schedule event running now (not cancelled), or `idle`."""
    at = format_mysql_datetime(now)
    async with schedule.cursor() as cur:
        await cur.execute(f"SELECT mode FROM {schedule.table('events')} WHERE start_at <= %s AND end_at > %s "
                          "AND status <> 'cancelled' ORDER BY start_at DESC LIMIT 1", (at, at))
        row = await cur.fetchone()
    return row[0] if row is not None and row[0] is not None else "idle"


class Ratings(BaseModel):
    name: str
    rack_count: int
    rack_capacity_kwh: float
    storage_capacity_kwh: float
    pcs_count: int
    pcs_rated_kw: float
    power_rating_kw: float


def ratings(s: Settings) -> Ratings:
    return Ratings(name=s.site_name, rack_count=RACK_COUNT, rack_capacity_kwh=s.rack_capacity_kwh,
                   storage_capacity_kwh=s.rack_capacity_kwh * RACK_COUNT, pcs_count=PCS_COUNT,
                   pcs_rated_kw=s.pcs_rated_kw, power_rating_kw=s.pcs_rated_kw * PCS_COUNT)


class BessSummary(BaseModel):
    online: int
    total: int
    average_soc: float | None = Field(description="Mean SOC of the online racks, %")
    total_power_kw: float


class PcsSummary(BaseModel):
    running: int
    faulted: int
    total: int
    total_p_kw: float


class GridSummary(BaseModel):
    kw: float | None
    frequency_hz: float | None
    stale: bool


class TodayEnergy(BaseModel):
    charge_kwh: float
    discharge_kwh: float
    gaps: int
    income: str | None = Field(description="today's final dReg/E-dReg income so far (null: a store it needs is down)")
    income_cents: int | None


class Overview(BaseModel):
    site: Ratings
    bess: BessSummary
    pcs: PcsSummary
    grid: GridSummary
    today: TodayEnergy
    alerts: AlertCounts
    mode: str
    updated_at: str


def fresh(values: list) -> list[LiveValues]:
    return [v for v in values if v is not None and not v.stale]


def bess_summary(site: LiveSite) -> BessSummary:
    """Only fresh racks count, and not those saying `offline`."""
    online = [v for v in fresh(site.racks) if v.text("status") is not None and v.text("status") != "offline"]
    socs = [x for v in online if (x := v.f64("soc")) is not None]
    return BessSummary(online=len(online), total=RACK_COUNT,
                       average_soc=rust_round(rust_sum(socs) / len(socs), 2) if socs else None,
                       total_power_kw=rust_round(rust_sum(x for v in online if (x := v.f64("power_kw")) is not None), 3))


def pcs_summary(site: LiveSite) -> PcsSummary:
    live = fresh(site.pcs)
    return PcsSummary(running=sum(v.text("status") == "run" for v in live),
                      faulted=sum(v.text("status") == "fault" for v in live), total=PCS_COUNT,
                      total_p_kw=rust_round(rust_sum(x for v in live if (x := v.f64("p_kw")) is not None), 3))


def grid_summary(site: LiveSite) -> GridSummary:
    g = site.grid
    return GridSummary(kw=g.f64("KW_tot") if g else None, frequency_hz=g.f64("freq") if g else None,
                       stale=g is None or g.stale)


@app.get("/api/v1/system/overview", response_model=Overview, tags=["system"])
async def system_overview(_: TelemetryCaller, settings: SettingsDep, stores: StoresDep) -> Overview:
    now = int(time.time())
    site = await live_site(stores, settings)
    today = await today_pcs_energy(stores, settings, now)
    try:  # the schedule, PCS and MMAIN history: without one of them the income is unknown, not an error
        income = await today_income_cents(stores, settings, now)
    except StoreUnavailable:
        income = None
    alerts = await alert_counts(stores.db("ess"))
    mode = await current_mode(stores.db("schedule"), now)
    return Overview(site=ratings(settings), bess=bess_summary(site), pcs=pcs_summary(site), grid=grid_summary(site),
                    today=TodayEnergy(charge_kwh=rust_round(today.negative_kwh, 3),
                                      discharge_kwh=rust_round(today.positive_kwh, 3), gaps=today.gaps,
                                      income=None if income is None else format_cents(income),
                                      income_cents=income),
                    alerts=alerts, mode=mode, updated_at=format_iso(now, settings.site_offset))


add_legacy("/api/system_overview", system_overview, "/api/v1/system/overview", response_model=Overview,
           tags=["system"])


class Node(BaseModel):
    id: str
    kind: str
    name: str
    status: str = Field(description="the device's status word; `stale` when old, `unknown` without one")
    metrics: dict[str, float | None]
    updated_at: str | None
    children: list[Node] = Field(default_factory=list, exclude_if=lambda children: not children)


def node(id_: str, kind: str, name: str, live: LiveValues | None, metrics: list[tuple[str, str]],
         offset: int) -> Node:
    status = "unknown" if live is None else "stale" if live.stale else live.text("status") or "ok"
    # Labels in key order, as the Rust side's JSON map (a BTreeMap) writes them.
    return Node(id=id_, kind=kind, name=name, status=status,
                metrics={label: live.f64(field) if live else None for label, field in sorted(metrics)},
                updated_at=format_iso(live.ts, offset) if live is not None and live.ts is not None else None)


@app.get("/api/v1/system/topology", response_model=Node, tags=["system"])
async def system_topology(_: TelemetryCaller, settings: SettingsDep, stores: StoresDep) -> Node:
    """Site → meters, PV inverter, PCS → racks (pcs0 serves BESS1-6, pcs1 BESS7-12)."""
    site = await live_site(stores, settings)
    off = settings.site_offset
    meter = [("kw", "KW_tot"), ("frequency_hz", "freq")]
    children = [node("meter:MMAIN", "meter", "MMAIN (grid)", site.grid, meter, off),
                node("meter:MAUX", "meter", "MAUX (auxiliary)", site.aux, meter, off),
                node("inverter:1", "inverter", "INVERTER_1 (PV)", site.inverter,
                     [("ac_kw", "ac_kw"), ("today_kwh", "today_kwh")], off)]
    per_pcs = RACK_COUNT // PCS_COUNT
    for p in range(PCS_COUNT):
        pcs = node(f"pcs:{p}", "pcs", f"pcs{p}", site.pcs[p], [("p_kw", "p_kw"), ("q_kvar", "q_kvar")], off)
        pcs.children = [node(f"bess:{n}", "bess", f"BESS{n}", site.racks[n - 1],
                             [("soc", "soc"), ("power_kw", "power_kw")], off)
                        for n in range(p * per_pcs + 1, (p + 1) * per_pcs + 1)]
        children.append(pcs)
    return Node(id="site", kind="site", name=settings.site_name, status="ok", metrics={}, updated_at=None,
                children=children)


add_legacy("/api/topology", system_topology, "/api/v1/system/topology", response_model=Node, tags=["system"])


# ---- the dashboard's frame: sidebar and header (functions/config, shared/src/frame.rs) ----------


class MenuEntry(BaseModel):
    id: str
    label: str
    path: str
    permission: str


MENU = [MenuEntry(id=i, label=label, path=path, permission=perm) for i, label, path, perm in [
    ("overview", "Overview", "/overview", PERM_TELEMETRY_READ),
    ("topology", "Topology", "/topology", PERM_TELEMETRY_READ),
    ("bess", "Battery racks", "/bess", PERM_TELEMETRY_READ),
    ("pcs", "PCS", "/pcs", PERM_TELEMETRY_READ),
    ("meters", "Meters and PV", "/meters", PERM_TELEMETRY_READ),
    ("alerts", "Alerts", "/alerts", PERM_TELEMETRY_READ),
    ("analysis", "Analysis", "/analysis", PERM_TELEMETRY_READ),
    ("schedule", "Schedule", "/schedule", PERM_TRADING_READ),
    ("income", "Income", "/income", PERM_TRADING_READ),
    ("execution", "Execution rate", "/execution-rate", PERM_TRADING_READ),
    ("users", "Users", "/admin/users", PERM_USERS_ADMIN),
]]


class Devices(BaseModel):
    racks: list[int]
    pcs: list[int]
    meters: list[str] = Field(description="meters with a live hash, by name (found by SCAN)")


class Badges(BaseModel):
    alerts_bess: int
    alerts_pcs: int
    alerts_total: int


class Sidebar(BaseModel):
    menu: list[MenuEntry]
    devices: Devices | None
    badges: Badges | None


@app.get("/api/v1/config/sidebar", response_model=Sidebar, tags=["config"])
async def config_sidebar(caller: AnyCaller, settings: SettingsDep, stores: StoresDep) -> Sidebar:
    """Menu entries the caller's permissions allow; device lists and alert badges only for callers
    who may read telemetry (they name the site's equipment and its faults)."""
    menu = [e for e in MENU if e.permission in caller.permissions]
    if PERM_TELEMETRY_READ not in caller.permissions:
        return Sidebar(menu=menu, devices=None, badges=None)
    with redis_errors("redis:main"):
        keys = await scan_hash_keys(stores.redis["main"], meter_scan_pattern(settings.prefix))
    name_at = len(f"{settings.prefix}meter:")
    meters = [k[name_at:] for k in sorted(keys)]
    ess = stores.db("ess")
    async with ess.cursor() as cur:
        await cur.execute(f"SELECT device_kind, COUNT(*) AS n FROM {ess.table('alerts')} "
                          "WHERE cleared_at IS NULL GROUP BY device_kind")
        active = {kind: max(int(n), 0) for kind, n in await cur.fetchall() if kind is not None and n is not None}
    bess, pcs = active.get("bess", 0), active.get("pcs", 0)
    return Sidebar(menu=menu, devices=Devices(racks=list(range(1, RACK_COUNT + 1)), pcs=list(range(PCS_COUNT)),
                                              meters=meters),
                   badges=Badges(alerts_bess=bess, alerts_pcs=pcs, alerts_total=bess + pcs))


add_legacy("/api/sidebar_info", config_sidebar, "/api/v1/config/sidebar", response_model=Sidebar, tags=["config"])


class CallerView(BaseModel):
    username: str
    roles: list[str]


class Connectivity(BaseModel):
    mysql: bool
    redis_main: bool
    redis_gtr: bool


class Header(BaseModel):
    site_name: str
    now: str
    caller: CallerView
    mode: str | None = Field(description="`dreg`, `edreg` or `idle`; null when the schedule could not be read")
    connectivity: Connectivity
    active_alerts: int | None = Field(description="null when the alert log could not be read")


@app.get("/api/v1/config/header", response_model=Header, tags=["config"])
async def config_header(caller: AnyCaller, settings: SettingsDep, stores: StoresDep) -> Header:
    """200 even with a store down: reporting connectivity is what it is for. (The guard read the
    main Redis: reaching here means it answered.)"""
    now = int(time.time())
    try:
        redis_gtr = bool(await stores.redis["gtr"].ping())
    except REDIS_ERRORS:
        redis_gtr = False
    try:
        active, mode = (await alert_counts(stores.db("ess"))).active, await current_mode(stores.db("schedule"), now)
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        log.warning("header: mysql: %r", e)
        active, mode = None, None
    return Header(site_name=settings.site_name, now=format_iso(now, settings.site_offset),
                  caller=CallerView(username=caller.username, roles=caller.roles), mode=mode,
                  connectivity=Connectivity(mysql=active is not None, redis_main=True, redis_gtr=redis_gtr),
                  active_alerts=active)


add_legacy("/api/header_info", config_header, "/api/v1/config/header", response_model=Header, tags=["config"])


# ---- live or history, per device (shared/src/telemetry.rs `choose`) ------------------------------


@dataclass
class Shown:
    reading: object
    source: Literal["realtime", "history"]
    stale: bool


async def live_reading(r: aioredis.Redis, label: str, key: str, stale_after: int, decode):
    """The live hash at `key` as `(reading, stale)`; None when absent or when it does not decode
    (half a hash is no live value); the StoreUnavailable (returned, not raised) when Redis failed."""
    try:
        values = await live_values(r, key, stale_after)
    except REDIS_ERRORS as e:
        log.warning("store %s failed: %s", label, e)
        return StoreUnavailable(label)
    reading = decode(values) if values is not None else None
    return None if reading is None else (reading, values.stale)


async def choose(live, history) -> Shown | None:
    """The live value while fresh (no MySQL query), else the newest history row (`history()`), else
    a stale live value, else None; Redis failed and MySQL has nothing: Redis' error."""
    if isinstance(live, tuple) and not live[1]:
        return Shown(live[0], "realtime", False)
    stale_live = live[0] if isinstance(live, tuple) else None
    try:
        row = await history()
    except Exception:
        if stale_live is None:
            raise
        return Shown(stale_live, "realtime", True)  # MySQL failed: a stale live value is better
    if row is not None:
        return Shown(row, "history", True)
    if stale_live is not None:
        return Shown(stale_live, "realtime", True)
    if isinstance(live, StoreUnavailable):  # we cannot say the device has no data
        raise live
    return None


# ---- meters and the PV inverter (functions/meters, shared/src/{meters,energy}.rs) ------------------

METER_INTERVAL_SECS, INVERTER_INTERVAL_SECS, MIN_DC_KW_FOR_EFFICIENCY = 10, 60, 0.1
HISTORY_METERS = ("MMAIN", "MAUX")  # the meters with history tables in the `Meter` database
METER_FIELDS = ("I_a", "I_b", "I_c", "Vll_ab", "Vll_bc", "Vll_ca", "KW_tot", "KVAR_tot", "PF", "freq")


@dataclass
class MeterReading:
    ts: int
    values: dict[str, float]  # METER_FIELDS

    @classmethod
    def from_live(cls, v: LiveValues) -> MeterReading | None:
        values = {name: v.f64(name) for name in METER_FIELDS}
        if v.ts is None or None in values.values():
            return None
        return cls(v.ts, values)


class MeterView(BaseModel):
    name: str
    I_a: float
    I_b: float
    I_c: float
    Vll_ab: float
    Vll_bc: float
    Vll_ca: float
    KW_tot: float = Field(description="Total active power, kW (MMAIN: positive = export)")
    KVAR_tot: float
    PF: float
    freq: float
    source: Literal["realtime", "history"]
    stale: bool
    updated_at: str

    @classmethod
    def of(cls, name: str, shown: Shown, offset: int, **extra) -> MeterView:
        r = shown.reading
        return cls(name=name, **r.values, source=shown.source, stale=shown.stale,
                   updated_at=format_iso(r.ts, offset), **extra)


class MeterList(BaseModel):
    meters: list[MeterView]
    meter_count: int
    total_power: float = Field(description="Sum of KW_tot of the fresh meters only, kW")
    status: Literal["ok", "stale", "no_data"]


class EnergyToday(BaseModel):
    date: str
    kwh: float
    gaps: int
    samples: int
    nominal_interval_secs: int


class AuxView(MeterView):
    today: EnergyToday | None = Field(description="null when the Meter database cannot be read")


class InverterView(BaseModel):
    name: str
    status: str
    ac_kw: float
    dc_kw: float
    efficiency: float | None
    today_kwh: float | None
    today_kwh_register: float
    lifetime_kwh: float
    today: EnergyToday | None
    source: Literal["realtime", "history"]
    stale: bool
    updated_at: str


@dataclass
class InverterReading:
    ts: int
    status: str
    ac_kw: float
    dc_kw: float
    today_kwh: float
    lifetime_kwh: float

    @classmethod
    def from_live(cls, v: LiveValues) -> InverterReading | None:
        numbers = [v.f64(name) for name in ("ac_kw", "dc_kw", "today_kwh", "lifetime_kwh")]
        status = v.text("status")
        if v.ts is None or status is None or None in numbers:
            return None
        return cls(v.ts, status, *numbers)


def meter_names(prefix: str, keys: list[str]) -> list[str]:
    """The meters behind `<prefix>meter:<name>` keys, plus the history meters, sorted, once each."""
    head = f"{prefix}meter:"
    found = {k[len(head):] for k in keys if k.startswith(head) and len(k) > len(head)}
    return sorted(found | set(HISTORY_METERS))


async def latest_meter_row(db: Db, table: str) -> MeterReading | None:
    async with db.cursor() as cur:
        await cur.execute(f"SELECT CAST(ts AS CHAR) AS ts, {', '.join(METER_FIELDS)} "
                          f"FROM {db.table(table)} ORDER BY ts DESC LIMIT 1")
        row = await cur.fetchone()
    if row is None:
        return None
    ts = parse_mysql_datetime(row[0])
    if ts is None or None in row:
        raise InternalError(f"{table}: a row did not decode")
    return MeterReading(ts, {name: float(x) for name, x in zip(METER_FIELDS, row[1:])})


async def latest_inverter_row(db: Db) -> InverterReading | None:
    async with db.cursor() as cur:
        await cur.execute("SELECT CAST(ts AS CHAR) AS ts, CAST(status AS CHAR) AS status, ac_kw, dc_kw, "
                          f"today_kwh, lifetime_kwh FROM {db.table('INVERTER_1')} ORDER BY ts DESC LIMIT 1")
        row = await cur.fetchone()
    if row is None:
        return None
    ts = parse_mysql_datetime(row[0])
    if ts is None or None in row:
        raise InternalError("INVERTER_1: a row did not decode")
    return InverterReading(ts, row[1], *(float(x) for x in row[2:]))


async def energy_today(db: Db, now: int, offset: int, table: str, column: str,
                       nominal_secs: int) -> EnergyToday | None:
    """Today's (site-local) energy of `table.column` by the trapezoid integral; None when the
    database cannot be reached (the live value is still shown)."""
    day = local_date(now, offset)
    start = days_from_civil(*day) * 86_400 - offset
    try:
        async with db.cursor() as cur:
            await cur.execute(
                f"SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', ts) AS t, {column} AS kw "
                f"FROM {db.table(table)} WHERE ts >= %s AND ts < %s ORDER BY ts",
                (format_mysql_datetime(start), format_mysql_datetime(start + 86_400)))
            rows = await cur.fetchall()
    except StoreUnavailable:
        return None
    if any(t is None or kw is None for t, kw in rows):
        raise InternalError(f"{table}: a sample did not decode")
    e = integrate([(int(t), float(kw)) for t, kw in rows], nominal_secs)
    return EnergyToday(date=format_date(day), kwh=e.positive_kwh - e.negative_kwh, gaps=e.gaps,
                       samples=e.samples, nominal_interval_secs=nominal_secs)


@app.get("/api/v1/meters", response_model=MeterList, tags=["meters"])
async def meters(_: TelemetryCaller, settings: SettingsDep, stores: StoresDep) -> MeterList:
    """Every meter hash a SCAN of `meter:*` finds (plus MMAIN and MAUX, which have history), each
    live while fresh, else from history; a meter with no data anywhere is left out."""
    p, stale_after, offset = settings.prefix, settings.live_stale_after, settings.site_offset
    r = stores.redis["main"]
    try:
        keys, redis_error = await scan_hash_keys(r, meter_scan_pattern(p)), None
    except REDIS_ERRORS as e:  # the history meters may still answer from MySQL
        log.warning("store redis:main failed: %s", e)
        keys, redis_error = [], StoreUnavailable("redis:main")
    shown, failure = [], None
    for name in meter_names(p, keys):
        live = redis_error or await live_reading(r, "redis:main", f"{p}meter:{name}", stale_after,
                                                 MeterReading.from_live)

        async def history(name=name):
            return await latest_meter_row(stores.db("Meter"), name) if name in HISTORY_METERS else None

        try:
            found = await choose(live, history)
        except Exception as e:  # noqa: BLE001 - the others still answer
            failure = failure or e
            continue
        if found is not None:
            shown.append(MeterView.of(name, found, offset))
    if failure is not None and not shown:
        raise failure
    return MeterList(meters=shown, meter_count=len(shown),
                     total_power=rust_sum(m.KW_tot for m in shown if not m.stale),
                     status="no_data" if not shown else "stale" if any(m.stale for m in shown) else "ok")


add_legacy("/api/meter_info", meters, "/api/v1/meters", response_model=MeterList, tags=["meters"])


@app.get("/api/v1/meters/aux", response_model=AuxView, tags=["meters"])
async def aux_meter(_: TelemetryCaller, settings: SettingsDep, stores: StoresDep) -> AuxView:
    """MAUX now, and today's aux energy from its history rows."""
    p, offset = settings.prefix, settings.site_offset
    live = await live_reading(stores.redis["main"], "redis:main", f"{p}meter:MAUX", settings.live_stale_after,
                              MeterReading.from_live)
    shown = await choose(live, lambda: latest_meter_row(stores.db("Meter"), "MAUX"))
    if shown is None:
        raise HTTPException(404, "No data for MAUX")
    today = await energy_today(stores.db("Meter"), int(time.time()), offset, "MAUX", "KW_tot",
                               METER_INTERVAL_SECS)
    return AuxView.of("MAUX", shown, offset, today=today)


add_legacy("/api/aux_meter", aux_meter, "/api/v1/meters/aux", response_model=AuxView, tags=["meters"])


@app.get("/api/v1/inverter", response_model=InverterView, tags=["meters"])
async def inverter(_: TelemetryCaller, settings: SettingsDep, stores: StoresDep) -> InverterView:
    """The PV inverter now, its AC/DC efficiency and today's generation from its history rows."""
    p, offset = settings.prefix, settings.site_offset
    live = await live_reading(stores.redis["main"], "redis:main", f"{p}inverter:1", settings.live_stale_after,
                              InverterReading.from_live)
    shown = await choose(live, lambda: latest_inverter_row(stores.db("Inverter")))
    if shown is None:
        raise HTTPException(404, "No data for INVERTER_1")
    today = await energy_today(stores.db("Inverter"), int(time.time()), offset, "INVERTER_1", "ac_kw",
                               INVERTER_INTERVAL_SECS)
    r = shown.reading
    return InverterView(name="INVERTER_1", status=r.status, ac_kw=r.ac_kw, dc_kw=r.dc_kw,
                        efficiency=r.ac_kw / r.dc_kw if r.dc_kw >= MIN_DC_KW_FOR_EFFICIENCY and math.isfinite(r.ac_kw)
                        else None,
                        today_kwh=today.kwh if today is not None else None, today_kwh_register=r.today_kwh,
                        lifetime_kwh=r.lifetime_kwh, today=today, source=shown.source, stale=shown.stale,
                        updated_at=format_iso(r.ts, offset))


add_legacy("/api/converter", inverter, "/api/v1/inverter", response_model=InverterView, tags=["meters"])


# ---- pcs: one PCS and the PCS alerts (functions/pcs, shared/src/telemetry/pcs.rs) -------------------

PCS_FIELDS = ("p_kw", "q_kvar", "dc_v", "dc_a", "v_a", "v_b", "v_c", "i_a", "i_b", "i_c", "freq")


@dataclass
class PcsReading:
    ts: int
    status: str
    values: dict[str, float]  # PCS_FIELDS
    fault_code: int

    @classmethod
    def from_live(cls, v: LiveValues) -> PcsReading | None:
        values = {name: v.f64(name) for name in PCS_FIELDS}
        code, status = v.f64("fault_code"), v.text("status")
        # The column is SMALLINT UNSIGNED: anything else is not a code we can show.
        if code is None or not code.is_integer() or not 0.0 <= code <= 65535.0:
            return None
        if v.ts is None or status is None or None in values.values():
            return None
        return cls(v.ts, status, values, int(code))


class Phases(BaseModel):
    a: float
    b: float
    c: float


class PcsView(BaseModel):
    pcs_number: int
    status: str = Field(description="`run`, `stop` or `fault`")
    p_kw: float = Field(description="Active power; positive = discharge")
    q_kvar: float
    dc_voltage_v: float
    dc_current_a: float
    ac_voltage_v: Phases
    ac_current_a: Phases
    frequency_hz: float
    fault_codes: list[int] = Field(description="empty when the PCS reports none (`fault_code` 0)")
    source: Literal["realtime", "history"]
    stale: bool
    updated_at: str


async def latest_pcs_row(db: Db, n: int) -> PcsReading | None:
    async with db.cursor() as cur:
        await cur.execute(f"SELECT CAST(ts AS CHAR) AS ts, status, {', '.join(PCS_FIELDS)}, fault_code "
                          f"FROM {db.table(f'pcs{n}_data')} ORDER BY ts DESC LIMIT 1")
        row = await cur.fetchone()
    if row is None:
        return None
    ts = parse_mysql_datetime(row[0])
    if ts is None or None in row or not 0 <= int(row[-1]) <= 65535:
        raise InternalError(f"pcs{n}_data: a row did not decode")
    return PcsReading(ts, row[1], {name: float(x) for name, x in zip(PCS_FIELDS, row[2:-1])}, int(row[-1]))


# `alert` is a route of its own, not a PCS number that fails validation: declared first.
@app.get("/api/v1/pcs/alert", response_model=AlertList, tags=["pcs"])
async def pcs_alerts(_: TelemetryCaller, settings: SettingsDep, stores: StoresDep,
                     active_only: Annotated[str | None, Query(description="boolean")] = None,
                     since: Annotated[str | None, Query(description="YYYY-MM-DD or ISO 8601")] = None,
                     limit: Annotated[str | None, Query(description="1..500, default 100")] = None,
                     ) -> AlertList:
    offset = settings.site_offset
    checks = Checks()
    active = checks.run(boolean, "query", "active_only", active_only) if present(active_only) else False
    start = checks.run(instant, "query", "since", since, offset) if present(since) else None
    count = checks.run(integer, "query", "limit", limit, 1, 500) if present(limit) else 100
    checks.raise_any()
    items = await list_alerts(stores.db("ess"), "pcs", None, active, None, start, count, offset)
    return AlertList(items=items, count=len(items))


add_legacy("/api/alert/pcs", pcs_alerts, "/api/v1/pcs/alert", response_model=AlertList, tags=["pcs"])


@app.get("/api/v1/pcs/{pcs_number}", response_model=PcsView, tags=["pcs"])
async def pcs(pcs_number: Annotated[str, PathParam(description="0..1")], _: TelemetryCaller,
              settings: SettingsDep, stores: StoresDep) -> PcsView:
    """Live from the GTR Redis while fresh, else the newest history row, else a stale live value."""
    checks = Checks()
    n = checks.run(integer, "path", "pcs_number", pcs_number, 0, PCS_COUNT - 1)
    checks.raise_any()
    offset = settings.site_offset
    live = await live_reading(stores.redis["gtr"], "redis:gtr", f"{settings.prefix}pcs:{n}",
                              settings.live_stale_after, PcsReading.from_live)
    shown = await choose(live, lambda: latest_pcs_row(stores.db("PCS"), n))
    if shown is None:
        raise HTTPException(404, f"No data for pcs{n}")
    r, v = shown.reading, shown.reading.values
    return PcsView(pcs_number=n, status=r.status, p_kw=v["p_kw"], q_kvar=v["q_kvar"], dc_voltage_v=v["dc_v"],
                   dc_current_a=v["dc_a"], ac_voltage_v=Phases(a=v["v_a"], b=v["v_b"], c=v["v_c"]),
                   ac_current_a=Phases(a=v["i_a"], b=v["i_b"], c=v["i_c"]), frequency_hz=v["freq"],
                   fault_codes=[r.fault_code] if r.fault_code else [], source=shown.source, stale=shown.stale,
                   updated_at=format_iso(r.ts, offset))


add_legacy("/api/pcs_info/{pcs_number}", pcs, "/api/v1/pcs/{pcs_number}", response_model=PcsView, tags=["pcs"])


# ---- the site's alert log (functions/alerts, shared/src/{alerts,guest/alerts}.rs) ------------------

PERM_ALERTS_ACK = "alerts:ack"
ALERT_LEVELS, DEVICE_KINDS = ("info", "warning", "critical"), ("bess", "pcs")


def choice(source: str, name: str, raw: str, names: tuple[str, ...]) -> str:
    """One of `names` exactly (`shared::params::choice`), or pydantic's enum error."""
    if raw in names:
        return raw
    quoted = [f"'{n}'" for n in names]
    one_of = quoted[-1] if len(quoted) < 2 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    raise FieldError(source, name, "enum", f"Input should be {one_of}", raw)


class AlertPage(BaseModel):
    items: list[AlertView]
    count: int = Field(description="alerts on this page (at most `limit`)")
    total: int = Field(description="alerts matching the filters, beyond the page too")


@app.get("/api/v1/alerts", response_model=AlertPage, tags=["alerts"])
async def site_alerts(_: TelemetryCaller, settings: SettingsDep, stores: StoresDep,
                      device_kind: Annotated[str | None, Query(description="bess or pcs")] = None,
                      device_no: Annotated[str | None, Query(description="racks 1..12, PCS 0..1")] = None,
                      level: Annotated[str | None, Query(description="info, warning or critical")] = None,
                      active_only: Annotated[str | None, Query(description="boolean")] = None,
                      since: Annotated[str | None, Query(description="YYYY-MM-DD or ISO 8601")] = None,
                      limit: Annotated[str | None, Query(description="1..500, default 100")] = None,
                      ) -> AlertPage:
    """The whole site's alerts, newest first, with how many match in all."""
    offset = settings.site_offset
    checks = Checks()  # every bad parameter at once, in declaration order
    kind = checks.run(choice, "query", "device_kind", device_kind, DEVICE_KINDS) if present(device_kind) else None
    # A kind bounds the number (a rack 0 or a PCS 5 is a 422); without one, any device's number.
    lo, hi = ((0, PCS_COUNT - 1) if kind == "pcs" else (1, RACK_COUNT)) if kind is not None else (0, RACK_COUNT)
    number = checks.run(integer, "query", "device_no", device_no, lo, hi) if present(device_no) else None
    lvl = checks.run(choice, "query", "level", level, ALERT_LEVELS) if present(level) else None
    active = checks.run(boolean, "query", "active_only", active_only) if present(active_only) else False
    start = checks.run(instant, "query", "since", since, offset) if present(since) else None
    count = checks.run(integer, "query", "limit", limit, 1, 500) if present(limit) else 100
    checks.raise_any()
    ess = stores.db("ess")
    items = await list_alerts(ess, kind, number, active, lvl, start, count, offset)
    if len(items) < count:  # a page shorter than the limit is everything there is: no COUNT
        total = len(items)
    else:
        where, params = alert_conditions(kind, number, active, lvl, start)
        async with ess.cursor() as cur:
            await cur.execute(f"SELECT COUNT(*) AS n FROM {ess.table('alerts')}{where}", params)
            row = await cur.fetchone()
        if row is None or row[0] is None:
            raise InternalError("alerts: COUNT(*) did not decode")
        total = int(row[0])
    return AlertPage(items=items, count=len(items), total=total)


@app.post("/api/v1/alerts/{alert_id}/ack", response_model=AlertView, tags=["alerts"])
async def acknowledge_alert(alert_id: Annotated[str, PathParam(description=">= 1")],
                            caller: Annotated[Caller, Depends(require(PERM_ALERTS_ACK))],
                            settings: SettingsDep, stores: StoresDep) -> AlertView:
    """Records who acknowledged it and when; acknowledging again changes nothing (the condition in
    the one UPDATE keeps the first acknowledgement) and answers the alert as it is."""
    checks = Checks()
    id_ = checks.run(integer, "path", "alert_id", alert_id, 1, None)
    checks.raise_any()
    ess = stores.db("ess")
    alerts = ess.table("alerts")
    async with ess.cursor() as cur:
        await cur.execute(f"UPDATE {alerts} SET acknowledged = 1, acknowledged_by = %s, "
                          "acknowledged_at = UTC_TIMESTAMP() WHERE id = %s AND acknowledged = 0",
                          (caller.user_id, id_))
        await cur.execute(f"SELECT {ALERT_COLUMNS} FROM {alerts} WHERE id = %s", (id_,))
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(404, f"Alert {id_} not found")
    return alert_view(row, settings.site_offset)


# ---- trading: schedule, income, execution rate (functions/trading, shared/src/{dreg,trading}.rs,
# shared/src/guest/trading.rs) ------------------------------------------------------------------
# Money is integer cents from the DECIMAL columns to the JSON (never a float sum); rates and
# factors are floats computed in the same order as the Rust side, so they agree to the last bit.


@dataclass(frozen=True)
class Curve:
    dead_band_hz: float
    full_response_hz: float


@dataclass(frozen=True)
class FactorStep:
    min_rate: float
    factor: float


@dataclass(frozen=True)
class DregParams:
    """shared::dreg::DregParams: DOMAIN.md's defaults, overridden by the Spin variables."""
    nominal_hz: float = 60.0
    dreg: Curve = Curve(0.02, 0.25)
    edreg: Curve = Curve(0.01, 0.15)
    tolerance_fraction: float = 0.03
    sample_interval_s: int = 10
    factor_steps: tuple[FactorStep, ...] = (FactorStep(0.95, 1.0), FactorStep(0.85, 0.7), FactorStep(0.70, 0.5))

    @classmethod
    def from_variables(cls, v: dict[str, str]) -> DregParams:
        """`DregParams::from_lookup`: an empty variable keeps the default; a bad one stops start-up."""
        def get(name):
            raw = v.get(name)
            return raw if raw is not None and raw.strip(RUST_WS) else None

        def num(name, default):
            raw = get(name)
            if raw is None:
                return default
            x = rust_f64(raw.strip(RUST_WS))
            if x is None or not math.isfinite(x):
                raise RuntimeError(f"{name}: not a number: {raw!r}")
            return x

        interval = get("dreg_sample_interval_s")
        steps = get("dreg_factor_steps")
        p = cls(num("grid_nominal_hz", 60.0),
                Curve(num("dreg_dead_band_hz", 0.02), num("dreg_full_response_hz", 0.25)),
                Curve(num("edreg_dead_band_hz", 0.01), num("edreg_full_response_hz", 0.15)),
                num("dreg_tolerance_fraction", 0.03),
                10 if interval is None else rust_int(interval.strip(RUST_WS), U32),
                cls.factor_steps if steps is None else _factor_steps(steps))
        if p.sample_interval_s is None:
            raise RuntimeError(f"dreg_sample_interval_s: not a whole number of seconds: {interval!r}")
        p.validate()
        return p

    def validate(self) -> None:
        for name, c in (("dreg", self.dreg), ("edreg", self.edreg)):
            if not (c.dead_band_hz >= 0.0 and c.full_response_hz > c.dead_band_hz):
                raise RuntimeError(f"{name}: full response must exceed the dead band >= 0")
        if math.isnan(self.nominal_hz) or self.nominal_hz <= 0.0:
            raise RuntimeError("nominal frequency must be positive")
        if not (0.0 <= self.tolerance_fraction < 1.0):
            raise RuntimeError("tolerance fraction must be in 0..1")
        if self.sample_interval_s == 0:
            raise RuntimeError("sample interval must be positive")
        if any(a.min_rate <= b.min_rate for a, b in zip(self.factor_steps, self.factor_steps[1:])):
            raise RuntimeError("factor steps must be sorted by decreasing min_rate")
        if not all(0.0 <= s.min_rate <= 1.0 and 0.0 <= s.factor <= 1.0 for s in self.factor_steps):
            raise RuntimeError("factor steps must be within 0..1")

    def expected_fraction(self, mode: str, freq_hz: float) -> float:
        c = self.edreg if mode == "edreg" else self.dreg
        d = freq_hz - self.nominal_hz
        a = abs(d)
        if a <= c.dead_band_hz:
            return 0.0
        magnitude = 1.0 if a >= c.full_response_hz else (a - c.dead_band_hz) / (c.full_response_hz - c.dead_band_hz)
        return magnitude if d < 0.0 else -magnitude

    def expected_samples(self, start: int, end: int) -> int:
        return 0 if end <= start else -(-(end - start) // self.sample_interval_s)  # div_ceil

    def performance_factor(self, rate: float) -> float:
        return next((s.factor for s in self.factor_steps if rate >= s.min_rate), 0.0)

    def evaluate(self, mode: str, capacity_mw: float, start: int, end: int, samples) -> tuple[int, int]:
        """(present, compliant) over `[start, end)`: the first sample of each slot is judged."""
        step = self.sample_interval_s
        seen = bytearray(self.expected_samples(start, end))
        tolerance = self.tolerance_fraction * capacity_mw * 1000.0 + 1e-6
        present = compliant = 0
        for ts, freq_hz, p_kw in samples:
            if ts < start or ts >= end:
                continue
            slot = (ts - start) // step
            if seen[slot]:
                continue
            seen[slot] = 1
            present += 1
            expected_kw = self.expected_fraction(mode, freq_hz) * capacity_mw * 1000.0
            if math.isfinite(p_kw) and math.isfinite(freq_hz) and abs(p_kw - expected_kw) <= tolerance:
                compliant += 1
        return present, compliant


def _factor_steps(raw: str) -> tuple[FactorStep, ...]:
    steps = []
    for pair in raw.split(","):
        r, sep, f = pair.strip(RUST_WS).partition(":")
        rate, factor = rust_f64(r.strip(RUST_WS)), rust_f64(f.strip(RUST_WS))
        if not sep or rate is None or factor is None:
            raise RuntimeError(f"dreg_factor_steps: expected rate:factor,...: {raw!r}")
        steps.append(FactorStep(rate, factor))
    return tuple(steps)


def rust_debug_f64(x: float) -> str:
    """`format!("{:?}", x)`: shortest digits, `.0` on whole numbers, an exponent (`1e-5`, `1e16`)
    below 1e-4 and from 1e16 on — Python's repr switches at the same points."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = repr(x)
    if "e" in text:
        mantissa, exp = text.split("e")
        return f"{mantissa}e{int(exp)}"
    return text


def settlement_tag(p: DregParams, offset: int) -> str:
    """`shared::trading::settlement_tag`: FNV-1a of `v1|{params:?}|{offset}`, the params as Rust's
    derived Debug prints them, so both sides use the same cache keys."""
    f = rust_debug_f64
    curve = lambda c: f"Curve {{ dead_band_hz: {f(c.dead_band_hz)}, full_response_hz: {f(c.full_response_hz)} }}"
    steps = ", ".join(f"FactorStep {{ min_rate: {f(s.min_rate)}, factor: {f(s.factor)} }}" for s in p.factor_steps)
    text = (f"v1|DregParams {{ nominal_hz: {f(p.nominal_hz)}, dreg: {curve(p.dreg)}, edreg: {curve(p.edreg)}, "
            f"tolerance_fraction: {f(p.tolerance_fraction)}, sample_interval_s: {p.sample_interval_s}, "
            f"factor_steps: [{steps}] }}|{offset}")
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def parse_decimal_scaled(s: str, scale: int) -> int | None:
    """A DECIMAL as MySQL sends it (`"1.250"`) as an integer × 10^scale, exactly."""
    m = re.fullmatch(r"([+-]?)([0-9]*)(?:\.([0-9]*))?", s.strip(RUST_WS))
    if not m or not (m[2] or m[3]) or len(m[3] or "") > scale:
        return None
    v = int((m[2] or "0") + (m[3] or "").ljust(scale, "0"))
    return -v if m[1] == "-" else v


def format_cents(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def round_half_away(x: float) -> int:
    """`f64::round` to an integer."""
    t = math.trunc(x)
    return t + (1 if x > 0 else -1) if abs(x - t) >= 0.5 else t


def income_cents_exact(capacity_kw: int, duration_s: int, price_cents: int, factor_permille: int) -> int:
    """C × h × price × factor in cents from exact integers, rounded half away from zero."""
    num = capacity_kw * duration_s * price_cents * factor_permille
    den = 1000 * 3600 * 1000
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return -q if num < 0 else q


SCHEDULE_MODES, EVENT_STATUSES = ("all", "dreg", "edreg"), ("scheduled", "active", "completed", "cancelled")
CHUNK_SLOTS = 40_000  # sample slots per pair of sample queries (guest::trading::CHUNK_SLOTS)
SETTLED_CACHE_SECS = 90 * 86_400
TODAY_TOTAL_CACHE_SECS = 60
CURRENCY = "TWD"


@dataclass
class Event:
    id: int
    start: int
    end: int
    mode: str
    capacity_kw: int
    price_cents: int
    status: str

    @property
    def duration_s(self) -> int:
        return max(self.end - self.start, 0)

    def judged_window(self, now: int, step: int) -> tuple[int, int] | None:
        """Whole sample slots that have ended; None before the start or when cancelled."""
        if self.status == "cancelled" or now <= self.start:
            return None
        if now >= self.end:
            return self.start, self.end
        return self.start, self.start + (now - self.start) // max(step, 1) * max(step, 1)


EVENT_COLUMNS = ("id, TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', start_at) AS s, "
                 "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', end_at) AS e, "
                 "mode, CAST(capacity_mw AS CHAR) AS capacity, CAST(capacity_price AS CHAR) AS price, status")


def decode_events(rows) -> list[Event]:
    events = []
    for id_, s, e, mode, capacity, price, status in rows:
        mode = mode.strip(RUST_WS).lower() if isinstance(mode, str) else None
        mode = "edreg" if mode in ("e-dreg", "e_dreg") else mode
        cap = parse_decimal_scaled(capacity, 3) if capacity is not None else None
        cents = parse_decimal_scaled(price, 2) if price is not None else None
        if (None in (id_, s, e, cap, cents) or id_ < 0 or mode not in ("dreg", "edreg")
                or status not in EVENT_STATUSES):
            raise InternalError("events: an event row did not decode")
        events.append(Event(int(id_), int(s), int(e), mode, cap, cents, status))
    return events


async def events_starting(db: Db, start: int, end: int, mode: str | None) -> list[Event]:
    sql = f"SELECT {EVENT_COLUMNS} FROM {db.table('events')} WHERE start_at >= %s AND start_at < %s"
    params = [format_mysql_datetime(start), format_mysql_datetime(end)]
    if mode is not None:
        sql += " AND mode = %s"
        params.append(mode)
    async with db.cursor() as cur:
        await cur.execute(sql + " ORDER BY start_at, id", params)
        return decode_events(await cur.fetchall())


async def event_by_id(db: Db, id_: int) -> Event | None:
    async with db.cursor() as cur:
        await cur.execute(f"SELECT {EVENT_COLUMNS} FROM {db.table('events')} WHERE id = %s", (id_,))
        events = decode_events(await cur.fetchall())
    return events[0] if events else None


async def samples_in(pcs: Db, meter: Db, windows: list[tuple[int, int]]) -> list[tuple[int, float, float]]:
    """(t, Hz, kW) at every time both PCS and MMAIN have a row, in `windows` (ORed, one query each)."""
    bounds = [format_mysql_datetime(t) for w in windows for t in w]
    within = lambda column: " OR ".join([f"({column} >= %s AND {column} < %s)"] * len(windows))
    async with pcs.cursor() as cur:
        await cur.execute(
            "SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', a.ts) AS t, a.p_kw + b.p_kw AS kw "
            f"FROM {pcs.table('pcs0_data')} a JOIN {pcs.table('pcs1_data')} b ON b.ts = a.ts "
            f"WHERE {within('a.ts')} ORDER BY a.ts", bounds)
        power = await cur.fetchall()
    async with meter.cursor() as cur:
        await cur.execute("SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', ts) AS t, freq "
                          f"FROM {meter.table('MMAIN')} WHERE {within('ts')} ORDER BY ts", bounds)
        freq = [(t, f) for t, f in await cur.fetchall() if t is not None and f is not None]
    samples, i, n = [], 0, len(freq)
    for t, kw in power:
        if t is None or kw is None:
            raise InternalError("pcs0_data: a sample did not decode")
        while i < n and freq[i][0] < t:
            i += 1
        if i < n and freq[i][0] == t:
            samples.append((t, float(freq[i][1]), float(kw)))
    return samples


async def judge_events(stores: Stores, p: DregParams, events: list[Event], now: int) -> list[tuple[int, int]]:
    """(present, compliant) of each event over what can be judged at `now`: the events' windows in
    chunks of at most CHUNK_SLOTS slots, one PCS and one MMAIN query per chunk."""
    step = p.sample_interval_s
    counts = [(0, 0)] * len(events)
    chunks: list[list[tuple[int, int, int]]] = []
    slots_in_last = None
    for i, event in enumerate(events):
        window = event.judged_window(now, step)
        if window is None:
            continue
        a = window[0]
        while a < window[1]:  # slot-aligned pieces of at most CHUNK_SLOTS slots
            b = min(a + step * CHUNK_SLOTS, window[1])
            slots = p.expected_samples(a, b)
            if slots_in_last is None or slots_in_last + slots > CHUNK_SLOTS:
                chunks.append([])
                slots_in_last = 0
            slots_in_last += slots
            chunks[-1].append((i, a, b))
            a = b
    if not chunks:
        return counts
    pcs_db, meter_db = stores.db("PCS"), stores.db("Meter")
    for chunk in chunks:
        samples = await samples_in(pcs_db, meter_db, [(a, b) for _, a, b in chunk])
        times = [s[0] for s in samples]
        for i, a, b in chunk:
            e = events[i]
            present, compliant = p.evaluate(e.mode, e.capacity_kw / 1000.0, a, b,
                                            samples[bisect_left(times, a):bisect_left(times, b)])
            counts[i] = (counts[i][0] + present, counts[i][1] + compliant)
    return counts


Phase = Literal["final", "in_progress", "upcoming", "cancelled"]


class EventIncome(BaseModel):
    id: int
    start: str
    end: str
    mode: str
    status: str
    phase: Phase
    capacity_mw: float
    hours: float
    price: str = Field(description="TWD per MW·h, exact")
    price_cents: int
    expected_samples: int
    present_samples: int
    compliant_samples: int
    execution_rate: float | None
    factor: float | None
    income: str | None
    income_cents: int | None


def settle(p: DregParams, e: Event, now: int, counts: tuple[int, int], offset: int) -> EventIncome:
    """One event at `now`: final (rate, factor, income), in progress (rate so far), upcoming or
    cancelled (earns 0)."""
    phase = ("cancelled" if e.status == "cancelled" else "final" if now >= e.end
             else "in_progress" if now > e.start else "upcoming")
    window = e.judged_window(now, p.sample_interval_s)
    rate = factor = None
    present = compliant = 0
    if window is not None:
        slots = p.expected_samples(*window)
        compliant = min(counts[1], slots)
        present = counts[0]
        rate = 0.0 if slots == 0 else compliant / slots
        factor = p.performance_factor(rate)
    income_cents = (income_cents_exact(e.capacity_kw, e.duration_s, e.price_cents, round_half_away(factor * 1000.0))
                    if phase == "final" and factor is not None else 0 if phase == "cancelled" else None)
    return EventIncome(id=e.id, start=format_iso(e.start, offset), end=format_iso(e.end, offset), mode=e.mode,
                       status=e.status, phase=phase, capacity_mw=e.capacity_kw / 1000.0,
                       hours=rust_round(e.duration_s / 3600.0, 4), price=format_cents(e.price_cents),
                       price_cents=e.price_cents, expected_samples=p.expected_samples(e.start, e.end),
                       present_samples=present, compliant_samples=compliant,
                       execution_rate=None if rate is None else rust_round(rate, 4),
                       factor=0.0 if phase == "cancelled" else factor,
                       income=None if income_cents is None else format_cents(income_cents), income_cents=income_cents)


class DayIncome(BaseModel):
    date: str
    events: list[EventIncome]
    total: str
    total_cents: int
    pending_events: int
    settled: bool = Field(description="old enough never to change; answered from the cache")
    currency: str

    @classmethod
    def of(cls, date: tuple[int, int, int], events: list[EventIncome], settled: bool) -> DayIncome:
        total = sum(e.income_cents for e in events if e.income_cents is not None)
        return cls(date=format_date(date), events=events, total=format_cents(total), total_cents=total,
                   pending_events=sum(e.phase in ("in_progress", "upcoming") for e in events), settled=settled,
                   currency=CURRENCY)


def day_number(date: tuple[int, int, int]) -> int:
    return days_from_civil(*date)


def is_settled(date: tuple[int, int, int], now: int, offset: int, settle_days: int) -> bool:
    return (day_number(date) + 1) * 86_400 - offset + settle_days * 86_400 <= now


def decode_day(value: str | None) -> DayIncome | None:
    if value is None:
        return None
    try:
        return DayIncome.model_validate_json(value)
    except ValidationError:
        return None


async def day_incomes(stores: Stores, s: Settings, now: int, days: list[tuple[int, int, int]]) -> list[DayIncome]:
    """Each day's settlement: settled days from the Redis cache (one MGET), the rest computed together
    (one events query, then the sample chunks) and cached once settled."""
    offset = s.site_offset
    key = lambda d: f"{s.prefix}cache:income:{s.settlement_tag}:{format_date(d)}"
    settled = [is_settled(d, now, offset, s.settle_days) for d in days]
    r = stores.redis["main"]
    found: list[DayIncome | None] = [None] * len(days)
    settled_at = [i for i in range(len(days)) if settled[i]]
    if settled_at:
        try:  # the cache is only a shortcut: without Redis every day is computed
            values = await r.mget([key(days[i]) for i in settled_at])
        except REDIS_ERRORS:
            values = []
        for i, value in zip(settled_at, values):
            found[i] = decode_day(value)
    missing = [i for i in range(len(days)) if found[i] is None]
    if missing:
        wanted = {day_number(days[i]) for i in missing}
        start = day_number(days[missing[0]]) * 86_400 - offset
        end = (day_number(days[missing[-1]]) + 1) * 86_400 - offset
        events = [e for e in await events_starting(stores.db("schedule"), start, end, None)
                  if (e.start + offset) // 86_400 in wanted]
        counts = await judge_events(stores, s.dreg, events, now)
        for i in missing:
            n = day_number(days[i])
            day = DayIncome.of(days[i], [settle(s.dreg, e, now, c, offset) for e, c in zip(events, counts)
                                         if (e.start + offset) // 86_400 == n], settled[i])
            if settled[i]:
                try:  # a cache that cannot be written only costs the next view the same computation
                    await r.set(key(days[i]), day.model_dump_json(), ex=SETTLED_CACHE_SECS)
                except REDIS_ERRORS:
                    pass
            found[i] = day
    return found


async def today_income_cents(stores: Stores, s: Settings, now: int) -> int:
    """Today's income so far (final events), reused for a minute: the overview's `today.income`."""
    today = local_date(now, s.site_offset)
    key = f"{s.prefix}cache:income_today:{s.settlement_tag}:{format_date(today)}"
    r = stores.redis["main"]
    try:
        cached = await r.get(key)
    except REDIS_ERRORS:
        cached = None
    cents = rust_int(cached, I64) if cached is not None else None
    if cents is not None:
        return cents
    cents = (await day_incomes(stores, s, now, [today]))[0].total_cents
    try:
        await r.set(key, str(cents), ex=TODAY_TOTAL_CACHE_SECS)
    except REDIS_ERRORS:
        pass
    return cents


class DayTotal(BaseModel):
    date: str
    events: int
    pending_events: int
    total: str
    total_cents: int
    settled: bool


class MonthIncome(BaseModel):
    month: str
    days: list[DayTotal]
    events: int
    pending_events: int
    total: str
    total_cents: int
    currency: str


class ExecutionReport(BaseModel):
    date: str | None
    event_id: int | None
    events: list[EventIncome]
    expected_samples: int
    compliant_samples: int
    execution_rate: float | None

    @classmethod
    def of(cls, date: str | None, event_id: int | None, events: list[EventIncome]) -> ExecutionReport:
        judged = [e for e in events if e.phase == "final"]
        expected = sum(e.expected_samples for e in judged)
        compliant = sum(e.compliant_samples for e in judged)
        return cls(date=date, event_id=event_id, events=events, expected_samples=expected,
                   compliant_samples=compliant,
                   execution_rate=rust_round(compliant / expected, 4) if expected > 0 else None)


class ScheduledEvent(BaseModel):
    id: int
    start: str
    end: str
    mode: str
    status: str
    capacity_mw: float
    hours: float
    price: str
    price_cents: int


class ScheduleTotals(BaseModel):
    events: int
    dreg_events: int
    edreg_events: int
    cancelled_events: int
    hours: float
    awarded_mwh: float = Field(description="Σ capacity × hours of the events not cancelled")


class ScheduleView(BaseModel):
    from_: str = Field(alias="from")
    to: str
    mode: str
    weeks: int
    events: list[ScheduledEvent]
    totals: ScheduleTotals


TradingCaller = Annotated[Caller, Depends(require(PERM_TRADING_READ))]
YEARS = (1970, 9998)


def date_param(source: str, name: str, raw: str) -> tuple[int, int, int]:
    """`params::date`: `YYYY-MM-DD`, a year in 1970..9998."""
    date = parse_date(raw.strip(RUST_WS).encode())
    if date is None:
        raise FieldError(source, name, "date_parsing", "Input should be a valid date in the format YYYY-MM-DD", raw)
    if not YEARS[0] <= date[0] <= YEARS[1]:
        raise FieldError(source, name, "value_error", "Value error, the year must be within 1970..9998", raw)
    return date


def month_param(source: str, name: str, raw: str) -> tuple[int, int]:
    """`params::month`: `YYYY-MM`."""
    t = raw.strip(RUST_WS)
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", t, re.ASCII) or not 1 <= int(t[5:]) <= 12:
        raise FieldError(source, name, "string_pattern_mismatch",
                         "String should match pattern '^[0-9]{4}-(0[1-9]|1[0-2])$'", raw)
    if not YEARS[0] <= int(t[:4]) <= YEARS[1]:
        raise FieldError(source, name, "value_error", "Value error, the year must be within 1970..9998", raw)
    return int(t[:4]), int(t[5:])


@app.get("/api/v1/schedule", response_model=ScheduleView, response_model_by_alias=True, tags=["trading"])
async def schedule(_: TradingCaller, settings: SettingsDep, stores: StoresDep,
                   mode: Annotated[str | None, Query(description="all, dreg or edreg")] = None,
                   weeks: Annotated[str | None, Query(description="1..52, default 1")] = None) -> ScheduleView:
    """Events from local Monday 00:00 of this week, for `weeks` weeks."""
    checks = Checks()
    mode_name = checks.run(choice, "query", "mode", mode, SCHEDULE_MODES) if present(mode) else "all"
    n_weeks = checks.run(integer, "query", "weeks", weeks, 1, 52) if present(weeks) else 1
    checks.raise_any()
    offset = settings.site_offset
    today = day_number(local_date(int(time.time()), offset))
    start = (today - (today + 3) % 7) * 86_400 - offset
    end = start + n_weeks * 7 * 86_400
    events = await events_starting(stores.db("schedule"), start, end, None if mode_name == "all" else mode_name)
    live = [e for e in events if e.status != "cancelled"]
    return ScheduleView.model_validate({
        "from": format_iso(start, offset), "to": format_iso(end, offset), "mode": mode_name, "weeks": n_weeks,
        "events": [ScheduledEvent(id=e.id, start=format_iso(e.start, offset), end=format_iso(e.end, offset),
                                  mode=e.mode, status=e.status, capacity_mw=e.capacity_kw / 1000.0,
                                  hours=rust_round(e.duration_s / 3600.0, 4), price=format_cents(e.price_cents),
                                  price_cents=e.price_cents) for e in events],
        "totals": ScheduleTotals(
            events=len(live), dreg_events=sum(e.mode == "dreg" for e in live),
            edreg_events=sum(e.mode == "edreg" for e in live), cancelled_events=len(events) - len(live),
            hours=rust_round(sum(e.duration_s for e in live) / 3600.0, 4),
            awarded_mwh=rust_round(sum(e.capacity_kw * e.duration_s for e in live) / 3_600_000.0, 4))})


add_legacy("/api/schedule", schedule, "/api/v1/schedule", response_model=ScheduleView,
           response_model_by_alias=True, tags=["trading"])


@app.get("/api/v1/income/daily", response_model=DayIncome, tags=["trading"])
async def income_daily(_: TradingCaller, settings: SettingsDep, stores: StoresDep,
                       date: Annotated[str | None, Query(description="YYYY-MM-DD, default today")] = None
                       ) -> DayIncome:
    checks = Checks()
    day = checks.run(date_param, "query", "date", date) if present(date) else None
    checks.raise_any()
    now = int(time.time())
    return (await day_incomes(stores, settings, now, [day or local_date(now, settings.site_offset)]))[0]


add_legacy("/api/income/day", income_daily, "/api/v1/income/daily", response_model=DayIncome, tags=["trading"])


@app.get("/api/v1/income/monthly", response_model=MonthIncome, tags=["trading"])
async def income_monthly(_: TradingCaller, settings: SettingsDep, stores: StoresDep,
                         month: Annotated[str | None, Query(description="YYYY-MM, default this month")] = None
                         ) -> MonthIncome:
    checks = Checks()
    which = checks.run(month_param, "query", "month", month) if present(month) else None
    checks.raise_any()
    now = int(time.time())
    year, m = which or local_date(now, settings.site_offset)[:2]
    days = await day_incomes(stores, settings, now, [(year, m, d) for d in range(1, _days_in_month(year, m) + 1)])
    lines = [DayTotal(date=d.date, events=len(d.events), pending_events=d.pending_events, total=d.total,
                      total_cents=d.total_cents, settled=d.settled) for d in days]
    total = sum(d.total_cents for d in lines)
    return MonthIncome(month=f"{year:04d}-{m:02d}", days=lines, events=sum(d.events for d in lines),
                       pending_events=sum(d.pending_events for d in lines), total=format_cents(total),
                       total_cents=total, currency=CURRENCY)


add_legacy("/api/income/month", income_monthly, "/api/v1/income/monthly", response_model=MonthIncome,
           tags=["trading"])


@app.get("/api/v1/execution-rate", response_model=ExecutionReport, tags=["trading"])
async def execution_rate(_: TradingCaller, settings: SettingsDep, stores: StoresDep,
                         event_id: Annotated[str | None, Query(description=">= 1")] = None,
                         date: Annotated[str | None, Query(description="YYYY-MM-DD, default today")] = None
                         ) -> ExecutionReport:
    """One event (`event_id`) or a day's events (`date`), with the sample counts behind the rates."""
    checks = Checks()
    id_ = day = None
    if present(event_id) and present(date):
        checks.errors.append({"type": "value_error", "loc": ["query", "event_id"],
                              "msg": "Value error, give either event_id or date, not both", "input": event_id})
    elif present(event_id):
        id_ = checks.run(integer, "query", "event_id", event_id, 1, None)
    elif present(date):
        day = checks.run(date_param, "query", "date", date)
    checks.raise_any()
    now, offset = int(time.time()), settings.site_offset
    if id_ is not None:
        event = await event_by_id(stores.db("schedule"), id_)
        if event is None:
            raise HTTPException(404, f"Event {id_} not found")
        counts = await judge_events(stores, settings.dreg, [event], now)
        return ExecutionReport.of(None, id_, [settle(settings.dreg, event, now, counts[0], offset)])
    day = day or local_date(now, offset)
    events = [e for d in await day_incomes(stores, settings, now, [day]) for e in d.events]
    return ExecutionReport.of(format_date(day), None, events)


add_legacy("/api/exec_rate", execution_rate, "/api/v1/execution-rate", response_model=ExecutionReport,
           tags=["trading"])


# ---- analysis (functions/analysis, shared::analysis, shared::energy, guest::analysis) --------------
# The same window rules, SQL and page sizes as the Rust component: rows in keyset pages (at most
# 4000 rows and 6 h a query; freq-power 2 h pages), the samples just outside a window by index
# lookups, the racks' SOC with one statement per MySQL server, the trapezoid split into buckets by
# the same integrator (floats added in the same order, so the figures agree to the bit).

from fastapi.responses import StreamingResponse  # noqa: E402

DAY_SECS, HOUR_SECS = 86_400, 3600
DEFAULT_WINDOW_SECS, MAX_ENERGY_WINDOW_SECS, MAX_FREQ_WINDOW_SECS = DAY_SECS, 31 * DAY_SECS, DAY_SECS
METER_INTERVAL_SECS, INVERTER_INTERVAL_SECS, RACK_INTERVAL_SECS, BASELINE_INTERVAL_SECS = 10, 60, 60, 10
BASELINE_MAX_AGE_SECS = BASELINE_INTERVAL_SECS * MAX_GAP_FACTOR
PAGE_ROWS, PAGE_SECS, FREQ_PAGE_SECS = 4000, 6 * 3600, 2 * 3600
MIN_CHARGE_KWH_FOR_EFFICIENCY = 1.0
INTERVALS = ("hour", "day")
EPOCH_SECONDS = "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', ts)"


def describe_secs(secs: int) -> str:
    return f"{secs // DAY_SECS} days" if secs % DAY_SECS == 0 and secs > DAY_SECS else f"{secs // HOUR_SECS} hours"


def analysis_window(checks: Checks, from_: str | None, to: str | None, now: int, offset: int,
                    max_secs: int) -> tuple[int, int] | None:
    """`analysis::window`: `to` defaults to now, `from` to 24 h before `to`; errors go to `checks`."""
    before = len(checks.errors)
    start = checks.run(instant, "query", "from", from_, offset) if present(from_) else None
    end = checks.run(instant, "query", "to", to, offset) if present(to) else None
    if len(checks.errors) > before:
        return None
    end = now if end is None else end
    start = end - DEFAULT_WINDOW_SECS if start is None else start
    if start >= end:
        checks.errors.append({"type": "value_error", "loc": ["query", "to"],
                              "msg": "Value error, `to` must be later than `from`", "input": present(to)})
        return None
    if end - start > max_secs:
        checks.errors.append({"type": "value_error", "loc": ["query", "to"],
                              "msg": f"Value error, the window from `from` to `to` must be at most "
                                     f"{describe_secs(max_secs)}", "input": present(to)})
        return None
    return start, end


def bucket_edges(window: tuple[int, int], interval: str, offset: int) -> list[int]:
    """The window's bounds and every site-local hour or midnight strictly between them."""
    def next_edge(t: int) -> int:
        if interval == "hour":
            return (t + offset) // HOUR_SECS * HOUR_SECS - offset + HOUR_SECS
        return ((t + offset) // DAY_SECS + 1) * DAY_SECS - offset

    edges, edge = [window[0]], next_edge(window[0])
    while edge < window[1]:
        edges.append(edge)
        edge = next_edge(edge)
    edges.append(window[1])
    return edges


class Integrator:
    """`energy::Integrator`: the trapezoid integral of samples pushed in time order, split into the
    buckets between `edges`; intervals straddling an edge are split on the line between their two
    samples; an interval over 5 nominal intervals is a gap (counted in every bucket it touches and
    once in the total); only samples inside the window are counted."""

    def __init__(self, nominal_secs: int, edges: list[int]) -> None:
        self.edges = edges
        self.max_gap = max(nominal_secs, 1) * MAX_GAP_FACTOR
        self.previous: tuple[int, float] | None = None
        self.buckets = [Energy() for _ in range(len(edges) - 1)]
        self.gaps = 0

    def push(self, ts: int, kw: float) -> None:
        edges = self.edges
        start, end = edges[0], edges[-1]
        if start <= ts < end:
            self.buckets[bisect_right(edges, ts) - 1].samples += 1
        previous = self.previous
        if previous is None:
            self.previous = (ts, kw)
            return
        pts, pkw = previous
        if ts <= pts:
            return
        self.previous = (ts, kw)
        lo, hi = max(pts, start), min(ts, end)
        if lo >= hi:
            return
        gap = ts - pts > self.max_gap
        if gap:
            self.gaps += 1
        b = bisect_right(edges, lo) - 1
        while b < len(self.buckets) and edges[b] < hi:
            u, v = max(lo, edges[b]), min(hi, edges[b + 1])
            bucket = self.buckets[b]
            if gap:
                bucket.gaps += 1
            else:
                def power_at(t: int) -> float:
                    if t <= pts:
                        return pkw
                    if t >= ts:
                        return kw
                    return pkw + (kw - pkw) * ((t - pts) / (ts - pts))
                pos, neg = split_trapezoid(power_at(u), power_at(v), (v - u) / 3600.0)
                bucket.positive_kwh += pos
                bucket.negative_kwh += neg
            b += 1

    def finish(self) -> tuple[list[Energy], Energy]:
        total = Energy(gaps=self.gaps)
        for bucket in self.buckets:
            total.positive_kwh += bucket.positive_kwh
            total.negative_kwh += bucket.negative_kwh
            total.samples += bucket.samples
        return self.buckets, total


def kwh(e: Energy) -> float:
    return e.positive_kwh - e.negative_kwh


def _at(t: int) -> str:
    return format_mysql_datetime(t)


class Pages:
    """`guest::analysis::Pages`: a keyset cursor over one table's (ts, column) rows in [from, to),
    each page at most PAGE_ROWS rows and `slice_secs` long."""

    def __init__(self, db: Db, table: str, column: str, window: tuple[int, int], slice_secs: int) -> None:
        self.db, self.table = db, table
        self.sql = (f"SELECT {EPOCH_SECONDS} AS t, {column} AS v FROM {db.table(table)} "
                    f"WHERE ts >= %s AND ts < %s ORDER BY ts LIMIT {PAGE_ROWS}")
        self.next, self.to, self.slice = window[0], window[1], slice_secs

    async def next_page(self) -> tuple[list[tuple[int, float]], int] | None:
        if self.next >= self.to:
            return None
        until = min(self.to, self.next + self.slice)
        async with self.db.cursor() as cur:
            await cur.execute(self.sql, (_at(self.next), _at(until)))
            rows = await cur.fetchall()
        if any(t is None or v is None for t, v in rows):
            raise InternalError(f"{self.table}: a sample did not decode")
        page = [(int(t), float(v)) for t, v in rows]
        end = page[-1][0] + 1 if len(page) == PAGE_ROWS else until
        self.next = end
        return page, end


async def integrate_table(db: Db, table: str, column: str, nominal_secs: int, edges: list[int]
                          ) -> tuple[list[Energy], Energy]:
    """The integral of `table.column` over the buckets between `edges`: the samples just outside
    the window (one statement, two index lookups), then the window page by page."""
    window = (edges[0], edges[-1])
    name = db.table(table)
    async with db.cursor() as cur:
        await cur.execute(
            f"(SELECT 0 AS side, {EPOCH_SECONDS} AS t, {column} AS v FROM {name} "
            f"WHERE ts < %s ORDER BY ts DESC LIMIT 1) UNION ALL "
            f"(SELECT 1 AS side, {EPOCH_SECONDS} AS t, {column} AS v FROM {name} "
            f"WHERE ts >= %s ORDER BY ts LIMIT 1)", (_at(window[0]), _at(window[1])))
        edge_rows = await cur.fetchall()
    before = after = None
    for side, t, v in edge_rows:
        if side is None or t is None or v is None:
            raise InternalError(f"{table}: an edge sample did not decode")
        if side == 0:
            before = (int(t), float(v))
        else:
            after = (int(t), float(v))
    integrator = Integrator(nominal_secs, edges)
    if before is not None:
        integrator.push(*before)
    pages = Pages(db, table, column, window, PAGE_SECS)
    while (page := await pages.next_page()) is not None:
        for t, v in page[0]:
            integrator.push(t, v)
    if after is not None:
        integrator.push(*after)
    return integrator.finish()


async def pcs_integrals(stores: Stores, edges: list[int]) -> list[tuple[list[Energy], Energy]]:
    db = stores.db("PCS")
    return [await integrate_table(db, f"pcs{n}_data", "p_kw", PCS_INTERVAL_SECS, edges) for n in range(PCS_COUNT)]


@dataclass
class RackRows:
    rack: int
    samples: int
    gaps: int
    first: tuple[int, float] | None
    last: tuple[int, float] | None


async def racks_on_server(group: list[tuple[int, Db]], window: tuple[int, int]) -> list[RackRows]:
    """One UNION ALL over the racks of one server: a row per rack, its count and gaps from one range
    scan (LAG), its first and last row by index lookups."""
    max_gap = RACK_INTERVAL_SECS * MAX_GAP_FACTOR
    parts = []
    for n, db in group:
        table = db.table("rack_data")
        edge = lambda order: (f"(SELECT {EPOCH_SECONDS} AS t, soc FROM {table} "
                              f"WHERE ts >= %s AND ts < %s ORDER BY ts {order} LIMIT 1)")
        parts.append(
            f"SELECT {n} AS rack, s.samples, s.gaps, f.t AS first_t, f.soc AS first_soc, "
            f"l.t AS last_t, l.soc AS last_soc "
            f"FROM (SELECT COUNT(*) AS samples, COUNT(CASE WHEN gap > {max_gap} THEN 1 END) AS gaps "
            f"FROM (SELECT TIMESTAMPDIFF(SECOND, LAG(ts) OVER (ORDER BY ts), ts) AS gap "
            f"FROM {table} WHERE ts >= %s AND ts < %s) AS g) AS s "
            f"LEFT JOIN {edge('ASC')} AS f ON 1 LEFT JOIN {edge('DESC')} AS l ON 1")
    params = [_at(t) for _ in range(len(group) * 3) for t in window]
    async with group[0][1].cursor() as cur:
        await cur.execute(" UNION ALL ".join(parts), params)
        rows = await cur.fetchall()
    racks = []
    for rack, samples, gaps, first_t, first_soc, last_t, last_soc in rows:
        if rack is None or samples is None or gaps is None:
            raise InternalError("rack_data: a row did not decode")
        racks.append(RackRows(int(rack), int(samples), int(gaps),
                              None if first_t is None or first_soc is None else (int(first_t), float(first_soc)),
                              None if last_t is None or last_soc is None else (int(last_t), float(last_soc))))
    return racks


async def rack_rows(stores: Stores, window: tuple[int, int]) -> list[RackRows]:
    servers: dict[str, list[tuple[int, Db]]] = {}
    for n in range(1, RACK_COUNT + 1):
        db = stores.db(f"BESS{n}")
        servers.setdefault(stores.dbs[f"BESS{n}"][0], []).append((n, db))
    racks: list[RackRows] = []
    for group in servers.values():
        try:
            racks += await racks_on_server(group, window)
        except StoreUnavailable:  # name the database that failed: ask each rack alone
            for rack in group:
                racks += await racks_on_server([rack], window)
    return sorted(racks, key=lambda r: r.rack)


class PcsEnergyView(BaseModel):
    name: str
    charge_kwh: float
    discharge_kwh: float
    samples: int
    gaps: int


class AuxEnergyView(BaseModel):
    kwh: float
    samples: int
    gaps: int


class RackChange(BaseModel):
    rack: int
    samples: int
    gaps: int
    soc_start: float | None
    soc_end: float | None
    start_at: str | None
    end_at: str | None
    change_kwh: float | None


class LossSources(BaseModel):
    pcs: list[PcsEnergyView]
    aux: AuxEnergyView
    racks: list[RackChange]


class PowerLoss(BaseModel):
    from_: str = Field(alias="from")
    to: str
    charge_kwh: float | None
    discharge_kwh: float | None
    aux_kwh: float | None
    stored_change_kwh: float | None
    loss_kwh: float | None
    round_trip_efficiency: float | None
    rack_capacity_kwh: float
    gaps: int
    sources: LossSources
    notes: list[str]


class PerSource(BaseModel):
    grid: int
    pcs: int
    pv: int


class IoEnergy(BaseModel):
    start: str
    end: str
    import_kwh: float
    export_kwh: float
    charge_kwh: float
    discharge_kwh: float
    pv_kwh: float
    samples: PerSource
    gaps: PerSource


class PowerIo(BaseModel):
    from_: str = Field(alias="from")
    to: str
    interval: str
    buckets: list[IoEnergy]
    totals: IoEnergy
    notes: list[str]


def rust_f64_display(x: float) -> str:
    """`format!("{}", x)` for the note's threshold (1.0 → `1`)."""
    return rust_display(x)


@app.get("/api/v1/analysis/power-loss", response_model=PowerLoss, response_model_by_alias=True, tags=["analysis"])
async def power_loss(_: TelemetryCaller, settings: SettingsDep, stores: StoresDep,
                     from_: Annotated[str | None, Query(alias="from", description="date or datetime, default `to` − 24 h")] = None,
                     to: Annotated[str | None, Query(description="date or datetime, default now")] = None) -> PowerLoss:
    """Charge, discharge, aux, stored-energy change, loss and round-trip efficiency (at most 31 days)."""
    offset = settings.site_offset
    checks = Checks()
    window = analysis_window(checks, from_, to, int(time.time()), offset, MAX_ENERGY_WINDOW_SECS)
    checks.raise_any()
    edges = list(window)
    pcs = [PcsEnergyView(name=f"pcs{n}", charge_kwh=total.negative_kwh, discharge_kwh=total.positive_kwh,
                         samples=total.samples, gaps=total.gaps)
           for n, (_, total) in enumerate(await pcs_integrals(stores, edges))]
    _, aux_total = await integrate_table(stores.db("Meter"), "MAUX", "KW_tot", METER_INTERVAL_SECS, edges)
    aux = AuxEnergyView(kwh=kwh(aux_total), samples=aux_total.samples, gaps=aux_total.gaps)
    racks = await rack_rows(stores, window)
    capacity = settings.rack_capacity_kwh
    notes = []
    silent = [p.name for p in pcs if p.samples == 0]
    if not silent:
        charge, discharge = rust_sum(p.charge_kwh for p in pcs), rust_sum(p.discharge_kwh for p in pcs)
    else:
        notes.append(f"no PCS history in the window for {', '.join(silent)}: charge and discharge unknown")
        charge = discharge = None
    if aux.samples > 0:
        aux_kwh = aux.kwh
    else:
        notes.append("no MAUX history in the window: aux energy unknown")
        aux_kwh = None
    changes = [RackChange(rack=r.rack, samples=r.samples, gaps=r.gaps,
                          soc_start=r.first[1] if r.first else None, soc_end=r.last[1] if r.last else None,
                          start_at=format_iso(r.first[0], offset) if r.first else None,
                          end_at=format_iso(r.last[0], offset) if r.last else None,
                          change_kwh=(r.last[1] - r.first[1]) / 100.0 * capacity if r.first and r.last else None)
               for r in racks]
    missing = [f"BESS{c.rack}" for c in changes if c.change_kwh is None]
    if not missing:
        stored = rust_sum(c.change_kwh for c in changes)
    else:
        notes.append(f"no rack history in the window for {', '.join(missing)}: stored-energy change unknown")
        stored = None
    known = charge is not None and discharge is not None and stored is not None
    loss = charge - discharge - stored if known else None
    efficiency = None
    if known:
        if charge >= MIN_CHARGE_KWH_FOR_EFFICIENCY:
            efficiency = (discharge + stored) / charge
        else:
            notes.append(f"charging in the window ({charge:.3f} kWh) is under "
                         f"{rust_f64_display(MIN_CHARGE_KWH_FOR_EFFICIENCY)} kWh: no round-trip efficiency")
    gaps = sum(p.gaps for p in pcs) + aux.gaps + sum(c.gaps for c in changes)
    return PowerLoss.model_validate({
        "from": format_iso(window[0], offset), "to": format_iso(window[1], offset), "charge_kwh": charge,
        "discharge_kwh": discharge, "aux_kwh": aux_kwh, "stored_change_kwh": stored, "loss_kwh": loss,
        "round_trip_efficiency": efficiency, "rack_capacity_kwh": capacity, "gaps": gaps,
        "sources": LossSources(pcs=pcs, aux=aux, racks=changes), "notes": notes})


add_legacy("/api/power_loss", power_loss, "/api/v1/analysis/power-loss", response_model=PowerLoss,
           response_model_by_alias=True, tags=["analysis"])


def io_view(start: int, end: int, offset: int, grid: Energy, pcs: list[Energy], pv: Energy) -> IoEnergy:
    return IoEnergy(start=format_iso(start, offset), end=format_iso(end, offset),
                    import_kwh=grid.negative_kwh, export_kwh=grid.positive_kwh,
                    charge_kwh=rust_sum(e.negative_kwh for e in pcs),
                    discharge_kwh=rust_sum(e.positive_kwh for e in pcs), pv_kwh=pv.positive_kwh,
                    samples=PerSource(grid=grid.samples, pcs=sum(e.samples for e in pcs), pv=pv.samples),
                    gaps=PerSource(grid=grid.gaps, pcs=sum(e.gaps for e in pcs), pv=pv.gaps))


@app.get("/api/v1/analysis/power-io", response_model=PowerIo, response_model_by_alias=True, tags=["analysis"])
async def power_io(_: TelemetryCaller, settings: SettingsDep, stores: StoresDep,
                   from_: Annotated[str | None, Query(alias="from", description="date or datetime, default `to` − 24 h")] = None,
                   to: Annotated[str | None, Query(description="date or datetime, default now")] = None,
                   interval: Annotated[str | None, Query(description="hour or day, default hour")] = None) -> PowerIo:
    """Import, export, charge, discharge and PV energy per site-local hour or day (at most 31 days)."""
    offset = settings.site_offset
    checks = Checks()
    window = analysis_window(checks, from_, to, int(time.time()), offset, MAX_ENERGY_WINDOW_SECS)
    every = checks.run(choice, "query", "interval", interval, INTERVALS) if present(interval) else "hour"
    checks.raise_any()
    edges = bucket_edges(window, every, offset)
    grid = await integrate_table(stores.db("Meter"), "MMAIN", "KW_tot", METER_INTERVAL_SECS, edges)
    pcs = await pcs_integrals(stores, edges)
    pv = await integrate_table(stores.db("Inverter"), "INVERTER_1", "ac_kw", INVERTER_INTERVAL_SECS, edges)
    buckets = [io_view(edges[i], edges[i + 1], offset, grid[0][i], [p[0][i] for p in pcs], pv[0][i])
               for i in range(len(edges) - 1)]
    totals = io_view(window[0], window[1], offset, grid[1], [p[1] for p in pcs], pv[1])
    notes = [f"no {source} history in the window" for source, n in (
        ("MMAIN", totals.samples.grid), ("PCS (pcs0_data, pcs1_data)", totals.samples.pcs),
        ("INVERTER_1", totals.samples.pv)) if n == 0]
    return PowerIo.model_validate({"from": format_iso(window[0], offset), "to": format_iso(window[1], offset),
                                   "interval": every, "buckets": buckets, "totals": totals, "notes": notes})


add_legacy("/api/power_io", power_io, "/api/v1/analysis/power-io", response_model=PowerIo,
           response_model_by_alias=True, tags=["analysis"])


class FreqPowerDocument:
    """`analysis::freq::Document` with `guest::analysis::FreqPower`'s reads: the head, then one piece
    per 2 h page (the MMAIN rows, the PCS totals of the same span, the base line from 50 s before
    it), then the tail with the counts and the window's mean base line."""

    def __init__(self, stores: Stores, settings: Settings, window: tuple[int, int], events: list[Event]) -> None:
        self.offset, self.p, self.window = settings.site_offset, settings.dreg, window
        self.events = sorted(events, key=lambda e: e.start)
        self.grid, self.pcs, self.baseline = stores.db("Meter"), stores.db("PCS"), stores.db("BaseLine")
        both = " UNION ALL ".join(f"SELECT {EPOCH_SECONDS} AS t, p_kw FROM {self.pcs.table(f'pcs{n}_data')} "
                                  "WHERE ts >= %s AND ts < %s" for n in range(PCS_COUNT))
        self.pcs_sql = f"SELECT t, SUM(p_kw) AS kw, COUNT(*) AS n FROM ({both}) AS both_pcs GROUP BY t ORDER BY t"
        self.baseline_sql = (f"SELECT {EPOCH_SECONDS} AS t, freq FROM {self.baseline.table('base_line')} "
                             "WHERE ts >= %s AND ts < %s ORDER BY ts")
        self.pages = Pages(self.grid, "MMAIN", "freq", window, FREQ_PAGE_SECS)
        self.samples = self.without_power = self.baseline_rows = 0
        self.baseline_sum = 0.0

    def head(self) -> str:
        p, off = self.p, self.offset

        def curve(c: Curve) -> dict:
            return {"dead_band_hz": c.dead_band_hz, "full_response_hz": c.full_response_hz, "points": [
                {"hz": p.nominal_hz - c.full_response_hz, "fraction": 1.0},
                {"hz": p.nominal_hz - c.dead_band_hz, "fraction": 0.0},
                {"hz": p.nominal_hz + c.dead_band_hz, "fraction": 0.0},
                {"hz": p.nominal_hz + c.full_response_hz, "fraction": -1.0}]}

        head = {"from": format_iso(self.window[0], off), "to": format_iso(self.window[1], off),
                "nominal_hz": p.nominal_hz, "curves": {"dreg": curve(p.dreg), "edreg": curve(p.edreg)},
                "events": [{"id": e.id, "mode": e.mode, "capacity_mw": e.capacity_kw / 1000.0,
                            "start": format_iso(e.start, off), "end": format_iso(e.end, off)} for e in self.events]}
        return json.dumps(head, separators=(",", ":"))[:-1] + ',"samples":['

    async def page(self) -> str | None:
        start = self.pages.next
        got = await self.pages.next_page()
        if got is None:
            return None
        grid, until = got
        async with self.pcs.cursor() as cur:
            await cur.execute(self.pcs_sql, (_at(start), _at(until), _at(start), _at(until)))
            pcs = await cur.fetchall()
        async with self.baseline.cursor() as cur:
            await cur.execute(self.baseline_sql, (_at(start - BASELINE_MAX_AGE_SECS), _at(until)))
            baseline = await cur.fetchall()
        if any(None in row for row in pcs):
            raise InternalError("pcs: a PCS total did not decode")
        if any(None in row for row in baseline):
            raise InternalError("base_line: a base-line row did not decode")
        for t, hz in baseline:
            if t >= start:
                self.baseline_sum += hz
                self.baseline_rows += 1
        items, i, b, off = [], 0, 0, self.offset
        for t, hz in grid:
            while i < len(pcs) and pcs[i][0] < t:
                i += 1
            kw = float(pcs[i][1]) if i < len(pcs) and pcs[i][0] == t and pcs[i][2] >= PCS_COUNT else None
            while b + 1 < len(baseline) and baseline[b + 1][0] <= t:
                b += 1
            base = (float(baseline[b][1]) if b < len(baseline) and baseline[b][0] <= t
                    and t - baseline[b][0] <= BASELINE_MAX_AGE_SECS else None)
            event = next((e for e in reversed(self.events) if e.start <= t < e.end), None)
            expected = (None if event is None
                        else self.p.expected_fraction(event.mode, hz) * (event.capacity_kw / 1000.0) * 1000.0)
            items.append(json.dumps({"t": format_iso(t, off), "hz": hz, "kw": kw, "expected_kw": expected,
                                     "baseline_hz": base}, separators=(",", ":")))
            self.samples += 1
            self.without_power += kw is None
        text = ",".join(items)
        return "," + text if text and self.samples > len(items) else text

    def tail(self) -> str:
        mean = self.baseline_sum / self.baseline_rows if self.baseline_rows else None
        # serde_json's `json!` object (no preserve_order): keys sorted.
        return "]," + json.dumps({"baseline_hz": mean, "sample_count": self.samples,
                                  "samples_without_power": self.without_power}, separators=(",", ":"))[1:]


@app.get("/api/v1/analysis/freq-power", tags=["analysis"], response_class=StreamingResponse,
         responses={200: {"content": {"application/json": {}},
                          "description": "the samples with the PCS power, expected power and base line"}})
async def freq_power(_: TelemetryCaller, settings: SettingsDep, stores: StoresDep,
                     from_: Annotated[str | None, Query(alias="from", description="date or datetime, default `to` − 24 h")] = None,
                     to: Annotated[str | None, Query(description="date or datetime, default now")] = None):
    """Every MMAIN sample of the window (at most 24 h) with the PCS power, the expected power of the
    running event and the base line, streamed page by page."""
    checks = Checks()
    window = analysis_window(checks, from_, to, int(time.time()), settings.site_offset, MAX_FREQ_WINDOW_SECS)
    checks.raise_any()
    schedule = stores.db("schedule")
    async with schedule.cursor() as cur:
        await cur.execute(f"SELECT {EVENT_COLUMNS} FROM {schedule.table('events')} "
                          "WHERE start_at < %s AND end_at > %s ORDER BY start_at, id", (_at(window[1]), _at(window[0])))
        events = [e for e in decode_events(await cur.fetchall()) if e.status != "cancelled"]
    doc = FreqPowerDocument(stores, settings, window, events)
    # The head and the first page before the status goes out: a store that is down is a clean 503.
    first = doc.head() + (await doc.page() or "")

    async def body():
        yield first.encode()
        while (piece := await doc.page()) is not None:
            yield piece.encode()
        yield doc.tail().encode()

    return StreamingResponse(body(), media_type="application/json")


add_legacy("/api/freq_power", freq_power, "/api/v1/analysis/freq-power", tags=["analysis"],
           response_class=StreamingResponse)
