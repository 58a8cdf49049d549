//! The reads behind the analysis routes: samples page by page (bounded memory whatever the
//! window), the samples just outside a window (so its edges are interpolated), the racks' SOC at
//! a window's ends (one statement per MySQL server for all twelve racks), the schedule events
//! overlapping a window, and the `freq-power` document streamed page by page.
//!
//! Times are selected as seconds since 1970-01-01 by date arithmetic and bounds are bound as UTC
//! text, for the reason given at [`super::telemetry::power_samples`].

use super::bindings::mysql::ParameterValue;
use super::rows::Rows;
use super::stores::{Db, Stores};
use crate::analysis::freq::{Document, Event, PageRows, BASELINE_MAX_AGE_SECS};
use crate::analysis::loss::RackRows;
use crate::analysis::{Window, RACK_INTERVAL_SECS};
use crate::energy::{Bucketed, Integrator, PowerSample, MAX_GAP_FACTOR};
use crate::error::ApiError;
use crate::http::BodyError;
use crate::schema::baseline::BASE_LINE;
use crate::schema::bess::RACK_DATA;
use crate::schema::meter::MMAIN;
use crate::schema::{pcs, Database, RACK_COUNT};
use crate::time::format_mysql_datetime;

/// The most rows one page query returns, whatever the data rate.
pub const PAGE_ROWS: usize = 4000;
/// The longest time slice one page query covers: 2160 rows at the nominal 10 s.
pub const PAGE_SECS: i64 = 6 * 3600;
/// The slice of one `freq-power` page: 720 samples (~90 KB of JSON) at the nominal 10 s, so the
/// first piece goes out soon and each piece stays small.
pub const FREQ_PAGE_SECS: i64 = 2 * 3600;

/// `ts` as Unix seconds without the session time zone.
const EPOCH_SECONDS: &str = "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', ts)";

fn at(t: i64) -> ParameterValue {
    ParameterValue::Str(format_mysql_datetime(t))
}

/// A keyset cursor over one table's `(ts, column)` rows in `[from, to)`: each page is at most
/// [`PAGE_ROWS`] rows and [`PAGE_SECS`] long, and starts where the previous one ended.
pub struct Pages {
    sql: String,
    table: &'static str,
    next: i64,
    to: i64,
    slice: i64,
}

impl Pages {
    /// `column` is one of our own column names, never input.
    pub fn new(db: &Db, table: &'static str, column: &str, window: Window, slice: i64) -> Pages {
        Pages {
            sql: format!(
                "SELECT {EPOCH_SECONDS} AS t, {column} AS v FROM {} \
                 WHERE ts >= ? AND ts < ? ORDER BY ts LIMIT {PAGE_ROWS}",
                db.table(table)
            ),
            table,
            next: window.from,
            to: window.to,
            slice,
        }
    }

    /// Where the next page starts; the window's end once every page has been read.
    pub fn position(&self) -> i64 {
        self.next
    }

    /// The next page and the end of the span it covers (`None` after the last), in time order.
    pub fn next_page(&mut self, db: &Db) -> Result<Option<(Vec<PowerSample>, i64)>, ApiError> {
        if self.next >= self.to {
            return Ok(None);
        }
        let until = self.to.min(self.next.saturating_add(self.slice));
        let set = db.query(&self.sql, &[at(self.next), at(until)])?;
        let rows = Rows::new(&set);
        let mut page = Vec::with_capacity(rows.len());
        for row in rows.iter() {
            match (row.i64("t"), row.f64("v")) {
                (Some(ts), Some(kw)) => page.push(PowerSample { ts, kw }),
                _ => return Err(super::internal(self.table, &"a sample did not decode")),
            }
        }
        // A full page may have stopped short of `until`: carry on after its last row (`ts` is
        // the key and holds whole seconds).
        let end = match page.last() {
            Some(last) if page.len() == PAGE_ROWS => last.ts + 1,
            _ => until,
        };
        self.next = end;
        Ok(Some((page, end)))
    }
}

/// The last sample before `window` and the first one at or after its end, if any: both index
/// lookups, in one statement.
fn edge_samples(
    db: &Db,
    table: &'static str,
    column: &str,
    window: Window,
) -> Result<(Option<PowerSample>, Option<PowerSample>), ApiError> {
    let table_name = db.table(table);
    let sql = format!(
        "(SELECT 0 AS side, {EPOCH_SECONDS} AS t, {column} AS v FROM {table_name} \
           WHERE ts < ? ORDER BY ts DESC LIMIT 1) \
         UNION ALL \
         (SELECT 1 AS side, {EPOCH_SECONDS} AS t, {column} AS v FROM {table_name} \
           WHERE ts >= ? ORDER BY ts LIMIT 1)"
    );
    let set = db.query(&sql, &[at(window.from), at(window.to)])?;
    let (mut before, mut after) = (None, None);
    for row in Rows::new(&set).iter() {
        let (Some(side), Some(ts), Some(kw)) = (row.i64("side"), row.i64("t"), row.f64("v")) else {
            return Err(super::internal(table, &"an edge sample did not decode"));
        };
        let sample = Some(PowerSample { ts, kw });
        if side == 0 {
            before = sample;
        } else {
            after = sample;
        }
    }
    Ok((before, after))
}

