//! Redis live-value hashes and where they live.
//!
//! | key | store | fields |
//! |---|---|---|
//! | `meter:MMAIN`, `meter:MAUX` | main | [`METER_FIELDS`] |
//! | `inverter:1` | main | [`INVERTER_FIELDS`] |
//! | `bess:1`..`bess:12` | GTR | [`RACK_FIELDS`] |
//! | `pcs:0`, `pcs:1` | GTR | [`PCS_FIELDS`] |
//!
//! Every hash carries `ts` (epoch seconds, UTC) of its last update. Every key is written
//! with a deployment prefix (empty in production; tests use a unique one so they never touch
//! each other's keys).

/// The two Redis instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedisStore {
    /// Meter and PV inverter live values.
    Main,
    /// BESS/PCS live values and trading state.
    Gtr,
}

impl RedisStore {
    pub const ALL: [RedisStore; 2] = [RedisStore::Main, RedisStore::Gtr];

    /// The Spin variable holding this store's URL.
    pub fn variable(self) -> &'static str {
        match self {
            RedisStore::Main => "redis_main_url",
            RedisStore::Gtr => "redis_gtr_url",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RedisStore::Main => "main",
            RedisStore::Gtr => "gtr",
        }
    }
}

/// Fields of `meter:<name>`.
pub const METER_FIELDS: [&str; 11] = [
    "I_a", "I_b", "I_c", "Vll_ab", "Vll_bc", "Vll_ca", "KW_tot", "KVAR_tot", "PF", "freq", "ts",
];

/// Fields of `bess:<n>`: the `rack_data` columns plus `ts`.
pub const RACK_FIELDS: [&str; 13] = [
    "status",
    "soc",
    "soh",
    "voltage",
    "current",
    "power_kw",
    "cell_v_max_mv",
    "cell_v_min_mv",
    "temp_max",
    "temp_min",
    "temp_avg",
    "alarm_count",
    "ts",
];

/// Fields of `pcs:<n>`: the `pcs<n>_data` columns plus `ts`.
pub const PCS_FIELDS: [&str; 14] = [
    "status",
    "p_kw",
    "q_kvar",
    "dc_v",
    "dc_a",
    "v_a",
    "v_b",
    "v_c",
    "i_a",
    "i_b",
    "i_c",
    "freq",
    "fault_code",
    "ts",
];

/// Fields of `inverter:<n>`: the `INVERTER_<n>` columns plus `ts`.
pub const INVERTER_FIELDS: [&str; 6] = [
    "status",
    "ac_kw",
    "dc_kw",
    "today_kwh",
    "lifetime_kwh",
    "ts",
];

/// `<prefix>meter:<name>` (main store), e.g. `meter:MMAIN`.
pub fn meter_key(prefix: &str, name: &str) -> String {
    format!("{prefix}meter:{name}")
}

/// The SCAN/KEYS pattern matching every meter hash (main store). The prefix is matched
/// literally: glob characters in it are escaped, so a prefix like `site[1]:` finds its own keys.
pub fn meter_scan_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 7);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern + "meter:*"
}

/// `<prefix>bess:<n>` (GTR store), rack 1..=12.
pub fn bess_key(prefix: &str, n: u8) -> String {
    format!("{prefix}bess:{n}")
}

/// `<prefix>pcs:<n>` (GTR store), PCS 0..=1.
pub fn pcs_key(prefix: &str, n: u8) -> String {
    format!("{prefix}pcs:{n}")
}

/// `<prefix>inverter:<n>` (main store), inverter 1.
pub fn inverter_key(prefix: &str, n: u8) -> String {
    format!("{prefix}inverter:{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(meter_key("", "MMAIN"), "meter:MMAIN");
        assert_eq!(meter_key("t1:", "MAUX"), "t1:meter:MAUX");
        assert_eq!(meter_scan_pattern("t1:"), "t1:meter:*");
        assert_eq!(
            meter_scan_pattern("s[1]*?\\:"),
            "s\\[1\\]\\*\\?\\\\:meter:*"
        );
        assert_eq!(bess_key("", 12), "bess:12");
        assert_eq!(pcs_key("x_", 0), "x_pcs:0");
        assert_eq!(inverter_key("", 1), "inverter:1");
        assert_eq!(RedisStore::Main.variable(), "redis_main_url");
        assert_eq!(RedisStore::Gtr.variable(), "redis_gtr_url");
    }

    #[test]
    fn every_hash_has_ts() {
        for fields in [
            &METER_FIELDS[..],
            &RACK_FIELDS[..],
            &PCS_FIELDS[..],
            &INVERTER_FIELDS[..],
        ] {
            assert_eq!(fields.last(), Some(&"ts"));
        }
    }

    #[test]
    fn live_fields_mirror_history_columns() {
        use crate::schema::{Database, MigrationGroup};
        let cols = |g: MigrationGroup| -> String { g.migrations().iter().map(|m| m.sql).collect() };
        let check = |sql: &str, fields: &[&str]| {
            for f in fields.iter().filter(|f| **f != "ts") {
                assert!(sql.contains(&format!("\n    {f} ")), "column {f} missing");
            }
        };
        check(&cols(Database::Bess(1).migration_group()), &RACK_FIELDS);
        check(&cols(MigrationGroup::Pcs), &PCS_FIELDS);
        check(&cols(MigrationGroup::Inverter), &INVERTER_FIELDS);
        check(&cols(MigrationGroup::Meter), &METER_FIELDS);
    }
}
