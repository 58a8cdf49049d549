//! `solarhub seed --days N [--seed S] [--end YYYY-MM-DD]`: a deterministic, physically
//! consistent history of the whole site, written with multi-row INSERTs over one connection per
//! server. Re-seeding replaces the window (rows with `ts` in it, events starting in it or in the
//! following week, alerts starting in it), in one transaction per server.

use crate::config::Config;
use crate::db::{connect_all, quote};
use crate::model::{ActiveEvent, SiteModel, Snapshot, StepInput, Val};
use crate::rng::Rng;
use anyhow::{anyhow, bail, Context, Result};
use mysql_async::prelude::Queryable;
use solarhub_shared::dreg::{format_cents, DregParams, Mode};
use solarhub_shared::schema::{
    self, baseline, bess, ess, inverter, meter, pcs, Database, INVERTER_FIELDS, METER_FIELDS,
    PCS_FIELDS, RACK_COUNT, RACK_FIELDS,
};
use solarhub_shared::time::{format_mysql_datetime, local_date, Date, UtcOffset};
use std::time::Instant;

/// PCS, meter and baseline resolution (s).
pub const FAST_STEP: i64 = 10;
/// Rack and inverter resolution (s).
pub const SLOW_STEP: i64 = 60;
/// Schedule events are generated this many days past the window's end (status `scheduled`).
pub const FUTURE_DAYS: i64 = 7;
/// Rows per INSERT statement.
const BATCH_ROWS: usize = 5000;

pub struct SeedOptions {
    pub days: u32,
    pub seed: u64,
    /// Last local site date of the window (the window ends at the following local midnight);
    /// `None`: the window ends now (rounded down to the minute).
    pub end: Option<Date>,
}

/// A generated schedule event.
#[derive(Debug, Clone)]
pub struct PlannedEvent {
    pub start: i64,
    pub end: i64,
    pub mode: Mode,
    pub capacity_kw: i64,
    pub price_cents: i64,
    pub status: &'static str,
    pub created: i64,
    pub p_noncompliant: f64,
}

/// A generated alert.
#[derive(Debug, Clone)]
pub struct PlannedAlert {
    pub kind: &'static str,
    pub no: u8,
    pub code: &'static str,
    pub level: &'static str,
    pub message: &'static str,
    pub started: i64,
    pub cleared: Option<i64>,
    pub acknowledged_at: Option<i64>,
    /// PCS fault code while active (trips stop the PCS).
    pub pcs_fault: Option<u16>,
}

/// The seeding window `[start, end)`, in UTC epoch seconds.
pub fn window(opts: &SeedOptions, offset: UtcOffset, now: i64) -> Result<(i64, i64)> {
    if opts.days == 0 || opts.days > 366 {
        bail!("--days must be 1..=366");
    }
    let end = match opts.end {
        Some(d) => Date::from_days_since_epoch(d.days_since_epoch() + 1).start_utc(offset),
        None => now.div_euclid(SLOW_STEP) * SLOW_STEP,
    };
    Ok((end - i64::from(opts.days) * 86_400, end))
}

fn local_day(ts: i64, offset: UtcOffset) -> i64 {
    local_date(ts, offset).days_since_epoch()
}