/// The trapezoid integral of `table.column` over the buckets between `edges` (the first and
/// last edge are the window), reading the window page by page and the samples just outside it.
pub fn integrate_table(
    db: &Db,
    table: &'static str,
    column: &str,
    nominal_interval_secs: i64,
    edges: &[i64],
) -> Result<Bucketed, ApiError> {
    let window = Window {
        from: edges[0],
        to: edges[edges.len() - 1],
    };
    let (before, after) = edge_samples(db, table, column, window)?;
    let mut integrator = Integrator::new(nominal_interval_secs, edges.to_vec());
    before.into_iter().for_each(|s| integrator.push(s));
    let mut pages = Pages::new(db, table, column, window, PAGE_SECS);
    while let Some((page, _)) = pages.next_page(db)? {
        page.into_iter().for_each(|s| integrator.push(s));
    }
    after.into_iter().for_each(|s| integrator.push(s));
    Ok(integrator.finish())
}

/// Every rack's row count, gaps, and first and last `(ts, soc)` in `window`. The twelve rack
/// databases are read with one statement per MySQL server they live on.
pub fn rack_rows(stores: &mut Stores, window: Window) -> Result<Vec<RackRows>, ApiError> {
    let mut servers: Vec<Vec<(u8, Db)>> = Vec::new();
    for n in 1..=RACK_COUNT {
        let db = stores.db(Database::Bess(n))?;
        match servers.iter_mut().find(|group| group[0].1.same_server(&db)) {
            Some(group) => group.push((n, db)),
            None => servers.push(vec![(n, db)]),
        }
    }
    let mut racks = Vec::with_capacity(usize::from(RACK_COUNT));
    for group in &servers {
        match racks_on_server(group, window) {
            Ok(rows) => racks.extend(rows),
            // The statement names the first rack's database whatever failed: ask each rack
            // alone, so the answer names the database that is missing or unreachable.
            Err(ApiError::StoreUnavailable(_)) => {
                for rack in group {
                    racks.extend(racks_on_server(std::slice::from_ref(rack), window)?);
                }
            }
            Err(e) => return Err(e),
        }
    }
    racks.sort_by_key(|r| r.rack);
    Ok(racks)
}

/// One `UNION ALL` over the racks of one server (all on `group[0]`'s connection), a row per rack
/// even when it has no rows in the window: the count and gaps from one range scan (gaps with
/// `LAG`), the first and last row by index lookups (cheaper than numbering every row).
fn racks_on_server(group: &[(u8, Db)], window: Window) -> Result<Vec<RackRows>, ApiError> {
    let max_gap = RACK_INTERVAL_SECS * MAX_GAP_FACTOR;
    let parts: Vec<String> = group
        .iter()
        .map(|(n, db)| {
            let table = db.table(RACK_DATA);
            let edge = |order: &str| {
                format!(
                    "(SELECT {EPOCH_SECONDS} AS t, soc FROM {table} \
                      WHERE ts >= ? AND ts < ? ORDER BY ts {order} LIMIT 1)"
                )
            };
            format!(
                "SELECT {n} AS rack, s.samples, s.gaps, f.t AS first_t, f.soc AS first_soc, \
                   l.t AS last_t, l.soc AS last_soc \
                 FROM (SELECT COUNT(*) AS samples, COUNT(CASE WHEN gap > {max_gap} THEN 1 END) \
                         AS gaps \
                       FROM (SELECT TIMESTAMPDIFF(SECOND, LAG(ts) OVER (ORDER BY ts), ts) AS gap \
                             FROM {table} WHERE ts >= ? AND ts < ?) AS g) AS s \
                 LEFT JOIN {} AS f ON 1 LEFT JOIN {} AS l ON 1",
                edge("ASC"),
                edge("DESC")
            )
        })
        .collect();
    // Each rack's window three times: the scan, the first row, the last row.
    let params: Vec<ParameterValue> = (0..group.len() * 3)
        .flat_map(|_| [at(window.from), at(window.to)])
        .collect();
    let db = &group[0].1;
    let set = db.query(&parts.join(" UNION ALL "), &params)?;
    let mut racks = Vec::with_capacity(group.len());
    for row in Rows::new(&set).iter() {
        let decoded = (|| {
            let edge = |t: &str, soc: &str| Some((row.i64(t)?, row.f64(soc)?));
            Some(RackRows {
                rack: u8::try_from(row.i64("rack")?).ok()?,
                samples: u64::try_from(row.i64("samples")?).ok()?,
                gaps: u64::try_from(row.i64("gaps")?).ok()?,
                first: edge("first_t", "first_soc"),
                last: edge("last_t", "last_soc"),
            })
        })();
        racks.push(decoded.ok_or_else(|| super::internal(RACK_DATA, &"a row did not decode"))?);
    }
    Ok(racks)
}

