//! Versioned SQL migrations, embedded from `shared/migrations/<group>/NNNN_description.sql`.
//!
//! A migration is applied once per database and recorded in `schema_migrations`
//! (version, name, checksum, applied_at). Applied migrations are never edited: add a new file
//! with the next number instead (the runner refuses a database whose recorded checksum
//! differs from the embedded file).

/// One migration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// 1, 2, 3... in file order, no gaps.
    pub version: u32,
    /// The description part of the file name (`create_auth`).
    pub name: &'static str,
    /// Path below `shared/migrations/`.
    pub file: &'static str,
    /// The SQL text (one or more `;`-terminated statements).
    pub sql: &'static str,
}

impl Migration {
    /// The statements of this migration, in order.
    pub fn statements(&self) -> Vec<&'static str> {
        split_statements(self.sql)
    }

    /// A stable checksum of the SQL text (FNV-1a 64, hex).
    pub fn checksum(&self) -> String {
        checksum(self.sql)
    }
}

macro_rules! migration {
    ($version:expr, $name:expr, $file:expr) => {
        Migration {
            version: $version,
            name: $name,
            file: $file,
            sql: include_str!(concat!("../../migrations/", $file)),
        }
    };
}

static ESS: [Migration; 5] = [
    migration!(1, "create_auth", "ess/0001_create_auth.sql"),
    migration!(2, "seed_roles", "ess/0002_seed_roles.sql"),
    migration!(3, "create_alerts", "ess/0003_create_alerts.sql"),
    migration!(
        4,
        "create_legacy_tariff",
        "ess/0004_create_legacy_tariff.sql"
    ),
    migration!(
        5,
        "create_notification_prefs",
        "ess/0005_create_notification_prefs.sql"
    ),
];
static SCHEDULE: [Migration; 1] = [migration!(
    1,
    "create_events",
    "schedule/0001_create_events.sql"
)];
static METER: [Migration; 1] = [migration!(
    1,
    "create_meters",
    "meter/0001_create_meters.sql"
)];
static PCS: [Migration; 1] = [migration!(
    1,
    "create_pcs_data",
    "pcs/0001_create_pcs_data.sql"
)];
static INVERTER: [Migration; 1] = [migration!(
    1,
    "create_inverter",
    "inverter/0001_create_inverter.sql"
)];
static BASELINE: [Migration; 1] = [migration!(
    1,
    "create_base_line",
    "baseline/0001_create_base_line.sql"
)];
static BESS: [Migration; 1] = [migration!(
    1,
    "create_rack_data",
    "bess/0001_create_rack_data.sql"
)];

/// A set of migrations shared by one or more databases (a directory under `shared/migrations/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MigrationGroup {
    Ess,
    /// `schedule` and `GTR`.
    Schedule,
    Meter,
    Pcs,
    Inverter,
    BaseLine,
    /// `BESS1`..`BESS12`.
    Bess,
}

impl MigrationGroup {
    pub const ALL: [MigrationGroup; 7] = [
        MigrationGroup::Ess,
        MigrationGroup::Schedule,
        MigrationGroup::Meter,
        MigrationGroup::Pcs,
        MigrationGroup::Inverter,
        MigrationGroup::BaseLine,
        MigrationGroup::Bess,
    ];

    /// The directory below `shared/migrations/`.
    pub fn dir(self) -> &'static str {
        match self {
            MigrationGroup::Ess => "ess",
            MigrationGroup::Schedule => "schedule",
            MigrationGroup::Meter => "meter",
            MigrationGroup::Pcs => "pcs",
            MigrationGroup::Inverter => "inverter",
            MigrationGroup::BaseLine => "baseline",
            MigrationGroup::Bess => "bess",
        }
    }

    pub fn migrations(self) -> &'static [Migration] {
        match self {
            MigrationGroup::Ess => &ESS,
            MigrationGroup::Schedule => &SCHEDULE,
            MigrationGroup::Meter => &METER,
            MigrationGroup::Pcs => &PCS,
            MigrationGroup::Inverter => &INVERTER,
            MigrationGroup::BaseLine => &BASELINE,
            MigrationGroup::Bess => &BESS,
        }
    }
}