/// Schedule events of every local day touching the window plus [`FUTURE_DAYS`]; each day's
/// events depend only on (seed, day), so overlapping windows agree.
pub fn plan_events(seed: u64, offset: UtcOffset, start: i64, end: i64) -> Vec<PlannedEvent> {
    let first = local_day(start, offset);
    let last = local_day(end - 1, offset) + FUTURE_DAYS;
    let mut out = Vec::new();
    for day in first..=last {
        let day_start = Date::from_days_since_epoch(day).start_utc(offset);
        let mut rng = Rng::derive(seed, 0xE7E7_0000_0000 ^ day as u64);
        let n = rng.int(1, 4);
        let mut slots: Vec<(i64, i64)> = Vec::new();
        for _ in 0..40 {
            if slots.len() as i64 == n {
                break;
            }
            let h = rng.int(0, 23);
            let d = rng.int(1, 4);
            if h + d > 24 || slots.iter().any(|&(a, b)| h < b && a < h + d) {
                continue;
            }
            slots.push((h, h + d));
        }
        slots.sort();
        for (h0, h1) in slots {
            let mode = if rng.chance(0.75) {
                Mode::Dreg
            } else {
                Mode::Edreg
            };
            let capacity_kw = rng.int(10, 25) * 100;
            let price_cents = rng.int(30_000, 70_000);
            let p_noncompliant = if rng.chance(0.85) {
                rng.range(0.005, 0.09)
            } else {
                rng.range(0.09, 0.28)
            };
            let ev_start = day_start + h0 * 3600;
            let ev_end = day_start + h1 * 3600;
            if ev_start < start {
                continue;
            }
            let status = if ev_end <= end {
                "completed"
            } else if ev_start < end {
                "active"
            } else {
                "scheduled"
            };
            out.push(PlannedEvent {
                start: ev_start,
                end: ev_end,
                mode,
                capacity_kw,
                price_cents,
                status,
                created: day_start - 6 * 3600,
                p_noncompliant,
            });
        }
    }
    out
}

const RACK_ALERTS: [(&str, &str, &str); 8] = [
    ("COMM_SLOW", "info", "BMS communication latency above 2 s"),
    ("BALANCING", "info", "Passive cell balancing active"),
    ("CELL_OV_W", "warning", "Cell voltage high (> 3.55 V)"),
    ("CELL_UV_W", "warning", "Cell voltage low (< 2.90 V)"),
    ("TEMP_HIGH", "warning", "Module temperature high (> 40 C)"),
    ("DELTA_V", "warning", "Cell voltage spread above 50 mV"),
    ("INSULATION", "critical", "Insulation resistance low"),
    (
        "TEMP_CRIT",
        "critical",
        "Module temperature critical (> 50 C)",
    ),
];
const PCS_ALERTS: [(&str, &str, &str); 5] = [
    ("FAN_SPEED", "info", "Cooling fan speed deviation"),
    ("GRID_V_HIGH", "warning", "Grid voltage above 1.05 pu"),
    ("DC_RIPPLE", "warning", "DC bus ripple above limit"),
    ("FILTER_TEMP", "warning", "AC filter temperature high"),
    ("GRID_FAULT", "critical", "Grid fault ride-through event"),
];
/// A PCS trip: the PCS stops (status fault, no power) while the alert is active.
const PCS_TRIP: (&str, &str, &str, u16) =
    ("PCS_TRIP", "critical", "IGBT over-temperature trip", 3101);

