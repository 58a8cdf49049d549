//! Reading and settling schedule events: the events of a window, the PCS and grid-meter samples
//! behind their execution rates, and the settled-day cache.
//!
//! Query budget, whatever the number of days or events: one query for the events, then one PCS
//! query and one `MMAIN` query per chunk of at most [`CHUNK_SLOTS`] sample slots (a month of the
//! seed's events is two or three chunks). Settled days come from Redis and cost no MySQL at all.

use super::bindings::mysql::ParameterValue;
use super::redis::{arg, text, Redis};
use super::rows::Rows;
use super::stores::{Db, Stores};
use crate::dreg::{parse_decimal_scaled, DregParams, Mode, Sample};
use crate::error::ApiError;
use crate::schema::{meter, pcs, schedule, Database, RedisStore};
use crate::time::{format_mysql_datetime, Date, UtcOffset};
use crate::trading::{
    is_settled, judge_piece, next_day, settle, settlement_tag, slot_pieces, Counts, DayIncome,
    Event, EventStatus,
};

/// The most sample slots one pair of sample queries covers: bounds the rows a request holds at
/// once (about 40 k rows is a few MB in the component) while keeping a month to a few queries.
pub const CHUNK_SLOTS: u64 = 40_000;

/// A settled day's cached settlement lives this long; it never changes, and an evicted one is only
/// recomputed.
const SETTLED_CACHE_SECS: i64 = 90 * 86_400;

/// How long today's total is reused by the overview, which every open dashboard polls.
const TODAY_TOTAL_CACHE_SECS: i64 = 60;

/// Everything settling needs besides the stores.
pub struct Settlement {
    pub params: DregParams,
    pub offset: UtcOffset,
    pub now: i64,
    /// A day is settled (cached for good) this many days after it ended.
    pub settle_days: u32,
}

impl Settlement {
    /// From the component's variables, at the current time.
    pub fn from_config(now: i64) -> Result<Settlement, ApiError> {
        Ok(Settlement {
            params: super::config::dreg_params()?,
            offset: super::config::site_offset()?,
            now,
            settle_days: super::config::number("income_settled_after_days")?,
        })
    }
}

const EVENT_COLUMNS: &str = "id, \
     TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', start_at) AS s, \
     TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', end_at) AS e, \
     mode, CAST(capacity_mw AS CHAR) AS capacity, CAST(capacity_price AS CHAR) AS price, status";

/// Events starting in `[from, to)`, of one mode or all, in start order.
pub fn events_starting(
    db: &Db,
    from: i64,
    to: i64,
    mode: Option<Mode>,
) -> Result<Vec<Event>, ApiError> {
    let mut sql = format!(
        "SELECT {EVENT_COLUMNS} FROM {} WHERE start_at >= ? AND start_at < ?",
        db.table(schedule::EVENTS)
    );
    let mut params = vec![
        ParameterValue::Str(format_mysql_datetime(from)),
        ParameterValue::Str(format_mysql_datetime(to)),
    ];
    if let Some(mode) = mode {
        sql.push_str(" AND mode = ?");
        params.push(ParameterValue::Str(mode.as_str().to_owned()));
    }
    sql.push_str(" ORDER BY start_at, id");
    decode_events(&db.query(&sql, &params)?)
}

/// Events overlapping `[from, to)`, cancelled ones included, in start order.
pub fn events_overlapping(db: &Db, from: i64, to: i64) -> Result<Vec<Event>, ApiError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM {} WHERE start_at < ? AND end_at > ? ORDER BY start_at, id",
        db.table(schedule::EVENTS)
    );
    let params = [
        ParameterValue::Str(format_mysql_datetime(to)),
        ParameterValue::Str(format_mysql_datetime(from)),
    ];
    decode_events(&db.query(&sql, &params)?)
}

/// The event `id`, if there is one.
pub fn event_by_id(db: &Db, id: u64) -> Result<Option<Event>, ApiError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM {} WHERE id = ?",
        db.table(schedule::EVENTS)
    );
    Ok(
        decode_events(&db.query(&sql, &[ParameterValue::Uint64(id)])?)?
            .into_iter()
            .next(),
    )
}

fn decode_events(set: &super::bindings::mysql::RowSet) -> Result<Vec<Event>, ApiError> {
    Rows::new(set)
        .iter()
        .map(|row| {
            let event = (|| {
                Some(Event {
                    id: u64::try_from(row.i64("id")?).ok()?,
                    start: row.i64("s")?,
                    end: row.i64("e")?,
                    mode: Mode::parse(row.str("mode")?)?,
                    capacity_kw: parse_decimal_scaled(row.str("capacity")?, 3)?,
                    price_cents: parse_decimal_scaled(row.str("price")?, 2)?,
                    status: EventStatus::parse(row.str("status")?)?,
                })
            })();
            event.ok_or_else(|| super::internal(schedule::EVENTS, &"an event row did not decode"))
        })
        .collect()
}

