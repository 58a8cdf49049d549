//! The `analysis` endpoint group, under `telemetry:read`; every route takes a window `from`/`to`
//! (see `solarhub_shared::analysis::window`):
//!
//! - `GET /api/v1/analysis/power-loss`: charge, discharge, aux, stored-energy change, loss and
//!   round-trip efficiency over the window (at most 31 days)
//! - `GET /api/v1/analysis/power-io?interval=hour|day`: import, export, charge, discharge and PV
//!   energy per site-local hour or day (at most 31 days)
//! - `GET /api/v1/analysis/freq-power`: every MMAIN sample with the PCS power, the expected power
//!   and the base line (at most 24 h), streamed page by page
//! - the legacy Flask paths `/api/power_loss`, `/api/power_io`, `/api/freq_power`, same answers,
//!   marked deprecated
//!
//! Store budget per request: the main Redis (the guard) and one MySQL connection per server,
//! every database on a server read through it; rows are read in bounded pages.

use solarhub_shared::analysis::freq::Document;
use solarhub_shared::analysis::io::{Integrals, PowerIo};
use solarhub_shared::analysis::loss::{AuxEnergy, PcsEnergy, PowerLoss};
use solarhub_shared::analysis::{
    self, bucket_edges, io_params, Window, MAX_ENERGY_WINDOW_SECS, MAX_FREQ_WINDOW_SECS,
    PCS_INTERVAL_SECS,
};
use solarhub_shared::energy::Bucketed;
use solarhub_shared::error::ApiError;
use solarhub_shared::guest::analysis::{events_in, integrate_table, rack_rows, FreqPower};
use solarhub_shared::guest::config;
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::stores::{Db, Stores};
use solarhub_shared::http::{chunks_from_fn, serve_get, Request, Response};
use solarhub_shared::meters::{INVERTER_INTERVAL_SECS, METER_INTERVAL_SECS};
use solarhub_shared::params::Query;
use solarhub_shared::schema::inverter::INVERTER_1;
use solarhub_shared::schema::meter::{MAUX, MMAIN};
use solarhub_shared::schema::{ess, pcs, Database, PCS_COUNT};
use solarhub_shared::time::{now_unix, UtcOffset};

solarhub_shared::http_component!(handle);

#[derive(Clone, Copy)]
enum Route {
    PowerLoss,
    PowerIo,
    FreqPower,
}

fn handle(req: &Request) -> Response {
    serve_get(req, route(req.path()), |route| read(req, route))
}

/// The route of `path`, and for a legacy path the v1 path that replaces it.
fn route(path: &str) -> Option<(Route, Option<&'static str>)> {
    const LOSS: &str = "/api/v1/analysis/power-loss";
    const IO: &str = "/api/v1/analysis/power-io";
    const FREQ: &str = "/api/v1/analysis/freq-power";
    Some(match path {
        LOSS => (Route::PowerLoss, None),
        IO => (Route::PowerIo, None),
        FREQ => (Route::FreqPower, None),
        "/api/power_loss" => (Route::PowerLoss, Some(LOSS)),
        "/api/power_io" => (Route::PowerIo, Some(IO)),
        "/api/freq_power" => (Route::FreqPower, Some(FREQ)),
        _ => return None,
    })
}

fn read(req: &Request, route: Route) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_TELEMETRY_READ), &mut stores)?;
    let offset = config::site_offset()?;
    let query = Query::parse(req.query());
    let now = now_unix();
    match route {
        Route::PowerLoss => {
            let window = analysis::window(&query, now, offset, MAX_ENERGY_WINDOW_SECS)?;
            power_loss(&mut stores, window, offset)
        }
        Route::PowerIo => {
            let (window, interval) = io_params(&query, now, offset)?;
            let edges = bucket_edges(window, interval, offset);
            let integrals = io_integrals(&mut stores, &edges)?;
            let io = PowerIo::new(window, interval, offset, &edges, &integrals);
            Ok(Response::json(200, &io))
        }
        Route::FreqPower => {
            let window = analysis::window(&query, now, offset, MAX_FREQ_WINDOW_SECS)?;
            freq_power(&mut stores, window, offset)
        }
    }
}

fn power_loss(
    stores: &mut Stores,
    window: Window,
    offset: UtcOffset,
) -> Result<Response, ApiError> {
    let capacity: f64 = config::number("rack_capacity_kwh")?;
    let edges = [window.from, window.to];
    let pcs = pcs_integrals(&stores.db(Database::Pcs)?, &edges)?
        .iter()
        .enumerate()
        .map(|(n, energy)| PcsEnergy::new(&format!("pcs{n}"), &energy.total))
        .collect();
    let meter = stores.db(Database::Meter)?;
    let aux = integrate_table(&meter, MAUX, "KW_tot", METER_INTERVAL_SECS, &edges)?.total;
    let aux = AuxEnergy {
        kwh: aux.kwh,
        samples: aux.samples,
        gaps: aux.gaps,
    };
    let racks = rack_rows(stores, window)?;
    let loss = PowerLoss::new(window, offset, pcs, aux, &racks, capacity);
    Ok(Response::json(200, &loss))
}

/// Each PCS's `p_kw` integral over `edges`.
fn pcs_integrals(db: &Db, edges: &[i64]) -> Result<Vec<Bucketed>, ApiError> {
    pcs::ALL
        .iter()
        .take(usize::from(PCS_COUNT))
        .map(|table| integrate_table(db, table, "p_kw", PCS_INTERVAL_SECS, edges))
        .collect()
}

fn io_integrals(stores: &mut Stores, edges: &[i64]) -> Result<Integrals, ApiError> {
    let meter = stores.db(Database::Meter)?;
    let grid = integrate_table(&meter, MMAIN, "KW_tot", METER_INTERVAL_SECS, edges)?;
    let pcs = pcs_integrals(&stores.db(Database::Pcs)?, edges)?;
    let inverter = stores.db(Database::Inverter)?;
    let pv = integrate_table(
        &inverter,
        INVERTER_1,
        "ac_kw",
        INVERTER_INTERVAL_SECS,
        edges,
    )?;
    Ok(Integrals { grid, pcs, pv })
}

/// Streams the document: the schedule and the first page are read here, before the status goes
/// out, so a store that is down is still a clean 503; later pages are read as the client takes
/// the body.
fn freq_power(
    stores: &mut Stores,
    window: Window,
    offset: UtcOffset,
) -> Result<Response, ApiError> {
    let params = config::dreg_params()?;
    let events = events_in(&stores.db(Database::Schedule)?, window)?;
    let document = Document::new(window, offset, params, events, u32::from(PCS_COUNT));
    let mut body = FreqPower::start(stores, window, document)?;
    Ok(Response::stream(
        200,
        "application/json",
        chunks_from_fn(move || body.next_piece()),
    ))
}
