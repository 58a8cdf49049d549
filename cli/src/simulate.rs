//! `solarhub simulate [--interval-ms 1000] [--for-seconds N] [--seed S] [--history]`: keeps the
//! Redis live hashes updating until stopped (SIGINT/SIGTERM) or for N seconds. With `--history`
//! it also appends the MySQL history rows (10 s / 60 s, `INSERT IGNORE`), so the history keeps
//! growing behind the live values.
//!
//! Main Redis: `meter:MMAIN`, `meter:MAUX`, `inverter:1`; GTR Redis: `bess:1..12`, `pcs:0..1`
//! (see `shared::schema`). The model starts from the newest SOC of each rack and the inverter's
//! registers in MySQL when they are there, follows the schedule events in force, and carries
//! each rack's active-alert count; without MySQL it starts from a fresh site. Now and then a
//! rack or PCS raises an alert (`sim_alerts`): logged in MySQL and published as an alert event.

use crate::config::{redact, Config};
use crate::model::{ActiveEvent, SiteModel, Snapshot, StepInput, Val};
use crate::sim_alerts::AlertSim;
use anyhow::{anyhow, bail, Result};
use mysql_async::prelude::Queryable;
use solarhub_shared::dreg::Mode;
use solarhub_shared::schema::{
    bess, bess_key, ess, inverter, inverter_key, meter_key, pcs_key, schedule, Database,
    INVERTER_FIELDS, METER_FIELDS, PCS_FIELDS, RACK_COUNT, RACK_FIELDS,
};
use solarhub_shared::time::{format_mysql_datetime, now_unix, parse_mysql_datetime};
use std::time::{Duration, Instant};

pub struct SimOptions {
    pub interval_ms: u64,
    pub for_seconds: Option<u64>,
    pub seed: Option<u64>,
    pub quiet: bool,
    pub history: bool,
    /// Mean seconds between simulated alerts; 0: none.
    pub alerts_every_secs: u64,
}

/// Appends the simulated rows to MySQL at the history resolution.
struct HistoryWriter {
    conns: Vec<mysql_async::Conn>,
    bufs: Vec<crate::seed::TableBuf>,
    servers: Vec<usize>,
    last_fast: i64,
    last_slow: i64,
    rows: u64,
}

impl HistoryWriter {
    async fn open(cfg: &Config) -> Result<HistoryWriter> {
        let mut conns = crate::db::connect_all(cfg).await?;
        crate::migrate::require_current(cfg, &mut conns).await?;
        let bufs = crate::seed::table_bufs(cfg, "INSERT IGNORE");
        let servers = bufs.iter().map(|b| cfg.target(b.db()).server).collect();
        Ok(HistoryWriter {
            conns,
            bufs,
            servers,
            last_fast: i64::MIN,
            last_slow: i64::MIN,
            rows: 0,
        })
    }

    /// Writes the rows of the 10 s (and 60 s) slot `snap` falls in, once per slot.
    async fn write(&mut self, snap: &Snapshot) -> Result<()> {
        let fast = snap.ts.div_euclid(crate::seed::FAST_STEP) * crate::seed::FAST_STEP;
        if fast == self.last_fast {
            return Ok(());
        }
        let slow = snap.ts.div_euclid(crate::seed::SLOW_STEP) * crate::seed::SLOW_STEP;
        let minute = slow != self.last_slow;
        self.last_fast = fast;
        self.last_slow = slow;
        let mut row = snap.clone();
        row.ts = if minute { slow } else { fast };
        crate::seed::write_snapshot(&row, minute, &mut self.bufs, &mut |_, _| Ok(()))?;
        for (i, b) in self.bufs.iter_mut().enumerate() {
            if let Some((_, sql)) = b.drain() {
                self.conns[self.servers[i]].query_drop(sql).await?;
                self.rows += 1;
            }
        }
        Ok(())
    }
}

/// What the live model continues from.
#[derive(Default)]
struct History {
    socs: Option<[f64; 12]>,
    pv: Option<(i64, f64, f64)>,
    events: Vec<(i64, i64, Mode, f64)>,
    rack_alarms: [u16; 12],
}

