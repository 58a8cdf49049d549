//! `solarhub simulate` against the real Redis: the live hashes exist, carry the schema's
//! fields and change every second; SIGTERM stops it cleanly.

mod common;

use common::TestEnv;
use solarhub_shared::schema::{
    bess_key, inverter_key, meter_key, pcs_key, INVERTER_FIELDS, METER_FIELDS, PCS_FIELDS,
    RACK_FIELDS,
};
use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn expected_hashes(prefix: &str) -> Vec<(String, &'static [&'static str])> {
    let mut v: Vec<(String, &'static [&'static str])> = vec![
        (meter_key(prefix, "MMAIN"), &METER_FIELDS),
        (meter_key(prefix, "MAUX"), &METER_FIELDS),
        (inverter_key(prefix, 1), &INVERTER_FIELDS),
        (pcs_key(prefix, 0), &PCS_FIELDS),
        (pcs_key(prefix, 1), &PCS_FIELDS),
    ];
    for n in 1..=12 {
        v.push((bess_key(prefix, n), &RACK_FIELDS));
    }
    v
}

fn hgetall(env: &TestEnv, key: &str) -> HashMap<String, String> {
    let mut r = env.redis();
    env.rt
        .block_on(redis::cmd("HGETALL").arg(key).query_async(&mut r))
        .unwrap()
}

