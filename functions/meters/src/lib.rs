//! The `meters` endpoint group: the site's meters and the PV inverter, under `telemetry:read`.
//!
//! - `GET /api/v1/meters`: every meter hash a SCAN of `meter:*` finds in the main Redis (plus
//!   MMAIN and MAUX, which have history to fall back to), with the fresh meters' total power
//! - `GET /api/v1/meters/aux`: MAUX now and today's aux energy from its history rows
//! - `GET /api/v1/inverter`: the PV inverter now, its efficiency and today's generation
//! - the legacy Flask paths `/api/meter_info`, `/api/aux_meter`, `/api/converter`, same answers,
//!   marked deprecated
//!
//! Store budget per request: one main-Redis connection; MySQL only when a history row or today's
//! integral is needed, then one connection (the `Meter` or `Inverter` database's server).

use solarhub_shared::energy::integrate;
use solarhub_shared::error::ApiError;
use solarhub_shared::guest::config;
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::stores::{live_values, scan_hash_keys, Db, Stores};
use solarhub_shared::guest::telemetry::{latest_inverter_row, latest_meter_row, power_samples};
use solarhub_shared::http::{serve_get, Request, Response};
use solarhub_shared::live::LiveValues;
use solarhub_shared::meters::{
    collect_meters, meter_names, AuxView, Day, EnergyToday, InverterReading, InverterView,
    MeterReading, MeterView, HISTORY_METERS, INVERTER_INTERVAL_SECS, METER_INTERVAL_SECS,
};
use solarhub_shared::schema::inverter::INVERTER_1;
use solarhub_shared::schema::meter::MAUX;
use solarhub_shared::schema::{
    ess, inverter_key, meter_key, meter_scan_pattern, Database, RedisStore,
};
use solarhub_shared::telemetry::choose;
use solarhub_shared::time::{now_unix, UtcOffset};

solarhub_shared::http_component!(handle);

#[derive(Clone, Copy)]
enum Route {
    Meters,
    Aux,
    Inverter,
}

fn handle(req: &Request) -> Response {
    serve_get(req, route(req.path()), |route| read(req, route))
}

/// The route of `path`, and for a legacy path the v1 path that replaces it.
fn route(path: &str) -> Option<(Route, Option<&'static str>)> {
    Some(match path {
        "/api/v1/meters" => (Route::Meters, None),
        "/api/v1/meters/aux" => (Route::Aux, None),
        "/api/v1/inverter" => (Route::Inverter, None),
        "/api/meter_info" => (Route::Meters, Some("/api/v1/meters")),
        "/api/aux_meter" => (Route::Aux, Some("/api/v1/meters/aux")),
        "/api/converter" => (Route::Inverter, Some("/api/v1/inverter")),
        _ => return None,
    })
}

/// What every route needs before reading its device.
struct Context {
    stores: Stores,
    offset: UtcOffset,
    stale_after: i64,
    prefix: String,
}

fn read(req: &Request, route: Route) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
    let prefix = stores.redis_prefix()?.to_owned();
    let mut cx = Context {
        stores,
        offset: config::site_offset()?,
        stale_after: config::number("live_stale_after_secs")?,
        prefix,
    };
    match route {
        Route::Meters => meters(&mut cx),
        Route::Aux => aux(&mut cx),
        Route::Inverter => inverter(&mut cx),
    }
}

/// A database connection opened on first use and kept for the request, failure included, so a
/// request opens at most one connection per database however many rows it reads, and a database
/// that is down costs one connect attempt, not one per meter.
struct LazyDb {
    which: Database,
    db: Option<Result<Db, ApiError>>,
}

impl LazyDb {
    fn new(which: Database) -> LazyDb {
        LazyDb { which, db: None }
    }

    fn get(&mut self, stores: &mut Stores) -> Result<&Db, ApiError> {
        let which = self.which;
        self.db
            .get_or_insert_with(|| stores.db(which))
            .as_ref()
            .map_err(Clone::clone)
    }
}