/// The sample counts of each event over the part of it that can be judged at `now`.
pub fn judge_events(
    stores: &mut Stores,
    params: &DregParams,
    events: &[Event],
    now: i64,
) -> Result<Vec<Counts>, ApiError> {
    let step = i64::from(params.sample_interval_s);
    let mut counts = vec![Counts::default(); events.len()];
    // (event index, piece) in chunks of at most CHUNK_SLOTS slots.
    let mut chunks: Vec<Vec<(usize, i64, i64)>> = Vec::new();
    let mut slots_in_last = u64::MAX;
    for (i, event) in events.iter().enumerate() {
        let Some((from, to)) = event.judged_window(now, step) else {
            continue;
        };
        for (a, b) in slot_pieces(from, to, step, CHUNK_SLOTS) {
            let slots = params.expected_samples(a, b);
            if slots_in_last.saturating_add(slots) > CHUNK_SLOTS {
                chunks.push(Vec::new());
                slots_in_last = 0;
            }
            slots_in_last += slots;
            chunks
                .last_mut()
                .expect("a chunk was pushed")
                .push((i, a, b));
        }
    }
    if chunks.is_empty() {
        return Ok(counts);
    }
    let pcs_db = stores.db(Database::Pcs)?;
    let meter_db = stores.db(Database::Meter)?;
    for chunk in chunks {
        let windows: Vec<(i64, i64)> = chunk.iter().map(|&(_, a, b)| (a, b)).collect();
        let samples = samples_in(&pcs_db, &meter_db, &windows)?;
        for (i, a, b) in chunk {
            let lo = samples.partition_point(|s| s.ts < a);
            let hi = samples.partition_point(|s| s.ts < b);
            counts[i].add(judge_piece(params, &events[i], a, b, &samples[lo..hi]));
        }
    }
    Ok(counts)
}

/// The site's samples in `windows`: the PCS total (both PCS rows at the same time) and the grid
/// frequency from `MMAIN` at that time. A time missing either is no sample (it counts as missing).
fn samples_in(pcs_db: &Db, meter_db: &Db, windows: &[(i64, i64)]) -> Result<Vec<Sample>, ApiError> {
    let bounds: Vec<ParameterValue> = windows
        .iter()
        .flat_map(|&(a, b)| {
            [
                ParameterValue::Str(format_mysql_datetime(a)),
                ParameterValue::Str(format_mysql_datetime(b)),
            ]
        })
        .collect();
    let within = |column: &str| {
        vec![format!("({column} >= ? AND {column} < ?)"); windows.len()].join(" OR ")
    };
    let pcs_sql = format!(
        "SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', a.ts) AS t, a.p_kw + b.p_kw AS kw \
         FROM {} a JOIN {} b ON b.ts = a.ts WHERE {} ORDER BY a.ts",
        pcs_db.table(pcs::PCS0_DATA),
        pcs_db.table(pcs::PCS1_DATA),
        within("a.ts")
    );
    let freq_sql = format!(
        "SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', ts) AS t, freq \
         FROM {} WHERE {} ORDER BY ts",
        meter_db.table(meter::MMAIN),
        within("ts")
    );
    let power = pcs_db.query(&pcs_sql, &bounds)?;
    let freq = meter_db.query(&freq_sql, &bounds)?;
    let power = Rows::new(&power);
    let freq = Rows::new(&freq);
    let mut freq_rows = freq
        .iter()
        .filter_map(|r| Some((r.i64("t")?, r.f64("freq")?)));
    let mut next_freq = freq_rows.next();
    let mut samples = Vec::with_capacity(power.len());
    for row in power.iter() {
        let (Some(ts), Some(p_kw)) = (row.i64("t"), row.f64("kw")) else {
            return Err(super::internal(pcs::PCS0_DATA, &"a sample did not decode"));
        };
        while next_freq.is_some_and(|(t, _)| t < ts) {
            next_freq = freq_rows.next();
        }
        if let Some((t, freq_hz)) = next_freq.filter(|&(t, _)| t == ts) {
            debug_assert_eq!(t, ts);
            samples.push(Sample { ts, freq_hz, p_kw });
        }
    }
    Ok(samples)
}

