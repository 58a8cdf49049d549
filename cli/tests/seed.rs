//! `solarhub seed` against the real MariaDB: invariants of the generated history.

mod common;

use common::TestEnv;
use mysql_async::Conn;
use solarhub_shared::dreg::{parse_decimal_scaled, DregParams, Mode, Sample};
use solarhub_shared::schema::Database;
use solarhub_shared::time::{Date, UtcOffset};
use std::collections::HashMap;

const END: &str = "2026-03-10";

fn series(env: &TestEnv, c: &mut Conn, table: &str, col: &str) -> Vec<(i64, f64)> {
    env.query(
        c,
        &format!("SELECT UNIX_TIMESTAMP(ts), `{col}` FROM {table} ORDER BY ts"),
    )
}

/// Trapezoid integral in kWh; gaps longer than 5 × nominal are not bridged.
fn energy_kwh(s: &[(i64, f64)], nominal: i64) -> f64 {
    s.windows(2)
        .filter(|w| w[1].0 - w[0].0 <= 5 * nominal)
        .map(|w| (w[0].1 + w[1].1) / 2.0 * (w[1].0 - w[0].0) as f64 / 3600.0)
        .sum()
}

fn elapsed_s(stdout: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("total "))
        .expect("total line");
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "in").unwrap();
    words[i + 1].parse().unwrap()
}