fn meters(cx: &mut Context) -> Result<Response, ApiError> {
    let live = cx.stores.redis(RedisStore::Main).and_then(|redis| {
        let keys = scan_hash_keys(&redis, &meter_scan_pattern(&cx.prefix))?;
        Ok((redis, keys))
    });
    // Redis down: the history meters may still answer from MySQL.
    let (redis, names) = match live {
        Ok((redis, keys)) => (Ok(redis), meter_names(&cx.prefix, &keys)),
        Err(e) => (Err(e), meter_names(&cx.prefix, &[])),
    };
    let mut db = LazyDb::new(Database::Meter);
    let mut outcomes = Vec::with_capacity(names.len());
    for name in names {
        let live = redis.as_ref().map_err(Clone::clone).and_then(|redis| {
            let values = live_values(redis, &meter_key(&cx.prefix, &name), cx.stale_after)?;
            Ok(live_meter(values))
        });
        let has_history = HISTORY_METERS.contains(&name.as_str());
        let shown = choose(live, || {
            if !has_history {
                return Ok(None);
            }
            latest_meter_row(db.get(&mut cx.stores)?, &name)
        });
        outcomes.push((name, shown));
    }
    let list = collect_meters(outcomes, cx.offset)?;
    Ok(Response::json(200, &list))
}

/// A live hash as a reading with its staleness; one that does not decode is no live value.
fn live_meter(values: Option<LiveValues>) -> Option<(MeterReading, bool)> {
    values.and_then(|v| Some((MeterReading::from_live(&v)?, v.stale)))
}

fn aux(cx: &mut Context) -> Result<Response, ApiError> {
    let key = meter_key(&cx.prefix, MAUX);
    let live = cx.stores.redis(RedisStore::Main).and_then(|redis| {
        let values = live_values(&redis, &key, cx.stale_after)?;
        Ok(live_meter(values))
    });
    let mut db = LazyDb::new(Database::Meter);
    let shown = choose(live, || latest_meter_row(db.get(&mut cx.stores)?, MAUX))?
        .ok_or_else(|| ApiError::NotFound(format!("No data for {MAUX}")))?;
    let day = Day::containing(now_unix(), cx.offset);
    let today = energy_today(
        &mut db,
        &mut cx.stores,
        &day,
        MAUX,
        "KW_tot",
        METER_INTERVAL_SECS,
    )?;
    let view = AuxView {
        meter: MeterView::new(MAUX, shown, cx.offset),
        today,
    };
    Ok(Response::json(200, &view))
}

fn inverter(cx: &mut Context) -> Result<Response, ApiError> {
    let key = inverter_key(&cx.prefix, 1);
    let live = cx.stores.redis(RedisStore::Main).and_then(|redis| {
        Ok(live_values(&redis, &key, cx.stale_after)?
            .and_then(|v| Some((InverterReading::from_live(&v)?, v.stale))))
    });
    let mut db = LazyDb::new(Database::Inverter);
    let shown = choose(live, || latest_inverter_row(db.get(&mut cx.stores)?))?
        .ok_or_else(|| ApiError::NotFound(format!("No data for {INVERTER_1}")))?;
    let day = Day::containing(now_unix(), cx.offset);
    let today = energy_today(
        &mut db,
        &mut cx.stores,
        &day,
        INVERTER_1,
        "ac_kw",
        INVERTER_INTERVAL_SECS,
    )?;
    Ok(Response::json(
        200,
        &InverterView::new(shown, today, cx.offset),
    ))
}

/// Today's energy of `table.column`; `None` when the database cannot be reached, so the live
/// value is still shown (the store layer logged why). Any other failure is ours and answers.
fn energy_today(
    db: &mut LazyDb,
    stores: &mut Stores,
    day: &Day,
    table: &str,
    column: &str,
    nominal_interval_secs: i64,
) -> Result<Option<EnergyToday>, ApiError> {
    let samples = db
        .get(stores)
        .and_then(|db| power_samples(db, table, column, day.start, day.end));
    match samples {
        Ok(samples) => Ok(Some(EnergyToday::new(
            day,
            integrate(&samples, nominal_interval_secs),
            nominal_interval_secs,
        ))),
        Err(ApiError::StoreUnavailable(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
