//! `solarhub migrate` against the real MariaDB, on per-test databases.

mod common;

use common::TestEnv;
use solarhub_shared::schema::{ess, Database, MIGRATIONS_TABLE};

fn applied_count(stdout: &str) -> usize {
    if stdout.contains("nothing changed") {
        return 0;
    }
    let line = stdout
        .lines()
        .find(|l| l.contains("migration(s) applied"))
        .unwrap_or_else(|| panic!("no summary in:\n{stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "migration(s)").unwrap();
    words[i - 1].parse().unwrap()
}

fn total_migrations() -> usize {
    Database::ALL.iter().map(|d| d.migrations().len()).sum()
}

/// Every database exists with exactly its migrations recorded (right checksums) and tables.
fn assert_fully_migrated(env: &TestEnv) {
    let mut c = env.conn();
    let mut want: Vec<String> = Database::ALL.iter().map(|d| env.db(*d)).collect();
    want.sort();
    assert_eq!(env.existing_databases(&mut c), want);
    for d in Database::ALL {
        let name = env.db(d);
        let rows: Vec<(u32, String, String)> = env.query(
            &mut c,
            &format!("SELECT version, name, checksum FROM `{name}`.`{MIGRATIONS_TABLE}` ORDER BY version"),
        );
        let expected: Vec<(u32, String, String)> = d
            .migrations()
            .iter()
            .map(|m| (m.version, m.name.to_string(), m.checksum()))
            .collect();
        assert_eq!(rows, expected, "{name}");
        let mut tables: Vec<String> = env.query(
            &mut c,
            &format!(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{name}'"
            ),
        );
        tables.sort();
        let mut want: Vec<String> = d.tables().iter().map(|t| t.to_string()).collect();
        want.push(MIGRATIONS_TABLE.to_string());
        want.sort();
        assert_eq!(tables, want, "{name}");
    }
}

#[test]
fn migrate_creates_all_19_databases_and_a_second_run_changes_nothing() {
    let env = TestEnv::new();
    let mut c = env.conn();
    assert!(env.existing_databases(&mut c).is_empty());

    let first = env.ok(&["migrate"]);
    assert_eq!(applied_count(&first), total_migrations(), "{first}");
    assert!(first.contains("19 database(s) changed"), "{first}");
    assert_fully_migrated(&env);

    // Roles and permissions as DOMAIN.md defines them; no users.
    let ess_db = env.db(Database::Ess);
    for role in ess::ROLES_ALL {
        let mut perms: Vec<String> = env.query(
            &mut c,
            &format!(
                "SELECT p.name FROM `{ess_db}`.roles r JOIN `{ess_db}`.role_permissions rp ON rp.role_id = r.id \
                 JOIN `{ess_db}`.permissions p ON p.id = rp.permission_id WHERE r.name = '{role}' ORDER BY p.name"
            ),
        );
        perms.sort();
        let mut want: Vec<String> = ess::role_permissions(role)
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        want.sort();
        assert_eq!(perms, want, "role {role}");
    }
    let users: u64 = env.query_one(&mut c, &format!("SELECT COUNT(*) FROM `{ess_db}`.users"));
    assert_eq!(users, 0, "migrations must not create users");

    let applied_at: Vec<(u32, String)> = env.query(
        &mut c,
        &format!("SELECT version, CAST(applied_at AS CHAR) FROM `{ess_db}`.`{MIGRATIONS_TABLE}` ORDER BY version"),
    );
    let second = env.ok(&["migrate"]);
    assert_eq!(applied_count(&second), 0, "{second}");
    assert!(second.contains("nothing changed"), "{second}");
    assert!(!second.contains("created"), "{second}");
    assert_fully_migrated(&env);
    let again: Vec<(u32, String)> = env.query(
        &mut c,
        &format!("SELECT version, CAST(applied_at AS CHAR) FROM `{ess_db}`.`{MIGRATIONS_TABLE}` ORDER BY version"),
    );
    assert_eq!(applied_at, again);
}

#[test]
fn migrate_refuses_an_edited_migration() {
    let env = TestEnv::new();
    env.ok(&["migrate", "--quiet"]);
    let mut c = env.conn();
    let bess3 = env.db(Database::Bess(3));
    env.exec(
        &mut c,
        &format!("UPDATE `{bess3}`.`{MIGRATIONS_TABLE}` SET checksum = '0000000000000000' WHERE version = 1"),
    );
    let out = env.run(&["migrate", "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("edited after it was applied") && err.contains(&bess3),
        "{err}"
    );

    // A database recording a migration this build does not know is refused too.
    env.exec(
        &mut c,
        &format!(
            "UPDATE `{bess3}`.`{MIGRATIONS_TABLE}` SET checksum = '{}'",
            Database::Bess(3).migrations()[0].checksum()
        ),
    );
    env.exec(
        &mut c,
        &format!("INSERT INTO `{bess3}`.`{MIGRATIONS_TABLE}` (version, name, checksum) VALUES (99, 'future', 'x')"),
    );
    let out = env.run(&["migrate", "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("newer than this build"));
}

#[test]
fn concurrent_migrates_apply_each_migration_once() {
    let env = TestEnv::new();
    let children: Vec<_> = (0..3)
        .map(|_| {
            env.cmd(&["migrate"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0;
    let mut created = 0;
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        total += applied_count(&stdout);
        created += stdout.lines().filter(|l| l.contains(" created, ")).count();
    }
    assert_eq!(
        total,
        total_migrations(),
        "each migration applied exactly once"
    );
    assert_eq!(created, 19, "each database created exactly once");
    assert_fully_migrated(&env);
    assert_eq!(applied_count(&env.ok(&["migrate"])), 0);
}

#[test]
fn per_database_url_overrides_the_prefix() {
    let env = TestEnv::new();
    let custom = format!("{}custom_ess", env.prefix);
    let out = env
        .cmd(&["migrate", "--quiet"])
        .env(
            "SOLARHUB_DB_ESS_URL",
            format!("{}/{custom}", common::mysql_base()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = env.conn();
    let dbs = env.existing_databases(&mut c);
    assert!(dbs.contains(&custom), "{dbs:?}");
    assert!(!dbs.contains(&env.db(Database::Ess)), "{dbs:?}");
    assert_eq!(dbs.len(), 19);
    env.exec(&mut c, &format!("DROP DATABASE `{custom}`"));
}