#[test]
fn seven_days_are_fast_and_physically_consistent() {
    let env = TestEnv::new();
    env.ok(&["migrate", "--quiet"]);
    let out = env.ok(&["seed", "--days", "7", "--seed", "11", "--end", END]);
    let secs = elapsed_s(&out);
    assert!(secs < 60.0, "seeding 7 days took {secs} s\n{out}");

    let mut c = env.conn();
    let q = |d: Database, t: &str| format!("`{}`.`{t}`", env.db(d));
    let end_ts = Date::parse(END).unwrap().start_utc(UtcOffset::SITE_DEFAULT) + 86_400;
    let start_ts = end_ts - 7 * 86_400;

    // Row counts and resolution.
    for (table, n) in [
        (q(Database::Pcs, "pcs0_data"), 60_480u64),
        (q(Database::Pcs, "pcs1_data"), 60_480),
        (q(Database::Meter, "MMAIN"), 60_480),
        (q(Database::Meter, "MAUX"), 60_480),
        (q(Database::BaseLine, "base_line"), 60_480),
        (q(Database::Inverter, "INVERTER_1"), 10_080),
    ] {
        let (count, lo, hi): (u64, i64, i64) = env.query_one(
            &mut c,
            &format!(
                "SELECT COUNT(*), UNIX_TIMESTAMP(MIN(ts)), UNIX_TIMESTAMP(MAX(ts)) FROM {table}"
            ),
        );
        assert_eq!(count, n, "{table}");
        assert_eq!(lo, start_ts, "{table}");
        assert!(hi < end_ts && hi >= end_ts - 60, "{table}");
    }

    // SOC of every rack stays within 5..95 (so within 0..100), and SOH/temperatures are sane.
    for n in 1..=12u8 {
        let table = q(Database::Bess(n), "rack_data");
        let (count, lo, hi, soh, tmax, cells_ok): (u64, f64, f64, f64, f64, u64) = env.query_one(
            &mut c,
            &format!(
                "SELECT COUNT(*), MIN(soc), MAX(soc), MIN(soh), MAX(temp_max), \
                 SUM(cell_v_max_mv >= cell_v_min_mv AND temp_max >= temp_avg AND temp_avg >= temp_min) FROM {table}"
            ),
        );
        assert_eq!(count, 10_080, "{table}");
        assert!(
            lo >= 5.0 && hi <= 95.0 && hi > lo,
            "{table}: SOC {lo}..{hi}"
        );
        assert!(soh > 90.0 && tmax < 60.0, "{table}");
        assert_eq!(cells_ok, count, "{table}");
    }

    // One frequency everywhere: base_line = PCS = meters at every 10 s.
    let mismatched: u64 = env.query_one(
        &mut c,
        &format!(
            "SELECT COUNT(*) FROM {} b JOIN {} p ON p.ts = b.ts JOIN {} m ON m.ts = b.ts \
             WHERE p.freq <> b.freq OR m.freq <> b.freq",
            q(Database::BaseLine, "base_line"),
            q(Database::Pcs, "pcs1_data"),
            q(Database::Meter, "MMAIN")
        ),
    );
    assert_eq!(mismatched, 0);
    let (sd, near, far): (f64, f64, u64) = env.query_one(
        &mut c,
        &format!(
            "SELECT STDDEV_POP(freq), AVG(ABS(freq - 60) < 0.05), SUM(ABS(freq - 60) > 0.25) FROM {}",
            q(Database::BaseLine, "base_line")
        ),
    );
    assert!((0.01..0.04).contains(&sd), "frequency sigma {sd}");
    assert!(near > 0.95, "only {near} of samples within 0.05 Hz");
    assert!(far > 0, "no excursion past 0.25 Hz in a week");

    // MMAIN = PCS + PV − aux at every minute (rounding only) ...
    let worst: f64 = env.query_one(
        &mut c,
        &format!(
            "SELECT MAX(ABS(m.KW_tot - (p0.p_kw + p1.p_kw + i.ac_kw - a.KW_tot))) FROM {} m \
             JOIN {} p0 ON p0.ts = m.ts JOIN {} p1 ON p1.ts = m.ts JOIN {} a ON a.ts = m.ts JOIN {} i ON i.ts = m.ts",
            q(Database::Meter, "MMAIN"),
            q(Database::Pcs, "pcs0_data"),
            q(Database::Pcs, "pcs1_data"),
            q(Database::Meter, "MAUX"),
            q(Database::Inverter, "INVERTER_1")
        ),
    );
    assert!(
        worst <= 0.15,
        "MMAIN differs from PCS + PV − aux by {worst} kW"
    );
    // ... and the energies over the week agree within 2 % (PV at 60 s against the 10 s meters).
    let mmain = series(&env, &mut c, &q(Database::Meter, "MMAIN"), "KW_tot");
    let maux = series(&env, &mut c, &q(Database::Meter, "MAUX"), "KW_tot");
    let p0 = series(&env, &mut c, &q(Database::Pcs, "pcs0_data"), "p_kw");
    let p1 = series(&env, &mut c, &q(Database::Pcs, "pcs1_data"), "p_kw");
    let pv = series(&env, &mut c, &q(Database::Inverter, "INVERTER_1"), "ac_kw");
    let pcs: Vec<(i64, f64)> = p0
        .iter()
        .zip(&p1)
        .map(|(a, b)| {
            assert_eq!(a.0, b.0);
            (a.0, a.1 + b.1)
        })
        .collect();
    let (e_main, e_pcs, e_pv, e_aux) = (
        energy_kwh(&mmain, 10),
        energy_kwh(&pcs, 10),
        energy_kwh(&pv, 60),
        energy_kwh(&maux, 10),
    );
    let gross: f64 = pcs.iter().map(|s| s.1.abs()).sum::<f64>() * 10.0 / 3600.0 + e_pv + e_aux;
    let diff = e_main - (e_pcs + e_pv - e_aux);
    assert!(
        diff.abs() <= 0.02 * gross,
        "energy balance: MMAIN {e_main:.1} kWh vs {:.1} kWh",
        e_pcs + e_pv - e_aux
    );
    assert!(
        e_pv > 7.0 * 2000.0 && e_pv < 7.0 * 6000.0,
        "PV {e_pv} kWh in a week"
    );
    assert!(maux.iter().all(|s| (30.0..=80.0).contains(&s.1)));
    assert!(pv.iter().all(|s| (0.0..=1000.0).contains(&s.1)));
    // No PV at local night (00:00-05:00 at UTC+8 = 16:00-21:00 UTC).
    assert!(pv
        .iter()
        .filter(|s| (16 * 3600..21 * 3600).contains(&s.0.rem_euclid(86_400)))
        .all(|s| s.1 == 0.0));

    // Execution rates of the completed events, recomputed from the stored rows with shared::dreg.
    let freq: HashMap<i64, f64> = series(&env, &mut c, &q(Database::BaseLine, "base_line"), "freq")
        .into_iter()
        .collect();
    let events: Vec<(i64, i64, String, String, String, String)> = env.query(
        &mut c,
        &format!(
            "SELECT UNIX_TIMESTAMP(start_at), UNIX_TIMESTAMP(end_at), CAST(mode AS CHAR), CAST(capacity_mw AS CHAR), \
             CAST(capacity_price AS CHAR), CAST(status AS CHAR) FROM {} ORDER BY start_at",
            q(Database::Schedule, "events")
        ),
    );
    let gtr: u64 = env.query_one(
        &mut c,
        &format!(
            "SELECT COUNT(*) FROM {} g JOIN {} s ON s.start_at = g.start_at AND s.end_at = g.end_at \
             AND s.mode = g.mode AND s.capacity_mw = g.capacity_mw AND s.capacity_price = g.capacity_price",
            q(Database::Gtr, "events"),
            q(Database::Schedule, "events")
        ),
    );
    assert_eq!(
        gtr as usize,
        events.len(),
        "GTR holds a copy of the schedule"
    );
    let params = DregParams::default();
    let mut rates = Vec::new();
    for (s, e, mode, cap, price, status) in &events {
        let cap_kw = parse_decimal_scaled(cap, 3).unwrap();
        assert!((1000..=2500).contains(&cap_kw), "capacity {cap}");
        let price = parse_decimal_scaled(price, 2).unwrap();
        assert!((30_000..=70_000).contains(&price), "price {price}");
        assert!((1..=4).contains(&((e - s) / 3600)));
        if status != "completed" {
            assert!(
                *s >= end_ts - 4 * 3600,
                "only events at or after the window's end may be open"
            );
            continue;
        }
        let samples: Vec<Sample> = pcs
            .iter()
            .filter(|p| p.0 >= *s && p.0 < *e)
            .map(|p| Sample {
                ts: p.0,
                freq_hz: freq[&p.0],
                p_kw: p.1,
            })
            .collect();
        let ex = params.evaluate(
            Mode::parse(mode).unwrap(),
            cap_kw as f64 / 1000.0,
            *s,
            *e,
            &samples,
        );
        assert_eq!(
            ex.expected, ex.present,
            "every 10 s sample of an event is stored"
        );
        rates.push(ex.rate);
    }
    eprintln!("execution rates: {rates:?}");
    assert!(
        rates.len() >= 7 && rates.len() <= 28,
        "{} completed events in a week",
        rates.len()
    );
    rates.sort_by(f64::total_cmp);
    let in_band = rates.iter().filter(|r| (0.85..=0.99).contains(*r)).count();
    assert!(rates[0] >= 0.5 && rates[rates.len() - 1] < 1.0, "{rates:?}");
    assert!(
        in_band * 10 >= rates.len() * 7,
        "most execution rates in 0.85..0.99: {rates:?}"
    );
    assert!(
        events.iter().any(|e| e.5 == "scheduled"),
        "future events are scheduled"
    );

    // Alerts: some cleared, some acknowledged, at least three still active, all inside the window.
    let (total, active, acked, early): (u64, u64, u64, u64) = env.query_one(
        &mut c,
        &format!(
            "SELECT COUNT(*), SUM(cleared_at IS NULL), SUM(acknowledged), \
             SUM(started_at < FROM_UNIXTIME({start_ts}) OR started_at >= FROM_UNIXTIME({end_ts})) FROM {}",
            q(Database::Ess, "alerts")
        ),
    );
    assert!(
        total > 20 && active >= 3 && acked > 0 && early == 0,
        "{total} {active} {acked} {early}"
    );
}