/// FNV-1a 64-bit checksum of `text`, as 16 lower-case hex digits. Carriage returns are
/// skipped, so a checkout with CRLF line endings has the same checksums as one with LF.
pub fn checksum(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes().filter(|b| *b != b'\r') {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Splits SQL text into statements at `;` outside quotes (`'`, `"`, `` ` ``) and comments
/// (`-- `, `#`, `/* */`). Returned statements are trimmed, without the `;`, and statements
/// that are empty or only comments are dropped.
pub fn split_statements(sql: &str) -> Vec<&str> {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Code,
        Quote(u8),
        LineComment,
        BlockComment,
    }
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut has_code = false;
    let mut st = St::Code;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        match st {
            St::Code => match b {
                b'\'' | b'"' | b'`' => {
                    st = St::Quote(b);
                    has_code = true;
                }
                b'#' => st = St::LineComment,
                b'-' if next == Some(b'-')
                    && bytes.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
                {
                    st = St::LineComment
                }
                b'/' if next == Some(b'*') => {
                    st = St::BlockComment;
                    i += 1;
                }
                b';' => {
                    if has_code {
                        out.push(sql[start..i].trim());
                    }
                    start = i + 1;
                    has_code = false;
                }
                c if !c.is_ascii_whitespace() => has_code = true,
                _ => {}
            },
            St::Quote(q) => {
                if b == b'\\' && q != b'`' {
                    i += 1;
                } else if b == q {
                    if next == Some(q) {
                        i += 1;
                    } else {
                        st = St::Code;
                    }
                }
            }
            St::LineComment => {
                if b == b'\n' {
                    st = St::Code;
                }
            }
            St::BlockComment => {
                if b == b'*' && next == Some(b'/') {
                    st = St::Code;
                    i += 1;
                }
            }
        }
        i += 1;
    }
    if has_code {
        out.push(sql[start..].trim());
    }
    out.into_iter()
        .map(strip_leading_comments)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Drops whole comment lines before the first line of code (for readable error messages).
fn strip_leading_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if s.starts_with("--") || s.starts_with('#') {
            match s.find('\n') {
                Some(n) => s = &s[n + 1..],
                None => return "",
            }
        } else {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements() {
        let sql = "-- header; not a statement\nCREATE TABLE a (x INT);\n\n\
                   INSERT INTO a VALUES ('x;y'), (\"q\"\"\"), ('it''s; fine', 'back\\'slash;');\n\
                   /* block; comment */ # hash; comment\n\
                   SELECT `we;ird` FROM a -- trailing; comment\n;\n-- only a comment;\n   ";
        let st = split_statements(sql);
        assert_eq!(st.len(), 3, "{st:#?}");
        assert_eq!(st[0], "CREATE TABLE a (x INT)");
        assert!(st[1].starts_with("INSERT INTO a VALUES ('x;y')"));
        assert!(st[1].ends_with("'back\\'slash;')"));
        assert!(st[2].starts_with("/* block; comment */"));
        assert!(st[2].contains("SELECT `we;ird` FROM a"));
    }

    #[test]
    fn last_statement_without_semicolon() {
        assert_eq!(
            split_statements("SELECT 1; SELECT 2"),
            ["SELECT 1", "SELECT 2"]
        );
        assert!(split_statements("  ;; -- x\n").is_empty());
        // `--` without a following space is an operator, not a comment.
        assert_eq!(
            split_statements("SELECT 1--1; SELECT 3"),
            ["SELECT 1--1", "SELECT 3"]
        );
    }

    #[test]
    fn checksum_is_stable() {
        assert_eq!(checksum(""), "cbf29ce484222325");
        assert_eq!(checksum("a"), "af63dc4c8601ec8c");
        assert_ne!(checksum("CREATE TABLE a"), checksum("CREATE TABLE b"));
        assert_eq!(checksum("A;\r\nB;\r\n"), checksum("A;\nB;\n"));
    }

    #[test]
    fn versions_are_contiguous_and_files_match_names() {
        for g in MigrationGroup::ALL {
            let ms = g.migrations();
            assert!(!ms.is_empty());
            for (i, m) in ms.iter().enumerate() {
                assert_eq!(m.version as usize, i + 1, "{}", m.file);
                assert_eq!(
                    m.file,
                    format!("{}/{:04}_{}.sql", g.dir(), m.version, m.name),
                    "file name must be <group>/NNNN_<name>.sql"
                );
                assert!(!m.statements().is_empty(), "{} has no statement", m.file);
                assert!(m.name.len() <= 128);
            }
        }
    }

    #[test]
    fn every_migration_file_is_listed() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut on_disk = Vec::new();
        for entry in std::fs::read_dir(root).unwrap() {
            let dir = entry.unwrap();
            for f in std::fs::read_dir(dir.path()).unwrap() {
                let f = f.unwrap();
                on_disk.push(format!(
                    "{}/{}",
                    dir.file_name().to_string_lossy(),
                    f.file_name().to_string_lossy()
                ));
            }
        }
        on_disk.sort();
        let mut listed: Vec<String> = MigrationGroup::ALL
            .iter()
            .flat_map(|g| g.migrations().iter().map(|m| m.file.to_string()))
            .collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }

    #[test]
    fn migrations_never_insert_users() {
        for g in MigrationGroup::ALL {
            for m in g.migrations() {
                let upper = m.sql.to_ascii_uppercase();
                assert!(!upper.contains("INSERT INTO USERS"), "{}", m.file);
                assert!(!m.sql.contains("$argon2"), "{}", m.file);
            }
        }
    }
}
