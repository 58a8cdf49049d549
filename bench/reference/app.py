"""SolarHub API, FastAPI reference implementation (benchmark baseline only, not the product).

The same routes, queries, Redis commands, JWT checks and JSON bodies as the Rust/Spin components
(functions/{system,auth,admin,auth-guard}, shared/src/guest/*), written the way a FastAPI team
would ship them: aiomysql and redis.asyncio pools opened at start-up, pydantic models,
dependencies for the bearer token, argon2id through argon2-cffi in the thread pool.

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
import os
import re
import secrets
import time
import tomllib
import unicodedata
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
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


# CORS as the entry layer answers it (shared/src/cors.rs), with Starlette's own middleware.
app.add_middleware(CORSMiddleware, allow_origins=_cors_origins(),
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
