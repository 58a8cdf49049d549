//! The one place that knows SolarHub's database, table and Redis key names, and
//! the SQL migrations of every database.
//!
//! Pure Rust, no I/O: compiles for `wasm32` components and for the native CLI alike.
//!
//! Conventions shared by every table:
//! - `DATETIME` columns hold **UTC** (writers supply explicit UTC values or rely on
//!   `DEFAULT (UTC_TIMESTAMP())`; nothing depends on the session time zone).
//! - Power in kW: positive = discharge / export / generation, negative = charge / import.
//!   The aux meter `MAUX` is a load meter: its `KW_tot` is the aux consumption (positive),
//!   and `MMAIN.KW_tot = pcs0.p_kw + pcs1.p_kw + INVERTER_1.ac_kw - MAUX.KW_tot`.
//! - Time-series tables have `ts` as their primary key, so per-device time-range scans
//!   (`WHERE ts >= ? AND ts < ? ORDER BY ts`) and "newest row" (`ORDER BY ts DESC LIMIT 1`)
//!   are index range scans. One table (or database) per device makes the device part of the name.

pub mod auth_keys;
mod migrations;
mod redis_keys;

pub use migrations::{checksum, split_statements, Migration, MigrationGroup};
pub use redis_keys::{
    bess_key, inverter_key, meter_key, meter_scan_pattern, pcs_key, RedisStore, INVERTER_FIELDS,
    METER_FIELDS, PCS_FIELDS, RACK_FIELDS,
};

use core::fmt;

/// Number of battery racks (`BESS1`..`BESS12`).
pub const RACK_COUNT: u8 = 12;
/// Number of PCS units (`pcs0`, `pcs1`).
pub const PCS_COUNT: u8 = 2;
/// Racks served by one PCS: pcs0 serves BESS1-6, pcs1 serves BESS7-12.
pub const RACKS_PER_PCS: u8 = RACK_COUNT / PCS_COUNT;

/// The migrations bookkeeping table created in every database.
pub const MIGRATIONS_TABLE: &str = "schema_migrations";

/// One of the 19 MySQL databases of the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Database {
    /// Users, roles, permissions, alert log, time mappings, tariff.
    Ess,
    /// Schedule (awarded dReg/E-dReg) events.
    Schedule,
    /// Meter history: `MMAIN`, `MAUX`.
    Meter,
    /// PCS history: `pcs0_data`, `pcs1_data`.
    Pcs,
    /// PV inverter history: `INVERTER_1`.
    Inverter,
    /// Grid frequency baseline: `base_line`.
    BaseLine,
    /// Remote trading server's copy of the schedule (`events`).
    Gtr,
    /// Rack history of rack 1..=12: `rack_data`.
    Bess(u8),
}

impl Database {
    /// All 19 databases, in a stable order.
    pub const ALL: [Database; 19] = [
        Database::Ess,
        Database::Schedule,
        Database::Meter,
        Database::Pcs,
        Database::Inverter,
        Database::BaseLine,
        Database::Gtr,
        Database::Bess(1),
        Database::Bess(2),
        Database::Bess(3),
        Database::Bess(4),
        Database::Bess(5),
        Database::Bess(6),
        Database::Bess(7),
        Database::Bess(8),
        Database::Bess(9),
        Database::Bess(10),
        Database::Bess(11),
        Database::Bess(12),
    ];

    /// The rack database of rack `n` (1..=12), or `None` when out of range.
    pub fn bess(n: u8) -> Option<Database> {
        (1..=RACK_COUNT).contains(&n).then_some(Database::Bess(n))
    }

    /// The legacy database name (`ess`, `schedule`, `Meter`, `PCS`, `Inverter`, `BaseLine`,
    /// `GTR`, `BESS1`..`BESS12`). MySQL database names are case-sensitive on Linux.
    pub fn default_name(self) -> String {
        match self {
            Database::Bess(n) => format!("BESS{n}"),
            other => other.static_name().to_string(),
        }
    }