/// Digest of everything `seed` writes (auto-increment ids and nothing else left out).
fn digest(env: &TestEnv, c: &mut Conn) -> Vec<String> {
    let mut out = Vec::new();
    for d in Database::ALL {
        for t in d.tables() {
            let table = format!("`{}`.`{t}`", env.db(d));
            let sql = match *t {
                "events" => format!("SELECT COUNT(*), CAST(COALESCE(SUM(CRC32(CONCAT_WS('|', start_at, end_at, mode, capacity_mw, capacity_price, status, created_at))), 0) AS CHAR) FROM {table}"),
                "alerts" => format!("SELECT COUNT(*), CAST(COALESCE(SUM(CRC32(CONCAT_WS('|', device_kind, device_no, code, level, message, started_at, IFNULL(cleared_at, '-'), acknowledged, IFNULL(acknowledged_at, '-')))), 0) AS CHAR) FROM {table}"),
                "users" | "roles" | "permissions" | "user_roles" | "role_permissions" | "time_mappings" | "tariff" => continue,
                _ => {
                    let (_, sum): (String, Option<u64>) = env.query_one(c, &format!("CHECKSUM TABLE {table}"));
                    let n: u64 = env.query_one(c, &format!("SELECT COUNT(*) FROM {table}"));
                    out.push(format!("{table} {n} {sum:?}"));
                    continue;
                }
            };
            let (n, sum): (u64, String) = env.query_one(c, &sql);
            out.push(format!("{table} {n} {sum}"));
        }
    }
    out
}

#[test]
fn seeding_is_deterministic_and_replaces_its_window() {
    let env = TestEnv::new();
    env.ok(&["migrate", "--quiet"]);
    let mut c = env.conn();
    let args = ["seed", "--days", "1", "--seed", "5", "--end", END];
    env.ok(&args);
    let first = digest(&env, &mut c);
    assert!(
        first.iter().any(|l| l.contains("pcs0_data` 8640 ")),
        "{first:#?}"
    );

    // Same seed again: identical rows, nothing duplicated.
    env.ok(&args);
    assert_eq!(digest(&env, &mut c), first);

    // Another seed: different rows, same counts for the time series.
    env.ok(&["seed", "--days", "1", "--seed", "6", "--end", END]);
    let other = digest(&env, &mut c);
    assert_ne!(other, first);
    let pcs_line = |d: &[String]| {
        d.iter()
            .find(|l| l.contains("pcs0_data"))
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(pcs_line(&other), "8640");

    // Back to the first seed: the window is replaced wholesale.
    env.ok(&args);
    assert_eq!(digest(&env, &mut c), first);
}

#[test]
fn seed_refuses_unmigrated_databases_and_bad_arguments() {
    let env = TestEnv::new();
    let out = env.run(&["seed", "--days", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("solarhub migrate"));
    let mut c = env.conn();
    assert!(
        env.existing_databases(&mut c).is_empty(),
        "seed must not create databases"
    );
    for bad in [
        vec!["seed"],
        vec!["seed", "--days", "x"],
        vec!["seed", "--days", "1", "--end", "2026-02-30"],
        vec!["seed", "--days", "1", "--bogus", "1"],
    ] {
        let out = env.run(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}