/// Alerts starting in the window: random ones per device and day, PCS trips, and three that
/// are still active at the window's end.
pub fn plan_alerts(seed: u64, offset: UtcOffset, start: i64, end: i64) -> Vec<PlannedAlert> {
    let mut out = Vec::new();
    let first = local_day(start, offset);
    let last = local_day(end - 1, offset);
    let devices: Vec<(&'static str, u8)> = (1..=RACK_COUNT)
        .map(|n| (ess::DEVICE_BESS, n))
        .chain((0..schema::PCS_COUNT).map(|n| (ess::DEVICE_PCS, n)))
        .collect();
    for day in first..=last {
        let day_start = Date::from_days_since_epoch(day).start_utc(offset);
        for &(kind, no) in &devices {
            let stream =
                0xA1E7_0000_0000 ^ ((day as u64) << 8) ^ u64::from(no) ^ (kind.len() as u64) << 6;
            let mut rng = Rng::derive(seed, stream);
            let r = rng.f64();
            let count = if r < 0.55 {
                0
            } else if r < 0.87 {
                1
            } else {
                2
            };
            for _ in 0..count {
                let table: &[(&str, &str, &str)] = if kind == ess::DEVICE_BESS {
                    &RACK_ALERTS
                } else {
                    &PCS_ALERTS
                };
                let (code, level, message) = table[rng.below(table.len() as u64) as usize];
                let started = day_start + rng.int(0, 8639) * 10;
                let dur = match level {
                    "info" => rng.int(60, 1800),
                    "warning" => rng.int(300, 3 * 3600),
                    _ => rng.int(600, 3600),
                };
                let ack = level != "info" && rng.chance(0.7);
                let ack_after = rng.int(60, 3600).min(dur);
                push_alert(
                    &mut out,
                    start,
                    end,
                    kind,
                    no,
                    (code, level, message),
                    started,
                    dur,
                    ack.then_some(ack_after),
                    None,
                );
            }
            if kind == ess::DEVICE_PCS && rng.chance(0.12) {
                let started = day_start + rng.int(0, 8639) * 10;
                let dur = rng.int(30, 120) * 10;
                let (code, level, message, fault) = PCS_TRIP;
                push_alert(
                    &mut out,
                    start,
                    end,
                    kind,
                    no,
                    (code, level, message),
                    started,
                    dur,
                    Some(rng.int(30, 300).min(dur)),
                    Some(fault),
                );
            }
        }
    }
    if end - start >= 86_400 {
        let still = [
            (ess::DEVICE_BESS, 3, RACK_ALERTS[4], 2 * 3600),
            (ess::DEVICE_BESS, 9, RACK_ALERTS[1], 25 * 60),
            (ess::DEVICE_PCS, 1, PCS_ALERTS[2], 50 * 60),
        ];
        for (kind, no, what, ago) in still {
            push_alert(
                &mut out,
                start,
                end,
                kind,
                no,
                what,
                end - ago,
                i64::MAX / 4,
                None,
                None,
            );
        }
    }
    out.sort_by_key(|a| (a.started, a.kind, a.no));
    out
}

#[allow(clippy::too_many_arguments)]
fn push_alert(
    out: &mut Vec<PlannedAlert>,
    start: i64,
    end: i64,
    kind: &'static str,
    no: u8,
    (code, level, message): (&'static str, &'static str, &'static str),
    started: i64,
    dur: i64,
    ack_after: Option<i64>,
    pcs_fault: Option<u16>,
) {
    if started < start || started >= end {
        return;
    }
    let cleared = Some(started + dur).filter(|&c| c < end);
    let acknowledged_at = ack_after.map(|a| started + a).filter(|&a| a < end);
    out.push(PlannedAlert {
        kind,
        no,
        code,
        level,
        message,
        started,
        cleared,
        acknowledged_at,
        pcs_fault,
    });
}

fn is_active(a: &PlannedAlert, ts: i64) -> bool {
    a.started <= ts && a.cleared.is_none_or(|c| ts < c)
}

/// One table being filled: a growing multi-row INSERT.
pub(crate) struct TableBuf {
    db: Database,
    table: &'static str,
    header: String,
    sql: String,
    rows: usize,
    total: u64,
}

impl TableBuf {
    fn new(cfg: &Config, verb: &str, db: Database, table: &'static str, cols: &[&str]) -> TableBuf {
        let header = format!(
            "{verb} INTO {} ({}) VALUES ",
            cfg.qualified(db, table),
            cols.iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(",")
        );
        TableBuf {
            db,
            table,
            sql: String::with_capacity(BATCH_ROWS * 160),
            header,
            rows: 0,
            total: 0,
        }
    }

    fn push(&mut self, ts_sql: &str, values: &[Val]) -> Option<String> {
        if self.rows == 0 {
            self.sql.push_str(&self.header);
        } else {
            self.sql.push(',');
        }
        self.sql.push_str("('");
        self.sql.push_str(ts_sql);
        self.sql.push('\'');
        for v in values {
            self.sql.push(',');
            v.sql(&mut self.sql);
        }
        self.sql.push(')');
        self.rows += 1;
        self.total += 1;
        (self.rows >= BATCH_ROWS).then(|| self.take())
    }

    fn take(&mut self) -> String {
        self.rows = 0;
        std::mem::replace(&mut self.sql, String::with_capacity(BATCH_ROWS * 160))
    }

    pub(crate) fn db(&self) -> Database {
        self.db
    }

    /// The pending statement, if any rows are waiting.
    pub(crate) fn drain(&mut self) -> Option<(Database, String)> {
        (self.rows > 0).then(|| (self.db, self.take()))
    }
}

fn cols_with_ts<'a>(fields: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["ts"];
    v.extend(fields.iter().filter(|f| **f != "ts"));
    v.extend(extra);
    v
}

/// Per-event compliance counted while generating (reported at the end).
struct EventScore {
    expected: u64,
    compliant: u64,
}

pub struct SeedReport {
    pub start: i64,
    pub end: i64,
    pub tables: Vec<(String, u64)>,
    pub elapsed_s: f64,
}

struct Generated {
    tables: Vec<(Database, &'static str, u64)>,
    scores: Vec<EventScore>,
}

/// Whether the site already has history (any PCS row): `seed --if-empty` leaves such a site alone.
pub async fn has_history(cfg: &Config) -> Result<bool> {
    let target = cfg.target(Database::Pcs);
    let mut conn = mysql_async::Conn::new(cfg.servers[target.server].opts.clone()).await?;
    let sql = format!(
        "SELECT EXISTS(SELECT 1 FROM {} LIMIT 1)",
        cfg.qualified(Database::Pcs, solarhub_shared::schema::pcs::PCS0_DATA)
    );
    let present: Option<i64> = conn.query_first(sql).await?;
    conn.disconnect().await?;
    Ok(present == Some(1))
}

pub async fn run(cfg: &Config, opts: &SeedOptions) -> Result<SeedReport> {
    let started = Instant::now();
    let offset = cfg.site_offset;
    let (start, end) = window(opts, offset, solarhub_shared::time::now_unix())?;
    let events = plan_events(opts.seed, offset, start, end);
    let alerts = plan_alerts(opts.seed, offset, start, end);

    let mut conns = connect_all(cfg).await?;
    crate::migrate::require_current(cfg, &mut conns).await?;
    let server_of = |db: Database| cfg.target(db).server;

    for c in conns.iter_mut() {
        c.query_drop("START TRANSACTION").await?;
    }

    // Replace the window.
    let (s_sql, e_sql) = (format_mysql_datetime(start), format_mysql_datetime(end));
    let future_end = format_mysql_datetime(end + (FUTURE_DAYS + 1) * 86_400);
    for t in &cfg.dbs {
        for table in t.db.tables() {
            let (col, upper) = match (t.db, *table) {
                (Database::Ess, ess::ALERTS) => ("started_at", &e_sql),
                (Database::Ess, _) => continue,
                (Database::Schedule | Database::Gtr, _) => ("start_at", &future_end),
                _ => ("ts", &e_sql),
            };
            conns[t.server]
                .query_drop(format!(
                    "DELETE FROM {} WHERE `{col}` >= '{s_sql}' AND `{col}` < '{upper}'",
                    cfg.qualified(t.db, table)
                ))
                .await
                .with_context(|| format!("clearing {}.{table}", t.name))?;
        }
    }

    // Schedule (and its GTR copy) and alerts: small, written directly.
    if !events.is_empty() {
        let values: Vec<String> = events
            .iter()
            .map(|e| {
                format!(
                    "('{}','{}','{}',{}.{:03},{},'{}','{}')",
                    format_mysql_datetime(e.start),
                    format_mysql_datetime(e.end),
                    e.mode.as_str(),
                    e.capacity_kw / 1000,
                    e.capacity_kw % 1000,
                    format_cents(e.price_cents),
                    e.status,
                    format_mysql_datetime(e.created)
                )
            })
            .collect();
        for db in [Database::Schedule, Database::Gtr] {
            conns[server_of(db)]
                .query_drop(format!(
                    "INSERT INTO {} (start_at, end_at, mode, capacity_mw, capacity_price, status, created_at) VALUES {}",
                    cfg.qualified(db, schema::schedule::EVENTS),
                    values.join(",")
                ))
                .await?;
        }
    }
    if !alerts.is_empty() {
        let dt = |t: Option<i64>| {
            t.map_or("NULL".to_string(), |t| {
                format!("'{}'", format_mysql_datetime(t))
            })
        };
        let values: Vec<String> = alerts
            .iter()
            .map(|a| {
                format!(
                    "('{}',{},{},'{}',{},'{}',{},{},{})",
                    a.kind,
                    a.no,
                    quote(a.code),
                    a.level,
                    quote(a.message),
                    format_mysql_datetime(a.started),
                    dt(a.cleared),
                    u8::from(a.acknowledged_at.is_some()),
                    dt(a.acknowledged_at)
                )
            })
            .collect();
        conns[server_of(Database::Ess)]
            .query_drop(format!(
                "INSERT INTO {} (device_kind, device_no, code, level, message, started_at, cleared_at, acknowledged, acknowledged_at) VALUES {}",
                cfg.qualified(Database::Ess, ess::ALERTS),
                values.join(",")
            ))
            .await?;
    }

    // Time series: generated on a thread, written here as the batches arrive.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Database, String)>(6);
    let seed = opts.seed;
    let gen_events = events.clone();
    let gen_alerts = alerts.clone();
    let bufs = table_bufs(cfg, "INSERT");
    let generator = std::thread::spawn(move || {
        generate(
            seed,
            offset,
            start,
            end,
            &gen_events,
            &gen_alerts,
            bufs,
            |db, sql| {
                tx.blocking_send((db, sql))
                    .map_err(|_| anyhow!("writer stopped"))
            },
        )
    });
    let mut write_err = None;
    while let Some((db, sql)) = rx.recv().await {
        if write_err.is_some() {
            continue;
        }
        if let Err(e) = conns[server_of(db)].query_drop(sql).await {
            write_err = Some(anyhow!(e).context(format!("inserting into {db}")));
            rx.close();
        }
    }
    let generated = generator
        .join()
        .map_err(|_| anyhow!("generator thread panicked"))?;
    if let Some(e) = write_err {
        return Err(e);
    }
    let generated = generated?;
    for c in conns.iter_mut() {
        c.query_drop("COMMIT").await?;
    }
    // Refresh the optimizer's statistics (and information_schema's size estimates).
    for t in &cfg.dbs {
        for table in t.db.tables() {
            conns[t.server]
                .query_drop(format!("ANALYZE TABLE {}", cfg.qualified(t.db, table)))
                .await?;
        }
    }
    for c in conns {
        c.disconnect().await.ok();
    }

    let mut tables: Vec<(String, u64)> = vec![
        (
            format!(
                "{}.{}",
                cfg.target(Database::Schedule).name,
                schema::schedule::EVENTS
            ),
            events.len() as u64,
        ),
        (
            format!(
                "{}.{}",
                cfg.target(Database::Gtr).name,
                schema::schedule::EVENTS
            ),
            events.len() as u64,
        ),
        (
            format!("{}.{}", cfg.target(Database::Ess).name, ess::ALERTS),
            alerts.len() as u64,
        ),
    ];
    tables.extend(
        generated
            .tables
            .iter()
            .map(|(db, t, n)| (format!("{}.{t}", cfg.target(*db).name), *n)),
    );
    let report = SeedReport {
        start,
        end,
        tables,
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    print_report(opts, &report, &events, &generated.scores, &alerts);
    Ok(report)
}

/// The time-series tables in [`write_snapshot`]'s order. `verb`: `INSERT` or `INSERT IGNORE`.
pub(crate) fn table_bufs(cfg: &Config, verb: &str) -> Vec<TableBuf> {
    let meter_cols = cols_with_ts(&METER_FIELDS, &["kwh_import", "kwh_export"]);
    let mut v = vec![
        TableBuf::new(
            cfg,
            verb,
            Database::Pcs,
            pcs::PCS0_DATA,
            &cols_with_ts(&PCS_FIELDS, &[]),
        ),
        TableBuf::new(
            cfg,
            verb,
            Database::Pcs,
            pcs::PCS1_DATA,
            &cols_with_ts(&PCS_FIELDS, &[]),
        ),
        TableBuf::new(cfg, verb, Database::Meter, meter::MMAIN, &meter_cols),
        TableBuf::new(cfg, verb, Database::Meter, meter::MAUX, &meter_cols),
        TableBuf::new(
            cfg,
            verb,
            Database::BaseLine,
            baseline::BASE_LINE,
            &["ts", "freq"],
        ),
        TableBuf::new(
            cfg,
            verb,
            Database::Inverter,
            inverter::INVERTER_1,
            &cols_with_ts(&INVERTER_FIELDS, &[]),
        ),
    ];
    for n in 1..=RACK_COUNT {
        v.push(TableBuf::new(
            cfg,
            verb,
            Database::Bess(n),
            bess::RACK_DATA,
            &cols_with_ts(&RACK_FIELDS, &[]),
        ));
    }
    v
}

#[allow(clippy::too_many_arguments)]
fn generate(
    seed: u64,
    offset: UtcOffset,
    start: i64,
    end: i64,
    events: &[PlannedEvent],
    alerts: &[PlannedAlert],
    mut bufs: Vec<TableBuf>,
    mut send: impl FnMut(Database, String) -> Result<()>,
) -> Result<Generated> {
    let params = DregParams::default();
    let mut model = SiteModel::new(seed, offset, None);
    let mut scores: Vec<EventScore> = events
        .iter()
        .map(|_| EventScore {
            expected: 0,
            compliant: 0,
        })
        .collect();
    let pcs_trips: Vec<&PlannedAlert> = alerts.iter().filter(|a| a.pcs_fault.is_some()).collect();
    let rack_alerts: Vec<Vec<&PlannedAlert>> = (1..=RACK_COUNT)
        .map(|n| {
            alerts
                .iter()
                .filter(|a| a.kind == ess::DEVICE_BESS && a.no == n)
                .collect()
        })
        .collect();
    let mut ev_idx = 0;
    let mut ts = start;
    while ts < end {
        while ev_idx < events.len() && events[ev_idx].end <= ts {
            ev_idx += 1;
        }
        let current = events
            .get(ev_idx)
            .filter(|e| e.start <= ts && ts < e.end)
            .map(|e| (ev_idx, e));
        let minute = ts % SLOW_STEP == 0;
        let mut input = StepInput {
            event: current.map(|(_, e)| ActiveEvent {
                mode: e.mode,
                capacity_mw: e.capacity_kw as f64 / 1000.0,
                p_noncompliant: e.p_noncompliant,
            }),
            ..Default::default()
        };
        for a in &pcs_trips {
            if is_active(a, ts) {
                input.pcs_fault[usize::from(a.no)] = a.pcs_fault;
            }
        }
        if minute {
            for (i, list) in rack_alerts.iter().enumerate() {
                input.rack_alarms[i] = list.iter().filter(|a| is_active(a, ts)).count() as u16;
            }
        }
        let snap = model.step(ts, FAST_STEP as f64, &input);
        if let Some((i, e)) = current {
            let cap = e.capacity_kw as f64 / 1000.0;
            let p_total = snap.pcs[0].p_kw + snap.pcs[1].p_kw;
            let expected = params.expected_kw(e.mode, cap, snap.freq);
            scores[i].expected += 1;
            scores[i].compliant += u64::from(params.is_compliant(cap, expected, p_total));
        }
        write_snapshot(&snap, minute, &mut bufs, &mut send)?;
        ts += FAST_STEP;
    }
    for b in bufs.iter_mut() {
        if let Some((db, sql)) = b.drain() {
            send(db, sql)?;
        }
    }
    Ok(Generated {
        tables: bufs.iter().map(|b| (b.db, b.table, b.total)).collect(),
        scores,
    })
}

pub(crate) fn write_snapshot(
    snap: &Snapshot,
    minute: bool,
    bufs: &mut [TableBuf],
    send: &mut impl FnMut(Database, String) -> Result<()>,
) -> Result<()> {
    let ts = format_mysql_datetime(snap.ts);
    let mut put = |i: usize, values: &[Val]| -> Result<()> {
        if let Some(sql) = bufs[i].push(&ts, values) {
            send(bufs[i].db, sql)?;
        }
        Ok(())
    };
    put(0, &snap.pcs[0].values())?;
    put(1, &snap.pcs[1].values())?;
    put(2, &snap.mmain.values())?;
    put(3, &snap.maux.values())?;
    put(4, &[Val::Num(snap.freq)])?;
    if minute {
        put(5, &snap.inverter.values())?;
        for (i, r) in snap.racks.iter().enumerate() {
            put(6 + i, &r.values())?;
        }
    }
    Ok(())
}

fn print_report(
    opts: &SeedOptions,
    r: &SeedReport,
    events: &[PlannedEvent],
    scores: &[EventScore],
    alerts: &[PlannedAlert],
) {
    let total: u64 = r.tables.iter().map(|(_, n)| n).sum();
    println!(
        "seeded {} day(s) [{} .. {}) UTC, seed {}",
        opts.days,
        format_mysql_datetime(r.start),
        format_mysql_datetime(r.end),
        opts.seed
    );
    for (t, n) in &r.tables {
        println!("  {t:<28} {n:>9} rows");
    }
    let mut rates: Vec<f64> = events
        .iter()
        .zip(scores)
        .filter(|(e, s)| e.status == "completed" && s.expected > 0)
        .map(|(_, s)| s.compliant as f64 / s.expected as f64)
        .collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    let by_status = |s: &str| events.iter().filter(|e| e.status == s).count();
    println!(
        "  events: {} completed, {} active, {} scheduled",
        by_status("completed"),
        by_status("active"),
        by_status("scheduled")
    );
    if !rates.is_empty() {
        println!(
            "  execution rate of completed events: min {:.3}, median {:.3}, max {:.3}",
            rates[0],
            rates[rates.len() / 2],
            rates[rates.len() - 1]
        );
    }
    println!(
        "  alerts: {} ({} still active)",
        alerts.len(),
        alerts.iter().filter(|a| a.cleared.is_none()).count()
    );
    println!(
        "total {total} rows in {:.2} s ({:.0} rows/s)",
        r.elapsed_s,
        total as f64 / r.elapsed_s.max(1e-9)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFF: UtcOffset = UtcOffset::SITE_DEFAULT;

    #[test]
    fn window_ends_at_local_midnight_after_end_date() {
        let opts = SeedOptions {
            days: 7,
            seed: 1,
            end: Date::parse("2026-11-21"),
        };
        let (s, e) = window(&opts, OFF, 0).unwrap();
        // 2026-11-22T00:00+08:00 = 2026-11-21T16:00Z
        assert_eq!(format_mysql_datetime(e), "2026-11-21 16:00:00");
        assert_eq!(e - s, 7 * 86_400);
        let now = window(&SeedOptions { end: None, ..opts }, OFF, 1_000_000_059).unwrap();
        assert_eq!(now.1, 1_000_000_020);
    }

    #[test]
    fn events_are_well_formed_and_stable_across_windows() {
        let day = 86_400;
        let end = Date::parse("2026-11-22").unwrap().start_utc(OFF);
        let a = plan_events(42, OFF, end - 7 * day, end);
        let b = plan_events(42, OFF, end - 3 * day, end);
        assert!(!a.is_empty());
        for w in a.windows(2) {
            assert!(w[0].end <= w[1].start, "overlap");
        }
        for e in &a {
            let h = (e.end - e.start) / 3600;
            assert!((1..=4).contains(&h));
            assert!((1000..=2500).contains(&e.capacity_kw));
            assert!((30_000..=70_000).contains(&e.price_cents));
        }
        // b's events are a's events that start in b's window
        let a_tail: Vec<(i64, i64)> = a
            .iter()
            .filter(|e| e.start >= end - 3 * day)
            .map(|e| (e.start, e.capacity_kw))
            .collect();
        let b_all: Vec<(i64, i64)> = b.iter().map(|e| (e.start, e.capacity_kw)).collect();
        assert_eq!(a_tail, b_all);
        let per_day = a.iter().filter(|e| e.status == "completed").count() as f64 / 7.0;
        assert!((1.0..=4.0).contains(&per_day));
        assert!(a.iter().any(|e| e.status == "scheduled"));
        assert!(a.iter().any(|e| e.mode == Mode::Edreg));
    }

    #[test]
    fn alerts_include_active_ones() {
        let end = Date::parse("2026-11-22").unwrap().start_utc(OFF);
        let a = plan_alerts(42, OFF, end - 7 * 86_400, end);
        assert!(a.iter().filter(|x| x.cleared.is_none()).count() >= 3);
        assert!(a.iter().any(|x| x.cleared.is_some()));
        for x in &a {
            assert!(x.started >= end - 7 * 86_400 && x.started < end);
            if let Some(c) = x.cleared {
                assert!(c > x.started && c < end);
            }
        }
        assert_eq!(a.len(), plan_alerts(42, OFF, end - 7 * 86_400, end).len());
    }
}