    fn static_name(self) -> &'static str {
        match self {
            Database::Ess => "ess",
            Database::Schedule => "schedule",
            Database::Meter => "Meter",
            Database::Pcs => "PCS",
            Database::Inverter => "Inverter",
            Database::BaseLine => "BaseLine",
            Database::Gtr => "GTR",
            Database::Bess(_) => "BESS",
        }
    }

    /// The Spin variable holding this database's connection URL
    /// (`db_ess_url`, ..., `db_bess1_url`..`db_bess12_url`).
    pub fn variable(self) -> String {
        format!("db_{}_url", self.key())
    }

    /// Lower-case key of the database used in variable names: `ess`, `baseline`, `bess3`...
    pub fn key(self) -> String {
        match self {
            Database::Bess(n) => format!("bess{n}"),
            Database::BaseLine => "baseline".to_string(),
            other => other.static_name().to_ascii_lowercase(),
        }
    }

    /// Parses a key (`ess`, `bess3`, ...) or a default name (`BESS3`, `BaseLine`), case-insensitively.
    pub fn from_key(s: &str) -> Option<Database> {
        let lower = s.to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix("bess") {
            return n.parse::<u8>().ok().and_then(Database::bess);
        }
        Database::ALL
            .iter()
            .copied()
            .find(|d| !matches!(d, Database::Bess(_)) && d.key() == lower)
    }

    /// The database name with a deployment prefix (empty in production; tests use a unique one).
    pub fn name_with_prefix(self, prefix: &str) -> String {
        format!("{prefix}{}", self.default_name())
    }

    /// The tables this database holds (besides `schema_migrations`).
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Database::Ess => &ess::ALL,
            Database::Schedule | Database::Gtr => &[schedule::EVENTS],
            Database::Meter => &meter::ALL,
            Database::Pcs => &pcs::ALL,
            Database::Inverter => &[inverter::INVERTER_1],
            Database::BaseLine => &[baseline::BASE_LINE],
            Database::Bess(_) => &[bess::RACK_DATA],
        }
    }

    /// The migration group applied to this database. `schedule` and `GTR` share the
    /// schedule set; the twelve rack databases share the BESS set.
    pub fn migration_group(self) -> MigrationGroup {
        match self {
            Database::Ess => MigrationGroup::Ess,
            Database::Schedule | Database::Gtr => MigrationGroup::Schedule,
            Database::Meter => MigrationGroup::Meter,
            Database::Pcs => MigrationGroup::Pcs,
            Database::Inverter => MigrationGroup::Inverter,
            Database::BaseLine => MigrationGroup::BaseLine,
            Database::Bess(_) => MigrationGroup::Bess,
        }
    }

    /// The ordered migrations of this database.
    pub fn migrations(self) -> &'static [Migration] {
        self.migration_group().migrations()
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.default_name())
    }
}

/// Tables of the `ess` database.
pub mod ess {
    pub const USERS: &str = "users";
    pub const ROLES: &str = "roles";
    pub const PERMISSIONS: &str = "permissions";
    pub const USER_ROLES: &str = "user_roles";
    pub const ROLE_PERMISSIONS: &str = "role_permissions";
    pub const ALERTS: &str = "alerts";
    pub const TIME_MAPPINGS: &str = "time_mappings";
    pub const TARIFF: &str = "tariff";
    pub const NOTIFICATION_PREFS: &str = "notification_prefs";
    pub const ALL: [&str; 9] = [
        USERS,
        ROLES,
        PERMISSIONS,
        USER_ROLES,
        ROLE_PERMISSIONS,
        ALERTS,
        TIME_MAPPINGS,
        TARIFF,
        NOTIFICATION_PREFS,
    ];

    /// Role names seeded by migration 0002.
    pub const ROLE_VIEWER: &str = "viewer";
    pub const ROLE_OPERATOR: &str = "operator";
    pub const ROLE_ADMIN: &str = "admin";
    pub const ROLES_ALL: [&str; 3] = [ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN];

    /// Permission names seeded by migration 0002.
    pub const PERM_TELEMETRY_READ: &str = "telemetry:read";
    pub const PERM_TRADING_READ: &str = "trading:read";
    pub const PERM_ALERTS_ACK: &str = "alerts:ack";
    pub const PERM_USERS_ADMIN: &str = "users:admin";

    /// The permissions each seeded role carries (mirrors migration 0002).
    pub fn role_permissions(role: &str) -> Option<&'static [&'static str]> {
        match role {
            ROLE_VIEWER => Some(&[PERM_TELEMETRY_READ, PERM_TRADING_READ]),
            ROLE_OPERATOR => Some(&[PERM_TELEMETRY_READ, PERM_TRADING_READ, PERM_ALERTS_ACK]),
            ROLE_ADMIN => Some(&[
                PERM_TELEMETRY_READ,
                PERM_TRADING_READ,
                PERM_ALERTS_ACK,
                PERM_USERS_ADMIN,
            ]),
            _ => None,
        }
    }

    /// `alerts.device_kind` values.
    pub const DEVICE_BESS: &str = "bess";
    pub const DEVICE_PCS: &str = "pcs";
}

/// Tables of the `schedule` and `GTR` databases.
pub mod schedule {
    pub const EVENTS: &str = "events";
    /// `events.mode` values.
    pub const MODE_DREG: &str = "dreg";
    pub const MODE_EDREG: &str = "edreg";
}