/// The settlement of each of `days`: settled days from the cache where they are in it, the rest
/// computed together (one events query, then the sample chunks) and cached once settled.
pub fn day_incomes(
    stores: &mut Stores,
    cx: &Settlement,
    days: &[Date],
) -> Result<Vec<DayIncome>, ApiError> {
    let prefix = stores.redis_prefix()?.to_owned();
    let tag = settlement_tag(&cx.params, cx.offset);
    let key = |d: &Date| format!("{prefix}cache:income:{tag}:{d}");
    let settled: Vec<bool> = days
        .iter()
        .map(|d| is_settled(*d, cx.now, cx.offset, cx.settle_days))
        .collect();
    // The cache is only a shortcut: without Redis every day is computed.
    let redis = stores.redis(RedisStore::Main).ok();
    let mut found: Vec<Option<DayIncome>> = vec![None; days.len()];
    let settled_keys: Vec<(usize, String)> = (0..days.len())
        .filter(|&i| settled[i])
        .map(|i| (i, key(&days[i])))
        .collect();
    if let (Some(redis), false) = (&redis, settled_keys.is_empty()) {
        for ((i, _), cached) in settled_keys.iter().zip(cached_days(redis, &settled_keys)) {
            found[*i] = cached;
        }
    }
    let missing: Vec<usize> = (0..days.len()).filter(|&i| found[i].is_none()).collect();
    if let (Some(&first), Some(&last)) = (missing.first(), missing.last()) {
        let from = days[first].start_utc(cx.offset);
        let to = next_day(days[last]).start_utc(cx.offset);
        let db = stores.db(Database::Schedule)?;
        let events: Vec<Event> = events_starting(&db, from, to, None)?
            .into_iter()
            .filter(|e| missing.iter().any(|&i| days[i] == e.day(cx.offset)))
            .collect();
        let counts = judge_events(stores, &cx.params, &events, cx.now)?;
        for &i in &missing {
            let settled_events = events
                .iter()
                .zip(&counts)
                .filter(|(e, _)| e.day(cx.offset) == days[i])
                .map(|(e, c)| settle(&cx.params, e, cx.now, *c, cx.offset))
                .collect();
            let day = DayIncome::new(days[i], settled_events, settled[i]);
            if settled[i] {
                if let Some(redis) = &redis {
                    cache_day(redis, &key(&days[i]), &day);
                }
            }
            found[i] = Some(day);
        }
    }
    Ok(found.into_iter().flatten().collect())
}

/// The cached settlements of `keys`, in one MGET; an entry that does not decode is a miss.
fn cached_days(redis: &Redis, keys: &[(usize, String)]) -> Vec<Option<DayIncome>> {
    let args: Vec<_> = keys.iter().map(|(_, k)| arg(k)).collect();
    let Ok(reply) = redis.run("MGET", &args) else {
        return vec![None; keys.len()];
    };
    let mut out: Vec<Option<DayIncome>> = reply
        .into_iter()
        .map(|r| text(r).and_then(|s| serde_json::from_str(&s).ok()))
        .collect();
    out.resize(keys.len(), None);
    out
}

fn cache_day(redis: &Redis, key: &str, day: &DayIncome) {
    let Ok(json) = serde_json::to_string(day) else {
        return;
    };
    // A cache that cannot be written only costs the next view the same computation.
    let _ = redis.run(
        "SET",
        &[
            arg(key),
            arg(&json),
            arg("EX"),
            arg(&SETTLED_CACHE_SECS.to_string()),
        ],
    );
}

/// Today's income so far (final events only), in cents, reused for a minute.
pub fn today_income_cents(stores: &mut Stores, cx: &Settlement) -> Result<i64, ApiError> {
    let today = crate::time::local_date(cx.now, cx.offset);
    let prefix = stores.redis_prefix()?.to_owned();
    let key = format!(
        "{prefix}cache:income_today:{}:{today}",
        settlement_tag(&cx.params, cx.offset)
    );
    let redis = stores.redis(RedisStore::Main)?;
    let cached = redis
        .run("GET", &[arg(&key)])
        .ok()
        .and_then(|r| text(r.into_iter().next()?))
        .and_then(|s| s.parse::<i64>().ok());
    if let Some(cents) = cached {
        return Ok(cents);
    }
    let day = day_incomes(stores, cx, &[today])?;
    let cents = day.first().map_or(0, |d| d.total_cents);
    let _ = redis.run(
        "SET",
        &[
            arg(&key),
            arg(&cents.to_string()),
            arg("EX"),
            arg(&TODAY_TOTAL_CACHE_SECS.to_string()),
        ],
    );
    Ok(cents)
}