async fn load_history(cfg: &Config, horizon: i64) -> Result<History> {
    let mut conns = crate::db::connect_all(cfg).await?;
    let mut h = History::default();
    let mut socs = [0.0; 12];
    let mut all = true;
    for n in 1..=RACK_COUNT {
        let soc: Option<f64> = conns[cfg.target(Database::Bess(n)).server]
            .query_first(format!(
                "SELECT soc FROM {} ORDER BY ts DESC LIMIT 1",
                cfg.qualified(Database::Bess(n), bess::RACK_DATA)
            ))
            .await?;
        match soc {
            Some(s) => socs[usize::from(n - 1)] = s,
            None => all = false,
        }
    }
    if all {
        h.socs = Some(socs);
    }
    let pv: Option<(String, f64, f64)> = conns[cfg.target(Database::Inverter).server]
        .query_first(format!(
            "SELECT DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s'), today_kwh, lifetime_kwh FROM {} ORDER BY ts DESC LIMIT 1",
            cfg.qualified(Database::Inverter, inverter::INVERTER_1)
        ))
        .await?;
    h.pv = pv.and_then(|(ts, t, l)| parse_mysql_datetime(&ts).map(|ts| (ts, t, l)));
    let now = now_unix();
    let rows: Vec<(String, String, String, String)> = conns[cfg.target(Database::Schedule).server]
        .query(format!(
            "SELECT DATE_FORMAT(start_at, '%Y-%m-%d %H:%i:%s'), DATE_FORMAT(end_at, '%Y-%m-%d %H:%i:%s'), mode, CAST(capacity_mw AS CHAR) \
             FROM {} WHERE status <> 'cancelled' AND end_at > '{}' AND start_at < '{}' ORDER BY start_at",
            cfg.qualified(Database::Schedule, schedule::EVENTS),
            format_mysql_datetime(now),
            format_mysql_datetime(now + horizon)
        ))
        .await?;
    for (s, e, m, c) in rows {
        if let (Some(s), Some(e), Some(m), Ok(c)) = (
            parse_mysql_datetime(&s),
            parse_mysql_datetime(&e),
            Mode::parse(&m),
            c.parse::<f64>(),
        ) {
            h.events.push((s, e, m, c));
        }
    }
    let counts: Vec<(u8, u64)> = conns[cfg.target(Database::Ess).server]
        .query(format!(
            "SELECT device_no, COUNT(*) FROM {} WHERE device_kind = '{}' AND cleared_at IS NULL GROUP BY device_no",
            cfg.qualified(Database::Ess, ess::ALERTS),
            ess::DEVICE_BESS
        ))
        .await?;
    for (n, c) in counts {
        if (1..=RACK_COUNT).contains(&n) {
            h.rack_alarms[usize::from(n - 1)] = c as u16;
        }
    }
    for c in conns {
        c.disconnect().await.ok();
    }
    Ok(h)
}

fn fields(names: &[&'static str], values: Vec<Val>, ts: i64) -> Vec<(&'static str, String)> {
    debug_assert_eq!(names.len(), values.len() + 1);
    let mut out: Vec<(&'static str, String)> = names
        .iter()
        .copied()
        .zip(values.iter().map(Val::text))
        .collect();
    out.push(("ts", ts.to_string()));
    out
}

async fn redis_conn(url: &str, which: &str) -> Result<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url)
        .map_err(|e| anyhow!("{which} Redis URL invalid: {}", redact(&e.to_string())))?;
    client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| {
            anyhow!(
                "cannot connect to {which} Redis: {}",
                redact(&e.to_string())
            )
        })
}