/// The events (not cancelled) overlapping `window`, as freq-power shows them.
pub fn events_in(db: &Db, window: Window) -> Result<Vec<Event>, ApiError> {
    Ok(
        super::trading::events_overlapping(db, window.from, window.to)?
            .into_iter()
            .filter(|e| e.status != crate::trading::EventStatus::Cancelled)
            .map(|e| Event {
                id: e.id,
                mode: e.mode,
                capacity_mw: e.capacity_mw(),
                start: e.start,
                end: e.end,
            })
            .collect(),
    )
}

/// The `freq-power` document, read and written page by page: each piece is one
/// [`FREQ_PAGE_SECS`] slice of MMAIN rows with the PCS totals and base line of the same span.
pub struct FreqPower {
    grid: Db,
    pcs: Db,
    baseline: Db,
    pages: Pages,
    pcs_sql: String,
    baseline_sql: String,
    document: Document,
    /// The first piece (head and first page), made before the status is sent.
    first: Option<Vec<u8>>,
    finished: bool,
}

impl FreqPower {
    /// Opens the three databases and reads the first page, so that a store that cannot answer
    /// fails the request before anything is sent.
    pub fn start(
        stores: &mut Stores,
        window: Window,
        document: Document,
    ) -> Result<FreqPower, ApiError> {
        let grid = stores.db(Database::Meter)?;
        let pcs = stores.db(Database::Pcs)?;
        let baseline = stores.db(Database::BaseLine)?;
        let both = pcs::ALL
            .iter()
            .map(|table| {
                format!(
                    "SELECT {EPOCH_SECONDS} AS t, p_kw FROM {} WHERE ts >= ? AND ts < ?",
                    pcs.table(table)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let pcs_sql = format!(
            "SELECT t, SUM(p_kw) AS kw, COUNT(*) AS n FROM ({both}) AS both_pcs \
             GROUP BY t ORDER BY t"
        );
        let baseline_sql = format!(
            "SELECT {EPOCH_SECONDS} AS t, freq FROM {} WHERE ts >= ? AND ts < ? ORDER BY ts",
            baseline.table(BASE_LINE)
        );
        let pages = Pages::new(&grid, MMAIN, "freq", window, FREQ_PAGE_SECS);
        let mut stream = FreqPower {
            grid,
            pcs,
            baseline,
            pages,
            pcs_sql,
            baseline_sql,
            document,
            first: None,
            finished: false,
        };
        let mut first = stream.document.head();
        if let Some(page) = stream.page()? {
            first.extend(page);
        }
        stream.first = Some(first);
        Ok(stream)
    }

    /// The next page's samples as JSON items, `None` after the last page.
    fn page(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
        let from = self.pages.position();
        let Some((grid, until)) = self.pages.next_page(&self.grid)? else {
            return Ok(None);
        };
        let set = self
            .pcs
            .query(&self.pcs_sql, &[at(from), at(until), at(from), at(until)])?;
        let mut rows = PageRows {
            grid: grid.into_iter().map(|s| (s.ts, s.kw)).collect(),
            ..PageRows::default()
        };
        for row in Rows::new(&set).iter() {
            let (Some(t), Some(kw), Some(n)) = (row.i64("t"), row.f64("kw"), row.i64("n")) else {
                return Err(super::internal("pcs", &"a PCS total did not decode"));
            };
            rows.pcs.push((t, kw, u32::try_from(n).unwrap_or(u32::MAX)));
        }
        let lookback = from - BASELINE_MAX_AGE_SECS;
        let set = self
            .baseline
            .query(&self.baseline_sql, &[at(lookback), at(until)])?;
        for row in Rows::new(&set).iter() {
            let (Some(t), Some(hz)) = (row.i64("t"), row.f64("freq")) else {
                return Err(super::internal(
                    BASE_LINE,
                    &"a base-line row did not decode",
                ));
            };
            rows.baseline.push((t, hz));
        }
        Ok(Some(self.document.page(from, &rows)))
    }

    /// The next piece of the body: the first page, each later page, then the tail. A failure
    /// ends the body with an error (logged with its request id).
    pub fn next_piece(&mut self) -> Option<Result<Vec<u8>, BodyError>> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        if self.finished {
            return None;
        }
        match self.page() {
            Ok(Some(piece)) => Some(Ok(piece)),
            Ok(None) => {
                self.finished = true;
                Some(Ok(self.document.tail()))
            }
            Err(e) => {
                self.finished = true;
                Some(Err(BodyError::from(e)))
            }
        }
    }
}
