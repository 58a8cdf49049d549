//! Auth end to end through the local host: the compiled auth component (which signs) with the
//! auth-guard composed into it (which verifies), against a migrated `ess` database and Redis.
//! Covers login (JSON and OAuth2 form), me, logout, refresh rotation and reuse, every token
//! forgery the guard must refuse, throttling, and store failures.

#[macro_use]
mod common;

use common::runtime::{Runtime, TestApp};
use common::site::{Site, PASSWORD};
use jwt_simple::prelude::{Claims, Duration, HS256Key, MACLike, UnixTimeStamp};
use jwt_simple::reexports::ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use serde_json::{json, Value};
use solarhub_host::client::{get, request, Reply};
use solarhub_shared::auth::{AccessClaims, AUDIENCE, ISSUER};
use solarhub_shared::schema::Database;

async fn start(rt: Runtime, site: &Site, overrides: &[(&str, &str)]) -> TestApp {
    common::start_app(rt, site.variables(), overrides).await
}

async fn post_json(host: &TestApp, path: &str, body: Value) -> Reply {
    let body = body.to_string();
    request(
        host.addr,
        "POST",
        path,
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
    .await
    .unwrap()
}

async fn login(host: &TestApp, username: &str, password: &str) -> Reply {
    post_json(
        host,
        "/api/v1/auth/login",
        json!({ "username": username, "password": password }),
    )
    .await
}

async fn tokens(host: &TestApp, username: &str) -> (String, String) {
    let reply = login(host, username, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json().unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn me(host: &TestApp, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    request(
        host.addr,
        "GET",
        "/api/v1/auth/me",
        &[("authorization", &auth)],
        b"",
    )
    .await
    .unwrap()
}

fn assert_401(reply: &Reply, detail: &str) {
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    assert_eq!(reply.json().unwrap()["detail"], detail);
}

async fn login_with_json_or_form_then_me(rt: Runtime) {
    let site = Site::new("auth_login", &[Database::Ess]).await;
    let id = site.add_user("ada", &["admin"]).await;
    let host = start(rt, &site, &[]).await;

    let reply = login(&host, "ada", PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json().unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1800);
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 40);

    let profile = me(&host, body["access_token"].as_str().unwrap()).await;
    assert_eq!(profile.status, 200, "{}", profile.text());
    let user = profile.json().unwrap();
    assert_eq!(user["id"], id);
    assert_eq!(user["username"], "ada");
    assert_eq!(user["email"], "ada@example.test");
    assert_eq!(user["full_name"], "ada Example");
    assert_eq!(user["roles"], json!(["admin"]));
    assert_eq!(
        user["permissions"],
        json!([
            "alerts:ack",
            "telemetry:read",
            "trading:read",
            "users:admin"
        ])
    );
    assert_eq!(user["active"], true);
    assert!(user["created_at"].as_str().unwrap().ends_with("+08:00"));
    assert!(
        user["last_login_at"].as_str().is_some(),
        "login is recorded"
    );
    assert!(!profile.text().contains("argon2"), "never the hash");

    let form = request(
        host.addr,
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"grant_type=password&username=ada&password=correct+horse+battery+staple&scope=",
    )
    .await
    .unwrap();
    assert_eq!(form.status, 200, "{}", form.text());
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn bad_logins_get_one_generic_answer_and_bad_input_422(rt: Runtime) {
    let site = Site::new("auth_bad", &[Database::Ess]).await;
    site.add_user("bob", &["viewer"]).await;
    let host = start(rt, &site, &[]).await;

    assert_401(
        &login(&host, "bob", "wrong password!").await,
        "Incorrect username or password",
    );
    assert_401(
        &login(&host, "nobody", PASSWORD).await,
        "Incorrect username or password",
    );

    let missing = post_json(&host, "/api/v1/auth/login", json!({ "username": "bob" })).await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.json().unwrap()["detail"],
        json!([{ "type": "missing", "loc": ["body", "password"], "msg": "Field required", "input": null }])
    );
    let not_json = request(
        host.addr,
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "application/json")],
        b"{",
    )
    .await
    .unwrap();
    assert_eq!(not_json.status, 422);
    assert_eq!(
        not_json.json().unwrap()["detail"][0]["type"],
        "json_invalid"
    );
    let grant = request(
        host.addr,
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"grant_type=client_credentials&username=bob&password=x",
    )
    .await
    .unwrap();
    assert_eq!(grant.status, 422);
    assert_eq!(
        grant.json().unwrap()["detail"][0]["loc"],
        json!(["body", "grant_type"])
    );
    let wrong_type = post_json(
        &host,
        "/api/v1/auth/login",
        json!({ "username": 7, "password": "x" }),
    )
    .await;
    assert_eq!(
        wrong_type.json().unwrap()["detail"][0]["type"],
        "string_type"
    );

    let get_login = get(host.addr, "/api/v1/auth/login").await.unwrap();
    assert_eq!(
        (get_login.status, get_login.header("allow")),
        (405, Some("POST"))
    );
    assert_eq!(
        get(host.addr, "/api/v1/auth/nope").await.unwrap().status,
        404
    );
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn legacy_flask_hashes_log_in_and_are_moved_to_argon2id(rt: Runtime) {
    let site = Site::new("auth_legacy", &[Database::Ess]).await;
    // passlib pbkdf2-sha512 and bcrypt hashes of PASSWORD, as the Flask app stored them.
    let pbkdf2 = "$pbkdf2-sha512$25000$vdfa23uvVepdK6VUqhWiFA$xbIZxvQJO.5UOSjNgrDQxo1T0izKnp10Ug8TnIU7JX.lCXlRE/8mfEvlo/7NCr3Fns.x5qaxzuFAbh5OwFYZaA";
    let bcrypt = "$2b$05$R3i8Lhr315EaefSQqjxH8u0pSpozoEGNnMD7KHlaB5BHJStYRnZNm";
    // Flask-Security's pre-hashed form (HMAC with SECURITY_PASSWORD_SALT), password below.
    let salted = "$pbkdf2-sha512$2000$1fof43yvdQ6B0DpH6B0DwA$cZkOI3JcmqtEjEQDg5KX1J3d76oTsLZpUIPsGxLXO4zXj3gwqTG5NCrAEZLZaveIqxJ8zHHOgPUIHPH7.g.8aA";
    let ids = [
        site.add_user_with_hash("old_pbkdf2", pbkdf2, &["viewer"], true)
            .await,
        site.add_user_with_hash("old_bcrypt", bcrypt, &["viewer"], true)
            .await,
        site.add_user_with_hash("old_salted", salted, &["viewer"], true)
            .await,
    ];
    let host = start(
        rt,
        &site,
        &[("legacy_password_salt", "fs-legacy-salt-2019")],
    )
    .await;

    assert_401(
        &login(&host, "old_pbkdf2", "correct horse battery stapl").await,
        "Incorrect username or password",
    );
    assert_eq!(
        site.password_hash(ids[0]).await,
        pbkdf2,
        "a failed login changes nothing"
    );
    for (username, password, id) in [
        ("old_pbkdf2", PASSWORD, ids[0]),
        ("old_bcrypt", PASSWORD, ids[1]),
        ("old_salted", "solar panel password", ids[2]),
    ] {
        let first = login(&host, username, password).await;
        assert_eq!(first.status, 200, "{username}: {}", first.text());
        let stored = site.password_hash(id).await;
        assert!(
            stored.starts_with("$argon2id$"),
            "{username} was re-hashed: {stored}"
        );
        assert_eq!(
            login(&host, username, password).await.status,
            200,
            "{username} logs in with the new hash"
        );
        assert_eq!(site.password_hash(id).await, stored, "no second re-hash");
    }
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn an_inactive_user_cannot_log_in(rt: Runtime) {
    let site = Site::new("auth_inactive", &[Database::Ess]).await;
    let hash = solarhub_shared::password::hash_password(PASSWORD).unwrap();
    site.add_user_with_hash("sleepy", &hash, &["viewer"], false)
        .await;
    let host = start(rt, &site, &[]).await;
    let reply = login(&host, "sleepy", PASSWORD).await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    host.stop().await.unwrap();
    site.cleanup().await;
}

/// Tokens an attacker (or a broken client) might present.
struct Forge {
    key: HS256Key,
}

impl Forge {
    fn new(secret: &str) -> Forge {
        Forge {
            key: HS256Key::from_bytes(secret.as_bytes()),
        }
    }

    fn claims(user_id: u64, valid_for: u64) -> jwt_simple::prelude::JWTClaims<AccessClaims> {
        let custom = AccessClaims {
            name: "ada".into(),
            roles: vec!["viewer".into()],
            perms: vec!["telemetry:read".into()],
            sid: "forged-session".into(),
        };
        Claims::with_custom_claims(custom, Duration::from_secs(valid_for))
            .with_issuer(ISSUER)
            .with_audience(AUDIENCE)
            .with_subject(user_id.to_string())
            .with_jwt_id("forged-jti")
    }

    fn sign(&self, claims: jwt_simple::prelude::JWTClaims<AccessClaims>) -> String {
        self.key.authenticate(claims).unwrap()
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlSafeNoPadding::decode_to_vec(part, None).unwrap()).unwrap()
}

async fn the_guard_refuses_every_forged_or_stale_token(rt: Runtime) {
    let site = Site::new("auth_guard", &[Database::Ess]).await;
    let id = site.add_user("ada", &["viewer"]).await;
    let host = start(rt, &site, &[]).await;
    let forge = Forge::new(&site.jwt_secret);

    // The control: a token signed with the right key and claims is accepted.
    assert_eq!(
        me(&host, &forge.sign(Forge::claims(id, 60))).await.status,
        200
    );

    let none = request(host.addr, "GET", "/api/v1/auth/me", &[], b"")
        .await
        .unwrap();
    assert_401(&none, "Not authenticated");
    let basic = request(
        host.addr,
        "GET",
        "/api/v1/auth/me",
        &[("authorization", "Basic YWRhOnB3")],
        b"",
    )
    .await
    .unwrap();
    assert_401(&basic, "Not authenticated");
    assert_401(
        &me(&host, "not-a-jwt").await,
        "Could not validate credentials",
    );

    let valid = forge.sign(Forge::claims(id, 60));
    let claims_part = valid.split('.').nth(1).unwrap();
    let alg_none = format!("{}.{claims_part}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    assert_401(
        &me(&host, &alg_none).await,
        "Could not validate credentials",
    );
    let alg_hs512 = format!(
        "{}.{claims_part}.{}",
        b64(br#"{"alg":"HS512","typ":"JWT"}"#),
        valid.split('.').nth(2).unwrap()
    );
    assert_401(
        &me(&host, &alg_hs512).await,
        "Could not validate credentials",
    );

    let wrong_key = Forge::new("another-secret-of-at-least-32-bytes!!").sign(Forge::claims(id, 60));
    assert_401(
        &me(&host, &wrong_key).await,
        "Could not validate credentials",
    );

    let mut escalated = payload(&valid);
    escalated["perms"] = json!(["users:admin"]);
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(escalated.to_string().as_bytes()),
        parts[2]
    );
    assert_401(
        &me(&host, &tampered).await,
        "Could not validate credentials",
    );

    let mut expired = Forge::claims(id, 60);
    expired.expires_at = Some(UnixTimeStamp::from_secs(
        jwt_simple::prelude::Clock::now_since_epoch().as_secs() - 120,
    ));
    assert_401(&me(&host, &forge.sign(expired)).await, "Token has expired");

    let not_yet = Forge::claims(id, 3600)
        .invalid_before(jwt_simple::prelude::Clock::now_since_epoch() + Duration::from_secs(600));
    assert_401(
        &me(&host, &forge.sign(not_yet)).await,
        "Could not validate credentials",
    );

    let wrong_audience = Forge::claims(id, 60).with_audience("someone-else");
    assert_401(
        &me(&host, &forge.sign(wrong_audience)).await,
        "Could not validate credentials",
    );
    let wrong_issuer = Forge::claims(id, 60).with_issuer("someone-else");
    assert_401(
        &me(&host, &forge.sign(wrong_issuer)).await,
        "Could not validate credentials",
    );
    let mut no_jti = Forge::claims(id, 60);
    no_jti.jwt_id = None;
    assert_401(
        &me(&host, &forge.sign(no_jti)).await,
        "Could not validate credentials",
    );

    // A valid token of a user who no longer exists.
    assert_401(
        &me(&host, &forge.sign(Forge::claims(id + 1000, 60))).await,
        "Token has been revoked",
    );
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn logout_revokes_the_access_token_and_its_session(rt: Runtime) {
    let site = Site::new("auth_logout", &[Database::Ess]).await;
    site.add_user("ada", &["operator"]).await;
    let host = start(rt, &site, &[]).await;
    let (access, refresh) = tokens(&host, "ada").await;
    assert_eq!(me(&host, &access).await.status, 200);

    let auth = format!("Bearer {access}");
    let out = request(
        host.addr,
        "POST",
        "/api/v1/auth/logout",
        &[("authorization", &auth)],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(out.status, 204, "{}", out.text());
    assert_401(&me(&host, &access).await, "Token has been revoked");
    let again = post_json(
        &host,
        "/api/v1/auth/refresh",
        json!({ "refresh_token": refresh }),
    )
    .await;
    assert_401(&again, "Token has been revoked");
    let unauthenticated = request(host.addr, "POST", "/api/v1/auth/logout", &[], b"")
        .await
        .unwrap();
    assert_401(&unauthenticated, "Not authenticated");

    // Another session of the same user is unaffected.
    let (other, _) = tokens(&host, "ada").await;
    assert_eq!(me(&host, &other).await.status, 200);
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn refresh_rotates_and_reuse_kills_the_family(rt: Runtime) {
    let site = Site::new("auth_refresh", &[Database::Ess]).await;
    site.add_user("ada", &["viewer"]).await;
    let host = start(rt, &site, &[]).await;
    let (_, r1) = tokens(&host, "ada").await;

    let refresh = |token: String| {
        let host = &host;
        async move {
            post_json(
                host,
                "/api/v1/auth/refresh",
                json!({ "refresh_token": token }),
            )
            .await
        }
    };
    let second = refresh(r1.clone()).await;
    assert_eq!(second.status, 200, "{}", second.text());
    let r2 = second.json().unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(r1, r2);
    let third = refresh(r2.clone()).await;
    assert_eq!(third.status, 200);
    let body = third.json().unwrap();
    let (a3, r3) = (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(me(&host, &a3).await.status, 200);

    // r1 was retired: presenting it again revokes the whole family.
    assert_401(&refresh(r1).await, "Token has been revoked");
    assert_401(&refresh(r3).await, "Token has been revoked");
    assert_401(&me(&host, &a3).await, "Token has been revoked");

    assert_401(
        &refresh("made-up-token".into()).await,
        "Could not validate credentials",
    );
    let missing = post_json(&host, "/api/v1/auth/refresh", json!({})).await;
    assert_eq!(missing.status, 422);
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn failed_logins_are_throttled_per_username_and_per_address(rt: Runtime) {
    let site = Site::new("auth_throttle", &[Database::Ess]).await;
    site.add_user("ada", &["viewer"]).await;
    site.add_user("bob", &["viewer"]).await;
    let host = start(
        rt,
        &site,
        &[
            ("login_max_failures_per_user", "3"),
            ("login_max_attempts_per_address", "8"),
        ],
    )
    .await;
    for _ in 0..3 {
        assert_eq!(login(&host, "ada", "wrong password").await.status, 401);
    }
    let blocked = login(&host, "ada", PASSWORD).await;
    assert_eq!(
        blocked.status,
        429,
        "even the right password waits: {}",
        blocked.text()
    );
    let retry: u64 = blocked.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    // Another user is not affected by ada's failures...
    assert_eq!(login(&host, "bob", PASSWORD).await.status, 200);
    // ...but the address is: at most 8 admitted attempts from 127.0.0.1. So far 4 were admitted
    // (3 failures and bob's login; the throttled one was refused before counting).
    for _ in 0..4 {
        assert_ne!(login(&host, "bob", PASSWORD).await.status, 429);
    }
    assert_eq!(login(&host, "bob", PASSWORD).await.status, 429);
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn unreachable_stores_are_503_naming_them(rt: Runtime) {
    let site = Site::new("auth_down", &[Database::Ess]).await;
    site.add_user("ada", &["viewer"]).await;
    let host = start(
        rt,
        &site,
        &[
            ("redis_main_host", "127.0.0.1:6399"),
            ("redis_main_url", "redis://127.0.0.1:6399"),
        ],
    )
    .await;
    let reply = login(&host, "ada", PASSWORD).await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.json().unwrap()["detail"], "redis:main is unavailable");
    host.stop().await.unwrap();

    let host = start(
        rt,
        &site,
        &[
            ("mysql_host", "127.0.0.1:3399"),
            ("db_ess_url", "mysql://root:pw@127.0.0.1:3399/ess"),
        ],
    )
    .await;
    let reply = login(&host, "ada", PASSWORD).await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.json().unwrap()["detail"], "mysql:ess is unavailable");
    assert!(!reply.text().contains("pw@"));
    host.stop().await.unwrap();
    site.cleanup().await;
}

async fn the_guard_fails_closed_without_its_configuration(rt: Runtime) {
    // A component that forgot to declare redis_key_prefix would otherwise look revocations up under
    // the wrong keys and accept revoked tokens.
    let site = Site::new("auth_guard_config", &[Database::Ess]).await;
    site.add_user("ada", &["admin"]).await;
    let host = start(rt, &site, &[]).await;
    let (access, _) = tokens(&host, "ada").await;
    host.stop().await.unwrap();

    let text = std::fs::read_to_string(common::repo_root().join("spin.toml")).unwrap();
    let section = text
        .find("[component.admin.variables]")
        .expect("admin variables section");
    let line = text[section..]
        .find("redis_key_prefix = ")
        .expect("admin declares the prefix")
        + section;
    let end = text[line..].find('\n').unwrap() + line + 1;
    let manifest =
        common::repo_root().join(format!("{}spin.toml", common::unique_prefix("noprefix")));
    std::fs::write(&manifest, format!("{}{}", &text[..line], &text[end..])).unwrap();
    let host = common::runtime::start(rt, manifest.clone(), site.variables()).await;
    std::fs::remove_file(&manifest).unwrap();
    let auth = format!("Bearer {access}");
    let reply = request(
        host.addr,
        "GET",
        "/api/v1/admin/users",
        &[("authorization", &auth)],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 503, "{}", reply.text());
    host.stop().await.unwrap();
    site.cleanup().await;
}

/// Instances are reused across requests (Spin 4, WASIp3): nothing of one request may leak into the
/// next. Three users' requests, interleaved and concurrent, each get their own answer; a token
/// logged out in between is refused at once while the others keep working.
async fn reused_instances_answer_each_caller_as_themselves(rt: Runtime) {
    let site = Site::new("auth_isolation", &[Database::Ess]).await;
    for (name, role) in [("ada", "admin"), ("bob", "viewer"), ("cyd", "operator")] {
        site.add_user(name, &[role]).await;
    }
    let host = start(rt, &site, &[]).await;
    let mut callers = Vec::new();
    for name in ["ada", "bob", "cyd"] {
        callers.push((name, tokens(&host, name).await.0));
    }

    let round = |callers: Vec<(&'static str, String)>, rounds: usize| {
        let addr = host.addr;
        async move {
            let mut calls = Vec::new();
            for i in 0..rounds {
                for (name, token) in &callers {
                    let (name, auth) = (*name, format!("Bearer {token}"));
                    // Alternate a MySQL-backed route and a permission check, so each instance
                    // serves different users, routes and outcomes back to back.
                    let path = if i % 2 == 0 {
                        "/api/v1/auth/me"
                    } else {
                        "/api/v1/admin/users"
                    };
                    calls.push(tokio::spawn(async move {
                        let reply = request(addr, "GET", path, &[("authorization", &auth)], b"")
                            .await
                            .unwrap();
                        (name, path, reply)
                    }));
                }
            }
            let mut answers = Vec::new();
            for call in calls {
                answers.push(call.await.unwrap());
            }
            answers
        }
    };

    for (name, path, reply) in round(callers.clone(), 8).await {
        match path {
            "/api/v1/auth/me" => {
                assert_eq!(reply.status, 200, "{name}: {}", reply.text());
                assert_eq!(reply.json().unwrap()["username"], name, "{}", reply.text());
            }
            _ if name == "ada" => {
                assert_eq!(reply.status, 200, "{}", reply.text());
                assert!(reply.json().unwrap()["total"].as_u64().unwrap() >= 3);
            }
            _ => assert_eq!(reply.status, 403, "{name}: {}", reply.text()),
        }
    }

    // Bob logs out: his token dies on its very next use, whichever instance serves it.
    let bob = format!("Bearer {}", callers[1].1);
    let out = request(
        host.addr,
        "POST",
        "/api/v1/auth/logout",
        &[("authorization", &bob)],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(out.status, 204, "{}", out.text());
    for (name, path, reply) in round(callers.clone(), 4).await {
        match (name, path) {
            ("bob", _) => assert_401(&reply, "Token has been revoked"),
            (_, "/api/v1/auth/me") => {
                assert_eq!(reply.json().unwrap()["username"], name, "{}", reply.text())
            }
            ("ada", _) => assert_eq!(reply.status, 200, "{}", reply.text()),
            _ => assert_eq!(reply.status, 403, "{name}: {}", reply.text()),
        }
    }
    host.stop().await.unwrap();
    site.cleanup().await;
}

on_both_runtimes!(
    login_with_json_or_form_then_me,
    bad_logins_get_one_generic_answer_and_bad_input_422,
    legacy_flask_hashes_log_in_and_are_moved_to_argon2id,
    an_inactive_user_cannot_log_in,
    the_guard_refuses_every_forged_or_stale_token,
    logout_revokes_the_access_token_and_its_session,
    refresh_rotates_and_reuse_kills_the_family,
    failed_logins_are_throttled_per_username_and_per_address,
    unreachable_stores_are_503_naming_them,
    the_guard_fails_closed_without_its_configuration,
    reused_instances_answer_each_caller_as_themselves,
);
