//! `solarhub user create` against the real MariaDB.

mod common;

use common::TestEnv;
use solarhub_shared::password::verify_password;
use solarhub_shared::schema::Database;

#[test]
fn creates_users_with_argon2id_hashes_and_roles() {
    let env = TestEnv::new();
    env.ok(&["migrate", "--quiet"]);
    let create = |user: &str, email: &str, role: &str, password: Option<&str>| {
        let mut cmd = env.cmd(&[
            "user",
            "create",
            "--username",
            user,
            "--email",
            email,
            "--full-name",
            "Site Operator",
            "--role",
            role,
        ]);
        if let Some(p) = password {
            cmd.env("SOLARHUB_USER_PASSWORD", p);
        }
        cmd.output().unwrap()
    };

    let out = create(
        "alice",
        "alice@example.tw",
        "admin",
        Some("correct horse battery"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user alice"));

    let ess = env.db(Database::Ess);
    let mut c = env.conn();
    let (hash, active, name): (String, u8, String) = env.query_one(
        &mut c,
        &format!(
            "SELECT password_hash, active, full_name FROM `{ess}`.users WHERE username = 'alice'"
        ),
    );
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert_eq!(verify_password("correct horse battery", &hash), Ok(true));
    assert_eq!(verify_password("wrong password!!", &hash), Ok(false));
    assert_eq!((active, name.as_str()), (1, "Site Operator"));
    let roles: Vec<String> = env.query(
        &mut c,
        &format!(
            "SELECT r.name FROM `{ess}`.users u JOIN `{ess}`.user_roles ur ON ur.user_id = u.id \
             JOIN `{ess}`.roles r ON r.id = ur.role_id WHERE u.username = 'alice'"
        ),
    );
    assert_eq!(roles, ["admin"]);

    // Weak password, duplicate username (any case) or email, unknown role, no password source.
    let weak = create("bob", "bob@example.tw", "viewer", Some("short"));
    assert_eq!(weak.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12"));
    let dup = create(
        "ALICE",
        "other@example.tw",
        "viewer",
        Some("another good password"),
    );
    assert_eq!(dup.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let dup_mail = create(
        "carol",
        "alice@example.tw",
        "viewer",
        Some("another good password"),
    );
    assert_eq!(dup_mail.status.code(), Some(1));
    let bad_role = create(
        "dave",
        "dave@example.tw",
        "root",
        Some("another good password"),
    );
    assert_eq!(bad_role.status.code(), Some(1));
    let no_pw = create("erin", "erin@example.tw", "viewer", None);
    assert_eq!(no_pw.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_pw.stderr).contains("SOLARHUB_USER_PASSWORD"));
    let count: u64 = env.query_one(&mut c, &format!("SELECT COUNT(*) FROM `{ess}`.users"));
    assert_eq!(count, 1, "failed attempts must not leave users behind");

    let ok = create(
        "frank",
        "frank@example.tw",
        "operator",
        Some("operator password 1"),
    );
    assert!(ok.status.success());
    let perms: Vec<String> = env.query(
        &mut c,
        &format!(
            "SELECT DISTINCT p.name FROM `{ess}`.users u JOIN `{ess}`.user_roles ur ON ur.user_id = u.id \
             JOIN `{ess}`.role_permissions rp ON rp.role_id = ur.role_id JOIN `{ess}`.permissions p ON p.id = rp.permission_id \
             WHERE u.username = 'frank' ORDER BY p.name"
        ),
    );
    assert_eq!(perms, ["alerts:ack", "telemetry:read", "trading:read"]);

    // `status` reports the row counts (and sizes) of every database.
    let status = env.ok(&["status"]);
    let ess_line = status
        .lines()
        .find(|l| l.starts_with(&format!("{ess} ")))
        .unwrap();
    assert!(
        ess_line.contains("users=2") && ess_line.contains("roles=3"),
        "{ess_line}"
    );
    assert!(
        status.lines().last().unwrap().starts_with("total"),
        "{status}"
    );
    assert_eq!(status.lines().count(), 1 + 19 + 1);
}