async fn publish(
    main: &mut redis::aio::MultiplexedConnection,
    gtr: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    s: &Snapshot,
) -> Result<()> {
    let mut p = redis::pipe();
    p.hset_multiple(
        meter_key(prefix, "MMAIN"),
        &fields(&METER_FIELDS, s.mmain.live_values(), s.ts),
    )
    .ignore()
    .hset_multiple(
        meter_key(prefix, "MAUX"),
        &fields(&METER_FIELDS, s.maux.live_values(), s.ts),
    )
    .ignore()
    .hset_multiple(
        inverter_key(prefix, 1),
        &fields(&INVERTER_FIELDS, s.inverter.values(), s.ts),
    )
    .ignore();
    p.query_async::<()>(main).await?;
    let mut g = redis::pipe();
    for (i, r) in s.racks.iter().enumerate() {
        g.hset_multiple(
            bess_key(prefix, i as u8 + 1),
            &fields(&RACK_FIELDS, r.values(), s.ts),
        )
        .ignore();
    }
    for (k, row) in s.pcs.iter().enumerate() {
        g.hset_multiple(
            pcs_key(prefix, k as u8),
            &fields(&PCS_FIELDS, row.values(), s.ts),
        )
        .ignore();
    }
    g.query_async::<()>(gtr).await?;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn run(cfg: &Config, opts: &SimOptions) -> Result<u64> {
    if opts.interval_ms < 100 || opts.interval_ms > 60_000 {
        bail!("--interval-ms must be 100..=60000");
    }
    let horizon = opts.for_seconds.map_or(86_400, |s| s as i64 + 60);
    let history =
        match tokio::time::timeout(Duration::from_secs(10), load_history(cfg, horizon)).await {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                eprintln!(
                    "warning: no MySQL history to continue from ({}); starting a fresh site",
                    redact(&format!("{e:#}"))
                );
                History::default()
            }
            Err(_) => {
                eprintln!("warning: MySQL did not answer in 10 s; starting a fresh site");
                History::default()
            }
        };
    let mut writer = if opts.history {
        Some(HistoryWriter::open(cfg).await?)
    } else {
        None
    };
    let mut main = redis_conn(&cfg.redis_main, "main").await?;
    let mut gtr = redis_conn(&cfg.redis_gtr, "GTR").await?;
    let seed = opts.seed.unwrap_or_else(|| now_unix() as u64);
    let mut alerts = if opts.alerts_every_secs > 0 {
        match AlertSim::open(cfg, seed, opts.alerts_every_secs).await {
            Ok(sim) => Some(sim),
            Err(e) => {
                eprintln!(
                    "warning: no simulated alerts (the alert log is unreachable): {}",
                    redact(&format!("{e:#}"))
                );
                None
            }
        }
    } else {
        None
    };
    let mut model = SiteModel::new(seed, cfg.site_offset, history.socs);
    if let Some((ts, today, lifetime)) = history.pv {
        model.set_pv_registers(ts, today, lifetime);
    }
    let dt = opts.interval_ms as f64 / 1000.0;
    if !opts.quiet {
        println!(
            "simulating every {} ms: main Redis {} (meter:*, inverter:1), GTR Redis {} (bess:*, pcs:*), key prefix '{}'{}",
            opts.interval_ms,
            redact(&cfg.redis_main),
            redact(&cfg.redis_gtr),
            cfg.redis_prefix,
            if history.socs.is_some() { ", continuing from the newest rack SOCs" } else { "" }
        );
    }
    let started = Instant::now();
    let deadline = opts.for_seconds.map(Duration::from_secs);
    let mut tick = tokio::time::interval(Duration::from_millis(opts.interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut updates = 0u64;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {}
        }
        if deadline.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let now = now_unix();
        let event = history
            .events
            .iter()
            .find(|(s, e, _, _)| *s <= now && now < *e)
            .map(|&(_, _, mode, c)| ActiveEvent {
                mode,
                capacity_mw: c,
                p_noncompliant: 0.03,
            });
        if let Some(sim) = alerts.as_mut() {
            if let Err(e) = sim.step(&mut main, &cfg.redis_prefix, now, dt).await {
                eprintln!(
                    "warning: simulated alerts stopped: {}",
                    redact(&format!("{e:#}"))
                );
                alerts = None;
            }
        }
        let mut rack_alarms = history.rack_alarms;
        if let Some(sim) = alerts.as_ref() {
            for (count, more) in rack_alarms.iter_mut().zip(sim.rack_counts()) {
                *count += more;
            }
        }
        let input = StepInput {
            event,
            rack_alarms,
            ..Default::default()
        };
        let snap = model.step(now, dt, &input);
        publish(&mut main, &mut gtr, &cfg.redis_prefix, &snap).await?;
        if let Some(w) = writer.as_mut() {
            if let Err(e) = w.write(&snap).await {
                eprintln!(
                    "warning: history writing stopped: {}",
                    redact(&format!("{e:#}"))
                );
                writer = None;
            }
        }
        updates += 1;
        if !opts.quiet && updates % 60 == 1 {
            println!(
                "{} f={:.3} Hz grid={:.1} kW pcs={:.1} kW pv={:.1} kW soc1={:.2}%{}",
                format_mysql_datetime(now),
                snap.freq,
                snap.mmain.kw_tot,
                snap.pcs[0].p_kw + snap.pcs[1].p_kw,
                snap.inverter.ac_kw,
                snap.racks[0].soc,
                event.map_or(String::new(), |e| format!(
                    " [{} {} MW]",
                    e.mode, e.capacity_mw
                ))
            );
        }
    }
    let raised = match alerts {
        Some(sim) => sim.finish(&mut main, &cfg.redis_prefix, now_unix()).await?,
        None => 0,
    };
    if !opts.quiet {
        println!(
            "stopped after {updates} update(s) and {raised} alert(s) in {:.1} s{}",
            started.elapsed().as_secs_f64(),
            writer.map_or(String::new(), |w| format!(
                ", {} history row(s) written",
                w.rows
            ))
        );
    }
    Ok(updates)
}
