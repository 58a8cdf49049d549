//! Reading the whole site for the overview, the topology and the header: every device's live
//! hash, today's PCS energy (cached a minute in Redis), the active-alert counts and the schedule
//! mode running now. Every MySQL read goes through the request's one connection per server.

use super::bindings::mysql::ParameterValue;
use super::redis::{arg, text, Redis};
use super::rows::Rows;
use super::stores::{live_values, Db, Stores};
use super::telemetry::power_samples;
use crate::analysis::PCS_INTERVAL_SECS;
use crate::energy::{integrate, Energy};
use crate::error::{ApiError, Store};
use crate::schema::{
    bess_key, ess, inverter_key, meter, meter_key, pcs, pcs_key, schedule, Database, RedisStore,
    PCS_COUNT, RACK_COUNT,
};
use crate::site::{AlertCounts, LiveSite};
use crate::time::{format_mysql_datetime, local_date, UtcOffset};

/// How long a computed "today" energy is reused: new rows arrive every 10 s, and the overview is
/// polled by every open dashboard.
pub const TODAY_CACHE_SECS: i64 = 60;

/// Every device's live hash; a Redis store that fails leaves its devices `None` and is named in
/// the second value (the screen still shows the rest).
pub fn live_site(
    stores: &mut Stores,
    stale_after: i64,
) -> Result<(LiveSite, Vec<Store>), ApiError> {
    let prefix = stores.redis_prefix()?.to_owned();
    let mut failed = Vec::new();
    let mut site = LiveSite::default();
    match stores.redis(RedisStore::Gtr) {
        Ok(gtr) => {
            let read = |key: String| live_values(&gtr, &key, stale_after);
            let racks: Result<Vec<_>, _> = (1..=RACK_COUNT)
                .map(|n| read(bess_key(&prefix, n)))
                .collect();
            let pcs: Result<Vec<_>, _> =
                (0..PCS_COUNT).map(|n| read(pcs_key(&prefix, n))).collect();
            match (racks, pcs) {
                (Ok(racks), Ok(pcs)) => (site.racks, site.pcs) = (racks, pcs),
                _ => failed.push(Store::RedisGtr),
            }
        }
        Err(_) => failed.push(Store::RedisGtr),
    }
    if site.racks.is_empty() {
        site.racks = vec![None; usize::from(RACK_COUNT)];
        site.pcs = vec![None; usize::from(PCS_COUNT)];
    }
    match stores.redis(RedisStore::Main) {
        Ok(main) => {
            let read = |key: String| live_values(&main, &key, stale_after);
            match (
                read(meter_key(&prefix, meter::MMAIN)),
                read(meter_key(&prefix, meter::MAUX)),
                read(inverter_key(&prefix, 1)),
            ) {
                (Ok(grid), Ok(aux), Ok(inverter)) => {
                    (site.grid, site.aux, site.inverter) = (grid, aux, inverter)
                }
                _ => failed.push(Store::RedisMain),
            }
        }
        Err(_) => failed.push(Store::RedisMain),
    }
    Ok((site, failed))
}

/// Energy through both PCS since local midnight of `now`: positive = discharged, negative =
/// charged. Reused from Redis for [`TODAY_CACHE_SECS`]; computed from the PCS history otherwise.
pub fn today_pcs_energy(
    stores: &mut Stores,
    now: i64,
    offset: UtcOffset,
) -> Result<Energy, ApiError> {
    let day = local_date(now, offset);
    let start = day.start_utc(offset);
    let prefix = stores.redis_prefix()?.to_owned();
    let key = format!("{prefix}cache:pcs_energy:{}", day);
    let redis = stores.redis(RedisStore::Main)?;
    if let Some(cached) = cached_energy(&redis, &key) {
        return Ok(cached);
    }
    let db = stores.db(Database::Pcs)?;
    let mut total = Energy::default();
    for n in 0..PCS_COUNT {
        let table = pcs::table(n).expect("every PCS has a table");
        let e = integrate(
            &power_samples(&db, table, "p_kw", start, now)?,
            PCS_INTERVAL_SECS,
        );
        total.positive_kwh += e.positive_kwh;
        total.negative_kwh += e.negative_kwh;
        total.gaps += e.gaps;
        total.samples += e.samples;
    }
    total.kwh = total.positive_kwh - total.negative_kwh;
    let value = format!(
        "{} {} {} {}",
        total.positive_kwh, total.negative_kwh, total.gaps, total.samples
    );
    // A cache that cannot be written only costs the next request the same computation.
    let _ = redis.run(
        "SET",
        &[
            arg(&key),
            arg(&value),
            arg("EX"),
            arg(&TODAY_CACHE_SECS.to_string()),
        ],
    );
    Ok(total)
}

fn cached_energy(redis: &Redis, key: &str) -> Option<Energy> {
    let reply = redis.run("GET", &[arg(key)]).ok()?;
    let value = text(reply.into_iter().next()?)?;
    let mut parts = value.split(' ');
    let mut next = || parts.next();
    let (pos, neg, gaps, samples) = (
        next()?.parse::<f64>().ok()?,
        next()?.parse::<f64>().ok()?,
        next()?.parse::<u32>().ok()?,
        next()?.parse::<usize>().ok()?,
    );
    Some(Energy {
        kwh: pos - neg,
        positive_kwh: pos,
        negative_kwh: neg,
        gaps,
        samples,
    })
}

/// Active alerts and how many of them are critical.
pub fn alert_counts(db: &Db) -> Result<AlertCounts, ApiError> {
    let sql = format!(
        "SELECT COUNT(*) AS active, COUNT(CASE WHEN level = 'critical' THEN 1 END) AS critical \
         FROM {} WHERE cleared_at IS NULL",
        db.table(ess::ALERTS)
    );
    let set = db.query(&sql, &[])?;
    let rows = Rows::new(&set);
    let row = rows.first();
    Ok(AlertCounts {
        active: row
            .as_ref()
            .and_then(|r| r.i64("active"))
            .unwrap_or(0)
            .max(0) as u64,
        critical: row
            .as_ref()
            .and_then(|r| r.i64("critical"))
            .unwrap_or(0)
            .max(0) as u64,
    })
}

/// The mode of the schedule event running at `now` (not cancelled), or `idle`.
pub fn current_mode(db: &Db, now: i64) -> Result<String, ApiError> {
    let sql = format!(
        "SELECT mode FROM {} WHERE start_at <= ? AND end_at > ? AND status <> 'cancelled' \
         ORDER BY start_at DESC LIMIT 1",
        db.table(schedule::EVENTS)
    );
    let at = ParameterValue::Str(format_mysql_datetime(now));
    let set = db.query(&sql, &[at.clone(), at])?;
    let rows = Rows::new(&set);
    Ok(rows
        .first()
        .and_then(|r| r.string("mode"))
        .unwrap_or_else(|| "idle".to_owned()))
}