fn wait_for_key(env: &TestEnv, key: &str) {
    let start = Instant::now();
    while hgetall(env, key).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{key} never appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn live_hashes_update_every_second() {
    let env = TestEnv::new();
    // Continue from a seeded history: the racks' SOC must pick up where MySQL left off.
    env.ok(&["migrate", "--quiet"]);
    env.ok(&["seed", "--days", "1", "--seed", "3"]);
    let mut c = env.conn();
    let newest_soc: f64 = env.query_one(
        &mut c,
        &format!(
            "SELECT soc FROM `{}BESS4`.rack_data ORDER BY ts DESC LIMIT 1",
            env.prefix
        ),
    );

    let counts = |c: &mut mysql_async::Conn| -> (u64, u64) {
        env.query_one(
            c,
            &format!(
                "SELECT (SELECT COUNT(*) FROM `{p}PCS`.pcs1_data), (SELECT COUNT(*) FROM `{p}BESS12`.rack_data)",
                p = env.prefix
            ),
        )
    };
    let before = counts(&mut c);

    let child = env
        .cmd(&[
            "simulate",
            "--interval-ms",
            "1000",
            "--for-seconds",
            "5",
            "--seed",
            "1",
            "--history",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let hashes = expected_hashes(&env.prefix);
    wait_for_key(&env, &hashes[0].0);
    std::thread::sleep(Duration::from_millis(300));
    let first: Vec<HashMap<String, String>> =
        hashes.iter().map(|(k, _)| hgetall(&env, k)).collect();
    for ((key, fields), h) in hashes.iter().zip(&first) {
        let mut got: Vec<&str> = h.keys().map(String::as_str).collect();
        got.sort();
        let mut want: Vec<&str> = fields.to_vec();
        want.sort();
        assert_eq!(got, want, "{key}");
        let ts: i64 = h["ts"].parse().unwrap();
        let now = solarhub_shared::time::now_unix();
        assert!((now - ts).abs() <= 3, "{key}: ts {ts} vs now {now}");
    }
    let soc: f64 = first[3 + 2 + 3]["soc"].parse().unwrap(); // bess:4
    assert!(
        (soc - newest_soc).abs() < 1.0,
        "live SOC {soc} does not continue history {newest_soc}"
    );
    let mmain = &first[0];
    let kw: f64 = mmain["KW_tot"].parse().unwrap();
    let f: f64 = mmain["freq"].parse().unwrap();
    assert!((59.5..60.5).contains(&f) && kw.abs() < 5000.0);

    std::thread::sleep(Duration::from_millis(2100));
    let second: Vec<HashMap<String, String>> =
        hashes.iter().map(|(k, _)| hgetall(&env, k)).collect();
    for (((key, _), a), b) in hashes.iter().zip(&first).zip(&second) {
        let (ta, tb): (i64, i64) = (a["ts"].parse().unwrap(), b["ts"].parse().unwrap());
        assert!(tb > ta, "{key}: ts did not advance ({ta} -> {tb})");
    }
    // The meters' values change between updates (random walk), not only the timestamp.
    assert!(
        ["Vll_ab", "Vll_bc", "Vll_ca", "I_a"]
            .iter()
            .any(|f| first[0][*f] != second[0][*f]),
        "meter values did not change"
    );

    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let updates: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("stopped after "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {stdout}"));
    assert!((4..=6).contains(&updates), "{updates} updates in 5 s");
    // --history appended rows behind the live values.
    assert!(stdout.contains("history row(s) written"), "{stdout}");
    let after = counts(&mut c);
    assert!(
        after.0 > before.0 && after.1 > before.1,
        "{before:?} -> {after:?}"
    );
}

#[test]
fn sigterm_stops_the_simulator() {
    let env = TestEnv::new();
    // No databases for this prefix: the simulator warns and starts a fresh site.
    let child = env
        .cmd(&["simulate", "--interval-ms", "200"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let key = meter_key(&env.prefix, "MAUX");
    wait_for_key(&env, &key);
    let pid = child.id().to_string();
    let started = Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(out.status.success(), "exit {:?}", out.status);
    assert!(String::from_utf8_lossy(&out.stdout).contains("stopped after"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fresh site"));
    assert_eq!(env.redis_keys().len(), 17, "{:?}", env.redis_keys());
}

#[test]
fn simulated_alerts_are_logged_published_and_cleared() {
    use solarhub_shared::realtime::events::{AlertEvent, EventKind};
    let env = TestEnv::new();
    env.ok(&["migrate", "--quiet"]);
    // Listen on the alert channel before the simulator starts.
    let client = redis::Client::open(common::redis_url()).unwrap();
    let channel = format!("{}alerts", env.prefix);
    let mut pubsub = env.rt.block_on(client.get_async_pubsub()).unwrap();
    env.rt.block_on(pubsub.subscribe(&channel)).unwrap();
    let out = env
        .cmd(&[
            "simulate",
            "--interval-ms",
            "100",
            "--for-seconds",
            "3",
            "--seed",
            "7",
            "--alerts-every-secs",
            "1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Every alert raised is in the log, and cleared when the simulator stopped.
    let mut c = env.conn();
    let (raised, cleared): (u64, u64) = env.query_one(
        &mut c,
        &format!(
            "SELECT COUNT(*), COUNT(cleared_at) FROM `{}`.alerts",
            env.db(solarhub_shared::schema::Database::Ess)
        ),
    );
    assert!(raised >= 1, "no alert in 3 s at one a second: {stdout}");
    assert_eq!(cleared, raised);
    assert!(
        stdout.contains(&format!("and {raised} alert(s)")),
        "{stdout}"
    );

    // Each was published twice (raised, cleared), with the id of its alert-log stream entry.
    use futures_util::StreamExt;
    let mut messages = pubsub.on_message();
    let mut events = Vec::new();
    while events.len() < 2 * raised as usize {
        let msg = env
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), messages.next()).await })
            .expect("every event was published")
            .unwrap();
        events.push(AlertEvent::parse(msg.get_payload_bytes()).unwrap());
    }
    let mut r = env.redis();
    let logged: Vec<(String, Vec<(String, String)>)> = env
        .rt
        .block_on(
            redis::cmd("XRANGE")
                .arg(format!("{}alerts:log", env.prefix))
                .arg("-")
                .arg("+")
                .query_async(&mut r),
        )
        .unwrap();
    assert_eq!(logged.len(), events.len());
    for (event, (id, fields)) in events.iter().zip(&logged) {
        assert_eq!(&event.event_id, id);
        let stored = AlertEvent::parse(fields[0].1.as_bytes()).unwrap();
        assert_eq!(stored.with_id(id.clone()), *event);
    }
    let kinds = |k: EventKind| events.iter().filter(|e| e.kind == k).count() as u64;
    assert_eq!(
        (kinds(EventKind::Raised), kinds(EventKind::Cleared)),
        (raised, raised)
    );
    for e in events.iter().filter(|e| e.kind == EventKind::Cleared) {
        assert!(!e.alert.active && e.alert.cleared_at.is_some());
        assert!(["info", "warning", "critical"].contains(&e.alert.level.as_str()));
    }
}