/// Tables of the `Meter` database.
pub mod meter {
    pub const MMAIN: &str = "MMAIN";
    pub const MAUX: &str = "MAUX";
    pub const ALL: [&str; 2] = [MMAIN, MAUX];
}

/// Tables of the `PCS` database.
pub mod pcs {
    pub const PCS0_DATA: &str = "pcs0_data";
    pub const PCS1_DATA: &str = "pcs1_data";
    pub const ALL: [&str; 2] = [PCS0_DATA, PCS1_DATA];

    /// History table of PCS `n` (0 or 1).
    pub fn table(n: u8) -> Option<&'static str> {
        ALL.get(usize::from(n)).copied()
    }
}

/// Tables of the `Inverter` database.
pub mod inverter {
    pub const INVERTER_1: &str = "INVERTER_1";
}

/// Tables of the `BaseLine` database.
pub mod baseline {
    pub const BASE_LINE: &str = "base_line";
}

/// Tables of each `BESS<n>` database.
pub mod bess {
    pub const RACK_DATA: &str = "rack_data";
}

/// The PCS (0 or 1) that serves rack `n` (1..=12).
pub fn pcs_of_rack(n: u8) -> Option<u8> {
    (1..=RACK_COUNT)
        .contains(&n)
        .then(|| (n - 1) / RACKS_PER_PCS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nineteen_databases_with_legacy_names() {
        assert_eq!(Database::ALL.len(), 19);
        let names: Vec<String> = Database::ALL.iter().map(|d| d.default_name()).collect();
        assert_eq!(
            &names[..7],
            ["ess", "schedule", "Meter", "PCS", "Inverter", "BaseLine", "GTR"]
        );
        for n in 1..=12u8 {
            assert_eq!(names[6 + n as usize], format!("BESS{n}"));
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 19);
    }

    #[test]
    fn variables() {
        let vars: Vec<String> = Database::ALL.iter().map(|d| d.variable()).collect();
        assert_eq!(
            &vars[..7],
            [
                "db_ess_url",
                "db_schedule_url",
                "db_meter_url",
                "db_pcs_url",
                "db_inverter_url",
                "db_baseline_url",
                "db_gtr_url"
            ]
        );
        assert_eq!(vars[7], "db_bess1_url");
        assert_eq!(vars[18], "db_bess12_url");
        // Spin variable names: lower-case letters, digits and underscores, starting with a letter.
        for v in &vars {
            assert!(v
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
    }

    #[test]
    fn keys_round_trip() {
        for d in Database::ALL {
            assert_eq!(Database::from_key(&d.key()), Some(d));
            assert_eq!(Database::from_key(&d.default_name()), Some(d));
        }
        assert_eq!(Database::from_key("bess0"), None);
        assert_eq!(Database::from_key("bess13"), None);
        assert_eq!(Database::from_key("nope"), None);
        assert_eq!(Database::bess(13), None);
    }

    #[test]
    fn prefix_and_tables() {
        assert_eq!(Database::Bess(3).name_with_prefix("t1_"), "t1_BESS3");
        assert_eq!(Database::Meter.tables(), ["MMAIN", "MAUX"]);
        assert_eq!(Database::Gtr.tables(), Database::Schedule.tables());
        assert_eq!(pcs::table(1), Some("pcs1_data"));
        assert_eq!(pcs::table(2), None);
    }

    #[test]
    fn rack_to_pcs() {
        assert_eq!(pcs_of_rack(1), Some(0));
        assert_eq!(pcs_of_rack(6), Some(0));
        assert_eq!(pcs_of_rack(7), Some(1));
        assert_eq!(pcs_of_rack(12), Some(1));
        assert_eq!(pcs_of_rack(0), None);
        assert_eq!(pcs_of_rack(13), None);
    }

    #[test]
    fn roles_mirror_migration() {
        let seed = Database::Ess
            .migrations()
            .iter()
            .find(|m| m.name == "seed_roles")
            .expect("seed_roles migration");
        for role in ess::ROLES_ALL {
            assert!(seed.sql.contains(&format!("'{role}'")));
            for p in ess::role_permissions(role).unwrap() {
                assert!(seed.sql.contains(&format!("'{p}'")), "{p}");
            }
        }
        assert!(ess::role_permissions("root").is_none());
    }

    #[test]
    fn every_table_is_created_by_its_migrations() {
        for d in Database::ALL {
            let sql: String = d.migrations().iter().map(|m| m.sql).collect();
            for t in d.tables() {
                assert!(
                    sql.contains(&format!("CREATE TABLE {t} (")),
                    "{d}: table {t} not created by its migrations"
                );
            }
        }
    }
}
